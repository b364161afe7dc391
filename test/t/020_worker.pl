# The background worker against a real registry: pending tags and upstream
# rebuilds picked up (with NOTIFY), import_now within 2 s, unchanged checks
# writing no WAL, back-off and Retry-After, SIGTERM, SIGHUP, kill -9, and a
# standby that stays idle until promoted.
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);

use ImagestreamTest qw(start_node invariants_hold wait_for expect_crash);
use RegistryTest;

my $node = start_node('worker', allows_streaming => 1, worker => 1, conf => qq{
imagestream.blocked_networks = ''
imagestream.import_interval = '1s'
imagestream.max_imports_per_minute = -1
imagestream.request_timeout = '5s'
autovacuum = off
restart_after_crash = on
});
my $reg = RegistryTest->start();
my $host = $reg->host;
my $evil = RegistryTest->start_hostile(slow_interval => 1, slow_seconds => 60);
my $ehost = $evil->host;

sub q1 { return $node->safe_psql('postgres', shift) }


ok(wait_for($node, 'SELECT count(*) FROM imagestream.worker_status', '1', 10), 'the worker runs');

# a pending tag is imported within seconds
my $v1 = $reg->push_image('org/app', 'v1', content => 'one');
q1("SELECT imagestream.tag('$host/org/app:v1', 'wk/app:v1', scheduled => true, insecure => true)");
ok(defined wait_for($node, "SELECT image FROM imagestream.image_stream_tags WHERE tag = 'v1'", $v1->{digest}, 10),
	'a new scheduled tag is imported by the worker');

# an upstream rebuild is recorded within the interval, and announced
my $listener = $node->background_psql('postgres');
$listener->query_safe('LISTEN imagestream');
my $v2 = $reg->push_image('org/app', 'v1', content => 'two');
my $took = wait_for($node, "SELECT image FROM imagestream.image_stream_tags WHERE tag = 'v1'", $v2->{digest}, 10);
ok(defined $took && $took < 5, 'an upstream rebuild is picked up within the interval');
# The images of the changes the LISTEN client was told of since it last
# looked: the payload is the id alone, a hint, and the client reads the
# changes with changes_since.
sub told_images
{
	my @ids = $listener->query_safe('SELECT 1') =~ /Asynchronous notification "imagestream" with payload "\{"id": (\d+)\}"/g;
	return '' unless @ids;
	return q1("SELECT string_agg(image::text, ' ') FROM imagestream.changes_since($ids[0] - 1) WHERE id <= $ids[-1]");
}
like(told_images(), qr/\Q$v2->{digest}\E/, 'a LISTEN client is told');

my $t0;

# unchanged checks write no WAL
sleep 1.5;
my $lsn = q1('SELECT pg_current_wal_lsn()');
my $checked = q1('SELECT tags_checked FROM imagestream.worker_status');
sleep 3;
ok(q1('SELECT tags_checked FROM imagestream.worker_status') >= $checked + 2, 'the tag is checked again and again');
is(q1('SELECT pg_current_wal_lsn()'), $lsn, 'and unchanged checks write no WAL');

# many scheduled tags: unchanged checks go out together, one HEAD each
my $many = $reg->push_many_tags('org/many', 30);
q1('BEGIN;' . join('', map { "SELECT imagestream.tag('$host/org/many:1.0.$_', 'wk/many:t$_', scheduled => true, insecure => true);" } 1 .. 30) . 'COMMIT');
ok(defined wait_for($node, "SELECT count(*) FROM imagestream.image_stream_tags WHERE stream = 'many' AND image IS NOT NULL", '30', 20),
	'30 scheduled tags are imported');
# tag() moved the stream to 30 (one transaction); the worker's import of
# them, once
is(q1("SELECT count(DISTINCT t.status_generation) || ' ' || (max(t.status_generation) = max(s.generation))
	   FROM imagestream.image_stream_tags t JOIN imagestream.image_streams s
	     ON s.namespace = t.namespace AND s.name = t.stream
	   WHERE t.stream = 'many'"), '1 true', 'one generation for the tags of a stream the worker imports together');
is(q1("SELECT generation FROM imagestream.image_streams WHERE name = 'many'"), '31', 'the stream moved once for them');
# counters read just after a cycle ends (requests count as they start,
# checks as their chunk ends): a window of whole cycles
sub at_cycle_end
{
	my $last = q1('SELECT last_cycle_at FROM imagestream.worker_status');
	wait_for($node, "SELECT last_cycle_at > '$last' FROM imagestream.worker_status", 't', 10);
	return split /\|/, q1('SELECT tags_checked || \'|\' || requests FROM imagestream.worker_status');
}
sleep 1.5;
my ($c0, $r0) = at_cycle_end();
sleep 3;
my ($c1, $r1) = at_cycle_end();
cmp_ok($c1 - $c0, '>=', 60, 'every tag is checked each second');
is($r1 - $r0, $c1 - $c0, 'one request per unchanged check');

# they run concurrently, within the per-registry limit: 8 checks against a
# registry that answers after half a second take about a second, not four
q1("ALTER SYSTEM SET imagestream.max_requests_per_registry = 4; SELECT pg_reload_conf()");
q1(join('', map { "SELECT imagestream.tag('$ehost/delayed/app:latest', 'wk/delayed:t$_', scheduled => true, insecure => true);" } 1 .. 8));
ok(defined wait_for($node, "SELECT count(*) FROM imagestream.image_stream_tags WHERE stream = 'delayed' AND image IS NOT NULL", '8', 30),
	'8 tags from a slow registry are imported');
$evil->reset_log;
sleep 3;
like($evil->request('GET', '/_concurrency')->{content}, qr/"max": 4\b/,
	'their unchanged checks are in flight together, 4 at most per registry');
$evil->reset_log;
sleep 5;
my $heads = grep { $_->{method} eq 'HEAD' } @{ $evil->request_log };
cmp_ok($heads, '>', 10, 'more checks than one at a time could make (10 in 5 s)');
q1("SELECT imagestream.delete_stream('wk/delayed')");
q1("SELECT imagestream.delete_stream('wk/many')");

# import_now is served within 2 s even with a long interval
q1("ALTER SYSTEM SET imagestream.import_interval = '1h'; SELECT pg_reload_conf()");
sleep 1;
my $v3 = $reg->push_image('org/app', 'v1', content => 'three');
is(q1("SELECT imagestream.import_now('wk/app:v1')"), '1', 'import_now marks one tag');
$took = wait_for($node, "SELECT image FROM imagestream.image_stream_tags WHERE tag = 'v1'", $v3->{digest}, 5);
ok(defined $took && $took < 2, 'import_now is served within 2 s');
like(told_images(), qr/\Q$v3->{digest}\E/, 'and announced');
$listener->quit;

# import_now of 20 tags that a release moved to one new image: one HEAD per
# tag, concurrently, then that image fetched once (manifest and config), and
# every tag recorded and announced
my @rel = map { "r$_" } 1 .. 20;
my $old = $reg->push_many_tags('org/release', 20, tags => \@rel, content => 'release one');
q1("SELECT imagestream.import_image('wk/release:$_', '$host/org/release:$_', insecure => true)") for @rel;
is(q1("SELECT count(*) FROM imagestream.image_stream_tags WHERE stream = 'release' AND image::text = '$old->{digest}'"),
	'20', 'a release of 20 tags imported');
# (the worker records a stream's tags together; a tag that another follows,
# and a failure, one by one beside them)
q1("SELECT imagestream.tag('wk/release:r7', 'wk/release:latest', alias => true)");
is(q1("SELECT status FROM imagestream.import_image('wk/release:gone', '$host/org/release:gone', insecure => true)"),
	'Failure', 'a tag whose source is missing');
my $new = $reg->push_many_tags('org/release', 20, tags => \@rel, content => 'release two');
my $req0 = q1('SELECT requests FROM imagestream.worker_status');
my $changes0 = q1("SELECT count(*) FROM imagestream.change WHERE stream = 'release' AND event = 'tag_updated'");
is(q1("SELECT imagestream.import_now('wk/release')"), '21', 'import_now marks the 20 tags and the missing one');
ok(defined wait_for($node, "SELECT count(*) FROM imagestream.image_stream_tags WHERE stream = 'release' AND image::text = '$new->{digest}'",
		'21', 10), 'all 20 tags move to the new image, and the alias with r7');
ok(defined wait_for($node, "SELECT requests - $req0 FROM imagestream.worker_status", '23', 5),
	'with 23 requests: 21 HEADs, one manifest, one config');
is(q1("SELECT count(*) FROM imagestream.change WHERE stream = 'release' AND event = 'tag_updated'") - $changes0,
	21, 'one tag_updated change per tag that moved');
is(q1("SELECT count(DISTINCT status_generation) || ' ' || min(status_generation) FROM imagestream.image_stream_tags
	WHERE stream = 'release' AND tag <> 'gone'"),
	'1 ' . q1("SELECT generation FROM imagestream.image_streams WHERE name = 'release'"),
	'all of them at the stream\'s one new generation');
is(q1("SELECT import_status || ' ' || import_reason FROM imagestream.tag WHERE stream = 'release' AND name = 'gone'"),
	'False NotFound', 'the missing tag keeps its condition');
is(q1("SELECT count(*) FROM imagestream.check_invariants()"), '0', 'the invariants hold');
# if recording a stream's tags together fails, they are recorded one by one
my $apply_many = 'imagestream._worker_apply_many(bigint, bigint[], text[], imagestream._fetched[], bigint)';
q1("ALTER FUNCTION $apply_many RENAME TO _worker_apply_many_kept;
	CREATE FUNCTION $apply_many RETURNS SETOF integer LANGUAGE plpgsql
	AS \$\$ BEGIN RAISE EXCEPTION 'broken on purpose'; END \$\$");
my $log_offset = -s $node->logfile;
my $third = $reg->push_many_tags('org/release', 20, tags => \@rel, content => 'release three');
is(q1("SELECT imagestream.import_now('wk/release')"), '21', 'import_now marks them again');
ok(defined wait_for($node, "SELECT count(*) FROM imagestream.image_stream_tags WHERE stream = 'release' AND image::text = '$third->{digest}'",
		'21', 10), 'with the set-based recording failing, each tag is recorded on its own');
ok($node->log_contains(qr/could not record the import of 21 tags, together .*broken on purpose/, $log_offset),
	'and the failure is logged');
q1("DROP FUNCTION $apply_many;
	ALTER FUNCTION imagestream._worker_apply_many_kept(bigint, bigint[], text[], imagestream._fetched[], bigint)
	RENAME TO _worker_apply_many");
is(q1("SELECT count(*) FROM imagestream.check_invariants()"), '0', 'the invariants hold');
q1("SELECT imagestream.delete_stream('wk/release')");

# a release of 1,200 tags: checked in chunks of 500, each chunk's HEADs
# running while the chunk before it is recorded; nothing asked twice or lost
my $big_old = $reg->push_many_tags('org/big', 1200, content => 'big one');
is(q1("SET imagestream.max_bulk_import = -1;
	   SELECT count(*) FILTER (WHERE status = 'Success') FROM imagestream.import_image('wk/big', '$host/org/big', all_tags => true, insecure => true)"),
	'1200', 'a stream of 1,200 tags imported');
my $big_new = $reg->push_many_tags('org/big', 1200, content => 'big two');
$req0 = q1('SELECT requests FROM imagestream.worker_status');
$changes0 = q1("SELECT count(*) FROM imagestream.change WHERE stream = 'big'");
is(q1("SELECT imagestream.import_now('wk/big')"), '1200', 'import_now marks the 1,200 tags');
ok(defined wait_for($node, "SELECT count(*) FROM imagestream.image_stream_tags WHERE stream = 'big' AND image::text = '$big_new->{digest}'",
		'1200', 60), 'all 1,200 tags move to the new image');
wait_for($node, "SELECT requests - $req0 FROM imagestream.worker_status", '1206', 5);
is(q1("SELECT requests - $req0 FROM imagestream.worker_status"), '1206',
	'with 1,206 requests: a HEAD per tag, and the new image (manifest and config) once per chunk');
is(q1("SELECT count(*) FROM imagestream.change WHERE stream = 'big' AND event = 'tag_updated'") - $changes0,
	1200, 'one tag_updated change per tag');
q1("SELECT imagestream.delete_stream('wk/big')");

# a registry new to the worker, insecure and plain HTTP: its scheme is found
# once (GET /v2/ over HTTPS, then HTTP), then the tags are asked together as
# usual, not each on its own after a failed HTTPS batch
my $reg2 = RegistryTest->start();
my $host2 = $reg2->host;
my @fresh = map { "f$_" } 1 .. 20;
$reg2->push_many_tags('org/fresh', 20, tags => \@fresh, content => 'fresh one');
is(q1("SELECT count(*) FILTER (WHERE status = 'Success') FROM imagestream.import_image('wk/fresh', '$host2/org/fresh', all_tags => true, insecure => true)"),
	'20', 'a stream of 20 tags from a second registry imported');
my $fresh_new = $reg2->push_many_tags('org/fresh', 20, tags => \@fresh, content => 'fresh two');
my $fresh_log = -s $reg2->log_file;
$req0 = q1('SELECT requests FROM imagestream.worker_status');
q1("SELECT imagestream.import_now('wk/fresh')");
ok(defined wait_for($node, "SELECT count(*) FROM imagestream.image_stream_tags WHERE stream = 'fresh' AND image::text = '$fresh_new->{digest}'",
		'20', 20), 'the worker moves all 20 to the new image');
wait_for($node, "SELECT requests - $req0 FROM imagestream.worker_status", '24', 5);
is(q1("SELECT requests - $req0 FROM imagestream.worker_status"), '24',
	'with 24 requests: the scheme (2), a HEAD per tag, the new image once (2)');
sleep 0.5;
open(my $flf, '<', $reg2->log_file) or die;
seek($flf, $fresh_log, 0);
my @fresh_access = grep { m{"[A-Z]+ /v2/org/fresh/} } <$flf>;
close $flf;
is(scalar(grep { m{"GET /v2/org/fresh/manifests/} } @fresh_access), 1, 'the new manifest fetched once, for all 20');
q1("SELECT imagestream.delete_stream('wk/fresh')");
$reg2->stop;

# SIGHUP: a setting changed by reload applies (the worker stops checking)
q1("ALTER SYSTEM SET imagestream.import_interval = '1s';
	ALTER SYSTEM SET imagestream.enable_worker = off; SELECT pg_reload_conf()");
sleep 2;
$checked = q1('SELECT tags_checked FROM imagestream.worker_status');
sleep 2.5;
is(q1('SELECT tags_checked FROM imagestream.worker_status'), $checked, 'SIGHUP applies enable_worker = off');
q1("ALTER SYSTEM SET imagestream.enable_worker = on; SELECT pg_reload_conf()");
ok(defined wait_for($node, "SELECT tags_checked > $checked FROM imagestream.worker_status", 't', 10),
	'and on again');

# a failing registry: a condition, then retries after 1 s, 2 s, 4 s, ...
q1("ALTER SYSTEM SET imagestream.import_interval = '30s'; SELECT pg_reload_conf()");
$evil->reset_log;
q1("SELECT imagestream.tag('$ehost/servererror/app:1', 'wk/app:failing', scheduled => true, insecure => true)");
ok(defined wait_for($node, "SELECT import_reason FROM imagestream.image_stream_tags WHERE tag = 'failing'", 'InternalError', 10),
	'a failing tag gets its condition');
my @attempts;
my $seen = 0;
$t0 = time;
while (time - $t0 < 8.5)
{
	my $n = grep { $_->{path} =~ m{/servererror/app/manifests/} } @{ $evil->request_log };
	push @attempts, time while $n > $seen++;
	$seen = $n;
	sleep 0.1;
}
my @gaps = map { $attempts[$_] - $attempts[ $_ - 1 ] } 1 .. $#attempts;
note('retry gaps: ' . join(' ', map { sprintf('%.1f', $_) } @gaps));
ok(@gaps >= 2 && (grep { $gaps[$_] > $gaps[ $_ - 1 ] * 1.4 } 1 .. $#gaps) == $#gaps,
	'a failing tag backs off exponentially');
q1("SELECT imagestream.untag('wk/app:failing'); ALTER SYSTEM SET imagestream.import_interval = '1s'; SELECT pg_reload_conf()");

# 429 with Retry-After: 7 is honoured
$evil->reset_log;
q1("SELECT imagestream.tag('$ehost/ratelimit/app:1', 'wk/app:limited', scheduled => true, insecure => true)");
ok(defined wait_for($node, "SELECT import_reason FROM imagestream.image_stream_tags WHERE tag = 'limited'", 'TooManyRequests', 10),
	'a 429 is a TooManyRequests condition');
sleep 5;
is(scalar(grep { $_->{path} =~ m{/ratelimit/app/manifests/} } @{ $evil->request_log }), 1,
	'no second request before Retry-After');

# SIGTERM during a request: the worker ends within a second
q1("SELECT imagestream.untag('wk/app:limited');
	ALTER SYSTEM SET imagestream.request_timeout = '60s'; SELECT pg_reload_conf();");
sleep 1;
q1("SELECT imagestream.tag('$ehost/slow/app:1', 'wk/app:slow', scheduled => true, insecure => true)");
ok(defined wait_for($node, 'SELECT in_flight FROM imagestream.worker_status', '1', 10), 'a request is in flight');
my $pid = q1('SELECT pid FROM imagestream.worker_status');
$t0 = time;
expect_crash($node, qr/\(PID $pid\) exited with exit code 1/);
kill 'TERM', $pid;
my $gone = 0;
while (time - $t0 < 5) { if (!kill(0, $pid)) { $gone = 1; last } sleep 0.05 }
ok($gone && time - $t0 < 1, 'SIGTERM ends the worker within 1 s during a request');
q1("SELECT imagestream.untag('wk/app:slow')");

# kill -9: the postmaster restarts everything, and the worker carries on
ok(defined wait_for($node, 'SELECT count(*) FROM imagestream.worker_status', '1', 15), 'the worker is back');
$pid = q1('SELECT pid FROM imagestream.worker_status');
expect_crash($node, qr/\(PID $pid\) was terminated by signal 9/);
kill 'KILL', $pid;
ok(defined wait_for($node, "SELECT count(*) FROM imagestream.worker_status WHERE pid <> $pid", '1', 30, restarting => 1),
	'after kill -9 the worker is restarted');
my $v4 = $reg->push_image('org/app', 'v1', content => 'four');
q1("SELECT imagestream.import_now('wk/app:v1')");
ok(defined wait_for($node, "SELECT image FROM imagestream.image_stream_tags WHERE tag = 'v1'", $v4->{digest}, 10),
	'and imports again');
invariants_hold($node, 'the invariants hold after kill -9 of the worker');

# a standby: no worker, resolve works; after promotion the worker imports
$node->backup('bk');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($node, 'bk', has_streaming => 1);
$standby->start;
$node->wait_for_catchup($standby);
sleep 2;
is($standby->safe_psql('postgres', 'SELECT count(*) FROM imagestream.worker_status'), '0',
	'no worker runs on a standby');
is($standby->safe_psql('postgres', "SELECT imagestream.resolve('wk/app:v1')::text"), "$host/org/app\@$v4->{digest}",
	'resolve works on the standby');
q1("SELECT imagestream.tag('$host/org/app:v1', 'wk/app:later', insecure => true)");
$node->wait_for_catchup($standby);
$node->stop;
$standby->promote;
ok(defined wait_for($standby, "SELECT image FROM imagestream.image_stream_tags WHERE tag = 'later'", $v4->{digest}, 20),
	'after promotion the worker imports');

invariants_hold($standby, 'the invariants hold on the promoted standby');
ok($standby->log_contains('terminated by signal') == 0, 'no backend of the standby crashed');
$reg->stop;
$evil->stop;
done_testing();
