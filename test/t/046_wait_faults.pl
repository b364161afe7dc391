# Faults under the wait for a registry (src/http_wait.c, src/http.c), made
# by test/lib/wait_faults.c preloaded into the server:
# - the wall clock steps back an hour (NTP, a resumed virtual machine) while
#   a request waits: request_timeout still ends it, as libcurl's timer is
#   waited for on libcurl's own monotonic clock;
# - libcurl fails each time it is asked to act: a batch of requests is
#   cancelled at once, its requests failing, instead of being retried until
#   the statement is cancelled.
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);

use ImagestreamTest qw(start_node invariants_hold);
use RegistryTest;

my $dir = PostgreSQL::Test::Utils::tempdir;
plan skip_all => 'no C compiler (cc) to build the LD_PRELOAD shim test/lib/wait_faults.c'
  if system('sh', '-c', 'command -v cc >/dev/null 2>&1') != 0;
system('cc', '-shared', '-fPIC', '-o', "$dir/wait_faults.so", 'test/lib/wait_faults.c', '-ldl') == 0
  or die 'test/lib/wait_faults.c does not build';

my $clock_back = "$dir/clock-back";
my $curl_fail = "$dir/curl-fail";
my $node;
{
	local $ENV{LD_PRELOAD} = "$dir/wait_faults.so";
	local $ENV{WAIT_FAULTS_CLOCK_BACK} = $clock_back;
	local $ENV{WAIT_FAULTS_CURL_FAIL} = $curl_fail;
	$node = start_node('wait_faults', conf => qq{
imagestream.blocked_networks = ''
imagestream.request_timeout = '3s'
});
}
sub q1 { return $node->safe_psql('postgres', shift) }

# slow: the headers, one byte, then a byte every 300 s
my $evil = RegistryTest->start_hostile(slow_interval => 300, slow_seconds => 600);
my $host = $evil->host;

sub touch { open(my $fh, '>', shift) or die $!; close $fh; }

# --- the wall clock steps back ---
my $t0 = time;
like(q1("SELECT status || '|' || message FROM imagestream.import_image('c/a:t', '$host/slow/app:latest',
		insecure => true, confirm => true)"),
	qr/^Failure\|.*request_timeout/, 'without a step, request_timeout ends the import');
note(sprintf('no clock step: the import ended after %.1f s', time - $t0));

my $bg = $node->background_psql('postgres', on_error_stop => 0);
$bg->query_until(qr/started/, qq{\\echo started
SELECT status || '|' || message FROM imagestream.import_image('c/b:t', '$host/slow/app:latest',
	insecure => true, confirm => true);
\\echo finished
});
sleep 1;
touch($clock_back);
$t0 = time;
my $done = 0;
while (time - $t0 < 30)
{
	$bg->{run}->pump_nb;
	if ($bg->{stdout} =~ /finished/) { $done = 1; last; }
	sleep 0.2;
}
unlink $clock_back;
note(sprintf('clock stepped back 1 h: the import %s after %.1f s', $done ? 'ended' : 'still waited', time - $t0));
ok($done, 'after the wall clock steps back an hour, request_timeout (3 s) still ends the import');
like($bg->{stdout}, qr/^Failure\|.*request_timeout/m, 'as a timeout');
$node->psql('postgres', "SELECT pg_cancel_backend(pid) FROM pg_stat_activity
	WHERE query LIKE '%c/b:t%' AND pid <> pg_backend_pid()") unless $done;
$bg->quit;

# --- libcurl fails: 20 sources at once (a batch) ---
my $refs = join(',', map { "'$host/ok/app$_:latest'" } 1 .. 20);
my $flags = join(',', ('true') x 20);
my $nulls = join(',', ('NULL') x 20);
my $log_offset = -s $node->logfile;
$t0 = time;
# the same session first learns the registry's scheme (one request, once a
# process), so that the batch's requests are made
my ($ret, $out, $err) = $node->psql('postgres', qq{SET statement_timeout = '60s';
SELECT count(*) FROM imagestream._fetch_sources(ARRAY['$host/ok/app0:latest']::imagestream.image_ref[],
	ARRAY[true], ARRAY[false], NULL, NULL, NULL, NULL);
COPY (SELECT) TO '$curl_fail';
SELECT status || '|' || count(*) FROM imagestream._fetch_sources(ARRAY[$refs]::imagestream.image_ref[],
	ARRAY[$flags], ARRAY[$flags], NULL, NULL, NULL, NULL) GROUP BY status});
unlink $curl_fail;
note(sprintf('with libcurl failing, the 20 sources ended after %.1f s', time - $t0));
is($ret, 0, 'with libcurl failing, the batch ends (not at statement_timeout)') or diag($err);
is($out, "1\nFailure|20", 'each source fails');
like(substr(slurp_file($node->logfile), $log_offset),
	qr/LOG:  a batch of 20 registry requests was cancelled with 20 not answered\n.*DETAIL:  libcurl failed while waiting for the requests: Out of memory\./,
	'the log says why the batch was cancelled');
is(q1("SELECT status FROM imagestream.import_image('c/c:t', '$host/ok/app:latest',
		insecure => true, confirm => true)"),
	'Success', 'without the fault, imports work again');

invariants_hold($node);
$evil->stop;
done_testing();
