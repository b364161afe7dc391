-- Names (doc/functions.md): "namespace/name", "namespace/name:tag",
-- "namespace/name@digest-or-prefix".  Malformed names are SQLSTATE 22023.
-- The grammar of each part, and the sentence that states it when a name
-- breaks it, are C's (_check_names, src/names.c): resolve() checks names
-- there without a query.
-- resolve() (C, not SECURITY DEFINER) reports a bad tag name through
-- _parse_tag in the caller's context: the functions it reaches pin their
-- search_path, so that nothing a caller's path finds (a public.format, say)
-- runs in their place, and _check_names and _name_error are executable by
-- PUBLIC (390_security.sql).

CREATE OR REPLACE FUNCTION _name_error(what text, input text, detail text) RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	RAISE EXCEPTION 'invalid %: "%"', what, input
		USING ERRCODE = 'invalid_parameter_value', DETAIL = detail;
END $$;

-- Refuses input (a name of kind what) unless ns is a namespace, name a
-- stream name and tag, when given, a tag.
CREATE OR REPLACE FUNCTION _check_names(input text, what text, ns text, name text, tag text DEFAULT NULL)
RETURNS void
	AS 'MODULE_PATHNAME', 'imagestream_check_names'
	LANGUAGE C IMMUTABLE PARALLEL SAFE;

-- "ns/name"
CREATE OR REPLACE FUNCTION _parse_stream(input text, OUT namespace text, OUT name text)
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
	IF input IS NULL OR strpos(input, '/') = 0 THEN
		PERFORM imagestream._name_error('image stream name', input,
			'An image stream is named "namespace/name".');
	END IF;
	namespace := split_part(input, '/', 1);
	name := substr(input, strpos(input, '/') + 1);
	PERFORM imagestream._check_names(input, 'image stream name', namespace, name);
END $$;

-- "ns/name[:tag]", tag "latest" when left out
CREATE OR REPLACE FUNCTION _parse_tag(input text, OUT namespace text, OUT stream text, OUT tag text)
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	rest text;
BEGIN
	IF input IS NULL OR strpos(input, '/') = 0 OR strpos(input, '@') > 0 THEN
		PERFORM imagestream._name_error('image stream tag name', input,
			'A tag is named "namespace/name:tag" (":tag" defaults to ":latest").');
	END IF;
	namespace := split_part(input, '/', 1);
	rest := substr(input, strpos(input, '/') + 1);
	IF strpos(rest, ':') > 0 THEN
		stream := split_part(rest, ':', 1);
		tag := substr(rest, strpos(rest, ':') + 1);
	ELSE
		stream := rest;
		tag := 'latest';
	END IF;
	PERFORM imagestream._check_names(input, 'image stream tag name', namespace, stream, tag);
END $$;

-- "ns/name@id": id is a digest or a prefix of one (hex, or "algorithm:hex")
CREATE OR REPLACE FUNCTION _parse_stream_image(input text, OUT namespace text, OUT stream text, OUT id text)
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
	name text;
BEGIN
	IF input IS NULL OR strpos(input, '/') = 0 OR strpos(input, '@') = 0 THEN
		PERFORM imagestream._name_error('image stream image name', input,
			'An image in a stream is named "namespace/name@sha256:<hex>", or with a unique prefix of at least 7 hex digits.');
	END IF;
	name := split_part(input, '@', 1);
	id := substr(input, strpos(input, '@') + 1);
	namespace := split_part(name, '/', 1);
	stream := substr(name, strpos(name, '/') + 1);
	PERFORM imagestream._check_names(input, 'image stream image name', namespace, stream);
	IF id !~ '^((sha256|sha512):)?[0-9a-f]{7,128}$' THEN
		PERFORM imagestream._name_error('image stream image name', input,
			'The image must be a digest or a prefix of its lowercase hex digits, at least 7 long.');
	END IF;
END $$;
