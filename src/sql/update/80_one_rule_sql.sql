-- Issue 17: one rule in one place.  The name grammar, the ranking of rights
-- and the manifest media types are C's, which the import, resolve() and
-- the SQL share (src/names.c, src/rights.c, src/manifest.c); these SQL
-- functions now call it.  (src/sql/45_names.sql, 50_rights.sql,
-- 65_catalogue.sql)

-- Refuses input (a name of kind what) unless ns is a namespace, name a
-- stream name and tag, when given, a tag.
CREATE OR REPLACE FUNCTION _check_names(input text, what text, ns text, name text, tag text DEFAULT NULL)
RETURNS void
	AS 'MODULE_PATHNAME', 'imagestream_check_names'
	LANGUAGE C IMMUTABLE PARALLEL SAFE;

-- view 1 < edit 2 < admin 3, NULL for what is not a right: the ranking
-- _can uses (src/rights.c)
CREATE OR REPLACE FUNCTION _level_rank(level text) RETURNS integer
	AS 'MODULE_PATHNAME', 'imagestream_level_rank'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- The media type of a manifest: the one given unless empty, then the one it
-- declares, then (OCI content without one) the one its fields imply.
-- Schema 1 and unknown types are refused.  The media types are C's
-- (src/manifest.c), shared with the import and its Accept header.
CREATE OR REPLACE FUNCTION _manifest_media_type(doc jsonb, given text) RETURNS text
	AS 'MODULE_PATHNAME', 'imagestream_manifest_media_type'
	LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE OR REPLACE FUNCTION _is_index(media_type text) RETURNS boolean
	AS 'MODULE_PATHNAME', 'imagestream_is_index'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
