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
