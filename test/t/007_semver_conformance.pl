# Conformance of semver_compare and semver_satisfies: every row of
# test/conformance/semver_versions.tsv and semver_constraints.tsv (the test
# tables of Masterminds/semver v3.2.0, each row with its file:line there)
# and semver_extra.tsv (this project's edge cases, each checked against the
# library by 008_semver_oracle.pl) through SQL.  Fields are escaped as
# \\, \t and \n.  test/conformance/README.md says where they come from.
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;

use ImagestreamTest qw(start_node read_tsv query_json);

my $dir = 'test/conformance';
my $node = start_node('semver');

# "ok:<answer>" or the SQLSTATE of the error and whether it had a detail.
$node->safe_psql('postgres', <<'SQL');
CREATE FUNCTION try_compare(a text, b text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	detail text;
BEGIN
	RETURN 'ok:' || imagestream.semver_compare(a, b);
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
	RETURN SQLSTATE || CASE WHEN detail <> '' THEN '+detail' ELSE '' END;
END $$;
CREATE FUNCTION try_satisfies(v text, r text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	detail text;
BEGIN
	RETURN 'ok:' || imagestream.semver_satisfies(v, r);
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
	RETURN SQLSTATE || CASE WHEN detail <> '' THEN '+detail' ELSE '' END;
END $$;
SQL

sub unescape
{
	my ($s) = @_;
	$s =~ s/\\(.)/$1 eq 't' ? "\t" : $1 eq 'n' ? "\n" : $1/ge;
	return $s;
}

# Runs fn over every pair, in one query; returns the answers in order.
sub run_all
{
	my ($fn, @pairs) = @_;
	my $values = join(",\n",
		map {
			"($_, " . ImagestreamTest::literal($pairs[$_][0]) . ', '
			  . ImagestreamTest::literal($pairs[$_][1]) . ')'
		} 0 .. $#pairs);
	return query_json($node,
		"SELECT jsonb_agg($fn(a, b) ORDER BY i) FROM (VALUES $values) AS x(i, a, b)");
}

# --- versions: validity, the coerced form, precedence ---
my $versions = read_tsv("$dir/semver_versions.tsv");
my @v = map { unescape($_->{version}) } @$versions;
my $self = run_all('try_compare', map { [ $_, $_ ] } @v);
my @with_string = grep { $versions->[$_]{string} ne '' } 0 .. $#$versions;
my $as_string = run_all('try_compare',
	map { [ $v[$_], unescape($versions->[$_]{string}) ] } @with_string);
my @with_other = grep { $versions->[$_]{other} ne '' } 0 .. $#$versions;
my $to_other = run_all('try_compare',
	map { [ $v[$_], unescape($versions->[$_]{other}) ] } @with_other);

my %relation = (
	'<' => [-1], '>' => [1], '=' => [0], '<=' => [ -1, 0 ], '>=' => [ 0, 1 ],
	'!=' => [ -1, 1 ], '-1' => [-1], '0' => [0], '1' => [1]);
for my $i (0 .. $#$versions)
{
	my $r = $versions->[$i];
	my $label = "semver_versions.tsv:$r->{line} ($r->{source}) " . substr($r->{version}, 0, 50);
	is($self->[$i], $r->{valid} ? 'ok:0' : '22023+detail',
		"$label: " . ($r->{valid} ? 'a version, equal to itself' : 'no version (22023, with a detail)'));
}
for my $k (0 .. $#with_string)
{
	my $r = $versions->[ $with_string[$k] ];
	is($as_string->[$k], 'ok:0', "semver_versions.tsv:$r->{line}: $r->{version} reads as $r->{string}");
}
for my $k (0 .. $#with_other)
{
	my $r = $versions->[ $with_other[$k] ];
	my ($got) = $to_other->[$k] =~ /^ok:(-?\d)$/;
	ok(defined $got && grep({ $_ == $got } @{ $relation{ $r->{relation} } }),
		"semver_versions.tsv:$r->{line} ($r->{source}): $r->{version} $r->{relation} $r->{other}"
		  . " (compare: $to_other->[$k])");
}

# --- ranges: validity, and the answer for each version ---
for my $file ('semver_constraints.tsv', 'semver_extra.tsv')
{
	my $rows = read_tsv("$dir/$file");
	my @ranges = map { unescape($_->{range}) } @$rows;
	# a range's validity, alone: against 0.0.0, which is a version
	my $valid = run_all('try_satisfies', map { [ '0.0.0', $_ ] } @ranges);
	my @checked = grep { $rows->[$_]{satisfies} ne '' } 0 .. $#$rows;
	my $answers = run_all('try_satisfies',
		map { [ unescape($rows->[$_]{version}), $ranges[$_] ] } @checked);
	for my $i (0 .. $#$rows)
	{
		my $r = $rows->[$i];
		my $label = "$file:$r->{line} (" . ($r->{source} // $r->{note}) . ') "' . $r->{range} . '"';
		like($valid->[$i], $r->{valid} ? qr/^ok:/ : qr/^22023\+detail$/,
			"$label: " . ($r->{valid} ? 'a range' : 'no range (22023, with a detail)'));
	}
	for my $k (0 .. $#checked)
	{
		my $r = $rows->[ $checked[$k] ];
		my $want = $r->{satisfies} eq 'version-invalid' ? '22023+detail'
		  : $r->{satisfies} ? 'ok:true' : 'ok:false';
		is($answers->[$k], $want, "$file:$r->{line}: \"$r->{version}\" against \"$r->{range}\"");
	}
}

done_testing();
