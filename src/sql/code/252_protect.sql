-- protect and unprotect (doc/gates.md): a namespace admin's patterns of
-- tags that do not move once they have an image (the rule:
-- 115_protection.sql).

-- A pattern is matched with LIKE against "stream:tag" (backslash escapes).
-- One that could match no such text is a mistake ("prod" for "%:prod"), and
-- one that ends in a lone escape an error LIKE would raise only on a match.
CREATE OR REPLACE FUNCTION _check_tag_pattern(p_pattern text) RETURNS void
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
	-- without its escaped characters, which match themselves
	bare text := regexp_replace(p_pattern, '\\.', '', 'g');
BEGIN
	IF p_pattern IS NULL THEN
		RAISE EXCEPTION 'a tag pattern is required' USING ERRCODE = 'null_value_not_allowed';
	ELSIF octet_length(p_pattern) > 1024 THEN
		RAISE EXCEPTION 'tag pattern is too long'
			USING ERRCODE = 'invalid_parameter_value',
				DETAIL = format('It has %s bytes; at most 1024 are allowed.', octet_length(p_pattern));
	ELSIF right(bare, 1) = '\' THEN
		RAISE EXCEPTION 'LIKE pattern must not end with escape character'
			USING ERRCODE = 'invalid_escape_sequence',
				HINT = 'A backslash escapes the character after it, as in "web:v1\_%".';
	ELSIF strpos(p_pattern, ':') = 0 AND bare !~ '[%_]' THEN
		RAISE EXCEPTION 'tag pattern "%" matches no "stream:tag"', p_pattern
			USING ERRCODE = 'invalid_parameter_value',
				DETAIL = 'A pattern is matched against the stream and the tag, as in "web:prod".',
				HINT = 'Write "%:prod" for tag prod of every stream, "web:%" for every tag of stream web.';
	END IF;
END $$;

-- Locks, in id order as prune does, the streams of namespace p_ns with a tag
-- that p_pattern matches (p_aliases: an alias).
CREATE OR REPLACE FUNCTION _lock_matching_streams(p_ns text, p_pattern text, p_aliases boolean)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	PERFORM 1 FROM imagestream.stream s
	WHERE s.namespace = p_ns
	  AND EXISTS (SELECT 1 FROM imagestream.tag t
				  WHERE t.stream_id = s.id AND (t.stream || ':' || t.name) LIKE p_pattern
					AND (NOT p_aliases OR (t.has_spec AND t.from_kind = 'ImageStreamTag')))
	ORDER BY s.id FOR UPDATE;
END $$;

-- The pattern's row comes first, then the streams of the tags it matches
-- are locked as writers lock them (unprotect takes them in the same
-- order): a move under way commits before it, and a later one sees the
-- pattern.  Every write of a tag reads its namespace's patterns, and so
-- do the server-wide prune and the import path: a namespace has at most 100.
CREATE OR REPLACE FUNCTION _api_protect(namespace text, tag_pattern text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
DECLARE
	max_patterns constant integer := 100;
BEGIN
	PERFORM imagestream._check_names(namespace, 'namespace', namespace, 'x');
	PERFORM imagestream._require(namespace, 'admin');
	PERFORM imagestream._check_tag_pattern(tag_pattern);
	IF (SELECT count(*) FROM imagestream.protected_tag p
		WHERE p.namespace = _api_protect.namespace AND p.pattern <> tag_pattern) >= max_patterns THEN
		RAISE EXCEPTION 'too many protected tag patterns in namespace "%"', namespace
			USING ERRCODE = 'program_limit_exceeded',
				DETAIL = format('A namespace has at most %s.', max_patterns),
				HINT = 'Patterns can match many tags: "%:v1.%" protects every v1 tag.';
	END IF;
	INSERT INTO imagestream.protected_tag (namespace, pattern, created_by)
	VALUES (namespace, tag_pattern, imagestream._change_actor())
	ON CONFLICT ON CONSTRAINT protected_tag_pkey DO NOTHING;
	PERFORM imagestream._lock_matching_streams(namespace, tag_pattern, false);
END $$;

CREATE OR REPLACE FUNCTION protect(namespace text, tag_pattern text) RETURNS void
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C;
COMMENT ON FUNCTION protect(text, text) IS 'protect the tags of a namespace that match a LIKE pattern on "stream:tag": once they have an image they never move and are never removed';

-- The pattern goes; an alias it held (and nothing else holds now) takes
-- its source's current event, as an alias does when it is set, so that
-- every alias protection does not hold shows its source.
CREATE OR REPLACE FUNCTION _api_unprotect(namespace text, tag_pattern text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
DECLARE
	f imagestream.tag;
	src imagestream.tag;
	via text;
BEGIN
	PERFORM imagestream._check_names(namespace, 'namespace', namespace, 'x');
	PERFORM imagestream._require(namespace, 'admin');
	IF tag_pattern IS NULL THEN
		RAISE EXCEPTION 'a tag pattern is required' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	DELETE FROM imagestream.protected_tag p
	WHERE p.namespace = _api_unprotect.namespace AND p.pattern = tag_pattern;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'tag pattern "%" is not protected in namespace "%"', tag_pattern, namespace
			USING ERRCODE = 'undefined_object',
				HINT = 'The view imagestream.protected_tags lists the patterns.';
	END IF;
	PERFORM imagestream._lock_matching_streams(namespace, tag_pattern, true);
	FOR f IN
		SELECT * FROM imagestream.tag t
		WHERE t.namespace = _api_unprotect.namespace AND t.has_spec AND t.from_kind = 'ImageStreamTag'
		  AND NOT t.reference AND (t.stream || ':' || t.name) LIKE tag_pattern
		  AND imagestream._protecting_patterns(t) IS NULL
		ORDER BY t.stream_id, t.name
	LOOP
		-- (read now: an earlier alias's move may have moved it along its chain)
		SELECT * INTO src FROM imagestream.tag t
		WHERE t.stream_id = f.stream_id
		  AND t.name = substr(f.from_ref, length(format('%s/%s:', f.namespace, f.stream)) + 1)
		  AND t.docker_image_reference IS NOT NULL;
		IF FOUND THEN
			-- (as _update_followers: its own gates first)
			via := NULL;
			IF f.gated AND f.image IS DISTINCT FROM src.image THEN
				via := imagestream._move_held(f, f.from_ref, src.docker_image_reference, src.image,
											  coalesce(src.source_digest, src.image), src.status_generation);
				CONTINUE WHEN via = 'held';
			ELSIF f.gated THEN
				DELETE FROM imagestream.gate_candidate c WHERE c.tag_id = f.id;
			END IF;
			PERFORM imagestream._add_event(f.id, src.docker_image_reference, src.image,
										   src.status_generation, src.created, via);
		END IF;
	END LOOP;
END $$;

CREATE OR REPLACE FUNCTION unprotect(namespace text, tag_pattern text) RETURNS void
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C;
COMMENT ON FUNCTION unprotect(text, text) IS 'lift the protection of a tag pattern of a namespace';
