# A tag's importer.image.openshift.io/prefer-arch and prefer-os annotations
# (set_annotations) choose the child of a real multi-arch index in Legacy
# imports, in import_image and in the worker: before
# imagestream.preferred_platform, which comes before linux/amd64; an empty
# one prefers nothing; without them the old choice holds.  A change of them
# is taken up by the tag's next import (import_image, or the worker's next
# scheduled check), not by one it requests.
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;

use ImagestreamTest qw(start_node invariants_hold wait_for assert_no_crash);
use RegistryTest;

# the worker is off until its own part below turns it on
my $node = start_node('prefer', worker => 1, conf => qq{
imagestream.enable_worker = off
imagestream.blocked_networks = ''
imagestream.request_timeout = '10s'
imagestream.import_interval = '2s'
imagestream.max_imports_per_minute = -1
});
my $reg = RegistryTest->start();
my $host = $reg->host;

sub q1 { return $node->safe_psql('postgres', shift) }

my %child = map { $_ => $reg->push_image('org/multi', undef, os => 'linux', arch => $_, content => "multi $_") }
	qw(amd64 arm64 s390x);
$child{windows} = $reg->push_image('org/multi', undef, os => 'windows', arch => 'amd64', content => 'multi windows');
my $list = $reg->push_index('org/multi', 'v1', [ @child{qw(amd64 arm64 s390x windows)} ], format => 'oci');
my %name = map { $child{$_}{digest} => $_ } keys %child;

sub prefer
{
	my ($tag, %a) = @_;
	my $json = '{' . join(', ', map { qq{"importer.image.openshift.io/prefer-$_": } . (defined $a{$_} ? qq{"$a{$_}"} : 'null') } sort keys %a) . '}';
	return "SELECT imagestream.set_annotations('$tag', '$json');";
}

# the child a tag points at now, by its platform
sub chosen
{
	my ($tag) = @_;
	my ($ns, $stream, $t) = $tag =~ m{^([^/]+)/([^:]+):(.+)$};
	my $image = q1("SELECT image FROM imagestream.image_stream_tags
					WHERE namespace = '$ns' AND stream = '$stream' AND tag = '$t'");
	return $name{$image} // "($image)";
}

sub new_tag
{
	my ($tag, @rest) = @_;
	q1("SELECT imagestream.tag('$host/org/multi:v1', '$tag', insecure => true" . join('', map { ", $_" } @rest) . ')');
}

sub import_tag
{
	my ($tag, $setting) = @_;
	my $set = defined $setting ? "SET imagestream.preferred_platform = '$setting'; " : '';
	return q1("${set}SELECT status || coalesce(' ' || reason, '') FROM imagestream.import_image('$tag')");
}

# import_image
new_tag('pp/app:plain');
is(import_tag('pp/app:plain'), 'Success', 'import_image of a tag without annotations');
is(chosen('pp/app:plain'), 'amd64', 'without annotations: linux/amd64, as before');

new_tag('pp/app:arm');
q1(prefer('pp/app:arm', arch => 'arm64'));
import_tag('pp/app:arm');
is(chosen('pp/app:arm'), 'arm64', 'prefer-arch arm64 picks the arm64 child');

new_tag('pp/app:win');
q1(prefer('pp/app:win', os => 'windows'));
import_tag('pp/app:win');
is(chosen('pp/app:win'), 'windows', 'prefer-os windows picks the windows child (the architecture of the setting)');

new_tag('pp/app:setting');
q1(prefer('pp/app:setting', arch => 'riscv64'));
import_tag('pp/app:setting', 'linux/s390x');
is(chosen('pp/app:setting'), 's390x', 'a preference the index does not list: imagestream.preferred_platform next');

new_tag('pp/app:empty');
q1(prefer('pp/app:empty', arch => ''));
import_tag('pp/app:empty', 'linux/s390x');
is(chosen('pp/app:empty'), 's390x', 'an empty preference prefers nothing: the setting');

new_tag('pp/app:both');
q1(prefer('pp/app:both', os => 'linux', arch => 's390x'));
import_tag('pp/app:both', 'linux/arm64');
is(chosen('pp/app:both'), 's390x', 'prefer-os and prefer-arch together, before the setting');

# a change of preference is taken up by the next import of the unchanged
# index: a new event, not an Unchanged answer
is(import_tag('pp/app:plain'), 'Success', 'a re-import of an unchanged index');
is(chosen('pp/app:plain'), 'amd64', 'keeps its child');
q1(prefer('pp/app:plain', arch => 'arm64'));
is(q1("SELECT pending FROM imagestream.image_stream_tags WHERE namespace = 'pp' AND tag = 'plain'"), 'f',
	'a change of preference requests no import (the tag is not pending)');
import_tag('pp/app:plain');
is(chosen('pp/app:plain'), 'arm64', 'the next import_image chooses again: arm64');
is(q1("SELECT history_length FROM imagestream.image_stream_tags WHERE namespace = 'pp' AND tag = 'plain'"), '2',
	'as a new event');
q1(prefer('pp/app:plain', arch => undef));
import_tag('pp/app:plain');
is(chosen('pp/app:plain'), 'amd64', 'and without the annotation, back to linux/amd64');

# a new index: all tags of the stream at once, one fetch per preference
my %child2 = map { $_ => $reg->push_image('org/multi', undef, os => 'linux', arch => $_, content => "multi2 $_") }
	qw(amd64 arm64 s390x);
$name{ $child2{$_}{digest} } = "$_ (2)" for keys %child2;
$reg->push_index('org/multi', 'v1', [ @child2{qw(amd64 arm64 s390x)} ], format => 'oci');
is(q1("SELECT string_agg(tag || ' ' || status, ', ' ORDER BY tag)
	   FROM imagestream.import_image('pp/app', all_tags => true)"),
	'arm Success, both Success, empty Success, plain Success, setting Success, win Success',
	'all tags of the stream re-imported');
is(join(', ', map { chosen("pp/app:$_") } qw(arm both plain setting)), 'arm64 (2), s390x (2), amd64 (2), amd64 (2)',
	'each tag by its own preference, in one fetch of many');

# the worker
$node->append_conf('postgresql.conf', "imagestream.enable_worker = on\n");
$node->reload;
ok(defined wait_for($node, 'SELECT count(*) FROM imagestream.worker_status', '1', 10), 'the worker runs');
q1("BEGIN;
	SELECT imagestream.tag('$host/org/multi:v1', 'wk/app:arm', scheduled => true, insecure => true);
	" . prefer('wk/app:arm', arch => 'arm64') . "
	SELECT imagestream.tag('$host/org/multi:v1', 'wk/app:plain', scheduled => true, insecure => true);
	SELECT imagestream.tag('$host/org/multi:v1', 'wk/app:still', scheduled => true, insecure => true);
	COMMIT");
ok(defined wait_for($node, "SELECT count(*) FROM imagestream.image_stream_tags WHERE namespace = 'wk' AND image IS NOT NULL",
	'3', 30), 'the worker imports three scheduled tags of one index');
is(join(', ', map { chosen("wk/app:$_") } qw(arm plain still)), 'arm64 (2), amd64 (2), amd64 (2)',
	'the worker: prefer-arch arm64 picks arm64, no annotation linux/amd64');
q1(prefer('wk/app:plain', arch => 's390x'));
ok(defined wait_for($node, "SELECT image FROM imagestream.image_stream_tags WHERE namespace = 'wk' AND tag = 'plain'",
	$child2{s390x}{digest}, 30), "the worker's next scheduled check of the unchanged index chooses again: s390x");
is(join(', ', map { chosen("wk/app:$_") } qw(arm still)), 'arm64 (2), amd64 (2)', 'the other tags keep theirs');
is(q1("SELECT string_agg(tag || ' ' || history_length, ', ' ORDER BY tag) FROM imagestream.image_stream_tags
	   WHERE namespace = 'wk'"), 'arm 1, plain 2, still 1', 'only the changed tag has a new event');
is(q1("SELECT count(*) FROM imagestream.image_stream_tags WHERE import_status = 'False'"), '0', 'no import failed');

invariants_hold($node);
assert_no_crash($node);

done_testing();
