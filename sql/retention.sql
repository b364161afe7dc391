-- Retention (doc/gates.md): set_retention and the view retention_rules;
-- prune of one namespace by its admin (a dry run, then confirmed, nothing of
-- another namespace, no image); what pruning keeps (the current image, a
-- protected tag's history); the worker's pass _retention_apply(): the rules
-- it applies, the hour it honours and the time it returns.
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/test/regress_setup.psql
\i :abs_srcdir/test/regress_refusal.psql

CREATE ROLE regress_ret_viewer;
CREATE ROLE regress_ret_editor;
CREATE ROLE regress_ret_admin;
CREATE ROLE regress_ret_other;		-- admin of ret-b only
SELECT grant_namespace('ret-n', 'regress_ret_viewer', 'view');
SELECT grant_namespace('ret-n', 'regress_ret_editor', 'edit');
SELECT grant_namespace('ret-n', 'regress_ret_admin', 'admin');
SELECT grant_namespace('ret-a', 'regress_ret_admin', 'admin');
SELECT grant_namespace('ret-b', 'regress_ret_other', 'admin');

-- five events on each tag, the older three two hours old and the newer two
-- half an hour
CREATE FUNCTION pg_temp.push5(p_tag text) RETURNS void LANGUAGE sql AS $$
	SELECT imagestream.map_image(p_tag, imagestream.ref_with_digest('quay.io/ret/web',
		imagestream.content_digest((p_tag || v)::bytea)))
	FROM generate_series(1, 5) v;
	UPDATE imagestream.history_event
	SET created = now() - CASE WHEN seq > 3 THEN interval '30 minutes' ELSE interval '2 hours' END
	WHERE tag_id = (SELECT id FROM imagestream.tag WHERE namespace || '/' || stream || ':' || name = p_tag);
	UPDATE imagestream.tag SET created = now() - interval '30 minutes'
	WHERE namespace || '/' || stream || ':' || name = p_tag;
$$;
-- the length of each tag's history in the namespaces of this test, as
-- the superuser sees them whoever asks
CREATE FUNCTION pg_temp.lengths() RETURNS TABLE(tag text, history_length integer)
LANGUAGE sql SECURITY DEFINER AS $$
	SELECT namespace || '/' || stream || ':' || tag, history_length
	FROM imagestream.image_stream_tags WHERE namespace LIKE 'ret-%' ORDER BY 1
$$;

SELECT pg_temp.push5(t) FROM unnest(ARRAY['ret-n/web:a', 'ret-n/web:b', 'ret-n/web:p',
	'ret-b/web:a', 'ret-c/web:a']) t;
SELECT protect('ret-n', 'web:p');

-- prune of one namespace: its admin only; the whole database stays the
-- privileged's
SET ROLE regress_ret_editor;
SELECT pg_temp.refusal($$SELECT * FROM prune(namespace => 'ret-n')$$);
SET ROLE regress_ret_other;
SELECT pg_temp.refusal($$SELECT * FROM prune(namespace => 'ret-n')$$);
SET ROLE regress_ret_admin;
SELECT pg_temp.refusal($$SELECT * FROM prune()$$);
SELECT pg_temp.refusal($$SELECT * FROM prune(namespace => 'Ret-n')$$);
SELECT pg_temp.refusal($$SELECT * FROM prune(-1, namespace => 'ret-n')$$);
SELECT pg_temp.refusal($$SELECT * FROM prune(1, '-1 hour', namespace => 'ret-n')$$);
SELECT pg_temp.refusal($$SELECT * FROM prune(1, '101 years', namespace => 'ret-n')$$);
SELECT pg_temp.refusal($$SELECT * FROM prune(NULL, namespace => 'ret-n')$$);
-- a dry run: the events beyond the newest three older than an hour, of
-- ret-n alone, no image (images are shared: the server-wide prune's); the
-- protected tag keeps its history
SELECT action, stream, tag, image = content_digest((stream || ':' || tag || '1')::bytea) AS first
FROM prune(namespace => 'ret-n') ORDER BY stream, tag, first;
SELECT * FROM pg_temp.lengths();
-- confirmed, keeping one: the young events stay, the current one always
SELECT count(*) FROM prune(1, '1 hour', confirm => true, namespace => 'ret-n');
SELECT * FROM pg_temp.lengths();
SELECT count(*) FROM prune(0, '0', confirm => true, namespace => 'ret-n');
SELECT * FROM pg_temp.lengths();
SELECT tag, left(digest_hex(image), 8) = left(digest_hex(content_digest('ret-n/web:a5')), 8) AS newest
FROM image_stream_tags WHERE namespace = 'ret-n' AND tag = 'a';
RESET ROLE;
-- the server-wide prune keeps a protected tag's history too
SELECT count(*) FROM prune(0, '0') WHERE stream = 'ret-n/web';
SELECT count(*) > 0 AS others FROM prune(0, '0') WHERE stream = 'ret-b/web';

-- set_retention: an admin's, bounded
SELECT pg_temp.refusal($$SELECT set_retention('ret-a', -1, NULL)$$);
SELECT pg_temp.refusal($$SELECT set_retention('ret-a', 1, '-1 second')$$);
SELECT pg_temp.refusal($$SELECT set_retention('ret-a', 1, '1201 months')$$);
SELECT pg_temp.refusal($$SELECT set_retention('ret a', 1, NULL)$$);
SET ROLE regress_ret_viewer;
SELECT pg_temp.refusal($$SELECT set_retention('ret-n', 1, NULL)$$);
SET ROLE regress_ret_editor;
SELECT pg_temp.refusal($$SELECT set_retention('ret-n', 1, NULL)$$);
SET ROLE regress_ret_other;
SELECT pg_temp.refusal($$SELECT set_retention('ret-n', 1, NULL)$$);
SELECT set_retention('ret-b', NULL, '1 hour');
SET ROLE regress_ret_admin;
SELECT set_retention('ret-n', 2, NULL);
SELECT set_retention('ret-a', 1, '1 day');
SELECT set_retention('ret-a', NULL, NULL);	-- cleared
SELECT set_retention('ret-a', NULL, NULL);	-- nothing to clear
RESET ROLE;
SELECT * FROM retention_rules WHERE namespace LIKE 'ret-%' ORDER BY 1;
-- who reads them: a namespace's viewers
SET ROLE regress_ret_viewer;
SELECT namespace, keep_tag_revisions, keep_younger_than FROM retention_rules;
SET ROLE regress_ret_other;
SELECT namespace, keep_tag_revisions, keep_younger_than FROM retention_rules;
SELECT pg_temp.refusal($$SELECT * FROM namespace_retention$$);
-- the worker's pass is not for callers
SELECT pg_temp.sqlstate($$SELECT _retention_apply()$$);
RESET ROLE;

-- The worker's pass.  Fresh history: ret-n keeps 2 revisions (its protected
-- tag all), ret-b what is younger than an hour (and the current event),
-- ret-c has no rule.  It applies one namespace a call (a transaction each
-- in the worker), saying "now" while another is due; then an hour on.
SELECT unprotect('ret-n', 'web:p');
SELECT delete_stream(s) FROM unnest(ARRAY['ret-n/web', 'ret-b/web', 'ret-c/web']) s;
SELECT pg_temp.push5(t) FROM unnest(ARRAY['ret-n/web:a', 'ret-n/web:p', 'ret-b/web:a', 'ret-c/web:a']) t;
SELECT protect('ret-n', 'web:p');
SELECT _retention_apply() = now() AS another_due;
SELECT _retention_apply() = (SELECT min(applied_at) FROM namespace_retention) + interval '1 hour'
	AS next_an_hour_after_the_first;
SELECT * FROM pg_temp.lengths();
SELECT namespace, applied_at > now() - interval '1 minute' AS applied
FROM retention_rules WHERE namespace LIKE 'ret-%' ORDER BY 1;
-- within the hour nothing is applied again
SELECT delete_stream('ret-b/web');
SELECT pg_temp.push5('ret-b/web:a');
SELECT _retention_apply() = (SELECT min(applied_at) FROM namespace_retention) + interval '1 hour'
	AS next_when_due;
SELECT * FROM pg_temp.lengths() WHERE tag = 'ret-b/web:a';
-- an hour later (applied_at moved back) ret-b's rule is applied again, and
-- the next due is ret-n's
UPDATE namespace_retention SET applied_at = applied_at - interval '61 minutes' WHERE namespace = 'ret-b';
SELECT _retention_apply() = (SELECT applied_at FROM namespace_retention WHERE namespace = 'ret-n')
	+ interval '1 hour' AS next_is_ret_n;
SELECT * FROM pg_temp.lengths() WHERE tag = 'ret-b/web:a';
-- half an hour after both, the next is half an hour on (now() is the
-- transaction's)
BEGIN;
UPDATE namespace_retention SET applied_at = now() - interval '30 minutes';
SELECT _retention_apply() = now() + interval '30 minutes' AS next_in_half_an_hour;
-- the same rule again keeps its time; a changed rule is due at once, and
-- applied: the next is ret-b's
SELECT set_retention('ret-n', 2, NULL);
SELECT applied_at IS NOT NULL AS applied FROM retention_rules WHERE namespace = 'ret-n';
SELECT set_retention('ret-n', 3, NULL);
SELECT applied_at IS NOT NULL AS applied FROM retention_rules WHERE namespace = 'ret-n';
SELECT _retention_apply() = now() + interval '30 minutes' AS ret_b_next;
SELECT applied_at = now() AS applied_now FROM retention_rules WHERE namespace = 'ret-n';
COMMIT;
-- no rule, no time
SELECT set_retention('ret-n', NULL, NULL);
SELECT set_retention('ret-b', NULL, NULL);
SELECT _retention_apply() IS NULL AS no_rule;
SELECT count(*) FROM check_invariants();

SELECT unprotect('ret-n', 'web:p');
SELECT delete_stream(s) FROM unnest(ARRAY['ret-n/web', 'ret-b/web', 'ret-c/web']) s;
SELECT revoke_namespace('ret-n', r) FROM unnest(ARRAY['regress_ret_viewer', 'regress_ret_editor',
	'regress_ret_admin']::regrole[]) r;
SELECT revoke_namespace('ret-a', 'regress_ret_admin');
SELECT revoke_namespace('ret-b', 'regress_ret_other');
DROP ROLE regress_ret_viewer, regress_ret_editor, regress_ret_admin, regress_ret_other;
