# The worker isolates each source (issue 15, finding 2; doc/security.md
# S14): a source that raises an error while it is fetched, read or recorded
# fails that tag only, with a failure condition and back-off, while good
# tags of another namespace in the same cycle are imported; the worker never
# repeats a failing cycle.  A reference whose first component is taken for a
# registry and is no valid one is refused by every API, and such a source
# stored before 0.3.0 becomes its tag's failure.
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;

use ImagestreamTest qw(start_node wait_for invariants_hold assert_no_crash);
use RegistryTest;

my $node = start_node('isolation', worker => 1, conf => qq{
imagestream.blocked_networks = ''
imagestream.import_interval = '1min'
imagestream.max_imports_per_minute = -1
imagestream.request_timeout = '5s'
});
my $reg = RegistryTest->start();
my $host = $reg->host;
my $evil = RegistryTest->start_hostile();
my $ehost = $evil->host;

sub q1 { return $node->safe_psql('postgres', shift) }

ok(wait_for($node, 'SELECT count(*) FROM imagestream.worker_status', '1', 10), 'the worker runs');
my $pid = q1('SELECT pid FROM imagestream.worker_status');

# --- the bad reference is refused at input, by every API ---
q1(q{CREATE FUNCTION public.sqlstate_of(stmt text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE stmt;
	RETURN 'accepted';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE;
END $$});
my $zero = 'sha256:' . ('0' x 64);
for my $stmt (
	"SELECT 'foo_bar.x/repo:latest'::imagestream.image_ref",
	"SELECT 'a.b_c/d'::imagestream.image_ref",
	"SELECT imagestream.tag('foo_bar.x/repo:latest', 'alpha/x:latest')",
	"SELECT imagestream.tag('foo_bar.x/repo:latest', 'alpha/x:latest', scheduled => true)",
	"SELECT * FROM imagestream.import_image('alpha/x:latest', 'foo_bar.x/repo:latest', confirm => true)",
	"SELECT * FROM imagestream.import_image('alpha/x:latest', 'foo_bar.x/repo:latest', dry_run => true, confirm => true)",
	"SELECT imagestream.map_image('alpha/x:latest', 'foo_bar.x/repo\@$zero')")
{
	is(q1('SELECT public.sqlstate_of(' . ImagestreamTest::literal($stmt) . ')'), '22P02', "refused: $stmt");
}
is(q1("SELECT count(*) FROM imagestream.tag WHERE namespace = 'alpha'"), '0', 'and nothing was stored');

my $good = $reg->push_image('good/app', 'v1', content => 'good');

# Tags a good source in namespace "good" and a poisoned one in "evil" in one
# transaction ($poison: SQL run in it too), so that the worker meets both in
# one cycle; returns once the good tag is imported (true) or after 20 s.
sub same_cycle
{
	my ($name, $poison) = @_;
	q1("BEGIN;
		SELECT imagestream.tag('$host/good/app:v1', 'good/app:$name', insecure => true);
		$poison;
		COMMIT");
	return defined wait_for($node,
		"SELECT image FROM imagestream.image_stream_tags WHERE namespace = 'good' AND tag = '$name'",
		$good->{digest}, 20);
}

sub condition
{
	my ($tag) = @_;
	return q1("SELECT coalesce(import_status, '') || '|' || coalesce(import_reason, '') || '|' || coalesce(import_message, '')
			   FROM imagestream.image_stream_tags WHERE namespace = 'evil' AND tag = '$tag'");
}

# How many requests the hostile registry had for a scenario.
sub requests_for
{
	my ($scenario) = @_;
	return scalar grep { $_->{path} =~ m{^/v2/$scenario/} } @{ $evil->request_log };
}

# Runs $n more cycles of the worker (waking it for each).
sub cycles
{
	my ($n) = @_;
	ImagestreamTest::cycle_ends($node, 10) for 1 .. $n;
}

# The failure condition is there and the tag is not fetched again and again.
sub settles
{
	my ($tag, $scenario, $want, $label) = @_;
	ok(defined wait_for($node,
			"SELECT import_status FROM imagestream.image_stream_tags WHERE namespace = 'evil' AND tag = '$tag'",
			'False', 20), "$label: the poisoned tag gets a failure condition");
	like(condition($tag), $want, "$label: its reason and message say what happened");
	return unless defined $scenario;
	my $before = requests_for($scenario);
	cycles(3);
	is(requests_for($scenario), $before, "$label: the failed tag is not fetched in every cycle");
}

# (1) a manifest the catalogue refuses (a layer digest that is no digest):
# the recording raises, the tag's failure is recorded instead.
ok(same_cycle('one', "SELECT imagestream.tag('$ehost/badlayer/app:latest', 'evil/app:badlayer', insecure => true)"),
	'badlayer: the good tag of the same cycle is imported');
settles('badlayer', 'badlayer', qr/^False\|InternalError\|The import could not be recorded: invalid image manifest\. .*layer/,
	'badlayer');

# (2) a manifest nested 200,000 levels deep (the JSON parser would raise
# "stack depth limit exceeded")
ok(same_cycle('two', "SELECT imagestream.tag('$ehost/deepnest/app:latest', 'evil/app:deep', insecure => true)"),
	'deepnest: the good tag of the same cycle is imported');
settles('deep', 'deepnest', qr/^False\|InvalidManifest\|.*more than 64 levels deep/, 'deepnest');

# (3) a token endpoint's answer as deep
ok(same_cycle('three', "SELECT imagestream.tag('$ehost/deeptoken/app:latest', 'evil/app:token', insecure => true)"),
	'deeptoken: the good tag of the same cycle is imported');
settles('token', undef, qr/^False\|Unauthorized\|.*without a token/, 'deeptoken');

# (4) a source stored by 0.2.0, which accepted it, scheduled: the worker
# reads it, cannot parse it, and records that as the tag's failure
ok(same_cycle('four', "SELECT imagestream.tag('$host/good/app:v1', 'evil/app:old', scheduled => true, insecure => true);
	UPDATE imagestream.tag SET from_ref = 'foo_bar.x/repo:latest' WHERE namespace = 'evil' AND name = 'old'"),
	'a bad source stored before 0.3.0: the good tag of the same cycle is imported');
settles('old', undef, qr/^False\|InternalError\|The import stopped on an error: invalid input syntax for type image_ref: "foo_bar\.x\/repo:latest"\. The registry host "foo_bar\.x"/,
	'stored bad source');
# scheduled, it is checked again with back-off, not in every cycle
my $failures = q1('SELECT failures FROM imagestream.worker_status');
cycles(4);
cmp_ok(q1('SELECT failures FROM imagestream.worker_status') - $failures, '<=', 2,
	'stored bad source: retried with back-off, not in every cycle');

# the worker never failed a whole cycle, and is the same process
ok(!$node->log_contains('imagestream worker cycle failed'), 'no worker cycle failed');
is(q1('SELECT pid FROM imagestream.worker_status'), $pid, 'the worker was not restarted');

# the same sources through import_image: failures, not errors
like(q1("SELECT status || '|' || reason FROM imagestream.import_image('evil/app:deep2', '$ehost/deepnest/app:latest', insecure => true, confirm => true)"),
	qr/^Failure\|InvalidManifest$/, 'import_image: the deep manifest is a failure');
like(q1("SELECT status || '|' || reason || '|' || message FROM imagestream.import_image('evil/deeptags', '$ehost/deepnest/app', all_tags => true, insecure => true, confirm => true)"),
	qr/^Failure\|InternalError\|.*nests more than 64 levels deep/, 'import_image(all_tags): the deep tag list is a failure');
like(q1("SELECT status || '|' || reason FROM imagestream.import_image('evil/app:token2', '$ehost/deeptoken/app:latest', insecure => true, confirm => true)"),
	qr/^Failure\|Unauthorized$/, 'import_image: the deep token answer is a failure');

invariants_hold($node);
assert_no_crash($node);
$node->stop;
$reg->stop;
$evil->stop;

done_testing();
