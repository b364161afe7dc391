-- Protected tags (doc/gates.md, Harbor's and ECR's immutable tags): the one
-- rule of which tags protection holds.  A tag is held when it has an image
-- (a current event, which resolve() returns) and "stream:tag" matches a
-- pattern of its namespace: it never moves and is never removed, whoever
-- asks.  A tag with no image yet may get its first one.  Internal: the API
-- functions refuse held tags (_refuse_protected), followers stay where
-- protection holds them (_update_followers), prune keeps their history
-- (_prunable_events) and the import path fails their imports (_protected).

-- The patterns that hold the tag, in order, or NULL when none does.
CREATE OR REPLACE FUNCTION _protecting_patterns(t imagestream.tag) RETURNS text[]
LANGUAGE sql STABLE AS $$
	SELECT array_agg(p.pattern ORDER BY p.pattern)
	FROM imagestream.protected_tag p
	WHERE t.docker_image_reference IS NOT NULL AND p.namespace = t.namespace
	  AND (t.stream || ':' || t.name) LIKE p.pattern
$$;

-- Whether protection holds the tag (false when it does not exist): the
-- import path fails an import of a held tag with reason Protected.
CREATE OR REPLACE FUNCTION _protected(p_namespace text, p_stream text, p_tag text) RETURNS boolean
LANGUAGE sql STABLE AS $$
	SELECT coalesce((SELECT imagestream._protecting_patterns(t) IS NOT NULL
					 FROM imagestream.tag t
					 WHERE t.namespace = p_namespace AND t.stream = p_stream AND t.name = p_tag), false)
$$;

-- Refuses (55000) a change of a held tag, or with p_tag NULL of a stream
-- that holds one (delete_stream); p_action says what the call would do, as
-- "untag() would remove it".  Callers check it with their stream locked:
-- protect() locks the streams it protects tags of, so a move either ends
-- before the pattern counts or sees it.
CREATE OR REPLACE FUNCTION _refuse_protected(p_ns text, p_stream text, p_tag text, p_action text)
RETURNS void LANGUAGE plpgsql STABLE AS $$
DECLARE
	held record;
BEGIN
	IF NOT EXISTS (SELECT 1 FROM imagestream.protected_tag p WHERE p.namespace = p_ns) THEN
		RETURN;
	END IF;
	SELECT t.name, x.patterns INTO held
	FROM imagestream.tag t, LATERAL (SELECT imagestream._protecting_patterns(t) AS patterns) x
	WHERE t.namespace = p_ns AND t.stream = p_stream AND (p_tag IS NULL OR t.name = p_tag)
	  AND x.patterns IS NOT NULL
	ORDER BY t.name LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'image stream tag "%/%:%" is protected', p_ns, p_stream, held.name
			USING ERRCODE = 'object_not_in_prerequisite_state',
				DETAIL = format('It has an image and matches the protected %s of namespace "%s"; %s.',
					CASE WHEN cardinality(held.patterns) = 1 THEN 'pattern ' ELSE 'patterns ' END
						|| (SELECT string_agg(format('"%s"', u), ', ') FROM unnest(held.patterns) u),
					p_ns, p_action),
				HINT = CASE WHEN cardinality(held.patterns) = 1
					THEN format('A namespace admin can lift it with imagestream.unprotect(%L, %L).',
								p_ns, held.patterns[1])
					ELSE 'A namespace admin can lift it with imagestream.unprotect() of each pattern.' END;
	END IF;
END $$;
