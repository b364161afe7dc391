-- Rights per namespace: view, edit, admin, in views and functions; no base
-- table readable by ordinary roles; credentials for the owner only.
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/test/regress_setup.psql

CREATE ROLE regress_is_viewer;
CREATE ROLE regress_is_editor;
CREATE ROLE regress_is_admin;
CREATE ROLE regress_is_nobody;
CREATE ROLE regress_is_member IN ROLE regress_is_viewer;

SELECT map_image('rt/app:latest', ref_with_digest('quay.io/rt/app', content_digest('rt1')));
SELECT map_image('rt2/app:latest', ref_with_digest('quay.io/rt2/app', content_digest('rt2')));
SELECT grant_namespace('rt', 'regress_is_viewer', 'view');
SELECT grant_namespace('rt', 'regress_is_editor', 'edit');
SELECT grant_namespace('rt', 'regress_is_admin', 'admin');
SELECT pg_temp.sqlstate($$SELECT grant_namespace('rt', 'regress_is_nobody', 'owner')$$);
SELECT pg_temp.sqlstate($$SELECT grant_namespace('RT', 'regress_is_nobody', 'view')$$);
SELECT pg_temp.sqlstate($$SELECT grant_namespace('rt', 'no_such_role', 'view')$$);
SELECT set_registry_credentials('quay.io', 'robot', 's3cret');

SELECT id AS rt2_tag FROM tag WHERE namespace = 'rt2' AND name = 'latest' \gset
-- a viewer reads its namespace everywhere and nothing else
SET ROLE regress_is_viewer;
SELECT namespace, name FROM image_streams WHERE namespace LIKE 'rt%';
SELECT namespace, stream, tag FROM image_stream_tags WHERE namespace LIKE 'rt%';
SELECT count(*) FROM images WHERE digest IN (content_digest('rt1'), content_digest('rt2'));
SELECT count(*) FROM history;
SELECT count(*) FROM history WHERE tag_id = :rt2_tag;
SELECT count(*) FROM namespace_grants;
-- no base table, not even of its own namespace (security finding S17)
SELECT c.relname, pg_temp.sqlstate(format('SELECT 1 FROM imagestream.%I', c.relname))
FROM pg_class c WHERE c.relnamespace = 'imagestream'::regnamespace AND c.relkind IN ('r', 'v')
  AND NOT has_table_privilege(c.oid, 'SELECT') ORDER BY 1;
SELECT DISTINCT namespace FROM changes_since(0) WHERE namespace LIKE 'rt%';
SELECT resolve('rt/app:latest') = ref_with_digest('quay.io/rt/app', content_digest('rt1'));
SELECT count(*) FROM history('rt/app:latest');
SELECT pg_temp.sqlstate($$SELECT resolve('rt2/app:latest')$$);
SELECT pg_temp.sqlstate($$SELECT history('rt2/app:latest')$$);
SELECT pg_temp.sqlstate($$SELECT describe('rt2/app')$$);
SELECT pg_temp.sqlstate($$SELECT image('rt2/app@' || digest_hex(content_digest('rt2')))$$);
-- ... and may change nothing
SELECT pg_temp.sqlstate($$SELECT tag('quay.io/x:1', 'rt/app:x')$$);
SELECT pg_temp.sqlstate($$SELECT untag('rt/app:latest')$$);
SELECT pg_temp.sqlstate($$SELECT rollback('rt/app:latest')$$);
SELECT pg_temp.sqlstate($$SELECT create_stream('rt/new')$$);
SELECT pg_temp.sqlstate($$SELECT delete_stream('rt/app')$$);
SELECT pg_temp.sqlstate($$SELECT map_image('rt/app:x', ref_with_digest('quay.io/rt/app', content_digest('x')))$$);
SELECT pg_temp.sqlstate($$SELECT grant_namespace('rt', 'regress_is_nobody', 'view')$$);
SELECT pg_temp.sqlstate($$INSERT INTO stream (namespace, name) VALUES ('rt', 'direct')$$);
SELECT pg_temp.sqlstate($$UPDATE tag SET image = NULL$$);
SELECT pg_temp.sqlstate($$SELECT _add_event(1, 'x', NULL, 1)$$);
SELECT pg_temp.sqlstate($$SELECT * FROM registry_credential$$);
SELECT pg_temp.sqlstate($$SELECT * FROM namespace_grant$$);
SELECT pg_temp.sqlstate($$SELECT * FROM prune()$$);
RESET ROLE;

-- membership in a granted role counts
SET ROLE regress_is_member;
SELECT namespace FROM image_streams WHERE namespace LIKE 'rt%';
RESET ROLE;

-- an editor changes its namespace; another namespace needs view there
SET ROLE regress_is_editor;
SELECT tag('quay.io/rt/app:2', 'rt/app:two', reference => true);
SELECT tag('app:latest', 'rt/app:copy');
SELECT pg_temp.sqlstate($$SELECT tag('quay.io/x:1', 'rt2/app:x')$$);
SELECT pg_temp.sqlstate($$SELECT tag('rt2/app:latest', 'rt/app:fromrt2', source_kind => 'ImageStreamTag')$$);
SELECT pg_temp.sqlstate($$SELECT grant_namespace('rt', 'regress_is_nobody', 'view')$$);
SELECT pg_temp.sqlstate($$SELECT set_registry_credentials('quay.io', 'me', 'x')$$);
RESET ROLE;
SELECT grant_namespace('rt2', 'regress_is_editor', 'view');
SET ROLE regress_is_editor;
SELECT tag('rt2/app:latest', 'rt/app:fromrt2');
SELECT from_ref LIKE 'rt2/app@sha256:%' FROM image_stream_tags WHERE namespace = 'rt' AND tag = 'fromrt2';
RESET ROLE;

-- an admin grants and revokes in its namespace only
SET ROLE regress_is_admin;
SELECT grant_namespace('rt', 'regress_is_nobody', 'view');
SELECT namespace, grantee, level FROM namespace_grants ORDER BY grantee::text;
SELECT revoke_namespace('rt', 'regress_is_nobody');
SELECT pg_temp.sqlstate($$SELECT grant_namespace('rt2', 'regress_is_nobody', 'view')$$);
SELECT tag('quay.io/rt/app:3', 'rt/app:three', reference => true);
RESET ROLE;

-- a role with no grant sees nothing and may do nothing
SET ROLE regress_is_nobody;
SELECT count(*) FROM image_streams WHERE namespace LIKE 'rt%';
SELECT count(*) FROM image_stream_tags WHERE namespace LIKE 'rt%';
SELECT count(*) FROM images WHERE digest IN (content_digest('rt1'), content_digest('rt2'));
SELECT count(*) FROM history;
SELECT pg_temp.sqlstate($$SELECT 1 FROM stream$$);
SELECT count(*) FROM changes_since(0) WHERE namespace LIKE 'rt%';
SELECT pg_temp.sqlstate($$SELECT resolve('rt/app:latest')$$);
SELECT pg_temp.sqlstate($$SELECT resolve_image('rt', 'app')$$);
RESET ROLE;

-- import_image and import_now need edit: refused to a viewer and to a role
-- with no right (42501), with one message whether the stream or tag exists
-- or not, so that they tell no existence; import_now() marks only what the
-- caller may edit
SELECT tag('quay.io/rt/web:1', 'rt/web:1', scheduled => true);
SET ROLE regress_is_viewer;
SELECT pg_temp.sqlstate($$SELECT * FROM import_image('rt/web:1')$$);
SELECT pg_temp.sqlstate($$SELECT * FROM import_image('rt/web:1', 'quay.io/rt/web:1', dry_run => true)$$);
SELECT pg_temp.sqlstate($$SELECT * FROM import_image('rt/web:2', 'quay.io/rt/web:2')$$);
SELECT pg_temp.sqlstate($$SELECT * FROM import_image('rt/missing:1', 'quay.io/rt/web:1')$$);
SELECT pg_temp.sqlstate($$SELECT * FROM import_image('rt/web', 'quay.io/rt/web', all_tags => true)$$);
SELECT pg_temp.sqlstate($$SELECT * FROM import_image('rt/missing', 'quay.io/rt/web', all_tags => true)$$);
SELECT pg_temp.sqlstate($$SELECT import_now('rt/web:1')$$);
SELECT pg_temp.sqlstate($$SELECT import_now('rt/web:missing')$$);
SELECT pg_temp.sqlstate($$SELECT import_now('rt/web')$$);
SELECT pg_temp.sqlstate($$SELECT import_now('rt/missing')$$);
SELECT import_now();
RESET ROLE;
SET ROLE regress_is_nobody;
SELECT pg_temp.sqlstate($$SELECT * FROM import_image('rt/web:1')$$);
SELECT pg_temp.sqlstate($$SELECT * FROM import_image('rt/web:1', 'quay.io/rt/web:1', dry_run => true)$$);
SELECT pg_temp.sqlstate($$SELECT * FROM import_image('rt/web:2', 'quay.io/rt/web:2')$$);
SELECT pg_temp.sqlstate($$SELECT * FROM import_image('rt/missing:1', 'quay.io/rt/web:1')$$);
SELECT pg_temp.sqlstate($$SELECT * FROM import_image('rt/web', 'quay.io/rt/web', all_tags => true)$$);
SELECT pg_temp.sqlstate($$SELECT * FROM import_image('rt/missing', 'quay.io/rt/web', all_tags => true)$$);
SELECT pg_temp.sqlstate($$SELECT import_now('rt/web:1')$$);
SELECT pg_temp.sqlstate($$SELECT import_now('rt/web:missing')$$);
SELECT pg_temp.sqlstate($$SELECT import_now('rt/web')$$);
SELECT pg_temp.sqlstate($$SELECT import_now('rt/missing')$$);
SELECT import_now();
RESET ROLE;
SELECT count(*) AS requested FROM tag WHERE namespace = 'rt' AND import_requested_at IS NOT NULL;
SELECT count(*) AS streams FROM stream WHERE namespace = 'rt' AND name = 'missing';
-- an editor passes the check (the registry policy refuses the source
-- without a request)
SET imagestream.allowed_registries = 'registry.invalid';
SET ROLE regress_is_editor;
SELECT tag, status, reason FROM import_image('rt/web:1', 'quay.io/rt/web:1', dry_run => true);
SELECT import_now('rt/web:1');
SELECT import_now();
RESET ROLE;
RESET imagestream.allowed_registries;
SELECT count(*) AS requested FROM tag WHERE namespace = 'rt' AND import_requested_at IS NOT NULL;
SELECT delete_stream('rt/web');

-- credentials: no role but the owner reads them; no function returns them
SELECT registry, username FROM registry_credential;
SELECT set_registry_credentials('quay.io', 'robot2', 'n3w');
SELECT pg_temp.sqlstate($$SELECT set_registry_credentials('https://quay.io', 'a', 'b')$$);
SELECT drop_registry_credentials('quay.io');
SELECT pg_temp.sqlstate($$SELECT drop_registry_credentials('quay.io')$$);
SELECT count(*) AS functions_returning_text_with_secret FROM pg_proc
WHERE pronamespace = 'imagestream'::regnamespace AND prosrc LIKE '%secret%' AND proname NOT LIKE '%credentials';

-- every SECURITY DEFINER function pins its search_path; no table is
-- writable by PUBLIC
SELECT count(*) AS definer_without_search_path FROM pg_proc
WHERE pronamespace = 'imagestream'::regnamespace AND prosecdef
  AND NOT coalesce(proconfig::text LIKE '%search_path=pg_catalog, imagestream, pg_temp%', false);
SELECT count(*) AS public_writable FROM information_schema.role_table_grants
WHERE table_schema = 'imagestream' AND grantee = 'PUBLIC' AND privilege_type <> 'SELECT';

SELECT revoke_namespace('rt', r) FROM unnest(ARRAY['regress_is_viewer', 'regress_is_editor', 'regress_is_admin']::regrole[]) r;
SELECT revoke_namespace('rt2', 'regress_is_editor');
DROP ROLE regress_is_member, regress_is_viewer, regress_is_editor, regress_is_admin, regress_is_nobody;
