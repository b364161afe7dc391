-- Privileges (SPEC section 8).  Tables are written only through the API
-- functions; ordinary roles read them under row-level security, namespace by
-- namespace.  Credentials are the extension owner's alone.

REVOKE ALL ON ALL TABLES IN SCHEMA imagestream FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA imagestream FROM PUBLIC;
GRANT USAGE ON SCHEMA imagestream TO PUBLIC;

GRANT SELECT ON stream, tag, change, image_layer, image_child,
	namespace_grant TO PUBLIC;
-- (not the catalogue's pull spec, which may be another namespace's: the
-- images view gives each viewer one of its own streams')
GRANT SELECT (digest, media_type, manifest, size, os, architecture, variant, created,
	labels, config, imported_at) ON image TO PUBLIC;
GRANT SELECT ON image_streams, image_stream_tags, images, history, worker_status TO PUBLIC;

ALTER TABLE stream ENABLE ROW LEVEL SECURITY;
ALTER TABLE tag ENABLE ROW LEVEL SECURITY;
ALTER TABLE change ENABLE ROW LEVEL SECURITY;
ALTER TABLE image ENABLE ROW LEVEL SECURITY;
ALTER TABLE image_layer ENABLE ROW LEVEL SECURITY;
ALTER TABLE image_child ENABLE ROW LEVEL SECURITY;
ALTER TABLE namespace_grant ENABLE ROW LEVEL SECURITY;
ALTER TABLE registry_credential ENABLE ROW LEVEL SECURITY;

CREATE POLICY view_namespace ON stream FOR SELECT USING (_can(namespace, 'view'));
CREATE POLICY view_namespace ON tag FOR SELECT USING (_can(namespace, 'view'));
CREATE POLICY view_namespace ON change FOR SELECT USING (_can(namespace, 'view'));
CREATE POLICY admin_namespace ON namespace_grant FOR SELECT USING (_can(namespace, 'admin'));
CREATE POLICY held_by_visible_stream ON image FOR SELECT
	USING (EXISTS (SELECT 1 FROM images v WHERE v.digest = image.digest));
CREATE POLICY held_by_visible_stream ON image_layer FOR SELECT
	USING (EXISTS (SELECT 1 FROM images v WHERE v.digest = image_layer.image));
CREATE POLICY held_by_visible_stream ON image_child FOR SELECT
	USING (EXISTS (SELECT 1 FROM images v WHERE v.digest = image_child.image));

-- Internal functions (named with a leading underscore) are not for callers,
-- except the read-only ones that views, policies and resolve() call as the
-- caller.
DO $$
DECLARE
	f regprocedure;
BEGIN
	FOR f IN SELECT p.oid::regprocedure FROM pg_proc p
			 WHERE p.pronamespace = 'imagestream'::regnamespace AND p.proname LIKE '\_%'
			   AND p.proname NOT IN ('_can', '_privileged', '_calling_role', '_level_rank',
									 '_pull_spec', '_pull_spec_of', '_local_repository', '_worker_status',
									 '_check_names', '_name_error')
	LOOP
		EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
	END LOOP;
END $$;
