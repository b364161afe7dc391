# The background worker against a real registry: pending tags and upstream
# rebuilds picked up (with NOTIFY), import_now within 2 s, unchanged checks
# writing no WAL, back-off and Retry-After, SIGTERM, SIGHUP, kill -9, and a
# standby that stays idle until promoted.
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);

use ImagestreamTest qw(start_node invariants_hold wait_for assert_no_crash);
use RegistryTest;

my $node = start_node('worker', allows_streaming => 1, worker => 1, conf => qq{
imagestream.blocked_networks = ''
imagestream.import_interval = '1s'
imagestream.max_imports_per_minute = -1
imagestream.request_timeout = '5s'
restart_after_crash = on
});
my $reg = RegistryTest->start();
my $host = $reg->host;
my $evil = RegistryTest->start_hostile(slow_interval => 1, slow_seconds => 60);
my $ehost = $evil->host;

sub q1 { return $node->safe_psql('postgres', shift) }

# Calls $cond until it returns true or $seconds pass: the time it took, or
# undef.
sub poll_until
{
	my ($seconds, $cond) = @_;
	my $t0 = time;
	while (1)
	{
		return time - $t0 if $cond->();
		return undef if time - $t0 > $seconds;
		sleep 0.1;
	}
}

# Whether the worker took up a reload asked for after pg_conf_load_time was
# $before: the postmaster read the files (a new session sees a later load
# time), and so had signalled the worker, which was then seen waiting
# between cycles (wait event Extension).  A worker in that wait has read its
# settings anew, or will before its next cycle; the cycle it was in has
# ended.
sub worker_reloaded
{
	my ($before) = @_;
	return defined wait_for($node, "SELECT pg_conf_load_time() > '$before'", 't', 30)
	  && defined wait_for($node,
		"SELECT wait_event_type || '/' || wait_event FROM pg_stat_activity
		 WHERE pid = (SELECT pid FROM imagestream.worker_status)", 'Extension/Extension', 30);
}

# Sets the settings (ALTER SYSTEM) and waits until the worker took them up.
sub reload_worker
{
	my (%set) = @_;
	my $before = q1('SELECT pg_conf_load_time()');
	q1(join('', map { "ALTER SYSTEM SET imagestream.$_ = '$set{$_}';" } sort keys %set) . 'SELECT pg_reload_conf()');
	ok(worker_reloaded($before), 'the worker takes up ' . join(', ', map { "$_ = $set{$_}" } sort keys %set));
	return;
}

# The lines of registry $r's access log from offset $from about repository
# $repo.
sub access_since
{
	my ($r, $from, $repo) = @_;
	open(my $lf, '<', $r->log_file) or die "cannot open the registry's log: $!";
	seek($lf, $from, 0);
	my @lines = grep { m{"[A-Z]+ /v2/\Q$repo\E/} } <$lf>;
	close $lf;
	return @lines;
}

# The hostile registry's log entries of requests whose path matches $re, in
# the order they arrived ({method, path, time, ...}).
sub requests_to
{
	my ($re) = @_;
	return sort { $a->{time} <=> $b->{time} } grep { $_->{path} =~ $re } @{ $evil->request_log };
}


ok(defined wait_for($node, 'SELECT count(*) FROM imagestream.worker_status', '1', 30), 'the worker runs');

# a pending tag is imported within seconds
my $v1 = $reg->push_image('org/app', 'v1', content => 'one');
q1("SELECT imagestream.tag('$host/org/app:v1', 'wk/app:v1', scheduled => true, insecure => true)");
ok(defined wait_for($node, "SELECT image FROM imagestream.image_stream_tags WHERE tag = 'v1'", $v1->{digest}, 30),
	'a new scheduled tag is imported by the worker');
# (the actor of a change is set by the server: the worker's own imports are
# its own, whatever role it connects as)
is(q1("SELECT actor || ' ' || coalesce(via, 'direct') FROM imagestream.change WHERE tag = 'v1' ORDER BY id DESC LIMIT 1"),
	'imagestream worker direct', 'its change: actor imagestream worker, no via');

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

# unchanged checks write nothing: over a window in which the worker checks
# the tag again and again, no WAL record of a transaction on a relation of
# the extension (ImagestreamTest::wal_window_writes)
my $window = ImagestreamTest::wal_window_open($node);
my $checked = q1('SELECT tags_checked FROM imagestream.worker_status');
ok(defined wait_for($node, "SELECT tags_checked >= $checked + 3 FROM imagestream.worker_status", 't', 30),
	'the tag is checked again and again');
is(join("\n", ImagestreamTest::wal_window_writes($node, $window)), '',
	'and unchanged checks write no WAL to the extension\'s relations');

# many scheduled tags: unchanged checks go out together, one HEAD each
my $many = $reg->push_many_tags('org/many', 30);
q1('BEGIN;' . join('', map { "SELECT imagestream.tag('$host/org/many:1.0.$_', 'wk/many:t$_', scheduled => true, insecure => true);" } 1 .. 30) . 'COMMIT');
ok(defined wait_for($node, "SELECT count(*) FROM imagestream.image_stream_tags WHERE stream = 'many' AND image IS NOT NULL", '30', 60),
	'30 scheduled tags are imported');
# tag() moved the stream to 30 (one transaction); the worker's import of
# them, once
is(q1("SELECT count(DISTINCT t.status_generation) || ' ' || (max(t.status_generation) = max(s.generation))
	   FROM imagestream.image_stream_tags t JOIN imagestream.image_streams s
	     ON s.namespace = t.namespace AND s.name = t.stream
	   WHERE t.stream = 'many'"), '1 true', 'one generation for the tags of a stream the worker imports together');
is(q1("SELECT generation FROM imagestream.image_streams WHERE name = 'many'"), '31', 'the stream moved once for them');
# counters read together with the end of the cycle they follow (requests
# and checks move together, as a chunk ends): a window of whole cycles, at
# least 3 s long by the worker's clock
sub cycle_counters
{
	return split /\|/, q1("SELECT tags_checked || '|' || requests || '|' || last_cycle_at FROM imagestream.worker_status");
}
my (undef, undef, $last) = cycle_counters();
ok(defined wait_for($node, "SELECT last_cycle_at > '$last' FROM imagestream.worker_status", 't', 30),
	'a cycle ends');
my ($c0, $r0, $at0) = cycle_counters();
ok(defined wait_for($node, "SELECT last_cycle_at >= '$at0'::timestamptz + interval '3 s' FROM imagestream.worker_status", 't', 60),
	'cycles end 3 s later');
my ($c1, $r1, $at1) = cycle_counters();
note("checks from $at0 to $at1: " . ($c1 - $c0));
cmp_ok($c1 - $c0, '>=', 60, 'every tag is checked each second (30 tags, 3 s: at least 2 checks each)');
is($r1 - $r0, $c1 - $c0, 'one request per unchanged check');

# they run concurrently, within the per-registry limit: 8 checks against a
# registry that answers after half a second take about a second, not four
# (8 references: tags of one reference would share one request)
q1("ALTER SYSTEM SET imagestream.max_requests_per_registry = 4; SELECT pg_reload_conf()");
q1(join('', map { "SELECT imagestream.tag('$ehost/delayed/app:t$_', 'wk/delayed:t$_', scheduled => true, insecure => true);" } 1 .. 8));
ok(defined wait_for($node, "SELECT count(*) FROM imagestream.image_stream_tags WHERE stream = 'delayed' AND image IS NOT NULL", '8', 60),
	'8 tags from a slow registry are imported');
sub most_at_once { return ($evil->request('GET', '/_concurrency')->{content} =~ /"max": (\d+)/)[0] }
$evil->reset_log;
my $at_once;
ok(defined poll_until(30, sub { ($at_once = most_at_once()) >= 4 }), 'their unchanged checks are in flight together');
is($at_once, 4, '4 at most per registry');
# one at a time, each answered half a second late, 11 checks would arrive
# over 5 s at least
$evil->reset_log;
my @heads;
ok(defined poll_until(60, sub { @heads = requests_to(qr{^/v2/delayed/}); @heads >= 11 }), '11 checks are made');
note(sprintf('11 checks in %.2f s', $heads[10]{time} - $heads[0]{time})) if @heads >= 11;
cmp_ok(@heads >= 11 ? $heads[10]{time} - $heads[0]{time} : 99, '<', 5,
	'more checks than one at a time could make (11 in under 5 s)');
is(most_at_once(), 4, 'still 4 at most');
q1("SELECT imagestream.delete_stream('wk/delayed')");
q1("SELECT imagestream.delete_stream('wk/many')");

# import_now is served at once even with a long interval: once the
# worker's next check is an hour away, a rebuild is imported because
# import_now asked.  (The tag is not scheduled any more: the scheduled
# checks of a reference fall at a point of each interval that the
# reference decides, which may be minutes away.)
q1("SELECT imagestream.tag('$host/org/app:v1', 'wk/app:v1', scheduled => false, insecure => true)");
reload_worker(import_interval => '1h');
ok(defined wait_for($node, "SELECT next_due_at > now() + interval '30 min' FROM imagestream.worker_status", 't', 30),
	'the next check is an hour away');
# and until then it sleeps: nothing commits, so no cycle runs (with no
# slice of a second, as before 0.3.0)
my $idle_at = q1('SELECT last_cycle_at FROM imagestream.worker_status');
like(q1('SELECT due_read_time FROM imagestream.worker_status'), qr/^\d+(\.\d+)?(e-\d+)?$/,
	'the last cycle says what finding its due work took');
sleep 3;
is(q1('SELECT last_cycle_at FROM imagestream.worker_status'), $idle_at, 'an idle worker runs no cycle');
my $v3 = $reg->push_image('org/app', 'v1', content => 'three');
is(q1("SELECT imagestream.import_now('wk/app:v1')"), '1', 'import_now marks one tag');
$took = wait_for($node, "SELECT image FROM imagestream.image_stream_tags WHERE tag = 'v1'", $v3->{digest}, 30);
note(sprintf('import_now served in %.2f s', $took)) if defined $took;
ok(defined $took, 'import_now is served at once, not at the interval');
like(told_images(), qr/\Q$v3->{digest}\E/, 'and announced');
$listener->quit;
q1("SELECT imagestream.tag('$host/org/app:v1', 'wk/app:v1', scheduled => true, insecure => true)");

# import_now of 20 tags that a release moved to one new image: one HEAD per
# tag, concurrently, then that image fetched once (manifest and config), and
# every tag recorded and announced
my @rel = map { "r$_" } 1 .. 20;
my $old = $reg->push_many_tags('org/release', 20, tags => \@rel, content => 'release one');
q1("SELECT imagestream.import_image('wk/release:$_', '$host/org/release:$_', insecure => true, confirm => true)") for @rel;
is(q1("SELECT count(*) FROM imagestream.image_stream_tags WHERE stream = 'release' AND image::text = '$old->{digest}'"),
	'20', 'a release of 20 tags imported');
# (the worker records a stream's tags together; a tag that another follows,
# and a failure, one by one beside them)
q1("SELECT imagestream.tag('wk/release:r7', 'wk/release:latest', alias => true)");
is(q1("SELECT status FROM imagestream.import_image('wk/release:gone', '$host/org/release:gone', insecure => true, confirm => true)"),
	'Failure', 'a tag whose source is missing');
my $new = $reg->push_many_tags('org/release', 20, tags => \@rel, content => 'release two');
my $req0 = q1('SELECT requests FROM imagestream.worker_status');
my $changes0 = q1("SELECT count(*) FROM imagestream.change WHERE stream = 'release' AND event = 'tag_updated'");
my $last_change = q1('SELECT max(id) FROM imagestream.change');
is(q1("SELECT imagestream.import_now('wk/release')"), '21', 'import_now marks the 20 tags and the missing one');
ok(defined wait_for($node, "SELECT count(*) FROM imagestream.image_stream_tags WHERE stream = 'release' AND image::text = '$new->{digest}'",
		'21', 60), 'all 20 tags move to the new image, and the alias with r7');
ok(defined wait_for($node, "SELECT requests - $req0 FROM imagestream.worker_status", '23', 30),
	'with 23 requests: 21 HEADs, one manifest, one config');
is(q1("SELECT count(*) FROM imagestream.change WHERE stream = 'release' AND event = 'tag_updated'") - $changes0,
	21, 'one tag_updated change per tag that moved');
is(q1("SELECT string_agg(DISTINCT actor, ',') FROM imagestream.change WHERE stream = 'release' AND id <= $last_change"),
	q1('SELECT quote_ident(current_user)'), 'the changes of import_image are the calling role\'s');
is(q1("SELECT string_agg(DISTINCT actor || ' ' || coalesce(via, 'direct'), ',') FROM imagestream.change
	   WHERE stream = 'release' AND id > $last_change"),
	'imagestream worker direct', 'those of the worker, recorded together, are its own');
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
		'21', 60), 'with the set-based recording failing, each tag is recorded on its own');
ok($node->log_contains(qr/could not record the import of 21 tags, together .*broken on purpose/, $log_offset),
	'and the failure is logged');
is(q1("SELECT string_agg(DISTINCT actor, ',') FROM imagestream.change WHERE stream = 'release' AND id > $last_change"),
	'imagestream worker', 'and so are those recorded one by one');
q1("DROP FUNCTION $apply_many;
	ALTER FUNCTION imagestream._worker_apply_many_kept(bigint, bigint[], text[], imagestream._fetched[], bigint)
	RENAME TO _worker_apply_many");
is(q1("SELECT count(*) FROM imagestream.check_invariants()"), '0', 'the invariants hold');
q1("SELECT imagestream.delete_stream('wk/release')");

# a release of 1,200 tags: checked in chunks of 500, each chunk's HEADs
# running while the chunk before it is recorded; nothing asked twice or lost
my $big_old = $reg->push_many_tags('org/big', 1200, content => 'big one');
is(q1("SET imagestream.max_bulk_import = -1;
	   SELECT count(*) FILTER (WHERE status = 'Success') FROM imagestream.import_image('wk/big', '$host/org/big', all_tags => true, insecure => true, confirm => true)"),
	'1200', 'a stream of 1,200 tags imported');
my $big_new = $reg->push_many_tags('org/big', 1200, content => 'big two');
$req0 = q1('SELECT requests FROM imagestream.worker_status');
$changes0 = q1("SELECT count(*) FROM imagestream.change WHERE stream = 'big'");
is(q1("SELECT imagestream.import_now('wk/big')"), '1200', 'import_now marks the 1,200 tags');
ok(defined wait_for($node, "SELECT count(*) FROM imagestream.image_stream_tags WHERE stream = 'big' AND image::text = '$big_new->{digest}'",
		'1200', 120), 'all 1,200 tags move to the new image');
wait_for($node, "SELECT requests - $req0 FROM imagestream.worker_status", '1206', 30);
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
is(q1("SELECT count(*) FILTER (WHERE status = 'Success') FROM imagestream.import_image('wk/fresh', '$host2/org/fresh', all_tags => true, insecure => true, confirm => true)"),
	'20', 'a stream of 20 tags from a second registry imported');
my $fresh_new = $reg2->push_many_tags('org/fresh', 20, tags => \@fresh, content => 'fresh two');
my $fresh_log = -s $reg2->log_file;
$req0 = q1('SELECT requests FROM imagestream.worker_status');
q1("SELECT imagestream.import_now('wk/fresh')");
ok(defined wait_for($node, "SELECT count(*) FROM imagestream.image_stream_tags WHERE stream = 'fresh' AND image::text = '$fresh_new->{digest}'",
		'20', 60), 'the worker moves all 20 to the new image');
wait_for($node, "SELECT requests - $req0 FROM imagestream.worker_status", '24', 30);
is(q1("SELECT requests - $req0 FROM imagestream.worker_status"), '24',
	'with 24 requests: the scheme (2), a HEAD per tag, the new image once (2)');
# (the registry logs a request as it ends: its log is read until the last
# request, the config's, is there)
my @fresh_access;
poll_until(30, sub {
	@fresh_access = access_since($reg2, $fresh_log, 'org/fresh');
	(grep { m{"GET /v2/org/fresh/blobs/} } @fresh_access) && (grep { m{"HEAD /v2/org/fresh/manifests/} } @fresh_access) >= 20;
});
is(scalar(grep { m{"HEAD /v2/org/fresh/manifests/} } @fresh_access), 20, 'a HEAD per tag');
is(scalar(grep { m{"GET /v2/org/fresh/manifests/} } @fresh_access), 1, 'the new manifest fetched once, for all 20');
q1("SELECT imagestream.delete_stream('wk/fresh')");
$reg2->stop;

# SIGHUP: a setting changed by reload applies (the worker stops checking).
# With an interval of 1 s (a shorter interval applies at once) a working
# worker ends a cycle within about a second; once it took up the reload, none
# ends for 3 s.
reload_worker(import_interval => '1s', enable_worker => 'off');
$checked = q1("SELECT tags_checked || ' ' || last_cycle_at FROM imagestream.worker_status");
ok(!defined wait_for($node, "SELECT tags_checked || ' ' || last_cycle_at <> '$checked' FROM imagestream.worker_status", 't', 3),
	'SIGHUP applies enable_worker = off');
$checked = (split / /, $checked)[0];
q1("ALTER SYSTEM SET imagestream.enable_worker = on; SELECT pg_reload_conf()");
ok(defined wait_for($node, "SELECT tags_checked > $checked FROM imagestream.worker_status", 't', 30),
	'and on again');

# a failing registry: a condition, then retries after 1 s, 2 s, 4 s, ...
# (the interval, the back-off's cap, is 30 s): the registry's own times of
# the attempts
reload_worker(import_interval => '30s');
$evil->reset_log;
q1("SELECT imagestream.tag('$ehost/servererror/app:1', 'wk/app:failing', scheduled => true, insecure => true)");
ok(defined wait_for($node, "SELECT import_reason FROM imagestream.image_stream_tags WHERE tag = 'failing'", 'InternalError', 30),
	'a failing tag gets its condition');
is(q1("SELECT string_agg(DISTINCT actor, ',') FROM imagestream.change WHERE tag = 'failing' AND event = 'import_failed'"),
	'imagestream worker', 'the worker\'s failure is its own change');
my @attempts;
ok(defined poll_until(60, sub { @attempts = requests_to(qr{/servererror/app/manifests/}); @attempts >= 4 }),
	'a failing tag is tried again, three times');
my @gaps = map { $attempts[$_]{time} - $attempts[ $_ - 1 ]{time} } 1 .. $#attempts;
note('retry gaps: ' . join(' ', map { sprintf('%.2f', $_) } @gaps));
for my $i (0 .. 2)
{
	cmp_ok($gaps[$i] // 0, '>=', 2**$i, 'retry ' . ($i + 1) . ' comes ' . 2**$i . ' s after the attempt before it at the soonest');
}
cmp_ok($gaps[2] // 0, '>', $gaps[0] // 0, 'a failing tag backs off exponentially (the third retry waits longer than the first)');
q1("SELECT imagestream.untag('wk/app:failing')");

# 429 with Retry-After (RFC 9110 section 10.2.3), each form for a tag of
# its own, all in one cycle: delay-seconds and the three forms of HTTP-date
# hold the tag back until then (from the registry's own times: the second
# request comes no sooner, and it comes); a date in the past asks for no
# wait; a value of neither form is ignored (the default back-off, 1 s with
# an interval of 1 s)
reload_worker(import_interval => '1s');
$evil->reset_log;
my @held = ('seconds-6', 'date-6', 'rfc850-6', 'asctime-6');
my @free = ('past', 'words', 'feb31', 'utc');
q1(join('', map { "SELECT imagestream.tag('$ehost/ratelimit/$_/app:1', 'wk/limited:$_', scheduled => true, insecure => true);" }
		@held, @free));
ok(defined wait_for($node, "SELECT count(*) FROM imagestream.image_stream_tags WHERE stream = 'limited' AND import_reason = 'TooManyRequests'",
		'8', 30), 'a 429 is a TooManyRequests condition');
my %asked;
ok(defined poll_until(60, sub {
	%asked = map { my $f = $_; ($f => [ requests_to(qr{^/v2/ratelimit/\Q$f\E/app/manifests/}) ]) } @held, @free;
	!grep { @{ $asked{$_} } < 2 } @held, @free;
}), 'every tag is asked again');
for my $f (@held)
{
	my ($first, $second) = @{ $asked{$f} };
	next unless ok($first && $second, "Retry-After $f: a second request");
	my $until = $f =~ /^seconds/ ? $first->{time} + 6 : $first->{hold_until};
	note(sprintf("Retry-After: %s; the second request %.2f s after the first, %.2f s after the time it named",
		$first->{retry_after}, $second->{time} - $first->{time}, $second->{time} - $until));
	cmp_ok($until - $first->{time}, '>=', 6, "Retry-After $f names a time 6 s away at least");
	cmp_ok($second->{time}, '>=', $until, "Retry-After $f: no second request before that time");
}
for my $f (@free)
{
	my ($first, $second) = @{ $asked{$f} };
	next unless ok($first && $second, "Retry-After $f: a second request");
	note(sprintf("Retry-After: %s; the second request %.2f s after the first", $first->{retry_after},
		$second->{time} - $first->{time}));
	cmp_ok($second->{time} - $first->{time}, '>=', 1, "Retry-After $f: the tag's own back-off (1 s) still applies");
}
q1("SELECT imagestream.delete_stream('wk/limited')");

# SIGTERM during a request (the slow registry sends a byte a second for
# 60 s, the request may last as long): the worker ends without waiting for
# the answer
reload_worker(request_timeout => '60s');
q1("SELECT imagestream.tag('$ehost/slow/app:1', 'wk/app:slow', scheduled => true, insecure => true)");
ok(defined wait_for($node, 'SELECT in_flight FROM imagestream.worker_status', '1', 30), 'a request is in flight');
my $term_pid = q1('SELECT pid FROM imagestream.worker_status');
$t0 = time;
ok(kill('TERM', $term_pid), 'SIGTERM sent to the worker');
$took = poll_until(20, sub { !kill(0, $term_pid) });
note(sprintf('the worker ended %.2f s after SIGTERM', $took)) if defined $took;
ok(defined $took, 'SIGTERM ends the worker during a request, long before the answer could end');
ok($node->log_contains(qr/terminating background worker "imagestream worker" due to administrator command/),
	'it ended on SIGTERM');
q1("SELECT imagestream.untag('wk/app:slow')");

# kill -9: the postmaster restarts everything, and the worker carries on
ok(defined wait_for($node, 'SELECT count(*) FROM imagestream.worker_status', '1', 30), 'the worker is back');
my $kill_pid = q1('SELECT pid FROM imagestream.worker_status');
ok(kill('KILL', $kill_pid), 'SIGKILL sent to the worker');
ok(defined wait_for($node, "SELECT count(*) FROM imagestream.worker_status WHERE pid <> $kill_pid", '1', 60,
		restarting => 1),
	'after kill -9 the worker is restarted');
my $v4 = $reg->push_image('org/app', 'v1', content => 'four');
q1("SELECT imagestream.import_now('wk/app:v1')");
ok(defined wait_for($node, "SELECT image FROM imagestream.image_stream_tags WHERE tag = 'v1'", $v4->{digest}, 30),
	'and imports again');
invariants_hold($node, 'the invariants hold after kill -9 of the worker');

# a standby: no worker, resolve works; after promotion the worker imports.
# The postmaster starts the worker only once recovery ends: none is seen,
# and the standby's log has no worker start, from its start to promotion
# (the same log shows the start after it)
$node->backup('bk');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($node, 'bk', has_streaming => 1);
$standby->start;
$node->wait_for_catchup($standby);
is($standby->safe_psql('postgres', 'SELECT pg_is_in_recovery() || \' \' || count(*) FROM imagestream.worker_status'), 'true 0',
	'no worker runs on a standby');
is($standby->safe_psql('postgres', "SELECT imagestream.resolve('wk/app:v1')::text"), "$host/org/app\@$v4->{digest}",
	'resolve works on the standby');
q1("SELECT imagestream.tag('$host/org/app:v1', 'wk/app:later', insecure => true)");
$node->wait_for_catchup($standby);
is($standby->safe_psql('postgres', 'SELECT count(*) FROM imagestream.worker_status'), '0',
	'still none after replaying more');
$node->stop;
ok(!$standby->log_contains(qr/imagestream worker started/), 'no worker started while it was a standby');
$standby->promote;
ok(defined wait_for($standby, "SELECT image FROM imagestream.image_stream_tags WHERE tag = 'later'", $v4->{digest}, 30),
	'after promotion the worker imports');
ok($standby->log_contains(qr/imagestream worker started/), 'its start is in the log');

invariants_hold($standby, 'the invariants hold on the promoted standby');
assert_no_crash($standby);
# the worker killed on purpose: by SIGTERM (it exits with 1) and by kill -9
# (logged with what it was doing; the postmaster then ends every other
# process and restarts).  Any other crash has a line of its own.
assert_no_crash($node,
	allow => qr/\(PID $term_pid\) exited with exit code 1|\(PID $kill_pid\) was terminated by signal 9|Failed process was running: imagestream worker: |terminating any other active server processes/);
$reg->stop;
$evil->stop;
done_testing();
