-- Trusted keys (doc/functions.md, doc/security.md "Signature verification"):
-- the public keys whose signatures the signature gate accepts, by name.  A
-- namespace's admins add and drop its own, superusers and the extension
-- owner the server-wide ones (namespace NULL, stored as ''), as with
-- registry credentials (270_credentials.sql).  The view trusted_keys
-- (310_views.sql) shows them; the gates find one with _trusted_key_pem
-- (135_signatures.sql).

-- Adding a name again with the same key changes nothing, so that a script
-- may run twice; another key under a taken name is refused (42710): what
-- every gate naming it accepts changes only by an explicit drop.
CREATE OR REPLACE FUNCTION _api_add_trusted_key(name text, public_key_pem text, namespace text)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
DECLARE
	k record;
	stored text;
BEGIN
	-- rights first: a namespace the caller does not administer says nothing more
	PERFORM imagestream._require_namespace_admin(namespace, 'add server-wide trusted keys');
	PERFORM imagestream._check_trusted_key_name(name);
	IF public_key_pem IS NULL THEN
		RAISE EXCEPTION 'a public key is required' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	k := imagestream._signature_key(public_key_pem);
	INSERT INTO imagestream.trusted_key AS t (namespace, name, algorithm, fingerprint, public_key)
	VALUES (coalesce(_api_add_trusted_key.namespace, ''), _api_add_trusted_key.name, k.algorithm,
		k.fingerprint, public_key_pem)
	ON CONFLICT ON CONSTRAINT trusted_key_pkey DO UPDATE SET added_at = t.added_at
	RETURNING t.fingerprint INTO stored;
	IF stored <> k.fingerprint THEN
		RAISE EXCEPTION 'trusted key "%" already exists %', name,
			CASE WHEN namespace IS NULL THEN 'server-wide' ELSE format('in namespace "%s"', namespace) END
			USING ERRCODE = 'duplicate_object',
				DETAIL = format('Its fingerprint is %s, the given key''s %s.', stored, k.fingerprint),
				HINT = 'To replace it, drop it with drop_trusted_key() first.';
	END IF;
END $$;

CREATE OR REPLACE FUNCTION add_trusted_key(name text, public_key_pem text, namespace text DEFAULT NULL)
RETURNS void
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C;
COMMENT ON FUNCTION add_trusted_key(text, text, text) IS 'trust the cosign signatures of an ECDSA P-256 or Ed25519 public key (PEM) under a name, in a namespace or server-wide';

CREATE OR REPLACE FUNCTION _api_drop_trusted_key(name text, namespace text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
BEGIN
	PERFORM imagestream._require_namespace_admin(namespace, 'drop server-wide trusted keys');
	PERFORM imagestream._check_trusted_key_name(name);
	DELETE FROM imagestream.trusted_key k
	WHERE k.name = _api_drop_trusted_key.name AND k.namespace = coalesce(_api_drop_trusted_key.namespace, '');
	IF NOT FOUND THEN
		RAISE EXCEPTION 'trusted key "%" does not exist %', name,
			CASE WHEN namespace IS NULL THEN 'server-wide' ELSE format('in namespace "%s"', namespace) END
			USING ERRCODE = 'undefined_object';
	END IF;
END $$;

CREATE OR REPLACE FUNCTION drop_trusted_key(name text, namespace text DEFAULT NULL) RETURNS void
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C;
COMMENT ON FUNCTION drop_trusted_key(text, text) IS 'stop trusting a key of a namespace (or a server-wide one); a namespace''s key of the same name no longer shadows the server-wide one';
