# Helpers shared by the TAP tests in test/t.
package ImagestreamTest;

use strict;
use warnings;

use Exporter 'import';
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils ();
use Test::More;
use Time::HiRes ();

our @EXPORT_OK = qw(start_node read_tsv query_json invariants_hold wait_for assert_no_crash);

# A started cluster that preloads the library, with the extension created
# in database "postgres".  Its background worker is off unless worker => 1,
# so that only the worker's own tests see imports they did not ask for;
# conf => TEXT adds settings.
sub start_node
{
	my ($name, %opts) = @_;
	my $worker = delete $opts{worker};
	my $conf = delete $opts{conf};
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init(%opts);
	$node->append_conf('postgresql.conf', "shared_preload_libraries = 'imagestream'");
	$node->append_conf('postgresql.conf', 'imagestream.enable_worker = off') unless $worker;
	$node->append_conf('postgresql.conf', $conf) if $conf;
	$node->start;
	$node->safe_psql('postgres', 'CREATE EXTENSION imagestream');
	return $node;
}

# Polls $sql in database "postgres" of $node until it returns $want or
# $seconds pass; returns the time taken, or undef.  Connection errors (a
# server restarting) count as "not yet".
sub wait_for
{
	my ($node, $sql, $want, $seconds) = @_;
	my $t0 = Time::HiRes::time();
	while (Time::HiRes::time() - $t0 < $seconds)
	{
		my ($ret, $out) = $node->psql('postgres', $sql);
		return Time::HiRes::time() - $t0 if $ret == 0 && $out eq $want;
		Time::HiRes::sleep(0.1);
	}
	return undef;
}

# A test that the model's invariants hold (imagestream.check_invariants()
# returns no row) in database "postgres" of $node; the violations are shown.
sub invariants_hold
{
	my ($node, $name) = @_;
	my $v = $node->safe_psql('postgres',
		"SELECT string_agg(format('%s: %s (%s)', invariant, object, detail), E'\\n') FROM imagestream.check_invariants()");
	return is($v, '', $name // "the model's invariants hold");
}

# A test that no process of $node crashed, as its server log tells: no
# process ended by a signal, no backend terminated, no background worker
# that exited with an error (but those matching $allow, a deliberate exit).
sub assert_no_crash
{
	my ($node, $allow, $name) = @_;
	my @bad = grep {
		/terminated by signal|server process .* was terminated|exited with exit code/
		  && !(defined $allow && /$allow/)
	} split /\n/, PostgreSQL::Test::Utils::slurp_file($node->logfile);
	return is(join("\n", @bad), '', $name // 'no server process crashed');
}

# Rows of a TSV file as hashes keyed by its header, each with its line
# number (the header is line 1).  Fields are read byte for byte.
sub read_tsv
{
	my ($path) = @_;
	open(my $fh, '<', $path) or die "cannot open $path: $!";
	my $header = <$fh>;
	chomp $header;
	my @names = split /\t/, $header, -1;
	my @rows;
	my $line = 1;
	while (my $l = <$fh>)
	{
		$line++;
		chomp $l;
		next if $l =~ /^#/;
		my @f = split /\t/, $l, -1;
		my %row = (line => $line);
		@row{@names} = map { $_ // '' } @f[0 .. $#names];
		push @rows, \%row;
	}
	close $fh;
	return \@rows;
}

# Runs a query that returns one json value and decodes it.
sub query_json
{
	my ($node, $sql) = @_;
	my $out = $node->safe_psql('postgres', $sql);
	return JSON::PP->new->utf8->decode($out);
}

# A SQL string literal for any text without NUL.
sub literal
{
	my ($s) = @_;
	$s =~ s/'/''/g;
	return "'$s'";
}

1;
