# The signature lookup of a fetch (issue 21; doc/import.md, "Signatures"):
# a fetch with the signatures option that finds a new image looks up the
# cosign signatures of the digest its reference resolved to, through the
# OCI 1.1 referrers API or, where the registry has none (Debian's
# docker-registry 2.8), cosign's "sha256-HEX.sig" tag; a fetch without it
# makes not one request more.  What it found: _fetch_source's result, the
# rows of image_signature after import_image of a tag whose gate names
# keys (tag_gate.signed_by), and after the worker's import of such tags.
# A hostile registry's signature material (oversized, unverifiable,
# malformed, too much of it) gives an error text and no signature, never a
# failed import or a crash.  Every request goes through a proxy that logs
# it.
use strict;
use warnings;

use JSON::PP;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(sleep);

use ImagestreamTest qw(start_node wait_for query_json assert_no_crash invariants_hold);
use RegistryTest;

my ($ok, $why) = RegistryTest->available(hostile => 1);
plan skip_all => $why unless $ok;
plan skip_all => 'openssl not found' unless grep { -x "$_/openssl" } split /:/, $ENV{PATH};

my $proxy = RegistryTest->start_proxy();
my $node = start_node('sigfetch', worker => 1, conf => qq{
imagestream.enable_worker = off
imagestream.proxy = 'http://127.0.0.1:$proxy->{port}'
imagestream.blocked_networks = ''
imagestream.insecure_registries = '127.0.0.1:*'
imagestream.import_interval = '1s'
imagestream.max_imports_per_minute = -1
});
sub q1 { return $node->safe_psql('postgres', shift) }

my $keys = PostgreSQL::Test::Utils::tempdir('keys');
my $p256 = RegistryTest::make_signing_key($keys, type => 'p256');
my $ed = RegistryTest::make_signing_key($keys, type => 'ed25519');
my $other = RegistryTest::make_signing_key($keys, type => 'p256', name => 'other');
my $reg = RegistryTest->start();
my $h = $reg->host;
my $hostile = RegistryTest->start_hostile(cosign_key => $p256->{key});
my $hh = $hostile->host;

# _fetch_source of $ref (insecure), with the signatures option unless
# $signatures is 0: {status, image, source, looked_up, payloads (text, in
# order), signatures, error}
sub lookup
{
	my ($ref, $signatures) = @_;
	my $opt = ($signatures // 1) ? 'true' : 'false';
	return query_json($node, qq{
		SELECT json_build_object('status', f.status, 'image', f.image, 'source', f.source_digest,
			'looked_up', f.signature_payloads IS NOT NULL,
			'payloads', coalesce((SELECT json_agg(convert_from(p.p, 'UTF8') ORDER BY p.n)
								  FROM unnest(f.signature_payloads) WITH ORDINALITY p(p, n)), '[]'),
			'signatures', coalesce(to_json(f.signature_values), '[]'), 'error', f.signature_error)
		FROM imagestream._fetch_source('$ref', true, false, NULL, NULL, NULL, NULL, $opt) f});
}

# The requests the proxy forwarded for repository $repo since its log was
# reset, each as "METHOD what": the digests in %$names by name, the query
# left out.
sub requests
{
	my ($repo, $names) = @_;
	my @out;
	for my $r (@{ $proxy->request_log })
	{
		next unless $r->{target} =~ m{/v2/\Q$repo\E/(.*)$};
		my $what = $1 =~ s/\?.*//r;
		$what =~ s/\Q$_\E/$names->{$_}/g for keys %{ $names // {} };
		push @out, "$r->{method} $what";
	}
	return join(', ', @out);
}

sub signatures_of
{
	my ($digest) = @_;
	return q1("SELECT count(*) FROM imagestream.image_signature WHERE image::text = '$digest'");
}

# ---------------------------------------------------------------------------
# The real registry: no referrers API, cosign's tag
# ---------------------------------------------------------------------------

my $img = $reg->push_image('org/app', 'v1', content => 'app one');
my $sig1 = $reg->push_signature('org/app', $img->{digest}, key => $p256);
my $sig2 = $reg->push_signature('org/app', $img->{digest}, key => $ed, append => 1);
my $hex = $img->{digest} =~ s/^sha256://r;
my $payload = RegistryTest::simple_signing_payload("$h/org/app", $img->{digest});
is($sig1->{layers}[0]{payload}, $payload, 'push_signature writes cosign\'s simple signing payload');
ok(RegistryTest::verify_payload($p256, $payload, $sig1->{layers}[0]{signature}), 'signed with the P-256 key');
ok(RegistryTest::verify_payload($ed, $payload, $sig2->{layers}[0]{signature}), 'and with the Ed25519 key');
ok(!RegistryTest::verify_payload($other, $payload, $sig1->{layers}[0]{signature}), 'which another key does not verify');
is(scalar(@{ JSON::PP->new->decode($reg->get_manifest('org/app', "sha256-$hex.sig")->{content})->{layers} }),
	2, 'appended: the tag holds both signatures, a layer each');

my %names = ($img->{config_digest} => 'config', $img->{digest} => 'image', "sha256-$hex.sig" => 'SIG',
	$sig1->{layers}[0]{digest} => 'payload');
$proxy->reset_log;
my $r = lookup("$h/org/app:v1", 0);
is("$r->{status} $r->{looked_up}", 'Success 0', 'without the option: no signature looked up');
is(requests('org/app', \%names), 'GET manifests/v1, GET blobs/config',
	'and not one request more than the image (its manifest, its config)');

$proxy->reset_log;
$r = lookup("$h/org/app:v1");
is("$r->{status} $r->{image}", "Success $img->{digest}", 'with it, the same image');
is(scalar(@{ $r->{payloads} }), 2, 'and both signatures of the tag');
is($r->{error}, undef, 'no error');
is($r->{payloads}[0], $payload, 'the payload as pushed');
is_deeply($r->{signatures}, [ $sig1->{layers}[0]{signature}, $sig2->{layers}[0]{signature} ],
	'the signatures as pushed, in the order of the layers');
is(requests('org/app', \%names),
	"GET manifests/v1, GET blobs/config, GET referrers/image, GET manifests/SIG, GET blobs/payload",
	'asked: the referrers API (404), then the tag, then its payload once (both layers sign one payload)');

my $plain = $reg->push_image('org/plain', 'v1', content => 'plain one');
$r = lookup("$h/org/plain:v1");
is(join(' ', $r->{status}, $r->{looked_up}, scalar(@{ $r->{payloads} }), $r->{error} // 'none'),
	'Success 1 0 none', 'an image without signatures: none, and no error (its tag is not found)');

my $bad = $reg->push_image('org/bad', 'v1', content => 'bad one');
$reg->push_signature('org/bad', $bad->{digest}, key => $p256);
$reg->push_signature('org/bad', $bad->{digest}, signature => 'not base64!', append => 1);
$r = lookup("$h/org/bad:v1");
is(join(' ', $r->{status}, scalar(@{ $r->{payloads} })), 'Success 0',
	'a signature manifest with a malformed signature: no signature of it at all');
like($r->{error}, qr/^The signature manifest sha256-\w+\.sig of org\/bad is refused: A signature annotation is not base64\.$/,
	'and the error says why');

# a Legacy import of an index: the signatures of the index, not of its child
my $amd = $reg->push_image('org/multi', undef, content => 'multi amd64');
my $arm = $reg->push_image('org/multi', undef, content => 'multi arm64', arch => 'arm64');
my $list = $reg->push_index('org/multi', 'latest', [ $amd, $arm ]);
$reg->push_signature('org/multi', $list->{digest}, key => $p256);
$reg->push_signature('org/multi', $amd->{digest}, key => $other);
$r = lookup("$h/org/multi:latest");
is("$r->{image} $r->{source}", "$amd->{digest} $list->{digest}", 'an index: the amd64 child is the image');
is_deeply($r->{payloads}, [ RegistryTest::simple_signing_payload("$h/org/multi", $list->{digest}) ],
	'the signatures looked up are those of the index the tag names');

# ---------------------------------------------------------------------------
# import_image of tags whose gate names keys
# ---------------------------------------------------------------------------

sub gate
{
	my ($tag, $keys) = @_;
	my ($ns, $stream, $name) = $tag =~ m{^([^/]+)/([^:]+):(.+)$};
	q1("INSERT INTO imagestream.tag_gate (tag_id, signed_by)
		SELECT id, '$keys' FROM imagestream.tag WHERE namespace = '$ns' AND stream = '$stream' AND name = '$name'");
}

q1("SELECT imagestream.tag('$h/org/app:v1', 'sig/app:v1', insecure => true)");
gate('sig/app:v1', '{ci}');
is(q1("SELECT status || ' ' || image FROM imagestream.import_image('sig/app:v1')"), "Success $img->{digest}",
	'import_image of a gated tag');
is(q1("SELECT string_agg(convert_from(payload, 'UTF8') || ' ' || signature, E'\\n' ORDER BY signature)
	   FROM imagestream.image_signature WHERE image::text = '$img->{digest}'"),
	join("\n", map { "$payload $_" } sort map { $_->{layers}[0]{signature} } $sig1, $sig2),
	'keeps both signatures of its image');
$proxy->reset_log;
is(q1("SELECT status FROM imagestream.import_image('sig/app:v1')"), 'Success', 'imported again, unchanged');
is(requests('org/app', \%names), 'HEAD manifests/v1', 'a HEAD only: an unchanged image is not looked up again');
is(signatures_of($img->{digest}), '2', 'and the rows stay as they were');

# all_tags: two tags of one image, the first without a gate, the second with
my $all = $reg->push_image('org/all', 'v2', content => 'all two');
$reg->push_signature('org/all', $all->{digest}, key => $ed);
q1("SELECT imagestream.tag('$h/org/all:v2', 'sig/all:$_', insecure => true)") for qw(a b);
gate('sig/all:b', '{ci}');
$proxy->reset_log;
is(q1("SELECT string_agg(tag || ' ' || status, ', ' ORDER BY tag) FROM imagestream.import_image('sig/all', all_tags => true)"),
	'a Success, b Success', 'import_image(all_tags) of a tag without a gate and one with');
is(signatures_of($all->{digest}), '1', 'the signature of their image is kept (the ungated tag\'s fetch came first)');
is(scalar(() = requests('org/all') =~ /referrers/g), 1, 'looked up once, by the gated tag\'s fetch');

# ---------------------------------------------------------------------------
# The hostile registry: the referrers API, and what a registry may send
# ---------------------------------------------------------------------------

$r = lookup("$hh/signed/app:latest");
is(join(' ', $r->{status}, scalar(@{ $r->{payloads} }), $r->{error} // 'none'), 'Success 2 none',
	'referrers: the two payloads of its signature manifest (its SPDX referrer is not one)');
is_deeply(JSON::PP->new->decode($r->{payloads}[0]),
	{ critical => { identity => { 'docker-reference' => "$hh/signed/app" }, image => { 'docker-manifest-digest' => $r->{image} },
			type => 'cosign container image signature' }, optional => undef },
	'a simple signing payload for the image');
ok(RegistryTest::verify_payload($p256, $r->{payloads}[1], $r->{signatures}[1]), 'with its signature');
$r = lookup("$hh/signed/app:index");
is(JSON::PP->new->decode($r->{payloads}[0])->{critical}{image}{'docker-manifest-digest'}, $r->{source},
	'referrers of an index: asked for the index\'s digest');
$hostile->reset_log;
$r = lookup("$hh/signed/app:latest", 0);
is(scalar(grep { $_->{path} =~ /referrers|\.sig/ } @{ $hostile->request_log }), 0,
	'without the option nothing of it is asked');

my @cases = (
	[ 'nosigs', 0, undef, 'referrers that list no signature manifest' ],
	[ 'tagfallback', 2, undef, 'referrers answering 404: the .sig tag' ],
	[ 'hugemanifest', 0, qr/^The signature manifest sha256:\w+ of signed\/hugemanifest\/app could not be read: The manifest sha256:\w+ of signed\/hugemanifest\/app is over 256 kB\.$/,
		'a signature manifest of 300 kB' ],
	[ 'hugeindex', 0, qr/^The referrers of sha256:\w+ in signed\/hugeindex\/app could not be read: The index of the referrers of .* is over 256 kB\.$/,
		'a referrers index of 300 kB' ],
	[ 'badpayload', 0, qr/could not be read: The content of blob sha256:\w+ of signed\/badpayload\/app hashes to sha256:\w+, not sha256:\w+\.$/,
		'a payload whose bytes do not hash to its digest' ],
	[ 'manylayers', 0, qr/is refused: The signature manifest has more than 16 layers\.$/, 'a signature manifest of 17 layers' ],
	[ 'manymanifests', 16, qr/list more than 16 signature manifests: the first 16 were read\.$/,
		'17 signature manifests: 16 read' ],
	[ 'mixed', 1, qr/hashes to/, 'a good signature manifest and a bad one: the good one\'s signature' ],
	[ 'notjson', 0, qr/is refused: The signature manifest is not a JSON object with a list of layers\.$/,
		'a signature manifest that is not JSON' ],
	[ 'referrers500', 0, qr/could not be read: Registry [\d.:]+ answered HTTP 500 for the referrers of/, 'referrers answering 500' ],
	[ 'longsig', 0, qr/A signature annotation is longer than 8192 bytes\.$/, 'a signature of 9000 bytes' ],
	[ 'notbase64', 0, qr/A signature annotation is not base64\.$/, 'a signature that is not base64' ],
	[ 'bigpayload', 0, qr/has a payload of 70000 bytes, over 64 kB\.$/, 'a payload that declares 70,000 bytes' ],
	[ 'bigblob', 0, qr/could not be read: The blob sha256:\w+ of signed\/bigblob\/app is over 64 kB\.$/,
		'a payload of 70,000 bytes that declares 100' ],
);
for my $c (@cases)
{
	my ($variant, $n, $error, $what) = @$c;
	$hostile->reset_log;
	$r = lookup("$hh/signed/$variant/app:latest");
	is(join(' ', $r->{status}, scalar(@{ $r->{payloads} })), "Success $n", "$variant: $what: the fetch succeeds, $n signatures");
	if ($error) { like($r->{error}, $error, "$variant: the error says why") }
	else { is($r->{error}, undef, "$variant: no error") }
	if ($variant eq 'bigpayload')
	{
		is(scalar(grep { $_->{path} =~ m{/blobs/} } @{ $hostile->request_log }), 1,
			'bigpayload: the payload is not asked for (the config is)');
	}
}

# import_image of gated tags: the hostile material gives no row, the import succeeds
q1("SELECT imagestream.tag('$hh/signed/badpayload/app:latest', 'hostile/app:bad', insecure => true)");
gate('hostile/app:bad', '{ci}');
is(q1("SELECT status || ' ' || coalesce(reason, '-') FROM imagestream.import_image('hostile/app:bad')"), 'Success -',
	'import_image of a gated tag whose signatures are refused: the import succeeds');
my $hostile_image = q1("SELECT image FROM imagestream.tag WHERE namespace = 'hostile' AND name = 'bad'");
is(signatures_of($hostile_image), '0', 'and keeps no signature');
q1("SELECT imagestream.tag('$hh/signed/app:latest', 'hostile/app:good', insecure => true)");
gate('hostile/app:good', '{ci}');
is(q1("SELECT status FROM imagestream.import_image('hostile/app:good')"), 'Success', 'one whose signatures are good');
is(signatures_of($hostile_image), '2', 'keeps its two');

# ---------------------------------------------------------------------------
# The worker
# ---------------------------------------------------------------------------

# Sets the worker on or off and waits until it took it up (045_shared_checks.pl).
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

# a scheduled tag without a gate: its image's signatures are not looked up
my $w1 = $reg->push_image('org/work', 'w', content => 'work one');
$reg->push_signature('org/work', $w1->{digest}, key => $p256);
# a stream of 20 tags of one reference (recorded together), the last 10 gated
my $f1 = $reg->push_image('org/fleet', 'latest', content => 'fleet one');
$reg->push_signature('org/fleet', $f1->{digest}, key => $p256);
q1("BEGIN; SELECT imagestream.tag('$h/org/work:w', 'wk/app:w', scheduled => true, insecure => true);"
	  . join('', map { sprintf("SELECT imagestream.tag('$h/org/fleet:latest', 'fl/s:t%02d', scheduled => true, insecure => true);", $_) } 0 .. 19)
	  . join('', map { sprintf("INSERT INTO imagestream.tag_gate (tag_id, signed_by) SELECT id, '{ci}' FROM imagestream.tag WHERE namespace = 'fl' AND name = 't%02d';", $_) } 10 .. 19)
	  . 'COMMIT');
$proxy->reset_log;
ok(worker_enabled('on'), 'the worker is on');
ok(defined wait_for($node, "SELECT count(*) FROM imagestream.tag WHERE image::text = '$f1->{digest}'", '20', 60),
	'it imports the 20 tags of the fleet');
ok(defined wait_for($node, "SELECT image FROM imagestream.tag WHERE namespace = 'wk'", $w1->{digest}, 60),
	'and the tag without a gate');
is(signatures_of($f1->{digest}), '1', 'the gated tags\' image has its signature kept');
is(scalar(() = requests('org/fleet') =~ /referrers/g), 1, 'looked up by one fetch, for the 10 gated tags');
is(scalar(() = requests('org/fleet') =~ /GET manifests\/sha256:/g), 2,
	'the image fetched twice by digest: for the gated tags, and for the others');
is(signatures_of($w1->{digest}), '0', 'the ungated tag\'s image: not looked up');
is(scalar(() = requests('org/work') =~ /referrers|\.sig/g), 0, 'not one request for it');

# the ungated tag, checked unchanged, is kept by the worker; a gate set then
# reaches it (the due queue), and its next new image is looked up
my ($c0) = split /\|/, q1('SELECT tags_checked FROM imagestream.worker_status');
ok(defined wait_for($node, "SELECT tags_checked >= $c0 + 40 FROM imagestream.worker_status", 't', 60),
	'the tags are checked again, unchanged');
gate('wk/app:w', '{ci}');
# (the worker took the due queue, and a round began after it: no check of
# the tag from before the gate is under way when its image moves)
ok(defined wait_for($node, 'SELECT count(*) FROM imagestream.worker_queue', '0', 30), 'the due queue names it, the worker takes it');
($c0) = split /\|/, q1('SELECT tags_checked FROM imagestream.worker_status');
ok(defined wait_for($node, "SELECT tags_checked >= $c0 + 42 FROM imagestream.worker_status", 't', 60),
	'and checks the tags again');
my $w2 = $reg->push_image('org/work', 'w', content => 'work two');
$reg->push_signature('org/work', $w2->{digest}, key => $ed);
ok(defined wait_for($node, "SELECT image FROM imagestream.tag WHERE namespace = 'wk'", $w2->{digest}, 60),
	'a gate set on it, it moves to its new image');
is(signatures_of($w2->{digest}), '1', 'whose signature is looked up and kept');
ok(worker_enabled('off'), 'the worker is off');

invariants_hold($node);
assert_no_crash($node);
$node->stop;
done_testing();
