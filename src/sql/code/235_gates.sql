-- set_gates, gates and approve (doc/gates.md): the API of the gates whose
-- rules are in 155_gates.sql.

-- Refuses gates a tag could never pass, or that would cost without bound
-- to evaluate (22023); the keys named must exist (42704).
CREATE OR REPLACE FUNCTION _check_gates(p_namespace text, p_min_age interval, p_platforms text[],
	p_labels jsonb, p_signed_by text[]) RETURNS void
LANGUAGE plpgsql STABLE AS $$
DECLARE
	k text;
	bad text;
BEGIN
	IF p_min_age < interval '0' OR p_min_age > interval '10 years' THEN
		RAISE EXCEPTION 'min_age % is out of range', p_min_age
			USING ERRCODE = 'invalid_parameter_value', DETAIL = 'It is from 0 to 10 years.';
	END IF;
	IF cardinality(p_platforms) = 0 OR cardinality(p_platforms) > 32 THEN
		RAISE EXCEPTION 'platforms must name 1 to 32 platforms' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	SELECT p INTO bad FROM unnest(p_platforms) p
	WHERE p IS NULL OR p !~ '^[a-z0-9]{1,32}/[a-z0-9_]{1,32}(/[a-z0-9]{1,32})?$' LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'platform "%" is not os/architecture[/variant]', bad
			USING ERRCODE = 'invalid_parameter_value', HINT = 'For example linux/amd64 or linux/arm64/v8.';
	END IF;
	IF p_labels IS NOT NULL THEN
		IF jsonb_typeof(p_labels) <> 'object' OR p_labels = '{}' THEN
			RAISE EXCEPTION 'labels must be a JSON object of label names and values'
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		SELECT e.key INTO bad FROM jsonb_each(p_labels) e
		WHERE jsonb_typeof(e.value) <> 'string' OR length(e.key) > 256 OR length(e.value #>> '{}') > 1024
		LIMIT 1;
		IF FOUND OR (SELECT count(*) FROM jsonb_object_keys(p_labels)) > 64 THEN
			RAISE EXCEPTION 'labels must be at most 64 labels with string values'
				USING ERRCODE = 'invalid_parameter_value',
					DETAIL = format('A name is at most 256 characters, a value 1024%s.',
									CASE WHEN bad IS NOT NULL THEN format('; "%s" is not such a label', left(bad, 64)) ELSE '' END);
		END IF;
	END IF;
	IF cardinality(p_signed_by) = 0 OR cardinality(p_signed_by) > 16
	   OR cardinality(p_signed_by) <> (SELECT count(DISTINCT u) FROM unnest(p_signed_by) u) THEN
		RAISE EXCEPTION 'signed_by must name 1 to 16 trusted keys, each once'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	FOREACH k IN ARRAY coalesce(p_signed_by, '{}') LOOP
		IF k IS NULL OR imagestream._trusted_key_pem(p_namespace, k) IS NULL THEN
			RAISE EXCEPTION 'trusted key "%" does not exist', k
				USING ERRCODE = 'undefined_object',
					DETAIL = format('Neither namespace "%s" nor the server has a trusted key of that name.', p_namespace),
					HINT = 'Add it with imagestream.add_trusted_key().';
		END IF;
	END LOOP;
END $$;

CREATE OR REPLACE FUNCTION _api_set_gates(tag text, min_age interval DEFAULT NULL,
	platforms text[] DEFAULT NULL, labels jsonb DEFAULT NULL, signed_by text[] DEFAULT NULL,
	approval boolean DEFAULT false)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
DECLARE
	d record := imagestream._parse_tag(tag);
	s imagestream.stream;
	t imagestream.tag;
BEGIN
	PERFORM imagestream._require(d.namespace, 'edit');
	PERFORM imagestream._check_gates(d.namespace, min_age, platforms, labels, signed_by);
	s := imagestream._lock_stream(d.namespace, d.stream);
	t := imagestream._lock_tag(s, d.tag);
	IF NOT t.has_spec THEN
		RAISE EXCEPTION 'image stream tag "%/%:%" has no source', d.namespace, d.stream, d.tag
			USING ERRCODE = 'object_not_in_prerequisite_state',
				DETAIL = 'Gates apply to what imports bring: a tag that follows an image or a tag.',
				HINT = 'Give it a source with imagestream.tag() first.';
	END IF;
	IF signed_by IS NOT NULL AND t.from_kind <> 'DockerImage' THEN
		RAISE EXCEPTION 'image stream tag "%/%:%" imports no image', d.namespace, d.stream, d.tag
			USING ERRCODE = 'object_not_in_prerequisite_state',
				DETAIL = 'Signatures are looked up by the imports of a tag that follows a container image.',
				HINT = 'Set the signature gate on the tag it follows.';
	END IF;
	IF min_age IS NULL AND platforms IS NULL AND labels IS NULL AND signed_by IS NULL
	   AND NOT coalesce(approval, false) THEN
		DELETE FROM imagestream.tag_gate g WHERE g.tag_id = t.id;
		UPDATE imagestream.tag x SET gated = false WHERE x.id = t.id AND x.gated;
	ELSE
		UPDATE imagestream.tag x SET gated = true WHERE x.id = t.id AND NOT x.gated;
		INSERT INTO imagestream.tag_gate AS g (tag_id, min_age, platforms, labels, signed_by, approval)
		VALUES (t.id, min_age, platforms, labels, signed_by, coalesce(approval, false))
		ON CONFLICT (tag_id) DO UPDATE
		SET min_age = excluded.min_age, platforms = excluded.platforms, labels = excluded.labels,
			signed_by = excluded.signed_by, approval = excluded.approval;
	END IF;
	-- a candidate held back meets the new gates now; one they still hold
	-- is fetched again (with its signatures, if they are asked for now)
	IF NOT imagestream._gate_retry(t.id)
	   AND EXISTS (SELECT 1 FROM imagestream.gate_candidate c WHERE c.tag_id = t.id) THEN
		PERFORM imagestream._mark_due(ARRAY[t.id]);
	END IF;
END $$;

CREATE OR REPLACE FUNCTION set_gates(tag text, min_age interval DEFAULT NULL,
	platforms text[] DEFAULT NULL, labels jsonb DEFAULT NULL, signed_by text[] DEFAULT NULL,
	approval boolean DEFAULT false)
RETURNS void
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C;
COMMENT ON FUNCTION set_gates(text, interval, text[], jsonb, text[], boolean)
	IS 'set the gates an import must pass to move a tag (NULLs clear them)';

CREATE OR REPLACE FUNCTION _api_gates(tag text)
RETURNS TABLE (gate text, setting text, candidate image_digest, passed boolean, detail text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
DECLARE
	d record := imagestream._parse_tag(tag);
	t imagestream.tag;
	c imagestream.gate_candidate;
BEGIN
	PERFORM imagestream._require(d.namespace, 'view');
	t := imagestream._find_tag(d.namespace, d.stream, d.tag);
	SELECT * INTO c FROM imagestream.gate_candidate x WHERE x.tag_id = t.id;
	-- the candidate held back, else the image the tag has
	IF c.tag_id IS NULL AND t.image IS NULL THEN
		RETURN QUERY SELECT g.gate, g.setting, NULL::imagestream.image_digest, NULL::boolean,
			'No image has been offered yet.'
		FROM imagestream._gate_checks(t.id, t.namespace, NULL, NULL) g;
		RETURN;
	END IF;
	RETURN QUERY SELECT g.gate, g.setting, coalesce(c.image, t.image), g.passed, g.detail
	FROM imagestream._gate_checks(t.id, t.namespace, coalesce(c.image, t.image),
		CASE WHEN c.tag_id IS NOT NULL THEN coalesce(c.source_digest, c.image)
			 ELSE coalesce(t.source_digest, t.image) END) g;
END $$;

CREATE OR REPLACE FUNCTION gates(tag text)
RETURNS TABLE (gate text, setting text, candidate image_digest, passed boolean, detail text)
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C STABLE;
COMMENT ON FUNCTION gates(text) IS 'each gate of a tag and what it says of the current candidate';

CREATE OR REPLACE FUNCTION _api_approve(tag text, image text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
DECLARE
	d record := imagestream._parse_tag(tag);
	digest imagestream.image_digest;
	t imagestream.tag;
BEGIN
	PERFORM imagestream._require(d.namespace, 'admin');
	IF image IS NULL THEN
		RAISE EXCEPTION 'image is required' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	digest := image::imagestream.image_digest;
	t := imagestream._lock_tag(imagestream._lock_stream(d.namespace, d.stream), d.tag);
	IF NOT EXISTS (SELECT 1 FROM imagestream.tag_gate g WHERE g.tag_id = t.id AND g.approval) THEN
		RAISE EXCEPTION 'image stream tag "%/%:%" has no approval gate', d.namespace, d.stream, d.tag
			USING ERRCODE = 'object_not_in_prerequisite_state',
				HINT = 'Set one with imagestream.set_gates(approval => true).';
	END IF;
	-- the first approval of an image for a tag is the one kept
	INSERT INTO imagestream.gate_approval (tag_id, image, approver)
	VALUES (t.id, digest, imagestream._change_actor())
	ON CONFLICT DO NOTHING;
	IF EXISTS (SELECT 1 FROM imagestream.gate_candidate c WHERE c.tag_id = t.id AND c.image = digest) THEN
		PERFORM imagestream._gate_retry(t.id);
	END IF;
END $$;

CREATE OR REPLACE FUNCTION approve(tag text, image text) RETURNS void
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C;
COMMENT ON FUNCTION approve(text, text) IS 'let an image through the approval gate of a tag';
