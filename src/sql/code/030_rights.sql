-- Rights per namespace (doc/security.md): view < edit < admin.  Superusers and
-- the extension owner (and its members) have every right.
--
-- An API function F that checks rights is a C entry (SECURITY INVOKER) that
-- notes the role calling it and runs the body _api_F (SECURITY DEFINER, not
-- executable by PUBLIC) with the same arguments (src/api_call.c).  Rights
-- are those of the role the entry noted, or of current_user outside an API
-- call (src/rights.c).  The functions that ask are PARALLEL RESTRICTED: a
-- parallel worker does not know the role an entry noted.

CREATE OR REPLACE FUNCTION _calling_role() RETURNS oid
	AS 'MODULE_PATHNAME', 'imagestream_calling_role'
	LANGUAGE C STABLE PARALLEL RESTRICTED;

-- In C (src/rights.c): the check runs per resolve() and per row under
-- row-level security.
CREATE OR REPLACE FUNCTION _privileged() RETURNS boolean
	AS 'MODULE_PATHNAME', 'imagestream_privileged'
	LANGUAGE C STABLE PARALLEL RESTRICTED;

-- view 1 < edit 2 < admin 3, NULL for what is not a right: the ranking
-- _can uses (src/rights.c)
CREATE OR REPLACE FUNCTION _level_rank(level text) RETURNS integer
	AS 'MODULE_PATHNAME', 'imagestream_level_rank'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE OR REPLACE FUNCTION _can(ns text, level text) RETURNS boolean
	AS 'MODULE_PATHNAME', 'imagestream_can'
	LANGUAGE C STABLE PARALLEL RESTRICTED;

-- The namespaces in which the calling role has at least p_level, from its
-- grants; NULL for the privileged (all of them).  The views' bodies read only
-- these namespaces' rows.
CREATE OR REPLACE FUNCTION _granted_namespaces(p_level text) RETURNS text[]
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
	SELECT CASE WHEN NOT imagestream._privileged()
		THEN (SELECT coalesce(array_agg(DISTINCT g.namespace), '{}') FROM imagestream.namespace_grant g
			  WHERE imagestream._can(g.namespace, p_level)) END
$$;

-- resolve() calls it in the caller's context: its search_path is pinned.
CREATE OR REPLACE FUNCTION _require(ns text, level text) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	IF NOT imagestream._can(ns, level) THEN
		RAISE EXCEPTION 'permission denied for namespace "%"', ns
			USING ERRCODE = 'insufficient_privilege',
				DETAIL = format('This needs the %s right on namespace "%s".', level, ns),
				HINT = 'A namespace admin can grant it with imagestream.grant_namespace().';
	END IF;
END $$;

CREATE OR REPLACE FUNCTION _require_privileged(what text) RETURNS void
LANGUAGE plpgsql STABLE AS $$
BEGIN
	IF NOT imagestream._privileged() THEN
		RAISE EXCEPTION 'permission denied to %', what
			USING ERRCODE = 'insufficient_privilege',
				DETAIL = 'Only superusers and the owner of extension imagestream may do this.';
	END IF;
END $$;

-- Who may change what a namespace keeps for its imports (its registry
-- credentials, its trusted keys): its admins; the server-wide ones (ns
-- NULL), superusers and the extension owner.  what names the change of the
-- server-wide ones in the message.
CREATE OR REPLACE FUNCTION _require_namespace_admin(ns text, what text) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	IF ns IS NULL THEN
		PERFORM imagestream._require_privileged(what);
	ELSE
		PERFORM imagestream._check_names(ns, 'namespace', ns, 'x');
		PERFORM imagestream._require(ns, 'admin');
	END IF;
END $$;

-- A grant is a row of namespace_grant whose grantee also holds EXECUTE on
-- namespace_grantee() (src/rights.c checks both).  That privilege is what
-- PostgreSQL tracks: DROP ROLE refuses a role that holds grants in any
-- database, DROP OWNED BY revokes it (the role's grants in that database
-- stop counting), and a role that later gets the same OID holds no grant.
CREATE OR REPLACE FUNCTION namespace_grantee() RETURNS void LANGUAGE sql AS '';
COMMENT ON FUNCTION namespace_grantee() IS 'EXECUTE on it marks a role that holds namespace grants in this database; DROP OWNED BY revokes them';
REVOKE ALL ON FUNCTION namespace_grantee() FROM PUBLIC;

-- Keeps the privilege with the rows, however they are written (the API, a
-- restore's COPY): the trigger notes whose rows changed, and the commit
-- grants the privilege to a role that has rows and revokes it from one that
-- has none, one commit at a time, under a lock held only while committing
-- (src/grantee_commit.c).  A role's first row after DROP OWNED BY, or after
-- its OID belonged to a dropped role, deletes the rows left from then.  So a
-- grant counts from its commit, and an open transaction holds up no one.
CREATE OR REPLACE FUNCTION _namespace_grant_marker() RETURNS trigger
	AS 'MODULE_PATHNAME', 'imagestream_namespace_grant_changed' LANGUAGE C;

CREATE OR REPLACE TRIGGER grantee_marker AFTER INSERT OR UPDATE OR DELETE ON namespace_grant
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

CREATE OR REPLACE FUNCTION grant_namespace(namespace text, grantee regrole, level text) RETURNS void
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C;
COMMENT ON FUNCTION grant_namespace(text, regrole, text) IS 'give a role view, edit or admin rights on a namespace';

CREATE OR REPLACE FUNCTION _api_revoke_namespace(namespace text, grantee regrole) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
BEGIN
	PERFORM imagestream._check_names(namespace, 'namespace', namespace, 'x');
	PERFORM imagestream._require(namespace, 'admin');
	DELETE FROM imagestream.namespace_grant g
		WHERE g.namespace = _api_revoke_namespace.namespace AND g.grantee = _api_revoke_namespace.grantee;
END $$;

CREATE OR REPLACE FUNCTION revoke_namespace(namespace text, grantee regrole) RETURNS void
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C;
COMMENT ON FUNCTION revoke_namespace(text, regrole) IS 'take back a role''s rights on a namespace';
