-- The image catalogue: manifests (OCI and Docker schema 2, images and
-- indexes) read into image, image_layer and image_child rows.

CREATE OR REPLACE FUNCTION _manifest_error(detail text) RETURNS void
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
	RAISE EXCEPTION 'invalid image manifest'
		USING ERRCODE = 'invalid_parameter_value', DETAIL = detail;
END $$;

-- The media type of a manifest: the one given unless empty, then the one it
-- declares, then (OCI content without one) the one its fields imply.
-- Schema 1 and unknown types are refused.  The media types are C's
-- (src/manifest.c), shared with the import and its Accept header.
CREATE OR REPLACE FUNCTION _manifest_media_type(doc jsonb, given text) RETURNS text
	AS 'MODULE_PATHNAME', 'imagestream_manifest_media_type'
	LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE OR REPLACE FUNCTION _is_index(media_type text) RETURNS boolean
	AS 'MODULE_PATHNAME', 'imagestream_is_index'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- A descriptor's digest, refusing a malformed one with a clear message.
CREATE OR REPLACE FUNCTION _descriptor_digest(d jsonb, what text) RETURNS image_digest
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
	RETURN (d->>'digest')::imagestream.image_digest;
EXCEPTION WHEN invalid_text_representation OR null_value_not_allowed THEN
	PERFORM imagestream._manifest_error(format('The %s descriptor has no valid digest: %s.', what, coalesce(d->>'digest', 'none')));
END $$;

-- Records an image known only by its digest (no manifest at hand).
CREATE OR REPLACE FUNCTION _ensure_image(p_digest image_digest, p_ref image_ref) RETURNS void
LANGUAGE sql AS $$
	INSERT INTO imagestream.image (digest, docker_image_reference)
	VALUES (p_digest, p_ref)
	ON CONFLICT (digest) DO NOTHING
$$;

-- Verifies a manifest against its digest and stores it with its layers or
-- children.  An image already catalogued with its manifest is left as it is.
CREATE OR REPLACE FUNCTION _catalogue_manifest(p_digest image_digest, p_media_type text,
	p_manifest bytea, p_ref image_ref) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	doc jsonb;
	mt text;
	layer_size bigint;
	parse_detail text;
BEGIN
	IF imagestream.content_digest(p_manifest, imagestream.digest_algorithm(p_digest)) <> p_digest THEN
		PERFORM imagestream._manifest_error(format('The manifest hashes to %s, not %s.',
			imagestream.content_digest(p_manifest, imagestream.digest_algorithm(p_digest)), p_digest));
	END IF;
	-- what is wrong with the bytes, said in the detail (the parser's own
	-- detail names the token, so it is cut short)
	BEGIN
		doc := convert_from(p_manifest, 'UTF8')::jsonb;
	EXCEPTION
		WHEN character_not_in_repertoire THEN
			PERFORM imagestream._manifest_error(format('The manifest is not valid UTF-8: %s.', SQLERRM));
		WHEN invalid_text_representation THEN
			GET STACKED DIAGNOSTICS parse_detail = PG_EXCEPTION_DETAIL;
			parse_detail := coalesce(nullif(parse_detail, ''), SQLERRM || '.');
			PERFORM imagestream._manifest_error(format('The manifest is not valid JSON: %s',
				CASE WHEN length(parse_detail) > 200 THEN left(parse_detail, 200) || '...' ELSE parse_detail END));
		WHEN OTHERS THEN
			PERFORM imagestream._manifest_error(format('The manifest could not be read as JSON: %s.', SQLERRM));
	END;
	IF jsonb_typeof(doc) <> 'object' THEN
		PERFORM imagestream._manifest_error('The manifest is not a JSON object.');
	END IF;
	mt := imagestream._manifest_media_type(doc, p_media_type);
	IF EXISTS (SELECT 1 FROM imagestream.image WHERE digest = p_digest AND manifest IS NOT NULL) THEN
		RETURN mt;
	END IF;
	-- a digest-only row takes the manifest: the signatures found for it stay
	-- (a Legacy import's index)
	IF imagestream._is_index(mt) THEN
		IF jsonb_typeof(doc->'manifests') IS DISTINCT FROM 'array' THEN
			PERFORM imagestream._manifest_error('An index must list its manifests.');
		END IF;
		INSERT INTO imagestream.image AS i (digest, media_type, manifest, docker_image_reference, size)
		VALUES (p_digest, mt, p_manifest, p_ref, octet_length(p_manifest))
		ON CONFLICT (digest) DO UPDATE SET media_type = excluded.media_type, manifest = excluded.manifest,
			docker_image_reference = excluded.docker_image_reference, size = excluded.size,
			imported_at = excluded.imported_at;
		INSERT INTO imagestream.image_child
		SELECT p_digest, (m.ord - 1)::integer, imagestream._descriptor_digest(m.d, 'child manifest'),
			m.d->>'mediaType', (m.d->>'size')::bigint, m.d#>>'{platform,os}',
			m.d#>>'{platform,architecture}', m.d#>>'{platform,variant}'
		FROM jsonb_array_elements(doc->'manifests') WITH ORDINALITY AS m(d, ord);
	ELSE
		IF jsonb_typeof(doc->'config') IS DISTINCT FROM 'object'
		   OR jsonb_typeof(doc->'layers') IS DISTINCT FROM 'array' THEN
			PERFORM imagestream._manifest_error('An image manifest must have a config descriptor and a list of layers.');
		END IF;
		PERFORM imagestream._descriptor_digest(doc->'config', 'config');
		SELECT coalesce(sum((l->>'size')::bigint), 0) INTO layer_size
			FROM jsonb_array_elements(doc->'layers') AS l;
		INSERT INTO imagestream.image AS i (digest, media_type, manifest, docker_image_reference, size)
		VALUES (p_digest, mt, p_manifest, p_ref, layer_size + coalesce((doc#>>'{config,size}')::bigint, 0))
		ON CONFLICT (digest) DO UPDATE SET media_type = excluded.media_type, manifest = excluded.manifest,
			docker_image_reference = excluded.docker_image_reference, size = excluded.size,
			imported_at = excluded.imported_at;
		INSERT INTO imagestream.image_layer
		SELECT p_digest, (l.ord - 1)::integer, imagestream._descriptor_digest(l.d, 'layer'),
			(l.d->>'size')::bigint, l.d->>'mediaType'
		FROM jsonb_array_elements(doc->'layers') WITH ORDINALITY AS l(d, ord);
	END IF;
	RETURN mt;
END $$;

-- Whether the calling role may see image p_digest, as the view images
-- decides it (security findings S4, S16): a stream of a namespace it may
-- view holds the image in its history, or holds an index that lists it and
-- verified it when the stream imported the index (held_child).  A listed
-- child alone proves nothing: whoever writes an index chooses its children.
CREATE OR REPLACE FUNCTION _image_visible(p_digest image_digest) RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
BEGIN
	-- (PL/pgSQL keeps the plan of these subqueries for the session; a SQL
	-- function with subqueries is not inlined, and was planned again on
	-- every call: map_image ran at two thirds of its speed)
	RETURN imagestream._privileged()
		OR EXISTS (SELECT 1 FROM imagestream._history h JOIN imagestream.tag t ON t.id = h.tag_id
				   WHERE h.image = p_digest AND imagestream._can(t.namespace, 'view'))
		OR EXISTS (SELECT 1 FROM imagestream.held_child p
				   JOIN imagestream.tag t ON t.stream_id = p.stream_id
				   JOIN imagestream._history h ON h.tag_id = t.id
				   JOIN imagestream.image_child c ON c.image = h.image AND c.digest = p.digest
				   WHERE p.digest = p_digest AND imagestream._can(t.namespace, 'view'));
END $$;

-- A digest is public knowledge (NOTIFY announces every one): knowing it
-- must not open an image that only streams of other namespaces hold.  A
-- move to a bare digest (map_image without its manifest, promote() from
-- an external reference) is refused (42501) when a stream holds the image
-- and the caller sees none of them.
CREATE OR REPLACE FUNCTION _refuse_unseen_image(p_digest image_digest, p_hint text) RETURNS void
LANGUAGE plpgsql STABLE AS $$
BEGIN
	IF NOT imagestream._image_visible(p_digest)
	   AND (EXISTS (SELECT 1 FROM imagestream._history h WHERE h.image = p_digest)
			OR EXISTS (SELECT 1 FROM imagestream.image_child c
					   JOIN imagestream._history h ON h.image = c.image
					   WHERE c.digest = p_digest)) THEN
		RAISE EXCEPTION 'image % is held only by image streams you may not view', p_digest
			USING ERRCODE = 'insufficient_privilege', HINT = p_hint;
	END IF;
END $$;
