# Gates against the real registry and the worker (issue 21; doc/gates.md):
# a tag whose gates refuse what its source serves keeps its known-good
# image with GateFailed; PreserveOriginal indexes with and without arm64
# under a platforms gate; a candidate that is too young waits (GatePending)
# and the worker lets it through once old enough, though the tag is not
# scheduled; an approval gate waits for a namespace admin, whose approve()
# moves the tag in its own transaction and is named in the change log;
# import_image reports the gate; the worker applies a namespace's
# retention rule.  Signatures are in 050_signature_fetch.pl
# and 051_signed_gates.pl.
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(sleep);

use ImagestreamTest qw(start_node wait_for assert_no_crash invariants_hold);
use RegistryTest;

my ($ok, $why) = RegistryTest->available();
plan skip_all => $why unless $ok;

my $node = start_node('gates', worker => 1, conf => q{
imagestream.blocked_networks = ''
imagestream.import_interval = '2s'
imagestream.max_imports_per_minute = -1
});
sub q1 { return $node->safe_psql('postgres', shift) }

my $reg = RegistryTest->start();
my $h = $reg->host;

ok(defined wait_for($node, 'SELECT count(*) FROM imagestream.worker_status', '1', 30), 'the worker runs');
q1(q{CREATE ROLE gate_admin; CREATE ROLE gate_editor;
	SELECT imagestream.grant_namespace('gt', 'gate_admin', 'admin');
	SELECT imagestream.grant_namespace('gt', 'gate_editor', 'edit')});

# A tag created with its gates in one transaction: the worker's first
# import of it already asks them.
sub gated_tag
{
	my ($source, $tag, $tag_options, $gates) = @_;
	q1("BEGIN; SELECT imagestream.tag('$h/$source', 'gt/app:$tag', insecure => true$tag_options);
		SELECT imagestream.set_gates('gt/app:$tag', $gates); COMMIT");
}

sub state
{
	my ($tag) = @_;
	return q1("SELECT coalesce(image::text, '(none)') || ' ' || coalesce(import_reason, '-')
			   FROM imagestream.image_stream_tags WHERE namespace = 'gt' AND tag = '$tag'");
}

# --- platforms: a PreserveOriginal index without arm64 is refused, one with it let through
my $amd = $reg->push_image('org/multi', undef, arch => 'amd64', content => 'multi amd64');
my $arm = $reg->push_image('org/multi', undef, arch => 'arm64', content => 'multi arm64');
my $only = $reg->push_index('org/multi', 'v1', [$amd], format => 'oci');
gated_tag('org/multi:v1', 'multi', ", scheduled => true, import_mode => 'PreserveOriginal'",
	"platforms => '{linux/amd64,linux/arm64/v8}'");
ok(defined wait_for($node, "SELECT import_reason FROM imagestream.image_stream_tags WHERE tag = 'multi'",
	'GateFailed', 30), 'an index without arm64: GateFailed');
is(state('multi'), '(none) GateFailed', 'and the tag has no image');
is(q1("SELECT passed || ' ' || candidate || ' ' || detail FROM imagestream.gates('gt/app:multi')"),
	"false $only->{digest} It offers linux/amd64, not linux/arm64/v8.", 'gates() names what is missing');
my $both = $reg->push_index('org/multi', 'v1', [ $amd, $arm ], format => 'oci');
ok(defined wait_for($node, "SELECT image FROM imagestream.image_stream_tags WHERE tag = 'multi'",
	$both->{digest}, 30), 'an index with amd64 and arm64 pushed: the scheduled check moves the tag to it');
is(state('multi'), "$both->{digest} -", 'its condition cleared');

# the source goes back to the index without arm64: the known-good image stays
$reg->push_index('org/multi', 'v1', [$amd], format => 'oci');
ok(defined wait_for($node, "SELECT import_reason FROM imagestream.image_stream_tags WHERE tag = 'multi'",
	'GateFailed', 30), 'the source serves the index without arm64 again: GateFailed');
is(state('multi'), "$both->{digest} GateFailed", 'and the tag keeps the image that passed');
is(q1("SELECT string_agg(event || coalesce(':' || reason, ''), ' ' ORDER BY id)
	   FROM imagestream.change WHERE namespace = 'gt' AND tag = 'multi'"),
	'import_failed:GateFailed tag_updated import_failed:GateFailed',
	'the change log: refused, moved, refused, and no move to the refused image');

# --- age: the worker lets a young candidate through once old enough, though
# the tag is not scheduled (no import asks again)
my $young = $reg->push_image('org/young', 'v1', content => 'young one');
gated_tag('org/young:v1', 'young', '', "min_age => '4 seconds'");
ok(defined wait_for($node, "SELECT import_reason FROM imagestream.image_stream_tags WHERE tag = 'young'",
	'GatePending', 30), 'a young image: GatePending');
ok(defined wait_for($node, "SELECT image FROM imagestream.image_stream_tags WHERE tag = 'young'",
	$young->{digest}, 30), 'the worker moves the tag once the image is old enough');
is(q1("SELECT c.at >= s.first_seen + interval '4 seconds'
	   FROM imagestream.change c JOIN imagestream.gate_seen s ON s.image::text = c.image::text
	   WHERE c.namespace = 'gt' AND c.tag = 'young' AND c.event = 'tag_updated' AND s.namespace = 'gt'"), 't',
	'not before: the move comes 4 s or more after the namespace first saw the digest');
is(q1("SELECT actor || ' ' || coalesce(via, '-') FROM imagestream.change
	   WHERE namespace = 'gt' AND tag = 'young' AND event = 'tag_updated'"), 'imagestream worker -',
	'the worker made the move');
is(q1("SELECT count(*) FROM imagestream.gate_candidate"), '1', 'no candidate left but the refused index');

# --- approval: a namespace admin lets the candidate through, and is named
my $appr = $reg->push_image('org/appr', 'v1', content => 'appr one');
gated_tag('org/appr:v1', 'appr', ', scheduled => true', 'approval => true');
ok(defined wait_for($node, "SELECT import_reason FROM imagestream.image_stream_tags WHERE tag = 'appr'",
	'GatePending', 30), 'an approval gate: GatePending');
is(state('appr'), '(none) GatePending', 'no image until approved');
my ($rc, $out, $err) = $node->psql('postgres',
	"SET ROLE gate_editor; SELECT imagestream.approve('gt/app:appr', '$appr->{digest}')");
like($err, qr/permission denied for namespace "gt"/, 'an editor may not approve');
q1("SET ROLE gate_admin; SELECT imagestream.approve('gt/app:appr', '$appr->{digest}')");
is(state('appr'), "$appr->{digest} -", 'the admin approves: the tag moves in that transaction');
is(q1("SELECT actor || ' ' || via FROM imagestream.change
	   WHERE namespace = 'gt' AND tag = 'appr' AND event = 'tag_updated'"), 'gate_admin approve',
	'the change log names the approver and the route');
my $appr2 = $reg->push_image('org/appr', 'v1', content => 'appr two');
ok(defined wait_for($node, "SELECT candidate FROM imagestream.gates('gt/app:appr')", $appr2->{digest}, 30),
	'the next image upstream is the new candidate');
is(state('appr'), "$appr->{digest} GatePending", 'and waits, the approved image current');
is(q1("SELECT status || ' ' || reason FROM imagestream.import_image('gt/app:appr')"), 'Failure GatePending',
	'import_image reports the gate that holds its import back');

# --- retention: the worker applies a namespace's rule (doc/gates.md, "Retention")
q1("SELECT imagestream.map_image('gt/hist:x', ('$h/org/hist\@sha256:' || repeat(v, 64))::imagestream.image_ref)
	FROM unnest(ARRAY['1', '2', '3']) v");
is(q1("SELECT count(*) FROM imagestream.history('gt/hist:x')"), '3', 'a tag with three events');
q1("SELECT imagestream.set_retention('gt', 1, '0 seconds')");
ok(defined wait_for($node, "SELECT applied_at IS NOT NULL FROM imagestream.retention_rules WHERE namespace = 'gt'",
	't', 30), 'the worker applies the namespace\'s retention rule');
is(q1("SELECT count(*) FROM imagestream.history('gt/hist:x')"), '1', 'and keeps the newest event only');
is(q1("SELECT image FROM imagestream.image_stream_tags WHERE namespace = 'gt' AND stream = 'hist'"),
	'sha256:' . ('3' x 64), 'the current image stays');

invariants_hold($node);
assert_no_crash($node);
$node->stop;
done_testing();
