-- rollback by steps and by digest prefix; prune as a dry run and confirmed.
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/test/regress_setup.psql

CREATE VIEW pg_temp.hist AS
SELECT position, left(digest_hex(image), 8) AS image, generation FROM history('rb/app:latest');

SELECT tag('quay.io/org/app:latest', 'rb/app:latest', scheduled => true);
SELECT map_image('rb/app:latest', ref_with_digest('quay.io/org/app', content_digest(v::bytea)))
FROM unnest(ARRAY['r1', 'r2', 'r3']) AS v;
SELECT * FROM pg_temp.hist;
SELECT tag('app:latest', 'rb/app:follow', alias => true);

-- one step back: a new event with the previous image, the spec pinned to it
-- (no longer scheduled), followers moved along, one change each
SELECT max(id) AS before FROM change \gset
SELECT position, left(digest_hex(image), 8) AS image FROM rollback('rb/app:latest');
SELECT * FROM pg_temp.hist;
SELECT from_kind, scheduled, pending, left(digest_hex(image), 8) AS image
FROM image_stream_tags WHERE namespace = 'rb' ORDER BY tag;
SELECT substr(from_ref, 1, 14) || left(split_part(from_ref, ':', 2), 8) AS from_ref
FROM image_stream_tags WHERE namespace = 'rb' AND tag = 'latest';
SELECT event, tag, left(digest_hex(image), 8) AS image, left(digest_hex(previous_image), 8) AS previous
FROM change WHERE id > :before ORDER BY id;

-- by digest prefix, and by several steps
SELECT left(digest_hex(image), 8) FROM rollback('rb/app:latest', to_image => left(digest_hex(content_digest('r3')), 9));
SELECT left(digest_hex(image), 8) FROM rollback('rb/app:latest', to_image => 'sha256:' || digest_hex(content_digest('r1')));
SELECT left(digest_hex(image), 8) FROM rollback('rb/app:latest', steps => 3);
SELECT * FROM pg_temp.hist;

-- refusals
SELECT pg_temp.sqlstate($$SELECT rollback('rb/app:latest', steps => 0)$$);
SELECT pg_temp.sqlstate($$SELECT rollback('rb/app:latest', steps => 100)$$);
SELECT pg_temp.sqlstate($$SELECT rollback('rb/app:latest', to_image => '0000000')$$);
SELECT pg_temp.sqlstate($$SELECT rollback('rb/app:latest', to_image => 'abc')$$);
SELECT pg_temp.sqlstate($$SELECT rollback('rb/app:none')$$);
-- a reference-only event has no image to go back to
SELECT tag('quay.io/org/app:r', 'rb/app:ref', reference => true);
SELECT map_image('rb/app:ref', ref_with_digest('quay.io/org/app', content_digest('r9')));
SELECT rollback('rb/app:ref');

-- prune: nothing is younger than an hour ago by default
SELECT * FROM prune();
-- age the history, then keep two revisions: a dry run reports, confirm deletes
UPDATE history_event SET created = created - interval '2 hours'
WHERE tag_id IN (SELECT id FROM tag WHERE namespace = 'rb');
UPDATE image SET imported_at = imported_at - interval '2 hours';
SELECT count(*) AS events_before FROM history h JOIN tag t ON t.id = h.tag_id WHERE t.namespace = 'rb';
SELECT action, stream, tag, left(digest_hex(image), 8) AS image
FROM prune(keep_tag_revisions => 2) WHERE stream = 'rb/app' OR stream IS NULL AND
	image IN (SELECT content_digest(v::bytea) FROM unnest(ARRAY['r1', 'r2', 'r3']) v);
SELECT count(*) AS events_after_dry_run FROM history h JOIN tag t ON t.id = h.tag_id WHERE t.namespace = 'rb';
SELECT count(*) FROM prune(keep_tag_revisions => 2, confirm => true) WHERE stream = 'rb/app';
SELECT count(*) AS events_after FROM history h JOIN tag t ON t.id = h.tag_id WHERE t.namespace = 'rb';
SELECT * FROM pg_temp.hist;
SELECT tag, history_length, left(digest_hex(image), 8) AS image FROM image_stream_tags WHERE namespace = 'rb' ORDER BY tag;
-- keep_tag_revisions 0 still keeps each tag's current image
SELECT count(*) FROM prune(keep_tag_revisions => 0, confirm => true) WHERE stream = 'rb/app';
SELECT tag, history_length FROM image_stream_tags WHERE namespace = 'rb' ORDER BY tag;
SELECT pg_temp.sqlstate($$SELECT * FROM prune(keep_tag_revisions => -1)$$);

-- a second rollback to the image the tag is pinned to, after pushes: the new
-- event's generation is the stream's, never below the pushes' (found by
-- make stress)
SELECT map_image('rg/app:t', ('quay.io/rg/app@sha256:' || repeat('a', 64))::image_ref);
SELECT map_image('rg/app:t', ('quay.io/rg/app@sha256:' || repeat('b', 64))::image_ref);
SELECT (rollback('rg/app:t')).image;
SELECT tag('quay.io/rg/other:1', 'rg/app:other');	-- moves the stream's generation on
SELECT map_image('rg/app:t', ('quay.io/rg/app@sha256:' || repeat('c', 64))::image_ref);
SELECT (rollback('rg/app:t', to_image => 'aaaaaaa')).image;
SELECT position, image, generation FROM history('rg/app:t');

-- pull specs are stored once per repository (history_ref); one that no
-- event uses any more goes with the last event pruned
SELECT map_image('rp/app:t', ref_with_digest('quay.io/once/app', content_digest('p1')));
SELECT map_image('rp/app:t', ref_with_digest('quay.io/org/app', content_digest('p2')));
SELECT map_image('rp/app:u', ref_with_digest('quay.io/org/app:pinned', content_digest('p3')));
SELECT r.ref, r.with_digest, e.seq FROM history_event e JOIN history_ref r ON r.id = e.ref
WHERE e.tag_id IN (SELECT id FROM tag WHERE namespace = 'rp') ORDER BY e.tag_id, e.seq;
SELECT h.seq, h.docker_image_reference FROM history h JOIN tag t ON t.id = h.tag_id
WHERE t.namespace = 'rp' ORDER BY t.name, h.seq;
UPDATE history_event SET created = created - interval '2 hours'
WHERE tag_id IN (SELECT id FROM tag WHERE namespace = 'rp');
UPDATE tag SET created = created - interval '2 hours' WHERE namespace = 'rp';
SELECT count(*) FROM prune(keep_tag_revisions => 0, confirm => true) WHERE stream = 'rp/app';
SELECT count(*) AS once_left FROM history_ref WHERE ref = 'quay.io/once/app';
