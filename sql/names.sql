-- The name grammar (src/names.c) at its edges: a namespace, a stream name and
-- a tag at their length limits and one byte over, through the SQL parsers
-- and through resolve(), which splits and refuses names with the same C;
-- how each parser splits a name, and the short names of resolve_image().
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/test/regress_setup.psql
\i :abs_srcdir/test/regress_refusal.psql
-- a long name's run of one letter shown as "s.."
CREATE FUNCTION pg_temp.short(t text) RETURNS text LANGUAGE sql AS $$
	SELECT regexp_replace(t, '(.)\1{9,}', '\1..', 'g')
$$;

-- at the limits: 63 bytes, 255 bytes, 128 characters
SELECT 'nm' || repeat('s', 61) AS ns, 'st' || repeat('r', 253) AS stream, 'V' || repeat('t', 127) AS tag \gset
SELECT create_stream(:'ns' || '/' || :'stream');
SELECT map_image(:'ns' || '/' || :'stream' || ':' || :'tag', ref_with_digest('quay.io/org/long', content_digest('long')));
SELECT octet_length(namespace) AS ns, octet_length(stream) AS stream, octet_length(tag) AS tag
FROM image_stream_tags WHERE namespace = :'ns';
SELECT resolve(:'ns' || '/' || :'stream' || ':' || :'tag') = ref_with_digest('quay.io/org/long', content_digest('long'));

-- one byte over, by the SQL parsers and by resolve()
SELECT what, pg_temp.short(pg_temp.refusal(format('SELECT create_stream(%L)', name))) AS create_stream,
	pg_temp.short(pg_temp.refusal(format('SELECT resolve(%L)', name || ':x'))) AS resolve
FROM (VALUES ('namespace of 64', :'ns' || 's/' || :'stream'),
	('stream name of 256', :'ns' || '/' || :'stream' || 'r')) AS v(what, name);
SELECT pg_temp.short(pg_temp.refusal(format('SELECT resolve(%L)', :'ns' || '/' || :'stream' || ':' || :'tag' || 't'))) AS tag_of_129;

-- the grammar: each part's first and last characters, its separators, case
SELECT name, pg_temp.refusal(format('SELECT resolve(%L, missing_ok => true)', name)) AS resolve,
	pg_temp.refusal(format('SELECT count(*) FROM history(%L)', name)) AS history
FROM (VALUES ('nm/a'), ('nm/a:'), ('nm-1/a'), ('-nm/a'), ('nm-/a'), ('n--m/a'), ('Nm/a'),
	('nm/a.b_c-d'), ('nm/a..b'), ('nm/a__b'), ('nm/.a'), ('nm/a-'), ('nm/A'),
	('nm/a:_V1.0-rc'), ('nm/a:.x'), ('nm/a:-x'), ('nm/a:x:y'), ('nm/a:x/y'), ('nm/a@x'),
	('nm/a/b'), ('nm'), ('/a'), (E'nm/a\n'), ('nm/é')) AS v(name);

-- how a name splits (src/names.c): each parser's parts, or its refusal
CREATE FUNCTION pg_temp.shown(input text) RETURNS text LANGUAGE sql AS $$
	SELECT CASE WHEN input IS NULL THEN 'NULL'
		WHEN length(input) > 20 THEN format('%s (%s)', pg_temp.short(input), length(input))
		ELSE input END
$$;
CREATE FUNCTION pg_temp.split(f text, input text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	parts text;
BEGIN
	EXECUTE format('SELECT imagestream.%I($1)::text', f) INTO parts USING input;
	RETURN parts;
EXCEPTION WHEN invalid_parameter_value THEN
	RETURN pg_temp.refusal(format('SELECT imagestream.%I(%L)', f, input));
END $$;
SELECT pg_temp.shown(input) AS input, f, pg_temp.short(pg_temp.split(f, input)) AS split
FROM unnest(ARRAY[NULL, '', '/', 'a/', '/b', 'a/b', 'a/b:', 'a/b:c:d', 'a:b/c', 'a/b@', 'a/b@sha256:',
	'a/b@123456', 'a/b@1234567', 'a/b@sha256:1234567', 'a/b@sha384:1234567', 'a/b@sha512:abcdef0',
	'a/b@ABCDEF0', 'a/b@' || repeat('f', 128), 'a/b@' || repeat('f', 129), 'a/b:c@1234567',
	'a/b@1234567:x', 'a/b@1234567/x', 'a@1234567/x', 'A@1234567/x', 'a--b@1234567/x']) WITH ORDINALITY AS i(input, n),
	unnest(ARRAY['_parse_stream', '_parse_tag', '_parse_stream_image']) AS f
ORDER BY n, f;

-- resolve_image()'s short names: "name", "name:tag" or "name@algorithm:hex"
SELECT pg_temp.shown(input) AS input, pg_temp.short(p.stream) AS stream, pg_temp.short(p.tag) AS tag, p.id
FROM unnest(ARRAY[NULL, '', 'web', 'web:', 'web:v1', 'web:x:y', 'web:x@sha256:a', 'web@', 'web@sha256:',
	'web@sha256:a', 'web@sha512:0', 'web@1234567', 'web@sha256:ABC', 'web@sha384:abc',
	'web@sha256:a:b', 'web@sha256:a' || E'\n', 'Web', 'web-', 'w..eb', 'ns/web', 'quay.io/web',
	'web:' || repeat('t', 128), 'web:' || repeat('t', 129), repeat('w', 255), repeat('w', 256)])
	WITH ORDINALITY AS i(input, n),
	imagestream._parse_short_image(input) AS p
ORDER BY n;
