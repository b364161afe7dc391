# Conformance: every row of the reference and digest vectors (copied from
# ../shared/conformance, see test/conformance/README.md) through the SQL types,
# checking validity and every field.  Rows where we differ on purpose are
# listed, with the reason, in test/conformance/deviations.tsv; a listed row
# must really differ as stated, and no unlisted row may differ.
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;

use ImagestreamTest qw(start_node read_tsv query_json);

my $dir = 'test/conformance';
my $node = start_node('conformance');

$node->safe_psql('postgres', <<'SQL');
CREATE FUNCTION try_ref(input text) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	r imagestream.image_ref;
	detail text;
BEGIN
	r := input::imagestream.image_ref;
	RETURN jsonb_build_object('ok', 1, 'full', r::text,
		'registry', imagestream.ref_registry(r),
		'repository', imagestream.ref_repository(r),
		'tag', imagestream.ref_tag(r), 'digest', imagestream.ref_digest(r)::text,
		'name', imagestream.ref_name(r), 'familiar', imagestream.ref_familiar(r));
EXCEPTION WHEN invalid_text_representation THEN
	GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
	RETURN jsonb_build_object('ok', 0, 'detail', detail);
END $$;
CREATE FUNCTION try_digest(input text) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	d imagestream.image_digest;
	detail text;
BEGIN
	d := input::imagestream.image_digest;
	RETURN jsonb_build_object('ok', 1, 'text', d::text,
		'algorithm', imagestream.digest_algorithm(d),
		'hex', imagestream.digest_hex(d));
EXCEPTION WHEN invalid_text_representation THEN
	GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
	RETURN jsonb_build_object('ok', 0, 'detail', detail);
END $$;
SQL

# Runs fn over every input of rows, in one query; returns results in order.
sub run_all
{
	my ($fn, $rows) = @_;
	my $values = join(",\n",
		map { "($_, " . ImagestreamTest::literal($rows->[$_]{input}) . ")" }
		  0 .. $#$rows);
	return query_json($node,
		"SELECT jsonb_agg($fn(v) ORDER BY i) FROM (VALUES $values) AS x(i, v)");
}

my %deviation;
for my $d (@{ read_tsv("$dir/deviations.tsv") })
{
	$deviation{"$d->{file}:$d->{row}"} = $d;
}
my %deviation_seen;

# Validity we expect: upstream's, unless the row is a listed deviation.  A
# deviation's "ours" is 0 or 1 (we differ on validity) or the full
# normalised reference we give where we read a valid input differently.
sub expected_valid
{
	my ($file, $row) = @_;
	my $d = $deviation{"$file:$row->{line}"};
	return $row->{valid} unless $d;
	$deviation_seen{"$file:$row->{line}"} = 1;
	return $row->{valid} unless $d->{ours} =~ /^[01]$/;
	isnt($d->{ours}, $row->{valid}, "$file:$row->{line} is listed as a deviation and differs");
	return $d->{ours};
}

# For a deviation on meaning: checks our reading; true if the row is done.
sub deviates_in_meaning
{
	my ($file, $row, $got) = @_;
	my $d = $deviation{"$file:$row->{line}"};
	return 0 unless $d && $d->{ours} !~ /^[01]$/;
	is($got->{full}, $d->{ours}, "$file:$row->{line} deviation: we read it as $d->{ours}");
	return 1;
}

# A row upstream rejects and we accept (a listed deviation) has no upstream
# fields to compare: its parts must agree with its text.  True if done.
sub accepted_beyond_upstream
{
	my ($row, $got, $valid, $label) = @_;
	return 0 unless $valid && !$row->{valid};
	ok($got->{ok} && consistent($got), "$label: accepted, parts agree with the text");
	return 1;
}

# The library's splitDockerDomain applied to a Parse result: where a name
# with this domain and path lands after normalising.
sub normalize_name
{
	my ($domain, $path) = @_;
	my $name = $domain eq '' ? $path : "$domain/$path";
	my ($first, $rest) = $name =~ m{^([^/]*)/(.*)$};
	if (!defined $first)
	{
		return ('docker.io', "library/$name");
	}
	if ($first eq 'index.docker.io')
	{
		$domain = 'docker.io';
	}
	elsif ($first eq 'localhost' || $first =~ /[.:A-Z]/)
	{
		$domain = $first;
	}
	else
	{
		return ('docker.io', $name);
	}
	$rest = "library/$rest" if $domain eq 'docker.io' && $rest !~ m{/};
	return ($domain, $rest);
}

# A valid result's parts must agree with its full text.
sub consistent
{
	my ($g) = @_;
	my $name = defined $g->{registry} ? "$g->{registry}/$g->{repository}" : $g->{repository};
	my $full = $name;
	$full .= ":$g->{tag}" if defined $g->{tag};
	$full .= "\@$g->{digest}" if defined $g->{digest};
	return $g->{name} eq $name && $g->{full} eq $full;
}

# What the error detail must say for each of the library's sentinel errors.
my %error_detail = (
	ErrNameEmpty => qr/^The reference is empty\.$/,
	ErrNameContainsUppercase => qr/^The repository path "[^"]*[A-Z][^"]*" must be lowercase\.$/,
	ErrNameTooLong => qr/^The repository path is \d+ bytes long; at most 255 are allowed\.$/,
	'digest.ErrDigestInvalidLength' => qr/^A sha256 digest has 64 hexadecimal digits, not \d+\.$/,
	'digest.ErrDigestUnsupported' => qr/^Digest algorithm "[^"]+" is not supported; only sha256 and sha512 are\.$/);

# ErrReferenceInvalidFormat covers many rules: the detail of each such row,
# by its input, names the one it breaks.
my $ipv6_host = 'an IPv6 address may hold only hexadecimal digits and colons (no zone, no embedded IPv4).';
my $no_path = 'A registry must be followed by a repository path, as in "[::1]:5000/repository".';
my %format_detail = (
	':justtag' => 'The reference has no repository name before its tag or digest.',
	'@sha256:' . ('f' x 64) => 'The reference has no repository name before its tag or digest.',
	'aa/asdf$$^/aa' => 'The repository path "aa/asdf$$^/aa" contains "$"; only lowercase letters, digits, "/" '
	  . 'and the separators ".", "_", "__" and "-" are allowed.',
	'[2001:db8::1]' => $no_path,
	'[2001:db8::1]:5000' => $no_path,
	'[2001:db8::1]:tag' => $no_path,
	'[fe80::1%eth0]:5000/repo' => qq{The registry host "[fe80::1%eth0]:5000" is not valid: $ipv6_host},
	'[fe80::1%@invalidzone]:5000/repo' => qq{The registry host "[fe80::1%\@invalidzone]:5000" is not valid: $ipv6_host});

# A rejected row of reference_parse.tsv: its detail names the rule.
my %format_detail_seen;
sub check_rule_detail
{
	my ($r, $g, $label) = @_;
	if ($r->{error} eq 'ErrReferenceInvalidFormat')
	{
		$format_detail_seen{ $r->{input} } = 1;
		ok(exists $format_detail{ $r->{input} }, "$label: (a detail is expected for this input)");
		is($g->{detail}, $format_detail{ $r->{input} }, "$label: rejected, detail names the rule");
	}
	elsif ($error_detail{ $r->{error} })
	{
		like($g->{detail}, $error_detail{ $r->{error} }, "$label: rejected, detail names the rule");
	}
	else
	{
		fail("$label: no expected detail for rule '$r->{error}' in 001_conformance.pl");
	}
}

# Runs every row of a file through fn and checks it: validity first, then
# $rejected (default: a detail is given) or $accepted on the result.
sub check_file
{
	my ($file, $fn, $accepted, $rejected) = @_;
	my $rows = read_tsv("$dir/$file");
	my $got = run_all($fn, $rows);
	for my $i (0 .. $#$rows)
	{
		my ($r, $g) = ($rows->[$i], $got->[$i]);
		my $valid = expected_valid($file, $r);
		my $label = "$file:$r->{line} " . substr($r->{input}, 0, 60);
		if ($valid ne $g->{ok})
		{
			fail("$label: validity " . ($g->{detail} // $g->{full} // $g->{text}));
		}
		elsif (accepted_beyond_upstream($r, $g, $valid, $label))
		{
		}
		elsif (!$valid)
		{
			$rejected
			  ? $rejected->($r, $g, $label)
			  : ok(length($g->{detail} // '') > 0, "$label: rejected with a detail");
		}
		elsif (!deviates_in_meaning($file, $r, $g))
		{
			$accepted->($r, $g, $label);
		}
	}
}

# reference_parse.tsv: validity, the rule named, tag, digest, and
# domain/path as normalised.
check_file('reference_parse.tsv', 'try_ref',
	sub {
		my ($r, $g, $label) = @_;
		my ($domain, $path) = normalize_name($r->{domain}, $r->{path});
		is_deeply(
			[ $g->{registry}, $g->{repository}, $g->{tag} // '', $g->{digest} // '', consistent($g) ],
			[ $domain, $path, $r->{tag}, $r->{digest}, 1 ], $label);
	},
	\&check_rule_detail);
is(join(' ', grep { !$format_detail_seen{$_} } sort keys %format_detail), '',
	'reference_parse.tsv: every expected detail names a rejected row');

# reference_normalize.tsv and our own extra_normalize.tsv: full and familiar.
for my $file ('reference_normalize.tsv', 'extra_normalize.tsv')
{
	check_file($file, 'try_ref', sub {
		my ($r, $g, $label) = @_;
		is_deeply([ $g->{full}, $g->{familiar}, consistent($g) ],
			[ $r->{normalized_full}, $r->{familiar}, 1 ], $label);
	});
}

# digest.tsv: validity, algorithm, hex, and the text form round-trips.
check_file('digest.tsv', 'try_digest', sub {
	my ($r, $g, $label) = @_;
	is_deeply([ $g->{algorithm}, $g->{hex}, $g->{text} ],
		[ $r->{algorithm}, $r->{hex}, $r->{input} ], $label);
});

# openshift_reference.tsv: library-go's parse has no default registry and
# splits namespace from name; map its fields onto the normalised form.
check_file('openshift_reference.tsv', 'try_ref', sub {
	my ($r, $g, $label) = @_;
	my $path = join('/', grep { $_ ne '' } $r->{namespace}, $r->{name});
	my ($domain, $repo) = normalize_name($r->{registry}, $path);
	is_deeply(
		[ $g->{registry}, $g->{repository}, $g->{tag} // '', $g->{digest} // '', consistent($g) ],
		[ $domain, $repo, $r->{tag}, $r->{id}, 1 ], $label);
});

for my $key (sort keys %deviation)
{
	ok($deviation_seen{$key}, "deviation $key names a row that exists");
}

done_testing();
