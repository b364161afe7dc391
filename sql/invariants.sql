-- The model's invariants over everything the other tests left behind (this
-- test runs last), then each check of check_invariants() made to fire on its
-- own: one violation at a time, made as superuser and rolled back, and
-- exactly that check reports it.
SET search_path TO imagestream, public;
SELECT * FROM check_invariants();

-- The checks the function has: the names of its result rows, read from its
-- source (a new check shows here and must be shown to fire below).
CREATE TEMP TABLE checks AS
	SELECT DISTINCT m[1] AS invariant
	FROM pg_proc p, regexp_matches(p.prosrc, E'SELECT ''([a-z ]+)'', ', 'g') AS m
	WHERE p.oid = 'imagestream._api_check_invariants()'::regprocedure;
SELECT invariant FROM checks ORDER BY 1;

-- fires(sql): on a sound model, runs sql (one violation) in a subtransaction,
-- returns what check_invariants() then reports, and rolls sql back; the
-- invariants reported are kept in fired.
CREATE TEMP TABLE fired (invariant text);
CREATE FUNCTION pg_temp.fires(sql text) RETURNS TABLE(invariant text, object text)
LANGUAGE plpgsql AS $$
DECLARE
	found text[];
BEGIN
	IF EXISTS (SELECT FROM imagestream.check_invariants()) THEN
		RAISE EXCEPTION 'the model is not sound before: %', sql;
	END IF;
	BEGIN
		EXECUTE sql;
		SELECT array_agg(c.invariant || E'\t' || c.object ORDER BY c.invariant, c.object)
			INTO found FROM imagestream.check_invariants() c;
		RAISE EXCEPTION USING ERRCODE = 'IS001', MESSAGE = 'undo';
	EXCEPTION WHEN SQLSTATE 'IS001' THEN
		NULL;					-- sql is rolled back
	END;
	IF EXISTS (SELECT FROM imagestream.check_invariants()) THEN
		RAISE EXCEPTION 'the model is not sound after: %', sql;
	END IF;
	INSERT INTO fired SELECT split_part(f, E'\t', 1) FROM unnest(found) f;
	RETURN QUERY SELECT split_part(f, E'\t', 1), split_part(f, E'\t', 2) FROM unnest(found) f;
END $$;

BEGIN;
-- a sound stream: v1 with two events (images 1 then 3), v2 (image 2), an
-- alias of v1, and a tag with a spec and no history yet
SELECT map_image('inv/app:v1', ('quay.io/inv/app@sha256:' || repeat('1', 64))::image_ref);
SELECT map_image('inv/app:v1', ('quay.io/inv/app@sha256:' || repeat('3', 64))::image_ref);
SELECT map_image('inv/app:v2', ('quay.io/inv/app@sha256:' || repeat('2', 64))::image_ref);
SELECT tag('inv/app:v1', 'inv/app:alias', alias => true);
SELECT tag('quay.io/inv/app:next', 'inv/app:next');
SELECT name, history_length, image FROM tag WHERE namespace = 'inv' ORDER BY name;
SELECT count(*) FROM check_invariants();
CREATE TEMP VIEW v1_old AS
	SELECT e.* FROM history_event e JOIN tag t ON t.id = e.tag_id
	WHERE t.namespace = 'inv' AND t.name = 'v1' AND e.seq = (SELECT min(seq) FROM history_event x WHERE x.tag_id = e.tag_id);

-- a tag that does not repeat its stream's names
SELECT * FROM pg_temp.fires($$
	UPDATE tag SET stream = 'other' WHERE namespace = 'inv' AND name = 'v2' $$);
-- a head that is not the newest event: its history length
SELECT * FROM pg_temp.fires($$
	UPDATE tag SET history_length = 7 WHERE namespace = 'inv' AND name = 'v2' $$);
-- its image
SELECT * FROM pg_temp.fires($$
	UPDATE tag SET image = ('sha256:' || repeat('3', 64))::image_digest, docker_image_reference = ('quay.io/inv/app@sha256:' || repeat('3', 64))::image_ref
	WHERE namespace = 'inv' AND name = 'v2' $$);
-- its generation
SELECT * FROM pg_temp.fires($$
	UPDATE tag SET status_generation = status_generation - 1 WHERE namespace = 'inv' AND name = 'v2' $$);
-- an older event equal to the one after it
SELECT * FROM pg_temp.fires($$
	UPDATE history_event e SET image = ('sha256:' || repeat('3', 64))::image_digest FROM v1_old o
	WHERE (e.tag_id, e.seq) = (o.tag_id, o.seq) $$);
-- an event whose pull spec names another digest than its image
SELECT * FROM pg_temp.fires($$
	WITH r AS (INSERT INTO history_ref (ref, with_digest)
			   VALUES (('quay.io/inv/app@sha256:' || repeat('4', 64))::image_ref, false) RETURNING id)
	UPDATE history_event e SET ref = r.id FROM r, v1_old o WHERE (e.tag_id, e.seq) = (o.tag_id, o.seq) $$);
-- an event without a pull spec (with_digest and no image)
SELECT * FROM pg_temp.fires($$
	UPDATE history_event e SET image = NULL FROM v1_old o WHERE (e.tag_id, e.seq) = (o.tag_id, o.seq) $$);
-- an event whose image is not in the catalogue
SELECT * FROM pg_temp.fires($$
	DELETE FROM image WHERE digest::text = 'sha256:' || repeat('1', 64) $$);
-- a tag's generation past its stream's: spec, status, condition
SELECT * FROM pg_temp.fires($$
	UPDATE tag SET spec_generation = 100 WHERE namespace = 'inv' AND name = 'next' $$);
SELECT * FROM pg_temp.fires($$
	UPDATE stream SET generation = generation - 1 WHERE namespace = 'inv' $$);
SELECT * FROM pg_temp.fires($$
	UPDATE tag SET import_status = 'False', import_reason = 'NotFound', import_generation = 100,
		import_transition = now() WHERE namespace = 'inv' AND name = 'next' $$);
-- an older event with a newer generation than the one after it
SELECT * FROM pg_temp.fires($$
	UPDATE history_event e SET generation = 100 FROM v1_old o WHERE (e.tag_id, e.seq) = (o.tag_id, o.seq) $$);
-- a condition with a reason and no status; a False one without its reason
SELECT * FROM pg_temp.fires($$
	UPDATE tag SET import_reason = 'NotFound' WHERE namespace = 'inv' AND name = 'v2' $$);
SELECT * FROM pg_temp.fires($$
	UPDATE tag SET import_status = 'False', import_generation = 1, import_transition = now()
	WHERE namespace = 'inv' AND name = 'next' $$);
-- a tag with no spec, no history and no condition
SELECT * FROM pg_temp.fires($$
	UPDATE tag SET has_spec = false WHERE namespace = 'inv' AND name = 'next' $$);
-- an alias that shows another image than its source, with a history of its own
SELECT * FROM pg_temp.fires($$
	UPDATE history_event SET image = ('sha256:' || repeat('2', 64))::image_digest
	WHERE tag_id = (SELECT id FROM tag WHERE namespace = 'inv' AND name = 'alias');
	UPDATE tag SET image = ('sha256:' || repeat('2', 64))::image_digest, docker_image_reference = ('quay.io/inv/app@sha256:' || repeat('2', 64))::image_ref
	WHERE namespace = 'inv' AND name = 'alias' $$);
-- an alias whose gates hold its source's image back does not show it
SELECT * FROM pg_temp.fires($$
	INSERT INTO tag_gate (tag_id, approval) SELECT id, true FROM tag WHERE namespace = 'inv' AND name = 'alias';
	INSERT INTO gate_candidate (tag_id, source, ref, image, state, gate, message)
	SELECT id, from_ref, docker_image_reference, image, 'pending', 'approval', 'waits'
	FROM tag WHERE namespace = 'inv' AND name = 'alias';
	UPDATE history_event SET image = ('sha256:' || repeat('2', 64))::image_digest
	WHERE tag_id = (SELECT id FROM tag WHERE namespace = 'inv' AND name = 'alias');
	UPDATE tag SET image = ('sha256:' || repeat('2', 64))::image_digest, docker_image_reference = ('quay.io/inv/app@sha256:' || repeat('2', 64))::image_ref
	WHERE namespace = 'inv' AND name = 'alias' $$);
-- a candidate of a tag without gates; one pending on a gate that refuses
SELECT * FROM pg_temp.fires($$
	INSERT INTO gate_candidate (tag_id, source, ref, image, state, gate, message)
	SELECT id, from_ref, ('quay.io/inv/app@sha256:' || repeat('5', 64))::image_ref,
		('sha256:' || repeat('5', 64))::image_digest, 'refused', 'platforms', 'no arm64'
	FROM tag WHERE namespace = 'inv' AND name = 'next' $$);
SELECT * FROM pg_temp.fires($$
	INSERT INTO tag_gate (tag_id, platforms) SELECT id, '{linux/arm64}' FROM tag WHERE namespace = 'inv' AND name = 'next';
	INSERT INTO gate_candidate (tag_id, source, ref, image, state, gate, message)
	SELECT id, from_ref, ('quay.io/inv/app@sha256:' || repeat('5', 64))::image_ref,
		('sha256:' || repeat('5', 64))::image_digest, 'pending', 'platforms', 'no arm64'
	FROM tag WHERE namespace = 'inv' AND name = 'next' $$);
-- catalogue rows of an image not catalogued (foreign keys off): a child, a layer
-- (of digests no other test uses)
SELECT * FROM pg_temp.fires($$
	SET LOCAL session_replication_role = replica;
	INSERT INTO image_child (image, position, digest) VALUES (('sha256:' || encode(sha256('inv orphan child'), 'hex'))::image_digest, 0, ('sha256:' || repeat('1', 64))::image_digest) $$);
SELECT * FROM pg_temp.fires($$
	SET LOCAL session_replication_role = replica;
	INSERT INTO image_layer (image, position, digest) VALUES (('sha256:' || encode(sha256('inv orphan layer'), 'hex'))::image_digest, 0, ('sha256:' || repeat('1', 64))::image_digest) $$);
-- a gap in the committed change ids
SELECT * FROM pg_temp.fires($$
	INSERT INTO change (id, event, namespace, stream)
	SELECT greatest(max(id), 0) + i, 'tag_updated', 'inv', 'app' FROM change, (VALUES (1), (3)) AS v(i) GROUP BY i $$);
-- a move that does not start where the one before it ended (a lost update)
SELECT * FROM pg_temp.fires($$
	INSERT INTO change (id, event, namespace, stream, tag, image, previous_image)
	SELECT greatest(max(id), 0) + i, 'tag_updated', 'inv', 'app', 'lost',
		   ('sha256:' || repeat(i::text, 64))::image_digest,
		   CASE WHEN i = 2 THEN ('sha256:' || repeat('7', 64))::image_digest END
	FROM change, (VALUES (1), (2)) AS v(i) GROUP BY i $$);
-- a trigger that did not set its tag's image, with no error to say why
-- (its id depends on the tests before)
SELECT invariant, regexp_replace(object, '[0-9]+', 'N') AS object FROM pg_temp.fires($$
	INSERT INTO image_trigger (tag_id, target, column_name, key_column, key_value, owner)
	SELECT id, 'pg_class', 'relname', 'relname', 'x', 10 FROM tag
	WHERE namespace = 'inv' AND image IS NOT NULL ORDER BY id LIMIT 1 $$);

-- every check was shown to fire
SELECT c.invariant AS never_fired FROM checks c WHERE c.invariant NOT IN (SELECT invariant FROM fired);
SELECT count(*) AS checks, (SELECT count(DISTINCT invariant) FROM fired) AS fired FROM checks;
ROLLBACK;

-- only the privileged may run it
CREATE ROLE inv_user;
SET ROLE inv_user;
SELECT * FROM imagestream.check_invariants();
RESET ROLE;
DROP ROLE inv_user;
