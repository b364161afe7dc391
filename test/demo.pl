# The demo behind `make demo`: a PostgreSQL cluster with the worker and a
# local registry (Debian's docker-registry) with a few images, both on
# 127.0.0.1, and imagestream at work on them.
use strict;
use warnings;

use File::Temp qw(tempdir);
use Time::HiRes qw(sleep time);

use RegistryTest;

my $keep = grep { $_ eq '--keep' } @ARGV;
my $bindir = '/usr/lib/postgresql/15/bin';
my $dir = tempdir('imagestream-demo-XXXXXX', TMPDIR => 1, CLEANUP => !$keep);
my $port = RegistryTest::free_port();
my $pgdata = "$dir/data";
my $started = 0;

sub run
{
	my @cmd = @_;
	system(@cmd) == 0 or die "failed: @cmd\n";
}

sub psql_out
{
	my ($sql, @flags) = @_;
	open(my $fh, '-|', "$bindir/psql", '-X', '-q', @flags, '-h', $dir, '-p', $port, '-d', 'postgres',
		'-v', 'ON_ERROR_STOP=1', '-c', $sql) or die "psql: $!";
	local $/;
	my $out = <$fh>;
	close $fh or die "psql failed on: $sql\n";
	return $out;
}

sub show
{
	my ($title, $sql) = @_;
	print "\n-- $title\n";
	print "=> $sql\n";
	print psql_out($sql);
}

sub wait_until
{
	my ($sql, $want, $seconds) = @_;
	my $t0 = time;
	while (time - $t0 < $seconds)
	{
		my $got = psql_out($sql, '-At');
		$got =~ s/\s+$//;
		return time - $t0 if $got eq $want;
		sleep 0.2;
	}
	die "timed out waiting for: $sql\n";
}

END
{
	if ($started && !$keep)
	{
		system("$bindir/pg_ctl", '-D', $pgdata, '-m', 'fast', '-w', 'stop');
	}
}

print "== a throwaway cluster in $dir, port $port\n";
system("$bindir/initdb -D '$pgdata' -A trust -U postgres --no-sync -E UTF8 >'$dir/initdb.log' 2>&1") == 0
  or die "initdb failed: see $dir/initdb.log\n";
open(my $conf, '>>', "$pgdata/postgresql.conf") or die;
print $conf <<"CONF";
shared_preload_libraries = 'imagestream'
listen_addresses = ''
unix_socket_directories = '$dir'
port = $port
imagestream.blocked_networks = ''      # the demo registry is on 127.0.0.1
imagestream.insecure_registries = '127.0.0.1:*'
imagestream.import_interval = '2s'     # production default: 15min
CONF
close $conf;
run("$bindir/pg_ctl", '-D', $pgdata, '-l', "$dir/postgresql.log", '-w', '-s', 'start');
$started = 1;

my $reg = RegistryTest->start(max_lifetime => $keep ? 86400 : 600);
my $host = $reg->host;
print "== a registry on $host, with shop/web:1.0, shop/web:latest and a two-platform shop/base\n";
my $v1 = $reg->push_image('shop/web', '1.0', content => 'web 1.0', labels => { version => '1.0' });
my $l1 = $reg->push_image('shop/web', 'latest', content => 'web build 1', labels => { build => '1' });
my $amd = $reg->push_image('shop/base', undef, content => 'base amd64', arch => 'amd64');
my $arm = $reg->push_image('shop/base', undef, content => 'base arm64', arch => 'arm64', variant => 'v8');
$reg->push_index('shop/base', 'latest', [ $amd, $arm ], format => 'oci');

psql_out('CREATE EXTENSION imagestream');
show('import a tag (oc import-image)',
	"SELECT tag, status, image FROM imagestream.import_image('shop/web:1.0', '$host/shop/web:1.0', confirm => true)");
show('a manifest list keeps every platform with PreserveOriginal',
	"SELECT tag, status, image FROM imagestream.import_image('shop/base:latest', '$host/shop/base:latest', import_mode => 'PreserveOriginal', confirm => true)");
show('the catalogue', "SELECT left(digest::text, 19) AS digest, os, architecture, variant, size, labels FROM imagestream.images ORDER BY architecture NULLS FIRST");

show('a scheduled tag: the worker imports it within seconds (oc tag --scheduled)',
	"SELECT imagestream.tag('$host/shop/web:latest', 'shop/web:latest', scheduled => true)");
wait_until("SELECT image FROM imagestream.image_stream_tags WHERE tag = 'latest' AND stream = 'web'", $l1->{digest}, 20);
show('imported', "SELECT tag, pull_spec, pending FROM imagestream.image_stream_tags WHERE stream = 'web' ORDER BY tag");
psql_out("CREATE TABLE deployments (name text PRIMARY KEY, image text); INSERT INTO deployments VALUES ('web', NULL)");
show('a deployments row follows the tag: an image change trigger, run in the transaction of each move',
	"SELECT imagestream.add_trigger('shop/web:latest', 'deployments', 'image', 'name', 'web')");
show('it is set at once', 'SELECT name, image FROM deployments');

print "\n-- a client LISTENs; upstream pushes a new build of shop/web:latest\n";
my $last_read = psql_out('SELECT coalesce(max(id), 0) FROM imagestream.change', '-At');
$last_read =~ s/\s+$//;
my $listener = "$dir/listener.out";
my $lpid = fork() // die "fork: $!";
if ($lpid == 0)
{
	open(STDOUT, '>', $listener) or die;
	exec("$bindir/psql", '-X', '-q', '-h', $dir, '-p', $port, '-d', 'postgres',
		'-c', 'LISTEN imagestream', '-c', 'SELECT pg_sleep(6)');
}
sleep 1;
my $l2 = $reg->push_image('shop/web', 'latest', content => 'web build 2', labels => { build => '2' });
my $took = wait_until("SELECT image FROM imagestream.image_stream_tags WHERE tag = 'latest' AND stream = 'web'",
	$l2->{digest}, 20);
printf "the worker recorded the new build %.1f s after the push\n", $took;
show('the deployment moved with it, in the worker\'s transaction', 'SELECT name, image FROM deployments');
waitpid($lpid, 0);
open(my $lf, '<', $listener) or die;
while (<$lf>)
{
	print "listener: $1\n" if /(Asynchronous notification .*?) received from server process/;
}
close $lf;
show('the payload is a hint (any role may NOTIFY): the listener reads what changed after the last id it read',
	"SELECT id, event, namespace, stream, tag, left(image::text, 19) AS image FROM imagestream.changes_since($last_read)");

show('a consumer resolves the tag to an exact digest', "SELECT imagestream.resolve('shop/web:latest')");
show('the new build is bad: roll back to the known-good image',
	"SELECT position, image FROM imagestream.rollback('shop/web:latest')");
show('and the deployment went back with it', 'SELECT name, image FROM deployments');
show('pinned: scheduled import no longer moves it', "SELECT tag, from_kind, scheduled, pull_spec FROM imagestream.image_stream_tags WHERE stream = 'web' AND tag = 'latest'");
show('history, newest first', "SELECT position, left(image::text, 19) AS image, generation FROM imagestream.history('shop/web:latest')");
show('the durable change log', "SELECT id, event, tag, left(image::text, 19) AS image, left(previous_image::text, 19) AS previous FROM imagestream.changes_since(0)");
print "\n-- oc describe is\n";
print psql_out("SELECT imagestream.describe('shop/web')", '-At');
show('the worker', 'SELECT tags_scheduled, tags_checked, imports, failures, requests FROM imagestream.worker_status');

if ($keep)
{
	print "\n== left running: psql -h $dir -p $port postgres; registry http://$host\n";
	print "   stop with: $bindir/pg_ctl -D $pgdata stop; kill \$(cat $dir/*.pid 2>/dev/null) (the registry stops by itself within a day)\n";
	$reg->{keep} = 1;
	exit 0;
}
$reg->stop;
print "\n== done; everything was removed (make demo DEMO_ARGS=--keep keeps it running)\n";
