-- import_image: oc import-image, synchronous: what to import, fetched
-- (140_fetch.sql), catalogued (150) and recorded (160_record_import.sql).

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
