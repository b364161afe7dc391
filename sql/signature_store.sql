-- The signatures a fetch found, into image_signature (doc/import.md,
-- "Signatures"): kept by _import_fetched for the digest the source served,
-- each distinct (payload, signature) once, at most 16 an image; a Legacy
-- import's index gets a row of its digest alone, whose signatures stay when
-- its manifest is catalogued later.  (The lookup itself: test/t/048.)
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/test/regress_setup.psql

-- the key of a pair: no two pairs share the bytes it hashes
SELECT _signature_id('\x61'::bytea, 'YmM=') = sha256('\x6100'::bytea || convert_to('YmM=', 'UTF8')) AS id_of,
	_signature_id('\x61'::bytea, 'YmM=') <> _signature_id('\x6100'::bytea, 'YmM=') AS not_shifted,
	_signature_id(NULL, 'x') IS NULL AS strict;

-- an image manifest and an index of it, as a Legacy import of the index
-- fetches them: the child catalogued, the index not (its digest is the
-- source digest the signatures are of)
SELECT convert_to('{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:' || digest_hex(content_digest('config-s')) || '","size":2},"layers":[]}', 'UTF8') AS img \gset
SELECT convert_to('{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"' || content_digest(:'img')::text || '","size":' || octet_length(:'img') || ',"platform":{"os":"linux","architecture":"amd64"}}]}', 'UTF8') AS idx \gset
CREATE TABLE pg_temp.m AS SELECT :'img'::bytea AS img, :'idx'::bytea AS idx;
CREATE FUNCTION pg_temp.fetched(payloads bytea[], sigs text[], err text) RETURNS _fetched LANGUAGE sql AS $$
	SELECT ROW('Success', NULL, NULL, NULL, content_digest(m.img), content_digest(m.idx),
			   ARRAY[content_digest(m.img)], ARRAY['application/vnd.oci.image.manifest.v1+json'],
			   ARRAY[m.img], ARRAY[NULL::bytea], payloads, sigs, err)::_fetched
	FROM pg_temp.m
$$;
CREATE FUNCTION pg_temp.kept() RETURNS TABLE(image text, payload text, signature text) LANGUAGE sql AS $$
	SELECT CASE s.image WHEN content_digest(m.idx) THEN 'index' WHEN content_digest(m.img) THEN 'image' END,
		convert_from(s.payload, 'UTF8'), s.signature
	FROM image_signature s, pg_temp.m ORDER BY 1, 2, 3
$$;

-- a dry run writes nothing; none looked up keeps nothing
SELECT status FROM _import_fetched(pg_temp.fetched('{p1}', '{c2lnMQ==}', NULL),
	'reg.local/org/app:1'::image_ref, false);
SELECT count(*) FROM image_signature;
SELECT status FROM _import_fetched(pg_temp.fetched(NULL, NULL, NULL), 'reg.local/org/app:1'::image_ref, true);
SELECT (SELECT count(*) FROM image_signature) AS signatures,
	(SELECT count(*) FROM image WHERE digest = content_digest(:'img')) AS image_rows,
	(SELECT count(*) FROM image WHERE digest = content_digest(:'idx')) AS index_rows;

-- two pairs, one of them twice, and an error besides: two rows, for the index
SELECT status FROM _import_fetched(pg_temp.fetched('{p1,p2,p1}', '{c2lnMQ==,c2lnMg==,c2lnMQ==}',
	'The signature manifest x of org/app is refused: ...'), 'reg.local/org/app:1'::image_ref, true);
SELECT * FROM pg_temp.kept();
-- the index has a row of its digest alone, first seen now
SELECT media_type, manifest IS NULL AS digest_only, docker_image_reference
FROM image WHERE digest = content_digest(:'idx');
-- found again, and with a new one: one row more
SELECT status FROM _import_fetched(pg_temp.fetched('{p1,p3}', '{c2lnMQ==,c2lnMw==}', NULL),
	'reg.local/org/app:1'::image_ref, true);
SELECT * FROM pg_temp.kept();

-- the index catalogued later (a PreserveOriginal import of it): its
-- signatures and when it was first seen stay
SELECT _catalogue_manifest(content_digest(m.idx), NULL, m.idx, ref_with_digest('reg.local/org/app', content_digest(m.idx)))
FROM pg_temp.m;
SELECT media_type, (SELECT count(*) FROM image_child c WHERE c.image = i.digest) AS children
FROM image i WHERE digest = content_digest(:'idx');
SELECT * FROM pg_temp.kept();

-- at most 16 an image: those kept first stay, whatever a registry sends next
SELECT _keep_signatures(content_digest(:'img'), array_agg(convert_to('payload ' || n, 'UTF8') ORDER BY n),
	array_agg(encode(convert_to('signature ' || n, 'UTF8'), 'base64') ORDER BY n))
FROM generate_series(1, 300) n;
SELECT count(*) AS kept, min(convert_from(payload, 'UTF8')) AS first, count(*) FILTER (WHERE convert_from(payload, 'UTF8') = 'payload 16') AS the_16th,
	count(*) FILTER (WHERE convert_from(payload, 'UTF8') = 'payload 17') AS the_17th
FROM image_signature WHERE image = content_digest(:'img');
SELECT _keep_signatures(content_digest(:'img'), '{another}', '{c2ln}');
SELECT count(*) AS kept FROM image_signature WHERE image = content_digest(:'img');
-- arrays of different lengths, NULLs: the pairs that are whole
SELECT _keep_signatures(content_digest(:'idx'), ARRAY['p9'::bytea, NULL, 'p8'], '{c2lnOQ==,c2lnMA==}');
SELECT * FROM pg_temp.kept() WHERE image = 'index';
-- an image the catalogue does not have: refused
SELECT pg_temp.sqlstate($$SELECT _keep_signatures(content_digest('nowhere'), '{p}', '{c2ln}')$$);

-- the image goes (prune), its signatures with it
DELETE FROM image WHERE digest IN (content_digest(:'img'), content_digest(:'idx'));
SELECT count(*) FROM image_signature;
