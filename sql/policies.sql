-- Tag policies (doc/policies.md): follow, unfollow, explain_policy, the view
-- tag_policies, and the worker's side, fed here page by page as the
-- superuser (the worker's TAP tests list a real registry).
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/test/regress_setup.psql

-- the tuples inserted, updated and deleted in the logged tables of the
-- extension, as this backend counts them: a transaction's own writes are
-- the difference of two counts within it ("nothing written")
CREATE FUNCTION pg_temp.written() RETURNS bigint LANGUAGE sql AS $$
	SELECT coalesce(sum(s.n_tup_ins + s.n_tup_upd + s.n_tup_del), 0)
	FROM pg_stat_xact_user_tables s JOIN pg_class c ON c.oid = s.relid
	WHERE s.schemaname = 'imagestream' AND c.relpersistence = 'p'
$$;
-- one whole listing of a listing id, in pages
CREATE FUNCTION pg_temp.list(p_id bigint, VARIADIC pages text[]) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
	moved integer := 0;
	n integer := cardinality(pages);
BEGIN
	FOR i IN 1 .. n LOOP
		moved := moved + imagestream._policy_listing_page(p_id, string_to_array(pages[i], ' '), i = 1, i = n);
	END LOOP;
	RETURN moved;
END $$;

-- refused: exactly one of semver and ordering, a range that parses, an
-- ordering of five, a valid pattern, an extract with a pattern, a
-- repository (no tag, no digest), a tag name
SELECT follow('po/app:stable', 'quay.io/org/app');
SELECT pg_temp.sqlstate($$SELECT follow('po/app:stable', 'quay.io/org/app', semver => '1.x', ordering => 'newest')$$);
SELECT follow('po/app:stable', 'quay.io/org/app', semver => '>=1.0 <<2');
SELECT pg_temp.sqlstate($$SELECT follow('po/app:stable', 'quay.io/org/app', semver => 'one')$$);
SELECT follow('po/app:stable', 'quay.io/org/app', ordering => 'numerical');
SELECT follow('po/app:stable', 'quay.io/org/app', ordering => 'newest', pattern => '(main');
SELECT follow('po/app:stable', 'quay.io/org/app', ordering => 'newest', "extract" => '\1');
SELECT pg_temp.sqlstate($$SELECT follow('po/app:stable', 'quay.io/org/app', ordering => 'newest', pattern => repeat('a', 2000))$$);
-- an extract that makes values over 1 kB is refused: each \1 to \9 or \&
-- counts as a whole tag (S29)
SELECT follow('po/app:stable', 'quay.io/org/app', ordering => 'alphabetical-asc', pattern => '^(.*)$', "extract" => repeat('\&', 100));
SELECT _policy_check(NULL, 'newest', '^(a)(b)(c)(d)(e)(f)(g)(h)(i)$', '\1\2\3\4\5\6\7\8');
SELECT pg_temp.sqlstate($$SELECT _policy_check(NULL, 'newest', '^(a)(b)(c)(d)(e)(f)(g)(h)(i)$', '\1\2\3\4\5\6\7\8\9')$$);
SELECT follow('po/app:stable', 'quay.io/org/app:1.0', semver => '1.x');
SELECT pg_temp.sqlstate($$SELECT follow('po/app:stable', 'quay.io/org/app@sha256:' || repeat('a', 64), semver => '1.x')$$);
SELECT pg_temp.sqlstate($$SELECT follow('po/app:stable', NULL, semver => '1.x')$$);
SELECT pg_temp.sqlstate($$SELECT follow('po/app:stable', 'Quay.io/UPPER', semver => '1.x')$$);
SELECT pg_temp.sqlstate($$SELECT follow('po/app:bad tag', 'quay.io/org/app', semver => '1.x')$$);
SELECT count(*) FROM tag_policies;

-- semver: the stream is created (as tag() does), the tag waits for its
-- first winner, and the worker is asked to list the repository at once
SELECT follow('po/app:stable', 'quay.io/org/app', semver => '>=1.0 <2.0');
SELECT namespace, stream, tag, repository, semver, ordering, pattern, extract, winner, listed_at,
	list_status, list_message, insecure, list_reason FROM tag_policies;
SELECT name, tags FROM image_streams WHERE namespace = 'po';
SELECT repository, insecure, namespace, requested FROM _due_policy_listings();
SELECT listing_id AS app FROM _due_policy_listings() \gset
SELECT id AS po_app, generation AS gen0 FROM stream WHERE namespace = 'po' AND name = 'app' \gset

-- the listing in pages: 1.10.0 wins (not 2.0.0-rc.1, a prerelease the range
-- does not name; junk is no version; a name that is no tag is never kept)
SELECT _policy_listing_page(:app, ARRAY['1.0.0', '1.2.0'], true, false);
SELECT _policy_listing_page(:app, ARRAY['1.10.0', '2.0.0-rc.1', 'junk', 'not a tag', '1.2.0'], false, true);
SELECT tag, winner, list_status, list_reason, listed_at IS NOT NULL AS listed FROM tag_policies;
SELECT tag, from_kind, from_ref, scheduled, insecure, pending, spec_generation - :gen0 AS gen
FROM image_stream_tags WHERE namespace = 'po';
SELECT generation - :gen0 AS moved FROM stream WHERE id = :po_app;
SELECT requested FROM _due_policy_listings();
SELECT count(*) FROM policy_listing_page;
SELECT * FROM explain_policy('po/app:stable');

-- the same listing again: nothing moves, nothing is written to a logged table
BEGIN;
SELECT pg_temp.written() AS w0 \gset
SELECT pg_temp.list(:app, '1.0.0 1.2.0', '1.10.0 2.0.0-rc.1 junk');
SELECT pg_temp.written() - :w0 AS written;
COMMIT;

-- the import that follows the move: its change row is via policy
SELECT coalesce(max(id), 0) AS last_change FROM change \gset
SELECT _record_import(s, false, ROW('stable', 'quay.io/org/app:1.10.0',
	ref_with_digest('quay.io/org/app', content_digest('1.10.0')), content_digest('1.10.0'), NULL,
	true, false, 'Legacy', 'Source')::_tag_import)
FROM stream s WHERE s.id = :po_app;
SELECT event, tag, image = content_digest('1.10.0') AS image, via FROM changes_since(:last_change);

-- 1.11.0 pushed: the tag moves to it, one generation; the import set-based
-- logs via policy too
SELECT generation AS gen1 FROM stream WHERE id = :po_app \gset
SELECT pg_temp.list(:app, '1.0.0 1.2.0 1.10.0 1.11.0 2.0.0-rc.1 junk');
SELECT tag, winner, list_status FROM tag_policies;
SELECT tag, from_ref, pending, spec_generation - :gen1 AS gen FROM image_stream_tags WHERE namespace = 'po';
SELECT generation - :gen1 AS moved FROM stream WHERE id = :po_app;
SELECT coalesce(max(id), 0) AS last_change FROM change \gset
SELECT _record_imports(s, s.generation, ARRAY[ROW('stable', 'quay.io/org/app:1.11.0',
	ref_with_digest('quay.io/org/app', content_digest('1.11.0')), content_digest('1.11.0'), NULL,
	true, false, 'Legacy', 'Source')::_tag_import])
FROM stream s WHERE s.id = :po_app;
SELECT event, tag, image = content_digest('1.11.0') AS image, via FROM changes_since(:last_change);
-- an import of another source into a followed tag is no policy's
SELECT coalesce(max(id), 0) AS last_change FROM change \gset
SELECT map_image('po/app:stable', ref_with_digest('quay.io/org/app', content_digest('pushed')));
SELECT event, tag, via FROM changes_since(:last_change);

-- the winner vanishes upstream: the tag keeps its image, with a condition
-- (it is not moved down to 1.10.0); explain says so
SELECT pg_temp.list(:app, '1.0.0 1.2.0 1.10.0 2.0.0-rc.1 junk');
SELECT tag, winner, list_status, list_reason, list_message FROM tag_policies;
SELECT from_ref FROM image_stream_tags WHERE namespace = 'po';
SELECT * FROM explain_policy('po/app:stable');
BEGIN;
SELECT pg_temp.written() AS w0 \gset
SELECT pg_temp.list(:app, '1.0.0 1.2.0 1.10.0 2.0.0-rc.1 junk');
SELECT pg_temp.written() - :w0 AS written;
COMMIT;
-- a better tag comes: it moves, and the vanished one is forgotten
SELECT pg_temp.list(:app, '1.0.0 1.2.0 1.10.0 1.12.0 2.0.0-rc.1 junk');
SELECT tag, winner, list_status, list_reason FROM tag_policies;
SELECT from_ref FROM image_stream_tags WHERE namespace = 'po';
SELECT string_agg(tag, ' ' ORDER BY tag) FROM policy_candidate WHERE listing_id = :app;

-- a failed listing keeps the winner: the condition, one import_failed
-- change via policy, and nothing written for the same failure again
SELECT coalesce(max(id), 0) AS last_change FROM change \gset
SELECT _policy_listing_failed(:app, 'Unauthorized', 'The registry refused the tag list of org/app.');
SELECT tag, winner, list_status, list_reason, list_message FROM tag_policies;
SELECT event, tag, docker_image_reference, reason, via FROM changes_since(:last_change);
BEGIN;
SELECT pg_temp.written() AS w0 \gset
SELECT _policy_listing_failed(:app, 'Unauthorized', 'The registry refused the tag list of org/app.');
SELECT pg_temp.written() - :w0 AS written;
COMMIT;
SELECT from_ref FROM image_stream_tags WHERE namespace = 'po';
SELECT pg_temp.list(:app, '1.0.0 1.2.0 1.10.0 1.12.0');
SELECT tag, winner, list_status, list_reason, list_message FROM tag_policies;

-- import_now of a followed tag asks for its listing; tag() and
-- import_image(from_image) refuse a followed tag; untag takes its policy
SELECT import_now('po/app:stable');
SELECT requested FROM _due_policy_listings();
SELECT pg_temp.list(:app, '1.0.0 1.2.0 1.10.0 1.12.0');
-- registry_event: a push of a tag new to a listing asks for it; one of a
-- candidate does not
SELECT follow('po/hub:x', 'docker.io/org/hub', ordering => 'newest');
SELECT listing_id AS hub FROM tag_policy WHERE tag = 'x' \gset
SELECT pg_temp.list(:hub, 'a b');
SELECT registry_event('{"push_data": {"tag": "a"}, "repository": {"repo_name": "org/hub"}}');
SELECT requested FROM _due_policy_listings() WHERE listing_id = :hub;
SELECT registry_event('{"push_data": {"tag": "c"}, "repository": {"repo_name": "org/hub"}}');
SELECT requested FROM _due_policy_listings() WHERE listing_id = :hub;
SELECT delete_stream('po/hub');
SELECT tag('quay.io/org/app:1.0.0', 'po/app:stable');
SELECT pg_temp.sqlstate($$SELECT * FROM import_image('po/app:stable', 'quay.io/org/app:1.0.0', confirm => true)$$);

-- orderings, on one repository shared by the policies of the namespace
-- (one listing); a page before, a page later: first seen later
SELECT follow('po/num:asc', 'quay.io/org/num', ordering => 'numerical-asc');
SELECT follow('po/num:desc', 'quay.io/org/num', ordering => 'numerical-desc');
SELECT follow('po/num:alpha-asc', 'quay.io/org/num', ordering => 'alphabetical-asc');
SELECT follow('po/num:alpha-desc', 'quay.io/org/num', ordering => 'alphabetical-desc');
SELECT follow('po/num:newest', 'quay.io/org/num', ordering => 'newest');
SELECT count(DISTINCT listing_id) FROM tag_policy p JOIN stream s ON s.id = p.stream_id WHERE s.name = 'num';
SELECT listing_id AS num FROM tag_policy p JOIN stream s ON s.id = p.stream_id WHERE s.name = 'num' LIMIT 1 \gset
SELECT pg_temp.list(:num, '10 9 2.5 -3 abc 1e2');
-- the five tags moved with one generation of their stream
SELECT count(*), count(DISTINCT spec_generation), bool_and(pending) FROM image_stream_tags WHERE stream = 'num';
SELECT generation FROM image_streams WHERE namespace = 'po' AND name = 'num';
SELECT pg_temp.list(:num, '10 9 2.5 -3 abc 1e2 b7 a7');
SELECT tag, winner, list_status FROM tag_policies WHERE stream = 'num' ORDER BY tag;
SELECT * FROM explain_policy('po/num:asc');
SELECT * FROM explain_policy('po/num:alpha-desc');
SELECT * FROM explain_policy('po/num:newest');

-- pattern and extract: main-<sha>-<timestamp>, by its timestamp
SELECT follow('po/ci:main', 'quay.io/org/ci', ordering => 'numerical-asc',
	pattern => '^main-[0-9a-f]+-([0-9]+)$', "extract" => '\1');
SELECT listing_id AS ci FROM tag_policy WHERE tag = 'main' \gset
SELECT pg_temp.list(:ci, 'main-0a1b2c3-1700000100 main-ffee001-1700000200', 'feature-x-1700000300 main-9999999-1699999999 latest');
SELECT tag, winner FROM tag_policies WHERE stream = 'ci';
SELECT * FROM explain_policy('po/ci:main');

-- a pattern that runs on (back references: hours on a 127-byte tag) is
-- stopped: the choices of one listing run for 10 s in all (S30)
SELECT follow('po/slow:x', 'quay.io/org/slow', ordering => 'alphabetical-asc',
	pattern => '^(a+)(a+)(a+)(a+)(a+)(a+)(a+)(a+)\1\2\3\4\5\6\7\8$');
SELECT p.listing_id AS slow FROM tag_policy p JOIN stream s ON s.id = p.stream_id WHERE s.name = 'slow' \gset
\set VERBOSITY terse
SELECT pg_temp.list(:slow, repeat('a', 127));
\set VERBOSITY default
SELECT tag, winner, list_status FROM tag_policies WHERE stream = 'slow';
SELECT delete_stream('po/slow');
-- the 10 s are the time the choices take, counted to the microsecond, not
-- a millisecond a call: 20,000 choices of a few microseconds fit (a
-- listing of 100,000 tags followed by 200 policies makes as many calls)
SELECT count(*) FROM generate_series(1, 20000) i
WHERE _policy_choose(ARRAY[i::text], NULL, '>=0', NULL, NULL, NULL) = i::text;

-- semver: YYMMDD numbers, mixed "v" prefixes, ties by name
SELECT follow('po/ci:dated', 'quay.io/org/ci', semver => '>=200101');
SELECT follow('po/ci:v', 'quay.io/org/ci', semver => '^1.9');
SELECT follow('po/ci:tie', 'quay.io/org/ci', semver => '~1.9.0');
SELECT pg_temp.list(:ci, 'main-0a1b2c3-1700000100 main-ffee001-1700000200 feature-x-1700000300',
	'main-9999999-1699999999 latest 230101 231215 v240102 240101 v1.9.0 1.10.0 1.9.0 v1.2');
SELECT tag, winner FROM tag_policies WHERE stream = 'ci' ORDER BY tag;
SELECT * FROM explain_policy('po/ci:tie');

-- re-following: a new policy on the same repository keeps the winner; a
-- new repository starts afresh, and the unused listing goes
SELECT follow('po/ci:v', 'quay.io/org/ci', semver => '^1.9', pattern => '^v');
SELECT winner FROM tag_policies WHERE tag = 'v';
SELECT follow('po/ci:v', 'quay.io/org/other', semver => '^1.9');
SELECT winner, repository FROM tag_policies WHERE tag = 'v';
SELECT count(*) FROM policy_listing WHERE repository = 'quay.io/org/other';
SELECT unfollow('po/ci:v');
SELECT count(*) FROM policy_listing WHERE repository = 'quay.io/org/other';
SELECT unfollow('po/ci:v');
SELECT pg_temp.sqlstate($$SELECT unfollow('po/ci:v')$$);
SELECT pg_temp.sqlstate($$SELECT * FROM explain_policy('po/ci:v')$$);
-- the tag keeps its image and source
SELECT tag, from_ref FROM image_stream_tags WHERE stream = 'ci' AND tag = 'v';

-- rights: a tenant edits its own namespace only; another's policies,
-- candidates and streams are refused alike whether they exist or not
SELECT follow('pz/secret:x', 'quay.io/org/hidden', ordering => 'newest');
SELECT listing_id AS pz FROM tag_policy WHERE tag = 'x' \gset
SELECT pg_temp.list(:pz, 'hidden-1 hidden-2');
CREATE ROLE regress_po_tenant;
CREATE ROLE regress_po_viewer;
SELECT grant_namespace('po', 'regress_po_tenant', 'edit');
SELECT grant_namespace('po', 'regress_po_viewer', 'view');
SET ROLE regress_po_tenant;
SELECT DISTINCT namespace FROM tag_policies;
SELECT pg_temp.sqlstate($$SELECT follow('pz/secret:x', 'quay.io/org/hidden', ordering => 'newest')$$);
SELECT pg_temp.sqlstate($$SELECT follow('pz/none:x', 'quay.io/org/hidden', ordering => 'newest')$$);
SELECT pg_temp.sqlstate($$SELECT * FROM explain_policy('pz/secret:x')$$);
SELECT pg_temp.sqlstate($$SELECT * FROM explain_policy('pz/none:x')$$);
SELECT pg_temp.sqlstate($$SELECT unfollow('pz/secret:x')$$);
SELECT pg_temp.sqlstate($$SELECT import_now('pz/secret:x')$$);
SELECT pg_temp.sqlstate($$SELECT count(*) FROM imagestream.policy_candidate$$);
SELECT pg_temp.sqlstate($$SELECT imagestream._policy_listing_page(1, ARRAY['x'], true, true)$$);
SELECT pg_temp.sqlstate($$SELECT * FROM imagestream._due_policy_listings()$$);
SELECT pg_temp.sqlstate($$SELECT imagestream._policy_listing_failed(1, 'NotFound', 'x')$$);
SELECT pg_temp.sqlstate($$INSERT INTO imagestream.policy_listing_page VALUES (1, 'x')$$);
SELECT pg_temp.sqlstate($$DELETE FROM imagestream.policy_listing_run$$);
-- following the same repository in its own namespace: its own listing,
-- which shows nothing of the other's
SELECT follow('po/mine:x', 'quay.io/org/hidden', ordering => 'newest');
SELECT count(*) FROM explain_policy('po/mine:x');
SET ROLE regress_po_viewer;
SELECT count(*) > 0 FROM explain_policy('po/num:asc');
SELECT pg_temp.sqlstate($$SELECT follow('po/num:asc', 'quay.io/org/num', ordering => 'newest')$$);
SELECT pg_temp.sqlstate($$SELECT unfollow('po/num:asc')$$);
RESET ROLE;
SELECT count(*) FROM policy_listing WHERE repository = 'quay.io/org/hidden';

-- untag and delete_stream take the policies, and the listings with them
SELECT untag('po/num:asc');
SELECT count(*) FROM tag_policies WHERE stream = 'num';
SELECT delete_stream('po/num');
SELECT count(*) FROM policy_listing WHERE id = :num;
SELECT count(*) FROM policy_candidate WHERE listing_id = :num;
SELECT delete_stream('pz/secret');
SELECT count(*) FROM policy_listing WHERE id = :pz;
-- a page of a listing that is gone, or with no listing under way, is ignored
SELECT _policy_listing_page(:pz, ARRAY['x'], true, true);
SELECT _policy_listing_page(:ci, ARRAY['x'], false, true);
SELECT _policy_listing_failed(:pz, 'NotFound', 'gone');

-- follow() takes over a tag that tag() drives: the winner becomes its source
SELECT tag('quay.io/org/spec:old', 'po/spec:t');
SELECT follow('po/spec:t', 'quay.io/org/spec', ordering => 'alphabetical-asc');
SELECT listing_id AS spec FROM tag_policy WHERE tag = 't' \gset
SELECT pg_temp.list(:spec, 'a b');
SELECT tag, from_ref, pending FROM image_stream_tags WHERE namespace = 'po' AND stream = 'spec';
SELECT delete_stream('po/spec');

-- a listing of 2,500 tags is chosen a thousand tags at a time, in name
-- order (the worker holds a batch, not the repository): the best of a
-- batch goes on into the next, whichever batch it came from
SELECT follow('po/big:top', 'quay.io/org/big', ordering => 'numerical-asc');
SELECT follow('po/big:first', 'quay.io/org/big', ordering => 'numerical-desc', pattern => '^1[0-9]{3}$');
SELECT follow('po/big:middle', 'quay.io/org/big', ordering => 'numerical-asc', pattern => '^1[0-9]{3}$');
SELECT listing_id AS big FROM tag_policy p JOIN stream s ON s.id = p.stream_id WHERE s.name = 'big' LIMIT 1 \gset
SELECT _policy_listing_page(:big, ARRAY(SELECT lpad(i::text, 4, '0') FROM generate_series(1, 2500) i), true, true);
SELECT tag, winner, list_status FROM tag_policies WHERE stream = 'big' ORDER BY tag;
-- 1999 gone upstream: it keeps ranking, from before the first batch
SELECT _policy_listing_page(:big, ARRAY(SELECT lpad(i::text, 4, '0') FROM generate_series(1, 2500) i WHERE i <> 1999), true, true);
SELECT tag, winner, list_status, list_reason FROM tag_policies WHERE stream = 'big' ORDER BY tag;
SELECT delete_stream('po/big');

-- batches whose name order is not the policies' order (semver: v1.999.0
-- sorts after v1.2500.0), a winner first in its batch, equal versions in
-- different batches, newest carried with when it was first seen; each
-- winner is the one explain_policy chooses over the whole listing at once
-- (review of the batches, 2026-12-05)
SELECT follow('po/mix:top', 'quay.io/org/mix', semver => '>=1.0.0');
SELECT follow('po/mix:below', 'quay.io/org/mix', semver => '<1.1000.0');
SELECT follow('po/mix:edge', 'quay.io/org/mix', semver => '>=1.1800.0 <1.1900.0');
SELECT follow('po/mix:low', 'quay.io/org/mix', ordering => 'numerical-desc',
	pattern => '^v1\.([0-9]+)\.0$', "extract" => '\1');
SELECT follow('po/mix:tie', 'quay.io/org/mix', ordering => 'numerical-asc',
	pattern => '^v?1\.([0-9]+)\.0$', "extract" => '\1');
SELECT follow('po/mix:new', 'quay.io/org/mix', ordering => 'newest');
SELECT listing_id AS mix FROM tag_policy p JOIN stream s ON s.id = p.stream_id WHERE s.name = 'mix' LIMIT 1 \gset
SELECT _policy_listing_page(:mix, ARRAY(SELECT 'v1.' || i || '.0' FROM generate_series(1, 2500) i) || ARRAY['1.2500.0'], true, true);
SELECT tag, winner, list_status FROM tag_policies WHERE stream = 'mix' ORDER BY tag;
SELECT bool_and(t.winner = (SELECT e.candidate FROM explain_policy('po/mix:' || t.tag) e WHERE e.selected))
FROM tag_policies t WHERE t.stream = 'mix';
-- a tag first seen now, first in name order, is newest over the batches after it
SELECT _policy_listing_page(:mix, ARRAY(SELECT 'v1.' || i || '.0' FROM generate_series(1, 2500) i) || ARRAY['1.2500.0', 'v1.0.5'], true, true);
SELECT tag, winner, list_status FROM tag_policies WHERE stream = 'mix' AND tag = 'new';
-- v1.2500.0 and v1.0.5 gone: v1.2500.0 keeps ranking and still beats the
-- equal 1.2500.0 (its name sorts last); v1.0.5 keeps ranking by when it was
-- first seen
SELECT _policy_listing_page(:mix, ARRAY(SELECT 'v1.' || i || '.0' FROM generate_series(1, 2499) i) || ARRAY['1.2500.0'], true, true);
SELECT tag, winner, list_status, list_reason FROM tag_policies WHERE stream = 'mix' ORDER BY tag;
SELECT bool_and(t.winner = (SELECT e.candidate FROM explain_policy('po/mix:' || t.tag) e WHERE e.selected))
FROM tag_policies t WHERE t.stream = 'mix';
SELECT delete_stream('po/mix');

-- exactly 1,000 tags (one batch, then an empty one), 1,001 (a batch of
-- one), and an empty listing (no batch: both winners vanished)
SELECT follow('po/edge:asc', 'quay.io/org/edge', ordering => 'numerical-asc');
SELECT follow('po/edge:desc', 'quay.io/org/edge', ordering => 'numerical-desc');
SELECT listing_id AS edge FROM tag_policy p JOIN stream s ON s.id = p.stream_id WHERE s.name = 'edge' LIMIT 1 \gset
SELECT _policy_listing_page(:edge, ARRAY(SELECT lpad(i::text, 4, '0') FROM generate_series(1, 1000) i), true, true);
SELECT tag, winner, list_status FROM tag_policies WHERE stream = 'edge' ORDER BY tag;
SELECT _policy_listing_page(:edge, ARRAY(SELECT lpad(i::text, 4, '0') FROM generate_series(1, 1001) i), true, true);
SELECT tag, winner, list_status FROM tag_policies WHERE stream = 'edge' ORDER BY tag;
SELECT _policy_listing_page(:edge, '{}', true, true);
SELECT tag, winner, list_status, list_reason FROM tag_policies WHERE stream = 'edge' ORDER BY tag;
SELECT delete_stream('po/edge');

-- a kept winner that the changed policy no longer takes does not keep
-- ranking, whether the repository lists other tags or none
SELECT follow('po/gone:t', 'quay.io/org/gone', ordering => 'alphabetical-asc');
SELECT listing_id AS gone FROM tag_policy p JOIN stream s ON s.id = p.stream_id WHERE s.name = 'gone' \gset
SELECT pg_temp.list(:gone, 'a b');
SELECT follow('po/gone:t', 'quay.io/org/gone', ordering => 'alphabetical-asc', pattern => '^a$');
SELECT pg_temp.list(:gone, 'c');
SELECT tag, winner, list_status, list_reason FROM tag_policies WHERE stream = 'gone';
SELECT pg_temp.list(:gone, '');
SELECT tag, winner, list_status, list_reason FROM tag_policies WHERE stream = 'gone';
SELECT delete_stream('po/gone');

-- explain_policy shows another policy's vanished winner to no one, even
-- once that policy's condition is a failed listing's (review of the
-- batches, 2026-12-05)
SELECT follow('po/ex:o', 'quay.io/org/ex', ordering => 'alphabetical-asc');
SELECT listing_id AS ex FROM tag_policy p JOIN stream s ON s.id = p.stream_id WHERE s.name = 'ex' \gset
SELECT pg_temp.list(:ex, 'a z');
SELECT pg_temp.list(:ex, 'a');
SELECT follow('po/ex:p', 'quay.io/org/ex', ordering => 'alphabetical-asc');
SELECT pg_temp.list(:ex, 'a');
SELECT _policy_listing_failed(:ex, 'Unauthorized', 'refused');
SELECT tag, winner, list_reason FROM tag_policies WHERE stream = 'ex' ORDER BY tag;
SELECT candidate, selected FROM explain_policy('po/ex:p') ORDER BY candidate;
SELECT candidate, selected, why FROM explain_policy('po/ex:o') ORDER BY candidate;
-- z back upstream: listed again, for both
SELECT pg_temp.list(:ex, 'a z');
SELECT candidate, selected FROM explain_policy('po/ex:p') ORDER BY candidate;
SELECT delete_stream('po/ex');

SELECT delete_stream('po/app');
SELECT delete_stream('po/ci');
SELECT delete_stream('po/mine');
SELECT count(*) FROM policy_listing;
SELECT revoke_namespace('po', 'regress_po_tenant');
SELECT revoke_namespace('po', 'regress_po_viewer');
DROP ROLE regress_po_tenant;
DROP ROLE regress_po_viewer;
