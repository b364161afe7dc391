-- The views of protected tags and retention rules (doc/gates.md), built as
-- those of 310_views.sql: each reads an API entry whose body returns only the
-- rows of namespaces the caller may view.

CREATE OR REPLACE FUNCTION _api__view_protected_tags() RETURNS TABLE(namespace text, pattern text,
	created_by text, created_at timestamptz)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
#variable_conflict use_column
DECLARE
	ns text[] COLLATE "C" := imagestream._granted_namespaces('view');
BEGIN
	RETURN QUERY
		SELECT p.namespace, p.pattern, p.created_by, p.created_at
		FROM imagestream.protected_tag p
		WHERE ns IS NULL OR p.namespace = ANY (ns);
END $$;

CREATE OR REPLACE FUNCTION _view_protected_tags() RETURNS TABLE(namespace text, pattern text,
	created_by text, created_at timestamptz)
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C STABLE;

CREATE OR REPLACE VIEW protected_tags AS
SELECT p.namespace COLLATE "C" AS namespace, p.pattern COLLATE "C" AS pattern, p.created_by,
	p.created_at
FROM imagestream._view_protected_tags() p;
COMMENT ON VIEW protected_tags IS 'the protected tag patterns of the namespaces the caller may view';

CREATE OR REPLACE FUNCTION _api__view_retention_rules() RETURNS TABLE(namespace text,
	keep_tag_revisions integer, keep_younger_than interval, applied_at timestamptz)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
#variable_conflict use_column
DECLARE
	ns text[] COLLATE "C" := imagestream._granted_namespaces('view');
BEGIN
	RETURN QUERY
		SELECT r.namespace, r.keep_tag_revisions, r.keep_younger_than, r.applied_at
		FROM imagestream.namespace_retention r
		WHERE ns IS NULL OR r.namespace = ANY (ns);
END $$;

CREATE OR REPLACE FUNCTION _view_retention_rules() RETURNS TABLE(namespace text,
	keep_tag_revisions integer, keep_younger_than interval, applied_at timestamptz)
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C STABLE;

CREATE OR REPLACE VIEW retention_rules AS
SELECT r.namespace COLLATE "C" AS namespace, r.keep_tag_revisions, r.keep_younger_than,
	r.applied_at
FROM imagestream._view_retention_rules() r;
COMMENT ON VIEW retention_rules IS 'the history retention rules of the namespaces the caller may view';
