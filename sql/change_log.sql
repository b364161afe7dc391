-- The change log from 0.3.0: who made each change (actor, set by the
-- server), the route of a change made on a role's behalf (via), and the
-- change of what resolve() returns through a tag's reference policy.
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/test/regress_setup.psql

CREATE ROLE regress_cl_alice;
CREATE ROLE regress_cl_bob;
CREATE ROLE "regress_cl imagestream worker";
SELECT grant_namespace('cl', 'regress_cl_alice', 'edit');
SELECT grant_namespace('cl', 'regress_cl_bob', 'edit');
SELECT grant_namespace('cl', '"regress_cl imagestream worker"', 'edit');
CREATE VIEW pg_temp.changes AS
SELECT id, event, tag, left(digest_hex(image), 8) AS image, left(digest_hex(previous_image), 8) AS previous,
	docker_image_reference, actor, via
FROM change WHERE namespace = 'cl' AND id > 0;

-- the actor is the calling role (SET ROLE), not the owner the API body runs as
SELECT map_image('cl/app:latest', ref_with_digest('quay.io/cl/app', content_digest('cl1')));
SELECT actor = quote_ident(current_user) AS by_the_session_role, via FROM change WHERE namespace = 'cl';
SET ROLE regress_cl_alice;
SELECT map_image('cl/app:latest', ref_with_digest('quay.io/cl/app', content_digest('cl2')));
RESET ROLE;
SET ROLE regress_cl_bob;
SELECT tag('app:latest', 'cl/app:copy');
SELECT untag('cl/app:copy');
RESET ROLE;
SELECT event, tag, image, actor, via FROM pg_temp.changes WHERE actor LIKE '%regress%';
-- as regrole writes it: a role named like the worker is quoted
SET ROLE "regress_cl imagestream worker";
SELECT map_image('cl/app:latest', ref_with_digest('quay.io/cl/app', content_digest('cl3')));
RESET ROLE;
SELECT event, tag, image, actor FROM pg_temp.changes WHERE image = left(digest_hex(content_digest('cl3')), 8);
-- a role that calls an API function through a SECURITY DEFINER function
-- acts as that function's owner, the role PostgreSQL checks privileges of
CREATE FUNCTION pg_temp.push_as_alice(digest image_digest) RETURNS void
LANGUAGE sql SECURITY DEFINER AS $$ SELECT imagestream.map_image('cl/app:latest', imagestream.ref_with_digest('quay.io/cl/app', digest)) $$;
ALTER FUNCTION pg_temp.push_as_alice(image_digest) OWNER TO regress_cl_alice;
SET ROLE regress_cl_bob;
SELECT pg_temp.push_as_alice(content_digest('cl4'));
RESET ROLE;
SELECT event, image, actor FROM pg_temp.changes WHERE image = left(digest_hex(content_digest('cl4')), 8);

-- no role but the server sets them: the log and its writer are out of reach
SET ROLE regress_cl_alice;
SELECT pg_temp.sqlstate($$SELECT imagestream._log_change('tag_updated', 'cl', 'app', 'latest', NULL, NULL, NULL, 1)$$);
SELECT pg_temp.sqlstate($$SELECT imagestream._change_actor()$$);
SELECT pg_temp.sqlstate($$INSERT INTO imagestream.change (event, namespace, stream, actor) VALUES ('tag_updated', 'cl', 'app', 'someone')$$);
RESET ROLE;
-- via takes the routes of the SPEC alone
SELECT pg_temp.sqlstate($$INSERT INTO imagestream.change (event, namespace, stream, via) VALUES ('tag_updated', 'cl', 'app', 'cron')$$);
-- viewers read actor and via through changes_since
SELECT actor, via FROM changes_since(0) WHERE namespace = 'cl' ORDER BY id DESC LIMIT 1;

-- a change of the reference policy moves resolve(): a tag_updated change of
-- the same image with the pull spec resolve() returns now
SET imagestream.local_registry = 'registry.local:5000';
SELECT map_image('cl/web:v1', ref_with_digest('quay.io/cl/web', content_digest('w1')));
SELECT tag('web:v1', 'cl/web:prod');
SELECT max(id) AS before FROM change \gset
SET ROLE regress_cl_alice;
SELECT tag('web:v1', 'cl/web:prod', reference_policy => 'Local');
RESET ROLE;
SELECT event, tag, image, previous, docker_image_reference, actor FROM pg_temp.changes WHERE id > :before;
SELECT docker_image_reference = resolve('cl/web:prod') AS resolve_returns_it
FROM change WHERE id > :before;
SELECT generation = (SELECT generation FROM image_streams WHERE namespace = 'cl' AND name = 'web') AS stream_generation
FROM change WHERE id > :before;
-- the same policy again: nothing; back to Source: announced
SELECT max(id) AS before FROM change \gset
SELECT tag('web:v1', 'cl/web:prod', reference_policy => 'Local');
SELECT count(*) FROM change WHERE id > :before;
SELECT tag('web:v1', 'cl/web:prod');
SELECT event, tag, image, previous, docker_image_reference FROM pg_temp.changes WHERE id > :before;
SELECT docker_image_reference = resolve('cl/web:prod') AS resolve_returns_it FROM change WHERE id > :before;
-- a copy of another image under another policy: the policy, then the image
SELECT map_image('cl/web:v2', ref_with_digest('quay.io/cl/web', content_digest('w2')));
SELECT max(id) AS before FROM change \gset
SELECT tag('web:v2', 'cl/web:prod', reference_policy => 'Local');
SELECT event, tag, image, previous, docker_image_reference FROM pg_temp.changes WHERE id > :before;
-- a tag without spec gets a Local spec: announced; a tag with no image is not
SELECT max(id) AS before FROM change \gset
SELECT tag('quay.io/cl/web:v9', 'cl/web:v1', reference_policy => 'Local');
SELECT tag('quay.io/cl/web:v3', 'cl/web:pending', reference_policy => 'Local');
SELECT tag('quay.io/cl/web:v3', 'cl/web:pending');
SELECT event, tag, image, previous, docker_image_reference FROM pg_temp.changes WHERE id > :before;
-- a reference-only event resolves to its pull spec whatever the policy: nothing
SELECT tag('quay.io/cl/web:ref', 'cl/web:ref', reference => true);
SELECT max(id) AS before FROM change \gset
SELECT tag('quay.io/cl/web:ref', 'cl/web:ref', reference => true, reference_policy => 'Local');
SELECT count(*) FROM change WHERE id > :before;
-- without imagestream.local_registry a Local tag resolves as a Source one,
-- and the change is still announced: the setting may be set later
RESET imagestream.local_registry;
SELECT max(id) AS before FROM change \gset
SELECT tag('web:v2', 'cl/web:prod');
SELECT event, tag, image, previous, docker_image_reference FROM pg_temp.changes WHERE id > :before;
-- an import that gives a tag without spec a Local spec (import_image of a
-- tag map_image recorded): the policy change, then the import's
SET imagestream.local_registry = 'registry.local:5000';
SELECT map_image('cl/web:pushed', ref_with_digest('quay.io/cl/web', content_digest('w1')));
SELECT max(id) AS before FROM change \gset
SELECT _record_import(_lock_stream('cl', 'web'), false,
	ROW('pushed', 'quay.io/cl/web:pushed', ref_with_digest('quay.io/cl/web', content_digest('w3')),
		content_digest('w3'), content_digest('w3'), false, false, 'Legacy', 'Local')::_tag_import);
SELECT event, tag, image, previous, docker_image_reference FROM pg_temp.changes WHERE id > :before;
RESET imagestream.local_registry;

SELECT delete_stream('cl/app'), delete_stream('cl/web');
SELECT revoke_namespace('cl', 'regress_cl_alice'), revoke_namespace('cl', 'regress_cl_bob'),
	revoke_namespace('cl', '"regress_cl imagestream worker"');
DROP FUNCTION pg_temp.push_as_alice(image_digest);
DROP ROLE regress_cl_alice, regress_cl_bob, "regress_cl imagestream worker";
