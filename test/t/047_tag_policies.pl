# Tag policies (doc/policies.md) end to end against a real registry
# (Debian's docker-registry), listed by the worker (doc/worker.md, "Policy
# listings"): a semver range picks 1.10.0 among 1.0.0, 1.2.0, 1.10.0,
# 2.0.0-rc.1 and junk, then moves to 1.11.0 when it is pushed (a LISTEN
# client is told), never to the prerelease; numerical, alphabetical and
# newest orderings; a pattern with an extract on main-<sha>-<timestamp>
# tags; 1,000 tags over pages of 100; a tag gone upstream; a registry that
# fails (winners kept, the retries backing off); one listing shared by the
# policies of a namespace, none across namespaces; the change rows.
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use MIME::Base64 qw(decode_base64);
use Time::HiRes qw(time sleep);

use ImagestreamTest qw(start_node invariants_hold wait_for assert_no_crash);
use RegistryTest;

my ($ok, $why) = RegistryTest->available(auth => 'htpasswd');
plan skip_all => $why unless $ok;

# Debian's registry (2.8) sends a whole tag list whatever n asks: the
# listings go through a proxy that pages the lists it forwards, 100 tags a
# page, as Docker Hub, GHCR and distribution 3 cap them; the proxy also
# counts the requests.
my $reg = RegistryTest->start();
my $host = $reg->host;
my $proxy = RegistryTest->start_proxy(tag_page => 100);
# (an hour: a listing runs when follow() or import_now asks for it, so
# that the requests can be counted; the interval part sets it shorter)
my $node = start_node('policies', worker => 1, conf => qq{
imagestream.blocked_networks = ''
imagestream.insecure_registries = '127.0.0.1:*'
imagestream.import_interval = '1h'
imagestream.max_imports_per_minute = -1
imagestream.request_timeout = '5s'
imagestream.proxy = '@{[ $proxy->url ]}'
});

sub q1 { return $node->safe_psql('postgres', shift) }

# Polls $cond every 0.2 s for up to $seconds; returns whether it held.
sub poll_until
{
	my ($seconds, $cond) = @_;
	my $t0 = time;
	until ($cond->())
	{
		return 0 if time - $t0 > $seconds;
		sleep 0.2;
	}
	return 1;
}

# The tags/list requests of $repo the proxy forwarded since its last reset.
sub listings
{
	my ($repo) = @_;
	return grep { $_->{method} eq 'GET' && $_->{target} =~ m{/v2/\Q$repo\E/tags/list} } @{ $proxy->request_log };
}

# A policy's row of tag_policies: "winner list_status".
sub policy
{
	my ($tag) = @_;
	my ($ns, $stream, $name) = $tag =~ m{^([^/]+)/([^:]+):(.+)$} or die $tag;
	return q1("SELECT coalesce(winner, '-') || ' ' || coalesce(list_status, '-') FROM imagestream.tag_policies
			   WHERE namespace = '$ns' AND stream = '$stream' AND tag = '$name'");
}

# The image of a tag, and where it comes from.
sub tag_row
{
	my ($tag) = @_;
	my ($ns, $stream, $name) = $tag =~ m{^([^/]+)/([^:]+):(.+)$} or die $tag;
	return q1("SELECT coalesce(image::text, '-') || ' ' || from_ref FROM imagestream.image_stream_tags
			   WHERE namespace = '$ns' AND stream = '$stream' AND tag = '$name'");
}

# The listed_at of a policy, as text ('' before its first listing).
sub listed_at
{
	my ($tag) = @_;
	my ($ns, $stream, $name) = $tag =~ m{^([^/]+)/([^:]+):(.+)$} or die $tag;
	return q1("SELECT coalesce(listed_at::text, '') FROM imagestream.tag_policies
			   WHERE namespace = '$ns' AND stream = '$stream' AND tag = '$name'");
}

# Asks for a listing now (import_now of a followed tag) and waits until the
# policy was listed again.
sub list_now
{
	my ($tag) = @_;
	my $before = listed_at($tag);
	q1("SELECT imagestream.import_now('$tag')");
	return poll_until(60, sub { listed_at($tag) ne $before });
}

ok(defined wait_for($node, 'SELECT count(*) FROM imagestream.worker_status', '1', 30), 'the worker runs');

# --- a semver range: 1.10.0, not 1.2.0, nor the prerelease, nor junk ---

my %img;
$img{$_} = $reg->push_image('org/app', $_, content => "app $_")->{digest}
  for qw(1.0.0 1.2.0 1.10.0 2.0.0-rc.1 v1.9.0 latest junk-x 3.0);
q1("SELECT imagestream.create_stream('pol/app')");
q1("SELECT imagestream.follow('pol/app:stable', '$host/org/app', semver => '>=1.0 <2.0', insecure => true)");
ok(poll_until(60, sub { tag_row('pol/app:stable') eq "$img{'1.10.0'} $host/org/app:1.10.0" }),
	'follow: the worker lists the repository at once and imports the winner')
  or diag(tag_row('pol/app:stable'), ' ', policy('pol/app:stable'));
is(policy('pol/app:stable'), '1.10.0 True', 'the winner of >=1.0 <2.0 is 1.10.0 (semver order, not text)');
is(q1("SELECT string_agg(candidate || ':' || eligible || ':' || selected, ' ' ORDER BY candidate COLLATE \"C\")
	   FROM imagestream.explain_policy('pol/app:stable')"),
	'1.0.0:true:false 1.10.0:true:true 1.2.0:true:false 2.0.0-rc.1:false:false 3.0:false:false '
	  . 'junk-x:false:false latest:false:false v1.9.0:true:false',
	'explain_policy: each upstream tag, and which are candidates');
is(q1("SELECT string_agg(event || ' ' || coalesce(via, '-') || ' ' || actor, ',')
	   FROM imagestream.changes_since(0) WHERE namespace = 'pol' AND tag = 'stable'"),
	'tag_updated policy imagestream worker', 'one change row: via policy, by the worker');

# other orderings of the same repository, and of build numbers
$reg->push_image('org/builds', $_, content => "build $_") for qw(9 10 100 099x);
q1("SELECT imagestream.follow('pol/app:alpha', '$host/org/app', ordering => 'alphabetical-asc', insecure => true);
	SELECT imagestream.follow('pol/app:alpha-desc', '$host/org/app', ordering => 'alphabetical-desc', insecure => true);
	SELECT imagestream.follow('pol/builds:high', '$host/org/builds', ordering => 'numerical-asc', insecure => true);
	SELECT imagestream.follow('pol/builds:low', '$host/org/builds', ordering => 'numerical-desc', insecure => true)");
ok(poll_until(60, sub { policy('pol/builds:low') =~ /^9 / && policy('pol/app:alpha') =~ /^v1/ }), 'the other policies are listed');
is(join(', ', map { policy($_) } qw(pol/app:alpha pol/app:alpha-desc pol/builds:high pol/builds:low)),
	'v1.9.0 True, 1.0.0 True, 100 True, 9 True',
	'alphabetical both ways; numerical both ways (100 over 9, junk skipped)');

# a pattern and an extract: the newest build of main by its timestamp
$reg->push_image('org/ci', $_, content => "ci $_")
  for qw(main-3f2a1bc-1700000300 main-ab12cd3-1700000100 main-0a1b2c3-1699999999 feat-9d8e7f6-1800000000 main-latest);
q1("SELECT imagestream.create_stream('pol/ci');
	SELECT imagestream.follow('pol/ci:main', '$host/org/ci', ordering => 'numerical-asc',
		pattern => '^main-[0-9a-f]{7}-([0-9]+)\$', \"extract\" => '\\1', insecure => true)");
ok(poll_until(60, sub { policy('pol/ci:main') =~ /^main-3f2a1bc-1700000300 / }),
	'pattern and extract: the latest timestamp of main, not of another branch')
  or diag(policy('pol/ci:main'));
is(q1("SELECT value FROM imagestream.explain_policy('pol/ci:main') WHERE selected"), '1700000300',
	'explain_policy shows the value compared');

# newest: the tag first seen last, whatever its name
$reg->push_image('org/nightly', $_, content => "nightly $_") for qw(n5 n7);
q1("SELECT imagestream.create_stream('pol/nightly');
	SELECT imagestream.follow('pol/nightly:newest', '$host/org/nightly', ordering => 'newest', insecure => true)");
ok(poll_until(60, sub { policy('pol/nightly:newest') eq 'n7 True' }), 'newest: the tags first seen together tie, the name sorting last wins');
$reg->push_image('org/nightly', 'n1', content => 'nightly n1');
ok(list_now('pol/nightly:newest'), 'listed again');
is(policy('pol/nightly:newest'), 'n1 True', 'the tag pushed since wins, though its name sorts first');

# --- a push moves the semver tag, seen by a LISTEN client; the interval ---

my $listener = $node->background_psql('postgres');
$listener->query_safe('LISTEN imagestream');
my $last = q1('SELECT max(id) FROM imagestream.change');
$img{'1.11.0'} = $reg->push_image('org/app', '1.11.0', content => 'app 1.11.0')->{digest};
$img{'2.0.0'} = $reg->push_image('org/app', '2.0.0-rc.2', content => 'app 2.0.0-rc.2')->{digest};
q1("ALTER SYSTEM SET imagestream.import_interval = '1s'; SELECT pg_reload_conf()");
ok(poll_until(60, sub { tag_row('pol/app:stable') eq "$img{'1.11.0'} $host/org/app:1.11.0" }),
	'every interval the worker lists again: 1.11.0 pushed, the tag follows it')
  or diag(tag_row('pol/app:stable'), ' ', policy('pol/app:stable'));
q1("ALTER SYSTEM SET imagestream.import_interval = '1h'; SELECT pg_reload_conf()");
my @ids = $listener->query_safe('SELECT 1') =~ /Asynchronous notification "imagestream" with payload "\{"id": (\d+)\}"/g;
ok(scalar(@ids) >= 1, 'a LISTEN client is told');
is(q1("SELECT string_agg(tag || ' ' || image || ' ' || via || ' ' || actor, ',') FROM imagestream.changes_since($last)
	   WHERE namespace = 'pol' AND stream = 'app' AND id <= " . ($ids[-1] // 0)),
	"stable $img{'1.11.0'} policy imagestream worker", 'of the move to 1.11.0, via the policy; no other policy moved');
is(q1("SELECT history_length FROM imagestream.image_stream_tags WHERE namespace = 'pol' AND tag = 'stable'"), '2',
	'the tag keeps its history: 1.10.0, then 1.11.0');
$listener->quit;

# --- 1,000 tags over pages of 100 ---

$reg->push_many_tags('org/many', 1000);
q1("SELECT imagestream.create_stream('pol/many')");
$proxy->reset_log;
q1("SELECT imagestream.follow('pol/many:top', '$host/org/many', semver => '>=1.0.0', insecure => true)");
ok(poll_until(120, sub { policy('pol/many:top') eq '1.0.1000 True' }), '1,000 tags: the highest version wins')
  or diag(policy('pol/many:top'));
my @pages = map { $_->{target} } listings('org/many');
is(scalar(@pages), 10, 'in 10 requests of 100 tags');
is($pages[0], "http://$host/v2/org/many/tags/list?n=1000", 'the first asks for 1,000');
is(scalar(grep { m{^http://\Q$host\E/v2/org/many/tags/list\?n=100&last=1\.0\.\d+$} } @pages[ 1 .. 9 ]), 9,
	'each next one follows the Link before it');
is(q1("SELECT count(*) FROM imagestream.explain_policy('pol/many:top')"), '1000', 'every tag is a candidate of the choice');

# --- a tag gone upstream: the tag stays on its image ---

$img{only} = $reg->push_image('org/gone', 'only', content => 'gone only')->{digest};
q1("SELECT imagestream.create_stream('pol/gone');
	SELECT imagestream.follow('pol/gone:it', '$host/org/gone', ordering => 'alphabetical-asc', pattern => '^only\$', insecure => true)");
ok(poll_until(60, sub { tag_row('pol/gone:it') eq "$img{only} $host/org/gone:only" }), 'a policy of one candidate');
$reg->push_image('org/gone', 'other', content => 'gone other');
$reg->delete_tag('org/gone', 'only');
ok(list_now('pol/gone:it'), 'listed again after its winner vanished upstream');
is(tag_row('pol/gone:it'), "$img{only} $host/org/gone:only", 'the tag stays on its image');
like(q1("SELECT coalesce(list_status, '-') || ' ' || coalesce(list_message, '-') FROM imagestream.tag_policies WHERE stream = 'gone'"),
	qr/^False .*only/, 'with a condition (WinnerVanished) that names it');

# --- S30: a pattern that runs on (back references: hours on a 127-byte
# tag) fails its own listing after 10 s; the worker goes on ---

$reg->push_image('org/slow', 'a' x 127, content => 'slow');
q1("SELECT imagestream.create_stream('slow/s');
	SELECT imagestream.follow('slow/s:x', '$host/org/slow', ordering => 'alphabetical-asc',
		pattern => '^(a+)(a+)(a+)(a+)(a+)(a+)(a+)(a+)\\1\\2\\3\\4\\5\\6\\7\\8\$', insecure => true)");
ok(poll_until(90, sub { policy('slow/s:x') eq '- False' }), 'S30: a pattern that runs on: its listing fails')
  or diag(policy('slow/s:x'));
like(q1("SELECT list_message FROM imagestream.tag_policies WHERE namespace = 'slow'"),
	qr/took more than 10 s to choose/, 'S30: and its condition says why');
q1("SELECT imagestream.create_stream('pol/after');
	SELECT imagestream.follow('pol/after:it', '$host/org/gone', ordering => 'alphabetical-asc', insecure => true)");
ok(poll_until(60, sub { policy('pol/after:it') =~ / True$/ }), 'S30: the worker lists another namespace\'s policy after it');
q1("SELECT imagestream.delete_stream('slow/s'); SELECT imagestream.delete_stream('pol/after')");

# --- one listing shared by the policies of a namespace, none across ---

# a registry that wants credentials, each namespace with its own
my %secret = (sa => 'Alpha-s3cret', sb => 'Bravo-s3cret');
my $priv = RegistryTest->start(auth => 'htpasswd', users => { 'sa-robot' => $secret{sa}, 'sb-robot' => $secret{sb} });
my $ph = $priv->host;
$priv->push_image('org/shared', $_, content => "shared $_") for qw(1.0.0 1.1.0 2.0.0);
q1("SELECT imagestream.create_stream('$_')") for qw(sa/one sa/two sb/one);
q1("SELECT imagestream.set_registry_credentials('$ph', '$_-robot', '$secret{$_}', '$_')") for qw(sa sb);
q1("BEGIN;
	SELECT imagestream.follow('sa/one:v1', '$ph/org/shared', semver => '1.x', insecure => true);
	SELECT imagestream.follow('sa/one:latest', '$ph/org/shared', semver => '*', insecure => true);
	SELECT imagestream.follow('sa/two:first', '$ph/org/shared', ordering => 'alphabetical-desc', insecure => true);
	SELECT imagestream.follow('sb/one:v1', '$ph/org/shared', semver => '1.x', insecure => true);
	COMMIT");
ok(poll_until(60, sub { policy('sa/two:first') eq '1.0.0 True' && policy('sb/one:v1') eq '1.1.0 True' }),
	'four policies of two namespaces listed with their credentials')
  or diag(join(', ', map { policy($_) } qw(sa/one:v1 sa/one:latest sa/two:first sb/one:v1)));
is(join(', ', map { policy($_) } qw(sa/one:v1 sa/one:latest sa/two:first sb/one:v1)),
	'1.1.0 True, 2.0.0 True, 1.0.0 True, 1.1.0 True', 'each with its winner');

# The tags/list requests of org/shared since the proxy's last reset, by
# the user whose credentials they carry.
sub shared_listings
{
	my %by;
	for my $r (listings('org/shared'))
	{
		my ($user) = ($r->{authorization} // '') =~ /^Basic (\S+)/ ? (decode_base64($1) =~ /^([^:]*)/) : ('none');
		$by{$user}++;
	}
	return join(', ', map { "$_ $by{$_}" } sort grep { $_ ne 'none' } keys %by);
}

$proxy->reset_log;
q1("SELECT imagestream.import_now('sa/one:v1')");
ok(poll_until(60, sub { shared_listings() ne '' }), 'a listing asked for by one policy of namespace sa');
sleep 2;
is(shared_listings(), 'sa-robot 1', 'one request, with sa\'s credentials, for the three policies of sa');
$proxy->reset_log;
q1("SELECT imagestream.import_now('sa/two:first'); SELECT imagestream.import_now('sb/one:v1')");
ok(poll_until(60, sub { shared_listings() =~ /sa-robot.*sb-robot/ }), 'both namespaces asked for a listing');
sleep 2;
is(shared_listings(), 'sa-robot 1, sb-robot 1', 'one request each: a namespace\'s listing is its own');

# --- a registry that fails: winners kept, the retries back off ---

$priv->stop;
$proxy->reset_log;
q1("SELECT imagestream.import_now('sb/one:v1')");
ok(poll_until(60, sub { policy('sb/one:v1') ne '1.1.0 True' }), 'a listing of the stopped registry fails')
  or diag(policy('sb/one:v1'));
is(policy('sb/one:v1'), '1.1.0 False', 'the policy keeps its winner, its status False');
isnt(q1("SELECT coalesce(list_message, '') FROM imagestream.tag_policies WHERE namespace = 'sb'"), '', 'and says why');
is(policy('sa/one:v1'), '1.1.0 True', 'the other namespace\'s policies are not listed: their status stays');
like(tag_row('sb/one:v1'), qr/^sha256:\S+ \Q$ph\E\/org\/shared:1\.1\.0$/, 'the tag keeps its image');
# retried after 1 s, 2 s, 4 s, ...: a few requests over 10 s, not one a cycle
sleep 10;
my $asked = grep { $_->{method} eq 'GET' } listings('org/shared');
ok($asked >= 2 && $asked <= 5, "a failing listing is retried, backing off ($asked requests in about 10 s)");

ok(invariants_hold($node), 'the model\'s invariants hold');
$reg->stop;
assert_no_crash($node);
done_testing();
