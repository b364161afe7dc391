-- imagestream.image_ref: a normalised container image reference (pull spec).

CREATE TYPE image_ref;

CREATE FUNCTION image_ref_in(cstring) RETURNS image_ref
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION image_ref_out(image_ref) RETURNS cstring
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION image_ref_recv(internal) RETURNS image_ref
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION image_ref_send(image_ref) RETURNS bytea
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TYPE image_ref (
	INPUT = image_ref_in,
	OUTPUT = image_ref_out,
	RECEIVE = image_ref_recv,
	SEND = image_ref_send,
	INTERNALLENGTH = VARIABLE,
	ALIGNMENT = int4,
	STORAGE = main
);

COMMENT ON TYPE image_ref IS 'container image reference, normalised as docker pull does (docker.io/library/nginx:1.25)';

CREATE FUNCTION image_ref_eq(image_ref, image_ref) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE;
CREATE FUNCTION image_ref_ne(image_ref, image_ref) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE;
CREATE FUNCTION image_ref_lt(image_ref, image_ref) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE;
CREATE FUNCTION image_ref_le(image_ref, image_ref) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE;
CREATE FUNCTION image_ref_gt(image_ref, image_ref) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE;
CREATE FUNCTION image_ref_ge(image_ref, image_ref) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE;
CREATE FUNCTION image_ref_cmp(image_ref, image_ref) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE;
CREATE FUNCTION image_ref_hash(image_ref) RETURNS integer
	AS 'MODULE_PATHNAME', 'imagestream_payload_hash' LANGUAGE C IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE;
CREATE FUNCTION image_ref_hash_extended(image_ref, bigint) RETURNS bigint
	AS 'MODULE_PATHNAME', 'imagestream_payload_hash_extended' LANGUAGE C IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE;

CREATE OPERATOR = (
	LEFTARG = image_ref, RIGHTARG = image_ref, PROCEDURE = image_ref_eq,
	COMMUTATOR = =, NEGATOR = <>, RESTRICT = eqsel, JOIN = eqjoinsel,
	HASHES, MERGES
);
CREATE OPERATOR <> (
	LEFTARG = image_ref, RIGHTARG = image_ref, PROCEDURE = image_ref_ne,
	COMMUTATOR = <>, NEGATOR = =, RESTRICT = neqsel, JOIN = neqjoinsel
);
CREATE OPERATOR < (
	LEFTARG = image_ref, RIGHTARG = image_ref, PROCEDURE = image_ref_lt,
	COMMUTATOR = >, NEGATOR = >=, RESTRICT = scalarltsel, JOIN = scalarltjoinsel
);
CREATE OPERATOR <= (
	LEFTARG = image_ref, RIGHTARG = image_ref, PROCEDURE = image_ref_le,
	COMMUTATOR = >=, NEGATOR = >, RESTRICT = scalarlesel, JOIN = scalarlejoinsel
);
CREATE OPERATOR > (
	LEFTARG = image_ref, RIGHTARG = image_ref, PROCEDURE = image_ref_gt,
	COMMUTATOR = <, NEGATOR = <=, RESTRICT = scalargtsel, JOIN = scalargtjoinsel
);
CREATE OPERATOR >= (
	LEFTARG = image_ref, RIGHTARG = image_ref, PROCEDURE = image_ref_ge,
	COMMUTATOR = <=, NEGATOR = <, RESTRICT = scalargesel, JOIN = scalargejoinsel
);

CREATE OPERATOR CLASS image_ref_ops
	DEFAULT FOR TYPE image_ref USING btree AS
	OPERATOR 1 <,
	OPERATOR 2 <=,
	OPERATOR 3 =,
	OPERATOR 4 >=,
	OPERATOR 5 >,
	FUNCTION 1 image_ref_cmp(image_ref, image_ref);

CREATE OPERATOR CLASS image_ref_hash_ops
	DEFAULT FOR TYPE image_ref USING hash AS
	OPERATOR 1 =,
	FUNCTION 1 image_ref_hash(image_ref),
	FUNCTION 2 image_ref_hash_extended(image_ref, bigint);

CREATE FUNCTION ref_registry(image_ref) RETURNS text
	AS 'MODULE_PATHNAME', 'image_ref_registry'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ref_registry(image_ref) IS 'registry host[:port] of a reference';

CREATE FUNCTION ref_repository(image_ref) RETURNS text
	AS 'MODULE_PATHNAME', 'image_ref_repository'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ref_repository(image_ref) IS 'repository path of a reference (library/nginx)';

CREATE FUNCTION ref_tag(image_ref) RETURNS text
	AS 'MODULE_PATHNAME', 'image_ref_tag'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ref_tag(image_ref) IS 'tag of a reference, NULL if it has none';

CREATE FUNCTION ref_digest(image_ref) RETURNS image_digest
	AS 'MODULE_PATHNAME', 'image_ref_digest'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ref_digest(image_ref) IS 'digest of a reference, NULL if it has none';

CREATE FUNCTION ref_name(image_ref) RETURNS text
	AS 'MODULE_PATHNAME', 'image_ref_name'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ref_name(image_ref) IS 'registry/repository, without tag or digest';

CREATE FUNCTION ref_familiar(image_ref) RETURNS text
	AS 'MODULE_PATHNAME', 'image_ref_familiar'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ref_familiar(image_ref) IS 'the short form docker prints (nginx:1.25)';

CREATE FUNCTION ref_with_tag(image_ref, text) RETURNS image_ref
	AS 'MODULE_PATHNAME', 'image_ref_with_tag'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ref_with_tag(image_ref, text) IS 'the reference with its tag set (a digest is kept)';

CREATE FUNCTION ref_with_digest(image_ref, image_digest) RETURNS image_ref
	AS 'MODULE_PATHNAME', 'image_ref_with_digest'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ref_with_digest(image_ref, image_digest) IS 'the reference with its digest set (a tag is kept)';
