# One request per upstream reference (issue 19, item 2; doc/worker.md,
# "Shared checks"): 100 streams of 10 tags each following 10 upstream
# references, scheduled every second, cost the worker 10 requests a round,
# not 1000; a reference that moves upstream is recorded for every follower
# in the same transaction, its new image fetched once; and followers in two
# namespaces with their own credentials for the registry never share a
# request (each sends its own).  Every request goes through a proxy that
# logs it, so that the requests counted here are the ones the registry got.
use strict;
use warnings;

use MIME::Base64 qw(decode_base64);
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(sleep);

use ImagestreamTest qw(start_node wait_for assert_no_crash invariants_hold);
use RegistryTest;

my ($ok, $why) = RegistryTest->available(auth => 'htpasswd');
plan skip_all => $why unless $ok;

my $proxy = RegistryTest->start_proxy();
my $node = start_node('shared_checks', worker => 1, conf => qq{
imagestream.proxy = 'http://127.0.0.1:$proxy->{port}'
imagestream.blocked_networks = ''
imagestream.insecure_registries = '127.0.0.1:*'
imagestream.import_interval = '1s'
imagestream.max_imports_per_minute = -1
});
sub q1 { return $node->safe_psql('postgres', shift) }

my $reg = RegistryTest->start();
my $h = $reg->host;

ok(defined wait_for($node, 'SELECT count(*) FROM imagestream.worker_status', '1', 30), 'the worker runs');

# Sets the worker on or off and waits until it took it up: the postmaster
# read the files, and the worker was then seen waiting between cycles
# (wait event Extension), so the cycle it was in has ended and the next one
# sees the setting (as in 020_worker.pl).
sub worker_enabled
{
	my ($on) = @_;
	my $before = q1('SELECT pg_conf_load_time()');
	q1("ALTER SYSTEM SET imagestream.enable_worker = $on; SELECT pg_reload_conf()");
	return defined wait_for($node, "SELECT pg_conf_load_time() > '$before'", 't', 30)
	  && defined wait_for($node,
		"SELECT wait_event_type || '/' || wait_event FROM pg_stat_activity
		 WHERE pid = (SELECT pid FROM imagestream.worker_status)", 'Extension/Extension', 30);
}

sub counters
{
	return split /\|/, q1('SELECT tags_checked || \'|\' || requests FROM imagestream.worker_status');
}

# The proxy's log since its last reset: [method, target, authorization].
sub logged
{
	return map { [ $_->{method}, $_->{target}, $_->{authorization} // '' ] } @{ $proxy->request_log };
}

# The worker's requests over a window of a few seconds of scheduled checks
# that start with every tag due: it is turned off for longer than the
# interval, its counters read and the proxy's log cleared, then on until
# it checked $tags tags more, then off again.  Returns the checks, the
# requests it counted, and the proxy's log of the window.
sub window
{
	my ($tags) = @_;
	ok(worker_enabled('off'), 'the worker is turned off');
	sleep 1.5;
	my ($c0, $r0) = counters();
	$proxy->reset_log;
	ok(worker_enabled('on'), 'and on again, with every tag due');
	ok(defined wait_for($node, "SELECT tags_checked >= $c0 + $tags FROM imagestream.worker_status", 't', 60),
		"it checks $tags tags");
	ok(worker_enabled('off'), 'and is turned off');
	my ($c1, $r1) = counters();
	my @log = logged();
	ok(worker_enabled('on'), 'then on');
	return ($c1 - $c0, $r1 - $r0, @log);
}

# ---------------------------------------------------------------------------
# 100 streams x 10 tags following 10 references, in 4 namespaces
# ---------------------------------------------------------------------------

my @refs = map { "fleet/ref$_" } 0 .. 9;
my %img = map { ($_ => $reg->push_image($_, 'latest', content => "$_ one")) } @refs;
$proxy->reset_log;
q1('BEGIN;' . join('', map {
	my $s = $_;
	map { "SELECT imagestream.tag('$h/$refs[$_]:latest', 'ns" . ($s % 4) . "/s$s:t$_', scheduled => true, insecure => true);" } 0 .. 9
} 0 .. 99) . 'COMMIT');
ok(defined wait_for($node, "SELECT count(*) FROM imagestream.tag WHERE image IS NOT NULL", '1000', 120),
	'1000 tags following 10 references are imported');
is(q1("SELECT count(*) FROM imagestream.tag t JOIN (VALUES "
		. join(', ', map { "('$h/$_:latest', '$img{$_}{digest}')" } @refs)
		. ") v(src, digest) ON t.from_ref = v.src AND t.image::text = v.digest"), '1000',
	'each with the image of its reference');
# (the log goes on with the next rounds' checks: the first import's HEADs
# are those before its first manifest, all sent together)
my @first = logged();
my @fetched = grep { $first[$_][0] eq 'GET' && $first[$_][1] =~ m{/manifests/sha256:} } 0 .. $#first;
my %first_heads = map { ($_->[1] => 1) } grep { $_->[0] eq 'HEAD' } @first[0 .. ($fetched[0] // 0) - 1];
is(scalar(grep { $_->[0] eq 'HEAD' } @first[0 .. ($fetched[0] // 0) - 1]) . ' ' . scalar(keys %first_heads), '10 10',
	'their first import: one HEAD per reference');
is(scalar(@fetched), 10, 'and each new image fetched once (its manifest, by digest)');

# the scheduled checks: one request per reference a round
my ($checked, $requests, @log) = window(3000);
my @heads = grep { $_->[0] eq 'HEAD' && $_->[1] =~ m{/v2/fleet/ref\d/manifests/latest$} } @log;
note("window: $checked tags checked, $requests requests, " . scalar(@heads) . ' HEADs');
cmp_ok($checked, '>=', 3000, 'at least 3 rounds of 1000 tags are checked');
is(scalar(@log), $requests, 'worker_status counts each request the registry got (one for many tags)');
is(scalar(@heads), scalar(@log), 'every one a HEAD of a reference: nothing moved');
is($checked, 100 * scalar(@heads), 'each request checked the 100 tags of its reference');
# a round checks each of the 1000 tags once
my $rounds = $checked / 1000;
my $per_round = $rounds ? scalar(@heads) / $rounds : 0;
note(sprintf('requests per round: %.2f (%d requests, %.2f rounds of 1000 tags); ratio to the 10 references: %.2f',
	$per_round, scalar(@heads), $rounds, $per_round / 10));
is(sprintf('%.2f', $per_round / 10), '1.00', 'requests per round = 10, one per reference (ratio 1.00)');
# the first cycle after the worker was off took every reference: its first
# 10 requests are the 10 references, once each
my %first_cycle = map { ($_->[1] => 1) } @heads[0 .. 9];
is(scalar(keys %first_cycle), 10, 'the cycle that found them all due: 10 requests, one per reference');
my %per_ref;
$per_ref{$_->[1]}++ for @heads;
is(scalar(grep { $_ >= 3 } values %per_ref), 10, 'and each reference is asked again each round');

# an upstream move: every follower records it in the same transaction, the
# new image fetched once
$proxy->reset_log;
my $moved = $reg->push_image('fleet/ref3', 'latest', content => 'fleet/ref3 two');
ok(defined wait_for($node, "SELECT count(*) FROM imagestream.tag WHERE from_ref = '$h/fleet/ref3:latest' AND image::text = '$moved->{digest}'",
	'100', 30), 'a reference that moves upstream: its 100 followers move');
is(q1("SELECT count(*) || ' ' || count(DISTINCT at) || ' ' || count(DISTINCT namespace || '/' || stream)
	   FROM imagestream.change WHERE image::text = '$moved->{digest}' AND event = 'tag_updated'"),
	'100 1 100', 'recorded in one transaction: 100 changes of 100 streams, one time');
my @move = grep { $_->[1] =~ m{/v2/fleet/ref3/} && $_->[0] eq 'GET' } logged();
is(join(' ', map { $_->[1] =~ m{/(manifests|blobs)/} ? $1 : '?' } @move), 'manifests blobs',
	'the new image is read once: its manifest, then its config');
is(q1("SELECT count(*) FROM imagestream.tag WHERE image IS NOT NULL AND import_status IS DISTINCT FROM 'False'"), '1000',
	'and no tag has a failed import');

q1('SELECT ' . join(', ', map { "imagestream.delete_stream('ns" . ($_ % 4) . "/s$_')" } 0 .. 99));

# ---------------------------------------------------------------------------
# two namespaces with their own credentials: a request each
# ---------------------------------------------------------------------------

my %secret = (alpha => 'Alpha-s3cret', bravo => 'Bravo-s3cret');
my $priv = RegistryTest->start(auth => 'htpasswd', users => { 'alpha-robot' => $secret{alpha},
	'bravo-robot' => $secret{bravo} });
my $ph = $priv->host;
my $pimg = $priv->push_image('private/app', 'v1', content => 'private one');
q1("SELECT imagestream.set_registry_credentials('$ph', '$_-robot', '$secret{$_}', '$_')") for qw(alpha bravo);
q1('BEGIN;' . join('', map { my $ns = $_; map { "SELECT imagestream.tag('$ph/private/app:v1', '$ns/s$_:v1', scheduled => true, insecure => true);" } 1 .. 3 } qw(alpha bravo)) . 'COMMIT');
ok(defined wait_for($node, "SELECT count(*) FROM imagestream.tag WHERE image::text = '$pimg->{digest}'", '6', 60),
	'3 streams in each of two namespaces with their own credentials import one private reference');

($checked, $requests, @log) = window(18);
@heads = grep { $_->[0] eq 'HEAD' && $_->[1] =~ m{/v2/private/app/manifests/v1$} } @log;
my %by_user;
for my $r (@heads)
{
	my ($user) = $r->[2] =~ /^Basic (\S+)/ ? (decode_base64($1) =~ /^([^:]*)/) : ('(none)');
	$by_user{$user}++;
}
note("window: $checked tags checked, $requests requests; HEADs by user: "
	. join(', ', map { "$_ $by_user{$_}" } sort keys %by_user));
is(join(',', sort keys %by_user), 'alpha-robot,bravo-robot', 'each namespace\'s checks carry its own credentials');
is($by_user{'alpha-robot'} // 0, $by_user{'bravo-robot'} // -1, 'a request of each a round');
is($checked, 3 * scalar(@heads), 'each request checked the 3 tags of its namespace, never the other\'s');
is(scalar(@log), $requests, 'worker_status counts each of them');

# ---------------------------------------------------------------------------
# a known digest moved by someone else: the next check compares with it
# ---------------------------------------------------------------------------

# The worker keeps the digest a follower's check compares with, between
# checks of an unchanged tag; import_image moving it (a new index upstream
# around the same image: the source digest moves, the image does not) puts
# the tag on the due queue, so the worker's next check compares the answer
# with the new digest and fetches nothing (with the old one it would fetch
# the new index, as for an upstream move).
my $amd = $reg->push_image('fleet/multi', undef, content => 'multi amd64');
my $arm = $reg->push_image('fleet/multi', undef, content => 'multi arm64', arch => 'arm64');
my $list1 = $reg->push_index('fleet/multi', 'latest', [$amd]);
q1("SELECT imagestream.tag('$h/fleet/multi:latest', 'moved/s:t', scheduled => true, insecure => true)");
ok(defined wait_for($node, "SELECT image::text = '$amd->{digest}' AND source_digest::text = '$list1->{digest}'
	FROM imagestream.tag WHERE namespace = 'moved'", 't', 30), 'a tag following an index imports its amd64 image');
# checked unchanged a few times: the worker keeps what its checks need
my ($c0) = counters();
ok(defined wait_for($node, "SELECT tags_checked >= $c0 + 3 FROM imagestream.worker_status", 't', 30),
	'and is checked again, unchanged');
ok(worker_enabled('off'), 'the worker is turned off');
my $list2 = $reg->push_index('fleet/multi', 'latest', [ $amd, $arm ]);
is(q1("SELECT status || ' ' || image FROM imagestream.import_image('moved/s:t', '$h/fleet/multi:latest',
	scheduled => true, insecure => true)"), "Success $amd->{digest}", 'import_image: the index moved, the image did not');
is(q1("SELECT source_digest FROM imagestream.tag WHERE namespace = 'moved'"), $list2->{digest},
	'the known digest is the new index\'s');
my $changes = q1("SELECT count(*) FROM imagestream.change WHERE namespace = 'moved'");
$proxy->reset_log;
ok(worker_enabled('on'), 'the worker is on again');
my @multi;
for (1 .. 300)
{
	@multi = grep { $_->[1] =~ m{/v2/fleet/multi/} } logged();
	last if (grep { $_->[0] eq 'HEAD' } @multi) >= 3;
	sleep 0.1;
}
cmp_ok(scalar(grep { $_->[0] eq 'HEAD' } @multi), '>=', 3, 'and checks the tag, three times');
is(join(' ', map { $_->[0] } @multi), join(' ', ('HEAD') x scalar(@multi)),
	'its checks compare with the digest import_image recorded: a HEAD each, nothing fetched');
is(q1("SELECT count(*) FROM imagestream.change WHERE namespace = 'moved'"), $changes, 'and nothing recorded');
q1("SELECT imagestream.delete_stream('moved/s')");

invariants_hold($node);
assert_no_crash($node);
$node->stop;
done_testing();
