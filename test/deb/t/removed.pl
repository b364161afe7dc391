# After `apt-get purge` (test/deb/run-deb-test.sh): a fresh cluster no
# longer finds the extension, and one that preloads the library does not
# start.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use ImagestreamTest;

my $node = PostgreSQL::Test::Cluster->new('removed');
$node->init;
$node->start;
is($node->safe_psql('postgres', "SELECT count(*) FROM pg_available_extension_versions WHERE name = 'imagestream'"),
	'0', 'no version of imagestream is available');
my ($ret, $out, $err) = $node->psql('postgres', 'CREATE EXTENSION imagestream');
like($err, qr/extension "imagestream" is not available|could not open extension control file/,
	'CREATE EXTENSION fails');
$node->stop;

$node->append_conf('postgresql.conf', "shared_preload_libraries = 'imagestream'");
ok(!$node->start(fail_ok => 1), 'a server that preloads imagestream does not start');
like(slurp_file($node->logfile), qr/could not access file "imagestream": No such file or directory/,
	'for want of the library');

done_testing();
