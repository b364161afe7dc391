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
