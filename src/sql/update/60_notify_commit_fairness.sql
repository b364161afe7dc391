-- Issue 15, findings S19-S21: notifications carry the id by default (the
-- setting's default is in C), change log ids are assigned at commit
-- (src/change_commit.c) instead of under a lock held from a transaction's
-- first change to its commit, and the worker's queue is fair across
-- namespaces (C only).

CREATE SEQUENCE change_provisional_id AS bigint
	MINVALUE -9223372036854775808 MAXVALUE -1 START WITH -9223372036854775808;
REVOKE ALL ON SEQUENCE change_provisional_id FROM PUBLIC;
ALTER TABLE change ALTER COLUMN id SET DEFAULT nextval('change_provisional_id');

-- Announces a row of the change log (at commit).
CREATE OR REPLACE FUNCTION _notify_change(c change) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	payload jsonb;
BEGIN
	-- Any role may LISTEN, and any role may NOTIFY on any channel: by
	-- default the payload is the id alone, a hint that listeners follow with
	-- changes_since() and their rights; full is for a DBA who trusts both.
	IF current_setting('imagestream.notify_payload', true) IS DISTINCT FROM 'full' THEN
		payload := jsonb_build_object('id', c.id);
	ELSE
		payload := jsonb_strip_nulls(jsonb_build_object(
			'id', c.id, 'at', c.at, 'event', c.event, 'namespace', c.namespace,
			'stream', c.stream, 'tag', c.tag, 'image', c.image::text,
			'previous_image', c.previous_image::text,
			'docker_image_reference', c.docker_image_reference::text,
			'generation', c.generation, 'reason', c.reason, 'message', c.message));
	END IF;
	IF octet_length(payload::text) > imagestream._notify_payload_limit() THEN
		payload := payload - 'docker_image_reference' - 'message' - 'reason'
			|| '{"truncated": true}';
	END IF;
	PERFORM pg_notify(coalesce(nullif(current_setting('imagestream.notify_channel', true), ''),
							   'imagestream'),
					  payload::text);
END $$;

-- Marks the transaction as one whose commit numbers its change rows.
CREATE FUNCTION _number_at_commit() RETURNS void
	AS 'MODULE_PATHNAME', 'imagestream_number_at_commit' LANGUAGE C VOLATILE;

-- (0.2.0 returned the id, now known only at commit)
DROP FUNCTION _log_change(text, text, text, text, image_digest, image_digest, image_ref, bigint, text, text);
-- Logs a change with a provisional id; the commit numbers and announces it.
CREATE FUNCTION _log_change(event text, ns text, stream text, tag text,
	image image_digest, previous_image image_digest, ref image_ref,
	generation bigint, reason text DEFAULT NULL, message text DEFAULT NULL)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO imagestream.change (at, event, namespace, stream, tag, image, previous_image,
									docker_image_reference, generation, reason, message)
		VALUES (now(), event, ns, stream, tag, image, previous_image, ref,
				generation, reason, message);
	PERFORM imagestream._number_at_commit();
END $$;

-- At commit, under the commit lock (src/change_commit.c): this transaction's
-- rows, in the order written, become base + 1, base + 2, ... (base: the
-- greatest committed id), and each is announced with its final id.
CREATE FUNCTION _number_changes(base bigint) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, imagestream, pg_temp AS $$
DECLARE
	c imagestream.change;
	lo bigint;
	hi bigint;
BEGIN
	-- (only this transaction's provisional rows are visible: no other is
	-- committed with one)
	UPDATE imagestream.change x SET id = base + p.n
	FROM (SELECT y.id, row_number() OVER (ORDER BY y.id) AS n
		  FROM imagestream.change y WHERE y.id < 0) p
	WHERE x.id = p.id;
	-- The notification queue is the server's, shared by every channel, and
	-- any role can fill it while a listener idles in a transaction; once
	-- full, every NOTIFY fails its transaction.  Past the limit the changes
	-- are logged, and not announced: listeners read them with changes_since
	-- when the next announced change, or their own poll, wakes them.
	IF pg_notification_queue_usage() >
	   coalesce(nullif(current_setting('imagestream.notify_queue_limit', true), '')::float8, 0.5) THEN
		SELECT min(x.id), max(x.id) INTO lo, hi FROM imagestream.change x WHERE x.id > base;
		RAISE WARNING 'imagestream changes % to % were not announced', lo, hi
			USING DETAIL = format('The notification queue is %s%% full, over imagestream.notify_queue_limit.',
								  round((pg_notification_queue_usage() * 100)::numeric, 3)),
				  HINT = 'A session that LISTENs and stays in a transaction holds the queue: end it (idle_in_transaction_session_timeout ends such sessions).';
		RETURN;
	END IF;
	FOR c IN SELECT * FROM imagestream.change x WHERE x.id > base ORDER BY x.id LOOP
		PERFORM imagestream._notify_change(c);
	END LOOP;
END $$;

REVOKE ALL ON FUNCTION _number_at_commit() FROM PUBLIC;
REVOKE ALL ON FUNCTION _log_change(text, text, text, text, image_digest, image_digest, image_ref, bigint, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION _number_changes(bigint) FROM PUBLIC;

CREATE OR REPLACE FUNCTION _api_changes_since(after_id bigint, max_rows integer DEFAULT 1000)
RETURNS SETOF change
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
BEGIN
	IF max_rows IS NULL OR max_rows < 0 THEN
		RAISE EXCEPTION 'max_rows must be zero or more'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	RETURN QUERY
		SELECT c.* FROM imagestream.change c
		-- (greatest: never this transaction's provisional rows, negative)
		WHERE c.id > greatest(after_id, 0) AND imagestream._can(c.namespace, 'view')
		ORDER BY c.id
		LIMIT max_rows;
END $$;

-- _record_import for many tags of a stream at once, set-based, in the order
-- given (import_image of all tags, the worker's chunk of a stream): the
-- same rows written, with one write of each tag row, and the change rows
-- and their NOTIFYs together.  p_stream is locked; p_generation is the
-- generation it moves to.  p_clear_requested also clears
-- import_requested_at (the worker).  Returns the positions of the tags it
-- leaves to _record_import: tags that other tags follow (their followers
-- move with them, _add_event), and names given twice.
CREATE OR REPLACE FUNCTION _record_imports(p_stream imagestream.stream, p_generation bigint,
	p_tags text[], p_sources text[], p_refs image_ref[], p_images image_digest[],
	p_source_digests image_digest[], p_scheduled boolean[], p_insecure boolean[],
	p_modes import_mode[], p_policies reference_policy[], p_clear_requested boolean DEFAULT false)
RETURNS SETOF integer LANGUAGE plpgsql AS $$
DECLARE
	alone integer[];
	-- per tag recorded here, by its position (pos) in the arrays given:
	-- what _record_import and _add_event would do, decided before any write
	pos integer[];
	ids bigint[];
	events text[];				-- insert, overwrite, none (no new event); NULL: not changed
	options boolean[];			-- not changed, but scheduled, insecure or the mode differ
	createds timestamptz[];		-- of the history head
	seqs integer[];
	refids integer[];			-- history_ref of the events written
	previous imagestream.image_digest[];
	logged boolean[];
BEGIN
	-- the new tags, in the order given (the stream is locked: no one else adds them)
	INSERT INTO imagestream.tag (stream_id, namespace, stream, name)
	SELECT p_stream.id, p_stream.namespace, p_stream.name, u.name
	FROM unnest(p_tags) WITH ORDINALITY AS u(name, n)
	WHERE NOT EXISTS (SELECT 1 FROM imagestream.tag t WHERE t.namespace = p_stream.namespace
					  AND t.stream = p_stream.name AND t.name = u.name)
	GROUP BY u.name
	ORDER BY min(u.n);
	PERFORM 1 FROM imagestream.tag t
	WHERE t.namespace = p_stream.namespace AND t.stream = p_stream.name AND t.name = ANY (p_tags)
	ORDER BY t.id FOR UPDATE;

	SELECT coalesce(array_agg(y.n ORDER BY y.n) FILTER (WHERE y.alone), '{}'),
		   array_agg(y.n ORDER BY y.n) FILTER (WHERE NOT y.alone),
		   array_agg(y.id ORDER BY y.n) FILTER (WHERE NOT y.alone),
		   array_agg(CASE WHEN NOT y.changed THEN NULL
						  WHEN y.seq IS NOT NULL AND y.same_ref AND y.same_image
							   AND y.head_generation = p_generation THEN 'none'
						  WHEN y.seq IS NOT NULL AND (y.same_ref OR y.same_image) THEN 'overwrite'
						  ELSE 'insert' END ORDER BY y.n) FILTER (WHERE NOT y.alone),
		   array_agg(NOT y.changed AND (y.t_scheduled <> y.scheduled OR y.t_insecure <> y.insecure
										OR y.t_mode <> y.mode) ORDER BY y.n) FILTER (WHERE NOT y.alone),
		   array_agg(y.head_created ORDER BY y.n) FILTER (WHERE NOT y.alone),
		   array_agg(y.seq ORDER BY y.n) FILTER (WHERE NOT y.alone),
		   array_agg(y.head_image ORDER BY y.n) FILTER (WHERE NOT y.alone),
		   array_agg(y.changed AND NOT (y.seq IS NOT NULL AND y.same_ref AND y.same_image)
					 ORDER BY y.n) FILTER (WHERE NOT y.alone)
	INTO alone, pos, ids, events, options, createds, seqs, previous, logged
	FROM (SELECT z.*, coalesce(z.head_ref = z.ref, false) AS same_ref,
				 z.head_image IS NOT DISTINCT FROM z.image AS same_image,
				 coalesce(z.history_length = 0 OR z.t_ref <> z.ref OR z.t_image IS DISTINCT FROM z.image
						  OR NOT z.has_spec OR z.spec_generation > coalesce(z.status_generation, 0),
						  false) AS changed
		  FROM (SELECT u.n::integer AS n, u.ref, u.image, u.scheduled, u.insecure, u.mode,
					   t.id, t.has_spec, t.history_length, t.spec_generation, t.status_generation,
					   t.docker_image_reference AS t_ref, t.image AS t_image,
					   t.scheduled AS t_scheduled, t.insecure AS t_insecure, t.import_mode AS t_mode,
					   count(*) OVER (PARTITION BY u.name) > 1
					   OR EXISTS (SELECT 1 FROM imagestream.tag x
								  WHERE x.stream_id = t.stream_id AND x.has_spec
									AND x.from_kind = 'ImageStreamTag'
									AND x.from_ref = format('%s/%s:%s', t.namespace, t.stream, t.name)
									AND x.id <> t.id) AS alone,
					   h.seq, h.created AS head_created, h.image AS head_image,
					   h.docker_image_reference AS head_ref, h.generation AS head_generation
				FROM unnest(p_tags, p_refs, p_images, p_scheduled, p_insecure, p_modes)
					 WITH ORDINALITY AS u(name, ref, image, scheduled, insecure, mode, n)
				JOIN imagestream.tag t ON t.namespace = p_stream.namespace
					 AND t.stream = p_stream.name AND t.name = u.name
				LEFT JOIN LATERAL (SELECT * FROM imagestream._history x WHERE x.tag_id = t.id
								   ORDER BY x.seq DESC LIMIT 1) h ON true) z) y;
	RETURN QUERY SELECT unnest(alone);
	IF pos IS NULL THEN
		RETURN;
	END IF;

	IF EXISTS (SELECT 1 FROM unnest(events, options) AS x(event, options)
			   WHERE x.event IS NOT NULL OR x.options) THEN
		UPDATE imagestream.stream SET generation = p_generation
		WHERE id = p_stream.id AND generation <> p_generation;
	END IF;
	refids := imagestream._history_ref_ids(
		ARRAY(SELECT CASE WHEN x.event IN ('insert', 'overwrite') THEN p_refs[x.n] END
			  FROM unnest(pos, events) WITH ORDINALITY AS x(n, event, k) ORDER BY x.k),
		ARRAY(SELECT p_images[x.n] FROM unnest(pos) WITH ORDINALITY AS x(n, k) ORDER BY x.k));
	UPDATE imagestream.history_event h
	SET ref = x.refid, image = u.image, generation = p_generation
	FROM unnest(pos, ids, events, seqs, refids) AS x(n, id, event, seq, refid)
	JOIN unnest(p_images) WITH ORDINALITY AS u(image, n) ON u.n = x.n
	WHERE x.event = 'overwrite' AND h.tag_id = x.id AND h.seq = x.seq;
	INSERT INTO imagestream.history_event (tag_id, seq, created, generation, ref, image)
	SELECT x.id, coalesce(x.seq, 0) + 1, now(), p_generation, x.refid, u.image
	FROM unnest(pos, ids, events, seqs, refids) AS x(n, id, event, seq, refid)
	JOIN unnest(p_images) WITH ORDINALITY AS u(image, n) ON u.n = x.n
	WHERE x.event = 'insert'
	ORDER BY x.n;
	-- one write of each tag: the spec, the new head, the conditions cleared
	UPDATE imagestream.tag t
	SET has_spec = t.has_spec OR x.changed,
		from_kind = CASE WHEN x.changed THEN 'DockerImage' ELSE t.from_kind END,
		from_ref = CASE WHEN x.changed THEN x.source ELSE t.from_ref END,
		scheduled = x.scheduled, insecure = x.insecure, import_mode = x.mode,
		reference_policy = CASE WHEN x.changed AND NOT t.has_spec THEN x.policy ELSE t.reference_policy END,
		spec_generation = CASE WHEN x.changed THEN p_generation ELSE t.spec_generation END,
		source_digest = x.source_digest,
		image = CASE WHEN x.moves THEN x.image ELSE t.image END,
		docker_image_reference = CASE WHEN x.moves THEN x.ref ELSE t.docker_image_reference END,
		created = CASE x.event WHEN 'insert' THEN now() WHEN 'overwrite' THEN x.created ELSE t.created END,
		status_generation = CASE WHEN x.moves THEN p_generation ELSE t.status_generation END,
		history_length = t.history_length + CASE x.event WHEN 'insert' THEN 1 ELSE 0 END,
		import_status = CASE x.event WHEN 'none' THEN t.import_status END,
		import_reason = CASE x.event WHEN 'none' THEN t.import_reason END,
		import_message = CASE x.event WHEN 'none' THEN t.import_message END,
		import_generation = CASE x.event WHEN 'none' THEN t.import_generation END,
		import_transition = CASE x.event WHEN 'none' THEN t.import_transition END,
		import_requested_at = CASE WHEN p_clear_requested THEN NULL ELSE t.import_requested_at END
	FROM (SELECT d.id, d.event, d.created, d.event IS NOT NULL AS changed,
				 coalesce(d.event IN ('insert', 'overwrite'), false) AS moves,
				 u.source, u.ref, u.image, u.source_digest, u.scheduled, u.insecure, u.mode, u.policy
		  FROM unnest(pos, ids, events, createds) AS d(n, id, event, created)
		  JOIN unnest(p_sources, p_refs, p_images, p_source_digests, p_scheduled, p_insecure,
					  p_modes, p_policies)
			   WITH ORDINALITY AS u(source, ref, image, source_digest, scheduled, insecure, mode, policy, n)
			   ON u.n = d.n) x
	WHERE t.id = x.id
	  AND (x.changed OR t.scheduled <> x.scheduled OR t.insecure <> x.insecure
		   OR t.import_mode <> x.mode OR t.source_digest IS DISTINCT FROM x.source_digest
		   OR t.import_status IS NOT NULL OR (p_clear_requested AND t.import_requested_at IS NOT NULL));

	IF true = ANY (logged) THEN
		-- as _log_change: provisional ids in this order, numbered at commit
		INSERT INTO imagestream.change (at, event, namespace, stream, tag, image, previous_image,
										docker_image_reference, generation)
		SELECT now(), 'tag_updated', p_stream.namespace, p_stream.name, u.name, u.image,
			   x.previous, u.ref, p_generation
		FROM unnest(pos, logged, previous) AS x(n, logged, previous)
		JOIN unnest(p_tags, p_refs, p_images) WITH ORDINALITY AS u(name, ref, image, n) ON u.n = x.n
		WHERE x.logged
		ORDER BY x.n;
		PERFORM imagestream._number_at_commit();
	END IF;
END $$;

CREATE OR REPLACE FUNCTION _api_check_invariants() RETURNS TABLE(invariant text, object text, detail text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
BEGIN
	PERFORM imagestream._require_privileged('check the invariants');

	-- a tag repeats its stream's names
	RETURN QUERY
		SELECT 'tag names its stream', format('%s/%s:%s', t.namespace, t.stream, t.name),
			format('stream %s is %s/%s', s.id, s.namespace, s.name)
		FROM imagestream.tag t JOIN imagestream.stream s ON s.id = t.stream_id
		WHERE (t.namespace, t.stream) IS DISTINCT FROM (s.namespace, s.name);

	-- the head columns are the newest event; history_length counts the events
	RETURN QUERY
		SELECT 'tag head is its newest event', format('%s/%s:%s', t.namespace, t.stream, t.name),
			format('head %s %s gen %s len %s; newest %s %s gen %s, %s events',
				   t.docker_image_reference, t.image, t.status_generation, t.history_length,
				   h.docker_image_reference, h.image, h.generation, n.events)
		FROM imagestream.tag t
		CROSS JOIN LATERAL (SELECT count(*) AS events FROM imagestream._history x
							WHERE x.tag_id = t.id) n
		LEFT JOIN LATERAL (SELECT * FROM imagestream._history x WHERE x.tag_id = t.id
						   ORDER BY x.seq DESC LIMIT 1) h ON true
		WHERE t.history_length <> n.events
		   OR t.docker_image_reference::text IS DISTINCT FROM h.docker_image_reference::text
		   OR t.image::text IS DISTINCT FROM h.image::text
		   OR t.created IS DISTINCT FROM h.created
		   OR t.status_generation IS DISTINCT FROM h.generation;

	-- consecutive events differ (an equal one collapses into the head)
	RETURN QUERY
		SELECT 'consecutive events differ', format('%s/%s:%s', t.namespace, t.stream, t.name),
			format('events %s and %s: %s %s', p.prev_seq, p.seq, p.docker_image_reference, p.image)
		FROM (SELECT h.*, lag(h.seq) OVER w AS prev_seq,
					 lag(h.docker_image_reference::text) OVER w AS prev_ref,
					 lag(h.image::text) OVER w AS prev_image
			  FROM imagestream._history h WINDOW w AS (PARTITION BY h.tag_id ORDER BY h.seq)) p
		JOIN imagestream.tag t ON t.id = p.tag_id
		WHERE p.prev_seq IS NOT NULL AND p.prev_ref = p.docker_image_reference::text
		  AND p.prev_image IS NOT DISTINCT FROM p.image::text;

	-- an event's reference, when it has a digest, has its image's
	RETURN QUERY
		SELECT 'event reference names its image', format('%s/%s:%s', t.namespace, t.stream, t.name),
			format('event %s: %s, image %s', h.seq, h.docker_image_reference, h.image)
		FROM imagestream._history h JOIN imagestream.tag t ON t.id = h.tag_id
		WHERE imagestream.ref_digest(h.docker_image_reference) IS NOT NULL
		  AND imagestream.ref_digest(h.docker_image_reference)::text IS DISTINCT FROM h.image::text;

	-- every event has a pull spec: history_ref keeps one by its repository
	-- only for events with a digest to rebuild it with
	RETURN QUERY
		SELECT 'event has a pull spec', format('%s/%s:%s', t.namespace, t.stream, t.name),
			format('event %s', h.seq)
		FROM imagestream._history h JOIN imagestream.tag t ON t.id = h.tag_id
		WHERE h.docker_image_reference IS NULL;

	-- every event's image is in the catalogue (reference-only events have none)
	RETURN QUERY
		SELECT 'event image catalogued', format('%s/%s:%s', t.namespace, t.stream, t.name),
			format('event %s: image %s', h.seq, h.image)
		FROM imagestream._history h JOIN imagestream.tag t ON t.id = h.tag_id
		WHERE h.image IS NOT NULL
		  AND NOT EXISTS (SELECT 1 FROM imagestream.image i WHERE i.digest = h.image);

	-- generations never exceed the stream's, events' never decrease
	RETURN QUERY
		SELECT 'generations within the stream', format('%s/%s:%s', t.namespace, t.stream, t.name),
			format('stream %s, spec %s, status %s, condition %s', s.generation, t.spec_generation,
				   t.status_generation, t.import_generation)
		FROM imagestream.tag t JOIN imagestream.stream s ON s.id = t.stream_id
		WHERE t.spec_generation > s.generation OR t.status_generation > s.generation
		   OR t.import_generation > s.generation;
	RETURN QUERY
		SELECT 'event generations never decrease', format('%s/%s:%s', t.namespace, t.stream, t.name),
			format('event %s has generation %s after %s', p.seq, p.generation, p.prev_generation)
		FROM (SELECT h.*, lag(h.generation) OVER (PARTITION BY h.tag_id ORDER BY h.seq) AS prev_generation
			  FROM imagestream._history h) p
		JOIN imagestream.tag t ON t.id = p.tag_id
		WHERE p.generation < p.prev_generation;

	-- the ImportSuccess condition: complete when set, empty when not
	RETURN QUERY
		SELECT 'condition consistent', format('%s/%s:%s', t.namespace, t.stream, t.name),
			format('status %s, reason %s, generation %s, transition %s', t.import_status,
				   t.import_reason, t.import_generation, t.import_transition)
		FROM imagestream.tag t
		WHERE (t.import_status IS NULL AND (t.import_reason IS NOT NULL OR t.import_message IS NOT NULL
											OR t.import_generation IS NOT NULL OR t.import_transition IS NOT NULL))
		   OR (t.import_status = 'False' AND (t.import_reason IS NULL OR t.import_generation IS NULL
											  OR t.import_transition IS NULL OR NOT t.has_spec));

	-- a tag that exists has a spec, an event or a condition
	RETURN QUERY
		SELECT 'no empty tags', format('%s/%s:%s', t.namespace, t.stream, t.name), 'no spec, history or condition'
		FROM imagestream.tag t
		WHERE NOT t.has_spec AND t.history_length = 0 AND t.import_status IS NULL;

	-- a tag that follows a tag of its stream shows that tag's current event
	RETURN QUERY
		SELECT 'alias equals its source', format('%s/%s:%s', f.namespace, f.stream, f.name),
			format('shows %s, source %s shows %s', f.docker_image_reference, f.from_ref, s.docker_image_reference)
		FROM imagestream.tag f
		JOIN imagestream.tag s ON s.stream_id = f.stream_id
			AND f.from_ref = format('%s/%s:%s', s.namespace, s.stream, s.name)
		WHERE f.has_spec AND f.from_kind = 'ImageStreamTag' AND NOT f.reference
		  AND s.docker_image_reference IS NOT NULL
		  AND (f.docker_image_reference::text IS DISTINCT FROM s.docker_image_reference::text
			   OR f.image::text IS DISTINCT FROM s.image::text);

	-- catalogue rows of an image belong to an image that is catalogued
	RETURN QUERY
		SELECT 'no orphan catalogue rows', c.image::text, 'image_child of an uncatalogued image'
		FROM imagestream.image_child c
		WHERE NOT EXISTS (SELECT 1 FROM imagestream.image i WHERE i.digest = c.image)
		UNION ALL
		SELECT 'no orphan catalogue rows', l.image::text, 'image_layer of an uncatalogued image'
		FROM imagestream.image_layer l
		WHERE NOT EXISTS (SELECT 1 FROM imagestream.image i WHERE i.digest = l.image);

	-- change ids are dense from the oldest kept (not counting this
	-- transaction's provisional rows, numbered at its commit)
	RETURN QUERY
		SELECT 'change ids dense', 'change', format('%s rows from id %s to %s', count(*), min(id), max(id))
		FROM imagestream.change
		WHERE id > 0
		HAVING count(*) > 0 AND max(id) - min(id) + 1 <> count(*);
END $$;
