-- Repository imports (OpenShift spec.dockerImageRepository) without a
-- registry: the view's columns, set_repository, and the SQL the worker
-- records a listing with.  test/t/038_repository_import.pl lists real ones.
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/test/regress_setup.psql

-- a stream without a repository: NULL, not scheduled (the new columns come last)
SELECT create_stream('rp/web');
SELECT name, generation, docker_image_repository, repository_scheduled FROM image_streams WHERE namespace = 'rp';
SELECT attname FROM pg_attribute WHERE attrelid = 'imagestream.image_streams'::regclass AND attnum > 0
ORDER BY attnum DESC LIMIT 3;

-- set_repository: a repository, normalised; a spec change moves the generation once
SELECT set_repository('rp/web', 'quay.io/org/web', scheduled => true);
SELECT set_repository('rp/web', 'quay.io/org/web', scheduled => true);
SELECT name, generation, docker_image_repository, repository_scheduled FROM image_streams WHERE namespace = 'rp';
SELECT set_repository('rp/web', 'nginx');
SELECT name, generation, docker_image_repository, repository_scheduled FROM image_streams WHERE namespace = 'rp';

-- refused: a tag or digest, NULL flags, a missing stream, a bad name
SELECT set_repository('rp/web', 'quay.io/org/web:1.0');
SELECT pg_temp.sqlstate($$SELECT set_repository('rp/web', 'quay.io/org/web:1.0')$$);
SELECT pg_temp.sqlstate($$SELECT set_repository('rp/web', 'quay.io/org/web@sha256:' || repeat('a', 64))$$);
SELECT pg_temp.sqlstate($$SELECT set_repository('rp/web', 'quay.io/org/web', scheduled => NULL)$$);
SELECT pg_temp.sqlstate($$SELECT set_repository('rp/none', 'quay.io/org/web')$$);
SELECT pg_temp.sqlstate($$SELECT set_repository('rp/web:tag', 'quay.io/org/web')$$);
SELECT pg_temp.sqlstate($$SELECT set_repository('rp/web', 'Quay.io/UPPER')$$);

-- rights: edit on the namespace; a viewer and a stranger are refused alike
CREATE ROLE regress_rp_viewer;
CREATE ROLE regress_rp_editor;
SELECT grant_namespace('rp', 'regress_rp_viewer', 'view');
SELECT grant_namespace('rp', 'regress_rp_editor', 'edit');
SET ROLE regress_rp_viewer;
SELECT name, docker_image_repository, repository_scheduled FROM image_streams WHERE namespace = 'rp';
SELECT pg_temp.sqlstate($$SELECT set_repository('rp/web', NULL)$$);
SELECT pg_temp.sqlstate($$SELECT set_repository('other/web', NULL)$$);
SET ROLE regress_rp_editor;
SELECT set_repository('rp/web', 'quay.io/org/web', scheduled => true);
RESET ROLE;

-- what the worker lists: the scheduled repositories
SELECT s.name, d.repository, d.insecure FROM _due_repositories() d JOIN stream s ON s.id = d.stream_id
WHERE s.namespace = 'rp';

-- a page of its tag list: the tags new to the stream become scheduled,
-- pending spec tags of the repository's tags, in OpenShift's order, at most
-- p_room; the stream moves once; a tag of the stream is left as it is
SELECT map_image('rp/web:1.0', ref_with_digest('quay.io/elsewhere/web', content_digest('mine')));
SELECT id AS web_id, generation AS gen0 FROM stream WHERE namespace = 'rp' AND name = 'web' \gset
SELECT _repository_page(:web_id, 'quay.io/org/web', ARRAY['1.0', 'beta', 'latest', '2.0.0', '1.1'], 3, false);
SELECT generation - :gen0 AS moved FROM stream WHERE id = :web_id;
SELECT tag, from_kind, from_ref, scheduled, pending, spec_generation - :gen0 AS gen
FROM image_stream_tags WHERE namespace = 'rp' ORDER BY tag;
-- the next page, and one with nothing new: nothing written
SELECT _repository_page(:web_id, 'quay.io/org/web', ARRAY['1.1', 'beta', 'zeta'], -1, false);
SELECT xmin AS before_xmin FROM stream WHERE id = :web_id \gset
SELECT _repository_page(:web_id, 'quay.io/org/web', ARRAY['latest', 'beta'], -1, true);
SELECT xmin = :'before_xmin' AS unchanged FROM stream WHERE id = :web_id;
SELECT string_agg(tag, ',' ORDER BY tag) FROM image_stream_tags WHERE namespace = 'rp';
-- a listing of a repository the stream no longer schedules adds nothing
SELECT _repository_page(:web_id, 'quay.io/org/other', ARRAY['new'], -1, true);
SELECT set_repository('rp/web', 'quay.io/org/web', scheduled => false);
SELECT _repository_page(:web_id, 'quay.io/org/web', ARRAY['new'], -1, true);
SELECT count(*) FROM _due_repositories() d WHERE d.stream_id = :web_id;

-- a failed listing is the repository's condition: a change row with a NULL
-- tag when it is new, nothing for the same failure again, cleared by a
-- listing that succeeds (no row)
SELECT max(id) AS last_change FROM change \gset
SELECT _repository_listed(:web_id, 'quay.io/org/web', 'NotFound', 'The tag list of org/web was not found.');
SELECT _repository_listed(:web_id, 'quay.io/org/web', 'NotFound', 'The tag list of org/web was not found.');
SELECT _repository_listed(:web_id, 'quay.io/org/other', 'NotFound', 'not this one');
SELECT list_reason, list_message, list_transition IS NOT NULL AS since FROM stream_repository WHERE stream_id = :web_id;
SELECT event, namespace, stream, tag, docker_image_reference, reason, message
FROM changes_since(:last_change);
SELECT _repository_listed(:web_id, 'quay.io/org/web', NULL, NULL);
SELECT _repository_listed(:web_id, 'quay.io/org/web', NULL, NULL);
SELECT list_reason FROM stream_repository WHERE stream_id = :web_id;
SELECT count(*) FROM changes_since(:last_change);

-- cleared: the tags stay; deleting the stream takes its repository
SELECT set_repository('rp/web', NULL);
SELECT set_repository('rp/web', NULL);
SELECT name, docker_image_repository, repository_scheduled FROM image_streams WHERE namespace = 'rp';
SELECT count(*) FROM image_stream_tags WHERE namespace = 'rp';
SELECT set_repository('rp/web', 'quay.io/org/web');
SELECT delete_stream('rp/web');
SELECT count(*) FROM stream_repository;

SELECT revoke_namespace('rp', 'regress_rp_viewer');
SELECT revoke_namespace('rp', 'regress_rp_editor');
DROP ROLE regress_rp_viewer;
DROP ROLE regress_rp_editor;
