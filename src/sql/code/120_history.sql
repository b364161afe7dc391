-- Tag history (doc/model.md, OpenShift's imageutil helpers): events
-- with their pull spec, AddTagEventToImageStream with the change log, and
-- tag tracking.  Internal: called by the API functions.

-- Events with their whole pull spec (history_event and history_ref,
-- src/sql/schema/40_tables.sql).
CREATE OR REPLACE VIEW _history AS
SELECT e.tag_id, e.seq, e.created,
	CASE WHEN r.with_digest THEN imagestream.ref_with_digest(r.ref, e.image) ELSE r.ref END
		AS docker_image_reference,
	e.image, e.generation
FROM imagestream.history_event e LEFT JOIN imagestream.history_ref r ON r.id = e.ref;
COMMENT ON VIEW _history IS 'tag events with their pull spec, for the extension''s own functions';

-- Copies the newest history event into the tag row.
CREATE OR REPLACE FUNCTION _refresh_head(p_tag_id bigint) RETURNS void
LANGUAGE sql AS $$
	UPDATE imagestream.tag t
	SET image = h.image, docker_image_reference = h.docker_image_reference,
		created = h.created, status_generation = h.generation,
		history_length = (SELECT count(*) FROM imagestream.history_event x WHERE x.tag_id = t.id)
	FROM (SELECT NULL::integer AS dummy) d
	LEFT JOIN LATERAL (SELECT * FROM imagestream._history x WHERE x.tag_id = p_tag_id
					   ORDER BY x.seq DESC LIMIT 1) h ON true
	WHERE t.id = p_tag_id
$$;

-- How history_ref keeps a pull spec: as its repository when it is the
-- repository and the event's digest (an import's), else whole.
CREATE OR REPLACE FUNCTION _history_key(p_ref image_ref, p_image image_digest,
	OUT ref image_ref, OUT with_digest boolean)
LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE WHEN b.w THEN b.repo ELSE p_ref END, b.w
	FROM (SELECT a.repo, coalesce(imagestream.ref_with_digest(a.repo, p_image) = p_ref, false) AS w
		  FROM (SELECT imagestream.ref_name(p_ref)::imagestream.image_ref AS repo) a) b
$$;

-- The history_ref id of a pull spec of an event of p_image, added when new.
-- The lookup comes first: ON CONFLICT alone would take an id from the
-- sequence on every call.
CREATE OR REPLACE FUNCTION _history_ref_id(p_ref image_ref, p_image image_digest) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
	k record := imagestream._history_key(p_ref, p_image);
	found_id integer;
BEGIN
	LOOP
		SELECT r.id INTO found_id FROM imagestream.history_ref r
		WHERE r.ref = k.ref AND r.with_digest = k.with_digest;
		IF found_id IS NOT NULL THEN
			RETURN found_id;
		END IF;
		-- nothing when another transaction added it meanwhile: read it then
		INSERT INTO imagestream.history_ref (ref, with_digest) VALUES (k.ref, k.with_digest)
			ON CONFLICT DO NOTHING RETURNING id INTO found_id;
		IF found_id IS NOT NULL THEN
			RETURN found_id;
		END IF;
	END LOOP;
END $$;

-- The same for many events: the ids in the order given, NULL for a NULL
-- pull spec.
CREATE OR REPLACE FUNCTION _history_ref_ids(p_refs image_ref[], p_images image_digest[]) RETURNS integer[]
LANGUAGE plpgsql AS $$
DECLARE
	keys imagestream.image_ref[];
	withs boolean[];
	ids integer[];
BEGIN
	SELECT array_agg(k.ref ORDER BY u.n), array_agg(k.with_digest ORDER BY u.n) INTO keys, withs
	FROM unnest(p_refs, p_images) WITH ORDINALITY AS u(ref, image, n)
	LEFT JOIN LATERAL imagestream._history_key(u.ref, u.image) k ON u.ref IS NOT NULL;
	INSERT INTO imagestream.history_ref (ref, with_digest)
	SELECT DISTINCT k.ref, k.with_digest FROM unnest(keys, withs) AS k(ref, with_digest)
	WHERE k.ref IS NOT NULL
	  AND NOT EXISTS (SELECT 1 FROM imagestream.history_ref r
					  WHERE r.ref = k.ref AND r.with_digest = k.with_digest)
	ON CONFLICT DO NOTHING;
	SELECT array_agg(r.id ORDER BY k.n) INTO ids
	FROM unnest(keys, withs) WITH ORDINALITY AS k(ref, with_digest, n)
	LEFT JOIN imagestream.history_ref r ON r.ref = k.ref AND r.with_digest = k.with_digest;
	RETURN ids;
END $$;

-- AddTagEventToImageStream, then the change log (p_via: the route of the
-- change, 040_changes.sql), the tag's triggers (125_triggers.sql) and
-- tracking tags.  Returns false when nothing
-- changed.
CREATE OR REPLACE FUNCTION _add_event(p_tag_id bigint, p_ref image_ref, p_image image_digest,
	p_generation bigint, p_created timestamptz DEFAULT now(), p_via text DEFAULT NULL)
RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
	t imagestream.tag;
	head imagestream._history;
	same_ref boolean;
	same_image boolean;
	added integer;
BEGIN
	SELECT * INTO t FROM imagestream.tag WHERE id = p_tag_id FOR UPDATE;
	-- (the tag row's lock keeps its history still)
	SELECT * INTO head FROM imagestream._history
		WHERE tag_id = p_tag_id ORDER BY seq DESC LIMIT 1;
	same_ref := head.docker_image_reference = p_ref;
	same_image := head.image IS NOT DISTINCT FROM p_image;
	IF head.tag_id IS NOT NULL AND same_ref AND same_image AND head.generation = p_generation THEN
		RETURN false;
	ELSIF head.tag_id IS NOT NULL AND (same_ref OR same_image) THEN
		-- collapse, or overwrite the head in place; created is kept
		UPDATE imagestream.history_event
		SET ref = imagestream._history_ref_id(p_ref, p_image), image = p_image, generation = p_generation
		WHERE tag_id = p_tag_id AND seq = head.seq;
		added := 0;
		p_created := head.created;
	ELSE
		INSERT INTO imagestream.history_event (tag_id, seq, created, generation, ref, image)
			VALUES (p_tag_id, coalesce(head.seq, 0) + 1, p_created, p_generation,
					imagestream._history_ref_id(p_ref, p_image), p_image);
		added := 1;
	END IF;
	-- the new head into the tag row (_refresh_head, without reading history
	-- again), and the conditions cleared: one write of the tag
	UPDATE imagestream.tag
	SET image = p_image, docker_image_reference = p_ref, created = p_created,
		status_generation = p_generation, history_length = history_length + added,
		import_status = NULL, import_reason = NULL, import_message = NULL,
		import_generation = NULL, import_transition = NULL
	WHERE id = p_tag_id;

	IF head.tag_id IS NULL OR NOT (same_ref AND same_image) THEN
		PERFORM imagestream._log_change('tag_updated', t.namespace, t.stream, t.name,
			p_image, head.image, p_ref, p_generation, via => p_via);
		PERFORM imagestream._fire_triggers(ARRAY(SELECT x FROM imagestream.tag x WHERE x.id = p_tag_id));
	END IF;
	PERFORM imagestream._update_followers(p_tag_id);
	RETURN true;
END $$;

-- UpdateTrackingTags: tags of the same stream whose spec follows this one
-- (kind ImageStreamTag) get its newest event as it is, unless the gates of
-- one hold the move back (155_gates.sql).  Chains follow through
-- _add_event; tag() refuses cycles.  A follower that protection holds keeps
-- its image (115_protection.sql); unprotect() brings it along.
CREATE OR REPLACE FUNCTION _update_followers(p_tag_id bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	src imagestream.tag;
	f imagestream.tag;
	via text;
BEGIN
	SELECT * INTO src FROM imagestream.tag WHERE id = p_tag_id;
	IF src.docker_image_reference IS NULL THEN
		RETURN;
	END IF;
	FOR f IN
		SELECT x.* FROM imagestream.tag x
		WHERE x.stream_id = src.stream_id AND x.has_spec AND x.from_kind = 'ImageStreamTag'
		  AND x.from_ref = format('%s/%s:%s', src.namespace, src.stream, src.name)
		  AND x.id <> src.id AND imagestream._protecting_patterns(x) IS NULL
		ORDER BY x.name
	LOOP
		via := NULL;
		IF f.image IS DISTINCT FROM src.image AND f.gated THEN
			via := imagestream._move_held(f, f.from_ref, src.docker_image_reference, src.image,
										  coalesce(src.source_digest, src.image), src.status_generation);
			CONTINUE WHEN via = 'held';
		ELSIF f.gated THEN
			-- its source is back at its image: a candidate held back is moot
			DELETE FROM imagestream.gate_candidate c WHERE c.tag_id = f.id;
		END IF;
		PERFORM imagestream._add_event(f.id, src.docker_image_reference, src.image,
									   src.status_generation, src.created, via);
	END LOOP;
END $$;

