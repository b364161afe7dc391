# make stress: 8 pgbench clients for 60 s mixing tag, untag, map_image,
# rollback, resolve, prune, import_now and promote (two streams, their tags
# in either order, one of them with a trigger keeping a table's row in step)
# on a few hot tags, while upstream pushes move the scheduled tags and the
# worker imports them.  Afterwards:
# no error but the documented ones, no deadlock, the invariants hold, and the
# change log has every committed change exactly once (its ids are what a
# LISTEN client received, each once, and each tag's newest change is its
# current state).
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use POSIX ();
use Time::HiRes qw(time sleep);

use ImagestreamTest qw(start_node invariants_hold wait_for);
use RegistryTest;

my $seconds = $ENV{STRESS_SECONDS} // 60;
my $node = start_node('concurrency', worker => 1, conf => qq{
imagestream.blocked_networks = ''
imagestream.import_interval = '1s'
imagestream.max_imports_per_minute = -1
deadlock_timeout = '100ms'
log_lock_waits = on
});
my $reg = RegistryTest->start(max_lifetime => $seconds + 600);
my $host = $reg->host;

sub q1 { return $node->safe_psql('postgres', shift) }


# four scheduled tags following the registry, and the operations the
# clients run; the documented errors are counted, any other one aborts
$reg->push_image('org/hot', "h$_", content => "hot $_ start") for 0 .. 3;
q1("SELECT imagestream.tag('$host/org/hot:h$_', 'st/hot:h$_', scheduled => true, insecure => true)") for 0 .. 3;
q1(q{SELECT imagestream.create_stream('st/prod'); SELECT imagestream.create_stream('st/stage');
	CREATE TABLE stress_deploy (name text PRIMARY KEY, image text);
	INSERT INTO stress_deploy VALUES ('p0', NULL);
	SELECT imagestream.map_image('st/prod:p0', ('quay.io/st/p@sha256:' || repeat('0', 64))::imagestream.image_ref);
	SELECT imagestream.add_trigger('st/prod:p0', 'stress_deploy', 'image', 'name', 'p0')});
q1(q{
CREATE TABLE stress_error (op text, sqlstate text, n integer, PRIMARY KEY (op, sqlstate));
CREATE FUNCTION stress_op(op text, i integer) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	state text;
BEGIN
	CASE op
	WHEN 'tag' THEN
		PERFORM imagestream.tag(format('st/hot:h%s', i % 4), format('st/hot:a%s', i % 3), alias => i % 2 = 0);
	WHEN 'untag' THEN
		PERFORM imagestream.untag(format('st/hot:%s%s', CASE WHEN i % 2 = 0 THEN 'a' ELSE 'm' END, i % 3));
	WHEN 'map' THEN
		PERFORM imagestream.map_image(format('st/hot:m%s', i % 3),
			('quay.io/st/m@sha256:' || encode(sha256(i::text::bytea), 'hex'))::imagestream.image_ref);
	WHEN 'rollback' THEN
		PERFORM imagestream.rollback(format('st/hot:m%s', i % 3));
	WHEN 'resolve' THEN
		PERFORM imagestream.resolve(format('st/hot:%s%s', CASE WHEN i % 2 = 0 THEN 'a' ELSE 'h' END, i % 4),
									missing_ok => true);
	WHEN 'prune' THEN
		PERFORM imagestream.prune(keep_tag_revisions => 2, keep_younger_than => '0', confirm => true);
	WHEN 'import_now' THEN
		PERFORM imagestream.import_now('st/hot');
	WHEN 'promote' THEN
		-- two destination streams, named in either order: promote locks them
		-- by id, so that promotions never deadlock
		PERFORM imagestream.promote(CASE WHEN i % 2 = 0 THEN m ELSE jsonb_build_array(m->1, m->0) END)
		FROM (SELECT jsonb_build_array(
				jsonb_build_object('tag', 'st/prod:p0', 'from', format('st/hot:h%s', i % 4)),
				jsonb_build_object('tag', 'st/stage:s0', 'from', format('st/hot:h%s', (i + 1) % 4))) AS m) x;
	END CASE;
EXCEPTION
	-- documented, and only where the operation can meet it: untag and
	-- rollback of a tag untagged meanwhile (42704), rollback with nothing
	-- to go back to (22023); the same error from any other operation is
	-- raised again (the transaction fails)
	WHEN undefined_object OR invalid_parameter_value THEN
		GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE;
		IF NOT ((op = 'untag' AND state = '42704') OR (op = 'rollback' AND state IN ('42704', '22023'))) THEN
			RAISE;
		END IF;
		INSERT INTO stress_error VALUES (op, state, 1)
			ON CONFLICT ON CONSTRAINT stress_error_pkey DO UPDATE SET n = stress_error.n + 1;
END $$;
});

ok(defined wait_for($node, "SELECT count(*) FROM imagestream.tag WHERE namespace = 'st' AND stream = 'hot' AND image IS NOT NULL", '4', 20),
	'the worker imported the hot tags');

my %weights = (tag => 2, untag => 1, map => 3, rollback => 1, resolve => 4, prune => 1, import_now => 1,
	promote => 2);
my $dir = PostgreSQL::Test::Utils::tempdir();
my @scripts;
for my $op (sort keys %weights)
{
	open(my $f, '>', "$dir/$op.sql") or die;
	print $f "\\set i random(0, 1000000)\nSELECT stress_op('$op', :i);\n";
	close $f;
	push @scripts, '-f', "$dir/$op.sql\@$weights{$op}";
}

# a LISTEN client for the whole run (psql prints what arrived after the command)
my $listen_out = '';
my $listener = IPC::Run::start(
	[ 'psql', '-X', '-q', '-d', $node->connstr('postgres'), '-c', 'LISTEN imagestream',
	  '-c', "SELECT pg_sleep($seconds + 10)" ],
	'>', \$listen_out, '2>', \$listen_out);
sleep 1;
my $first_change = q1('SELECT coalesce(max(id), 0) FROM imagestream.change');

# upstream: a push to one of the hot tags every 200 ms
my $pusher = fork() // die;
if ($pusher == 0)
{
	my $end = time + $seconds;
	my $n = 0;
	while (time < $end)
	{
		$n++;
		$reg->push_image('org/hot', 'h' . ($n % 4), content => "hot push $n");
		sleep 0.2;
	}
	POSIX::_exit(0);			# not exit: the parent's END blocks would stop the node
}

my ($out, $err) = ('', '');
IPC::Run::run([ 'pgbench', '-n', '-c', 8, '-j', 2, '-T', $seconds, '-d', $node->connstr('postgres'), @scripts ],
	'>', \$out, '2>', \$err);
waitpid($pusher, 0);
note($out);
like($out, qr/number of transactions actually processed: [1-9]/, 'the clients ran');
# (the total, not one script's line: pgbench counts deadlocks as failures)
like($out, qr/^number of failed transactions: 0 /m, 'no transaction failed (no deadlock, no undocumented error)');
unlike($out . $err, qr/aborted|deadlock/i, 'no client aborted');
my $documented = q1("SELECT string_agg(format('%s %s x%s', op, sqlstate, n), ', ' ORDER BY op, sqlstate) FROM stress_error");
note("documented errors: $documented");
# the three races happen in every run of a few seconds (6 tags untagged and
# made again, a tag rolled back to its first image and further)
is(q1("SELECT string_agg(op || ' ' || sqlstate, ', ' ORDER BY op, sqlstate) FROM stress_error WHERE n > 0"),
	'rollback 22023, rollback 42704, untag 42704', "the documented errors, each from its operation ($documented)");
my $pushes = q1("SELECT count(*) FROM imagestream.change WHERE id > $first_change AND tag LIKE 'h_' AND event = 'tag_updated'");
cmp_ok($pushes, '>', 10, "the worker imported upstream pushes meanwhile ($pushes)");

# let the worker finish what it started, then the checks
sleep 3;
invariants_hold($node, 'the invariants hold after the run');
is(q1(q{SELECT image = imagestream.resolve('st/prod:p0')::text FROM stress_deploy}), 't',
	'the trigger\'s row is the promoted tag\'s pull spec');
cmp_ok(q1("SELECT count(*) FROM imagestream.change WHERE id > $first_change AND via = 'promote'"), '>', 10,
	'promotions moved tags meanwhile');
is(q1(q{
	SELECT count(*) FROM imagestream.tag t
	WHERE t.namespace = 'st' AND t.docker_image_reference IS NOT NULL
	  AND NOT EXISTS (
		SELECT 1 FROM (SELECT * FROM imagestream.change c
					   WHERE c.namespace = t.namespace AND c.stream = t.stream AND c.tag = t.name
					   ORDER BY c.id DESC LIMIT 1) last
		WHERE last.event = 'tag_updated' AND last.image::text IS NOT DISTINCT FROM t.image::text
		  AND last.docker_image_reference::text = t.docker_image_reference::text)}),
	'0', "each tag's newest change is its current state");
my $last_change = q1('SELECT max(id) FROM imagestream.change');
$listener->finish;				# its sleep ends a few seconds after the run
my @ids = sort { $a <=> $b } map { /"id": (\d+)/ ? $1 : () } grep { /Asynchronous notification/ } split /\n/, $listen_out;
my %seen;
my @dups = grep { $seen{$_}++ } @ids;
is(scalar(@dups), 0, 'no change announced twice');
my @logged = split /\n/, q1("SELECT id FROM imagestream.change WHERE id > $first_change AND id <= $last_change ORDER BY id");
is_deeply([ grep { $_ > $first_change && $_ <= $last_change } @ids ], \@logged,
	'every change in the log was announced, once, and nothing else: ' . scalar(@logged) . ' changes');
ok($node->log_contains('terminated by signal') == 0, 'no backend crashed');
$reg->stop;
done_testing();
