# oc's rules for import_image and tag against a real registry (Debian's
# docker-registry on 127.0.0.1, plain HTTP): creating a stream or a tag
# needs confirm, another source is refused; a dry run reports the metadata
# the import then records; tagging the same source again makes the worker
# import it afresh; a copy of an image on imagestream.local_registry moves
# to the destination stream's repository.
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use JSON::PP;

use ImagestreamTest qw(start_node invariants_hold wait_for assert_no_crash);
use RegistryTest;

my $node = start_node('import_rules', worker => 1, conf => qq{
imagestream.blocked_networks = ''
imagestream.max_imports_per_minute = -1
});
my $reg = RegistryTest->start();
my $host = $reg->host;

sub q1 { return $node->safe_psql('postgres', shift) }

# "SQLSTATE message / hint" of $sql's error
sub error_of
{
	my ($sql) = @_;
	my ($ret, $out, $err) = $node->psql('postgres', "\\set VERBOSITY verbose\n$sql");
	my ($state, $msg) = $err =~ /ERROR:\s+(\w{5}): (.*)/;
	my ($hint) = $err =~ /HINT:\s+(.*)/;
	return defined $state ? "$state $msg / " . ($hint // '') : 'no error';
}

my $v1 = $reg->push_image('org/app', 'v1', content => 'one', layers => 2, created => '2024-05-06T07:08:09Z',
	labels => { 'org.example.version' => '1' });
$reg->push_image('org/app', 'v2', content => 'two');

# ---------------------------------------------------------------------------
# confirm: creating a stream or a tag (oc import-image --confirm)
# ---------------------------------------------------------------------------

is(error_of("SELECT * FROM imagestream.import_image('ir/app:v1', '$host/org/app:v1', insecure => true)"),
	'42704 image stream "ir/app" does not exist / Pass confirm => true to create it.',
	'a new stream needs confirm');
is(q1("SELECT count(*) FROM imagestream.image_streams WHERE namespace = 'ir'"), '0', 'and nothing is created');
is(q1("SELECT status FROM imagestream.import_image('ir/app:v1', '$host/org/app:v1', insecure => true, confirm => true)"),
	'Success', 'with confirm it is created and imported');
is(error_of("SELECT * FROM imagestream.import_image('ir/app:v2', '$host/org/app:v2', insecure => true)"),
	'42704 image stream tag "ir/app:v2" does not exist / Pass confirm => true to create it.',
	'a new tag needs confirm');
is(q1("SELECT status FROM imagestream.import_image('ir/app:v2', '$host/org/app:v2', insecure => true, confirm => true)"),
	'Success', 'with confirm it is created and imported');
is(q1("SELECT status FROM imagestream.import_image('ir/app:v1', '$host/org/app:v1')"), 'Success',
	'the same source again needs no confirm');
is(q1("SELECT status FROM imagestream.import_image('ir/app:v1')"), 'Success', 'nor does a re-import');
is(error_of("SELECT * FROM imagestream.import_image('ir/app:v1', '$host/org/app:v2', confirm => true)"),
	qq{55000 image stream tag "ir/app:v1" imports "$host/org/app:v1", not "$host/org/app:v2" / Use tag() to change its source.},
	'another source is refused, even with confirm');
is(q1("SELECT from_ref FROM imagestream.image_stream_tags WHERE namespace = 'ir' AND tag = 'v1'"),
	"$host/org/app:v1", 'and the tag keeps its source');
# an alias imports the tag it follows, and never re-points it
q1("SELECT imagestream.tag('app:v1', 'ir/app:stable', alias => true)");
is(q1("SELECT tag || ' ' || status FROM imagestream.import_image('ir/app:stable')"), 'v1 Success',
	'a re-import of an alias imports the tag at the end of its chain');
like(error_of("SELECT * FROM imagestream.import_image('ir/app:stable', '$host/org/app:v2', confirm => true)"),
	qr/^55000 image stream tag "ir\/app:stable" imports/, 'an alias with another source is refused');
is(q1("SELECT string_agg(tag || '=' || from_ref, ' ' ORDER BY tag) FROM imagestream.image_stream_tags
	   WHERE namespace = 'ir' AND stream = 'app'"),
	"stable=ir/app:v1 v1=$host/org/app:v1 v2=$host/org/app:v2", 'and no tag changed its source');
# all tags of a repository into an existing stream
like(error_of("SELECT * FROM imagestream.import_image('ir/app', '$host/org/app', all_tags => true, insecure => true)"),
	qr/^55000 image stream "ir\/app" does not import repository .* \/ Pass confirm => true/,
	'all tags of a repository into an existing stream need confirm');
is(q1("SELECT string_agg(tag || ':' || status, ' ' ORDER BY tag)
	   FROM imagestream.import_image('ir/app', '$host/org/app', all_tags => true, insecure => true, confirm => true)"),
	'v1:Success v2:Success', 'with confirm they are imported');

# ---------------------------------------------------------------------------
# dry runs report the metadata the import records
# ---------------------------------------------------------------------------

my $json = JSON::PP->new->canonical;
sub metadata_of
{
	my ($args) = @_;
	return $json->decode(q1("SELECT metadata FROM imagestream.import_image($args)"));
}
# what the catalogue holds, in the same form
sub recorded
{
	my ($digest) = @_;
	return $json->decode(q1(qq{SELECT jsonb_strip_nulls(jsonb_build_object('mediaType', media_type,
		'platforms', (SELECT to_jsonb(platforms) FROM imagestream.history(h.t) WHERE position = 0),
		'created', created, 'labels', labels, 'size', size,
		'layerCount', CASE WHEN coalesce(cardinality(manifests), 0) = 0 THEN cardinality(layers) END))
		FROM imagestream.images,
			(SELECT namespace || '/' || stream || ':' || tag AS t FROM imagestream.image_stream_tags
			 WHERE image::text = '$digest' LIMIT 1) h
		WHERE digest::text = '$digest'}));
}

my $m = metadata_of("'ir/dry:v1', '$host/org/app:v1', insecure => true, dry_run => true, confirm => true");
is_deeply([ @$m{qw(mediaType platforms layerCount)} ],
	[ 'application/vnd.docker.distribution.manifest.v2+json', ['linux/amd64'], 2 ],
	'a dry run reports the media type, platform and layer count');
is_deeply($m->{labels}, { 'org.example.version' => '1' }, 'and the labels');
is(q1("SELECT '$m->{created}'::timestamptz = '2024-05-06T07:08:09Z'"), 't', 'and when the image was created');
my $size = length($v1->{config}) + (eval { my $s = 0; $s += length($_) for @{ $v1->{layers} }; $s });
is($m->{size}, $size, 'and its size: the layers and the config');
is(q1("SELECT count(*) FROM imagestream.image_streams WHERE namespace = 'ir' AND name = 'dry'"), '0',
	'and writes nothing');
is(q1("SELECT status FROM imagestream.import_image('ir/dry:v1', '$host/org/app:v1', insecure => true, confirm => true)"),
	'Success', 'the same import, for real');
is_deeply($m, recorded($v1->{digest}), 'records what the dry run reported');
is_deeply(metadata_of("'ir/dry:v1', dry_run => true"), $m,
	'a dry run of the unchanged tag reports it from the catalogue');
is(q1("SELECT count(*) FROM imagestream.import_image('ir/dry:v1') WHERE metadata IS NULL"), '1',
	'an import that is no dry run reports no metadata');

# a manifest list: Legacy reports the child it takes, PreserveOriginal the index
my $amd = $reg->push_image('org/multi', undef, content => 'amd', arch => 'amd64');
my $arm = $reg->push_image('org/multi', undef, content => 'arm', arch => 'arm64', variant => 'v8');
my $list = $reg->push_index('org/multi', 'v1', [ $amd, $arm ], format => 'oci');
$m = metadata_of("'ir/multi:legacy', '$host/org/multi:v1', insecure => true, dry_run => true, confirm => true");
is_deeply([ @$m{qw(platforms layerCount)} ], [ ['linux/amd64'], 1 ], 'Legacy: the linux/amd64 child');
$m = metadata_of("'ir/multi:all', '$host/org/multi:v1', insecure => true, dry_run => true, confirm => true,
	import_mode => 'PreserveOriginal'");
is_deeply($m, { mediaType => 'application/vnd.oci.image.index.v1+json',
		platforms => [ 'linux/amd64', 'linux/arm64/v8' ], size => length($list->{manifest}) },
	'PreserveOriginal: the index, its platforms and size');
q1("SELECT * FROM imagestream.import_image('ir/multi:all', '$host/org/multi:v1', insecure => true, confirm => true,
	import_mode => 'PreserveOriginal')");
is_deeply($m, recorded($list->{digest}), 'as the import records it');

# ---------------------------------------------------------------------------
# tagging the same source again requests a fresh import (generation reset)
# ---------------------------------------------------------------------------

my $r1 = $reg->push_image('org/re', 'v1', content => 're one');
q1("SELECT imagestream.tag('$host/org/re:v1', 'ir/re:v1', insecure => true)");
ok(defined wait_for($node, "SELECT image FROM imagestream.image_stream_tags WHERE stream = 're' AND NOT pending",
		$r1->{digest}, 30), 'the worker imports a new tag');
my $r2 = $reg->push_image('org/re', 'v1', content => 're two');
my $gen = q1("SELECT spec_generation FROM imagestream.image_stream_tags WHERE stream = 're'");
q1("SELECT imagestream.tag('$host/org/re:v1', 'ir/re:v1', insecure => true)");
# (the worker, woken at commit, may have imported it already)
is(q1("SELECT spec_generation > $gen FROM imagestream.image_stream_tags WHERE stream = 're'"),
	't', 'tagging the same source again moves the tag\'s generation: an import is requested');
ok(defined wait_for($node, "SELECT image FROM imagestream.image_stream_tags WHERE stream = 're' AND NOT pending",
		$r2->{digest}, 30), 'and the worker imports it afresh, finding the rebuild');
is(q1("SELECT count(*) FROM imagestream.history('ir/re:v1')"), '2', 'a new event');

# ---------------------------------------------------------------------------
# copies of a local-registry image (OpenShift's tagsChanged)
# ---------------------------------------------------------------------------

$node->safe_psql('postgres', "ALTER SYSTEM SET imagestream.local_registry = '$host'");
$node->reload;
my $own = $reg->push_image('lr/src', 'v1', content => 'local one');
is(q1("SELECT status FROM imagestream.import_image('lr/src:v1', '$host/lr/src:v1', insecure => true, confirm => true)"),
	'Success', 'an image of the local registry, under its stream\'s repository');
q1("SELECT imagestream.tag('lr/src:v1', 'lr2/dst:v1');
	SELECT imagestream.tag('lr/src\@$own->{digest}', 'lr2/dst:byid');
	SELECT imagestream.tag('lr/src:v1', 'lr2/dst:ref', reference => true)");
is(q1("SELECT string_agg(tag || ' ' || docker_image_reference::text, ', ' ORDER BY tag)
	   FROM imagestream.image_stream_tags WHERE namespace = 'lr2'"),
	"byid $host/lr2/dst\@$own->{digest}, ref $host/lr/src\@$own->{digest}, v1 $host/lr2/dst\@$own->{digest}",
	'a copy into another namespace is recorded under the destination stream\'s repository (not a reference tag)');
is(q1("SELECT imagestream.resolve('lr2/dst:v1')::text"), "$host/lr2/dst\@$own->{digest}",
	'and resolves there');
is(q1("SELECT imagestream.resolve('lr/src:v1')::text"), "$host/lr/src\@$own->{digest}", 'the source is unchanged');
q1("SELECT imagestream.tag('ir/app:v1', 'lr2/dst:external')");
is(q1("SELECT docker_image_reference::text FROM imagestream.image_stream_tags WHERE namespace = 'lr2' AND tag = 'external'"),
	"$host/org/app\@$v1->{digest}", 'an image of another repository keeps its pull spec');

$reg->stop;
invariants_hold($node);
assert_no_crash($node);
done_testing();
