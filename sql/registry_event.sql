-- registry_event without a registry: the pushes each of the five formats
-- announces (a sample of each in test/registry_events/), the refusals of
-- bad payloads, the tags and scheduled repositories a push marks, and who
-- may call it.  test/t/042_registry_event.pl runs it end to end.
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/test/regress_setup.psql
SELECT set_config('regress.registry_events', :'abs_srcdir' || '/test/registry_events/', false) IS NOT NULL AS ok;
CREATE FUNCTION pg_temp.sample(name text) RETURNS jsonb LANGUAGE sql AS $$
	SELECT pg_read_file(current_setting('regress.registry_events') || name || '.json')::jsonb
$$;
-- the pushes of a payload, one line each
CREATE FUNCTION pg_temp.pushes(payload jsonb) RETURNS SETOF text LANGUAGE sql AS $$
	SELECT concat_ws(' ', repository, coalesce(tag, '-'), coalesce(digest::text, '-'))
	FROM imagestream._registry_pushes(payload)
$$;
-- the SQLSTATE, message and detail of a refused payload
CREATE FUNCTION pg_temp.refusal(payload jsonb) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	d text;
BEGIN
	PERFORM imagestream._registry_pushes(payload);
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS d = PG_EXCEPTION_DETAIL;
	RETURN SQLSTATE || ': ' || SQLERRM || ' | ' || d;
END $$;

-- The samples.  Distribution: a manifest pushed by digest (no tag, on the
-- registry request.host), a blob (skipped) and a pull (ignored).
SELECT pg_temp.pushes(pg_temp.sample('distribution'));
-- GitLab's registry: the same envelope; a layer, then the tagged manifest
SELECT pg_temp.pushes(pg_temp.sample('gitlab'));
-- Harbor: PUSH_ARTIFACT, the host of resource_url, repo_full_name
SELECT pg_temp.pushes(pg_temp.sample('harbor'));
-- Quay: docker_url and each of updated_tags
SELECT pg_temp.pushes(pg_temp.sample('quay'));
-- Docker Hub: repo_name on docker.io
SELECT pg_temp.pushes(pg_temp.sample('dockerhub'));

-- Variants: several events; the host of target.url when request.host is
-- missing; Docker Hub's names normalised (index.docker.io, library/)
SELECT pg_temp.pushes('{"events": [
	{"action": "push", "target": {"repository": "org/app", "tag": "v1",
		"digest": "sha256:fea8895f450959fa676bcc1df0611ea93823a735a01205fd8622846041d0c7cf",
		"mediaType": "application/vnd.oci.image.index.v1+json"}, "request": {"host": "localhost:5000"}},
	{"action": "push", "target": {"repository": "org/app",
		"digest": "sha256:c3b3692957d439ac1928219a83fac91e7bf96c153725526874673ae1f2023f8d",
		"mediaType": "application/vnd.oci.image.manifest.v1+json",
		"url": "https://user@registry.example.com:8443/v2/org/app/manifests/sha256:c3b3692957d439ac1928219a83fac91e7bf96c153725526874673ae1f2023f8d"}},
	{"action": "push", "target": {"repository": "nginx", "tag": "1.27"}, "request": {"host": "index.docker.io"}},
	{"action": "mount", "target": {"repository": "org/app"}},
	{"action": "delete", "target": {"repository": "org/app", "digest": "sha256:c3b3692957d439ac1928219a83fac91e7bf96c153725526874673ae1f2023f8d5"}}]}');
SELECT pg_temp.pushes('{"push_data": {"tag": "1.27"}, "repository": {"repo_name": "library/nginx"}}');
-- Harbor by digest (an empty tag); Quay's first form, tags as keys
SELECT pg_temp.pushes('{"type": "PUSH_ARTIFACT", "event_data": {"repository": {"repo_full_name": "proj/app"},
	"resources": [{"tag": "", "digest": "sha256:8a9e9863dbb6e10edb5adfe917c00da84e1700fa76e7ed02476aa6e6fb8ee0d8",
				   "resource_url": "harbor.example.com/proj/app@sha256:8a9e9863dbb6e10edb5adfe917c00da84e1700fa76e7ed02476aa6e6fb8ee0d8"}]}}');
SELECT pg_temp.pushes('{"docker_url": "quay.io/devtable/ubuntu", "updated_tags": {"latest": "b750fe79269d", "14.04": "b750fe79269d"}}');
-- what is no push gives nothing: Harbor's other events, Quay's build
-- notifications (no updated_tags), an empty envelope
SELECT count(*) FROM pg_temp.pushes('{"type": "PULL_ARTIFACT", "event_data": {}}');
SELECT count(*) FROM pg_temp.pushes('{"type": "SCANNING_COMPLETED"}');
SELECT count(*) FROM pg_temp.pushes('{"build_id": "296ec063", "docker_url": "quay.io/dgangaia/test", "docker_tags": ["latest"]}');
SELECT count(*) FROM pg_temp.pushes('{"events": []}');

-- Refused (22023), naming what is missing or wrong
SELECT pg_temp.refusal(NULL);
SELECT pg_temp.refusal('[]');
SELECT pg_temp.refusal('"push"');
SELECT pg_temp.refusal('{}');
SELECT pg_temp.refusal('{"events": {}}');
SELECT pg_temp.refusal('{"events": [1]}');
SELECT pg_temp.refusal('{"events": [{}]}');
SELECT pg_temp.refusal('{"events": [{"action": 1}]}');
SELECT pg_temp.refusal('{"events": [{"action": "pull"}, {"action": "push"}]}');
SELECT pg_temp.refusal('{"events": [{"action": "push", "target": {"tag": "v1"}}]}');
SELECT pg_temp.refusal('{"events": [{"action": "push", "target": {"repository": "org/app", "tag": "v1"}}]}');
SELECT pg_temp.refusal('{"events": [{"action": "push", "target": {"repository": "org/app", "url": "/v2/org/app/manifests/v1", "tag": "v1"}}]}');
SELECT pg_temp.refusal('{"events": [{"action": "push", "target": {"repository": "org/app", "mediaType": "application/vnd.oci.image.manifest.v1+json"}, "request": {"host": "r.example.com"}}]}');
SELECT pg_temp.refusal('{"events": [{"action": "push", "target": {"repository": "Org/App", "tag": "v1"}, "request": {"host": "r.example.com"}}]}');
SELECT pg_temp.refusal('{"events": [{"action": "push", "target": {"repository": "org/app", "tag": "-v1"}, "request": {"host": "r.example.com"}}]}');
SELECT pg_temp.refusal('{"events": [{"action": "push", "target": {"repository": "org/app", "tag": "v1", "digest": "sha256:xyz"}, "request": {"host": "r.example.com"}}]}');
SELECT pg_temp.refusal('{"events": [{"action": "push", "target": {"repository": "org/app:v2", "tag": "v1"}, "request": {"host": "r.example.com"}}]}');
SELECT pg_temp.refusal('{"events": [{"action": "push", "target": {"repository": "org/app", "tag": "v1"}, "request": {"host": "registry"}}]}');
SELECT pg_temp.refusal('{"event_data": {}}');
SELECT pg_temp.refusal('{"type": "PUSH_ARTIFACT", "event_data": {"resources": []}}');
SELECT pg_temp.refusal('{"type": "PUSH_ARTIFACT", "event_data": {"repository": {"repo_full_name": "p/a"}}}');
SELECT pg_temp.refusal('{"type": "PUSH_ARTIFACT", "event_data": {"repository": {"repo_full_name": "p/a"}, "resources": [{"tag": "v1"}]}}');
SELECT pg_temp.refusal('{"type": "PUSH_ARTIFACT", "event_data": {"repository": {"repo_full_name": "p/a"}, "resources": [{"resource_url": "h.example.com/p/a"}]}}');
SELECT pg_temp.refusal('{"docker_url": 5, "updated_tags": []}');
SELECT pg_temp.refusal('{"docker_url": "quay.io/o/r", "updated_tags": "latest"}');
SELECT pg_temp.refusal('{"docker_url": "quay.io/o/r", "updated_tags": [1]}');
SELECT pg_temp.refusal('{"push_data": {}, "repository": {"repo_name": "o/r"}}');
SELECT pg_temp.refusal('{"push_data": {"tag": "v1"}, "repository": {}}');

-- What a push marks.  Tags whose source is the pushed reference, in any
-- namespace; a tag pinned to the pushed digest until it imported it; not
-- a reference tag, nor a tag of another kind.
SELECT tag('localhost:1/org/app:v1', 'ev/app:v1');
SELECT tag('localhost:1/org/app:v1', 'evx/copy:v1');
SELECT tag('localhost:1/org/app:v2', 'ev/app:v2');
SELECT tag('localhost:1/org/app@sha256:fea8895f450959fa676bcc1df0611ea93823a735a01205fd8622846041d0c7cf', 'ev/app:pinned');
SELECT tag('localhost:1/org/app:v1', 'ev/app:ref', reference => true);
SELECT tag('ev/app:v1', 'ev/app:alias', alias => true);
SELECT tag('nginx:ev-1', 'ev/web:nginx', source_kind => 'DockerImage');
-- a stream that imports all tags of the repository, scheduled
SELECT create_stream('ev/all');
SELECT set_repository('ev/all', 'localhost:1/org/app', scheduled => true);
CREATE FUNCTION pg_temp.requested() RETURNS text LANGUAGE sql AS $$
	SELECT coalesce(string_agg(namespace || '/' || stream || ':' || name, ' ' ORDER BY namespace, stream, name), 'none')
	FROM imagestream.tag WHERE import_requested_at IS NOT NULL AND namespace IN ('ev', 'evx')
$$;
-- the repositories marked to be listed
CREATE FUNCTION pg_temp.listings() RETURNS text LANGUAGE sql AS $$
	SELECT coalesce(string_agg(s.namespace || '/' || s.name, ' ' ORDER BY s.namespace, s.name), 'none')
	FROM imagestream.stream_repository r JOIN imagestream.stream s ON s.id = r.stream_id
	WHERE r.requested_at IS NOT NULL
$$;
CREATE FUNCTION pg_temp.push(repository text, tag text, digest text DEFAULT NULL) RETURNS jsonb LANGUAGE sql AS $$
	SELECT jsonb_build_object('events', jsonb_build_array(jsonb_build_object('action', 'push',
		'target', jsonb_strip_nulls(jsonb_build_object('repository', repository, 'tag', tag, 'digest', digest,
			'mediaType', 'application/vnd.oci.image.manifest.v1+json')),
		'request', jsonb_build_object('host', 'localhost:1'))))
$$;
SELECT pg_temp.requested();
-- a tag push: the two tags of v1, and the scheduled repository, whose
-- stream has no v1 yet, marked for the worker to list (the call lists
-- nothing itself: no failure of localhost, a blocked network, is recorded)
SELECT registry_event(pg_temp.push('org/app', 'v1'));
SELECT pg_temp.requested(), pg_temp.listings();
SELECT count(*) FROM change WHERE event = 'import_failed' AND namespace = 'ev';
-- a listing answers the mark, failed or not
SELECT _repository_listed(s.id, 'localhost:1/org/app', 'Forbidden', 'blocked') FROM stream s
WHERE s.namespace = 'ev' AND s.name = 'all';
SELECT pg_temp.listings();
UPDATE tag SET import_requested_at = NULL WHERE namespace IN ('ev', 'evx');
-- once the stream has the tag, it follows it: the tag is marked, the
-- repository not listed again (it would add nothing)
SELECT tag('localhost:1/org/app:v1', 'ev/all:v1');
UPDATE tag SET import_requested_at = NULL WHERE namespace IN ('ev', 'evx');
SELECT registry_event(pg_temp.push('org/app', 'v1'));
SELECT pg_temp.requested(), pg_temp.listings();
UPDATE tag SET import_requested_at = NULL WHERE namespace IN ('ev', 'evx');
-- a push by digest: the pinned tag, no repository (no tag to list)
SELECT registry_event(pg_temp.push('org/app', NULL, 'sha256:fea8895f450959fa676bcc1df0611ea93823a735a01205fd8622846041d0c7cf'));
SELECT pg_temp.requested();
UPDATE tag SET import_requested_at = NULL WHERE namespace IN ('ev', 'evx');
-- a pinned tag that imported its digest cannot move: not marked
UPDATE tag SET source_digest = 'sha256:fea8895f450959fa676bcc1df0611ea93823a735a01205fd8622846041d0c7cf'
WHERE name = 'pinned';
SELECT registry_event(pg_temp.push('org/app', NULL, 'sha256:fea8895f450959fa676bcc1df0611ea93823a735a01205fd8622846041d0c7cf'));
SELECT pg_temp.requested();
UPDATE tag SET source_digest = NULL WHERE name = 'pinned';
-- normalised names: Docker Hub's library/nginx is the tag's nginx
SELECT registry_event('{"push_data": {"tag": "ev-1"}, "repository": {"repo_name": "library/nginx"}}');
SELECT pg_temp.requested();
UPDATE tag SET import_requested_at = NULL WHERE namespace IN ('ev', 'evx');
-- nothing follows: 0; pulls and other actions: 0
SELECT registry_event(pg_temp.push('org/other', 'v1'));
SELECT registry_event(pg_temp.sample('distribution'));
SELECT registry_event('{"type": "PULL_ARTIFACT"}');
SELECT pg_temp.requested();
-- the lookup goes through the partial index on the sources
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM tag t
WHERE t.has_spec AND t.from_kind = 'DockerImage' AND t.from_ref = 'localhost:1/org/app:v1';
RESET enable_seqscan;

-- Who may call it: not PUBLIC; a role a DBA grants it to, with no right on
-- any namespace, marks across namespaces.  Its body is no one's to call.
SELECT has_function_privilege('public', 'registry_event(jsonb)', 'EXECUTE') AS public_may;
CREATE ROLE regress_ev_hook;
CREATE ROLE regress_ev_stranger;
GRANT EXECUTE ON FUNCTION registry_event(jsonb) TO regress_ev_hook;
SET ROLE regress_ev_stranger;
SELECT pg_temp.sqlstate($$SELECT imagestream.registry_event('{"events": []}')$$);
SET ROLE regress_ev_hook;
-- (ev/app:v2, and the repository of ev/all, which has no v2)
SELECT registry_event(pg_temp.push('org/app', 'v2'));
SELECT pg_temp.sqlstate($$SELECT imagestream._api_registry_event('{"events": []}')$$);
-- a bad payload's error names the payload's fields only
SELECT pg_temp.sqlstate($$SELECT imagestream.registry_event('{"events": [{"action": "push"}]}')$$);
RESET ROLE;
SELECT pg_temp.requested();
UPDATE tag SET import_requested_at = NULL WHERE namespace IN ('ev', 'evx');
REVOKE EXECUTE ON FUNCTION registry_event(jsonb) FROM regress_ev_hook;
DROP ROLE regress_ev_hook;
DROP ROLE regress_ev_stranger;
SELECT set_repository('ev/all', NULL);
