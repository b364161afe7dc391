# registry_event end to end (doc/registry-events.md): Debian's
# docker-registry sends its notifications to a test receiver
# (test/lib/event_receiver.py), which passes each envelope to
# imagestream.registry_event() as the role a DBA granted it.  With no
# scheduled polling at all (import_interval 1h, the tags not scheduled), a
# push is recorded and announced to a LISTEN client; a push of a new tag
# lists a scheduled repository at once; a push by digest imports the tag
# pinned to it; pulls count 0; a role without the grant is refused.
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);

use ImagestreamTest qw(start_node wait_for assert_no_crash);
use RegistryTest;

my $node = start_node('event', worker => 1, conf => q{
imagestream.blocked_networks = ''
imagestream.import_interval = '1h'
imagestream.max_imports_per_minute = -1
imagestream.request_timeout = '5s'
});

sub q1 { return $node->safe_psql('postgres', shift) }

q1(q{
	CREATE ROLE webhook LOGIN;
	CREATE ROLE stranger LOGIN;
	GRANT EXECUTE ON FUNCTION imagestream.registry_event(jsonb) TO webhook;
});
my $receiver = RegistryTest->start_event_receiver(psql => $node->config_data('--bindir') . '/psql',
	pghost => $node->host, pgport => $node->port, user => 'webhook');
my $reg = RegistryTest->start(notify => $receiver->url . '/events');
my $host = $reg->host;
ok(defined wait_for($node, 'SELECT count(*) FROM imagestream.worker_status', '1', 30), 'the worker runs');

# Polls $cond every 0.2 s for up to $seconds; returns whether it held.
sub poll_until
{
	my ($seconds, $cond) = @_;
	my $t0 = time;
	until ($cond->())
	{
		return 0 if time - $t0 > $seconds;
		sleep 0.2;
	}
	return 1;
}

# The receiver's log since its last reset: the bodies' actions, counts, errors.
sub received { return @{ $receiver->request_log } }
sub counted { my $n = 0; $n += $_->{count} // 0 for received(); return $n }
sub errors { return join("\n", map { $_->{error} } grep { defined $_->{error} } received()) }

# --- a push recorded and announced, with no scheduled polling ---

# Whether the receiver has had an envelope with an event of $action (and
# one that names $tag).
sub has_action
{
	my ($action, $tag) = @_;
	return grep { (grep { ($_ // '') eq $action } @{ $_->{actions} })
		&& (!defined $tag || grep { $_ eq $tag } @{ $_->{tags} }) } received();
}

# two tags of two namespaces follow org/app:latest, imported once, not
# scheduled (after the notification of its push: it marks nothing)
my $v1 = $reg->push_image('org/app', 'latest', content => 'one');
ok(poll_until(60, sub { has_action('push', 'latest') }), 'the registry sends its notifications to the receiver');
for my $dest ('ev/app:latest', 'other/app:copy')
{
	q1("SELECT count(*) FROM imagestream.import_image('$dest', '$host/org/app:latest', insecure => true, confirm => true)");
}
is(q1(q{SELECT string_agg(namespace || ' ' || scheduled || ' ' || image, ', ' ORDER BY namespace)
		FROM imagestream.image_stream_tags WHERE stream = 'app'}),
	"ev false $v1->{digest}, other false $v1->{digest}", 'two tags follow org/app:latest, not scheduled');
ok(poll_until(60, sub { has_action('pull') }), 'and of the imports\' pulls');
is(errors(), '', 'registry_event took each of them');
is(counted(), 0, 'and marked nothing: no tag followed the push yet, a pull counts 0');
$receiver->reset_log;

my $listener = $node->background_psql('postgres');
$listener->query_safe('LISTEN imagestream');
my $v2 = $reg->push_image('org/app', 'latest', content => 'two');
ok(defined wait_for($node, q{SELECT string_agg(image::text, ' ' ORDER BY namespace) FROM imagestream.image_stream_tags WHERE stream = 'app'},
		"$v2->{digest} $v2->{digest}", 60),
	'a push is recorded in both namespaces, with import_interval 1h and no tag scheduled');
my @ids = $listener->query_safe('SELECT 1') =~ /Asynchronous notification "imagestream" with payload "\{"id": (\d+)\}"/g;
ok(scalar(@ids) >= 2, 'a LISTEN client is told');
is(q1("SELECT string_agg(namespace || ' ' || event || ' ' || image || ' ' || actor, ', ' ORDER BY namespace)
	   FROM imagestream.changes_since(" . ($ids[0] - 1) . ") WHERE id <= $ids[-1]"),
	"ev tag_updated $v2->{digest} imagestream worker, other tag_updated $v2->{digest} imagestream worker",
	'of the worker\'s imports of the pushed image');
ok(poll_until(30, sub { counted() >= 2 }), 'the push marked the two tags');
is(counted(), 2, 'the envelopes counted two tags in all');
my @pulls = grep { @{ $_->{actions} } && !grep { ($_ // '') ne 'pull' } @{ $_->{actions} } } received();
ok(scalar(@pulls) > 0, 'the worker\'s pulls are notified too');
is(join(' ', map { $_->{count} // 'error' } @pulls), join(' ', (0) x @pulls), 'each envelope of pulls counts 0');
is(errors(), '', 'no envelope was refused');

# --- a push of a new tag lists a scheduled repository at once ---

is(q1("SELECT string_agg(tag, ' ' ORDER BY tag) FROM imagestream.import_image('ev/all', '$host/org/app', all_tags => true,
	   scheduled => true, insecure => true, confirm => true)"), 'latest', 'a stream imports all tags of org/app, scheduled');
$receiver->reset_log;
my $v9 = $reg->push_image('org/app', 'v9', content => 'nine');
ok(defined wait_for($node, "SELECT image FROM imagestream.image_stream_tags WHERE namespace = 'ev' AND stream = 'all' AND tag = 'v9'",
		$v9->{digest}, 60),
	'the new tag is added and imported, an hour before the repository\'s next listing');
is(q1("SELECT scheduled || ' ' || from_ref FROM imagestream.image_stream_tags WHERE stream = 'all' AND tag = 'v9'"),
	"true $host/org/app:v9", 'as a scheduled tag of the repository');
ok(poll_until(30, sub { counted() >= 1 }), 'the push counted');
is(counted(), 1, 'one repository listed (no tag followed org/app:v9)');

# --- a push by digest: the tag pinned to it is imported ---

# (the digest is known before the push: the same image pushed elsewhere)
my %pin = (content => 'pinned', labels => { 'org.imagestream.test' => 'pin' });
my $pinned = $reg->push_image('org/scratch', undef, %pin);
q1("SELECT imagestream.tag('$host/org/pin\@$pinned->{digest}', 'ev/pin:p', insecure => true)");
ok(defined wait_for($node, "SELECT import_reason FROM imagestream.image_stream_tags WHERE stream = 'pin'", 'NotFound', 60),
	'a tag pinned to a digest not pushed yet fails to import');
$receiver->reset_log;
is($reg->push_image('org/pin', undef, %pin)->{digest}, $pinned->{digest}, 'the digest is pushed, with no tag');
ok(defined wait_for($node, "SELECT image FROM imagestream.image_stream_tags WHERE stream = 'pin'", $pinned->{digest}, 60),
	'the pinned tag is imported');
is(errors(), '', 'no envelope was refused');

# --- who may call it ---

my ($ret, $out, $err) = $node->psql('postgres', q{\set VERBOSITY verbose
SELECT imagestream.registry_event('{"events": []}')}, extra_params => [ '-U', 'stranger' ]);
like($err, qr/ERROR:  42501: permission denied for function registry_event/, 'a role without the grant is refused');
($ret, $out, $err) = $node->psql('postgres',
	q{SELECT imagestream.registry_event('{"events": [{"action": "pull", "target": {"repository": "org/app", "tag": "latest"}}]}')},
	extra_params => [ '-U', 'webhook' ]);
is("$ret $out", '0 0', 'the granted role\'s pull event counts 0');

$listener->quit;
$reg->stop;
$receiver->stop;
assert_no_crash($node);
done_testing();
