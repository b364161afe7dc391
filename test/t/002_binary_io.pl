# Binary I/O: COPY ... (FORMAT binary) round-trips both types, and malformed
# binary values are refused with SQLSTATE 22P03, never a crash, and nothing
# is stored.
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;

use ImagestreamTest qw(start_node);

my $node = start_node('binary_io');
my $dir = PostgreSQL::Test::Utils::tempdir;

$node->safe_psql('postgres', q{
	ALTER DATABASE postgres SET search_path TO public, imagestream;
	CREATE TABLE src (d imagestream.image_digest, r imagestream.image_ref);
	INSERT INTO src VALUES
		(imagestream.content_digest('a'), 'nginx'),
		(imagestream.content_digest('b', 'sha512'), 'quay.io/org/app:v1@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'),
		(NULL, '[::1]:5000/x:y'),
		(imagestream.content_digest('c'), NULL);
	CREATE TABLE dst (LIKE src);
	CREATE TABLE digests (d imagestream.image_digest);
	CREATE TABLE refs (r imagestream.image_ref);
});

$node->safe_psql('postgres', "\\copy src TO '$dir/src.bin' WITH (FORMAT binary)");
$node->safe_psql('postgres', "\\copy dst FROM '$dir/src.bin' WITH (FORMAT binary)");
is($node->safe_psql('postgres',
		'SELECT count(*) FROM ((TABLE src EXCEPT ALL TABLE dst) UNION ALL
		 (TABLE dst EXCEPT ALL TABLE src)) AS diff'),
	'0', 'binary COPY round-trips every value');

# A binary COPY file with one single-column row holding $field (undef: NULL).
sub copy_file
{
	my ($name, $field) = @_;
	my $data = "PGCOPY\n\377\r\n\0" . pack('NN', 0, 0) . pack('n', 1);
	$data .= defined $field ? pack('N', length $field) . $field : pack('l>', -1);
	$data .= pack('s>', -1);
	my $path = "$dir/$name.bin";
	open(my $fh, '>:raw', $path) or die "$path: $!";
	print $fh $data;
	close $fh;
	return $path;
}

my $hash32 = "\x11" x 32;
my @bad = (
	[ digests => 'algorithm 0', "\x00$hash32" ],
	[ digests => 'algorithm 3', "\x03$hash32" ],
	[ digests => 'algorithm 255', "\xff$hash32" ],
	[ digests => 'sha256 hash of 31 bytes', "\x01" . ("\x11" x 31) ],
	[ digests => 'sha256 hash of 33 bytes', "\x01" . ("\x11" x 33) ],
	[ digests => 'sha256 without hash', "\x01" ],
	[ digests => 'sha512 hash of 32 bytes', "\x02$hash32" ],
	[ digests => 'empty value', '' ],
	[ refs => 'format version 0', "\x00nginx" ],
	[ refs => 'format version 2', "\x02nginx" ],
	[ refs => 'upper case path', "\x01Nginx" ],
	[ refs => 'empty reference', "\x01" ],
	[ refs => 'zero byte inside', "\x01nginx\x00:1" ],
	[ refs => 'bad digest', "\x01nginx\@sha256:abc" ],
	[ refs => 'random bytes', "\x01" . join('', map { chr(($_ * 97 + 13) % 256) } 1 .. 2000) ],
	[ refs => 'empty value', '' ]);

for my $case (@bad)
{
	my ($table, $what, $field) = @$case;
	my $path = copy_file("bad", $field);
	my ($ret, $out, $err) = $node->psql('postgres',
		"\\set VERBOSITY verbose\n\\copy $table FROM '$path' WITH (FORMAT binary)");
	like($err, qr/ERROR:  22P03: invalid external image_(digest|ref) value/,
		"$table: $what is refused with 22P03");
}

is($node->safe_psql('postgres', 'SELECT (SELECT count(*) FROM digests) + (SELECT count(*) FROM refs)'),
	'0', 'nothing was stored from malformed input');

my $good = copy_file('good', "\x01nginx:1");
$node->safe_psql('postgres', "\\copy refs FROM '$good' WITH (FORMAT binary)");
is($node->safe_psql('postgres', 'SELECT r FROM refs'), 'docker.io/library/nginx:1',
	'a well-formed binary image_ref is normalised like text input');

ok($node->log_contains('terminated by signal') == 0, 'no backend crashed');
$node->stop;
done_testing();
