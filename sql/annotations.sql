-- set_annotations: streams and spec tags, set and remove, generations, the
-- importer's preferences, Kubernetes' rules and our bounds, rights.
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/test/regress_setup.psql

CREATE ROLE regress_an_viewer;
CREATE ROLE regress_an_editor;
CREATE ROLE regress_an_nobody;
SELECT grant_namespace('an', 'regress_an_viewer', 'view');
SELECT grant_namespace('an', 'regress_an_editor', 'edit');

SELECT create_stream('an/web', annotations => '{"team": "blue"}');
SELECT tag('quay.io/an/web:1', 'an/web:v1', insecure => true);
SELECT tag('quay.io/an/web:2', 'an/web:ref', reference => true);
-- v1 as if imported: not pending
SELECT map_image('an/web:v1', ref_with_digest('quay.io/an/web', content_digest('an v1')));
-- map_image records a status tag, with no spec
SELECT map_image('an/web:pushed', ref_with_digest('quay.io/an/web', content_digest('an pushed')));
SELECT tag, from_kind, pending, annotations FROM image_stream_tags WHERE namespace = 'an' ORDER BY tag;

-- a stream's annotations are metadata: set, merged, removed by null; the
-- generation stays, as in OpenShift
SELECT generation AS gen0 FROM image_streams WHERE namespace = 'an' AND name = 'web' \gset
SELECT set_annotations('an/web', '{"owner": "shop", "team": "green"}');
SELECT annotations, generation = :gen0 AS same_generation FROM image_streams WHERE namespace = 'an';
SELECT set_annotations('an/web', '{"team": null, "missing": null}');
SELECT annotations, generation = :gen0 AS same_generation FROM image_streams WHERE namespace = 'an';
SELECT set_annotations('an/web', '{}');
SELECT annotations FROM image_streams WHERE namespace = 'an';

-- a tag's annotations are its spec's: the stream's generation grows (once
-- per change), the tag's spec generation stays, so it does not become pending
SELECT generation AS gen1 FROM image_streams WHERE namespace = 'an' AND name = 'web' \gset
SELECT spec_generation AS tgen FROM image_stream_tags WHERE namespace = 'an' AND tag = 'v1' \gset
SELECT set_annotations('an/web:v1', '{"importer.image.openshift.io/prefer-arch": "arm64", "note": "x"}');
SELECT tag, annotations, spec_generation = :tgen AS same_tag_generation, pending
FROM image_stream_tags WHERE namespace = 'an' AND tag = 'v1';
SELECT generation - :gen1 AS stream_generation_grew FROM image_streams WHERE namespace = 'an';
-- the same values again change nothing
SELECT set_annotations('an/web:v1', '{"note": "x", "gone": null}');
SELECT generation - :gen1 AS stream_generation_grew FROM image_streams WHERE namespace = 'an';
-- any spec tag, imported or not
SELECT set_annotations('an/web:ref', '{"description": "the reference tag"}');
SELECT tag, annotations FROM image_stream_tags WHERE namespace = 'an' ORDER BY tag;

-- the importer's preferences: a change forgets what the source served last,
-- so that the next import chooses the child of an index again; other keys
-- keep it
UPDATE tag SET source_digest = content_digest('an index')
WHERE namespace = 'an' AND stream = 'web' AND name = 'v1';
SELECT set_annotations('an/web:v1', '{"note": "y"}');
SELECT source_digest IS NOT NULL AS kept FROM tag WHERE namespace = 'an' AND name = 'v1';
SELECT set_annotations('an/web:v1', '{"importer.image.openshift.io/prefer-os": "linux"}');
SELECT source_digest IS NULL AS forgotten FROM tag WHERE namespace = 'an' AND name = 'v1';
UPDATE tag SET source_digest = content_digest('an index')
WHERE namespace = 'an' AND stream = 'web' AND name = 'v1';
SELECT set_annotations('an/web:v1', '{"importer.image.openshift.io/prefer-arch": null}');
SELECT source_digest IS NULL AS forgotten FROM tag WHERE namespace = 'an' AND name = 'v1';
SELECT annotations FROM image_stream_tags WHERE namespace = 'an' AND tag = 'v1';

-- a status tag has no spec to hold annotations (OpenShift: "is not a spec
-- tag"); missing streams and tags, malformed targets
SELECT set_annotations('an/web:pushed', '{"a": "b"}');
SELECT pg_temp.sqlstate($$SELECT set_annotations('an/web:pushed', '{"a": "b"}')$$);
SELECT pg_temp.sqlstate($$SELECT set_annotations('an/web:nope', '{"a": "b"}')$$);
SELECT pg_temp.sqlstate($$SELECT set_annotations('an/nope', '{"a": "b"}')$$);
SELECT pg_temp.sqlstate($$SELECT set_annotations('an/nope:v1', '{"a": "b"}')$$);
SELECT pg_temp.sqlstate($$SELECT set_annotations('an', '{"a": "b"}')$$);
SELECT pg_temp.sqlstate($$SELECT set_annotations('an/Web:v1', '{"a": "b"}')$$);
SELECT pg_temp.sqlstate($$SELECT set_annotations(NULL, '{"a": "b"}')$$);

-- values are strings (or null to remove); the argument an object
SELECT set_annotations('an/web', '{"a": 1}');
SELECT left(input, 40) AS input, pg_temp.sqlstate(format('SELECT set_annotations(%L, %L)', 'an/web:v1', input))
FROM (VALUES ('{"a": 1}'), ('{"a": true}'), ('{"a": {"b": "c"}}'), ('{"a": ["b"]}'),
	('{"ok": "x", "a": 2.5}'), ('[]'), ('"a"'), ('null'), (NULL)) AS v(input);

-- keys are Kubernetes' qualified names
SELECT set_annotations('an/web', '{"-a": "b"}');
SELECT left(input, 40) AS input, octet_length(input) AS len,
	left(pg_temp.sqlstate(format('SELECT set_annotations(%L, jsonb_build_object(%L, %L))', 'an/web', input, 'v')), 40) AS sqlstate
FROM (VALUES (''), ('-a'), ('a-'), ('a b'), ('ä'), ('a/b/c'), ('/a'), ('a/'), ('.a/b'), ('a..b/c'),
	('a_b/c'), ('A.B/C'), ('a.b/c_d.e-f'), ('x' || repeat('a', 61) || 'z'), (repeat('a', 64)),
	(repeat('a', 253) || '/b'), (repeat('a', 254) || '/b'),
	(repeat('a', 63) || '.' || repeat('b', 63) || '.' || repeat('c', 63) || '.' || repeat('d', 61) || '/' || repeat('n', 63)),
	(repeat('k', 100000))) AS v(input);
SELECT count(*) FILTER (WHERE key LIKE 'x%' OR key LIKE 'A.B%' OR key LIKE 'a.b%') AS set_keys
FROM image_streams, jsonb_object_keys(annotations) key WHERE namespace = 'an';

-- bounds: the importer's preferences at most 64 bytes; keys and values at
-- most 256 kB together, counted after the change (removals make room)
SELECT set_annotations('an/web:v1', jsonb_build_object('importer.image.openshift.io/prefer-arch', repeat('a', 65)));
SELECT pg_temp.sqlstate(format('SELECT set_annotations(%L, %L)', 'an/web:v1',
	jsonb_build_object('importer.image.openshift.io/prefer-os', repeat('a', 65))));
SELECT pg_temp.sqlstate(format('SELECT set_annotations(%L, %L)', 'an/web:v1',
	jsonb_build_object('importer.image.openshift.io/prefer-arch', repeat('a', 64))));
SELECT create_stream('an/big');
SELECT set_annotations('an/big', jsonb_build_object('big', repeat('v', 262142)));
SELECT pg_temp.sqlstate(format('SELECT set_annotations(%L, %L)', 'an/big', jsonb_build_object('big', repeat('v', 262141))));
SELECT pg_temp.sqlstate(format('SELECT set_annotations(%L, %L)', 'an/big', jsonb_build_object('more', repeat('v', 200))));
SELECT pg_temp.sqlstate(format('SELECT set_annotations(%L, %L)', 'an/big', jsonb_build_object('big', NULL, 'more', repeat('v', 200))));
SELECT key, octet_length(value) FROM image_streams, jsonb_each_text(annotations)
WHERE namespace = 'an' AND name = 'big';
SELECT delete_stream('an/big');

-- create_stream takes annotations by the same rules (a null is left out)
SELECT create_stream('an/made', annotations => '{"a": "b", "c": null}');
SELECT annotations FROM image_streams WHERE namespace = 'an' AND name = 'made';
SELECT pg_temp.sqlstate($$SELECT create_stream('an/bad', annotations => '{"a": 1}')$$);
SELECT pg_temp.sqlstate($$SELECT create_stream('an/bad', annotations => '{"a b": "c"}')$$);
SELECT pg_temp.sqlstate(format('SELECT create_stream(%L, annotations => %L)', 'an/bad', jsonb_build_object('big', repeat('v', 262144))));

-- rights: edit on the namespace; a viewer and a stranger are refused alike,
-- for streams and tags that exist or not
SET ROLE regress_an_viewer;
SELECT annotations FROM image_stream_tags WHERE namespace = 'an' AND tag = 'ref';
SELECT pg_temp.sqlstate($$SELECT set_annotations('an/web:v1', '{"a": "b"}')$$);
SELECT pg_temp.sqlstate($$SELECT set_annotations('an/web', '{"a": "b"}')$$);
RESET ROLE;
SET ROLE regress_an_nobody;
SELECT pg_temp.sqlstate($$SELECT set_annotations('an/web:v1', '{"a": "b"}')$$);
SELECT pg_temp.sqlstate($$SELECT set_annotations('an/nope:v1', '{"a": "b"}')$$);
SELECT count(*) FROM image_stream_tags WHERE namespace = 'an';
RESET ROLE;
SET ROLE regress_an_editor;
SELECT set_annotations('an/web:v1', '{"by": "editor"}');
SELECT set_annotations('an/web', '{"by": "editor"}');
SELECT pg_temp.sqlstate($$SELECT set_annotations('other/web', '{"a": "b"}')$$);
RESET ROLE;
SELECT a.annotations->>'by' AS stream_by, t.annotations->>'by' AS tag_by
FROM image_streams a JOIN image_stream_tags t ON t.namespace = a.namespace AND t.stream = a.name
WHERE a.namespace = 'an' AND a.name = 'web' AND t.tag = 'v1';

-- tag() replaces the spec and with it its annotations, as oc tag does
SELECT tag('quay.io/an/web:3', 'an/web:v1', insecure => true);
SELECT annotations FROM image_stream_tags WHERE namespace = 'an' AND tag = 'v1';

SELECT delete_stream('an/web');
SELECT delete_stream('an/made');
SELECT revoke_namespace('an', 'regress_an_viewer');
SELECT revoke_namespace('an', 'regress_an_editor');
DROP ROLE regress_an_viewer, regress_an_editor, regress_an_nobody;
