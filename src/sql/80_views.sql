-- Views of SPEC section 4, each showing only namespaces the caller may view.
-- They run as their owner, so they filter with _can() themselves;
-- security_barrier keeps the filter ahead of any function a caller adds.

-- Called by the view image_streams as the caller, under the caller's
-- search_path: every function and operator is named by schema.
CREATE FUNCTION _local_repository(ns text, name text) RETURNS text
LANGUAGE sql STABLE AS $$
	SELECT CASE WHEN pg_catalog.current_setting('imagestream.local_registry', true) OPERATOR(pg_catalog.<>) ''
		THEN pg_catalog.concat_ws('/', pg_catalog.current_setting('imagestream.local_registry', true), ns, name) END
$$;

CREATE VIEW image_streams WITH (security_barrier) AS
SELECT s.namespace, s.name, s.generation, s.lookup_local,
	imagestream._local_repository(s.namespace, s.name) AS local_repository,
	coalesce((SELECT array_agg(t.name ORDER BY t.name COLLATE "C") FROM imagestream.tag t
			  WHERE t.stream_id = s.id), '{}') AS tags,
	(SELECT max(t.created) FROM imagestream.tag t WHERE t.stream_id = s.id) AS updated,
	s.annotations
FROM imagestream.stream s
WHERE imagestream._can(s.namespace, 'view');
COMMENT ON VIEW image_streams IS 'oc get is';

CREATE VIEW image_stream_tags WITH (security_barrier) AS
SELECT t.namespace, t.stream, t.name AS tag,
	CASE WHEN t.has_spec THEN t.from_kind END AS from_kind,
	CASE WHEN t.has_spec THEN t.from_ref END AS from_ref,
	CASE WHEN t.has_spec THEN t.reference END AS reference,
	CASE WHEN t.has_spec THEN t.scheduled END AS scheduled,
	CASE WHEN t.has_spec THEN t.insecure END AS insecure,
	CASE WHEN t.has_spec THEN t.import_mode END AS import_mode,
	CASE WHEN t.has_spec THEN t.reference_policy END AS reference_policy,
	t.spec_generation,
	t.image, t.docker_image_reference,
	imagestream._pull_spec(t) AS pull_spec,
	t.created, t.status_generation,
	coalesce(t.has_spec AND t.from_kind = 'DockerImage' AND NOT t.reference
			 AND t.spec_generation > greatest(coalesce(t.status_generation, 0),
											 coalesce(t.import_generation, 0)), false) AS pending,
	t.import_status, t.import_reason, t.import_message,
	t.history_length
FROM imagestream.tag t
WHERE imagestream._can(t.namespace, 'view');
COMMENT ON VIEW image_stream_tags IS 'oc get istag: one row per spec or status tag';

-- Images held by a stream the caller may view: in a history, or a child of
-- an index that is.
CREATE VIEW images WITH (security_barrier) AS
SELECT i.digest, i.media_type,
	-- the catalogue keeps one pull spec per image, of whichever stream
	-- catalogued it first; a viewer reads one of a stream it may view
	-- (security finding S5)
	CASE WHEN imagestream._privileged() THEN i.docker_image_reference
		 ELSE coalesce(
			(SELECT h.docker_image_reference
			 FROM imagestream._history h JOIN imagestream.tag t ON t.id = h.tag_id
			 WHERE h.image = i.digest AND imagestream._can(t.namespace, 'view')
			 ORDER BY h.created DESC LIMIT 1),
			(SELECT imagestream.ref_with_digest(
						imagestream.ref_name(h.docker_image_reference)::imagestream.image_ref, i.digest)
			 FROM imagestream.image_child c
			 JOIN imagestream._history h ON h.image = c.image
			 JOIN imagestream.tag t ON t.id = h.tag_id
			 WHERE c.digest = i.digest AND imagestream._can(t.namespace, 'view')
			 ORDER BY h.created DESC LIMIT 1)) END AS docker_image_reference,
	i.size, i.os, i.architecture,
	i.variant, i.created, i.labels, i.config,
	coalesce((SELECT array_agg(l.digest ORDER BY l.position) FROM imagestream.image_layer l
			  WHERE l.image = i.digest), '{}') AS layers,
	coalesce((SELECT array_agg(c.digest ORDER BY c.position) FROM imagestream.image_child c
			  WHERE c.image = i.digest), '{}') AS manifests,
	i.imported_at
FROM imagestream.image i
WHERE imagestream._privileged()
   OR EXISTS (SELECT 1 FROM imagestream._history h JOIN imagestream.tag t ON t.id = h.tag_id
			  WHERE h.image = i.digest AND imagestream._can(t.namespace, 'view'))
   OR EXISTS (SELECT 1 FROM imagestream.image_child c
			  JOIN imagestream._history h ON h.image = c.image
			  JOIN imagestream.tag t ON t.id = h.tag_id
			  WHERE c.digest = i.digest AND imagestream._can(t.namespace, 'view'));
COMMENT ON VIEW images IS 'the image catalogue, as far as the caller''s streams hold it';

-- Tag events, of tags the caller may view, with their whole pull spec (the
-- tables under it are the extension's own).
CREATE VIEW history WITH (security_barrier) AS
SELECT h.tag_id, h.seq, h.created, h.docker_image_reference, h.image, h.generation
FROM imagestream._history h JOIN imagestream.tag t ON t.id = h.tag_id
WHERE imagestream._can(t.namespace, 'view');
COMMENT ON VIEW history IS 'tag events (OpenShift TagEvent), newest of a tag by largest seq';
