-- Trusted keys (doc/security.md, "Signature verification"): the public keys
-- whose cosign signatures the gates accept, by name, of a namespace or
-- server-wide (namespace '': no namespace name is empty), as
-- registry_credential keeps credentials.  A namespace's key shadows a
-- server-wide one of the same name (_trusted_key_pem).  algorithm and
-- fingerprint are what _signature_key read from public_key.
CREATE TABLE trusted_key (
	namespace text COLLATE "C" NOT NULL DEFAULT '',
	name text COLLATE "C" NOT NULL,
	algorithm text NOT NULL,
	fingerprint text NOT NULL,
	public_key text NOT NULL,
	added_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (namespace, name)
);
COMMENT ON TABLE trusted_key IS 'public keys whose cosign signatures the gates accept';

SELECT pg_catalog.pg_extension_config_dump('trusted_key', '');
