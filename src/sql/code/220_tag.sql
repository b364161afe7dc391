-- oc tag and oc tag -d.

-- The kind of a source written without one, from its text alone as oc tag
-- decides it: a registry host as first component (with "." or ":", or
-- "localhost") is a DockerImage; otherwise "...@id" is an ImageStreamImage
-- and anything else an ImageStreamTag.  No lookup: a name that is no stream
-- is an error later, never a silent pull from Docker Hub.
CREATE OR REPLACE FUNCTION _source_kind(p_source text) RETURNS source_kind
LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE
		WHEN strpos(p_source, '/') > 0 AND (strpos(split_part(p_source, '/', 1), '.') > 0
			OR strpos(split_part(p_source, '/', 1), ':') > 0 OR split_part(p_source, '/', 1) = 'localhost')
			THEN 'DockerImage'
		WHEN strpos(p_source, '@') > 0 THEN 'ImageStreamImage'
		ELSE 'ImageStreamTag'
	END::imagestream.source_kind
$$;

-- "[ns/]stream:tag" or "[ns/]stream@id" of a source, its namespace
-- defaulting to the destination's.
CREATE OR REPLACE FUNCTION _parse_source(p_source text, p_kind source_kind, p_default_ns text,
	OUT namespace text, OUT stream text, OUT tag text, OUT id text)
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
	full_name text := CASE WHEN strpos(p_source, '/') > 0 THEN p_source
						   ELSE p_default_ns || '/' || p_source END;
	n record;
BEGIN
	IF p_kind = 'ImageStreamTag' THEN
		IF strpos(p_source, ':') = 0 THEN
			RAISE EXCEPTION 'source "%" of kind ImageStreamTag has no tag', p_source
				USING ERRCODE = 'invalid_parameter_value',
					HINT = 'Write it as "namespace/stream:tag" or "stream:tag"; a container image needs its registry, as in "docker.io/library/nginx:1.25", or source_kind => ''DockerImage''.';
		END IF;
		n := imagestream._parse_tag(full_name);
		namespace := n.namespace; stream := n.stream; tag := n.tag;
	ELSE
		n := imagestream._parse_stream_image(full_name);
		namespace := n.namespace; stream := n.stream; id := n.id;
	END IF;
END $$;

-- ResolveImageID: the one image of a stream's history whose digest starts
-- with id, and the pull spec of its newest event.
CREATE OR REPLACE FUNCTION _resolve_image_id(p_ns text, p_stream text, p_id text,
	OUT image image_digest, OUT docker_image_reference image_ref)
LANGUAGE plpgsql STABLE AS $$
DECLARE
	matches image_digest[];
BEGIN
	SELECT array_agg(DISTINCT h.image) INTO matches
	FROM imagestream._history h JOIN imagestream.tag t ON t.id = h.tag_id
	WHERE t.namespace = p_ns AND t.stream = p_stream AND h.image IS NOT NULL
	  AND imagestream.digest_has_prefix(h.image, p_id);
	IF matches IS NULL THEN
		RAISE EXCEPTION 'image "%" not found in image stream "%/%"', p_id, p_ns, p_stream
			USING ERRCODE = 'undefined_object';
	ELSIF cardinality(matches) > 1 THEN
		RAISE EXCEPTION 'more than one image of image stream "%/%" matches "%"', p_ns, p_stream, p_id
			USING ERRCODE = 'cardinality_violation',
				DETAIL = format('Matching images: %s.', array_to_string(matches, ', ')),
				HINT = 'Give more digits of the digest.';
	END IF;
	image := matches[1];
	SELECT h.docker_image_reference INTO docker_image_reference
	FROM imagestream._history h JOIN imagestream.tag t ON t.id = h.tag_id
	WHERE t.namespace = p_ns AND t.stream = p_stream AND h.image = matches[1]
	ORDER BY h.seq DESC LIMIT 1;
END $$;

-- A source stream must exist and be visible (p_hint: what the error hints).
-- One the caller may not view is refused with the message of a missing one:
-- whether it is 42501 or 42704 depends on rights alone, so tag() tells
-- nothing of the streams of another namespace (doc/security.md).
CREATE OR REPLACE FUNCTION _require_source_stream(p_ns text, p_stream text, p_hint text) RETURNS void
LANGUAGE plpgsql STABLE AS $$
BEGIN
	IF NOT imagestream._can(p_ns, 'view') THEN
		RAISE EXCEPTION 'image stream "%/%" does not exist', p_ns, p_stream
			USING ERRCODE = 'insufficient_privilege', HINT = p_hint,
				DETAIL = format('This needs the view right on namespace "%s".', p_ns);
	ELSIF NOT EXISTS (SELECT 1 FROM imagestream.stream WHERE namespace = p_ns AND name = p_stream) THEN
		RAISE EXCEPTION 'image stream "%/%" does not exist', p_ns, p_stream
			USING ERRCODE = 'undefined_object', HINT = p_hint;
	END IF;
END $$;

-- The pull spec a copy records (OpenShift's tagsChanged): one on
-- imagestream.local_registry under the source stream's repository moves to
-- the destination stream's, keeping its tag and digest, so that pulls are
-- authorised by the destination's namespace.  Any other comes as it is.
CREATE OR REPLACE FUNCTION _copy_reference(p_ref image_ref, p_src_ns text, p_src_stream text,
	p_dest_ns text, p_dest_stream text) RETURNS image_ref
LANGUAGE plpgsql STABLE AS $$
DECLARE
	registry text := nullif(current_setting('imagestream.local_registry', true), '');
	ref imagestream.image_ref;
BEGIN
	IF registry IS NULL
	   OR imagestream.ref_name(p_ref) <> format('%s/%s/%s', registry, p_src_ns, p_src_stream) THEN
		RETURN p_ref;
	END IF;
	ref := format('%s/%s/%s', registry, p_dest_ns, p_dest_stream)::imagestream.image_ref;
	IF imagestream.ref_tag(p_ref) IS NOT NULL THEN
		ref := imagestream.ref_with_tag(ref, imagestream.ref_tag(p_ref));
	END IF;
	IF imagestream.ref_digest(p_ref) IS NOT NULL THEN
		ref := imagestream.ref_with_digest(ref, imagestream.ref_digest(p_ref));
	END IF;
	RETURN ref;
END $$;

-- Pins a tag to an image of a stream (kind ImageStreamImage) and records it.
-- p_via: the route of a move that must happen (promote()), recorded with the
-- change: the tag moves to the image even when its pin did not change (an
-- image mapped since left the pin), where tag(), as oc tag, records an event
-- only for a new pin.
CREATE OR REPLACE FUNCTION _tag_image(p_dest imagestream.stream, p_tag text, p_src_ns text,
	p_src_stream text, p_id text, p_reference boolean, p_import_mode import_mode,
	p_policy reference_policy, p_new_stream boolean, p_via text DEFAULT NULL) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	found record;
	spec record;
BEGIN
	found := imagestream._resolve_image_id(p_src_ns, p_src_stream, p_id);
	spec := imagestream._set_spec(p_dest, p_tag, 'ImageStreamImage',
		format('%s/%s@%s', p_src_ns, p_src_stream, found.image), p_reference, false, false,
		p_import_mode, p_policy, '{}', p_new_stream);
	IF spec.ref_changed OR (p_via IS NOT NULL AND (spec.t).image IS DISTINCT FROM found.image) THEN
		PERFORM imagestream._add_event((spec.t).id, CASE WHEN p_reference THEN found.docker_image_reference
			ELSE imagestream._copy_reference(found.docker_image_reference, p_src_ns, p_src_stream,
											 p_dest.namespace, p_dest.name) END,
			found.image, (spec.t).spec_generation, now(), p_via);
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

-- OpenShift's generation reset: oc tag writes a DockerImage spec with
-- generation 0, which the server reads as a changed tag (tagRefChanged), so
-- tagging the same source again requests a fresh import.  The stream's
-- generation grows by one for the call (unless _set_spec moved it already,
-- p_stream being the row as locked before), and the tag's spec generation
-- becomes it: the tag is pending.
CREATE OR REPLACE FUNCTION _reset_generation(p_stream imagestream.stream, p_tag imagestream.tag)
RETURNS imagestream.tag LANGUAGE plpgsql AS $$
DECLARE
	gen bigint;
	t imagestream.tag;
BEGIN
	UPDATE imagestream.stream SET generation = generation + 1
		WHERE id = p_stream.id AND generation = p_stream.generation;
	SELECT generation INTO gen FROM imagestream.stream WHERE id = p_stream.id;
	UPDATE imagestream.tag SET spec_generation = gen WHERE id = p_tag.id RETURNING * INTO t;
	RETURN t;
END $$;

CREATE OR REPLACE FUNCTION _api_tag(source text, destination text, source_kind source_kind DEFAULT NULL,
	alias boolean DEFAULT false, reference boolean DEFAULT false,
	scheduled boolean DEFAULT false, insecure boolean DEFAULT false,
	reference_policy reference_policy DEFAULT 'Source',
	import_mode import_mode DEFAULT 'Legacy', expected_image image_digest DEFAULT NULL)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
DECLARE
	d record := imagestream._parse_tag(destination);
	kind imagestream.source_kind := source_kind;
	src record;
	s imagestream.stream;
	head imagestream.tag;
	spec record;
	ref imagestream.image_ref;
	hop imagestream.tag;
	v_alias boolean := coalesce(alias, false);
	v_reference boolean := coalesce(reference, false);
	v_scheduled boolean := coalesce(scheduled, false);
	v_insecure boolean := coalesce(insecure, false);
	v_policy imagestream.reference_policy := coalesce(reference_policy, 'Source');
	v_mode imagestream.import_mode := coalesce(import_mode, 'Legacy');
	new_stream boolean;
	hint text := 'A stream of a namespace you may not view counts as missing.';
BEGIN
	IF source IS NULL THEN
		RAISE EXCEPTION 'a source is required' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	PERFORM imagestream._require(d.namespace, 'edit');
	PERFORM imagestream._refuse_followed(d.namespace, d.stream, d.tag, 'tag()');
	IF kind IS NULL THEN
		kind := imagestream._source_kind(source);
		hint := 'A container image needs its registry, as in "docker.io/library/nginx:1.25", or source_kind => ''DockerImage''.';
	END IF;
	IF kind <> 'DockerImage' AND (v_scheduled OR v_insecure) THEN
		RAISE EXCEPTION 'only tags from container images (DockerImage) can be scheduled or insecure'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF v_alias AND kind <> 'ImageStreamTag' THEN
		RAISE EXCEPTION 'only a tag of an image stream can be aliased'
			USING ERRCODE = 'invalid_parameter_value',
				DETAIL = format('The source "%s" is of kind %s.', source, kind);
	END IF;

	IF kind <> 'DockerImage' THEN
		src := imagestream._parse_source(source, kind, d.namespace);
		PERFORM imagestream._require_source_stream(src.namespace, src.stream, hint);
	END IF;
	IF v_alias THEN
		IF src.namespace <> d.namespace OR src.stream <> d.stream THEN
			RAISE EXCEPTION 'cannot alias a tag of another image stream'
				USING ERRCODE = 'invalid_parameter_value',
					DETAIL = 'An alias follows a tag of its own stream, as in OpenShift.';
		END IF;
	END IF;

	new_stream := NOT EXISTS (SELECT 1 FROM imagestream.stream
							  WHERE namespace = d.namespace AND name = d.stream);
	s := imagestream._lock_stream(d.namespace, d.stream, true);
	PERFORM imagestream._refuse_protected(d.namespace, d.stream, d.tag, 'tag() would move it');
	IF expected_image IS NOT NULL THEN
		PERFORM imagestream._check_expected(d.namespace, d.stream, d.tag,
			(SELECT x.image FROM imagestream.tag x WHERE x.stream_id = s.id AND x.name = d.tag),
			expected_image);
	END IF;

	IF kind = 'ImageStreamTag' AND v_alias THEN
		-- follow the chain from the source; reaching the destination is a cycle
		hop.name := src.tag;
		LOOP
			IF hop.name = d.tag THEN
				RAISE EXCEPTION 'tag "%" cannot follow "%": that would make a cycle', destination, source
					USING ERRCODE = 'invalid_parameter_value';
			END IF;
			SELECT * INTO hop FROM imagestream.tag
			WHERE stream_id = s.id AND name = hop.name AND has_spec AND from_kind = 'ImageStreamTag';
			EXIT WHEN NOT FOUND;
			hop.name := substr(hop.from_ref, length(format('%s/%s:', s.namespace, s.name)) + 1);
		END LOOP;
		spec := imagestream._set_spec(s, d.tag, 'ImageStreamTag',
			format('%s/%s:%s', s.namespace, s.name, src.tag), v_reference, false, false,
			v_mode, v_policy, '{}', new_stream);
		SELECT * INTO head FROM imagestream.tag
		WHERE stream_id = s.id AND name = src.tag AND docker_image_reference IS NOT NULL;
		IF spec.ref_changed AND FOUND THEN
			PERFORM imagestream._add_event((spec.t).id, head.docker_image_reference, head.image,
										   (spec.t).spec_generation, head.created);
		END IF;
		RETURN;
	END IF;

	IF kind = 'ImageStreamTag' THEN
		-- a copy: the source's current image, pinned by digest
		SELECT * INTO head FROM imagestream.tag
		WHERE namespace = src.namespace AND stream = src.stream AND name = src.tag;
		IF NOT FOUND THEN
			RAISE EXCEPTION 'image stream tag "%/%:%" does not exist', src.namespace, src.stream, src.tag
				USING ERRCODE = 'undefined_object', HINT = hint;
		ELSIF head.docker_image_reference IS NULL THEN
			RAISE EXCEPTION 'image stream tag "%/%:%" has no image', src.namespace, src.stream, src.tag
				USING ERRCODE = 'no_data_found',
					DETAIL = 'A tag that does not point to an image cannot be the source of a tag.';
		END IF;
		IF head.image IS NOT NULL THEN
			PERFORM imagestream._tag_image(s, d.tag, src.namespace, src.stream,
				head.image::text, v_reference, v_mode, v_policy, new_stream);
			RETURN;
		END IF;
		-- a reference-only event: tag its pull spec, as oc does
		kind := 'DockerImage';
		ref := head.docker_image_reference;
	ELSIF kind = 'ImageStreamImage' THEN
		PERFORM imagestream._tag_image(s, d.tag, src.namespace, src.stream, src.id,
			v_reference, v_mode, v_policy, new_stream);
		RETURN;
	ELSE
		ref := source::imagestream.image_ref;
	END IF;

	spec := imagestream._set_spec(s, d.tag, 'DockerImage', ref::text, v_reference,
		v_scheduled, v_insecure, v_mode, v_policy, '{}', new_stream);
	IF NOT spec.ref_changed THEN
		spec.t := imagestream._reset_generation(s, spec.t);
	END IF;
	IF v_reference THEN
		PERFORM imagestream._add_event((spec.t).id, ref, NULL, (spec.t).spec_generation);
	ELSE
		PERFORM imagestream._wake_worker();		-- the tag is pending
	END IF;
END $$;

CREATE OR REPLACE FUNCTION tag(source text, destination text, source_kind source_kind DEFAULT NULL,
	alias boolean DEFAULT false, reference boolean DEFAULT false,
	scheduled boolean DEFAULT false, insecure boolean DEFAULT false,
	reference_policy reference_policy DEFAULT 'Source',
	import_mode import_mode DEFAULT 'Legacy', expected_image image_digest DEFAULT NULL)
RETURNS void
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C;
COMMENT ON FUNCTION tag(text, text, source_kind, boolean, boolean, boolean, boolean, reference_policy, import_mode, image_digest)
	IS 'oc tag: point a tag at a container image, a tag or an image of a stream';

CREATE OR REPLACE FUNCTION _api_untag(tag text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
DECLARE
	d record := imagestream._parse_tag(tag);
	s imagestream.stream;
	t imagestream.tag;
	gen bigint;
BEGIN
	PERFORM imagestream._require(d.namespace, 'edit');
	s := imagestream._lock_stream(d.namespace, d.stream);
	PERFORM imagestream._refuse_protected(d.namespace, d.stream, d.tag, 'untag() would remove it');
	t := imagestream._lock_tag(s, d.tag);
	gen := s.generation;
	IF t.has_spec THEN
		UPDATE imagestream.stream SET generation = generation + 1
			WHERE id = s.id RETURNING generation INTO gen;
	END IF;
	DELETE FROM imagestream.tag WHERE id = t.id;
	-- (its policy is part of its spec)
	DELETE FROM imagestream.tag_policy p WHERE p.stream_id = s.id AND p.tag = t.name;
	PERFORM imagestream._log_change('tag_deleted', t.namespace, t.stream, t.name,
		NULL, t.image, t.docker_image_reference, gen);
END $$;

CREATE OR REPLACE FUNCTION untag(tag text) RETURNS void
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C;
COMMENT ON FUNCTION untag(text) IS 'oc tag -d: remove a tag''s spec and status';
