-- The history rules of doc/functions.md (OpenShift AddTagEventToImageStream),
-- case by case, and the failure-condition rules.
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/test/regress_setup.psql

CREATE VIEW pg_temp.hist AS
SELECT position, docker_image_reference AS ref, left(digest_hex(image), 8) AS image, generation
FROM history('hs/app:t');

-- 1. no history: the first event
SELECT map_image('hs/app:t', 'quay.io/org/app:1', content_digest('a'));
SELECT * FROM pg_temp.hist;
-- 2. same pull spec and image, same generation: nothing is written
SELECT max(id) AS before FROM change \gset
SELECT map_image('hs/app:t', 'quay.io/org/app:1', content_digest('a'));
SELECT * FROM pg_temp.hist;
SELECT count(*) AS changes FROM change WHERE id > :before;
-- 3. same pull spec and image, new generation: only the head's generation
SELECT set_lookup_local('hs/app', true);
SELECT map_image('hs/app:t', 'quay.io/org/app:1', content_digest('a'));
SELECT * FROM pg_temp.hist;
SELECT count(*) AS changes FROM change WHERE id > :before;
-- 4. same pull spec, new image: the head is overwritten in place
SELECT map_image('hs/app:t', 'quay.io/org/app:1', content_digest('b'));
SELECT * FROM pg_temp.hist;
-- 5. same image, new pull spec: the head is overwritten in place
SELECT map_image('hs/app:t', 'quay.io/mirror/app:1', content_digest('b'));
SELECT * FROM pg_temp.hist;
-- 6. both new: a new event is prepended
SELECT map_image('hs/app:t', 'quay.io/org/app:2', content_digest('c'));
SELECT * FROM pg_temp.hist;
-- an image that was current before is prepended again, not moved
SELECT map_image('hs/app:t', 'quay.io/org/app:1', content_digest('a'));
SELECT * FROM pg_temp.hist;
SELECT event, left(digest_hex(image), 8) AS image, left(digest_hex(previous_image), 8) AS previous
FROM change WHERE id > :before ORDER BY id;

-- the digest comes from the reference when not given; they must agree
SELECT map_image('hs/app:d', ref_with_digest('quay.io/org/app', content_digest('d')));
SELECT left(digest_hex(image), 8) FROM image_stream_tags WHERE namespace = 'hs' AND tag = 'd';
SELECT pg_temp.sqlstate($$SELECT map_image('hs/app:d', 'quay.io/org/app:1')$$);
SELECT pg_temp.sqlstate($$SELECT map_image('hs/app:d', ref_with_digest('quay.io/org/app', content_digest('d')), content_digest('e'))$$);
SELECT pg_temp.sqlstate($$SELECT map_image('hs/app:d', NULL)$$);
SELECT pg_temp.sqlstate($$SELECT map_image('hs/app:d', 'quay.io/org/app:1', content_digest('d'), media_type => 'x')$$);

-- Failures (the import of issue 4 calls this): the history stays, one
-- ImportSuccess=False condition, with the next generation; an identical
-- one writes nothing; a different one replaces it; a success clears it.
SELECT tag('quay.io/org/app:9', 'hs/app:f');
SELECT id AS f FROM tag WHERE namespace = 'hs' AND name = 'f' \gset
SELECT map_image('hs/app:f', 'quay.io/org/app:9', content_digest('f1'));
CREATE VIEW pg_temp.cond AS
SELECT spec_generation AS spec_gen, status_generation AS status_gen, pending, import_status,
	import_reason, import_message, history_length AS hist, left(digest_hex(image), 8) AS image,
	(SELECT generation FROM image_streams WHERE namespace = 'hs') AS stream_gen
FROM image_stream_tags WHERE namespace = 'hs' AND tag = 'f';
SELECT tag('quay.io/org/app:10', 'hs/app:f');
SELECT * FROM pg_temp.cond;
SELECT max(id) AS before FROM change \gset
SELECT _record_failure(:f, 'NotFound', 'quay.io/org/app:10 was not found');
SELECT * FROM pg_temp.cond;
SELECT _record_failure(:f, 'NotFound', 'quay.io/org/app:10 was not found');
SELECT * FROM pg_temp.cond;
SELECT _record_failure(:f, 'Unauthorized', '');
SELECT * FROM pg_temp.cond;
SELECT event, reason, message, left(digest_hex(previous_image), 8) AS current
FROM change WHERE id > :before ORDER BY id;
SELECT resolve('hs/app:f') = ref_with_digest('quay.io/org/app', content_digest('f1'));
SELECT map_image('hs/app:f', 'quay.io/org/app:10', content_digest('f2'));
SELECT * FROM pg_temp.cond;
-- a failure of a tag with no image at all: resolve says why
SELECT tag('quay.io/org/app:11', 'hs/app:g');
SELECT _record_failure(id, 'NotFound', 'not there') FROM tag WHERE namespace = 'hs' AND name = 'g';
SELECT resolve('hs/app:g');
