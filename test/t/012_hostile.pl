# What no real registry sends, from test/lib/hostile_registry.py: each gives
# its failure reason, the tag keeps its previous image, the server stays up;
# and an import waiting on a registry is cancelled promptly, leaving nothing.
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);

use ImagestreamTest qw(start_node invariants_hold);
use RegistryTest;

my $node = start_node('hostile');
$node->append_conf('postgresql.conf', qq{
imagestream.blocked_networks = '169.254.0.0/16'
imagestream.request_timeout = '3s'
});
$node->reload;
# paged: 7 tags, at most 2 a page whatever n the client asks
my $evil = RegistryTest->start_hostile(slow_interval => 1, slow_seconds => 60, paged_tags => 7, page_cap => 2);
my $host = $evil->host;

sub q1 { return $node->safe_psql('postgres', shift) }

# the tag's source is set with tag(), as import_image refuses to change it
# (oc import-image); then it is imported
sub import_from
{
	my ($repo, $extra) = @_;
	$extra //= '';
	q1("SELECT imagestream.tag('$host/$repo:latest', 'ev/app:t', insecure => true)");
	return q1("SELECT status || '|' || coalesce(reason, '') || '|' || coalesce(message, '')
			   FROM imagestream.import_image('ev/app:t' $extra)");
}

like(import_from('ok/app'), qr/^Success\|\|/, 'a well-formed answer imports');

# every request names the release of the library (imagestream.control)
my ($version) = slurp_file('imagestream.control') =~ /^default_version = '([^']+)'/m;
my @agents = map { $_->{user_agent} // '(none)' } @{ $evil->request_log };
ok(@agents > 0 && !grep({ $_ ne "imagestream/$version" } @agents),
	"the registry received User-Agent imagestream/$version")
  or diag explain \@agents;
my $good = q1("SELECT imagestream.resolve('ev/app:t')::text");

my @cases = (
	[ 'wrongdigest/app', 'DigestMismatch', qr/hashes to/ ],
	[ 'bodymismatch/app', 'DigestMismatch', qr/hashes to/ ],
	[ 'huge/app', 'ManifestTooLarge', qr/max_manifest_size/ ],
	[ 'endless/app', 'ManifestTooLarge', qr/max_manifest_size/ ],
	[ 'slow/app', 'Timeout', qr/request_timeout/ ],
	[ 'truncated/app', 'InternalError', qr/could not be reached|transfer/i ],
	[ 'brokenjson/app', 'InvalidManifest', qr/JSON/ ],
	[ 'schema1/app', 'UnsupportedMediaType', qr/schema 1/ ],
	[ 'unknowntype/app', 'UnsupportedMediaType', qr/application\/x-unknown/ ],
	[ 'auth401loop/app', 'Unauthorized', qr/refused/ ],
	[ 'tokenfail/app', 'Unauthorized', qr/token endpoint .* answered HTTP 500/ ],
	[ 'ratelimit/app', 'TooManyRequests', qr/Retry-After: 7/ ],
	[ 'servererror/app', 'InternalError', qr/HTTP 500/ ],
	[ 'redirectloop/app', 'InternalError', qr/redirected more than 5 times/ ],
	[ 'redirectblocked/app', 'Forbidden', qr/169\.254\.169\.254 is in imagestream\.blocked_networks/ ],
);
for my $c (@cases)
{
	my ($repo, $reason, $message) = @$c;
	my $t0 = time;
	my ($status, $got_reason, $got_message) = split /\|/, import_from($repo), 3;
	is("$status $got_reason", "Failure $reason", "$repo: $reason");
	like($got_message, $message, "$repo: the message says what happened");
	ok(time - $t0 < 20, "$repo: answered in bounded time");
	is(q1("SELECT imagestream.resolve('ev/app:t')::text"), $good, "$repo: the previous image is kept");
}

# the condition of the last failure is on the tag; a success clears it
is(q1("SELECT import_status || ' ' || import_reason FROM imagestream.image_stream_tags WHERE tag = 't'"),
	'False Forbidden', 'the failure is recorded as a condition');
like(import_from('ok/app'), qr/^Success/, 'a later success');
is(q1("SELECT import_status IS NULL FROM imagestream.image_stream_tags WHERE tag = 't'"), 't',
	'clears the condition');

# tag lists follow Link pagination: the server sends 2 tags a page whatever
# n asks, so 7 tags take 4 pages, each asked once, in order
$evil->reset_log;
is(q1("SELECT string_agg(tag, ',' ORDER BY tag) FROM imagestream.import_image('ev/paged', '$host/paged/app',
	   all_tags => true, insecure => true, dry_run => true, confirm => true)"),
	join(',', map { "1.$_" } 0 .. 6), 'all_tags follows rel="next" links');
is_deeply([ map { $_->{path} } grep { $_->{path} =~ m{/tags/list} } @{ $evil->request_log } ],
	[ '/v2/paged/app/tags/list?n=1000', map { "/v2/paged/app/tags/list?n=1000&last=1.$_" } 1, 3, 5 ],
	'all_tags: 4 tags/list requests, one a page, each following the Link before it');

# a tag list's names that are not tags are left out, not an error
is(q1("SELECT string_agg(tag || ':' || status, ',' ORDER BY tag) FROM imagestream.import_image('ev/badnames',
	   '$host/badtagnames/app', all_tags => true, insecure => true, dry_run => true, confirm => true)"),
	'1.0:Success,latest:Success', 'all_tags: listed names that are not tags are left out');

# cancellation: statement_timeout and pg_cancel_backend stop a slow import
q1("SELECT imagestream.tag('$host/slow/app:latest', 'ev/app:t', insecure => true)");
$node->safe_psql('postgres', "ALTER SYSTEM SET imagestream.request_timeout = '60s'");
$node->reload;
my $t0 = time;
my ($ret, $out, $err) = $node->psql('postgres', qq{
	SET statement_timeout = '1s';
	SELECT * FROM imagestream.import_image('ev/app:t');
});
like($err, qr/canceling statement due to statement timeout/, 'statement_timeout cancels a waiting import');
# (the registry would answer after a minute, and request_timeout is 60 s)
ok(time - $t0 < 20, 'long before the registry answers');

$evil->reset_log;
my $bg = $node->background_psql('postgres', on_error_stop => 0);
$bg->query_until(qr/started/, qq{\\echo started
SELECT * FROM imagestream.import_image('ev/app:t');
});
# cancelled while it waits for the registry: once its request is there
my $asked = 0;
$t0 = time;
while (!$asked && time - $t0 < 30)
{
	$asked = grep { $_->{path} =~ m{/slow/app/manifests/} } @{ $evil->request_log };
	sleep 0.1 unless $asked;
}
ok($asked, 'the import waits for the slow registry');
$t0 = time;
q1("SELECT pg_cancel_backend(pid) FROM pg_stat_activity
	WHERE query LIKE '%import_image%' AND pid <> pg_backend_pid()");
$bg->query('SELECT 1');
ok(time - $t0 < 20, 'pg_cancel_backend stops a waiting import long before the registry answers');
like($bg->{stderr}, qr/canceling statement due to user request/, 'with the cancel error');
$bg->quit;
is(q1("SELECT imagestream.resolve('ev/app:t')::text"), $good, 'a cancelled import leaves the tag as it was');

is($evil->request('GET', '/v2/')->{status}, 200, 'the hostile server is still up');
$evil->stop;
invariants_hold($node);
ok($node->log_contains('terminated by signal') == 0, 'no backend crashed');
done_testing();
