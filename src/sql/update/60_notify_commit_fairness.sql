-- Issue 15, findings S19-S21: notifications carry the id by default (the
-- setting's default is in C), change log ids are assigned at commit
-- (src/change_commit.c) instead of under a lock held from a transaction's
-- first change to its commit, and the worker's queue is fair across
-- namespaces (C only).

CREATE SEQUENCE change_provisional_id AS bigint
	MINVALUE -9223372036854775808 MAXVALUE -1 START WITH -9223372036854775808;
ALTER TABLE change ALTER COLUMN id SET DEFAULT nextval('change_provisional_id');

-- _log_change returned the id in 0.2.0, now known only at commit
DROP FUNCTION _log_change(text, text, text, text, image_digest, image_digest, image_ref, bigint, text, text);
