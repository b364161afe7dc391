# Differential test of semver_satisfies and semver_compare against the
# library they copy: Masterminds/semver v3.2.0 as Debian bookworm packages
# it (golang-github-masterminds-semver-dev), driven by the Go program of
# test/semver_oracle/ built offline with Debian's golang-go.
#
# Thousands of ranges and versions from a seeded generator (the same ones
# every run), built to hit the library's edges (wildcards, hyphen ranges
# next to "||", prereleases, leading zeros, stray characters), and every
# row of the conformance files, are answered by both; any disagreement
# fails, and the first few are printed.  The rows of the conformance files
# must also be what the library answers, which is how semver_extra.tsv
# (written here, not upstream) is known to be the library's behaviour.
use strict;
use warnings;

use File::Copy qw(copy);
use IPC::Run;
use PostgreSQL::Test::Utils;
use Test::More;

use ImagestreamTest qw(start_node read_tsv query_json);

my $PAIRS = 6000;
my $COMPARES = 3000;
my $SHOWN = 10;

# --- the oracle: Debian's library, built without a network ---
my $pkg = `dpkg-query -W -f='\${Version}' golang-github-masterminds-semver-dev 2>/dev/null`;
like($pkg, qr/^3\.2\.0(-|$)/,
	'golang-github-masterminds-semver-dev 3.2.0 is installed (test/install-deps.sh), the version src/semver.c follows');
my $gocode = '/usr/share/gocode/src/github.com/Masterminds/semver';
ok(-f "$gocode/constraints.go", "the library's source is in $gocode")
  or BAIL_OUT('no Masterminds/semver source to build the oracle from');

my $tmp = PostgreSQL::Test::Utils::tempdir();
mkdir "$tmp/oracle" or die "mkdir: $!";
copy('test/semver_oracle/main.go', "$tmp/oracle/main.go") or die "copy: $!";
open(my $mod, '>', "$tmp/oracle/go.mod") or die "go.mod: $!";
print $mod "module semveroracle\n\ngo 1.19\n\n"
  . "require github.com/Masterminds/semver/v3 v3.2.0\n\n"
  . "replace github.com/Masterminds/semver/v3 => $gocode\n";
close $mod;
local $ENV{GOPATH} = "$tmp/gopath";
local $ENV{GOCACHE} = "$tmp/gocache";
local $ENV{GOFLAGS} = '-mod=mod';
local $ENV{GOPROXY} = 'off';
local $ENV{GOSUMDB} = 'off';
local $ENV{GO111MODULE} = 'on';
my ($out, $err) = run_command([ 'sh', '-c', "cd '$tmp/oracle' && go build -o oracle ." ]);
ok(-x "$tmp/oracle/oracle", 'the oracle builds offline') or diag($out . $err);

# --- the generator ---
srand(20);
sub pick { return $_[ int(rand(@_)) ] }
sub chance { return rand() < $_[0] }

sub number { return pick(0, 0, 1, 1, 2, 3, 10, 11, pick('01', '00', '18446744073709551615', '18446744073709551616')) }

sub idents
{
	my @pool = ('alpha', 'beta', 'rc', '0', '1', '2', '10', 'a-b', '-', 'x', 'X0', pick('01', '00', '1a', ''));
	return join('.', map { pick(@pool) } 1 .. 1 + int(rand(3)));
}

# text near the grammar: a character inserted, removed or replaced
sub mutate
{
	my ($s) = @_;
	my $at = int(rand(length($s) + 1));
	my $c = pick(' ', '.', '-', '+', '|', '||', '*', 'x', 'X', '~', '^', '=', '<', '>', '!', ',', 'V', 'v', "\t", 'é');
	my $how = int(rand(3));
	substr($s, $at, 0) = $c if $how == 0;
	substr($s, $at, 1) = '' if $how == 1 && $at < length($s);
	substr($s, $at, 1) = $c if $how == 2 && $at < length($s);
	return $s;
}

sub version
{
	my $s = (chance(0.1) ? 'v' : '') . number();
	if (chance(0.75))
	{
		$s .= '.' . number();
		$s .= '.' . number() if chance(0.7);
	}
	$s .= '-' . idents() if chance(0.3);
	$s .= '+' . idents() if chance(0.1);
	return chance(0.04) ? mutate($s) : $s;
}

# a version in a range: parts may be x, X or *
sub range_version
{
	my @parts = map { chance(0.25) ? pick('x', 'X', '*') : number() } 1 .. 1 + int(rand(3));
	my $s = (chance(0.1) ? 'v' : '') . join('.', @parts);
	$s .= '-' . idents() if chance(0.25);
	$s .= '+' . idents() if chance(0.05);
	return $s;
}

sub comparator
{
	my $op = pick('', '', '=', '!=', '>', '<', '>=', '=>', '<=', '=<', '~', '~>', '^', '^');
	return $op . (chance(0.3) ? pick(' ', '  ') : '') . range_version();
}

sub group
{
	if (chance(0.2))
	{
		return range_version() . pick(' - ', '  -  ', " -\t") . range_version();
	}
	return join('', map { ($_ ? pick(' ', ', ', ',', '  ') : '') . comparator() } 0 .. int(rand(3)));
}

sub range
{
	my $s = join('', map { ($_ ? pick('||', ' || ', '|| ', ' ||') : '') . group() } 0 .. int(rand(2.5)));
	return chance(0.05) ? mutate($s) : $s;
}

# --- the questions: generated, then every conformance row ---
sub escape
{
	my ($s) = @_;
	$s =~ s/\\/\\\\/g;
	$s =~ s/\t/\\t/g;
	$s =~ s/\n/\\n/g;
	return $s;
}

sub unescape
{
	my ($s) = @_;
	$s =~ s/\\(.)/$1 eq 't' ? "\t" : $1 eq 'n' ? "\n" : $1/ge;
	return $s;
}

my @checks = map { [ range(), version() ] } 1 .. $PAIRS;
# a quarter of the pairs the same version written another way
my @compares = map {
	my $a = version();
	[ $a, chance(0.25) ? ($a =~ /^v/ ? substr($a, 1) : "v$a") . pick('', '+build.1') : version() ]
} 1 .. $COMPARES;
# [where, question, what the conformance file says the library answers
# ("!x": anything but x)]
my @rows;
for my $file ('semver_constraints.tsv', 'semver_extra.tsv')
{
	for my $r (@{ read_tsv("test/conformance/$file") })
	{
		my $want = !$r->{valid} ? 'range-invalid'
		  : $r->{satisfies} eq 'version-invalid' ? 'version-invalid'
		  : $r->{satisfies} eq '' ? '!range-invalid'
		  : $r->{satisfies} ? 'true' : 'false';
		my $v = $r->{version} ne '' ? unescape($r->{version}) : '0.0.0';
		push @rows, [ "$file:$r->{line}", [ unescape($r->{range}), $v ], $want ];
	}
}
for my $r (@{ read_tsv('test/conformance/semver_versions.tsv') })
{
	push @rows, [ "semver_versions.tsv:$r->{line}", [ '*', unescape($r->{version}) ],
		$r->{valid} ? '!version-invalid' : 'version-invalid' ];
}
push @checks, map { $_->[1] } @rows;

# --- the library's answers ---
my $input = join('', map { "check\t" . escape($_->[0]) . "\t" . escape($_->[1]) . "\n" } @checks)
  . join('', map { "compare\t" . escape($_->[0]) . "\t" . escape($_->[1]) . "\n" } @compares);
my ($oracle, $oracle_err) = ('', '');
IPC::Run::run([ "$tmp/oracle/oracle" ], '<', \$input, '>', \$oracle, '2>', \$oracle_err);
my @library = split /\n/, $oracle;
is(scalar(@library), @checks + @compares, 'the oracle answered every question') or diag($oracle_err);

# --- ours, through SQL ---
my $node = start_node('semver_oracle');
$node->safe_psql('postgres', <<'SQL');
CREATE FUNCTION oracle_check(r text, v text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	BEGIN
		PERFORM imagestream.semver_satisfies('0.0.0', r);
	EXCEPTION WHEN invalid_parameter_value THEN
		RETURN 'range-invalid';
	END;
	RETURN imagestream.semver_satisfies(v, r)::text;
EXCEPTION WHEN invalid_parameter_value THEN
	RETURN 'version-invalid';
END $$;
CREATE FUNCTION oracle_compare(a text, b text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	BEGIN
		PERFORM imagestream.semver_compare(a, a);
	EXCEPTION WHEN invalid_parameter_value THEN
		RETURN 'a-invalid';
	END;
	BEGIN
		PERFORM imagestream.semver_compare(b, b);
	EXCEPTION WHEN invalid_parameter_value THEN
		RETURN 'b-invalid';
	END;
	RETURN imagestream.semver_compare(a, b)::text;
END $$;
SQL

sub ours
{
	my ($fn, $pairs) = @_;
	my $values = join(",\n",
		map {
			"($_, " . ImagestreamTest::literal($pairs->[$_][0]) . ', '
			  . ImagestreamTest::literal($pairs->[$_][1]) . ')'
		} 0 .. $#$pairs);
	return query_json($node,
		"SELECT jsonb_agg($fn(a, b) ORDER BY i) FROM (VALUES $values) AS x(i, a, b)");
}
my @ours = (@{ ours('oracle_check', \@checks) }, @{ ours('oracle_compare', \@compares) });

my @questions = ((map { [ 'check', @$_ ] } @checks), (map { [ 'compare', @$_ ] } @compares));
my @differ = grep { ($library[$_] // '') ne $ours[$_] } 0 .. $#questions;
is(scalar(@differ), 0, scalar(@questions) . ' questions: semver_satisfies and semver_compare answer as the library');
for my $i (@differ[ 0 .. ($#differ < $SHOWN - 1 ? $#differ : $SHOWN - 1) ])
{
	my ($kind, $a, $b) = @{ $questions[$i] };
	diag(sprintf('%s "%s" "%s": library %s, ours %s',
		$kind, escape($a), escape($b), $library[$i] // '(none)', $ours[$i]));
}

# the generated questions must reach every kind of answer, or they test little
my %seen;
$seen{ $library[$_] // '' }++ for 0 .. $PAIRS - 1;
$seen{"compare $library[$_]"}++ for scalar(@checks) .. $#questions;
for my $kind ('range-invalid', 'version-invalid', 'true', 'false',
	'compare -1', 'compare 0', 'compare 1', 'compare a-invalid')
{
	cmp_ok($seen{$kind} // 0, '>=', 20, "the generated questions include $kind answers ($kind: "
		  . ($seen{$kind} // 0) . ')');
}

# the conformance files say what the library says
my $first_row = $PAIRS;
for my $k (0 .. $#rows)
{
	my ($where, undef, $want) = @{ $rows[$k] };
	my $got = $library[ $first_row + $k ] // '(none)';
	if ($want =~ /^!(.*)/)
	{
		isnt($got, $1, "$where is what Masterminds/semver 3.2.0 answers (not $1)");
	}
	else
	{
		is($got, $want, "$where is what Masterminds/semver 3.2.0 answers");
	}
}

done_testing();
