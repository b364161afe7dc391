# Random mutations of valid inputs through both input functions: every one
# is accepted or refused with 22P02, never another error or a crash, and an
# accepted reference prints in a form that reads back as the same value.
use strict;
use warnings;

use Encode qw(encode_utf8);
use PostgreSQL::Test::Utils;
use Test::More;

use ImagestreamTest qw(start_node query_json);

my $seed = $ENV{IMAGESTREAM_MUTATION_SEED} // time;
srand($seed);
note("mutation seed $seed (set IMAGESTREAM_MUTATION_SEED to repeat)");

my $node = start_node('input_mutation');
$node->safe_psql('postgres', <<'SQL');
CREATE FUNCTION check_ref(input text) RETURNS text LANGUAGE plpgsql
SET search_path = imagestream, public AS $$
DECLARE r imagestream.image_ref;
BEGIN
	r := input::imagestream.image_ref;
	IF r::text::imagestream.image_ref <> r OR r::text <> r::text::imagestream.image_ref::text THEN
		RETURN 'unstable';
	END IF;
	RETURN 'ok';
EXCEPTION WHEN invalid_text_representation THEN
	RETURN 'refused';
END $$;
CREATE FUNCTION check_digest(input text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE d imagestream.image_digest;
BEGIN
	d := input::imagestream.image_digest;
	RETURN CASE WHEN d::text = input THEN 'ok' ELSE 'unstable' END;
EXCEPTION WHEN invalid_text_representation THEN
	RETURN 'refused';
END $$;
SQL

my @ref_seeds = ('nginx', 'nginx:1.25', 'quay.io/org/app:v1', 'localhost:5000/a/b',
	'[::1]:5000/x:y', 'registry.example.com/team/app@sha256:' . ('ab' x 32),
	'docker.io/library/busybox:latest@sha512:' . ('0f' x 64), 'a/b/c/d.e_f__g-h');
my @digest_seeds = ('sha256:' . ('e3' x 32), 'sha512:' . ('cf' x 64));
my @alphabet = ('a' .. 'z', 'A' .. 'Z', '0' .. '9', split(//, './:@_-[]%+ '), "\x{e9}");

sub mutate
{
	my ($s) = @_;
	for (1 .. 1 + int(rand(3)))
	{
		my $pos = int(rand(length($s) + 1));
		my $c = $alphabet[ int(rand(@alphabet)) ];
		my $op = int(rand(4));
		if ($op == 0) { substr($s, $pos, 0) = $c }
		elsif ($op == 1) { substr($s, $pos, 1) = '' if $pos < length $s }
		elsif ($op == 2) { substr($s, $pos, 1) = $c if $pos < length $s }
		else { substr($s, $pos, 0) = substr($s, int(rand(length $s)), 1 + int(rand(8))) }
	}
	return $s;
}

sub run
{
	my ($fn, $seeds, $n) = @_;
	my @inputs = map { mutate($seeds->[ $_ % @$seeds ]) } 1 .. $n;
	my $values = encode_utf8(join(',', map { '(' . ImagestreamTest::literal($_) . ')' } @inputs));
	my $res = query_json($node,
		"SELECT jsonb_object_agg(k, n) FROM (SELECT $fn(v) AS k, count(*) AS n
		 FROM (VALUES $values) AS x(v) GROUP BY 1) AS s");
	return $res;
}

my $refs = run('check_ref', \@ref_seeds, 5000);
note(explain($refs));
ok(!exists $refs->{unstable}, 'every accepted mutated reference reads back as itself');
ok($refs->{ok} && $refs->{refused}, 'mutations were both accepted and refused');

my $digests = run('check_digest', \@digest_seeds, 3000);
note(explain($digests));
ok(!exists $digests->{unstable}, 'every accepted mutated digest prints as its input');
ok($digests->{refused}, 'mutated digests were refused');

ok($node->log_contains('terminated by signal') == 0, 'no backend crashed');
done_testing();
