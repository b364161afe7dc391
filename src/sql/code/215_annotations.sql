-- Annotations: set_annotations on a stream (OpenShift's metadata.annotations
-- of an ImageStream) or on a spec tag (its TagReference's annotations), and
-- the rules every writer of annotations checks (doc/functions.md).

-- p_current with p_patch applied: each key of the patch set to its string,
-- or removed when it is JSON null.  Kubernetes' rules: a key is a qualified
-- name (a name of at most 63 characters, optionally after a DNS subdomain
-- prefix of at most 253 and "/"), a value a string, and keys and values take
-- at most 256 kB together (TotalAnnotationSizeLimitB).  The importer's
-- preferences of a tag (importer.image.openshift.io/prefer-os and
-- prefer-arch, src/fetch.c) are at most 64 bytes: the worker keeps them for
-- every tag it imports in a cycle.  Values stored before these rules count
-- towards the size only.
CREATE OR REPLACE FUNCTION _patch_annotations(p_current jsonb, p_patch jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
	bad record;
	merged jsonb;
	total bigint;
BEGIN
	IF p_patch IS NULL OR jsonb_typeof(p_patch) <> 'object' THEN
		RAISE EXCEPTION 'annotations must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	SELECT e.key, jsonb_typeof(e.value) AS type INTO bad FROM jsonb_each(p_patch) e
	WHERE jsonb_typeof(e.value) NOT IN ('string', 'null') LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'annotation "%" must be a string, not %', left(bad.key, 100), bad.type
			USING ERRCODE = 'invalid_parameter_value',
				DETAIL = 'Annotation values are strings, as in Kubernetes; JSON null removes a key.';
	END IF;
	SELECT k.key INTO bad FROM jsonb_object_keys(p_patch) k(key)
	WHERE octet_length(k.key) > 317
	   OR k.key !~ '^([A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$'
	   OR octet_length(regexp_replace(k.key, '^.*/', '')) > 63
	   OR octet_length(k.key) - octet_length(regexp_replace(k.key, '^.*/', '')) > 254
	LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'invalid annotation key "%"', left(bad.key, 100)
			USING ERRCODE = 'invalid_parameter_value',
				DETAIL = 'A key is a name of at most 63 characters (letters, digits, "-", "_" and ".", '
					'beginning and ending with a letter or digit), optionally after a DNS subdomain of '
					'at most 253 characters and "/", as in Kubernetes.';
	END IF;
	SELECT e.key INTO bad FROM jsonb_each_text(p_patch) e
	WHERE e.key IN ('importer.image.openshift.io/prefer-os', 'importer.image.openshift.io/prefer-arch')
	  AND octet_length(e.value) > 64 LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'annotation "%" is longer than 64 bytes', bad.key
			USING ERRCODE = 'program_limit_exceeded',
				DETAIL = 'It names an operating system or a CPU architecture, such as "linux" or "arm64".';
	END IF;

	merged := (p_current - ARRAY(SELECT e.key FROM jsonb_each(p_patch) e
								 WHERE jsonb_typeof(e.value) = 'null'))
		|| jsonb_strip_nulls(p_patch);
	SELECT coalesce(sum(octet_length(e.key) + octet_length(e.value #>> '{}')), 0) INTO total
	FROM jsonb_each(merged) e;
	IF total > 262144 THEN
		RAISE EXCEPTION 'annotations are too large'
			USING ERRCODE = 'program_limit_exceeded',
				DETAIL = format('Their keys and values would take %s bytes; the limit is 262144 (256 kB), as in Kubernetes.', total);
	END IF;
	RETURN merged;
END $$;

-- set_annotations: "ns/stream" or "ns/stream:tag".  A stream's annotations
-- are metadata: its generation stays, as in OpenShift.  A tag's are part of
-- its spec: the stream's generation grows, the tag's stays (OpenShift's
-- tagRefChanged ignores annotations), so the tag does not become pending.
-- When the importer's preferences change, what the source served last is
-- forgotten, so that the next import of the tag (scheduled, import_now,
-- import_image) fetches the index and chooses its child again, as
-- OpenShift's next import reads the annotations it has then.
CREATE OR REPLACE FUNCTION _api_set_annotations(target text, annotations jsonb) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
DECLARE
	d record;
	s imagestream.stream;
	t imagestream.tag;
	merged jsonb;
BEGIN
	IF strpos(target, ':') > 0 THEN
		d := imagestream._parse_tag(target);
		PERFORM imagestream._require(d.namespace, 'edit');
		s := imagestream._lock_stream(d.namespace, d.stream);
		t := imagestream._lock_tag(s, d.tag);
		IF NOT t.has_spec THEN
			RAISE EXCEPTION 'image stream tag "%/%:%" is not a spec tag', d.namespace, d.stream, d.tag
				USING ERRCODE = 'object_not_in_prerequisite_state',
					DETAIL = 'Annotations belong to a tag''s spec, as in OpenShift; this tag has a status only.',
					HINT = 'Give the tag a spec with tag() first.';
		END IF;
		merged := imagestream._patch_annotations(t.annotations, annotations);
		IF merged = t.annotations THEN
			RETURN;
		END IF;
		PERFORM imagestream._set_spec(s, d.tag, t.from_kind, t.from_ref, t.reference, t.scheduled,
			t.insecure, t.import_mode, t.reference_policy, merged);
		IF (merged -> 'importer.image.openshift.io/prefer-os') IS DISTINCT FROM
				(t.annotations -> 'importer.image.openshift.io/prefer-os')
		   OR (merged -> 'importer.image.openshift.io/prefer-arch') IS DISTINCT FROM
				(t.annotations -> 'importer.image.openshift.io/prefer-arch') THEN
			UPDATE imagestream.tag SET source_digest = NULL WHERE id = t.id;
		END IF;
	ELSE
		d := imagestream._parse_stream(target);
		PERFORM imagestream._require(d.namespace, 'edit');
		s := imagestream._lock_stream(d.namespace, d.name);
		merged := imagestream._patch_annotations(s.annotations, annotations);
		IF merged <> s.annotations THEN
			UPDATE imagestream.stream SET annotations = merged WHERE id = s.id;
		END IF;
	END IF;
END $$;

CREATE OR REPLACE FUNCTION set_annotations(target text, annotations jsonb) RETURNS void
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C;
COMMENT ON FUNCTION set_annotations(text, jsonb) IS 'oc annotate is/istag: set (string) or remove (null) annotations of a stream or a spec tag';
