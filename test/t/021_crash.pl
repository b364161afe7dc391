# Crashes: kill -9 of a backend inside import_image, and of the worker (then
# of the worker and the postmaster) while it is halfway through recording a
# release of 200 tags: held up by a lock on the change log after it wrote
# the tags' rows and their history.  PostgreSQL's crash recovery runs;
# afterwards nothing of the killed recording is left (every tag has its old
# image, no history or change row was added, the stream's generation did not
# move), the invariants hold, and the worker then records all of the release.
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);

use ImagestreamTest qw(start_node invariants_hold wait_for expect_crash);
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
	SELECT count(*) FROM imagestream.import_image('cr/busy', '$host/org/busy', all_tags => true, insecure => true, confirm => true)");
is(q1("SELECT count(*) FROM imagestream.tag WHERE namespace = 'cr' AND image::text = '$one->{digest}'"), '200',
	'200 tags imported');

# kill -9 of a backend waiting inside import_image on a slow registry
my $bg = $node->background_psql('postgres', on_error_stop => 0);
$bg->query_until(qr/started/, q{
	\echo started
	SELECT * FROM imagestream.import_image('cr/slow:t', '} . $ehost . q{/slow/app:latest', insecure => true, confirm => true);
});
ok(defined wait_for($node, "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%slow/app%' AND pid <> pg_backend_pid()", '1', 30),
	'a backend waits inside import_image');
my $victim = q1("SELECT pid FROM pg_stat_activity WHERE query LIKE '%slow/app%' AND pid <> pg_backend_pid()");
expect_crash($node, qr/server process \(PID $victim\) was terminated by signal 9/);
my $offset = -s $node->logfile;
kill 'KILL', $victim;
eval { $bg->quit };
ok(defined wait_for($node, 'SELECT count(*) FROM imagestream.worker_status', '1', 60, restarting => 1),
	'the server recovers, the worker runs');
ok($node->log_contains("server process \\(PID $victim\\) was terminated by signal 9", $offset)
	  && $node->log_contains('automatic recovery in progress', $offset), 'it was a crash and recovery');
is(q1("SELECT count(*) FROM imagestream.tag WHERE namespace = 'cr' AND name = 't' AND stream = 'slow'"), '0',
	'the killed import left nothing');
invariants_hold($node, 'the invariants hold after kill -9 of a backend in import_image');

# The release: every tag of cr/busy moves from $one to $two.  What the
# recording writes, as one line: tags with the old image / with the new,
# the stream's history rows, its change rows, its generation.
my $two = $reg->push_many_tags('org/busy', 200, tags => \@tags, content => 'busy two');
sub busy
{
	return q1("SELECT (SELECT count(*) FILTER (WHERE image::text = '$one->{digest}') || '/'
						  || count(*) FILTER (WHERE image::text = '$two->{digest}')
					   FROM imagestream.tag WHERE namespace = 'cr' AND stream = 'busy')
				|| ' ' || (SELECT count(*) FROM imagestream.history_event h JOIN imagestream.tag t ON t.id = h.tag_id
						   WHERE t.namespace = 'cr' AND t.stream = 'busy')
				|| ' ' || (SELECT count(*) FROM imagestream.change WHERE namespace = 'cr' AND stream = 'busy')
				|| ' ' || (SELECT generation FROM imagestream.stream WHERE namespace = 'cr' AND name = 'busy')");
}
my $before = busy();
my ($history, $changes, $generation) = (split / /, $before)[1, 2, 3];
is((split / /, $before)[0], '200/0', 'before the release every tag has the old image');

# Holds the change log in SHARE mode in an open transaction, asks for the
# release, and waits until the worker, recording it, has written the tags'
# rows and their history (it holds ROW EXCLUSIVE on both) and waits for
# the change log.  Returns the worker's pid and the holding session.
sub worker_blocked_recording
{
	my ($what, $then) = @_;
	my $holder = $node->background_psql('postgres', on_error_stop => 1);
	$holder->query_safe('BEGIN; LOCK TABLE imagestream.change IN SHARE MODE');
	q1("SELECT imagestream.import_now('cr/busy')");
	$then->() if $then;
	my $sql = q{
		SELECT a.query || ': ' || string_agg(l.relation::regclass::text || ' ' || l.granted, ', '
											 ORDER BY l.relation::regclass::text)
		FROM pg_stat_activity a JOIN pg_locks l ON l.pid = a.pid
		WHERE a.pid = (SELECT pid FROM imagestream.worker_status) AND l.locktype = 'relation'
		  AND l.mode = 'RowExclusiveLock'
		  AND l.relation IN ('imagestream.tag'::regclass, 'imagestream.history_event'::regclass,
							 'imagestream.change'::regclass)
		GROUP BY a.query};
	ok(defined wait_for($node, $sql,
		'imagestream worker: recording imports: imagestream.change false, imagestream.history_event true, imagestream.tag true', 60),
		"$what: the worker wrote the tags and their history and waits for the change log")
	  or diag('the worker: ' . q1($sql));
	return (q1('SELECT pid FROM imagestream.worker_status'), $holder);
}

# the worker records nothing after the crash (the request stays, committed)
sub worker_off
{
	q1("ALTER SYSTEM SET imagestream.enable_worker = off; SELECT pg_reload_conf()");
}

sub worker_on
{
	q1("ALTER SYSTEM RESET imagestream.enable_worker; SELECT pg_reload_conf()");
}

# kill -9 of the worker halfway through recording
my ($worker, $holder) = worker_blocked_recording('kill -9 of the worker');
worker_off();
expect_crash($node, qr/\(PID $worker\) was terminated by signal 9/);
$offset = -s $node->logfile;
kill 'KILL', $worker;
eval { $holder->quit };
ok(defined wait_for($node, "SELECT count(*) FROM imagestream.worker_status WHERE pid <> $worker", '1', 60, restarting => 1),
	'the server recovers after kill -9 of the worker, a new worker runs');
ok($node->log_contains("\\(PID $worker\\) was terminated by signal 9", $offset)
	  && $node->log_contains('automatic recovery in progress', $offset), 'it was a crash and recovery');
is(busy(), $before, 'nothing of the recording the worker was killed in is left: old images, no history or change row, same generation');
invariants_hold($node, 'the invariants hold after kill -9 of the worker while recording');

# kill -9 of the worker and the postmaster halfway through recording
($worker, $holder) = worker_blocked_recording('kill -9 of the postmaster', \&worker_on);
worker_off();		# read when the server starts again
open(my $pf, '<', $node->data_dir . '/postmaster.pid') or die;
my $postmaster = <$pf>;
close $pf;
chomp $postmaster;
expect_crash($node, qr/\(PID $worker\) was terminated by signal 9/);
$offset = -s $node->logfile;
kill 'KILL', $worker, $postmaster;		# the worker first: it cannot commit after its lock is freed
eval { $holder->quit };
# the children notice the postmaster's death and exit; then a start recovers
my $started = 0;
for (1 .. 150)
{
	$node->{_pid} = undef;		# Cluster.pm takes the dead postmaster's pid file for a running one
	last if $started = $node->start(fail_ok => 1);
	sleep 0.2;
}
ok($started, 'the server starts again after kill -9 of the postmaster');
ok($node->log_contains('database system was interrupted|was not properly shut down', $offset), 'with crash recovery');
is(busy(), $before, 'nothing of the recording is left after kill -9 of the postmaster');
invariants_hold($node, 'the invariants hold after kill -9 of the postmaster');
worker_on();

# the worker records all of the release
q1("SELECT imagestream.import_now('cr/busy')");
ok(defined wait_for($node, "SELECT count(*) FROM imagestream.tag WHERE namespace = 'cr' AND stream = 'busy' AND image::text = '$two->{digest}'",
		'200', 60), 'the worker resumes and finishes the release');
is(busy(), '0/200 ' . ($history + 200) . ' ' . ($changes + 200) . ' ' . ($generation + 1),
	'all of the release: every tag, a history and a change row each, one generation');
invariants_hold($node);

$reg->stop;
$evil->stop;
done_testing();
