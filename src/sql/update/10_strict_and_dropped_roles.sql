-- Issue 15, finding S13: C functions that read NULL arguments check them in
-- the library (_registry_tag_pages, which was not STRICT, is replaced by
-- _registry_tags in 30_registry_bounds.sql).

-- Issue 15, finding S24: namespace grants outlived DROP ROLE as a bare OID.
-- A grant counts when its grantee also holds EXECUTE on namespace_grantee()
-- (src/sql/code/030_rights.sql, which also adds the trigger that keeps the
-- privilege with the rows); the function is created here for the migration
-- below.
CREATE FUNCTION namespace_grantee() RETURNS void LANGUAGE sql AS '';
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
