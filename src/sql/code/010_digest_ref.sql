-- What a digest or a reference is made of: the functions of the types
-- image_digest and image_ref beyond their input, output and operators
-- (src/sql/schema/10_image_digest.sql, 20_image_ref.sql).

CREATE OR REPLACE FUNCTION digest_algorithm(image_digest) RETURNS text
	AS 'MODULE_PATHNAME', 'image_digest_algorithm'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION digest_algorithm(image_digest) IS 'the algorithm of a digest: sha256 or sha512';

CREATE OR REPLACE FUNCTION digest_hex(image_digest) RETURNS text
	AS 'MODULE_PATHNAME', 'image_digest_hex'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION digest_hex(image_digest) IS 'the hexadecimal hash of a digest, without the algorithm';

CREATE OR REPLACE FUNCTION content_digest(bytea, algorithm text DEFAULT 'sha256') RETURNS image_digest
	AS 'MODULE_PATHNAME', 'image_digest_content'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION content_digest(bytea, text) IS 'the digest of some content (sha256 or sha512)';

CREATE OR REPLACE FUNCTION digest_has_prefix(image_digest, text) RETURNS boolean
	AS 'MODULE_PATHNAME', 'image_digest_has_prefix'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION digest_has_prefix(image_digest, text) IS 'does the hex part, or the whole algorithm:hex text, start with this prefix?';

CREATE OR REPLACE FUNCTION ref_registry(image_ref) RETURNS text
	AS 'MODULE_PATHNAME', 'image_ref_registry'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ref_registry(image_ref) IS 'registry host[:port] of a reference';

CREATE OR REPLACE FUNCTION ref_repository(image_ref) RETURNS text
	AS 'MODULE_PATHNAME', 'image_ref_repository'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ref_repository(image_ref) IS 'repository path of a reference (library/nginx)';

CREATE OR REPLACE FUNCTION ref_tag(image_ref) RETURNS text
	AS 'MODULE_PATHNAME', 'image_ref_tag'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ref_tag(image_ref) IS 'tag of a reference, NULL if it has none';

CREATE OR REPLACE FUNCTION ref_digest(image_ref) RETURNS image_digest
	AS 'MODULE_PATHNAME', 'image_ref_digest'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ref_digest(image_ref) IS 'digest of a reference, NULL if it has none';

CREATE OR REPLACE FUNCTION ref_name(image_ref) RETURNS text
	AS 'MODULE_PATHNAME', 'image_ref_name'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ref_name(image_ref) IS 'registry/repository, without tag or digest';

-- The one check that a parameter names a repository (what follow,
-- set_repository and import_image with all_tags take): its reference,
-- or 22023 with the repository to use instead.
CREATE OR REPLACE FUNCTION _repository_only(input text, param text) RETURNS image_ref
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, imagestream, pg_temp AS $$
DECLARE
	repo imagestream.image_ref := input::imagestream.image_ref;
BEGIN
	IF imagestream.ref_tag(repo) IS NOT NULL OR imagestream.ref_digest(repo) IS NOT NULL THEN
		RAISE EXCEPTION '% must name a repository, not a tag or digest: "%"', param, input
			USING ERRCODE = 'invalid_parameter_value',
				HINT = format('Use "%s".', imagestream.ref_name(repo));
	END IF;
	RETURN repo;
END $$;

CREATE OR REPLACE FUNCTION ref_familiar(image_ref) RETURNS text
	AS 'MODULE_PATHNAME', 'image_ref_familiar'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ref_familiar(image_ref) IS 'the short form docker prints (nginx:1.25)';

CREATE OR REPLACE FUNCTION ref_with_tag(image_ref, text) RETURNS image_ref
	AS 'MODULE_PATHNAME', 'image_ref_with_tag'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ref_with_tag(image_ref, text) IS 'the reference with its tag set (a digest is kept)';

CREATE OR REPLACE FUNCTION ref_with_digest(image_ref, image_digest) RETURNS image_ref
	AS 'MODULE_PATHNAME', 'image_ref_with_digest'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ref_with_digest(image_ref, image_digest) IS 'the reference with its digest set (a tag is kept)';
