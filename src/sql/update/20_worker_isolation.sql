-- Worker isolation (issue 15, finding 2): _worker_apply records a failure
-- before it parses the source, so that a tag whose source was stored before
-- 0.3.0 refused it (a first component that names no valid registry) gets its
-- failure condition instead of an error each cycle.

-- Records what the worker fetched for a tag (src/worker.c), unless the
-- tag's source changed meanwhile.
CREATE OR REPLACE FUNCTION _worker_apply(p_tag_id bigint, p_source text, f _fetched,
	p_generation bigint) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, imagestream, pg_temp AS $$
DECLARE
	t imagestream.tag;
	s imagestream.stream;
	repo imagestream.image_ref;
BEGIN
	SELECT * INTO t FROM imagestream.tag WHERE id = p_tag_id;
	IF NOT FOUND OR NOT t.has_spec OR t.from_ref IS DISTINCT FROM p_source THEN
		RETURN;
	END IF;
	SELECT * INTO s FROM imagestream.stream WHERE id = t.stream_id FOR UPDATE;
	t := imagestream._lock_tag(s, t.name);
	IF t.import_requested_at IS NOT NULL THEN
		UPDATE imagestream.tag SET import_requested_at = NULL WHERE id = t.id;
	END IF;
	IF f.status = 'Failure' THEN
		PERFORM imagestream._record_failure(t.id, f.reason, f.message, p_generation);
		RETURN;
	END IF;
	-- (only now: a failure is recorded even for a source stored before 0.3.0
	-- refused it, which no longer parses)
	repo := imagestream.ref_name(p_source::imagestream.image_ref)::imagestream.image_ref;
	PERFORM imagestream._import_fetched(f, p_source::imagestream.image_ref, true);
	PERFORM imagestream._record_import(s, false, t.name, t.from_ref,
		CASE WHEN f.status = 'Success' THEN imagestream.ref_with_digest(repo, f.image)
			 ELSE t.docker_image_reference END,
		CASE WHEN f.status = 'Success' THEN f.image ELSE t.image END,
		f.source_digest, t.scheduled, t.insecure, t.import_mode, t.reference_policy, p_generation);
END $$;
