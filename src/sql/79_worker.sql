-- The background worker's SQL side (SPEC section 7): waking it, recording
-- what it fetched, import_now, and its status.

CREATE FUNCTION _wake_worker() RETURNS void
	AS 'MODULE_PATHNAME', 'imagestream_wake_worker' LANGUAGE C VOLATILE;

CREATE FUNCTION _worker_preloaded() RETURNS boolean
	AS 'MODULE_PATHNAME', 'imagestream_worker_preloaded' LANGUAGE C VOLATILE;

CREATE FUNCTION _worker_status(OUT pid integer, OUT started_at timestamptz,
	OUT last_cycle_at timestamptz, OUT tags_scheduled bigint, OUT tags_checked bigint,
	OUT imports bigint, OUT failures bigint, OUT requests bigint, OUT bytes_received bigint,
	OUT in_flight integer, OUT next_due_at timestamptz)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'imagestream_worker_status' LANGUAGE C VOLATILE;

CREATE VIEW worker_status AS SELECT * FROM imagestream._worker_status();
COMMENT ON VIEW worker_status IS 'the background worker, one row while it runs; counters since it started';

-- The generation the worker's imports into a stream move it to, the stream
-- locked: its tags recorded in one transaction share it (src/worker.c).
CREATE FUNCTION _worker_stream_generation(p_stream_id bigint) RETURNS bigint
LANGUAGE sql SET search_path = pg_catalog, imagestream, pg_temp AS $$
	SELECT generation + 1 FROM imagestream.stream WHERE id = p_stream_id FOR UPDATE
$$;

-- Records what the worker fetched for a tag (src/worker.c), unless the
-- tag's source changed meanwhile.
CREATE FUNCTION _worker_apply(p_tag_id bigint, p_source text, f _fetched,
	p_generation bigint) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, imagestream, pg_temp AS $$
DECLARE
	t imagestream.tag;
	s imagestream.stream;
	repo imagestream.image_ref := imagestream.ref_name(p_source::imagestream.image_ref)::imagestream.image_ref;
BEGIN
	SELECT * INTO t FROM imagestream.tag WHERE id = p_tag_id;
	IF NOT FOUND OR NOT t.has_spec OR t.from_ref IS DISTINCT FROM p_source THEN
		RETURN;
	END IF;
	SELECT * INTO s FROM imagestream.stream WHERE id = t.stream_id FOR UPDATE;
	t := imagestream._lock_tag(s, t.name);
	IF t.import_requested_at IS NOT NULL THEN
		UPDATE imagestream.tag SET import_requested_at = NULL WHERE id = t.id;
	END IF;
	IF f.status = 'Failure' THEN
		PERFORM imagestream._record_failure(t.id, f.reason, f.message, p_generation);
		RETURN;
	END IF;
	PERFORM imagestream._import_fetched(f, p_source::imagestream.image_ref, true);
	PERFORM imagestream._record_import(s, false, t.name, t.from_ref,
		CASE WHEN f.status = 'Success' THEN imagestream.ref_with_digest(repo, f.image)
			 ELSE t.docker_image_reference END,
		CASE WHEN f.status = 'Success' THEN f.image ELSE t.image END,
		f.source_digest, t.scheduled, t.insecure, t.import_mode, t.reference_policy, p_generation);
END $$;

-- _worker_apply for the tags of one stream at once, set-based (src/worker.c):
-- p_generation is the stream's new generation, locked.  It records the tags
-- whose source served an image (Success or Unchanged) and skips those whose
-- source changed meanwhile, as _worker_apply does; it returns the positions
-- (in the arrays) of the tags it leaves to _worker_apply: failures, and tags
-- that other tags follow (their followers move with them, _add_event).
CREATE FUNCTION _worker_apply_many(p_stream_id bigint, p_tag_ids bigint[], p_sources text[],
	f _fetched[], p_generation bigint) RETURNS SETOF integer
LANGUAGE plpgsql SET search_path = pg_catalog, imagestream, pg_temp AS $$
DECLARE
	alone integer[];			-- positions left to _worker_apply
	here boolean[];				-- per position: recorded here
	fe imagestream._fetched;
	shared imagestream._fetched;	-- the last with manifests: those after it with none share them
	catalogued imagestream.image_digest[] := '{}';
	i integer := 0;
	-- per tag recorded here, in chunk order: what _record_import and
	-- _add_event would do, decided from the locked rows before any write
	ids bigint[];
	events text[];				-- insert, overwrite, none (no new event), NULL (not changed)
	refs imagestream.image_ref[];
	images imagestream.image_digest[];
	sources imagestream.image_digest[];
	seqs bigint[];
	createds timestamptz[];
	previous imagestream.image_digest[];
	logged boolean[];
	base bigint;
	c imagestream.change;
BEGIN
	PERFORM 1 FROM imagestream.tag t WHERE t.id = ANY (p_tag_ids) ORDER BY t.id FOR UPDATE;
	-- (unnest expands each _fetched into its columns: u.status, u.image, ...)
	SELECT coalesce(array_agg(x.pos ORDER BY x.pos) FILTER (WHERE x.tag_id IS NOT NULL AND x.alone), '{}'),
		   array_agg(x.tag_id IS NOT NULL AND NOT x.alone ORDER BY x.pos)
	INTO alone, here
	FROM (SELECT u.ordinality::integer AS pos, t.id AS tag_id,
				 u.status IS DISTINCT FROM 'Success' AND u.status IS DISTINCT FROM 'Unchanged'
				 OR (u.status = 'Unchanged' AND t.docker_image_reference IS NULL)
				 OR t.stream_id <> p_stream_id OR count(*) OVER (PARTITION BY t.id) > 1
				 OR EXISTS (SELECT 1 FROM imagestream.tag x
							WHERE x.stream_id = t.stream_id AND x.has_spec AND x.from_kind = 'ImageStreamTag'
							  AND x.from_ref = format('%s/%s:%s', t.namespace, t.stream, t.name)
							  AND x.id <> t.id) AS alone
		  FROM unnest(p_tag_ids, p_sources, f) WITH ORDINALITY AS u(tag_id, source)
		  LEFT JOIN imagestream.tag t ON t.id = u.tag_id AND t.has_spec AND t.from_ref = u.source) x;
	RETURN QUERY SELECT unnest(alone);
	IF NOT true = ANY (here) THEN
		RETURN;
	END IF;

	-- the catalogue: each fetch once, under the first tag recorded from it
	FOREACH fe IN ARRAY f LOOP
		i := i + 1;
		IF fe.digests IS NOT NULL THEN
			shared := fe;
		END IF;
		IF fe.status = 'Success' AND here[i] AND NOT fe.image = ANY (catalogued)
		   AND shared.image = fe.image THEN
			PERFORM imagestream._import_fetched(shared, p_sources[i]::imagestream.image_ref, true);
			catalogued := catalogued || fe.image;
		END IF;
	END LOOP;

	SELECT array_agg(y.id ORDER BY y.pos),
		   array_agg(CASE WHEN NOT y.changed THEN NULL
						  WHEN y.seq IS NOT NULL AND y.same_ref AND y.same_image
							   AND y.head_generation = p_generation THEN 'none'
						  WHEN y.seq IS NOT NULL AND (y.same_ref OR y.same_image) THEN 'overwrite'
						  ELSE 'insert' END ORDER BY y.pos),
		   array_agg(y.ref ORDER BY y.pos), array_agg(y.image ORDER BY y.pos),
		   array_agg(y.source_digest ORDER BY y.pos), array_agg(y.seq ORDER BY y.pos),
		   array_agg(y.head_created ORDER BY y.pos), array_agg(y.head_image ORDER BY y.pos),
		   array_agg(y.changed AND NOT (y.seq IS NOT NULL AND y.same_ref AND y.same_image) ORDER BY y.pos)
	INTO ids, events, refs, images, sources, seqs, createds, previous, logged
	FROM (SELECT z.*, coalesce(z.head_ref = z.ref, false) AS same_ref,
				 z.head_image IS NOT DISTINCT FROM z.image AS same_image,
				 coalesce(z.history_length = 0 OR z.old_ref <> z.ref
						  OR z.old_image IS DISTINCT FROM z.image
						  OR z.spec_generation > coalesce(z.status_generation, 0), false) AS changed
		  FROM (SELECT u.ordinality AS pos, t.id, t.history_length, t.spec_generation, t.status_generation,
					   t.docker_image_reference AS old_ref, t.image AS old_image,
					   CASE WHEN u.status = 'Success'
							THEN imagestream.ref_with_digest(imagestream.ref_name(u.source::imagestream.image_ref)::imagestream.image_ref,
															 u.image)
							ELSE t.docker_image_reference END AS ref,
					   CASE WHEN u.status = 'Success' THEN u.image ELSE t.image END AS image,
					   u.source_digest, h.seq, h.created AS head_created, h.image AS head_image,
					   h.docker_image_reference AS head_ref, h.generation AS head_generation
				FROM unnest(p_tag_ids, p_sources, f) WITH ORDINALITY AS u(tag_id, source)
				JOIN imagestream.tag t ON t.id = u.tag_id
				LEFT JOIN LATERAL (SELECT * FROM imagestream.history x WHERE x.tag_id = t.id
								   ORDER BY x.seq DESC LIMIT 1) h ON true
				WHERE here[u.ordinality]) z) y;

	IF EXISTS (SELECT 1 FROM unnest(events) e WHERE e IS NOT NULL) THEN
		UPDATE imagestream.stream SET generation = p_generation
		WHERE id = p_stream_id AND generation <> p_generation;
	END IF;
	UPDATE imagestream.history h
	SET docker_image_reference = x.ref, image = x.image, generation = p_generation
	FROM unnest(ids, events, seqs, refs, images) AS x(id, event, seq, ref, image)
	WHERE x.event = 'overwrite' AND h.tag_id = x.id AND h.seq = x.seq;
	INSERT INTO imagestream.history (tag_id, created, docker_image_reference, image, generation)
	SELECT x.id, now(), x.ref, x.image, p_generation
	FROM unnest(ids, events, refs, images) WITH ORDINALITY AS x(id, event, ref, image, n)
	WHERE x.event = 'insert'
	ORDER BY x.n;
	-- one write of each tag: the spec's generation and source digest, the
	-- new head, the conditions cleared, no import requested
	UPDATE imagestream.tag t
	SET import_requested_at = NULL,
		from_kind = CASE WHEN x.event IS NULL THEN t.from_kind ELSE 'DockerImage' END,
		spec_generation = CASE WHEN x.event IS NULL THEN t.spec_generation ELSE p_generation END,
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
		import_transition = CASE x.event WHEN 'none' THEN t.import_transition END
	FROM (SELECT u.*, coalesce(u.event IN ('insert', 'overwrite'), false) AS moves
		  FROM unnest(ids, events, refs, images, sources, createds)
			   AS u(id, event, ref, image, source_digest, created)) x
	WHERE t.id = x.id
	  AND (x.event IS NOT NULL OR t.import_requested_at IS NOT NULL
		   OR t.source_digest IS DISTINCT FROM x.source_digest OR t.import_status IS NOT NULL);

	IF true = ANY (logged) THEN
		-- as _log_change: dense ids in commit order
		LOCK TABLE imagestream.change IN SHARE ROW EXCLUSIVE MODE;
		SELECT coalesce(max(x.id), 0) INTO base FROM imagestream.change x;
		INSERT INTO imagestream.change
			(id, at, event, namespace, stream, tag, image, previous_image, docker_image_reference, generation)
		SELECT base + row_number() OVER (ORDER BY x.n), now(), 'tag_updated', t.namespace, t.stream,
			   t.name, x.image, x.previous, x.ref, p_generation
		FROM unnest(ids, logged, images, previous, refs) WITH ORDINALITY AS x(id, logged, image, previous, ref, n)
		JOIN imagestream.tag t ON t.id = x.id
		WHERE x.logged;
		FOR c IN SELECT * FROM imagestream.change x WHERE x.id > base ORDER BY x.id LOOP
			PERFORM imagestream._notify_change(c);
		END LOOP;
	END IF;
END $$;

-- import_now: the tag, every importable tag of the stream, or (NULL) every
-- scheduled tag the caller may edit is due now; the worker wakes at commit.
CREATE FUNCTION _api_import_now(target text DEFAULT NULL) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
DECLARE
	d record;
	marked integer;
BEGIN
	-- The streams first, in id order, as the worker and every writer lock
	-- them: marking tags row by row otherwise deadlocks with the worker,
	-- which holds a stream's tags while it records a chunk.
	IF target IS NULL THEN
		PERFORM 1 FROM imagestream.stream s
		WHERE EXISTS (SELECT 1 FROM imagestream.tag t WHERE t.stream_id = s.id AND t.has_spec
					  AND t.from_kind = 'DockerImage' AND NOT t.reference AND t.scheduled
					  AND imagestream._can(t.namespace, 'edit'))
		ORDER BY s.id FOR UPDATE;
		UPDATE imagestream.tag t SET import_requested_at = now()
		WHERE t.has_spec AND t.from_kind = 'DockerImage' AND NOT t.reference AND t.scheduled
		  AND imagestream._can(t.namespace, 'edit');
		GET DIAGNOSTICS marked = ROW_COUNT;
	ELSIF strpos(target, ':') > 0 THEN
		d := imagestream._parse_tag(target);
		PERFORM imagestream._require(d.namespace, 'edit');
		PERFORM 1 FROM imagestream.stream s WHERE s.namespace = d.namespace AND s.name = d.stream FOR UPDATE;
		UPDATE imagestream.tag t SET import_requested_at = now()
		WHERE t.namespace = d.namespace AND t.stream = d.stream AND t.name = d.tag
		  AND t.has_spec AND t.from_kind = 'DockerImage' AND NOT t.reference;
		GET DIAGNOSTICS marked = ROW_COUNT;
		IF marked = 0 THEN
			IF NOT EXISTS (SELECT 1 FROM imagestream.tag t WHERE t.namespace = d.namespace
						   AND t.stream = d.stream AND t.name = d.tag) THEN
				RAISE EXCEPTION 'image stream tag "%" does not exist', target
					USING ERRCODE = 'undefined_object';
			END IF;
			RAISE EXCEPTION 'image stream tag "%" is not imported from a registry', target
				USING ERRCODE = 'invalid_parameter_value',
					HINT = 'Only tags from a container image (DockerImage), not references, are imported.';
		END IF;
	ELSE
		d := imagestream._parse_stream(target);
		PERFORM imagestream._require(d.namespace, 'edit');
		PERFORM 1 FROM imagestream.stream s WHERE s.namespace = d.namespace AND s.name = d.name FOR UPDATE;
		IF NOT FOUND THEN
			RAISE EXCEPTION 'image stream "%" does not exist', target USING ERRCODE = 'undefined_object';
		END IF;
		UPDATE imagestream.tag t SET import_requested_at = now()
		WHERE t.namespace = d.namespace AND t.stream = d.name
		  AND t.has_spec AND t.from_kind = 'DockerImage' AND NOT t.reference;
		GET DIAGNOSTICS marked = ROW_COUNT;
	END IF;
	IF marked > 0 THEN
		PERFORM imagestream._wake_worker();
	END IF;
	RETURN marked;
END $$;

CREATE FUNCTION import_now(target text DEFAULT NULL) RETURNS integer
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C;
COMMENT ON FUNCTION import_now(text) IS 'ask the worker to import a tag, a stream''s tags, or every scheduled tag, now (for registry webhooks)';

-- (A WARNING: CREATE EXTENSION hides the NOTICEs of its script.)
DO $$
BEGIN
	IF NOT imagestream._worker_preloaded() THEN
		RAISE WARNING 'the imagestream background worker is not running: scheduled and pending tags are imported only by import_image()'
			USING HINT = 'Add imagestream to shared_preload_libraries and restart the server.';
	END IF;
END $$;
