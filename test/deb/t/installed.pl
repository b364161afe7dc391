# The installed package at work (test/deb/run-deb-test.sh runs this after
# `apt-get install`): a fresh cluster preloads the package's library, creates
# the extension, imports from a real local registry directly and through the
# background worker, and updates from the oldest released version with the
# scripts the package ships.
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;

use ImagestreamTest qw(start_node wait_for);
use RegistryTest;

# (imports from loopback: the default blocked_networks refuses it)
my $node = start_node('deb', worker => 1, conf => "imagestream.blocked_networks = ''");
sub q1 { return $node->safe_psql('postgres', shift) }

is(q1("SELECT extversion FROM pg_extension WHERE extname = 'imagestream'"), '0.3.0',
	'CREATE EXTENSION installs 0.3.0');
is(q1("SELECT string_agg(version, ' ' ORDER BY version) FROM pg_available_extension_versions WHERE name = 'imagestream'"),
	'0.1.0 0.2.0 0.3.0', 'every released version is available');

my $reg = RegistryTest->start;
my $host = $reg->host;
my $v1 = $reg->push_image('deb/app', 'v1', content => 'from the package test');
is(q1("SELECT status || ' ' || image FROM imagestream.import_image('deb/app:v1', '$host/deb/app:v1', insecure => true, confirm => true)"),
	"Success $v1->{digest}", 'import_image imports from the local registry');
is(q1("SELECT imagestream.resolve('deb/app:v1')::text"), "$host/deb/app\@$v1->{digest}",
	'resolve gives the imported digest');

ok(defined wait_for($node, 'SELECT count(*) FROM imagestream.worker_status', '1', 30),
	'the background worker of the package\'s library runs');
q1("SELECT imagestream.tag('$host/deb/app:v1', 'deb/app:scheduled', scheduled => true, insecure => true)");
ok(defined wait_for($node, "SELECT image FROM imagestream.image_stream_tags WHERE namespace = 'deb' AND stream = 'app' AND tag = 'scheduled'",
	$v1->{digest}, 30), 'the worker imports a scheduled tag');

# the update scripts: 0.1.0 and the updates to 0.3.0
$node->safe_psql('postgres', 'CREATE DATABASE old');
$node->safe_psql('old', "CREATE EXTENSION imagestream VERSION '0.1.0'");
$node->safe_psql('old', 'ALTER EXTENSION imagestream UPDATE');
is($node->safe_psql('old', "SELECT extversion FROM pg_extension WHERE extname = 'imagestream'"), '0.3.0',
	'ALTER EXTENSION UPDATE brings 0.1.0 to 0.3.0');

$reg->stop;
done_testing();
