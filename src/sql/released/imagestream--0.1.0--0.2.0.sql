-- imagestream 0.1.0 -> 0.2.0
--
-- Rights are those of the role that calls an API function, not of the role
-- outside every SECURITY DEFINER function (finding S6, doc/security.md).
-- Each such function F becomes a C entry that notes its caller and runs the
-- body _api_F.  The bodies keep the 0.1.0 functions (renamed, so that their
-- privileges can be carried over to the entries) with the new text.
-- _log_change reads the new setting imagestream.notify_payload (finding S12).
-- The worker and import_image(all_tags) record a stream's tags together
-- (_record_imports, _worker_apply_many), and _notify_change, which they and
-- _log_change use, sends the NOTIFY.  _prioritize_tags ranks each tag once.
-- History is kept in two tables with 4-byte keys (bytes per event, issue 6).

\echo Use "ALTER EXTENSION imagestream UPDATE TO '0.2.0'" to load this file. \quit

ALTER FUNCTION _calling_role() PARALLEL RESTRICTED;
ALTER FUNCTION _privileged() PARALLEL RESTRICTED;
ALTER FUNCTION _can(text, text) PARALLEL RESTRICTED;

ALTER FUNCTION grant_namespace(text, regrole, text) RENAME TO _api_grant_namespace;
COMMENT ON FUNCTION _api_grant_namespace(text, regrole, text) IS NULL;
ALTER FUNCTION revoke_namespace(text, regrole) RENAME TO _api_revoke_namespace;
COMMENT ON FUNCTION _api_revoke_namespace(text, regrole) IS NULL;
ALTER FUNCTION changes_since(bigint, integer) RENAME TO _api_changes_since;
COMMENT ON FUNCTION _api_changes_since(bigint, integer) IS NULL;
ALTER FUNCTION create_stream(text, boolean, jsonb, boolean) RENAME TO _api_create_stream;
COMMENT ON FUNCTION _api_create_stream(text, boolean, jsonb, boolean) IS NULL;
ALTER FUNCTION delete_stream(text) RENAME TO _api_delete_stream;
COMMENT ON FUNCTION _api_delete_stream(text) IS NULL;
ALTER FUNCTION set_lookup_local(text, boolean) RENAME TO _api_set_lookup_local;
COMMENT ON FUNCTION _api_set_lookup_local(text, boolean) IS NULL;
ALTER FUNCTION tag(text, text, source_kind, boolean, boolean, boolean, boolean, reference_policy, import_mode) RENAME TO _api_tag;
COMMENT ON FUNCTION _api_tag(text, text, source_kind, boolean, boolean, boolean, boolean, reference_policy, import_mode) IS NULL;
ALTER FUNCTION untag(text) RENAME TO _api_untag;
COMMENT ON FUNCTION _api_untag(text) IS NULL;
ALTER FUNCTION map_image(text, image_ref, image_digest, bytea, text) RENAME TO _api_map_image;
COMMENT ON FUNCTION _api_map_image(text, image_ref, image_digest, bytea, text) IS NULL;
ALTER FUNCTION resolve_image(text, text) RENAME TO _api_resolve_image;
COMMENT ON FUNCTION _api_resolve_image(text, text) IS NULL;
ALTER FUNCTION history(text) RENAME TO _api_history;
COMMENT ON FUNCTION _api_history(text) IS NULL;
ALTER FUNCTION image(text) RENAME TO _api_image;
COMMENT ON FUNCTION _api_image(text) IS NULL;
ALTER FUNCTION rollback(text, text, integer) RENAME TO _api_rollback;
COMMENT ON FUNCTION _api_rollback(text, text, integer) IS NULL;
ALTER FUNCTION prune(integer, interval, boolean) RENAME TO _api_prune;
COMMENT ON FUNCTION _api_prune(integer, interval, boolean) IS NULL;
ALTER FUNCTION describe(text) RENAME TO _api_describe;
COMMENT ON FUNCTION _api_describe(text) IS NULL;
ALTER FUNCTION set_registry_credentials(text, text, text) RENAME TO _api_set_registry_credentials;
COMMENT ON FUNCTION _api_set_registry_credentials(text, text, text) IS NULL;
ALTER FUNCTION drop_registry_credentials(text) RENAME TO _api_drop_registry_credentials;
COMMENT ON FUNCTION _api_drop_registry_credentials(text) IS NULL;
ALTER FUNCTION import_image(text, text, boolean, boolean, boolean, reference_policy, import_mode, boolean) RENAME TO _api_import_image;
COMMENT ON FUNCTION _api_import_image(text, text, boolean, boolean, boolean, reference_policy, import_mode, boolean) IS NULL;
ALTER FUNCTION import_now(text) RENAME TO _api_import_now;
COMMENT ON FUNCTION _api_import_now(text) IS NULL;
ALTER FUNCTION check_invariants() RENAME TO _api_check_invariants;
COMMENT ON FUNCTION _api_check_invariants() IS NULL;

CREATE OR REPLACE FUNCTION _api_revoke_namespace(namespace text, grantee regrole) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
BEGIN
	PERFORM imagestream._check_names(namespace, 'namespace', namespace, 'x');
	PERFORM imagestream._require(namespace, 'admin');
	DELETE FROM imagestream.namespace_grant g
		WHERE g.namespace = _api_revoke_namespace.namespace AND g.grantee = _api_revoke_namespace.grantee;
END $$;

CREATE OR REPLACE FUNCTION _api_create_stream(stream text, lookup_local boolean DEFAULT false,
	annotations jsonb DEFAULT '{}', if_not_exists boolean DEFAULT false)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
DECLARE
	n record := imagestream._parse_stream(stream);
BEGIN
	PERFORM imagestream._require(n.namespace, 'edit');
	IF annotations IS NULL OR jsonb_typeof(annotations) <> 'object' THEN
		RAISE EXCEPTION 'annotations must be a JSON object'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	INSERT INTO imagestream.stream (namespace, name, lookup_local, annotations)
	VALUES (n.namespace, n.name, coalesce(lookup_local, false), annotations)
	ON CONFLICT ON CONSTRAINT stream_namespace_name_key DO NOTHING;
	IF NOT FOUND AND NOT coalesce(if_not_exists, false) THEN
		RAISE EXCEPTION 'image stream "%" already exists', _api_create_stream.stream
			USING ERRCODE = 'duplicate_object';
	END IF;
END $$;

CREATE OR REPLACE FUNCTION _api_resolve_image(namespace text, image text) RETURNS image_ref
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
DECLARE
	m text[];
	t imagestream.tag;
	found record;
BEGIN
	PERFORM imagestream._check_names(namespace, 'namespace', namespace, 'x');
	PERFORM imagestream._require(namespace, 'view');
	m := regexp_match(image, '^([a-z0-9]+(?:[._-][a-z0-9]+)*)(?::([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})|@((?:sha256|sha512):[0-9a-f]+))?$');
	IF m IS NOT NULL AND EXISTS (SELECT 1 FROM imagestream.stream s
								 WHERE s.namespace = _api_resolve_image.namespace
								   AND s.name = m[1] AND s.lookup_local) THEN
		IF m[3] IS NOT NULL THEN
			BEGIN
				found := imagestream._resolve_image_id(namespace, m[1], m[3]);
				RETURN imagestream.ref_with_digest(
					imagestream.ref_name(found.docker_image_reference)::imagestream.image_ref, found.image);
			EXCEPTION WHEN undefined_object OR cardinality_violation THEN
				NULL;		-- not an image of the stream: fall through
			END;
		ELSE
			SELECT * INTO t FROM imagestream.tag x
			WHERE x.namespace = _api_resolve_image.namespace AND x.stream = m[1]
			  AND x.name = coalesce(m[2], 'latest');
			IF t.docker_image_reference IS NOT NULL THEN
				RETURN imagestream._pull_spec(t);
			END IF;
		END IF;
	END IF;
	RETURN image::imagestream.image_ref;
END $$;

CREATE OR REPLACE FUNCTION _api_history(tag text) RETURNS SETOF tag_event
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
DECLARE
	d record := imagestream._parse_tag(tag);
	t_id bigint;
BEGIN
	PERFORM imagestream._require(d.namespace, 'view');
	SELECT id INTO t_id FROM imagestream.tag
	WHERE namespace = d.namespace AND stream = d.stream AND name = d.tag;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'image stream tag "%" does not exist', _api_history.tag
			USING ERRCODE = 'undefined_object';
	END IF;
	RETURN QUERY
		SELECT (row_number() OVER (ORDER BY h.seq DESC) - 1)::integer, h.created,
			h.docker_image_reference, h.image, h.generation, imagestream._platforms(h.image)
		FROM imagestream._history h WHERE h.tag_id = t_id
		ORDER BY h.seq DESC;
END $$;

CREATE OR REPLACE FUNCTION _api_rollback(tag text, to_image text DEFAULT NULL, steps integer DEFAULT 1)
RETURNS tag_event LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
DECLARE
	d record := imagestream._parse_tag(tag);
	s imagestream.stream;
	t imagestream.tag;
	target imagestream._history;
	result imagestream.tag_event;
BEGIN
	PERFORM imagestream._require(d.namespace, 'edit');
	s := imagestream._lock_stream(d.namespace, d.stream);
	t := imagestream._lock_tag(s, d.tag);
	IF to_image IS NOT NULL THEN
		IF to_image !~ '^((sha256|sha512):)?[0-9a-f]{7,128}$' THEN
			RAISE EXCEPTION 'invalid image "%"', to_image
				USING ERRCODE = 'invalid_parameter_value',
					DETAIL = 'Give a digest or a prefix of its lowercase hex digits, at least 7 long.';
		END IF;
		IF (SELECT count(DISTINCT h.image) FROM imagestream._history h
			WHERE h.tag_id = t.id AND imagestream.digest_has_prefix(h.image, to_image)) > 1 THEN
			RAISE EXCEPTION 'more than one image in the history of "%" matches "%"', _api_rollback.tag, to_image
				USING ERRCODE = 'cardinality_violation', HINT = 'Give more digits of the digest.';
		END IF;
		SELECT * INTO target FROM imagestream._history h
		WHERE h.tag_id = t.id AND imagestream.digest_has_prefix(h.image, to_image)
		ORDER BY h.seq DESC LIMIT 1;
		IF NOT FOUND THEN
			RAISE EXCEPTION 'image "%" is not in the history of "%"', to_image, _api_rollback.tag
				USING ERRCODE = 'undefined_object';
		END IF;
	ELSE
		IF steps IS NULL OR steps < 1 THEN
			RAISE EXCEPTION 'steps must be 1 or more' USING ERRCODE = 'invalid_parameter_value';
		END IF;
		SELECT * INTO target FROM imagestream._history h
		WHERE h.tag_id = t.id ORDER BY h.seq DESC OFFSET steps LIMIT 1;
		IF NOT FOUND THEN
			RAISE EXCEPTION 'the history of "%" has no event % steps back', _api_rollback.tag, steps
				USING ERRCODE = 'invalid_parameter_value',
					DETAIL = format('It holds %s events.', t.history_length);
		END IF;
		IF target.image IS NULL THEN
			RAISE EXCEPTION 'the event % steps back has no image to roll back to', steps
				USING ERRCODE = 'invalid_parameter_value',
					DETAIL = format('It is a reference to %s only.', target.docker_image_reference);
		END IF;
	END IF;

	-- as "oc tag stream@digest stream:tag": pin the spec, record a new event
	PERFORM imagestream._set_spec(s, d.tag, 'ImageStreamImage',
		format('%s/%s@%s', s.namespace, s.name, target.image), t.reference, false, false,
		t.import_mode, t.reference_policy, '{}');
	-- the stream's generation now: the spec's when the pin moved, and never
	-- below an event pushed since an earlier rollback to the same image
	PERFORM imagestream._add_event(t.id, target.docker_image_reference, target.image,
		(SELECT x.generation FROM imagestream.stream x WHERE x.id = s.id));
	SELECT * INTO result FROM imagestream.history(_api_rollback.tag) LIMIT 1;
	RETURN result;
END $$;

CREATE OR REPLACE FUNCTION _api_describe(stream text) RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
DECLARE
	n record := imagestream._parse_stream(stream);
	s imagestream.stream;
	out text;
	t imagestream.tag;
	h imagestream._history;
	names text[];
	hidden jsonb := '{}';
	target text;
	local_registry text := nullif(current_setting('imagestream.local_registry', true), '');
	first boolean := true;
	i integer;
	k text;
	v text;
BEGIN
	PERFORM imagestream._require(n.namespace, 'view');
	SELECT * INTO s FROM imagestream.stream WHERE namespace = n.namespace AND name = n.name;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'image stream "%" does not exist', _api_describe.stream
			USING ERRCODE = 'undefined_object';
	END IF;

	-- the header block: oc's tabwriter pads its first column to 24
	out := format(E'Name:\t\t\t%s\nNamespace:\t\t%s\nCreated:\t\t%s ago\nLabels:\t\t\t<none>\n',
				  s.name, s.namespace, imagestream._human_duration(now() - s.created_at));
	i := 0;
	FOR k, v IN SELECT key, value FROM jsonb_each_text(s.annotations) ORDER BY key COLLATE "C" LOOP
		out := out || CASE WHEN i = 0 THEN E'Annotations:\t\t' ELSE E'\t\t\t' END || k || '=' || v || E'\n';
		i := i + 1;
	END LOOP;
	IF i = 0 THEN
		out := out || E'Annotations:\t\t<none>\n';
	END IF;
	out := out || format(E'Image Repository:\t%s\nImage Lookup:\t\tlocal=%s\n',
		coalesce(local_registry || '/' || s.namespace || '/' || s.name, '<none>'), s.lookup_local);

	SELECT array_agg(x.name) INTO names FROM imagestream.tag x WHERE x.stream_id = s.id;
	IF names IS NULL THEN
		RETURN out || E'Tags:\t\t\t<none>\n';
	END IF;
	out := out || format(E'Unique Images:\t\t%s\nTags:\t\t\t%s\n\n',
		(SELECT count(DISTINCT coalesce(hh.image::text, '')) FROM imagestream._history hh
		 JOIN imagestream.tag x ON x.id = hh.tag_id WHERE x.stream_id = s.id),
		cardinality(names));

	-- aliases that end at another spec tag are listed with it, not alone
	FOR t IN SELECT * FROM imagestream.tag x WHERE x.stream_id = s.id LOOP
		target := imagestream._alias_target(t);
		IF target IS NOT NULL THEN
			hidden := jsonb_set(hidden, ARRAY[target],
				coalesce(hidden->target, '[]') || to_jsonb(t.name));
		END IF;
	END LOOP;

	FOR t IN SELECT x.* FROM unnest(imagestream._prioritize_tags(names)) WITH ORDINALITY AS o(name, ord)
			 JOIN imagestream.tag x ON x.stream_id = s.id AND x.name = o.name
			 ORDER BY o.ord LOOP
		CONTINUE WHEN EXISTS (SELECT 1 FROM jsonb_each(hidden) e
							  WHERE e.value ? t.name);
		IF NOT first THEN
			out := out || E'\n';
		END IF;
		first := false;
		out := out || t.name || CASE WHEN hidden ? t.name
			THEN ' (' || array_to_string(imagestream._prioritize_tags(
				ARRAY(SELECT jsonb_array_elements_text(hidden->t.name))), ', ') || ')'
			ELSE '' END || E'\n';
		out := out || CASE
			WHEN NOT t.has_spec THEN E'  no spec tag\n'
			WHEN t.from_kind = 'ImageStreamTag' THEN
				format(CASE WHEN t.reference THEN E'  reference to %s\n' ELSE E'  tagged from %s\n' END,
					   imagestream._from_display(t))
			WHEN t.from_kind = 'DockerImage' THEN
				format(CASE WHEN t.reference THEN E'  reference to registry %s\n'
							WHEN t.scheduled THEN E'  updates automatically from registry %s\n'
							ELSE E'  tagged from %s\n' END, t.from_ref)
			ELSE format(CASE WHEN t.reference THEN E'  reference to image %s\n' ELSE E'  tagged from %s\n' END,
						imagestream._from_display(t))
		END;
		IF t.has_spec AND t.insecure THEN
			out := out || E'    will use insecure HTTPS or HTTP connections\n';
		END IF;
		IF t.has_spec AND t.reference_policy = 'Local' THEN
			out := out || E'    prefer registry pullthrough when referencing this tag\n';
		END IF;
		out := out || E'\n';
		IF t.has_spec AND NOT t.reference
		   AND t.spec_generation > greatest(coalesce(t.status_generation, 0), coalesce(t.import_generation, 0)) THEN
			out := out || E'  ~ importing latest image ...\n';
		END IF;
		IF t.import_status = 'False' THEN
			out := out || format(E'  ! error: Import failed (%s): %s\n      %s ago\n',
				t.import_reason, t.import_message, imagestream._human_duration(now() - t.import_transition));
		END IF;
		i := 0;
		FOR h IN SELECT * FROM imagestream._history x WHERE x.tag_id = t.id ORDER BY x.seq DESC LOOP
			out := out || CASE WHEN i = 0 THEN '  * ' ELSE '    ' END || h.docker_image_reference::text || E'\n';
			out := out || '      ' || imagestream._human_duration(now() - h.created) || ' ago'
				|| CASE WHEN h.image IS NOT NULL
						 AND imagestream.ref_digest(h.docker_image_reference) IS DISTINCT FROM h.image
						THEN E'\t' || h.image::text ELSE '' END || E'\n';
			i := i + 1;
		END LOOP;
	END LOOP;
	RETURN out;
END $$;

CREATE OR REPLACE FUNCTION _api_drop_registry_credentials(registry text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
BEGIN
	PERFORM imagestream._require_privileged('drop registry credentials');
	DELETE FROM imagestream.registry_credential c WHERE c.registry = _api_drop_registry_credentials.registry;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'no credentials for registry "%"', registry USING ERRCODE = 'undefined_object';
	END IF;
END $$;

CREATE FUNCTION grant_namespace(namespace text, grantee regrole, level text) RETURNS void
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C;
COMMENT ON FUNCTION grant_namespace(text, regrole, text) IS 'give a role view, edit or admin rights on a namespace';

CREATE FUNCTION revoke_namespace(namespace text, grantee regrole) RETURNS void
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C;
COMMENT ON FUNCTION revoke_namespace(text, regrole) IS 'take back a role''s rights on a namespace';

CREATE FUNCTION changes_since(after_id bigint, max_rows integer DEFAULT 1000)
RETURNS SETOF change
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C STABLE;
COMMENT ON FUNCTION changes_since(bigint, integer) IS 'changes after the given id, oldest first, in namespaces the caller may view';

CREATE FUNCTION create_stream(stream text, lookup_local boolean DEFAULT false,
	annotations jsonb DEFAULT '{}', if_not_exists boolean DEFAULT false)
RETURNS void
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C;
COMMENT ON FUNCTION create_stream(text, boolean, jsonb, boolean) IS 'create an image stream "namespace/name"';

CREATE FUNCTION delete_stream(stream text) RETURNS void
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C;
COMMENT ON FUNCTION delete_stream(text) IS 'remove an image stream with its spec and status tags';

CREATE FUNCTION set_lookup_local(stream text, enabled boolean) RETURNS void
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C;
COMMENT ON FUNCTION set_lookup_local(text, boolean) IS 'oc set image-lookup: let short names in the namespace resolve to this stream';

CREATE FUNCTION tag(source text, destination text, source_kind source_kind DEFAULT NULL,
	alias boolean DEFAULT false, reference boolean DEFAULT false,
	scheduled boolean DEFAULT false, insecure boolean DEFAULT false,
	reference_policy reference_policy DEFAULT 'Source',
	import_mode import_mode DEFAULT 'Legacy')
RETURNS void
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C;
COMMENT ON FUNCTION tag(text, text, source_kind, boolean, boolean, boolean, boolean, reference_policy, import_mode)
	IS 'oc tag: point a tag at a container image, a tag or an image of a stream';

CREATE FUNCTION untag(tag text) RETURNS void
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C;
COMMENT ON FUNCTION untag(text) IS 'oc tag -d: remove a tag''s spec and status';

CREATE FUNCTION map_image(tag text, docker_image_reference image_ref,
	image image_digest DEFAULT NULL, manifest bytea DEFAULT NULL, media_type text DEFAULT NULL)
RETURNS void
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C;
COMMENT ON FUNCTION map_image(text, image_ref, image_digest, bytea, text) IS 'OpenShift ImageStreamMapping: record a pushed image as a tag''s current image';

CREATE FUNCTION resolve_image(namespace text, image text) RETURNS image_ref
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C STABLE;
COMMENT ON FUNCTION resolve_image(text, text) IS 'resolve a short image name through streams with local lookup in a namespace';

CREATE FUNCTION history(tag text) RETURNS SETOF tag_event
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C STABLE;
COMMENT ON FUNCTION history(text) IS 'the events of a tag, newest (position 0, current) first';

CREATE FUNCTION image(stream_image text) RETURNS jsonb
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C STABLE;
COMMENT ON FUNCTION image(text) IS 'OpenShift ImageStreamImage: metadata of an image held by a stream';

CREATE FUNCTION rollback(tag text, to_image text DEFAULT NULL, steps integer DEFAULT 1)
RETURNS tag_event
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C;
COMMENT ON FUNCTION rollback(text, text, integer) IS 'point a tag back at an earlier image of its history and pin it there';

CREATE FUNCTION prune(keep_tag_revisions integer DEFAULT 3,
	keep_younger_than interval DEFAULT '60 minutes', confirm boolean DEFAULT false)
RETURNS TABLE(action text, stream text, tag text, image image_digest)
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C;
COMMENT ON FUNCTION prune(integer, interval, boolean) IS 'oc adm prune images: drop old history events and unreferenced images (a dry run unless confirm)';

CREATE FUNCTION describe(stream text) RETURNS text
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C STABLE;
COMMENT ON FUNCTION describe(text) IS 'oc describe is: a readable report of a stream and its tags';

CREATE FUNCTION set_registry_credentials(registry text, username text, secret text)
RETURNS void
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C;
COMMENT ON FUNCTION set_registry_credentials(text, text, text) IS 'pull credentials for a registry host or host/path prefix (the longest match wins)';

CREATE FUNCTION drop_registry_credentials(registry text) RETURNS void
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C;
COMMENT ON FUNCTION drop_registry_credentials(text) IS 'forget the pull credentials of a registry';

CREATE FUNCTION import_image(destination text, from_image text DEFAULT NULL,
	all_tags boolean DEFAULT false, scheduled boolean DEFAULT NULL,
	insecure boolean DEFAULT NULL, reference_policy reference_policy DEFAULT NULL,
	import_mode import_mode DEFAULT NULL, dry_run boolean DEFAULT false)
RETURNS TABLE(tag text, status text, image image_digest, docker_image_reference image_ref,
	reason text, message text)
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C;
COMMENT ON FUNCTION import_image(text, text, boolean, boolean, boolean, reference_policy, import_mode, boolean)
	IS 'oc import-image: import a tag, or every tag of a repository, from its registry now';

CREATE FUNCTION import_now(target text DEFAULT NULL) RETURNS integer
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C;
COMMENT ON FUNCTION import_now(text) IS 'ask the worker to import a tag, a stream''s tags, or every scheduled tag, now (for registry webhooks)';

CREATE FUNCTION check_invariants() RETURNS TABLE(invariant text, object text, detail text)
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C STABLE;
COMMENT ON FUNCTION check_invariants() IS 'the model''s invariants: one row per violation, none when sound';

-- Announces a row of the change log (at commit).
CREATE FUNCTION _notify_change(c change) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	payload jsonb;
BEGIN
	-- imagestream.notify_payload = id: any role may LISTEN, so a DBA can
	-- send the id alone and let listeners read the change with their rights
	IF current_setting('imagestream.notify_payload', true) = 'id' THEN
		payload := jsonb_build_object('id', c.id);
	ELSE
		payload := jsonb_strip_nulls(jsonb_build_object(
			'id', c.id, 'at', c.at, 'event', c.event, 'namespace', c.namespace,
			'stream', c.stream, 'tag', c.tag, 'image', c.image::text,
			'previous_image', c.previous_image::text,
			'docker_image_reference', c.docker_image_reference::text,
			'generation', c.generation, 'reason', c.reason, 'message', c.message));
	END IF;
	IF octet_length(payload::text) > imagestream._notify_payload_limit() THEN
		payload := payload - 'docker_image_reference' - 'message' - 'reason'
			|| '{"truncated": true}';
	END IF;
	PERFORM pg_notify(coalesce(nullif(current_setting('imagestream.notify_channel', true), ''),
							   'imagestream'),
					  payload::text);
END $$;

CREATE OR REPLACE FUNCTION _log_change(event text, ns text, stream text, tag text,
	image image_digest, previous_image image_digest, ref image_ref,
	generation bigint, reason text DEFAULT NULL, message text DEFAULT NULL)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	c imagestream.change;
BEGIN
	-- Writers queue here until commit, so ids are dense and in commit order.
	LOCK TABLE imagestream.change IN SHARE ROW EXCLUSIVE MODE;
	SELECT coalesce(max(x.id), 0) + 1 INTO c.id FROM imagestream.change x;
	INSERT INTO imagestream.change
		VALUES (c.id, now(), event, ns, stream, tag, image, previous_image, ref,
				generation, reason, message)
		RETURNING * INTO c;
	PERFORM imagestream._notify_change(c);
	RETURN c.id;
END $$;

-- _record_import for many tags of a stream at once, set-based, in the order
-- given (import_image of all tags, the worker's chunk of a stream): the
-- same rows written, with one write of each tag row, and the change rows
-- and their NOTIFYs together.  p_stream is locked; p_generation is the
-- generation it moves to.  p_clear_requested also clears
-- import_requested_at (the worker).  Returns the positions of the tags it
-- leaves to _record_import: tags that other tags follow (their followers
-- move with them, _add_event), and names given twice.
CREATE FUNCTION _record_imports(p_stream imagestream.stream, p_generation bigint,
	p_tags text[], p_sources text[], p_refs image_ref[], p_images image_digest[],
	p_source_digests image_digest[], p_scheduled boolean[], p_insecure boolean[],
	p_modes import_mode[], p_policies reference_policy[], p_clear_requested boolean DEFAULT false)
RETURNS SETOF integer LANGUAGE plpgsql AS $$
DECLARE
	alone integer[];
	-- per tag recorded here, by its position (pos) in the arrays given:
	-- what _record_import and _add_event would do, decided before any write
	pos integer[];
	ids bigint[];
	events text[];				-- insert, overwrite, none (no new event); NULL: not changed
	options boolean[];			-- not changed, but scheduled, insecure or the mode differ
	createds timestamptz[];		-- of the history head
	seqs integer[];
	refids integer[];			-- history_ref of the events written
	previous imagestream.image_digest[];
	logged boolean[];
	base bigint;
	c imagestream.change;
BEGIN
	-- the new tags, in the order given (the stream is locked: no one else adds them)
	INSERT INTO imagestream.tag (stream_id, namespace, stream, name)
	SELECT p_stream.id, p_stream.namespace, p_stream.name, u.name
	FROM unnest(p_tags) WITH ORDINALITY AS u(name, n)
	WHERE NOT EXISTS (SELECT 1 FROM imagestream.tag t WHERE t.namespace = p_stream.namespace
					  AND t.stream = p_stream.name AND t.name = u.name)
	GROUP BY u.name
	ORDER BY min(u.n);
	PERFORM 1 FROM imagestream.tag t
	WHERE t.namespace = p_stream.namespace AND t.stream = p_stream.name AND t.name = ANY (p_tags)
	ORDER BY t.id FOR UPDATE;

	SELECT coalesce(array_agg(y.n ORDER BY y.n) FILTER (WHERE y.alone), '{}'),
		   array_agg(y.n ORDER BY y.n) FILTER (WHERE NOT y.alone),
		   array_agg(y.id ORDER BY y.n) FILTER (WHERE NOT y.alone),
		   array_agg(CASE WHEN NOT y.changed THEN NULL
						  WHEN y.seq IS NOT NULL AND y.same_ref AND y.same_image
							   AND y.head_generation = p_generation THEN 'none'
						  WHEN y.seq IS NOT NULL AND (y.same_ref OR y.same_image) THEN 'overwrite'
						  ELSE 'insert' END ORDER BY y.n) FILTER (WHERE NOT y.alone),
		   array_agg(NOT y.changed AND (y.t_scheduled <> y.scheduled OR y.t_insecure <> y.insecure
										OR y.t_mode <> y.mode) ORDER BY y.n) FILTER (WHERE NOT y.alone),
		   array_agg(y.head_created ORDER BY y.n) FILTER (WHERE NOT y.alone),
		   array_agg(y.seq ORDER BY y.n) FILTER (WHERE NOT y.alone),
		   array_agg(y.head_image ORDER BY y.n) FILTER (WHERE NOT y.alone),
		   array_agg(y.changed AND NOT (y.seq IS NOT NULL AND y.same_ref AND y.same_image)
					 ORDER BY y.n) FILTER (WHERE NOT y.alone)
	INTO alone, pos, ids, events, options, createds, seqs, previous, logged
	FROM (SELECT z.*, coalesce(z.head_ref = z.ref, false) AS same_ref,
				 z.head_image IS NOT DISTINCT FROM z.image AS same_image,
				 coalesce(z.history_length = 0 OR z.t_ref <> z.ref OR z.t_image IS DISTINCT FROM z.image
						  OR NOT z.has_spec OR z.spec_generation > coalesce(z.status_generation, 0),
						  false) AS changed
		  FROM (SELECT u.n::integer AS n, u.ref, u.image, u.scheduled, u.insecure, u.mode,
					   t.id, t.has_spec, t.history_length, t.spec_generation, t.status_generation,
					   t.docker_image_reference AS t_ref, t.image AS t_image,
					   t.scheduled AS t_scheduled, t.insecure AS t_insecure, t.import_mode AS t_mode,
					   count(*) OVER (PARTITION BY u.name) > 1
					   OR EXISTS (SELECT 1 FROM imagestream.tag x
								  WHERE x.stream_id = t.stream_id AND x.has_spec
									AND x.from_kind = 'ImageStreamTag'
									AND x.from_ref = format('%s/%s:%s', t.namespace, t.stream, t.name)
									AND x.id <> t.id) AS alone,
					   h.seq, h.created AS head_created, h.image AS head_image,
					   h.docker_image_reference AS head_ref, h.generation AS head_generation
				FROM unnest(p_tags, p_refs, p_images, p_scheduled, p_insecure, p_modes)
					 WITH ORDINALITY AS u(name, ref, image, scheduled, insecure, mode, n)
				JOIN imagestream.tag t ON t.namespace = p_stream.namespace
					 AND t.stream = p_stream.name AND t.name = u.name
				LEFT JOIN LATERAL (SELECT * FROM imagestream._history x WHERE x.tag_id = t.id
								   ORDER BY x.seq DESC LIMIT 1) h ON true) z) y;
	RETURN QUERY SELECT unnest(alone);
	IF pos IS NULL THEN
		RETURN;
	END IF;

	IF EXISTS (SELECT 1 FROM unnest(events, options) AS x(event, options)
			   WHERE x.event IS NOT NULL OR x.options) THEN
		UPDATE imagestream.stream SET generation = p_generation
		WHERE id = p_stream.id AND generation <> p_generation;
	END IF;
	refids := imagestream._history_ref_ids(
		ARRAY(SELECT CASE WHEN x.event IN ('insert', 'overwrite') THEN p_refs[x.n] END
			  FROM unnest(pos, events) WITH ORDINALITY AS x(n, event, k) ORDER BY x.k),
		ARRAY(SELECT p_images[x.n] FROM unnest(pos) WITH ORDINALITY AS x(n, k) ORDER BY x.k));
	UPDATE imagestream.history_event h
	SET ref = x.refid, image = u.image, generation = p_generation
	FROM unnest(pos, ids, events, seqs, refids) AS x(n, id, event, seq, refid)
	JOIN unnest(p_images) WITH ORDINALITY AS u(image, n) ON u.n = x.n
	WHERE x.event = 'overwrite' AND h.tag_id = x.id AND h.seq = x.seq;
	INSERT INTO imagestream.history_event (tag_id, seq, created, generation, ref, image)
	SELECT x.id, coalesce(x.seq, 0) + 1, now(), p_generation, x.refid, u.image
	FROM unnest(pos, ids, events, seqs, refids) AS x(n, id, event, seq, refid)
	JOIN unnest(p_images) WITH ORDINALITY AS u(image, n) ON u.n = x.n
	WHERE x.event = 'insert'
	ORDER BY x.n;
	-- one write of each tag: the spec, the new head, the conditions cleared
	UPDATE imagestream.tag t
	SET has_spec = t.has_spec OR x.changed,
		from_kind = CASE WHEN x.changed THEN 'DockerImage' ELSE t.from_kind END,
		from_ref = CASE WHEN x.changed THEN x.source ELSE t.from_ref END,
		scheduled = x.scheduled, insecure = x.insecure, import_mode = x.mode,
		reference_policy = CASE WHEN x.changed AND NOT t.has_spec THEN x.policy ELSE t.reference_policy END,
		spec_generation = CASE WHEN x.changed THEN p_generation ELSE t.spec_generation END,
		source_digest = x.source_digest,
		image = CASE WHEN x.moves THEN x.image ELSE t.image END,
		docker_image_reference = CASE WHEN x.moves THEN x.ref ELSE t.docker_image_reference END,
		created = CASE x.event WHEN 'insert' THEN now() WHEN 'overwrite' THEN x.created ELSE t.created END,
		status_generation = CASE WHEN x.moves THEN p_generation ELSE t.status_generation END,
		history_length = t.history_length + CASE x.event WHEN 'insert' THEN 1 ELSE 0 END,
		import_status = CASE x.event WHEN 'none' THEN t.import_status END,
		import_reason = CASE x.event WHEN 'none' THEN t.import_reason END,
		import_message = CASE x.event WHEN 'none' THEN t.import_message END,
		import_generation = CASE x.event WHEN 'none' THEN t.import_generation END,
		import_transition = CASE x.event WHEN 'none' THEN t.import_transition END,
		import_requested_at = CASE WHEN p_clear_requested THEN NULL ELSE t.import_requested_at END
	FROM (SELECT d.id, d.event, d.created, d.event IS NOT NULL AS changed,
				 coalesce(d.event IN ('insert', 'overwrite'), false) AS moves,
				 u.source, u.ref, u.image, u.source_digest, u.scheduled, u.insecure, u.mode, u.policy
		  FROM unnest(pos, ids, events, createds) AS d(n, id, event, created)
		  JOIN unnest(p_sources, p_refs, p_images, p_source_digests, p_scheduled, p_insecure,
					  p_modes, p_policies)
			   WITH ORDINALITY AS u(source, ref, image, source_digest, scheduled, insecure, mode, policy, n)
			   ON u.n = d.n) x
	WHERE t.id = x.id
	  AND (x.changed OR t.scheduled <> x.scheduled OR t.insecure <> x.insecure
		   OR t.import_mode <> x.mode OR t.source_digest IS DISTINCT FROM x.source_digest
		   OR t.import_status IS NOT NULL OR (p_clear_requested AND t.import_requested_at IS NOT NULL));

	IF true = ANY (logged) THEN
		-- as _log_change: dense ids in commit order
		LOCK TABLE imagestream.change IN SHARE ROW EXCLUSIVE MODE;
		SELECT coalesce(max(x.id), 0) INTO base FROM imagestream.change x;
		INSERT INTO imagestream.change (id, at, event, namespace, stream, tag, image, previous_image,
										docker_image_reference, generation)
		SELECT base + row_number() OVER (ORDER BY x.n), now(), 'tag_updated', p_stream.namespace,
			   p_stream.name, u.name, u.image, x.previous, u.ref, p_generation
		FROM unnest(pos, logged, previous) AS x(n, logged, previous)
		JOIN unnest(p_tags, p_refs, p_images) WITH ORDINALITY AS u(name, ref, image, n) ON u.n = x.n
		WHERE x.logged;
		FOR c IN SELECT * FROM imagestream.change x WHERE x.id > base ORDER BY x.id LOOP
			PERFORM imagestream._notify_change(c);
		END LOOP;
	END IF;
END $$;

-- _worker_apply for the tags of one stream at once, set-based (src/worker.c):
-- p_generation is the stream's new generation, locked.  It records the tags
-- whose source served an image (Success or Unchanged) with _record_imports
-- and skips those whose source changed meanwhile, as _worker_apply does; it
-- returns the positions (in the arrays) of the tags it leaves to
-- _worker_apply: failures, and those _record_imports leaves.
CREATE FUNCTION _worker_apply_many(p_stream_id bigint, p_tag_ids bigint[], p_sources text[],
	f _fetched[], p_generation bigint) RETURNS SETOF integer
LANGUAGE plpgsql SET search_path = pg_catalog, imagestream, pg_temp AS $$
DECLARE
	s imagestream.stream;
	alone integer[];			-- positions left to _worker_apply
	here boolean[];				-- per position: recorded here
	fe imagestream._fetched;
	shared imagestream._fetched;	-- the last with manifests: those after it with none share them
	catalogued text[] := '{}';		-- source digest and image of each fetch catalogued
	i integer := 0;
	-- the tags recorded here, by their position in the arrays given
	pos integer[];
	names text[];
	sources text[];
	refs imagestream.image_ref[];
	images imagestream.image_digest[];
	source_digests imagestream.image_digest[];
	scheduled boolean[];
	insecure boolean[];
	modes imagestream.import_mode[];
	policies imagestream.reference_policy[];
BEGIN
	SELECT * INTO s FROM imagestream.stream WHERE id = p_stream_id;
	PERFORM 1 FROM imagestream.tag t WHERE t.id = ANY (p_tag_ids) ORDER BY t.id FOR UPDATE;
	-- (unnest expands each _fetched into its columns: u.status, u.image, ...)
	SELECT coalesce(array_agg(x.pos ORDER BY x.pos) FILTER (WHERE x.tag_id IS NOT NULL AND x.alone), '{}'),
		   array_agg(x.tag_id IS NOT NULL AND NOT x.alone ORDER BY x.pos)
	INTO alone, here
	FROM (SELECT u.ordinality::integer AS pos, t.id AS tag_id,
				 u.status IS DISTINCT FROM 'Success' AND u.status IS DISTINCT FROM 'Unchanged'
				 OR (u.status = 'Unchanged' AND t.docker_image_reference IS NULL)
				 OR t.stream_id <> p_stream_id AS alone
		  FROM unnest(p_tag_ids, p_sources, f) WITH ORDINALITY AS u(tag_id, source)
		  LEFT JOIN imagestream.tag t ON t.id = u.tag_id AND t.has_spec AND t.from_ref = u.source) x;
	RETURN QUERY SELECT unnest(alone);
	IF NOT true = ANY (here) THEN
		RETURN;
	END IF;

	-- the catalogue: each fetch once, under the first tag recorded from it
	FOREACH fe IN ARRAY f LOOP
		i := i + 1;
		IF fe.digests IS NOT NULL THEN
			shared := fe;
		END IF;
		IF fe.status = 'Success' AND here[i] AND shared.image = fe.image
		   AND NOT (fe.source_digest::text || fe.image::text) = ANY (catalogued) THEN
			PERFORM imagestream._import_fetched(shared, p_sources[i]::imagestream.image_ref, true);
			catalogued := catalogued || (fe.source_digest::text || fe.image::text);
		END IF;
	END LOOP;

	-- each tag with its own options; Unchanged keeps the tag's pull spec
	SELECT array_agg(u.ordinality ORDER BY u.ordinality), array_agg(t.name ORDER BY u.ordinality),
		   array_agg(t.from_ref ORDER BY u.ordinality),
		   array_agg(CASE WHEN u.status = 'Success'
						  THEN imagestream.ref_with_digest(imagestream.ref_name(t.from_ref::imagestream.image_ref)::imagestream.image_ref,
														   u.image)
						  ELSE t.docker_image_reference END ORDER BY u.ordinality),
		   array_agg(CASE WHEN u.status = 'Success' THEN u.image ELSE t.image END ORDER BY u.ordinality),
		   array_agg(u.source_digest ORDER BY u.ordinality), array_agg(t.scheduled ORDER BY u.ordinality),
		   array_agg(t.insecure ORDER BY u.ordinality), array_agg(t.import_mode ORDER BY u.ordinality),
		   array_agg(t.reference_policy ORDER BY u.ordinality)
	INTO pos, names, sources, refs, images, source_digests, scheduled, insecure, modes, policies
	FROM unnest(p_tag_ids, f) WITH ORDINALITY AS u(tag_id)
	JOIN imagestream.tag t ON t.id = u.tag_id
	WHERE here[u.ordinality];
	RETURN QUERY
		SELECT pos[k] FROM imagestream._record_imports(s, p_generation, names, sources, refs, images,
			source_digests, scheduled, insecure, modes, policies, true) AS k;
END $$;

CREATE OR REPLACE FUNCTION _api_import_image(destination text, from_image text DEFAULT NULL,
	all_tags boolean DEFAULT false, scheduled boolean DEFAULT NULL,
	insecure boolean DEFAULT NULL, reference_policy reference_policy DEFAULT NULL,
	import_mode import_mode DEFAULT NULL, dry_run boolean DEFAULT false)
RETURNS TABLE(tag text, status text, image image_digest, docker_image_reference image_ref,
	reason text, message text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
#variable_conflict use_variable
DECLARE
	d record;
	v_ns text;
	v_stream text;
	v_tag text;
	s imagestream.stream;
	new_stream boolean;
	t imagestream.tag;
	source imagestream.image_ref;
	repo imagestream.image_ref;
	jobs jsonb := '[]';			-- [{tag, source}] in import order
	job jsonb;
	r record;
	listed record;
	names text[];
	limit_n integer := current_setting('imagestream.max_bulk_import')::integer;
	v_sched boolean;
	v_insecure boolean;
	v_mode imagestream.import_mode;
	v_policy imagestream.reference_policy;
	pull imagestream.image_ref;
	i integer := 0;
	o record;
	srcs imagestream.image_ref[] := '{}';
	insecures boolean[] := '{}';
	preserves boolean[] := '{}';
	knowns imagestream.image_digest[] := '{}';
	oses text[] := '{}';
	arches text[] := '{}';
	fetched imagestream._fetched[];
	one imagestream._fetched;			-- what was fetched for the current tag
	gen bigint;					-- of this import, shared by its tags (OpenShift's nextGeneration)
	-- all tags: the imports recorded together at the end (_record_imports)
	together text[] := '{}';
	together_sources text[] := '{}';
	together_refs imagestream.image_ref[] := '{}';
	together_images imagestream.image_digest[] := '{}';
	together_digests imagestream.image_digest[] := '{}';
	together_scheduled boolean[] := '{}';
	together_insecure boolean[] := '{}';
	together_modes imagestream.import_mode[] := '{}';
	together_policies imagestream.reference_policy[] := '{}';
	catalogued text[] := '{}';
	one_by_one integer[];
	k integer;
BEGIN
	IF coalesce(all_tags, false) THEN
		IF strpos(destination, ':') > 0 THEN
			RAISE EXCEPTION 'cannot import a tag "%" and all tags at once', destination
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		d := imagestream._parse_stream(destination);
		v_ns := d.namespace;
		v_stream := d.name;
	ELSE
		d := imagestream._parse_tag(destination);
		v_ns := d.namespace;
		v_stream := d.stream;
		v_tag := d.tag;
	END IF;
	PERFORM imagestream._require(v_ns, 'edit');
	IF from_image IS NOT NULL THEN
		source := from_image::imagestream.image_ref;
	END IF;
	new_stream := NOT EXISTS (SELECT 1 FROM imagestream.stream x
							  WHERE x.namespace = v_ns AND x.name = v_stream);
	IF new_stream AND source IS NULL THEN
		RAISE EXCEPTION 'image stream "%/%" does not exist', v_ns, v_stream
			USING ERRCODE = 'undefined_object', HINT = 'Give from_image to create it.';
	END IF;
	-- no lock yet: the registry is asked before anything is locked
	SELECT * INTO s FROM imagestream.stream x WHERE x.namespace = v_ns AND x.name = v_stream;

	-- what to import: (tag, source) pairs
	IF NOT coalesce(all_tags, false) THEN
		t := imagestream._import_target(s, v_tag);
		IF source IS NULL THEN
			IF t.id IS NULL THEN
				RAISE EXCEPTION 'image stream tag "%" does not exist', destination
					USING ERRCODE = 'undefined_object', HINT = 'Give from_image to import it.';
			ELSIF t.from_kind <> 'DockerImage' THEN
				RAISE EXCEPTION 'tag "%" points to %, which cannot be imported', t.name, t.from_ref
					USING ERRCODE = 'invalid_parameter_value';
			END IF;
			jobs := jsonb_build_array(jsonb_build_object('tag', t.name, 'source', t.from_ref));
		ELSE
			jobs := jsonb_build_array(jsonb_build_object('tag', coalesce(t.name, v_tag), 'source', source::text));
		END IF;
	ELSIF source IS NOT NULL THEN
		IF imagestream.ref_tag(source) IS NOT NULL OR imagestream.ref_digest(source) IS NOT NULL THEN
			RAISE EXCEPTION 'from_image must name a repository, not a tag or digest, to import all tags'
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		repo := source;
		listed := imagestream._registry_tag_pages(repo, coalesce(insecure, false));
		IF listed.status <> 'ok' THEN
			RETURN QUERY SELECT NULL::text, 'Failure', NULL::imagestream.image_digest,
				NULL::imagestream.image_ref, listed.reason, listed.message;
			RETURN;
		END IF;
		SELECT imagestream._prioritize_tags(array_agg(DISTINCT x)) INTO names
		FROM unnest(listed.pages) AS p,
			 jsonb_array_elements_text(CASE WHEN jsonb_typeof(p::jsonb->'tags') = 'array'
											THEN p::jsonb->'tags' ELSE '[]' END) AS x;
		SELECT coalesce(jsonb_agg(jsonb_build_object('tag', n,
			'source', imagestream.ref_with_tag(repo, n)::text) ORDER BY o), '[]')
		INTO jobs FROM unnest(names) WITH ORDINALITY AS u(n, o);
	ELSE
		SELECT coalesce(jsonb_agg(jsonb_build_object('tag', x.name, 'source', x.from_ref)
			ORDER BY x.name), '[]')
		INTO jobs FROM imagestream.tag x
		WHERE x.stream_id = s.id AND x.has_spec AND x.from_kind = 'DockerImage' AND NOT x.reference;
	END IF;

	-- all tags: every source is fetched first, together (src/fetch_many.c)
	IF coalesce(all_tags, false) THEN
		FOR job IN SELECT value FROM jsonb_array_elements(jobs) LOOP
			EXIT WHEN limit_n >= 0 AND cardinality(srcs) >= limit_n;
			o := imagestream._import_options(s.id, job, scheduled, insecure, import_mode, reference_policy);
			srcs := srcs || (job->>'source')::imagestream.image_ref;
			insecures := insecures || o.insecure;
			preserves := preserves || (o.mode = 'PreserveOriginal');
			knowns := knowns || o.known;
			oses := oses || ((o.t).annotations->>'importer.image.openshift.io/prefer-os');
			arches := arches || ((o.t).annotations->>'importer.image.openshift.io/prefer-arch');
		END LOOP;
		fetched := ARRAY(SELECT f FROM imagestream._fetch_sources(srcs, insecures, preserves,
															 knowns, oses, arches) f);
	END IF;

	FOR job IN SELECT value FROM jsonb_array_elements(jobs) LOOP
		i := i + 1;
		IF coalesce(all_tags, false) AND limit_n >= 0 AND i > limit_n THEN
			RETURN QUERY SELECT job->>'tag', 'Skipped', NULL::imagestream.image_digest,
				NULL::imagestream.image_ref, NULL::text,
				format('Over imagestream.max_bulk_import (%s).', limit_n);
			CONTINUE;
		END IF;
		o := imagestream._import_options(s.id, job, scheduled, insecure, import_mode, reference_policy);
		t := o.t;
		v_sched := o.sched;
		v_insecure := o.insecure;
		v_mode := o.mode;
		v_policy := o.policy;
		one := CASE WHEN coalesce(all_tags, false) THEN fetched[i]
				  ELSE imagestream._fetch_source((job->>'source')::imagestream.image_ref, v_insecure,
					v_mode = 'PreserveOriginal', o.known,
					t.annotations->>'importer.image.openshift.io/prefer-os',
					t.annotations->>'importer.image.openshift.io/prefer-arch') END;
		-- catalogued below, once the stream is locked (see prune)
		r := imagestream._import_fetched(one, (job->>'source')::imagestream.image_ref, false);
		IF r.status = 'Unchanged' THEN
			r.image := t.image;
		END IF;
		pull := CASE WHEN r.image IS NOT NULL THEN imagestream.ref_with_digest(
			imagestream.ref_name((job->>'source')::imagestream.image_ref)::imagestream.image_ref, r.image) END;
		IF NOT coalesce(dry_run, false) AND r.status = 'Unchanged' AND t.import_status IS NULL
		   AND t.scheduled = v_sched AND t.insecure = v_insecure AND t.import_mode = v_mode
		   AND t.source_digest = r.source_digest THEN
			NULL;				-- nothing changed: nothing is written, not even a row lock
		ELSIF NOT coalesce(dry_run, false) THEN
			IF gen IS NULL THEN
				new_stream := s.id IS NULL;
				s := imagestream._lock_stream(v_ns, v_stream, true);
				gen := CASE WHEN new_stream THEN s.generation ELSE s.generation + 1 END;
			END IF;
			-- (what one source digest served is catalogued once)
			IF r.status = 'Success' AND NOT (r.source_digest::text || r.image::text) = ANY (catalogued) THEN
				PERFORM imagestream._import_fetched(one, (job->>'source')::imagestream.image_ref, true);
				catalogued := array_append(catalogued, r.source_digest::text || r.image::text);
			END IF;
			IF r.status = 'Failure' THEN
				PERFORM imagestream._record_import_failure(s, job->>'tag', job->>'source', v_sched,
					v_insecure, v_mode, v_policy, r.reason, r.message, NOT coalesce(all_tags, false), gen);
			ELSIF (r.status = 'Success' OR r.status = 'Unchanged') AND coalesce(all_tags, false) THEN
				together := array_append(together, job->>'tag');
				together_sources := array_append(together_sources, job->>'source');
				together_refs := array_append(together_refs, pull);
				together_images := array_append(together_images, r.image);
				together_digests := array_append(together_digests, r.source_digest);
				together_scheduled := array_append(together_scheduled, v_sched);
				together_insecure := array_append(together_insecure, v_insecure);
				together_modes := array_append(together_modes, v_mode);
				together_policies := array_append(together_policies, v_policy);
			ELSIF r.status = 'Success' OR r.status = 'Unchanged' THEN
				PERFORM imagestream._record_import(s, new_stream, job->>'tag', job->>'source', pull,
					r.image, r.source_digest, v_sched, v_insecure, v_mode, v_policy, gen);
			END IF;
		END IF;
		RETURN QUERY SELECT job->>'tag', CASE WHEN r.status = 'Failure' THEN 'Failure' ELSE 'Success' END,
			r.image, pull, r.reason, r.message;
	END LOOP;
	-- the tags _record_imports leaves; all of them when there are few (it
	-- costs about 2 ms a call, one at a time about 0.3 ms a tag; as src/worker.c)
	one_by_one := CASE WHEN cardinality(together) >= 16
		THEN ARRAY(SELECT imagestream._record_imports(s, gen, together, together_sources,
				together_refs, together_images, together_digests, together_scheduled,
				together_insecure, together_modes, together_policies))
		ELSE ARRAY(SELECT generate_series(1, cardinality(together))) END;
	FOREACH k IN ARRAY one_by_one LOOP
		PERFORM imagestream._record_import(s, new_stream, together[k], together_sources[k],
			together_refs[k], together_images[k], together_digests[k], together_scheduled[k],
			together_insecure[k], together_modes[k], together_policies[k], gen);
	END LOOP;
END $$;

CREATE OR REPLACE FUNCTION _prioritize_tags(tags text[]) RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$
	SELECT coalesce(array_agg(t ORDER BY (p).priority, (p).major DESC, (p).minor DESC,
			(p).patch DESC, (p).release DESC, (p).pre DESC, (p).prefix COLLATE "C",
			t COLLATE "C"), '{}')
	-- (OFFSET 0: one call a tag, not one for each field of p)
	FROM (SELECT t, imagestream._tag_priority(t) AS p FROM unnest(tags) AS t OFFSET 0) x
$$;

-- History in two tables (history_ref, history_event; doc/model.md): the
-- events move over, numbered per tag, and the views _history and history
-- (a callers' view in place of the table) give them with their pull spec.
DROP INDEX history_image;
CREATE FUNCTION _history_key(p_ref image_ref, p_image image_digest,
	OUT ref image_ref, OUT with_digest boolean)
LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE WHEN b.w THEN b.repo ELSE p_ref END, b.w
	FROM (SELECT a.repo, coalesce(imagestream.ref_with_digest(a.repo, p_image) = p_ref, false) AS w
		  FROM (SELECT imagestream.ref_name(p_ref)::imagestream.image_ref AS repo) a) b
$$;

CREATE TABLE history_ref (
	id integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
	-- with_digest: the event's pull spec is ref_with_digest(ref, image), ref
	-- its repository; otherwise ref is the pull spec itself
	ref image_ref NOT NULL,
	with_digest boolean NOT NULL,
	UNIQUE (ref, with_digest)
);
COMMENT ON TABLE history_ref IS 'pull specs of tag events, stored once';

-- Newest first by seq, numbered per tag.  "Overwrite in place" updates the
-- newest row; a new event is a new row with the next seq.  Columns in
-- this order leave no padding.
CREATE TABLE history_event (
	tag_id integer NOT NULL REFERENCES tag ON DELETE CASCADE,
	seq integer NOT NULL,
	created timestamptz NOT NULL,
	generation bigint NOT NULL,
	ref integer NOT NULL REFERENCES history_ref,
	image image_digest,
	PRIMARY KEY (tag_id, seq)
);
-- equality lookups only (which tags hold an image): a hash index is a third
-- the size of a btree on the 34-byte digest
CREATE INDEX history_image ON history_event USING hash (image);
COMMENT ON TABLE history_event IS 'tag events (OpenShift TagEvent), their pull spec in history_ref';

-- history_event.tag_id is 4 bytes: tag ids stop there
ALTER TABLE tag ALTER COLUMN id SET MAXVALUE 2147483647;

CREATE VIEW _history AS
SELECT e.tag_id, e.seq, e.created,
	CASE WHEN r.with_digest THEN imagestream.ref_with_digest(r.ref, e.image) ELSE r.ref END
		AS docker_image_reference,
	e.image, e.generation
FROM imagestream.history_event e LEFT JOIN imagestream.history_ref r ON r.id = e.ref;
COMMENT ON VIEW _history IS 'tag events with their pull spec, for the extension''s own functions';

INSERT INTO history_ref (ref, with_digest)
SELECT DISTINCT k.ref, k.with_digest
FROM history h CROSS JOIN LATERAL _history_key(h.docker_image_reference, h.image) k;
INSERT INTO history_event (tag_id, seq, created, generation, ref, image)
SELECT h.tag_id, row_number() OVER (PARTITION BY h.tag_id ORDER BY h.seq), h.created, h.generation,
	r.id, h.image
FROM history h CROSS JOIN LATERAL _history_key(h.docker_image_reference, h.image) k
JOIN history_ref r ON r.ref = k.ref AND r.with_digest = k.with_digest;

CREATE OR REPLACE VIEW images WITH (security_barrier) AS
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

-- (out of the extension first: dropped as members, they would stay in its
-- list of tables for pg_dump)
ALTER EXTENSION imagestream DROP TABLE history;
ALTER EXTENSION imagestream DROP SEQUENCE history_seq;
DROP TABLE history;
DROP SEQUENCE history_seq;
CREATE VIEW history WITH (security_barrier) AS
SELECT h.tag_id, h.seq, h.created, h.docker_image_reference, h.image, h.generation
FROM imagestream._history h JOIN imagestream.tag t ON t.id = h.tag_id
WHERE imagestream._can(t.namespace, 'view');
COMMENT ON VIEW history IS 'tag events (OpenShift TagEvent), newest of a tag by largest seq';

REVOKE ALL ON history_ref, history_event, _history FROM PUBLIC;
REVOKE ALL ON SEQUENCE history_ref_id_seq FROM PUBLIC;
REVOKE ALL ON history FROM PUBLIC;
GRANT SELECT ON history TO PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('history_ref', '');
SELECT pg_catalog.pg_extension_config_dump('history_ref_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('history_event', '');

CREATE FUNCTION _history_ref_id(p_ref image_ref, p_image image_digest) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
	k record := imagestream._history_key(p_ref, p_image);
	found_id integer;
BEGIN
	LOOP
		SELECT r.id INTO found_id FROM imagestream.history_ref r
		WHERE r.ref = k.ref AND r.with_digest = k.with_digest;
		IF found_id IS NOT NULL THEN
			RETURN found_id;
		END IF;
		-- nothing when another transaction added it meanwhile: read it then
		INSERT INTO imagestream.history_ref (ref, with_digest) VALUES (k.ref, k.with_digest)
			ON CONFLICT DO NOTHING RETURNING id INTO found_id;
		IF found_id IS NOT NULL THEN
			RETURN found_id;
		END IF;
	END LOOP;
END $$;

CREATE FUNCTION _history_ref_ids(p_refs image_ref[], p_images image_digest[]) RETURNS integer[]
LANGUAGE plpgsql AS $$
DECLARE
	keys imagestream.image_ref[];
	withs boolean[];
	ids integer[];
BEGIN
	SELECT array_agg(k.ref ORDER BY u.n), array_agg(k.with_digest ORDER BY u.n) INTO keys, withs
	FROM unnest(p_refs, p_images) WITH ORDINALITY AS u(ref, image, n)
	LEFT JOIN LATERAL imagestream._history_key(u.ref, u.image) k ON u.ref IS NOT NULL;
	INSERT INTO imagestream.history_ref (ref, with_digest)
	SELECT DISTINCT k.ref, k.with_digest FROM unnest(keys, withs) AS k(ref, with_digest)
	WHERE k.ref IS NOT NULL
	  AND NOT EXISTS (SELECT 1 FROM imagestream.history_ref r
					  WHERE r.ref = k.ref AND r.with_digest = k.with_digest)
	ON CONFLICT DO NOTHING;
	SELECT array_agg(r.id ORDER BY k.n) INTO ids
	FROM unnest(keys, withs) WITH ORDINALITY AS k(ref, with_digest, n)
	LEFT JOIN imagestream.history_ref r ON r.ref = k.ref AND r.with_digest = k.with_digest;
	RETURN ids;
END $$;

CREATE OR REPLACE FUNCTION _refresh_head(p_tag_id bigint) RETURNS void
LANGUAGE sql AS $$
	UPDATE imagestream.tag t
	SET image = h.image, docker_image_reference = h.docker_image_reference,
		created = h.created, status_generation = h.generation,
		history_length = (SELECT count(*) FROM imagestream.history_event x WHERE x.tag_id = t.id)
	FROM (SELECT NULL::integer AS dummy) d
	LEFT JOIN LATERAL (SELECT * FROM imagestream._history x WHERE x.tag_id = p_tag_id
					   ORDER BY x.seq DESC LIMIT 1) h ON true
	WHERE t.id = p_tag_id
$$;

CREATE OR REPLACE FUNCTION _add_event(p_tag_id bigint, p_ref image_ref, p_image image_digest,
	p_generation bigint, p_created timestamptz DEFAULT now())
RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
	t imagestream.tag;
	head imagestream._history;
	same_ref boolean;
	same_image boolean;
	added integer;
BEGIN
	SELECT * INTO t FROM imagestream.tag WHERE id = p_tag_id FOR UPDATE;
	-- (the tag row's lock keeps its history still)
	SELECT * INTO head FROM imagestream._history
		WHERE tag_id = p_tag_id ORDER BY seq DESC LIMIT 1;
	same_ref := head.docker_image_reference = p_ref;
	same_image := head.image IS NOT DISTINCT FROM p_image;
	IF head.tag_id IS NOT NULL AND same_ref AND same_image AND head.generation = p_generation THEN
		RETURN false;
	ELSIF head.tag_id IS NOT NULL AND (same_ref OR same_image) THEN
		-- collapse, or overwrite the head in place; created is kept
		UPDATE imagestream.history_event
		SET ref = imagestream._history_ref_id(p_ref, p_image), image = p_image, generation = p_generation
		WHERE tag_id = p_tag_id AND seq = head.seq;
		added := 0;
		p_created := head.created;
	ELSE
		INSERT INTO imagestream.history_event (tag_id, seq, created, generation, ref, image)
			VALUES (p_tag_id, coalesce(head.seq, 0) + 1, p_created, p_generation,
					imagestream._history_ref_id(p_ref, p_image), p_image);
		added := 1;
	END IF;
	-- the new head into the tag row (_refresh_head, without reading history
	-- again), and the conditions cleared: one write of the tag
	UPDATE imagestream.tag
	SET image = p_image, docker_image_reference = p_ref, created = p_created,
		status_generation = p_generation, history_length = history_length + added,
		import_status = NULL, import_reason = NULL, import_message = NULL,
		import_generation = NULL, import_transition = NULL
	WHERE id = p_tag_id;

	IF head.tag_id IS NULL OR NOT (same_ref AND same_image) THEN
		PERFORM imagestream._log_change('tag_updated', t.namespace, t.stream, t.name,
			p_image, head.image, p_ref, p_generation);
	END IF;
	PERFORM imagestream._update_followers(p_tag_id);
	RETURN true;
END $$;

CREATE OR REPLACE FUNCTION _resolve_image_id(p_ns text, p_stream text, p_id text,
	OUT image image_digest, OUT docker_image_reference image_ref)
LANGUAGE plpgsql STABLE AS $$
DECLARE
	matches image_digest[];
BEGIN
	SELECT array_agg(DISTINCT h.image) INTO matches
	FROM imagestream._history h JOIN imagestream.tag t ON t.id = h.tag_id
	WHERE t.namespace = p_ns AND t.stream = p_stream AND h.image IS NOT NULL
	  AND imagestream.digest_has_prefix(h.image, p_id);
	IF matches IS NULL THEN
		RAISE EXCEPTION 'image "%" not found in image stream "%/%"', p_id, p_ns, p_stream
			USING ERRCODE = 'undefined_object';
	ELSIF cardinality(matches) > 1 THEN
		RAISE EXCEPTION 'more than one image of image stream "%/%" matches "%"', p_ns, p_stream, p_id
			USING ERRCODE = 'cardinality_violation',
				DETAIL = format('Matching images: %s.', array_to_string(matches, ', ')),
				HINT = 'Give more digits of the digest.';
	END IF;
	image := matches[1];
	SELECT h.docker_image_reference INTO docker_image_reference
	FROM imagestream._history h JOIN imagestream.tag t ON t.id = h.tag_id
	WHERE t.namespace = p_ns AND t.stream = p_stream AND h.image = matches[1]
	ORDER BY h.seq DESC LIMIT 1;
END $$;

CREATE OR REPLACE FUNCTION _api_map_image(tag text, docker_image_reference image_ref,
	image image_digest DEFAULT NULL, manifest bytea DEFAULT NULL, media_type text DEFAULT NULL)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
DECLARE
	d record := imagestream._parse_tag(tag);
	ref imagestream.image_ref := docker_image_reference;
	digest imagestream.image_digest := coalesce(image, imagestream.ref_digest(ref));
	wanted text := digest::text;
	s imagestream.stream;
	t imagestream.tag;
BEGIN
	PERFORM imagestream._require(d.namespace, 'edit');
	IF ref IS NULL THEN
		RAISE EXCEPTION 'docker_image_reference is required' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF digest IS NULL THEN
		RAISE EXCEPTION 'the image digest is not known'
			USING ERRCODE = 'invalid_parameter_value',
				HINT = 'Pass image, or a docker_image_reference with "@sha256:…".';
	END IF;
	IF image IS NOT NULL AND imagestream.ref_digest(ref) IS NOT NULL
	   AND imagestream.ref_digest(ref) <> image THEN
		RAISE EXCEPTION 'image % does not match the digest of "%"', image, ref
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF media_type IS NOT NULL AND manifest IS NULL THEN
		RAISE EXCEPTION 'media_type needs a manifest' USING ERRCODE = 'invalid_parameter_value';
	END IF;

	-- A digest is public knowledge (NOTIFY announces every one): knowing it
	-- must not open an image that only streams of other namespaces hold.
	-- Without the manifest, an image held by a stream must be one the caller
	-- sees.
	IF manifest IS NULL AND NOT imagestream._privileged()
	   AND NOT EXISTS (SELECT 1 FROM imagestream.images v WHERE v.digest = wanted::imagestream.image_digest)
	   AND (EXISTS (SELECT 1 FROM imagestream._history h WHERE h.image = wanted::imagestream.image_digest)
			OR EXISTS (SELECT 1 FROM imagestream.image_child c
					   JOIN imagestream._history h ON h.image = c.image
					   WHERE c.digest = wanted::imagestream.image_digest)) THEN
		RAISE EXCEPTION 'image % is held only by image streams you may not view', digest
			USING ERRCODE = 'insufficient_privilege',
				HINT = 'Pass the image''s manifest to record it.';
	END IF;

	-- the stream first: prune, which locks every stream, then cannot delete
	-- the image between its check here and the event
	s := imagestream._lock_stream(d.namespace, d.stream, true);
	IF manifest IS NOT NULL THEN
		PERFORM imagestream._catalogue_manifest(digest, media_type, manifest, ref);
	ELSE
		PERFORM imagestream._ensure_image(digest, ref);
	END IF;
	t := imagestream._lock_tag(s, d.tag, true);
	-- a push records the stream's current generation
	PERFORM imagestream._add_event(t.id, ref, digest, s.generation);
END $$;

CREATE OR REPLACE FUNCTION _stream_reference(p_digest image_digest, p_namespace text, p_stream text)
RETURNS image_ref LANGUAGE sql STABLE SET search_path = pg_catalog, imagestream, pg_temp AS $$
	SELECT coalesce(
		(SELECT h.docker_image_reference
		 FROM imagestream._history h JOIN imagestream.tag t ON t.id = h.tag_id
		 WHERE h.image = p_digest AND t.namespace = p_namespace AND t.stream = p_stream
		 ORDER BY h.created DESC LIMIT 1),
		(SELECT imagestream.ref_with_digest(
					imagestream.ref_name(h.docker_image_reference)::imagestream.image_ref, p_digest)
		 FROM imagestream.image_child c
		 JOIN imagestream._history h ON h.image = c.image
		 JOIN imagestream.tag t ON t.id = h.tag_id
		 WHERE c.digest = p_digest AND t.namespace = p_namespace AND t.stream = p_stream
		 ORDER BY h.created DESC LIMIT 1))
$$;

CREATE OR REPLACE FUNCTION _api_image(stream_image text) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
DECLARE
	d record := imagestream._parse_stream_image(stream_image);
	matches image_digest[];
BEGIN
	PERFORM imagestream._require(d.namespace, 'view');
	IF NOT EXISTS (SELECT 1 FROM imagestream.stream WHERE namespace = d.namespace AND name = d.stream) THEN
		RAISE EXCEPTION 'image stream "%/%" does not exist', d.namespace, d.stream
			USING ERRCODE = 'undefined_object';
	END IF;
	-- images of the stream's history, and the children of indexes among them
	WITH held AS (
		SELECT h.image FROM imagestream._history h JOIN imagestream.tag t ON t.id = h.tag_id
		WHERE t.namespace = d.namespace AND t.stream = d.stream AND h.image IS NOT NULL
	)
	SELECT array_agg(DISTINCT x.image) INTO matches
	FROM (SELECT image FROM held
		  UNION SELECT c.digest FROM imagestream.image_child c JOIN held ON c.image = held.image) x
	WHERE imagestream.digest_has_prefix(x.image, d.id);
	IF matches IS NULL THEN
		RAISE EXCEPTION 'image "%" not found', stream_image USING ERRCODE = 'undefined_object';
	ELSIF cardinality(matches) > 1 THEN
		RAISE EXCEPTION 'more than one image of image stream "%/%" matches "%"', d.namespace, d.stream, d.id
			USING ERRCODE = 'cardinality_violation',
				DETAIL = format('Matching images: %s.', array_to_string(matches, ', ')),
				HINT = 'Give more digits of the digest.';
	END IF;
	RETURN jsonb_build_object('name', format('%s@%s', d.stream, matches[1]),
		'namespace', d.namespace,
		'image', coalesce(imagestream._image_json(matches[1],
							imagestream._stream_reference(matches[1], d.namespace, d.stream)),
						  jsonb_build_object('digest', matches[1]::text)));
END $$;

CREATE OR REPLACE FUNCTION _api_prune(keep_tag_revisions integer DEFAULT 3,
	keep_younger_than interval DEFAULT '60 minutes', confirm boolean DEFAULT false)
RETURNS TABLE(action text, stream text, tag text, image image_digest)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
DECLARE
	threshold timestamptz := now() - keep_younger_than;
BEGIN
	PERFORM imagestream._require_privileged('prune images');
	IF keep_tag_revisions IS NULL OR keep_tag_revisions < 0 OR keep_younger_than IS NULL
	   OR keep_younger_than < interval '0' THEN
		RAISE EXCEPTION 'keep_tag_revisions and keep_younger_than must be zero or more'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	-- with confirm, every stream is locked first, as each writer locks its
	-- stream: what is chosen below is then not changing under the deletes
	-- (a head refreshed from a stale event, an image deleted that a new event
	-- was about to use; found by make stress)
	IF coalesce(confirm, false) THEN
		PERFORM 1 FROM imagestream.stream x ORDER BY x.id FOR UPDATE;
	END IF;
	CREATE TEMPORARY TABLE pg_temp.imagestream_prune_events ON COMMIT DROP AS
		SELECT h.tag_id, h.seq, t.namespace, t.stream, t.name, h.image
		FROM imagestream.history_event h JOIN imagestream.tag t ON t.id = h.tag_id
		JOIN LATERAL (SELECT count(*) AS newer FROM imagestream.history_event x
					  WHERE x.tag_id = h.tag_id AND x.seq > h.seq) p ON true
		WHERE p.newer >= greatest(keep_tag_revisions, 1) AND h.created < threshold;

	-- images no history, spec or used index refers to any more
	CREATE TEMPORARY TABLE pg_temp.imagestream_prune_images ON COMMIT DROP AS
		WITH RECURSIVE used(digest) AS (
			SELECT h.image FROM imagestream.history_event h
			WHERE h.image IS NOT NULL
			  AND NOT EXISTS (SELECT 1 FROM pg_temp.imagestream_prune_events e
							  WHERE e.tag_id = h.tag_id AND e.seq = h.seq)
			UNION
			SELECT substr(t.from_ref, strpos(t.from_ref, '@') + 1)::imagestream.image_digest
			FROM imagestream.tag t WHERE t.has_spec AND t.from_kind = 'ImageStreamImage'
			UNION
			SELECT c.digest FROM imagestream.image_child c JOIN used u ON c.image = u.digest
		)
		SELECT i.digest FROM imagestream.image i
		WHERE i.digest NOT IN (SELECT u.digest FROM used u WHERE u.digest IS NOT NULL)
		  AND i.imported_at < threshold;

	RETURN QUERY
		SELECT 'delete_event', e.namespace || '/' || e.stream, e.name, e.image
		FROM pg_temp.imagestream_prune_events e ORDER BY e.namespace, e.stream, e.name, e.seq DESC;
	RETURN QUERY
		SELECT 'delete_image', NULL::text, NULL::text, p.digest
		FROM pg_temp.imagestream_prune_images p ORDER BY p.digest;

	IF coalesce(confirm, false) THEN
		DELETE FROM imagestream.history_event h USING pg_temp.imagestream_prune_events e
		WHERE h.tag_id = e.tag_id AND h.seq = e.seq;
		-- and the pull specs no event uses any more
		DELETE FROM imagestream.history_ref r
		WHERE NOT EXISTS (SELECT 1 FROM imagestream.history_event h WHERE h.ref = r.id);
		PERFORM imagestream._refresh_head(x.tag_id)
		FROM (SELECT DISTINCT tag_id FROM pg_temp.imagestream_prune_events) x;
		DELETE FROM imagestream.image i USING pg_temp.imagestream_prune_images p
		WHERE i.digest = p.digest;
	END IF;
	DROP TABLE pg_temp.imagestream_prune_events, pg_temp.imagestream_prune_images;
END $$;

CREATE OR REPLACE FUNCTION _api_check_invariants() RETURNS TABLE(invariant text, object text, detail text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
BEGIN
	PERFORM imagestream._require_privileged('check the invariants');

	-- a tag repeats its stream's names
	RETURN QUERY
		SELECT 'tag names its stream', format('%s/%s:%s', t.namespace, t.stream, t.name),
			format('stream %s is %s/%s', s.id, s.namespace, s.name)
		FROM imagestream.tag t JOIN imagestream.stream s ON s.id = t.stream_id
		WHERE (t.namespace, t.stream) IS DISTINCT FROM (s.namespace, s.name);

	-- the head columns are the newest event; history_length counts the events
	RETURN QUERY
		SELECT 'tag head is its newest event', format('%s/%s:%s', t.namespace, t.stream, t.name),
			format('head %s %s gen %s len %s; newest %s %s gen %s, %s events',
				   t.docker_image_reference, t.image, t.status_generation, t.history_length,
				   h.docker_image_reference, h.image, h.generation, n.events)
		FROM imagestream.tag t
		CROSS JOIN LATERAL (SELECT count(*) AS events FROM imagestream._history x
							WHERE x.tag_id = t.id) n
		LEFT JOIN LATERAL (SELECT * FROM imagestream._history x WHERE x.tag_id = t.id
						   ORDER BY x.seq DESC LIMIT 1) h ON true
		WHERE t.history_length <> n.events
		   OR t.docker_image_reference::text IS DISTINCT FROM h.docker_image_reference::text
		   OR t.image::text IS DISTINCT FROM h.image::text
		   OR t.created IS DISTINCT FROM h.created
		   OR t.status_generation IS DISTINCT FROM h.generation;

	-- consecutive events differ (an equal one collapses into the head)
	RETURN QUERY
		SELECT 'consecutive events differ', format('%s/%s:%s', t.namespace, t.stream, t.name),
			format('events %s and %s: %s %s', p.prev_seq, p.seq, p.docker_image_reference, p.image)
		FROM (SELECT h.*, lag(h.seq) OVER w AS prev_seq,
					 lag(h.docker_image_reference::text) OVER w AS prev_ref,
					 lag(h.image::text) OVER w AS prev_image
			  FROM imagestream._history h WINDOW w AS (PARTITION BY h.tag_id ORDER BY h.seq)) p
		JOIN imagestream.tag t ON t.id = p.tag_id
		WHERE p.prev_seq IS NOT NULL AND p.prev_ref = p.docker_image_reference::text
		  AND p.prev_image IS NOT DISTINCT FROM p.image::text;

	-- an event's reference, when it has a digest, has its image's
	RETURN QUERY
		SELECT 'event reference names its image', format('%s/%s:%s', t.namespace, t.stream, t.name),
			format('event %s: %s, image %s', h.seq, h.docker_image_reference, h.image)
		FROM imagestream._history h JOIN imagestream.tag t ON t.id = h.tag_id
		WHERE imagestream.ref_digest(h.docker_image_reference) IS NOT NULL
		  AND imagestream.ref_digest(h.docker_image_reference)::text IS DISTINCT FROM h.image::text;

	-- every event has a pull spec: history_ref keeps one by its repository
	-- only for events with a digest to rebuild it with
	RETURN QUERY
		SELECT 'event has a pull spec', format('%s/%s:%s', t.namespace, t.stream, t.name),
			format('event %s', h.seq)
		FROM imagestream._history h JOIN imagestream.tag t ON t.id = h.tag_id
		WHERE h.docker_image_reference IS NULL;

	-- every event's image is in the catalogue (reference-only events have none)
	RETURN QUERY
		SELECT 'event image catalogued', format('%s/%s:%s', t.namespace, t.stream, t.name),
			format('event %s: image %s', h.seq, h.image)
		FROM imagestream._history h JOIN imagestream.tag t ON t.id = h.tag_id
		WHERE h.image IS NOT NULL
		  AND NOT EXISTS (SELECT 1 FROM imagestream.image i WHERE i.digest = h.image);

	-- generations never exceed the stream's, events' never decrease
	RETURN QUERY
		SELECT 'generations within the stream', format('%s/%s:%s', t.namespace, t.stream, t.name),
			format('stream %s, spec %s, status %s, condition %s', s.generation, t.spec_generation,
				   t.status_generation, t.import_generation)
		FROM imagestream.tag t JOIN imagestream.stream s ON s.id = t.stream_id
		WHERE t.spec_generation > s.generation OR t.status_generation > s.generation
		   OR t.import_generation > s.generation;
	RETURN QUERY
		SELECT 'event generations never decrease', format('%s/%s:%s', t.namespace, t.stream, t.name),
			format('event %s has generation %s after %s', p.seq, p.generation, p.prev_generation)
		FROM (SELECT h.*, lag(h.generation) OVER (PARTITION BY h.tag_id ORDER BY h.seq) AS prev_generation
			  FROM imagestream._history h) p
		JOIN imagestream.tag t ON t.id = p.tag_id
		WHERE p.generation < p.prev_generation;

	-- the ImportSuccess condition: complete when set, empty when not
	RETURN QUERY
		SELECT 'condition consistent', format('%s/%s:%s', t.namespace, t.stream, t.name),
			format('status %s, reason %s, generation %s, transition %s', t.import_status,
				   t.import_reason, t.import_generation, t.import_transition)
		FROM imagestream.tag t
		WHERE (t.import_status IS NULL AND (t.import_reason IS NOT NULL OR t.import_message IS NOT NULL
											OR t.import_generation IS NOT NULL OR t.import_transition IS NOT NULL))
		   OR (t.import_status = 'False' AND (t.import_reason IS NULL OR t.import_generation IS NULL
											  OR t.import_transition IS NULL OR NOT t.has_spec));

	-- a tag that exists has a spec, an event or a condition
	RETURN QUERY
		SELECT 'no empty tags', format('%s/%s:%s', t.namespace, t.stream, t.name), 'no spec, history or condition'
		FROM imagestream.tag t
		WHERE NOT t.has_spec AND t.history_length = 0 AND t.import_status IS NULL;

	-- a tag that follows a tag of its stream shows that tag's current event
	RETURN QUERY
		SELECT 'alias equals its source', format('%s/%s:%s', f.namespace, f.stream, f.name),
			format('shows %s, source %s shows %s', f.docker_image_reference, f.from_ref, s.docker_image_reference)
		FROM imagestream.tag f
		JOIN imagestream.tag s ON s.stream_id = f.stream_id
			AND f.from_ref = format('%s/%s:%s', s.namespace, s.stream, s.name)
		WHERE f.has_spec AND f.from_kind = 'ImageStreamTag' AND NOT f.reference
		  AND s.docker_image_reference IS NOT NULL
		  AND (f.docker_image_reference::text IS DISTINCT FROM s.docker_image_reference::text
			   OR f.image::text IS DISTINCT FROM s.image::text);

	-- catalogue rows of an image belong to an image that is catalogued
	RETURN QUERY
		SELECT 'no orphan catalogue rows', c.image::text, 'image_child of an uncatalogued image'
		FROM imagestream.image_child c
		WHERE NOT EXISTS (SELECT 1 FROM imagestream.image i WHERE i.digest = c.image)
		UNION ALL
		SELECT 'no orphan catalogue rows', l.image::text, 'image_layer of an uncatalogued image'
		FROM imagestream.image_layer l
		WHERE NOT EXISTS (SELECT 1 FROM imagestream.image i WHERE i.digest = l.image);

	-- change ids are dense from the oldest kept
	RETURN QUERY
		SELECT 'change ids dense', 'change', format('%s rows from id %s to %s', count(*), min(id), max(id))
		FROM imagestream.change
		HAVING count(*) > 0 AND max(id) - min(id) + 1 <> count(*);
END $$;

REVOKE ALL ON FUNCTION _history_key(image_ref, image_digest) FROM PUBLIC;
REVOKE ALL ON FUNCTION _history_ref_id(image_ref, image_digest) FROM PUBLIC;
REVOKE ALL ON FUNCTION _history_ref_ids(image_ref[], image_digest[]) FROM PUBLIC;

REVOKE ALL ON FUNCTION _notify_change(change) FROM PUBLIC;
REVOKE ALL ON FUNCTION _worker_apply_many(bigint, bigint[], text[], _fetched[], bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION _record_imports(stream, bigint, text[], text[], image_ref[], image_digest[],
	image_digest[], boolean[], boolean[], import_mode[], reference_policy[], boolean) FROM PUBLIC;

-- A privilege granted or revoked on a 0.1.0 function now applies to its
-- entry; the bodies are the owner's alone, as in a new installation.
DO $$
DECLARE
	body regprocedure;
	entry regprocedure;
	grantee oid;
BEGIN
	FOR body, entry IN
		SELECT p.oid, e.oid
		FROM pg_catalog.pg_proc p
		JOIN pg_catalog.pg_proc e ON e.pronamespace = p.pronamespace
			AND e.proname OPERATOR(pg_catalog.=) pg_catalog.substr(p.proname, 6)
			AND e.proargtypes OPERATOR(pg_catalog.=) p.proargtypes
		WHERE p.pronamespace = 'imagestream'::regnamespace AND p.proname LIKE '\_api\_%'
	LOOP
		IF (SELECT p.proacl IS NOT NULL FROM pg_catalog.pg_proc p WHERE p.oid = body)
		THEN
			EXECUTE pg_catalog.format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', entry);
		END IF;
		FOR grantee IN
			SELECT a.grantee FROM pg_catalog.pg_proc p, pg_catalog.aclexplode(p.proacl) a
			WHERE p.oid = body AND a.grantee <> p.proowner
		LOOP
			IF grantee = 0 THEN
				EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO PUBLIC', entry);
				EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', body);
			ELSE
				EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO %s', entry, grantee::regrole);
				EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %s FROM %s', body, grantee::regrole);
			END IF;
		END LOOP;
		EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', body);
	END LOOP;
END $$;
