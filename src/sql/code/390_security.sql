-- Privileges (doc/security.md).  Tables are written only through the API
-- functions and read only through them and the views (310_views.sql),
-- which show each role the namespaces it may view: no base table is readable
-- by an ordinary role (security finding S17).  Row-level security stays on,
-- without a policy: a role granted SELECT on a table by hand reads no row.

-- PUBLIC may use the schema and read the views, and nothing else.
-- ALTER EXTENSION UPDATE runs this file again (doc/upgrading.md): the
-- grants go only where no privilege was ever set (the installation, a view
-- new in the update), so that what a DBA revoked since stays revoked.
DO $$
DECLARE
	public_views text[] := ARRAY['image_streams', 'image_stream_tags', 'images', 'history',
								 'namespace_grants', 'worker_status', 'registry_credentials',
								 'tag_policies', 'trusted_keys', 'protected_tags', 'retention_rules',
								 'triggers'];
	r record;
BEGIN
	IF (SELECT n.nspacl IS NULL FROM pg_namespace n WHERE n.nspname = 'imagestream') THEN
		GRANT USAGE ON SCHEMA imagestream TO PUBLIC;
	END IF;
	FOR r IN SELECT c.oid::regclass AS rel, c.relname = ANY (public_views) AS public_view,
					c.relacl IS NULL AS never_set
			 FROM pg_class c
			 WHERE c.relnamespace = 'imagestream'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
	LOOP
		IF NOT r.public_view THEN
			EXECUTE format('REVOKE ALL ON %s FROM PUBLIC', r.rel);
		ELSIF r.never_set THEN
			EXECUTE format('GRANT SELECT ON %s TO PUBLIC', r.rel);
		END IF;
	END LOOP;
END $$;

ALTER TABLE stream ENABLE ROW LEVEL SECURITY;
ALTER TABLE tag ENABLE ROW LEVEL SECURITY;
ALTER TABLE change ENABLE ROW LEVEL SECURITY;
ALTER TABLE image ENABLE ROW LEVEL SECURITY;
ALTER TABLE image_layer ENABLE ROW LEVEL SECURITY;
ALTER TABLE image_child ENABLE ROW LEVEL SECURITY;
ALTER TABLE held_child ENABLE ROW LEVEL SECURITY;
ALTER TABLE stream_repository ENABLE ROW LEVEL SECURITY;
ALTER TABLE namespace_grant ENABLE ROW LEVEL SECURITY;
ALTER TABLE registry_credential ENABLE ROW LEVEL SECURITY;
ALTER TABLE worker_queue ENABLE ROW LEVEL SECURITY;
ALTER TABLE policy_listing ENABLE ROW LEVEL SECURITY;
ALTER TABLE tag_policy ENABLE ROW LEVEL SECURITY;
ALTER TABLE policy_candidate ENABLE ROW LEVEL SECURITY;
ALTER TABLE policy_listing_page ENABLE ROW LEVEL SECURITY;
ALTER TABLE policy_listing_run ENABLE ROW LEVEL SECURITY;
ALTER TABLE trusted_key ENABLE ROW LEVEL SECURITY;
ALTER TABLE protected_tag ENABLE ROW LEVEL SECURITY;
ALTER TABLE namespace_retention ENABLE ROW LEVEL SECURITY;
ALTER TABLE tag_gate ENABLE ROW LEVEL SECURITY;
ALTER TABLE gate_candidate ENABLE ROW LEVEL SECURITY;
ALTER TABLE gate_approval ENABLE ROW LEVEL SECURITY;
ALTER TABLE gate_seen ENABLE ROW LEVEL SECURITY;
ALTER TABLE signature_check ENABLE ROW LEVEL SECURITY;
ALTER TABLE image_signature ENABLE ROW LEVEL SECURITY;
ALTER TABLE image_trigger ENABLE ROW LEVEL SECURITY;

-- Internal functions (named with a leading underscore) are not for callers,
-- except the read-only ones that resolve() calls as the caller, and the
-- entries of the views (_view_..., which check rights as API functions do).
DO $$
DECLARE
	f regprocedure;
BEGIN
	FOR f IN SELECT p.oid::regprocedure FROM pg_proc p
			 WHERE p.pronamespace = 'imagestream'::regnamespace AND p.proname LIKE '\_%'
			   AND p.proname NOT IN ('_can', '_privileged', '_calling_role', '_level_rank',
									 '_pull_spec', '_pull_spec_of', '_local_repository', '_worker_status',
									 '_view_image_streams',
									 '_view_image_stream_tags', '_view_images', '_view_history',
									 '_view_namespace_grants', '_view_registry_credentials',
									 '_view_tag_policies', '_view_trusted_keys', '_view_protected_tags',
									 '_view_retention_rules', '_view_triggers')
	LOOP
		EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
	END LOOP;
END $$;
