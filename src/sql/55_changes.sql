-- The change log (SPEC section 6): one row per change and a NOTIFY with the
-- same fields, sent in the changing transaction (delivered only on commit).

-- NOTIFY payloads must stay under 8000 bytes; past this size the long text
-- fields are left out and "truncated" is set (changes_since has them all).
CREATE FUNCTION _notify_payload_limit() RETURNS integer
LANGUAGE sql IMMUTABLE AS $$ SELECT 7000 $$;

-- Announces a row of the change log (at commit).
CREATE FUNCTION _notify_change(c change) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	payload jsonb;
BEGIN
	-- imagestream.notify_payload = id: any role may LISTEN, so a DBA can
	-- send the id alone and let listeners read the change with their rights
	IF current_setting('imagestream.notify_payload', true) = 'id' THEN
		payload := jsonb_build_object('id', c.id);
	ELSE
		payload := jsonb_strip_nulls(jsonb_build_object(
			'id', c.id, 'at', c.at, 'event', c.event, 'namespace', c.namespace,
			'stream', c.stream, 'tag', c.tag, 'image', c.image::text,
			'previous_image', c.previous_image::text,
			'docker_image_reference', c.docker_image_reference::text,
			'generation', c.generation, 'reason', c.reason, 'message', c.message));
	END IF;
	IF octet_length(payload::text) > imagestream._notify_payload_limit() THEN
		payload := payload - 'docker_image_reference' - 'message' - 'reason'
			|| '{"truncated": true}';
	END IF;
	PERFORM pg_notify(coalesce(nullif(current_setting('imagestream.notify_channel', true), ''),
							   'imagestream'),
					  payload::text);
END $$;

CREATE FUNCTION _log_change(event text, ns text, stream text, tag text,
	image image_digest, previous_image image_digest, ref image_ref,
	generation bigint, reason text DEFAULT NULL, message text DEFAULT NULL)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	c imagestream.change;
BEGIN
	-- Writers queue here until commit, so ids are dense and in commit order.
	LOCK TABLE imagestream.change IN SHARE ROW EXCLUSIVE MODE;
	SELECT coalesce(max(x.id), 0) + 1 INTO c.id FROM imagestream.change x;
	INSERT INTO imagestream.change
		VALUES (c.id, now(), event, ns, stream, tag, image, previous_image, ref,
				generation, reason, message)
		RETURNING * INTO c;
	PERFORM imagestream._notify_change(c);
	RETURN c.id;
END $$;

CREATE FUNCTION _api_changes_since(after_id bigint, max_rows integer DEFAULT 1000)
RETURNS SETOF change
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
BEGIN
	IF max_rows IS NULL OR max_rows < 0 THEN
		RAISE EXCEPTION 'max_rows must be zero or more'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	RETURN QUERY
		SELECT c.* FROM imagestream.change c
		WHERE c.id > coalesce(after_id, 0) AND imagestream._can(c.namespace, 'view')
		ORDER BY c.id
		LIMIT max_rows;
END $$;

CREATE FUNCTION changes_since(after_id bigint, max_rows integer DEFAULT 1000)
RETURNS SETOF change
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C STABLE;
COMMENT ON FUNCTION changes_since(bigint, integer) IS 'changes after the given id, oldest first, in namespaces the caller may view';
