#!/usr/bin/perl
# The layers of src/ point one way: no file includes a header of a layer
# above its own (doc/architecture.md explains each layer).
#
# Every file of src/ (foo.c and foo.h alike) is listed below in exactly one
# layer, lowest first; a file that is not listed, or listed twice, is a
# failure too, so that a new file gets its place.  A file may include the
# headers of its own layer and of the layers below.
#
# usage: perl test/check_layers.pl [SOURCE_DIR]; prints each wrong include
# and exits 1, or says how many includes it checked.
use strict;
use warnings;

my $dir = shift // '.';

my @layers = (
	[ 'plain C, no PostgreSQL header (fuzzed)' => qw(digest reference headers semver cosign_crypto) ],
	[ 'PostgreSQL helpers' => qw(compat settings json_fields manifest policy isolate relation log_redact payload_hash record_together cosign cosign_layout) ],
	[ 'SQL types and names' => qw(digest_type ref_type pull_spec names tag_order semver_sql tag_policy cosign_sql) ],
	[ 'HTTP' => qw(http_wait http) ],
	[ 'registry protocol' => qw(registry registry_hosts auth signature_fetch) ],
	[ 'one fetch' => qw(fetch) ],
	[ 'many fetches' => qw(fetch_many) ],
	[ 'SQL boundary of the fetch and the catalogue' => qw(credentials fetch_sql manifest_sql) ],
	[ 'rights and the API' => qw(rights api_call resolve commit_steps change_commit change_actor grantee_commit trigger_write trigger_target) ],
	[ 'worker' => qw(worker_schedule worker_shmem worker_record worker_watch worker_due worker_chunks worker_listing worker_periodic worker worker_launcher worker_ddl) ],
	[ 'module entry' => qw(imagestream settings_define) ],
);

my %layer_of;
my @failures;
for my $i (0 .. $#layers)
{
	my ($name, @files) = @{ $layers[$i] };
	for my $f (@files)
	{
		push @failures, "$f is listed in two layers" if exists $layer_of{$f};
		$layer_of{$f} = $i;
	}
}

my $checked = 0;
for my $path (sort glob("$dir/src/*.c $dir/src/*.h"))
{
	my ($base) = $path =~ m{([^/]+)\.[ch]$};
	# settings.c defines what settings.h declares: it registers them with the
	# hooks of the layers below, so it sits at the top (settings_define)
	my $unit = $path =~ /settings\.c$/ ? 'settings_define' : $base;
	if (!exists $layer_of{$unit})
	{
		push @failures, "src/$base: not in any layer of test/check_layers.pl";
		next;
	}
	open(my $fh, '<', $path) or die "cannot read $path: $!";
	while (my $line = <$fh>)
	{
		next unless $line =~ /^\s*#\s*include\s+"([^"\/]+)\.h"/;
		my $header = $1;
		next unless -e "$dir/src/$header.h";
		$checked++;
		if (!exists $layer_of{$header})
		{
			push @failures, "src/$header.h: not in any layer of test/check_layers.pl";
		}
		elsif ($layer_of{$header} > $layer_of{$unit})
		{
			push @failures, sprintf("src/%s includes %s.h, of a layer above its own (%s above %s)",
				$path =~ m{([^/]+)$}, $header, $layers[ $layer_of{$header} ][0], $layers[ $layer_of{$unit} ][0]);
		}
	}
	close $fh;
}

if (@failures)
{
	print "$_\n" for @failures;
	exit 1;
}
print "every one of $checked includes of src/ points to its own layer or one below\n";
exit 0;
