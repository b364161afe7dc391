-- Issue 15, finding S13: C functions that read NULL arguments check them in
-- the library (_registry_tag_pages, which was not STRICT, is replaced by
-- _registry_tags in 30_registry_bounds.sql).

-- Issue 15, finding S24: namespace grants outlived DROP ROLE as a bare OID.
-- (src/sql/50_rights.sql)
-- A grant is a row of namespace_grant whose grantee also holds EXECUTE on
-- namespace_grantee() (src/rights.c checks both).  That privilege is what
-- PostgreSQL tracks: DROP ROLE refuses a role that holds grants in any
-- database, DROP OWNED BY revokes it (the role's grants in that database
-- stop counting), and a role that later gets the same OID holds no grant.
CREATE FUNCTION namespace_grantee() RETURNS void LANGUAGE sql AS '';
COMMENT ON FUNCTION namespace_grantee() IS 'EXECUTE on it marks a role that holds namespace grants in this database; DROP OWNED BY revokes them';
REVOKE ALL ON FUNCTION namespace_grantee() FROM PUBLIC;

-- Keeps the privilege with the rows, however they are written (the API, a
-- restore's COPY): the trigger notes whose rows changed, and the commit
-- grants the privilege to a role that has rows and revokes it from one that
-- has none, one commit at a time, under a lock held only while committing
-- (src/grantee_commit.c).  A role's first row after DROP OWNED BY, or after
-- its OID belonged to a dropped role, deletes the rows left from then.  So a
-- grant counts from its commit, and an open transaction holds up no one.
CREATE FUNCTION _namespace_grant_marker() RETURNS trigger
	AS 'MODULE_PATHNAME', 'imagestream_namespace_grant_changed' LANGUAGE C;

CREATE TRIGGER grantee_marker AFTER INSERT OR UPDATE OR DELETE ON namespace_grant
	FOR EACH ROW EXECUTE FUNCTION _namespace_grant_marker();

CREATE OR REPLACE FUNCTION _api_grant_namespace(namespace text, grantee regrole, level text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
BEGIN
	PERFORM imagestream._check_names(namespace, 'namespace', namespace, 'x');
	IF imagestream._level_rank(level) IS NULL THEN
		RAISE EXCEPTION 'invalid namespace right "%"', level
			USING ERRCODE = 'invalid_parameter_value', HINT = 'Use view, edit or admin.';
	END IF;
	PERFORM imagestream._require(namespace, 'admin');
	-- regrole takes a number as it is: the role must exist
	IF grantee IS NOT NULL AND NOT EXISTS (SELECT 1 FROM pg_roles r WHERE r.oid = grantee) THEN
		RAISE EXCEPTION 'role with OID % does not exist', grantee::oid USING ERRCODE = 'undefined_object';
	END IF;
	INSERT INTO imagestream.namespace_grant AS g VALUES (namespace, grantee, level)
		ON CONFLICT ON CONSTRAINT namespace_grant_pkey DO UPDATE SET level = excluded.level;
END $$;

CREATE OR REPLACE FUNCTION _api_revoke_namespace(namespace text, grantee regrole) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
BEGIN
	PERFORM imagestream._check_names(namespace, 'namespace', namespace, 'x');
	PERFORM imagestream._require(namespace, 'admin');
	DELETE FROM imagestream.namespace_grant g
		WHERE g.namespace = _api_revoke_namespace.namespace AND g.grantee = _api_revoke_namespace.grantee;
END $$;

REVOKE ALL ON FUNCTION _namespace_grant_marker() FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('namespace_grant', $$WHERE grantee OPERATOR(pg_catalog.=) ANY (SELECT a.grantee FROM pg_catalog.pg_proc p, pg_catalog.aclexplode(p.proacl) a WHERE p.oid = 'imagestream.namespace_grantee()'::pg_catalog.regprocedure)$$);

-- Rows of roles dropped before this update count for no one; the roles that
-- hold grants get the privilege that marks grantees.
DELETE FROM namespace_grant g WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles r WHERE r.oid = g.grantee);
DO $$
DECLARE
	role name;
BEGIN
	FOR role IN SELECT DISTINCT r.rolname FROM imagestream.namespace_grant g JOIN pg_catalog.pg_roles r ON r.oid = g.grantee LOOP
		EXECUTE format('GRANT EXECUTE ON FUNCTION imagestream.namespace_grantee() TO %I', role);
	END LOOP;
END $$;
