-- Repository imports (doc/import.md): the repository a stream was
-- bulk-imported from (OpenShift's spec.dockerImageRepository,
-- stream_repository), which import_image(all_tags) (280_import_image.sql)
-- and, when scheduled, the worker (src/worker_listing.c) list again for
-- the tags that are new upstream; set_repository changes or clears it.

-- The jobs of listed tags ([{tag, source}]) but those in p_skip, in the
-- order OpenShift imports them, the first p_limit (-1: all) of them; the
-- names past p_limit are skipped (OpenShift's additionalTags).  A
-- registry's list may hold hundreds of thousands of names: they are ranked
-- in one call, and only the jobs taken are built.
CREATE OR REPLACE FUNCTION _listed_jobs(p_repository image_ref, p_names text[], p_limit integer,
	p_skip text[] DEFAULT '{}', OUT jobs jsonb, OUT skipped text[]) LANGUAGE sql STABLE AS $$
	SELECT coalesce((SELECT jsonb_agg(jsonb_build_object('tag', u.n,
				'source', imagestream.ref_with_tag(p_repository, u.n)::text) ORDER BY u.o)
			FROM unnest(x.r[1:x.taken]) WITH ORDINALITY AS u(n, o)), '[]'),
		coalesce(x.r[x.taken + 1:], '{}')
	FROM (SELECT r, CASE WHEN p_limit < 0 THEN cardinality(r) ELSE p_limit END AS taken
		  FROM imagestream._prioritize_tags(p_names, p_skip) AS r) x
$$;

-- The stream's repository listed again (import_image(all_tags) without
-- from_image): the jobs of the tags new upstream, those with no tag of
-- their name in the stream yet (a tag that exists keeps its own source),
-- at most p_limit of them, each with the repository's policy, and the
-- names skipped past p_limit; or the listing's failure.
CREATE OR REPLACE FUNCTION _repository_jobs(p_stream imagestream.stream, p_insecure boolean,
	p_limit integer, OUT repository image_ref, OUT jobs jsonb, OUT skipped text[], OUT reason text,
	OUT message text)
LANGUAGE plpgsql AS $$
DECLARE
	r imagestream.stream_repository;
	listed record;
BEGIN
	SELECT * INTO r FROM imagestream.stream_repository x WHERE x.stream_id = p_stream.id;
	IF NOT FOUND THEN
		RETURN;
	END IF;
	repository := r.repository;
	listed := imagestream._registry_tags(r.repository, coalesce(p_insecure, false) OR r.insecure,
										p_stream.namespace);
	IF listed.status <> 'ok' THEN
		reason := listed.reason;
		message := listed.message;
		RETURN;
	END IF;
	listed := imagestream._listed_jobs(r.repository, listed.tags, p_limit,
		ARRAY(SELECT t.name FROM imagestream.tag t WHERE t.stream_id = p_stream.id));
	skipped := listed.skipped;
	SELECT coalesce(jsonb_agg(j.value || jsonb_build_object('scheduled', r.scheduled,
		'insecure', r.insecure, 'import_mode', r.import_mode, 'reference_policy', r.reference_policy)
		ORDER BY j.o), '[]')
	INTO jobs
	FROM jsonb_array_elements(listed.jobs) WITH ORDINALITY AS j(value, o);
END $$;

-- The outcome of a listing of a stream's repository (p_reason NULL: it was
-- listed), as a tag's ImportSuccess condition is kept: a failure becomes
-- the repository's condition, with an import_failed change row whose tag
-- is NULL, unless the same failure is there already; a listing clears it.
-- Either answers a push announced before it (requested_at, set by
-- registry_event).  Nothing is written when nothing changes, nor for a
-- stream whose repository is no longer p_repository.  Returns whether the
-- repository's condition changed.
CREATE OR REPLACE FUNCTION _repository_listed(p_stream_id bigint, p_repository image_ref,
	p_reason text, p_message text) RETURNS boolean
LANGUAGE plpgsql SET search_path = pg_catalog, imagestream, pg_temp AS $$
DECLARE
	r imagestream.stream_repository;
	s imagestream.stream;
	msg text := CASE WHEN p_reason IS NOT NULL
				THEN coalesce(nullif(p_message, ''), 'unknown error prevented import') END;
	same boolean;
BEGIN
	SELECT * INTO r FROM imagestream.stream_repository x WHERE x.stream_id = p_stream_id;
	IF NOT FOUND OR r.repository IS DISTINCT FROM p_repository THEN
		RETURN false;
	END IF;
	same := r.list_reason IS NOT DISTINCT FROM p_reason AND r.list_message IS NOT DISTINCT FROM msg;
	IF same AND r.requested_at IS NULL THEN
		RETURN false;
	END IF;
	-- (the stream first, as every writer locks it before its rows)
	SELECT * INTO s FROM imagestream.stream x WHERE x.id = p_stream_id FOR UPDATE;
	IF r.requested_at IS NOT NULL THEN
		-- a listing answers the pushes announced before it
		UPDATE imagestream.stream_repository SET requested_at = NULL WHERE stream_id = p_stream_id;
	END IF;
	IF same THEN
		RETURN false;
	END IF;
	UPDATE imagestream.stream_repository
	SET list_reason = p_reason, list_message = msg,
		list_transition = CASE WHEN p_reason IS NOT NULL THEN now() END
	WHERE stream_id = p_stream_id;
	IF p_reason IS NOT NULL THEN
		PERFORM imagestream._log_change('import_failed', s.namespace, s.name, NULL, NULL, NULL,
			p_repository, s.generation, p_reason, msg);
	END IF;
	RETURN true;
END $$;

-- After an import_image(all_tags) listed p_repository (not a dry run): the
-- stream, created if it is new, remembers it (a from_image replaces the
-- repository before it) with the import's policy, and the listing clears
-- the last one's failure.  The policy of the same repository is only ever
-- added to, as a tag's is on re-import.  A change of it is a spec change:
-- the stream moves to the import's generation p_gen, or one further when
-- the import wrote nothing else.  Nothing is written when nothing changes.
CREATE OR REPLACE FUNCTION _remember_repository(p_ns text, p_name text, p_gen bigint,
	p_repository image_ref, p_scheduled boolean, p_insecure boolean, p_mode import_mode,
	p_policy reference_policy) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	s imagestream.stream;
	old imagestream.stream_repository;
	same boolean;
	want imagestream.stream_repository;
BEGIN
	SELECT * INTO s FROM imagestream.stream x WHERE x.namespace = p_ns AND x.name = p_name;
	SELECT * INTO old FROM imagestream.stream_repository x WHERE x.stream_id = s.id;
	same := old.repository IS NOT DISTINCT FROM p_repository;
	want := ROW(s.id, p_repository,
		coalesce(p_scheduled, false) OR (same AND old.scheduled),
		coalesce(p_insecure, false) OR (same AND old.insecure),
		coalesce(p_mode, CASE WHEN same THEN old.import_mode END, 'Legacy'),
		coalesce(p_policy, CASE WHEN same THEN old.reference_policy END, 'Source'),
		NULL, NULL, NULL);
	IF s.id IS NOT NULL AND (want.repository, want.scheduled, want.insecure, want.import_mode,
							 want.reference_policy)
		IS NOT DISTINCT FROM (old.repository, old.scheduled, old.insecure, old.import_mode,
							  old.reference_policy) THEN
		PERFORM imagestream._repository_listed(s.id, p_repository, NULL, NULL);
		RETURN;
	END IF;
	IF s.id IS NULL THEN
		s := imagestream._lock_stream(p_ns, p_name, true);	-- (generation 1: its creation)
	ELSE
		s := imagestream._lock_stream(p_ns, p_name);
		UPDATE imagestream.stream SET generation = greatest(generation + 1, p_gen)
			WHERE id = s.id AND (p_gen IS NULL OR generation < p_gen);
	END IF;
	want.stream_id := s.id;
	INSERT INTO imagestream.stream_repository VALUES (want.*)
	ON CONFLICT (stream_id) DO UPDATE
	SET repository = excluded.repository, scheduled = excluded.scheduled,
		insecure = excluded.insecure, import_mode = excluded.import_mode,
		reference_policy = excluded.reference_policy, list_reason = NULL, list_message = NULL,
		list_transition = NULL;
END $$;

-- The worker's side (src/worker_listing.c), whose calls run under its
-- search_path (pg_catalog): they pin their own.  The scheduled
-- repositories, whose due times the worker keeps, listed with the
-- credentials of their stream's namespace.
CREATE OR REPLACE FUNCTION _due_repositories() RETURNS TABLE(stream_id bigint, repository text,
	insecure boolean, namespace text, requested boolean)
LANGUAGE sql STABLE AS $$
	SELECT r.stream_id, r.repository::text, r.insecure, s.namespace, r.requested_at IS NOT NULL
	FROM imagestream.stream_repository r JOIN imagestream.stream s ON s.id = r.stream_id
	WHERE r.scheduled
$$;

-- One page of a scheduled repository's tag list (p_last: the listing's
-- last): its tags that are new to the stream, in OpenShift's order and at
-- most p_room of them (-1: all), become spec tags of the repository's tags
-- with its policy, scheduled, and pending, so that the worker imports them
-- as it does any new spec; the stream moves to a new generation with them.
-- The last page clears the failure of the last listing.  Nothing is
-- written for a page with nothing new, nor when the stream no longer
-- schedules p_repository.  Returns how many tags it added.
CREATE OR REPLACE FUNCTION _repository_page(p_stream_id bigint, p_repository text, p_tags text[],
	p_room integer, p_last boolean) RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, imagestream, pg_temp AS $$
DECLARE
	r imagestream.stream_repository;
	s imagestream.stream;
	fresh text[];
	added integer := 0;
BEGIN
	SELECT * INTO r FROM imagestream.stream_repository x WHERE x.stream_id = p_stream_id;
	IF NOT FOUND OR r.repository::text <> p_repository OR NOT r.scheduled THEN
		RETURN 0;
	END IF;
	fresh := imagestream._prioritize_tags(p_tags,
		ARRAY(SELECT t.name FROM imagestream.tag t WHERE t.stream_id = p_stream_id), p_room);
	IF cardinality(fresh) > 0 THEN
		SELECT * INTO s FROM imagestream.stream x WHERE x.id = p_stream_id FOR UPDATE;
		-- (a tag created since is left as it is)
		INSERT INTO imagestream.tag (stream_id, namespace, stream, name, has_spec, from_kind,
			from_ref, spec_generation, scheduled, insecure, import_mode, reference_policy)
		SELECT s.id, s.namespace, s.name, n, true, 'DockerImage',
			imagestream.ref_with_tag(r.repository, n)::text, s.generation + 1, true, r.insecure,
			r.import_mode, r.reference_policy
		FROM unnest(fresh) AS n
		WHERE NOT EXISTS (SELECT 1 FROM imagestream.tag t WHERE t.stream_id = s.id AND t.name = n);
		GET DIAGNOSTICS added = ROW_COUNT;
		IF added > 0 THEN
			UPDATE imagestream.stream SET generation = generation + 1 WHERE id = s.id;
		END IF;
	END IF;
	IF p_last THEN
		PERFORM imagestream._repository_listed(p_stream_id, r.repository, NULL, NULL);
	END IF;
	RETURN added;
END $$;

-- set_repository: OpenShift's edit of spec.dockerImageRepository.  Sets the
-- repository a stream imports all tags of (no import now: import_image
-- with all_tags lists it at once, the worker within import_interval when
-- scheduled), or clears it (NULL); the stream's tags stay as they are.
CREATE OR REPLACE FUNCTION _api_set_repository(stream text, repository text,
	scheduled boolean DEFAULT false, insecure boolean DEFAULT false) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
#variable_conflict use_variable
DECLARE
	n record := imagestream._parse_stream(stream);
	repo imagestream.image_ref;
	s imagestream.stream;
	old imagestream.stream_repository;
BEGIN
	IF scheduled IS NULL OR insecure IS NULL THEN
		RAISE EXCEPTION 'scheduled and insecure must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF repository IS NOT NULL THEN
		repo := imagestream._repository_only(repository, 'repository');
	END IF;
	PERFORM imagestream._require(n.namespace, 'edit');
	s := imagestream._lock_stream(n.namespace, n.name);
	SELECT * INTO old FROM imagestream.stream_repository x WHERE x.stream_id = s.id;
	IF repo IS NULL AND FOUND THEN
		DELETE FROM imagestream.stream_repository x WHERE x.stream_id = s.id;
	ELSIF repo IS NULL
		  OR (old.repository, old.scheduled, old.insecure) IS NOT DISTINCT FROM (repo, scheduled, insecure) THEN
		RETURN;
	ELSIF old.repository IS NOT DISTINCT FROM repo THEN
		UPDATE imagestream.stream_repository x SET scheduled = _api_set_repository.scheduled,
			insecure = _api_set_repository.insecure
		WHERE x.stream_id = s.id;
	ELSE
		INSERT INTO imagestream.stream_repository AS x (stream_id, repository, scheduled, insecure)
		VALUES (s.id, repo, scheduled, insecure)
		ON CONFLICT (stream_id) DO UPDATE
		SET repository = excluded.repository, scheduled = excluded.scheduled,
			insecure = excluded.insecure, import_mode = 'Legacy', reference_policy = 'Source',
			list_reason = NULL, list_message = NULL, list_transition = NULL;
	END IF;
	-- the repository is part of the spec
	UPDATE imagestream.stream x SET generation = generation + 1 WHERE x.id = s.id;
END $$;

CREATE OR REPLACE FUNCTION set_repository(stream text, repository text,
	scheduled boolean DEFAULT false, insecure boolean DEFAULT false) RETURNS void
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C;
COMMENT ON FUNCTION set_repository(text, text, boolean, boolean)
	IS 'set (or clear, NULL) the repository a stream imports all tags of (OpenShift spec.dockerImageRepository)';
