-- Names (doc/functions.md): "namespace/name", "namespace/name:tag",
-- "namespace/name@digest-or-prefix".  Malformed names are SQLSTATE 22023.
-- The grammar, how a name splits into its parts and the sentence that
-- states the rule a bad name breaks are C's (src/names.c), which resolve()
-- uses without a query.

-- Refuses input (a name of kind what) unless ns is a namespace, name a
-- stream name and tag, when given, a tag.
CREATE OR REPLACE FUNCTION _check_names(input text, what text, ns text, name text, tag text DEFAULT NULL)
RETURNS void
	AS 'MODULE_PATHNAME', 'imagestream_check_names'
	LANGUAGE C IMMUTABLE PARALLEL SAFE;

-- "ns/name"
CREATE OR REPLACE FUNCTION _parse_stream(input text, OUT namespace text, OUT name text)
	AS 'MODULE_PATHNAME', 'imagestream_parse_stream'
	LANGUAGE C IMMUTABLE PARALLEL SAFE;

-- "ns/name[:tag]", tag "latest" when left out
CREATE OR REPLACE FUNCTION _parse_tag(input text, OUT namespace text, OUT stream text, OUT tag text)
	AS 'MODULE_PATHNAME', 'imagestream_parse_tag'
	LANGUAGE C IMMUTABLE PARALLEL SAFE;

-- "ns/name@id": id is a digest or a prefix of one (hex, or "algorithm:hex")
CREATE OR REPLACE FUNCTION _parse_stream_image(input text, OUT namespace text, OUT stream text, OUT id text)
	AS 'MODULE_PATHNAME', 'imagestream_parse_stream_image'
	LANGUAGE C IMMUTABLE PARALLEL SAFE;

-- A short name of resolve_image(): "name", "name:tag" (tag "latest" when
-- left out) or "name@algorithm:hex"; all NULL for anything else.
CREATE OR REPLACE FUNCTION _parse_short_image(image text, OUT stream text, OUT tag text, OUT id text)
	AS 'MODULE_PATHNAME', 'imagestream_parse_short_image'
	LANGUAGE C IMMUTABLE PARALLEL SAFE;
