-- Issue 16: a manifest map_image refuses says what is wrong with it: bytes
-- that are not UTF-8 and text that is not JSON get details of their own (the
-- second with the parser's detail), where both said "not valid UTF-8 JSON".
-- (src/sql/65_catalogue.sql)
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
	DELETE FROM imagestream.image WHERE digest = p_digest;

	IF imagestream._is_index(mt) THEN
		IF jsonb_typeof(doc->'manifests') IS DISTINCT FROM 'array' THEN
			PERFORM imagestream._manifest_error('An index must list its manifests.');
		END IF;
		INSERT INTO imagestream.image (digest, media_type, manifest, docker_image_reference, size)
		VALUES (p_digest, mt, p_manifest, p_ref, octet_length(p_manifest));
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
		INSERT INTO imagestream.image (digest, media_type, manifest, docker_image_reference, size)
		VALUES (p_digest, mt, p_manifest, p_ref,
				layer_size + coalesce((doc#>>'{config,size}')::bigint, 0));
		INSERT INTO imagestream.image_layer
		SELECT p_digest, (l.ord - 1)::integer, imagestream._descriptor_digest(l.d, 'layer'),
			(l.d->>'size')::bigint, l.d->>'mediaType'
		FROM jsonb_array_elements(doc->'layers') WITH ORDINALITY AS l(d, ord);
	END IF;
	RETURN mt;
END $$;
