# The registry test infrastructure itself (test/lib/RegistryTest.pm,
# token_issuer.py, hostile_registry.py), without the extension: plain, TLS,
# htpasswd and token registries take pushes of Docker and OCI images and
# indexes and answer HEAD with the pushed digests; the hostile registry
# answers its scenarios as designed.
use strict;
use warnings;

use Digest::SHA qw(sha256_hex);
use HTTP::Tiny;
use JSON::PP;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

use RegistryTest;

my ($ok, $why) = RegistryTest->available(tls => 1, auth => 'htpasswd');
plan skip_all => $why unless $ok;
($ok, $why) = RegistryTest->available(auth => 'token', hostile => 1);
plan skip_all => $why unless $ok;

my $t0 = time;
my $json = JSON::PP->new->utf8;
my $ua = HTTP::Tiny->new(timeout => 10, max_redirect => 0, proxy => undef,
	http_proxy => undef, https_proxy => undef);

sub header { return RegistryTest::header(@_) }

# --- plain registry: images, indexes, many tags

my $plain = RegistryTest->start;
like($plain->url, qr{^http://127\.0\.0\.1:\d+$}, 'plain registry url');
is($ua->get($plain->url . '/v2/')->{status}, 200, 'plain registry answers /v2/');

my $docker = $plain->push_image('smoke/app', 'docker');
like($docker->{digest}, qr/^sha256:[0-9a-f]{64}$/, 'docker image pushed');
is($docker->{media_type}, RegistryTest::MT_DOCKER, 'docker media type');
is('sha256:' . sha256_hex($docker->{manifest}), $docker->{digest}, 'digest is the manifest\'s sha256');
is($plain->manifest_digest('smoke/app', 'docker'), $docker->{digest}, 'HEAD gives the docker digest');

my $got = $plain->get_manifest('smoke/app', 'docker');
is($got->{content}, $docker->{manifest}, 'GET gives the pushed bytes');
is($got->{media_type}, RegistryTest::MT_DOCKER, 'with the docker content type');
my $cfg = $json->decode($plain->request('GET', "/v2/smoke/app/blobs/$docker->{config_digest}")->{content});
is($cfg->{architecture}, 'amd64', 'config blob readable, architecture amd64');
is($cfg->{rootfs}{diff_ids}[0], $docker->{diff_ids}[0], 'config lists the diff_id');
ok($cfg->{config}{Env} && $cfg->{config}{Cmd} && $cfg->{config}{ExposedPorts}, 'config has Env, Cmd, ExposedPorts');

my $layer = $plain->request('GET', "/v2/smoke/app/blobs/$docker->{layer_digests}[0]")->{content};
is('sha256:' . sha256_hex($layer), $docker->{layer_digests}[0], 'layer blob downloads intact');
my $tar;
IO::Uncompress::Gunzip::gunzip(\$layer => \$tar) if require IO::Uncompress::Gunzip;
is('sha256:' . sha256_hex($tar), $docker->{diff_ids}[0], 'diff_id is the sha256 of the uncompressed tar');
like($tar, qr/imagestream test image smoke\/app/, 'layer holds the content');

my $again = $plain->push_image('smoke/app', 'docker-again');
is($again->{digest}, $docker->{digest}, 'same options give the same digest');
my $rebuilt = $plain->push_image('smoke/app', 'docker', content => 'rebuilt');
isnt($rebuilt->{digest}, $docker->{digest}, 'new content gives a new digest');
is($plain->manifest_digest('smoke/app', 'docker'), $rebuilt->{digest}, 'the tag moved to the rebuild');

my $oci = $plain->push_image('smoke/app', 'oci', format => 'oci',
	annotations => { 'org.opencontainers.image.source' => 'smoke' });
is($oci->{media_type}, RegistryTest::MT_OCI, 'oci image pushed');
is($plain->manifest_digest('smoke/app', 'oci'), $oci->{digest}, 'HEAD gives the oci digest');
is($plain->get_manifest('smoke/app', 'oci')->{media_type}, RegistryTest::MT_OCI, 'oci content type');

my $amd = $plain->push_image('smoke/multi', undef, arch => 'amd64');
my $arm = $plain->push_image('smoke/multi', undef, arch => 'arm64', variant => 'v8');
isnt($amd->{digest}, $arm->{digest}, 'two platforms, two digests');
is($plain->manifest_digest('smoke/multi', $arm->{digest}), $arm->{digest}, 'child pushed by digest');
my $list = $plain->push_index('smoke/multi', 'latest', [ $amd, $arm ]);
is($list->{media_type}, RegistryTest::MT_DOCKER_LIST, 'docker manifest list pushed');
is($plain->manifest_digest('smoke/multi', 'latest'), $list->{digest}, 'HEAD gives the list digest');
my $lj = $json->decode($plain->get_manifest('smoke/multi', 'latest')->{content});
is_deeply([ map { $_->{platform} } @{ $lj->{manifests} } ],
	[ { os => 'linux', architecture => 'amd64' }, { os => 'linux', architecture => 'arm64', variant => 'v8' } ],
	'list has the platforms');

my $oamd = $plain->push_image('smoke/multi', undef, arch => 'amd64', format => 'oci');
my $oarm = $plain->push_image('smoke/multi', undef, arch => 'arm', variant => 'v7', format => 'oci');
my $index = $plain->push_index('smoke/multi', 'oci', [ $oamd, $oarm ], format => 'oci');
is($index->{media_type}, RegistryTest::MT_OCI_INDEX, 'oci index pushed');
is($plain->manifest_digest('smoke/multi', 'oci'), $index->{digest}, 'HEAD gives the index digest');
is($plain->get_manifest('smoke/multi', 'oci')->{media_type}, RegistryTest::MT_OCI_INDEX, 'index content type');

my $t = time;
my $many = $plain->push_many_tags('smoke/many', 50);
my $tags = $plain->tags('smoke/many');
is(scalar(@$tags), 50, '50 tags listed');
is($plain->manifest_digest('smoke/many', '1.0.50'), $many->{digest}, 'last tag points at the image');
is(scalar(@{ $plain->tags('smoke/many', n => 7) }), 50, 'paginated listing gives the same 50');
note sprintf('50 tags in %.2f s', time - $t);

is($plain->delete_tag('smoke/app', 'docker-again'), 202, 'tag deleted');
is($plain->manifest_digest('smoke/app', 'docker-again'), undef, 'deleted tag is gone');
is($plain->last_response->{status}, 404, 'HEAD of a deleted tag is 404');

my %repos = map { $_ => 1 } @{ $plain->catalog };
ok($repos{'smoke/app'} && $repos{'smoke/multi'} && $repos{'smoke/many'}, 'catalog lists the repositories');

# the curl transport against the same registry
{
	local $RegistryTest::FORCE_CURL = 1;
	my $c = $plain->push_image('smoke/curl', 'v1', content => 'via curl');
	is($plain->manifest_digest('smoke/curl', 'v1'), $c->{digest}, 'curl transport: push and HEAD');
	my $m = $plain->push_many_tags('smoke/curl', 0, tags => [ map { "c$_" } 1 .. 120 ]);
	is(scalar(@{ $plain->tags('smoke/curl') }), 121, 'curl transport: 120 tags in batches');
}

# --- TLS

my $tls = RegistryTest->start(tls => 1);
like($tls->url, qr{^https://127\.0\.0\.1:\d+$}, 'tls registry url');
ok(-s $tls->ca_file, 'ca_file written');
my $ti = $tls->push_image('tls/app', 'latest');
is($tls->manifest_digest('tls/app', 'latest'), $ti->{digest}, 'TLS: push and HEAD');
my $ti2 = $tls->push_index('tls/app', 'index', [ $ti ], format => 'oci');
is($tls->manifest_digest('tls/app', 'index'), $ti2->{digest}, 'TLS: index');
{
	my $out = `curl -sS -o /dev/null -w '%{http_code}' --noproxy '*' @{[ $tls->url ]}/v2/ 2>&1`;
	unlike($out, qr/^200$/, 'TLS: without the CA the certificate is not trusted');
	$out = `curl -sS -o /dev/null -w '%{http_code}' --noproxy '*' --cacert @{[ $tls->ca_file ]} @{[ $tls->url ]}/v2/ 2>&1`;
	is($out, '200', 'TLS: with the CA it is');
	$out = `curl -sS -o /dev/null -w '%{http_code}' --noproxy '*' --cacert @{[ $tls->ca_file ]} https://localhost:@{[ $tls->port ]}/v2/ 2>&1`;
	is($out, '200', 'TLS: the certificate is valid for localhost too');
}

# --- htpasswd

my $basic = RegistryTest->start(auth => 'htpasswd', users => { alice => 'secret-a', bob => 'secret-b' });
my $r = $basic->request('GET', '/v2/', anonymous => 1);
is($r->{status}, 401, 'htpasswd: anonymous gets 401');
like(header($r, 'WWW-Authenticate'), qr/^Basic realm=/, 'with a Basic challenge');
is($basic->request('GET', '/v2/', headers => { Authorization => RegistryTest::_basic('alice', 'wrong') })->{status},
	401, 'htpasswd: wrong password 401');
is(($basic->credentials)[0], 'alice', 'pushes as the first user');
my $bi = $basic->push_image('basic/app', 'latest');
is($basic->manifest_digest('basic/app', 'latest'), $bi->{digest}, 'htpasswd: push and HEAD');
$basic->set_credentials('bob', 'secret-b');
is($basic->manifest_digest('basic/app', 'latest'), $bi->{digest}, 'htpasswd: the other user reads it');

# --- token auth

my $tok = RegistryTest->start(auth => 'token',
	users => { carol => 'pw-c', reader => { password => 'pw-r', actions => ['pull'] } },
	anonymous_pull => 1);
like($tok->token_url, qr{^http://127\.0\.0\.1:\d+/token$}, 'token url');
$r = $tok->request('GET', '/v2/', anonymous => 1);
is($r->{status}, 401, 'token: anonymous /v2/ gets 401');
my $ch = RegistryTest::parse_challenge($r->{headers}{'www-authenticate'});
is($ch->{scheme}, 'bearer', 'Bearer challenge');
is($ch->{realm}, $tok->token_url, 'realm is the issuer');
is($ch->{service}, $tok->service, 'service named');
my $tki = $tok->push_image('tok/app', 'latest');
is($tok->manifest_digest('tok/app', 'latest'), $tki->{digest}, 'token: push and HEAD with the Bearer flow');
my $st = $tok->token_stats;
ok($st->{tokens} >= 1 && $st->{by_user}{carol}, 'issuer counted tokens for carol');
ok(grep({ $_ eq 'repository:tok/app:pull,push' } @{ $st->{scopes} }), 'granted pull,push on tok/app');
my $tokmany = $tok->push_many_tags('tok/many', 20);
is(scalar(@{ $tok->tags('tok/many') }), 20, 'token: many tags with one token');
is($tok->manifest_digest('tok/many', '1.0.20'), $tokmany->{digest}, 'token: last tag right');

# anonymous pull token, pull-only user refused a push
{
	my $anon = $tok->fetch_token(scope => 'repository:tok/app:pull,push', anonymous => 1);
	my $rr = $tok->request('HEAD', '/v2/tok/app/manifests/latest',
		headers => { Authorization => "Bearer $anon", Accept => $RegistryTest::ACCEPT });
	is($rr->{status}, 200, 'token: anonymous pull token reads');
	$tok->set_credentials('reader', 'pw-r');
	my $e = eval { $tok->push_image('tok/app', 'by-reader', content => 'reader'); 1 } ? '' : $@;
	like($e, qr/HTTP 401/, 'token: pull-only user cannot push');
	like(header($tok->last_response, 'WWW-Authenticate'), qr/insufficient_scope/, 'insufficient_scope');
	$tok->set_credentials('carol', 'wrong');
	$e = eval { $tok->manifest_digest('tok/app', 'latest'); 1 } ? '' : $@;
	like($e, qr/token request .* 401/, 'token: wrong password refused by the issuer');
	$tok->set_credentials('carol', 'pw-c');
}

$tok->token_fail(1);
my $before = $tok->token_stats->{failures};
$r = $ua->get($tok->token_url . '?service=' . $tok->service . '&scope=repository:tok/app:pull');
is($r->{status}, 500, 'token endpoint fails on request');
is($tok->token_stats->{failures}, $before + 1, 'failure counted');
$tok->token_fail(0);
is($tok->manifest_digest('tok/app', 'latest'), $tki->{digest}, 'and recovers');

# --- hostile registry

my $h = RegistryTest->start_hostile(huge_size => 2_000_000, slow_seconds => 20, endless_seconds => 20);
my $hu = $h->url;
is($ua->get("$hu/v2/")->{status}, 200, 'hostile: /v2/ 200');
$r = $ua->get("$hu/v2/ok/manifests/latest");
is($r->{status}, 200, 'hostile ok: manifest');
my $okd = 'sha256:' . sha256_hex($r->{content});
is($r->{headers}{'docker-content-digest'}, $okd, 'hostile ok: digest matches the body');
my $okm = $json->decode($r->{content});
$r = $ua->get("$hu/v2/ok/blobs/$okm->{layers}[0]{digest}");
is('sha256:' . sha256_hex($r->{content}), $okm->{layers}[0]{digest}, 'hostile ok: layer blob matches');
$r = $ua->request('HEAD', "$hu/v2/ok/manifests/latest");
is($r->{status} . ':' . length($r->{content} // ''), '200:0', 'hostile: HEAD without body');
is($r->{headers}{'docker-content-digest'}, $okd, 'hostile: HEAD digest');

$r = $ua->get("$hu/v2/wrongdigest/manifests/latest");
isnt($r->{headers}{'docker-content-digest'}, 'sha256:' . sha256_hex($r->{content}), 'wrongdigest: header lies');
$r = $ua->get("$hu/v2/bodymismatch/manifests/$okd");
isnt('sha256:' . sha256_hex($r->{content}), $okd, 'bodymismatch: body is not the requested digest');
$r = $ua->get("$hu/v2/ratelimit/manifests/latest");
is($r->{status} . ' ' . $r->{headers}{'retry-after'}, '429 7', 'ratelimit: 429 Retry-After 7');
is($ua->get("$hu/v2/servererror/manifests/latest")->{status}, 500, 'servererror: 500');
$r = $ua->get("$hu/v2/redirectloop/manifests/latest");
is($r->{headers}{location}, "$hu/v2/redirectloop/manifests/latest", 'redirectloop: 302 to itself');
$r = $ua->get("$hu/v2/redirectblocked/manifests/latest");
like($r->{headers}{location}, qr{^http://169\.254\.169\.254/}, 'redirectblocked: to the metadata address');
$r = $ua->get("$hu/v2/unknowntype/manifests/latest");
is($r->{headers}{'content-type'}, 'application/x-unknown', 'unknowntype');
$r = $ua->get("$hu/v2/schema1/manifests/latest");
is($r->{headers}{'content-type'}, 'application/vnd.docker.distribution.manifest.v1+prettyjws', 'schema1 type');
my $s1 = $json->decode($r->{content});
is($s1->{schemaVersion} . ':' . scalar(@{ $s1->{signatures} }), '1:1', 'schema1: signed');
ok(!eval { $json->decode($ua->get("$hu/v2/brokenjson/manifests/latest")->{content}); 1 }, 'brokenjson does not parse');
$r = $ua->get("$hu/v2/huge/manifests/latest");
is(length($r->{content}), 2_000_000, 'huge: the configured size');
is($r->{headers}{'docker-content-digest'}, 'sha256:' . sha256_hex($r->{content}), 'huge: digest right');
$r = $ua->get("$hu/v2/truncated/manifests/latest");
is($r->{status}, 599, 'truncated: the client sees a short body');

$r = $ua->get("$hu/v2/auth401loop/manifests/latest");
$ch = RegistryTest::parse_challenge($r->{headers}{'www-authenticate'});
is($ch->{realm}, "$hu/token", 'auth401loop: challenge to its own /token');
my $loop_tok = $json->decode($ua->get($ch->{realm})->{content})->{token};
is($ua->get("$hu/v2/auth401loop/manifests/latest", { headers => { Authorization => "Bearer $loop_tok" } })->{status},
	401, 'auth401loop: its token is refused');
$ch = RegistryTest::parse_challenge($ua->get("$hu/v2/tokenfail/manifests/latest")->{headers}{'www-authenticate'});
is($ua->get($ch->{realm})->{status}, 500, 'tokenfail: token endpoint 500');

# paged tags: follow the Link header with the module's client
my @paged;
my $path = '/v2/paged/tags/list';
my $pages = 0;
while (defined $path && $pages++ < 10)
{
	$r = $h->request('GET', $path);
	push @paged, @{ $json->decode($r->{content})->{tags} };
	$path = (header($r, 'Link') // '') =~ /<([^>]+)>/ ? $1 : undef;
}
is_deeply([ \@paged, $pages ], [ [ '1.0', '1.1', '1.2', '1.3', '1.4' ], 3 ], 'paged: 5 tags over 3 pages');

# slow and endless are bounded on the client side
# (HTTP::Tiny fills whole buffers before its data_callback, so curl here)
$t = time;
my $slow = `curl -sS --noproxy '*' --max-time 3 -o /dev/null -w '%{size_download}' $hu/v2/slow/manifests/latest 2>/dev/null`;
my $slow_rc = $? >> 8;
ok($slow_rc == 28 && $slow > 0 && $slow < 10 && time - $t < 10,
	"slow: a trickle ($slow bytes in 3 s, curl exit $slow_rc), cut by the client");
$t = time;
my $bytes = 0;
$r = HTTP::Tiny->new(timeout => 5, proxy => undef, http_proxy => undef)->get(
	"$hu/v2/endless/manifests/latest",
	{ data_callback => sub { $bytes += length $_[0]; die "enough\n" if $bytes > 1_000_000 } });
ok($bytes > 1_000_000 && time - $t < 10, 'endless: keeps streaming until the client stops');

my %seen = map { ("$_->{method} $_->{path}" => 1) } @{ $h->request_log };
ok($seen{'GET /v2/ok/manifests/latest'} && $seen{'HEAD /v2/ok/manifests/latest'}, 'request log records method and path');
$h->reset_log;
is(scalar(@{ $h->request_log }), 0, 'request log reset');

# --- stopping

my @pids = grep { $_ } map { ($_->{pid}, $_->{issuer_pid}) } $plain, $tls, $basic, $tok, $h;
$_->stop for $plain, $tls, $basic, $tok, $h;
is(scalar(grep { kill 0, $_ } @pids), 0, 'all servers stopped');
is($ua->get($plain->url . '/v2/')->{status}, 599, 'registry port closed');

note sprintf('smoke test took %.1f s', time - $t0);
done_testing();
