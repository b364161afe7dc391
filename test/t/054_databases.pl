# Every database that has the extension is served (issue 23; doc/worker.md,
# "Databases"): the launcher starts a worker per database, two databases
# import at once, worker_status names each worker's database; a database
# without the extension gets none; one created later, and the extension
# created later, are picked up; DROP EXTENSION ends that worker; DROP
# DATABASE, ALTER DATABASE RENAME and CREATE DATABASE ... TEMPLATE of a
# served database are not blocked by its worker, and the other database's
# worker goes on.
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);

use ImagestreamTest qw(start_node wait_for assert_no_crash expect_crash invariants_hold);
use RegistryTest;

my ($ok, $why) = RegistryTest->available();
plan skip_all => $why unless $ok;

my $node = start_node('databases', worker => 1, conf => q{
imagestream.blocked_networks = ''
imagestream.import_interval = '1s'
imagestream.max_imports_per_minute = -1
});
sub q1 { return $node->safe_psql('postgres', shift) }
sub qd { my ($db, $sql) = @_; return $node->safe_psql($db, $sql) }

my $reg = RegistryTest->start();
my $h = $reg->host;
my $workers = q{SELECT string_agg(database, ',' ORDER BY database) FROM imagestream.worker_status};

q1('CREATE DATABASE second');
q1('CREATE DATABASE plain');
qd('second', 'CREATE EXTENSION imagestream');
ok(defined wait_for($node, $workers, 'postgres,second', 30),
	'worker_status: a worker for each database with the extension, named');

# both import at once: tags of each database, pushed once
my $one = $reg->push_image('org/app', 'v1', content => 'app one');
my $two = $reg->push_image('org/lib', 'v1', content => 'lib one');
q1("SELECT imagestream.tag('$h/org/app:v1', 'a/app:v1', scheduled => true, insecure => true)");
qd('second', "SELECT imagestream.tag('$h/org/lib:v1', 'b/lib:v1', scheduled => true, insecure => true)");
ok(defined wait_for($node, "SELECT image FROM imagestream.image_stream_tags WHERE namespace = 'a'", $one->{digest}, 30),
	'the first database imports its tag');
my $in_second = sub { qd('second', "SELECT image FROM imagestream.image_stream_tags WHERE namespace = 'b'") };
my $t0 = time;
sleep 0.1 until $in_second->() eq $two->{digest} || time - $t0 > 30;
is($in_second->(), $two->{digest}, 'the second database imports its own');
is(qd('second', "SELECT count(*) FROM imagestream.tag WHERE namespace = 'a'"), '0',
	'each database keeps its own tags');

# a database without the extension: its worker looked and left
ok(defined wait_for($node, "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'imagestream worker' AND datname = 'plain'",
		'0', 30), 'no worker stays in a database without the extension');
# the extension created there later: picked up at its commit
qd('plain', 'CREATE EXTENSION imagestream');
ok(defined wait_for($node, $workers, 'plain,postgres,second', 30), 'CREATE EXTENSION later: a worker for it');
# a new database, created from a template that has the extension
q1('CREATE DATABASE tmpl');
qd('tmpl', 'CREATE EXTENSION imagestream');
ok(defined wait_for($node, $workers, 'plain,postgres,second,tmpl', 30), 'and for a fourth');
q1('CREATE DATABASE copied TEMPLATE tmpl');
pass('CREATE DATABASE ... TEMPLATE of a served database is not blocked by its worker');
ok(defined wait_for($node, $workers, 'copied,plain,postgres,second,tmpl', 30),
	'the copy, which has the extension, gets a worker; the template\'s is back');

# DROP EXTENSION ends that worker, and it stays ended
qd('plain', 'DROP EXTENSION imagestream');
ok(defined wait_for($node, $workers, 'copied,postgres,second,tmpl', 30), 'DROP EXTENSION: its worker leaves');

# DDL that needs a database to itself is not blocked by its worker
q1('ALTER DATABASE tmpl RENAME TO renamed');
pass('ALTER DATABASE ... RENAME of a served database succeeds');
ok(defined wait_for($node, $workers, 'copied,postgres,renamed,second', 30), 'the renamed database is served again');
q1('DROP DATABASE second');
q1('DROP DATABASE copied');
q1('DROP DATABASE renamed');
pass('DROP DATABASE of served databases succeeds');
ok(defined wait_for($node, $workers, 'postgres', 30), 'only the first database\'s worker is left');

# the first database's worker went on all along
my $three = $reg->push_image('org/app', 'v1', content => 'app two');
ok(defined wait_for($node, "SELECT image FROM imagestream.image_stream_tags WHERE namespace = 'a'", $three->{digest}, 30),
	'the first database still imports');

# a role that does not own a database cannot stop its worker by failing to drop it
q1('CREATE ROLE not_owner LOGIN');
my $pid = q1('SELECT pid FROM imagestream.worker_status');
my ($ret, $out, $err) = $node->psql('postgres', 'SET ROLE not_owner; DROP DATABASE postgres');
like($err, qr/must be owner of database|cannot drop the currently open database/, 'a DROP DATABASE by another role fails');
is(q1('SELECT pid FROM imagestream.worker_status'), $pid, 'and the worker was not stopped');

invariants_hold($node);
# the workers that DDL stopped (SIGTERM, a FATAL: exit code 1) are no crash
my @stopped = slurp_file($node->logfile) =~
  /\[(\d+)\] FATAL:  terminating background worker "imagestream worker" due to administrator command/g;
cmp_ok(scalar(@stopped), '>=', 4, 'the DDL stopped the workers of its databases');
my $stopped = join('|', @stopped);
expect_crash($node, qr/\(PID (?:$stopped)\) exited with exit code 1/);
assert_no_crash($node);
$node->stop;
done_testing();
