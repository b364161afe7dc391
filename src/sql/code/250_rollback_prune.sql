-- Going back to an earlier image, and pruning old history and images.

CREATE OR REPLACE FUNCTION _api_rollback(tag text, to_image text DEFAULT NULL, steps integer DEFAULT 1,
	expected_image image_digest DEFAULT NULL)
RETURNS tag_event LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
DECLARE
	d record := imagestream._parse_tag(tag);
	s imagestream.stream;
	t imagestream.tag;
	target imagestream._history;
	result imagestream.tag_event;
BEGIN
	PERFORM imagestream._require(d.namespace, 'edit');
	s := imagestream._lock_stream(d.namespace, d.stream);
	PERFORM imagestream._refuse_protected(d.namespace, d.stream, d.tag, 'rollback() would move it');
	t := imagestream._lock_tag(s, d.tag);
	IF expected_image IS NOT NULL THEN
		PERFORM imagestream._check_expected(d.namespace, d.stream, d.tag, t.image, expected_image);
	END IF;
	IF to_image IS NOT NULL THEN
		IF to_image !~ '^((sha256|sha512):)?[0-9a-f]{7,128}$' THEN
			RAISE EXCEPTION 'invalid image "%"', to_image
				USING ERRCODE = 'invalid_parameter_value',
					DETAIL = 'Give a digest or a prefix of its lowercase hex digits, at least 7 long.';
		END IF;
		IF (SELECT count(DISTINCT h.image) FROM imagestream._history h
			WHERE h.tag_id = t.id AND imagestream.digest_has_prefix(h.image, to_image)) > 1 THEN
			RAISE EXCEPTION 'more than one image in the history of "%" matches "%"', _api_rollback.tag, to_image
				USING ERRCODE = 'cardinality_violation', HINT = 'Give more digits of the digest.';
		END IF;
		SELECT * INTO target FROM imagestream._history h
		WHERE h.tag_id = t.id AND imagestream.digest_has_prefix(h.image, to_image)
		ORDER BY h.seq DESC LIMIT 1;
		IF NOT FOUND THEN
			RAISE EXCEPTION 'image "%" is not in the history of "%"', to_image, _api_rollback.tag
				USING ERRCODE = 'undefined_object';
		END IF;
	ELSE
		IF steps IS NULL OR steps < 1 THEN
			RAISE EXCEPTION 'steps must be 1 or more' USING ERRCODE = 'invalid_parameter_value';
		END IF;
		SELECT * INTO target FROM imagestream._history h
		WHERE h.tag_id = t.id ORDER BY h.seq DESC OFFSET steps LIMIT 1;
		IF NOT FOUND THEN
			RAISE EXCEPTION 'the history of "%" has no event % steps back', _api_rollback.tag, steps
				USING ERRCODE = 'invalid_parameter_value',
					DETAIL = format('It holds %s events.', t.history_length);
		END IF;
		IF target.image IS NULL THEN
			RAISE EXCEPTION 'the event % steps back has no image to roll back to', steps
				USING ERRCODE = 'invalid_parameter_value',
					DETAIL = format('It is a reference to %s only.', target.docker_image_reference);
		END IF;
	END IF;

	-- as "oc tag stream@digest stream:tag": pin the spec, record a new event
	PERFORM imagestream._set_spec(s, d.tag, 'ImageStreamImage',
		format('%s/%s@%s', s.namespace, s.name, target.image), t.reference, false, false,
		t.import_mode, t.reference_policy, '{}');
	-- the stream's generation now: the spec's when the pin moved, and never
	-- below an event pushed since an earlier rollback to the same image
	PERFORM imagestream._add_event(t.id, target.docker_image_reference, target.image,
		(SELECT x.generation FROM imagestream.stream x WHERE x.id = s.id));
	SELECT * INTO result FROM imagestream.history(_api_rollback.tag) LIMIT 1;
	RETURN result;
END $$;

CREATE OR REPLACE FUNCTION rollback(tag text, to_image text DEFAULT NULL, steps integer DEFAULT 1,
	expected_image image_digest DEFAULT NULL)
RETURNS tag_event
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C;
COMMENT ON FUNCTION rollback(text, text, integer, image_digest) IS 'point a tag back at an earlier image of its history and pin it there';

-- The bounds of a pruning rule (prune, set_retention); a NULL part is
-- checked by the caller.  The age is bounded so that now() minus it stays a
-- timestamp.
CREATE OR REPLACE FUNCTION _check_prune_rule(p_keep integer, p_age interval) RETURNS void
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
	IF p_keep < 0 THEN
		RAISE EXCEPTION 'keep_tag_revisions must be zero or more'
			USING ERRCODE = 'invalid_parameter_value',
				DETAIL = format('It is %s.', p_keep);
	END IF;
	IF p_age < interval '0' OR p_age > interval '100 years' THEN
		RAISE EXCEPTION 'keep_younger_than must be between 0 and 100 years'
			USING ERRCODE = 'invalid_parameter_value',
				DETAIL = format('It is %s.', p_age);
	END IF;
END $$;

-- The one rule of which history pruning removes (prune, retention): the
-- events of each tag beyond its newest p_keep (the current one always
-- stays, even with 0) created before p_before, of namespace p_ns (NULL:
-- every namespace).  A protected tag keeps its whole history
-- (115_protection.sql): the record of what it served.
CREATE OR REPLACE FUNCTION _prunable_events(p_ns text, p_keep integer, p_before timestamptz)
RETURNS TABLE(tag_id integer, seq integer, namespace text, stream text, tag text, image image_digest)
LANGUAGE sql STABLE AS $$
	SELECT e.tag_id, e.seq, e.namespace, e.stream, e.name, e.image
	FROM (SELECT h.tag_id, h.seq, h.created, h.image, t.namespace, t.stream, t.name,
				 row_number() OVER (PARTITION BY h.tag_id ORDER BY h.seq DESC) AS n
		  FROM imagestream.tag t JOIN imagestream.history_event h ON h.tag_id = t.id
		  WHERE (p_ns IS NULL OR t.namespace = p_ns)
			AND imagestream._protecting_patterns(t) IS NULL) e
	WHERE e.n > greatest(p_keep, 1) AND e.created < p_before
$$;

-- Pruning itself, for prune and retention (256_retention.sql): reports, and
-- with p_confirm deletes, the events of _prunable_events; then, across every
-- namespace only (p_ns NULL), the images older than p_before that nothing
-- holds any more, and the pull specs no event uses.  Images and pull specs
-- are shared by namespaces: deleting them while a writer of another
-- namespace is about to use one needs every stream locked, which is the
-- server-wide prune's to do, never a namespace's.
CREATE OR REPLACE FUNCTION _prune(p_ns text, p_keep integer, p_before timestamptz, p_confirm boolean)
RETURNS TABLE(action text, stream text, tag text, image image_digest)
LANGUAGE plpgsql AS $$
BEGIN
	-- with confirm, the streams are locked first, as each writer locks its
	-- stream: what is chosen below is then not changing under the deletes
	-- (a head refreshed from a stale event, an image deleted that a new event
	-- was about to use; found by make stress)
	IF p_confirm THEN
		PERFORM 1 FROM imagestream.stream x WHERE p_ns IS NULL OR x.namespace = p_ns
		ORDER BY x.id FOR UPDATE;
	END IF;
	CREATE TEMPORARY TABLE pg_temp.imagestream_prune_events ON COMMIT DROP AS
		SELECT * FROM imagestream._prunable_events(p_ns, p_keep, p_before);

	-- images no history, spec, candidate or used index refers to any more
	CREATE TEMPORARY TABLE pg_temp.imagestream_prune_images (digest imagestream.image_digest) ON COMMIT DROP;
	IF p_ns IS NULL THEN
		INSERT INTO pg_temp.imagestream_prune_images
		WITH RECURSIVE used(digest) AS (
			SELECT h.image FROM imagestream.history_event h
			WHERE h.image IS NOT NULL
			  AND NOT EXISTS (SELECT 1 FROM pg_temp.imagestream_prune_events e
							  WHERE e.tag_id = h.tag_id AND e.seq = h.seq)
			UNION
			SELECT substr(t.from_ref, strpos(t.from_ref, '@') + 1)::imagestream.image_digest
			FROM imagestream.tag t WHERE t.has_spec AND t.from_kind = 'ImageStreamImage'
			UNION
			-- a candidate the gates hold back (155_gates.sql), and the digests
			-- whose signatures a gate reads (a Legacy import's index)
			SELECT c.image FROM imagestream.gate_candidate c
			UNION
			SELECT c.source_digest FROM imagestream.gate_candidate c
			UNION
			SELECT t.source_digest FROM imagestream.tag t WHERE t.gated
			UNION
			SELECT c.digest FROM imagestream.image_child c JOIN used u ON c.image = u.digest
		)
		SELECT i.digest FROM imagestream.image i
		WHERE i.digest NOT IN (SELECT u.digest FROM used u WHERE u.digest IS NOT NULL)
		  AND i.imported_at < p_before;
	END IF;

	RETURN QUERY
		SELECT 'delete_event', e.namespace || '/' || e.stream, e.tag, e.image
		FROM pg_temp.imagestream_prune_events e ORDER BY e.namespace, e.stream, e.tag, e.seq DESC;
	RETURN QUERY
		SELECT 'delete_image', NULL::text, NULL::text, p.digest
		FROM pg_temp.imagestream_prune_images p ORDER BY p.digest;

	IF p_confirm THEN
		DELETE FROM imagestream.history_event h USING pg_temp.imagestream_prune_events e
		WHERE h.tag_id = e.tag_id AND h.seq = e.seq;
		IF p_ns IS NULL THEN
			-- and the pull specs no event uses any more
			DELETE FROM imagestream.history_ref r
			WHERE NOT EXISTS (SELECT 1 FROM imagestream.history_event h WHERE h.ref = r.id);
		END IF;
		PERFORM imagestream._refresh_head(x.tag_id)
		FROM (SELECT DISTINCT e.tag_id FROM pg_temp.imagestream_prune_events e) x;
		DELETE FROM imagestream.image i USING pg_temp.imagestream_prune_images p
		WHERE i.digest = p.digest;
	END IF;
	DROP TABLE pg_temp.imagestream_prune_events, pg_temp.imagestream_prune_images;
END $$;

-- oc adm prune images: every namespace by superusers and the owner; one
-- namespace's history by its admin.
CREATE OR REPLACE FUNCTION _api_prune(keep_tag_revisions integer DEFAULT 3,
	keep_younger_than interval DEFAULT '60 minutes', confirm boolean DEFAULT false,
	namespace text DEFAULT NULL)
RETURNS TABLE(action text, stream text, tag text, image image_digest)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
BEGIN
	IF namespace IS NULL THEN
		PERFORM imagestream._require_privileged('prune images');
	ELSE
		PERFORM imagestream._check_names(namespace, 'namespace', namespace, 'x');
		PERFORM imagestream._require(namespace, 'admin');
	END IF;
	IF keep_tag_revisions IS NULL OR keep_younger_than IS NULL THEN
		RAISE EXCEPTION 'keep_tag_revisions and keep_younger_than are required'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	PERFORM imagestream._check_prune_rule(keep_tag_revisions, keep_younger_than);
	RETURN QUERY SELECT * FROM imagestream._prune(namespace, keep_tag_revisions,
		now() - keep_younger_than, coalesce(confirm, false));
END $$;

CREATE OR REPLACE FUNCTION prune(keep_tag_revisions integer DEFAULT 3,
	keep_younger_than interval DEFAULT '60 minutes', confirm boolean DEFAULT false,
	namespace text DEFAULT NULL)
RETURNS TABLE(action text, stream text, tag text, image image_digest)
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C;
COMMENT ON FUNCTION prune(integer, interval, boolean, text) IS 'oc adm prune images: drop old history events and unreferenced images, of every namespace or (its history only) of one (a dry run unless confirm)';
