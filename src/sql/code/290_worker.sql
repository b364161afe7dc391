-- The background worker's SQL side (doc/worker.md, doc/settings.md): waking it, its status
-- and import_now (recording what it fetched: 170_worker_record.sql).

CREATE OR REPLACE FUNCTION _wake_worker() RETURNS void
	AS 'MODULE_PATHNAME', 'imagestream_wake_worker' LANGUAGE C VOLATILE;

CREATE OR REPLACE FUNCTION _worker_preloaded() RETURNS boolean
	AS 'MODULE_PATHNAME', 'imagestream_worker_preloaded' LANGUAGE C VOLATILE;

CREATE OR REPLACE FUNCTION _worker_status(OUT pid integer, OUT started_at timestamptz,
	OUT last_cycle_at timestamptz, OUT tags_scheduled bigint, OUT tags_checked bigint,
	OUT imports bigint, OUT failures bigint, OUT requests bigint, OUT bytes_received bigint,
	OUT in_flight integer, OUT next_due_at timestamptz,
	OUT due_read_time double precision, OUT database text)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'imagestream_worker_status' LANGUAGE C VOLATILE;

CREATE OR REPLACE VIEW worker_status AS SELECT * FROM imagestream._worker_status();
COMMENT ON VIEW worker_status IS 'the background workers, a row for each database''s worker that runs; counters since it started';

-- The tags the worker looks at (src/worker_due.c), with what it needs to
-- fetch their source: importable tags whose spec is pending, that
-- import_now requested, or that are scheduled (sched: not a digest
-- reference already imported, which cannot move).  The worker keeps their
-- due times.  It reads all of them when it starts, and then only those the
-- due queue names and those due, by id (a probe of tag's primary key
-- each, the query inlined where the worker joins it to the ids).
-- signatures, last (src/worker_due.c reads it only where it is): its
-- fetches look up signatures.
CREATE OR REPLACE FUNCTION _due_tags() RETURNS TABLE(id bigint, source text, insecure boolean,
	preserve boolean, known text, prefer_os text, prefer_arch text, pending boolean,
	requested boolean, sched boolean, stream_id bigint, namespace text, signatures boolean)
LANGUAGE sql STABLE AS $$
	SELECT * FROM (SELECT t.id, t.from_ref, t.insecure,
			t.import_mode OPERATOR(pg_catalog.=) 'PreserveOriginal', t.source_digest::text,
			t.annotations OPERATOR(pg_catalog.->>) 'importer.image.openshift.io/prefer-os',
			t.annotations OPERATOR(pg_catalog.->>) 'importer.image.openshift.io/prefer-arch',
			imagestream._spec_pending(t) AS pending,
			t.import_requested_at IS NOT NULL AS requested,
			-- a digest reference has an "@" (no cast: a row stored before
			-- 0.3.0 may not parse)
			t.scheduled AND NOT (pg_catalog.strpos(t.from_ref, '@') OPERATOR(pg_catalog.>) 0
								 AND t.image IS NOT NULL) AS sched,
			t.stream_id, t.namespace, imagestream._signatures_wanted(g)
		FROM imagestream.tag t
		LEFT JOIN imagestream.tag_gate g ON g.tag_id OPERATOR(pg_catalog.=) t.id
		WHERE imagestream._importable(t)) d
	-- only the tags the worker has to look at reach it
	WHERE d.pending OR d.requested OR d.sched
$$;

-- Marks tags due now: each importable tag of p_tags gets
-- import_requested_at, which the worker imports within seconds of commit
-- (and records even if unchanged), and the worker wakes at commit.  The one
-- rule of "marked due", for import_now and registry_event (295).  The
-- streams are locked first, in id order, as the worker and every writer
-- lock them: marking tags row by row otherwise deadlocks with the worker,
-- which holds a stream's tags while it records a chunk.  Returns how many
-- it marked.
CREATE OR REPLACE FUNCTION _mark_due(p_tags bigint[]) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
	marked integer;
BEGIN
	PERFORM 1 FROM imagestream.stream s
	WHERE s.id IN (SELECT t.stream_id FROM imagestream.tag t JOIN unnest(p_tags) AS u(id) ON t.id = u.id)
	ORDER BY s.id FOR UPDATE;
	-- (a join, not "= ANY": p_tags may hold every tag)
	UPDATE imagestream.tag t SET import_requested_at = now()
	FROM (SELECT DISTINCT x FROM unnest(p_tags) AS x) u
	WHERE t.id = u.x AND imagestream._importable(t);
	GET DIAGNOSTICS marked = ROW_COUNT;
	IF marked > 0 THEN
		PERFORM imagestream._wake_worker();
	END IF;
	RETURN marked;
END $$;

-- Whether this process is the worker recording what it fetched
-- (src/worker_record.c): the due queue's trigger lets those updates pass.
CREATE OR REPLACE FUNCTION _worker_recording() RETURNS boolean
	AS 'MODULE_PATHNAME', 'imagestream_worker_recording' LANGUAGE C STABLE;

-- The due queue (imagestream.worker_queue, doc/worker.md): the tags whose
-- spec, schedule or import request changed.  Whatever could make a tag due
-- sooner, or no longer of interest, is a change here: a new importable tag,
-- one deleted (with its stream too), a spec, schedule or options changed, a
-- spec newer than the status (pending), import_now; and so is what a check
-- reads that the worker keeps between checks of an unchanged tag (the known
-- digest, source_digest, moved by import_image).  What the worker records
-- is not (_worker_recording(), asked last): the worker lets go of what it
-- kept of a tag it records, and reads it again when it comes up.  An UPDATE that touches none of the columns
-- named costs nothing, and one that writes them unchanged costs the WHEN
-- clause only, no call.
--
-- Each change wakes the worker at commit (_wake_worker), which otherwise
-- sleeps until its next due time.
--
-- A tag queued again before the worker took it updates its row (rather
-- than doing nothing): the row is then locked until this transaction ends,
-- so that the worker, which skips locked rows, cannot take the row the
-- earlier change left and lose this one, not committed yet.
CREATE OR REPLACE FUNCTION _queue_changed_tag() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO imagestream.worker_queue AS q (tag_id) VALUES (NEW.id)
	ON CONFLICT (tag_id) DO UPDATE SET tag_id = excluded.tag_id;
	PERFORM imagestream._wake_worker();
	RETURN NULL;
END $$;

-- New and deleted tags, a statement at a time (a stream's deletion or a
-- repository's import writes thousands: one call, one INSERT).
CREATE OR REPLACE FUNCTION _queue_tags() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP OPERATOR(pg_catalog.=) 'INSERT' THEN
		INSERT INTO imagestream.worker_queue AS q (tag_id)
		SELECT t.id FROM new_tags t
		WHERE t.has_spec AND t.from_kind OPERATOR(pg_catalog.=) 'DockerImage' AND NOT t.reference
		ON CONFLICT (tag_id) DO UPDATE SET tag_id = excluded.tag_id;
	ELSE
		INSERT INTO imagestream.worker_queue AS q (tag_id)
		SELECT t.id FROM old_tags t
		WHERE t.has_spec AND t.from_kind OPERATOR(pg_catalog.=) 'DockerImage' AND NOT t.reference
		ON CONFLICT (tag_id) DO UPDATE SET tag_id = excluded.tag_id;
	END IF;
	PERFORM imagestream._wake_worker();
	RETURN NULL;
END $$;

CREATE OR REPLACE TRIGGER queue_new_tags AFTER INSERT ON tag
	REFERENCING NEW TABLE AS new_tags
	FOR EACH STATEMENT EXECUTE FUNCTION _queue_tags();
CREATE OR REPLACE TRIGGER queue_deleted_tags AFTER DELETE ON tag
	REFERENCING OLD TABLE AS old_tags
	FOR EACH STATEMENT EXECUTE FUNCTION _queue_tags();
CREATE OR REPLACE TRIGGER queue_changed_tag
	AFTER UPDATE OF has_spec, from_kind, from_ref, reference, spec_generation, scheduled, insecure,
		import_mode, annotations, import_requested_at, status_generation, import_generation, image,
		source_digest
	ON tag FOR EACH ROW
	WHEN ((imagestream._importable(OLD) OR imagestream._importable(NEW))
		  AND ((OLD.has_spec, OLD.from_kind, OLD.from_ref, OLD.reference, OLD.scheduled, OLD.insecure,
				OLD.import_mode, OLD.annotations)
			   IS DISTINCT FROM (NEW.has_spec, NEW.from_kind, NEW.from_ref, NEW.reference, NEW.scheduled,
								 NEW.insecure, NEW.import_mode, NEW.annotations)
			   OR NEW.import_requested_at IS DISTINCT FROM OLD.import_requested_at
				  AND NEW.import_requested_at IS NOT NULL
			   OR imagestream._spec_pending(NEW)
				  AND (NOT imagestream._spec_pending(OLD)
					   OR NEW.spec_generation IS DISTINCT FROM OLD.spec_generation)
			   -- a digest reference's image gone or back: scheduled again, or no longer
			   OR (NEW.image IS NULL) IS DISTINCT FROM (OLD.image IS NULL)
			   -- the digest a check compares with, which the worker keeps
			   OR NEW.source_digest IS DISTINCT FROM OLD.source_digest)
		  AND NOT imagestream._worker_recording())
	EXECUTE FUNCTION _queue_changed_tag();

-- A signature gate set or cleared changes what a check of its tag does
-- (_signatures_wanted), which the worker keeps between checks: the due
-- queue names the tag.
CREATE OR REPLACE FUNCTION _queue_signature_gate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO imagestream.worker_queue AS q (tag_id)
	VALUES (CASE WHEN TG_OP OPERATOR(pg_catalog.=) 'DELETE' THEN OLD.tag_id ELSE NEW.tag_id END)
	ON CONFLICT (tag_id) DO UPDATE SET tag_id = excluded.tag_id;
	PERFORM imagestream._wake_worker();
	RETURN NULL;
END $$;

CREATE OR REPLACE TRIGGER queue_signature_gate_set AFTER INSERT ON tag_gate
	FOR EACH ROW WHEN (NEW.signed_by IS NOT NULL) EXECUTE FUNCTION _queue_signature_gate();
CREATE OR REPLACE TRIGGER queue_signature_gate_changed AFTER UPDATE OF signed_by ON tag_gate
	FOR EACH ROW WHEN ((OLD.signed_by IS NULL) IS DISTINCT FROM (NEW.signed_by IS NULL))
	EXECUTE FUNCTION _queue_signature_gate();
CREATE OR REPLACE TRIGGER queue_signature_gate_cleared AFTER DELETE ON tag_gate
	FOR EACH ROW WHEN (OLD.signed_by IS NOT NULL) EXECUTE FUNCTION _queue_signature_gate();

-- A repository scheduled, or scheduled differently, wakes the worker at
-- commit: it reads the scheduled repositories each cycle, and sleeps until
-- its next due time otherwise.  (Its own writes, the listing's outcome,
-- touch none of these columns.)
CREATE OR REPLACE FUNCTION _wake_for_repository() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM imagestream._wake_worker();
	RETURN NULL;
END $$;

CREATE OR REPLACE TRIGGER wake_for_repository
	AFTER INSERT OR UPDATE OF repository, scheduled, insecure ON stream_repository
	FOR EACH ROW WHEN (NEW.scheduled) EXECUTE FUNCTION _wake_for_repository();

-- Takes the due queue: the tags changed since the worker last took it, but
-- those whose change is not committed yet (their rows locked).
CREATE OR REPLACE FUNCTION _due_queue() RETURNS SETOF bigint
LANGUAGE sql AS $$
	WITH taken AS (SELECT q.tag_id FROM imagestream.worker_queue q FOR UPDATE SKIP LOCKED)
	DELETE FROM imagestream.worker_queue q USING taken
	WHERE q.tag_id OPERATOR(pg_catalog.=) taken.tag_id
	RETURNING q.tag_id
$$;

-- import_now: the tag, every importable tag of the stream, or (NULL) every
-- scheduled tag the caller may edit is due now (_mark_due); the
-- repositories that the named tags follow by policy are listed at once.
CREATE OR REPLACE FUNCTION _api_import_now(target text DEFAULT NULL) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
DECLARE
	d record;
	marked integer;
	policy imagestream.tag_policy;
BEGIN
	IF target IS NULL THEN
		marked := imagestream._mark_due(ARRAY(SELECT t.id FROM imagestream.tag t
			WHERE imagestream._importable(t) AND t.scheduled AND imagestream._can(t.namespace, 'edit')));
	ELSIF strpos(target, ':') > 0 THEN
		d := imagestream._parse_tag(target);
		PERFORM imagestream._require(d.namespace, 'edit');
		marked := imagestream._mark_due(ARRAY(SELECT t.id FROM imagestream.tag t
			WHERE t.namespace = d.namespace AND t.stream = d.stream AND t.name = d.tag));
		-- a followed tag's repository is listed again too (one before its
		-- first winner has no row yet)
		policy := imagestream._tag_policy(d.namespace, d.stream, d.tag);
		IF policy.tag IS NOT NULL THEN
			PERFORM imagestream._request_listing(policy.listing_id);
			marked := greatest(marked, 1);
		END IF;
		IF marked = 0 THEN
			IF NOT EXISTS (SELECT 1 FROM imagestream.tag t WHERE t.namespace = d.namespace
						   AND t.stream = d.stream AND t.name = d.tag) THEN
				RAISE EXCEPTION 'image stream tag "%" does not exist', target
					USING ERRCODE = 'undefined_object';
			END IF;
			RAISE EXCEPTION 'image stream tag "%" is not imported from a registry', target
				USING ERRCODE = 'invalid_parameter_value',
					HINT = 'Only tags from a container image (DockerImage), not references, are imported.';
		END IF;
	ELSE
		d := imagestream._parse_stream(target);
		PERFORM imagestream._require(d.namespace, 'edit');
		IF NOT EXISTS (SELECT 1 FROM imagestream.stream s WHERE s.namespace = d.namespace AND s.name = d.name) THEN
			RAISE EXCEPTION 'image stream "%" does not exist', target USING ERRCODE = 'undefined_object';
		END IF;
		marked := imagestream._mark_due(ARRAY(SELECT t.id FROM imagestream.tag t
			WHERE t.namespace = d.namespace AND t.stream = d.name));
		PERFORM imagestream._request_listing(x.listing_id)
		FROM (SELECT DISTINCT p.listing_id FROM imagestream.tag_policy p
			  JOIN imagestream.stream s ON s.id = p.stream_id
			  WHERE s.namespace = d.namespace AND s.name = d.name ORDER BY 1) x;
		-- (the followed tags without a row yet count as marked)
		marked := marked + (SELECT count(*) FROM imagestream.tag_policy p
							JOIN imagestream.stream s ON s.id = p.stream_id
							WHERE s.namespace = d.namespace AND s.name = d.name
							  AND NOT EXISTS (SELECT 1 FROM imagestream.tag t
											  WHERE t.stream_id = s.id AND t.name = p.tag
												AND imagestream._importable(t)))::integer;
	END IF;
	RETURN marked;
END $$;

CREATE OR REPLACE FUNCTION import_now(target text DEFAULT NULL) RETURNS integer
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C;
COMMENT ON FUNCTION import_now(text) IS 'ask the worker to import a tag, a stream''s tags, or every scheduled tag, now (for registry webhooks)';

-- (A WARNING: CREATE EXTENSION hides the NOTICEs of its script.)
DO $$
BEGIN
	IF NOT imagestream._worker_preloaded() THEN
		RAISE WARNING 'the imagestream background worker is not running: scheduled and pending tags are imported only by import_image()'
			USING HINT = 'Add imagestream to shared_preload_libraries and restart the server.';
	END IF;
END $$;
