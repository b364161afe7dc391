# A registry host that drops connections (a firewall that drops rather than
# refuses, a host that is down) costs one wave of requests per worker
# cycle, not a timeout per tag: once a request to it times out before
# connecting, the batch gives its other requests to that host the same
# answer unsent, and the worker's other fetches (later chunks of 500 tags,
# later cycles) do not ask it again for 30 s.
# Loopback only: the "host" is a listening socket whose accept queue is
# full, so the kernel drops new connections' SYNs.

use strict;
use warnings;

use IO::Socket::INET;
use Time::HiRes qw(time);
use PostgreSQL::Test::Utils;
use Test::More;

use ImagestreamTest qw(start_node invariants_hold wait_for);
use RegistryTest;

my $node = start_node('unreachable', worker => 1, conf => qq{
imagestream.blocked_networks = ''
imagestream.import_interval = '1h'
imagestream.max_imports_per_minute = -1
imagestream.request_timeout = '2s'
imagestream.max_requests_per_registry = 4
});
sub q1 { return $node->safe_psql('postgres', shift) }
ok(defined wait_for($node, 'SELECT count(*) FROM imagestream.worker_status', '1', 10), 'the worker runs');

# Waits until the worker ends a cycle after this call: the requests of what
# it recorded before the call are then in worker_status.requests (a chunk's
# are counted after its recording, before its cycle ends).
sub cycle_ends { return ImagestreamTest::cycle_ends($node) }

# a registry that answers (used at the end), imported from once now, so
# that the worker knows it speaks plain HTTP: its HTTPS attempt is no HTTP
# request the server could log
my $reg = RegistryTest->start_hostile();
my $host = $reg->host;
my $digest = RegistryTest::header($reg->request('HEAD', '/v2/ok/app/manifests/latest'), 'Docker-Content-Digest');
q1("SELECT imagestream.tag('$host/ok/app:latest', 'ok/warm:v1', insecure => true)");
ok(defined wait_for($node, q{SELECT image FROM imagestream.image_stream_tags WHERE namespace = 'ok' AND stream = 'warm'},
		$digest, 60) && cycle_ends(), '(the worker imported from the reachable registry once)');

my $hole = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 0, Proto => 'tcp')
  or die "listen: $!";
my $port = $hole->sockport;
# connections the server never accepts fill its queue
my @held = map {
	IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Proto => 'tcp', Blocking => 0)
} 1 .. 3;

my $before = q1('SELECT requests FROM imagestream.worker_status');
q1('BEGIN;'
	  . join('', map { "SELECT imagestream.tag('127.0.0.1:$port/org/gone:$_', 'un/gone:t$_');" } 1 .. 600)
	  . 'COMMIT');
ok(defined wait_for($node, q{SELECT count(*) FROM imagestream.tag WHERE namespace = 'un' AND import_status = 'False'},
		'600', 60),
	'every tag of the unreachable registry gets its failed condition');
ok(cycle_ends(), 'a further cycle ran');
my $sent = q1('SELECT requests FROM imagestream.worker_status') - $before;
ok($sent >= 1 && $sent <= 8, "one wave of requests at the per-registry limit, not one a tag ($sent for 600 tags in two chunks)");
is(q1(q{SELECT count(DISTINCT import_message) || ' ' || min(import_reason)
		FROM imagestream.tag WHERE namespace = 'un'}), '1 Timeout',
	'each tag has the answer of the requests sent');
like(q1(q{SELECT min(import_message) FROM imagestream.tag WHERE namespace = 'un'}),
	qr/^Registry 127\.0\.0\.1:$port did not answer within imagestream\.request_timeout: /,
	'which says the registry did not answer');

my $message = q1(q{SELECT min(import_message) FROM imagestream.tag WHERE namespace = 'un'});
my $phase1_done = time;

# 20 more tags a moment later: not asked again (doc/worker.md), they fail at
# once with the same answer, and the worker sends no request at all
$before = q1('SELECT requests FROM imagestream.worker_status');
q1('BEGIN;'
	  . join('', map { "SELECT imagestream.tag('127.0.0.1:$port/org/gone:$_', 'un/more:t$_');" } 1 .. 20)
	  . 'COMMIT');
ok(defined wait_for($node, q{SELECT count(*) FROM imagestream.tag WHERE namespace = 'un' AND stream = 'more'
		AND import_status = 'False'}, '20', 60),
	'20 more tags of the unreachable registry fail');
ok(cycle_ends(), '(the cycle that failed them ended)');
is(q1('SELECT requests FROM imagestream.worker_status') - $before, 0,
	'and no request was sent for them: the registry is remembered as unreachable');
is(q1(q{SELECT count(*) FROM imagestream.tag WHERE namespace = 'un' AND stream = 'more'
		AND import_reason = 'Timeout' AND import_message = } . ImagestreamTest::literal($message)), '20',
	'each has the answer the requests of a moment ago got');

# a registry that answers is served as before, beside the unreachable one
# (not asked again: its tags fail at once); the requests sent are the
# reachable registry's alone
$reg->reset_log;
$before = q1('SELECT requests FROM imagestream.worker_status');
q1('BEGIN;'
	  . join('', map { "SELECT imagestream.tag('127.0.0.1:$port/org/gone:$_', 'un/again:t$_');" } 1 .. 20)
	  . "SELECT imagestream.tag('$host/ok/app:latest', 'un/app:v1', insecure => true); COMMIT");
ok(defined wait_for($node, q{SELECT image FROM imagestream.image_stream_tags WHERE namespace = 'un' AND stream = 'app'},
		$digest, 60),
	'a tag of a reachable registry is imported beside them');
ok(defined wait_for($node, q{SELECT count(*) FROM imagestream.tag WHERE namespace = 'un' AND stream = 'again'
		AND import_status = 'False'}, '20', 60),
	'and the unreachable ones fail');
ok(cycle_ends(), '(the cycle ended)');
my $answered = grep { $_->{path} =~ m{^/v2/} } @{ $reg->request_log };
cmp_ok($answered, '>', 0, "the reachable registry was asked ($answered requests)");
is(q1('SELECT requests FROM imagestream.worker_status') - $before, $answered,
	'every request sent went to the reachable registry, none to the unreachable one');
# (the registry is remembered for 30 s from its last failed request, and
# its first 600 tags retry after their back-off)
cmp_ok(time - $phase1_done, '<', 25, 'all within the 30 s the unreachable registry is remembered');

invariants_hold($node, 'the invariants hold');
ok($node->log_contains('terminated by signal') == 0, 'no backend crashed');
close $_ for grep { defined } @held;
close $hole;
$reg->stop;
done_testing();
