# promote() under concurrency (doc/promotion.md): two sessions promote the
# same three tags of three streams, in opposite orders, many times.  Each
# locks the destination streams in the order of their ids, so neither ever
# waits for the other in a cycle: both finish with no deadlock (40P01) and
# no error, every promotion is all or none (the three tags always share an
# image), and every change is logged and announced exactly once, with
# via = promote.
use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Utils;
use Test::More;

use ImagestreamTest qw(start_node invariants_hold);

my $node = start_node('promote');
sub q1 { return $node->safe_psql('postgres', shift) }

my $rounds = 150;
q1(join '', map {
	"SELECT imagestream.map_image('pm/$_', imagestream.ref_with_digest('quay.io/pm/app', "
	  . "imagestream.content_digest('$_')));"
} qw(src:a src:b s1:prod s2:prod s3:prod));

# A session's script: $rounds promotions of the three tags from $from, in
# the order given, each its own transaction; the moves that changed a tag
# are counted, and the image they share checked inside the transaction
sub script
{
	my ($from, @streams) = @_;
	my $moves = join ', ', map { qq({"tag": "pm/$_:prod", "from": "pm/$from"}) } @streams;
	my $one = "SELECT count(*) FILTER (WHERE previous_image::text IS DISTINCT FROM image::text) AS moved "
	  . "FROM imagestream.promote('[$moves]');\n";
	return ("\\set ON_ERROR_STOP 1\n\\t on\n" . $one x $rounds);
}

my $listener = $node->background_psql('postgres');
$listener->query_safe('LISTEN imagestream');
my $first = q1('SELECT coalesce(max(id), 0) FROM imagestream.change');

my (%out, %err, @runs);
my $dir = PostgreSQL::Test::Utils::tempdir;
for my $who (['a', 'src:a', qw(s1 s2 s3)], ['b', 'src:b', qw(s3 s2 s1)])
{
	my ($name, $from, @streams) = @$who;
	my $file = "$dir/promote_$name.sql";
	PostgreSQL::Test::Utils::append_to_file($file, script($from, @streams));
	push @runs, IPC::Run::start(
		[ 'psql', '-X', '-q', '-d', $node->connstr('postgres'), '-f', $file ],
		'>', \$out{$name}, '2>', \$err{$name},
		IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
}
my @ok = map { $_->finish } @runs;
ok($ok[0] && $ok[1], 'both sessions finish');
is($err{a} . $err{b}, '', 'neither met a deadlock or any other error');

my $moved = 0;
$moved += $_ for map { /(\d+)/g } $out{a}, $out{b};
cmp_ok($moved, '>', 3, 'the sessions took turns: tags moved back and forth');
note("$moved moves in " . 2 * $rounds . ' promotions');

is(q1("SELECT count(DISTINCT image) FROM imagestream.image_stream_tags WHERE namespace = 'pm' AND tag = 'prod'"),
	'1', 'the three tags share an image: each promotion was all or none');
is(q1("SELECT count(*) FROM imagestream.change WHERE id > $first AND via = 'promote'"), $moved,
	'one change row per tag a promotion moved, via promote');
is(q1("SELECT count(*) FROM imagestream.change WHERE id > $first AND via IS DISTINCT FROM 'promote'"), '0',
	'and no other');

my $notes = $listener->query_safe('SELECT 1');
my @ids;
push @ids, $1 while $notes =~ /Asynchronous notification "imagestream" with payload "\{"id": (\d+)\}"/g;
my %seen;
$seen{$_}++ for @ids;
is(scalar(@ids), $moved, 'every change announced');
is(scalar(keys %seen), $moved, 'each once');
is_deeply([ sort { $a <=> $b } keys %seen ], [ $first + 1 .. $first + $moved ], 'with dense ids in commit order');
$listener->quit;

invariants_hold($node, 'the invariants hold after the promotions');
$node->stop;
done_testing();
