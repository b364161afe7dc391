-- Names of SPEC section 1: "namespace/name", "namespace/name:tag",
-- "namespace/name@digest-or-prefix".  Malformed names are SQLSTATE 22023.
-- resolve() (C, not SECURITY DEFINER) reports a bad tag name through
-- _parse_tag in the caller's context: the functions it reaches pin their
-- search_path, so that nothing a caller's path finds (a public.format, say)
-- runs in their place, and _check_names and _name_error are executable by
-- PUBLIC (90_security.sql).

CREATE OR REPLACE FUNCTION _name_error(what text, input text, detail text) RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	RAISE EXCEPTION 'invalid %: "%"', what, input
		USING ERRCODE = 'invalid_parameter_value', DETAIL = detail;
END $$;

CREATE OR REPLACE FUNCTION _check_names(input text, what text, ns text, name text, tag text DEFAULT NULL)
RETURNS void LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	IF ns IS NULL OR ns !~ '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$' OR octet_length(ns) > 63 THEN
		PERFORM imagestream._name_error(what, input,
			format('The namespace "%s" must be a DNS label: at most 63 lowercase letters, digits and inner hyphens.', ns));
	END IF;
	IF name IS NULL OR name !~ '^[a-z0-9]+([._-][a-z0-9]+)*$' OR octet_length(name) > 255 THEN
		PERFORM imagestream._name_error(what, input,
			format('The stream name "%s" must be lowercase letters and digits joined by single ".", "_" or "-", at most 255 bytes.', name));
	END IF;
	IF tag IS NOT NULL AND tag !~ '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$' THEN
		PERFORM imagestream._name_error(what, input,
			format('The tag "%s" must be 1 to 128 letters, digits, "_", "." or "-", not starting with "." or "-".', tag));
	END IF;
END $$;

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
