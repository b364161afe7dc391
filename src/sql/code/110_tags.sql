-- Stream and tag rows: locked (and created) in one order by every writer,
-- and a tag's spec (TagReference) set with OpenShift's generation rules
-- (doc/model.md).  Internal: called by the API functions.

-- The stream row, locked; created (generation 1) when missing and p_create.
CREATE OR REPLACE FUNCTION _lock_stream(p_ns text, p_name text, p_create boolean DEFAULT false)
RETURNS imagestream.stream LANGUAGE plpgsql AS $$
DECLARE
	s imagestream.stream;
BEGIN
	SELECT * INTO s FROM imagestream.stream
		WHERE namespace = p_ns AND name = p_name FOR UPDATE;
	IF NOT FOUND AND p_create THEN
		INSERT INTO imagestream.stream (namespace, name) VALUES (p_ns, p_name)
			ON CONFLICT (namespace, name) DO NOTHING;
		SELECT * INTO s FROM imagestream.stream
			WHERE namespace = p_ns AND name = p_name FOR UPDATE;
	END IF;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'image stream "%/%" does not exist', p_ns, p_name
			USING ERRCODE = 'undefined_object';
	END IF;
	RETURN s;
END $$;

-- The tag row of a stream, locked; created empty when missing and p_create.
-- A tag's row, unlocked, for the functions that only read it (42704 when
-- it does not exist, as _lock_tag says).
CREATE OR REPLACE FUNCTION _find_tag(p_ns text, p_stream text, p_tag text) RETURNS imagestream.tag
LANGUAGE plpgsql STABLE AS $$
DECLARE
	t imagestream.tag;
BEGIN
	SELECT * INTO t FROM imagestream.tag WHERE namespace = p_ns AND stream = p_stream AND name = p_tag;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'image stream tag "%/%:%" does not exist', p_ns, p_stream, p_tag
			USING ERRCODE = 'undefined_object';
	END IF;
	RETURN t;
END $$;

CREATE OR REPLACE FUNCTION _lock_tag(p_stream imagestream.stream, p_tag text, p_create boolean DEFAULT false)
RETURNS imagestream.tag LANGUAGE plpgsql AS $$
DECLARE
	t imagestream.tag;
BEGIN
	SELECT * INTO t FROM imagestream.tag
		WHERE namespace = p_stream.namespace AND stream = p_stream.name AND name = p_tag
		FOR UPDATE;
	IF NOT FOUND AND p_create THEN
		INSERT INTO imagestream.tag (stream_id, namespace, stream, name)
			VALUES (p_stream.id, p_stream.namespace, p_stream.name, p_tag)
			RETURNING * INTO t;
	ELSIF NOT FOUND THEN
		RAISE EXCEPTION 'image stream tag "%/%:%" does not exist', p_stream.namespace, p_stream.name, p_tag
			USING ERRCODE = 'undefined_object';
	END IF;
	RETURN t;
END $$;

-- Compare-and-swap (doc/promotion.md): refuses (40001) a move of a tag
-- whose current image is not the one its caller read (p_expected; NULL:
-- the tag must have no image), so that a client that lost a race reads
-- again and decides anew.  Callers check it with the tag's stream locked:
-- every writer of a tag locks its stream first, so the image cannot change
-- between the check and the move.  The caller has edit on the namespace:
-- the current digest in the detail tells it nothing it may not read.
CREATE OR REPLACE FUNCTION _check_expected(p_ns text, p_stream text, p_tag text,
	p_current image_digest, p_expected image_digest) RETURNS void
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
	IF p_current IS DISTINCT FROM p_expected THEN
		RAISE EXCEPTION 'image stream tag "%/%:%" does not have the expected image', p_ns, p_stream, p_tag
			USING ERRCODE = 'serialization_failure',
				DETAIL = format('Expected %s; it has %s.', coalesce(p_expected::text, 'no image'),
								coalesce(p_current::text, 'no image')),
				HINT = 'Another change moved it since it was read: read it again and decide anew.';
	END IF;
END $$;

-- A tag with no spec, no history and no condition does not exist.
CREATE OR REPLACE FUNCTION _drop_if_empty(p_tag_id bigint) RETURNS void
LANGUAGE sql AS $$
	DELETE FROM imagestream.tag
	WHERE id = p_tag_id AND NOT has_spec AND history_length = 0 AND import_status IS NULL
$$;

-- Whether a tag is imported from a registry (by the worker, import_now and
-- import_image of a stream's tags): its spec takes a container image
-- (DockerImage) and is no reference.  Inlined where it is called, so it
-- names its operators by schema rather than pinning search_path.
CREATE OR REPLACE FUNCTION _importable(t imagestream.tag) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
	SELECT t.has_spec AND t.from_kind OPERATOR(pg_catalog.=) 'DockerImage' AND NOT t.reference
$$;

-- Whether a tag's spec is newer than what its status shows, an import's
-- event or failure (OpenShift's pending import).
CREATE OR REPLACE FUNCTION _spec_pending(t imagestream.tag) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
	SELECT t.spec_generation OPERATOR(pg_catalog.>)
		greatest(coalesce(t.status_generation, 0), coalesce(t.import_generation, 0))
$$;

-- resolve() of a tag with an image honours its reference policy (Local: the
-- stream's repository on imagestream.local_registry), so a change of the
-- policy is a change of what resolve() returns: logged as tag_updated of the
-- same image (previous_image = image) with the pull spec resolve() returns
-- now, whatever imagestream.local_registry is (a setting that may change
-- later).  old_t and new_t are the tag row before and after the change; a new
-- image recorded by the same call is logged after it, as its own change.
CREATE OR REPLACE FUNCTION _log_policy_change(old_t imagestream.tag, new_t imagestream.tag,
	p_generation bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	IF new_t.image IS NOT NULL
	   AND (old_t.has_spec AND old_t.reference_policy = 'Local')
		   IS DISTINCT FROM (new_t.has_spec AND new_t.reference_policy = 'Local') THEN
		PERFORM imagestream._log_change('tag_updated', new_t.namespace, new_t.stream, new_t.name,
			new_t.image, new_t.image, imagestream._pull_spec(new_t), p_generation);
		PERFORM imagestream._fire_triggers(ARRAY[new_t]);
	END IF;
END $$;

-- A tag with a signature gate (155_gates.sql) follows a container image:
-- signatures are looked up by its own imports, so a spec of another kind
-- (an alias, a stream image) is refused (55000), by tag() and promote().
CREATE OR REPLACE FUNCTION _refuse_signature_kind(t imagestream.tag, p_kind source_kind) RETURNS void
LANGUAGE plpgsql STABLE AS $$
BEGIN
	IF t.gated AND p_kind <> 'DockerImage'
	   AND EXISTS (SELECT 1 FROM imagestream.tag_gate g WHERE g.tag_id = t.id AND g.signed_by IS NOT NULL) THEN
		RAISE EXCEPTION 'image stream tag "%/%:%" has a signature gate', t.namespace, t.stream, t.name
			USING ERRCODE = 'object_not_in_prerequisite_state',
				DETAIL = 'Signatures are looked up by the imports of a tag that follows a container image.',
				HINT = 'Clear its signed_by gate with imagestream.set_gates() first.';
	END IF;
END $$;

-- Sets a tag's spec (TagReference) with OpenShift's generation rules: the
-- stream generation grows by one when the spec differs at all; the tag's
-- generation becomes the stream's when the tag is new or its source,
-- reference flag or import mode changed (tagRefChanged), which ref_changed
-- reports.  In a stream created by the same call the spec is part of the
-- creation: generation 1 for both.  A change of the reference policy that
-- moves resolve() is logged (_log_policy_change).
CREATE OR REPLACE FUNCTION _set_spec(p_stream imagestream.stream, p_tag text, p_kind source_kind,
	p_from text, p_reference boolean, p_scheduled boolean, p_insecure boolean,
	p_import_mode import_mode, p_policy reference_policy, p_annotations jsonb,
	p_new_stream boolean DEFAULT false, OUT t imagestream.tag, OUT ref_changed boolean)
LANGUAGE plpgsql AS $$
DECLARE
	gen bigint := p_stream.generation;
	differs boolean;
	was imagestream.tag;
BEGIN
	t := imagestream._lock_tag(p_stream, p_tag, true);
	was := t;
	PERFORM imagestream._refuse_signature_kind(t, p_kind);
	ref_changed := NOT t.has_spec OR t.from_ref IS DISTINCT FROM p_from
		OR t.reference <> p_reference OR t.import_mode <> p_import_mode;
	differs := ref_changed OR t.from_kind IS DISTINCT FROM p_kind
		OR t.scheduled <> p_scheduled OR t.insecure <> p_insecure
		OR t.reference_policy <> p_policy OR t.annotations <> p_annotations;
	IF differs AND NOT p_new_stream THEN
		UPDATE imagestream.stream SET generation = generation + 1
			WHERE id = p_stream.id RETURNING generation INTO gen;
	END IF;
	UPDATE imagestream.tag
	SET has_spec = true, from_kind = p_kind, from_ref = p_from, reference = p_reference,
		scheduled = p_scheduled, insecure = p_insecure, import_mode = p_import_mode,
		reference_policy = p_policy, annotations = p_annotations,
		spec_generation = CASE WHEN ref_changed THEN gen ELSE spec_generation END
	WHERE id = t.id
	RETURNING * INTO t;
	PERFORM imagestream._log_policy_change(was, t, gen);
END $$;
