-- Indexes, DISTINCT, GROUP BY, merge and hash joins on both types.
SET search_path TO imagestream, public;

CREATE TABLE imgs (id int PRIMARY KEY, ref image_ref, digest image_digest);
INSERT INTO imgs
SELECT i, ('registry.example.com/team' || (i % 10) || '/app:' || i)::image_ref,
	content_digest(int4send(i % 500))
FROM generate_series(1, 2000) AS i;
CREATE INDEX imgs_ref ON imgs (ref);
CREATE INDEX imgs_digest ON imgs USING hash (digest);
CREATE INDEX imgs_digest_btree ON imgs (digest);
ANALYZE imgs;

-- equality lookups use the indexes
EXPLAIN (COSTS OFF) SELECT id FROM imgs WHERE ref = 'registry.example.com/team3/app:3';
SELECT id FROM imgs WHERE ref = 'registry.example.com/team3/app:3';
SET enable_bitmapscan = off;
EXPLAIN (COSTS OFF) SELECT count(*) FROM imgs WHERE digest = content_digest(int4send(7));
SELECT count(*) FROM imgs WHERE digest = content_digest(int4send(7));
DROP INDEX imgs_digest;
EXPLAIN (COSTS OFF) SELECT count(*) FROM imgs WHERE digest = content_digest(int4send(7));
EXPLAIN (COSTS OFF) SELECT id FROM imgs WHERE ref > 'registry.example.com/team9/app:99' ORDER BY ref LIMIT 3;
SELECT ref FROM imgs WHERE ref > 'registry.example.com/team9/app:99' ORDER BY ref LIMIT 3;
RESET enable_bitmapscan;

-- DISTINCT and GROUP BY, sorted and hashed
SET enable_hashagg = off;
SELECT count(DISTINCT digest), count(DISTINCT ref_name(ref)) FROM imgs;
SELECT count(*) FROM (SELECT DISTINCT digest FROM imgs) AS d;
SET enable_hashagg = on;
SET enable_sort = off;
EXPLAIN (COSTS OFF) SELECT digest, count(*) FROM imgs GROUP BY digest;
SELECT count(*), min(n), max(n) FROM (SELECT digest, count(*) AS n FROM imgs GROUP BY digest) AS g;
SELECT count(*) FROM (SELECT DISTINCT ref FROM imgs) AS d;
RESET enable_sort;

-- joins: hash join, then merge join
CREATE TABLE wanted (digest image_digest, ref image_ref);
INSERT INTO wanted SELECT content_digest(int4send(i)), ('registry.example.com/team' || (i % 10) || '/app:' || i)::image_ref
FROM generate_series(0, 99) AS i;
ANALYZE wanted;
SET enable_mergejoin = off;
SET enable_nestloop = off;
EXPLAIN (COSTS OFF) SELECT count(*) FROM imgs JOIN wanted USING (digest);
SELECT count(*) FROM imgs JOIN wanted USING (digest);
EXPLAIN (COSTS OFF) SELECT count(*) FROM imgs JOIN wanted USING (ref);
SELECT count(*) FROM imgs JOIN wanted USING (ref);
SET enable_hashjoin = off;
SET enable_mergejoin = on;
EXPLAIN (COSTS OFF) SELECT count(*) FROM imgs JOIN wanted USING (digest);
SELECT count(*) FROM imgs JOIN wanted USING (digest);
RESET enable_hashjoin;
RESET enable_mergejoin;
RESET enable_nestloop;

-- a unique index refuses the same reference written two ways
CREATE TABLE pins (ref image_ref UNIQUE);
INSERT INTO pins VALUES ('nginx:1.25');
INSERT INTO pins VALUES ('docker.io/library/nginx:1.25');
DROP TABLE pins, wanted, imgs;
