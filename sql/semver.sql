-- semver_compare and semver_satisfies (src/semver.c: Masterminds/semver
-- v3.2.0, the library of Flux's image policies): precedence, the coercion
-- of short versions, each operator, wildcards, hyphen ranges, AND and OR,
-- the prerelease rule, the library's quirks, and the errors.
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/test/regress_setup.psql

-- precedence: numbers by value, a prerelease before its release,
-- identifiers numerically then by bytes, numbers before words, build ignored
SELECT a, b, semver_compare(a, b) FROM (VALUES
	('1.2.3', '1.5.1'), ('2.2.3', '1.5.1'), ('1.10.0', '1.9.0'), ('1.3', '1.1.4'),
	('v1.2', '1.2.0'), ('1', '1.0.0'), ('01.02.03', '1.2.3'),
	('1.0.0-alpha', '1.0.0-alpha.1'), ('1.0.0-alpha.1', '1.0.0-alpha.beta'),
	('1.0.0-alpha.beta', '1.0.0-beta'), ('1.0.0-beta', '1.0.0-beta.2'),
	('1.0.0-beta.2', '1.0.0-beta.11'), ('1.0.0-beta.11', '1.0.0-rc.1'),
	('1.0.0-rc.1', '1.0.0'), ('1.0.0-2', '1.0.0-a'), ('1.0.0-B', '1.0.0-a'),
	('1.2.3+a', '1.2.3+b'), ('18446744073709551615.0.0', '1.0.0'),
	-- a prerelease number too large for 64 bits compares as a word
	('1.0.0-18446744073709551616', '1.0.0-2'),
	-- YYMMDD builds are plain numbers
	('220101', '211231')) t(a, b);

-- the order a semver policy ranks candidates in, best last
SELECT v FROM unnest(ARRAY['1.10.0', '1.2.0', 'v1.9', '2.0.0-rc.1', '2.0.0', '1.0.0',
						   '2.0.0-beta.2', '2.0.0-beta.10', '1', '0.9.9']) v
ORDER BY (SELECT count(*) FROM unnest(ARRAY['1.10.0', '1.2.0', 'v1.9', '2.0.0-rc.1', '2.0.0', '1.0.0',
											'2.0.0-beta.2', '2.0.0-beta.10', '1', '0.9.9']) w
		  WHERE semver_compare(w, v) < 0), v;

-- the issue's repository: ">=1.0 <2.0" takes 1.x releases, not 2.0.0-rc.1
SELECT v, semver_satisfies(v, '>=1.0 <2.0') AS "1.x"
FROM unnest(ARRAY['1.0.0', '1.2.0', '1.10.0', '1.11.0', '2.0.0-rc.1', '2.0.0', '0.9']) v;

-- each operator and wildcard
SELECT r, v, semver_satisfies(v, r) FROM (VALUES
	('=2.0.0', '2.0.0'), ('2.0.0', '2.0.1'), ('=2.0', '2.0.1'), ('2', '2.9.9'), ('2', '3.0.0'),
	('!=4.1.0', '4.1.1'), ('!=4.1', '4.1.9'), ('!=4.x', '5.1.0'),
	('>1.1', '1.1.9'), ('>1.1', '1.2.0'), ('>11', '11.9.0'), ('>1.2.3', '1.2.4'),
	('<1.1', '1.0.9'), ('<1.1', '1.1.0'), ('<1.x', '0.9.0'),
	('>=1.1', '1.1.0'), ('=>1.1', '1.0.9'), ('<=1.1', '1.1.9'), ('=<1.1', '1.2.0'),
	('<=2.x', '2.9.0'), ('<=2.x', '3.0.0'),
	('~1.2.3', '1.2.9'), ('~1.2.3', '1.3.0'), ('~>1.2', '1.2.0'), ('~1', '1.9.0'), ('~0.0.0', '5.0.0'),
	('^1.2.3', '1.9.0'), ('^1.2.3', '2.0.0'), ('^0.2.3', '0.2.9'), ('^0.2.3', '0.3.0'),
	('^0.0.3', '0.0.3'), ('^0.0.3', '0.0.4'), ('^0', '0.9.0'),
	('*', '7.0.0'), ('x', '7.0.0'), ('X.X.X', '7.0.0'), ('1.x', '1.4'), ('1.2.*', '1.2.7'), ('1.2.*', '1.3.0'),
	('v1.2.3', '1.2.3'), ('=1.2.3+build', '1.2.3')) t(r, v);

-- hyphen ranges, AND by space or comma, OR
SELECT r, v, semver_satisfies(v, r) FROM (VALUES
	('1.1 - 2', '2.9.0'), ('1.1 - 2', '3.0.0'), ('1.5.0 - 4.5', '4.5.9'), ('1.5.0 - 4.5', '1.4.9'),
	('>1.1 <2', '1.5.0'), ('>1.1, <2', '2.0.0'), ('>= 1.1 , < 2 , != 1.5.0', '1.5.0'),
	('<1 || >=3', '0.5.0'), ('<1 || >=3', '2.0.0'), ('<1||>=3', '3.0.0'),
	('1 - 2 || 3 - 4', '3.5.0'), ('>=1.1, <2, !=1.2.3 || > 3', '3.0.0')) t(r, v);

-- the prerelease rule: a prerelease passes a comparator only when the
-- comparator names a prerelease itself (of any version), and a group only
-- when all of its comparators pass
SELECT r, v, semver_satisfies(v, r) FROM (VALUES
	('>=1.1', '4.1.0-beta'), ('*', '1.2.3-alpha.1'), ('*-0', '1.2.3-alpha.1'),
	('>=1.2.3-alpha', '1.5.0-beta'), ('^1.2.0-alpha.0', '1.2.1-alpha.1'),
	('>=1.0.0-alpha <2.0.0', '1.5.0-beta'), ('>=1.0.0-alpha <2.0.0-0', '1.5.0-beta'),
	('~1.2.3-beta.2', '1.2.3-beta.4'), ('~1.2.3-beta.2', '1.3.0-beta.2'),
	-- "!=" without a wildcard has no prerelease rule in this version of the library
	('!=1.2.3', '1.2.4-beta'), ('!=1.2.x', '1.2.4-beta')) t(r, v);

-- the library's quirks, kept (doc/policies.md)
SELECT r, v, semver_satisfies(v, r) FROM (VALUES
	('1.2-1.4.5', '1.2.0-1.4.5'),	-- no spaces: a version with a prerelease, not a range
	('1.2-1.4.5', '1.2.9'),
	('1 - 2 3', '22.0.0'),			-- rewritten to ">= 1, <= 23"
	('1||2 - 3', '5.0.0'),			-- rewritten to ">= 1||2, <= 3"
	('^*', '1.2.3'), ('~*', '1.2.3'), ('<=*', '0.9.0'), ('*.|', '1.0.0')) t(r, v);

-- "SQLSTATE: detail" of the error a statement raises
CREATE FUNCTION pg_temp.detail(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	detail text;
BEGIN
	EXECUTE sql;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
	RETURN SQLSTATE || ': ' || detail;
END $$;

-- not versions: SQLSTATE 22023 with a detail naming the rule
SELECT v, pg_temp.detail(format('SELECT semver_compare(%L, %L)', v, '1.0.0'))
FROM unnest(ARRAY['', ' 1.2.3', '1.2.3 ', 'V1.2.3', 'v', 'x', '1.', '1.2.', '1.2.3.4', '1..2', '-1',
				  '1.2.beta', '1.2.3-', '1.2.3+', '1.2.3-a..b', '1.2.3-01', '1.2.3-alpha.00',
				  '1.2.3-é', '1.2.3_4', '18446744073709551616', '1.18446744073709551616', '1.2-x+']) v;
SELECT semver_compare('1.0.0', '1.2.3-01');
SELECT semver_satisfies('1.2.beta', '*');
-- a version is refused before the range is read
SELECT semver_satisfies('1.2.beta', 'nonsense');

-- not ranges: SQLSTATE 22023 with a detail
SELECT r, pg_temp.detail(format('SELECT semver_satisfies(%L, %L)', '1.0.0', r))
FROM unnest(ARRAY['', ' ', '||', '1 ||', '|| 1', 'foo', 'BAR >= 1.2.3', '>= bar', '==1', '<>1', '!1', '=> =1',
				  '>=1<2', '>=1,,<2', '1.2.3.4', '12.3.34~ 1.2.3', '1x', 'x|1', '1.|', '1.xx',
				  '1 - 2||3 - 4', '>=0 1 - 2', '1 -2', '1.2.3-01', '1.x-01', '99999999999999999999', 'V1', '>=1.0 <2.0 ~']) r;
SELECT semver_satisfies('1.0.0', '>= 1.0, < 2.0, ~');
SELECT semver_satisfies('1.0.0', '1.x-01');

-- limits: 256 bytes of version, 512 of range, 64 comparators (SQLSTATE 54000)
SELECT semver_compare('1.0.0-' || repeat('a', 250), '1.0.0') AS at_limit;
SELECT pg_temp.sqlstate(format('SELECT semver_compare(%L, %L)', '1.0.0-' || repeat('a', 251), '1.0.0'));
SELECT semver_satisfies('1.0.0', '>=0.0.0-' || repeat('a', 504)) AS at_limit;
SELECT pg_temp.sqlstate(format('SELECT semver_satisfies(%L, %L)', '1.0.0', '>=0.0.0-' || repeat('a', 505)));
SELECT semver_satisfies('1.0.0', rtrim(repeat('1 ', 64))) AS sixty_four;
SELECT pg_temp.sqlstate(format('SELECT semver_satisfies(%L, %L)', '1.0.0', rtrim(repeat('1 ', 65))));
SELECT semver_satisfies('1.0.0', rtrim(repeat('1 ', 65)));
SELECT semver_satisfies('1.0.0', repeat('1', 600));

-- STRICT: NULL in, NULL out
SELECT semver_compare(NULL, '1.0.0') IS NULL AS a, semver_compare('1.0.0', NULL) IS NULL AS b,
	   semver_satisfies(NULL, '*') IS NULL AS c, semver_satisfies('1.0.0', NULL) IS NULL AS d;

-- immutable, parallel safe, strict, open to every role
SELECT p.proname, p.provolatile, p.proparallel, p.proisstrict,
	   has_function_privilege('public', p.oid, 'EXECUTE') AS public_may_call
FROM pg_proc p WHERE p.pronamespace = 'imagestream'::regnamespace AND p.proname LIKE 'semver\_%'
ORDER BY 1;
