# A process waiting for a registry sleeps until something happens
# (src/http_wait.c): its latch, postmaster death and libcurl's sockets and
# timer in one WaitEventSet, no polling.  A cancel wakes it at once, a
# request that gets no byte costs no wake-up, and new work committed for
# the worker while it waits inside a request is not lost when the wait
# resets the latch.
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);

use ImagestreamTest qw(start_node invariants_hold wait_for);
use RegistryTest;

my $node = start_node('wait_events', worker => 1, conf => qq{
imagestream.blocked_networks = ''
imagestream.import_interval = '1h'
imagestream.max_imports_per_minute = -1
imagestream.request_timeout = '60s'
});
sub q1 { return $node->safe_psql('postgres', shift) }
ok(defined wait_for($node, 'SELECT count(*) FROM imagestream.worker_status', '1', 10), 'the worker runs');

# slow: the headers, one byte, then a byte every 30 s
my $evil = RegistryTest->start_hostile(slow_interval => 30, slow_seconds => 120);
my $host = $evil->host;

sub poll_until
{
	my ($seconds, $cond) = @_;
	my $t0 = time;
	while (time - $t0 < $seconds)
	{
		return time - $t0 if $cond->();
		sleep 0.1;
	}
	return undef;
}

sub requested
{
	my ($pattern) = @_;
	return scalar grep { $_->{path} =~ $pattern } @{ $evil->request_log };
}

sub voluntary_switches
{
	my ($pid) = @_;
	my ($n) = slurp_file("/proc/$pid/status") =~ /^voluntary_ctxt_switches:\s+(\d+)/m;
	return $n;
}

# --- a backend inside a slow import ---
my $bg = $node->background_psql('postgres', on_error_stop => 0);
$bg->query_until(qr/started/, qq{\\echo started
SELECT * FROM imagestream.import_image('wt/slow:t', '$host/slow/app:latest', insecure => true, confirm => true);
});
ok(defined poll_until(30, sub { requested(qr{/slow/app/manifests/}) }), 'the import waits for the slow registry');
my $pid = q1("SELECT pid FROM pg_stat_activity WHERE query LIKE '%wt/slow:t%' AND pid <> pg_backend_pid()");
like($pid, qr/^\d+$/, 'its backend is found');

# its first byte came with the headers; the next one is 30 s away.  Waiting
# in slices of 100 ms would cost 50 wake-ups in 5 s
sleep 0.5;
my $before = voluntary_switches($pid);
sleep 5;
my $switches = voluntary_switches($pid) - $before;
note("voluntary context switches of the waiting backend in 5 s: $switches");
cmp_ok($switches, '<', 15, 'a backend waiting on a silent registry is not woken (no polling)');

# the latch wakes the wait: a cancel ends it long before the next byte
my $t0 = time;
q1("SELECT pg_cancel_backend($pid)");
$bg->query('SELECT 1');
my $took = time - $t0;
note(sprintf('the import ended %.2f s after the cancel', $took));
ok($took < 10, 'pg_cancel_backend ends the wait at once, not at the next byte (30 s) or request_timeout (60 s)');
like($bg->{stderr}, qr/canceling statement due to user request/, 'with the cancel error');
$bg->quit;
is(q1("SELECT count(*) FROM imagestream.tag WHERE namespace = 'wt'"), '0', 'the cancelled import left nothing');

# --- new work for the worker committed while it waits inside a request ---
# The wait resets the latch that import_now sets; it must set it again when
# the request ends, so that the worker ends its cycle after the chunk under
# way (doc/worker.md) and takes the new work first.  600 pending tags of
# 600 references (tags of one reference share a check) make two chunks
# (500 and 100); the first holds a tag from the slow registry,
# whose request lasts request_timeout (4 s).  import_now of another tag is
# committed during it: its request comes before the second chunk's, not
# after them (the worker would then have started the second chunk).
$node->safe_psql('postgres', "ALTER SYSTEM SET imagestream.request_timeout = '4s'");
$node->reload;
q1("SELECT imagestream.tag('$host/ok/marker:latest', 'mk/mark:t', insecure => true)");
ok(defined wait_for($node, q{SELECT count(*) FROM imagestream.image_stream_tags
		WHERE namespace = 'mk' AND image IS NOT NULL}, '1', 60), '(a tag to mark later is imported)');
ok(defined wait_for($node, q{SELECT w.last_cycle_at > t.created
		FROM imagestream.worker_status w, imagestream.image_stream_tags t WHERE t.namespace = 'mk'}, 't', 30),
	'(and its cycle ended)');
$evil->reset_log;
q1('BEGIN;'
	  . "SELECT imagestream.tag('$host/slow/app:latest', 'a0/slow:t', insecure => true);"
	  . join('', map { "SELECT imagestream.tag('$host/ok/app$_:latest', 'lw/s" . ($_ % 6) . ":t$_', insecure => true);" } 1 .. 600)
	  . 'COMMIT');
ok(defined poll_until(60, sub { requested(qr{/slow/app/manifests/}) }), 'the worker waits for the slow registry');
q1("SELECT imagestream.import_now('mk/mark:t')");
ok(defined wait_for($node, q{SELECT count(*) FROM imagestream.image_stream_tags
		WHERE namespace = 'lw' AND image IS NOT NULL}, '600', 120), 'the 600 tags are imported');
ok(defined poll_until(30, sub { requested(qr{/ok/marker/manifests/}) }), 'the marked tag is checked');
my @log = @{ $evil->request_log };
my ($first) = grep { $log[$_]{path} =~ m{/ok/marker/manifests/} } 0 .. $#log;
my $before_mark = grep { $_->{path} =~ m{/ok/app\d+/manifests/} } @log[0 .. $first];
my $after_mark = grep { $_->{path} =~ m{/ok/app\d+/manifests/} } @log[$first .. $#log];
note("manifest requests of the 600 tags: $before_mark before the marked tag's, $after_mark after");
ok($before_mark > 0 && $after_mark > 0,
	'the marked tag is checked after the chunk under way, before the next chunk');

# --- a registry named by a host name: libcurl's resolver ---
# 127.0.0.1 and localhost are found without resolving (libcurl answers
# localhost itself); a name of /etc/hosts is resolved by libcurl's resolver
# thread, whose socket pair the wait watches until libcurl closes it
# unseen, the connection's socket often taking its number
my $name;
if (open(my $hosts, '<', '/etc/hosts'))
{
	my (%addr, %other);
	while (my $line = <$hosts>)
	{
		$line =~ s/#.*//;
		my ($ip, @names) = split ' ', $line;
		next unless defined $ip;
		for my $n (@names)
		{
			next if $n =~ /^localhost$|\.localhost$/i;
			if ($ip =~ /^127\.\d+\.\d+\.\d+$/) { $addr{$n} //= $ip }
			else { $other{$n} = 1 }
		}
	}
	close $hosts;
	($name) = grep { !$other{$_} && /^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/ } sort keys %addr;
	$name = undef if $name && !defined(gethostbyname($name));
	$name = [ $name, $addr{$name} ] if $name;
}
SKIP:
{
	skip 'no name but localhost maps to a 127.x.x.x address in /etc/hosts', 5 unless $name;
	my ($host_name, $ip) = @$name;
	my $named = RegistryTest->start_hostile(bind => $ip);
	my $at = "$host_name:" . $named->port;
	note("the registry named $at ($ip)");
	is(q1("SELECT status FROM imagestream.import_image('rn/one:t', '$at/ok/app:latest',
			insecure => true, confirm => true)"), 'Success', 'a backend imports from a registry named by a host name');
	q1('BEGIN;' . join('', map { "SELECT imagestream.tag('$at/ok/named$_:latest', 'rn/s:t$_', insecure => true);" } 1 .. 8) . 'COMMIT');
	ok(defined wait_for($node, q{SELECT count(*) FROM imagestream.image_stream_tags
			WHERE namespace = 'rn' AND tag LIKE 't_' AND image IS NOT NULL}, '8', 60),
		'so does the worker, 8 tags at once');
	my @log = @{ $named->request_log };
	my %asked = map { $_->{path} =~ m{/ok/(named\d)/manifests/} ? ($1 => 1) : () } @log;
	is(scalar(keys %asked), 8, 'each of their repositories asked');
	is(scalar(grep { ($_->{host} // '') ne $at } @log), 0, 'every request names the host by its name');
	is(q1("SELECT count(*) FROM imagestream.image_stream_tags WHERE namespace = 'rn' AND image IS NULL"),
		'0', 'no tag is left without its image');
	$named->stop;
}

invariants_hold($node);
$evil->stop;
done_testing();
