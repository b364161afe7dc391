-- import_image(all_tags) and the worker record a stream's imports together
-- (_record_imports, _worker_apply_many: set-based) and leave failures and
-- followed tags to _record_import and _worker_apply: the result must be what
-- those record tag by tag.  Stream wa is recorded tag by tag, wb together,
-- with the same fetches, over rounds that move tags, leave them, fail them,
-- find them unchanged and re-stamp them; then ra and rb the same way with
-- _record_import and _record_imports, which also create tags and change
-- their options.
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/test/regress_setup.psql

SELECT count(tag('reg.local:5000/org/app:t' || i, ns || '/app:t' || i, scheduled => true))
FROM generate_series(0, 39) i, (VALUES ('wa'), ('wb')) v(ns);
SELECT count(tag(ns || '/app:t5', ns || '/app:f5', alias => true))
FROM (VALUES ('wa'), ('wb')) v(ns);

-- What a fetch found: round r moves tags to image r, every fifth to one of
-- its own; tag n fails when n % 7 = fail; with unchanged, every third is
-- found unchanged.
CREATE FUNCTION pg_temp.fetched(r text, tag text, fail integer, unchanged boolean)
RETURNS _fetched LANGUAGE sql AS $$
	SELECT CASE WHEN n % 7 = fail
				THEN ROW('Failure', 'NotFound', 'gone', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::_fetched
				WHEN unchanged AND n % 3 = 0
				THEN ROW('Unchanged', NULL, NULL, NULL, NULL, content_digest(r::bytea), NULL, NULL, NULL, NULL, NULL, NULL, NULL)::_fetched
				ELSE ROW('Success', NULL, NULL, NULL, d, d, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::_fetched END
	FROM (SELECT substr(tag, 2)::integer AS n) x,
		 LATERAL (SELECT content_digest((CASE WHEN n % 5 = 0 THEN r || tag ELSE r END)::bytea) AS d) y
$$;

CREATE FUNCTION pg_temp.round(r text, fail integer, unchanged boolean DEFAULT false,
	OUT alone integer) LANGUAGE plpgsql AS $$
DECLARE
	sa bigint := (SELECT id FROM imagestream.stream WHERE namespace = 'wa');
	sb bigint := (SELECT id FROM imagestream.stream WHERE namespace = 'wb');
	g bigint;
	ids bigint[];
	sources text[];
	f imagestream._fetched[];
	t record;
	p integer;
BEGIN
	g := imagestream._worker_stream_generation(sa);
	FOR t IN SELECT * FROM imagestream.tag WHERE stream_id = sa AND from_kind = 'DockerImage' ORDER BY id LOOP
		PERFORM imagestream._worker_apply(t.id, rtrim(t.from_ref, 'x'), pg_temp.fetched(r, t.name, fail, unchanged), g);
	END LOOP;
	g := imagestream._worker_stream_generation(sb);
	SELECT array_agg(id ORDER BY id), array_agg(rtrim(from_ref, 'x') ORDER BY id),
		   array_agg(pg_temp.fetched(r, name, fail, unchanged) ORDER BY id)
	INTO ids, sources, f
	FROM imagestream.tag WHERE stream_id = sb AND from_kind = 'DockerImage';
	alone := 0;
	FOR p IN SELECT * FROM imagestream._worker_apply_many(sb, ids, sources, f, g) LOOP
		PERFORM imagestream._worker_apply(ids[p], sources[p], f[p], g);
		alone := alone + 1;
	END LOOP;
END $$;

CREATE VIEW pg_temp.differences AS
WITH tags AS (
	SELECT namespace, name, has_spec, from_kind, replace(from_ref, namespace || '/', '') AS from_ref,
		spec_generation, image, docker_image_reference, created, status_generation,
		history_length, source_digest, import_requested_at, import_status, import_reason,
		import_message, import_generation, import_transition
	FROM imagestream.tag),
events AS (
	SELECT t.namespace, t.name, h.created, h.docker_image_reference, h.image, h.generation,
		rank() OVER (PARTITION BY h.tag_id ORDER BY h.seq) AS n
	FROM imagestream.history h JOIN imagestream.tag t ON t.id = h.tag_id),
changes AS (
	SELECT namespace, event, tag, image, previous_image, docker_image_reference, generation, reason, message,
		actor, via
	FROM imagestream.change WHERE namespace IN ('wa', 'wb'))
SELECT 'tags' AS what, count(*) FROM (
	SELECT (t.*)::text FROM tags t WHERE namespace = 'wa'
	EXCEPT SELECT replace((t.*)::text, '(wb,', '(wa,') FROM tags t WHERE namespace = 'wb') d
UNION ALL
SELECT 'history', count(*) FROM (
	SELECT name, created, docker_image_reference, image, generation, n FROM events WHERE namespace = 'wa'
	EXCEPT SELECT name, created, docker_image_reference, image, generation, n FROM events WHERE namespace = 'wb') d
UNION ALL
SELECT 'changes', count(*) FROM (
	SELECT event, tag, image, previous_image, docker_image_reference, generation, reason, message, actor, via FROM changes WHERE namespace = 'wa'
	EXCEPT ALL SELECT event, tag, image, previous_image, docker_image_reference, generation, reason, message, actor, via FROM changes WHERE namespace = 'wb') d
UNION ALL
SELECT 'changes (wb - wa)', (SELECT count(*) FILTER (WHERE namespace = 'wb') - count(*) FILTER (WHERE namespace = 'wa') FROM changes)
UNION ALL
SELECT 'generations', (SELECT max(generation) - min(generation) FROM imagestream.stream WHERE namespace IN ('wa', 'wb'));

-- the rounds, with how many tags each left to _worker_apply
SELECT pg_temp.round('one', 3);			-- first images; failures
SELECT pg_temp.round('two', 4);			-- new images; other failures
SELECT pg_temp.round('two', -1);		-- the same again: no new events
UPDATE imagestream.tag SET import_requested_at = now() WHERE name IN ('t1', 't2', 't3');
SELECT pg_temp.round('two', 1, true);	-- unchanged and requested tags
SELECT pg_temp.round('one', 0);			-- back to an earlier image
-- a spec changed behind the history: the next import re-stamps the head
UPDATE imagestream.tag SET spec_generation = spec_generation + 10 WHERE name = 't11';
SELECT pg_temp.round('one', -1);
-- a source changed since the fetch (the fetch asked the old one, without
-- the x): skipped by both
UPDATE imagestream.tag SET from_ref = from_ref || 'x' WHERE name = 't12';
SELECT pg_temp.round('three', -1);

SELECT * FROM pg_temp.differences;
-- what happened, so that the comparison compares something
SELECT event, count(*) AS changes, count(*) FILTER (WHERE tag = 'f5') AS follower_changes,
	count(DISTINCT image) AS images
FROM imagestream.change WHERE namespace = 'wb' GROUP BY event ORDER BY event;
SELECT name, status_generation, history_length FROM imagestream.tag
WHERE namespace = 'wb' AND name IN ('t11', 't12', 'f5') ORDER BY name;

-- (the fetched images are not in the catalogue: leave nothing behind)
SELECT delete_stream('wa/app'), delete_stream('wb/app');

-- _record_import against _record_imports: round r imports tags t0..t(n-1)
-- (new ones are created), every fifth to an image of its own, from repo;
-- options change with the round; with list, the source served a list (a
-- source digest that is not the image); with twice, the last tag is given
-- twice.
SELECT create_stream('ria/app'), create_stream('rib/app');
CREATE FUNCTION pg_temp.record(r text, n integer, sched integer, mode import_mode,
	policy reference_policy, repo text DEFAULT 'reg.local:5000/org/app',
	list boolean DEFAULT false, twice boolean DEFAULT false, OUT alone integer)
LANGUAGE plpgsql AS $$
DECLARE
	s imagestream.stream;
	g bigint;
	k integer;
	imports imagestream._tag_import[];
BEGIN
	SELECT array_agg(ROW('t' || i, 'reg.local:5000/org/app:t' || i, ref_with_digest(repo::image_ref, d), d,
						 CASE WHEN list THEN content_digest((r || 'list')::bytea) ELSE d END,
						 i % sched = 0, false, mode, policy)::imagestream._tag_import ORDER BY i)
	INTO imports
	FROM generate_series(0, n - 1) i,
		 LATERAL (SELECT content_digest((CASE WHEN i % 5 = 0 THEN r || i ELSE r END)::bytea) AS d) x;
	IF twice THEN
		imports := imports || imports[n];
	END IF;
	s := imagestream._lock_stream('ria', 'app');
	g := s.generation + 1;
	FOR k IN 1 .. cardinality(imports) LOOP
		PERFORM imagestream._record_import(s, false, imports[k], g);
	END LOOP;
	s := imagestream._lock_stream('rib', 'app');
	g := s.generation + 1;
	alone := 0;
	FOR k IN SELECT * FROM imagestream._record_imports(s, g, imports) LOOP
		PERFORM imagestream._record_import(s, false, imports[k], g);
		alone := alone + 1;
	END LOOP;
END $$;
-- a tag without spec, its image pushed (map_image), gets a Local spec: its
-- policy change is logged (_record_imports leaves it to _record_import)
SELECT count(map_image(ns || '/app:t19', ref_with_digest('reg.local:5000/org/app', content_digest('one'::bytea))))
FROM (VALUES ('ria'), ('rib')) v(ns);
SELECT pg_temp.record('one', 20, 3, 'Legacy', 'Local');		-- new tags
SELECT namespace, count(*) AS policy_changes FROM change
WHERE namespace IN ('ria', 'rib') AND tag = 't19' AND image = previous_image GROUP BY namespace ORDER BY namespace;
SELECT count(tag(ns || '/app:t5', ns || '/app:f5', alias => true))
FROM (VALUES ('ria'), ('rib')) v(ns);
SELECT pg_temp.record('one', 30, 3, 'Legacy', 'Source');	-- ten more; the rest unchanged
SELECT pg_temp.record('one', 30, 2, 'PreserveOriginal', 'Source');	-- options only
UPDATE imagestream.tag SET import_status = 'False', import_reason = 'NotFound', import_message = 'gone',
	import_generation = 1, import_transition = now() WHERE name IN ('t1', 't2');
SELECT pg_temp.record('two', 30, 2, 'PreserveOriginal', 'Source');	-- new images; conditions cleared
UPDATE imagestream.tag SET spec_generation = spec_generation + 10 WHERE name = 't11';
SELECT pg_temp.record('two', 30, 2, 'PreserveOriginal', 'Source');	-- a re-stamp
SELECT pg_temp.record('two', 30, 2, 'PreserveOriginal', 'Source', list => true);	-- source digests only
SELECT pg_temp.record('two', 30, 2, 'PreserveOriginal', 'Source', 'reg.local:5000/org/mirror');	-- same images, new pull specs
SELECT pg_temp.record('three', 31, 2, 'PreserveOriginal', 'Source', twice => true);	-- a tag given twice
SELECT count(*) AS differences FROM (
	SELECT replace(replace((t.*)::text, '(' || t.id || ',' || t.stream_id || ',ria,', '('), 'ria/', '')
	FROM imagestream.tag t WHERE namespace = 'ria'
	EXCEPT SELECT replace(replace((t.*)::text, '(' || t.id || ',' || t.stream_id || ',rib,', '('), 'rib/', '')
	FROM imagestream.tag t WHERE namespace = 'rib') d;
SELECT count(*) AS differences FROM (
	SELECT t.name, h.created, h.docker_image_reference, h.image, h.generation,
		rank() OVER (PARTITION BY h.tag_id ORDER BY h.seq)
	FROM imagestream.history h JOIN imagestream.tag t ON t.id = h.tag_id WHERE t.namespace = 'ria'
	EXCEPT SELECT t.name, h.created, h.docker_image_reference, h.image, h.generation,
		rank() OVER (PARTITION BY h.tag_id ORDER BY h.seq)
	FROM imagestream.history h JOIN imagestream.tag t ON t.id = h.tag_id WHERE t.namespace = 'rib') d;
SELECT count(*) AS differences FROM (
	SELECT event, tag, image, previous_image, docker_image_reference, generation, actor, via FROM change WHERE namespace = 'ria'
	EXCEPT ALL SELECT event, tag, image, previous_image, docker_image_reference, generation, actor, via FROM change WHERE namespace = 'rib') d;
SELECT namespace, generation, (SELECT count(*) FROM change c WHERE c.namespace = s.namespace) AS changes,
	(SELECT count(*) FROM imagestream.tag t WHERE t.stream_id = s.id AND t.scheduled) AS scheduled,
	(SELECT count(*) FROM imagestream.tag t WHERE t.stream_id = s.id AND t.reference_policy = 'Local') AS local
FROM imagestream.stream s WHERE namespace IN ('ria', 'rib') ORDER BY namespace;
SELECT delete_stream('ria/app'), delete_stream('rib/app');
