-- imagestream.image_digest: input, output, storage, accessors, hashing.
SET search_path TO imagestream, public;

-- valid digests print as they were written
SELECT 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'::image_digest;
SELECT 'sha512:cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e'::image_digest;
SELECT 'sha256:0000000000000000000000000000000000000000000000000000000000000000'::image_digest;
SELECT 'sha256:ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff'::image_digest;

-- malformed: each names the rule broken
SELECT ''::image_digest;
SELECT ' '::image_digest;
SELECT ':'::image_digest;
SELECT 'sha256'::image_digest;
SELECT 'sha256:'::image_digest;
SELECT ':e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'::image_digest;
SELECT 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'::image_digest;
SELECT 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85'::image_digest;
SELECT 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8555'::image_digest;
SELECT 'sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855'::image_digest;
SELECT 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85g'::image_digest;
SELECT 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85 '::image_digest;
SELECT ' sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'::image_digest;
SELECT 'SHA256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'::image_digest;
SELECT 'sha256-:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'::image_digest;
SELECT 'sha384:d3fc7881460b7e22e3d172954463dddd7866d17597e7248453c48b3e9d26d9596bf9c4a9cf8072c9d5bad76e19af801d'::image_digest;
SELECT 'md5:d41d8cd98f00b204e9800998ecf8427e'::image_digest;
SELECT 'blake3:af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262'::image_digest;
SELECT 'sha512:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'::image_digest;
SELECT 'sha256::e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'::image_digest;
SELECT 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855:'::image_digest;
SELECT 'sha256+b64:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564'::image_digest;

-- 34 bytes on disk for sha256 (one-byte header, algorithm, 32-byte hash)
CREATE TABLE digest_size (d image_digest);
INSERT INTO digest_size VALUES
	('sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'),
	('sha512:cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e');
SELECT digest_algorithm(d), pg_column_size(d) FROM digest_size ORDER BY d;
DROP TABLE digest_size;

-- accessors
SELECT digest_algorithm('sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'),
	digest_hex('sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
SELECT digest_algorithm('sha512:cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e');

-- content_digest: known values of SHA-256/512 over "" and "abc"
SELECT content_digest(''::bytea);
SELECT content_digest('abc'::bytea);
SELECT content_digest('abc'::bytea, 'sha512');
SELECT content_digest('\x00ff'::bytea) = content_digest('\x00ff'::bytea, 'sha256');
SELECT content_digest('abc'::bytea, 'md5');
SELECT content_digest('abc'::bytea, 'SHA256');
SELECT content_digest(NULL::bytea) IS NULL;

-- digest_has_prefix: the hex part or the whole text, as OpenShift matches
SELECT p, digest_has_prefix('sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', p)
FROM (VALUES ('e3b0c44'), ('sha256:e3b0c44'), ('sha256:'), (''), ('e3b0c45'), ('E3B0C44'),
	('sha512:e3b0'), ('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'),
	('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8550')) AS v(p);

-- comparison: algorithm first, then the hash bytes
SELECT 'sha256:0000000000000000000000000000000000000000000000000000000000000001'::image_digest
	< 'sha256:0000000000000000000000000000000000000000000000000000000000000002'::image_digest AS lt,
	'sha256:ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff'::image_digest
	< 'sha512:00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000'::image_digest AS sha256_first,
	'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'::image_digest
	= content_digest('') AS eq,
	'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'::image_digest
	<> content_digest('') AS ne;
SELECT image_digest_cmp(content_digest('a'), content_digest('b')) + image_digest_cmp(content_digest('b'), content_digest('a')) AS antisymmetric,
	image_digest_cmp(content_digest('a'), content_digest('a')) AS self;

-- hashing agrees with equality
SELECT image_digest_hash(content_digest('x')) = image_digest_hash(('sha256:' || digest_hex(content_digest('x')))::image_digest),
	image_digest_hash_extended(content_digest('x'), 7) = image_digest_hash_extended(('sha256:' || digest_hex(content_digest('x')))::image_digest, 7),
	image_digest_hash_extended(content_digest('x'), 7) <> image_digest_hash_extended(content_digest('x'), 8);
