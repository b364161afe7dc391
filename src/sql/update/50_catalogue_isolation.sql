-- Catalogue isolation (security findings S16 and S17, doc/security.md).
--
-- S16: a child of an index opens to the viewers of a stream that holds the
-- index only when an import into that stream fetched and verified it
-- (held_child).  S17: no base table is readable by PUBLIC; the views read
-- set-returning functions that the planner cannot push a caller's
-- conditions into.
-- _worker_apply below also carries finding S14's change: it records a
-- failure before it parses the source, so a source stored before 0.3.0
-- refused it gets its failure condition instead of an error each cycle.

-- The children whose manifests an import into the stream fetched and
-- verified.  An index may list any digest (whoever writes one chooses its
-- children), so a child opens to the viewers of a stream that holds the
-- index only if it is listed here for that stream (security finding S16).
CREATE TABLE held_child (
	stream_id bigint NOT NULL REFERENCES stream ON DELETE CASCADE,
	digest image_digest NOT NULL REFERENCES image ON DELETE CASCADE,
	PRIMARY KEY (stream_id, digest)
);
COMMENT ON TABLE held_child IS 'children of indexes whose manifests an import into the stream verified';
SELECT pg_catalog.pg_extension_config_dump('held_child', '');

-- Indexes imported before this version: the current image of a tag that a
-- PreserveOriginal import set (its source served it) had every child
-- fetched and verified.  Other events of before keep their children to the
-- privileged and to streams that hold them themselves.
INSERT INTO held_child (stream_id, digest)
SELECT DISTINCT t.stream_id, c.digest
FROM tag t JOIN image_child c ON c.image = t.image
JOIN image i ON i.digest = c.digest AND i.manifest IS NOT NULL
WHERE t.has_spec AND t.from_kind = 'DockerImage' AND NOT t.reference
  AND t.import_mode = 'PreserveOriginal' AND t.image = t.source_digest
ON CONFLICT DO NOTHING;

CREATE FUNCTION _granted_namespaces(p_level text) RETURNS text[]
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
	SELECT CASE WHEN NOT imagestream._privileged()
		THEN (SELECT coalesce(array_agg(DISTINCT g.namespace), '{}') FROM imagestream.namespace_grant g
			  WHERE imagestream._can(g.namespace, p_level)) END
$$;

CREATE FUNCTION _image_visible(p_digest image_digest) RETURNS boolean
LANGUAGE sql STABLE AS $$
	SELECT imagestream._privileged()
		OR EXISTS (SELECT 1 FROM imagestream._history h JOIN imagestream.tag t ON t.id = h.tag_id
				   WHERE h.image = p_digest AND imagestream._can(t.namespace, 'view'))
		OR EXISTS (SELECT 1 FROM imagestream.held_child p
				   JOIN imagestream.tag t ON t.stream_id = p.stream_id
				   JOIN imagestream._history h ON h.tag_id = t.id
				   JOIN imagestream.image_child c ON c.image = h.image AND c.digest = p.digest
				   WHERE p.digest = p_digest AND imagestream._can(t.namespace, 'view'))
$$;

CREATE FUNCTION _hold_children(p_stream_id bigint, f _fetched) RETURNS void
LANGUAGE sql AS $$
	INSERT INTO imagestream.held_child (stream_id, digest)
	SELECT DISTINCT p_stream_id, d FROM unnest(f.digests) AS d
	WHERE f.status = 'Success' AND d IS DISTINCT FROM f.image
	ON CONFLICT DO NOTHING
$$;

CREATE OR REPLACE FUNCTION _api_map_image(tag text, docker_image_reference image_ref,
	image image_digest DEFAULT NULL, manifest bytea DEFAULT NULL, media_type text DEFAULT NULL)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
DECLARE
	d record := imagestream._parse_tag(tag);
	ref imagestream.image_ref := docker_image_reference;
	digest imagestream.image_digest := coalesce(image, imagestream.ref_digest(ref));
	wanted text := digest::text;
	s imagestream.stream;
	t imagestream.tag;
BEGIN
	PERFORM imagestream._require(d.namespace, 'edit');
	IF ref IS NULL THEN
		RAISE EXCEPTION 'docker_image_reference is required' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF digest IS NULL THEN
		RAISE EXCEPTION 'the image digest is not known'
			USING ERRCODE = 'invalid_parameter_value',
				HINT = 'Pass image, or a docker_image_reference with "@sha256:…".';
	END IF;
	IF image IS NOT NULL AND imagestream.ref_digest(ref) IS NOT NULL
	   AND imagestream.ref_digest(ref) <> image THEN
		RAISE EXCEPTION 'image % does not match the digest of "%"', image, ref
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF media_type IS NOT NULL AND manifest IS NULL THEN
		RAISE EXCEPTION 'media_type needs a manifest' USING ERRCODE = 'invalid_parameter_value';
	END IF;

	-- A digest is public knowledge (NOTIFY announces every one): knowing it
	-- must not open an image that only streams of other namespaces hold.
	-- Without the manifest, an image held by a stream must be one the caller
	-- sees.
	IF manifest IS NULL AND NOT imagestream._image_visible(wanted::imagestream.image_digest)
	   AND (EXISTS (SELECT 1 FROM imagestream._history h WHERE h.image = wanted::imagestream.image_digest)
			OR EXISTS (SELECT 1 FROM imagestream.image_child c
					   JOIN imagestream._history h ON h.image = c.image
					   WHERE c.digest = wanted::imagestream.image_digest)) THEN
		RAISE EXCEPTION 'image % is held only by image streams you may not view', digest
			USING ERRCODE = 'insufficient_privilege',
				HINT = 'Pass the image''s manifest to record it.';
	END IF;

	-- the stream first: prune, which locks every stream, then cannot delete
	-- the image between its check here and the event
	s := imagestream._lock_stream(d.namespace, d.stream, true);
	IF manifest IS NOT NULL THEN
		PERFORM imagestream._catalogue_manifest(digest, media_type, manifest, ref);
	ELSE
		PERFORM imagestream._ensure_image(digest, ref);
	END IF;
	t := imagestream._lock_tag(s, d.tag, true);
	-- a push records the stream's current generation
	PERFORM imagestream._add_event(t.id, ref, digest, s.generation);
END $$;

CREATE OR REPLACE FUNCTION _api_image(stream_image text) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
DECLARE
	d record := imagestream._parse_stream_image(stream_image);
	matches image_digest[];
BEGIN
	PERFORM imagestream._require(d.namespace, 'view');
	IF NOT EXISTS (SELECT 1 FROM imagestream.stream WHERE namespace = d.namespace AND name = d.stream) THEN
		RAISE EXCEPTION 'image stream "%/%" does not exist', d.namespace, d.stream
			USING ERRCODE = 'undefined_object';
	END IF;
	-- images of the stream's history, and the children of indexes among them
	-- that the stream verified when it imported the index, or that the
	-- caller sees anyway (an index may list any digest: security finding S16)
	WITH held AS (
		SELECT h.image, t.stream_id FROM imagestream._history h JOIN imagestream.tag t ON t.id = h.tag_id
		WHERE t.namespace = d.namespace AND t.stream = d.stream AND h.image IS NOT NULL
	)
	SELECT array_agg(DISTINCT x.image) INTO matches
	FROM (SELECT image FROM held
		  UNION SELECT c.digest FROM imagestream.image_child c JOIN held ON c.image = held.image
		  WHERE EXISTS (SELECT 1 FROM imagestream.held_child p
						WHERE p.stream_id = held.stream_id AND p.digest = c.digest)
			 OR imagestream._image_visible(c.digest)) x
	WHERE imagestream.digest_has_prefix(x.image, d.id);
	IF matches IS NULL THEN
		RAISE EXCEPTION 'image "%" not found', stream_image USING ERRCODE = 'undefined_object';
	ELSIF cardinality(matches) > 1 THEN
		RAISE EXCEPTION 'more than one image of image stream "%/%" matches "%"', d.namespace, d.stream, d.id
			USING ERRCODE = 'cardinality_violation',
				DETAIL = format('Matching images: %s.', array_to_string(matches, ', ')),
				HINT = 'Give more digits of the digest.';
	END IF;
	RETURN jsonb_build_object('name', format('%s@%s', d.stream, matches[1]),
		'namespace', d.namespace,
		'image', coalesce(imagestream._image_json(matches[1],
							imagestream._stream_reference(matches[1], d.namespace, d.stream)),
						  jsonb_build_object('digest', matches[1]::text)));
END $$;

CREATE OR REPLACE FUNCTION _tag_image(p_dest imagestream.stream, p_tag text, p_src_ns text,
	p_src_stream text, p_id text, p_reference boolean, p_import_mode import_mode,
	p_policy reference_policy, p_new_stream boolean) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	found record;
	spec record;
BEGIN
	found := imagestream._resolve_image_id(p_src_ns, p_src_stream, p_id);
	spec := imagestream._set_spec(p_dest, p_tag, 'ImageStreamImage',
		format('%s/%s@%s', p_src_ns, p_src_stream, found.image), p_reference, false, false,
		p_import_mode, p_policy, '{}', p_new_stream);
	IF spec.ref_changed THEN
		PERFORM imagestream._add_event((spec.t).id, found.docker_image_reference, found.image,
									   (spec.t).spec_generation);
	END IF;
	-- the children of an index that the source stream verified come along:
	-- the caller, who views the source, sees them there
	INSERT INTO imagestream.held_child (stream_id, digest)
	SELECT p_dest.id, p.digest
	FROM imagestream.held_child p
	JOIN imagestream.stream s ON s.id = p.stream_id
	JOIN imagestream.image_child c ON c.digest = p.digest AND c.image = found.image
	WHERE s.namespace = p_src_ns AND s.name = p_src_stream
	ON CONFLICT DO NOTHING;
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
	PERFORM imagestream._record_import(s, false, t.name, t.from_ref,
		CASE WHEN f.status = 'Success' THEN imagestream.ref_with_digest(repo, f.image)
			 ELSE t.docker_image_reference END,
		CASE WHEN f.status = 'Success' THEN f.image ELSE t.image END,
		f.source_digest, t.scheduled, t.insecure, t.import_mode, t.reference_policy, p_generation);
END $$;

CREATE OR REPLACE FUNCTION _worker_apply_many(p_stream_id bigint, p_tag_ids bigint[], p_sources text[],
	f _fetched[], p_generation bigint) RETURNS SETOF integer
LANGUAGE plpgsql SET search_path = pg_catalog, imagestream, pg_temp AS $$
DECLARE
	s imagestream.stream;
	alone integer[];			-- positions left to _worker_apply
	here boolean[];				-- per position: recorded here
	fe imagestream._fetched;
	shared imagestream._fetched;	-- the last with manifests: those after it with none share them
	catalogued text[] := '{}';		-- source digest and image of each fetch catalogued
	i integer := 0;
	-- the tags recorded here, by their position in the arrays given
	pos integer[];
	names text[];
	sources text[];
	refs imagestream.image_ref[];
	images imagestream.image_digest[];
	source_digests imagestream.image_digest[];
	scheduled boolean[];
	insecure boolean[];
	modes imagestream.import_mode[];
	policies imagestream.reference_policy[];
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
	FOREACH fe IN ARRAY f LOOP
		i := i + 1;
		IF fe.digests IS NOT NULL THEN
			shared := fe;
		END IF;
		IF fe.status = 'Success' AND here[i] AND shared.image = fe.image
		   AND NOT (fe.source_digest::text || fe.image::text) = ANY (catalogued) THEN
			PERFORM imagestream._import_fetched(shared, p_sources[i]::imagestream.image_ref, true);
			PERFORM imagestream._hold_children(p_stream_id, shared);
			catalogued := catalogued || (fe.source_digest::text || fe.image::text);
		END IF;
	END LOOP;

	-- each tag with its own options; Unchanged keeps the tag's pull spec
	SELECT array_agg(u.ordinality ORDER BY u.ordinality), array_agg(t.name ORDER BY u.ordinality),
		   array_agg(t.from_ref ORDER BY u.ordinality),
		   array_agg(CASE WHEN u.status = 'Success'
						  THEN imagestream.ref_with_digest(imagestream.ref_name(t.from_ref::imagestream.image_ref)::imagestream.image_ref,
														   u.image)
						  ELSE t.docker_image_reference END ORDER BY u.ordinality),
		   array_agg(CASE WHEN u.status = 'Success' THEN u.image ELSE t.image END ORDER BY u.ordinality),
		   array_agg(u.source_digest ORDER BY u.ordinality), array_agg(t.scheduled ORDER BY u.ordinality),
		   array_agg(t.insecure ORDER BY u.ordinality), array_agg(t.import_mode ORDER BY u.ordinality),
		   array_agg(t.reference_policy ORDER BY u.ordinality)
	INTO pos, names, sources, refs, images, source_digests, scheduled, insecure, modes, policies
	FROM unnest(p_tag_ids, f) WITH ORDINALITY AS u(tag_id)
	JOIN imagestream.tag t ON t.id = u.tag_id
	WHERE here[u.ordinality];
	RETURN QUERY
		SELECT pos[k] FROM imagestream._record_imports(s, p_generation, names, sources, refs, images,
			source_digests, scheduled, insecure, modes, policies, true) AS k;
END $$;

-- the views: their policies go first (the catalogue's used the view images)
DROP POLICY view_namespace ON stream;
DROP POLICY view_namespace ON tag;
DROP POLICY view_namespace ON change;
DROP POLICY admin_namespace ON namespace_grant;
DROP POLICY held_by_visible_stream ON image;
DROP POLICY held_by_visible_stream ON image_layer;
DROP POLICY held_by_visible_stream ON image_child;

CREATE FUNCTION _api__view_image_streams() RETURNS TABLE(namespace text, name text,
	generation bigint, lookup_local boolean, local_repository text, tags text[],
	updated timestamptz, annotations jsonb)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
#variable_conflict use_column
DECLARE
	ns text[] COLLATE "C" := imagestream._granted_namespaces('view');
BEGIN
	RETURN QUERY
		SELECT s.namespace, s.name, s.generation, s.lookup_local,
			imagestream._local_repository(s.namespace, s.name),
			coalesce((SELECT array_agg(t.name ORDER BY t.name COLLATE "C") FROM imagestream.tag t
					  WHERE t.stream_id = s.id), '{}'),
			(SELECT max(t.created) FROM imagestream.tag t WHERE t.stream_id = s.id),
			s.annotations
		FROM imagestream.stream s
		WHERE ns IS NULL OR s.namespace = ANY (ns);
END $$;

CREATE FUNCTION _view_image_streams() RETURNS TABLE(namespace text, name text,
	generation bigint, lookup_local boolean, local_repository text, tags text[],
	updated timestamptz, annotations jsonb)
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C STABLE;

CREATE OR REPLACE VIEW image_streams AS
SELECT s.namespace COLLATE "C" AS namespace, s.name COLLATE "C" AS name, s.generation,
	s.lookup_local, s.local_repository COLLATE "C" AS local_repository,
	s.tags COLLATE "C" AS tags, s.updated, s.annotations
FROM imagestream._view_image_streams() s;
COMMENT ON VIEW image_streams IS 'oc get is';

CREATE FUNCTION _api__view_image_stream_tags() RETURNS TABLE(namespace text, stream text,
	tag text, from_kind source_kind, from_ref text, reference boolean, scheduled boolean,
	insecure boolean, import_mode import_mode, reference_policy reference_policy,
	spec_generation bigint, image image_digest, docker_image_reference image_ref,
	pull_spec image_ref, created timestamptz, status_generation bigint, pending boolean,
	import_status text, import_reason text, import_message text, history_length integer)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
#variable_conflict use_column
DECLARE
	ns text[] COLLATE "C" := imagestream._granted_namespaces('view');
BEGIN
	RETURN QUERY
		SELECT t.namespace, t.stream, t.name,
			CASE WHEN t.has_spec THEN t.from_kind END,
			CASE WHEN t.has_spec THEN t.from_ref END,
			CASE WHEN t.has_spec THEN t.reference END,
			CASE WHEN t.has_spec THEN t.scheduled END,
			CASE WHEN t.has_spec THEN t.insecure END,
			CASE WHEN t.has_spec THEN t.import_mode END,
			CASE WHEN t.has_spec THEN t.reference_policy END,
			t.spec_generation,
			t.image, t.docker_image_reference,
			imagestream._pull_spec(t),
			t.created, t.status_generation,
			coalesce(t.has_spec AND t.from_kind = 'DockerImage' AND NOT t.reference
					 AND t.spec_generation > greatest(coalesce(t.status_generation, 0),
													 coalesce(t.import_generation, 0)), false),
			t.import_status, t.import_reason, t.import_message,
			t.history_length
		FROM imagestream.tag t
		WHERE ns IS NULL OR t.namespace = ANY (ns);
END $$;

CREATE FUNCTION _view_image_stream_tags() RETURNS TABLE(namespace text, stream text,
	tag text, from_kind source_kind, from_ref text, reference boolean, scheduled boolean,
	insecure boolean, import_mode import_mode, reference_policy reference_policy,
	spec_generation bigint, image image_digest, docker_image_reference image_ref,
	pull_spec image_ref, created timestamptz, status_generation bigint, pending boolean,
	import_status text, import_reason text, import_message text, history_length integer)
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C STABLE;

CREATE OR REPLACE VIEW image_stream_tags AS
SELECT t.namespace COLLATE "C" AS namespace, t.stream COLLATE "C" AS stream,
	t.tag COLLATE "C" AS tag, t.from_kind, t.from_ref, t.reference, t.scheduled, t.insecure,
	t.import_mode, t.reference_policy, t.spec_generation, t.image, t.docker_image_reference,
	t.pull_spec, t.created, t.status_generation, t.pending, t.import_status, t.import_reason,
	t.import_message, t.history_length
FROM imagestream._view_image_stream_tags() t;
COMMENT ON VIEW image_stream_tags IS 'oc get istag: one row per spec or status tag';

CREATE FUNCTION _api__view_images() RETURNS TABLE(digest image_digest, media_type text,
	docker_image_reference image_ref, size bigint, os text, architecture text, variant text,
	created timestamptz, labels jsonb, config jsonb, layers image_digest[],
	manifests image_digest[], imported_at timestamptz)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
#variable_conflict use_column
DECLARE
	ns text[] COLLATE "C" := imagestream._granted_namespaces('view');
BEGIN
	RETURN QUERY
		SELECT i.digest, i.media_type,
			CASE WHEN ns IS NULL THEN i.docker_image_reference ELSE v.ref END,
			i.size, i.os, i.architecture, i.variant, i.created, i.labels, i.config,
			coalesce((SELECT array_agg(l.digest ORDER BY l.position) FROM imagestream.image_layer l
					  WHERE l.image = i.digest), '{}'),
			coalesce((SELECT array_agg(c.digest ORDER BY c.position) FROM imagestream.image_child c
					  WHERE c.image = i.digest), '{}'),
			i.imported_at
		FROM imagestream.image i
		LEFT JOIN (SELECT DISTINCT ON (x.digest) x.digest, x.ref
				   FROM (SELECT h.image AS digest, h.docker_image_reference AS ref, h.created, 0 AS via
						 FROM imagestream.tag t JOIN imagestream._history h ON h.tag_id = t.id
						 WHERE t.namespace = ANY (ns) AND h.image IS NOT NULL
						 UNION ALL
						 -- a platform image: its index's repository
						 SELECT c.digest, imagestream.ref_with_digest(
								imagestream.ref_name(h.docker_image_reference)::imagestream.image_ref, c.digest),
							h.created, 1
						 FROM imagestream.tag t JOIN imagestream._history h ON h.tag_id = t.id
						 JOIN imagestream.image_child c ON c.image = h.image
						 JOIN imagestream.held_child p ON p.stream_id = t.stream_id AND p.digest = c.digest
						 WHERE t.namespace = ANY (ns)) x
				   ORDER BY x.digest, x.via, x.created DESC) v ON v.digest = i.digest
		WHERE ns IS NULL OR v.digest IS NOT NULL;
END $$;

CREATE FUNCTION _view_images() RETURNS TABLE(digest image_digest, media_type text,
	docker_image_reference image_ref, size bigint, os text, architecture text, variant text,
	created timestamptz, labels jsonb, config jsonb, layers image_digest[],
	manifests image_digest[], imported_at timestamptz)
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C STABLE;

CREATE OR REPLACE VIEW images AS
SELECT i.digest, i.media_type, i.docker_image_reference, i.size, i.os, i.architecture,
	i.variant, i.created, i.labels, i.config, i.layers, i.manifests, i.imported_at
FROM imagestream._view_images() i;
COMMENT ON VIEW images IS 'the image catalogue, as far as the caller''s streams hold it';

CREATE FUNCTION _api__view_history() RETURNS TABLE(tag_id integer, seq integer,
	created timestamptz, docker_image_reference image_ref, image image_digest, generation bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
#variable_conflict use_column
DECLARE
	ns text[] COLLATE "C" := imagestream._granted_namespaces('view');
BEGIN
	RETURN QUERY
		SELECT h.tag_id, h.seq, h.created, h.docker_image_reference, h.image, h.generation
		FROM imagestream.tag t JOIN imagestream._history h ON h.tag_id = t.id
		WHERE ns IS NULL OR t.namespace = ANY (ns);
END $$;

CREATE FUNCTION _view_history() RETURNS TABLE(tag_id integer, seq integer,
	created timestamptz, docker_image_reference image_ref, image image_digest, generation bigint)
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C STABLE;

CREATE OR REPLACE VIEW history AS
SELECT h.tag_id, h.seq, h.created, h.docker_image_reference, h.image, h.generation
FROM imagestream._view_history() h;
COMMENT ON VIEW history IS 'tag events (OpenShift TagEvent), newest of a tag by largest seq';

CREATE FUNCTION _api__view_namespace_grants() RETURNS TABLE(namespace text, grantee regrole,
	level text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
#variable_conflict use_column
DECLARE
	ns text[] COLLATE "C" := imagestream._granted_namespaces('admin');
BEGIN
	RETURN QUERY
		SELECT g.namespace, g.grantee, g.level FROM imagestream.namespace_grant g
		WHERE ns IS NULL OR g.namespace = ANY (ns);
END $$;

CREATE FUNCTION _view_namespace_grants() RETURNS TABLE(namespace text, grantee regrole,
	level text)
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C STABLE;

CREATE VIEW namespace_grants AS
SELECT g.namespace COLLATE "C" AS namespace, g.grantee, g.level
FROM imagestream._view_namespace_grants() g;
COMMENT ON VIEW namespace_grants IS 'the grants of the namespaces the caller administers';

REVOKE ALL ON stream, tag, change, image, image_layer, image_child, namespace_grant,
	held_child, namespace_grants FROM PUBLIC;
GRANT SELECT ON namespace_grants TO PUBLIC;
ALTER TABLE held_child ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON FUNCTION _granted_namespaces(text), _image_visible(image_digest),
	_hold_children(bigint, _fetched), _api__view_image_streams(), _api__view_image_stream_tags(),
	_api__view_images(), _api__view_history(), _api__view_namespace_grants() FROM PUBLIC;
