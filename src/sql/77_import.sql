-- oc import-image (SPEC sections 4 and 5): the network I/O is C
-- (src/registry.c); deciding what to fetch and recording it is here.

CREATE FUNCTION _fetch_source(ref image_ref, insecure boolean, preserve boolean,
	known image_digest, prefer_os text, prefer_arch text,
	OUT status text, OUT reason text, OUT message text, OUT retry_after integer,
	OUT image image_digest, OUT source_digest image_digest, OUT digests image_digest[],
	OUT media_types text[], OUT manifests bytea[], OUT configs bytea[])
	AS 'MODULE_PATHNAME', 'imagestream_fetch_source' LANGUAGE C VOLATILE;

CREATE FUNCTION _registry_tag_pages(ref image_ref, insecure boolean,
	OUT status text, OUT reason text, OUT message text, OUT pages text[])
	AS 'MODULE_PATHNAME', 'imagestream_registry_tag_pages' LANGUAGE C VOLATILE;

-- Fills an image's platform and configuration from its config blob.
CREATE FUNCTION _catalogue_config(p_digest image_digest, p_config bytea) RETURNS void
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

-- Imports what source (a tag or digest reference) points at (src/fetch.c)
-- and, when p_write, catalogues every manifest fetched.  status is
-- 'Success', 'Unchanged' or 'Failure'.
CREATE FUNCTION _import_source(p_source image_ref, p_insecure boolean, p_mode import_mode,
	p_known image_digest, p_annotations jsonb, p_write boolean,
	OUT status text, OUT reason text, OUT message text, OUT image image_digest,
	OUT source_digest image_digest, OUT retry_after integer)
LANGUAGE plpgsql AS $$
DECLARE
	f record;
	i integer;
	repo imagestream.image_ref := imagestream.ref_name(p_source)::imagestream.image_ref;
BEGIN
	f := imagestream._fetch_source(p_source, p_insecure, p_mode = 'PreserveOriginal', p_known,
		p_annotations->>'importer.image.openshift.io/prefer-os',
		p_annotations->>'importer.image.openshift.io/prefer-arch');
	status := f.status; reason := f.reason; message := f.message;
	image := f.image; source_digest := f.source_digest; retry_after := f.retry_after;
	IF f.status = 'Success' AND p_write THEN
		FOR i IN 1 .. coalesce(cardinality(f.digests), 0) LOOP
			PERFORM imagestream._catalogue_manifest(f.digests[i], f.media_types[i], f.manifests[i],
				imagestream.ref_with_digest(repo, f.digests[i]));
			IF f.configs[i] IS NOT NULL THEN
				PERFORM imagestream._catalogue_config(f.digests[i], f.configs[i]);
			END IF;
		END LOOP;
	END IF;
END $$;
