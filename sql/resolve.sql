-- resolve with both reference policies, missing tags, resolve_image with the
-- lookup policy.
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/test/regress_setup.psql

SELECT map_image('rs/web:latest', ref_with_digest('quay.io/org/web', content_digest('w1')));
SELECT tag('rs/web:latest', 'rs/web:local', reference_policy => 'Local');
SELECT tag('quay.io/org/web:ref', 'rs/web:ref', reference => true);
SELECT tag('quay.io/org/web:2', 'rs/web:pending');

-- Source: the source repository by digest, whatever tag it was pulled by
SELECT resolve('rs/web:latest');
SELECT resolve('rs/web');
-- Local: the stream's repository when imagestream.local_registry is set
SELECT resolve('rs/web:local');
SET imagestream.local_registry = 'registry.local:5000';
SELECT resolve('rs/web:local'), resolve('rs/web:latest');
SELECT tag, pull_spec FROM image_stream_tags WHERE namespace = 'rs' ORDER BY tag;
RESET imagestream.local_registry;
-- a reference-only tag resolves to its pull spec as recorded
SELECT resolve('rs/web:ref');

-- no image yet: P0002, or NULL with missing_ok; missing tags and streams: 42704
SELECT resolve('rs/web:pending');
SELECT pg_temp.sqlstate($$SELECT resolve('rs/web:pending')$$);
SELECT resolve('rs/web:pending', missing_ok => true) IS NULL;
SELECT pg_temp.sqlstate($$SELECT resolve('rs/web:none')$$);
SELECT pg_temp.sqlstate($$SELECT resolve('rs/none:x')$$);
SELECT resolve('rs/none:x', missing_ok => true) IS NULL;
SELECT pg_temp.sqlstate($$SELECT resolve('rs/web@sha256:abc')$$);
SELECT pg_temp.sqlstate($$SELECT resolve(NULL)$$);
-- resolve parses names in C: it refuses exactly what _parse_tag refuses
CREATE FUNCTION pg_temp.refuses(f text, input text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE format('SELECT %s($1)', f) USING input;
	RETURN false;
EXCEPTION WHEN invalid_parameter_value THEN
	RETURN true;
WHEN undefined_object OR no_data_found THEN
	RETURN false;
END $$;
SELECT CASE WHEN length(input) > 20 THEN format('%s... (%s)', left(input, 8), length(input)) ELSE input END AS input,
	pg_temp.refuses('imagestream.resolve', input) AS resolve_refuses,
	pg_temp.refuses('imagestream._parse_tag', input) AS parse_refuses
FROM unnest(ARRAY['rs/web', 'rs/web:v1', 'a/b', 'a-b/c.d_e-f:_x.Y-1', '-a/b', 'a-/b', 'A/b',
	'a/B', 'a/b.', 'a/.b', 'a/b..c', 'a/b__c', 'a/b/c', 'a/b:', 'a/b:.x', 'a/b:-x', 'a/b:x:y',
	'/b', 'a/', 'ab', 'a/b@x', repeat('n', 63) || '/b', repeat('n', 64) || '/b',
	'a/' || repeat('s', 255), 'a/' || repeat('s', 256), 'a/b:' || repeat('t', 128),
	'a/b:' || repeat('t', 129), 'a/b:t' || chr(233), 'a b/c']) input
ORDER BY input;

-- resolve_image: short names through streams with lookup_local, the rest
-- normalised
SELECT resolve_image('rs', 'web');
SELECT set_lookup_local('rs/web', true);
SELECT input, resolve_image('rs', input)
FROM (VALUES ('web'), ('web:latest'), ('web:local'), ('web:ref'), ('web:pending'),
	('web:missing'),
	('web@sha256:' || digest_hex(content_digest('w1'))), ('web@sha256:' || repeat('0', 64)),
	('quay.io/x/web:latest'), ('library/web'), ('other'), ('other:1')) AS v(input)
ORDER BY 1;
SELECT pg_temp.sqlstate($$SELECT resolve_image('rs', 'Web')$$);
SELECT pg_temp.sqlstate($$SELECT resolve_image('RS', 'web')$$);

-- resolve_at: what resolve() returned at a time, from the history (the
-- events' times set here by hand)
SELECT map_image('ra/app:t', ref_with_digest('quay.io/ra/app', content_digest('ra1')));
SELECT map_image('ra/app:t', ref_with_digest('quay.io/ra/app', content_digest('ra2')));
UPDATE history_event SET created = CASE seq WHEN 1 THEN timestamptz '2026-01-01' ELSE '2026-02-01' END
WHERE tag_id = (SELECT id FROM tag WHERE namespace = 'ra');
UPDATE tag SET created = '2026-02-01' WHERE namespace = 'ra';
SELECT resolve_at('ra/app:t', '2025-12-31') IS NULL AS before_the_first,
	resolve_at('ra/app:t', '2026-01-15') = ref_with_digest('quay.io/ra/app', content_digest('ra1')) AS the_first,
	resolve_at('ra/app:t', '2026-02-01') = resolve('ra/app:t') AS at_the_second,
	resolve_at('ra/app:t', now()) = resolve('ra/app:t') AS now_as_resolve;
SELECT pg_temp.sqlstate($$SELECT resolve_at('ra/app:none', now())$$);
SELECT pg_temp.sqlstate($$SELECT resolve_at('ra/app:t', NULL)$$);
CREATE ROLE regress_ra_nobody;
SET ROLE regress_ra_nobody;
SELECT pg_temp.sqlstate($$SELECT resolve_at('ra/app:t', now())$$);
RESET ROLE;
SELECT count(*) FROM check_invariants();
