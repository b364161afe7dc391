-- The due queue (doc/worker.md): the tags whose spec, schedule or import
-- request changed since the worker last took it.  Triggers on tag
-- (290_worker.sql) add them, one row a tag however often it changes; each
-- worker cycle takes the rows and reads those tags by id, so that it never
-- scans tag but when it starts.  Unlogged: after a crash the table is empty
-- and the worker, started again, reads all tags anyway.
CREATE UNLOGGED TABLE worker_queue (
	tag_id bigint PRIMARY KEY
);
COMMENT ON TABLE worker_queue IS 'tags changed since the worker last read them (the due queue)';
