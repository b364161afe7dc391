-- Views of doc/functions.md, each showing only namespaces the caller may view.
--
-- No base table is readable by ordinary roles (security finding S17): each
-- view reads the rows of a set-returning function, whose body runs as the
-- extension owner and returns only rows of namespaces the caller may view,
-- reading only those namespaces' rows.  The function is the boundary that a
-- caller's conditions are never pushed below.  A security_barrier view is
-- not one: the planner evaluates leakproof conditions (= and < of text,
-- digests, numbers) below its filter, even as index conditions, and EXPLAIN
-- ANALYZE's row counts then told which rows of other namespaces matched
-- (its estimates, from the tables' statistics, could tell too).
--
-- Each function is an API entry (C, src/api_call.c) that notes the caller
-- and runs its PL/pgSQL body, which returns all its rows in that one call.

-- Called by the bodies under their search_path; named by schema all the same.
CREATE OR REPLACE FUNCTION _local_repository(ns text, name text) RETURNS text
LANGUAGE sql STABLE AS $$
	SELECT CASE WHEN pg_catalog.current_setting('imagestream.local_registry', true) OPERATOR(pg_catalog.<>) ''
		THEN pg_catalog.concat_ws('/', pg_catalog.current_setting('imagestream.local_registry', true), ns, name) END
$$;

CREATE OR REPLACE FUNCTION _api__view_image_streams() RETURNS TABLE(namespace text, name text,
	generation bigint, lookup_local boolean, local_repository text, tags text[],
	updated timestamptz, annotations jsonb, docker_image_repository image_ref,
	repository_scheduled boolean)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
#variable_conflict use_column
DECLARE
	ns text[] COLLATE "C" := imagestream._granted_namespaces('view');
BEGIN
	RETURN QUERY
		SELECT s.namespace, s.name, s.generation, s.lookup_local,
			imagestream._local_repository(s.namespace, s.name),
			coalesce((SELECT array_agg(t.name ORDER BY t.name COLLATE "C") FROM imagestream.tag t
					  WHERE t.stream_id = s.id), '{}'),
			(SELECT max(t.created) FROM imagestream.tag t WHERE t.stream_id = s.id),
			s.annotations, r.repository, coalesce(r.scheduled, false)
		FROM imagestream.stream s
		LEFT JOIN imagestream.stream_repository r ON r.stream_id = s.id
		WHERE ns IS NULL OR s.namespace = ANY (ns);
END $$;

CREATE OR REPLACE FUNCTION _view_image_streams() RETURNS TABLE(namespace text, name text,
	generation bigint, lookup_local boolean, local_repository text, tags text[],
	updated timestamptz, annotations jsonb, docker_image_repository image_ref,
	repository_scheduled boolean)
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C STABLE;

-- (new columns go at the end, which CREATE OR REPLACE VIEW allows)
CREATE OR REPLACE VIEW image_streams AS
SELECT s.namespace COLLATE "C" AS namespace, s.name COLLATE "C" AS name, s.generation,
	s.lookup_local, s.local_repository COLLATE "C" AS local_repository,
	s.tags COLLATE "C" AS tags, s.updated, s.annotations, s.docker_image_repository,
	s.repository_scheduled
FROM imagestream._view_image_streams() s;
COMMENT ON VIEW image_streams IS 'oc get is';

CREATE OR REPLACE FUNCTION _api__view_image_stream_tags() RETURNS TABLE(namespace text, stream text,
	tag text, from_kind source_kind, from_ref text, reference boolean, scheduled boolean,
	insecure boolean, import_mode import_mode, reference_policy reference_policy,
	spec_generation bigint, image image_digest, docker_image_reference image_ref,
	pull_spec image_ref, created timestamptz, status_generation bigint, pending boolean,
	import_status text, import_reason text, import_message text, history_length integer,
	annotations jsonb)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
#variable_conflict use_column
DECLARE
	ns text[] COLLATE "C" := imagestream._granted_namespaces('view');
BEGIN
	RETURN QUERY
		SELECT t.namespace, t.stream, t.name,
			CASE WHEN t.has_spec THEN t.from_kind END,
			CASE WHEN t.has_spec THEN t.from_ref END,
			CASE WHEN t.has_spec THEN t.reference END,
			CASE WHEN t.has_spec THEN t.scheduled END,
			CASE WHEN t.has_spec THEN t.insecure END,
			CASE WHEN t.has_spec THEN t.import_mode END,
			CASE WHEN t.has_spec THEN t.reference_policy END,
			t.spec_generation,
			t.image, t.docker_image_reference,
			imagestream._pull_spec(t),
			t.created, t.status_generation,
			coalesce(imagestream._importable(t) AND imagestream._spec_pending(t), false),
			t.import_status, t.import_reason, t.import_message,
			t.history_length,
			CASE WHEN t.has_spec THEN t.annotations END
		FROM imagestream.tag t
		WHERE ns IS NULL OR t.namespace = ANY (ns);
END $$;

CREATE OR REPLACE FUNCTION _view_image_stream_tags() RETURNS TABLE(namespace text, stream text,
	tag text, from_kind source_kind, from_ref text, reference boolean, scheduled boolean,
	insecure boolean, import_mode import_mode, reference_policy reference_policy,
	spec_generation bigint, image image_digest, docker_image_reference image_ref,
	pull_spec image_ref, created timestamptz, status_generation bigint, pending boolean,
	import_status text, import_reason text, import_message text, history_length integer,
	annotations jsonb)
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C STABLE;

CREATE OR REPLACE VIEW image_stream_tags AS
SELECT t.namespace COLLATE "C" AS namespace, t.stream COLLATE "C" AS stream,
	t.tag COLLATE "C" AS tag, t.from_kind, t.from_ref, t.reference, t.scheduled, t.insecure,
	t.import_mode, t.reference_policy, t.spec_generation, t.image, t.docker_image_reference,
	t.pull_spec, t.created, t.status_generation, t.pending, t.import_status, t.import_reason,
	t.import_message, t.history_length, t.annotations
FROM imagestream._view_image_stream_tags() t;
COMMENT ON VIEW image_stream_tags IS 'oc get istag: one row per spec or status tag';

-- Images held by a stream the caller may view: in a history, or a child of
-- an index that is and that the stream verified (_image_visible says the
-- same of one image).  The catalogue keeps one pull spec per image, of
-- whichever stream catalogued it first; a viewer reads that of the newest
-- event of a stream it may view (security finding S5).
CREATE OR REPLACE FUNCTION _api__view_images() RETURNS TABLE(digest image_digest, media_type text,
	docker_image_reference image_ref, size bigint, os text, architecture text, variant text,
	created timestamptz, labels jsonb, config jsonb, layers image_digest[],
	manifests image_digest[], imported_at timestamptz)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
#variable_conflict use_column
DECLARE
	ns text[] COLLATE "C" := imagestream._granted_namespaces('view');
BEGIN
	RETURN QUERY
		SELECT i.digest, i.media_type,
			CASE WHEN ns IS NULL THEN i.docker_image_reference ELSE v.ref END,
			i.size, i.os, i.architecture, i.variant, i.created, i.labels, i.config,
			coalesce((SELECT array_agg(l.digest ORDER BY l.position) FROM imagestream.image_layer l
					  WHERE l.image = i.digest), '{}'),
			coalesce((SELECT array_agg(c.digest ORDER BY c.position) FROM imagestream.image_child c
					  WHERE c.image = i.digest), '{}'),
			i.imported_at
		FROM imagestream.image i
		LEFT JOIN (SELECT DISTINCT ON (x.digest) x.digest, x.ref
				   FROM (SELECT h.image AS digest, h.docker_image_reference AS ref, h.created, 0 AS via
						 FROM imagestream.tag t JOIN imagestream._history h ON h.tag_id = t.id
						 WHERE t.namespace = ANY (ns) AND h.image IS NOT NULL
						 UNION ALL
						 -- a platform image: its index's repository
						 SELECT c.digest, imagestream.ref_with_digest(
								imagestream.ref_name(h.docker_image_reference)::imagestream.image_ref, c.digest),
							h.created, 1
						 FROM imagestream.tag t JOIN imagestream._history h ON h.tag_id = t.id
						 JOIN imagestream.image_child c ON c.image = h.image
						 JOIN imagestream.held_child p ON p.stream_id = t.stream_id AND p.digest = c.digest
						 WHERE t.namespace = ANY (ns)) x
				   ORDER BY x.digest, x.via, x.created DESC) v ON v.digest = i.digest
		WHERE ns IS NULL OR v.digest IS NOT NULL;
END $$;

CREATE OR REPLACE FUNCTION _view_images() RETURNS TABLE(digest image_digest, media_type text,
	docker_image_reference image_ref, size bigint, os text, architecture text, variant text,
	created timestamptz, labels jsonb, config jsonb, layers image_digest[],
	manifests image_digest[], imported_at timestamptz)
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C STABLE;

CREATE OR REPLACE VIEW images AS
SELECT i.digest, i.media_type, i.docker_image_reference, i.size, i.os, i.architecture,
	i.variant, i.created, i.labels, i.config, i.layers, i.manifests, i.imported_at
FROM imagestream._view_images() i;
COMMENT ON VIEW images IS 'the image catalogue, as far as the caller''s streams hold it';

-- Tag events, of tags the caller may view, with their whole pull spec.
CREATE OR REPLACE FUNCTION _api__view_history() RETURNS TABLE(tag_id integer, seq integer,
	created timestamptz, docker_image_reference image_ref, image image_digest, generation bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
#variable_conflict use_column
DECLARE
	ns text[] COLLATE "C" := imagestream._granted_namespaces('view');
BEGIN
	RETURN QUERY
		SELECT h.tag_id, h.seq, h.created, h.docker_image_reference, h.image, h.generation
		FROM imagestream.tag t JOIN imagestream._history h ON h.tag_id = t.id
		WHERE ns IS NULL OR t.namespace = ANY (ns);
END $$;

CREATE OR REPLACE FUNCTION _view_history() RETURNS TABLE(tag_id integer, seq integer,
	created timestamptz, docker_image_reference image_ref, image image_digest, generation bigint)
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C STABLE;

CREATE OR REPLACE VIEW history AS
SELECT h.tag_id, h.seq, h.created, h.docker_image_reference, h.image, h.generation
FROM imagestream._view_history() h;
COMMENT ON VIEW history IS 'tag events (OpenShift TagEvent), newest of a tag by largest seq';

-- The grants of the namespaces the caller administers.
CREATE OR REPLACE FUNCTION _api__view_namespace_grants() RETURNS TABLE(namespace text, grantee regrole,
	level text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
#variable_conflict use_column
DECLARE
	ns text[] COLLATE "C" := imagestream._granted_namespaces('admin');
BEGIN
	RETURN QUERY
		SELECT g.namespace, g.grantee, g.level FROM imagestream.namespace_grant g
		WHERE ns IS NULL OR g.namespace = ANY (ns);
END $$;

CREATE OR REPLACE FUNCTION _view_namespace_grants() RETURNS TABLE(namespace text, grantee regrole,
	level text)
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C STABLE;

CREATE OR REPLACE VIEW namespace_grants AS
SELECT g.namespace COLLATE "C" AS namespace, g.grantee, g.level
FROM imagestream._view_namespace_grants() g;
COMMENT ON VIEW namespace_grants IS 'the grants of the namespaces the caller administers';

-- Registry credentials without their secret: those of the namespaces the
-- caller administers; the privileged also see the server-wide ones
-- (namespace NULL).
CREATE OR REPLACE FUNCTION _api__view_registry_credentials() RETURNS TABLE(registry text,
	namespace text, username text, updated_at timestamptz)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
#variable_conflict use_column
DECLARE
	ns text[] COLLATE "C" := imagestream._granted_namespaces('admin');
BEGIN
	RETURN QUERY
		SELECT c.registry, nullif(c.namespace, ''), c.username, c.updated_at
		FROM imagestream.registry_credential c
		WHERE ns IS NULL OR c.namespace = ANY (ns);
END $$;

CREATE OR REPLACE FUNCTION _view_registry_credentials() RETURNS TABLE(registry text,
	namespace text, username text, updated_at timestamptz)
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C STABLE;

CREATE OR REPLACE VIEW registry_credentials AS
SELECT c.registry COLLATE "C" AS registry, c.namespace COLLATE "C" AS namespace, c.username,
	c.updated_at
FROM imagestream._view_registry_credentials() c;
COMMENT ON VIEW registry_credentials IS 'registry pull credentials, without their secret, of the namespaces the caller administers';

-- Tag policies (doc/policies.md) of the namespaces the caller may view,
-- with the outcome of their last listing.
CREATE OR REPLACE FUNCTION _api__view_tag_policies() RETURNS TABLE(namespace text, stream text,
	tag text, repository image_ref, semver text, ordering text, pattern text, "extract" text,
	winner text, listed_at timestamptz, list_status text, list_message text, insecure boolean,
	list_reason text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
#variable_conflict use_column
DECLARE
	ns text[] COLLATE "C" := imagestream._granted_namespaces('view');
BEGIN
	RETURN QUERY
		SELECT l.namespace, s.name, p.tag, l.repository, p.semver, p.ordering, p.pattern,
			p.extract, p.winner, r.listed_at, p.list_status, p.list_message, l.insecure,
			p.list_reason
		FROM imagestream.tag_policy p
		JOIN imagestream.stream s ON s.id = p.stream_id
		JOIN imagestream.policy_listing l ON l.id = p.listing_id
		LEFT JOIN imagestream.policy_listing_run r ON r.listing_id = l.id
		WHERE ns IS NULL OR l.namespace = ANY (ns);
END $$;

CREATE OR REPLACE FUNCTION _view_tag_policies() RETURNS TABLE(namespace text, stream text,
	tag text, repository image_ref, semver text, ordering text, pattern text, "extract" text,
	winner text, listed_at timestamptz, list_status text, list_message text, insecure boolean,
	list_reason text)
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C STABLE;

CREATE OR REPLACE VIEW tag_policies AS
SELECT p.namespace COLLATE "C" AS namespace, p.stream COLLATE "C" AS stream,
	p.tag COLLATE "C" AS tag, p.repository, p.semver, p.ordering, p.pattern, p.extract,
	p.winner COLLATE "C" AS winner, p.listed_at, p.list_status, p.list_message, p.insecure,
	p.list_reason
FROM imagestream._view_tag_policies() p;
COMMENT ON VIEW tag_policies IS 'the policies tags follow (Flux ImagePolicy), with their last listing';

-- Trusted keys (275_trusted_keys.sql) without the PEM: the server-wide ones
-- (namespace NULL) for every role, a namespace's to the roles that may view it.
CREATE OR REPLACE FUNCTION _api__view_trusted_keys() RETURNS TABLE(name text, namespace text,
	algorithm text, fingerprint text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
#variable_conflict use_column
DECLARE
	ns text[] COLLATE "C" := imagestream._granted_namespaces('view');
BEGIN
	RETURN QUERY
		SELECT k.name, nullif(k.namespace, ''), k.algorithm, k.fingerprint
		FROM imagestream.trusted_key k
		WHERE ns IS NULL OR k.namespace = '' OR k.namespace = ANY (ns);
END $$;

CREATE OR REPLACE FUNCTION _view_trusted_keys() RETURNS TABLE(name text, namespace text,
	algorithm text, fingerprint text)
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C STABLE;

CREATE OR REPLACE VIEW trusted_keys AS
SELECT k.name COLLATE "C" AS name, k.namespace COLLATE "C" AS namespace, k.algorithm, k.fingerprint
FROM imagestream._view_trusted_keys() k;
COMMENT ON VIEW trusted_keys IS 'the keys whose signatures the gates accept: server-wide ones, and those of the namespaces the caller may view';
