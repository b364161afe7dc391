-- registry_event (doc/registry-events.md): a registry's push notification,
-- taken as a hint.  The tags whose source is a pushed registry/repository:tag
-- are marked due as import_now marks them (_mark_due, 290_worker.sql), and
-- the worker lists the scheduled repositories of the pushed repository at
-- once (285_repository_import.sql).  Nothing of the body is recorded: the
-- worker's own requests find what was pushed, and the caller (a webhook's
-- receiver) waits for no registry.

-- An element of the payload (what says which) must be a JSON kind
-- ('object', 'string'), or 22023 naming it.
CREATE OR REPLACE FUNCTION _event_expect(item jsonb, kind text, noun text, what text) RETURNS void
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
	IF jsonb_typeof(item) IS DISTINCT FROM kind THEN
		RAISE EXCEPTION 'registry event has % that is no %', noun,
			CASE kind WHEN 'object' THEN 'JSON object' ELSE kind END
			USING ERRCODE = 'invalid_parameter_value', DETAIL = format('%s is a JSON %s.', what, jsonb_typeof(item));
	END IF;
END $$;

-- A string the payload must hold at path, or 22023 naming it.
CREATE OR REPLACE FUNCTION _event_string(doc jsonb, path text[], what text) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
	IF jsonb_typeof(doc #> path) IS DISTINCT FROM 'string' OR doc #>> path = '' THEN
		RAISE EXCEPTION 'registry event has no "%"', array_to_string(path, '.')
			USING ERRCODE = 'invalid_parameter_value',
				DETAIL = format('%s has no string at "%s".', what, array_to_string(path, '.'));
	END IF;
	RETURN doc #>> path;
END $$;

-- One push as a row of _registry_pushes: the repository p_path on registry
-- p_registry, with its tag or digest (either may be NULL, not both).  What
-- the payload names must make a valid reference whose registry is
-- p_registry, or 22023 names where it failed.
CREATE OR REPLACE FUNCTION _event_push(p_registry text, p_path text, p_tag text, p_digest text,
	what text, OUT repository image_ref, OUT tag text, OUT digest image_digest)
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
	msg text;
	detail text;
BEGIN
	IF p_tag IS NULL AND p_digest IS NULL THEN
		RAISE EXCEPTION 'registry event names no tag and no digest'
			USING ERRCODE = 'invalid_parameter_value',
				DETAIL = format('%s names neither a tag nor a digest.', what);
	END IF;
	BEGIN
		repository := (p_registry || '/' || p_path)::imagestream.image_ref;
		tag := imagestream.ref_tag(imagestream.ref_with_tag(repository, p_tag));
		digest := p_digest::imagestream.image_digest;
	EXCEPTION WHEN invalid_text_representation OR invalid_parameter_value THEN
		GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL;
		RAISE EXCEPTION 'registry event names no valid reference'
			USING ERRCODE = 'invalid_parameter_value',
				DETAIL = format('%s: %s.%s', what, msg, coalesce(' ' || nullif(detail, ''), ''));
	END;
	-- a host without "." or ":" (not "localhost") reads as a Docker Hub path
	IF imagestream.ref_tag(repository) IS NOT NULL OR imagestream.ref_digest(repository) IS NOT NULL
	   OR NOT (starts_with(repository::text, p_registry || '/') OR p_registry = 'index.docker.io') THEN
		RAISE EXCEPTION 'registry event names no valid reference'
			USING ERRCODE = 'invalid_parameter_value',
				DETAIL = format('%s: "%s" does not read as repository "%s" of registry "%s".',
								what, p_registry || '/' || p_path, p_path, p_registry);
	END IF;
END $$;

-- The pushes a registry's notification announces, one row each (tag NULL
-- for a push by digest; digest NULL when the notification names none):
-- - the CNCF distribution registry and GitLab's (its fork), an envelope
--   {"events": [...]}: each event with action "push" of a manifest, its
--   target.repository, target.tag and target.digest, on the registry
--   request.host (else the host of target.url).  Blobs are pushed too
--   (their URL has /blobs/, their media type is no manifest's): skipped;
-- - Harbor, type PUSH_ARTIFACT: each of event_data.resources (tag, digest)
--   of event_data.repository.repo_full_name, on the host of its
--   resource_url;
-- - Quay, a repository push: docker_url (registry/repository) and each of
--   updated_tags (a list of names, or an object keyed by them);
-- - Docker Hub: push_data.tag of repository.repo_name, on docker.io.
-- Other actions and event types give no row.  A payload in none of these
-- forms, or one that lacks what a push needs, is refused (22023) naming
-- what is missing.
CREATE OR REPLACE FUNCTION _registry_pushes(payload jsonb)
RETURNS TABLE(repository image_ref, tag text, digest image_digest)
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
	item jsonb;
	n integer := 0;
	what text;
	host text;
	path text;
	name text;
BEGIN
	IF jsonb_typeof(payload) IS DISTINCT FROM 'object' THEN
		RAISE EXCEPTION 'registry event must be a JSON object'
			USING ERRCODE = 'invalid_parameter_value',
				DETAIL = format('The payload is %s.', coalesce('a JSON ' || jsonb_typeof(payload), 'NULL'));
	END IF;

	IF payload ? 'events' THEN			-- distribution, GitLab
		IF jsonb_typeof(payload->'events') <> 'array' THEN
			RAISE EXCEPTION 'registry event has no "events" array'
				USING ERRCODE = 'invalid_parameter_value',
					DETAIL = format('"events" is a JSON %s.', jsonb_typeof(payload->'events'));
		END IF;
		FOR item IN SELECT e.v FROM jsonb_array_elements(payload->'events') AS e(v) LOOP
			n := n + 1;
			what := format('Event %s of "events"', n);
			PERFORM imagestream._event_expect(item, 'object', 'an event', what);
			CONTINUE WHEN imagestream._event_string(item, '{action}', what) <> 'push';
			IF jsonb_typeof(item->'target') IS DISTINCT FROM 'object' THEN
				RAISE EXCEPTION 'registry event has no "target"'
					USING ERRCODE = 'invalid_parameter_value',
						DETAIL = format('%s, a push, has no "target" object.', what);
			END IF;
			path := imagestream._event_string(item, '{target,repository}', what);
			CONTINUE WHEN coalesce(item#>>'{target,url}', '') ~ '/v2/.+/blobs/'
				OR (item#>>'{target,tag}' IS NULL
					AND coalesce(item#>>'{target,mediaType}' !~ '(manifest|index)', false));
			host := coalesce(nullif(item#>>'{request,host}', ''),
							 substring(item#>>'{target,url}' from '^[A-Za-z][A-Za-z0-9+.-]*://(?:[^/?#@]*@)?([^/?#]+)'));
			IF host IS NULL THEN
				RAISE EXCEPTION 'registry event has no "request.host"'
					USING ERRCODE = 'invalid_parameter_value',
						DETAIL = format('%s names its registry by neither "request.host" nor "target.url".', what);
			END IF;
			RETURN QUERY SELECT * FROM imagestream._event_push(host, path, nullif(item#>>'{target,tag}', ''),
				nullif(item#>>'{target,digest}', ''), what);
		END LOOP;

	ELSIF payload ? 'type' OR payload ? 'event_data' THEN	-- Harbor
		IF imagestream._event_string(payload, '{type}', 'The Harbor event') <> 'PUSH_ARTIFACT' THEN
			RETURN;
		END IF;
		name := imagestream._event_string(payload, '{event_data,repository,repo_full_name}', 'The Harbor event');
		IF jsonb_typeof(payload#>'{event_data,resources}') IS DISTINCT FROM 'array' THEN
			RAISE EXCEPTION 'registry event has no "event_data.resources"'
				USING ERRCODE = 'invalid_parameter_value',
					DETAIL = 'The Harbor event has no "event_data.resources" array.';
		END IF;
		FOR item IN SELECT e.v FROM jsonb_array_elements(payload#>'{event_data,resources}') AS e(v) LOOP
			n := n + 1;
			what := format('Resource %s of "event_data.resources"', n);
			host := split_part(imagestream._event_string(item, '{resource_url}', what), '/', 1);
			RETURN QUERY SELECT * FROM imagestream._event_push(host, name, nullif(item->>'tag', ''),
				nullif(item->>'digest', ''), what);
		END LOOP;

	ELSIF payload ? 'docker_url' THEN	-- Quay
		-- (its other notifications, of builds and scans, have no updated_tags)
		IF NOT payload ? 'updated_tags' THEN
			RETURN;
		END IF;
		name := imagestream._event_string(payload, '{docker_url}', 'The Quay notification');
		host := split_part(name, '/', 1);
		path := substr(name, length(host) + 2);
		IF jsonb_typeof(payload->'updated_tags') NOT IN ('array', 'object') THEN
			RAISE EXCEPTION 'registry event has no list of "updated_tags"'
				USING ERRCODE = 'invalid_parameter_value',
					DETAIL = format('"updated_tags" is a JSON %s.', jsonb_typeof(payload->'updated_tags'));
		END IF;
		FOR item IN SELECT e.v FROM jsonb_array_elements(CASE jsonb_typeof(payload->'updated_tags')
						WHEN 'array' THEN payload->'updated_tags' ELSE '[]' END) AS e(v)
					UNION ALL
					SELECT to_jsonb(k.v) FROM jsonb_object_keys(CASE jsonb_typeof(payload->'updated_tags')
						WHEN 'object' THEN payload->'updated_tags' ELSE '{}' END) AS k(v) LOOP
			n := n + 1;
			what := format('Tag %s of "updated_tags"', n);
			PERFORM imagestream._event_expect(item, 'string', 'a tag', what);
			RETURN QUERY SELECT * FROM imagestream._event_push(host, path, item #>> '{}', NULL, what);
		END LOOP;

	ELSIF payload ? 'push_data' THEN	-- Docker Hub
		RETURN QUERY SELECT * FROM imagestream._event_push('docker.io',
			imagestream._event_string(payload, '{repository,repo_name}', 'The Docker Hub webhook'),
			imagestream._event_string(payload, '{push_data,tag}', 'The Docker Hub webhook'), NULL,
			'The Docker Hub webhook');

	ELSE
		RAISE EXCEPTION 'registry event of no known form'
			USING ERRCODE = 'invalid_parameter_value',
				DETAIL = 'The payload has none of "events" (distribution, GitLab), "type" and "event_data" (Harbor), "docker_url" (Quay), "push_data" (Docker Hub).';
	END IF;
END $$;

-- registry_event: the tags that follow a pushed reference and the scheduled
-- repositories of a pushed repository, anywhere in the database: it sees
-- across namespaces by design, and the role that may call it is the DBA's
-- choice (doc/security.md).  A tag follows registry/repository:tag when
-- that is its source (as normalised references: nginx is
-- docker.io/library/nginx); a tag pinned to registry/repository@digest
-- only while that digest is not what it imported last (it cannot move).
-- A scheduled repository is listed by the worker at once (requested_at,
-- 285_repository_import.sql) when the push names a tag that its stream
-- lacks: a push by digest, or of a tag the stream has (which then follows
-- it, or keeps another source), adds nothing to the stream.  So is a tag
-- policies' listing of the repository, when the tag is not one of its
-- candidates (225_tag_policies.sql).  Every stream
-- concerned is locked in id order, as the worker and every writer lock
-- them.  Returns how many tags and repositories it marked.
CREATE OR REPLACE FUNCTION _api_registry_event(payload jsonb) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
DECLARE
	names imagestream.image_ref[];
	tags text[];
	digests imagestream.image_digest[];
	due bigint[];
	repos bigint[];
	marked integer;
	listings integer;
BEGIN
	SELECT coalesce(array_agg(p.repository), '{}'), coalesce(array_agg(p.tag), '{}'),
		   coalesce(array_agg(p.digest), '{}')
	INTO names, tags, digests
	FROM (SELECT DISTINCT * FROM imagestream._registry_pushes(payload)) p;

	-- the sources that follow a push, through tag_sources (no scan)
	due := ARRAY(
		SELECT DISTINCT t.id
		FROM unnest(names, tags, digests) AS p(n, tg, dg),
			 LATERAL (VALUES (imagestream.ref_with_tag(p.n, p.tg)::text, NULL::imagestream.image_digest),
							 (imagestream.ref_with_digest(p.n, p.dg)::text, p.dg),
							 (imagestream.ref_with_digest(imagestream.ref_with_tag(p.n, p.tg), p.dg)::text, p.dg))
				AS s(source, pinned)
			 JOIN imagestream.tag t ON t.has_spec AND t.from_kind = 'DockerImage' AND t.from_ref = s.source
		WHERE NOT t.reference AND (s.pinned IS NULL OR t.source_digest IS DISTINCT FROM s.pinned));

	-- the scheduled repositories to list
	repos := ARRAY(
		SELECT DISTINCT x.stream_id
		FROM unnest(names, tags) AS p(n, tg)
			 JOIN imagestream.stream_repository x ON x.scheduled AND x.repository = p.n
			 JOIN imagestream.stream s ON s.id = x.stream_id
		WHERE p.tg IS NOT NULL
		  AND NOT EXISTS (SELECT 1 FROM imagestream.tag t
						  WHERE t.namespace = s.namespace AND t.stream = s.name AND t.name = p.tg));

	-- (the ids first: a join with the stream table would be planned as a scan)
	PERFORM 1 FROM imagestream.stream s
	WHERE s.id = ANY (ARRAY(SELECT t.stream_id FROM imagestream.tag t JOIN unnest(due) AS u(id) ON t.id = u.id
							UNION SELECT unnest(repos)))
	ORDER BY s.id FOR UPDATE;
	UPDATE imagestream.stream_repository x SET requested_at = now() WHERE x.stream_id = ANY (repos);
	GET DIAGNOSTICS marked = ROW_COUNT;
	-- the tag policies' listings of the repository, when the tag is new to
	-- them (doc/policies.md)
	UPDATE imagestream.policy_listing l SET requested_at = now()
	FROM (SELECT DISTINCT p.n, p.tg FROM unnest(names, tags) AS p(n, tg) WHERE p.tg IS NOT NULL) p
	WHERE l.repository = p.n
	  AND NOT EXISTS (SELECT 1 FROM imagestream.policy_candidate c WHERE c.listing_id = l.id AND c.tag = p.tg);
	GET DIAGNOSTICS listings = ROW_COUNT;
	marked := marked + listings;
	IF marked > 0 THEN
		PERFORM imagestream._wake_worker();
	END IF;
	RETURN marked + imagestream._mark_due(due);
END $$;

CREATE OR REPLACE FUNCTION registry_event(payload jsonb) RETURNS integer
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C;
COMMENT ON FUNCTION registry_event(jsonb)
	IS 'a registry''s push notification: mark the tags and scheduled repositories that follow the pushed reference due now';

-- Not for PUBLIC: a DBA grants it to the role that receives webhooks.  Only
-- where no privilege was ever set (the installation, the update that adds
-- it), so that a DBA's grants stay when ALTER EXTENSION UPDATE runs this
-- file again.
DO $$
BEGIN
	IF (SELECT p.proacl IS NULL FROM pg_proc p WHERE p.oid = 'imagestream.registry_event(jsonb)'::regprocedure) THEN
		REVOKE EXECUTE ON FUNCTION imagestream.registry_event(jsonb) FROM PUBLIC;
	END IF;
END $$;
