-- Protected tags (doc/gates.md): protect and unprotect, their patterns and
-- rights, every call that must refuse a protected tag with an image (55000,
-- superuser included), a first image allowed, alias followers held and
-- released, describe, the view protected_tags.
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/test/regress_setup.psql
\i :abs_srcdir/test/regress_refusal.psql

CREATE ROLE regress_pt_viewer;
CREATE ROLE regress_pt_editor;
CREATE ROLE regress_pt_admin;
CREATE ROLE regress_pt_other;		-- admin of another namespace
CREATE ROLE regress_pt_nobody;
SELECT grant_namespace('pt', 'regress_pt_viewer', 'view');
SELECT grant_namespace('pt', 'regress_pt_editor', 'edit');
SELECT grant_namespace('pt', 'regress_pt_admin', 'admin');
SELECT grant_namespace('pt2', 'regress_pt_other', 'admin');

-- a tag's current image, short
CREATE FUNCTION pg_temp.img(p_tag text) RETURNS text LANGUAGE sql AS $$
	SELECT coalesce(left(digest_hex(image), 8), '-') FROM imagestream.image_stream_tags
	WHERE namespace || '/' || stream || ':' || tag = p_tag
$$;
CREATE FUNCTION pg_temp.push(p_tag text, p_content text) RETURNS void LANGUAGE sql AS $$
	SELECT imagestream.map_image(p_tag, imagestream.ref_with_digest('quay.io/pt/web',
		imagestream.content_digest(p_content::bytea)))
$$;

SELECT pg_temp.push('pt/web:prod', v) FROM unnest(ARRAY['p1', 'p2']) v;
SELECT pg_temp.push('pt/web:dev', 'd1');
SELECT pg_temp.push('pt2/web:prod', 'o1');

-- patterns refused: none, too long, a lone escape at the end, one that
-- matches no "stream:tag"; names and rights as the other API functions
SELECT pg_temp.sqlstate($$SELECT protect('pt', NULL)$$);
SELECT pg_temp.sqlstate($$SELECT protect('pt', repeat('%', 1025))$$);
BEGIN;
SELECT pg_temp.sqlstate($$SELECT protect('pt', repeat('%', 1024))$$);
ROLLBACK;
SELECT pg_temp.refusal($$SELECT protect('pt', 'web:prod\')$$);
SELECT pg_temp.refusal($$SELECT protect('pt', 'web:prod\\\')$$);
SELECT pg_temp.refusal($$SELECT protect('pt', 'prod')$$);
SELECT pg_temp.refusal($$SELECT protect('pt', 'web\%')$$);
SELECT pg_temp.sqlstate($$SELECT protect('PT', 'web:prod')$$);
SELECT pg_temp.sqlstate($$SELECT protect(NULL, 'web:prod')$$);
SELECT count(*) FROM protected_tags WHERE namespace = 'pt';
SET ROLE regress_pt_viewer;
SELECT pg_temp.refusal($$SELECT protect('pt', 'web:prod')$$);
SET ROLE regress_pt_editor;
SELECT pg_temp.refusal($$SELECT protect('pt', 'web:prod')$$);
SET ROLE regress_pt_other;
SELECT pg_temp.refusal($$SELECT protect('pt', 'web:prod')$$);
SET ROLE regress_pt_nobody;
SELECT pg_temp.refusal($$SELECT protect('pt', 'web:prod')$$);

-- an admin protects; again changes nothing; the view shows who and when
SET ROLE regress_pt_admin;
SELECT protect('pt', 'web:prod');
SELECT protect('pt', 'web:prod');
RESET ROLE;
SELECT protect('pt2', '%');
SELECT namespace, pattern, created_by, created_at <= now() AS created_at FROM protected_tags
WHERE namespace LIKE 'pt%' ORDER BY 1, 2;
-- a viewer reads its namespace's patterns, another namespace's admin its own
SET ROLE regress_pt_viewer;
SELECT namespace, pattern, created_by FROM protected_tags ORDER BY 1, 2;
SET ROLE regress_pt_other;
SELECT namespace, pattern, created_by FROM protected_tags ORDER BY 1, 2;
SET ROLE regress_pt_nobody;
SELECT count(*) FROM protected_tags;
SELECT pg_temp.sqlstate($$SELECT * FROM protected_tag$$);
RESET ROLE;

-- the one predicate: a tag with an image that a pattern matches
SELECT _protected('pt', 'web', 'prod') AS prod, _protected('pt', 'web', 'dev') AS dev,
	_protected('pt', 'web', 'none') AS missing, _protected('pt2', 'web', 'prod') AS other_ns,
	_protected('pt', 'web', NULL) AS null_tag;

-- every call that would move or remove it refuses, for the superuser ...
SELECT pg_temp.refusal($$SELECT pg_temp.push('pt/web:prod', 'p3')$$);
SELECT pg_temp.refusal($$SELECT map_image('pt/web:prod', ref_with_digest('quay.io/pt/web', content_digest('p2')))$$);
SELECT pg_temp.refusal($$SELECT tag('quay.io/pt/web:2', 'pt/web:prod')$$);
SELECT pg_temp.refusal($$SELECT tag('quay.io/pt/web:2', 'pt/web:prod', reference => true)$$);
SELECT pg_temp.refusal($$SELECT tag('web:dev', 'pt/web:prod')$$);
SELECT pg_temp.refusal($$SELECT tag('web:dev', 'pt/web:prod', alias => true)$$);
SELECT pg_temp.refusal(format('SELECT tag(%L, %L)', 'pt/web@' || digest_hex(content_digest('p1')), 'pt/web:prod'));
SELECT pg_temp.refusal($$SELECT rollback('pt/web:prod')$$);
SELECT pg_temp.refusal($$SELECT untag('pt/web:prod')$$);
SELECT pg_temp.refusal($$SELECT delete_stream('pt/web')$$);
SELECT pg_temp.refusal($$SELECT follow('pt/web:prod', 'quay.io/pt/web', semver => '1.x')$$);
-- ... for the namespace's admin and an editor
SET ROLE regress_pt_admin;
SELECT pg_temp.refusal($$SELECT pg_temp.push('pt/web:prod', 'p3')$$);
SELECT pg_temp.refusal($$SELECT untag('pt/web:prod')$$);
SET ROLE regress_pt_editor;
SELECT pg_temp.refusal($$SELECT rollback('pt/web:prod')$$);
SELECT pg_temp.refusal($$SELECT delete_stream('pt/web')$$);
-- a role without edit learns nothing of protection: 42501 first
SET ROLE regress_pt_viewer;
SELECT pg_temp.refusal($$SELECT untag('pt/web:prod')$$);
RESET ROLE;
-- nothing moved; a tag the pattern does not match moves as before
SELECT pg_temp.img('pt/web:prod') = left(digest_hex(content_digest('p2')), 8) AS prod_kept,
	(SELECT history_length FROM image_stream_tags WHERE namespace = 'pt' AND tag = 'prod') AS events;
SELECT pg_temp.push('pt/web:dev', 'd2');
SELECT tag('quay.io/pt/web:9', 'pt/web:dev');
SELECT untag('pt/web:dev');
-- reads go on
SELECT resolve('pt/web:prod') = ref_with_digest('quay.io/pt/web', content_digest('p2'));

-- a protected tag with no image yet gets its first one, then holds it
SELECT protect('pt', 'web:v\_%');
SELECT pg_temp.push('pt/web:v_1', 'v1');
SELECT pg_temp.refusal($$SELECT pg_temp.push('pt/web:v_1', 'v2')$$);
SELECT tag('web:v_1', 'pt/web:v_2');
SELECT pg_temp.refusal($$SELECT tag('web:prod', 'pt/web:v_2')$$);
-- a spec alone is no image: the tag stays free until an import records one
SELECT tag('quay.io/pt/web:3', 'pt/web:v_3');
SELECT _protected('pt', 'web', 'v_3');
SELECT tag('quay.io/pt/web:4', 'pt/web:v_3');
SELECT untag('pt/web:v_3');
-- a reference-only event (a pull spec without digest) is what resolve()
-- returns: it counts as the tag's image
SELECT tag('quay.io/pt/web:r', 'pt/web:v_ref', reference => true);
SELECT pg_temp.refusal($$SELECT untag('pt/web:v_ref')$$);

-- patterns are LIKE on "stream:tag": _ any one character, \_ itself, %
-- anything (":" too); names compare byte-wise
SELECT pg_temp.push('pt/web:' || t, t) FROM unnest(ARRAY['v1x0', 'v1_0', 'V1_0', 'rc-1', 'rc-10']) t;
SELECT pg_temp.push('pt/api:rc-2', 'api');
SELECT protect('pt', 'web:v1\_0');
SELECT protect('pt', 'api\:rc\-2');
SELECT protect('pt', '%:rc-_');
SELECT t.tag, _protected('pt', t.stream, t.tag) AS protected
FROM image_stream_tags t WHERE t.namespace = 'pt' ORDER BY t.stream, t.tag;
-- a tag two patterns hold names both
SELECT pg_temp.refusal($$SELECT untag('pt/web:v1_0')$$);
SELECT protect('pt', 'web:%0');
SELECT pg_temp.refusal($$SELECT untag('pt/web:v1_0')$$);
SELECT unprotect('pt', 'web:%0');
-- a stream whose matching tags have no image may go
SELECT tag('quay.io/pt/empty:1', 'pt/empty:rc-1');
SELECT delete_stream('pt/empty');

-- unprotect: only an admin of the namespace, only a pattern that is there
SET ROLE regress_pt_editor;
SELECT pg_temp.refusal($$SELECT unprotect('pt', 'web:prod')$$);
SET ROLE regress_pt_other;
SELECT pg_temp.refusal($$SELECT unprotect('pt', 'web:prod')$$);
SELECT pg_temp.refusal($$SELECT unprotect('pt', 'web:none')$$);
SET ROLE regress_pt_admin;
SELECT pg_temp.refusal($$SELECT unprotect('pt', 'web:none')$$);
SELECT pg_temp.refusal($$SELECT unprotect('pt', 'web:PROD')$$);
SELECT pg_temp.sqlstate($$SELECT unprotect('pt', NULL)$$);
SELECT unprotect('pt', 'web:prod');
RESET ROLE;
-- then the tag moves and goes as any other
SELECT pg_temp.push('pt/web:prod', 'p3');
SELECT (rollback('pt/web:prod')).position;
SELECT untag('pt/web:prod');

-- Aliases.  stable follows latest, canary follows stable: protecting stable
-- keeps its image when latest moves, and canary with it (a chain goes
-- through stable); no change row for either.  check_invariants() knows.
SELECT pg_temp.push('pt/app:latest', 'a1');
SELECT tag('app:latest', 'pt/app:stable', alias => true);
SELECT tag('app:stable', 'pt/app:canary', alias => true);
SELECT protect('pt', 'app:stable');
SELECT max(id) AS before FROM change \gset
SELECT pg_temp.push('pt/app:latest', 'a2');
SELECT pg_temp.img('pt/app:latest') AS latest, pg_temp.img('pt/app:stable') AS stable,
	pg_temp.img('pt/app:canary') AS canary;
SELECT tag, from_kind, from_ref, history_length FROM image_stream_tags
WHERE namespace = 'pt' AND stream = 'app' ORDER BY tag;
SELECT event, tag FROM change WHERE id > :before ORDER BY id;
SELECT count(*) FROM check_invariants();
-- describe lists stable with its own image, canary under it
SELECT line FROM regexp_split_to_table(describe('pt/app'), E'\n') AS line
WHERE line ~ '^[a-z]' OR line ~ '^  [a-z]';
-- unprotect brings stable (and canary) to latest's image at once, logged
-- with its actor
SET ROLE regress_pt_admin;
SELECT unprotect('pt', 'app:stable');
RESET ROLE;
SELECT pg_temp.img('pt/app:latest') AS latest, pg_temp.img('pt/app:stable') AS stable,
	pg_temp.img('pt/app:canary') AS canary;
SELECT event, tag, left(digest_hex(image), 8) AS image, actor FROM change WHERE id > :before ORDER BY id;
-- a protected alias with no image yet takes its source's first one
SELECT protect('pt', 'app:next');
SELECT tag('app:beta', 'pt/app:next', alias => true);
SELECT pg_temp.push('pt/app:beta', 'b1');
SELECT pg_temp.img('pt/app:next') AS next;
SELECT pg_temp.push('pt/app:beta', 'b2');
SELECT pg_temp.img('pt/app:beta') AS beta, pg_temp.img('pt/app:next') AS next;
-- an alias still held by another pattern stays where it is
SELECT protect('pt', '%:next');
SELECT unprotect('pt', 'app:next');
SELECT pg_temp.img('pt/app:next') AS next;
SELECT count(*) FROM check_invariants();

-- a namespace has at most 100 patterns; one that is there may be given again
SELECT count(protect('pt3', 'web:v' || i)) FROM generate_series(1, 100) i;
SELECT pg_temp.refusal($$SELECT protect('pt3', 'web:v101')$$);
SELECT protect('pt3', 'web:v100');
SELECT count(unprotect('pt3', 'web:v' || i)) FROM generate_series(1, 100) i;

-- protection is per namespace: pt2 protects everything of its own only
SELECT pg_temp.refusal($$SELECT pg_temp.push('pt2/web:prod', 'o2')$$);
SELECT pg_temp.refusal($$SELECT pg_temp.push('pt2/other:x', 'o3')$$);
SELECT pg_temp.refusal($$SELECT pg_temp.push('pt2/other:x', 'o4')$$);
SELECT unprotect('pt2', '%');
SELECT delete_stream('pt2/web');
SELECT delete_stream('pt2/other');

SELECT revoke_namespace('pt', r) FROM unnest(ARRAY['regress_pt_viewer', 'regress_pt_editor',
	'regress_pt_admin']::regrole[]) r;
SELECT revoke_namespace('pt2', 'regress_pt_other');
DROP ROLE regress_pt_viewer, regress_pt_editor, regress_pt_admin, regress_pt_other, regress_pt_nobody;
