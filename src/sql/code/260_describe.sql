-- describe(): a stream as `oc describe is` prints it, and the tag order
-- OpenShift prints and imports in.

-- library-go's PrioritizeTags (src/tag_order.c): the distinct tags, without
-- those in skip, in the order OpenShift prints and imports them, at most
-- room of them (-1: all).
CREATE OR REPLACE FUNCTION _prioritize_tags(tags text[], skip text[] DEFAULT '{}',
	room integer DEFAULT -1) RETURNS text[]
	AS 'MODULE_PATHNAME', 'imagestream_prioritize_tags' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- docker's units.HumanDuration, as oc prints ages.
CREATE OR REPLACE FUNCTION _human_duration(d interval) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
	secs double precision := extract(epoch FROM d);
	hours integer := floor(secs / 3600 + 0.5);
BEGIN
	IF secs < 1 THEN RETURN 'Less than a second';
	ELSIF floor(secs) = 1 THEN RETURN '1 second';
	ELSIF secs < 60 THEN RETURN format('%s seconds', floor(secs));
	ELSIF floor(secs / 60) = 1 THEN RETURN 'About a minute';
	ELSIF secs < 3600 THEN RETURN format('%s minutes', floor(secs / 60));
	ELSIF hours = 1 THEN RETURN 'About an hour';
	ELSIF hours < 48 THEN RETURN format('%s hours', hours);
	ELSIF hours < 24 * 7 * 2 THEN RETURN format('%s days', hours / 24);
	ELSIF hours < 24 * 30 * 2 THEN RETURN format('%s weeks', hours / 24 / 7);
	ELSIF hours < 24 * 365 * 2 THEN RETURN format('%s months', hours / 24 / 30);
	END IF;
	RETURN format('%s years', floor(secs / 3600)::bigint / 24 / 365);
END $$;

-- A spec tag's source as oc prints it: the namespace only when it differs.
CREATE OR REPLACE FUNCTION _from_display(t imagestream.tag) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE WHEN t.from_kind <> 'DockerImage' AND starts_with(t.from_ref, t.namespace || '/')
				THEN substr(t.from_ref, length(t.namespace) + 2)
				ELSE t.from_ref END
$$;

-- The tag a same-stream alias chain ends at, or NULL when the tag is no
-- alias or its chain ends nowhere (oc's FollowTagReference).  An alias
-- that protection holds shows its own image: a chain ends there.
CREATE OR REPLACE FUNCTION _alias_target(p_tag imagestream.tag) RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
	cur imagestream.tag := p_tag;
	prefix text := format('%s/%s:', p_tag.namespace, p_tag.stream);
	seen text[] := ARRAY[p_tag.name];
	next_name text;
BEGIN
	WHILE cur.has_spec AND cur.from_kind = 'ImageStreamTag' AND starts_with(cur.from_ref, prefix)
		  AND imagestream._protecting_patterns(cur) IS NULL LOOP
		next_name := substr(cur.from_ref, length(prefix) + 1);
		IF next_name = ANY (seen) THEN
			RETURN NULL;
		END IF;
		seen := seen || next_name;
		SELECT * INTO cur FROM imagestream.tag
		WHERE stream_id = p_tag.stream_id AND name = next_name AND has_spec;
		IF NOT FOUND THEN
			RETURN NULL;
		END IF;
	END LOOP;
	RETURN CASE WHEN cur.name <> p_tag.name THEN cur.name END;
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
		IF t.has_spec AND NOT t.reference AND imagestream._spec_pending(t) THEN
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

CREATE OR REPLACE FUNCTION describe(stream text) RETURNS text
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C STABLE;
COMMENT ON FUNCTION describe(text) IS 'oc describe is: a readable report of a stream and its tags';
