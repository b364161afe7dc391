-- The change log (doc/model.md): one row per change and a NOTIFY, both
-- numbered when the changing transaction commits (src/change_commit.c) and
-- the NOTIFY delivered only then.

-- NOTIFY payloads must stay under 8000 bytes; past this size the long text
-- fields are left out and "truncated" is set (changes_since has them all).
CREATE OR REPLACE FUNCTION _notify_payload_limit() RETURNS integer
LANGUAGE sql IMMUTABLE AS $$ SELECT 7000 $$;

-- Announces a row of the change log (at commit).
CREATE OR REPLACE FUNCTION _notify_change(c change) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	payload jsonb;
BEGIN
	-- Any role may LISTEN, and any role may NOTIFY on any channel: by
	-- default the payload is the id alone, a hint that listeners follow with
	-- changes_since() and their rights; full is for a DBA who trusts both.
	IF current_setting('imagestream.notify_payload', true) IS DISTINCT FROM 'full' THEN
		payload := jsonb_build_object('id', c.id);
	ELSE
		payload := jsonb_strip_nulls(jsonb_build_object(
			'id', c.id, 'at', c.at, 'event', c.event, 'namespace', c.namespace,
			'stream', c.stream, 'tag', c.tag, 'image', c.image::text,
			'previous_image', c.previous_image::text,
			'docker_image_reference', c.docker_image_reference::text,
			'generation', c.generation, 'reason', c.reason, 'message', c.message,
			'actor', c.actor, 'via', c.via));
	END IF;
	IF octet_length(payload::text) > imagestream._notify_payload_limit() THEN
		payload := payload - 'docker_image_reference' - 'message' - 'reason'
			|| '{"truncated": true}';
	END IF;
	PERFORM pg_notify(coalesce(nullif(current_setting('imagestream.notify_channel', true), ''),
							   'imagestream'),
					  payload::text);
END $$;

-- Who makes a change (src/change_actor.c): the calling role, or the worker.
CREATE OR REPLACE FUNCTION _change_actor() RETURNS text
	AS 'MODULE_PATHNAME', 'imagestream_change_actor'
	LANGUAGE C STABLE PARALLEL RESTRICTED;

-- Marks the transaction as one whose commit numbers its change rows, the
-- first of them (in this call) with provisional id first_id.
CREATE OR REPLACE FUNCTION _number_at_commit(first_id bigint) RETURNS void
	AS 'MODULE_PATHNAME', 'imagestream_number_at_commit' LANGUAGE C VOLATILE;

-- Logs a change with a provisional id; the commit numbers and announces it.
-- The actor is the server's to know, never an argument; via names the route
-- of a change made on a role's behalf (NULL: a direct call).
CREATE OR REPLACE FUNCTION _log_change(event text, ns text, stream text, tag text,
	image image_digest, previous_image image_digest, ref image_ref,
	generation bigint, reason text DEFAULT NULL, message text DEFAULT NULL,
	via text DEFAULT NULL)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	provisional bigint;
BEGIN
	INSERT INTO imagestream.change (at, event, namespace, stream, tag, image, previous_image,
									docker_image_reference, generation, reason, message,
									actor, via)
		VALUES (now(), event, ns, stream, tag, image, previous_image, ref,
				generation, reason, message, imagestream._change_actor(), via)
		RETURNING id INTO provisional;
	PERFORM imagestream._number_at_commit(provisional);
END $$;

-- At commit, under the commit lock (src/change_commit.c): this transaction's
-- rows, in the order written (provisional ids from first_id up), become
-- base + 1, base + 2, ... (base: the greatest committed id), and each is
-- announced with its final id.  Both statements read a primary key range a
-- transaction's own size: their cost does not grow with the log, whatever
-- the table's statistics say.
CREATE OR REPLACE FUNCTION _number_changes(base bigint, first_id bigint) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, imagestream, pg_temp AS $$
DECLARE
	c imagestream.change;
	numbered bigint;
BEGIN
	-- (of the provisional rows from first_id up, only this transaction's are
	-- visible: no other is committed with one)
	UPDATE imagestream.change x SET id = base + p.n
	FROM (SELECT y.id, row_number() OVER (ORDER BY y.id) AS n
		  FROM imagestream.change y WHERE y.id >= first_id AND y.id < 0) p
	WHERE x.id = p.id AND x.id >= first_id AND x.id < 0;
	GET DIAGNOSTICS numbered = ROW_COUNT;
	-- The notification queue is the server's, shared by every channel, and
	-- any role can fill it while a listener idles in a transaction; once
	-- full, every NOTIFY fails its transaction.  Past the limit the changes
	-- are logged, and not announced: listeners read them with changes_since
	-- when the next announced change, or their own poll, wakes them.
	IF pg_notification_queue_usage() >
	   coalesce(nullif(current_setting('imagestream.notify_queue_limit', true), '')::float8, 0.5) THEN
		RAISE WARNING 'imagestream changes % to % were not announced', base + 1, base + numbered
			USING DETAIL = format('The notification queue is %s%% full, over imagestream.notify_queue_limit.',
								  round((pg_notification_queue_usage() * 100)::numeric, 3)),
				  HINT = 'A session that LISTENs and stays in a transaction holds the queue: end it (idle_in_transaction_session_timeout ends such sessions).';
		RETURN;
	END IF;
	FOR c IN SELECT * FROM imagestream.change x
			 WHERE x.id > base AND x.id <= base + numbered ORDER BY x.id LOOP
		PERFORM imagestream._notify_change(c);
	END LOOP;
END $$;

CREATE OR REPLACE FUNCTION _api_changes_since(after_id bigint, max_rows integer DEFAULT 1000)
RETURNS SETOF change
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
BEGIN
	IF max_rows IS NULL OR max_rows < 0 THEN
		RAISE EXCEPTION 'max_rows must be zero or more'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	RETURN QUERY
		SELECT c.* FROM imagestream.change c
		-- (greatest: never this transaction's provisional rows, negative)
		WHERE c.id > greatest(after_id, 0) AND imagestream._can(c.namespace, 'view')
		ORDER BY c.id
		LIMIT max_rows;
END $$;

CREATE OR REPLACE FUNCTION changes_since(after_id bigint, max_rows integer DEFAULT 1000)
RETURNS SETOF change
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C STABLE;
COMMENT ON FUNCTION changes_since(bigint, integer) IS 'changes after the given id, oldest first, in namespaces the caller may view';
