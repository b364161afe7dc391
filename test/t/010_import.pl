# import_image against a real registry (Debian's docker-registry on
# 127.0.0.1, plain HTTP): single tags, unchanged and changed re-imports,
# OCI and Docker manifests, manifest lists in both import modes, dry runs,
# all_tags with ordering and the bulk limit, policy settings.
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);

use ImagestreamTest qw(start_node invariants_hold assert_no_crash);
use RegistryTest;

# (wal_level replica: the unchanged re-import's WAL is read over a window
# that a replication slot keeps)
my $node = start_node('import', conf => 'wal_level = replica');
$node->append_conf('postgresql.conf', "imagestream.blocked_networks = ''");
$node->reload;
$node->safe_psql('postgres', 'ALTER DATABASE postgres SET search_path TO public, imagestream');
my $reg = RegistryTest->start();
my $host = $reg->host;

sub q1 { return $node->safe_psql('postgres', shift) }

sub import_row
{
	my ($args) = @_;
	return q1("SELECT status || '|' || coalesce(reason, '') || '|' || coalesce(image::text, '')
			   FROM imagestream.import_image($args, confirm => true)");
}

my $v1 = $reg->push_image('org/app', 'v1', content => 'one', labels => { 'imagestream.test' => 'one' });
is($reg->manifest_digest('org/app', 'v1'), $v1->{digest}, 'the registry serves what was pushed');

# the default blocked networks refuse loopback; plain HTTP needs insecure
like(q1("SET imagestream.blocked_networks = '127.0.0.0/8,169.254.0.0/16,::1/128,fe80::/10';
		 SELECT reason || ': ' || message FROM imagestream.import_image('im/app:blocked', '$host/org/app:v1', insecure => true, confirm => true)"),
	qr/^Forbidden: .*127\.0\.0\.1 is in imagestream\.blocked_networks/,
	'the default blocked_networks refuses 127.0.0.1');
my $port = $reg->port;
like(q1("SET imagestream.blocked_networks = '127.0.0.0/8,::1/128';
		 SELECT reason || ': ' || message FROM imagestream.import_image('im/app:blocked-name', 'localhost:$port/org/app:v1', insecure => true, confirm => true)"),
	qr/^Forbidden: .*(127\.0\.0\.1|::1) is in imagestream\.blocked_networks/,
	'a host name resolving to a blocked address is refused');
like(q1("SET imagestream.blocked_networks = '127.0.0.0/8,::1/128';
		 SELECT reason || ': ' || message FROM imagestream.import_image('im/app:blocked-v6', '[::1]:$port/org/app:v1', insecure => true, confirm => true)"),
	qr/^Forbidden: .*::1 is in imagestream\.blocked_networks/, 'an IPv6 address in a blocked network is refused');
# (blocked_networks names IPv4 networks alone: the connection is refused as
# the IPv4 address it carries, before any connection is made)
is(q1("SET imagestream.blocked_networks = '127.0.0.0/8';
		 SELECT reason || ': ' || message FROM imagestream.import_image('im/app:blocked-v4', '[::ffff:7f00:1]:$port/org/app:v1', insecure => true, confirm => true)"),
	"Forbidden: The connection to [::ffff:7f00:1]:$port was refused: address ::ffff:127.0.0.1 is in imagestream.blocked_networks.",
	'an IPv4-mapped IPv6 address is judged as IPv4');
like(import_row("'im/app:plain', '$host/org/app:v1'"), qr/^Failure\|InsecureRequired\|/,
	'an HTTP-only registry without insecure is InsecureRequired');
is(import_row("'im/app:v1', '$host/org/app:v1', insecure => true"), "Success||$v1->{digest}",
	'a tag is imported; its digest is the registry\'s');
is(q1("SELECT imagestream.resolve('im/app:v1')::text"), "$host/org/app\@$v1->{digest}",
	'resolve gives the pull spec by digest');
is(q1("SELECT import_status IS NULL AND NOT pending AND insecure FROM imagestream.image_stream_tags WHERE tag = 'v1'"),
	't', 'the failure conditions are gone, the tag is not pending, insecure stays');
is(q1("SELECT os || '/' || architecture || ' ' || cardinality(layers) || ' ' || (labels->>'imagestream.test')
	   FROM imagestream.images WHERE digest = '$v1->{digest}'"),
	'linux/amd64 1 one', 'the catalogue has the config and layers');

# unchanged: nothing is written (the tag row keeps its version)
my $before = q1("SELECT xmin::text || (SELECT max(id) FROM imagestream.change) FROM imagestream.tag WHERE name = 'v1'");
my $window = ImagestreamTest::wal_window_open($node);
is(import_row("'im/app:v1'"), "Success||$v1->{digest}", 'an unchanged re-import succeeds');
is(join("\n", ImagestreamTest::wal_window_writes($node, $window)), '',
	'it writes no WAL to the extension\'s relations');
is(q1("SELECT xmin::text || (SELECT max(id) FROM imagestream.change) FROM imagestream.tag WHERE name = 'v1'"),
	$before, 'and writes nothing');

# an upstream rebuild: a new head event and a notification
my $listener = $node->background_psql('postgres');
$listener->query_safe('LISTEN imagestream');
my $v1b = $reg->push_image('org/app', 'v1', content => 'one, rebuilt');
isnt($v1b->{digest}, $v1->{digest}, 'the rebuild has a new digest');
is(import_row("'im/app:v1'"), "Success||$v1b->{digest}", 'the re-import finds the new digest');
is(q1("SELECT string_agg(position || ':' || image::text, ' ' ORDER BY position) FROM imagestream.history('im/app:v1')"),
	"0:$v1b->{digest} 1:$v1->{digest}", 'the new image is prepended to the history');
# (the payload is the id alone, a hint: the listener reads the change)
my @ids = $listener->query_safe('SELECT 1') =~ /Asynchronous notification "imagestream" with payload "\{"id": (\d+)\}"/g;
is(scalar(@ids), 1, 'a listener is told');
is(q1("SELECT image FROM imagestream.changes_since(" . (($ids[0] // 1) - 1) . ", 1)"), $v1b->{digest},
	'and reads the new image with changes_since');
$listener->quit;

# dry run: contacts the registry, writes nothing
my $v2 = $reg->push_image('org/app', 'v2', content => 'two', format => 'oci');
is(import_row("'im/app:v2', '$host/org/app:v2', insecure => true, dry_run => true"), "Success||$v2->{digest}",
	'a dry run reports what it would import');
is(q1("SELECT count(*) FROM imagestream.image_stream_tags WHERE tag = 'v2'"), '0', 'and writes nothing');
is(import_row("'im/app:v2', '$host/org/app:v2', insecure => true"), "Success||$v2->{digest}",
	'an OCI image manifest is imported');
is(q1("SELECT media_type FROM imagestream.images WHERE digest = '$v2->{digest}'"),
	'application/vnd.oci.image.manifest.v1+json', 'with its media type');

# a missing tag is a Failure row, not an error, and keeps nothing but the condition
is(import_row("'im/app:nope', '$host/org/app:nope', insecure => true"), 'Failure|NotFound|',
	'a missing tag is NotFound');

# manifest lists: Legacy picks a child, PreserveOriginal keeps the list
for my $format ('docker', 'oci')
{
	my $amd = $reg->push_image('org/multi', undef, content => "amd $format", arch => 'amd64');
	my $arm = $reg->push_image('org/multi', undef, content => "arm $format", arch => 'arm64', variant => 'v8');
	my $list = $reg->push_index('org/multi', $format, [ $amd, $arm ], format => $format);
	is(import_row("'im/multi:$format', '$host/org/multi:$format', insecure => true"),
		"Success||$amd->{digest}", "$format list, Legacy: the linux/amd64 child");
	is(q1("SET imagestream.preferred_platform = 'linux/arm64';
		   SELECT image FROM imagestream.import_image('im/multi:$format-arm', '$host/org/multi:$format', insecure => true, confirm => true)"),
		$arm->{digest}, "$format list, Legacy: imagestream.preferred_platform chooses");
	# the tag's prefer-arch annotation comes before the setting
	q1("SELECT imagestream.tag('$host/org/multi:$format', 'im/multi:$format-pref', insecure => true);
		SELECT imagestream.set_annotations('im/multi:$format-pref',
			'{\"importer.image.openshift.io/prefer-arch\": \"arm64\"}')");
	is(q1("SELECT image FROM imagestream.import_image('im/multi:$format-pref')"), $arm->{digest},
		"$format list, Legacy: the prefer-arch annotation chooses");
	is(import_row("'im/multi:$format-all', '$host/org/multi:$format', insecure => true, import_mode => 'PreserveOriginal'"),
		"Success||$list->{digest}", "$format list, PreserveOriginal: the list itself");
	is(q1("SELECT string_agg(coalesce(os, '?') || '/' || coalesce(architecture, '?'), ',' ORDER BY architecture)
		   FROM imagestream.images WHERE digest IN ('$amd->{digest}', '$arm->{digest}')"),
		'linux/amd64,linux/arm64', "$format list: every child is catalogued");
	is(q1("SELECT cardinality(manifests) FROM imagestream.images WHERE digest = '$list->{digest}'"), '2',
		"$format list: the index lists its children");
}

# all_tags: OpenShift's order, the bulk limit, Skipped rows
my @tags = ('latest', '1.0', '1.1', '2.0.0', '2.1.0', 'alpha', 'beta');
$reg->push_many_tags('org/many', scalar(@tags), tags => \@tags);
is(q1("SELECT string_agg(tag || ':' || status, ' ' ORDER BY ord)
	   FROM imagestream.import_image('im/many', '$host/org/many', all_tags => true, insecure => true, confirm => true)
	   WITH ORDINALITY AS r(tag, status, image, ref, reason, message, metadata, ord)"),
	'latest:Success 1.1:Success 1.0:Success 2.1.0:Success 2.0.0:Success alpha:Success beta:Success',
	'all tags, in OpenShift\'s order');
is(q1("SET imagestream.max_bulk_import = 3;
	   SELECT string_agg(status, ',' ORDER BY status) FROM imagestream.import_image('im/many2', '$host/org/many', all_tags => true, insecure => true, confirm => true)"),
	'Skipped,Skipped,Skipped,Skipped,Success,Success,Success', 'tags over max_bulk_import are Skipped');

$reg->push_many_tags('org/thousand', 1000);
is(q1("SET imagestream.max_bulk_import = -1;
	   SELECT count(*) FILTER (WHERE status = 'Success') FROM imagestream.import_image('im/thousand', '$host/org/thousand', all_tags => true, insecure => true, confirm => true)"),
	'1000', 'a repository of 1,000 tags is imported whole');

# all tags that serve one image: a HEAD per tag, concurrently, then the image
# fetched once for all of them
my @same = map { "s$_" } 1 .. 20;
my $same = $reg->push_many_tags('org/same', 20, tags => \@same);
my $log_from = -s $reg->log_file;
is(q1("SELECT count(*) FILTER (WHERE status = 'Success' AND image::text = '$same->{digest}')
	   FROM imagestream.import_image('im/same', '$host/org/same', all_tags => true, insecure => true, confirm => true)"),
	'20', 'all tags of one image imported');
# the registry logs a request as it ends: read its log until the last
# request (the config) is there, then count
sub access_since
{
	my ($r, $from, $repo) = @_;
	open(my $lf, '<', $r->log_file) or die "cannot open the registry's log: $!";
	seek($lf, $from, 0);
	my @lines = grep { m{"[A-Z]+ /v2/\Q$repo\E/} } <$lf>;
	close $lf;
	return @lines;
}
my @access;
my $t0 = time;
while (1)
{
	@access = access_since($reg, $log_from, 'org/same');
	last if (grep { m{"GET /v2/org/same/blobs/} } @access) && (grep { m{"HEAD /v2/org/same/manifests/} } @access) >= 20;
	last if time - $t0 > 30;
	sleep 0.1;
}
is(scalar(grep { m{"HEAD /v2/org/same/manifests/s\d+ } } @access), 20, 'one HEAD per tag');
is(scalar(grep { m{"GET /v2/org/same/manifests/} } @access), 1, 'the shared manifest fetched once');
is(scalar(grep { m{"GET /v2/org/same/blobs/} } @access), 1, 'and its config once');

# one import is one generation (OpenShift's nextGeneration), whatever the
# number of tags: the stream it creates is at 1, a re-import moves it by one
my $gen_of_tags = "SELECT count(DISTINCT status_generation) || ' ' || max(status_generation)
	FROM imagestream.image_stream_tags WHERE namespace = 'im' AND stream = 'same'";
is(q1("SELECT generation FROM imagestream.image_streams WHERE namespace = 'im' AND name = 'same'"), '1',
	'a stream created by an import of 20 tags is at generation 1');
is(q1($gen_of_tags), '1 1', 'and so are its tags');
$reg->push_many_tags('org/same', 20, tags => \@same, content => 'same, rebuilt');
q1("SELECT count(*) FROM imagestream.import_image('im/same', '$host/org/same', all_tags => true, insecure => true, confirm => true)");
is(q1("SELECT generation FROM imagestream.image_streams WHERE namespace = 'im' AND name = 'same'"), '2',
	'a re-import of its 20 moved tags moves it to generation 2');
is(q1($gen_of_tags), '1 2', 'which all its tags carry');

# allowed and blocked registries
like(q1("SET imagestream.allowed_registries = 'quay.io, *.example.com';
		 SELECT reason || ': ' || message FROM imagestream.import_image('im/app:v1', '$host/org/app:v1', insecure => true)"),
	qr/^Forbidden: Registry \Q$host\E is not in imagestream.allowed_registries/, 'allowed_registries is enforced');
like(q1("SET imagestream.blocked_registries = '127.0.0.*';
		 SELECT reason FROM imagestream.import_image('im/app:v1', '$host/org/app:v1', insecure => true)"),
	qr/^Forbidden$/, 'blocked_registries is enforced');
is(q1("SET imagestream.insecure_registries = '127.0.0.1:*';
	   SELECT status FROM imagestream.import_image('im/app:v9', '$host/org/app:v1', confirm => true)"),
	'Success', 'insecure_registries allows plain HTTP');

# bad arguments are errors
my ($ret, $out, $err) = $node->psql('postgres', "SELECT imagestream.import_image('im/app:x', 'Not A Ref')");
like($err, qr/invalid input syntax for type image_ref/, 'a malformed from_image is an error');
($ret, $out, $err) = $node->psql('postgres', "SELECT imagestream.import_image('im/none:x')");
like($err, qr/does not exist/, 'a missing stream without from_image is an error');

$reg->stop;
invariants_hold($node);
assert_no_crash($node);
done_testing();
