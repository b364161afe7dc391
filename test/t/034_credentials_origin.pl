# Credentials go only to the origin they were stored for (doc/security.md,
# S18, class (f)): a redirect target that challenges for itself, a tag list
# Link to another server and a token endpoint over plain HTTP get neither
# the stored credentials nor a token, while the real registry's Basic and
# token flows still work.  A proxy comes only from imagestream.proxy, never
# from the environment, and the target is still checked against
# blocked_networks (S22).  The secret is in no log line, whatever the
# logging settings, also through the extended query protocol (S23).  A
# tenant's insecure import sends neither the stored credentials nor a token
# obtained with them over unverified TLS or plain HTTP; only a registry the
# superuser lists in imagestream.insecure_registries gets them there (S25).
use strict;
use warnings;

use MIME::Base64 qw(encode_base64);
use PostgreSQL::Test::Utils;
use Test::More;

use ImagestreamTest qw(start_node assert_no_crash);
use RegistryTest;

my ($ok, $why) = RegistryTest->available(auth => 'token', hostile => 1, tls => 1);
plan skip_all => $why unless $ok;

my $node = start_node('creds_origin', conf => "imagestream.blocked_networks = ''");

sub q1 { return $node->safe_psql('postgres', shift) }

sub import_row
{
	my ($args, $setup) = @_;
	return q1(($setup // '') . "SELECT string_agg(status || '|' || coalesce(reason, '') || '|' || coalesce(message, ''), E'\\n')
			   FROM imagestream.import_image($args, confirm => true)");
}

# the same, the loopback registries listed insecure by the superuser: plain
# HTTP with the stored credentials (S25)
sub trusted_row
{
	my ($args) = @_;
	return import_row($args, "SET imagestream.insecure_registries = '127.0.0.1:*';");
}

# set with log_statement off: the echo of the statement is PostgreSQL's
sub set_credentials
{
	my ($registry, $user, $password) = @_;
	q1("SET log_statement = 'none';
		SELECT imagestream.set_registry_credentials('$registry', '$user', '$password')");
}

# the requests of a hostile server that carried an Authorization header
sub with_authorization
{
	my ($server) = @_;
	return grep { defined $_->{authorization} } @{ $server->request_log };
}

my $secret = 'Or1gin-s3cret';
my $basic_form = encode_base64("robot:$secret", '');

# ---------------------------------------------------------------------------
# Finding S18: credentials and tokens stay with the registry's origin
# ---------------------------------------------------------------------------

my $other = RegistryTest->start_hostile();
my $reg = RegistryTest->start_hostile(basic_credentials => "robot:$secret",
	redirect_target => $other->url, paged_tags => 1002);
my $rh = $reg->host;
set_credentials($rh, 'robot', $secret);

# a redirect to another server that asks for a token from its own realm
like(trusted_row("'co/app:bearer', '$rh/redirectchallenge/app:latest'"),
	qr/^Failure\|Unauthorized\|.*where the registry redirected, asks for authentication/,
	'origin: a challenge from the redirect target is not answered (Bearer)');
ok(scalar(@{ $other->request_log }) > 0, 'origin: (the redirect target was asked)');
is(scalar(with_authorization($other)), 0,
	'origin: the redirect target and its token realm received no credentials');
$other->reset_log;

like(trusted_row("'co/app:basic', '$rh/redirectchallenge/basic/app:latest'"),
	qr/^Failure\|Unauthorized\|.*where the registry redirected/,
	'origin: a challenge from the redirect target is not answered (Basic)');
is(scalar(with_authorization($other)), 0, 'origin: the redirect target received no credentials');
$other->reset_log;

# a tag list whose next page is on another server: first with Basic, whose
# value is cached, then with a token
$reg->reset_log;
like(trusted_row("'co/basiclist', '$rh/basicauth/linkaway/app', all_tags => true, dry_run => true"),
	qr/Unauthorized\|.*where the registry sent the import, asks for authentication/,
	'origin: a tag list Link to another server gets no credentials (Basic)');
ok(scalar(grep { $_->{path} =~ m{/tags/list} } @{ $other->request_log }) > 0,
	'origin: (the Link was followed)');
is(scalar(with_authorization($other)), 0, 'origin: and carried no Authorization header');
ok(scalar(grep { ($_->{authorization} // '') eq "Basic $basic_form" } @{ $reg->request_log }) > 0,
	'origin: (the registry itself did receive the credentials)');
$other->reset_log;
like(trusted_row("'co/bearerlist', '$rh/bearerauth/linkaway/app', all_tags => true, dry_run => true"),
	qr/Unauthorized\|/, 'origin: a tag list Link to another server gets no token');
is(scalar(with_authorization($other)), 0, 'origin: and carried no Authorization header (Bearer)');

# a relative Link stays on the registry, credentials and all
$reg->reset_log;
my $paged = trusted_row("'co/paged', '$rh/basicauth/paged/app', all_tags => true, dry_run => true");
unlike($paged, qr/Failure/, 'origin: a relative tag list Link continues with the credentials');
is(scalar(grep { $_->{path} =~ m{/tags/list\?.*last=} && ($_->{authorization} // '') eq "Basic $basic_form" }
		@{ $reg->request_log }), 1, 'origin: (its second page was asked with them)');
is(scalar(with_authorization($other)), 0, 'origin: the other server never saw an Authorization header');

# a TLS registry whose token endpoint is plain HTTP: the credentials would
# cross the network in clear; refused, and the endpoint is never asked
my $tls = RegistryTest->start(tls => 1, auth => 'token', users => { deployer => $secret });
$tls->push_image('org/app', 'v1', content => 'tls token');
my $th = $tls->host;
my $ca = $tls->ca_file;
set_credentials($th, 'deployer', $secret);
my $asked = $tls->token_stats->{requests};
like(q1("SET imagestream.ca_file = '$ca';
		 SELECT status || '|' || reason || '|' || message FROM imagestream.import_image('co/tls:a', '$th/org/app:v1', confirm => true)"),
	qr/^Failure\|Unauthorized\|.*token endpoint http:.* is not an https URL/,
	'origin: a plain HTTP token endpoint of a TLS registry is refused');
is($tls->token_stats->{requests} - $asked, 0, 'origin: and it was not asked');
# listed insecure by the superuser, the same registry may use it
like(q1("SET imagestream.insecure_registries = '$th';
		 SELECT status FROM imagestream.import_image('co/tls:b', '$th/org/app:v1', confirm => true)"),
	qr/^Success$/, 'origin: a registry in insecure_registries may name a plain HTTP token endpoint');
$tls->stop;

# the legitimate flows of a real registry
my $token = RegistryTest->start(auth => 'token', users => { deployer => $secret });
$token->push_image('org/app', 'v1', content => 'token');
my $kh = $token->host;
set_credentials($kh, 'deployer', $secret);
like(trusted_row("'co/tok:a', '$kh/org/app:v1'"), qr/^Success\|/,
	'origin: the token flow of a real registry, its realm on another port, still works');
like(trusted_row("'co/tok', '$kh/org/app', all_tags => true"), qr/^Success\|/,
	'origin: and so does its tag list');
$token->stop;
my $htpasswd = RegistryTest->start(auth => 'htpasswd', users => { robot => $secret });
$htpasswd->push_image('org/app', 'v1', content => 'basic');
my $bh = $htpasswd->host;
set_credentials($bh, 'robot', $secret);
like(trusted_row("'co/basic:a', '$bh/org/app:v1'"), qr/^Success\|/,
	'origin: Basic authentication with a real registry still works');
$htpasswd->stop;

# ---------------------------------------------------------------------------
# Finding S25: a tenant's insecure flag does not expose the DBA's credentials
# ---------------------------------------------------------------------------

my $s25 = 'S25-dba-s3cret';
my $s25_basic = 'Basic ' . encode_base64("robot:$s25", '');
my $tlsh = RegistryTest->start_hostile(tls => 1, basic_credentials => "robot:$s25");
my $plainh = RegistryTest->start_hostile(basic_credentials => "robot:$s25");
my %s25_hosts = (tls => $tlsh, plain => $plainh);
set_credentials($_->host, 'robot', $s25) for values %s25_hosts;
q1("CREATE ROLE editor LOGIN;
	SELECT imagestream.grant_namespace('alpha', 'editor', 'edit')");

# as the editor, in a session of its own
sub editor_row
{
	my ($args, $setup) = @_;
	return import_row($args, ($setup // '') . 'SET ROLE editor;');
}

my ($r, $o, $e) = $node->psql('postgres', "SET ROLE editor; SET imagestream.insecure_registries = '*'");
like($e, qr/permission denied to set parameter "imagestream\.insecure_registries"/,
	'insecure: a tenant cannot list a registry in insecure_registries');

my $th25 = $tlsh->host;
like(editor_row("'alpha/mitm:a', '$th25/basicauth/app:latest'"), qr/^Failure\|InternalError\|.*certificate/i,
	'insecure: an unknown certificate is refused');
is(scalar(with_authorization($tlsh)), 0, 'insecure: (and nothing was sent with it)');
for my $kind (sort keys %s25_hosts)
{
	my $srv = $s25_hosts{$kind};
	my $h = $srv->host;
	for my $auth (qw(basicauth bearerauth))
	{
		$srv->reset_log;
		like(editor_row("'alpha/mitm:$kind-$auth', '$h/$auth/app:latest', insecure => true"),
			qr/^Failure\|Unauthorized\|.*credentials are not sent over .*imagestream\.insecure_registries/,
			"insecure: a tenant's insecure import of a $kind registry ($auth) is Unauthorized, and says why");
		ok(scalar(@{ $srv->request_log }) > 0, "insecure: ($kind, $auth: the registry was asked)");
		is(scalar(with_authorization($srv)), 0,
			"insecure: $kind, $auth: neither the credentials nor a token obtained with them were sent");
	}
	$srv->reset_log;
	like(editor_row("'alpha/mitm', '$h/basicauth/app', all_tags => true, insecure => true"),
		qr/Unauthorized\|.*credentials are not sent over/, "insecure: $kind: a tag list neither");
	is(scalar(with_authorization($srv)), 0, "insecure: $kind: (nothing sent for it)");
}

# a value that worked over verified TLS is not reused unverified (the
# worker serves every tenant in one process): the DBA imports with the CA
# trusted, then the editor, the same repository in the same session
$tlsh->reset_log;
like(import_row("'alpha/mitm:cached', '$th25/basicauth/app:1.0', insecure => true",
		"SET imagestream.ca_file = '" . $tlsh->ca_file . "';
		 SELECT status FROM imagestream.import_image('alpha/mitm:verified', '$th25/basicauth/app:latest', confirm => true);
		 SET ROLE editor;"),
	qr/^Success\nFailure\|Unauthorized\|.*credentials are not sent over/,
	'insecure: a verified import succeeds, an unverified one after it in the session does not');
my @cached = grep { $_->{path} =~ m{/manifests/1\.0$} } @{ $tlsh->request_log };
ok(scalar(@cached) > 0, 'insecure: (the unverified import asked the registry)');
is(scalar(grep { defined $_->{authorization} } @cached), 0,
	'insecure: without the cached credentials');

# listed by the superuser (ALTER SYSTEM, reload), the credentials go
q1("ALTER SYSTEM SET imagestream.insecure_registries = '127.0.0.1:*'; SELECT pg_reload_conf()");
$node->poll_query_until('postgres', "SELECT current_setting('imagestream.insecure_registries') = '127.0.0.1:*'")
  or die 'imagestream.insecure_registries not reloaded';
for my $kind (sort keys %s25_hosts)
{
	my $srv = $s25_hosts{$kind};
	my $h = $srv->host;
	$srv->reset_log;
	like(editor_row("'alpha/listed:$kind-basic', '$h/basicauth/app:latest'"), qr/^Success\|/,
		"insecure: a $kind registry in insecure_registries gets the credentials (Basic)");
	ok(scalar(grep { ($_->{authorization} // '') eq $s25_basic } @{ $srv->request_log }) > 0,
		"insecure: ($kind: they were sent)");
	like(editor_row("'alpha/listed:$kind-bearer', '$h/bearerauth/app:latest', insecure => true"), qr/^Success\|/,
		"insecure: and a token obtained with them (Bearer, $kind)");
}
# anonymous insecure imports keep working
like(editor_row("'alpha/listed:anon', '" . $plainh->host . "/ok/app:latest', insecure => true"), qr/^Success\|/,
	'insecure: an anonymous insecure import');
q1("ALTER SYSTEM RESET imagestream.insecure_registries; SELECT pg_reload_conf()");
$node->poll_query_until('postgres', "SELECT current_setting('imagestream.insecure_registries') = ''")
  or die 'imagestream.insecure_registries not reset';
like(editor_row("'alpha/listed:anon2', '" . $tlsh->host . "/ok/app:latest', insecure => true"), qr/^Success\|/,
	'insecure: an anonymous insecure import over unverified TLS');
$tlsh->stop;
$plainh->stop;

# ---------------------------------------------------------------------------
# Finding S22: a proxy only from imagestream.proxy; targets still checked
# ---------------------------------------------------------------------------

my $proxy = RegistryTest->start_proxy();
my $plain = RegistryTest->start_hostile();
my $ph = $plain->host;

# every proxy variable libcurl reads, in the postmaster's environment
{
	local @ENV{qw(http_proxy https_proxy HTTPS_PROXY all_proxy ALL_PROXY)} = ($proxy->url) x 5;
	delete local $ENV{no_proxy};
	delete local $ENV{NO_PROXY};
	$node->restart;
}
like(import_row("'px/env:a', '$ph/ok/app:latest', insecure => true"), qr/^Success\|/,
	'proxy: with proxy variables in the server\'s environment, an import succeeds');
is(scalar(@{ $proxy->request_log }), 0, 'proxy: and the environment\'s proxy was not asked');

my ($ret, $out, $err) = $node->psql('postgres', "ALTER SYSTEM SET imagestream.proxy = 'socks5://127.0.0.1:1'");
like($err, qr/invalid value for parameter "imagestream\.proxy"/, 'proxy: only an http:// proxy is accepted');
($ret, $out, $err) = $node->psql('postgres', "SET ROLE editor; SET imagestream.proxy = ''");
like($err, qr/cannot be changed now/, 'proxy: no session sets it');
my $pu = $proxy->url;
q1("ALTER SYSTEM SET imagestream.proxy = '$pu'; SELECT pg_reload_conf()");
$node->poll_query_until('postgres', "SELECT current_setting('imagestream.proxy') = '$pu'")
  or die 'imagestream.proxy not reloaded';

like(import_row("'px/http:a', '$ph/ok/app:latest', insecure => true"), qr/^Success\|/,
	'proxy: a plain HTTP registry imports through the configured proxy');
ok(scalar(grep { $_->{target} eq "http://$ph/v2/ok/app/manifests/latest" } @{ $proxy->request_log }) > 0,
	'proxy: which forwarded its request');
$proxy->reset_log;
unlike(import_row("'px/all', '$ph/ok/app', all_tags => true, insecure => true"), qr/Failure/,
	'proxy: a batch of requests (all_tags) goes through it too');
ok(scalar(grep { $_->{method} eq 'HEAD' } @{ $proxy->request_log }) >= 3, 'proxy: (its HEAD requests did)');

# https: a CONNECT tunnel, TLS verified end to end, credentials inside it
my $tlsb = RegistryTest->start(tls => 1, auth => 'htpasswd', users => { robot => $secret });
$tlsb->push_image('org/app', 'v1', content => 'through the proxy');
my $sh = $tlsb->host;
set_credentials($sh, 'robot', $secret);
$proxy->reset_log;
like(import_row("'px/tls:a', '$sh/org/app:v1'"), qr/^Failure\|InternalError\|.*certificate/i,
	'proxy: TLS is verified against the registry through the tunnel');
like(q1("SET imagestream.ca_file = '" . $tlsb->ca_file . "';
		 SELECT status FROM imagestream.import_image('px/tls:b', '$sh/org/app:v1', confirm => true)"), qr/^Success$/,
	'proxy: an authenticated TLS registry imports through the proxy');
my @asked = @{ $proxy->request_log };
ok(scalar(grep { $_->{method} eq 'CONNECT' && $_->{target} eq $sh } @asked) > 0, 'proxy: by a CONNECT tunnel');
is(scalar(grep { $_->{method} ne 'CONNECT' || defined $_->{authorization} } @asked), 0,
	'proxy: which never saw a request or an Authorization header');
$tlsb->stop;

# blocked_networks applies to the target, not to the configured proxy
$proxy->reset_log;
like(q1("SET imagestream.blocked_networks = '127.0.0.0/8';
		 SELECT status || '|' || reason || '|' || message FROM imagestream.import_image('px/blocked:a', '$ph/ok/app:latest', insecure => true, confirm => true)"),
	qr/^Failure\|Forbidden\|.*address 127\.0\.0\.1 is in imagestream\.blocked_networks/,
	'proxy: a target in blocked_networks is refused through the proxy');
is(scalar(@{ $proxy->request_log }), 0, 'proxy: and the proxy was not asked');
like(q1("SET imagestream.blocked_networks = '169.254.0.0/16';
		 SELECT status || '|' || reason || '|' || message FROM imagestream.import_image('px/blocked:b', '$ph/redirectblocked/app:latest', insecure => true, confirm => true)"),
	qr/^Failure\|Forbidden\|.*address 169\.254\.169\.254 is in imagestream\.blocked_networks/,
	'proxy: a redirect to a blocked address is refused through the proxy');
@asked = @{ $proxy->request_log };
ok(scalar(grep { $_->{target} =~ /redirectblocked/ } @asked) > 0, 'proxy: (the registry was asked)');
is(scalar(grep { $_->{target} =~ /169\.254/ } @asked), 0, 'proxy: the redirect target was not');
like(q1("SET imagestream.blocked_networks = '169.254.0.0/16';
		 SELECT status || '|' || reason || '|' || message FROM imagestream.import_image('px/blocked:c', 'no-such-host.invalid/app:latest', confirm => true)"),
	qr/^Failure\|Forbidden\|.*does not resolve here/,
	'proxy: a name that does not resolve here is refused while blocked_networks is set');
q1("ALTER SYSTEM RESET imagestream.proxy; SELECT pg_reload_conf()");
$proxy->stop;
$plain->stop;

# ---------------------------------------------------------------------------
# Finding S23: the secret in no log line, through the extended protocol too
# ---------------------------------------------------------------------------

q1("ALTER SYSTEM SET log_parameter_max_length = -1;
	ALTER SYSTEM SET log_parameter_max_length_on_error = -1;
	ALTER SYSTEM SET log_min_error_statement = 'error';
	ALTER SYSTEM SET log_statement = 'all';
	ALTER SYSTEM SET log_min_duration_statement = 0;
	SELECT pg_reload_conf()");
my $call = 'SELECT imagestream.set_registry_credentials(:registry, :username, :secret);';
for my $mode (qw(extended prepared))
{
	$node->pgbench("-n -t 1 -M $mode -D registry=not_a_registry! -D username=robot -D secret=Fa1led-$mode-s3cret",
		2, [qr//], [qr/invalid registry/], "log: a failing call over the $mode protocol",
		{ "034_fail_$mode" => $call });
	$node->pgbench("-n -t 1 -M $mode -D registry=logged.example.org -D username=robot -D secret=Bound-$mode-s3cret",
		0, [qr/processed: 1\/1/], [qr//], "log: a call over the $mode protocol",
		{ "034_ok_$mode" => $call });
}
ok($node->log_contains('invalid registry'), 'log: (the failure was logged)');
my $log = slurp_file($node->logfile);
my @leaks = grep { /(Fa1led|Bound)-\w+-s3cret/ } split /\n/, $log;
is(join("\n", @leaks), '', 'log: no bind parameter, statement or context line holds the secret');
$node->pgbench("-n -t 1 -M extended -D word=still-logged-parameter", 0, [qr/processed: 1\/1/], [qr//],
	'log: a call of something else', { '034_other' => 'SELECT :word::text;' });
ok($node->log_contains('still-logged-parameter'), 'log: other statements keep their parameters in the log');
q1("ALTER SYSTEM RESET ALL; SELECT pg_reload_conf()");

$reg->stop;
$other->stop;
unlike(slurp_file($node->logfile), qr/\Q$secret\E|\Q$basic_form\E|\Q$s25\E/, 'no secret in the server log');
assert_no_crash($node);
done_testing();
