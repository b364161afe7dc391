# NOTIFY on tag changes: delivered to a listening session only when the
# changing transaction commits, with a JSON payload of the change
# (imagestream.notify_payload = full, set here; the default is the id
# alone); the durable change log lets a consumer catch up; payloads stay
# under the limit.
use strict;
use warnings;

use JSON::PP;
use PostgreSQL::Test::Utils;
use Test::More;

use ImagestreamTest qw(start_node invariants_hold);

my $node = start_node('notify', conf => 'imagestream.notify_payload = full');
my $digest = $node->safe_psql('postgres', "SELECT imagestream.content_digest('n1')");

my $listener = $node->background_psql('postgres');
$listener->query_safe('LISTEN imagestream');

# the notifications a listener has received, as decoded payloads
sub received
{
	my ($channel) = @_;
	my $out = $listener->query_safe('SELECT 1');
	my @payloads;
	while ($out =~ /Asynchronous notification "\Q$channel\E" with payload "(.*?)" received from server process/g)
	{
		push @payloads, JSON::PP->new->decode($1);
	}
	return @payloads;
}

# a change that rolls back is never announced, nor logged
$node->safe_psql('postgres', qq{
	BEGIN;
	SELECT imagestream.map_image('nt/app:latest', imagestream.ref_with_digest('quay.io/org/app', '$digest'));
	ROLLBACK;
});
is(scalar(received('imagestream')), 0, 'a rolled back change sends no notification');
is($node->safe_psql('postgres', 'SELECT count(*) FROM imagestream.changes_since(0)'), '0',
	'and leaves no change row');

# a committed change is announced once, with the change's fields
$node->safe_psql('postgres',
	"SELECT imagestream.map_image('nt/app:latest', imagestream.ref_with_digest('quay.io/org/app', '$digest'))");
my @got = received('imagestream');
is(scalar(@got), 1, 'a committed change sends one notification');
is_deeply(
	[ @{ $got[0] }{qw(event namespace stream tag image docker_image_reference generation)} ],
	[ 'tag_updated', 'nt', 'app', 'latest', $digest, "quay.io/org/app\@$digest", 1 ],
	'the payload carries the change');
is($got[0]{actor}, $node->safe_psql('postgres', 'SELECT quote_ident(current_user)'),
	'and the role that made it (actor)');
ok(!exists $got[0]{via}, 'a direct call has no via');
my $row = $node->safe_psql('postgres',
	"SELECT id || ',' || event || ',' || image FROM imagestream.changes_since(0)");
is($row, "$got[0]{id},tag_updated,$digest", 'the payload id is the change log row');

# several changes in one transaction: one notification each, in order, ids dense
$node->safe_psql('postgres', q{
	BEGIN;
	SELECT imagestream.tag('app:latest', 'nt/app:stable', alias => true);
	SELECT imagestream.untag('nt/app:stable');
	COMMIT;
});
@got = received('imagestream');
is_deeply([ map { $_->{event} } @got ], [ 'tag_updated', 'tag_deleted' ],
	'each change of a transaction is announced, in order');
is_deeply([ map { $_->{id} } @got ], [ 2, 3 ], 'change ids are dense');

# a consumer that was away catches up with changes_since
is($node->safe_psql('postgres',
		"SELECT string_agg(id || ':' || event, ' ' ORDER BY id) FROM imagestream.changes_since(1)"),
	'2:tag_updated 3:tag_deleted', 'changes_since returns what came after an id');
is($node->safe_psql('postgres', 'SELECT count(*) FROM imagestream.changes_since(0, 2)'), '2',
	'changes_since honours max_rows');

# a long failure message is left out of the payload, not the log
$node->safe_psql('postgres', q{
	SELECT imagestream.tag('quay.io/org/app:9', 'nt/app:nine');
	SELECT imagestream._record_failure(id, 'InternalError', repeat('x', 20000))
	FROM imagestream.tag WHERE name = 'nine';
});
@got = received('imagestream');
is(scalar(@got), 1, 'a failure is announced');
is_deeply([ $got[0]{event}, $got[0]{truncated}, exists $got[0]{message} ? 1 : 0 ],
	[ 'import_failed', JSON::PP::true, 0 ], 'an oversized payload drops its long fields');
is($node->safe_psql('postgres',
		"SELECT length(message) FROM imagestream.change WHERE event = 'import_failed'"),
	'20000', 'the change log keeps the whole message');

# a role's change carries that role (SET ROLE), not the owner of the
# SECURITY DEFINER body that wrote it
$node->safe_psql('postgres', q{
	CREATE ROLE notify_editor;
	SELECT imagestream.grant_namespace('nt', 'notify_editor', 'edit');
});
$node->safe_psql('postgres', q{
	SET ROLE notify_editor;
	SELECT imagestream.tag('app:latest', 'nt/app:pinned');
});
@got = received('imagestream');
is_deeply([ map { "$_->{event} $_->{tag} $_->{actor}" } @got ], [ 'tag_updated pinned notify_editor' ],
	'the payload names the calling role');

# a change of the reference policy moves resolve(): announced as a
# tag_updated of the same image with the pull spec resolve() returns now
$node->safe_psql('postgres', q{
	SET imagestream.local_registry = 'registry.local:5000';
	SET ROLE notify_editor;
	SELECT imagestream.tag('app:latest', 'nt/app:pinned', reference_policy => 'Local');
});
@got = received('imagestream');
is(scalar(@got), 1, 'a change of the reference policy is announced');
is_deeply(
	[ @{ $got[0] }{qw(event tag image previous_image docker_image_reference actor)} ],
	[ 'tag_updated', 'pinned', $digest, $digest, "registry.local:5000/nt/app\@$digest", 'notify_editor' ],
	'as the same image, with the local pull spec');
is($node->safe_psql('postgres', q{
	SET imagestream.local_registry = 'registry.local:5000';
	SELECT imagestream.resolve('nt/app:pinned')}), $got[0]{docker_image_reference},
	'which resolve() returns');

# the channel is a setting
$listener->query_safe('LISTEN tags');
$node->safe_psql('postgres', qq{
	SET imagestream.notify_channel = 'tags';
	SELECT imagestream.map_image('nt/app:other', imagestream.ref_with_digest('quay.io/org/app', '$digest'));
});
@got = received('tags');
is(scalar(@got), 1, 'imagestream.notify_channel names the channel');

$listener->quit;
invariants_hold($node);
ok($node->log_contains('terminated by signal') == 0, 'no backend crashed');
done_testing();
