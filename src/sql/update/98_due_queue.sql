-- Issue 19, item 3: the worker finds due work through a queue, not a scan of
-- tag (doc/worker.md, "The due queue"): the table here, its triggers and
-- functions in src/sql/code/290_worker.sql.  The worker reads all tags again
-- when it meets the updated extension, so the queue starts empty.
CREATE UNLOGGED TABLE worker_queue (
	tag_id bigint PRIMARY KEY
);
COMMENT ON TABLE worker_queue IS 'tags changed since the worker last read them (the due queue)';
