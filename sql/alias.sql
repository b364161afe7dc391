-- Alias (tracking) tags: follow their source on every change, in chains;
-- cycles, self-aliases and other streams are refused.
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/test/regress_setup.psql

CREATE VIEW pg_temp.heads AS
SELECT tag, from_kind, from_ref, status_generation AS gen, history_length AS hist,
	left(digest_hex(image), 8) AS image
FROM image_stream_tags WHERE namespace = 'al' ORDER BY tag;

SELECT map_image('al/app:latest', ref_with_digest('quay.io/org/app', content_digest('v1')));
-- stable follows latest; prod follows stable (a chain); both get the current image
SELECT tag('app:latest', 'al/app:stable', alias => true);
SELECT tag('app:stable', 'al/app:prod', alias => true);
SELECT * FROM pg_temp.heads;

-- a new image of latest reaches the whole chain, with one change row each
SELECT max(id) AS before FROM change \gset
SELECT map_image('al/app:latest', ref_with_digest('quay.io/org/app', content_digest('v2')));
SELECT * FROM pg_temp.heads;
SELECT event, tag, left(digest_hex(image), 8) AS image, left(digest_hex(previous_image), 8) AS previous
FROM change WHERE id > :before ORDER BY id;

-- an alias of a tag with no image yet gets one when the source does
SELECT tag('app:later', 'al/app:waiting', alias => true);
SELECT * FROM pg_temp.heads WHERE tag = 'waiting';
SELECT map_image('al/app:later', ref_with_digest('quay.io/org/app', content_digest('v3')));
SELECT * FROM pg_temp.heads WHERE tag IN ('later', 'waiting');

-- refusals: a cycle, an alias of itself, another stream, another namespace
SELECT tag('app:prod', 'al/app:latest', alias => true);
SELECT pg_temp.sqlstate($$SELECT tag('app:prod', 'al/app:latest', alias => true)$$);
SELECT pg_temp.sqlstate($$SELECT tag('app:latest', 'al/app:latest', alias => true)$$);
SELECT map_image('al/other:x', ref_with_digest('quay.io/org/other', content_digest('o')));
SELECT tag('other:x', 'al/app:cross', alias => true);
SELECT pg_temp.sqlstate($$SELECT tag('other:x', 'al/app:cross', alias => true)$$);
SELECT pg_temp.sqlstate($$SELECT tag('al/app:latest', 'al2/app:cross', alias => true)$$);
SELECT pg_temp.sqlstate($$SELECT tag('app:latest', 'al/app:cross', alias => true, scheduled => true)$$);
SELECT count(*) FROM pg_temp.heads WHERE tag IN ('cross');

-- re-pointing a link of the chain breaks it there: prod now copies a pinned image
SELECT tag('app:latest', 'al/app:stable');
SELECT from_kind FROM pg_temp.heads WHERE tag = 'stable';
SELECT map_image('al/app:latest', ref_with_digest('quay.io/org/app', content_digest('v4')));
SELECT tag, image FROM pg_temp.heads WHERE tag IN ('latest', 'stable', 'prod');
-- and the former cycle is now allowed, since prod no longer leads to latest
SELECT tag('app:prod', 'al/app:latest', alias => true);
SELECT tag, from_ref, image FROM pg_temp.heads WHERE tag IN ('latest', 'prod');
