-- The model's invariants over everything the other tests left behind (this
-- test runs last), then each kind of violation made on purpose and found.
SET search_path TO imagestream, public;
SELECT * FROM check_invariants();

-- a corrupted head, a gap in the change log, an orphan alias, an event
-- without its digest: each is reported
BEGIN;
SELECT map_image('inv/app:v1', ('quay.io/inv/app@sha256:' || repeat('1', 64))::image_ref);
SELECT map_image('inv/app:v2', ('quay.io/inv/app@sha256:' || repeat('2', 64))::image_ref);
SELECT tag('inv/app:v1', 'inv/app:alias', alias => true);
SELECT count(*) FROM check_invariants();
UPDATE tag SET history_length = 7 WHERE namespace = 'inv' AND name = 'v1';
UPDATE tag SET image = NULL, docker_image_reference = NULL, history_length = 0
	WHERE namespace = 'inv' AND name = 'alias';
UPDATE stream SET generation = 1 WHERE namespace = 'inv';
DELETE FROM change WHERE id = (SELECT max(id) - 1 FROM change);
DELETE FROM image WHERE digest::text = 'sha256:' || repeat('2', 64);
UPDATE tag SET import_reason = 'NotFound' WHERE namespace = 'inv' AND name = 'v2';
UPDATE history_event SET image = NULL
	WHERE tag_id = (SELECT id FROM tag WHERE namespace = 'inv' AND name = 'v2');
SELECT invariant, object FROM check_invariants() ORDER BY 1, 2;
ROLLBACK;

-- only the privileged may run it
CREATE ROLE inv_user;
SET ROLE inv_user;
SELECT * FROM imagestream.check_invariants();
RESET ROLE;
DROP ROLE inv_user;
