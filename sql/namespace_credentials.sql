-- Pull credentials per namespace (issue 18, item 7): a namespace's admin
-- sets and drops its own, superusers the server-wide ones; the view
-- registry_credentials shows a role the rows of namespaces it administers,
-- never a secret.  The imports that use them are in
-- test/t/038_namespace_credentials.pl.
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/test/regress_setup.psql

CREATE ROLE regress_nc_admin_a;
CREATE ROLE regress_nc_editor_a;
CREATE ROLE regress_nc_viewer_a;
CREATE ROLE regress_nc_admin_b;
SELECT grant_namespace('nca', 'regress_nc_admin_a', 'admin');
SELECT grant_namespace('nca', 'regress_nc_editor_a', 'edit');
SELECT grant_namespace('nca', 'regress_nc_viewer_a', 'view');
SELECT grant_namespace('ncb', 'regress_nc_admin_b', 'admin');

-- the view has no secret column, and nobody but the owner reads the table
SELECT attname FROM pg_attribute WHERE attrelid = 'registry_credentials'::regclass AND attnum > 0
ORDER BY attnum;

-- the superuser sets server-wide ones and any namespace's
SELECT set_registry_credentials('nc.example', 'wide-robot', 'W1de-s3cret');
SELECT set_registry_credentials('nc.example/org', 'wide-org-robot', 'W1de-s3cret', NULL);
SELECT set_registry_credentials('nc.example', 'b-robot', 'B-s3cret', 'ncb');
SELECT registry, namespace, username, updated_at IS NOT NULL FROM registry_credentials
WHERE registry LIKE 'nc.example%' ORDER BY namespace NULLS FIRST, registry;

-- an admin sets, replaces and drops its namespace's
SET ROLE regress_nc_admin_a;
SELECT set_registry_credentials('nc.example', 'a-robot', 'A-s3cret', 'nca');
SELECT set_registry_credentials('nc.example/org', 'a-org-robot', 'A-s3cret', 'nca');
SELECT set_registry_credentials('nc.example', 'a-robot-2', 'A-n3w-s3cret', 'nca');
-- it sees its namespace's rows only: not bravo's, not the server-wide ones
SELECT registry, namespace, username FROM registry_credentials ORDER BY registry;
SELECT count(*) FROM registry_credentials WHERE username LIKE 'b-%' OR namespace IS NULL;
SELECT drop_registry_credentials('nc.example/org', 'nca');
SELECT pg_temp.sqlstate($$SELECT drop_registry_credentials('nc.example/org', 'nca')$$);
-- not another namespace's, existing or not (the same error), nor server-wide ones
SELECT pg_temp.sqlstate($$SELECT set_registry_credentials('nc.example', 'x', 'X-s3cret', 'ncb')$$);
SELECT pg_temp.sqlstate($$SELECT drop_registry_credentials('nc.example', 'ncb')$$);
SELECT pg_temp.sqlstate($$SELECT drop_registry_credentials('nowhere.example', 'ncb')$$);
SELECT pg_temp.sqlstate($$SELECT set_registry_credentials('nc.example', 'x', 'X-s3cret')$$);
SELECT pg_temp.sqlstate($$SELECT drop_registry_credentials('nc.example')$$);
SELECT pg_temp.sqlstate($$SELECT drop_registry_credentials('nc.example', NULL)$$);
-- the table stays closed, secrets and all
SELECT pg_temp.sqlstate($$SELECT * FROM registry_credential$$);
SELECT pg_temp.sqlstate($$SELECT username FROM registry_credential WHERE namespace = 'nca'$$);
-- errors do not echo the secret
SELECT pg_temp.sqlstate($$SELECT set_registry_credentials('not a registry!', 'a', 'Ech0-s3cret', 'nca')$$);
SELECT pg_temp.sqlstate($$SELECT set_registry_credentials('nc.example', 'a', 'Ech0-s3cret', 'NC A')$$);
SELECT pg_temp.sqlstate($$SELECT set_registry_credentials('nc.example', NULL, 'Ech0-s3cret', 'nca')$$);
SELECT pg_temp.sqlstate($$SELECT set_registry_credentials('nc.example', 'a', 'Ech0-s3cret', 'ncb')$$);
-- '' is no namespace: server-wide ones are not set that way
SELECT pg_temp.sqlstate($$SELECT set_registry_credentials('nc.example', 'a', 'Ech0-s3cret', '')$$);
-- what every import of the namespace holds in memory is bounded
SELECT pg_temp.sqlstate($$SELECT set_registry_credentials('nc.example', 'a', repeat('s', 65537), 'nca')$$);
SELECT pg_temp.sqlstate($$SELECT set_registry_credentials('nc.example', repeat('u', 1025), 's', 'nca')$$);
SELECT pg_temp.sqlstate($$SELECT set_registry_credentials('nc.example/' || repeat('x', 1024), 'a', 's', 'nca')$$);
SELECT pg_temp.sqlstate($$SELECT set_registry_credentials('nc.example', 'a-robot-2', repeat('s', 65536), 'nca')$$);
RESET ROLE;

-- an editor or viewer of the namespace may neither set, drop nor list them
SET ROLE regress_nc_editor_a;
SELECT pg_temp.sqlstate($$SELECT set_registry_credentials('nc.example', 'x', 'X-s3cret', 'nca')$$);
SELECT pg_temp.sqlstate($$SELECT drop_registry_credentials('nc.example', 'nca')$$);
SELECT count(*) FROM registry_credentials;
RESET ROLE;
SET ROLE regress_nc_viewer_a;
SELECT pg_temp.sqlstate($$SELECT set_registry_credentials('nc.example', 'x', 'X-s3cret', 'nca')$$);
SELECT count(*) FROM registry_credentials;
RESET ROLE;

-- the admin of ncb sees ncb's only
SET ROLE regress_nc_admin_b;
SELECT registry, namespace, username FROM registry_credentials ORDER BY registry;
RESET ROLE;

-- one row per namespace and registry, the replaced username kept; a
-- namespace's drop leaves the server-wide ones of the same registry
SELECT registry, namespace, username FROM registry_credentials
WHERE registry LIKE 'nc.example%' ORDER BY namespace NULLS FIRST, registry;
SELECT drop_registry_credentials('nc.example', 'ncb');
SELECT registry, namespace, username FROM registry_credentials
WHERE registry LIKE 'nc.example%' ORDER BY namespace NULLS FIRST, registry;
-- a replaced secret moves updated_at
SELECT updated_at AS before FROM registry_credentials WHERE namespace = 'nca' \gset
SELECT set_registry_credentials('nc.example', 'a-robot-2', 'A-n3wer-s3cret', 'nca');
SELECT updated_at > :'before' FROM registry_credentials WHERE namespace = 'nca';

-- the view is a function scan for its caller: EXPLAIN ANALYZE of a
-- condition on ncb's username counts no row of ncb (security finding S17)
SELECT set_registry_credentials('nc.example', 'b-robot', 'B-s3cret', 'ncb');
SET ROLE regress_nc_admin_a;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
SELECT * FROM registry_credentials WHERE username = 'b-robot';
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
SELECT * FROM registry_credentials WHERE username = 'no-such-robot';
RESET ROLE;

SELECT drop_registry_credentials('nc.example');
SELECT drop_registry_credentials('nc.example/org');
SELECT drop_registry_credentials('nc.example', 'nca');
SELECT drop_registry_credentials('nc.example', 'ncb');
SELECT revoke_namespace('nca', 'regress_nc_admin_a');
SELECT revoke_namespace('nca', 'regress_nc_editor_a');
SELECT revoke_namespace('nca', 'regress_nc_viewer_a');
SELECT revoke_namespace('ncb', 'regress_nc_admin_b');
DROP ROLE regress_nc_admin_a;
DROP ROLE regress_nc_editor_a;
DROP ROLE regress_nc_viewer_a;
DROP ROLE regress_nc_admin_b;
