-- The due queue (doc/worker.md): the changes of a tag that reach the worker
-- through imagestream.worker_queue (a new importable tag, a spec, schedule
-- or option changed, import_now, a tag or stream deleted), and those that do
-- not: what the worker records itself.  And the worker's recording keeps its
-- updates of tag HOT: no column it changes is one an index of tag reads.
-- (No worker runs in this database: the queue is only taken here.)
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/test/regress_setup.psql

-- the queue, taken as the worker takes it: the tags it names ("gone" for
-- one deleted)
CREATE FUNCTION pg_temp.taken() RETURNS text LANGUAGE sql AS $$
	SELECT coalesce(string_agg(coalesce(t.stream || ':' || t.name, 'gone'), ' '
							   ORDER BY t.stream, t.name), '(nothing)')
	FROM imagestream._due_queue() q(id) LEFT JOIN imagestream.tag t ON t.id = q.id
$$;
-- (what the tests before this one left)
SELECT count(*) >= 0 AS drained FROM imagestream._due_queue();

-- new tags: the importable ones
SELECT tag('reg.local:5000/org/app:v1', 'dq/app:v1', scheduled => true),
	tag('reg.local:5000/org/app:v2', 'dq/app:v2'),
	tag('reg.local:5000/org/app:v3', 'dq/app:v3', reference => true),
	tag('dq/app:v1', 'dq/app:alias', alias => true);
SELECT pg_temp.taken();
SELECT pg_temp.taken();

-- what the worker records: a success, a failure, an import_now'd tag found
-- unchanged, a stream's tags together; with the columns each of its
-- updates of tag changes (the trigger is enabled only while it records).
-- Recorded here by an ordinary session, as import_image records, a new
-- image recorded tag by tag queues its tag (_record_import moves the spec's
-- generation first), and so does a known digest moved, set-based too
-- (source_digest, which the worker keeps between checks of a tag);
-- the worker's own recording queues nothing (test/t/043_due_queue.pl).
SELECT _worker_recording();
CREATE FUNCTION pg_temp.fetched(status text, d image_digest) RETURNS _fetched LANGUAGE sql AS $$
	SELECT CASE WHEN status = 'Failure'
				THEN ROW('Failure', 'NotFound', 'gone', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::_fetched
				ELSE ROW(status, NULL, NULL, NULL, d, d, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::_fetched END
$$;
CREATE FUNCTION pg_temp.record(tag text, status text, d image_digest) RETURNS void LANGUAGE sql AS $$
	SELECT imagestream._worker_apply(t.id, t.from_ref, pg_temp.fetched(status, d),
									 imagestream._worker_stream_generation(t.stream_id))
	FROM imagestream.tag t WHERE t.namespace = 'dq' AND t.stream || ':' || t.name = tag
$$;
CREATE TABLE pg_temp.written (col text);
CREATE FUNCTION pg_temp.log_written() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO pg_temp.written
	SELECT o.key FROM jsonb_each(to_jsonb(OLD)) o JOIN jsonb_each(to_jsonb(NEW)) n USING (key)
	WHERE o.value IS DISTINCT FROM n.value;
	RETURN NEW;
END $$;
CREATE TRIGGER log_written BEFORE UPDATE ON imagestream.tag
	FOR EACH ROW EXECUTE FUNCTION pg_temp.log_written();

SELECT pg_temp.record('app:v1', 'Success', content_digest('one'::bytea));
SELECT pg_temp.record('app:v2', 'Failure', NULL);
SELECT pg_temp.taken();
ALTER TABLE imagestream.tag DISABLE TRIGGER log_written;
SELECT import_now('dq/app:v1');
SELECT pg_temp.taken();
ALTER TABLE imagestream.tag ENABLE TRIGGER log_written;
SELECT pg_temp.record('app:v1', 'Unchanged', content_digest('one'::bytea));
SELECT pg_temp.record('app:v1', 'Success', content_digest('two'::bytea));
SELECT pg_temp.taken();
ALTER TABLE imagestream.tag DISABLE TRIGGER log_written;
SELECT count(tag('reg.local:5000/org/many:t' || i, 'dq/many:t' || i, scheduled => true))
FROM generate_series(1, 20) i;
SELECT count(*) AS new_tags FROM imagestream._due_queue();
ALTER TABLE imagestream.tag ENABLE TRIGGER log_written;
SELECT count(*) AS left_alone
FROM (SELECT array_agg(id ORDER BY id) AS ids, array_agg(from_ref ORDER BY id) AS sources,
			 array_agg(pg_temp.fetched('Success', content_digest(name::bytea)) ORDER BY id) AS f,
			 min(stream_id) AS stream_id
	  FROM imagestream.tag WHERE namespace = 'dq' AND stream = 'many') x,
	 LATERAL imagestream._worker_apply_many(x.stream_id, x.ids, x.sources, x.f,
											imagestream._worker_stream_generation(x.stream_id));
SELECT pg_temp.taken();
DROP TRIGGER log_written ON imagestream.tag;
SELECT stream, count(*) FILTER (WHERE image IS NOT NULL) AS imported,
	count(*) FILTER (WHERE import_status = 'False') AS failed
FROM imagestream.tag WHERE namespace = 'dq' GROUP BY stream ORDER BY stream;

-- HOT: no column the worker's recording changes is read by an index of tag
-- (a key, an expression or a predicate), so that each such update stays on
-- its page.  (A count of HOT updates would depend on room on the page.)
CREATE VIEW pg_temp.indexed AS
SELECT DISTINCT a.attname::text AS col
FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum > 0
WHERE i.indrelid = 'imagestream.tag'::regclass
  AND (a.attnum = ANY (i.indkey::int2[])
	   OR EXISTS (SELECT 1 FROM pg_depend d
				  WHERE d.classid = 'pg_class'::regclass AND d.objid = i.indexrelid
					AND d.refclassid = 'pg_class'::regclass AND d.refobjid = i.indrelid
					AND d.refobjsubid = a.attnum));
SELECT string_agg(col, ' ' ORDER BY col) AS indexed FROM pg_temp.indexed;
SELECT string_agg(DISTINCT col, ' ' ORDER BY col) AS written FROM pg_temp.written;
SELECT count(*) AS written_and_indexed FROM pg_temp.written JOIN pg_temp.indexed USING (col);
-- and room on each page for the new row versions (a full page makes an
-- update leave it, whatever the indexes)
SELECT reloptions FROM pg_class WHERE oid = 'imagestream.tag'::regclass;

-- changes by callers: import_now, a spec, the schedule, options,
-- annotations; a tag changed twice is named once
SELECT import_now('dq/app');
SELECT pg_temp.taken();
SELECT tag('reg.local:5000/org/app:v9', 'dq/app:v2');
SELECT tag('reg.local:5000/org/app:v1', 'dq/app:v1', scheduled => false);
SELECT tag('reg.local:5000/org/app:v1', 'dq/app:v1', scheduled => false, insecure => true);
SELECT pg_temp.taken();
SELECT set_annotations('dq/app:v1', '{"importer.image.openshift.io/prefer-arch": "arm64"}');
SELECT pg_temp.taken();
-- ... but not the changes of tags the worker never imports
SELECT tag('dq/app:v2', 'dq/app:alias', alias => true);
SELECT untag('dq/app:v3');
SELECT pg_temp.taken();

-- a signature gate set, its keys changed, cleared, and gone: a check of its
-- tag looks up signatures (_due_tags().signatures) or no longer, which
-- the worker keeps between checks; the other gates change no check
CREATE FUNCTION pg_temp.tag_id(tag text) RETURNS bigint LANGUAGE sql AS $$
	SELECT t.id FROM imagestream.tag t WHERE t.namespace = 'dq' AND t.stream || ':' || t.name = tag
$$;
CREATE FUNCTION pg_temp.signatures(tag text) RETURNS boolean LANGUAGE sql AS $$
	SELECT d.signatures FROM imagestream._due_tags() d WHERE d.id = pg_temp.tag_id(tag)
$$;
INSERT INTO tag_gate (tag_id, min_age) VALUES (pg_temp.tag_id('app:v1'), '1 hour');
SELECT pg_temp.taken(), pg_temp.signatures('app:v1');
UPDATE tag_gate SET signed_by = '{ci}' WHERE tag_id = pg_temp.tag_id('app:v1');
SELECT pg_temp.taken(), pg_temp.signatures('app:v1');
UPDATE tag_gate SET signed_by = '{ci,release}', platforms = '{linux/amd64}' WHERE tag_id = pg_temp.tag_id('app:v1');
INSERT INTO tag_gate (tag_id, signed_by) VALUES (pg_temp.tag_id('app:v2'), '{ci}');
SELECT pg_temp.taken(), pg_temp.signatures('app:v2');
UPDATE tag_gate SET signed_by = NULL WHERE tag_id = pg_temp.tag_id('app:v1');
DELETE FROM tag_gate WHERE tag_id = pg_temp.tag_id('app:v2');
SELECT pg_temp.taken(), pg_temp.signatures('app:v1'), pg_temp.signatures('app:v2');
DELETE FROM tag_gate WHERE tag_id = pg_temp.tag_id('app:v1');
SELECT pg_temp.taken();

-- deleted tags, and a stream's
SELECT untag('dq/app:v2');
SELECT pg_temp.taken();
SELECT delete_stream('dq/many');
SELECT pg_temp.taken() ~ '^(gone ){19}gone$' AS twenty_gone;
SELECT delete_stream('dq/app');
SELECT pg_temp.taken();
