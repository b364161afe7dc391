-- Issue 21: trusted keys for the signature gate, the table of
-- src/sql/schema/56_trusted_keys.sql; their functions and view are in
-- src/sql/code/ (135, 275, 310).
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
