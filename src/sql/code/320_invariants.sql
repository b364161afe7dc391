-- The model's invariants, checked over all the data (doc/reliability.md).
-- Returns one row per violation: none when the model is sound.  The tests
-- end with it, after concurrency, crashes and restarts.

CREATE OR REPLACE FUNCTION _api_check_invariants() RETURNS TABLE(invariant text, object text, detail text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
BEGIN
	PERFORM imagestream._require_privileged('check the invariants');

	-- a tag repeats its stream's names
	RETURN QUERY
		SELECT 'tag names its stream', format('%s/%s:%s', t.namespace, t.stream, t.name),
			format('stream %s is %s/%s', s.id, s.namespace, s.name)
		FROM imagestream.tag t JOIN imagestream.stream s ON s.id = t.stream_id
		WHERE (t.namespace, t.stream) IS DISTINCT FROM (s.namespace, s.name);

	-- the head columns are the newest event; history_length counts the events
	RETURN QUERY
		SELECT 'tag head is its newest event', format('%s/%s:%s', t.namespace, t.stream, t.name),
			format('head %s %s gen %s len %s; newest %s %s gen %s, %s events',
				   t.docker_image_reference, t.image, t.status_generation, t.history_length,
				   h.docker_image_reference, h.image, h.generation, n.events)
		FROM imagestream.tag t
		CROSS JOIN LATERAL (SELECT count(*) AS events FROM imagestream._history x
							WHERE x.tag_id = t.id) n
		LEFT JOIN LATERAL (SELECT * FROM imagestream._history x WHERE x.tag_id = t.id
						   ORDER BY x.seq DESC LIMIT 1) h ON true
		WHERE t.history_length <> n.events
		   OR t.docker_image_reference::text IS DISTINCT FROM h.docker_image_reference::text
		   OR t.image::text IS DISTINCT FROM h.image::text
		   OR t.created IS DISTINCT FROM h.created
		   OR t.status_generation IS DISTINCT FROM h.generation;

	-- consecutive events differ (an equal one collapses into the head)
	RETURN QUERY
		SELECT 'consecutive events differ', format('%s/%s:%s', t.namespace, t.stream, t.name),
			format('events %s and %s: %s %s', p.prev_seq, p.seq, p.docker_image_reference, p.image)
		FROM (SELECT h.*, lag(h.seq) OVER w AS prev_seq,
					 lag(h.docker_image_reference::text) OVER w AS prev_ref,
					 lag(h.image::text) OVER w AS prev_image
			  FROM imagestream._history h WINDOW w AS (PARTITION BY h.tag_id ORDER BY h.seq)) p
		JOIN imagestream.tag t ON t.id = p.tag_id
		WHERE p.prev_seq IS NOT NULL AND p.prev_ref = p.docker_image_reference::text
		  AND p.prev_image IS NOT DISTINCT FROM p.image::text;

	-- an event's reference, when it has a digest, has its image's
	RETURN QUERY
		SELECT 'event reference names its image', format('%s/%s:%s', t.namespace, t.stream, t.name),
			format('event %s: %s, image %s', h.seq, h.docker_image_reference, h.image)
		FROM imagestream._history h JOIN imagestream.tag t ON t.id = h.tag_id
		WHERE imagestream.ref_digest(h.docker_image_reference) IS NOT NULL
		  AND imagestream.ref_digest(h.docker_image_reference)::text IS DISTINCT FROM h.image::text;

	-- every event has a pull spec: history_ref keeps one by its repository
	-- only for events with a digest to rebuild it with
	RETURN QUERY
		SELECT 'event has a pull spec', format('%s/%s:%s', t.namespace, t.stream, t.name),
			format('event %s', h.seq)
		FROM imagestream._history h JOIN imagestream.tag t ON t.id = h.tag_id
		WHERE h.docker_image_reference IS NULL;

	-- every event's image is in the catalogue (reference-only events have none)
	RETURN QUERY
		SELECT 'event image catalogued', format('%s/%s:%s', t.namespace, t.stream, t.name),
			format('event %s: image %s', h.seq, h.image)
		FROM imagestream._history h JOIN imagestream.tag t ON t.id = h.tag_id
		WHERE h.image IS NOT NULL
		  AND NOT EXISTS (SELECT 1 FROM imagestream.image i WHERE i.digest = h.image);

	-- generations never exceed the stream's, events' never decrease
	RETURN QUERY
		SELECT 'generations within the stream', format('%s/%s:%s', t.namespace, t.stream, t.name),
			format('stream %s, spec %s, status %s, condition %s', s.generation, t.spec_generation,
				   t.status_generation, t.import_generation)
		FROM imagestream.tag t JOIN imagestream.stream s ON s.id = t.stream_id
		WHERE t.spec_generation > s.generation OR t.status_generation > s.generation
		   OR t.import_generation > s.generation;
	RETURN QUERY
		SELECT 'event generations never decrease', format('%s/%s:%s', t.namespace, t.stream, t.name),
			format('event %s has generation %s after %s', p.seq, p.generation, p.prev_generation)
		FROM (SELECT h.*, lag(h.generation) OVER (PARTITION BY h.tag_id ORDER BY h.seq) AS prev_generation
			  FROM imagestream._history h) p
		JOIN imagestream.tag t ON t.id = p.tag_id
		WHERE p.generation < p.prev_generation;

	-- the ImportSuccess condition: complete when set, empty when not
	RETURN QUERY
		SELECT 'condition consistent', format('%s/%s:%s', t.namespace, t.stream, t.name),
			format('status %s, reason %s, generation %s, transition %s', t.import_status,
				   t.import_reason, t.import_generation, t.import_transition)
		FROM imagestream.tag t
		WHERE (t.import_status IS NULL AND (t.import_reason IS NOT NULL OR t.import_message IS NOT NULL
											OR t.import_generation IS NOT NULL OR t.import_transition IS NOT NULL))
		   OR (t.import_status = 'False' AND (t.import_reason IS NULL OR t.import_generation IS NULL
											  OR t.import_transition IS NULL OR NOT t.has_spec));

	-- a tag that exists has a spec, an event or a condition
	RETURN QUERY
		SELECT 'no empty tags', format('%s/%s:%s', t.namespace, t.stream, t.name), 'no spec, history or condition'
		FROM imagestream.tag t
		WHERE NOT t.has_spec AND t.history_length = 0 AND t.import_status IS NULL;

	-- a tag that follows a tag of its stream shows that tag's current event,
	-- unless protection holds it (115_protection.sql) or its gates hold that
	-- image back (its candidate)
	RETURN QUERY
		SELECT 'alias equals its source', format('%s/%s:%s', f.namespace, f.stream, f.name),
			format('shows %s, source %s shows %s', f.docker_image_reference, f.from_ref, s.docker_image_reference)
		FROM imagestream.tag f
		JOIN imagestream.tag s ON s.stream_id = f.stream_id
			AND f.from_ref = format('%s/%s:%s', s.namespace, s.stream, s.name)
		WHERE f.has_spec AND f.from_kind = 'ImageStreamTag' AND NOT f.reference
		  AND s.docker_image_reference IS NOT NULL AND imagestream._protecting_patterns(f) IS NULL
		  AND (f.docker_image_reference::text IS DISTINCT FROM s.docker_image_reference::text
			   OR f.image::text IS DISTINCT FROM s.image::text)
		  AND NOT EXISTS (SELECT 1 FROM imagestream.gate_candidate c
						  WHERE c.tag_id = f.id AND c.image::text = s.image::text)
		  -- (a reference without an image: the gates held it back, no candidate)
		  AND NOT (s.image IS NULL AND f.gated AND f.import_reason = 'GateFailed');

	-- a candidate held back is a gated tag's, and not the image it has
	RETURN QUERY
		SELECT 'candidate of a gated tag', format('%s/%s:%s', t.namespace, t.stream, t.name),
			format('candidate %s (%s), image %s, gates %s', c.image, c.state, t.image,
				   CASE WHEN g.tag_id IS NULL THEN 'none' ELSE 'set' END)
		FROM imagestream.gate_candidate c
		JOIN imagestream.tag t ON t.id = c.tag_id
		LEFT JOIN imagestream.tag_gate g ON g.tag_id = c.tag_id
		WHERE g.tag_id IS NULL OR c.image::text = t.image::text
		   OR (c.state = 'pending') <> (c.gate IN ('min_age', 'approval'));

	-- catalogue rows of an image belong to an image that is catalogued
	RETURN QUERY
		SELECT 'no orphan catalogue rows', c.image::text, 'image_child of an uncatalogued image'
		FROM imagestream.image_child c
		WHERE NOT EXISTS (SELECT 1 FROM imagestream.image i WHERE i.digest = c.image)
		UNION ALL
		SELECT 'no orphan catalogue rows', l.image::text, 'image_layer of an uncatalogued image'
		FROM imagestream.image_layer l
		WHERE NOT EXISTS (SELECT 1 FROM imagestream.image i WHERE i.digest = l.image);

	-- change ids are dense from the oldest kept (not counting this
	-- transaction's provisional rows, numbered at its commit)
	RETURN QUERY
		SELECT 'change ids dense', 'change', format('%s rows from id %s to %s', count(*), min(id), max(id))
		FROM imagestream.change
		WHERE id > 0
		HAVING count(*) > 0 AND max(id) - min(id) + 1 <> count(*);

	-- no lost update: in commit order, each move of a tag starts from the
	-- image the change before it left (what expected_image and promote()
	-- check); a deletion of the tag or its stream leaves none
	RETURN QUERY
		SELECT 'each move starts where the last ended', format('%s/%s:%s', c.namespace, c.stream, c.tag),
			format('change %s moved from %s, but change %s had left %s', c.id, c.previous_image,
				   p.id, p.image)
		FROM imagestream.change c
		CROSS JOIN LATERAL (SELECT x.id, x.image FROM imagestream.change x
							WHERE x.namespace = c.namespace AND x.stream = c.stream
							  AND x.id > 0 AND x.id < c.id
							  AND ((x.tag = c.tag AND x.event IN ('tag_updated', 'tag_deleted'))
								   OR x.event = 'stream_deleted')
							ORDER BY x.id DESC LIMIT 1) p
		WHERE c.id > 0 AND c.event = 'tag_updated'
		  AND c.previous_image::text IS DISTINCT FROM p.image::text;

	-- every move fires the tag's triggers (125_triggers.sql): an unpaused
	-- trigger whose last firing succeeded has set its tag's image
	RETURN QUERY
		SELECT 'trigger follows its tag', format('trigger %s', g.id),
			format('tag %s/%s:%s has %s, the trigger last set %s', t.namespace, t.stream, t.name,
				   t.image, g.last_triggered_image)
		FROM imagestream.image_trigger g JOIN imagestream.tag t ON t.id = g.tag_id
		WHERE NOT g.paused AND g.last_error IS NULL AND t.image IS NOT NULL
		  AND g.last_triggered_image IS DISTINCT FROM t.image;
END $$;

CREATE OR REPLACE FUNCTION check_invariants() RETURNS TABLE(invariant text, object text, detail text)
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C STABLE;
REVOKE ALL ON FUNCTION _api_check_invariants() FROM PUBLIC;
COMMENT ON FUNCTION check_invariants() IS 'the model''s invariants: one row per violation, none when sound';
