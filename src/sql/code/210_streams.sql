-- Streams: create, delete, image lookup policy.

CREATE OR REPLACE FUNCTION _api_create_stream(stream text, lookup_local boolean DEFAULT false,
	annotations jsonb DEFAULT '{}', if_not_exists boolean DEFAULT false)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
DECLARE
	n record := imagestream._parse_stream(stream);
BEGIN
	PERFORM imagestream._require(n.namespace, 'edit');
	-- the rules of set_annotations (215_annotations.sql)
	INSERT INTO imagestream.stream (namespace, name, lookup_local, annotations)
	VALUES (n.namespace, n.name, coalesce(lookup_local, false),
			imagestream._patch_annotations('{}', annotations))
	ON CONFLICT ON CONSTRAINT stream_namespace_name_key DO NOTHING;
	IF NOT FOUND AND NOT coalesce(if_not_exists, false) THEN
		RAISE EXCEPTION 'image stream "%" already exists', _api_create_stream.stream
			USING ERRCODE = 'duplicate_object';
	END IF;
END $$;

CREATE OR REPLACE FUNCTION create_stream(stream text, lookup_local boolean DEFAULT false,
	annotations jsonb DEFAULT '{}', if_not_exists boolean DEFAULT false)
RETURNS void
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C;
COMMENT ON FUNCTION create_stream(text, boolean, jsonb, boolean) IS 'create an image stream "namespace/name"';

CREATE OR REPLACE FUNCTION _api_delete_stream(stream text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
DECLARE
	n record := imagestream._parse_stream(stream);
	s imagestream.stream;
BEGIN
	PERFORM imagestream._require(n.namespace, 'edit');
	s := imagestream._lock_stream(n.namespace, n.name);
	PERFORM imagestream._refuse_protected(n.namespace, n.name, NULL, 'delete_stream() would remove it');
	DELETE FROM imagestream.stream WHERE id = s.id;
	PERFORM imagestream._log_change('stream_deleted', s.namespace, s.name, NULL,
		NULL, NULL, NULL, s.generation);
END $$;

CREATE OR REPLACE FUNCTION delete_stream(stream text) RETURNS void
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C;
COMMENT ON FUNCTION delete_stream(text) IS 'remove an image stream with its spec and status tags';

CREATE OR REPLACE FUNCTION _api_set_lookup_local(stream text, enabled boolean) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
DECLARE
	n record := imagestream._parse_stream(stream);
	s imagestream.stream;
BEGIN
	IF enabled IS NULL THEN
		RAISE EXCEPTION 'enabled must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	PERFORM imagestream._require(n.namespace, 'edit');
	s := imagestream._lock_stream(n.namespace, n.name);
	IF s.lookup_local <> enabled THEN
		-- the lookup policy is part of the spec
		UPDATE imagestream.stream
		SET lookup_local = enabled, generation = generation + 1
		WHERE id = s.id;
	END IF;
END $$;

CREATE OR REPLACE FUNCTION set_lookup_local(stream text, enabled boolean) RETURNS void
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C;
COMMENT ON FUNCTION set_lookup_local(text, boolean) IS 'oc set image-lookup: let short names in the namespace resolve to this stream';
