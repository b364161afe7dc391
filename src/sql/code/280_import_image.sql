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

-- What oc import-image refuses of an import of one tag of an existing
-- stream (its importTag): a tag it would create needs from_image and
-- confirm (42704); an existing tag is imported from its own source,
-- following same-stream aliases to the tag at the end of their chain, and
-- from_image may only repeat that source.  A tag pinned to an image, an
-- alias whose chain ends at no source, and another source are refused
-- (55000): changing a tag's source is tag()'s job.
CREATE OR REPLACE FUNCTION _import_tag_check(p_stream imagestream.stream, p_destination text,
	p_tag text, p_source image_ref, p_confirm boolean) RETURNS void
LANGUAGE plpgsql STABLE AS $$
DECLARE
	t imagestream.tag;
BEGIN
	IF p_source IS NOT NULL THEN
		PERFORM imagestream._refuse_followed(p_stream.namespace, p_stream.name, p_tag,
											 'import_image(from_image)');
	END IF;
	IF NOT EXISTS (SELECT 1 FROM imagestream.tag x
				   WHERE x.stream_id = p_stream.id AND x.name = p_tag AND x.has_spec) THEN
		IF p_source IS NULL OR NOT p_confirm THEN
			RAISE EXCEPTION 'image stream tag "%" does not exist', p_destination
				USING ERRCODE = 'undefined_object',
					HINT = CASE WHEN p_source IS NULL THEN 'Give from_image and confirm => true to create it.'
								ELSE 'Pass confirm => true to create it.' END;
		END IF;
		RETURN;
	END IF;
	t := imagestream._import_target(p_stream, p_tag);
	IF t.id IS NULL OR t.from_kind <> 'DockerImage' THEN
		RAISE EXCEPTION 'image stream tag "%" cannot be re-imported', p_destination
			USING ERRCODE = 'object_not_in_prerequisite_state',
				DETAIL = CASE WHEN t.id IS NULL THEN 'It follows a tag that has no source.'
							  ELSE format('It points to %s "%s"; only a container image (DockerImage) is imported.',
										  t.from_kind, t.from_ref) END,
				HINT = 'Use tag() to change its source.';
	ELSIF p_source IS NOT NULL AND p_source::text <> t.from_ref THEN
		RAISE EXCEPTION 'image stream tag "%" imports "%", not "%"', p_destination, t.from_ref, p_source
			USING ERRCODE = 'object_not_in_prerequisite_state',
				DETAIL = CASE WHEN t.name <> p_tag THEN format('It follows tag "%s", whose source that is.', t.name)
							  ELSE 'An import may only repeat a tag''s source.' END,
				HINT = 'Use tag() to change its source.';
	END IF;
END $$;

-- How one tag of an import is imported: its row (if any), and the options
-- in effect.  Re-importing never turns scheduled or insecure off; known is
-- what the source served last, when the tag follows that source still.  A
-- job may carry options of its own (a tag new in a stream's repository
-- takes the repository's, 285_repository_import.sql), which the call's add to.
CREATE OR REPLACE FUNCTION _import_options(p_stream_id bigint, p_job jsonb, p_scheduled boolean,
	p_insecure boolean, p_mode import_mode, p_policy reference_policy,
	OUT t imagestream.tag, OUT sched boolean, OUT insecure boolean, OUT mode import_mode,
	OUT policy reference_policy, OUT known image_digest)
LANGUAGE plpgsql STABLE AS $$
BEGIN
	SELECT * INTO t FROM imagestream.tag x WHERE x.stream_id = p_stream_id AND x.name = p_job->>'tag';
	sched := coalesce(p_scheduled, false) OR coalesce(t.scheduled, false)
		OR coalesce((p_job->>'scheduled')::boolean, false);
	insecure := coalesce(p_insecure, false) OR coalesce(t.insecure, false)
		OR coalesce((p_job->>'insecure')::boolean, false);
	mode := coalesce(p_mode, t.import_mode, (p_job->>'import_mode')::import_mode, 'Legacy');
	policy := coalesce(p_policy, CASE WHEN t.has_spec THEN t.reference_policy END,
		(p_job->>'reference_policy')::reference_policy, 'Source');
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
-- importable tag of the stream (p_stream, NULL when it does not exist yet)
-- and the tags new in the stream's repository (285_repository_import.sql).
-- Of all tags, those past max_bulk_import are not jobs but skipped (their
-- names); repository is the repository listed.  A tag list the registry
-- refused gives no jobs and its reason and message.  The registry is asked
-- with the credentials of p_namespace.
CREATE OR REPLACE FUNCTION _import_jobs(p_stream imagestream.stream, p_destination text,
	p_tag text, p_source image_ref, p_all_tags boolean, p_insecure boolean, p_namespace text,
	OUT jobs jsonb, OUT skipped text[], OUT reason text, OUT message text, OUT repository image_ref)
LANGUAGE plpgsql AS $$
DECLARE
	t imagestream.tag;
	listed record;
	own text[];
	limit_n integer := current_setting('imagestream.max_bulk_import')::integer;
BEGIN
	skipped := '{}';
	IF NOT p_all_tags THEN
		-- (_import_tag_check refused what cannot be imported)
		t := imagestream._import_target(p_stream, p_tag);
		jobs := jsonb_build_array(jsonb_build_object('tag', coalesce(t.name, p_tag),
			'source', coalesce(p_source::text, t.from_ref)));
	ELSIF p_source IS NOT NULL THEN
		-- (all_tags imports a repository's every tag)
		repository := imagestream._repository_only(p_source::text, 'from_image');
		listed := imagestream._registry_tags(p_source, coalesce(p_insecure, false), p_namespace);
		IF listed.status <> 'ok' THEN
			reason := listed.reason;
			message := listed.message;
			RETURN;
		END IF;
		listed := imagestream._listed_jobs(p_source, listed.tags, limit_n);
		jobs := listed.jobs;
		skipped := listed.skipped;
	ELSE
		listed := imagestream._repository_jobs(p_stream, p_insecure, limit_n);
		repository := listed.repository;
		IF listed.repository IS NOT NULL AND listed.jobs IS NULL THEN
			reason := listed.reason;
			message := listed.message;
			RETURN;
		END IF;
		own := ARRAY(SELECT x.name FROM imagestream.tag x
					 WHERE x.stream_id = p_stream.id AND imagestream._importable(x) ORDER BY x.name);
		IF limit_n >= 0 THEN
			skipped := own[limit_n + 1:];
			own := own[1:limit_n];
		END IF;
		SELECT coalesce(jsonb_agg(jsonb_build_object('tag', x.name, 'source', x.from_ref)
			ORDER BY x.name), '[]')
		INTO jobs FROM imagestream.tag x
		WHERE x.stream_id = p_stream.id AND x.name = ANY (own);
		jobs := jobs || coalesce(listed.jobs, '[]');
		skipped := skipped || coalesce(listed.skipped, '{}');
	END IF;
END $$;

-- All tags: the sources of the jobs fetched together (src/fetch_many.c), each with its tag's options, in the jobs'
-- order, with the credentials of p_namespace.
CREATE OR REPLACE FUNCTION _import_fetch_all(p_namespace text, p_stream_id bigint, p_jobs jsonb,
	p_scheduled boolean, p_insecure boolean, p_mode import_mode, p_policy reference_policy)
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
	signed boolean[] := '{}';
	g imagestream.tag_gate;
BEGIN
	FOR job IN SELECT value FROM jsonb_array_elements(p_jobs) LOOP
		o := imagestream._import_options(p_stream_id, job, p_scheduled, p_insecure, p_mode, p_policy);
		srcs := srcs || (job->>'source')::imagestream.image_ref;
		insecures := insecures || o.insecure;
		preserves := preserves || (o.mode = 'PreserveOriginal');
		knowns := knowns || o.known;
		oses := oses || ((o.t).annotations->>'importer.image.openshift.io/prefer-os');
		arches := arches || ((o.t).annotations->>'importer.image.openshift.io/prefer-arch');
		SELECT * INTO g FROM imagestream.tag_gate x WHERE x.tag_id = (o.t).id;
		signed := signed || imagestream._signatures_wanted(g);
	END LOOP;
	RETURN ARRAY(SELECT f FROM imagestream._fetch_sources(srcs, insecures, preserves,
														 knowns, oses, arches, p_namespace, signed) f);
END $$;

-- What a dry run reports of the image an import would record (the row's
-- metadata): media type, platforms (os/architecture[/variant], of an index
-- its children's), created, labels, size and layer count, as the catalogue
-- would hold them.  _image_metadata reads an image the catalogue has (an
-- unchanged source); _fetched_metadata reads what a fetch f found, as
-- _catalogue_manifest and _catalogue_config (130, 150) would record it,
-- writing nothing.
CREATE OR REPLACE FUNCTION _image_metadata(p_image image_digest) RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT jsonb_strip_nulls(jsonb_build_object('mediaType', i.media_type,
		'platforms', to_jsonb(imagestream._platforms(i.digest)),
		'created', i.created, 'labels', i.labels, 'size', i.size,
		'layerCount', CASE WHEN NOT imagestream._is_index(i.media_type)
						   THEN (SELECT count(*) FROM imagestream.image_layer l WHERE l.image = i.digest) END))
	FROM imagestream.image i WHERE i.digest = p_image
$$;

CREATE OR REPLACE FUNCTION _fetched_metadata(f _fetched, p_image image_digest) RETURNS jsonb
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
DECLARE
	i integer := array_position(f.digests, p_image);
	doc jsonb;
	mt text;
	c jsonb;
BEGIN
	IF i IS NULL THEN
		RETURN NULL;
	END IF;
	doc := convert_from(f.manifests[i], 'UTF8')::jsonb;
	mt := imagestream._manifest_media_type(doc, f.media_types[i]);
	IF imagestream._is_index(mt) THEN
		RETURN jsonb_strip_nulls(jsonb_build_object('mediaType', mt,
			'platforms', (SELECT jsonb_agg(concat_ws('/', m.d#>>'{platform,os}', m.d#>>'{platform,architecture}',
													m.d#>>'{platform,variant}') ORDER BY m.ord)
						  FROM jsonb_array_elements(doc->'manifests') WITH ORDINALITY AS m(d, ord)
						  WHERE m.d#>>'{platform,os}' IS NOT NULL),
			'size', octet_length(f.manifests[i])));
	END IF;
	BEGIN
		c := convert_from(f.configs[i], 'UTF8')::jsonb;
	EXCEPTION WHEN OTHERS THEN
		c := NULL;				-- an unreadable config leaves the fields empty
	END;
	RETURN jsonb_strip_nulls(jsonb_build_object('mediaType', mt,
		'platforms', CASE WHEN c->>'os' IS NOT NULL THEN jsonb_build_array(
						 concat_ws('/', c->>'os', c->>'architecture', c->>'variant')) END,
		'created', CASE WHEN c->>'created' ~ '^\d{4}-' THEN (c->>'created')::timestamptz END,
		'labels', c#>'{config,Labels}',
		'size', (SELECT coalesce(sum((l->>'size')::bigint), 0) FROM jsonb_array_elements(doc->'layers') AS l)
				+ coalesce((doc#>>'{config,size}')::bigint, 0),
		'layerCount', jsonb_array_length(doc->'layers')));
END $$;

CREATE OR REPLACE FUNCTION _api_import_image(destination text, from_image text DEFAULT NULL,
	all_tags boolean DEFAULT false, scheduled boolean DEFAULT NULL,
	insecure boolean DEFAULT NULL, reference_policy reference_policy DEFAULT NULL,
	import_mode import_mode DEFAULT NULL, dry_run boolean DEFAULT false,
	confirm boolean DEFAULT false)
RETURNS TABLE(tag text, status text, image image_digest, docker_image_reference image_ref,
	reason text, message text, metadata jsonb)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
#variable_conflict use_variable
DECLARE
	v_all boolean := coalesce(all_tags, false);
	v_dry boolean := coalesce(dry_run, false);
	v_confirm boolean := coalesce(confirm, false);
	d record := imagestream._import_destination(destination, v_all);
	s imagestream.stream;
	new_stream boolean;
	source imagestream.image_ref;
	planned record;				-- _import_jobs: [{tag, source}] in import order, and skipped
	job jsonb;
	limit_n integer := current_setting('imagestream.max_bulk_import')::integer;
	i integer := 0;
	o record;					-- _import_options: the tag's row and options
	fetched imagestream._fetched[];	-- all tags: what was fetched, in the jobs' order
	one imagestream._fetched;	-- what was fetched for the current tag
	r record;					-- _import_fetched: what it says
	g imagestream.tag_gate;		-- the tag's gate, if any
	pull imagestream.image_ref;
	held imagestream.tag;		-- the tag, when a gate held its import back
	imported imagestream._tag_import;
	gen bigint;					-- of this import, shared by its tags (OpenShift's nextGeneration)
	together imagestream._tag_import[] := '{}';	-- all tags: recorded together at the end
	catalogued text[] := '{}';
BEGIN
	PERFORM imagestream._require(d.namespace, 'edit');
	IF from_image IS NOT NULL THEN
		source := from_image::imagestream.image_ref;
	END IF;
	-- no lock yet: the registry is asked before anything is locked
	SELECT * INTO s FROM imagestream.stream x WHERE x.namespace = d.namespace AND x.name = d.stream;
	-- what oc import-image refuses (a dry run too, as there)
	IF s.id IS NULL AND (source IS NULL OR NOT v_confirm) THEN
		RAISE EXCEPTION 'image stream "%/%" does not exist', d.namespace, d.stream
			USING ERRCODE = 'undefined_object',
				HINT = CASE WHEN source IS NULL THEN 'Give from_image and confirm => true to create it.'
							ELSE 'Pass confirm => true to create it.' END;
	ELSIF s.id IS NOT NULL AND v_all AND source IS NOT NULL AND NOT v_confirm THEN
		RAISE EXCEPTION 'image stream "%/%" does not import repository "%"', d.namespace, d.stream, source
			USING ERRCODE = 'object_not_in_prerequisite_state',
				HINT = 'Pass confirm => true to import its tags into the stream.';
	ELSIF s.id IS NOT NULL AND NOT v_all THEN
		PERFORM imagestream._import_tag_check(s, destination, d.tag, source, v_confirm);
	END IF;
	planned := imagestream._import_jobs(s, destination, d.tag, source, v_all, insecure, d.namespace);
	IF planned.jobs IS NULL THEN
		IF NOT coalesce(dry_run, false) THEN
			PERFORM imagestream._repository_listed(s.id, planned.repository, planned.reason,
												  planned.message);
		END IF;
		RETURN QUERY SELECT NULL::text, 'Failure', NULL::imagestream.image_digest,
			NULL::imagestream.image_ref, planned.reason, planned.message, NULL::jsonb;
		RETURN;
	END IF;
	IF v_all THEN
		fetched := imagestream._import_fetch_all(d.namespace, s.id, planned.jobs, scheduled, insecure,
												 import_mode, reference_policy);
	END IF;

	FOR job IN SELECT value FROM jsonb_array_elements(planned.jobs) LOOP
		i := i + 1;
		held := NULL;
		o := imagestream._import_options(s.id, job, scheduled, insecure, import_mode, reference_policy);
		SELECT * INTO g FROM imagestream.tag_gate x WHERE x.tag_id = (o.t).id;
		one := CASE WHEN v_all THEN fetched[i]
				  ELSE imagestream._fetch_source((job->>'source')::imagestream.image_ref, o.insecure,
					o.mode = 'PreserveOriginal', o.known,
					(o.t).annotations->>'importer.image.openshift.io/prefer-os',
					(o.t).annotations->>'importer.image.openshift.io/prefer-arch', d.namespace,
					imagestream._signatures_wanted(g)) END;
		-- catalogued below, once the stream is locked (see prune)
		r := imagestream._import_fetched(one, (job->>'source')::imagestream.image_ref, false);
		IF r.status = 'Unchanged' THEN
			r.image := (o.t).image;
		END IF;
		pull := CASE WHEN r.image IS NOT NULL THEN imagestream.ref_with_digest(
			imagestream.ref_name((job->>'source')::imagestream.image_ref)::imagestream.image_ref, r.image) END;
		IF NOT v_dry AND r.status = 'Unchanged' AND (o.t).import_status IS NULL
		   AND (o.t).scheduled = o.sched AND (o.t).insecure = o.insecure
		   AND (o.t).import_mode = o.mode AND (o.t).source_digest = r.source_digest THEN
			NULL;				-- nothing changed: nothing is written, not even a row lock
		ELSIF NOT v_dry THEN
			IF gen IS NULL THEN
				new_stream := s.id IS NULL;
				s := imagestream._lock_stream(d.namespace, d.stream, true);
				gen := CASE WHEN new_stream THEN s.generation ELSE s.generation + 1 END;
			END IF;
			-- (what one source digest served is catalogued once, and again by a
			-- fetch that looked up signatures)
			IF r.status = 'Success' AND NOT (r.source_digest::text || r.image::text
											 || (one.signature_payloads IS NOT NULL)::text) = ANY (catalogued) THEN
				PERFORM imagestream._import_fetched(one, (job->>'source')::imagestream.image_ref, true);
				PERFORM imagestream._hold_children(s.id, one);
				catalogued := array_append(catalogued, r.source_digest::text || r.image::text
										   || (one.signature_payloads IS NOT NULL)::text);
			END IF;
			imported := ROW(job->>'tag', job->>'source', pull, r.image, r.source_digest, o.sched,
							o.insecure, o.mode, o.policy);
			IF r.status = 'Failure' THEN
				PERFORM imagestream._record_import_failure(s, job->>'tag', job->>'source', o.sched,
					o.insecure, o.mode, o.policy, r.reason, r.message, NOT v_all, gen);
			ELSIF (r.status = 'Success' OR r.status = 'Unchanged') AND v_all
				  AND NOT coalesce((o.t).gated, false)
				  AND imagestream._protecting_patterns(o.t) IS NULL THEN
				together := array_append(together, imported);
			ELSIF r.status = 'Success' OR r.status = 'Unchanged' THEN
				-- (a gated or protected tag alone: what held it back is its row)
				PERFORM imagestream._record_import(s, new_stream, imported, gen);
				SELECT * INTO held FROM imagestream.tag t
				WHERE t.id = (o.t).id AND t.import_status = 'False' AND t.image IS DISTINCT FROM r.image;
			END IF;
		END IF;
		RETURN QUERY SELECT job->>'tag',
			CASE WHEN r.status = 'Failure' OR held.id IS NOT NULL THEN 'Failure' ELSE 'Success' END,
			r.image, pull, coalesce(held.import_reason, r.reason), coalesce(held.import_message, r.message),
			CASE WHEN v_dry AND r.status = 'Success' THEN imagestream._fetched_metadata(one, r.image)
				 WHEN v_dry AND r.status = 'Unchanged' THEN imagestream._image_metadata(r.image) END;
	END LOOP;
	RETURN QUERY SELECT x.n, 'Skipped', NULL::imagestream.image_digest, NULL::imagestream.image_ref,
		NULL::text, format('Over imagestream.max_bulk_import (%s).', limit_n), NULL::jsonb
	FROM unnest(planned.skipped) AS x(n);
	PERFORM imagestream._record_together(s, new_stream, gen, together);
	IF planned.repository IS NOT NULL AND NOT coalesce(dry_run, false) THEN
		PERFORM imagestream._remember_repository(d.namespace, d.stream, gen, planned.repository,
			scheduled, insecure, import_mode, reference_policy);
	END IF;
END $$;

CREATE OR REPLACE FUNCTION import_image(destination text, from_image text DEFAULT NULL,
	all_tags boolean DEFAULT false, scheduled boolean DEFAULT NULL,
	insecure boolean DEFAULT NULL, reference_policy reference_policy DEFAULT NULL,
	import_mode import_mode DEFAULT NULL, dry_run boolean DEFAULT false,
	confirm boolean DEFAULT false)
RETURNS TABLE(tag text, status text, image image_digest, docker_image_reference image_ref,
	reason text, message text, metadata jsonb)
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C;
COMMENT ON FUNCTION import_image(text, text, boolean, boolean, boolean, reference_policy, import_mode, boolean, boolean)
	IS 'oc import-image: import a tag, or every tag of a repository, from its registry now';
