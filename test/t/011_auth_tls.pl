# Authentication and TLS against real registries: TLS verified with
# imagestream.ca_file (or unverified when insecure), htpasswd Basic auth, and
# the Bearer token flow checked by the registry's own token validation.
# Secrets never appear in results or logs.
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;

use ImagestreamTest qw(start_node invariants_hold);
use RegistryTest;

my $node = start_node('auth_tls');
$node->append_conf('postgresql.conf', "imagestream.blocked_networks = ''");
$node->reload;

sub q1 { return $node->safe_psql('postgres', shift) }

sub import_row
{
	my ($args) = @_;
	return q1("SELECT status || '|' || coalesce(reason, '') || '|' || coalesce(message, '')
			   FROM imagestream.import_image($args, confirm => true)");
}

# TLS: verified against the system store plus imagestream.ca_file
my $tls = RegistryTest->start(tls => 1);
my $img = $tls->push_image('org/app', 'v1', content => 'tls');
my $h = $tls->host;
like(import_row("'tl/app:a', '$h/org/app:v1'"), qr/^Failure\|InternalError\|.*certificate/i,
	'an unknown CA is refused');
my $ca = $tls->ca_file;
like(q1("SET imagestream.ca_file = '$ca';
		 SELECT status FROM imagestream.import_image('tl/app:b', '$h/org/app:v1', confirm => true)"),
	qr/^Success$/, 'imagestream.ca_file makes it trusted');
like(import_row("'tl/app:c', '$h/org/app:v1', insecure => true"), qr/^Success\|/,
	'insecure imports without verifying TLS');
is(q1("SELECT image FROM imagestream.image_stream_tags WHERE tag = 'b'"), $img->{digest},
	'over TLS, the digest is the registry\'s');
$tls->stop;

# the registries below speak plain HTTP: the superuser lists them insecure,
# or the stored credentials would not be sent (S25)
$node->append_conf('postgresql.conf', "imagestream.insecure_registries = '127.0.0.1:*'");
$node->reload;
$node->poll_query_until('postgres', "SELECT current_setting('imagestream.insecure_registries') = '127.0.0.1:*'")
  or die 'imagestream.insecure_registries not reloaded';

# htpasswd Basic auth
my $basic = RegistryTest->start(auth => 'htpasswd', users => { robot => 'b4sic-s3cret' });
$basic->push_image('org/app', 'v1', content => 'basic');
$h = $basic->host;
like(import_row("'ba/app:a', '$h/org/app:v1', insecure => true"),
	qr/^Failure\|Unauthorized\|.*none are stored/, 'no credentials: Unauthorized, and why');
q1("SELECT imagestream.set_registry_credentials('$h', 'robot', 'wr0ng-s3cret')");
like(import_row("'ba/app:b', '$h/org/app:v1', insecure => true"),
	qr/^Failure\|Unauthorized\|.*refused the stored credentials/, 'wrong credentials: Unauthorized');
q1("SELECT imagestream.set_registry_credentials('$h', 'robot', 'b4sic-s3cret')");
like(import_row("'ba/app:c', '$h/org/app:v1', insecure => true"), qr/^Success\|/,
	'right credentials: imported');
# the longest registry prefix wins
q1("SELECT imagestream.set_registry_credentials('$h/org', 'robot', 'wr0ng-s3cret')");
like(import_row("'ba/app:d', '$h/org/app:v1', insecure => true"), qr/^Failure\|Unauthorized/,
	'the credentials of the longest prefix are used');
q1("SELECT imagestream.drop_registry_credentials('$h/org')");
$basic->stop;

# Bearer tokens: the registry validates the issuer's JWTs itself
my $token = RegistryTest->start(auth => 'token', users => { deployer => 't0ken-s3cret' });
$token->push_image('org/app', 'v1', content => 'token');
$h = $token->host;
like(import_row("'to/app:a', '$h/org/app:v1', insecure => true"), qr/^Failure\|Unauthorized\|/,
	'no credentials: the anonymous token is refused');
q1("SELECT imagestream.set_registry_credentials('$h', 'deployer', 'wr0ng-s3cret')");
like(import_row("'to/app:b', '$h/org/app:v1', insecure => true"), qr/^Failure\|Unauthorized\|/,
	'wrong credentials: no token');
q1("SELECT imagestream.set_registry_credentials('$h', 'deployer', 't0ken-s3cret')");
like(import_row("'to/app:c', '$h/org/app:v1', insecure => true"), qr/^Success\|/,
	'right credentials: a token, and the import');
# in one session, the token is reused until it expires
my $before = $token->token_stats->{tokens};
q1("SELECT imagestream.import_image('to/app:d', '$h/org/app:v1', insecure => true, confirm => true);
	SELECT imagestream.import_image('to/app:e', '$h/org/app:v1', insecure => true, confirm => true);");
is($token->token_stats->{tokens} - $before, 1, 'a session asks for one token for several imports');
# a failing token endpoint
$token->token_fail(1);
like(import_row("'to/app:f', '$h/org/app:v1', insecure => true"),
	qr/^Failure\|Unauthorized\|.*token endpoint .* answered HTTP 500/, 'a failing token endpoint: Unauthorized');
$token->token_fail(0);
$token->stop;

# refused credentials are tried once more anonymously, as OpenShift does
my $public = RegistryTest->start(auth => 'token', users => { deployer => 'publ1c-s3cret' }, anonymous_pull => 1);
$public->push_image('org/pub', 'v1', content => 'public');
$h = $public->host;
q1("SELECT imagestream.set_registry_credentials('$h', 'deployer', 'wr0ng-s3cret')");
like(import_row("'to/pub:a', '$h/org/pub:v1', insecure => true"), qr/^Success\|/,
	'a public repository imports anonymously when the stored credentials are refused');
$public->stop;

# secrets are in no result, no change row and no log line
my $all = q1("SELECT string_agg(coalesce(message, ''), ' ') FROM imagestream.change")
  . q1("SELECT string_agg(coalesce(import_message, ''), ' ') FROM imagestream.image_stream_tags");
unlike($all, qr/s3cret/, 'no secret in results or the change log');
# (log_statement = all, as these test clusters run, echoes the statements
# that set them; nothing else may)
my $log = slurp_file($node->logfile);
is(scalar(grep { /s3cret/ && !/LOG:  statement: SELECT imagestream\.set_registry_credentials/ }
		split /\n/, $log), 0, 'no secret in the server log but the echo of the statements setting them');
invariants_hold($node);
ok($node->log_contains('terminated by signal') == 0, 'no backend crashed');
done_testing();
