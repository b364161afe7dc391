# make stress: resource bounds.  10,000 tags failing at once (their registry
# is down): the worker backs off, its memory stays bounded, the server log is
# not flooded.  A registry answering one byte a second: the request ends at
# imagestream.request_timeout and other work is served meanwhile.  Recording
# that fails for every tag: at most 10 messages a minute.
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);

use ImagestreamTest qw(start_node invariants_hold wait_for);
use RegistryTest;

my $seconds = $ENV{STRESS_SECONDS} // 60;
my $node = start_node('bounds', worker => 1, conf => qq{
imagestream.blocked_networks = ''
imagestream.import_interval = '1h'
imagestream.max_imports_per_minute = -1
imagestream.request_timeout = '5s'
});
my $reg = RegistryTest->start();
my $host = $reg->host;
my $evil = RegistryTest->start_hostile(slow_interval => 1, slow_seconds => 120);
my $ehost = $evil->host;

sub q1 { return $node->safe_psql('postgres', shift) }


sub rss_kb
{
	my ($pid) = @_;
	open(my $f, '<', "/proc/$pid/status") or return 0;
	while (<$f>) { return $1 if /^RssAnon:\s+(\d+)/ }
	return 0;
}

sub log_lines
{
	my ($from, $re) = @_;
	open(my $f, '<', $node->logfile) or die;
	seek($f, $from, 0);
	my $n = grep { /$re/ } <$f>;
	close $f;
	return $n;
}

# 10,000 tags whose registry is down (a port nothing listens on): all pending
my $down = '127.0.0.1:' . RegistryTest::free_port();
q1(qq{
	INSERT INTO imagestream.stream (namespace, name) SELECT 'down', 's' || i FROM generate_series(0, 9) i;
	INSERT INTO imagestream.tag (stream_id, namespace, stream, name, has_spec, from_kind, from_ref,
		spec_generation, scheduled, insecure)
	SELECT s.id, 'down', s.name, 't' || j, true, 'DockerImage', '$down/org/' || s.name || ':t' || j, 1, true, true
	FROM imagestream.stream s, generate_series(0, 999) j WHERE s.namespace = 'down';
	SELECT imagestream._wake_worker();
});
my $pid = q1('SELECT pid FROM imagestream.worker_status');
my $log0 = -s $node->logfile;
ok(defined wait_for($node, "SELECT count(*) FROM imagestream.tag WHERE namespace = 'down' AND import_reason IS NOT NULL",
		'10000', 120), 'all 10,000 tags get a failed condition');
my $rss_first = rss_kb($pid);
my $f0 = q1('SELECT failures FROM imagestream.worker_status');
my $t0 = time;
sleep $seconds;
my $f1 = q1('SELECT failures FROM imagestream.worker_status');
my $rss_last = rss_kb($pid);
my $elapsed = time - $t0;
# retries after 1 s, 2 s, 4 s, ...: about log2(seconds) attempts per tag
my $bound = 10000 * (log($elapsed) / log(2) + 2);
cmp_ok($f1 - $f0, '<=', $bound,
	sprintf('back-off: %d failed attempts in %.0f s (at most %d; without back-off %d)',
		$f1 - $f0, $elapsed, $bound, 10000 * $elapsed));
cmp_ok($rss_last, '<=', $rss_first * 1.25 + 8192,
	"the worker's memory stays bounded (RssAnon $rss_first kB -> $rss_last kB)");
my $lines = log_lines($log0, qr/^(?!.*statement: ).*imagestream/);
cmp_ok($lines, '<=', 20, "the server log is not flooded ($lines imagestream lines)");
is(q1("SELECT count(*) FROM imagestream.change WHERE event = 'import_failed'"), '10000',
	'one import_failed change per tag: a repeated failure writes nothing');

# a registry answering one byte a second: the request ends at the timeout,
# and other work is served meanwhile
q1('DELETE FROM imagestream.stream WHERE namespace = \'down\'');
my $img = $reg->push_image('org/app', 'v1', content => 'bounds');
q1("SELECT imagestream.tag('$ehost/slow/app:latest', 'rb/slow:latest', insecure => true)");
sleep 1;
q1("SELECT imagestream.tag('$host/org/app:v1', 'rb/app:v1', insecure => true)");
my $took = wait_for($node, "SELECT count(*) FROM imagestream.tag WHERE namespace = 'rb' AND name = 'v1' AND image IS NOT NULL", '1', 20);
ok(defined $took && $took < 8, sprintf('work committed meanwhile is served (%.1f s, request_timeout 5 s)', $took // -1));
ok(defined wait_for($node, "SELECT import_reason FROM imagestream.tag WHERE namespace = 'rb' AND stream = 'slow'", 'Timeout', 15),
	'the slow request ends at the timeout');

# recording that fails for every tag: at most 10 messages a minute, then a count
my @tags = map { "t$_" } 1 .. 300;
$reg->push_many_tags('org/many', 300, tags => \@tags);
q1(q{
	CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN
		RAISE EXCEPTION 'refused by a test trigger';
	END $$;
	CREATE TRIGGER refuse BEFORE INSERT ON imagestream.history_event FOR EACH ROW EXECUTE FUNCTION refuse();
});
my $log1 = -s $node->logfile;
my $checked0 = q1('SELECT tags_checked FROM imagestream.worker_status');
q1("INSERT INTO imagestream.stream (namespace, name) VALUES ('rf', 'many');
	INSERT INTO imagestream.tag (stream_id, namespace, stream, name, has_spec, from_kind, from_ref, spec_generation, insecure)
	SELECT s.id, 'rf', 'many', t, true, 'DockerImage', '$host/org/many:' || t, 1, true
	FROM imagestream.stream s, unnest(ARRAY['" . join("','", @tags) . "']) t WHERE s.namespace = 'rf';
	SELECT imagestream._wake_worker();");
ok(defined wait_for($node, "SELECT tags_checked >= $checked0 + 300 FROM imagestream.worker_status", 't', 30), 'the worker tried the 300 tags');
sleep 2;
my $refused = log_lines($log1, qr/could not record the import/);
cmp_ok($refused, '<=', 10, "at most 10 messages about single tags a minute ($refused)");
cmp_ok($refused, '>=', 1, 'and they are there');
q1('DROP TRIGGER refuse ON imagestream.history_event');
q1("DELETE FROM imagestream.stream WHERE namespace = 'rf'");
invariants_hold($node);
ok($node->log_contains('terminated by signal') == 0, 'no backend crashed');
$reg->stop;
$evil->stop;
done_testing();
