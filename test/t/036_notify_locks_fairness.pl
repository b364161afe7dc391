# Issue 15, findings S19-S21 (doc/security.md):
# S19: any role can NOTIFY on the channel; by default a payload is the id
#      alone, a hint, and a listener that acts only on what changes_since()
#      returns is not fooled by a forged one.
# S20: an open transaction in one namespace blocks no writer of another,
#      nor the worker; change ids stay dense and in commit order, and each
#      NOTIFY carries the final id.
# S21: 250 failing pending tags of one namespace do not hold back another
#      namespace's import (the worker's queue is fair across namespaces).
# S31: a stream kept locked holds the worker a second at most.
# S32: the points a reference's checks fall on tell no one which images are
#      followed.
use strict;
use warnings;

use IO::Socket::INET;
use JSON::PP;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

use ImagestreamTest qw(start_node invariants_hold wait_for assert_no_crash);
use RegistryTest;

my $reg = RegistryTest->start();
my $host = $reg->host;

my $node = start_node('notify_locks', worker => 1, conf => qq{
imagestream.blocked_networks = ''
imagestream.import_interval = '1h'
max_prepared_transactions = 2
});
sub q1 { return $node->safe_psql('postgres', shift) }
ok(defined wait_for($node, 'SELECT count(*) FROM imagestream.worker_status', '1', 10), 'the worker runs');

q1(q{
	CREATE ROLE alice LOGIN;	-- edit on alpha
	CREATE ROLE bob LOGIN;		-- edit on bravo
	CREATE ROLE eve LOGIN;		-- no right at all
	SELECT imagestream.grant_namespace('alpha', 'alice', 'edit');
	SELECT imagestream.grant_namespace('bravo', 'bob', 'edit');
});
# each tag its own image (map_image refuses one that only streams the
# caller may not view hold)
sub map_sql
{
	my ($tag) = @_;
	return "SELECT imagestream.map_image('$tag', imagestream.ref_with_digest('quay.io/org/app', "
	  . "imagestream.content_digest('$tag')));";
}

# the notifications a background session has received, as payload texts
sub payloads
{
	my ($session) = @_;
	my $out = $session->query_safe('SELECT 1');
	my @got;
	push @got, $1 while $out =~ /Asynchronous notification "imagestream" with payload "(.*?)" received from server process/g;
	return @got;
}

my $listener = $node->background_psql('postgres');
$listener->query_safe('LISTEN imagestream');

# ---------------------------------------------------------------------------
# S19: forged notifications

is(q1('SHOW imagestream.notify_payload'), 'id', 'S19: notify_payload is id by default');
q1('SET ROLE alice; ' . map_sql('alpha/app:first'));
my @got = payloads($listener);
is_deeply(\@got, ['{"id": 1}'], 'S19: a change is announced by its id alone');

# alice's listener follows the documented pattern: on any notification,
# changes_since(last id read) and act only on what it returns
my $alice = $node->background_psql('postgres');
$alice->query_safe('SET ROLE alice; LISTEN imagestream');
my $last = $alice->query_safe('SELECT coalesce(max(id), 0) FROM imagestream.changes_since(0)');
is($last, '1', 'S19: the listener has read the log up to id 1');
my $fake = '{"id": 2, "event": "tag_updated", "namespace": "alpha", "stream": "app", "tag": "first", '
  . '"image": "sha256:' . ('0' x 61) . 'bad"}';
my ($ret, $out, $err) = $node->psql('postgres', "SET ROLE eve; SELECT pg_notify('imagestream', '$fake')");
is($ret, 0, 'S19: a role with no right at all may NOTIFY on the channel (PostgreSQL has no NOTIFY privilege)');
my @forged = payloads($alice);
is(scalar(@forged), 1, 'S19: the listener receives the forged notification');
like($forged[0] // '', qr/0bad/, 'S19: which carries what the forger wrote');
is($alice->query_safe("SELECT count(*) FROM imagestream.changes_since($last)"), '0',
	'S19: changes_since() after it returns nothing: the listener acts on nothing');
is($alice->query_safe("SELECT image FROM imagestream.image_stream_tags WHERE namespace = 'alpha' AND tag = 'first'"),
	q1("SELECT imagestream.content_digest('alpha/app:first')"), 'S19: and the tag still points at the real image');
$alice->quit;
payloads($listener);

# ---------------------------------------------------------------------------
# S20: an open transaction blocks no one else

my $img = $reg->push_image('org/pulled', 'v1', content => 'pulled by the worker');
my $s1 = $node->background_psql('postgres');
$s1->query_safe('SET ROLE alice; BEGIN; ' . map_sql('alpha/app:second'));
is($s1->query_safe('SELECT count(*) FROM imagestream.changes_since(0) WHERE id > 1'), '0',
	'S20: changes_since() shows no provisional row, not even to its own transaction');
# (the table as its owner reads it: no ordinary role may, S17)
is($s1->query_safe('RESET ROLE; SELECT count(*) FROM imagestream.change WHERE id > 0; SET ROLE alice'), '1',
	'S20: the open change has no id yet');
$s1->query_safe('SET CONSTRAINTS ALL IMMEDIATE');

# session 2 changes bravo and commits while session 1 stays open (a wait
# for session 1 could only end at lock_timeout, in an error: success is the
# proof that it did not wait, whatever the time the machine takes)
my $t0 = time();
($ret, $out, $err) = $node->psql('postgres',
	"SET ROLE bob; SET lock_timeout = '10s'; " . map_sql('bravo/app:one'));
note(sprintf('S20: the writer of bravo committed in %.1f s', time() - $t0));
is($ret, 0, 'S20: a writer of another namespace commits while a transaction of alpha is open')
  or diag($err);

# the worker imports a tag of bravo meanwhile
q1("SET ROLE bob; SELECT imagestream.tag('$host/org/pulled:v1', 'bravo/pulled:v1', insecure => true)");
ok(defined wait_for($node,
		"SELECT image FROM imagestream.image_stream_tags WHERE namespace = 'bravo' AND stream = 'pulled'",
		$img->{digest}, 20),
	'S20: the worker imports a tag of bravo meanwhile');

# a subtransaction's change rolled back leaves no hole
$s1->query_safe('SAVEPOINT a; ' . map_sql('alpha/app:gone') . ' ROLLBACK TO a; '
	  . map_sql('alpha/app:third'));
$s1->query_safe('COMMIT');
$s1->quit;

my @rows = split /\n/, q1(q{SELECT id || ' ' || namespace || '/' || stream || ':' || tag || ' ' || event
	FROM imagestream.change ORDER BY id});
is_deeply(\@rows, [
		'1 alpha/app:first tag_updated',
		'2 bravo/app:one tag_updated',
		'3 bravo/pulled:v1 tag_updated',
		'4 alpha/app:second tag_updated',
		'5 alpha/app:third tag_updated' ],
	'S20: ids are dense and in commit order: the transaction open first committed last');
@got = payloads($listener);
is_deeply(\@got, [ map { qq({"id": $_}) } 2 .. 5 ], 'S20: each NOTIFY carries the final id, in commit order');

# prepared transactions cannot hold the commit lock: they are refused
($ret, $out, $err) = $node->psql('postgres',
	'SET ROLE alice; BEGIN; ' . map_sql('alpha/app:prepared') . " PREPARE TRANSACTION 'p'");
like($err, qr/cannot PREPARE a transaction that changed image stream tags/,
	'S20: a transaction that changed tags cannot be prepared');
is(q1('SELECT count(*) FROM pg_prepared_xacts'), '0', 'S20: and is not');

# concurrent committers: still dense
my @writers = map {
	my $w = $node->background_psql('postgres');
	$w->query_safe("SET ROLE bob; BEGIN; " . map_sql("bravo/many$_:w$_"));
	$w
} 1 .. 3;
$_->query_safe('COMMIT') for reverse @writers;
$_->quit for @writers;
is(q1('SELECT count(*) || \' \' || min(id) || \' \' || max(id) FROM imagestream.change'), '8 1 8',
	'S20: three transactions open together commit to dense ids');
@got = payloads($listener);
is_deeply(\@got, [ map { qq({"id": $_}) } 6 .. 8 ], 'S20: and are announced in that order');
is(q1(q{SELECT string_agg(tag, ' ' ORDER BY id) FROM imagestream.change WHERE id > 5}), 'w3 w2 w1',
	'S20: in the order they committed, not the order they wrote');
$listener->quit;
invariants_hold($node, 'S20: the invariants hold');

# ---------------------------------------------------------------------------
# S26: a notification queue filled by anyone stops no change

# The queue is the server's (8 GB), shared by every channel; a listener idle
# in a transaction holds it.  A low limit lets a few megabytes stand for it.
q1("ALTER SYSTEM SET imagestream.notify_queue_limit = 0.0001; SELECT pg_reload_conf()");
my $holder = $node->background_psql('postgres');
$holder->query_safe('SET ROLE eve; LISTEN junk; BEGIN; SELECT 1');
q1("SET ROLE eve; SELECT count(pg_notify('junk', g || repeat('x', 7900))) FROM generate_series(1, 400) g");
is(q1('SELECT pg_notification_queue_usage() > 0.0001'), 't', 'S26: eve filled the queue past the limit');
$listener = $node->background_psql('postgres');
$listener->query_safe('LISTEN imagestream');
($ret, $out, $err) = $node->psql('postgres', 'SET ROLE alice; ' . map_sql('alpha/app:queued'));
is($ret, 0, 'S26: a change commits while the queue is past the limit');
like($err, qr/WARNING:  imagestream changes 9 to 9 were not announced/, 'S26: and says it was not announced');
is(q1(q{SELECT tag FROM imagestream.changes_since(8)}), 'queued', 'S26: changes_since has it');
is_deeply([ payloads($listener) ], [], 'S26: no NOTIFY was sent for it');
$holder->query_safe('COMMIT');
$holder->quit;
ok(defined wait_for($node, 'SELECT pg_notification_queue_usage() <= 0.0001', 't', 30),
	'S26: the queue drains once the holder ends');
q1('SET ROLE alice; ' . map_sql('alpha/app:announced'));
is_deeply([ payloads($listener) ], ['{"id": 10}'], 'S26: then changes are announced again');
$listener->quit;
q1("ALTER SYSTEM RESET imagestream.notify_queue_limit; SELECT pg_reload_conf()");

# ---------------------------------------------------------------------------
# S31: a stream a tenant keeps locked holds the worker for no one else: a
# recording waits at most a second (lock_timeout) for it, postpones that
# tag and records the others (review of issue 19, F2)

my $sock = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 1, Proto => 'tcp')
  or die "listen: $!";
my $closed = $sock->sockport;
close $sock;
# a scheduled tag of alpha's locked stream that fails at every check: its
# retries, after 1 s, 2 s, 4 s, ..., each record a failure in that stream
q1("SET ROLE alice; SELECT imagestream.tag('127.0.0.1:$closed/org/none:v1', 'alpha/app:failing', scheduled => true)");
ok(defined wait_for($node, q{SELECT import_status FROM imagestream.image_stream_tags
		WHERE namespace = 'alpha' AND tag = 'failing'}, 'False', 20),
	'S31: the failing tag of alpha failed once');
my $keeper = $node->background_psql('postgres');
$keeper->query_safe('SET ROLE alice; BEGIN; ' . map_sql('alpha/app:kept'));
# (its first retry, a second after the failure, meets the lock)
sleep 2;
my $other = $reg->push_image('org/other', 'v1', content => 'bravo while alpha is locked');
q1("SET ROLE bob; SELECT imagestream.tag('$host/org/other:v1', 'bravo/other:v1', insecure => true)");
ok(defined wait_for($node,
		"SELECT image FROM imagestream.image_stream_tags WHERE namespace = 'bravo' AND stream = 'other'",
		$other->{digest}, 20),
	'S31: the worker records a tag of bravo while a stream of alpha, with a tag of its own due, stays locked');
$keeper->query_safe('ROLLBACK');
$keeper->quit;
ok($node->log_contains('canceling statement due to lock timeout'),
	'S31: the worker gave up waiting for the locked stream (the server log says so)');

# ---------------------------------------------------------------------------
# S32: the point of the interval a reference's checks fall on, which
# worker_status.next_due_at shows every role, is the worker's secret: not
# the public hash of the reference (hashtextextended, the seed its insecure
# flag) that anyone could compute for a guessed image (review of issue 19, F3)

q1("SET ROLE alice; SELECT imagestream.untag('alpha/app:failing')");
q1("SET ROLE bob; SELECT imagestream.tag('$host/org/other:v1', 'bravo/point:v1', insecure => true, scheduled => true)");
ok(defined wait_for($node, q{SELECT s.next_due_at > now() + interval '1 second'
		FROM imagestream.worker_status s, imagestream.image_stream_tags t
		WHERE t.namespace = 'bravo' AND t.stream = 'point' AND t.image IS NOT NULL}, 't', 20),
	'S32: the scheduled tag of bravo is imported, then due at its reference\'s point');
my ($point, $public) = split /\|/, q1(q{
	SELECT (((extract(epoch FROM s.next_due_at) - 946684800) * 1000000) % 3600000000)::bigint,
		((((hashtextextended(t.from_ref, 1)::numeric + 18446744073709551616) % 18446744073709551616
		  * 11400714819323198485) % 18446744073709551616) % 3600000 * 1000)::bigint
	FROM imagestream.worker_status s, imagestream.tag t WHERE t.namespace = 'bravo' AND t.stream = 'point'});
note("S32: the point in the hour $point us; the public hash's $public us");
isnt($point, $public, 'S32: the point of a reference is not its public hash\'s');

# ---------------------------------------------------------------------------
# S21: fairness across namespaces

# a closed port on loopback (above): every junk import fails at once

my $fair = start_node('fairness', worker => 1, conf => q{
imagestream.blocked_networks = ''
imagestream.import_interval = '1h'
});
ok(defined wait_for($fair, 'SELECT count(*) FROM imagestream.worker_status', '1', 10), 'S21: the worker runs');
# the junk first: before the fix the worker took them in table order
$fair->safe_psql('postgres', 'BEGIN;'
	  . join('', map { "SELECT imagestream.tag('127.0.0.1:$closed/junk/app:$_', 'junk/app:t$_');" } 1 .. 250)
	  . 'COMMIT');
my $good = $reg->push_image('org/good', 'v1', content => 'good namespace');
$fair->safe_psql('postgres', "SELECT imagestream.tag('$host/org/good:v1', 'good/app:v1', insecure => true)");
my $took = wait_for($fair, "SELECT image FROM imagestream.image_stream_tags WHERE namespace = 'good'",
	$good->{digest}, 30);
ok(defined $took, sprintf('S21: a tag of namespace good is imported within 30 s beside 250 failing pending tags of junk (%s s)',
		defined $took ? sprintf('%.1f', $took) : 'not'));
ok($fair->safe_psql('postgres', q{SELECT count(*) FROM imagestream.tag WHERE namespace = 'junk' AND import_status = 'False'}) > 0,
	'S21: the junk tags are tried and fail meanwhile');

assert_no_crash($node);
assert_no_crash($fair);
$reg->stop;
done_testing();
