-- Gates (doc/gates.md): an import that would move a gated tag asks its
-- gates first; a candidate they hold back leaves the tag on its image with
-- GateFailed or GatePending, the worker and approve() let it through later.
-- Imports are recorded here as the worker records them (_worker_apply),
-- with what a fetch would have found.  Signatures are in sql/signatures.sql
-- and in the TAP test against the registry.
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/test/regress_setup.psql

CREATE ROLE regress_gates_admin;
CREATE ROLE regress_gates_editor;
CREATE ROLE regress_gates_viewer;
SELECT grant_namespace('gt', 'regress_gates_admin', 'admin');
SELECT grant_namespace('gt', 'regress_gates_editor', 'edit');
SELECT grant_namespace('gt', 'regress_gates_viewer', 'view');

-- Images as a fetch brings them: a manifest and its config (platform,
-- labels), or an index of such images.  pg_temp.image(name) is the
-- manifest's digest, pg_temp.fetched(...) what a fetch found.
CREATE TABLE pg_temp.blobs (name text PRIMARY KEY, digest image_digest, media_type text,
	manifest bytea, config bytea);
CREATE FUNCTION pg_temp.add_image(name text, os text, arch text, variant text DEFAULT NULL,
	labels jsonb DEFAULT NULL) RETURNS void LANGUAGE sql AS $$
	WITH c AS (SELECT convert_to(jsonb_strip_nulls(jsonb_build_object('os', os, 'architecture', arch,
					'variant', variant, 'config', jsonb_build_object('Labels', labels)))::text, 'UTF8') AS config),
	m AS (SELECT c.config, convert_to(jsonb_build_object('schemaVersion', 2,
					'mediaType', 'application/vnd.oci.image.manifest.v1+json',
					'config', jsonb_build_object('mediaType', 'application/vnd.oci.image.config.v1+json',
												 'digest', content_digest(c.config)::text,
												 'size', octet_length(c.config)),
					'layers', jsonb_build_array(jsonb_build_object(
						'mediaType', 'application/vnd.oci.image.layer.v1.tar+gzip',
						'digest', content_digest(convert_to(name, 'UTF8'))::text, 'size', 100)))::text,
					'UTF8') AS manifest FROM c)
	INSERT INTO pg_temp.blobs SELECT name, content_digest(m.manifest),
		'application/vnd.oci.image.manifest.v1+json', m.manifest, m.config FROM m
$$;
CREATE FUNCTION pg_temp.add_index(name text, children text[]) RETURNS void LANGUAGE sql AS $$
	WITH i AS (SELECT convert_to(jsonb_build_object('schemaVersion', 2,
					'mediaType', 'application/vnd.oci.image.index.v1+json',
					'manifests', (SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
						'mediaType', b.media_type, 'digest', b.digest::text, 'size', octet_length(b.manifest),
						'platform', jsonb_build_object('os', c->>'os', 'architecture', c->>'architecture',
													   'variant', c->>'variant'))) ORDER BY k.n)
								  FROM unnest(children) WITH ORDINALITY AS k(child, n)
								  JOIN pg_temp.blobs b ON b.name = k.child,
								  LATERAL (SELECT convert_from(b.config, 'UTF8')::jsonb AS c) x))::text,
					'UTF8') AS manifest)
	INSERT INTO pg_temp.blobs SELECT name, content_digest(i.manifest),
		'application/vnd.oci.image.index.v1+json', i.manifest, NULL FROM i
$$;
GRANT SELECT ON pg_temp.blobs TO PUBLIC;
CREATE FUNCTION pg_temp.image(p_name text) RETURNS image_digest LANGUAGE sql AS $$
	SELECT digest FROM pg_temp.blobs WHERE name = p_name
$$;
-- A fetch that found image p_name: an index with its children (as a
-- PreserveOriginal import), or one image.
CREATE FUNCTION pg_temp.fetched(p_name text) RETURNS _fetched LANGUAGE sql AS $$
	WITH top AS (SELECT * FROM pg_temp.blobs WHERE name = p_name),
	x AS (SELECT b.* FROM pg_temp.blobs b
		  WHERE b.name = p_name
			 OR b.digest::text IN (SELECT m->>'digest' FROM top, jsonb_array_elements(
									  convert_from(top.manifest, 'UTF8')::jsonb->'manifests') m))
	SELECT jsonb_populate_record(NULL::imagestream._fetched, jsonb_build_object(
		'status', 'Success', 'image', top.digest::text, 'source_digest', top.digest::text,
		'digests', (SELECT jsonb_agg(b.digest::text ORDER BY b.name = p_name, b.name) FROM x b),
		'media_types', (SELECT jsonb_agg(b.media_type ORDER BY b.name = p_name, b.name) FROM x b),
		'manifests', (SELECT jsonb_agg('\x' || encode(b.manifest, 'hex') ORDER BY b.name = p_name, b.name) FROM x b),
		'configs', (SELECT jsonb_agg(CASE WHEN b.config IS NOT NULL THEN '\x' || encode(b.config, 'hex') END
									 ORDER BY b.name = p_name, b.name) FROM x b)))
	FROM top
$$;
-- The worker records what it fetched for tag p_tag of gt/app.
CREATE FUNCTION pg_temp.import(p_tag text, p_name text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	t imagestream.tag;
BEGIN
	SELECT * INTO t FROM imagestream.tag WHERE namespace = 'gt' AND stream = 'app' AND name = p_tag;
	PERFORM imagestream._worker_apply(t.id, t.from_ref, pg_temp.fetched(p_name),
		imagestream._worker_stream_generation(t.stream_id));
	RETURN pg_temp.state(p_tag);
END $$;
-- Where a tag is: its image (by name) and its condition.
CREATE FUNCTION pg_temp.state(p_tag text) RETURNS text LANGUAGE sql AS $$
	SELECT coalesce((SELECT b.name FROM pg_temp.blobs b WHERE b.digest = t.image), '(none)')
		|| coalesce(' ' || t.import_reason, '')
	FROM imagestream.tag t WHERE namespace = 'gt' AND stream = 'app' AND name = p_tag
$$;

SELECT pg_temp.add_image('amd', 'linux', 'amd64', labels => '{"tier": "gold", "team": "a"}');
SELECT pg_temp.add_image('amd2', 'linux', 'amd64', labels => '{"tier": "silver"}');
SELECT pg_temp.add_image('arm', 'linux', 'arm64', labels => '{"tier": "gold"}');
SELECT pg_temp.add_image('armv7', 'linux', 'arm', 'v7', labels => '{"tier": "gold"}');
SELECT pg_temp.add_image('late', 'linux', 'amd64', labels => '{"tier": "bronze"}');
SELECT pg_temp.add_index('both', ARRAY['amd', 'arm']);
SELECT pg_temp.add_index('amd-only', ARRAY['amd']);
SELECT pg_temp.add_index('mixed', ARRAY['amd2', 'arm']);

SELECT tag('reg.local:5000/org/app:' || t, 'gt/app:' || t, scheduled => true, import_mode => 'PreserveOriginal')
FROM unnest(ARRAY['p', 'l', 'a', 'v', 'open', 'x']) t;

-- set_gates: rights, what it refuses
SET ROLE regress_gates_viewer;
SELECT pg_temp.sqlstate($$SELECT set_gates('gt/app:p', approval => true)$$);
RESET ROLE;
SELECT pg_temp.sqlstate($$SELECT set_gates('gt/app:nosuch', approval => true)$$);
SELECT map_image('gt/nospec:x', ref_with_digest('reg.local:5000/org/app', content_digest('nospec')));
SELECT pg_temp.sqlstate($$SELECT set_gates('gt/nospec:x', approval => true)$$);
SELECT pg_temp.sqlstate($$SELECT set_gates('gt/app:p', min_age => '-1 hour')$$) LIKE '22023: min_age % is out of range';
SELECT pg_temp.sqlstate($$SELECT set_gates('gt/app:p', min_age => '11 years')$$) LIKE '22023: min_age % is out of range';
SELECT pg_temp.sqlstate($$SELECT set_gates('gt/app:p', platforms => '{}')$$);
SELECT pg_temp.sqlstate($$SELECT set_gates('gt/app:p', platforms => '{linux}')$$);
SELECT pg_temp.sqlstate($$SELECT set_gates('gt/app:p', platforms => '{Linux/AMD64}')$$);
SELECT pg_temp.sqlstate($$SELECT set_gates('gt/app:p', platforms => ARRAY[NULL])$$);
SELECT pg_temp.sqlstate($$SELECT set_gates('gt/app:p', labels => '[]')$$);
SELECT pg_temp.sqlstate($$SELECT set_gates('gt/app:p', labels => '{}')$$);
SELECT pg_temp.sqlstate($$SELECT set_gates('gt/app:p', labels => '{"a": 1}')$$);
SELECT pg_temp.sqlstate($$SELECT set_gates('gt/app:p', signed_by => '{}')$$);
SELECT pg_temp.sqlstate($$SELECT set_gates('gt/app:p', signed_by => '{nokey}')$$);
SELECT pg_temp.sqlstate($$SELECT set_gates('gt/app:p', signed_by => '{nokey,nokey}')$$);
SELECT count(*) FROM tag_gate;

-- platforms: every one offered by the candidate (an index's children)
SET ROLE regress_gates_editor;
SELECT set_gates('gt/app:p', platforms => '{linux/amd64,linux/arm64/v8}');
RESET ROLE;
SELECT pg_temp.import('p', 'amd-only');
SELECT gate, setting, candidate = pg_temp.image('amd-only') AS candidate, passed, detail
FROM gates('gt/app:p');
SELECT event, reason, message = (SELECT import_message FROM tag WHERE namespace = 'gt' AND name = 'p') AS same
FROM changes_since(0) WHERE namespace = 'gt' AND tag = 'p';
-- the same candidate again: nothing more written
SELECT pg_temp.import('p', 'amd-only');
SELECT count(*) FROM changes_since(0) WHERE namespace = 'gt' AND tag = 'p';
SELECT pg_temp.import('p', 'both');
SELECT count(*) AS candidates FROM gate_candidate;
SELECT gate, passed, detail FROM gates('gt/app:p');
-- arm64 without a variant is arm64/v8; another variant is not
SELECT imagestream._platform_offers('linux/arm64', 'linux/arm64/v8'),
	   imagestream._platform_offers('linux/arm64/v8', 'linux/arm64'),
	   imagestream._platform_offers('linux/arm/v7', 'linux/arm/v6'),
	   imagestream._platform_offers('linux/arm/v7', 'linux/arm'),
	   imagestream._platform_offers('windows/amd64', 'linux/amd64');

-- labels: the image's, or every child's
SELECT set_gates('gt/app:l', labels => '{"tier": "gold"}');
SELECT pg_temp.import('l', 'mixed');
SELECT pg_temp.import('l', 'amd2');
SELECT pg_temp.import('l', 'both');
SELECT pg_temp.import('l', 'amd');
SELECT gate, passed FROM gates('gt/app:l');

-- min_age: from when the namespace's imports first offered the digest
-- (another namespace's sighting does not count); the worker lets it
-- through once old enough
SELECT set_gates('gt/app:a', min_age => '1 hour');
INSERT INTO gate_seen (namespace, image, first_seen) VALUES ('other', pg_temp.image('arm'), now() - interval '1 day');
SELECT pg_temp.import('a', 'arm');
SELECT state, gate, message LIKE '% waits for gate min_age (It was first seen at %' AS message,
	recheck_at = (SELECT first_seen FROM gate_seen WHERE namespace = 'gt' AND image = pg_temp.image('arm'))
				 + interval '1 hour' AS recheck_in_an_hour
FROM gate_candidate c JOIN tag t ON t.id = c.tag_id WHERE t.name = 'a';
SELECT imagestream._gates_recheck()
	= (SELECT first_seen FROM gate_seen WHERE namespace = 'gt' AND image = pg_temp.image('arm')) + interval '1 hour'
	AS next_recheck;
SELECT pg_temp.state('a');
UPDATE gate_seen SET first_seen = first_seen - interval '2 hours' WHERE namespace = 'gt' AND image = pg_temp.image('arm');
UPDATE gate_candidate SET recheck_at = recheck_at - interval '2 hours';
SELECT imagestream._gates_recheck() IS NULL AS nothing_waits;
SELECT pg_temp.state('a');
SELECT event, image = pg_temp.image('arm') AS arm, via FROM changes_since(0)
WHERE namespace = 'gt' AND tag = 'a' ORDER BY id;

-- approval: waits for an admin; the approver is recorded
SELECT set_gates('gt/app:v', approval => true);
SELECT pg_temp.import('v', 'amd');
SET ROLE regress_gates_editor;
SELECT pg_temp.sqlstate(format('SELECT approve(%L, %L)', 'gt/app:v', pg_temp.image('amd')));
SET ROLE regress_gates_admin;
SELECT pg_temp.sqlstate($$SELECT approve('gt/app:v', 'sha256:nothex')$$);
SELECT pg_temp.sqlstate(format('SELECT approve(%L, %L)', 'gt/app:p', pg_temp.image('amd')));
SELECT approve('gt/app:v', pg_temp.image('amd')::text);
RESET ROLE;
SELECT pg_temp.state('v');
SELECT event, image = pg_temp.image('amd') AS amd, actor, via FROM changes_since(0)
WHERE namespace = 'gt' AND tag = 'v' ORDER BY id;
SELECT gate, passed, detail LIKE 'Approved by regress_gates_admin at %' AS approver FROM gates('gt/app:v');
-- an image approved before it is offered passes at once
SELECT approve('gt/app:v', pg_temp.image('amd2')::text);
SELECT pg_temp.import('v', 'amd2');

-- age and approval together: approved first, then old enough
SELECT set_gates('gt/app:v', min_age => '1 day', approval => true);
SELECT pg_temp.import('v', 'late');
SELECT import_message LIKE pg_temp.image('late')::text
	|| ' waits for gate min_age (It was first seen at %; old enough from %.), approval (It waits for approve() by a namespace admin.)'
FROM tag WHERE namespace = 'gt' AND name = 'v';
SET ROLE regress_gates_admin;
SELECT approve('gt/app:v', pg_temp.image('late')::text);
RESET ROLE;
SELECT pg_temp.state('v');
SELECT gate, passed, detail LIKE 'Approved by regress_gates_admin at %' AS approver FROM gates('gt/app:v');
UPDATE gate_candidate SET recheck_at = now() - interval '1 second';
UPDATE gate_seen SET first_seen = now() - interval '2 days' WHERE image = pg_temp.image('late');
SELECT imagestream._gates_recheck() IS NULL AS nothing_waits;
SELECT pg_temp.state('v');
SELECT via, actor FROM changes_since(0) WHERE namespace = 'gt' AND tag = 'v' ORDER BY id DESC LIMIT 1;

-- clearing the gates lets the candidate held back through
SELECT set_gates('gt/app:open', approval => true);
SELECT pg_temp.import('open', 'amd');
SELECT set_gates('gt/app:open');
SELECT pg_temp.state('open'), (SELECT count(*) FROM tag_gate g JOIN tag t ON t.id = g.tag_id WHERE t.name = 'open');

-- an explicit move by an editor is a human decision: not gated
SELECT set_gates('gt/app:x', approval => true);
SELECT map_image('gt/app:x', ref_with_digest('reg.local:5000/org/app', pg_temp.image('amd')));
SELECT pg_temp.state('x');

-- an alias of a tag: its own gates hold back the move it would follow
SELECT map_image('gt/app:src', ref_with_digest('reg.local:5000/org/app', pg_temp.image('amd')));
SELECT tag('gt/app:src', 'gt/app:follow', alias => true);
SELECT set_gates('gt/app:follow', platforms => '{linux/arm64}');
SELECT map_image('gt/app:src', ref_with_digest('reg.local:5000/org/app', pg_temp.image('arm')));
SELECT pg_temp.state('follow');
SELECT map_image('gt/app:src', ref_with_digest('reg.local:5000/org/app', pg_temp.image('amd2')));
SELECT pg_temp.state('follow');

-- the signature gate only on a tag that imports an image (S40); the key is
-- sql/signatures.sql's Ed25519 one
SELECT add_trusted_key('gk', $$-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAN1mZ85Q4wCB2E6CJ+rjxKja1Ne4NFRo0byBLswLUsRw=
-----END PUBLIC KEY-----$$);
SELECT pg_temp.sqlstate($$SELECT set_gates('gt/app:follow', signed_by => '{gk}')$$);
-- nor may a tag with one become an alias
SELECT tag('reg.local:5000/org/app:sg', 'gt/app:sg');
SELECT set_gates('gt/app:sg', signed_by => '{gk}');
SELECT pg_temp.sqlstate($$SELECT tag('gt/app:src', 'gt/app:sg', alias => true)$$);
-- nor may a promotion pin it to a stream's image, refused before any move
SELECT pg_temp.sqlstate($$SELECT * FROM promote('[{"tag": "gt/app:sg", "from": "gt/app:x"}]')$$);
SELECT untag('gt/app:sg');
SELECT drop_trusted_key('gk');
-- a source that takes a reference without an image: a gated alias is held back
SELECT tag('reg.local:5000/org/app:ref', 'gt/app:src', reference => true);
SELECT pg_temp.state('follow');

-- a candidate is let through only while the last check offered it (S39):
-- after a check that failed, neither its age nor an approval moves the tag
SELECT set_gates('gt/app:open', min_age => '1 hour', approval => true);
SELECT pg_temp.import('open', 'arm');
SELECT imagestream._worker_apply(t.id, t.from_ref,
	jsonb_populate_record(NULL::imagestream._fetched, '{"status": "Failure", "reason": "NotFound", "message": "gone"}'),
	imagestream._worker_stream_generation(t.stream_id))
FROM tag t WHERE namespace = 'gt' AND name = 'open';
UPDATE gate_seen SET first_seen = first_seen - interval '2 hours' WHERE namespace = 'gt' AND image = pg_temp.image('arm');
UPDATE gate_candidate SET recheck_at = now() - interval '1 second';
SELECT approve('gt/app:open', pg_temp.image('arm')::text);
SELECT imagestream._gates_recheck() IS NULL AS nothing_waits_on_time;
SELECT pg_temp.state('open');
-- (and waits with no time, not taken up again every second)
SELECT c.recheck_at IS NULL AS no_time FROM gate_candidate c JOIN tag t ON t.id = c.tag_id WHERE t.name = 'open';
-- a check offers it again: the gates let it through
SELECT pg_temp.import('open', 'arm');

-- a protected tag's import fails with Protected, and drops its candidate (S41)
SELECT pg_temp.import('x', 'amd2');
SELECT count(*) AS candidates FROM gate_candidate c JOIN tag t ON t.id = c.tag_id WHERE t.name = 'x';
SELECT protect('gt', 'app:x');
SELECT pg_temp.import('x', 'arm');
SELECT count(*) AS candidates FROM gate_candidate c JOIN tag t ON t.id = c.tag_id WHERE t.name = 'x';
SELECT unprotect('gt', 'app:x');

-- set-based recording leaves gated tags to the one-by-one rules
SELECT count(*) AS alone FROM (
	SELECT imagestream._worker_apply_many(s.id, array_agg(t.id ORDER BY t.id), array_agg(t.from_ref ORDER BY t.id),
		array_agg(pg_temp.fetched('arm') ORDER BY t.id), imagestream._worker_stream_generation(s.id))
	FROM stream s JOIN tag t ON t.stream_id = s.id AND t.from_kind = 'DockerImage'
	WHERE s.namespace = 'gt' AND s.name = 'app' GROUP BY s.id) x;

-- gates() needs view on the namespace
CREATE ROLE regress_gates_other;
SET ROLE regress_gates_other;
SELECT pg_temp.sqlstate($$SELECT * FROM gates('gt/app:p')$$);
SELECT pg_temp.sqlstate($$SELECT * FROM imagestream.gate_candidate$$);
RESET ROLE;
SELECT untag('gt/app:a');
SELECT count(*) FROM gate_candidate c WHERE NOT EXISTS (SELECT 1 FROM tag t WHERE t.id = c.tag_id);
SELECT * FROM check_invariants();
