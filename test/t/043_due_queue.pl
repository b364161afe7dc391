# The worker finds due work through the due queue and a heap of due times,
# not a scan of the tag table (doc/worker.md, "The due queue"): with 2,000
# scheduled tags checked again and again, its cycles read tag by primary
# key only, the due tags and those the queue names, and none of the
# worker's own recordings feeds the queue.  New tags, import_now, untag
# and a stream's deletion still reach it at once, through the queue.
# (Which changes feed the queue, and that the recording's updates stay HOT:
# sql/due_queue.sql.)
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;

use ImagestreamTest qw(start_node wait_for);
use RegistryTest;

my $node = start_node('due_queue', worker => 1, conf => qq{
imagestream.blocked_networks = ''
imagestream.import_interval = '10s'
imagestream.max_imports_per_minute = -1
track_functions = 'pl'
});
sub q1 { return $node->safe_psql('postgres', shift) }
ok(defined wait_for($node, 'SELECT count(*) FROM imagestream.worker_status', '1', 30), 'the worker runs');

my $reg = RegistryTest->start_hostile();
my $host = $reg->host;

# What the statistics say of the tag table, and of the queue's trigger
# function for single rows.  (The worker reports its statistics at the end
# of each transaction, at most once a second.)
sub tag_reads
{
	return split /\|/, q1(q{
		SELECT s.seq_scan, s.seq_tup_read, s.idx_tup_fetch,
			   coalesce((SELECT f.calls FROM pg_stat_user_functions f
						 WHERE f.schemaname = 'imagestream' AND f.funcname = '_queue_changed_tag'), 0)
		FROM pg_stat_user_tables s WHERE s.relid = 'imagestream.tag'::regclass});
}

# Waits for n cycles of the worker to end.
sub cycles
{
	my ($n) = @_;
	for (1 .. $n)
	{
		return 0 unless ImagestreamTest::cycle_ends($node);
	}
	return 1;
}

# 2,000 scheduled tags from 2,000 upstream repositories, in 4 streams and
# one of 10 tags (which the worker records one by one, _worker_apply)
q1('BEGIN;'
	  . join('', map { my $s = $_ <= 10 ? 'few' : 's' . $_ % 4; "SELECT imagestream.tag('$host/ok/app$_:latest', 'dq/$s:t$_', scheduled => true, insecure => true);" } 1 .. 2000)
	  . 'COMMIT; SELECT pg_stat_force_next_flush()');
# (this session's statistics are in before psql returns)
my (undef, undef, undef, $row_calls) = tag_reads();
ok(defined wait_for($node, 'SELECT imports >= 2000 FROM imagestream.worker_status', 't', 300),
	'the worker imports the 2,000 new tags');
is(q1('SELECT tags_scheduled FROM imagestream.worker_status'), '2000', 'and watches them, scheduled');

# the steady worker: each tag checked every 10 s, unchanged; the window
# holds a round of checks of every tag and a few cycles more
sleep 3;
my ($seq0, $seqread0, $idx0) = tag_reads();
my $checked0 = q1('SELECT tags_checked FROM imagestream.worker_status');
ok(defined wait_for($node, "SELECT tags_checked >= $checked0 + 2000 FROM imagestream.worker_status", 't', 120)
	  && cycles(3), 'every tag is checked again');
sleep 2;
my ($seq1, $seqread1, $idx1, $calls1) = tag_reads();
my $checked = q1('SELECT tags_checked FROM imagestream.worker_status') - $checked0;
cmp_ok($checked, '>', 0, "the steady worker checks tags ($checked)");
is($seq1 - $seq0, 0, 'and scans the tag table never');
is($seqread1 - $seqread0, 0, '(no row read by a scan)');
cmp_ok($idx1 - $idx0, '<=', 2 * $checked + 100,
	'it reads tags by id, the due ones: ' . ($idx1 - $idx0) . " rows for $checked checks, of 2,000 tags");
is($calls1, $row_calls, "none of the worker's 2,000 imports and checks fed the queue");

# a change reaches the worker at once, through the queue
q1(q{SELECT imagestream.import_now('dq/few:t1')});
ok(defined wait_for($node, q{SELECT import_requested_at IS NULL FROM imagestream.tag
		WHERE namespace = 'dq' AND stream = 'few' AND name = 't1'}, 't', 30),
	'import_now: the worker imports the tag at once');
q1(q{SELECT imagestream.untag('dq/s1:t13')});
ok(defined wait_for($node, 'SELECT tags_scheduled FROM imagestream.worker_status', '1999', 30),
	'untag: the worker forgets the tag at once');
q1(q{SELECT imagestream.delete_stream('dq/s2')});
ok(defined wait_for($node, 'SELECT tags_scheduled FROM imagestream.worker_status', '1502', 30),
	"a stream's deletion: the worker forgets its 497 tags at once");
q1(q{SELECT imagestream.tag('} . $host . q{/ok/new:latest', 'dq/s1:new', insecure => true)});
ok(defined wait_for($node, q{SELECT image IS NOT NULL FROM imagestream.tag
		WHERE namespace = 'dq' AND stream = 's1' AND name = 'new'},
		't', 30), 'a new pending tag is imported at once');

done_testing();
