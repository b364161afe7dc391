# Without shared_preload_libraries the extension works but for the worker,
# and CREATE EXTENSION says so.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use ImagestreamTest ();	# its crash check of every node at done_testing

my $node = PostgreSQL::Test::Cluster->new('without_preload');
$node->init;
$node->start;

my ($ret, $out, $err) = $node->psql('postgres', 'CREATE EXTENSION imagestream');
is($ret, 0, 'CREATE EXTENSION works without preloading');
like($err, qr/WARNING:  the imagestream background worker is not running/, 'and says the worker is not running');

is($node->safe_psql('postgres', q{
	SELECT imagestream.map_image('np/app:latest',
		imagestream.ref_with_digest('quay.io/org/app', imagestream.content_digest('x')));
	SELECT imagestream.tag('quay.io/org/app:1', 'np/app:one', scheduled => true);
	SELECT imagestream.import_now('np/app:one');
}), "\n\n1", 'tags, mappings and import requests work');
is($node->safe_psql('postgres', "SELECT imagestream.resolve('np/app:latest')::text"),
	'quay.io/org/app@' . $node->safe_psql('postgres', "SELECT imagestream.content_digest('x')"),
	'resolve works');
is($node->safe_psql('postgres', 'SELECT count(*) FROM imagestream.worker_status'), '0',
	'worker_status is empty');
ok($node->log_contains('terminated by signal') == 0, 'no backend crashed');
done_testing();
