-- Image change triggers (doc/promotion.md, OpenShift's image change
-- triggers): when what resolve() returns for a tag changes, a column of a
-- table follows it, in the same transaction, written with the rights of the
-- role that made the trigger (src/trigger_write.c).  Every move of a tag
-- logs a tag_updated change (_add_event, _record_imports,
-- _log_policy_change), and each of those places fires the tag's triggers
-- with _fire_triggers.

CREATE OR REPLACE FUNCTION _trigger_write(owner oid, namespace text, target regclass,
	column_name name, key_column name, key_value text, field_path text[], spec text)
RETURNS bigint
	AS 'MODULE_PATHNAME', 'imagestream_trigger_write' LANGUAGE C VOLATILE;

-- Bounds: the triggers of one tag (each firing is a subtransaction and a
-- statement of the moving transaction), and the depth of a jsonb path.
CREATE OR REPLACE FUNCTION _trigger_max_per_tag() RETURNS integer
LANGUAGE sql IMMUTABLE AS $$ SELECT 100 $$;
CREATE OR REPLACE FUNCTION _trigger_max_path_depth() RETURNS integer
LANGUAGE sql IMMUTABLE AS $$ SELECT 16 $$;

-- Fires one trigger for its tag's current pull spec.  Its own
-- subtransaction: an error is recorded on the trigger and never fails the
-- move.
CREATE OR REPLACE FUNCTION _fire_trigger(tr imagestream.image_trigger, t imagestream.tag) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	spec imagestream.image_ref := imagestream._pull_spec(t);
	msg text;
	state text;
	written bigint;
BEGIN
	IF spec IS NULL THEN
		RETURN;
	END IF;
	BEGIN
		written := imagestream._trigger_write(tr.owner, t.namespace, tr.target, tr.column_name,
			tr.key_column, tr.key_value, tr.field_path, spec::text);
		-- (a key that matches no row is a trigger that keeps nothing in step)
		UPDATE imagestream.image_trigger
		SET last_triggered_image = CASE WHEN written > 0 THEN t.image ELSE last_triggered_image END,
			last_fired_at = now(),
			last_error = CASE WHEN written = 0
							  THEN format('No row of %s has %s = %L.', tr.target, quote_ident(tr.key_column), tr.key_value) END
		WHERE id = tr.id;
	EXCEPTION WHEN OTHERS THEN
		GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, state = RETURNED_SQLSTATE;
		UPDATE imagestream.image_trigger
		SET last_fired_at = now(), last_error = format('%s (SQLSTATE %s)', msg, state)
		WHERE id = tr.id;
	END;
END $$;

-- The unpaused triggers of the tags (rows as they are now), oldest first.
CREATE OR REPLACE FUNCTION _fire_triggers(p_tags imagestream.tag[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	r record;
BEGIN
	FOR r IN SELECT g AS tr, t FROM unnest(p_tags) AS t
			 JOIN imagestream.image_trigger g ON g.tag_id = t.id
			 WHERE NOT g.paused
			 ORDER BY g.id
	LOOP
		PERFORM imagestream._fire_trigger(r.tr, r.t);
	END LOOP;
END $$;

-- The first object that an UPDATE of p_target would run code of (a
-- trigger, a rule, a foreign or other non-table relation, a function,
-- operator or type no superuser defined, another relation read by a policy
-- or check, a foreign key whose ON UPDATE writes another table), on it, its
-- partitions or its children; NULL when there is none.
-- src/trigger_write.c refuses such a target (why: the top of that file).
CREATE OR REPLACE FUNCTION _foreign_code(p_target regclass) RETURNS text
LANGUAGE sql STABLE AS $$
	WITH RECURSIVE rels(rel) AS (
		SELECT p_target::oid
		UNION
		SELECT i.inhrelid FROM pg_catalog.pg_inherits i JOIN rels ON i.inhparent OPERATOR(pg_catalog.=) rels.rel
	), found(what) AS (
		SELECT pg_catalog.format('%s, which is not a table', c.oid::pg_catalog.regclass)
		FROM rels JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) rels.rel
		WHERE c.relkind NOT IN ('r', 'p')
		UNION ALL
		SELECT pg_catalog.format('trigger %I on %s', t.tgname, t.tgrelid::pg_catalog.regclass)
		FROM rels JOIN pg_catalog.pg_trigger t ON t.tgrelid OPERATOR(pg_catalog.=) rels.rel
		WHERE NOT t.tgisinternal
		UNION ALL
		SELECT pg_catalog.format('rule %I on %s', r.rulename, r.ev_class::pg_catalog.regclass)
		FROM rels JOIN pg_catalog.pg_rewrite r ON r.ev_class OPERATOR(pg_catalog.=) rels.rel
		UNION ALL
		-- a foreign key of another table whose action writes it (its triggers would run)
		SELECT pg_catalog.format('%s, whose ON UPDATE writes %s', pg_catalog.pg_describe_object(
				'pg_catalog.pg_constraint'::pg_catalog.regclass, c.oid, 0), c.conrelid::pg_catalog.regclass)
		FROM rels JOIN pg_catalog.pg_constraint c ON c.confrelid OPERATOR(pg_catalog.=) rels.rel
		WHERE c.contype OPERATOR(pg_catalog.=) 'f' AND c.confupdtype IN ('c', 'n', 'd')
		UNION ALL
		-- what the relations' policies, checks, generated columns and indexes use
		SELECT pg_catalog.format('%s uses %s', pg_catalog.pg_describe_object(d.classid, d.objid, d.objsubid),
								 pg_catalog.pg_describe_object(d.refclassid, d.refobjid, d.refobjsubid))
		FROM pg_catalog.pg_depend d
		WHERE ((d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_policy'::pg_catalog.regclass
				AND d.objid IN (SELECT p.oid FROM pg_catalog.pg_policy p JOIN rels ON p.polrelid OPERATOR(pg_catalog.=) rels.rel))
			   OR (d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_constraint'::pg_catalog.regclass
				   AND d.objid IN (SELECT c.oid FROM pg_catalog.pg_constraint c JOIN rels ON c.conrelid OPERATOR(pg_catalog.=) rels.rel
								   WHERE c.contype OPERATOR(pg_catalog.=) 'c'))
			   OR (d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_attrdef'::pg_catalog.regclass
				   AND d.objid IN (SELECT a.oid FROM pg_catalog.pg_attrdef a JOIN rels ON a.adrelid OPERATOR(pg_catalog.=) rels.rel
								   JOIN pg_catalog.pg_attribute c ON c.attrelid OPERATOR(pg_catalog.=) a.adrelid AND c.attnum OPERATOR(pg_catalog.=) a.adnum
								   WHERE c.attgenerated OPERATOR(pg_catalog.<>) ''))
			   OR (d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
				   AND d.objid IN (SELECT x.indexrelid FROM pg_catalog.pg_index x JOIN rels ON x.indrelid OPERATOR(pg_catalog.=) rels.rel)))
		  AND ((d.refclassid IN ('pg_catalog.pg_proc'::pg_catalog.regclass, 'pg_catalog.pg_operator'::pg_catalog.regclass)
				AND d.refobjid OPERATOR(pg_catalog.>=) 16384)
			   OR (d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_type'::pg_catalog.regclass AND d.refobjid OPERATOR(pg_catalog.>=) 16384
				   AND (SELECT y.typtype FROM pg_catalog.pg_type y WHERE y.oid OPERATOR(pg_catalog.=) d.refobjid) OPERATOR(pg_catalog.<>) 'e')
			   OR (d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
				   AND d.refobjid NOT IN (SELECT rel FROM rels)
				   AND (SELECT y.relkind FROM pg_catalog.pg_class y WHERE y.oid OPERATOR(pg_catalog.=) d.refobjid) NOT IN ('i', 'I')))
	)
	SELECT what FROM found LIMIT 1
$$;

-- What a trigger may write: a column of a permanent table of the owner's
-- choosing that the owner may update, picked out by a key column it may
-- read; then the statement is planned as the owner (_trigger_write).
CREATE OR REPLACE FUNCTION _trigger_check(p_owner oid, p_namespace text, p_target regclass,
	p_column name, p_key_column name, p_key_value text, p_field_path text[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	rel record;
	col_type regtype;
	wanted regtype[] := CASE WHEN p_field_path IS NULL THEN ARRAY['text', 'varchar']::regtype[]
							 ELSE ARRAY['jsonb']::regtype[] END;
BEGIN
	IF p_target IS NULL OR p_column IS NULL OR p_key_column IS NULL OR p_key_value IS NULL THEN
		RAISE EXCEPTION 'target, column_name, key_column and key_value must not be null'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF cardinality(p_field_path) = 0 OR array_position(p_field_path, NULL) IS NOT NULL
	   OR array_ndims(p_field_path) > 1 THEN
		RAISE EXCEPTION 'invalid field_path'
			USING ERRCODE = 'invalid_parameter_value',
				DETAIL = 'A field path is a one-dimensional array of keys and indexes without nulls.',
				HINT = 'Leave it NULL to set a text column.';
	END IF;
	IF cardinality(p_field_path) > imagestream._trigger_max_path_depth() THEN
		RAISE EXCEPTION 'field_path is too deep'
			USING ERRCODE = 'program_limit_exceeded',
				DETAIL = format('It has %s elements; at most %s are allowed.',
								cardinality(p_field_path), imagestream._trigger_max_path_depth());
	END IF;
	SELECT c.relkind, c.relpersistence INTO rel FROM pg_class c WHERE c.oid = p_target;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'relation with OID % does not exist', p_target::oid
			USING ERRCODE = 'undefined_table';
	ELSIF rel.relkind NOT IN ('r', 'p') THEN
		RAISE EXCEPTION '"%" is not a table', p_target
			USING ERRCODE = 'wrong_object_type',
				DETAIL = 'An image change trigger sets a column of a table.';
	ELSIF rel.relpersistence = 't' THEN
		RAISE EXCEPTION '"%" is a temporary table', p_target
			USING ERRCODE = 'wrong_object_type',
				DETAIL = 'A trigger fires in whichever session moves the tag, where another session''s temporary table does not exist.';
	END IF;

	SELECT a.atttypid INTO col_type FROM pg_attribute a
	WHERE a.attrelid = p_target AND a.attname = p_column AND a.attnum > 0 AND NOT a.attisdropped;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'column "%" of relation "%" does not exist', p_column, p_target
			USING ERRCODE = 'undefined_column';
	ELSIF col_type <> ALL (wanted) THEN
		RAISE EXCEPTION 'column "%" of relation "%" is of type %', p_column, p_target, col_type
			USING ERRCODE = 'datatype_mismatch',
				DETAIL = CASE WHEN p_field_path IS NULL
						 THEN 'Without a field path the pull spec goes into a text or varchar column.'
						 ELSE 'With a field path the pull spec goes into a jsonb column.' END;
	END IF;
	PERFORM 1 FROM pg_attribute a
	WHERE a.attrelid = p_target AND a.attname = p_key_column AND a.attnum > 0 AND NOT a.attisdropped;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'column "%" of relation "%" does not exist', p_key_column, p_target
			USING ERRCODE = 'undefined_column';
	END IF;

	IF NOT has_column_privilege(p_owner, p_target, p_column::text, 'UPDATE')
	   OR (p_field_path IS NOT NULL AND NOT has_column_privilege(p_owner, p_target, p_column::text, 'SELECT'))
	   OR NOT has_column_privilege(p_owner, p_target, p_key_column::text, 'SELECT') THEN
		RAISE EXCEPTION 'permission denied for table %', p_target
			USING ERRCODE = 'insufficient_privilege',
				DETAIL = format('A trigger writes with the rights of its owner, who needs UPDATE on column %I%s and SELECT on column %I.',
								p_column, CASE WHEN p_field_path IS NOT NULL THEN ' (and SELECT: the path is set inside it)' ELSE '' END,
								p_key_column);
	END IF;
	PERFORM imagestream._trigger_write(p_owner, p_namespace, p_target, p_column, p_key_column,
									   p_key_value, p_field_path, NULL);
END $$;

CREATE OR REPLACE FUNCTION _api_add_trigger(tag text, target regclass, column_name name,
	key_column name, key_value text, field_path text[] DEFAULT NULL, paused boolean DEFAULT false)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
DECLARE
	d record := imagestream._parse_tag(tag);
	owner oid := imagestream._calling_role();
	t imagestream.tag;
	tr imagestream.image_trigger;
BEGIN
	PERFORM imagestream._require(d.namespace, 'edit');
	-- (the tag row's lock: the bound, and the first firing, against moves)
	SELECT * INTO t FROM imagestream.tag x
	WHERE x.namespace = d.namespace AND x.stream = d.stream AND x.name = d.tag FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'image stream tag "%" does not exist', tag
			USING ERRCODE = 'undefined_object',
				HINT = 'Create the tag first, with tag() or import_image().';
	END IF;
	PERFORM imagestream._trigger_check(owner, d.namespace, target, column_name, key_column,
									   key_value, field_path);
	IF (SELECT count(*) FROM imagestream.image_trigger g WHERE g.tag_id = t.id)
	   >= imagestream._trigger_max_per_tag() THEN
		RAISE EXCEPTION 'too many triggers on image stream tag "%"', tag
			USING ERRCODE = 'program_limit_exceeded',
				DETAIL = format('A tag has at most %s triggers.', imagestream._trigger_max_per_tag());
	END IF;
	INSERT INTO imagestream.image_trigger (tag_id, target, column_name, key_column, key_value,
										   field_path, paused, owner)
		VALUES (t.id, target, column_name, key_column, key_value, field_path,
				coalesce(paused, false), owner)
		RETURNING * INTO tr;
	-- a tag that has an image sets the column now, as OpenShift's triggers do
	IF NOT tr.paused THEN
		PERFORM imagestream._fire_trigger(tr, t);
	END IF;
	RETURN tr.id;
END $$;

CREATE OR REPLACE FUNCTION add_trigger(tag text, target regclass, column_name name,
	key_column name, key_value text, field_path text[] DEFAULT NULL, paused boolean DEFAULT false)
RETURNS bigint
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C;
COMMENT ON FUNCTION add_trigger(text, regclass, name, name, text, text[], boolean) IS 'keep a column of the rows where key_column = key_value set to the tag''s pull spec';

-- The trigger id, locked, for pause_trigger and drop_trigger: its owner or
-- an admin of the tag's namespace may change it; to whoever may not view the
-- namespace, it does not exist.
CREATE OR REPLACE FUNCTION _lock_trigger(p_id bigint, OUT tr imagestream.image_trigger,
	OUT t imagestream.tag)
LANGUAGE plpgsql AS $$
BEGIN
	SELECT * INTO t FROM imagestream.tag x
	WHERE x.id = (SELECT g.tag_id FROM imagestream.image_trigger g WHERE g.id = p_id)
	FOR UPDATE;
	SELECT * INTO tr FROM imagestream.image_trigger g WHERE g.id = p_id FOR UPDATE;
	IF tr.id IS NULL THEN
		RAISE EXCEPTION 'image change trigger % does not exist', p_id
			USING ERRCODE = 'undefined_object';
	END IF;
	IF NOT (tr.owner = imagestream._calling_role() OR imagestream._can(t.namespace, 'view')) THEN
		RAISE EXCEPTION 'image change trigger % does not exist', p_id
			USING ERRCODE = 'undefined_object';
	END IF;
	IF tr.owner <> imagestream._calling_role() AND NOT imagestream._can(t.namespace, 'admin') THEN
		RAISE EXCEPTION 'permission denied for image change trigger %', p_id
			USING ERRCODE = 'insufficient_privilege',
				DETAIL = format('Only its owner, %s, or an admin of namespace "%s" may change it.',
								coalesce(pg_get_userbyid(tr.owner)::text, tr.owner::text), t.namespace);
	END IF;
END $$;

-- Pausing keeps the trigger still; unpausing catches up with a tag that
-- moved meanwhile.
CREATE OR REPLACE FUNCTION _api_pause_trigger(id bigint, paused boolean) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
DECLARE
	l record := imagestream._lock_trigger(id);
	tr imagestream.image_trigger := l.tr;
	t imagestream.tag := l.t;
BEGIN
	IF paused IS NULL THEN
		RAISE EXCEPTION 'paused must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	UPDATE imagestream.image_trigger g SET paused = _api_pause_trigger.paused
	WHERE g.id = tr.id RETURNING * INTO tr;
	IF NOT tr.paused AND tr.last_triggered_image IS DISTINCT FROM t.image THEN
		PERFORM imagestream._fire_trigger(tr, t);
	END IF;
END $$;

CREATE OR REPLACE FUNCTION pause_trigger(id bigint, paused boolean) RETURNS void
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C;
COMMENT ON FUNCTION pause_trigger(bigint, boolean) IS 'pause or resume an image change trigger';

CREATE OR REPLACE FUNCTION _api_drop_trigger(id bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
DECLARE
	l record := imagestream._lock_trigger(id);
BEGIN
	DELETE FROM imagestream.image_trigger g WHERE g.id = (l.tr).id;
END $$;

CREATE OR REPLACE FUNCTION drop_trigger(id bigint) RETURNS void
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C;
COMMENT ON FUNCTION drop_trigger(bigint) IS 'remove an image change trigger';

-- A table dropped takes its image change triggers with it, as it takes its
-- own PostgreSQL triggers.  (A column dropped or renamed leaves them, to
-- record the error at the next firing.)
CREATE OR REPLACE FUNCTION _forget_dropped_targets() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
BEGIN
	DELETE FROM imagestream.image_trigger g
	USING pg_event_trigger_dropped_objects() d
	WHERE d.classid = 'pg_class'::regclass AND d.objsubid = 0 AND g.target = d.objid;
END $$;

DO $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_event_trigger WHERE evtname = 'imagestream_forget_dropped_targets') THEN
		CREATE EVENT TRIGGER imagestream_forget_dropped_targets ON sql_drop
			EXECUTE FUNCTION imagestream._forget_dropped_targets();
	END IF;
END $$;
