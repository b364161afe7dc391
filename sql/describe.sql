-- describe: the oc describe is report.
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/test/regress_setup.psql

SELECT create_stream('ds/web', annotations => '{"team": "blue", "app": "web"}');
SELECT map_image('ds/web:latest', ref_with_digest('quay.io/org/web', content_digest('d1')));
SELECT map_image('ds/web:latest', 'quay.io/org/web:old', content_digest('d0'));
SELECT tag('web:latest', 'ds/web:stable', alias => true);
SELECT tag('quay.io/org/web:2.0', 'ds/web:2.0', scheduled => true, insecure => true);
SELECT tag('quay.io/org/web:1.9', 'ds/web:1.9', reference => true);
SELECT tag('web:latest', 'ds/web:v1.10.0', reference_policy => 'Local');
SELECT tag('quay.io/org/web:x', 'ds/web:broken');
SELECT _record_failure(id, 'NotFound', 'quay.io/org/web:x was not found') FROM tag
WHERE namespace = 'ds' AND name = 'broken';
-- ages vary from run to run; show them as AGE
SELECT regexp_replace(describe('ds/web'), '(Less than a second|[0-9]+ seconds?|About a minute)', 'AGE', 'g');
SELECT create_stream('ds/empty');
SELECT regexp_replace(describe('ds/empty'), '(Less than a second|[0-9]+ seconds?|About a minute)', 'AGE', 'g');
SELECT pg_temp.sqlstate($$SELECT describe('ds/none')$$);

-- the tag order of library-go's PrioritizeTags
SELECT _prioritize_tags(ARRAY['foo', 'abc', '5.0.0', '5.1.3-rc1', '5.1.3', '5.0', '5.1-rc1',
	'v5.1', '5.1', 'latest', '1.0.0-alpha.1', '1.0.0-alpha.beta', '1.0.0-alpha', '1.0.0-beta.11',
	'1.0.0-beta.2', '1.0.0', '01.2', '1.2_x', 'v', 'V1.0']);
-- other tags by their bytes alone, "v" or not; of equal versions the one
-- without "v" first, build metadata not compared; blang/semver's numbers
-- fit 64 bits; one "latest" of two; NULL left out
SELECT _prioritize_tags(ARRAY['zed', 'val', 'v5.1.3', '5.1.3+b', '5.1.3+a', '18446744073709551616.0.0',
	'18446744073709551615.0.0', '5.1-rc-1', '5.1-rc.1', '5.1-RC1', '1.0.0-rc.1', '1.0.0-rc.01',
	'latest', 'latest', NULL]);
-- without the skipped, distinct, at most room
SELECT _prioritize_tags(ARRAY['a', 'latest', '1.0', 'b', 'a'], ARRAY['latest', NULL], 2),
	_prioritize_tags('{a}', '{}', 0), _prioritize_tags('{}'::text[]);
SELECT pg_temp.sqlstate($$SELECT _prioritize_tags('{a}', '{}', -2)$$);
-- and docker's HumanDuration
SELECT d, _human_duration(d::interval) FROM (VALUES ('0.5 s'), ('1 s'), ('59 s'), ('90 s'),
	('59 min'), ('61 min'), ('47 hours'), ('3 days'), ('20 days'), ('70 days'), ('800 days')) v(d);
