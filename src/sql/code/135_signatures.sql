-- Signatures (doc/security.md, "Signature verification"): cosign's
-- key-based signatures of an image, and the trusted keys that make them.
-- What a valid key and a valid signature are is C's (src/cosign_crypto.c,
-- src/cosign.c); the gates ask _signature_verify with the key
-- _trusted_key_pem finds.  None of these is executable by PUBLIC
-- (390_security.sql).

-- The algorithm ('ecdsa-p256' or 'ed25519') and fingerprint ('sha256:' and
-- the hex SHA-256 of the DER SubjectPublicKeyInfo) of a PEM public key;
-- 22023 with the reason in the detail for any key it refuses.
CREATE OR REPLACE FUNCTION _signature_key(pem text, OUT algorithm text, OUT fingerprint text)
	AS 'MODULE_PATHNAME', 'imagestream_signature_key'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- NULL when signature (base64) is a signature of payload by the key in
-- key_pem and payload is cosign's simple signing payload for digest; else
-- one sentence saying why not.  A NULL argument is such a sentence too.
CREATE OR REPLACE FUNCTION _signature_verify(payload bytea, signature text, key_pem text,
	digest image_digest) RETURNS text
	AS 'MODULE_PATHNAME', 'imagestream_signature_verify'
	LANGUAGE C IMMUTABLE PARALLEL SAFE;

-- The name of a trusted key: 1 to 63 letters, digits, ".", "_" and "-",
-- starting with a letter or digit (22023; the name is not echoed).
CREATE OR REPLACE FUNCTION _check_trusted_key_name(name text) RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	IF name IS NULL OR name !~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$' THEN
		RAISE EXCEPTION 'invalid trusted key name'
			USING ERRCODE = 'invalid_parameter_value',
				DETAIL = 'A key name has 1 to 63 characters: letters, digits, ".", "_" and "-", starting with a letter or digit.';
	END IF;
END $$;

-- The PEM the gates verify with for key p_name in namespace p_namespace:
-- the namespace's own key of that name, else the server-wide one, else NULL.
CREATE OR REPLACE FUNCTION _trusted_key_pem(p_namespace text, p_name text) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
	SELECT k.public_key FROM imagestream.trusted_key k
	WHERE k.name = p_name AND k.namespace IN (p_namespace, '')
	ORDER BY k.namespace = ''
	LIMIT 1
$$;
