-- Recording what the background worker fetched (src/worker_record.c), a stream's
-- tags in one transaction: one new generation for them, then the tags
-- together (set-based) or one by one.

-- The generation the worker's imports into a stream move it to, the stream
-- locked: its tags recorded in one transaction share it (src/worker.c).
CREATE OR REPLACE FUNCTION _worker_stream_generation(p_stream_id bigint) RETURNS bigint
LANGUAGE sql SET search_path = pg_catalog, imagestream, pg_temp AS $$
	SELECT generation + 1 FROM imagestream.stream WHERE id = p_stream_id FOR UPDATE
$$;

-- Records what the worker fetched for a tag (src/worker.c), unless the
-- tag's source changed meanwhile.
CREATE OR REPLACE FUNCTION _worker_apply(p_tag_id bigint, p_source text, f _fetched,
	p_generation bigint) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, imagestream, pg_temp AS $$
DECLARE
	t imagestream.tag;
	s imagestream.stream;
	repo imagestream.image_ref;
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
	-- (only now: a failure is recorded even for a source stored before 0.3.0
	-- refused it, which no longer parses)
	repo := imagestream.ref_name(p_source::imagestream.image_ref)::imagestream.image_ref;
	PERFORM imagestream._import_fetched(f, p_source::imagestream.image_ref, true);
	PERFORM imagestream._hold_children(s.id, f);
	PERFORM imagestream._record_import(s, false,
		ROW(t.name, t.from_ref,
			CASE WHEN f.status = 'Success' THEN imagestream.ref_with_digest(repo, f.image)
				 ELSE t.docker_image_reference END,
			CASE WHEN f.status = 'Success' THEN f.image ELSE t.image END,
			f.source_digest, t.scheduled, t.insecure, t.import_mode, t.reference_policy)::imagestream._tag_import,
		p_generation);
END $$;

-- _worker_apply for the tags of one stream at once, set-based (src/worker.c):
-- p_generation is the stream's new generation, locked.  It records the tags
-- whose source served an image (Success or Unchanged) with _record_imports
-- and skips those whose source changed meanwhile, as _worker_apply does; it
-- returns the positions (in the arrays) of the tags it leaves to
-- _worker_apply: failures, and those _record_imports leaves.
CREATE OR REPLACE FUNCTION _worker_apply_many(p_stream_id bigint, p_tag_ids bigint[], p_sources text[],
	f _fetched[], p_generation bigint) RETURNS SETOF integer
LANGUAGE plpgsql SET search_path = pg_catalog, imagestream, pg_temp AS $$
DECLARE
	s imagestream.stream;
	alone integer[];			-- positions left to _worker_apply
	here boolean[];				-- per position: recorded here
	fe imagestream._fetched;
	shared imagestream._fetched;	-- the last with manifests: those after it with none share them
	catalogued text[] := '{}';		-- of each fetch catalogued: source digest, image, signatures looked up
	i integer := 0;
	-- the tags recorded here, and their positions in the arrays given
	pos integer[];
	imports imagestream._tag_import[];
BEGIN
	SELECT * INTO s FROM imagestream.stream WHERE id = p_stream_id;
	PERFORM 1 FROM imagestream.tag t WHERE t.id = ANY (p_tag_ids) ORDER BY t.id FOR UPDATE;
	-- (unnest expands each _fetched into its columns: u.status, u.image, ...)
	SELECT coalesce(array_agg(x.pos ORDER BY x.pos) FILTER (WHERE x.tag_id IS NOT NULL AND x.alone), '{}'),
		   array_agg(x.tag_id IS NOT NULL AND NOT x.alone ORDER BY x.pos)
	INTO alone, here
	FROM (SELECT u.ordinality::integer AS pos, t.id AS tag_id,
				 u.status IS DISTINCT FROM 'Success' AND u.status IS DISTINCT FROM 'Unchanged'
				 OR (u.status = 'Unchanged' AND t.docker_image_reference IS NULL)
				 OR t.stream_id <> p_stream_id AS alone
		  FROM unnest(p_tag_ids, p_sources, f) WITH ORDINALITY AS u(tag_id, source)
		  LEFT JOIN imagestream.tag t ON t.id = u.tag_id AND t.has_spec AND t.from_ref = u.source) x;
	RETURN QUERY SELECT unnest(alone);
	IF NOT true = ANY (here) THEN
		RETURN;
	END IF;

	-- the catalogue: each fetch once, under the first tag recorded from it
	-- (one that looked up signatures besides one of the same image that did not)
	FOREACH fe IN ARRAY f LOOP
		i := i + 1;
		IF fe.digests IS NOT NULL THEN
			shared := fe;
		END IF;
		IF fe.status = 'Success' AND here[i] AND shared.image = fe.image
		   AND NOT (fe.source_digest::text || fe.image::text
					|| (shared.signature_payloads IS NOT NULL)::text) = ANY (catalogued) THEN
			PERFORM imagestream._import_fetched(shared, p_sources[i]::imagestream.image_ref, true);
			PERFORM imagestream._hold_children(p_stream_id, shared);
			catalogued := catalogued || (fe.source_digest::text || fe.image::text
										 || (shared.signature_payloads IS NOT NULL)::text);
		END IF;
	END LOOP;

	-- each tag with its own options; Unchanged keeps the tag's pull spec
	SELECT array_agg(u.ordinality ORDER BY u.ordinality),
		   array_agg(ROW(t.name, t.from_ref,
						 CASE WHEN u.status = 'Success'
							  THEN imagestream.ref_with_digest(imagestream.ref_name(t.from_ref::imagestream.image_ref)::imagestream.image_ref,
															   u.image)
							  ELSE t.docker_image_reference END,
						 CASE WHEN u.status = 'Success' THEN u.image ELSE t.image END,
						 u.source_digest, t.scheduled, t.insecure, t.import_mode,
						 t.reference_policy)::imagestream._tag_import ORDER BY u.ordinality)
	INTO pos, imports
	FROM unnest(p_tag_ids, f) WITH ORDINALITY AS u(tag_id)
	JOIN imagestream.tag t ON t.id = u.tag_id
	WHERE here[u.ordinality];
	RETURN QUERY
		SELECT pos[k] FROM imagestream._record_imports(s, p_generation, imports, true) AS k;
END $$;
