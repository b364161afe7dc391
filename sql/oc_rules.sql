-- oc's safety rules (issue 18): tag() decides a source's kind from its text
-- alone and never falls back to Docker Hub; tagging a source again requests
-- a fresh import; import_image refuses what oc import-image refuses; a copy
-- of a local-registry image moves to the destination's repository.  No
-- network: imports run as dry runs that the registry policy stops.
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/test/regress_setup.psql
-- an error's SQLSTATE, message, detail and hint
CREATE FUNCTION pg_temp.err(sql text, OUT state text, OUT message text, OUT detail text, OUT hint text)
LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE sql;
	state := 'ok';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT,
		detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
END $$;

SELECT map_image('oc/web:latest', ref_with_digest('quay.io/oc/web', content_digest('w1')));
SELECT digest_hex(content_digest('w1')) AS w1 \gset

-- the kind from the text: a registry host as first component is a
-- DockerImage; any other name is a stream of the destination's namespace
-- (or of the one written), which must exist
SELECT tag('quay.io/oc/web:2', 'oc/kinds:host');
SELECT tag('localhost/oc/web:2', 'oc/kinds:localhost');
SELECT tag('registry:5000/web:2', 'oc/kinds:port');
SELECT tag('web:latest', 'oc/kinds:istag');
SELECT tag('oc/web:latest', 'oc/kinds:istag-ns');
SELECT tag('web@' || left(:'w1', 7), 'oc/kinds:isimage');
SELECT tag, from_kind, from_ref FROM image_stream_tags WHERE namespace = 'oc' AND stream = 'kinds' ORDER BY tag;
-- a typo, a Docker Hub short name, another namespace's missing stream, a
-- missing tag: errors (42704), never a pending import from docker.io
SELECT pg_temp.sqlstate($$SELECT tag('webb:latest', 'oc/kinds:typo')$$);
SELECT pg_temp.sqlstate($$SELECT tag('nginx:1.25', 'oc/kinds:nginx')$$);
SELECT pg_temp.sqlstate($$SELECT tag('bitnami/redis:7', 'oc/kinds:redis')$$);
SELECT pg_temp.sqlstate($$SELECT tag('web:nope', 'oc/kinds:nope')$$);
SELECT pg_temp.sqlstate($$SELECT tag('nginx@1234567', 'oc/kinds:id')$$);
-- a name without tag or digest names no tag (22023)
SELECT pg_temp.sqlstate($$SELECT tag('nginx', 'oc/kinds:bare')$$);
SELECT * FROM pg_temp.err($$SELECT tag('nginx:1.25', 'oc/kinds:nginx')$$);
-- saying so explicitly still works
SELECT tag('docker.io/library/nginx:1.25', 'oc/kinds:hub');
SELECT tag('nginx:1.25', 'oc/kinds:hub2', source_kind => 'DockerImage');
SELECT tag, from_kind, from_ref FROM image_stream_tags
WHERE namespace = 'oc' AND stream = 'kinds' AND tag IN ('hub', 'hub2', 'typo', 'nginx', 'redis', 'nope', 'id', 'bare')
ORDER BY tag;

-- a namespace the caller may not view: 42501, with the message of a
-- missing stream, for an existing and a missing one alike
CREATE ROLE regress_oc_editor;
SELECT grant_namespace('oc2', 'regress_oc_editor', 'edit');
SET ROLE regress_oc_editor;
SELECT pg_temp.sqlstate($$SELECT tag('oc/web:latest', 'oc2/app:a')$$);
SELECT pg_temp.sqlstate($$SELECT tag('oc/nosuch:latest', 'oc2/app:a')$$);
SELECT pg_temp.sqlstate($$SELECT tag('oc/web@' || digest_hex(content_digest('w1')), 'oc2/app:a')$$);
SELECT pg_temp.sqlstate($$SELECT tag('oc/nosuch@1234567', 'oc2/app:a')$$);
SELECT pg_temp.sqlstate($$SELECT tag('oc/web:latest', 'oc2/app:a', source_kind => 'ImageStreamTag')$$);
SELECT pg_temp.sqlstate($$SELECT tag('oc/nosuch:latest', 'oc2/app:a', source_kind => 'ImageStreamTag')$$);
RESET ROLE;
SELECT revoke_namespace('oc2', 'regress_oc_editor');
DROP ROLE regress_oc_editor;

-- tagging the same container image again requests a fresh import
-- (OpenShift's generation reset): the stream's generation and the tag's move
-- by one, and the tag is pending
CREATE VIEW pg_temp.gens AS
SELECT s.generation AS stream_gen, t.spec_generation AS spec_gen, t.status_generation AS status_gen,
	t.import_status, t.pending
FROM image_streams s JOIN image_stream_tags t ON t.namespace = s.namespace AND t.stream = s.name
WHERE s.namespace = 'oc' AND s.name = 're';
SET imagestream.allowed_registries = 'registry.invalid';
SELECT tag('quay.io/oc/re:1', 'oc/re:t');
SELECT * FROM pg_temp.gens;
-- (a failed import: the tag is no longer pending)
SELECT tag, status, reason FROM import_image('oc/re:t');
RESET imagestream.allowed_registries;
SELECT * FROM pg_temp.gens;
SELECT tag('quay.io/oc/re:1', 'oc/re:t');
SELECT * FROM pg_temp.gens;
-- with new flags too: one step, not two
SELECT tag('quay.io/oc/re:1', 'oc/re:t', scheduled => true);
SELECT * FROM pg_temp.gens;
-- a reference tag records its event again at the new generation
SELECT untag('oc/re:t');
SELECT tag('quay.io/oc/re:1', 'oc/re:t', reference => true);
SELECT * FROM pg_temp.gens;
SELECT tag('quay.io/oc/re:1', 'oc/re:t', reference => true);
SELECT * FROM pg_temp.gens;
SELECT count(*) AS events FROM history('oc/re:t');

-- import_image: oc import-image's refusals, before any request (the
-- registry policy stops what passes them)
SET imagestream.allowed_registries = 'registry.invalid';
SELECT tag('quay.io/oc/api:1', 'oc/api:1');
SELECT tag('api:1', 'oc/api:alias', alias => true);
SELECT tag('api:alias', 'oc/api:alias2', alias => true);
SELECT map_image('oc/api:pinned-src', ref_with_digest('quay.io/oc/api', content_digest('a1')));
SELECT tag('api:pinned-src', 'oc/api:pinned');
SELECT tag('api:gone', 'oc/api:dangling', alias => true);
-- a stream or tag that does not exist needs confirm (42704, hint)
SELECT (pg_temp.err(q)).* FROM (VALUES
	($$SELECT * FROM import_image('oc/none:1', 'quay.io/oc/api:1')$$),
	($$SELECT * FROM import_image('oc/none:1')$$),
	($$SELECT * FROM import_image('oc/api:2', 'quay.io/oc/api:2', dry_run => true)$$),
	($$SELECT * FROM import_image('oc/api:2')$$),
	($$SELECT * FROM import_image('oc/none', 'quay.io/oc/api', all_tags => true)$$)) v(q);
SELECT tag, status, reason FROM import_image('oc/none:1', 'quay.io/oc/api:1', dry_run => true, confirm => true);
SELECT tag, status, reason FROM import_image('oc/api:2', 'quay.io/oc/api:2', dry_run => true, confirm => true);
-- another source for an existing tag, a pinned tag, an alias whose chain
-- ends at no source: use tag() (55000); an alias never re-points the tag it
-- follows
SELECT (pg_temp.err(q)).* FROM (VALUES
	($$SELECT * FROM import_image('oc/api:1', 'quay.io/oc/other:1', confirm => true)$$),
	($$SELECT * FROM import_image('oc/api:pinned', confirm => true)$$),
	($$SELECT * FROM import_image('oc/api:dangling', 'quay.io/oc/api:1', confirm => true)$$),
	($$SELECT * FROM import_image('oc/api:alias2', 'quay.io/oc/other:1', confirm => true)$$),
	($$SELECT * FROM import_image('oc/api:alias', 'quay.io/oc/other:1')$$)) v(q);
SELECT tag, from_kind, from_ref FROM image_stream_tags WHERE namespace = 'oc' AND stream = 'api' ORDER BY tag;
-- the same source, or none: the tag (through an alias, the tag at the end
-- of its chain) is imported
SELECT tag, status, reason FROM import_image('oc/api:1', 'quay.io/oc/api:1', dry_run => true);
SELECT tag, status, reason FROM import_image('oc/api:alias2', dry_run => true);
SELECT tag, status, reason FROM import_image('oc/api:alias2', 'quay.io/oc/api:1', dry_run => true);
-- all tags of a repository into an existing stream needs confirm (55000)
SELECT * FROM pg_temp.err($$SELECT * FROM import_image('oc/api', 'quay.io/oc/api', all_tags => true)$$);
SELECT tag, status, reason FROM import_image('oc/api', 'quay.io/oc/api', all_tags => true, dry_run => true, confirm => true);
-- all tags of a tag or a digest: 22023, with the repository to use
SELECT * FROM pg_temp.err($$SELECT * FROM import_image('oc/api', 'quay.io/oc/api:1', all_tags => true, confirm => true)$$);
-- a dry run writes nothing, confirmed or not
SELECT count(*) AS streams FROM image_streams WHERE namespace = 'oc' AND name = 'none';
SELECT count(*) AS tags FROM image_stream_tags WHERE namespace = 'oc' AND stream = 'api' AND tag = '2';
RESET imagestream.allowed_registries;

-- a copy of an image on imagestream.local_registry under the source
-- stream's repository moves to the destination stream's (OpenShift's
-- tagsChanged); other pull specs, and reference tags, stay as they are
SET imagestream.local_registry = 'registry.local:5000';
SELECT map_image('oc/src:v1', ref_with_digest('registry.local:5000/oc/src', content_digest('l1')));
SELECT map_image('oc/src:ext', ref_with_digest('quay.io/oc/src', content_digest('l2')));
SELECT map_image('oc/src:other', ref_with_digest('registry.local:5000/oc/elsewhere', content_digest('l3')));
SELECT tag('oc/src:v1', 'oc3/dst:v1');
SELECT tag('oc/src@' || digest_hex(content_digest('l1')), 'oc3/dst:byid');
SELECT tag('oc/src:ext', 'oc3/dst:ext');
SELECT tag('oc/src:other', 'oc3/dst:other');
SELECT tag('oc/src:v1', 'oc3/dst:ref', reference => true);
SELECT tag('src:v1', 'oc/copy:v1');
SELECT namespace, tag, regexp_replace(docker_image_reference::text, '@sha256:.*', '@…') AS docker_image_reference,
	regexp_replace(resolve(namespace || '/' || stream || ':' || tag)::text, '@sha256:.*', '@…') AS resolved
FROM image_stream_tags WHERE (namespace = 'oc3' AND stream = 'dst') OR (namespace = 'oc' AND stream = 'copy')
ORDER BY namespace, tag;
RESET imagestream.local_registry;
-- without the setting, nothing is rewritten
SELECT tag('oc/src:v1', 'oc3/plain:v1');
SELECT docker_image_reference = ref_with_digest('registry.local:5000/oc/src', content_digest('l1'))
FROM image_stream_tags WHERE namespace = 'oc3' AND stream = 'plain';

SELECT delete_stream(n) FROM unnest(ARRAY['oc/web', 'oc/kinds', 'oc/re', 'oc/api', 'oc/src', 'oc/copy',
	'oc3/dst', 'oc3/plain']) n;
SELECT count(*) FROM check_invariants();
