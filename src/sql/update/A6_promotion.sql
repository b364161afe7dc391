-- Issue 22, items 1 and 2: compare-and-swap and promote() (doc/promotion.md).
-- tag(), rollback() and map_image() gain expected_image: their entries and
-- bodies are new functions.  What a DBA granted or revoked on a 0.2.0
-- entry moves to the new one (a DROP would lose it, and give PUBLIC back
-- EXECUTE); the code's CREATE OR REPLACE keeps it.  _tag_image gains the
-- route of its change (p_via).

CREATE FUNCTION tag(source text, destination text, source_kind source_kind DEFAULT NULL,
	alias boolean DEFAULT false, reference boolean DEFAULT false,
	scheduled boolean DEFAULT false, insecure boolean DEFAULT false,
	reference_policy reference_policy DEFAULT 'Source',
	import_mode import_mode DEFAULT 'Legacy', expected_image image_digest DEFAULT NULL)
RETURNS void
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C;

CREATE FUNCTION rollback(tag text, to_image text DEFAULT NULL, steps integer DEFAULT 1,
	expected_image image_digest DEFAULT NULL)
RETURNS tag_event
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C;

CREATE FUNCTION map_image(tag text, docker_image_reference image_ref,
	image image_digest DEFAULT NULL, manifest bytea DEFAULT NULL, media_type text DEFAULT NULL,
	expected_image image_digest DEFAULT NULL)
RETURNS void
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C;

DO $$
DECLARE
	f record;
	a record;
BEGIN
	FOR f IN SELECT o.old::regprocedure AS old, o.new::regprocedure AS new
			 FROM (VALUES
				('imagestream.tag(text, text, imagestream.source_kind, boolean, boolean, boolean, boolean, imagestream.reference_policy, imagestream.import_mode)',
				 'imagestream.tag(text, text, imagestream.source_kind, boolean, boolean, boolean, boolean, imagestream.reference_policy, imagestream.import_mode, imagestream.image_digest)'),
				('imagestream.rollback(text, text, integer)',
				 'imagestream.rollback(text, text, integer, imagestream.image_digest)'),
				('imagestream.map_image(text, imagestream.image_ref, imagestream.image_digest, bytea, text)',
				 'imagestream.map_image(text, imagestream.image_ref, imagestream.image_digest, bytea, text, imagestream.image_digest)')
			 ) AS o(old, new)
	LOOP
		IF (SELECT p.proacl IS NOT NULL FROM pg_catalog.pg_proc p WHERE p.oid = f.old) THEN
			EXECUTE pg_catalog.format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f.new);
		END IF;
		FOR a IN SELECT x.grantee, x.is_grantable
				 FROM pg_catalog.pg_proc p, pg_catalog.aclexplode(p.proacl) x
				 WHERE p.oid = f.old AND x.grantee OPERATOR(pg_catalog.<>) p.proowner
		LOOP
			EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO %s%s', f.new,
				CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END,
				CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END);
		END LOOP;
	END LOOP;
END $$;

DROP FUNCTION tag(text, text, source_kind, boolean, boolean, boolean, boolean, reference_policy, import_mode);
DROP FUNCTION _api_tag(text, text, source_kind, boolean, boolean, boolean, boolean, reference_policy, import_mode);
DROP FUNCTION rollback(text, text, integer);
DROP FUNCTION _api_rollback(text, text, integer);
DROP FUNCTION map_image(text, image_ref, image_digest, bytea, text);
DROP FUNCTION _api_map_image(text, image_ref, image_digest, bytea, text);
DROP FUNCTION _tag_image(stream, text, text, text, text, boolean, import_mode, reference_policy, boolean);
