-- promote() (doc/promotion.md): several tags moved at once, all or none.
-- Every move is read and checked before the first is made, with the
-- destination streams locked in the order of their ids: two promotions
-- that share streams wait for each other, never deadlock.  Sources are
-- read, never locked (a role with view only must not hold back another
-- namespace's writers), and read before any move: the moves of one call
-- are simultaneous, a tag that is both a source and a destination gives
-- its image from before the call.

-- The moves of a promotion, checked as data: each an object with the
-- strings "tag" and "from" and, optionally, "expect" (a digest, or null:
-- the tag must have no image), and nothing else; a destination once; at
-- most 1000.  Errors name the move by its index (from 0, as jsonb's ->).
CREATE OR REPLACE FUNCTION _promote_moves(p_moves jsonb)
RETURNS TABLE (n integer, namespace text, stream text, tag text, source text,
	kind source_kind, has_expect boolean, expect image_digest)
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
	max_moves constant integer := 1000;
	m jsonb;
	d record;
	seen text[] := '{}';
BEGIN
	IF jsonb_typeof(p_moves) IS DISTINCT FROM 'array' THEN
		RAISE EXCEPTION 'moves must be a JSON array'
			USING ERRCODE = 'invalid_parameter_value',
				HINT = 'Write [{"tag": "ns/stream:tag", "from": "ns/stream:tag", "expect": "sha256:…"}, …].';
	ELSIF jsonb_array_length(p_moves) > max_moves THEN
		RAISE EXCEPTION 'too many moves in one promotion'
			USING ERRCODE = 'program_limit_exceeded',
				DETAIL = format('There are %s; at most %s are allowed.', jsonb_array_length(p_moves), max_moves),
				HINT = 'Split the promotion; each part is all or none by itself.';
	END IF;
	FOR i IN 0 .. jsonb_array_length(p_moves) - 1 LOOP
		m := p_moves->i;
		n := i;
		BEGIN
			IF jsonb_typeof(m) <> 'object' OR jsonb_typeof(m->'tag') IS DISTINCT FROM 'string'
			   OR jsonb_typeof(m->'from') IS DISTINCT FROM 'string'
			   OR jsonb_typeof(m->'expect') NOT IN ('string', 'null')
			   OR EXISTS (SELECT 1 FROM jsonb_object_keys(m) k WHERE k NOT IN ('tag', 'from', 'expect')) THEN
				RAISE EXCEPTION 'is not an object of "tag", "from" and "expect"'
					USING ERRCODE = 'invalid_parameter_value';
			END IF;
			d := imagestream._parse_tag(m->>'tag');
			namespace := d.namespace; stream := d.stream; tag := d.tag;
			source := m->>'from';
			kind := imagestream._source_kind(source);
			IF kind = 'ImageStreamTag' AND strpos(source, ':') = 0 THEN
				RAISE EXCEPTION 'source "%" names no tag, image or digest', source
					USING ERRCODE = 'invalid_parameter_value';
			ELSIF kind = 'DockerImage' AND imagestream.ref_digest(source::imagestream.image_ref) IS NULL THEN
				RAISE EXCEPTION 'container image "%" has no digest', source
					USING ERRCODE = 'invalid_parameter_value';
			END IF;
			has_expect := m ? 'expect';
			expect := (m->>'expect')::imagestream.image_digest;
		EXCEPTION WHEN OTHERS THEN
			-- (one subtransaction for the move: its own error, with its index)
			RAISE EXCEPTION 'move % of the promotion is invalid: %', i, SQLERRM
				USING ERRCODE = 'invalid_parameter_value', DETAIL = format('The move is %s.', left(m::text, 200)),
					HINT = 'Each move is {"tag": "ns/stream:tag", "from": "ns/stream:tag" | "ns/stream@sha256:…" | "registry/repository@sha256:…", "expect": "sha256:…" | null}.';
		END;
		IF format('%s/%s:%s', namespace, stream, tag) = ANY (seen) THEN
			RAISE EXCEPTION 'move % of the promotion moves "%/%:%" again', i, namespace, stream, tag
				USING ERRCODE = 'invalid_parameter_value',
					DETAIL = 'A promotion moves each tag once.';
		END IF;
		seen := seen || format('%s/%s:%s', namespace, stream, tag);
		RETURN NEXT;
	END LOOP;
END $$;

-- What a move's source points at now: its image, the pull spec a DockerImage
-- source records, and the digest a signature must name (the one an import
-- of the source tag was served: an index's, for a Legacy import).
CREATE OR REPLACE FUNCTION _promote_source(p_source text, p_kind source_kind, p_default_ns text,
	OUT namespace text, OUT stream text, OUT image image_digest, OUT ref image_ref,
	OUT signed image_digest)
LANGUAGE plpgsql AS $$
DECLARE
	src record;
	head imagestream.tag;
	hint constant text := 'A stream of a namespace you may not view counts as missing.';
BEGIN
	IF p_kind = 'DockerImage' THEN
		ref := p_source::imagestream.image_ref;
		image := imagestream.ref_digest(ref);
		signed := image;
		PERFORM imagestream._refuse_unseen_image(image,
			'Promote from a tag or image of a stream you may view.');
		RETURN;
	END IF;
	src := imagestream._parse_source(p_source, p_kind, p_default_ns);
	namespace := src.namespace; stream := src.stream;
	PERFORM imagestream._require_source_stream(src.namespace, src.stream, hint);
	IF p_kind = 'ImageStreamImage' THEN
		image := (imagestream._resolve_image_id(src.namespace, src.stream, src.id)).image;
		signed := image;
		RETURN;
	END IF;
	SELECT * INTO head FROM imagestream.tag t
	WHERE t.namespace = src.namespace AND t.stream = src.stream AND t.name = src.tag;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'image stream tag "%/%:%" does not exist', src.namespace, src.stream, src.tag
			USING ERRCODE = 'undefined_object', HINT = hint;
	ELSIF head.image IS NULL THEN
		RAISE EXCEPTION 'image stream tag "%/%:%" has no image', src.namespace, src.stream, src.tag
			USING ERRCODE = 'no_data_found',
				DETAIL = 'A promotion moves tags to images; this tag points to no image, or to a pull spec alone.';
	END IF;
	image := head.image;
	signed := coalesce(head.source_digest, head.image);
END $$;

-- Refuses (55000) a move of tag t to p_image that its gates hold back
-- (155_gates.sql: the same verdict an import gets), naming the tag and
-- the gate.  A tag that already has the image does not move.
CREATE OR REPLACE FUNCTION _promote_gated(t imagestream.tag, p_image image_digest, p_signed image_digest)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	v record;
BEGIN
	IF t.id IS NULL OR NOT t.gated OR t.image IS NOT DISTINCT FROM p_image THEN
		RETURN;
	END IF;
	v := imagestream._gate_verdict(t.id, t.namespace, p_image, p_signed);
	IF v.state <> 'pass' THEN
		RAISE EXCEPTION 'gate % of image stream tag "%/%:%" % the promotion', v.gate, t.namespace, t.stream,
			t.name, CASE v.state WHEN 'pending' THEN 'holds back' ELSE 'refuses' END
			USING ERRCODE = 'object_not_in_prerequisite_state', DETAIL = v.message || '.',
				HINT = CASE v.state WHEN 'pending'
					THEN 'Promote again once the gate passes (see imagestream.gates()); nothing moved.'
					ELSE 'See imagestream.gates() of the tag; nothing moved.' END;
	END IF;
END $$;

CREATE OR REPLACE FUNCTION _api_promote(moves jsonb)
RETURNS TABLE (tag text, previous_image image_digest, image image_digest)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
DECLARE
	m record;
	src record;
	s imagestream.stream;
	t imagestream.tag;
	spec record;
	locked bigint[];
	sources jsonb := '[]';
	previous imagestream.image_digest[] := '{}';
BEGIN
	-- rights first, and nothing read of a namespace before them
	PERFORM imagestream._require(x.namespace, 'edit')
	FROM (SELECT DISTINCT p.namespace FROM imagestream._promote_moves(moves) p ORDER BY 1) x;

	SELECT array_agg(x.id) INTO locked
	FROM (SELECT y.id FROM imagestream.stream y
		  WHERE (y.namespace, y.name) IN (SELECT p.namespace, p.stream FROM imagestream._promote_moves(moves) p)
		  ORDER BY y.id FOR UPDATE) x;

	-- every move checked before the first is made
	FOR m IN SELECT * FROM imagestream._promote_moves(moves) p ORDER BY p.n LOOP
		SELECT * INTO s FROM imagestream.stream y
		WHERE y.namespace = m.namespace AND y.name = m.stream AND y.id = ANY (locked);
		IF NOT FOUND THEN
			RAISE EXCEPTION 'image stream "%/%" does not exist', m.namespace, m.stream
				USING ERRCODE = 'undefined_object',
					DETAIL = format('Move %s of the promotion has its destination there.', m.n),
					HINT = 'A promotion moves tags of existing streams; create the stream with tag() first.';
		END IF;
		PERFORM imagestream._refuse_followed(m.namespace, m.stream, m.tag, 'promote()');
		PERFORM imagestream._refuse_protected(m.namespace, m.stream, m.tag, 'promote() would move it');
		src := imagestream._promote_source(m.source, m.kind, m.namespace);
		SELECT * INTO t FROM imagestream.tag y WHERE y.stream_id = s.id AND y.name = m.tag;
		IF m.has_expect THEN
			PERFORM imagestream._check_expected(m.namespace, m.stream, m.tag, t.image, m.expect);
		END IF;
		PERFORM imagestream._refuse_signature_kind(t, CASE WHEN m.kind = 'DockerImage' THEN 'DockerImage'
																ELSE 'ImageStreamImage' END::imagestream.source_kind);
		PERFORM imagestream._promote_gated(t, src.image, src.signed);
		sources := sources || jsonb_build_object('namespace', src.namespace, 'stream', src.stream,
			'image', src.image::text, 'ref', src.ref::text);
		previous := previous || t.image;
	END LOOP;

	FOR m IN SELECT * FROM imagestream._promote_moves(moves) p ORDER BY p.n LOOP
		-- (read again: an earlier move of the same stream moved its generation)
		SELECT * INTO s FROM imagestream.stream y
		WHERE y.namespace = m.namespace AND y.name = m.stream;
		SELECT * INTO t FROM imagestream.tag y WHERE y.stream_id = s.id AND y.name = m.tag;
		tag := format('%s/%s:%s', m.namespace, m.stream, m.tag);
		previous_image := previous[m.n + 1];
		image := (sources->m.n->>'image')::imagestream.image_digest;
		-- a tag keeps how it is referenced and imported; a new one gets tag()'s defaults
		IF m.kind = 'DockerImage' THEN
			PERFORM imagestream._ensure_image(image, (sources->m.n->>'ref')::imagestream.image_ref);
			spec := imagestream._set_spec(s, m.tag, 'DockerImage', sources->m.n->>'ref',
				coalesce(t.reference, false), false, false, coalesce(t.import_mode, 'Legacy'),
				coalesce(t.reference_policy, 'Source'), '{}');
			PERFORM imagestream._add_event((spec.t).id, (sources->m.n->>'ref')::imagestream.image_ref,
				image, (spec.t).spec_generation, now(), 'promote');
		ELSE
			PERFORM imagestream._tag_image(s, m.tag, sources->m.n->>'namespace', sources->m.n->>'stream',
				image::text, coalesce(t.reference, false), coalesce(t.import_mode, 'Legacy'),
				coalesce(t.reference_policy, 'Source'), false, 'promote');
		END IF;
		RETURN NEXT;
	END LOOP;
END $$;

CREATE OR REPLACE FUNCTION promote(moves jsonb)
RETURNS TABLE (tag text, previous_image image_digest, image image_digest)
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C;
COMMENT ON FUNCTION promote(jsonb) IS 'move several tags at once, all or none, each to a tag''s image, a stream image or a digest, with their expectations and gates checked first';
