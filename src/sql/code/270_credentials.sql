-- Registry pull credentials, of a namespace or server-wide, as OpenShift
-- keeps pull secrets in a project: a namespace's admins set and drop its
-- own, superusers and the extension owner the server-wide ones (namespace
-- NULL, stored as '').  The secret is read by nobody but the import, which
-- runs as the owner (src/credentials.c); the view registry_credentials
-- (310_views.sql) shows the rest.

-- Who may change the credentials of namespace ns (NULL: server-wide).
CREATE OR REPLACE FUNCTION _require_credentials_right(ns text, what text) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	PERFORM imagestream._require_namespace_admin(ns, what || ' server-wide registry credentials');
END $$;

CREATE OR REPLACE FUNCTION _api_set_registry_credentials(registry text, username text, secret text,
	namespace text)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
BEGIN
	-- rights first: a namespace the caller does not administer says nothing more
	PERFORM imagestream._require_credentials_right(namespace, 'set');
	IF octet_length(registry) > 1024 THEN
		RAISE EXCEPTION 'invalid registry: longer than 1024 bytes' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF registry IS NULL OR registry !~ '^(\[[0-9A-Fa-f:]+\]|[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?)(:[0-9]+)?(/[a-z0-9._/-]*[a-z0-9])?$' THEN
		RAISE EXCEPTION 'invalid registry "%"', registry
			USING ERRCODE = 'invalid_parameter_value',
				DETAIL = 'Give a registry host[:port], optionally followed by a repository path prefix.';
	END IF;
	IF username IS NULL OR secret IS NULL THEN
		RAISE EXCEPTION 'username and secret are required' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	-- every import of the namespace holds them in memory (the worker too)
	IF octet_length(username) > 1024 OR octet_length(secret) > 65536 THEN
		RAISE EXCEPTION 'username or secret too long'
			USING ERRCODE = 'invalid_parameter_value',
				DETAIL = 'A username has at most 1 kB, a secret at most 64 kB.';
	END IF;
	INSERT INTO imagestream.registry_credential (registry, username, secret, namespace)
	VALUES (registry, username, secret, coalesce(namespace, ''))
	ON CONFLICT ON CONSTRAINT registry_credential_pkey
	DO UPDATE SET username = excluded.username, secret = excluded.secret, updated_at = now();
END $$;

CREATE OR REPLACE FUNCTION set_registry_credentials(registry text, username text, secret text,
	namespace text DEFAULT NULL)
RETURNS void
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C;
COMMENT ON FUNCTION set_registry_credentials(text, text, text, text) IS 'pull credentials of a namespace (or server-wide) for a registry host or host/path prefix: an import uses its namespace''s longest match, then the server-wide longest match';

CREATE OR REPLACE FUNCTION _api_drop_registry_credentials(registry text, namespace text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
BEGIN
	PERFORM imagestream._require_credentials_right(namespace, 'drop');
	DELETE FROM imagestream.registry_credential c
	WHERE c.registry = _api_drop_registry_credentials.registry
	  AND c.namespace = coalesce(_api_drop_registry_credentials.namespace, '');
	IF NOT FOUND THEN
		RAISE EXCEPTION 'no credentials for registry "%" %', registry,
			CASE WHEN namespace IS NULL THEN 'server-wide' ELSE format('in namespace "%s"', namespace) END
			USING ERRCODE = 'undefined_object';
	END IF;
END $$;

CREATE OR REPLACE FUNCTION drop_registry_credentials(registry text, namespace text DEFAULT NULL)
RETURNS void
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C;
COMMENT ON FUNCTION drop_registry_credentials(text, text) IS 'forget the pull credentials of a namespace (or server-wide ones) for a registry';
