# Pull credentials per namespace (issue 18, item 7; doc/security.md S28):
# namespaces alpha and bravo hold different credentials for the same
# registry (the real registry, with token auth), each imports with its own
# (the token issuer tells which user got access to which repository, and
# the proxy every request goes through whose token each one carried), a
# namespace without its own falls back to the server-wide ones, and no
# token obtained with one namespace's credentials serves another's import,
# in one backend or in the worker's cycle.  A changed or dropped credential
# stops being used at once (its cached token with it).  An admin sees the
# credentials of its namespace only, and sets no other's.
use strict;
use warnings;

use JSON::PP;
use MIME::Base64 qw(encode_base64 decode_base64url);
use PostgreSQL::Test::Utils;
use Test::More;

use ImagestreamTest qw(start_node wait_for assert_no_crash invariants_hold);
use RegistryTest;

my ($ok, $why) = RegistryTest->available(auth => 'token');
plan skip_all => $why unless $ok;

# every request goes through a proxy that logs its Authorization header
my $proxy = RegistryTest->start_proxy();
my $node = start_node('ns_credentials', worker => 1, conf => qq{
imagestream.proxy = 'http://127.0.0.1:$proxy->{port}'
imagestream.blocked_networks = ''
imagestream.insecure_registries = '127.0.0.1:*'
imagestream.import_interval = '2s'
imagestream.max_imports_per_minute = -1
});
sub q1 { return $node->safe_psql('postgres', shift) }

# each robot may pull its own repositories and shared/*, the server-wide
# one wide/* only
my %secret = (alpha => 'Alpha-s3cret', bravo => 'Bravo-s3cret', wide => 'W1de-s3cret');
my $reg = RegistryTest->start(auth => 'token', push_user => 'pusher', users => {
	pusher => 'Push-s3cret',
	'alpha-robot' => { password => $secret{alpha}, actions => ['pull'], repositories => [ 'alpha/*', 'shared/*' ] },
	'bravo-robot' => { password => $secret{bravo}, actions => ['pull'], repositories => [ 'bravo/*', 'shared/*' ] },
	'wide-robot' => { password => $secret{wide}, actions => ['pull'], repositories => ['wide/*'] },
});
my $h = $reg->host;
my %img = (
	alpha => $reg->push_image('alpha/app', 'v1', content => 'alpha one'),
	bravo => $reg->push_image('bravo/app', 'v1', content => 'bravo one'),
	shared => $reg->push_image('shared/app', 'v1', content => 'shared one'),
	wide => $reg->push_image('wide/app', 'v1', content => 'wide one'),
);

q1(q{
	CREATE ROLE alice; CREATE ROLE bob; CREATE ROLE gina; CREATE ROLE carol; CREATE ROLE ed;
	SELECT imagestream.grant_namespace('alpha', 'alice', 'admin');
	SELECT imagestream.grant_namespace('bravo', 'bob', 'admin');
	SELECT imagestream.grant_namespace('gamma', 'gina', 'admin');
	SELECT imagestream.grant_namespace('alpha', 'carol', 'view');
	SELECT imagestream.grant_namespace('alpha', 'ed', 'edit');
});

# how many tokens gave each user pull on each repository so far
sub granted
{
	my $g = $reg->token_stats->{granted};
	return { map { my $u = $_; map { ("$u $_" => $g->{$u}{$_}) } keys %{ $g->{$u} } } keys %$g };
}

# the tokens granted since $before: "user repository" => count, in order
sub granted_since
{
	my ($before) = @_;
	my $now = granted();
	return join(', ', map { "$_: " . ($now->{$_} - ($before->{$_} // 0)) }
		grep { $now->{$_} != ($before->{$_} // 0) } sort keys %$now);
}

# the users whose tokens the requests through the proxy to a URL matching
# $re carried since the last reset ("(none)": no token), sorted
sub token_users
{
	my ($re, $method) = @_;
	my %users;
	for my $r (@{ $proxy->request_log })
	{
		next unless $r->{target} =~ $re && (!defined $method || $r->{method} eq $method);
		my $user = '(none)';
		if (($r->{authorization} // '') =~ /^Bearer [^.]+\.([^.]+)\./)
		{
			$user = JSON::PP->new->decode(decode_base64url($1))->{sub};
			$user = '(anonymous)' if $user eq '';
		}
		$users{$user}++;
	}
	return join(',', sort keys %users);
}

# one backend for the session's imports, so that it keeps its tokens
# between them as a connection pool's backend does
my $s = $node->background_psql('postgres');
sub as_session
{
	my ($role, $sql) = @_;
	my $out = $s->query_safe("SET ROLE $role; $sql; RESET ROLE;");
	$out =~ s/\n+\z//;
	return $out;
}

sub import_as
{
	my ($role, $dest, $src) = @_;
	return as_session($role, "SELECT status || '|' || coalesce(reason, '')
		FROM imagestream.import_image('$dest', '$h/$src', insecure => true, confirm => true)");
}

sub set_as
{
	my ($role, $registry, $user, $password, $ns) = @_;
	my $n = defined $ns ? "'$ns'" : 'NULL';
	my ($ret, $out, $err) = $node->psql('postgres',
		"SET ROLE $role; SELECT imagestream.set_registry_credentials('$registry', '$user', '$password', $n)");
	return $err;
}

# ---------------------------------------------------------------------------
# who sets what
# ---------------------------------------------------------------------------

is(set_as('alice', $h, 'alpha-robot', $secret{alpha}, 'alpha'), '', 'the admin of alpha sets its credentials');
is(set_as('bob', $h, 'bravo-robot', $secret{bravo}, 'bravo'), '', 'the admin of bravo sets its own, for the same registry');
like(set_as('alice', $h, 'alpha-robot', $secret{alpha}, 'bravo'), qr/permission denied for namespace "bravo"/,
	'the admin of alpha cannot set bravo\'s');
like(set_as('alice', $h, 'alpha-robot', $secret{alpha}), qr/permission denied to set server-wide registry credentials/,
	'nor server-wide ones');
like(set_as('ed', $h, 'alpha-robot', $secret{alpha}, 'alpha'), qr/permission denied for namespace "alpha"/,
	'an editor of alpha cannot set alpha\'s');
is(set_as('postgres', $h, 'wide-robot', $secret{wide}), '', 'the superuser sets server-wide ones');

is(q1("SET ROLE alice; SELECT string_agg(namespace || ' ' || username, ',') FROM imagestream.registry_credentials"),
	'alpha alpha-robot', 'alice sees the credentials of alpha only, without the secret');
is(q1("SET ROLE bob; SELECT string_agg(namespace || ' ' || username, ',') FROM imagestream.registry_credentials"),
	'bravo bravo-robot', 'bob sees bravo\'s only');
is(q1("SET ROLE carol; SELECT count(*) FROM imagestream.registry_credentials"), '0',
	'a viewer of alpha sees none');
is(q1("SELECT string_agg(coalesce(namespace, '(server-wide)') || ' ' || username, ',' ORDER BY namespace NULLS FIRST)
	   FROM imagestream.registry_credentials"),
	'(server-wide) wide-robot,alpha alpha-robot,bravo bravo-robot', 'the superuser sees all three');

# ---------------------------------------------------------------------------
# each namespace imports with its own, in one backend
# ---------------------------------------------------------------------------

my $g = granted();
is(import_as('alice', 'alpha/app:v1', 'alpha/app:v1'), 'Success|', 'alpha imports its repository');
is(import_as('bob', 'bravo/app:v1', 'bravo/app:v1'), 'Success|', 'bravo imports its own');
is(granted_since($g), 'alpha-robot alpha/app: 1, bravo-robot bravo/app: 1',
	'each with a token of its own user');

# the same repository: a token of alpha's is not bravo's nor gamma's
$g = granted();
$proxy->reset_log;
is(import_as('alice', 'alpha/shared:v1', 'shared/app:v1'), 'Success|', 'alpha imports shared/app');
is(token_users(qr{/v2/shared/app/}), '(none),alpha-robot', 'with alpha\'s token (after the first challenge)');
$proxy->reset_log;
is(import_as('bob', 'bravo/shared:v1', 'shared/app:v1'), 'Success|', 'bravo imports the same repository');
is(token_users(qr{/v2/shared/app/}), '(none),bravo-robot', 'with bravo\'s token, in the backend that keeps alpha\'s');
is(granted_since($g), 'alpha-robot shared/app: 1, bravo-robot shared/app: 1',
	'bravo asked for a token with its own credentials, not alpha\'s cached one');
$proxy->reset_log;
is(import_as('gina', 'gamma/shared:v1', 'shared/app:v1'), 'Failure|Unauthorized',
	'gamma, whose server-wide fallback may not pull it, gets no token of alpha or bravo');
is(token_users(qr{/v2/shared/app/}), '(none),wide-robot', 'its requests carried the server-wide user\'s token alone');

# alpha cannot use bravo's credentials, nor bravo's token just cached
is(import_as('bob', 'bravo/app:v1b', 'bravo/app:v1'), 'Success|', '(bravo imports its repository again)');
$g = granted();
is(import_as('alice', 'alpha/stolen:v1', 'bravo/app:v1'), 'Failure|Unauthorized',
	'alpha cannot import bravo\'s repository: neither bravo\'s credentials nor its token serve it');
is(import_as('ed', 'alpha/stolen:v2', 'bravo/app:v1'), 'Failure|Unauthorized', 'nor can an editor of alpha');
is(granted_since($g), '', 'and no token gave anyone bravo/app');

# the server-wide credentials serve a namespace without its own; a
# namespace with its own uses them first
$g = granted();
is(import_as('gina', 'gamma/wide:v1', 'wide/app:v1'), 'Success|', 'gamma imports with the server-wide credentials');
is(granted_since($g), 'wide-robot wide/app: 1', 'a token of the server-wide user');
is(import_as('alice', 'alpha/wide:v1', 'wide/app:v1'), 'Failure|Unauthorized',
	'alpha uses its own credentials for the registry, not the server-wide ones');

# a changed secret stops the token obtained with the old one at once
is(set_as('alice', $h, 'alpha-robot', 'wr0ng-s3cret', 'alpha'), '', 'alice replaces alpha\'s secret with a wrong one');
is(import_as('alice', 'alpha/app:v2', 'alpha/app:v1'), 'Failure|Unauthorized',
	'the next import of alpha, in the backend that holds its token, is refused');
is(set_as('alice', $h, 'alpha-robot', $secret{alpha}, 'alpha'), '', 'alice sets the right one again');
is(import_as('alice', 'alpha/app:v3', 'alpha/app:v1'), 'Success|', 'and alpha imports again');

# the namespace's credentials of the longest prefix are used
is(set_as('alice', "$h/alpha", 'alpha-robot', 'wr0ng-s3cret', 'alpha'), '',
	'alice sets wrong credentials for the prefix alpha of the registry');
is(import_as('alice', 'alpha/app:v4', 'alpha/app:v1'), 'Failure|Unauthorized',
	'they, the longest prefix of alpha/app in alpha, are used');
is(as_session('alice', "SELECT imagestream.drop_registry_credentials('$h/alpha', 'alpha')"), '', '(alice drops them)');

# a dropped credential stops too: bravo falls back to the server-wide ones
is(as_session('bob', "SELECT imagestream.drop_registry_credentials('$h', 'bravo')"), '', 'bob drops bravo\'s credentials');
is(import_as('bob', 'bravo/app:v2', 'bravo/app:v1'), 'Failure|Unauthorized',
	'bravo\'s next import is made with the server-wide ones: its cached token is not reused');
is(set_as('bob', $h, 'bravo-robot', $secret{bravo}, 'bravo'), '', '(bob sets them again)');

# ---------------------------------------------------------------------------
# the worker: the scheduled tags of every namespace in one cycle
# ---------------------------------------------------------------------------

my %worker = (
	'alpha/wk:app' => [ 'alpha/app:v1', 'True' ],
	'alpha/wk:shared' => [ 'shared/app:v1', 'True' ],
	'alpha/wk:bravo' => [ 'bravo/app:v1', 'False' ],
	'bravo/wk:app' => [ 'bravo/app:v1', 'True' ],
	'bravo/wk:shared' => [ 'shared/app:v1', 'True' ],
	'gamma/wk:wide' => [ 'wide/app:v1', 'True' ],
	'gamma/wk:shared' => [ 'shared/app:v1', 'False' ],
);
$g = granted();
q1('BEGIN;' . join('', map { "SELECT imagestream.tag('$h/$worker{$_}[0]', '$_', scheduled => true, insecure => true);" }
	sort keys %worker) . 'COMMIT;');
my $want = join(',', map { "$_:$worker{$_}[1]" } sort keys %worker);
my $status = q{SELECT string_agg(namespace || '/' || stream || ':' || tag || ':'
	|| CASE WHEN import_status = 'False' THEN 'False' WHEN image IS NOT NULL THEN 'True' ELSE '' END, ','
	ORDER BY namespace, stream, tag) FROM imagestream.image_stream_tags WHERE stream = 'wk'};
ok(defined wait_for($node, $status, $want, 60), 'the worker imports each namespace\'s tags with its own credentials')
  or diag(q1($status));
is(q1("SELECT string_agg(DISTINCT import_reason, ',') FROM imagestream.image_stream_tags WHERE stream = 'wk' AND import_status = 'False'"),
	'Unauthorized', 'alpha\'s tag of bravo\'s repository and gamma\'s of shared/app are Unauthorized');
my $by_worker = granted_since($g);
for my $want ('alpha-robot alpha/app', 'alpha-robot shared/app', 'bravo-robot bravo/app', 'bravo-robot shared/app', 'wide-robot wide/app')
{
	like($by_worker, qr/\Q$want\E: \d/, "the worker got a token for $want");
}
unlike($by_worker, qr{alpha-robot bravo/app|wide-robot shared/app}, 'and none giving alpha bravo/app or the server-wide user shared/app');

# a new image of shared/app: the worker checks alpha's and bravo's tags
# with the tokens it keeps for each, and fetches it once for each (a fetch
# sends the credentials of one namespace only)
$proxy->reset_log;
my $s2 = $reg->push_image('shared/app', 'v1', content => 'shared two');
ok(defined wait_for($node, "SELECT string_agg(namespace, ',' ORDER BY namespace) FROM imagestream.image_stream_tags
							 WHERE stream = 'wk' AND tag = 'shared' AND image::text = '$s2->{digest}'", 'alpha,bravo', 60),
	'the worker moves alpha\'s and bravo\'s shared tags to the new image');
is(q1("SELECT import_status FROM imagestream.image_stream_tags WHERE namespace = 'gamma' AND tag = 'shared'"), 'False',
	'gamma\'s stays failing');
is(token_users(qr{/v2/shared/app/manifests/\Q$s2->{digest}\E$}, 'GET'), 'alpha-robot,bravo-robot',
	'the new manifest was fetched with alpha\'s token and with bravo\'s');

# bravo's credentials dropped: the worker's next import of its tag does not
# use the token it keeps for them
q1("SET ROLE bob; SELECT imagestream.drop_registry_credentials('$h', 'bravo')");
q1("SELECT imagestream.import_now('bravo/wk:app')");
ok(defined wait_for($node, "SELECT import_status || ' ' || import_reason FROM imagestream.image_stream_tags
							 WHERE namespace = 'bravo' AND tag = 'app'", 'False Unauthorized', 30),
	'after bravo\'s credentials are dropped, the worker\'s import of its tag is Unauthorized');

# ---------------------------------------------------------------------------
# no secret anywhere
# ---------------------------------------------------------------------------

$s->quit;
my $leaks = join('|', map { quotemeta } values(%secret), 'wr0ng-s3cret',
	map { encode_base64("$_-robot:$secret{$_}", '') } keys %secret);
my $all = q1("SELECT string_agg(coalesce(message, ''), ' ') FROM imagestream.change")
  . q1("SELECT string_agg(coalesce(import_message, ''), ' ') FROM imagestream.image_stream_tags")
  . q1("SELECT string_agg(r::text, ' ') FROM imagestream.registry_credentials r");
unlike($all, qr/$leaks/, 'no secret in results, the change log or the view');
my @lines = grep { /$leaks/ } split /\n/, slurp_file($node->logfile);
is(scalar(@lines), 0, 'no secret in the server log') or diag(join("\n", @lines[0 .. 4]));

invariants_hold($node);
assert_no_crash($node);
done_testing();
