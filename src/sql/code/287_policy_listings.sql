-- The worker's side of tag policies (doc/policies.md, INTERFACE of the
-- worker's listing): the listings it owes, one page of a listing at a time,
-- and a listing's failure.  The last page compares the listing with the
-- stored candidates, chooses each policy's winner and moves the tags whose
-- winner changed through the ordinary spec path; the import that follows is
-- the worker's as for any pending tag.  The worker calls these under its
-- search_path (pg_catalog): they pin their own.

-- Every listing some policy needs; requested: follow() or import_now()
-- asked for it at once.
CREATE OR REPLACE FUNCTION _due_policy_listings() RETURNS TABLE(listing_id bigint,
	repository text, insecure boolean, namespace text, requested boolean)
LANGUAGE sql STABLE SET search_path = pg_catalog, imagestream, pg_temp AS $$
	SELECT l.id, l.repository::text, l.insecure, l.namespace, l.requested_at IS NOT NULL
	FROM imagestream.policy_listing l
	WHERE EXISTS (SELECT 1 FROM imagestream.tag_policy p WHERE p.listing_id = l.id)
$$;

-- A policy's condition, as a tag's ImportSuccess is kept: written (with
-- the stream locked first, as every writer locks it) only when it changes.
-- A new failure of the listing itself is an import_failed change of the
-- tag, via policy, as a repository listing's failure is the stream's.
CREATE OR REPLACE FUNCTION _policy_condition(p imagestream.tag_policy, p_repository image_ref,
	p_status text, p_reason text, p_message text, p_winner text, p_log boolean)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	s imagestream.stream;
	t imagestream.tag;
BEGIN
	IF (p.winner, p.list_status, p.list_reason, p.list_message)
	   IS NOT DISTINCT FROM (p_winner, p_status, p_reason, p_message) THEN
		RETURN;
	END IF;
	SELECT * INTO s FROM imagestream.stream x WHERE x.id = p.stream_id FOR UPDATE;
	UPDATE imagestream.tag_policy x
	SET winner = p_winner, list_status = p_status, list_reason = p_reason, list_message = p_message,
		list_transition = CASE WHEN (x.list_status, x.list_reason, x.list_message)
									IS NOT DISTINCT FROM (p_status, p_reason, p_message)
							   THEN x.list_transition ELSE now() END
	WHERE x.stream_id = p.stream_id AND x.tag = p.tag AND x.listing_id = p.listing_id;
	IF p_log AND p_status = 'False'
	   AND (p.list_status, p.list_reason, p.list_message) IS DISTINCT FROM (p_status, p_reason, p_message) THEN
		SELECT * INTO t FROM imagestream.tag x WHERE x.stream_id = s.id AND x.name = p.tag;
		PERFORM imagestream._log_change('import_failed', s.namespace, s.name, p.tag, NULL, t.image,
			p_repository, s.generation, p_reason, p_message, 'policy');
	END IF;
END $$;

-- The winners of the policies ps among the tags of the listing l under
-- way (choices, NULL where none is eligible), and whether each policy's
-- winner is still listed (listed; a winner no longer listed keeps ranking
-- while its policy takes it).  The listing is read once, a thousand tags at
-- a time in name order, each policy's best of a batch going on into the
-- next, so that the worker holds a batch, not a repository of tens of
-- thousands of tags, and reads it once whatever the number of policies
-- (the order is total: the best of the best is the best).
CREATE OR REPLACE FUNCTION _policy_winners(l imagestream.policy_listing, ps imagestream.tag_policy[],
	OUT choices text[], OUT listed boolean[])
LANGUAGE plpgsql AS $$
DECLARE
	p imagestream.tag_policy;
	seens timestamptz[];
	tags text[];
	seen timestamptz[];
	best text;
	best_seen timestamptz;
	after text := '';
BEGIN
	choices := '{}';
	listed := '{}';
	seens := '{}';
	FOR i IN 1 .. coalesce(cardinality(ps), 0) LOOP
		p := ps[i];
		listed[i] := p.winner IS NULL OR EXISTS (SELECT 1 FROM imagestream.policy_listing_page g
												 WHERE g.listing_id = l.id AND g.tag = p.winner);
		best := NULL;
		best_seen := NULL;
		IF NOT listed[i] THEN
			SELECT c.first_seen INTO best_seen FROM imagestream.policy_candidate c
			WHERE c.listing_id = l.id AND c.tag = p.winner;
			-- (ranking only if the policy, perhaps changed since, takes it)
			best := imagestream._policy_choose(ARRAY[p.winner], ARRAY[best_seen],
				p.semver, p.ordering, p.pattern, p.extract);
		END IF;
		choices[i] := best;
		seens[i] := best_seen;
	END LOOP;
	LOOP
		SELECT array_agg(x.tag ORDER BY x.tag), array_agg(x.first_seen ORDER BY x.tag) INTO tags, seen
		FROM (SELECT c.tag, c.first_seen FROM imagestream.policy_candidate c
			  JOIN imagestream.policy_listing_page g ON g.listing_id = c.listing_id AND g.tag = c.tag
			  WHERE c.listing_id = l.id AND c.tag > after COLLATE pg_catalog."C"
			  ORDER BY c.tag LIMIT 1000) x;
		EXIT WHEN tags IS NULL;
		after := tags[array_upper(tags, 1)];
		FOR i IN 1 .. coalesce(cardinality(ps), 0) LOOP
			p := ps[i];
			-- (a NULL best is a NULL element, which the choice skips)
			best := imagestream._policy_choose(tags || choices[i], seen || seens[i],
				p.semver, p.ordering, p.pattern, p.extract);
			-- a new best is of this batch
			IF best IS DISTINCT FROM choices[i] THEN
				choices[i] := best;
				seens[i] := seen[array_position(tags, best)];
			END IF;
		END LOOP;
	END LOOP;
END $$;

-- The last page: the listing in policy_listing_page against the stored
-- candidates, each policy's winner chosen, the tags whose winner changed
-- moved.  Tags new upstream are first seen now; those gone are removed,
-- but a policy's winner: a winner that vanished keeps ranking, so that its
-- tag keeps its image (condition WinnerVanished) until a better tag comes.
-- The tags of one stream moved together share one new generation.
-- Nothing is written to a logged table when nothing changed.  Returns how
-- many tags moved.
CREATE OR REPLACE FUNCTION _policy_listed(l imagestream.policy_listing) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
	ps imagestream.tag_policy[];
	choices text[];
	listings boolean[];
	p imagestream.tag_policy;
	listed boolean;
	choice text;
	status text;
	reason text;
	message text;
	s imagestream.stream;
	t imagestream.tag;
	ref text;
	moved integer := 0;
	bumped bigint[] := '{}';
BEGIN
	INSERT INTO imagestream.policy_candidate (listing_id, tag, first_seen)
	SELECT l.id, g.tag, now() FROM imagestream.policy_listing_page g
	WHERE g.listing_id = l.id
	  AND NOT EXISTS (SELECT 1 FROM imagestream.policy_candidate c
					  WHERE c.listing_id = l.id AND c.tag = g.tag);

	ps := ARRAY(SELECT x FROM imagestream.tag_policy x WHERE x.listing_id = l.id
				ORDER BY x.stream_id, x.tag);
	SELECT w.choices, w.listed INTO choices, listings FROM imagestream._policy_winners(l, ps) w;
	FOR i IN 1 .. coalesce(cardinality(ps), 0) LOOP
		p := ps[i];
		listed := listings[i];
		choice := choices[i];
		status := 'True';
		reason := NULL;
		message := NULL;
		IF choice IS NULL THEN
			status := 'False';
			reason := 'NoCandidate';
			message := format('No tag of %s is eligible for the policy.', l.repository);
			choice := p.winner;
		ELSIF NOT listed AND choice = p.winner THEN
			status := 'False';
			reason := 'WinnerVanished';
			message := format('Tag %s vanished from %s; the tag keeps its image until a better tag comes.',
							  p.winner, l.repository);
		END IF;

		IF choice IS DISTINCT FROM p.winner THEN
			-- the ordinary spec path: repository:winner, scheduled, pending
			ref := imagestream.ref_with_tag(l.repository, choice)::text;
			SELECT * INTO s FROM imagestream.stream x WHERE x.id = p.stream_id FOR UPDATE;
			SELECT * INTO t FROM imagestream.tag x WHERE x.stream_id = s.id AND x.name = p.tag FOR UPDATE;
			IF NOT (t.has_spec AND t.from_kind = 'DockerImage' AND t.from_ref = ref AND NOT t.reference
					AND t.scheduled AND t.insecure = l.insecure) IS TRUE THEN
				-- (one new generation for the stream's tags moved by this listing)
				IF NOT s.id = ANY (bumped) THEN
					UPDATE imagestream.stream x SET generation = x.generation + 1 WHERE x.id = s.id
					RETURNING * INTO s;
					bumped := bumped || s.id;
				END IF;
				PERFORM imagestream._set_spec(s, p.tag, 'DockerImage', ref, false, true, l.insecure,
					coalesce(t.import_mode, 'Legacy'), coalesce(t.reference_policy, 'Source'),
					coalesce(t.annotations, '{}'), true);
				moved := moved + 1;
			END IF;
		END IF;
		PERFORM imagestream._policy_condition(p, l.repository, status, reason, message, choice, false);
	END LOOP;

	-- tags gone upstream, but the winners
	DELETE FROM imagestream.policy_candidate c
	WHERE c.listing_id = l.id
	  AND NOT EXISTS (SELECT 1 FROM imagestream.policy_listing_page g
					  WHERE g.listing_id = l.id AND g.tag = c.tag)
	  AND NOT EXISTS (SELECT 1 FROM imagestream.tag_policy x
					  WHERE x.listing_id = l.id AND x.winner = c.tag);
	-- a winner kept after it vanished is listed no more (explain_policy
	-- shows it to its own policy alone), one that came back is again;
	-- only the rows that change are written
	UPDATE imagestream.policy_candidate c SET listed = NOT c.listed
	WHERE c.listing_id = l.id
	  AND c.listed IS DISTINCT FROM EXISTS (SELECT 1 FROM imagestream.policy_listing_page g
										   WHERE g.listing_id = l.id AND g.tag = c.tag);
	RETURN moved;
END $$;

-- One page of a listing, in the registry's order (p_first: its first,
-- p_last: its last), kept in the unlogged policy_listing_page (names that
-- are no tag names are left out).  The last page decides (_policy_listed)
-- and answers the requests made before the listing started.  A page with
-- no listing under way (the first was lost with a crash) is ignored, as is
-- a listing no longer there.  Returns how many tags moved (0 before the
-- last page).
CREATE OR REPLACE FUNCTION _policy_listing_page(p_listing_id bigint, p_tags text[],
	p_first boolean, p_last boolean) RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, imagestream, pg_temp AS $$
DECLARE
	l imagestream.policy_listing;
	started timestamptz;
	moved integer := 0;
BEGIN
	SELECT * INTO l FROM imagestream.policy_listing x WHERE x.id = p_listing_id;
	IF NOT FOUND THEN
		RETURN 0;
	END IF;
	IF p_first THEN
		DELETE FROM imagestream.policy_listing_page g WHERE g.listing_id = l.id;
		INSERT INTO imagestream.policy_listing_run AS r (listing_id, started_at) VALUES (l.id, now())
		ON CONFLICT (listing_id) DO UPDATE SET started_at = excluded.started_at;
	END IF;
	SELECT r.started_at INTO started FROM imagestream.policy_listing_run r WHERE r.listing_id = l.id;
	IF started IS NULL THEN
		RETURN 0;
	END IF;
	INSERT INTO imagestream.policy_listing_page (listing_id, tag)
	SELECT l.id, n FROM unnest(imagestream._tag_names(coalesce(p_tags, '{}'))) AS n
	ON CONFLICT DO NOTHING;
	IF coalesce(p_last, false) THEN
		moved := imagestream._policy_listed(l);
		DELETE FROM imagestream.policy_listing_page g WHERE g.listing_id = l.id;
		UPDATE imagestream.policy_listing_run r SET started_at = NULL, listed_at = now()
		WHERE r.listing_id = l.id;
		IF l.requested_at <= started THEN
			UPDATE imagestream.policy_listing x SET requested_at = NULL WHERE x.id = l.id;
		END IF;
	END IF;
	RETURN moved;
END $$;

-- A listing failed (a registry's error, a page too large, ...): the
-- winners stay, each policy gets the failure as its condition (a new one
-- is logged as the tag's import_failed change), and the requests are
-- answered; the back-off is the worker's.
CREATE OR REPLACE FUNCTION _policy_listing_failed(p_listing_id bigint, p_reason text, p_message text)
RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, imagestream, pg_temp AS $$
DECLARE
	l imagestream.policy_listing;
	p imagestream.tag_policy;
	msg text := coalesce(nullif(p_message, ''), 'unknown error prevented the listing');
BEGIN
	SELECT * INTO l FROM imagestream.policy_listing x WHERE x.id = p_listing_id;
	IF NOT FOUND THEN
		RETURN;
	END IF;
	FOR p IN SELECT * FROM imagestream.tag_policy x WHERE x.listing_id = l.id
			 ORDER BY x.stream_id, x.tag LOOP
		PERFORM imagestream._policy_condition(p, l.repository, 'False',
			coalesce(p_reason, 'InternalError'), msg, p.winner, true);
	END LOOP;
	DELETE FROM imagestream.policy_listing_page g WHERE g.listing_id = l.id;
	UPDATE imagestream.policy_listing_run r SET started_at = NULL
	WHERE r.listing_id = l.id AND r.started_at IS NOT NULL;
	IF l.requested_at IS NOT NULL THEN
		UPDATE imagestream.policy_listing x SET requested_at = NULL WHERE x.id = l.id;
	END IF;
END $$;
