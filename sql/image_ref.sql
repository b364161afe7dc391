-- imagestream.image_ref: input, normalisation, output, accessors, errors.
SET search_path TO imagestream, public;

-- normalised as docker pull does; no implicit :latest
SELECT r::image_ref AS normalised, ref_familiar(r::image_ref) AS familiar
FROM (VALUES ('nginx'), ('nginx:1.25'), ('library/nginx'), ('docker.io/nginx'),
	('index.docker.io/nginx:1.25'), ('docker.io/library/nginx:1.25'), ('bitnami/redis:7'),
	('quay.io/org/app@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'),
	('localhost:5000/a/b:t'), ('localhost/a'), ('[::1]:5000/x'), ('[2001:db8::1]/repo:tag'),
	('registry.example.com:443/ns/sub/app:v1.2.3-rc_1'),
	('nginx:1.25@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'),
	('nginx@sha512:cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e'),
	('Registry.Example.COM/app'), ('localhost'), ('localhost:5000')) AS v(r);

-- accessors
SELECT ref_registry(r), ref_repository(r), ref_tag(r), ref_digest(r), ref_name(r)
FROM (VALUES ('nginx'::image_ref), ('localhost:5000/a/b:t'),
	('quay.io/org/app:v1@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855')) AS v(r);

-- with_tag keeps a digest, with_digest keeps a tag (as the library's WithTag/WithDigest)
SELECT ref_with_tag('nginx', '1.27');
SELECT ref_with_tag('nginx:1.25@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', 'v2');
SELECT ref_with_digest('nginx:1.25', content_digest('abc'));
SELECT ref_with_digest('nginx@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', content_digest('abc'));
SELECT ref_with_tag('nginx', '');
SELECT ref_with_tag('nginx', '-bad');
SELECT ref_with_tag('nginx', repeat('a', 129));
SELECT ref_with_tag('nginx', 'a:b');

-- malformed: SQLSTATE 22P02 and a detail naming the rule broken
CREATE FUNCTION pg_temp.sqlstate_of(input text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	PERFORM input::imagestream.image_ref;
	RETURN 'accepted';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE;
END $$;
SELECT left(input, 40) AS input, pg_temp.sqlstate_of(input)
FROM (VALUES (''), ('Nginx'), (repeat('a', 300)), ('nginx:' || repeat('t', 129)),
	('nginx@sha256:abc'), ('nginx@md5:d41d8cd98f00b204e9800998ecf8427e'),
	('registry:port/app'), ('foo//bar'), (E'nginx\x01')) AS v(input);
SELECT ''::image_ref;
SELECT 'Nginx'::image_ref;
SELECT 'docker.io/library/Nginx'::image_ref;
SELECT 'example.com/Org/app'::image_ref;
SELECT 'localhost:5000/Foo'::image_ref;
-- a first component taken for a registry must be one (the library falls back to no registry)
SELECT 'a.b_c/d'::image_ref;
SELECT 'foo_bar.x/repo:latest'::image_ref;
SELECT ('example.com/' || repeat('a', 256))::image_ref;
SELECT repeat('a', 248)::image_ref;
SELECT ('nginx:' || repeat('t', 129))::image_ref;
SELECT 'nginx:'::image_ref;
SELECT 'nginx:-x'::image_ref;
SELECT 'nginx:a/b'::image_ref;
SELECT 'nginx@sha256:abc'::image_ref;
SELECT 'nginx@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85'::image_ref;
SELECT 'nginx@sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855'::image_ref;
SELECT 'nginx@sha384:d3fc7881460b7e22e3d172954463dddd7866d17597e7248453c48b3e9d26d9596bf9c4a9cf8072c9d5bad76e19af801d'::image_ref;
SELECT 'nginx@md5:d41d8cd98f00b204e9800998ecf8427e'::image_ref;
SELECT 'nginx@'::image_ref;
SELECT 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'::image_ref;
SELECT 'registry:port/app'::image_ref;
SELECT 'registry:/app'::image_ref;
SELECT 'registry:5000x/app'::image_ref;
SELECT '[fe80::1%eth0]:5000/app'::image_ref;
SELECT '[::1]'::image_ref;
SELECT '[::1]:5000'::image_ref;
SELECT '[]:5000/app'::image_ref;
SELECT 'reg-.example.com/app'::image_ref;
SELECT '-reg.example.com/app'::image_ref;
SELECT 'reg..example.com/app'::image_ref;
SELECT 'foo//bar'::image_ref;
SELECT 'foo/'::image_ref;
SELECT '/foo'::image_ref;
SELECT 'foo/-bar'::image_ref;
SELECT 'foo/bar-'::image_ref;
SELECT 'foo/bar_-baz'::image_ref;
SELECT 'foo/bar___baz'::image_ref;
SELECT 'foo/bar..baz'::image_ref;
SELECT 'foo bar'::image_ref;
SELECT ' nginx'::image_ref;
SELECT 'nginx '::image_ref;
SELECT E'nginx\t'::image_ref;
SELECT 'ngïnx'::image_ref;
SELECT 'https://quay.io/app'::image_ref;
SELECT 'quay.io/app:1:2'::image_ref;
SELECT ':tag'::image_ref;
SELECT '@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'::image_ref;

-- the limits themselves are allowed
SELECT length(('example.com/' || repeat('a', 255))::image_ref::text);
SELECT length(repeat('a', 247)::image_ref::text);
SELECT ref_tag(('nginx:' || repeat('t', 128))::image_ref) = repeat('t', 128);

-- equality is on the normalised form
SELECT 'nginx'::image_ref = 'docker.io/library/nginx'::image_ref AS same,
	'index.docker.io/nginx'::image_ref = 'nginx'::image_ref AS alias,
	'nginx'::image_ref = 'nginx:latest'::image_ref AS tag_differs,
	'nginx:1'::image_ref <> 'nginx:1@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'::image_ref AS digest_differs;

-- ordering: registry, repository, tag (none first), digest (none first)
SELECT r FROM (VALUES ('quay.io/a'::image_ref), ('nginx:1'), ('nginx'), ('alpine'),
	('nginx@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'),
	('nginx:1@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'),
	('localhost:5000/z')) AS v(r) ORDER BY r;
