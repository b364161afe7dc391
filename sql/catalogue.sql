-- map_image with manifests: the catalogue of images, layers and index
-- children; image() lookups by digest and prefix; the images view.
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/test/regress_setup.psql

-- an OCI image manifest and a Docker schema 2 manifest (bytes as served)
SELECT convert_to('{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:' || digest_hex(content_digest('config-a')) || '","size":100},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:' || digest_hex(content_digest('layer-1')) || '","size":1000},{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:' || digest_hex(content_digest('layer-2')) || '","size":2000}]}', 'UTF8') AS oci \gset
SELECT convert_to('{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"sha256:' || digest_hex(content_digest('config-b')) || '","size":50},"layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","digest":"sha256:' || digest_hex(content_digest('layer-1')) || '","size":1000}]}', 'UTF8') AS docker \gset
SELECT map_image('cg/app:oci', ref_with_digest('quay.io/org/app', content_digest(:'oci')), manifest => :'oci');
SELECT map_image('cg/app:docker', ref_with_digest('quay.io/org/app', content_digest(:'docker')), manifest => :'docker');
-- an OCI index with amd64 and arm64 children
SELECT convert_to('{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"' || content_digest(:'oci')::text || '","size":' || octet_length(:'oci') || ',"platform":{"os":"linux","architecture":"amd64"}},{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","digest":"' || content_digest(:'docker')::text || '","size":' || octet_length(:'docker') || ',"platform":{"os":"linux","architecture":"arm64","variant":"v8"}}]}', 'UTF8') AS idx \gset
SELECT map_image('cg/app:multi', ref_with_digest('quay.io/org/app', content_digest(:'idx')), manifest => :'idx');

SELECT left(digest_hex(digest), 8) AS digest, media_type, size, cardinality(layers) AS layers,
	cardinality(manifests) AS manifests
FROM images WHERE digest IN (content_digest(:'oci'), content_digest(:'docker'), content_digest(:'idx'))
ORDER BY media_type;
SELECT position, left(digest_hex(image), 8) AS image, platforms FROM history('cg/app:multi');
SELECT manifest = :'idx' AS bytes_kept, content_digest(manifest) = digest AS verifiable
FROM image WHERE digest = content_digest(:'idx');

-- refused: a manifest that does not hash to the digest, schema 1, an
-- unknown media type, broken JSON, a bad descriptor; nothing is recorded
SELECT map_image('cg/app:bad', ref_with_digest('quay.io/org/app', content_digest('x')), manifest => :'oci');
-- (each with the detail that says what is wrong with it)
CREATE FUNCTION pg_temp.refusal(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	detail text;
BEGIN
	EXECUTE sql;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
	RETURN SQLSTATE || ': ' || SQLERRM || ': ' || coalesce(nullif(detail, ''), '(no detail)');
END $$;
SELECT what, pg_temp.refusal(format('SELECT map_image(%L, %L, manifest => %L)', 'cg/app:bad',
	ref_with_digest('quay.io/org/app', content_digest(m)), m)) AS refusal
FROM (VALUES ('schema 1', convert_to('{"schemaVersion":1,"name":"a","tag":"b","fsLayers":[]}', 'UTF8')),
	('unknown media type', convert_to('{"schemaVersion":2,"mediaType":"application/vnd.example+json"}', 'UTF8')),
	('truncated JSON', convert_to('{"schemaVersion":2,', 'UTF8')),
	('not UTF-8', '\xff00'::bytea),
	('not an object', convert_to('[1,2]', 'UTF8')),
	('bad config digest', convert_to('{"schemaVersion":2,"config":{"digest":"sha256:abc"},"layers":[]}', 'UTF8')),
	('index without manifests', convert_to('{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json"}', 'UTF8'))) AS v(what, m);
SELECT map_image('cg/app:bad', ref_with_digest('quay.io/org/app', content_digest(convert_to('{"schemaVersion":1}', 'UTF8'))),
	manifest => convert_to('{"schemaVersion":1}', 'UTF8'));
SELECT count(*) FROM image_stream_tags WHERE namespace = 'cg' AND tag = 'bad';

-- image(): by digest, by prefix, a child of an index held by the stream
SELECT jsonb_pretty(image('cg/app@' || content_digest(:'oci')::text) #- '{image,importedAt}');
SELECT image('cg/app@' || left(digest_hex(content_digest(:'docker')), 7))->'image'->>'mediaType';
SELECT image('cg/app@' || left(digest_hex(content_digest(:'idx')), 12))->'image'->'manifests'->1;
SELECT map_image('cg/kids:multi', ref_with_digest('quay.io/org/kids', content_digest(:'idx')));
SELECT image('cg/kids@' || digest_hex(content_digest(:'oci')))->'image'->>'size';
SELECT pg_temp.sqlstate($$SELECT image('cg/app@1234567')$$);
SELECT pg_temp.sqlstate($$SELECT image('cg/app@123')$$);
SELECT pg_temp.sqlstate($$SELECT image('cg/none@1234567')$$);
SELECT pg_temp.sqlstate($$SELECT image('cg/app')$$);
SELECT map_image('cg/amb:a', ('quay.io/org/amb@sha256:abcdef0' || repeat('1', 57))::image_ref);
SELECT map_image('cg/amb:b', ('quay.io/org/amb@sha256:abcdef0' || repeat('2', 57))::image_ref);
SELECT pg_temp.sqlstate($$SELECT image('cg/amb@abcdef0')$$);
SELECT image('cg/amb@abcdef01')->'image'->>'digest';
