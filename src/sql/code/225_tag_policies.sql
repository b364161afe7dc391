-- Tag policies (doc/policies.md): follow, unfollow, explain_policy.  A
-- policy makes a tag follow the best tag of a repository, as Flux's
-- ImagePolicy; the worker lists the repository (287_policy_listings.sql) and
-- the choice is made in C (src/tag_policy.c).

-- Refuses a policy that cannot run: exactly one of semver (a range that
-- parses, 22023) and ordering (one of five), a valid pattern (2201B), an
-- extract only with a pattern.
CREATE OR REPLACE FUNCTION _policy_check(semver text, ordering text, pattern text, "extract" text)
RETURNS void
	AS 'MODULE_PATHNAME', 'imagestream_policy_check' LANGUAGE C STABLE;

-- The winner among tags (seen: when each was first seen, for newest), NULL
-- when none is eligible.
CREATE OR REPLACE FUNCTION _policy_choose(tags text[], seen timestamptz[], semver text,
	ordering text, pattern text, "extract" text) RETURNS text
	AS 'MODULE_PATHNAME', 'imagestream_policy_choose' LANGUAGE C STABLE;

-- Each of tags with its value, whether eligible, whether the winner, and
-- why it lost: the winner first, then the eligible by rank, then the rest.
CREATE OR REPLACE FUNCTION _policy_explain(tags text[], seen timestamptz[], semver text,
	ordering text, pattern text, "extract" text)
RETURNS TABLE(candidate text, value text, eligible boolean, selected boolean, why text)
	AS 'MODULE_PATHNAME', 'imagestream_policy_explain' LANGUAGE C STABLE;

-- The elements of names that are tag names (a registry may list anything).
CREATE OR REPLACE FUNCTION _tag_names(names text[]) RETURNS text[]
	AS 'MODULE_PATHNAME', 'imagestream_tag_names' LANGUAGE C IMMUTABLE STRICT;

-- The policy of a tag, if it follows one (a probe of the primary key).
CREATE OR REPLACE FUNCTION _tag_policy(p_ns text, p_stream text, p_tag text)
RETURNS imagestream.tag_policy LANGUAGE sql STABLE AS $$
	SELECT p.* FROM imagestream.tag_policy p JOIN imagestream.stream s ON s.id = p.stream_id
	WHERE s.namespace = p_ns AND s.name = p_stream AND p.tag = p_tag
$$;

-- tag() and import_image(from_image) refuse a followed tag: its policy
-- chooses its source (doc/policies.md).
CREATE OR REPLACE FUNCTION _refuse_followed(p_ns text, p_stream text, p_tag text, p_what text)
RETURNS void LANGUAGE plpgsql STABLE AS $$
BEGIN
	IF (imagestream._tag_policy(p_ns, p_stream, p_tag)).tag IS NOT NULL THEN
		RAISE EXCEPTION 'image stream tag "%/%:%" follows a policy', p_ns, p_stream, p_tag
			USING ERRCODE = 'object_not_in_prerequisite_state',
				DETAIL = format('Its policy chooses its source; %s would replace it.', p_what),
				HINT = 'Run imagestream.unfollow() first.';
	END IF;
END $$;

-- A listing no policy uses any more goes, with its candidates (after
-- unfollow, a policy moved to another repository, delete_stream).
CREATE OR REPLACE FUNCTION _drop_unused_listings() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	DELETE FROM imagestream.policy_listing l
	WHERE l.id IN (SELECT o.listing_id FROM old_policies o)
	  AND NOT EXISTS (SELECT 1 FROM imagestream.tag_policy p WHERE p.listing_id = l.id);
	RETURN NULL;
END $$;

CREATE OR REPLACE TRIGGER drop_unused_listings AFTER DELETE ON tag_policy
	REFERENCING OLD TABLE AS old_policies
	FOR EACH STATEMENT EXECUTE FUNCTION _drop_unused_listings();
CREATE OR REPLACE TRIGGER drop_unused_listings_moved AFTER UPDATE ON tag_policy
	REFERENCING OLD TABLE AS old_policies
	FOR EACH STATEMENT EXECUTE FUNCTION _drop_unused_listings();

-- Asks the worker to list a listing at once (follow, import_now).
CREATE OR REPLACE FUNCTION _request_listing(p_listing_id bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	UPDATE imagestream.policy_listing SET requested_at = now() WHERE id = p_listing_id;
	PERFORM imagestream._wake_worker();
END $$;

-- follow: the tag follows the best tag of repository.  The stream is
-- created if missing, as tag() does; the tag gets its spec (repository:winner,
-- scheduled) when the worker's listing finds a winner.  Running it again
-- changes the policy; the winner is kept while the repository is the same.
CREATE OR REPLACE FUNCTION _api_follow(tag text, repository text, semver text DEFAULT NULL,
	ordering text DEFAULT NULL, pattern text DEFAULT NULL, "extract" text DEFAULT NULL,
	insecure boolean DEFAULT false) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
#variable_conflict use_variable
DECLARE
	d record := imagestream._parse_tag(tag);
	repo imagestream.image_ref;
	v_insecure boolean := coalesce(insecure, false);
	s imagestream.stream;
	listing bigint;
BEGIN
	IF repository IS NULL THEN
		RAISE EXCEPTION 'a repository is required' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	PERFORM imagestream._require(d.namespace, 'edit');
	repo := imagestream._repository_only(repository, 'repository');
	PERFORM imagestream._policy_check(semver, ordering, pattern, "extract");

	s := imagestream._lock_stream(d.namespace, d.stream, true);
	-- a policy would only ever move it
	PERFORM imagestream._refuse_protected(d.namespace, d.stream, d.tag, 'a policy would move it');
	INSERT INTO imagestream.policy_listing AS l (namespace, repository, insecure, requested_at)
	VALUES (d.namespace, repo, v_insecure, now())
	ON CONFLICT ON CONSTRAINT policy_listing_key DO UPDATE SET requested_at = now()
	RETURNING l.id INTO listing;
	INSERT INTO imagestream.tag_policy AS p (stream_id, tag, listing_id, semver, ordering, pattern, extract)
	VALUES (s.id, d.tag, listing, semver, ordering, pattern, "extract")
	ON CONFLICT ON CONSTRAINT tag_policy_pkey DO UPDATE
	SET listing_id = excluded.listing_id, semver = excluded.semver, ordering = excluded.ordering,
		pattern = excluded.pattern, extract = excluded.extract,
		-- another repository: nothing of the last listing holds
		winner = CASE WHEN p.listing_id = excluded.listing_id THEN p.winner END,
		list_status = CASE WHEN p.listing_id = excluded.listing_id THEN p.list_status END,
		list_reason = CASE WHEN p.listing_id = excluded.listing_id THEN p.list_reason END,
		list_message = CASE WHEN p.listing_id = excluded.listing_id THEN p.list_message END,
		list_transition = CASE WHEN p.listing_id = excluded.listing_id THEN p.list_transition END;
	PERFORM imagestream._wake_worker();
END $$;

CREATE OR REPLACE FUNCTION follow(tag text, repository text, semver text DEFAULT NULL,
	ordering text DEFAULT NULL, pattern text DEFAULT NULL, "extract" text DEFAULT NULL,
	insecure boolean DEFAULT false) RETURNS void
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C;
COMMENT ON FUNCTION follow(text, text, text, text, text, text, boolean)
	IS 'make a tag follow the best tag of a repository (Flux ImagePolicy): a semver range or an ordering';

-- unfollow: the policy goes; the tag keeps its image and its source.
CREATE OR REPLACE FUNCTION _api_unfollow(tag text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
DECLARE
	d record := imagestream._parse_tag(tag);
	s imagestream.stream;
BEGIN
	PERFORM imagestream._require(d.namespace, 'edit');
	s := imagestream._lock_stream(d.namespace, d.stream);
	DELETE FROM imagestream.tag_policy p WHERE p.stream_id = s.id AND p.tag = d.tag;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'image stream tag "%/%:%" follows no policy', d.namespace, d.stream, d.tag
			USING ERRCODE = 'undefined_object';
	END IF;
END $$;

CREATE OR REPLACE FUNCTION unfollow(tag text) RETURNS void
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C;
COMMENT ON FUNCTION unfollow(text) IS 'stop a tag''s policy; the tag keeps its image and source';

-- explain_policy: the last listing's tags, each with its value, whether the
-- policy may choose it, whether it did, and why it lost.  A winner that
-- vanished upstream is still listed (the tag keeps its image); another
-- policy's vanished winner is not, whatever that policy's condition says
-- since (a failed listing, say).
CREATE OR REPLACE FUNCTION _api_explain_policy(tag text)
RETURNS TABLE(candidate text, value text, eligible boolean, selected boolean, why text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
#variable_conflict use_column
DECLARE
	d record := imagestream._parse_tag(tag);
	p imagestream.tag_policy;
	vanished text;
BEGIN
	PERFORM imagestream._require(d.namespace, 'view');
	p := imagestream._tag_policy(d.namespace, d.stream, d.tag);
	IF p.tag IS NULL THEN
		RAISE EXCEPTION 'image stream tag "%/%:%" follows no policy', d.namespace, d.stream, d.tag
			USING ERRCODE = 'undefined_object';
	END IF;
	SELECT c.tag INTO vanished FROM imagestream.policy_candidate c
	WHERE c.listing_id = p.listing_id AND c.tag = p.winner AND NOT c.listed;
	RETURN QUERY
		SELECT e.candidate, e.value, e.eligible, e.selected,
			CASE WHEN e.candidate = vanished
				 THEN concat_ws('; ', 'vanished upstream, the tag keeps its image', e.why) ELSE e.why END
		FROM (SELECT array_agg(c.tag ORDER BY c.tag) AS tags, array_agg(c.first_seen ORDER BY c.tag) AS seen
			  FROM imagestream.policy_candidate c
			  WHERE c.listing_id = p.listing_id AND (c.listed OR c.tag = p.winner)) x,
			imagestream._policy_explain(x.tags, x.seen, p.semver, p.ordering, p.pattern, p.extract) e;
END $$;

CREATE OR REPLACE FUNCTION explain_policy(tag text)
RETURNS TABLE(candidate text, value text, eligible boolean, selected boolean, why text)
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C STABLE;
COMMENT ON FUNCTION explain_policy(text)
	IS 'the last listing of a followed tag''s repository: each upstream tag, whether the policy chose it, and why not';
