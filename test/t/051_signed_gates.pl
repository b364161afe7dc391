# The signature gate end to end (issue 21; doc/gates.md, "Signatures";
# doc/security.md section 11): cosign signatures written with openssl as
# cosign's documentation does it and pushed to the real registry under
# sha256-<hex>.sig (Debian's registry has no referrers API: it answers 404,
# and the lookup falls back to the tag).  The worker moves a tag only to an
# image signed by a trusted key; an unsigned image, one signed by an
# untrusted key, a trusted signature whose payload names another digest,
# and a signature of a child but not of the index are refused, the
# known-good image kept; a namespace's own key shadows a server-wide one.
use strict;
use warnings;

use File::Temp qw(tempdir);
use PostgreSQL::Test::Utils;
use Test::More;

use ImagestreamTest qw(start_node wait_for assert_no_crash invariants_hold);
use RegistryTest;

my ($ok, $why) = RegistryTest->available();
plan skip_all => $why unless $ok;

my $node = start_node('signed', worker => 1, conf => q{
imagestream.blocked_networks = ''
imagestream.import_interval = '1s'
imagestream.max_imports_per_minute = -1
});
sub q1 { return $node->safe_psql('postgres', shift) }

my $reg = RegistryTest->start();
my $h = $reg->host;
my $dir = tempdir(CLEANUP => 1);
my $release = RegistryTest::make_signing_key($dir, type => 'p256', name => 'release');
my $team = RegistryTest::make_signing_key($dir, type => 'ed25519', name => 'team');
my $stranger = RegistryTest::make_signing_key($dir, type => 'p256', name => 'stranger');

ok(defined wait_for($node, 'SELECT count(*) FROM imagestream.worker_status', '1', 30), 'the worker runs');
q1("SELECT imagestream.add_trusted_key('release', \$k\$$release->{public_pem}\$k\$)");
q1("SELECT imagestream.add_trusted_key('team', \$k\$$team->{public_pem}\$k\$, 'gt')");

sub state
{
	my ($tag) = @_;
	return q1("SELECT coalesce(image::text, '(none)') || ' ' || coalesce(import_reason, '-')
			   FROM imagestream.image_stream_tags WHERE namespace = 'gt' AND tag = '$tag'");
}

sub wait_reason
{
	my ($tag, $reason, $what) = @_;
	ok(defined wait_for($node, "SELECT import_reason FROM imagestream.image_stream_tags
							   WHERE namespace = 'gt' AND tag = '$tag'", $reason, 30), $what);
}

sub detail
{
	my ($tag) = @_;
	return q1("SELECT detail FROM imagestream.gates('gt/app:$tag') WHERE gate = 'signed_by'");
}

# --- an unsigned image is refused; once signed by the release key, let through
my $one = $reg->push_image('org/signed', 'v1', content => 'signed one');
q1("BEGIN; SELECT imagestream.tag('$h/org/signed:v1', 'gt/app:sig', scheduled => true, insecure => true);
	SELECT imagestream.set_gates('gt/app:sig', signed_by => '{release}'); COMMIT");
wait_reason('sig', 'GateFailed', 'an unsigned image: GateFailed');
is(state('sig'), '(none) GateFailed', 'and no image');
like(detail('sig'), qr/^No signature of \Q$one->{digest}\E was found\.$/, 'gates() says no signature was found');
$reg->push_signature('org/signed', $one->{digest}, key => $release);
ok(defined wait_for($node, "SELECT image FROM imagestream.image_stream_tags WHERE tag = 'sig'", $one->{digest}, 30),
	'signed by the release key: the worker moves the tag');
is(detail('sig'), "$one->{digest} is signed by key \"release\".", 'gates() names the key');
cmp_ok(q1("SELECT count(*) FROM imagestream.image_signature WHERE image::text = '$one->{digest}'"), '>=', 1,
	'the signature is kept in the catalogue');

# --- a new image signed by an untrusted key: refused, the known-good image kept
my $two = $reg->push_image('org/signed', 'v1', content => 'signed two');
$reg->push_signature('org/signed', $two->{digest}, key => $stranger);
wait_reason('sig', 'GateFailed', 'an image signed by an untrusted key: GateFailed');
is(state('sig'), "$one->{digest} GateFailed", 'the signed image stays current');
like(detail('sig'), qr/does not verify/, 'gates() says the signature does not verify');

# --- a trusted signature whose payload names another digest: refused
$reg->push_signature('org/signed', $two->{digest}, key => $release, payload_digest => $one->{digest}, append => 1);
ok(defined wait_for($node, "SELECT detail ~ 'names' FROM imagestream.gates('gt/app:sig') WHERE gate = 'signed_by'",
	't', 30), 'a trusted signature of another digest: still refused, the payload named');
is(state('sig'), "$one->{digest} GateFailed", 'and the signed image stays current');

# --- a namespace's own key: the gate names it, and its signature passes
q1("SELECT imagestream.set_gates('gt/app:sig', signed_by => '{team}')");
$reg->push_signature('org/signed', $two->{digest}, key => $team, append => 1);
ok(defined wait_for($node, "SELECT image FROM imagestream.image_stream_tags WHERE tag = 'sig'", $two->{digest}, 30),
	'signed by the namespace\'s key: the tag moves');
is(q1("SELECT count(*) FROM imagestream.change WHERE namespace = 'gt' AND tag = 'sig' AND event = 'tag_updated'"),
	'2', 'two moves in all: to each signed image, never to another');

# --- an index: a signature of a child is not one of the index
my $amd = $reg->push_image('org/multi', undef, arch => 'amd64', content => 'multi amd64');
my $arm = $reg->push_image('org/multi', undef, arch => 'arm64', content => 'multi arm64');
my $index = $reg->push_index('org/multi', 'v1', [ $amd, $arm ], format => 'oci');
$reg->push_signature('org/multi', $amd->{digest}, key => $release);
q1("BEGIN; SELECT imagestream.tag('$h/org/multi:v1', 'gt/app:multi', scheduled => true, insecure => true);
	SELECT imagestream.set_gates('gt/app:multi', signed_by => '{release}'); COMMIT");
wait_reason('multi', 'GateFailed', 'an index whose child alone is signed: GateFailed (Legacy picks the child)');
like(detail('multi'), qr/^No signature of \Q$index->{digest}\E was found\.$/,
	'the signature looked for is the index\'s, what the source served');
$reg->push_signature('org/multi', $index->{digest}, key => $release);
ok(defined wait_for($node, "SELECT image FROM imagestream.image_stream_tags WHERE tag = 'multi'", $amd->{digest}, 30),
	'the index signed: the tag moves to its amd64 child');

# --- add_trusted_key and the gate together: a key added later is seen at the next check
my $three = $reg->push_image('org/later', 'v1', content => 'later one');
my $late = RegistryTest::make_signing_key($dir, type => 'p256', name => 'late');
$reg->push_signature('org/later', $three->{digest}, key => $late);
q1("BEGIN; SELECT imagestream.tag('$h/org/later:v1', 'gt/app:later', scheduled => true, insecure => true);
	SELECT imagestream.set_gates('gt/app:later', signed_by => '{release}'); COMMIT");
wait_reason('later', 'GateFailed', 'signed by a key not trusted yet: GateFailed');
q1("SELECT imagestream.add_trusted_key('late', \$k\$$late->{public_pem}\$k\$, 'gt')");
q1("SELECT imagestream.set_gates('gt/app:later', signed_by => '{release,late}')");
ok(defined wait_for($node, "SELECT image FROM imagestream.image_stream_tags WHERE tag = 'later'", $three->{digest}, 30),
	'the key trusted and named: the tag moves');

invariants_hold($node);
assert_no_crash($node);
$node->stop;
done_testing();
