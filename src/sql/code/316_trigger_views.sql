-- The view of image change triggers (doc/promotion.md), built as those of
-- 310_views.sql: an API entry whose body returns only the triggers of tags
-- in namespaces the caller may view; a trigger's last error only to its
-- owner and the namespace's admins.

CREATE OR REPLACE FUNCTION _api__view_triggers() RETURNS TABLE(id bigint, tag text,
	target regclass, column_name name, key_column name, key_value text, field_path text[],
	paused boolean, owner regrole, last_triggered_image image_digest,
	last_fired_at timestamptz, last_error text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
#variable_conflict use_column
DECLARE
	ns text[] COLLATE "C" := imagestream._granted_namespaces('view');
BEGIN
	RETURN QUERY
		SELECT g.id, format('%s/%s:%s', t.namespace, t.stream, t.name), g.target, g.column_name,
			   g.key_column, g.key_value, g.field_path, g.paused, g.owner::regrole,
			   g.last_triggered_image, g.last_fired_at,
			   -- (its text was made with the owner's rights: for the owner and admins)
			   CASE WHEN ns IS NULL OR g.owner = imagestream._calling_role()
						 OR imagestream._can(t.namespace, 'admin') THEN g.last_error END
		FROM imagestream.image_trigger g JOIN imagestream.tag t ON t.id = g.tag_id
		WHERE ns IS NULL OR t.namespace = ANY (ns);
END $$;

CREATE OR REPLACE FUNCTION _view_triggers() RETURNS TABLE(id bigint, tag text,
	target regclass, column_name name, key_column name, key_value text, field_path text[],
	paused boolean, owner regrole, last_triggered_image image_digest,
	last_fired_at timestamptz, last_error text)
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C STABLE;

CREATE OR REPLACE VIEW triggers AS
SELECT g.id, g.tag COLLATE "C" AS tag, g.target, g.column_name, g.key_column, g.key_value,
	g.field_path, g.paused, g.owner, g.last_triggered_image, g.last_fired_at, g.last_error
FROM imagestream._view_triggers() g;
COMMENT ON VIEW triggers IS 'the image change triggers of tags in namespaces the caller may view';
