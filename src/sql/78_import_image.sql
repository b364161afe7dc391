-- import_image: oc import-image, synchronous.

-- Records a successful import into a tag by OpenShift's importSuccessful:
-- when the pull spec, the image or a pending spec changed, the spec points
-- at the source and the new event carries the next stream generation;
-- otherwise only the import policy is updated.  Conditions are cleared.
-- Writes nothing when nothing changed.  p_generation, when given, is the
-- generation the stream moves to (the worker's tags of one stream share it,
-- as in OpenShift's import of a whole stream).
CREATE FUNCTION _record_import(p_stream imagestream.stream, p_new_stream boolean, p_tag text,
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

-- Records a failed import: a new tag gets a spec from the source (an
-- existing spec is kept), then the failure condition.
CREATE FUNCTION _record_import_failure(p_stream imagestream.stream, p_tag text, p_source text,
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
CREATE FUNCTION _import_target(p_stream imagestream.stream, p_tag text) RETURNS imagestream.tag
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
CREATE FUNCTION _import_options(p_stream_id bigint, p_job jsonb, p_scheduled boolean,
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

CREATE FUNCTION _api_import_image(destination text, from_image text DEFAULT NULL,
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
		listed := imagestream._registry_tag_pages(repo, coalesce(insecure, false));
		IF listed.status <> 'ok' THEN
			RETURN QUERY SELECT NULL::text, 'Failure', NULL::imagestream.image_digest,
				NULL::imagestream.image_ref, listed.reason, listed.message;
			RETURN;
		END IF;
		SELECT imagestream._prioritize_tags(array_agg(DISTINCT x)) INTO names
		FROM unnest(listed.pages) AS p,
			 jsonb_array_elements_text(CASE WHEN jsonb_typeof(p::jsonb->'tags') = 'array'
											THEN p::jsonb->'tags' ELSE '[]' END) AS x;
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
			PERFORM imagestream._import_fetched(one, (job->>'source')::imagestream.image_ref, true);
			IF r.status = 'Failure' THEN
				PERFORM imagestream._record_import_failure(s, job->>'tag', job->>'source', v_sched,
					v_insecure, v_mode, v_policy, r.reason, r.message, NOT coalesce(all_tags, false), gen);
			ELSIF r.status = 'Success' OR r.status = 'Unchanged' THEN
				PERFORM imagestream._record_import(s, new_stream, job->>'tag', job->>'source', pull,
					r.image, r.source_digest, v_sched, v_insecure, v_mode, v_policy, gen);
			END IF;
		END IF;
		RETURN QUERY SELECT job->>'tag', CASE WHEN r.status = 'Failure' THEN 'Failure' ELSE 'Success' END,
			r.image, pull, r.reason, r.message;
	END LOOP;
END $$;

CREATE FUNCTION import_image(destination text, from_image text DEFAULT NULL,
	all_tags boolean DEFAULT false, scheduled boolean DEFAULT NULL,
	insecure boolean DEFAULT NULL, reference_policy reference_policy DEFAULT NULL,
	import_mode import_mode DEFAULT NULL, dry_run boolean DEFAULT false)
RETURNS TABLE(tag text, status text, image image_digest, docker_image_reference image_ref,
	reason text, message text)
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C;
COMMENT ON FUNCTION import_image(text, text, boolean, boolean, boolean, reference_policy, import_mode, boolean)
	IS 'oc import-image: import a tag, or every tag of a repository, from its registry now';
