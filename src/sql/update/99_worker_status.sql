-- Issues 19 and 23: worker_status gains due_read_time and database
-- (doc/worker.md), columns of the row its function returns, which CREATE
-- OR REPLACE cannot change.  The
-- view is replaced, not dropped, so that what a DBA granted on it stays; its
-- function is swapped under it, and the code then defines it as it is.
CREATE FUNCTION _worker_status_0_3_0(OUT pid integer, OUT started_at timestamptz,
	OUT last_cycle_at timestamptz, OUT tags_scheduled bigint, OUT tags_checked bigint,
	OUT imports bigint, OUT failures bigint, OUT requests bigint, OUT bytes_received bigint,
	OUT in_flight integer, OUT next_due_at timestamptz, OUT due_read_time double precision,
	OUT database text)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'imagestream_worker_status' LANGUAGE C VOLATILE;
CREATE OR REPLACE VIEW worker_status AS SELECT * FROM imagestream._worker_status_0_3_0();
DROP FUNCTION _worker_status();
ALTER FUNCTION _worker_status_0_3_0() RENAME TO _worker_status;
