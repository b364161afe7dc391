# The upgrade window with the worker on (finding 9 of issue 16): the new
# library (the current version) preloaded and its worker running while the
# database still has the SQL objects of the last release, as between the
# server's restart with a new package and ALTER EXTENSION UPDATE
# (doc/upgrading.md).  The worker imports, records with the old SQL
# functions, and never fails a cycle; the reads work; then the update runs
# while the worker is recording a release and waits for the lock it holds:
# the worker yields (a deadlock or its lock_timeout, the chunk's other tags
# postponed, not one wait a tag) and carries on with the new objects.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

use ImagestreamTest qw(invariants_hold wait_for assert_no_crash);
use RegistryTest;

my $node = PostgreSQL::Test::Cluster->new('window');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'imagestream'
imagestream.blocked_networks = ''
imagestream.import_interval = '1s'
imagestream.max_imports_per_minute = -1
imagestream.request_timeout = '5s'
deadlock_timeout = '1s'
});
$node->start;
sub q1 { return $node->safe_psql('postgres', shift) }

my $current = q1(q{SELECT default_version FROM pg_available_extensions WHERE name = 'imagestream'});
my $last = q1(qq{SELECT version FROM pg_available_extension_versions WHERE name = 'imagestream' AND version <> '$current'
	ORDER BY string_to_array(version, '.')::int[] DESC LIMIT 1});
isnt($last, '', "the last release before $current: $last");
q1("CREATE EXTENSION imagestream VERSION '$last'");
is(q1(q{SELECT extversion FROM pg_extension WHERE extname = 'imagestream'}), $last,
	"the database has the objects of $last");
# (imagestream.max_cycle_size is a setting of 0.3.0's library)
is(q1('SHOW imagestream.max_cycle_size'), '128MB', "while the library of $current is loaded");
ok(defined wait_for($node, 'SELECT count(*) FROM imagestream.worker_status', '1', 30), 'and its worker runs');
my $wpid = q1('SELECT pid FROM imagestream.worker_status');

my $reg = RegistryTest->start();
my $host = $reg->host;
my $listener = $node->background_psql('postgres');
$listener->query_safe('LISTEN imagestream');

# a release of 20 tags (recorded together by _worker_apply_many), a tag of
# another stream (recorded alone by _worker_apply) and a missing one
my @rel = map { "r$_" } 1 .. 20;
my $one = $reg->push_many_tags('org/release', 20, tags => \@rel, content => 'release one');
my $app = $reg->push_image('org/app', 'v1', content => 'app one');
q1('BEGIN;'
	  . join('', map { "SELECT imagestream.tag('$host/org/release:$_', 'win/rel:$_', scheduled => true, insecure => true);" } @rel)
	  . "SELECT imagestream.tag('$host/org/app:v1', 'win/app:v1', scheduled => true, insecure => true);
		 SELECT imagestream.tag('$host/org/app:gone', 'win/app:gone', scheduled => true, insecure => true);
		 COMMIT");
sub moved
{
	my ($stream, $digest, $n, $name) = @_;
	ok(defined wait_for($node, "SELECT count(*) FROM imagestream.image_stream_tags WHERE stream = '$stream' AND image::text = '$digest'",
			$n, 60), $name);
}
moved('rel', $one->{digest}, 20, "$last objects: the worker imports 20 pending tags of a stream");
moved('app', $app->{digest}, 1, "$last objects: and a tag of another stream");
ok(defined wait_for($node, "SELECT import_reason FROM imagestream.image_stream_tags WHERE tag = 'gone'", 'NotFound', 30),
	"$last objects: a missing source gets its condition");
my $two = $reg->push_many_tags('org/release', 20, tags => \@rel, content => 'release two');
moved('rel', $two->{digest}, 20, "$last objects: an upstream release moves the 20 scheduled tags");
my $app2 = $reg->push_image('org/app', 'v1', content => 'app two');
is(q1("SELECT imagestream.import_now('win/app:v1')"), '1', "$last objects: import_now marks a tag");
moved('app', $app2->{digest}, 1, "$last objects: and the worker imports it");
my @ids = $listener->query_safe('SELECT 1') =~ /Asynchronous notification "imagestream" with payload "\{"id": (\d+)/g;
cmp_ok(scalar(@ids), '>=', 42, "$last objects: each change is announced (" . scalar(@ids) . ' notifications)');
is(q1("SELECT tag FROM imagestream.changes_since($ids[-1] - 1) LIMIT 1"), 'v1', "$last objects: the last is the import_now's");

# a session's import and the reads
is(q1("SELECT status FROM imagestream.import_image('win/app:copy', '$host/org/app:v1', insecure => true)"), 'Success',
	"$last objects: import_image works");
is(q1("SELECT imagestream.resolve('win/app:copy')::text"), "$host/org/app\@$app2->{digest}",
	"$last objects: resolve works");
is(q1("SELECT count(*) FROM imagestream.image_streams WHERE namespace = 'win'"), '2', "$last objects: the streams view");
is(q1("SELECT count(*) FROM imagestream.history('win/rel:r1')"), '2', "$last objects: history");
like(q1("SELECT imagestream.describe('win/app')"), qr/v1/, "$last objects: describe");
is(q1('SELECT tags_scheduled FROM imagestream.worker_status'), '22', "$last objects: worker_status");
invariants_hold($node, "$last objects: the invariants hold");
ok(!$node->log_contains(qr/imagestream worker (cycle failed|could not record)/), "$last objects: no cycle failed, no import unrecorded");

# The update while the worker records the next release: a session holds the
# stream's row, so the worker waits in its recording transaction (which
# holds the stream and the tag table); the update comes, takes the tables
# it alters one by one and waits for the stream.  Once the session lets go,
# the worker needs a table the update holds: a deadlock, which the worker
# loses (the update checked for one long before, when there was none).
# The worker is off while the release is pushed, so that it records the 20
# tags in one chunk once it is on again.
q1("ALTER SYSTEM SET imagestream.enable_worker = off; SELECT pg_reload_conf()");
my $quiet = 0;
{
	my ($n, $since, $t0) = (-1, time, time);
	while (time - $t0 < 60)
	{
		my $m = q1('SELECT tags_checked FROM imagestream.worker_status');
		($n, $since) = ($m, time) if $m != $n;
		if (time - $since >= 3) { $quiet = 1; last }
		Time::HiRes::sleep(0.2);
	}
}
ok($quiet, 'the worker is off (no check for 3 s)');
my $three = $reg->push_many_tags('org/release', 20, tags => \@rel, content => 'release three');
is(q1("SELECT imagestream.import_now('win/rel')"), '20', 'import_now marks the release');
my $holder = $node->background_psql('postgres');
$holder->query_safe("BEGIN; SELECT 1 FROM imagestream.stream WHERE namespace = 'win' AND name = 'rel' FOR UPDATE");
q1("ALTER SYSTEM RESET imagestream.enable_worker; SELECT pg_reload_conf()");
ok(defined wait_for($node, "SELECT wait_event_type || ': ' || query FROM pg_stat_activity WHERE pid = $wpid",
		'Lock: imagestream worker: recording imports', 30), 'the worker waits for the stream while recording');
my $log_offset = -s $node->logfile;
my $updater = $node->background_psql('postgres');
my $upid = $updater->query_safe('SELECT pg_backend_pid()');
$updater->query_until(qr/started/, "\\echo started\nBEGIN;\nALTER EXTENSION imagestream UPDATE;\n\\echo updated :ERROR\n");
ok(defined wait_for($node, "SELECT count(*) FROM pg_locks WHERE pid = $upid AND NOT granted AND now() - waitstart > '3s'", '1', 60),
	'the update waits for the worker (past its deadlock check)');
my $t0 = time;
$holder->query_safe('COMMIT');
$holder->quit;
like($updater->query_until(qr/updated/, ''), qr/updated false/, 'the update completes once the worker yields');
note(sprintf('the update completed %.1f s after the session let go', time - $t0));
$updater->query_safe('COMMIT');
$updater->quit;
# (whichever comes first, the deadlock check or the worker's lock_timeout,
# both of a second: doc/security.md, S31)
my $yields = () = substr(slurp_file($node->logfile), $log_offset)
  =~ /imagestream worker could not record[^\n]*(?:deadlock detected|lock timeout)/g;
ok($yields >= 1 && $yields < 20,
	"the worker yielded (a deadlock or its lock_timeout, $yields times), not once per tag");
my ($postponed) = substr(slurp_file($node->logfile), $log_offset) =~ /imagestream worker postponed recording (\d+) imports to a later cycle/;
cmp_ok($postponed // 0, '>=', 20, 'and postponed the release (and what else the chunk had), saying so');
is(q1(q{SELECT extversion FROM pg_extension WHERE extname = 'imagestream'}), $current, "updated to $current");

# the worker carries on with the new objects
moved('rel', $three->{digest}, 20, "$current objects: the postponed release is recorded");
my $four = $reg->push_many_tags('org/release', 20, tags => \@rel, content => 'release four');
moved('rel', $four->{digest}, 20, "$current objects: the next release too");
my $app3 = $reg->push_image('org/app', 'v1', content => 'app three');
is(q1("SELECT imagestream.import_now('win/app:v1')"), '1', "$current objects: import_now");
moved('app', $app3->{digest}, 1, "$current objects: served");
is(q1("SELECT imagestream.resolve('win/app:v1')::text"), "$host/org/app\@$app3->{digest}", "$current objects: resolve");
is(q1("SELECT count(*) FROM imagestream.history('win/rel:r1')"), '4', "$current objects: history kept and extended");
is(q1('SELECT pid FROM imagestream.worker_status'), $wpid, 'the same worker process throughout');
ok(!$node->log_contains(qr/imagestream worker cycle failed/), 'no cycle of the worker failed');
invariants_hold($node, "$current objects: the invariants hold");
$listener->quit;
assert_no_crash($node);
$reg->stop;
done_testing();
