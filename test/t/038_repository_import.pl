# Repository imports (OpenShift spec.dockerImageRepository) against a real
# registry (Debian's docker-registry): import_image(all_tags) remembers the
# repository and, without from_image, lists it again for new upstream tags;
# a scheduled repository is listed by the worker every interval, a page at
# a time (a repository of more tags than one page), and the tags pushed
# between its cycles are imported while the stream's other tags stay as
# they are; listing failures are recorded once.
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);

use ImagestreamTest qw(start_node invariants_hold wait_for assert_no_crash);
use RegistryTest;

# Debian's registry (2.8) sends a whole tag list whatever n asks: the
# imports go through a proxy that pages the lists it forwards, 3 tags a
# page, as distribution 3 does; everything else is the registry's own.
my $reg = RegistryTest->start();
my $host = $reg->host;
my $proxy = RegistryTest->start_proxy(tag_page => 3);
my $node = start_node('repository', worker => 1, conf => qq{
imagestream.blocked_networks = ''
imagestream.import_interval = '1s'
imagestream.max_imports_per_minute = -1
imagestream.request_timeout = '5s'
imagestream.proxy = '@{[ $proxy->url ]}'
});

sub q1 { return $node->safe_psql('postgres', shift) }

sub poll_until
{
	my ($seconds, $cond) = @_;
	my $t0 = time;
	while (1)
	{
		return time - $t0 if $cond->();
		return undef if time - $t0 > $seconds;
		sleep 0.2;
	}
}

# The tags/list requests of $repo the proxy forwarded since its last reset.
sub listings
{
	my ($repo) = @_;
	return grep { $_->{method} eq 'GET' && $_->{target} =~ m{/v2/\Q$repo\E/tags/list} } @{ $proxy->request_log };
}

# The rows of import_image(args): "tag:status[:reason]" in their order.
sub rows
{
	my ($args, $set) = @_;
	return q1(($set // '') . "SELECT string_agg(coalesce(tag, '') || ':' || status || coalesce(':' || reason, ''), ' ' ORDER BY ord)
			   FROM imagestream.import_image($args) WITH ORDINALITY AS r(tag, status, image, ref, reason, message, metadata, ord)");
}

# --- import_image: set, list again, tags gone upstream, dry runs, change ---

$reg->push_image('org/app', $_, content => "app $_") for qw(v1 v2);
is(rows("'ri/app', '$host/org/app', all_tags => true, insecure => true, confirm => true"),
	'v1:Success v2:Success', 'all tags of a repository');
is(q1("SELECT docker_image_repository || ' ' || repository_scheduled FROM imagestream.image_streams
	   WHERE namespace = 'ri' AND name = 'app'"), "$host/org/app false", 'the stream remembers the repository');
my $gen = q1("SELECT generation FROM imagestream.image_streams WHERE namespace = 'ri' AND name = 'app'");
is($gen, '1', 'in the generation that created the stream');

$reg->push_image('org/app', 'v3', content => 'app v3');
is(rows("'ri/app', all_tags => true"),
	'v1:Success v2:Success v3:Success', 'without from_image: the stream\'s tags, and the one new upstream');
is(q1("SELECT from_ref || ' ' || insecure || ' ' || (image IS NOT NULL) FROM imagestream.image_stream_tags
	   WHERE namespace = 'ri' AND stream = 'app' AND tag = 'v3'"),
	"$host/org/app:v3 true true", 'the new tag follows the repository\'s tag, with its policy');
is(q1("SELECT generation FROM imagestream.image_streams WHERE namespace = 'ri' AND name = 'app'"), '2',
	'one generation for the import');

# a dry run reports a new tag and writes nothing
$reg->push_image('org/app', 'v4', content => 'app v4');
my $before = q1("SELECT string_agg(tag || coalesce(image::text, ''), ',' ORDER BY tag) FROM imagestream.image_stream_tags WHERE namespace = 'ri'");
is(rows("'ri/app', all_tags => true, dry_run => true"),
	'v1:Success v2:Success v3:Success v4:Success', 'a dry run lists it too');
is(q1("SELECT string_agg(tag || coalesce(image::text, ''), ',' ORDER BY tag) FROM imagestream.image_stream_tags WHERE namespace = 'ri'"),
	$before, 'and writes nothing');

# max_bulk_import bounds the new tags on their own
$reg->push_image('org/app', $_, content => "app $_") for qw(v5 latest);
is(rows("'ri/app', all_tags => true", 'SET imagestream.max_bulk_import = 2;'),
	'v1:Success v2:Success latest:Success v4:Success v3:Skipped v5:Skipped',
	'max_bulk_import: the stream\'s tags and the new ones each, the new in OpenShift\'s order, the skipped last');

# a tag gone upstream stays, with its image (OpenShift keeps it)
my $v1 = q1("SELECT image FROM imagestream.image_stream_tags WHERE namespace = 'ri' AND tag = 'v1'");
$reg->delete_tag('org/app', 'v1');
like(rows("'ri/app', all_tags => true"),
	qr/(^| )v1:Failure:NotFound( |$)/, 'a tag gone upstream fails its re-import');
is(q1("SELECT image || ' ' || import_reason FROM imagestream.image_stream_tags WHERE namespace = 'ri' AND tag = 'v1'"),
	"$v1 NotFound", 'and keeps its image');

# another from_image replaces the repository; the tags stay
$reg->push_image('org/other', 'o1', content => 'other o1');
is(rows("'ri/app', '$host/org/other', all_tags => true, insecure => true, scheduled => true, confirm => true"),
	'o1:Success', 'an import of all tags of another repository');
is(q1("SELECT docker_image_repository || ' ' || repository_scheduled FROM imagestream.image_streams
	   WHERE namespace = 'ri' AND name = 'app'"), "$host/org/other true", 'replaces the repository, scheduled');
is(q1("SELECT count(*) FROM imagestream.image_stream_tags WHERE namespace = 'ri' AND stream = 'app'"), '7',
	'the other repository\'s tags stay');
q1("SELECT imagestream.set_repository('ri/app', '$host/org/other', insecure => true)");
is(q1("SELECT repository_scheduled FROM imagestream.image_streams WHERE namespace = 'ri' AND name = 'app'"), 'f',
	'set_repository turns its schedule off');

# a listing that fails: one row, the repository's condition, one change row
q1("SELECT imagestream.set_repository('ri/app', '$host/org/missing', insecure => true)");
my $last = q1('SELECT max(id) FROM imagestream.change');
is(rows("'ri/app', all_tags => true"), ':Failure:NotFound',
	'a repository that cannot be listed: one failure row, nothing imported');
q1("SELECT count(*) FROM imagestream.import_image('ri/app', all_tags => true)");
is(q1("SELECT string_agg(event || ' ' || coalesce(tag, '-') || ' ' || docker_image_reference || ' ' || reason, ',')
	   FROM imagestream.changes_since($last)"),
	"import_failed - $host/org/missing NotFound", 'an import_failed change without a tag, once');

# --- the worker: a scheduled repository of more tags than one page ---

$reg->push_many_tags('org/big', 8);
$proxy->reset_log;
is(rows("'ri/big', '$host/org/big', all_tags => true, insecure => true, confirm => true"),
	join(' ', map { "1.0.$_:Success" } reverse 1 .. 8), 'all tags of a repository of three pages');
my @pages = map { $_->{target} } listings('org/big');
is_deeply(\@pages, [ "http://$host/v2/org/big/tags/list?n=1000", "http://$host/v2/org/big/tags/list?n=3&last=1.0.3",
		"http://$host/v2/org/big/tags/list?n=3&last=1.0.6" ], 'one request a page, each following the Link before it');

my $untouched = "SELECT md5(string_agg(tag || image || status_generation || history_length || spec_generation, ',' ORDER BY tag))
	FROM imagestream.image_stream_tags WHERE namespace = 'ri' AND stream = 'big' AND tag LIKE '1.0.%'";
my $sum = q1($untouched);
$proxy->reset_log;
q1("SELECT imagestream.set_repository('ri/big', '$host/org/big', scheduled => true, insecure => true)");
ok(defined poll_until(20, sub { listings('org/big') >= 6 }), 'the worker lists the scheduled repository, every interval');
my @asked = map { $_->{target} } listings('org/big');
is_deeply([ @asked[ 0 .. 2 ] ], \@pages, 'a page at a time, to its end');
is(q1("SELECT count(*) FROM imagestream.image_stream_tags WHERE namespace = 'ri' AND stream = 'big'"), '8',
	'nothing new: nothing added');

# a tag pushed between cycles: added on the listing's second page, imported
my $n1 = $reg->push_image('org/big', 'zz-new', content => 'big zz-new');
my $took = poll_until(30, sub {
	q1("SELECT image FROM imagestream.image_stream_tags WHERE namespace = 'ri' AND tag = 'zz-new'") eq $n1->{digest} });
ok(defined $took, 'a tag pushed upstream is imported by the worker') or diag(q1("SELECT * FROM imagestream.image_stream_tags WHERE tag = 'zz-new'"));
is(q1("SELECT from_ref || ' ' || scheduled || ' ' || insecure FROM imagestream.image_stream_tags
	   WHERE namespace = 'ri' AND tag = 'zz-new'"), "$host/org/big:zz-new true true", 'as a scheduled tag of the repository');
is(q1("SELECT count(*) FROM imagestream.changes_since(0) WHERE tag = 'zz-new' AND event = 'tag_updated'"), '1',
	'with one change row');
my $n2 = $reg->push_image('org/big', '0-new', content => 'big 0-new');
$took = poll_until(30, sub {
	q1("SELECT image FROM imagestream.image_stream_tags WHERE namespace = 'ri' AND tag = '0-new'") eq $n2->{digest} });
ok(defined $took, 'and the next one pushed, on the first page');
# a rebuild of the new tag upstream moves it: it is scheduled in turn
my $n1b = $reg->push_image('org/big', 'zz-new', content => 'big zz-new rebuilt');
ok(defined poll_until(30, sub {
	q1("SELECT image FROM imagestream.image_stream_tags WHERE namespace = 'ri' AND tag = 'zz-new'") eq $n1b->{digest} }),
	'the new tag is scheduled: its rebuild is imported');
is(q1($untouched), $sum, 'the stream\'s other tags are untouched');

# a scheduled repository that cannot be listed: one change row, however
# many cycles fail
$last = q1('SELECT max(id) FROM imagestream.change');
q1("SELECT imagestream.create_stream('ri/gone');
	SELECT imagestream.set_repository('ri/gone', '$host/org/gone', scheduled => true, insecure => true)");
ok(defined wait_for($node, "SELECT count(*) FROM imagestream.changes_since($last) WHERE stream = 'gone'", '1', 30),
	'the worker records a failed listing');
sleep 3;
is(q1("SELECT string_agg(event || ' ' || coalesce(tag, '-') || ' ' || reason, ',') FROM imagestream.changes_since($last) WHERE stream = 'gone'"),
	'import_failed - NotFound', 'once');
$reg->push_image('org/gone', 'back', content => 'gone back');
ok(defined wait_for($node, "SELECT count(*) FROM imagestream.image_stream_tags WHERE namespace = 'ri' AND stream = 'gone' AND image IS NOT NULL", '1', 30),
	'once it can be listed, its tags come');

ok(invariants_hold($node), 'the model\'s invariants hold');
assert_no_crash($node);
done_testing();
