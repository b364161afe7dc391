-- The outcome of an import, recorded in the tag (doc/model.md, doc/import.md):
-- OpenShift's importSuccessful for one tag and, set-based, for many tags of
-- a stream; and the ImportSuccess=False condition of a failure.  import_image
-- (280_import_image.sql) and the worker (170_worker_record.sql) record here.

-- _record_import and _record_imports apply the same rules, to one tag and
-- set-based to many: they must change together.  sql/worker_record.sql
-- checks that they write the same rows, for each branch of the rules.  (The
-- one tag is not a one-element _record_imports: that costs 1.4 times as
-- much for a new image and 20 times for an unchanged tag, doc/performance.md.)

-- The route of an import's change of a tag (change.via): "policy" when the
-- tag follows a policy (doc/policies.md) whose winner is the source
-- imported, NULL otherwise.  Asked only for a change that is logged.
CREATE OR REPLACE FUNCTION _import_via(p_stream_id bigint, p_tag text, p_source text) RETURNS text
LANGUAGE sql STABLE AS $$
	SELECT 'policy' FROM imagestream.tag_policy p
	JOIN imagestream.policy_listing l ON l.id = p.listing_id
	WHERE p.stream_id = p_stream_id AND p.tag = p_tag
	  AND imagestream.ref_with_tag(l.repository, p.winner)::text = p_source
$$;

-- Records a successful import into a tag by OpenShift's importSuccessful:
-- when the pull spec, the image or a pending spec changed, the spec points
-- at the source and the new event carries the next stream generation;
-- otherwise only the import policy is updated.  Conditions are cleared.
-- Writes nothing when nothing changed.  p_generation, when given, is the
-- generation the stream moves to (the worker's tags of one stream share it,
-- as in OpenShift's import of a whole stream).
CREATE OR REPLACE FUNCTION _record_import(p_stream imagestream.stream, p_new_stream boolean,
	i imagestream._tag_import, p_generation bigint DEFAULT NULL)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	t imagestream.tag := imagestream._lock_tag(p_stream, i.tag, true);
	gen bigint := coalesce(p_generation, CASE WHEN p_new_stream THEN p_stream.generation
											  ELSE p_stream.generation + 1 END);
	changed boolean;
	spec imagestream.tag;
	via text;
BEGIN
	-- a move asks protection and the gates first (155_gates.sql); the import
	-- of the image the tag has makes a candidate held back moot
	IF (t.image IS DISTINCT FROM i.image AND t.gated)
	   OR ((t.image IS DISTINCT FROM i.image OR t.docker_image_reference IS DISTINCT FROM i.ref
			OR t.from_ref IS DISTINCT FROM i.source)
		   AND imagestream._protecting_patterns(t) IS NOT NULL) THEN
		via := imagestream._move_held(t, i.source, i.ref, i.image, i.source_digest, gen);
		IF via = 'held' THEN
			RETURN;
		END IF;
	ELSIF t.gated AND t.import_status IS NOT NULL THEN
		DELETE FROM imagestream.gate_candidate c WHERE c.tag_id = t.id;
	END IF;
	changed := t.history_length = 0 OR t.docker_image_reference <> i.ref
		OR t.image IS DISTINCT FROM i.image OR NOT t.has_spec
		OR t.spec_generation > coalesce(t.status_generation, 0);
	IF changed THEN
		UPDATE imagestream.stream SET generation = gen WHERE id = p_stream.id AND generation <> gen;
		UPDATE imagestream.tag
		SET has_spec = true, from_kind = 'DockerImage', from_ref = i.source,
			scheduled = i.scheduled, insecure = i.insecure, import_mode = i.mode,
			reference_policy = CASE WHEN has_spec THEN reference_policy ELSE i.policy END,
			spec_generation = gen, source_digest = i.source_digest
		WHERE id = t.id;
		-- a tag with a spec keeps its policy; a new spec may move resolve()
		-- (the update changed nothing else it reads)
		IF NOT t.has_spec THEN
			spec := t;
			spec.has_spec := true;
			spec.reference_policy := i.policy;
			PERFORM imagestream._log_policy_change(t, spec, gen);
		END IF;
		PERFORM imagestream._add_event(t.id, i.ref, i.image, gen,
			p_via => coalesce(via, imagestream._import_via(p_stream.id, i.tag, i.source)));
		RETURN;
	END IF;
	IF t.scheduled <> i.scheduled OR t.insecure <> i.insecure OR t.import_mode <> i.mode THEN
		UPDATE imagestream.stream SET generation = gen WHERE id = p_stream.id AND generation <> gen;
		UPDATE imagestream.tag SET scheduled = i.scheduled, insecure = i.insecure, import_mode = i.mode
		WHERE id = t.id;
	END IF;
	IF t.source_digest IS DISTINCT FROM i.source_digest THEN
		UPDATE imagestream.tag SET source_digest = i.source_digest WHERE id = t.id;
	END IF;
	IF t.import_status IS NOT NULL THEN
		UPDATE imagestream.tag
		SET import_status = NULL, import_reason = NULL, import_message = NULL,
			import_generation = NULL, import_transition = NULL
		WHERE id = t.id;
	END IF;
END $$;

-- _record_import for many tags of a stream at once, set-based, in the order
-- given (import_image of all tags, the worker's chunk of a stream): the
-- same rows written, with one write of each tag row, and the change rows
-- and their NOTIFYs together.  p_stream is locked; p_generation is the
-- generation it moves to.  p_clear_requested also clears
-- import_requested_at (the worker).  Returns the positions of the tags it
-- leaves to _record_import: tags that other tags follow (their followers
-- move with them, _add_event), names given twice, tags without a spec
-- that have an image and get a Local spec (their policy change is logged
-- before their import's, _record_import), and gated or protected tags
-- (155_gates.sql).
CREATE OR REPLACE FUNCTION _record_imports(p_stream imagestream.stream, p_generation bigint,
	p_imports imagestream._tag_import[], p_clear_requested boolean DEFAULT false)
RETURNS SETOF integer LANGUAGE plpgsql AS $$
DECLARE
	alone integer[];
	-- per tag recorded here, by its position (pos) in p_imports:
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
	first_change bigint;
BEGIN
	-- the new tags, in the order given (the stream is locked: no one else adds them)
	INSERT INTO imagestream.tag (stream_id, namespace, stream, name)
	SELECT p_stream.id, p_stream.namespace, p_stream.name, u.name
	FROM unnest(p_imports) WITH ORDINALITY AS u(name, source, ref, image, source_digest, scheduled, insecure, mode, policy, n)
	WHERE NOT EXISTS (SELECT 1 FROM imagestream.tag t WHERE t.namespace = p_stream.namespace
					  AND t.stream = p_stream.name AND t.name = u.name)
	GROUP BY u.name
	ORDER BY min(u.n);
	PERFORM 1 FROM imagestream.tag t
	WHERE t.namespace = p_stream.namespace AND t.stream = p_stream.name AND t.name IN (SELECT u.tag FROM unnest(p_imports) AS u)
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
					   OR (NOT t.has_spec AND u.policy = 'Local' AND t.image IS NOT NULL)
					   OR t.gated OR imagestream._protecting_patterns(t) IS NOT NULL
					   OR EXISTS (SELECT 1 FROM imagestream.tag x
								  WHERE x.stream_id = t.stream_id AND x.has_spec
									AND x.from_kind = 'ImageStreamTag'
									AND x.from_ref = format('%s/%s:%s', t.namespace, t.stream, t.name)
									AND x.id <> t.id) AS alone,
					   h.seq, h.created AS head_created, h.image AS head_image,
					   h.docker_image_reference AS head_ref, h.generation AS head_generation
				FROM unnest(p_imports) WITH ORDINALITY AS u(name, source, ref, image, source_digest, scheduled, insecure, mode, policy, n)
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
		ARRAY(SELECT CASE WHEN x.event IN ('insert', 'overwrite') THEN u.ref END
			  FROM unnest(pos, events) WITH ORDINALITY AS x(n, event, k)
			  JOIN unnest(p_imports) WITH ORDINALITY AS u(name, source, ref, image, source_digest, scheduled, insecure, mode, policy, n) ON u.n = x.n ORDER BY x.k),
		ARRAY(SELECT u.image FROM unnest(pos) WITH ORDINALITY AS x(n, k)
			  JOIN unnest(p_imports) WITH ORDINALITY AS u(name, source, ref, image, source_digest, scheduled, insecure, mode, policy, n) ON u.n = x.n ORDER BY x.k));
	UPDATE imagestream.history_event h
	SET ref = x.refid, image = u.image, generation = p_generation
	FROM unnest(pos, ids, events, seqs, refids) AS x(n, id, event, seq, refid)
	JOIN unnest(p_imports) WITH ORDINALITY AS u(name, source, ref, image, source_digest, scheduled, insecure, mode, policy, n) ON u.n = x.n
	WHERE x.event = 'overwrite' AND h.tag_id = x.id AND h.seq = x.seq;
	INSERT INTO imagestream.history_event (tag_id, seq, created, generation, ref, image)
	SELECT x.id, coalesce(x.seq, 0) + 1, now(), p_generation, x.refid, u.image
	FROM unnest(pos, ids, events, seqs, refids) AS x(n, id, event, seq, refid)
	JOIN unnest(p_imports) WITH ORDINALITY AS u(name, source, ref, image, source_digest, scheduled, insecure, mode, policy, n) ON u.n = x.n
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
		  JOIN unnest(p_imports) WITH ORDINALITY AS u(name, source, ref, image, source_digest, scheduled, insecure, mode, policy, n) ON u.n = d.n) x
	WHERE t.id = x.id
	  AND (x.changed OR t.scheduled <> x.scheduled OR t.insecure <> x.insecure
		   OR t.import_mode <> x.mode OR t.source_digest IS DISTINCT FROM x.source_digest
		   OR t.import_status IS NOT NULL OR (p_clear_requested AND t.import_requested_at IS NOT NULL));

	IF true = ANY (logged) THEN
		-- as _log_change: provisional ids in this order, numbered at commit
		WITH written AS (
			INSERT INTO imagestream.change (at, event, namespace, stream, tag, image, previous_image,
											docker_image_reference, generation, actor, via)
			SELECT now(), 'tag_updated', p_stream.namespace, p_stream.name, u.name, u.image,
				   x.previous, u.ref, p_generation, imagestream._change_actor(),
				   imagestream._import_via(p_stream.id, u.name, u.source)
			FROM unnest(pos, logged, previous) AS x(n, logged, previous)
			JOIN unnest(p_imports) WITH ORDINALITY AS u(name, source, ref, image, source_digest, scheduled, insecure, mode, policy, n) ON u.n = x.n
			WHERE x.logged
			ORDER BY x.n
			RETURNING id)
		SELECT min(id) INTO first_change FROM written;
		PERFORM imagestream._number_at_commit(first_change);
		-- as _add_event: the moved tags' triggers (125_triggers.sql)
		PERFORM imagestream._fire_triggers(ARRAY(
			SELECT t FROM imagestream.tag t
			WHERE t.id IN (SELECT x.id FROM unnest(ids, logged) AS x(id, logged) WHERE x.logged)));
	END IF;
END $$;

-- RECORD_TOGETHER_MIN (src/record_together.h): the worker decides in C.
CREATE OR REPLACE FUNCTION _record_together_min() RETURNS integer
	AS 'MODULE_PATHNAME', 'imagestream_record_together_min' LANGUAGE C IMMUTABLE PARALLEL SAFE;

-- Records the imports of many tags of a locked stream (import_image of all
-- tags): set-based when there are _record_together_min() or more, then the
-- tags _record_imports leaves, one by one.
CREATE OR REPLACE FUNCTION _record_together(p_stream imagestream.stream, p_new_stream boolean,
	p_generation bigint, p_imports imagestream._tag_import[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	one_by_one integer[];
	k integer;
BEGIN
	IF cardinality(p_imports) >= imagestream._record_together_min() THEN
		one_by_one := ARRAY(SELECT imagestream._record_imports(p_stream, p_generation, p_imports));
	ELSE
		one_by_one := ARRAY(SELECT generate_series(1, cardinality(p_imports)));
	END IF;
	FOREACH k IN ARRAY one_by_one LOOP
		PERFORM imagestream._record_import(p_stream, p_new_stream, p_imports[k], p_generation);
	END LOOP;
END $$;

-- A failed import: the history stays; the conditions become one
-- ImportSuccess=False condition unless an identical one is there already.
-- As OpenShift, the condition and the tag's spec carry the next stream
-- generation (the stream moves to it when the tag has a spec), so the tag is
-- no longer pending.  p_generation, when given, is that next generation
-- (shared by the worker's tags of one stream).  Returns false when nothing
-- was written.
CREATE OR REPLACE FUNCTION _record_failure(p_tag_id bigint, p_reason text, p_message text,
	p_generation bigint DEFAULT NULL)
RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
	t imagestream.tag;
	gen bigint := p_generation;
	msg text := coalesce(nullif(p_message, ''), 'unknown error prevented import');
BEGIN
	SELECT * INTO t FROM imagestream.tag WHERE id = p_tag_id FOR UPDATE;
	IF t.import_status = 'False' AND t.import_reason IS NOT DISTINCT FROM p_reason
	   AND t.import_message = msg THEN
		RETURN false;
	END IF;
	IF gen IS NOT NULL AND t.has_spec THEN
		UPDATE imagestream.stream SET generation = gen WHERE id = t.stream_id AND generation < gen;
	ELSIF t.has_spec THEN
		UPDATE imagestream.stream SET generation = generation + 1
			WHERE id = t.stream_id RETURNING generation INTO gen;
	ELSIF gen IS NULL THEN
		SELECT generation + 1 INTO gen FROM imagestream.stream WHERE id = t.stream_id;
	END IF;
	UPDATE imagestream.tag
	SET import_status = 'False', import_reason = p_reason, import_message = msg,
		import_generation = gen, import_transition = now(),
		spec_generation = CASE WHEN has_spec THEN gen END
	WHERE id = p_tag_id;
	PERFORM imagestream._log_change('import_failed', t.namespace, t.stream, t.name,
		NULL, t.image, t.docker_image_reference, gen, p_reason, msg);
	RETURN true;
END $$;

-- Records a failed import: a new tag gets a spec from the source (an
-- existing spec is kept), then the failure condition.
CREATE OR REPLACE FUNCTION _record_import_failure(p_stream imagestream.stream, p_tag text, p_source text,
	p_scheduled boolean, p_insecure boolean, p_mode import_mode, p_policy reference_policy,
	p_reason text, p_message text, p_create_spec boolean, p_generation bigint DEFAULT NULL)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	t imagestream.tag := imagestream._lock_tag(p_stream, p_tag, true);
	spec imagestream.tag;
BEGIN
	IF NOT t.has_spec AND p_create_spec THEN
		UPDATE imagestream.tag
		SET has_spec = true, from_kind = 'DockerImage', from_ref = p_source,
			scheduled = p_scheduled, insecure = p_insecure, import_mode = p_mode,
			reference_policy = p_policy, spec_generation = p_stream.generation
		WHERE id = t.id
		RETURNING * INTO spec;
		PERFORM imagestream._log_policy_change(t, spec, p_stream.generation);
	END IF;
	PERFORM imagestream._record_failure(t.id, p_reason, p_message, p_generation);
END $$;
