-- Reading tags: resolve, the lookup policy, history, ImageStreamImage.

-- The pull spec consumers must use for a tag's current event: by digest,
-- from the source repository (policy Source) or the stream's local
-- repository (policy Local, when imagestream.local_registry is set).
CREATE OR REPLACE FUNCTION _pull_spec_of(reference image_ref, image image_digest, local_policy boolean,
							  namespace text, stream text) RETURNS image_ref
	AS 'MODULE_PATHNAME', 'imagestream_pull_spec'
	LANGUAGE C STABLE PARALLEL SAFE;

-- The view image_stream_tags calls it as the caller, under the caller's
-- search_path; it stays inlinable, so it names its operator by schema
-- rather than pinning search_path.
CREATE OR REPLACE FUNCTION _pull_spec(t imagestream.tag) RETURNS image_ref
LANGUAGE sql STABLE AS $$
	SELECT imagestream._pull_spec_of(t.docker_image_reference, t.image,
		t.has_spec AND t.reference_policy OPERATOR(pg_catalog.=) 'Local', t.namespace, t.stream)
$$;

-- In C (src/resolve.c): one index probe, the call consumers make most.
CREATE OR REPLACE FUNCTION resolve(tag text, missing_ok boolean DEFAULT false) RETURNS image_ref
	AS 'MODULE_PATHNAME', 'imagestream_resolve'
	LANGUAGE C STABLE;
COMMENT ON FUNCTION resolve(text, boolean) IS 'the pull spec, by digest, that consumers of a tag must use now';

-- What resolve() returned for a tag at time p_at: the pull spec of its
-- newest event created by then, by the tag's reference policy; NULL before
-- its first event, or when prune removed the events of that time.  (The
-- history rules overwrite the newest event in place when only the pull
-- spec or only the image changes: such a change counts from that event's
-- time.)
CREATE OR REPLACE FUNCTION _api_resolve_at(tag text, at timestamptz) RETURNS image_ref
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
DECLARE
	d record := imagestream._parse_tag(tag);
	t imagestream.tag;
	h imagestream._history;
BEGIN
	PERFORM imagestream._require(d.namespace, 'view');
	IF at IS NULL THEN
		RAISE EXCEPTION 'at is required' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	t := imagestream._find_tag(d.namespace, d.stream, d.tag);
	-- (by time: an alias's event carries its source's, which may be older
	-- than an event of its own before it)
	SELECT * INTO h FROM imagestream._history x
	WHERE x.tag_id = t.id AND x.created <= at ORDER BY x.created DESC, x.seq DESC LIMIT 1;
	RETURN imagestream._pull_spec_of(h.docker_image_reference, h.image,
		t.has_spec AND t.reference_policy = 'Local', t.namespace, t.stream);
END $$;

CREATE OR REPLACE FUNCTION resolve_at(tag text, at timestamptz) RETURNS image_ref
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C STABLE;
COMMENT ON FUNCTION resolve_at(text, timestamptz) IS 'the pull spec resolve() returned for a tag at a given time, from its history';

-- OpenShift's image lookup policy: "name", "name:tag" or "name@id" with no
-- registry and no namespace, naming a stream with lookup_local, resolves
-- through the stream; anything else comes back normalised.
CREATE OR REPLACE FUNCTION _api_resolve_image(namespace text, image text) RETURNS image_ref
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
DECLARE
	n record;
	t imagestream.tag;
	found record;
BEGIN
	PERFORM imagestream._check_names(namespace, 'namespace', namespace, 'x');
	PERFORM imagestream._require(namespace, 'view');
	n := imagestream._parse_short_image(image);
	IF n.stream IS NOT NULL AND EXISTS (SELECT 1 FROM imagestream.stream s
										WHERE s.namespace = _api_resolve_image.namespace
										  AND s.name = n.stream AND s.lookup_local) THEN
		IF n.id IS NOT NULL THEN
			BEGIN
				found := imagestream._resolve_image_id(namespace, n.stream, n.id);
				RETURN imagestream.ref_with_digest(
					imagestream.ref_name(found.docker_image_reference)::imagestream.image_ref, found.image);
			EXCEPTION WHEN undefined_object OR cardinality_violation THEN
				NULL;		-- not an image of the stream: fall through
			END;
		ELSE
			SELECT * INTO t FROM imagestream.tag x
			WHERE x.namespace = _api_resolve_image.namespace AND x.stream = n.stream
			  AND x.name = n.tag;
			IF t.docker_image_reference IS NOT NULL THEN
				RETURN imagestream._pull_spec(t);
			END IF;
		END IF;
	END IF;
	RETURN image::imagestream.image_ref;
END $$;

CREATE OR REPLACE FUNCTION resolve_image(namespace text, image text) RETURNS image_ref
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C STABLE;
COMMENT ON FUNCTION resolve_image(text, text) IS 'resolve a short image name through streams with local lookup in a namespace';

-- os/architecture[/variant] of an image, or of each child of an index.
CREATE OR REPLACE FUNCTION _platforms(p_image image_digest) RETURNS text[]
LANGUAGE sql STABLE AS $$
	SELECT CASE
		WHEN i.os IS NOT NULL THEN ARRAY[concat_ws('/', i.os, i.architecture, i.variant)]
		ELSE (SELECT array_agg(concat_ws('/', c.os, c.architecture, c.variant) ORDER BY c.position)
			  FROM imagestream.image_child c WHERE c.image = i.digest AND c.os IS NOT NULL)
	END
	FROM imagestream.image i WHERE i.digest = p_image
$$;

CREATE OR REPLACE FUNCTION _api_history(tag text) RETURNS SETOF tag_event
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
DECLARE
	d record := imagestream._parse_tag(tag);
	t_id bigint;
BEGIN
	PERFORM imagestream._require(d.namespace, 'view');
	SELECT id INTO t_id FROM imagestream.tag
	WHERE namespace = d.namespace AND stream = d.stream AND name = d.tag;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'image stream tag "%" does not exist', _api_history.tag
			USING ERRCODE = 'undefined_object';
	END IF;
	RETURN QUERY
		SELECT (row_number() OVER (ORDER BY h.seq DESC) - 1)::integer, h.created,
			h.docker_image_reference, h.image, h.generation, imagestream._platforms(h.image)
		FROM imagestream._history h WHERE h.tag_id = t_id
		ORDER BY h.seq DESC;
END $$;

CREATE OR REPLACE FUNCTION history(tag text) RETURNS SETOF tag_event
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C STABLE;
COMMENT ON FUNCTION history(text) IS 'the events of a tag, newest (position 0, current) first';

-- The pull spec under which a stream holds an image (OpenShift's
-- ImageStreamImage shows its event's): its newest event of that image, or
-- for a platform image the repository of its index's event.  (The
-- catalogue's one pull spec per image may be another namespace's.)
CREATE OR REPLACE FUNCTION _stream_reference(p_digest image_digest, p_namespace text, p_stream text)
RETURNS image_ref LANGUAGE sql STABLE SET search_path = pg_catalog, imagestream, pg_temp AS $$
	SELECT coalesce(
		(SELECT h.docker_image_reference
		 FROM imagestream._history h JOIN imagestream.tag t ON t.id = h.tag_id
		 WHERE h.image = p_digest AND t.namespace = p_namespace AND t.stream = p_stream
		 ORDER BY h.created DESC LIMIT 1),
		(SELECT imagestream.ref_with_digest(
					imagestream.ref_name(h.docker_image_reference)::imagestream.image_ref, p_digest)
		 FROM imagestream.image_child c
		 JOIN imagestream._history h ON h.image = c.image
		 JOIN imagestream.tag t ON t.id = h.tag_id
		 WHERE c.digest = p_digest AND t.namespace = p_namespace AND t.stream = p_stream
		 ORDER BY h.created DESC LIMIT 1))
$$;

-- An image's metadata as JSON (the image part of OpenShift's ImageStreamImage),
-- with the pull spec p_ref (as OpenShift, the stream's event's).
CREATE OR REPLACE FUNCTION _image_json(p_digest image_digest, p_ref image_ref) RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT jsonb_strip_nulls(jsonb_build_object(
		'digest', i.digest::text, 'mediaType', i.media_type,
		'dockerImageReference', p_ref::text, 'size', i.size,
		'os', i.os, 'architecture', i.architecture, 'variant', i.variant,
		'created', i.created, 'labels', i.labels, 'config', i.config,
		'layers', (SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
						'digest', l.digest::text, 'size', l.size, 'mediaType', l.media_type))
					ORDER BY l.position)
				   FROM imagestream.image_layer l WHERE l.image = i.digest),
		'manifests', (SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
						'digest', c.digest::text, 'mediaType', c.media_type, 'size', c.size,
						'os', c.os, 'architecture', c.architecture, 'variant', c.variant))
					ORDER BY c.position)
				   FROM imagestream.image_child c WHERE c.image = i.digest),
		'importedAt', i.imported_at))
	FROM imagestream.image i WHERE i.digest = p_digest
$$;

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

CREATE OR REPLACE FUNCTION image(stream_image text) RETURNS jsonb
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C STABLE;
COMMENT ON FUNCTION image(text) IS 'OpenShift ImageStreamImage: metadata of an image held by a stream';
