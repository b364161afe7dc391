-- Going back to an earlier image, and pruning old history and images.

CREATE OR REPLACE FUNCTION _api_rollback(tag text, to_image text DEFAULT NULL, steps integer DEFAULT 1)
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

CREATE OR REPLACE FUNCTION rollback(tag text, to_image text DEFAULT NULL, steps integer DEFAULT 1)
RETURNS tag_event
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C;
COMMENT ON FUNCTION rollback(text, text, integer) IS 'point a tag back at an earlier image of its history and pin it there';

CREATE OR REPLACE FUNCTION _api_prune(keep_tag_revisions integer DEFAULT 3,
	keep_younger_than interval DEFAULT '60 minutes', confirm boolean DEFAULT false)
RETURNS TABLE(action text, stream text, tag text, image image_digest)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
DECLARE
	threshold timestamptz := now() - keep_younger_than;
BEGIN
	PERFORM imagestream._require_privileged('prune images');
	IF keep_tag_revisions IS NULL OR keep_tag_revisions < 0 OR keep_younger_than IS NULL
	   OR keep_younger_than < interval '0' THEN
		RAISE EXCEPTION 'keep_tag_revisions and keep_younger_than must be zero or more'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	-- with confirm, every stream is locked first, as each writer locks its
	-- stream: what is chosen below is then not changing under the deletes
	-- (a head refreshed from a stale event, an image deleted that a new event
	-- was about to use; found by make stress)
	IF coalesce(confirm, false) THEN
		PERFORM 1 FROM imagestream.stream x ORDER BY x.id FOR UPDATE;
	END IF;
	CREATE TEMPORARY TABLE pg_temp.imagestream_prune_events ON COMMIT DROP AS
		SELECT h.tag_id, h.seq, t.namespace, t.stream, t.name, h.image
		FROM imagestream.history_event h JOIN imagestream.tag t ON t.id = h.tag_id
		JOIN LATERAL (SELECT count(*) AS newer FROM imagestream.history_event x
					  WHERE x.tag_id = h.tag_id AND x.seq > h.seq) p ON true
		WHERE p.newer >= greatest(keep_tag_revisions, 1) AND h.created < threshold;

	-- images no history, spec or used index refers to any more
	CREATE TEMPORARY TABLE pg_temp.imagestream_prune_images ON COMMIT DROP AS
		WITH RECURSIVE used(digest) AS (
			SELECT h.image FROM imagestream.history_event h
			WHERE h.image IS NOT NULL
			  AND NOT EXISTS (SELECT 1 FROM pg_temp.imagestream_prune_events e
							  WHERE e.tag_id = h.tag_id AND e.seq = h.seq)
			UNION
			SELECT substr(t.from_ref, strpos(t.from_ref, '@') + 1)::imagestream.image_digest
			FROM imagestream.tag t WHERE t.has_spec AND t.from_kind = 'ImageStreamImage'
			UNION
			SELECT c.digest FROM imagestream.image_child c JOIN used u ON c.image = u.digest
		)
		SELECT i.digest FROM imagestream.image i
		WHERE i.digest NOT IN (SELECT u.digest FROM used u WHERE u.digest IS NOT NULL)
		  AND i.imported_at < threshold;

	RETURN QUERY
		SELECT 'delete_event', e.namespace || '/' || e.stream, e.name, e.image
		FROM pg_temp.imagestream_prune_events e ORDER BY e.namespace, e.stream, e.name, e.seq DESC;
	RETURN QUERY
		SELECT 'delete_image', NULL::text, NULL::text, p.digest
		FROM pg_temp.imagestream_prune_images p ORDER BY p.digest;

	IF coalesce(confirm, false) THEN
		DELETE FROM imagestream.history_event h USING pg_temp.imagestream_prune_events e
		WHERE h.tag_id = e.tag_id AND h.seq = e.seq;
		-- and the pull specs no event uses any more
		DELETE FROM imagestream.history_ref r
		WHERE NOT EXISTS (SELECT 1 FROM imagestream.history_event h WHERE h.ref = r.id);
		PERFORM imagestream._refresh_head(x.tag_id)
		FROM (SELECT DISTINCT tag_id FROM pg_temp.imagestream_prune_events) x;
		DELETE FROM imagestream.image i USING pg_temp.imagestream_prune_images p
		WHERE i.digest = p.digest;
	END IF;
	DROP TABLE pg_temp.imagestream_prune_events, pg_temp.imagestream_prune_images;
END $$;

CREATE OR REPLACE FUNCTION prune(keep_tag_revisions integer DEFAULT 3,
	keep_younger_than interval DEFAULT '60 minutes', confirm boolean DEFAULT false)
RETURNS TABLE(action text, stream text, tag text, image image_digest)
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C;
COMMENT ON FUNCTION prune(integer, interval, boolean) IS 'oc adm prune images: drop old history events and unreferenced images (a dry run unless confirm)';
