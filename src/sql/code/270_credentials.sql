-- Registry pull credentials: set and dropped by superusers and the extension
-- owner; read by nobody else (the import reads them as the owner).

CREATE OR REPLACE FUNCTION _api_set_registry_credentials(registry text, username text, secret text)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
BEGIN
	PERFORM imagestream._require_privileged('set registry credentials');
	IF registry IS NULL OR registry !~ '^(\[[0-9A-Fa-f:]+\]|[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?)(:[0-9]+)?(/[a-z0-9._/-]*[a-z0-9])?$' THEN
		RAISE EXCEPTION 'invalid registry "%"', registry
			USING ERRCODE = 'invalid_parameter_value',
				DETAIL = 'Give a registry host[:port], optionally followed by a repository path prefix.';
	END IF;
	IF username IS NULL OR secret IS NULL THEN
		RAISE EXCEPTION 'username and secret are required' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	INSERT INTO imagestream.registry_credential VALUES (registry, username, secret)
	ON CONFLICT ON CONSTRAINT registry_credential_pkey
	DO UPDATE SET username = excluded.username, secret = excluded.secret;
END $$;

CREATE OR REPLACE FUNCTION set_registry_credentials(registry text, username text, secret text)
RETURNS void
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C;
COMMENT ON FUNCTION set_registry_credentials(text, text, text) IS 'pull credentials for a registry host or host/path prefix (the longest match wins)';

CREATE OR REPLACE FUNCTION _api_drop_registry_credentials(registry text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
BEGIN
	PERFORM imagestream._require_privileged('drop registry credentials');
	DELETE FROM imagestream.registry_credential c WHERE c.registry = _api_drop_registry_credentials.registry;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'no credentials for registry "%"', registry USING ERRCODE = 'undefined_object';
	END IF;
END $$;

CREATE OR REPLACE FUNCTION drop_registry_credentials(registry text) RETURNS void
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C;
COMMENT ON FUNCTION drop_registry_credentials(text) IS 'forget the pull credentials of a registry';
