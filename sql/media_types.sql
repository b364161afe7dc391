-- The manifest media types (src/manifest.c) as map_image catalogues them:
-- each of the four, given by the caller, declared, or implied by an OCI
-- manifest's fields; which are indexes; what is refused.
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/test/regress_setup.psql
\i :abs_srcdir/test/regress_refusal.psql

-- an image manifest and an index, without a mediaType field
SELECT '{"schemaVersion":2,"config":{"digest":"' || content_digest('mt-config')::text || '","size":1},"layers":[]}' AS image \gset
SELECT '{"schemaVersion":2,"manifests":[{"digest":"' || content_digest(convert_to(:'image', 'UTF8'))::text || '","size":1,"platform":{"os":"linux","architecture":"amd64"}}]}' AS idx \gset
CREATE FUNCTION pg_temp.map(tag text, body text, media_type text) RETURNS text LANGUAGE sql AS $$
	SELECT pg_temp.refusal(format('SELECT map_image(%L, %L, manifest => %L, media_type => %L)',
		'mt/app:' || tag, ref_with_digest('quay.io/org/mt', content_digest(convert_to(body, 'UTF8'))),
		convert_to(body, 'UTF8'), media_type))
$$;

-- given, declared (the given one wins; an empty one is none), implied
SELECT tag, pg_temp.map(tag, body, given) AS map_image
FROM (VALUES
	('oci', :'image', 'application/vnd.oci.image.manifest.v1+json'),
	('docker', replace(:'image', '"layers"', '"x":1,"layers"'), 'application/vnd.docker.distribution.manifest.v2+json'),
	('oci-index', :'idx', 'application/vnd.oci.image.index.v1+json'),
	('docker-list', replace(:'idx', '"manifests"', '"x":1,"manifests"'), 'application/vnd.docker.distribution.manifest.list.v2+json'),
	('declared', replace(:'image', '{"schemaVersion":2,', '{"schemaVersion":2,"x":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",'), ''),
	('given-wins', replace(:'idx', '{"schemaVersion":2,', '{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json",'), 'application/vnd.oci.image.index.v1+json'),
	('implied-image', replace(:'image', '"layers"', '"x":3,"layers"'), NULL),
	('implied-index', replace(:'idx', '"manifests"', '"x":3,"manifests"'), NULL)) AS v(tag, body, given);
SELECT t.tag, i.media_type, (SELECT count(*) FROM image_layer l WHERE l.image = i.digest) AS layers,
	(SELECT count(*) FROM image_child c WHERE c.image = i.digest) AS children
FROM image_stream_tags t JOIN image i ON i.digest = t.image
WHERE t.namespace = 'mt' ORDER BY t.tag;

-- refused: a type that is none of the four (a generic one too: the caller
-- names the type, no server chose it), schema 1 given or declared, none at all
SELECT what, pg_temp.map('bad', body, given) AS map_image
FROM (VALUES ('generic', :'image', 'application/json'),
	('other case', :'image', 'Application/vnd.oci.image.manifest.v1+json'),
	('unknown declared', replace(:'image', '{"schemaVersion":2,', '{"schemaVersion":2,"mediaType":"application/vnd.example+json",'), NULL),
	('schema 1 given', :'image', 'application/vnd.docker.distribution.manifest.v1+prettyjws'),
	('schema 1 declared', replace(:'image', '{"schemaVersion":2,', '{"mediaType":"application/vnd.docker.distribution.manifest.v1+json",'), NULL),
	('schema version 1', replace(:'image', '{"schemaVersion":2,', '{"schemaVersion":1,'), 'application/vnd.oci.image.manifest.v1+json'),
	('none', '{"schemaVersion":2,"layers":[]}', '')) AS v(what, body, given);
SELECT count(*) FROM image_stream_tags WHERE namespace = 'mt' AND tag = 'bad';
