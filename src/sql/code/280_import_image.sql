-- import_image: oc import-image, synchronous.

-- Records a successful import into a tag by OpenShift's importSuccessful:
-- when the pull spec, the image or a pending spec changed, the spec points
-- at the source and the new event carries the next stream generation;
-- otherwise only the import policy is updated.  Conditions are cleared.
-- Writes nothing when nothing changed.  p_generation, when given, is the
-- generation the stream moves to (the worker's tags of one stream share it,
-- as in OpenShift's import of a whole stream).
CREATE OR REPLACE FUNCTION _record_import(p_stream imagestream.stream, p_new_stream boolean, p_tag text,
	p_source text, p_ref image_ref, p_image image_digest, p_source_digest image_digest,
	p_scheduled boolean, p_insecure boolean, p_mode import_mode, p_policy reference_policy,
	p_generation bigint DEFAULT NULL)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	t imagestream.tag := imagestream._lock_tag(p_stream, p_tag, true);
	gen bigint := coalesce(p_generation, CASE WHEN p_new_stream THEN p_stream.generation
											  ELSE p_stream.generation + 1 END);
	changed boolean;
BEGIN
	changed := t.history_length = 0 OR t.docker_image_reference <> p_ref
		OR t.image IS DISTINCT FROM p_image OR NOT t.has_spec
		OR t.spec_generation > coalesce(t.status_generation, 0);
	IF changed THEN
		UPDATE imagestream.stream SET generation = gen WHERE id = p_stream.id AND generation <> gen;
		UPDATE imagestream.tag
		SET has_spec = true, from_kind = 'DockerImage', from_ref = p_source,
			scheduled = p_scheduled, insecure = p_insecure, import_mode = p_mode,
			reference_policy = CASE WHEN has_spec THEN reference_policy ELSE p_policy END,
			spec_generation = gen, source_digest = p_source_digest
		WHERE id = t.id;
		PERFORM imagestream._add_event(t.id, p_ref, p_image, gen);
		RETURN;
	END IF;
	IF t.scheduled <> p_scheduled OR t.insecure <> p_insecure OR t.import_mode <> p_mode THEN
		UPDATE imagestream.stream SET generation = gen WHERE id = p_stream.id AND generation <> gen;
		UPDATE imagestream.tag SET scheduled = p_scheduled, insecure = p_insecure, import_mode = p_mode
		WHERE id = t.id;
	END IF;
	IF t.source_digest IS DISTINCT FROM p_source_digest THEN
		UPDATE imagestream.tag SET source_digest = p_source_digest WHERE id = t.id;
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

-- Records a failed import: a new tag gets a spec from the source (an
-- existing spec is kept), then the failure condition.
CREATE OR REPLACE FUNCTION _record_import_failure(p_stream imagestream.stream, p_tag text, p_source text,
	p_scheduled boolean, p_insecure boolean, p_mode import_mode, p_policy reference_policy,
	p_reason text, p_message text, p_create_spec boolean, p_generation bigint DEFAULT NULL)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	t imagestream.tag := imagestream._lock_tag(p_stream, p_tag, true);
BEGIN
	IF NOT t.has_spec AND p_create_spec THEN
		UPDATE imagestream.tag
		SET has_spec = true, from_kind = 'DockerImage', from_ref = p_source,
			scheduled = p_scheduled, insecure = p_insecure, import_mode = p_mode,
			reference_policy = p_policy, spec_generation = p_stream.generation
		WHERE id = t.id;
	END IF;
	PERFORM imagestream._record_failure(t.id, p_reason, p_message, p_generation);
END $$;

-- The tag an import of "tag" targets: itself, or the end of its chain of
-- same-stream aliases (oc's FollowTagReference).
CREATE OR REPLACE FUNCTION _import_target(p_stream imagestream.stream, p_tag text) RETURNS imagestream.tag
LANGUAGE plpgsql STABLE AS $$
DECLARE
	t imagestream.tag;
	seen text[] := '{}';
	prefix text := format('%s/%s:', p_stream.namespace, p_stream.name);
BEGIN
	LOOP
		SELECT * INTO t FROM imagestream.tag WHERE stream_id = p_stream.id AND name = p_tag AND has_spec;
		IF NOT FOUND OR t.from_kind <> 'ImageStreamTag' THEN
			RETURN t;
		END IF;
		IF p_tag = ANY (seen) THEN
			RAISE EXCEPTION 'tag "%" is part of a cycle of aliases', p_tag
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		seen := seen || p_tag;
		p_tag := substr(t.from_ref, length(prefix) + 1);
	END LOOP;
END $$;

-- How one tag of an import is imported: its row (if any), and the options
-- in effect.  Re-importing never turns scheduled or insecure off; known is
-- what the source served last, when the tag follows that source still.
CREATE OR REPLACE FUNCTION _import_options(p_stream_id bigint, p_job jsonb, p_scheduled boolean,
	p_insecure boolean, p_mode import_mode, p_policy reference_policy,
	OUT t imagestream.tag, OUT sched boolean, OUT insecure boolean, OUT mode import_mode,
	OUT policy reference_policy, OUT known image_digest)
LANGUAGE plpgsql STABLE AS $$
BEGIN
	SELECT * INTO t FROM imagestream.tag x WHERE x.stream_id = p_stream_id AND x.name = p_job->>'tag';
	sched := coalesce(p_scheduled, false) OR coalesce(t.scheduled, false);
	insecure := coalesce(p_insecure, false) OR coalesce(t.insecure, false);
	mode := coalesce(p_mode, t.import_mode, 'Legacy');
	policy := coalesce(p_policy, CASE WHEN t.has_spec THEN t.reference_policy END, 'Source');
	known := CASE WHEN t.from_ref = p_job->>'source' AND t.image IS NOT NULL
					   AND t.spec_generation <= coalesce(t.status_generation, 0)
				  THEN t.source_digest END;
END $$;

CREATE OR REPLACE FUNCTION _api_import_image(destination text, from_image text DEFAULT NULL,
	all_tags boolean DEFAULT false, scheduled boolean DEFAULT NULL,
	insecure boolean DEFAULT NULL, reference_policy reference_policy DEFAULT NULL,
	import_mode import_mode DEFAULT NULL, dry_run boolean DEFAULT false)
RETURNS TABLE(tag text, status text, image image_digest, docker_image_reference image_ref,
	reason text, message text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
#variable_conflict use_variable
DECLARE
	d record;
	v_ns text;
	v_stream text;
	v_tag text;
	s imagestream.stream;
	new_stream boolean;
	t imagestream.tag;
	source imagestream.image_ref;
	repo imagestream.image_ref;
	jobs jsonb := '[]';			-- [{tag, source}] in import order
	job jsonb;
	r record;
	listed record;
	names text[];
	limit_n integer := current_setting('imagestream.max_bulk_import')::integer;
	v_sched boolean;
	v_insecure boolean;
	v_mode imagestream.import_mode;
	v_policy imagestream.reference_policy;
	pull imagestream.image_ref;
	i integer := 0;
	o record;
	srcs imagestream.image_ref[] := '{}';
	insecures boolean[] := '{}';
	preserves boolean[] := '{}';
	knowns imagestream.image_digest[] := '{}';
	oses text[] := '{}';
	arches text[] := '{}';
	fetched imagestream._fetched[];
	one imagestream._fetched;			-- what was fetched for the current tag
	gen bigint;					-- of this import, shared by its tags (OpenShift's nextGeneration)
	-- all tags: the imports recorded together at the end (_record_imports)
	together text[] := '{}';
	together_sources text[] := '{}';
	together_refs imagestream.image_ref[] := '{}';
	together_images imagestream.image_digest[] := '{}';
	together_digests imagestream.image_digest[] := '{}';
	together_scheduled boolean[] := '{}';
	together_insecure boolean[] := '{}';
	together_modes imagestream.import_mode[] := '{}';
	together_policies imagestream.reference_policy[] := '{}';
	catalogued text[] := '{}';
	one_by_one integer[];
	k integer;
BEGIN
	IF coalesce(all_tags, false) THEN
		IF strpos(destination, ':') > 0 THEN
			RAISE EXCEPTION 'cannot import a tag "%" and all tags at once', destination
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		d := imagestream._parse_stream(destination);
		v_ns := d.namespace;
		v_stream := d.name;
	ELSE
		d := imagestream._parse_tag(destination);
		v_ns := d.namespace;
		v_stream := d.stream;
		v_tag := d.tag;
	END IF;
	PERFORM imagestream._require(v_ns, 'edit');
	IF from_image IS NOT NULL THEN
		source := from_image::imagestream.image_ref;
	END IF;
	new_stream := NOT EXISTS (SELECT 1 FROM imagestream.stream x
							  WHERE x.namespace = v_ns AND x.name = v_stream);
	IF new_stream AND source IS NULL THEN
		RAISE EXCEPTION 'image stream "%/%" does not exist', v_ns, v_stream
			USING ERRCODE = 'undefined_object', HINT = 'Give from_image to create it.';
	END IF;
	-- no lock yet: the registry is asked before anything is locked
	SELECT * INTO s FROM imagestream.stream x WHERE x.namespace = v_ns AND x.name = v_stream;

	-- what to import: (tag, source) pairs
	IF NOT coalesce(all_tags, false) THEN
		t := imagestream._import_target(s, v_tag);
		IF source IS NULL THEN
			IF t.id IS NULL THEN
				RAISE EXCEPTION 'image stream tag "%" does not exist', destination
					USING ERRCODE = 'undefined_object', HINT = 'Give from_image to import it.';
			ELSIF t.from_kind <> 'DockerImage' THEN
				RAISE EXCEPTION 'tag "%" points to %, which cannot be imported', t.name, t.from_ref
					USING ERRCODE = 'invalid_parameter_value';
			END IF;
			jobs := jsonb_build_array(jsonb_build_object('tag', t.name, 'source', t.from_ref));
		ELSE
			jobs := jsonb_build_array(jsonb_build_object('tag', coalesce(t.name, v_tag), 'source', source::text));
		END IF;
	ELSIF source IS NOT NULL THEN
		IF imagestream.ref_tag(source) IS NOT NULL OR imagestream.ref_digest(source) IS NOT NULL THEN
			RAISE EXCEPTION 'from_image must name a repository, not a tag or digest, to import all tags'
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		repo := source;
		listed := imagestream._registry_tags(repo, coalesce(insecure, false));
		IF listed.status <> 'ok' THEN
			RETURN QUERY SELECT NULL::text, 'Failure', NULL::imagestream.image_digest,
				NULL::imagestream.image_ref, listed.reason, listed.message;
			RETURN;
		END IF;
		SELECT imagestream._prioritize_tags(array_agg(DISTINCT x)) INTO names
		FROM unnest(listed.tags) AS x;
		SELECT coalesce(jsonb_agg(jsonb_build_object('tag', n,
			'source', imagestream.ref_with_tag(repo, n)::text) ORDER BY o), '[]')
		INTO jobs FROM unnest(names) WITH ORDINALITY AS u(n, o);
	ELSE
		SELECT coalesce(jsonb_agg(jsonb_build_object('tag', x.name, 'source', x.from_ref)
			ORDER BY x.name), '[]')
		INTO jobs FROM imagestream.tag x
		WHERE x.stream_id = s.id AND x.has_spec AND x.from_kind = 'DockerImage' AND NOT x.reference;
	END IF;

	-- all tags: every source is fetched first, together (src/fetch_many.c)
	IF coalesce(all_tags, false) THEN
		FOR job IN SELECT value FROM jsonb_array_elements(jobs) LOOP
			EXIT WHEN limit_n >= 0 AND cardinality(srcs) >= limit_n;
			o := imagestream._import_options(s.id, job, scheduled, insecure, import_mode, reference_policy);
			srcs := srcs || (job->>'source')::imagestream.image_ref;
			insecures := insecures || o.insecure;
			preserves := preserves || (o.mode = 'PreserveOriginal');
			knowns := knowns || o.known;
			oses := oses || ((o.t).annotations->>'importer.image.openshift.io/prefer-os');
			arches := arches || ((o.t).annotations->>'importer.image.openshift.io/prefer-arch');
		END LOOP;
		fetched := ARRAY(SELECT f FROM imagestream._fetch_sources(srcs, insecures, preserves,
															 knowns, oses, arches) f);
	END IF;

	FOR job IN SELECT value FROM jsonb_array_elements(jobs) LOOP
		i := i + 1;
		IF coalesce(all_tags, false) AND limit_n >= 0 AND i > limit_n THEN
			RETURN QUERY SELECT job->>'tag', 'Skipped', NULL::imagestream.image_digest,
				NULL::imagestream.image_ref, NULL::text,
				format('Over imagestream.max_bulk_import (%s).', limit_n);
			CONTINUE;
		END IF;
		o := imagestream._import_options(s.id, job, scheduled, insecure, import_mode, reference_policy);
		t := o.t;
		v_sched := o.sched;
		v_insecure := o.insecure;
		v_mode := o.mode;
		v_policy := o.policy;
		one := CASE WHEN coalesce(all_tags, false) THEN fetched[i]
				  ELSE imagestream._fetch_source((job->>'source')::imagestream.image_ref, v_insecure,
					v_mode = 'PreserveOriginal', o.known,
					t.annotations->>'importer.image.openshift.io/prefer-os',
					t.annotations->>'importer.image.openshift.io/prefer-arch') END;
		-- catalogued below, once the stream is locked (see prune)
		r := imagestream._import_fetched(one, (job->>'source')::imagestream.image_ref, false);
		IF r.status = 'Unchanged' THEN
			r.image := t.image;
		END IF;
		pull := CASE WHEN r.image IS NOT NULL THEN imagestream.ref_with_digest(
			imagestream.ref_name((job->>'source')::imagestream.image_ref)::imagestream.image_ref, r.image) END;
		IF NOT coalesce(dry_run, false) AND r.status = 'Unchanged' AND t.import_status IS NULL
		   AND t.scheduled = v_sched AND t.insecure = v_insecure AND t.import_mode = v_mode
		   AND t.source_digest = r.source_digest THEN
			NULL;				-- nothing changed: nothing is written, not even a row lock
		ELSIF NOT coalesce(dry_run, false) THEN
			IF gen IS NULL THEN
				new_stream := s.id IS NULL;
				s := imagestream._lock_stream(v_ns, v_stream, true);
				gen := CASE WHEN new_stream THEN s.generation ELSE s.generation + 1 END;
			END IF;
			-- (what one source digest served is catalogued once)
			IF r.status = 'Success' AND NOT (r.source_digest::text || r.image::text) = ANY (catalogued) THEN
				PERFORM imagestream._import_fetched(one, (job->>'source')::imagestream.image_ref, true);
				PERFORM imagestream._hold_children(s.id, one);
				catalogued := array_append(catalogued, r.source_digest::text || r.image::text);
			END IF;
			IF r.status = 'Failure' THEN
				PERFORM imagestream._record_import_failure(s, job->>'tag', job->>'source', v_sched,
					v_insecure, v_mode, v_policy, r.reason, r.message, NOT coalesce(all_tags, false), gen);
			ELSIF (r.status = 'Success' OR r.status = 'Unchanged') AND coalesce(all_tags, false) THEN
				together := array_append(together, job->>'tag');
				together_sources := array_append(together_sources, job->>'source');
				together_refs := array_append(together_refs, pull);
				together_images := array_append(together_images, r.image);
				together_digests := array_append(together_digests, r.source_digest);
				together_scheduled := array_append(together_scheduled, v_sched);
				together_insecure := array_append(together_insecure, v_insecure);
				together_modes := array_append(together_modes, v_mode);
				together_policies := array_append(together_policies, v_policy);
			ELSIF r.status = 'Success' OR r.status = 'Unchanged' THEN
				PERFORM imagestream._record_import(s, new_stream, job->>'tag', job->>'source', pull,
					r.image, r.source_digest, v_sched, v_insecure, v_mode, v_policy, gen);
			END IF;
		END IF;
		RETURN QUERY SELECT job->>'tag', CASE WHEN r.status = 'Failure' THEN 'Failure' ELSE 'Success' END,
			r.image, pull, r.reason, r.message;
	END LOOP;
	-- the tags _record_imports leaves; all of them when there are few (it
	-- costs about 2 ms a call, one at a time about 0.3 ms a tag; as src/worker.c)
	one_by_one := CASE WHEN cardinality(together) >= 16
		THEN ARRAY(SELECT imagestream._record_imports(s, gen, together, together_sources,
				together_refs, together_images, together_digests, together_scheduled,
				together_insecure, together_modes, together_policies))
		ELSE ARRAY(SELECT generate_series(1, cardinality(together))) END;
	FOREACH k IN ARRAY one_by_one LOOP
		PERFORM imagestream._record_import(s, new_stream, together[k], together_sources[k],
			together_refs[k], together_images[k], together_digests[k], together_scheduled[k],
			together_insecure[k], together_modes[k], together_policies[k], gen);
	END LOOP;
END $$;

CREATE OR REPLACE FUNCTION import_image(destination text, from_image text DEFAULT NULL,
	all_tags boolean DEFAULT false, scheduled boolean DEFAULT NULL,
	insecure boolean DEFAULT NULL, reference_policy reference_policy DEFAULT NULL,
	import_mode import_mode DEFAULT NULL, dry_run boolean DEFAULT false)
RETURNS TABLE(tag text, status text, image image_digest, docker_image_reference image_ref,
	reason text, message text)
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C;
COMMENT ON FUNCTION import_image(text, text, boolean, boolean, boolean, reference_policy, import_mode, boolean)
	IS 'oc import-image: import a tag, or every tag of a repository, from its registry now';
