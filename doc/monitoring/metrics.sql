-- The figures of imagestream that Prometheus' postgres_exporter reads
-- (postgres_exporter.yaml; doc/operations.md, "Metrics").  Run once in the
-- database of the extension, by a superuser or the extension's owner:
--
--   psql -d mydb -1 -f doc/monitoring/metrics.sql
--
-- The extension's views show each role only the namespaces it may view, so
-- a monitoring role with no grant would count nothing, and a grant per
-- namespace would miss the next namespace.  These functions run as the role
-- that created them (SECURITY DEFINER, as Debian's README.Debian of the
-- exporter wraps pg_stat_activity), which sees every namespace, and return
-- counts alone: the members of pg_monitor may call them, and learn
-- namespace names, failure reasons and how many tags, never a tag, an
-- image or a secret, nor get any right to change anything.
--
-- Where no view carries a figure (the change log's last id, the tags the
-- worker has due) they read the extension's own objects, as of 0.3.0;
-- test/t/060_metrics.pl runs them against each version.

DO $$
BEGIN
	-- (no row: the extension is not in this database)
	IF NOT coalesce((SELECT r.rolsuper OR pg_has_role(current_user, e.extowner, 'USAGE')
					 FROM pg_roles r, pg_extension e
					 WHERE r.rolname = current_user AND e.extname = 'imagestream'), false) THEN
		RAISE EXCEPTION 'run as a superuser or the owner of extension imagestream, in its database'
			USING HINT = 'Other roles see only the namespaces granted to them.';
	END IF;
END $$;

CREATE SCHEMA IF NOT EXISTS imagestream_metrics;
REVOKE ALL ON SCHEMA imagestream_metrics FROM PUBLIC;
GRANT USAGE ON SCHEMA imagestream_metrics TO pg_monitor;

-- Tags (spec and status tags, as image_stream_tags lists them) per namespace.
CREATE OR REPLACE FUNCTION imagestream_metrics.tags()
RETURNS TABLE(namespace text, tags bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
	SELECT t.namespace, count(*) FROM imagestream.image_stream_tags t GROUP BY t.namespace
$$;

-- The tags whose last import failed (their ImportSuccess condition is
-- False), per namespace and reason (NotFound, Unauthorized, GatePending, ...).
CREATE OR REPLACE FUNCTION imagestream_metrics.failing_tags()
RETURNS TABLE(namespace text, reason text, tags bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
	SELECT t.namespace, coalesce(t.import_reason, ''), count(*)
	FROM imagestream.image_stream_tags t
	WHERE t.import_status = 'False'
	GROUP BY 1, 2
$$;

-- The backlog: tags the worker imports at its next cycle whatever their
-- schedule, by the worker's own rule (_due_tags, doc/worker.md): requested
-- (import_now, registry_event) or else pending (a spec newer than the
-- status).  Scheduled tags whose time has come are the worker's in memory:
-- worker_status.next_due_at tells whether it keeps up with them.
CREATE OR REPLACE FUNCTION imagestream_metrics.due_tags()
RETURNS TABLE(namespace text, kind text, tags bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
	SELECT d.namespace, CASE WHEN d.requested THEN 'requested' ELSE 'pending' END, count(*)
	FROM imagestream._due_tags() d
	WHERE d.requested OR d.pending
	GROUP BY 1, 2
$$;

-- The change log's last id: ids are dense and committed in order
-- (doc/model.md), so it counts the changes ever made, and its rate is the
-- changes per second.  (Negative ids are uncommitted rows; none shows here.)
CREATE OR REPLACE FUNCTION imagestream_metrics.last_change_id()
RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
	SELECT coalesce(max(c.id), 0) FROM imagestream.change c
$$;

DO $$
DECLARE
	f regprocedure;
BEGIN
	FOR f IN SELECT p.oid::regprocedure FROM pg_proc p
			 WHERE p.pronamespace = 'imagestream_metrics'::regnamespace
	LOOP
		EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
		EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO pg_monitor', f);
	END LOOP;
END $$;
