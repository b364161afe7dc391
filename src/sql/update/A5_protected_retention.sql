-- Issue 21, items 4 and 5: protected tags and retention (doc/gates.md); the
-- same tables as src/sql/schema/57_protected_tags.sql and 58_retention.sql.
-- prune() takes a namespace: its entry and body are new functions.  What a
-- DBA granted or revoked on the 0.2.0 entry moves to the new one (a DROP
-- would lose it, and give PUBLIC back EXECUTE); the code's CREATE OR
-- REPLACE keeps it.

CREATE TABLE protected_tag (
	namespace text COLLATE "C" NOT NULL,
	pattern text COLLATE "C" NOT NULL,
	created_by text NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (namespace, pattern)
);
COMMENT ON TABLE protected_tag IS 'patterns of the tags of a namespace that do not move once they have an image';

CREATE TABLE namespace_retention (
	namespace text COLLATE "C" PRIMARY KEY,
	keep_tag_revisions integer,
	keep_younger_than interval,
	applied_at timestamptz,
	CHECK (keep_tag_revisions IS NOT NULL OR keep_younger_than IS NOT NULL)
);
COMMENT ON TABLE namespace_retention IS 'the history retention rule of a namespace';

SELECT pg_catalog.pg_extension_config_dump('protected_tag', '');
SELECT pg_catalog.pg_extension_config_dump('namespace_retention', '');

CREATE FUNCTION prune(keep_tag_revisions integer DEFAULT 3,
	keep_younger_than interval DEFAULT '60 minutes', confirm boolean DEFAULT false,
	namespace text DEFAULT NULL)
RETURNS TABLE(action text, stream text, tag text, image image_digest)
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C;

DO $$
DECLARE
	old regprocedure := 'imagestream.prune(integer, interval, boolean)';
	new regprocedure := 'imagestream.prune(integer, interval, boolean, text)';
	a record;
BEGIN
	IF (SELECT p.proacl IS NOT NULL FROM pg_catalog.pg_proc p WHERE p.oid = old) THEN
		EXECUTE pg_catalog.format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', new);
	END IF;
	FOR a IN SELECT x.grantee, x.is_grantable
			 FROM pg_catalog.pg_proc p, pg_catalog.aclexplode(p.proacl) x
			 WHERE p.oid = old AND x.grantee OPERATOR(pg_catalog.<>) p.proowner
	LOOP
		EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO %s%s', new,
			CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END,
			CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END);
	END LOOP;
END $$;

DROP FUNCTION prune(integer, interval, boolean);
DROP FUNCTION _api_prune(integer, interval, boolean);
