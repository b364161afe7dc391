# Settings away from their defaults, each shown to take effect (finding 9
# of issue 16): the compiled-in imagestream.blocked_networks with no setting
# in any configuration file; max_requests_per_registry and
# max_concurrent_requests reloaded to 2 while the worker runs;
# max_imports_per_minute and its burst; the back-off of a failing tag, its
# cap at import_interval and its reset after a success (doc/worker.md).
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);

use ImagestreamTest qw(start_node invariants_hold wait_for assert_no_crash);
use RegistryTest;

# no imagestream.blocked_networks here (start_node sets none either)
my $node = start_node('settings', worker => 1, conf => qq{
imagestream.import_interval = '1s'
imagestream.max_imports_per_minute = -1
imagestream.request_timeout = '5s'
});
sub q1 { return $node->safe_psql('postgres', shift) }
my $evil = RegistryTest->start_hostile();
my $ehost = $evil->host;
my $eport = $evil->port;
ok(defined wait_for($node, 'SELECT count(*) FROM imagestream.worker_status', '1', 30), 'the worker runs');

sub reload
{
	my ($sql) = @_;
	q1("$sql; SELECT pg_reload_conf()");
}

sub concurrency
{
	return JSON::PP->new->decode($evil->request('GET', '/_concurrency')->{content});
}

# --- the compiled-in default of blocked_networks
my $default = '127.0.0.0/8,169.254.0.0/16,::1/128,fe80::/10';
is(q1('SHOW imagestream.blocked_networks'), $default, 'blocked_networks defaults to the documented networks');
is(q1(q{SELECT source || ' ' || (boot_val = reset_val) FROM pg_settings WHERE name = 'imagestream.blocked_networks'}),
	'default true', 'compiled in: set by no configuration file');
$evil->reset_log;
is(q1("SELECT status || ' ' || reason FROM imagestream.import_image('set/blocked:latest', '$ehost/ok/app:latest', insecure => true, confirm => true)"),
	'Failure Forbidden', 'an import from a registry on 127.0.0.1 is Forbidden');
like(q1("SELECT import_message FROM imagestream.image_stream_tags WHERE stream = 'blocked' AND tag = 'latest'"), qr/blocked_networks/,
	'saying why');
q1("SELECT imagestream.tag('$ehost/ok/app:1.0', 'set/blocked:worker', scheduled => true, insecure => true)");
ok(defined wait_for($node, "SELECT import_reason FROM imagestream.image_stream_tags WHERE tag = 'worker'", 'Forbidden', 30),
	'and so is the worker\'s');
is(scalar(@{ $evil->request_log }), 0, 'no request reached the registry');
# the same registry, once allowed, is reached: the check above could fail
reload("ALTER SYSTEM SET imagestream.blocked_networks = ''");
ok(defined wait_for($node, "SELECT image IS NOT NULL AND import_reason IS NULL FROM imagestream.image_stream_tags WHERE tag = 'worker'", 't', 30),
	'with blocked_networks empty the worker imports the tag');
cmp_ok(scalar(@{ $evil->request_log }), '>', 0, 'from that registry');
q1("SELECT imagestream.delete_stream('set/blocked')");

# --- max_requests_per_registry and max_concurrent_requests, reloaded.
# The same slow registry (each answer half a second late) under two names,
# two registries to the worker: the hostile server counts the requests it
# serves at once, in all and by Host header.  import_now makes the 12 tags
# due together (a long import_interval keeps them from coming due one by
# one), so each cycle starts as many requests as the limits allow.  Each
# follows a reference of its own (tags of one reference share a request).
reload("ALTER SYSTEM SET imagestream.import_interval = '1h'");
my @names = ("127.0.0.1:$eport", "localhost:$eport");
q1('BEGIN;' . join('', map {
	my $i = $_;
	map { "SELECT imagestream.tag('$names[$i]/delayed/app:t$_', 'set/slow$i:t$_', scheduled => true, insecure => true);" } 1 .. 6
} 0 .. 1) . 'COMMIT');
ok(defined wait_for($node, "SELECT count(*) FROM imagestream.image_stream_tags WHERE stream LIKE 'slow%' AND image IS NOT NULL", '12', 120),
	'12 tags from a slow registry, 6 under each of two names, are imported');

# The concurrency of one import_now of the 12 tags, once the worker has the
# setting (a new session shows it once the postmaster signalled the worker).
sub measure
{
	my ($setting, $value) = @_;
	ok(defined wait_for($node, "SHOW $setting", $value, 30), "$setting is $value");
	$evil->reset_log;
	is(q1("SELECT imagestream.import_now('set/slow0') + imagestream.import_now('set/slow1')"), '12', 'import_now marks the 12 tags');
	ok(defined wait_for($node, "SELECT count(*) FROM imagestream.tag WHERE stream LIKE 'slow%' AND import_requested_at IS NOT NULL", '0', 60),
		'the worker checks them');
	my $c = concurrency();
	my @heads = grep { $_->{method} eq 'HEAD' } @{ $evil->request_log };
	is(scalar(@heads), 12, 'one HEAD request each');
	return ($c->{max}, map { $c->{by_host}{$_} // 0 } @names);
}
my ($all, @by) = measure('imagestream.max_requests_per_registry', '4');
is("@by", '4 4', 'defaults: 4 requests at once to each registry');
cmp_ok($all, '>', 4, "and more in all ($all)");

reload('ALTER SYSTEM SET imagestream.max_requests_per_registry = 2');
($all, @by) = measure('imagestream.max_requests_per_registry', '2');
is("@by", '2 2', 'max_requests_per_registry = 2 after a reload: 2 at once to each registry');
cmp_ok($all, '<=', 4, "4 at most in all ($all)");

reload('ALTER SYSTEM RESET imagestream.max_requests_per_registry; ALTER SYSTEM SET imagestream.max_concurrent_requests = 2');
($all, @by) = measure('imagestream.max_concurrent_requests', '2');
is($all, 2, 'max_concurrent_requests = 2 after a reload: 2 at once in all');
ok($by[0] >= 1 && $by[1] >= 1, "to both registries (at most @by at once to each)");
reload("ALTER SYSTEM RESET imagestream.max_concurrent_requests; ALTER SYSTEM SET imagestream.import_interval = '1s'");
q1("SELECT imagestream.delete_stream('set/slow0'); SELECT imagestream.delete_stream('set/slow1')");

# --- max_imports_per_minute = 6: a burst of 12, then one check every 10 s.
# 30 scheduled tags are due every second (import_interval 1s); the worker
# is stopped while the setting changes, so that the count starts with it.
# Each follows a reference of its own: a check of a reference is one unit
# of the budget however many tags follow it.
q1('BEGIN;' . join('', map { "SELECT imagestream.tag('$ehost/ok/app:t$_', 'set/rate:t$_', scheduled => true, insecure => true);" } 1 .. 30) . 'COMMIT');
ok(defined wait_for($node, "SELECT count(*) FROM imagestream.image_stream_tags WHERE stream = 'rate' AND image IS NOT NULL", '30', 60),
	'30 scheduled tags imported');

# tags_checked, once it has not moved for 3 s (the worker is off)
sub quiet_count
{
	my $t0 = time;
	my ($n, $since) = (-1, time);
	while (time - $t0 < 60)
	{
		my $m = q1('SELECT tags_checked FROM imagestream.worker_status');
		($n, $since) = ($m, time) if $m != $n;
		return $n if time - $since >= 3;
		sleep 0.2;
	}
	return undef;
}

# Turns the worker on at max_imports_per_minute = 6 and follows tags_checked
# for $seconds: never above 12 + one per 10 s since; returns the highest
# excess (at most 0), and whether the burst was seen.
sub follow_rate
{
	my ($seconds, $name) = @_;
	reload('ALTER SYSTEM SET imagestream.enable_worker = off');
	my $c0 = quiet_count();
	ok(defined $c0, "$name: the worker is idle");
	my $t0 = time;
	reload('ALTER SYSTEM SET imagestream.max_imports_per_minute = 6; ALTER SYSTEM SET imagestream.enable_worker = on');
	my ($excess, $burst, $n) = (-1e9, 0, 0);
	while (time - $t0 < $seconds)
	{
		$n = q1('SELECT tags_checked FROM imagestream.worker_status') - $c0;
		my $allowed = 12 + int((time - $t0) / 10);
		$excess = $n - $allowed if $n - $allowed > $excess;
		$burst ||= $n >= 12 && time - $t0 < 10;
		sleep 0.25;
	}
	cmp_ok($excess, '<=', 0, "$name: never more than 12 checks and one per 10 s since ($n after ${seconds} s)");
	ok($burst, "$name: the first 12 within 10 s, a burst of twice the rate");
	return $c0;
}
my $c0 = follow_rate(25, 'max_imports_per_minute = 6');
ok(defined wait_for($node, "SELECT tags_checked - $c0 >= 14 FROM imagestream.worker_status", 't', 60),
	'and one more check every 10 s');

# the burst is capped at twice the rate: a budget saved at 6000 a minute
# (100 a second, 30 taken) does not carry over
reload('ALTER SYSTEM SET imagestream.max_imports_per_minute = 6000');
my $c1 = q1('SELECT tags_checked FROM imagestream.worker_status');
ok(defined wait_for($node, "SELECT tags_checked - $c1 >= 150 FROM imagestream.worker_status", 't', 60),
	'at 6000 a minute every tag is checked every second');
follow_rate(12, 'back to 6 after 6000');
reload('ALTER SYSTEM SET imagestream.max_imports_per_minute = -1');
q1("SELECT imagestream.delete_stream('set/rate')");

# --- a check's further fetches take a unit each (doc/security.md, S33).
# 40 new tags of one reference that prefer 40 operating systems: the check
# is one HEAD, but each tag needs a fetch of its own (the options differ);
# the check's unit pays for the first fetch of each namespace, the budget
# for the others, so at max_imports_per_minute = 6 the worker fetches at
# most 12 (the burst; the runs above left less) and then one every 10 s,
# and the others stay due.  A tag of another namespace in the same check
# (the same request: neither has credentials) is fetched at once: the first
# namespace's fetches never use up the other's.
reload('ALTER SYSTEM SET imagestream.enable_worker = off');
ok(defined quiet_count(), 'many platforms: the worker is idle');
q1('BEGIN;' . join('', map { "SELECT imagestream.tag('$ehost/ok/app:1.0', 'set/plat:p$_', insecure => true);
	SELECT imagestream.set_annotations('set/plat:p$_', '{\"importer.image.openshift.io/prefer-os\": \"os$_\"}');" } 1 .. 40)
	. "SELECT imagestream.tag('$ehost/ok/app:1.0', 'other/plat:b', insecure => true); COMMIT");
$evil->reset_log;
my $t0 = time;
reload('ALTER SYSTEM SET imagestream.max_imports_per_minute = 6; ALTER SYSTEM SET imagestream.enable_worker = on');
ok(defined wait_for($node, "SELECT image IS NOT NULL FROM imagestream.image_stream_tags WHERE namespace = 'other'", 't', 10),
	'many platforms: another namespace\'s tag of the same check is fetched at once');
my ($excess, $n) = (-1e9, 0);
while (time - $t0 < 15)
{
	$n = q1("SELECT count(*) FROM imagestream.image_stream_tags WHERE namespace = 'set' AND stream = 'plat' AND image IS NOT NULL");
	my $allowed = 12 + int((time - $t0) / 10);
	$excess = $n - $allowed if $n - $allowed > $excess;
	sleep 0.25;
}
cmp_ok($excess, '<=', 0, "many platforms: never more than 12 fetched and one per 10 s since ($n after 15 s)");
# the worker stopped, the manifests read and the tags imported are counted together
reload('ALTER SYSTEM SET imagestream.enable_worker = off');
ok(defined quiet_count(), 'many platforms: the worker is idle again');
$n = q1("SELECT count(*) FROM imagestream.image_stream_tags WHERE stream = 'plat' AND image IS NOT NULL");
cmp_ok($n, '>=', 2, 'many platforms: the check fetches the first of each namespace');
my @by_digest = grep { $_->{method} eq 'GET' && $_->{path} =~ m{/ok/app/manifests/sha256:} } @{ $evil->request_log };
is(scalar(@by_digest), $n, 'a manifest read for each tag imported, none for the others');
reload('ALTER SYSTEM SET imagestream.max_imports_per_minute = -1; ALTER SYSTEM SET imagestream.enable_worker = on');
ok(defined wait_for($node, "SELECT count(*) FROM imagestream.image_stream_tags WHERE stream = 'plat' AND image IS NOT NULL", '41', 60),
	'many platforms: the others stayed due, and are imported once the budget allows');
q1("SELECT imagestream.delete_stream('set/plat'); SELECT imagestream.delete_stream('other/plat')");

# --- the back-off of a failing tag: 1 s, 2 s, 4 s, then import_interval
# (5 s here; 8 s and 16 s without the cap); after a success, 1 s again
reload("ALTER SYSTEM SET imagestream.import_interval = '5s'");
$evil->request('GET', '/_flaky?fail=1');
$evil->reset_log;
q1("SELECT imagestream.tag('$ehost/flaky/app:latest', 'set/flaky:latest', scheduled => true, insecure => true)");

# the times of the requests for the tag's manifest since $since, those
# less than 0.3 s apart taken as one attempt
sub attempts
{
	my ($since) = @_;
	my @t;
	for my $r (@{ $evil->request_log })
	{
		next unless $r->{path} =~ m{/flaky/app/manifests/} && $r->{time} > $since;
		push @t, $r->{time} unless @t && $r->{time} - $t[-1] < 0.3;
	}
	return @t;
}
sub wait_attempts
{
	my ($since, $n) = @_;
	my $t0 = time;
	while (time - $t0 < 90)
	{
		my @t = attempts($since);
		return @t if @t >= $n;
		sleep 0.2;
	}
	return attempts($since);
}
sub gaps { return map { sprintf('%.1f', $_[$_] - $_[ $_ - 1 ]) } 1 .. $#_ }

my @t = wait_attempts(0, 7);
my @g = gaps(@t);
note("gaps between failing attempts: @g");
is(scalar(@g), 6, 'a failing tag is retried');
cmp_ok($g[0], '<', 2, 'first after about 1 s');
ok(@g == 6 && !grep({ $_ < 4.5 || $_ > 7.5 } @g[ 3 .. 5 ]),
	'then every 5 s: the back-off stops at import_interval');
is(q1("SELECT import_reason FROM imagestream.image_stream_tags WHERE stream = 'flaky'"), 'InternalError',
	'with its condition');

$evil->request('GET', '/_flaky?fail=0');
ok(defined wait_for($node, "SELECT image IS NOT NULL AND import_reason IS NULL FROM imagestream.image_stream_tags WHERE stream = 'flaky'", 't', 30),
	'the registry recovers: the tag is imported');
my $since = time;
$evil->request('GET', '/_flaky?fail=1');
@t = wait_attempts($since, 3);
@g = gaps(@t);
note("gaps between failing attempts after the success: @g");
ok(@g == 2 && $g[0] < 2.5 && $g[0] + $g[1] < 5,
	'failing again, it is retried after 1 s and 2 s: the success reset the back-off');
reload("ALTER SYSTEM SET imagestream.import_interval = '1s'");

invariants_hold($node);

# a setting in postgresql.conf is read at start (the prefix was once
# reserved before a setting was defined, which dropped it as a placeholder)
$node->append_conf('postgresql.conf', "imagestream.max_cycle_size = '64MB'");
$node->restart;
is(q1('SHOW imagestream.max_cycle_size'), '64MB', 'a setting is read from postgresql.conf at start');
unlike(slurp_file($node->logfile), qr/invalid configuration parameter name "imagestream\./,
	'no imagestream setting is dropped as a placeholder');

assert_no_crash($node);
$evil->stop;
done_testing();
