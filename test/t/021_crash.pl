# Crashes: kill -9 of a backend inside import_image and of the postmaster
# during a busy import cycle.  PostgreSQL's crash recovery runs; afterwards
# the invariants hold, no tag lost its current image, and the worker
# resumes.  (kill -9 of the worker itself is in 020_worker.pl.)
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);

use ImagestreamTest qw(start_node invariants_hold wait_for);
use RegistryTest;

my $node = start_node('crash', worker => 1, conf => qq{
imagestream.blocked_networks = ''
imagestream.import_interval = '1h'
imagestream.max_imports_per_minute = -1
imagestream.request_timeout = '60s'
restart_after_crash = on
});
my $reg = RegistryTest->start();
my $host = $reg->host;
my $evil = RegistryTest->start_hostile(slow_interval => 1, slow_seconds => 60);
my $ehost = $evil->host;

sub q1 { return $node->safe_psql('postgres', shift) }


# 200 tags of one repository, imported
my @tags = map { "t$_" } 1 .. 200;
my $one = $reg->push_many_tags('org/busy', 200, tags => \@tags, content => 'busy one');
q1("SET imagestream.max_bulk_import = -1;
	SELECT count(*) FROM imagestream.import_image('cr/busy', '$host/org/busy', all_tags => true, insecure => true)");
is(q1("SELECT count(*) FROM imagestream.tag WHERE namespace = 'cr' AND image::text = '$one->{digest}'"), '200',
	'200 tags imported');

# kill -9 of a backend waiting inside import_image on a slow registry
my $bg = $node->background_psql('postgres', on_error_stop => 0);
$bg->query_until(qr/started/, q{
	\echo started
	SELECT * FROM imagestream.import_image('cr/slow:t', '} . $ehost . q{/slow/app:latest', insecure => true);
});
ok(defined wait_for($node, "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%slow/app%' AND pid <> pg_backend_pid()", '1', 10),
	'a backend waits inside import_image');
my $victim = q1("SELECT pid FROM pg_stat_activity WHERE query LIKE '%slow/app%' AND pid <> pg_backend_pid()");
kill 'KILL', $victim;
eval { $bg->quit };
ok(defined wait_for($node, 'SELECT count(*) FROM imagestream.worker_status', '1', 30), 'the server recovers, the worker runs');
ok($node->log_contains("server process \\(PID $victim\\) was terminated by signal 9"), 'it was a crash and recovery');
is(q1("SELECT count(*) FROM imagestream.tag WHERE namespace = 'cr' AND name = 't' AND stream = 'slow'"), '0',
	'the killed import left nothing');
invariants_hold($node, 'the invariants hold after kill -9 of a backend in import_image');

# kill -9 of the postmaster while the worker records a release of 200 tags
my $two = $reg->push_many_tags('org/busy', 200, tags => \@tags, content => 'busy two');
my $req0 = q1('SELECT requests FROM imagestream.worker_status');
q1("SELECT imagestream.import_now('cr/busy')");
ok(defined wait_for($node, "SELECT requests > $req0 + 50 FROM imagestream.worker_status", 't', 20),
	'the worker is busy with the release');
open(my $pf, '<', $node->data_dir . '/postmaster.pid') or die;
my $postmaster = <$pf>;
close $pf;
chomp $postmaster;
kill 'KILL', $postmaster;
# the children notice the postmaster's death and exit; then a start recovers
my $started = 0;
for (1 .. 100)
{
	$node->{_pid} = undef;		# Cluster.pm takes the dead postmaster's pid file for a running one
	last if $started = $node->start(fail_ok => 1);
	sleep 0.2;
}
ok($started, 'the server starts again after kill -9 of the postmaster');
ok($node->log_contains('database system was interrupted|was not properly shut down'), 'with crash recovery');
is(q1("SELECT count(*) FROM imagestream.tag WHERE namespace = 'cr' AND stream = 'busy' AND image IS NOT NULL"), '200',
	'no tag lost its current image');
is(q1("SELECT count(*) FROM imagestream.tag WHERE namespace = 'cr' AND stream = 'busy'
	   AND image::text NOT IN ('$one->{digest}', '$two->{digest}')"), '0', 'each shows the old or the new image');
invariants_hold($node, 'the invariants hold after kill -9 of the postmaster');
q1("SELECT imagestream.import_now('cr/busy')");
ok(defined wait_for($node, "SELECT count(*) FROM imagestream.tag WHERE namespace = 'cr' AND stream = 'busy' AND image::text = '$two->{digest}'",
		'200', 30), 'the worker resumes and finishes the release');
invariants_hold($node);

$reg->stop;
$evil->stop;
done_testing();
