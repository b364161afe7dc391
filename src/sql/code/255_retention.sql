-- Retention (doc/gates.md; Harbor's tag retention, Quay's auto-pruning): a
-- namespace's rule of which history it keeps, applied by the worker once
-- an hour with prune's rules restricted to that namespace
-- (250_rollback_prune.sql).

CREATE OR REPLACE FUNCTION _api_set_retention(namespace text, keep_tag_revisions integer,
	keep_younger_than interval) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
BEGIN
	PERFORM imagestream._check_names(namespace, 'namespace', namespace, 'x');
	PERFORM imagestream._require(namespace, 'admin');
	PERFORM imagestream._check_prune_rule(keep_tag_revisions, keep_younger_than);
	IF keep_tag_revisions IS NULL AND keep_younger_than IS NULL THEN
		DELETE FROM imagestream.namespace_retention r WHERE r.namespace = _api_set_retention.namespace;
		RETURN;
	END IF;
	INSERT INTO imagestream.namespace_retention AS r (namespace, keep_tag_revisions, keep_younger_than)
	VALUES (namespace, keep_tag_revisions, keep_younger_than)
	ON CONFLICT ON CONSTRAINT namespace_retention_pkey DO UPDATE
	SET keep_tag_revisions = excluded.keep_tag_revisions, keep_younger_than = excluded.keep_younger_than,
		-- a changed rule is due at once
		applied_at = CASE WHEN (r.keep_tag_revisions, r.keep_younger_than)
								IS NOT DISTINCT FROM (excluded.keep_tag_revisions, excluded.keep_younger_than)
						  THEN r.applied_at END;
	PERFORM imagestream._wake_worker();
END $$;

CREATE OR REPLACE FUNCTION set_retention(namespace text, keep_tag_revisions integer,
	keep_younger_than interval) RETURNS void
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C;
COMMENT ON FUNCTION set_retention(text, integer, interval) IS 'the history a namespace keeps: the worker prunes the rest once an hour (NULLs clear the rule)';

-- The worker's pass: applies, with prune's rules and confirm, the rule of
-- the namespace not applied for the longest, if that is more than an hour
-- (a NULL part is no limit: revisions 0, age 0), and returns when the next
-- one is due (now when another is), NULL when no namespace has a rule.  A
-- namespace whose streams some session keeps locked past the worker's
-- lock_timeout is tried again an hour later, with a warning.  A rule
-- another transaction is changing is skipped, due a minute later.
CREATE OR REPLACE FUNCTION _retention_apply() RETURNS timestamptz
LANGUAGE plpgsql SET search_path = pg_catalog, imagestream, pg_temp AS $$
DECLARE
	period constant interval := '1 hour';
	retry constant interval := '1 minute';
	r imagestream.namespace_retention;
	removed bigint;
BEGIN
	-- one namespace a call (a transaction each, src/worker_periodic.c): the
	-- streams its prune locks are not held while another's rule runs
	FOR r IN SELECT * FROM imagestream.namespace_retention x
			 WHERE x.applied_at IS NULL OR x.applied_at <= now() - period
			 ORDER BY x.applied_at NULLS FIRST, x.namespace LIMIT 1 FOR UPDATE SKIP LOCKED
	LOOP
		BEGIN
			SELECT count(*) INTO removed
			FROM imagestream._prune(r.namespace, coalesce(r.keep_tag_revisions, 0),
				now() - coalesce(r.keep_younger_than, interval '0'), true);
			IF removed > 0 THEN
				RAISE LOG 'imagestream: retention removed % history events of namespace "%"',
					removed, r.namespace;
			END IF;
		EXCEPTION WHEN lock_not_available OR deadlock_detected THEN
			RAISE WARNING 'imagestream: retention of namespace "%" postponed by an hour', r.namespace
				USING DETAIL = SQLERRM;
		END;
		UPDATE imagestream.namespace_retention x SET applied_at = now() WHERE x.namespace = r.namespace;
	END LOOP;
	-- (another due: at once, that is at the worker's next periodic run)
	RETURN (SELECT min(CASE WHEN x.applied_at > now() - period THEN x.applied_at + period
							WHEN r.namespace IS NOT NULL AND x.namespace <> r.namespace THEN now()
							ELSE now() + retry END)
			FROM imagestream.namespace_retention x);
END $$;
