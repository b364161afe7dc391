-- Compare-and-swap (tag, map_image, rollback with expected_image) and
-- promote(): all moves or none, every check before the first move
-- (doc/promotion.md).  The concurrent side is test/t/052_promote.pl.
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/test/regress_setup.psql

-- an error's SQLSTATE, message and detail
CREATE FUNCTION pg_temp.err(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	d text;
BEGIN
	EXECUTE sql;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS d = PG_EXCEPTION_DETAIL;
	RETURN SQLSTATE || ': ' || SQLERRM || coalesce(' / ' || nullif(d, ''), '');
END $$;
CREATE FUNCTION pg_temp.d(name text) RETURNS image_digest LANGUAGE sql AS $$
	SELECT content_digest(convert_to(name, 'UTF8')) $$;
CREATE VIEW pg_temp.tags AS
SELECT namespace || '/' || stream || ':' || tag AS tag, from_kind, from_ref,
	CASE image WHEN pg_temp.d('a') THEN 'A' WHEN pg_temp.d('b') THEN 'B' WHEN pg_temp.d('c') THEN 'C'
			   WHEN pg_temp.d('x') THEN 'X' ELSE image::text END AS image
FROM image_stream_tags WHERE namespace LIKE 'pr%' ORDER BY 1;

CREATE ROLE regress_pr_editor;		-- edit on pr, view on pr3
SELECT grant_namespace('pr', 'regress_pr_editor', 'edit');
SELECT grant_namespace('pr3', 'regress_pr_editor', 'view');
SELECT map_image('pr/app:staging', ref_with_digest('none.invalid/org/app', pg_temp.d('a')));
SELECT map_image('pr/app:prod', ref_with_digest('none.invalid/org/app', pg_temp.d('b')));
SELECT map_image('pr2/lib:x', ref_with_digest('none.invalid/org/lib', pg_temp.d('x')));
SELECT map_image('pr3/lib:c', ref_with_digest('none.invalid/org/lib', pg_temp.d('c')));

-- Compare-and-swap: a stale expectation is 40001 with both digests, and
-- nothing moves; the current one lets the move through
SELECT pg_temp.err($$SELECT tag('pr/app:staging', 'pr/app:prod', expected_image => pg_temp.d('a'))$$);
SELECT pg_temp.err($$SELECT tag('pr/app:staging', 'pr/app:new', expected_image => pg_temp.d('a'))$$);
SELECT image FROM pg_temp.tags WHERE tag = 'pr/app:prod';
SELECT tag('pr/app:staging', 'pr/app:prod', expected_image => pg_temp.d('b'));
SELECT image FROM pg_temp.tags WHERE tag = 'pr/app:prod';
SELECT pg_temp.err($$SELECT map_image('pr/app:prod', ref_with_digest('none.invalid/org/app', pg_temp.d('c')),
	expected_image => pg_temp.d('b'))$$);
SELECT map_image('pr/app:prod', ref_with_digest('none.invalid/org/app', pg_temp.d('c')),
	expected_image => pg_temp.d('a'));
SELECT pg_temp.err($$SELECT rollback('pr/app:prod', expected_image => pg_temp.d('a'))$$);
SELECT image FROM pg_temp.tags WHERE tag = 'pr/app:prod';
SELECT digest_hex(image) = digest_hex(pg_temp.d('a')) FROM rollback('pr/app:prod', expected_image => pg_temp.d('c'));
-- without an expectation, as before
SELECT map_image('pr/app:prod', ref_with_digest('none.invalid/org/app', pg_temp.d('b')));

-- promote: malformed moves are 22023 naming the bad one, too many 54000
SELECT pg_temp.err($$SELECT * FROM promote('{"tag": "pr/app:prod"}')$$);
SELECT pg_temp.err($$SELECT * FROM promote(NULL)$$);
SELECT pg_temp.err($$SELECT * FROM promote('[{"tag": "pr/app:prod", "from": "pr/app:staging"}, 7]')$$);
SELECT pg_temp.err($$SELECT * FROM promote('[{"tag": "pr/app:prod", "from": "pr/app:staging", "expected": null}]')$$);
SELECT pg_temp.err($$SELECT * FROM promote('[{"tag": "pr/app:prod", "from": 1}]')$$);
SELECT pg_temp.err($$SELECT * FROM promote('[{"tag": "pr/app:prod", "from": "pr/app:staging", "expect": 3}]')$$);
SELECT pg_temp.err($$SELECT * FROM promote('[{"tag": "pr/app:prod", "from": "pr/app:staging", "expect": "sha256:12"}]')$$);
SELECT pg_temp.err($$SELECT * FROM promote('[{"tag": "pr/App:prod", "from": "pr/app:staging"}]')$$);
SELECT pg_temp.err($$SELECT * FROM promote('[{"tag": "pr/app:prod", "from": "app"}]')$$);
SELECT pg_temp.err($$SELECT * FROM promote('[{"tag": "pr/app:prod", "from": "quay.io/org/app:1"}]')$$);
SELECT pg_temp.err($$SELECT * FROM promote('[{"tag": "pr/app:prod", "from": "pr/app:staging"},
	{"tag": "pr/app:qa", "from": "pr/app:staging"}, {"tag": "pr/app:prod", "from": "pr/app:qa"}]')$$);
SELECT pg_temp.err(format('SELECT * FROM promote(%L)',
	(SELECT jsonb_agg(jsonb_build_object('tag', 'pr/app:t' || i, 'from', 'pr/app:staging'))
	 FROM generate_series(1, 1001) i)));
SELECT count(*) FROM promote('[]');

-- the moves are simultaneous: qa gets prod's image from before the call;
-- one change row per moved tag, via promote
SELECT max(id) AS before FROM change \gset
SELECT tag, previous_image = pg_temp.d('b') AS prev_b, image = pg_temp.d('a') AS a, image = pg_temp.d('b') AS b
FROM promote(('[{"tag": "pr/app:prod", "from": "pr/app:staging", "expect": "' || pg_temp.d('b') || '"},
			   {"tag": "pr/app:qa", "from": "pr/app:prod", "expect": null}]')::jsonb);
SELECT * FROM pg_temp.tags WHERE tag IN ('pr/app:prod', 'pr/app:qa');
SELECT tag, via, image = pg_temp.d('a') AS a FROM change WHERE id > :before ORDER BY id;

-- any check that fails leaves every tag where it was: an expectation (40001),
-- protection, a gate (55000, naming the tag and the gate), a missing stream
SELECT pg_temp.err($$SELECT * FROM promote('[{"tag": "pr/app:canary", "from": "pr/app:staging"},
	{"tag": "pr/app:qa", "from": "pr/app:staging", "expect": null}]')$$);
SELECT map_image('pr/app:locked', ref_with_digest('none.invalid/org/app', pg_temp.d('c')));
SELECT protect('pr', 'app:locked');
SELECT pg_temp.err($$SELECT * FROM promote('[{"tag": "pr/app:canary", "from": "pr/app:staging"},
	{"tag": "pr/app:locked", "from": "pr/app:staging"}]')$$);
SELECT tag('pr/app:locked', 'pr/app:gated');
SELECT set_gates('pr/app:gated', approval => true);
SELECT pg_temp.err($$SELECT * FROM promote('[{"tag": "pr/app:canary", "from": "pr/app:staging"},
	{"tag": "pr/app:gated", "from": "pr/app:staging"}]')$$);
SELECT pg_temp.err($$SELECT * FROM promote('[{"tag": "pr/app:canary", "from": "pr/app:staging"},
	{"tag": "pr/none:x", "from": "pr/app:staging"}]')$$);
SELECT * FROM pg_temp.tags WHERE tag IN ('pr/app:canary', 'pr/app:qa', 'pr/app:locked', 'pr/app:gated');
-- a gated tag that already has the image does not move: nothing to ask
SELECT tag, image = pg_temp.d('c') FROM promote('[{"tag": "pr/app:gated", "from": "pr/app:locked"}]');
-- the approval lets it through
SELECT approve('pr/app:gated', pg_temp.d('a')::text);
SELECT tag, image = pg_temp.d('a') FROM promote('[{"tag": "pr/app:gated", "from": "pr/app:staging"}]');

-- a stream image by a prefix of its digest, and an external digest
SELECT tag, image = pg_temp.d('b') FROM promote(format('[{"tag": "pr/app:canary", "from": "pr/app@%s"}]',
	left(digest_hex(pg_temp.d('b')), 12))::jsonb);
SELECT tag, image = pg_temp.d('c') FROM promote(format('[{"tag": "pr/app:ext", "from": "quay.io/org/app@%s"}]',
	pg_temp.d('c'))::jsonb);
SELECT * FROM pg_temp.tags WHERE tag IN ('pr/app:canary', 'pr/app:ext');
SELECT docker_image_reference FROM image_stream_tags WHERE namespace = 'pr' AND tag = 'ext';

-- rights: edit on each destination, view on each source; a stream of a
-- namespace the caller may not view counts as missing, and so does an
-- image only such a stream holds
SET ROLE regress_pr_editor;
SELECT pg_temp.err($$SELECT * FROM promote('[{"tag": "pr/app:canary", "from": "pr2/lib:x"}]')$$);
SELECT pg_temp.err($$SELECT * FROM promote('[{"tag": "pr/app:canary", "from": "pr2/nothing:x"}]')$$);
SELECT pg_temp.err(format('SELECT * FROM promote(%L)', format('[{"tag": "pr/app:canary", "from": "quay.io/org/lib@%s"}]',
	pg_temp.d('x'))));
SELECT pg_temp.err($$SELECT * FROM promote('[{"tag": "pr/app:canary", "from": "pr/app:staging"},
	{"tag": "pr3/lib:c", "from": "pr/app:staging"}]')$$);
SELECT pg_temp.err($$SELECT tag('pr/app:staging', 'pr/app:canary', expected_image => 'sha256:0000000000000000000000000000000000000000000000000000000000000000')$$);
SELECT tag, image = pg_temp.d('c') FROM promote('[{"tag": "pr/app:canary", "from": "pr3/lib:c"}]');
RESET ROLE;
SELECT actor, via FROM change WHERE tag = 'canary' ORDER BY id DESC LIMIT 1;

SELECT count(*) FROM check_invariants();
