-- Gates (doc/gates.md): which images an import may move a tag to.  Every
-- move an import makes, and a move that reaches an alias from the tag it
-- follows, asks _move_held first; a candidate it holds back stays in
-- gate_candidate, the tag on its known-good image.

-- Does platform p (os/architecture[/variant]) offer the required r?  A
-- required platform without a variant takes any; arm64 without a variant
-- is arm64/v8 (as containerd and OpenShift normalise it).
CREATE OR REPLACE FUNCTION _platform_offers(p text, r text) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
	SELECT split_part(p, '/', 1) = split_part(r, '/', 1)
	   AND split_part(p, '/', 2) = split_part(r, '/', 2)
	   AND (split_part(r, '/', 3) = ''
			OR CASE WHEN split_part(p, '/', 3) = '' AND split_part(p, '/', 2) = 'arm64' THEN 'v8'
					ELSE split_part(p, '/', 3) END
			   = CASE WHEN split_part(r, '/', 2) = 'arm64' AND split_part(r, '/', 3) = '' THEN 'v8'
					  ELSE split_part(r, '/', 3) END)
$$;

-- Does image p_image carry every label of p_labels: its config's, or for an
-- index every child's (each catalogued: a PreserveOriginal import)?
CREATE OR REPLACE FUNCTION _labels_carried(p_image image_digest, p_labels jsonb) RETURNS boolean
LANGUAGE sql STABLE AS $$
	SELECT CASE WHEN EXISTS (SELECT 1 FROM imagestream.image_child c WHERE c.image = p_image)
		THEN NOT EXISTS (SELECT 1 FROM imagestream.image_child c
						 LEFT JOIN imagestream.image i ON i.digest = c.digest
						 WHERE c.image = p_image
						   AND NOT coalesce(i.labels @> p_labels, false))
		ELSE coalesce((SELECT i.labels @> p_labels FROM imagestream.image i WHERE i.digest = p_image), false)
	END
$$;

-- The signature gate: the first of p_keys (names of trusted keys of
-- p_namespace, or server-wide) with which a signature kept for p_signed
-- verifies, or NULL and why none does (the distinct reasons, at most
-- three: a signature of another digest says more than a stranger's).
-- Each signature is verified with each key once (signature_check), and
-- remembered when p_remember (not in gates(), which writes nothing).
CREATE OR REPLACE FUNCTION _signed_by(p_namespace text, p_keys text[], p_signed image_digest,
	p_remember boolean, OUT key text, OUT why text)
LANGUAGE plpgsql AS $$
DECLARE
	k text;
	pem text;
	kid bytea;
	s record;
	reason text;
	reasons text[] := '{}';
BEGIN
	FOREACH k IN ARRAY p_keys LOOP
		pem := imagestream._trusted_key_pem(p_namespace, k);
		IF pem IS NULL THEN
			reasons := reasons || format('There is no trusted key "%s".', k);
			CONTINUE;
		END IF;
		kid := sha256(convert_to(pem, 'UTF8'));
		FOR s IN SELECT x.id, x.payload, x.signature, c.key_id IS NOT NULL AS checked, c.reason
				 FROM imagestream.image_signature x
				 LEFT JOIN imagestream.signature_check c
					  ON c.image = x.image AND c.signature_id = x.id AND c.key_id = kid
				 WHERE x.image = p_signed ORDER BY x.id LOOP
			reason := CASE WHEN s.checked THEN s.reason
						   ELSE imagestream._signature_verify(s.payload, s.signature, pem, p_signed) END;
			IF p_remember AND NOT s.checked THEN
				INSERT INTO imagestream.signature_check (image, signature_id, key_id, reason)
				VALUES (p_signed, s.id, kid, reason) ON CONFLICT DO NOTHING;
			END IF;
			IF reason IS NULL THEN
				key := k;
				RETURN;
			END IF;
			reason := format('With key "%s": %s', k, reason);
			IF NOT reason = ANY (reasons) THEN
				reasons := reasons || reason;
			END IF;
		END LOOP;
	END LOOP;
	why := CASE WHEN reasons = '{}' THEN format('No signature of %s was found.', p_signed)
				ELSE array_to_string(reasons[1:3], ' ') END;
END $$;

-- Each gate of tag p_tag_id for candidate p_image (p_signed: the digest its
-- source served, which a signature must name): passed, or pending (age and
-- approval, which time or an admin may yet pass: recheck_at says when), or
-- neither (refused), with a sentence saying why.  p_remember: what
-- verifying signatures said is kept (_signed_by).
CREATE OR REPLACE FUNCTION _gate_checks(p_tag_id bigint, p_namespace text, p_image image_digest,
	p_signed image_digest, p_remember boolean DEFAULT false)
RETURNS TABLE (gate text, setting text, passed boolean, pending boolean, detail text,
	recheck_at timestamptz)
LANGUAGE plpgsql AS $$
DECLARE
	g imagestream.tag_gate;
	offered text[];
	missing text[];
	seen timestamptz;
	a imagestream.gate_approval;
	sig record;
BEGIN
	SELECT * INTO g FROM imagestream.tag_gate x WHERE x.tag_id = p_tag_id;
	IF NOT FOUND THEN
		RETURN;
	END IF;
	IF g.platforms IS NOT NULL THEN
		offered := coalesce(imagestream._platforms(p_image), '{}');
		missing := ARRAY(SELECT r FROM unnest(g.platforms) r
						 WHERE NOT EXISTS (SELECT 1 FROM unnest(offered) p
										   WHERE imagestream._platform_offers(p, r)));
		RETURN QUERY SELECT 'platforms', array_to_string(g.platforms, ', '), missing = '{}', false,
			CASE WHEN missing = '{}' THEN format('It offers %s.', array_to_string(offered, ', '))
				 ELSE format('It offers %s, not %s.',
							 coalesce(nullif(array_to_string(offered, ', '), ''), 'no platform'),
							 array_to_string(missing, ', ')) END,
			NULL::timestamptz;
	END IF;
	IF g.labels IS NOT NULL THEN
		RETURN QUERY SELECT 'labels', g.labels::text, x.ok, false,
			CASE WHEN x.ok THEN 'It carries every label.'
				 ELSE 'Its configuration (each child''s, for an index) lacks a label or its value.' END,
			NULL::timestamptz
		FROM (SELECT imagestream._labels_carried(p_image, g.labels) AS ok) x;
	END IF;
	IF g.signed_by IS NOT NULL THEN
		sig := imagestream._signed_by(p_namespace, g.signed_by, p_signed, p_remember);
		RETURN QUERY SELECT 'signed_by', array_to_string(g.signed_by, ', '), sig.key IS NOT NULL, false,
			CASE WHEN sig.key IS NOT NULL THEN format('%s is signed by key "%s".', p_signed, sig.key)
				 ELSE sig.why END, NULL::timestamptz;
	END IF;
	IF g.min_age IS NOT NULL THEN
		SELECT s.first_seen INTO seen FROM imagestream.gate_seen s
		WHERE s.namespace = p_namespace AND s.image = p_image;
		seen := coalesce(seen, now());
		RETURN QUERY SELECT 'min_age', g.min_age::text, seen + g.min_age <= now(), seen + g.min_age > now(),
			format('It was first seen at %s; old enough from %s.', seen, seen + g.min_age),
			seen + g.min_age;
	END IF;
	IF g.approval THEN
		SELECT * INTO a FROM imagestream.gate_approval x WHERE x.tag_id = p_tag_id AND x.image = p_image;
		RETURN QUERY SELECT 'approval', 'true', a.tag_id IS NOT NULL, a.tag_id IS NULL,
			CASE WHEN a.tag_id IS NOT NULL THEN format('Approved by %s at %s.', a.approver, a.approved_at)
				 ELSE 'It waits for approve() by a namespace admin.' END,
			NULL::timestamptz;
	END IF;
END $$;

-- The verdict of a tag's gates on a candidate: pass (route 'approve' when
-- an approval let it through), pending or refused, with the gate that says
-- so (the first refusing, else the first pending), the condition's message
-- (that gate's, or those pending) and when time may pass it.
CREATE OR REPLACE FUNCTION _gate_verdict(p_tag_id bigint, p_namespace text, p_image image_digest,
	p_signed image_digest, OUT state text, OUT via text, OUT gate text, OUT message text,
	OUT recheck_at timestamptz)
LANGUAGE sql AS $$
	SELECT CASE WHEN coalesce(bool_and(c.passed), true) THEN 'pass'
				WHEN bool_or(NOT c.passed AND NOT c.pending) THEN 'refused'
				ELSE 'pending' END,
		   CASE WHEN bool_or(c.gate = 'approval' AND c.passed) THEN 'approve' END,
		   coalesce((array_agg(c.gate) FILTER (WHERE NOT c.passed AND NOT c.pending))[1],
					(array_agg(c.gate) FILTER (WHERE c.pending))[1]),
		   coalesce((array_agg(format('Gate %s refuses %s: %s', c.gate, p_image, c.detail))
						 FILTER (WHERE NOT c.passed AND NOT c.pending))[1],
					format('%s waits for gate %s', p_image,
						   string_agg(format('%s (%s)', c.gate, c.detail), ', ')
						   FILTER (WHERE c.pending))),
		   max(c.recheck_at) FILTER (WHERE c.pending)
	FROM imagestream._gate_checks(p_tag_id, p_namespace, p_image, p_signed, true) c
$$;

-- Before a move of tag t to p_image (from p_source, pull spec p_ref, its
-- source having served p_signed) that an import, or the tag an alias
-- follows, makes: 'held' when protection (115_protection.sql: the
-- condition Protected) or the gates keep it back (the candidate kept, the
-- condition GateFailed or GatePending, recorded with p_generation), else
-- the route of the move ('approve', or NULL), the candidate gone.  A held
-- tag forgets what its source served (source_digest), so that the next
-- check fetches the source whole: a candidate the source no longer serves
-- is then dropped, not let through later.
CREATE OR REPLACE FUNCTION _move_held(t imagestream.tag, p_source text, p_ref image_ref,
	p_image image_digest, p_signed image_digest, p_generation bigint DEFAULT NULL) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	v record;
	recheck timestamptz;
	patterns text[] := imagestream._protecting_patterns(t);
BEGIN
	IF patterns IS NOT NULL THEN
		-- (no candidate waits at protection: the worker would pick it up forever)
		DELETE FROM imagestream.gate_candidate c WHERE c.tag_id = t.id;
		PERFORM imagestream._record_failure(t.id, 'Protected',
			format('The tag is protected (%s): it keeps %s, not %s.',
				   (SELECT string_agg(format('"%s"', u), ', ') FROM unnest(patterns) u), t.image, p_image),
			p_generation);
		RETURN 'held';
	ELSIF NOT t.gated THEN
		RETURN NULL;
	ELSIF p_image IS NULL THEN
		-- a reference-only event (an alias of such a tag): nothing to evaluate
		DELETE FROM imagestream.gate_candidate c WHERE c.tag_id = t.id;
		PERFORM imagestream._record_failure(t.id, 'GateFailed',
			format('Its source %s names no image: gates hold it back.', p_ref), p_generation);
		RETURN 'held';
	END IF;
	-- the age counts from this namespace's first offer of the image
	INSERT INTO imagestream.gate_seen (namespace, image) VALUES (t.namespace, p_image)
	ON CONFLICT DO NOTHING;
	v := imagestream._gate_verdict(t.id, t.namespace, p_image, coalesce(p_signed, p_image));
	IF v.state = 'pass' THEN
		DELETE FROM imagestream.gate_candidate c WHERE c.tag_id = t.id;
		RETURN v.via;
	END IF;
	SELECT c.recheck_at INTO recheck FROM imagestream.gate_candidate c WHERE c.tag_id = t.id;
	INSERT INTO imagestream.gate_candidate AS c (tag_id, source, ref, image, source_digest, state, gate,
												 message, recheck_at)
	VALUES (t.id, p_source, p_ref, p_image, p_signed, v.state, v.gate, v.message, v.recheck_at)
	ON CONFLICT (tag_id) DO UPDATE
	SET source = excluded.source, ref = excluded.ref, image = excluded.image,
		source_digest = excluded.source_digest, state = excluded.state, gate = excluded.gate,
		message = excluded.message, recheck_at = excluded.recheck_at,
		offered_at = CASE WHEN c.image = excluded.image THEN c.offered_at ELSE now() END;
	PERFORM imagestream._record_failure(t.id,
		CASE v.state WHEN 'pending' THEN 'GatePending' ELSE 'GateFailed' END, v.message, p_generation);
	UPDATE imagestream.tag x SET source_digest = NULL WHERE x.id = t.id AND x.source_digest IS NOT NULL;
	-- a new time to evaluate it again: the worker learns it at commit
	IF v.recheck_at IS DISTINCT FROM recheck AND v.recheck_at IS NOT NULL THEN
		PERFORM imagestream._wake_worker();
	END IF;
	RETURN 'held';
END $$;

-- The candidate held back for tag p_tag_id, evaluated again (its age came,
-- an admin approved it, the gates or keys changed): moved to if the gates
-- let it through now.  A candidate of a source the tag no longer follows
-- goes.  Returns whether the tag moved.  p_nowait (the worker): a stream
-- another transaction holds raises 55P03 at once instead of waiting.
CREATE OR REPLACE FUNCTION _gate_retry(p_tag_id bigint, p_nowait boolean DEFAULT false) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
	c imagestream.gate_candidate;
	t imagestream.tag;
	s imagestream.stream;
	gen bigint;
	via text;
BEGIN
	SELECT * INTO t FROM imagestream.tag WHERE id = p_tag_id;
	IF NOT FOUND THEN
		RETURN false;
	END IF;
	IF p_nowait THEN
		SELECT * INTO s FROM imagestream.stream WHERE id = t.stream_id FOR UPDATE NOWAIT;
	ELSE
		SELECT * INTO s FROM imagestream.stream WHERE id = t.stream_id FOR UPDATE;
	END IF;
	t := imagestream._lock_tag(s, t.name);
	SELECT * INTO c FROM imagestream.gate_candidate x WHERE x.tag_id = p_tag_id;
	IF NOT FOUND THEN
		RETURN false;
	ELSIF NOT t.has_spec OR t.from_ref IS DISTINCT FROM c.source OR t.image = c.image THEN
		DELETE FROM imagestream.gate_candidate x WHERE x.tag_id = p_tag_id;
		RETURN false;
	ELSIF t.import_reason IS DISTINCT FROM 'GatePending' AND t.import_reason IS DISTINCT FROM 'GateFailed' THEN
		-- the last check of its source failed (gone upstream, unreachable):
		-- the candidate waits, with no time, for a check that offers it again
		-- (_move_held gives it one); without gates it is moot
		IF t.gated THEN
			UPDATE imagestream.gate_candidate x SET recheck_at = NULL WHERE x.tag_id = p_tag_id;
		ELSE
			DELETE FROM imagestream.gate_candidate x WHERE x.tag_id = p_tag_id;
		END IF;
		RETURN false;
	END IF;
	gen := s.generation + 1;
	via := imagestream._move_held(t, c.source, c.ref, c.image, c.source_digest, gen);
	IF via IS NOT DISTINCT FROM 'held' THEN
		RETURN false;
	END IF;
	DELETE FROM imagestream.gate_candidate x WHERE x.tag_id = p_tag_id;
	UPDATE imagestream.stream SET generation = gen WHERE id = s.id;
	IF t.from_kind = 'DockerImage' THEN
		UPDATE imagestream.tag SET source_digest = c.source_digest
		WHERE id = t.id AND source_digest IS DISTINCT FROM c.source_digest;
	END IF;
	PERFORM imagestream._add_event(t.id, c.ref, c.image, gen, now(),
		coalesce(via, imagestream._import_via(s.id, t.name, c.source)));
	RETURN true;
END $$;

-- The worker's re-evaluation of the candidates whose age has come, at most
-- p_limit of them, each in a subtransaction that waits for nothing: a
-- candidate or stream another transaction holds (a tenant's, left open) is
-- skipped or postponed by a second, and any error postpones that one
-- candidate by a minute, never the others.  Returns when the next is due
-- (now when more are due, NULL when none waits on time).
CREATE OR REPLACE FUNCTION _gates_recheck(p_limit integer DEFAULT 100) RETURNS timestamptz
LANGUAGE plpgsql SET search_path = pg_catalog, imagestream, pg_temp AS $$
DECLARE
	id bigint;
	n integer := 0;
BEGIN
	FOR id IN SELECT c.tag_id FROM imagestream.gate_candidate c
			  WHERE c.state = 'pending' AND c.recheck_at <= now()
			  ORDER BY c.recheck_at LIMIT p_limit FOR UPDATE SKIP LOCKED LOOP
		n := n + 1;
		BEGIN
			PERFORM imagestream._gate_retry(id, true);
		EXCEPTION WHEN OTHERS THEN
			-- (this transaction holds the candidate's row: the update waits for nothing)
			UPDATE imagestream.gate_candidate c
			SET recheck_at = now() + CASE WHEN SQLSTATE IN ('55P03', '40P01') THEN interval '1 second'
										  ELSE interval '1 minute' END
			WHERE c.tag_id = id;
			IF SQLSTATE NOT IN ('55P03', '40P01') THEN
				RAISE LOG 'imagestream: the gate candidate of tag % was not evaluated: %', id, SQLERRM;
			END IF;
		END;
	END LOOP;
	RETURN CASE WHEN n = p_limit THEN now()
				ELSE (SELECT min(c.recheck_at) FROM imagestream.gate_candidate c
					  WHERE c.state = 'pending' AND c.recheck_at IS NOT NULL) END;
END $$;

-- What verifying said is the library's rules' word: an update of the
-- extension, which may come with new rules, verifies every signature again.
TRUNCATE signature_check;
