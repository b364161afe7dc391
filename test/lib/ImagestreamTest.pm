# Helpers shared by the TAP tests in test/t.
package ImagestreamTest;

use strict;
use warnings;

use Exporter 'import';
use IPC::Run ();
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils ();
use Test::More;
use Test2::API ();
use Time::HiRes ();

our @EXPORT_OK = qw(start_node read_tsv query_json invariants_hold wait_for assert_no_crash expect_crash
  watch_server);

# Every node a test creates, however (start_node or PostgreSQL::Test::Cluster->new
# directly), is recorded, and when the test calls done_testing its log is
# checked for crashes (assert_no_crash) unless the test checked that node
# itself since the log last grew.  A deliberate kill is declared with
# expect_crash.  Loading this module is enough: test/run-tests.sh refuses a
# TAP file that creates nodes without it.
my @nodes;			# every node created, in order
my %allow;			# node name => [patterns of deliberate crashes]
my %checked;		# node name => log size when assert_no_crash last ran

{
	no warnings 'redefine';
	my $new = \&PostgreSQL::Test::Cluster::new;
	*PostgreSQL::Test::Cluster::new = sub {
		my $node = $new->(@_);
		push @nodes, $node;
		return $node;
	};
}

Test2::API::test2_add_callback_testing_done(
	sub {
		for my $node (@nodes)
		{
			next unless -e $node->logfile;
			next if defined $checked{ $node->name } && $checked{ $node->name } == -s $node->logfile;
			assert_no_crash($node, name => 'no process of ' . $node->name . ' crashed (checked at done_testing)');
		}
	});

# A server that the test did not create through PostgreSQL::Test::Cluster
# (one that pg_autoctl runs, say) is checked at done_testing as a node is:
# $server has the methods assert_no_crash and wait_for use (name, logfile:
# a file holding its whole log; psql and safe_psql as a node's).
sub watch_server
{
	my ($server) = @_;
	push @nodes, $server;
	return;
}

# A started cluster that preloads the library, with the extension created
# in database "postgres".  Its background worker is off unless worker => 1,
# so that only the worker's own tests see imports they did not ask for;
# conf => TEXT adds settings.
sub start_node
{
	my ($name, %opts) = @_;
	my $worker = delete $opts{worker};
	my $conf = delete $opts{conf};
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init(%opts);
	$node->append_conf('postgresql.conf', "shared_preload_libraries = 'imagestream'");
	$node->append_conf('postgresql.conf', 'imagestream.enable_worker = off') unless $worker;
	$node->append_conf('postgresql.conf', $conf) if $conf;
	$node->start;
	$node->safe_psql('postgres', 'CREATE EXTENSION imagestream');
	return $node;
}

# Polls $sql in database "postgres" of $node until it returns $want or
# $seconds pass; returns the time taken, or undef.  An error of $sql counts
# as "not yet"; a connection error (psql's exit status 2: the server is
# down, crashed or restarting) is a failed test at once, with psql's
# message, unless restarting => 1 says the server may be restarting.
sub wait_for
{
	my ($node, $sql, $want, $seconds, %opts) = @_;
	my $t0 = Time::HiRes::time();
	while (Time::HiRes::time() - $t0 < $seconds)
	{
		my ($ret, $out, $err);
		# (psql may exit, the server refusing connections, before IPC::Run
		# has written the query to it: a broken pipe, which IPC::Run raises)
		eval { ($ret, $out, $err) = $node->psql('postgres', $sql); 1 }
		  or ($ret, $out, $err) = (2, '', $@);
		return Time::HiRes::time() - $t0 if $ret == 0 && $out eq $want;
		if ($ret == 2 && !$opts{restarting})
		{
			fail('wait_for: cannot connect to ' . $node->name . " (a crash?) while polling: $sql");
			diag($err);
			return undef;
		}
		Time::HiRes::sleep(0.1);
	}
	return undef;
}

# Wakes the worker of $node and waits until it ends a cycle (one under way,
# or the one the wake starts): what it recorded before the call is then
# counted in worker_status.  (An idle worker sleeps until its next due time:
# without the wake, a quiet test would wait for that.)  True if a cycle
# ended within $seconds (default 60).
sub cycle_ends
{
	my ($node, $seconds) = @_;
	my $last = $node->safe_psql('postgres', 'SELECT last_cycle_at FROM imagestream.worker_status');
	$node->safe_psql('postgres', 'SELECT imagestream._wake_worker()');
	return defined wait_for($node, "SELECT last_cycle_at > '$last' FROM imagestream.worker_status", 't',
		$seconds // 60);
}

# A test that the model's invariants hold (imagestream.check_invariants()
# returns no row) in database "postgres" of $node; the violations are shown.
sub invariants_hold
{
	my ($node, $name) = @_;
	my $v = $node->safe_psql('postgres',
		"SELECT string_agg(format('%s: %s (%s)', invariant, object, detail), E'\\n') FROM imagestream.check_invariants()");
	return is($v, '', $name // "the model's invariants hold");
}

# Declares a deliberate crash of a process of $node: a log line matching
# $pattern (say qr/\(PID $pid\) was terminated by signal 9/) is no crash
# for assert_no_crash, and neither are the lines the postmaster logs about
# it as it restarts (the failed process's query, "terminating any other
# active server processes") until the server accepts connections again.
sub expect_crash
{
	my ($node, $pattern) = @_;
	push @{ $allow{ $node->name } }, $pattern;
	return;
}

# What the extension writes over a window of $node's life, by the WAL:
# wal_window_open($node) (it needs wal_level replica: allows_streaming)
# reserves the WAL from there with a physical replication slot, so that no
# checkpoint removes it, and writes a marker; wal_window_writes($node, $w)
# writes another, reads the records between the two with pg_waldump, drops
# the slot, and returns the records that a transaction (tx not 0) wrote to a
# relation of schema imagestream (its tables, indexes, sequences and their
# TOAST), but for what a reader or a vacuum leaves (Heap2 PRUNE, VACUUM,
# FREEZE_PAGE, VISIBLE; XLOG FPI_FOR_HINT).  The server's own records
# (running transactions, checkpoints), autovacuum's and the bgwriter's have
# no transaction id or name no such relation: the list is empty unless the
# extension wrote.  It dies when pg_waldump fails or misses a marker.
sub wal_window_open
{
	my ($node) = @_;
	my $slot = 'imagestream_wal_window';
	$node->safe_psql('postgres', "SELECT pg_create_physical_replication_slot('$slot', true)");
	my $start = $node->safe_psql('postgres', 'SELECT pg_current_wal_insert_lsn()');
	$node->safe_psql('postgres', "SELECT pg_logical_emit_message(true, 'imagestream-window-opens', '')");
	return { slot => $slot, start => $start };
}

sub wal_window_writes
{
	my ($node, $w) = @_;
	$node->safe_psql('postgres', "SELECT pg_logical_emit_message(true, 'imagestream-window-closes', '')");
	# the closing marker's commit flushed the WAL up to it
	my $flushed = $node->safe_psql('postgres', 'SELECT pg_current_wal_flush_lsn()');
	my $rels = $node->safe_psql('postgres', q{
		WITH ext AS (SELECT oid, reltoastrelid FROM pg_class WHERE relnamespace = 'imagestream'::regnamespace),
		rel AS (SELECT oid FROM ext
				UNION SELECT reltoastrelid FROM ext WHERE reltoastrelid <> 0
				UNION SELECT i.indexrelid FROM pg_index i JOIN ext ON i.indrelid = ext.reltoastrelid)
		SELECT string_agg(format('%s/%s/%s',
				CASE c.reltablespace WHEN 0 THEN d.dattablespace ELSE c.reltablespace END,
				d.oid, pg_relation_filenode(c.oid)), ' ')
		FROM rel JOIN pg_class c ON c.oid = rel.oid
		JOIN pg_database d ON d.datname = current_database()
		WHERE pg_relation_filenode(c.oid) IS NOT NULL});
	my %ext = map { $_ => 1 } split / /, $rels;
	die "no relations of schema imagestream found" if keys %ext < 10;
	my ($out, $err) = ('', '');
	my $ok = IPC::Run::run([ $node->installed_command('pg_waldump'), '-p', $node->data_dir . '/pg_wal',
			'--start', $w->{start}, '--end', $flushed ], '>', \$out, '2>', \$err);
	$node->safe_psql('postgres', "SELECT pg_drop_replication_slot('$w->{slot}')");
	die "pg_waldump failed: $err" unless $ok;
	my ($opened, $closed) = (0, 0);
	my @writes;
	for my $l (split /\n/, $out)
	{
		die "pg_waldump wrote what this does not read: $l"
		  unless $l =~ /^rmgr: (\S+)\s+len .*, tx:\s+(\d+), lsn: [0-9A-F]+\/[0-9A-F]+, .*desc: (\S+)/;
		my ($rmgr, $tx, $what) = ($1, $2, $3);
		if (!$opened)
		{
			$opened = $l =~ /prefix "imagestream-window-opens"/;
			next;
		}
		if ($l =~ /prefix "imagestream-window-closes"/)
		{
			$closed = 1;
			last;
		}
		next if $tx == 0;
		next if ($rmgr eq 'Heap2' && $what =~ /^(PRUNE|VACUUM|FREEZE_PAGE|VISIBLE)$/)
		  || ($rmgr eq 'XLOG' && $what eq 'FPI_FOR_HINT');
		push @writes, $l if grep { $ext{$_} } $l =~ /\brel (\d+\/\d+\/\d+)/g;
	}
	die "pg_waldump did not read the window from its opening marker (from $w->{start})" unless $opened;
	die "pg_waldump did not read the window to its closing marker (to $flushed)" unless $closed;
	return @writes;
}

# A test that no process of $node crashed: its log has no process
# terminated by a signal, no server process that ended abnormally and no
# background worker that exited with an error outside a shutdown (where
# workers exit with 1), except lines matching $opts{allow} or a pattern
# given to expect_crash (a deliberate kill), and the lines that such a kill
# causes until the server is ready again.  Runs by itself at done_testing for each
# node not checked since its log last grew.
sub assert_no_crash
{
	my ($node, %opts) = @_;
	my @allow = (@{ $allow{ $node->name } // [] }, $opts{allow} // ());
	my @bad;
	my $stopping = 0;
	my $killed = 0;		# after a deliberate kill, until the server is ready again
	my $size = -s $node->logfile;
	for my $line (split /\n/, PostgreSQL::Test::Utils::slurp_file($node->logfile))
	{
		$stopping = 1 if $line =~ /received (smart|fast|immediate) shutdown request/;
		$stopping = $killed = 0 if $line =~ /database system is ready to accept connections/;
		if (grep { $line =~ $_ } @allow)
		{
			$killed = 1;
			next;
		}
		# what the postmaster logs after the deliberate kill
		next if $killed && $line =~ /terminating any other active server processes|Failed process was running/;
		push @bad, $line
		  if $line =~ /terminated by signal|was terminated by exception|server process .* exited with exit code|terminating any other active server processes|Failed process was running/
		  || (!$stopping && $line =~ /exited with exit code/);
	}
	$checked{ $node->name } = $size;
	return is(join("\n", @bad), '', $opts{name} // 'no backend crashed: ' . $node->name);
}

# Rows of a TSV file as hashes keyed by its header, each with its line
# number (the header is line 1).  Fields are read byte for byte.
sub read_tsv
{
	my ($path) = @_;
	open(my $fh, '<', $path) or die "cannot open $path: $!";
	my $header = <$fh>;
	chomp $header;
	my @names = split /\t/, $header, -1;
	my @rows;
	my $line = 1;
	while (my $l = <$fh>)
	{
		$line++;
		chomp $l;
		next if $l =~ /^#/;
		my @f = split /\t/, $l, -1;
		my %row = (line => $line);
		@row{@names} = map { $_ // '' } @f[0 .. $#names];
		push @rows, \%row;
	}
	close $fh;
	return \@rows;
}

# Runs a query that returns one json value and decodes it.
sub query_json
{
	my ($node, $sql) = @_;
	my $out = $node->safe_psql('postgres', $sql);
	return JSON::PP->new->utf8->decode($out);
}

# A SQL string literal for any text without NUL.
sub literal
{
	my ($s) = @_;
	$s =~ s/'/''/g;
	return "'$s'";
}

1;
