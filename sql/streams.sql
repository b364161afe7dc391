-- Streams: create, duplicate, names, delete, lookup policy, the streams view.
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/test/regress_setup.psql

SELECT create_stream('shop/web');
SELECT create_stream('shop/api', lookup_local => true, annotations => '{"team": "blue"}');
SELECT namespace, name, generation, lookup_local, local_repository, tags, updated, annotations
FROM image_streams WHERE namespace = 'shop' ORDER BY name;

-- a duplicate is 42710 unless if_not_exists
SELECT create_stream('shop/web');
SELECT pg_temp.sqlstate($$SELECT create_stream('shop/web')$$);
SELECT create_stream('shop/web', if_not_exists => true);

-- malformed names are 22023 and say which rule they break
SELECT create_stream('web');
SELECT create_stream('Shop/web');
SELECT create_stream('shop/web_');
SELECT left(input, 30) AS input, left(pg_temp.sqlstate(format('SELECT create_stream(%L)', input)), 60) AS sqlstate
FROM (VALUES ('web'), ('Shop/web'), ('-shop/web'), ('shop-/web'), (repeat('a', 64) || '/web'),
	('shop/Web'), ('shop/web_'), ('shop/we..b'), ('shop/a/b'), ('shop/' || repeat('a', 256)),
	('shop/'), ('/web'), ('sh op/web'), ('shop/web:tag'), ('shop/web@sha256:abc'), (NULL)) AS v(input);
SELECT create_stream('shop/x', annotations => '[]');
SELECT count(*) FROM stream WHERE namespace = 'shop';

-- the longest names are allowed
SELECT create_stream(repeat('n', 63) || '/' || repeat('s', 255));
SELECT octet_length(namespace), octet_length(name) FROM image_streams WHERE namespace = repeat('n', 63);

-- the lookup policy is part of the spec: generation moves only on change
SELECT set_lookup_local('shop/web', true);
SELECT set_lookup_local('shop/web', true);
SELECT name, generation, lookup_local FROM image_streams WHERE namespace = 'shop' ORDER BY name;
SELECT set_lookup_local('shop/none', true);
SELECT pg_temp.sqlstate($$SELECT set_lookup_local('shop/none', true)$$);

-- with imagestream.local_registry set, a stream has a local repository
SET imagestream.local_registry = 'registry.local:5000';
SELECT name, local_repository FROM image_streams WHERE namespace = 'shop' ORDER BY name;
RESET imagestream.local_registry;

-- delete removes the stream and its tags, and logs one change
SELECT tag('quay.io/org/web:1', 'shop/web:v1', reference => true);
SELECT max(id) AS before_delete FROM change \gset
SELECT delete_stream('shop/web');
SELECT event, namespace, stream, tag, image FROM change WHERE id > :before_delete ORDER BY id;
SELECT count(*) FROM tag WHERE namespace = 'shop' AND stream = 'web';
SELECT pg_temp.sqlstate($$SELECT delete_stream('shop/web')$$);
SELECT pg_temp.sqlstate($$SELECT delete_stream('shop')$$);
