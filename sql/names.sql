-- The name grammar (src/names.c) at its edges: a namespace, a stream name and
-- a tag at their length limits and one byte over, through the SQL parsers
-- and through resolve(), which checks names in C and reports a bad one as
-- the SQL parsers do.
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
