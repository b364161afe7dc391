-- What an import fetched, into the catalogue (src/sql/code/130_catalogue.sql):
-- manifests and config blobs, each digest once, and the children of an index
-- that the import verified (held_child).

-- Fills an image's platform and configuration from its config blob.
CREATE OR REPLACE FUNCTION _catalogue_config(p_digest image_digest, p_config bytea) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	c jsonb;
BEGIN
	BEGIN
		c := convert_from(p_config, 'UTF8')::jsonb;
	EXCEPTION WHEN OTHERS THEN
		RETURN;					-- an unreadable config leaves the fields empty
	END;
	UPDATE imagestream.image SET
		os = c->>'os', architecture = c->>'architecture', variant = c->>'variant',
		created = CASE WHEN c->>'created' ~ '^\d{4}-' THEN (c->>'created')::timestamptz END,
		labels = c#>'{config,Labels}',
		config = jsonb_strip_nulls(jsonb_build_object(
			'env', c#>'{config,Env}', 'entrypoint', c#>'{config,Entrypoint}',
			'cmd', c#>'{config,Cmd}', 'user', c#>'{config,User}',
			'workingDir', c#>'{config,WorkingDir}', 'exposedPorts', c#>'{config,ExposedPorts}'))
	WHERE digest = p_digest;
END $$;

-- Catalogues a fetched manifest and its config blob, unless the catalogue
-- holds it already (a digest shared by many tags is checked and parsed once).
CREATE OR REPLACE FUNCTION _catalogue_fetched(p_digest image_digest, p_media_type text,
	p_manifest bytea, p_config bytea, p_ref image_ref) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	IF EXISTS (SELECT 1 FROM imagestream.image WHERE digest = p_digest AND manifest IS NOT NULL) THEN
		RETURN;
	END IF;
	PERFORM imagestream._catalogue_manifest(p_digest, p_media_type, p_manifest, p_ref);
	IF p_config IS NOT NULL THEN
		PERFORM imagestream._catalogue_config(p_digest, p_config);
	END IF;
END $$;

-- The key of a signature (image_signature.id): sha256 of the payload, a zero
-- byte and the signature.  A signature is base64 (src/cosign.c), with no
-- zero byte, so that no other pair has the same bytes.
CREATE OR REPLACE FUNCTION _signature_id(p_payload bytea, p_signature text) RETURNS bytea
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
	SELECT pg_catalog.sha256(p_payload OPERATOR(pg_catalog.||) '\x00'::bytea
		OPERATOR(pg_catalog.||) pg_catalog.convert_to(p_signature, 'UTF8'))
$$;

-- Keeps the signatures a fetch found for image p_image (p_payloads[i] signed
-- by p_signatures[i]): each distinct pair once, however often it is found,
-- and no more than 16 an image (an image has one or two; each one a gate
-- verifies with each key it names): a registry that serves the image's
-- digest cannot grow the table, nor the gates' work, by changing its
-- signatures; those kept first stay (doc/import.md, "Signatures";
-- doc/security.md S37).
CREATE OR REPLACE FUNCTION _keep_signatures(p_image image_digest, p_payloads bytea[],
	p_signatures text[]) RETURNS void
LANGUAGE sql AS $$
	INSERT INTO imagestream.image_signature AS s (image, id, payload, signature)
	SELECT p_image, n.id, n.payload, n.signature
	FROM (SELECT DISTINCT ON (x.id) x.*
		  FROM (SELECT imagestream._signature_id(u.p, u.s) AS id, u.p AS payload, u.s AS signature, u.n
				FROM unnest(p_payloads, p_signatures) WITH ORDINALITY AS u(p, s, n)) x
		  WHERE x.id IS NOT NULL
			AND NOT EXISTS (SELECT FROM imagestream.image_signature k
							WHERE k.image = p_image AND k.id = x.id)
		  ORDER BY x.id, x.n) n
	ORDER BY n.n
	LIMIT greatest(0, 16 - (SELECT count(*) FROM imagestream.image_signature k WHERE k.image = p_image))
	ON CONFLICT DO NOTHING
$$;

-- What an import of source found (f, from _fetch_source or _fetch_sources);
-- when p_write, every manifest fetched is catalogued, and the signatures
-- the fetch found are kept for the digest the source served (an index
-- that a Legacy import did not catalogue gets a row of its digest alone).
-- status is 'Success',
-- 'Unchanged' or 'Failure'.  Generic plans: a custom plan copies each
-- parameter into every place it is used (f's arrays in each statement of the
-- loop, a config 11 times in _catalogue_config), and an 8 MB config then
-- took 200 MB to catalogue instead of 80 (doc/security.md S15).
CREATE OR REPLACE FUNCTION _import_fetched(f _fetched, p_source image_ref, p_write boolean,
	OUT status text, OUT reason text, OUT message text, OUT image image_digest,
	OUT source_digest image_digest, OUT retry_after integer)
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
DECLARE
	i integer;
	repo imagestream.image_ref := imagestream.ref_name(p_source)::imagestream.image_ref;
BEGIN
	status := f.status; reason := f.reason; message := f.message;
	image := f.image; source_digest := f.source_digest; retry_after := f.retry_after;
	IF f.status = 'Success' AND p_write THEN
		FOR i IN 1 .. coalesce(cardinality(f.digests), 0) LOOP
			PERFORM imagestream._catalogue_fetched(f.digests[i], f.media_types[i], f.manifests[i],
				f.configs[i], imagestream.ref_with_digest(repo, f.digests[i]));
		END LOOP;
		IF cardinality(f.signature_payloads) > 0 THEN
			PERFORM imagestream._ensure_image(f.source_digest,
											  imagestream.ref_with_digest(repo, f.source_digest));
			PERFORM imagestream._keep_signatures(f.source_digest, f.signature_payloads,
												 f.signature_values);
		END IF;
	END IF;
END $$;

-- Records that an import into stream p_stream_id fetched and verified the
-- children of the index it imported (what f fetched, but the index): these
-- children, and no others the index lists, open to the stream's viewers
-- (held_child).  Call it once f is catalogued.
CREATE OR REPLACE FUNCTION _hold_children(p_stream_id bigint, f _fetched) RETURNS void
LANGUAGE sql AS $$
	INSERT INTO imagestream.held_child (stream_id, digest)
	SELECT DISTINCT p_stream_id, d FROM unnest(f.digests) AS d
	WHERE f.status = 'Success' AND d IS DISTINCT FROM f.image
	ON CONFLICT DO NOTHING
$$;
