-- Issue 18: oc's rules for tag() and import_image().  tag() decides a
-- source's kind from its text alone (_source_kind replaces
-- _infer_source_kind, which looked the stream up).  import_image() takes
-- confirm and its rows carry metadata: its entry and body are new
-- functions.  What a DBA granted or revoked on the 0.2.0 entry moves to the
-- new one (a DROP would lose it, and give PUBLIC back EXECUTE); the code's
-- CREATE OR REPLACE keeps it.

DROP FUNCTION _infer_source_kind(text, text);

CREATE FUNCTION import_image(destination text, from_image text DEFAULT NULL,
	all_tags boolean DEFAULT false, scheduled boolean DEFAULT NULL,
	insecure boolean DEFAULT NULL, reference_policy reference_policy DEFAULT NULL,
	import_mode import_mode DEFAULT NULL, dry_run boolean DEFAULT false,
	confirm boolean DEFAULT false)
RETURNS TABLE(tag text, status text, image image_digest, docker_image_reference image_ref,
	reason text, message text, metadata jsonb)
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C;

DO $$
DECLARE
	old regprocedure := 'imagestream.import_image(text, text, boolean, boolean, boolean, imagestream.reference_policy, imagestream.import_mode, boolean)';
	new regprocedure := 'imagestream.import_image(text, text, boolean, boolean, boolean, imagestream.reference_policy, imagestream.import_mode, boolean, boolean)';
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

DROP FUNCTION import_image(text, text, boolean, boolean, boolean, reference_policy, import_mode, boolean);
DROP FUNCTION _api_import_image(text, text, boolean, boolean, boolean, reference_policy, import_mode, boolean);
