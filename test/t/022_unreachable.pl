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
my $last = q1('SELECT last_cycle_at FROM imagestream.worker_status');
wait_for($node, "SELECT last_cycle_at > '$last' FROM imagestream.worker_status", 't', 10);
my $sent = q1('SELECT requests FROM imagestream.worker_status') - $before;
ok($sent >= 1 && $sent <= 8, "one wave of requests at the per-registry limit, not one a tag ($sent for 600 tags in two chunks)");
is(q1(q{SELECT count(DISTINCT import_message) || ' ' || min(import_reason)
		FROM imagestream.tag WHERE namespace = 'un'}), '1 Timeout',
	'each tag has the answer of the requests sent');
like(q1(q{SELECT min(import_message) FROM imagestream.tag WHERE namespace = 'un'}),
	qr/^Registry 127\.0\.0\.1:$port did not answer within imagestream\.request_timeout: /,
	'which says the registry did not answer');

# a registry that answers is served as before, beside the unreachable one
# (not asked again: its tags fail at once)
my $reg = RegistryTest->start();
my $img = $reg->push_image('org/app', 'v1', content => 'reachable');
my $host = $reg->host;
q1('BEGIN;'
	  . join('', map { "SELECT imagestream.tag('127.0.0.1:$port/org/gone:$_', 'un/again:t$_');" } 1 .. 20)
	  . "SELECT imagestream.tag('$host/org/app:v1', 'un/app:v1', insecure => true); COMMIT");
ok(defined wait_for($node, q{SELECT image FROM imagestream.image_stream_tags WHERE namespace = 'un' AND stream = 'app'},
		$img->{digest}, 60),
	'a tag of a reachable registry is imported beside them');
ok(defined wait_for($node, q{SELECT count(*) FROM imagestream.tag WHERE namespace = 'un' AND stream = 'again'
		AND import_status = 'False'}, '20', 60),
	'and the unreachable ones fail');

invariants_hold($node, 'the invariants hold');
ok($node->log_contains('terminated by signal') == 0, 'no backend crashed');
close $_ for grep { defined } @held;
close $hole;
$reg->stop;
done_testing();
