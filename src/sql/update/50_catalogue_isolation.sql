-- Catalogue isolation (security findings S16 and S17, doc/security.md).
--
-- S16: a child of an index opens to the viewers of a stream that holds the
-- index only when an import into that stream fetched and verified it
-- (held_child).  S17: no base table is readable by PUBLIC; the views read
-- set-returning functions that the planner cannot push a caller's
-- conditions into.

-- The children whose manifests an import into the stream fetched and
-- verified.  An index may list any digest (whoever writes one chooses its
-- children), so a child opens to the viewers of a stream that holds the
-- index only if it is listed here for that stream (security finding S16).
CREATE TABLE held_child (
	stream_id bigint NOT NULL REFERENCES stream ON DELETE CASCADE,
	digest image_digest NOT NULL REFERENCES image ON DELETE CASCADE,
	PRIMARY KEY (stream_id, digest)
);
COMMENT ON TABLE held_child IS 'children of indexes whose manifests an import into the stream verified';
SELECT pg_catalog.pg_extension_config_dump('held_child', '');

-- Indexes imported before this version: the current image of a tag that a
-- PreserveOriginal import set (its source served it) had every child
-- fetched and verified.  Other events of before keep their children to the
-- privileged and to streams that hold them themselves.
INSERT INTO held_child (stream_id, digest)
SELECT DISTINCT t.stream_id, c.digest
FROM tag t JOIN image_child c ON c.image = t.image
JOIN image i ON i.digest = c.digest AND i.manifest IS NOT NULL
WHERE t.has_spec AND t.from_kind = 'DockerImage' AND NOT t.reference
  AND t.import_mode = 'PreserveOriginal' AND t.image = t.source_digest
ON CONFLICT DO NOTHING;

-- the row-level security policies of 0.2.0: the views read set-returning
-- functions instead (src/sql/code/310_views.sql)
DROP POLICY view_namespace ON stream;
DROP POLICY view_namespace ON tag;
DROP POLICY view_namespace ON change;
DROP POLICY admin_namespace ON namespace_grant;
DROP POLICY held_by_visible_stream ON image;
DROP POLICY held_by_visible_stream ON image_layer;
DROP POLICY held_by_visible_stream ON image_child;
