-- Signature verification and trusted keys (issue 21): _signature_key and
-- _signature_verify (src/cosign_crypto.c, src/cosign.c), add_trusted_key,
-- drop_trusted_key, the view trusted_keys and _trusted_key_pem.
--
-- The keys and signatures below were made once with OpenSSL 3.0 and pasted
-- here; the private keys were thrown away (but "private", which is here
-- only to be refused).  In a directory:
--   openssl ecparam -name prime256v1 -genkey -noout -out p256.key
--   openssl ec -in p256.key -pubout -out p256.pub                  # p256
--   openssl ec -in p256.key -pubout -conv_form compressed -out p256c.pub   # p256c
--   openssl ecparam -name prime256v1 -genkey -noout -out other.key
--   openssl ec -in other.key -pubout -out other.pub                # other
--   openssl genpkey -algorithm ed25519 -out ed.key
--   openssl pkey -in ed.key -pubout -out ed.pub                    # ed
--   openssl genpkey -algorithm rsa -pkeyopt rsa_keygen_bits:2048 -out rsa.key
--   openssl pkey -in rsa.key -pubout -out rsa.pub                  # rsa
--   openssl ecparam -name secp384r1 -genkey -noout -out p384.key
--   openssl ec -in p384.key -pubout -out p384.pub                  # p384
--   openssl genpkey -algorithm ed25519 -out private.key            # private
--   openssl req -x509 -key ed.key -subj /CN=test -days 1 -out cert.pem   # cert
-- The fingerprints, by `openssl pkey -pubin -in K.pub -outform DER | sha256sum`:
--   p256   2df691daa0669058b075637c7159c1ea547af85d62e7f7dfb864486c1c345fe0
--   ed     2a4938a2e83ca1410fa5fe88aeadaa1a1423831aa39036ecc8e47692f2bf9f9b
--   other  1fa753e1d546cd25a25aa446f691e9e0fd2d3c23795d18a6a19f49b830b3e755
-- The image: D = sha256:0364c128...4898, the SHA-256 of "imagestream
-- signature test".  Each payload P below (written with printf, no newline)
-- was signed as cosign does with a key pair:
--   openssl dgst -sha256 -sign p256.key -out P.sig P.json; base64 -w0 P.sig
-- and "good" with the Ed25519 key as well:
--   openssl pkeyutl -sign -inkey ed.key -rawin -in good.json -out good.ed.sig
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/test/regress_setup.psql

-- refusal(sql): ok, or the SQLSTATE and detail of sql's error
CREATE FUNCTION pg_temp.refusal(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	detail text;
BEGIN
	EXECUTE sql;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
	RETURN SQLSTATE || ': ' || detail;
END $$;

CREATE TEMP TABLE k (name text PRIMARY KEY, pem text);
INSERT INTO k VALUES
('p256', E'-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEtQcmFhW2YdFgX1fsfVEX+Vt4cOrv\ntw8/47JfL9wVH8UzM/dFei/t09EMo5DX+UuaFEaalgz4TxdUreeHn1YJ4w==\n-----END PUBLIC KEY-----\n'),
('other', E'-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEVfxr8znIFUmOHUkip4kHe+JL0uf8\nvnN9l7vt96/iux0rzAiIEpHFmYsEAK/A/Nuaqfo6tSvkHEOvC1zoKUizHQ==\n-----END PUBLIC KEY-----\n'),
('ed', E'-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAN1mZ85Q4wCB2E6CJ+rjxKja1Ne4NFRo0byBLswLUsRw=\n-----END PUBLIC KEY-----\n'),
('p256c', E'-----BEGIN PUBLIC KEY-----\nMDkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDIgADtQcmFhW2YdFgX1fsfVEX+Vt4cOrv\ntw8/47JfL9wVH8U=\n-----END PUBLIC KEY-----\n'),
('p384', E'-----BEGIN PUBLIC KEY-----\nMHYwEAYHKoZIzj0CAQYFK4EEACIDYgAE7D8f+6FmX58dF1KkXzkF0v6czQBVWPOF\nx8bru8Z4FTCJS4sZZYcPRq+3lrtlc0ClbmcHWJht8/EzkeY+H4qnpNZ2W6SZ0M69\n0FFlDxrg7E+uWgIiDWdZFKjqdECvoZNG\n-----END PUBLIC KEY-----\n'),
('rsa', E'-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA1EpRNwOtk+nCcWyUYbUg\n54v1DS4fETgnfG4UEoMNLfzqcM4alyhvbSJVLJjuJzquxgv3V4lP0bkgg5ILWUkP\nVHN33tWOe+8tFPWMJVuUpa7b1yhW1rjfBf0NmbW2fXwmA9GNvhGwqZlhJjMKKutp\nagL9fTVc9AIRcG79PNRlTse/PjXJE3oVo2bdSgAEpgEYjLMHYrDy9EQfT8tbediS\nQRRx8dKnGJYG1X5gJpsuXgH/483diqdJQl03QMwNcAaAvyCccrjc2d6WXmlL0h2m\nGja4/u11KgLgEGW6tuV2JUHq3D8GdkJf0jOg3ODkhxhZmsnRkuHlqcSf89QghB6c\n9QIDAQAB\n-----END PUBLIC KEY-----\n'),
('private', E'-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIPCTFLwxnUe45YVaSYWndARpGO2vvzLAhPBzLHI3QuY3\n-----END PRIVATE KEY-----\n'),
('cert', E'-----BEGIN CERTIFICATE-----\nMIIBMjCB5aADAgECAhQ2SlGyDY1BIW+bqh4KjC9ALfYcIjAFBgMrZXAwDzENMAsG\nA1UEAwwEdGVzdDAeFw0yNjEyMDUyMTUyNDRaFw0yNjEyMDYyMTUyNDRaMA8xDTAL\nBgNVBAMMBHRlc3QwKjAFBgMrZXADIQA3WZnzlDjAIHYToIn6uPEqNrU17g0VGjRv\nIEuzAtSxHKNTMFEwHQYDVR0OBBYEFNlbo4KB/uzOTvjclat4vgEiuFZdMB8GA1Ud\nIwQYMBaAFNlbo4KB/uzOTvjclat4vgEiuFZdMA8GA1UdEwEB/wQFMAMBAf8wBQYD\nK2VwA0EA4BmRvMs7Kh2AbHcKyPgZXi7zM9FbWjI56qG2T2z/ggNIgJ9wPwAScSse\nFmdVu9uSpvumzMC6PmEYgr/nSc8fCg==\n-----END CERTIFICATE-----\n');

GRANT SELECT ON k TO PUBLIC;

-- payloads (text: all are ASCII) and their P-256 signatures
CREATE TEMP TABLE p (name text PRIMARY KEY, body text, sig text);
INSERT INTO p VALUES
('good', '{"critical":{"identity":{"docker-reference":"registry.example/team/app"},"image":{"docker-manifest-digest":"sha256:0364c1288e2828c49fd329d64da2f534217bf3c5d6bf9b9642708cc340654898"},"type":"cosign container image signature"},"optional":null}',
 'MEYCIQDL717g4az8fLFwwFWwNnZWMq+qk9e6IlgNXWjo7VbBMgIhAIdlggBmTF1G/DvADvYOSaiio1LxcjFZXo5rmFcid8sV'),
('notjson', 'not json',
 'MEUCIQDPJxo0uAVvqUEPjyqkoxBDYBAwTfntQaNXwgjicvR3KwIgWby+QrXcPwpgvRunk3mlOmTmWA74Tl8Ie0J8DADY9bU='),
('wrongtype', '{"critical":{"identity":{"docker-reference":"registry.example/team/app"},"image":{"docker-manifest-digest":"sha256:0364c1288e2828c49fd329d64da2f534217bf3c5d6bf9b9642708cc340654898"},"type":"atomic container signature"},"optional":null}',
 'MEQCIBx1PzXDY7mocCncPEw71KxLC7CXJQrSlpAg20D9SeUuAiBHNDV21ZIcDlEuj1GUbc7ZEdTlF4hVVCWxud7xy29yxw=='),
('nocritical', '{"optional":{"critical":{"image":{"docker-manifest-digest":"sha256:0364c1288e2828c49fd329d64da2f534217bf3c5d6bf9b9642708cc340654898"},"type":"cosign container image signature"}}}',
 'MEUCIGk/w/skr8pJ660p7OdOtG+EwKxGnCh4jurkjSJwukEYAiEAzmJ26akXZY4FeDK1an4/Jr4bk9BnCbFQrnnMnPwbrvE='),
('notype', '{"critical":{"image":{"docker-manifest-digest":"sha256:0364c1288e2828c49fd329d64da2f534217bf3c5d6bf9b9642708cc340654898"}}}',
 'MEYCIQCWklqEGnHhXSd4M/hpz6nq7jUePd+Zh8bEmu1IFOJnnwIhAI7/Rq6VkW4BBZG8sdKXlI9y2AnuEJuF1e9rcWfIS3ll'),
('nodigest', '{"critical":{"image":{},"type":"cosign container image signature"}}',
 'MEYCIQC3fQ0+0CVTlgfeMnltF2BZZCvJ2buujXG8oDoHw+H1uwIhAMz994acjReVFlcgHN2jNEfBqtmJxvrjNXnsqxoJ7ACi'),
('duplicate', '{"critical":{"image":{"docker-manifest-digest":"sha256:0364c1288e2828c49fd329d64da2f534217bf3c5d6bf9b9642708cc340654898","docker-manifest-digest":"sha256:210277cb6266afe7c6cc4227ff3e9efc818f55234a7d7fbf033ab602440f2437"},"type":"cosign container image signature"}}',
 'MEYCIQC/q/GC/AqjI7lZt//2kpffAofbHy1OF2AGw6ImTO3/0AIhAMf3vEYLT6YajkhzuC+x3fymyb+so+kCEVeDKBV4rmue'),
('casevariant', '{"critical":{"image":{"docker-manifest-digest":"sha256:0364c1288e2828c49fd329d64da2f534217bf3c5d6bf9b9642708cc340654898"},"type":"cosign container image signature","Type":"other"}}',
 'MEUCIQDFxazNkin8bR6hckXSx+CReN7E6cjYzK5HW/4eIRf/9AIgEdzrjq3HoDznPy+/X2QLyhHqPcQzkMNIFK79Np37uYA='),
('uppercase', '{"critical":{"image":{"docker-manifest-digest":"sha256:0364C1288E2828C49FD329D64DA2F534217BF3C5D6BF9B9642708CC340654898"},"type":"cosign container image signature"}}',
 'MEYCIQDZdECq4KqcElaUYJjMznDRi+bymNTE4TkIepr18XYTOwIhAPtBmQrx+owJfMH8QjUN5ajLeYb/d3THADpwtZJ38zgP'),
('array', '[{"critical":{"image":{"docker-manifest-digest":"sha256:0364c1288e2828c49fd329d64da2f534217bf3c5d6bf9b9642708cc340654898"},"type":"cosign container image signature"}}]',
 'MEQCIAgof2Im038zmC8J9Hi3YX/9k8UrjNyvRVGoM6s9IZ2tAiB2mRh74NG0eZnCjJKdNf5wBsk8WEJGW0L4kR0GDH4fBQ=='),
('empty', '',
 'MEYCIQDlA/3QNZx+4bx6+FQgyBNBdWcFAALmrmGUBwN5s7OXqgIhAKB1NvOsTAyr081C3mODzGixhkuSOOq0iF5bnnfT9iHU'),
-- JSON escapes in keys and values read as cosign's Go does; "critical"
-- elsewhere than at the top is not the payload's
('escapes', '{"critical":{"type":"cosign container image\u0020signature","image":{"docker\u002dmanifest-digest":"sha256:0364c1288e2828c49fd329d64da2f534217bf3c5d6bf9b9642708cc340654898"}},"optional":{"a":[1,{"critical":null}]}}',
 'MEQCIDvRrQcNoBpnKsgTLSXhLRsLM0087Q1o6woDEETivWR2AiA/OQr85t9NoU5df1jR/RGjWoGLtcAQyO3QCP5weSQmWA=='),
-- the Kelvin sign K (U+212A): Go folds "doc\u212Aer-manifest-digest" to
-- the digest's key and keeps the last, sha256:2102...
('kelvin', E'{"critical":{"image":{"docker-manifest-digest":"sha256:0364c1288e2828c49fd329d64da2f534217bf3c5d6bf9b9642708cc340654898","doc\u212Aer-manifest-digest":"sha256:210277cb6266afe7c6cc4227ff3e9efc818f55234a7d7fbf033ab602440f2437"},"type":"cosign container image signature"}}',
 'MEUCIEwyf17oxeu4asCDXLOhmdL3ws4aeC1SgHevkEBjqI8WAiEAg5GAMp+oy9EwpzTD2ptdf5H0hxOpOXLmLRhOX+Eb+6Q=');
GRANT SELECT ON p TO PUBLIC;
\set ed_sig '''mEX21etbyJAKPryUKlQKIt+37aLP2ZEAdLiWXnkANn2q1LSw6HW0sM1aGn5++jv7ZD0YYYjCYVQu/ryGXxsFAg=='''
\set d '''sha256:0364c1288e2828c49fd329d64da2f534217bf3c5d6bf9b9642708cc340654898''::image_digest'
\set d2 '''sha256:210277cb6266afe7c6cc4227ff3e9efc818f55234a7d7fbf033ab602440f2437''::image_digest'

-- v(payload, signature, key): _signature_verify of the fixtures for D
CREATE FUNCTION pg_temp.v(payload text, signature text, key text, digest image_digest) RETURNS text
LANGUAGE sql AS $$
	SELECT imagestream._signature_verify(convert_to((SELECT p.body FROM p WHERE p.name = payload), 'UTF8'),
		signature, (SELECT k.pem FROM k WHERE k.name = key), digest)
$$;

-- keys: the algorithm, and the fingerprint openssl's DER hashes to
SELECT name, (_signature_key(pem)).* FROM k WHERE name IN ('p256', 'ed', 'other') ORDER BY name;
-- every key refused says why, with 22023
SELECT name, pg_temp.refusal(format('SELECT imagestream._signature_key(%L)', pem))
FROM k WHERE name IN ('p256c', 'p384', 'rsa', 'private', 'cert') ORDER BY name;
-- the message, detail and hint
SELECT _signature_key(pem) FROM k WHERE name = 'rsa';
SELECT pg_temp.refusal(format('SELECT imagestream._signature_key(%L)', t)) FROM (VALUES
	(''), ('garbage'), ('-----BEGIN PUBLIC KEY-----'),
	(E'-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----'),
	-- not base64, base64 of no key, a header line
	(E'-----BEGIN PUBLIC KEY-----\nMFkw EwYH\n-----END PUBLIC KEY-----'),
	(E'-----BEGIN PUBLIC KEY-----\nZ2FyYmFnZQ==\n-----END PUBLIC KEY-----'),
	(E'-----BEGIN PUBLIC KEY-----\nProc-Type: 4,ENCRYPTED\nMCowBQYDK2VwAyEAN1mZ85Q4wCB2E6CJ+rjxKja1Ne4NFRo0byBLswLUsRw=\n-----END PUBLIC KEY-----'),
	-- padding in the middle, bits left over in the last character
	(E'-----BEGIN PUBLIC KEY-----\nMCow=BQYDK2VwAyEAN1mZ85Q4wCB2E6CJ+rjxKja1Ne4NFRo0byBLswLUsRw=\n-----END PUBLIC KEY-----'),
	(E'-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAN1mZ85Q4wCB2E6CJ+rjxKja1Ne4NFRo0byBLswLUsRx=\n-----END PUBLIC KEY-----'),
	-- an RSA key in PKCS#1, an OpenSSH key
	(E'-----BEGIN RSA PUBLIC KEY-----\nMAoCAwEAAQIDAQAB\n-----END RSA PUBLIC KEY-----'),
	('ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDdZmfOUOMAgdhOgifq48So2tTXuDRUaNG8gS7MC1LEc')) AS x(t);
-- two blocks, or the public key beside the private one, are refused
SELECT pg_temp.refusal(format('SELECT imagestream._signature_key(%L)', a.pem || b.pem))
FROM k a, k b WHERE (a.name, b.name) IN (('p256', 'ed'), ('p256', 'private'));
-- PEM: an empty line, a lone CR, a begin marker not at the start of its
-- line: openssl reads none of them, and neither do we
SELECT pg_temp.refusal(format('SELECT imagestream._signature_key(%L)', t)) FROM (VALUES
	(E'-----BEGIN PUBLIC KEY-----\n\nMCowBQYDK2VwAyEAN1mZ85Q4wCB2E6CJ+rjxKja1Ne4NFRo0byBLswLUsRw=\n-----END PUBLIC KEY-----'),
	(E'-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAN1mZ85Q4\n\nwCB2E6CJ+rjxKja1Ne4NFRo0byBLswLUsRw=\n-----END PUBLIC KEY-----'),
	(E'-----BEGIN PUBLIC KEY-----\rMCowBQYDK2VwAyEAN1mZ85Q4wCB2E6CJ+rjxKja1Ne4NFRo0byBLswLUsRw=\r-----END PUBLIC KEY-----'),
	(E'  -----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAN1mZ85Q4wCB2E6CJ+rjxKja1Ne4NFRo0byBLswLUsRw=\n-----END PUBLIC KEY-----')) AS x(t);
-- lines of white space around the block, and CRLF lines, are fine; 16 kB at most
SELECT (_signature_key(E' \n\n' || replace(pem, E'\n', E'\r\n') || E'\n \n')).fingerprint
FROM k WHERE name = 'ed';
SELECT pg_temp.sqlstate(format('SELECT imagestream._signature_key(%L)', pem || repeat(' ', 16384 - length(pem))))
FROM k WHERE name = 'ed';
SELECT pg_temp.refusal(format('SELECT imagestream._signature_key(%L)', pem || repeat(' ', 16385 - length(pem))))
FROM k WHERE name = 'ed';
SELECT _signature_key(NULL) IS NULL;

-- signatures: P-256 and Ed25519 verify (NULL: nothing against them)
SELECT pg_temp.v('good', (SELECT sig FROM p WHERE name = 'good'), 'p256', :d) AS p256;
SELECT pg_temp.v('good', :ed_sig, 'ed', :d) AS ed25519;
-- with another key, or the other algorithm's key, they do not
SELECT pg_temp.v('good', (SELECT sig FROM p WHERE name = 'good'), 'other', :d);
SELECT pg_temp.v('good', (SELECT sig FROM p WHERE name = 'good'), 'ed', :d);
SELECT pg_temp.v('good', :ed_sig, 'p256', :d);
-- nor over other bytes: a space more in the payload
SELECT _signature_verify(convert_to(body || ' ', 'UTF8'), sig, (SELECT pem FROM k WHERE name = 'p256'), :d)
FROM p WHERE name = 'good';
-- a payload for another image
SELECT pg_temp.v('good', (SELECT sig FROM p WHERE name = 'good'), 'p256', :d2);
SELECT pg_temp.v('good', :ed_sig, 'ed', :d2);
-- signatures cut short, not base64, empty, too long
SELECT pg_temp.v('good', left(sig, 92), 'p256', :d) AS cut_at_4, pg_temp.v('good', left(sig, 90), 'p256', :d) AS cut
FROM p WHERE name = 'good';
SELECT s, pg_temp.v('good', s, 'p256', :d) FROM (VALUES
	('!!!!'), ('MEYC IQDL'), (E'MEYCIQDL717g4az8fLFwwFWwNnZWMq+qk9e6IlgNXWjo7VbB\nMgIhAIdlggBmTF1G/DvADvYOSaiio1LxcjFZXo5rmFcid8sV'),
	('MEYCIQDL717g4az8fLFwwFWwNnZWMq-qk9e6IlgNXWjo7VbBMgIhAIdlggBmTF1G_DvADvYOSaiio1LxcjFZXo5rmFcid8sV'),
	('mEX21etbyJAKPryUKlQKIt+37aLP2ZEAdLiWXnkANn2q1LSw6HW0sM1aGn5++jv7ZD0YYYjCYVQu/ryGXxsFAg='),
	('mEX21etbyJAKPryUKlQKIt+37aLP2ZEAdLiWXnkANn2q1LSw6HW0sM1aGn5++jv7ZD0YYYjCYVQu/ryGXxsFAh=='),
	('=')) AS x(s);
SELECT pg_temp.v('good', '', 'p256', :d) AS empty, pg_temp.v('good', repeat('A', 1024), 'p256', :d) AS long_1024,
	pg_temp.v('good', repeat('A', 1028), 'p256', :d) AS long_1028;
-- payloads: each signed by the P-256 key, each but "escapes" refused for what it says
SELECT name, pg_temp.v(name, sig, 'p256', :d) FROM p WHERE name <> 'good' ORDER BY name;
-- the same payloads with a signature that does not verify are refused for that first
SELECT DISTINCT pg_temp.v(name, (SELECT sig FROM p WHERE name = 'good'), 'p256', :d) FROM p WHERE name <> 'good';
-- a payload over 64 kB is refused before anything else; 64 kB is read
SELECT _signature_verify(convert_to(body || repeat(' ', 65536 - length(body)), 'UTF8'), sig,
	(SELECT pem FROM k WHERE name = 'p256'), :d) AS at_64kb,
	_signature_verify(convert_to(body || repeat(' ', 65537 - length(body)), 'UTF8'), sig,
	(SELECT pem FROM k WHERE name = 'p256'), :d) AS over
FROM p WHERE name = 'good';
SELECT _signature_verify(decode(repeat('00', 10000000), 'hex'), 'AAAA', 'x', :d) AS ten_mb;
-- a refused key, and NULLs: never NULL, which would read as verified
SELECT pg_temp.v('good', (SELECT sig FROM p WHERE name = 'good'), 'rsa', :d);
SELECT pg_temp.v('good', (SELECT sig FROM p WHERE name = 'good'), 'nosuchkey', :d) AS no_key,
	_signature_verify(NULL, 'AAAA', 'x', :d) AS no_payload,
	_signature_verify('{}', NULL, 'x', :d) AS no_signature,
	_signature_verify('{}', 'AAAA', 'x', NULL) AS no_digest;
-- neither function is PUBLIC's
SELECT p::regprocedure, has_function_privilege('public', p::regprocedure, 'EXECUTE')
FROM unnest(ARRAY['imagestream._signature_key(text)', 'imagestream._signature_verify(bytea,text,text,image_digest)',
	'imagestream._trusted_key_pem(text,text)']) p;

-- trusted keys: a namespace's admin adds and drops its own, superusers
-- the server-wide ones
CREATE ROLE regress_sig_admin;
CREATE ROLE regress_sig_editor;
CREATE ROLE regress_sig_viewer;
CREATE ROLE regress_sig_other;
CREATE ROLE regress_sig_nobody;
SELECT grant_namespace('siga', 'regress_sig_admin', 'admin');
SELECT grant_namespace('siga', 'regress_sig_editor', 'edit');
SELECT grant_namespace('siga', 'regress_sig_viewer', 'view');
SELECT grant_namespace('sigb', 'regress_sig_other', 'admin');

SELECT add_trusted_key('release', pem) FROM k WHERE name = 'p256';
SELECT add_trusted_key('ci', pem) FROM k WHERE name = 'ed';
SELECT add_trusted_key('b-key', pem, 'sigb') FROM k WHERE name = 'other';
-- the same key again changes nothing; another key under the name is refused
SELECT added_at AS release_added FROM trusted_key WHERE name = 'release' \gset
SELECT add_trusted_key('release', pem) FROM k WHERE name = 'p256';
SELECT added_at = :'release_added' AS unchanged FROM trusted_key WHERE name = 'release';
SELECT pg_temp.sqlstate(format('SELECT imagestream.add_trusted_key(''release'', %L)', pem)) FROM k WHERE name = 'ed';
SELECT add_trusted_key('release', pem) FROM k WHERE name = 'ed';
-- a refused key, a bad name, no key
SELECT pg_temp.sqlstate(format('SELECT imagestream.add_trusted_key(''r'', %L)', pem)) FROM k WHERE name = 'rsa';
SELECT n, pg_temp.sqlstate(format('SELECT imagestream.add_trusted_key(%L, %L)', n, (SELECT pem FROM k WHERE name = 'ed')))
FROM (VALUES (''), ('-lead'), ('.hidden'), ('has space'), (E'new\nline'), ('slash/name'), ('é'), (repeat('x', 64)),
	(repeat('x', 63)), ('Release_2.0-rc')) AS x(n);
SELECT drop_trusted_key(repeat('x', 63));
SELECT drop_trusted_key('Release_2.0-rc');
SELECT pg_temp.sqlstate($$SELECT imagestream.add_trusted_key('nokey', NULL)$$);
SELECT pg_temp.sqlstate($$SELECT imagestream.add_trusted_key(NULL, 'x')$$);
-- '' is no namespace
SELECT pg_temp.sqlstate(format('SELECT imagestream.add_trusted_key(''x'', %L, '''')', pem)) FROM k WHERE name = 'ed';

SET ROLE regress_sig_admin;
SELECT add_trusted_key('release', pem, 'siga') FROM k WHERE name = 'other';
SELECT add_trusted_key('team', pem, 'siga') FROM k WHERE name = 'ed';
-- not server-wide, not another namespace's
SELECT pg_temp.sqlstate(format('SELECT imagestream.add_trusted_key(''mine'', %L)', pem)) FROM k WHERE name = 'ed';
SELECT pg_temp.sqlstate(format('SELECT imagestream.add_trusted_key(''mine'', %L, NULL)', pem)) FROM k WHERE name = 'ed';
SELECT pg_temp.sqlstate(format('SELECT imagestream.add_trusted_key(''mine'', %L, ''sigb'')', pem)) FROM k WHERE name = 'ed';
SELECT pg_temp.sqlstate($$SELECT imagestream.drop_trusted_key('ci')$$);
SELECT pg_temp.sqlstate($$SELECT imagestream.drop_trusted_key('b-key', 'sigb')$$);
-- nor a namespace's that does not exist, with the same error
SELECT pg_temp.sqlstate($$SELECT imagestream.drop_trusted_key('nothing', 'sigb')$$);
-- it sees the server-wide keys and its namespace's, not sigb's
SELECT * FROM trusted_keys ORDER BY namespace NULLS FIRST, name;
-- the table, the PEM lookup and the verification stay closed
SELECT pg_temp.sqlstate($$SELECT * FROM imagestream.trusted_key$$);
SELECT pg_temp.sqlstate($$SELECT imagestream._trusted_key_pem('siga', 'release')$$);
SELECT pg_temp.sqlstate($$SELECT imagestream._signature_verify('{}', 'AAAA', 'x', NULL)$$);
SELECT pg_temp.sqlstate($$SELECT imagestream._signature_key('x')$$);
RESET ROLE;

SET ROLE regress_sig_editor;
SELECT pg_temp.sqlstate(format('SELECT imagestream.add_trusted_key(''mine'', %L, ''siga'')', pem)) FROM k WHERE name = 'ed';
SELECT pg_temp.sqlstate($$SELECT imagestream.drop_trusted_key('team', 'siga')$$);
SELECT name, namespace FROM trusted_keys ORDER BY namespace NULLS FIRST, name;
RESET ROLE;
SET ROLE regress_sig_viewer;
SELECT name, namespace FROM trusted_keys ORDER BY namespace NULLS FIRST, name;
RESET ROLE;
SET ROLE regress_sig_other;
SELECT name, namespace FROM trusted_keys ORDER BY namespace NULLS FIRST, name;
RESET ROLE;
-- a role without any right sees the server-wide keys only, and changes none
SET ROLE regress_sig_nobody;
SELECT name, namespace FROM trusted_keys ORDER BY namespace NULLS FIRST, name;
SELECT pg_temp.sqlstate(format('SELECT imagestream.add_trusted_key(''mine'', %L)', pem)) FROM k WHERE name = 'ed';
SELECT pg_temp.sqlstate($$SELECT imagestream.drop_trusted_key('release')$$);
SELECT pg_temp.sqlstate($$SELECT imagestream.drop_trusted_key('release', 'siga')$$);
RESET ROLE;

-- the gates' lookup: siga's "release" shadows the server-wide one, which
-- other namespaces (and none) get; a name nobody has is NULL
SELECT ns, n, (SELECT name FROM k WHERE pem = _trusted_key_pem(ns, n)) AS key
FROM (VALUES ('siga', 'release'), ('sigb', 'release'), (NULL, 'release'), ('siga', 'ci'),
	('siga', 'b-key'), ('sigb', 'b-key'), ('siga', 'team'), ('sigb', 'team'), ('siga', 'none')) AS x(ns, n);
-- so the P-256 signature of "good" passes the server-wide "release", not siga's
SELECT ns, _signature_verify(convert_to(body, 'UTF8'), sig, _trusted_key_pem(ns, 'release'), :d)
FROM p, (VALUES ('sigb'), ('siga')) AS x(ns) WHERE name = 'good';

-- dropping: a missing key is 42704; siga's drop uncovers the server-wide key
SET ROLE regress_sig_admin;
SELECT drop_trusted_key('release', 'siga');
SELECT pg_temp.sqlstate($$SELECT imagestream.drop_trusted_key('release', 'siga')$$);
RESET ROLE;
SELECT (SELECT name FROM k WHERE pem = _trusted_key_pem('siga', 'release')) AS key;
SELECT pg_temp.sqlstate($$SELECT imagestream.drop_trusted_key('nothing')$$);
SELECT pg_temp.sqlstate($$SELECT imagestream.drop_trusted_key('', 'siga')$$);
SELECT drop_trusted_key('release');
SELECT drop_trusted_key('ci');
SELECT drop_trusted_key('b-key', 'sigb');
SELECT drop_trusted_key('team', 'siga');
SELECT count(*) FROM trusted_key;

SELECT revoke_namespace('siga', 'regress_sig_admin');
SELECT revoke_namespace('siga', 'regress_sig_editor');
SELECT revoke_namespace('siga', 'regress_sig_viewer');
SELECT revoke_namespace('sigb', 'regress_sig_other');
DROP ROLE regress_sig_admin;
DROP ROLE regress_sig_editor;
DROP ROLE regress_sig_viewer;
DROP ROLE regress_sig_other;
DROP ROLE regress_sig_nobody;
