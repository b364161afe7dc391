-- oc tag: every source form and flag, generations, pending, untag.
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/test/regress_setup.psql

CREATE VIEW pg_temp.tags AS
SELECT stream, tag, from_kind, from_ref, reference, scheduled, insecure, import_mode, reference_policy,
	spec_generation AS spec_gen, status_generation AS status_gen, pending, history_length AS hist,
	digest_hex(image) AS image
FROM image_stream_tags WHERE namespace = 'tg' ORDER BY stream, tag;

-- DockerImage: the spec is recorded, the tag is pending; the stream is created
SELECT tag('quay.io/org/app:1.0', 'tg/app:v1');
SELECT generation FROM image_streams WHERE namespace = 'tg';
SELECT * FROM pg_temp.tags;
-- Docker Hub images are named with their registry, or with the kind given
SELECT tag('docker.io/library/nginx:1.25', 'tg/app:nginx');
SELECT tag('bitnami/redis:7', 'tg/app:redis', source_kind => 'DockerImage', scheduled => true,
	insecure => true, reference_policy => 'Local', import_mode => 'PreserveOriginal');
SELECT * FROM pg_temp.tags;

-- the same source again requests a fresh import (OpenShift's generation
-- reset): both generations move, by one, with or without new flags; so does
-- a new source
SELECT tag('quay.io/org/app:1.0', 'tg/app:v1');
SELECT generation, (SELECT spec_gen FROM pg_temp.tags WHERE tag = 'v1') FROM image_streams WHERE namespace = 'tg';
SELECT tag('quay.io/org/app:1.1', 'tg/app:v1');
SELECT generation FROM image_streams WHERE namespace = 'tg';
SELECT tag('quay.io/org/app:1.1', 'tg/app:v1', scheduled => true);
SELECT generation, (SELECT spec_gen FROM pg_temp.tags WHERE tag = 'v1') FROM image_streams WHERE namespace = 'tg';

-- reference: an event with the pull spec alone, at once, never imported
SELECT tag('quay.io/org/app:2.0', 'tg/app:ref', reference => true);
SELECT * FROM pg_temp.tags WHERE tag = 'ref';
SELECT position, docker_image_reference, image, generation FROM history('tg/app:ref');
SELECT resolve('tg/app:ref');

-- images pushed into the stream for the following cases
SELECT map_image('tg/app:latest', ref_with_digest('quay.io/org/app', content_digest('one')));
SELECT map_image('tg/app:latest', ref_with_digest('quay.io/org/app', content_digest('two')));

-- ImageStreamTag without alias: a copy, pinned to the digest
SELECT tag('app:latest', 'tg/app:copy');
SELECT * FROM pg_temp.tags WHERE tag = 'copy';
SELECT tag('tg/app:latest', 'tg/other:copy');
SELECT from_kind, from_ref, digest_hex(image) FROM image_stream_tags WHERE namespace = 'tg' AND stream = 'other';
-- a source tag without image cannot be copied (P0002); a missing tag or
-- stream is 42704
SELECT tag('app:v1', 'tg/app:nothing');
SELECT pg_temp.sqlstate($$SELECT tag('app:v1', 'tg/app:nothing')$$);
SELECT pg_temp.sqlstate($$SELECT tag('app:nope', 'tg/app:nothing', source_kind => 'ImageStreamTag')$$);
SELECT pg_temp.sqlstate($$SELECT tag('nostream:x', 'tg/app:nothing', source_kind => 'ImageStreamTag')$$);
-- a source tag with a reference-only event is copied as that pull spec
SELECT tag('app:ref', 'tg/app:refcopy');
SELECT from_kind, from_ref, pending FROM pg_temp.tags WHERE tag = 'refcopy';

-- ImageStreamImage: a digest or a unique prefix of an image of the stream
SELECT digest_hex(content_digest('one')) AS one, digest_hex(content_digest('two')) AS two \gset
SELECT tag('app@' || left(:'one', 7), 'tg/app:pinned');
SELECT * FROM pg_temp.tags WHERE tag = 'pinned';
SELECT tag('app@sha256:' || :'two', 'tg/app:pinned2', source_kind => 'ImageStreamImage');
SELECT from_ref = 'tg/app@sha256:' || :'two' FROM pg_temp.tags WHERE tag = 'pinned2';
SELECT pg_temp.sqlstate($$SELECT tag('app@1234567', 'tg/app:x')$$);
SELECT pg_temp.sqlstate($$SELECT tag('app@12345', 'tg/app:x')$$);
SELECT pg_temp.sqlstate($$SELECT tag('app@sha256:1234567', 'tg/app:x', source_kind => 'ImageStreamImage')$$);
-- an ambiguous prefix: two images whose digests share their first 7 digits
SELECT map_image('tg/amb:a', ('quay.io/org/amb@sha256:1234567' || repeat('a', 57))::image_ref);
SELECT map_image('tg/amb:a', ('quay.io/org/amb@sha256:1234567' || repeat('b', 57))::image_ref);
SELECT tag('amb@1234567', 'tg/amb:x');
SELECT pg_temp.sqlstate($$SELECT tag('amb@1234567', 'tg/amb:x', source_kind => 'ImageStreamImage')$$);
SELECT pg_temp.sqlstate($$SELECT tag('amb@1234567a', 'tg/amb:x')$$);

-- flags that only container images may have
SELECT pg_temp.sqlstate($$SELECT tag('app:latest', 'tg/app:x', scheduled => true)$$);
SELECT pg_temp.sqlstate($$SELECT tag('app:latest', 'tg/app:x', insecure => true)$$);
SELECT pg_temp.sqlstate($$SELECT tag('quay.io/a:1', 'tg/app:x', alias => true)$$);
-- malformed sources and destinations
SELECT pg_temp.sqlstate($$SELECT tag('Quay.io/A:1', 'tg/app:x')$$);
SELECT pg_temp.sqlstate($$SELECT tag('quay.io/a:1', 'tg/app:-x')$$);
SELECT pg_temp.sqlstate($$SELECT tag('quay.io/a:1', 'tg:x')$$);
SELECT pg_temp.sqlstate($$SELECT tag(NULL, 'tg/app:x')$$);
SELECT count(*) FROM pg_temp.tags WHERE tag = 'x';

-- the destination defaults to :latest and may be another namespace
SELECT tag('quay.io/org/app:3', 'tg2/app');
SELECT tag, from_ref FROM image_stream_tags WHERE namespace = 'tg2';
-- a source in another namespace
SELECT tag('tg/app:latest', 'tg2/app:copy');
SELECT from_kind, from_ref FROM image_stream_tags WHERE namespace = 'tg2' AND tag = 'copy';

-- untag removes spec and status, moves the generation, logs tag_deleted
SELECT generation AS gen_before FROM image_streams WHERE namespace = 'tg' AND name = 'app' \gset
SELECT max(id) AS before FROM change \gset
SELECT untag('tg/app:copy');
SELECT generation - :gen_before AS generation_moved FROM image_streams WHERE namespace = 'tg' AND name = 'app';
SELECT event, tag, digest_hex(previous_image) = :'two' AS previous FROM change WHERE id > :before;
SELECT count(*) FROM pg_temp.tags WHERE stream = 'app' AND tag = 'copy';
SELECT pg_temp.sqlstate($$SELECT untag('tg/app:copy')$$);
SELECT pg_temp.sqlstate($$SELECT untag('tg/none:copy')$$);
-- a status-only tag is untagged without moving the generation
SELECT generation AS gen_before FROM image_streams WHERE namespace = 'tg' AND name = 'amb' \gset
SELECT untag('tg/amb:a');
SELECT generation = :gen_before FROM image_streams WHERE namespace = 'tg' AND name = 'amb';
