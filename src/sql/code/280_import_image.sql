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

-- The stream and tag an import writes into: "ns/stream:tag", or "ns/stream"
-- when it imports all tags.
CREATE OR REPLACE FUNCTION _import_destination(p_destination text, p_all_tags boolean,
	OUT namespace text, OUT stream text, OUT tag text)
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
	d record;
BEGIN
	IF p_all_tags THEN
		IF strpos(p_destination, ':') > 0 THEN
			RAISE EXCEPTION 'cannot import a tag "%" and all tags at once', p_destination
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		d := imagestream._parse_stream(p_destination);
		namespace := d.namespace;
		stream := d.name;
	ELSE
		d := imagestream._parse_tag(p_destination);
		namespace := d.namespace;
		stream := d.stream;
		tag := d.tag;
	END IF;
END $$;

-- What an import imports, as [{tag, source}] in import order: one tag (the
-- end of its alias chain) from from_image or its own source; every tag of
-- from_image's repository, in the order OpenShift imports them; or every
-- importable tag of the stream (p_stream, NULL when it does not exist yet).
-- A tag list the registry refused gives no jobs and its reason and message.
-- The registry is asked with the credentials of p_namespace.
CREATE OR REPLACE FUNCTION _import_jobs(p_stream imagestream.stream, p_destination text,
	p_tag text, p_source image_ref, p_all_tags boolean, p_insecure boolean, p_namespace text,
	OUT jobs jsonb, OUT reason text, OUT message text)
LANGUAGE plpgsql AS $$
DECLARE
	t imagestream.tag;
	listed record;
BEGIN
	IF NOT p_all_tags THEN
		t := imagestream._import_target(p_stream, p_tag);
		IF p_source IS NOT NULL THEN
			jobs := jsonb_build_array(jsonb_build_object('tag', coalesce(t.name, p_tag), 'source', p_source::text));
		ELSIF t.id IS NULL THEN
			RAISE EXCEPTION 'image stream tag "%" does not exist', p_destination
				USING ERRCODE = 'undefined_object', HINT = 'Give from_image to import it.';
		ELSIF t.from_kind <> 'DockerImage' THEN
			RAISE EXCEPTION 'tag "%" points to %, which cannot be imported', t.name, t.from_ref
				USING ERRCODE = 'invalid_parameter_value';
		ELSE
			jobs := jsonb_build_array(jsonb_build_object('tag', t.name, 'source', t.from_ref));
		END IF;
	ELSIF p_source IS NOT NULL THEN
		IF imagestream.ref_tag(p_source) IS NOT NULL OR imagestream.ref_digest(p_source) IS NOT NULL THEN
			RAISE EXCEPTION 'from_image must name a repository, not a tag or digest, to import all tags'
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		listed := imagestream._registry_tags(p_source, coalesce(p_insecure, false), p_namespace);
		IF listed.status <> 'ok' THEN
			reason := listed.reason;
			message := listed.message;
			RETURN;
		END IF;
		SELECT coalesce(jsonb_agg(jsonb_build_object('tag', u.n,
			'source', imagestream.ref_with_tag(p_source, u.n)::text) ORDER BY u.o), '[]')
		INTO jobs
		FROM unnest(imagestream._prioritize_tags(ARRAY(SELECT DISTINCT x FROM unnest(listed.tags) AS x)))
			 WITH ORDINALITY AS u(n, o);
	ELSE
		SELECT coalesce(jsonb_agg(jsonb_build_object('tag', x.name, 'source', x.from_ref)
			ORDER BY x.name), '[]')
		INTO jobs FROM imagestream.tag x
		WHERE x.stream_id = p_stream.id AND imagestream._importable(x);
	END IF;
END $$;

-- All tags: the first p_limit jobs' sources fetched together
-- (src/fetch_many.c), each with its tag's options, in the jobs' order, with
-- the credentials of p_namespace.
CREATE OR REPLACE FUNCTION _import_fetch_all(p_namespace text, p_stream_id bigint, p_jobs jsonb,
	p_limit integer, p_scheduled boolean, p_insecure boolean, p_mode import_mode,
	p_policy reference_policy)
RETURNS imagestream._fetched[] LANGUAGE plpgsql AS $$
DECLARE
	job jsonb;
	o record;
	srcs imagestream.image_ref[] := '{}';
	insecures boolean[] := '{}';
	preserves boolean[] := '{}';
	knowns imagestream.image_digest[] := '{}';
	oses text[] := '{}';
	arches text[] := '{}';
BEGIN
	FOR job IN SELECT value FROM jsonb_array_elements(p_jobs) LOOP
		EXIT WHEN p_limit >= 0 AND cardinality(srcs) >= p_limit;
		o := imagestream._import_options(p_stream_id, job, p_scheduled, p_insecure, p_mode, p_policy);
		srcs := srcs || (job->>'source')::imagestream.image_ref;
		insecures := insecures || o.insecure;
		preserves := preserves || (o.mode = 'PreserveOriginal');
		knowns := knowns || o.known;
		oses := oses || ((o.t).annotations->>'importer.image.openshift.io/prefer-os');
		arches := arches || ((o.t).annotations->>'importer.image.openshift.io/prefer-arch');
	END LOOP;
	RETURN ARRAY(SELECT f FROM imagestream._fetch_sources(srcs, insecures, preserves,
														 knowns, oses, arches, p_namespace) f);
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
	v_all boolean := coalesce(all_tags, false);
	d record := imagestream._import_destination(destination, v_all);
	s imagestream.stream;
	new_stream boolean;
	source imagestream.image_ref;
	planned record;				-- _import_jobs: [{tag, source}] in import order
	job jsonb;
	limit_n integer := current_setting('imagestream.max_bulk_import')::integer;
	i integer := 0;
	o record;					-- _import_options: the tag's row and options
	fetched imagestream._fetched[];	-- all tags: what was fetched, in the jobs' order
	one imagestream._fetched;	-- what was fetched for the current tag
	r record;					-- _import_fetched: what it says
	pull imagestream.image_ref;
	imported imagestream._tag_import;
	gen bigint;					-- of this import, shared by its tags (OpenShift's nextGeneration)
	together imagestream._tag_import[] := '{}';	-- all tags: recorded together at the end
	catalogued text[] := '{}';
BEGIN
	PERFORM imagestream._require(d.namespace, 'edit');
	IF from_image IS NOT NULL THEN
		source := from_image::imagestream.image_ref;
	END IF;
	new_stream := NOT EXISTS (SELECT 1 FROM imagestream.stream x
							  WHERE x.namespace = d.namespace AND x.name = d.stream);
	IF new_stream AND source IS NULL THEN
		RAISE EXCEPTION 'image stream "%/%" does not exist', d.namespace, d.stream
			USING ERRCODE = 'undefined_object', HINT = 'Give from_image to create it.';
	END IF;
	-- no lock yet: the registry is asked before anything is locked
	SELECT * INTO s FROM imagestream.stream x WHERE x.namespace = d.namespace AND x.name = d.stream;
	planned := imagestream._import_jobs(s, destination, d.tag, source, v_all, insecure, d.namespace);
	IF planned.jobs IS NULL THEN
		RETURN QUERY SELECT NULL::text, 'Failure', NULL::imagestream.image_digest,
			NULL::imagestream.image_ref, planned.reason, planned.message;
		RETURN;
	END IF;
	IF v_all THEN
		fetched := imagestream._import_fetch_all(d.namespace, s.id, planned.jobs, limit_n, scheduled,
												 insecure, import_mode, reference_policy);
	END IF;

	FOR job IN SELECT value FROM jsonb_array_elements(planned.jobs) LOOP
		i := i + 1;
		IF v_all AND limit_n >= 0 AND i > limit_n THEN
			RETURN QUERY SELECT job->>'tag', 'Skipped', NULL::imagestream.image_digest,
				NULL::imagestream.image_ref, NULL::text,
				format('Over imagestream.max_bulk_import (%s).', limit_n);
			CONTINUE;
		END IF;
		o := imagestream._import_options(s.id, job, scheduled, insecure, import_mode, reference_policy);
		one := CASE WHEN v_all THEN fetched[i]
				  ELSE imagestream._fetch_source((job->>'source')::imagestream.image_ref, o.insecure,
					o.mode = 'PreserveOriginal', o.known,
					(o.t).annotations->>'importer.image.openshift.io/prefer-os',
					(o.t).annotations->>'importer.image.openshift.io/prefer-arch', d.namespace) END;
		-- catalogued below, once the stream is locked (see prune)
		r := imagestream._import_fetched(one, (job->>'source')::imagestream.image_ref, false);
		IF r.status = 'Unchanged' THEN
			r.image := (o.t).image;
		END IF;
		pull := CASE WHEN r.image IS NOT NULL THEN imagestream.ref_with_digest(
			imagestream.ref_name((job->>'source')::imagestream.image_ref)::imagestream.image_ref, r.image) END;
		IF NOT coalesce(dry_run, false) AND r.status = 'Unchanged' AND (o.t).import_status IS NULL
		   AND (o.t).scheduled = o.sched AND (o.t).insecure = o.insecure
		   AND (o.t).import_mode = o.mode AND (o.t).source_digest = r.source_digest THEN
			NULL;				-- nothing changed: nothing is written, not even a row lock
		ELSIF NOT coalesce(dry_run, false) THEN
			IF gen IS NULL THEN
				new_stream := s.id IS NULL;
				s := imagestream._lock_stream(d.namespace, d.stream, true);
				gen := CASE WHEN new_stream THEN s.generation ELSE s.generation + 1 END;
			END IF;
			-- (what one source digest served is catalogued once)
			IF r.status = 'Success' AND NOT (r.source_digest::text || r.image::text) = ANY (catalogued) THEN
				PERFORM imagestream._import_fetched(one, (job->>'source')::imagestream.image_ref, true);
				PERFORM imagestream._hold_children(s.id, one);
				catalogued := array_append(catalogued, r.source_digest::text || r.image::text);
			END IF;
			imported := ROW(job->>'tag', job->>'source', pull, r.image, r.source_digest, o.sched,
							o.insecure, o.mode, o.policy);
			IF r.status = 'Failure' THEN
				PERFORM imagestream._record_import_failure(s, job->>'tag', job->>'source', o.sched,
					o.insecure, o.mode, o.policy, r.reason, r.message, NOT v_all, gen);
			ELSIF (r.status = 'Success' OR r.status = 'Unchanged') AND v_all THEN
				together := array_append(together, imported);
			ELSIF r.status = 'Success' OR r.status = 'Unchanged' THEN
				PERFORM imagestream._record_import(s, new_stream, imported, gen);
			END IF;
		END IF;
		RETURN QUERY SELECT job->>'tag', CASE WHEN r.status = 'Failure' THEN 'Failure' ELSE 'Success' END,
			r.image, pull, r.reason, r.message;
	END LOOP;
	PERFORM imagestream._record_together(s, new_stream, gen, together);
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
