-- oc import-image (SPEC sections 4 and 5): the network I/O is C
-- (src/registry.c); deciding what to fetch and recording it is here.

CREATE FUNCTION _registry_manifest(ref image_ref, reference text, insecure boolean,
	known image_digest, OUT status text, OUT reason text, OUT message text,
	OUT digest image_digest, OUT media_type text, OUT manifest bytea, OUT retry_after integer)
	AS 'MODULE_PATHNAME', 'imagestream_registry_manifest' LANGUAGE C VOLATILE;

CREATE FUNCTION _registry_blob(ref image_ref, digest image_digest, insecure boolean,
	OUT status text, OUT reason text, OUT message text, OUT blob bytea)
	AS 'MODULE_PATHNAME', 'imagestream_registry_blob' LANGUAGE C VOLATILE;

CREATE FUNCTION _registry_tag_pages(ref image_ref, insecure boolean,
	OUT status text, OUT reason text, OUT message text, OUT pages text[])
	AS 'MODULE_PATHNAME', 'imagestream_registry_tag_pages' LANGUAGE C VOLATILE;

-- A fetched manifest's media type and document, or why it cannot be used.
CREATE FUNCTION _classify_manifest(body bytea, content_type text,
	OUT media_type text, OUT doc jsonb, OUT reason text, OUT message text)
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
	detail text;
BEGIN
	BEGIN
		doc := convert_from(body, 'UTF8')::jsonb;
	EXCEPTION WHEN OTHERS THEN
		reason := 'InvalidManifest';
		message := 'The manifest is not valid UTF-8 JSON.';
		RETURN;
	END;
	IF jsonb_typeof(doc) <> 'object' THEN
		reason := 'InvalidManifest';
		message := 'The manifest is not a JSON object.';
		RETURN;
	END IF;
	BEGIN
		media_type := imagestream._manifest_media_type(doc,
			CASE WHEN content_type IN ('application/json', 'text/plain') THEN NULL ELSE content_type END);
	EXCEPTION WHEN invalid_parameter_value THEN
		GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
		reason := 'UnsupportedMediaType';
		message := detail;
		RETURN;
	END;
	IF imagestream._is_index(media_type) AND jsonb_typeof(doc->'manifests') IS DISTINCT FROM 'array'
	   OR NOT imagestream._is_index(media_type) AND jsonb_typeof(doc->'config') IS DISTINCT FROM 'object' THEN
		reason := 'InvalidManifest';
		message := 'The manifest lacks its config descriptor or its list of manifests.';
	END IF;
END $$;

-- Legacy import of a manifest list: the child for the tag's preferred
-- platform (annotations importer.image.openshift.io/prefer-os and
-- prefer-arch), then imagestream.preferred_platform, then linux/amd64, then
-- the first entry.
CREATE FUNCTION _choose_child(doc jsonb, annotations jsonb) RETURNS text
LANGUAGE sql STABLE AS $$
	WITH preferred AS (
		SELECT split_part(p, '/', 1) AS os, split_part(p, '/', 2) AS arch,
			nullif(split_part(p, '/', 3), '') AS variant
		FROM coalesce(nullif(current_setting('imagestream.preferred_platform', true), ''),
					  'linux/amd64') AS p
	), wishes AS (
		SELECT 1 AS rank, coalesce(annotations->>'importer.image.openshift.io/prefer-os', p.os) AS os,
			coalesce(annotations->>'importer.image.openshift.io/prefer-arch', p.arch) AS arch,
			CASE WHEN annotations ? 'importer.image.openshift.io/prefer-arch' THEN NULL ELSE p.variant END AS variant
		FROM preferred p
		UNION ALL SELECT 2, p.os, p.arch, p.variant FROM preferred p
		UNION ALL SELECT 3, 'linux', 'amd64', NULL
	)
	SELECT coalesce(
		(SELECT m.d->>'digest' FROM wishes w
		 JOIN jsonb_array_elements(doc->'manifests') WITH ORDINALITY AS m(d, ord)
		   ON m.d#>>'{platform,os}' = w.os AND m.d#>>'{platform,architecture}' = w.arch
		  AND (w.variant IS NULL OR m.d#>>'{platform,variant}' = w.variant)
		 ORDER BY w.rank, m.ord LIMIT 1),
		doc#>>'{manifests,0,digest}')
$$;

-- Fills an image's platform and configuration from its config blob.
CREATE FUNCTION _catalogue_config(p_digest image_digest, p_config bytea) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	c jsonb;
BEGIN
	BEGIN
		c := convert_from(p_config, 'UTF8')::jsonb;
	EXCEPTION WHEN OTHERS THEN
		RETURN;					-- an unreadable config leaves the fields empty
	END;
	UPDATE imagestream.image SET
		os = c->>'os', architecture = c->>'architecture', variant = c->>'variant',
		created = CASE WHEN c->>'created' ~ '^\d{4}-' THEN (c->>'created')::timestamptz END,
		labels = c#>'{config,Labels}',
		config = jsonb_strip_nulls(jsonb_build_object(
			'env', c#>'{config,Env}', 'entrypoint', c#>'{config,Entrypoint}',
			'cmd', c#>'{config,Cmd}', 'user', c#>'{config,User}',
			'workingDir', c#>'{config,WorkingDir}', 'exposedPorts', c#>'{config,ExposedPorts}'))
	WHERE digest = p_digest;
END $$;

-- Fetches and checks one image manifest by digest (unless it was fetched
-- already), with its config blob; catalogues both when p_write.  Returns
-- NULL or the failure.
CREATE FUNCTION _fetch_image(p_ref image_ref, p_digest image_digest, p_insecure boolean,
	p_write boolean, p_manifest bytea DEFAULT NULL, p_media_type text DEFAULT NULL,
	OUT reason text, OUT message text)
LANGUAGE plpgsql AS $$
DECLARE
	m record;
	k record;
	b record;
BEGIN
	IF p_manifest IS NOT NULL THEN
		SELECT 'ok' AS status, p_manifest AS manifest, p_media_type AS media_type INTO m;
	ELSE
		m := imagestream._registry_manifest(p_ref, p_digest::text, p_insecure, NULL);
	END IF;
	IF m.status <> 'ok' THEN
		reason := m.reason; message := m.message;
		RETURN;
	END IF;
	k := imagestream._classify_manifest(m.manifest, m.media_type);
	IF k.reason IS NULL AND imagestream._is_index(k.media_type) THEN
		k.reason := 'InvalidManifest';
		k.message := 'A manifest list names another manifest list.';
	END IF;
	IF k.reason IS NOT NULL THEN
		reason := k.reason; message := k.message;
		RETURN;
	END IF;
	b := imagestream._registry_blob(p_ref, (k.doc#>>'{config,digest}')::imagestream.image_digest, p_insecure);
	IF b.status <> 'ok' THEN
		reason := b.reason; message := b.message;
		RETURN;
	END IF;
	IF p_write THEN
		PERFORM imagestream._catalogue_manifest(p_digest, k.media_type, m.manifest,
			imagestream.ref_with_digest(imagestream.ref_name(p_ref)::imagestream.image_ref, p_digest));
		PERFORM imagestream._catalogue_config(p_digest, b.blob);
	END IF;
EXCEPTION WHEN invalid_text_representation THEN
	reason := 'InvalidManifest';
	message := 'The manifest''s config descriptor has no valid digest.';
END $$;

-- Imports what source (a tag or digest reference) points at: the image, or
-- for a manifest list its child (Legacy) or the list and every child
-- (PreserveOriginal).  status is 'Success', 'Unchanged' or 'Failure'.
CREATE FUNCTION _import_source(p_source image_ref, p_insecure boolean, p_mode import_mode,
	p_known image_digest, p_annotations jsonb, p_write boolean,
	OUT status text, OUT reason text, OUT message text, OUT image image_digest,
	OUT source_digest image_digest, OUT retry_after integer)
LANGUAGE plpgsql AS $$
DECLARE
	m record;
	k record;
	f record;
	child text;
	reference text := coalesce(imagestream.ref_digest(p_source)::text,
							   coalesce(imagestream.ref_tag(p_source), 'latest'));
BEGIN
	m := imagestream._registry_manifest(p_source, reference, p_insecure, p_known);
	retry_after := m.retry_after;
	IF m.status = 'unchanged' THEN
		status := 'Unchanged';
		source_digest := m.digest;
		RETURN;
	ELSIF m.status <> 'ok' THEN
		status := 'Failure'; reason := m.reason; message := m.message;
		RETURN;
	END IF;
	source_digest := m.digest;
	k := imagestream._classify_manifest(m.manifest, m.media_type);
	IF k.reason IS NOT NULL THEN
		status := 'Failure'; reason := k.reason; message := k.message;
		RETURN;
	END IF;

	IF NOT imagestream._is_index(k.media_type) THEN
		f := imagestream._fetch_image(p_source, m.digest, p_insecure, p_write, m.manifest, m.media_type);
		image := m.digest;
	ELSIF p_mode = 'PreserveOriginal' THEN
		image := m.digest;
		FOR child IN SELECT d->>'digest' FROM jsonb_array_elements(k.doc->'manifests') AS d LOOP
			f := imagestream._fetch_image(p_source, child::imagestream.image_digest, p_insecure, p_write);
			EXIT WHEN f.reason IS NOT NULL;
		END LOOP;
		IF f.reason IS NULL AND p_write THEN
			PERFORM imagestream._catalogue_manifest(m.digest, k.media_type, m.manifest,
				imagestream.ref_with_digest(imagestream.ref_name(p_source)::imagestream.image_ref, m.digest));
		END IF;
	ELSE
		child := imagestream._choose_child(k.doc, coalesce(p_annotations, '{}'));
		image := child::imagestream.image_digest;
		f := imagestream._fetch_image(p_source, image, p_insecure, p_write);
	END IF;
	IF f.reason IS NOT NULL THEN
		status := 'Failure'; reason := f.reason; message := f.message; image := NULL;
		RETURN;
	END IF;
	status := 'Success';
EXCEPTION WHEN invalid_text_representation THEN
	status := 'Failure';
	reason := 'InvalidManifest';
	message := 'A manifest list entry has no valid digest.';
	image := NULL;
END $$;
