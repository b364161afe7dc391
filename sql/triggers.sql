-- Image change triggers (doc/promotion.md): a deployments table whose text
-- column and jsonb path follow a tag through map_image, tag, rollback,
-- promote and an alias; pause and resume; a trigger whose owner lost UPDATE records its
-- error while the tag moves; row-level security of the target honoured; what
-- add_trigger refuses; who may pause and drop; the view triggers.
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/test/regress_setup.psql
\i :abs_srcdir/test/regress_refusal.psql

CREATE ROLE regress_tr_team;		-- edits tr, owns the triggers
CREATE ROLE regress_tr_mate;		-- edits tr too
CREATE ROLE regress_tr_viewer;
CREATE ROLE regress_tr_admin;
CREATE ROLE regress_tr_other;		-- edits tr2 only
SELECT grant_namespace('tr', 'regress_tr_team', 'edit');
SELECT grant_namespace('tr', 'regress_tr_mate', 'edit');
SELECT grant_namespace('tr', 'regress_tr_viewer', 'view');
SELECT grant_namespace('tr', 'regress_tr_admin', 'admin');
SELECT grant_namespace('tr2', 'regress_tr_other', 'edit');

CREATE FUNCTION pg_temp.push(p_tag text, p_content text) RETURNS void LANGUAGE sql AS $$
	SELECT imagestream.map_image(p_tag, imagestream.ref_with_digest('quay.io/tr/app',
		imagestream.content_digest(p_content::bytea)))
$$;
-- the digest of a content, short
CREATE FUNCTION pg_temp.d(p_content text) RETURNS text LANGUAGE sql AS $$
	SELECT left(imagestream.digest_hex(imagestream.content_digest(p_content::bytea)), 8)
$$;
SELECT pg_temp.push('tr/app:prod', 'a');
SELECT pg_temp.push('tr/app:staging', 's');
SELECT pg_temp.push('tr2/app:prod', 'o');

-- the platform team's table: one row per tenant and deployment, each tenant
-- sees and changes its own rows only
CREATE TABLE public.deployments (
	tenant text NOT NULL,
	name text NOT NULL,
	image text,
	spec jsonb,
	replicas integer,
	PRIMARY KEY (tenant, name)
);
INSERT INTO public.deployments VALUES
	('regress_tr_team', 'web', NULL, '{"containers": [{"name": "web", "image": null}]}', 1),
	('regress_tr_team', 'api', NULL, '{"containers": [{"name": "api"}]}', 1),
	('regress_tr_mate', 'web', 'mine', '{"containers": [{"name": "web", "image": "mine"}]}', 1);
ALTER TABLE public.deployments ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_rows ON public.deployments USING (tenant = current_user);
GRANT SELECT (tenant, name, spec), UPDATE (image, spec) ON public.deployments
	TO regress_tr_team, regress_tr_mate;
CREATE VIEW public.deployments_view AS SELECT * FROM public.deployments;
GRANT SELECT, UPDATE ON public.deployments_view TO regress_tr_team;
-- each row: which content its image and its spec's image name, or '-'
CREATE FUNCTION pg_temp.rows() RETURNS TABLE(tenant text, name text, image text, spec_image text)
LANGUAGE sql AS $$
	SELECT d.tenant, d.name,
		   coalesce(substring(d.image from '@sha256:(.{8})'), d.image, '-'),
		   coalesce(substring(d.spec #>> '{containers,0,image}' from '@sha256:(.{8})'),
					d.spec #>> '{containers,0,image}', '-')
	FROM public.deployments d ORDER BY d.tenant, d.name
$$;


-- created by the team: the text column and the jsonb path follow prod; a
-- tag with an image sets them at once; the mate's row named web stays
SET ROLE regress_tr_team;
SELECT add_trigger('tr/app:prod', 'public.deployments', 'image', 'name', 'web') AS t_text \gset
SELECT add_trigger('tr/app:prod', 'deployments', 'spec', 'name', 'web',
				   field_path => '{containers,0,image}') AS t_json \gset
RESET ROLE;
SELECT * FROM pg_temp.rows();
SELECT image = resolve('tr/app:prod')::text AS resolved FROM public.deployments
WHERE tenant = 'regress_tr_team' AND name = 'web';

-- map_image, tag, rollback
SELECT pg_temp.push('tr/app:prod', 'b');
SELECT * FROM pg_temp.rows() WHERE name = 'web';
SELECT tag('tr/app:staging', 'tr/app:prod');
SELECT * FROM pg_temp.rows() WHERE name = 'web';
SELECT (rollback('tr/app:prod')).image IS NOT NULL AS rolled_back;
SELECT * FROM pg_temp.rows() WHERE name = 'web';
SELECT pg_temp.d('a') AS a, pg_temp.d('b') AS b, pg_temp.d('s') AS s, pg_temp.d('l') AS l;
-- promote: staging gets a new image, prod is promoted from it with its
-- expectation, and the rows follow in the same call
SELECT pg_temp.push('tr/app:staging', 'p');
SELECT tag, left(digest_hex(image), 8) = pg_temp.d('p') AS promoted FROM promote(jsonb_build_array(
	jsonb_build_object('tag', 'tr/app:prod', 'from', 'tr/app:staging',
					   'expect', (SELECT image FROM image_stream_tags
								  WHERE namespace = 'tr' AND stream = 'app' AND tag = 'prod'))));
SELECT * FROM pg_temp.rows() WHERE name = 'web';
SELECT pg_temp.d('p') AS p;

-- an alias: prod follows latest, and so do the rows
SELECT pg_temp.push('tr/app:latest', 'l');
SELECT tag('tr/app:latest', 'tr/app:prod', alias => true);
SELECT pg_temp.push('tr/app:latest', 'l2');
SELECT * FROM pg_temp.rows() WHERE name = 'web';
SELECT pg_temp.d('l2') AS l2;
SELECT tag, column_name, field_path, paused, owner, left(digest_hex(last_triggered_image), 8),
	   last_fired_at IS NOT NULL AS fired, last_error
FROM triggers WHERE tag LIKE 'tr/%' ORDER BY id;

-- paused: the text column stays, the jsonb path follows; resumed: it
-- catches up in the same call
SET ROLE regress_tr_team;
SELECT pause_trigger(:t_text, true);
RESET ROLE;
SELECT pg_temp.push('tr/app:latest', 'l3');
SELECT * FROM pg_temp.rows() WHERE name = 'web';
SET ROLE regress_tr_team;
SELECT pause_trigger(:t_text, false);
RESET ROLE;
SELECT * FROM pg_temp.rows() WHERE name = 'web';
SELECT pg_temp.d('l3') AS l3;

-- the owner lost UPDATE on the column: the error is recorded, the tag moves
-- and the other trigger still writes; UPDATE back, the next move clears it
REVOKE UPDATE (image) ON public.deployments FROM regress_tr_team;
SELECT pg_temp.push('tr/app:latest', 'l4');
SELECT left(digest_hex(image), 8) AS prod FROM image_stream_tags
WHERE namespace = 'tr' AND stream = 'app' AND tag = 'prod';
SELECT * FROM pg_temp.rows() WHERE name = 'web';
SELECT id = :t_text AS text_trigger, last_error FROM triggers WHERE last_error IS NOT NULL;
SELECT * FROM check_invariants();
-- the error's text is the owner's and the admins', not every viewer's
SET ROLE regress_tr_viewer;
SELECT count(*) AS errors_a_viewer_sees FROM triggers WHERE last_error IS NOT NULL;
SET ROLE regress_tr_team;
SELECT count(*) AS errors_the_owner_sees FROM triggers WHERE last_error IS NOT NULL;
SET ROLE regress_tr_admin;
SELECT count(*) AS errors_an_admin_sees FROM triggers WHERE last_error IS NOT NULL;
RESET ROLE;
GRANT UPDATE (image) ON public.deployments TO regress_tr_team;
SELECT pg_temp.push('tr/app:latest', 'l5');
SELECT * FROM pg_temp.rows() WHERE name = 'web';
SELECT count(*) AS errors FROM triggers WHERE last_error IS NOT NULL;
-- the owner lost its right on the namespace: an error too
SELECT grant_namespace('tr', 'regress_tr_team', 'view');
SELECT pg_temp.push('tr/app:latest', 'l6');
SELECT DISTINCT last_error FROM triggers WHERE tag = 'tr/app:prod';
SELECT grant_namespace('tr', 'regress_tr_team', 'edit');

-- refused at creation
SET ROLE regress_tr_team;
SELECT pg_temp.refusal($$SELECT add_trigger('tr/app:prod', 'public.deployments', 'image; DROP TABLE x', 'name', 'web')$$);
SELECT pg_temp.refusal($$SELECT add_trigger('tr/app:prod', 'public.deployments', 'image', 'nme', 'web')$$);
SELECT pg_temp.refusal($$SELECT add_trigger('tr/app:prod', 'public."deployments; x"', 'image', 'name', 'web')$$);
SELECT pg_temp.refusal($$SELECT add_trigger('tr/app:prod', 'public.deployments', 'replicas', 'name', 'web')$$);
SELECT pg_temp.refusal($$SELECT add_trigger('tr/app:prod', 'public.deployments', 'image', 'name', 'web', '{containers,0,image}')$$);
SELECT pg_temp.refusal($$SELECT add_trigger('tr/app:prod', 'public.deployments', 'spec', 'name', 'web')$$);
SELECT pg_temp.refusal($$SELECT add_trigger('tr/app:prod', 'public.deployments', 'replicas', 'name', 'web', '{}')$$);
SELECT pg_temp.refusal($$SELECT add_trigger('tr/app:prod', 'public.deployments', 'spec', 'name', 'web', '{a,NULL}')$$);
SELECT pg_temp.refusal($$SELECT add_trigger('tr/app:prod', 'public.deployments', 'spec', 'name', 'web', array_fill('a'::text, ARRAY[17]))$$);
SELECT pg_temp.refusal($$SELECT add_trigger('tr/app:prod', 'public.deployments', 'image', 'replicas', '1')$$);
SELECT pg_temp.refusal($$SELECT add_trigger('tr/app:prod', 'public.deployments_view', 'image', 'name', 'web')$$);
SELECT pg_temp.refusal($$SELECT add_trigger('tr/app:prod', 'public.deployments', 'image', 'name', NULL)$$);
SELECT pg_temp.refusal($$SELECT add_trigger('tr/app:nosuch', 'public.deployments', 'image', 'name', 'web')$$);
SELECT pg_temp.refusal($$SELECT add_trigger('tr2/app:prod', 'public.deployments', 'image', 'name', 'web')$$);
CREATE TEMP TABLE mine (name text, image text);
SELECT pg_temp.refusal($$SELECT add_trigger('tr/app:prod', 'pg_temp.mine', 'image', 'name', 'web')$$);
DROP TABLE mine;
SET ROLE regress_tr_viewer;
SELECT pg_temp.refusal($$SELECT add_trigger('tr/app:prod', 'public.deployments', 'image', 'name', 'web')$$);
SET ROLE regress_tr_other;
SELECT pg_temp.refusal($$SELECT add_trigger('tr/app:prod', 'public.deployments', 'image', 'name', 'web')$$);
RESET ROLE;
-- an integer key: its value is read as the key column's type
CREATE TABLE public.by_number (id integer PRIMARY KEY, image text);
GRANT SELECT (id), UPDATE (image) ON public.by_number TO regress_tr_team;
INSERT INTO public.by_number VALUES (7, NULL);
SET ROLE regress_tr_team;
SELECT pg_temp.refusal($$SELECT add_trigger('tr/app:prod', 'public.by_number', 'image', 'id', 'seven')$$);
SELECT add_trigger('tr/app:prod', 'public.by_number', 'image', 'id', '7') AS t_num \gset
RESET ROLE;
SELECT image = resolve('tr/app:prod')::text AS follows FROM public.by_number;

-- the mate's trigger on the same key writes the mate's row only
SET ROLE regress_tr_mate;
SELECT add_trigger('tr/app:staging', 'public.deployments', 'image', 'name', 'web') AS t_mate \gset
RESET ROLE;
SELECT * FROM pg_temp.rows();

-- the view shows the triggers of tags the caller may view
SET ROLE regress_tr_viewer;
SELECT count(*) FROM triggers;
SET ROLE regress_tr_other;
SELECT count(*) FROM triggers;
-- pause and drop: the owner or a namespace admin; another editor may not,
-- and to a role that may not view the namespace the trigger does not exist
SELECT pg_temp.refusal(format('SELECT drop_trigger(%s)', :t_text));
SET ROLE regress_tr_viewer;
SELECT pg_temp.refusal(format('SELECT pause_trigger(%s, true)', :t_text));
SET ROLE regress_tr_mate;
SELECT pg_temp.refusal(format('SELECT drop_trigger(%s)', :t_text));
SELECT pg_temp.refusal('SELECT drop_trigger(-1)');
SELECT pg_temp.refusal(format('SELECT pause_trigger(%s, NULL)', :t_mate));
SELECT drop_trigger(:t_mate);
SET ROLE regress_tr_admin;
SELECT drop_trigger(:t_num);
SET ROLE regress_tr_team;
SELECT drop_trigger(:t_json);
SELECT id = :t_text AS left_over FROM triggers;
RESET ROLE;
-- untag drops a tag's triggers
SELECT untag('tr/app:prod');
SELECT count(*) FROM triggers;

-- no base table for PUBLIC; the bound on the triggers of a tag
SELECT has_table_privilege('regress_tr_team', 'imagestream.image_trigger', 'SELECT');
BEGIN;
SELECT count(add_trigger('tr/app:staging', 'public.by_number', 'image', 'id', '7'))
FROM generate_series(1, _trigger_max_per_tag());
SELECT pg_temp.refusal($$SELECT add_trigger('tr/app:staging', 'public.by_number', 'image', 'id', '7')$$);
ROLLBACK;
SELECT * FROM check_invariants();

-- review of issue 22: a key column of a domain type is refused (its CHECK
-- would run as whoever moves the tag)
CREATE DOMAIN public.tr_key AS text CHECK (VALUE <> '');
CREATE TABLE public.by_domain (id public.tr_key PRIMARY KEY, image text);
GRANT SELECT, UPDATE ON public.by_domain TO regress_tr_team;
SET ROLE regress_tr_team;
SELECT pg_temp.refusal($$SELECT add_trigger('tr/app:staging', 'public.by_domain', 'image', 'id', 'x')$$);
RESET ROLE;
-- a key that matches no row: an error on the trigger, not a silent success
CREATE TABLE public.by_id (id integer PRIMARY KEY, image text);
SELECT add_trigger('tr/app:staging', 'public.by_id', 'image', 'id', '99') IS NOT NULL AS added;
SELECT last_error FROM triggers WHERE target = 'public.by_id'::regclass;
SELECT drop_trigger(id) FROM triggers WHERE target = 'public.by_id'::regclass;

-- the table may run no code of its own: its statement runs in the mover's
-- transaction (the worker's too), where nothing could bound it.  Refused: a
-- trigger, a rule, a policy, check or index calling a function of a role, a
-- partition with a trigger
CREATE FUNCTION public.tr_code() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO public.tr_ran VALUES (current_user);
	RETURN NEW;
END $$;
CREATE FUNCTION public.tr_true(text) RETURNS boolean LANGUAGE sql AS 'SELECT true';
CREATE TABLE public.tr_ran (who text);
GRANT INSERT ON public.tr_ran TO PUBLIC;
CREATE TABLE public.with_trigger (id integer PRIMARY KEY, image text);
CREATE TRIGGER tr_code BEFORE UPDATE ON public.with_trigger FOR EACH ROW EXECUTE FUNCTION public.tr_code();
CREATE TABLE public.with_rule (id integer PRIMARY KEY, image text);
CREATE RULE tr_rule AS ON UPDATE TO public.with_rule DO ALSO NOTIFY tr_rule;
CREATE TABLE public.with_policy (id integer PRIMARY KEY, image text);
ALTER TABLE public.with_policy ENABLE ROW LEVEL SECURITY;
CREATE POLICY p ON public.with_policy USING (public.tr_true(image));
CREATE TABLE public.with_check (id integer PRIMARY KEY, image text CHECK (public.tr_true(image)));
CREATE TABLE public.with_index (id integer PRIMARY KEY, image text);
CREATE INDEX ON public.with_index (public.tr_true(image));
CREATE TABLE public.parted (id integer, image text) PARTITION BY RANGE (id);
CREATE TABLE public.parted_a PARTITION OF public.parted FOR VALUES FROM (0) TO (10);
CREATE TABLE public.parted_b PARTITION OF public.parted FOR VALUES FROM (10) TO (20);
CREATE TRIGGER tr_code BEFORE UPDATE ON public.parted_b FOR EACH ROW EXECUTE FUNCTION public.tr_code();
SELECT t, pg_temp.refusal(format('SELECT add_trigger(%L, %L, %L, %L, %L)', 'tr/app:staging', t, 'image', 'id', '1'))
FROM unnest(ARRAY['public.with_trigger', 'public.with_rule', 'public.with_policy', 'public.with_check',
				  'public.with_index', 'public.parted']) AS t;
-- built-in code is PostgreSQL's own: a policy on current_user, a foreign
-- key, an index, a generated column of built-in functions
CREATE TABLE public.builtin_only (id integer PRIMARY KEY REFERENCES public.by_id,
	tenant text DEFAULT current_user, image text, len integer GENERATED ALWAYS AS (length(image)) STORED);
CREATE INDEX ON public.builtin_only (lower(image));
ALTER TABLE public.builtin_only ENABLE ROW LEVEL SECURITY;
CREATE POLICY own ON public.builtin_only USING (tenant = current_user);
SELECT _foreign_code('public.builtin_only') IS NULL AS no_foreign_code;
-- but a foreign key of another table that cascades an update to it writes
-- that table, whose triggers would run
CREATE TABLE public.referenced (id integer PRIMARY KEY, image text UNIQUE);
CREATE TABLE public.cascading (image text REFERENCES public.referenced (image) ON UPDATE CASCADE);
SELECT _foreign_code('public.referenced');
-- code added after the trigger: the firing refuses it, the tag moves, the
-- code never ran
CREATE TABLE public.later (id integer PRIMARY KEY, image text);
INSERT INTO public.later VALUES (1, NULL);
SELECT add_trigger('tr/app:staging', 'public.later', 'image', 'id', '1') IS NOT NULL AS added;
CREATE TRIGGER tr_code BEFORE UPDATE ON public.later FOR EACH ROW EXECUTE FUNCTION public.tr_code();
SELECT pg_temp.push('tr/app:staging', 'later');
SELECT left(digest_hex(image), 8) = pg_temp.d('later') AS moved FROM image_stream_tags
WHERE namespace = 'tr' AND stream = 'app' AND tag = 'staging';
SELECT last_error FROM triggers WHERE target = 'public.later'::regclass;
SELECT count(*) AS code_ran FROM public.tr_ran;
-- a table dropped takes its triggers
DROP TABLE public.later;
SELECT count(*) AS left_after_drop FROM image_trigger WHERE target::oid NOT IN (SELECT oid FROM pg_class);
DROP TABLE public.cascading, public.referenced;
DROP TABLE public.with_trigger, public.with_rule, public.with_policy, public.with_check,
	public.with_index, public.parted, public.builtin_only, public.by_id, public.by_domain, public.tr_ran;
DROP FUNCTION public.tr_code(), public.tr_true(text);
DROP DOMAIN public.tr_key;

DROP VIEW public.deployments_view;
DROP TABLE public.deployments, public.by_number;
