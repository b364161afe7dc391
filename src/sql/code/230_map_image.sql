-- OpenShift ImageStreamMapping: record an image pushed or imported elsewhere
-- as a tag's current image.  No network I/O.

CREATE OR REPLACE FUNCTION _api_map_image(tag text, docker_image_reference image_ref,
	image image_digest DEFAULT NULL, manifest bytea DEFAULT NULL, media_type text DEFAULT NULL,
	expected_image image_digest DEFAULT NULL)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
DECLARE
	d record := imagestream._parse_tag(tag);
	ref imagestream.image_ref := docker_image_reference;
	digest imagestream.image_digest := coalesce(image, imagestream.ref_digest(ref));
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

	-- Without the manifest, an image held by a stream must be one the caller
	-- sees.
	IF manifest IS NULL THEN
		PERFORM imagestream._refuse_unseen_image(digest, 'Pass the image''s manifest to record it.');
	END IF;

	-- the stream first: prune, which locks every stream, then cannot delete
	-- the image between its check here and the event
	s := imagestream._lock_stream(d.namespace, d.stream, true);
	PERFORM imagestream._refuse_protected(d.namespace, d.stream, d.tag, 'map_image() would move it');
	IF expected_image IS NOT NULL THEN
		PERFORM imagestream._check_expected(d.namespace, d.stream, d.tag,
			(SELECT x.image FROM imagestream.tag x WHERE x.stream_id = s.id AND x.name = d.tag),
			expected_image);
	END IF;
	IF manifest IS NOT NULL THEN
		PERFORM imagestream._catalogue_manifest(digest, media_type, manifest, ref);
	ELSE
		PERFORM imagestream._ensure_image(digest, ref);
	END IF;
	t := imagestream._lock_tag(s, d.tag, true);
	-- a push records the stream's current generation
	PERFORM imagestream._add_event(t.id, ref, digest, s.generation);
END $$;

CREATE OR REPLACE FUNCTION map_image(tag text, docker_image_reference image_ref,
	image image_digest DEFAULT NULL, manifest bytea DEFAULT NULL, media_type text DEFAULT NULL,
	expected_image image_digest DEFAULT NULL)
RETURNS void
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C;
COMMENT ON FUNCTION map_image(text, image_ref, image_digest, bytea, text, image_digest) IS 'OpenShift ImageStreamMapping: record a pushed image as a tag''s current image';
