-- imagestream.image_digest: an OCI content digest in binary form.

CREATE TYPE image_digest;

CREATE FUNCTION image_digest_in(cstring) RETURNS image_digest
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION image_digest_out(image_digest) RETURNS cstring
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION image_digest_recv(internal) RETURNS image_digest
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION image_digest_send(image_digest) RETURNS bytea
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- STORAGE main lets the value keep a one-byte varlena header on disk (stored
-- unaligned): 34 bytes for sha256.
CREATE TYPE image_digest (
	INPUT = image_digest_in,
	OUTPUT = image_digest_out,
	RECEIVE = image_digest_recv,
	SEND = image_digest_send,
	INTERNALLENGTH = VARIABLE,
	ALIGNMENT = int4,
	STORAGE = main
);

COMMENT ON TYPE image_digest IS 'OCI content digest (sha256 or sha512), stored in binary';

CREATE FUNCTION image_digest_eq(image_digest, image_digest) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE;
CREATE FUNCTION image_digest_ne(image_digest, image_digest) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE;
CREATE FUNCTION image_digest_lt(image_digest, image_digest) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE;
CREATE FUNCTION image_digest_le(image_digest, image_digest) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE;
CREATE FUNCTION image_digest_gt(image_digest, image_digest) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE;
CREATE FUNCTION image_digest_ge(image_digest, image_digest) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE;
CREATE FUNCTION image_digest_cmp(image_digest, image_digest) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE;
CREATE FUNCTION image_digest_sortsupport(internal) RETURNS void
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION image_digest_hash(image_digest) RETURNS integer
	AS 'MODULE_PATHNAME', 'imagestream_payload_hash' LANGUAGE C IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE;
CREATE FUNCTION image_digest_hash_extended(image_digest, bigint) RETURNS bigint
	AS 'MODULE_PATHNAME', 'imagestream_payload_hash_extended' LANGUAGE C IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE;

CREATE OPERATOR = (
	LEFTARG = image_digest, RIGHTARG = image_digest, PROCEDURE = image_digest_eq,
	COMMUTATOR = =, NEGATOR = <>, RESTRICT = eqsel, JOIN = eqjoinsel,
	HASHES, MERGES
);
CREATE OPERATOR <> (
	LEFTARG = image_digest, RIGHTARG = image_digest, PROCEDURE = image_digest_ne,
	COMMUTATOR = <>, NEGATOR = =, RESTRICT = neqsel, JOIN = neqjoinsel
);
CREATE OPERATOR < (
	LEFTARG = image_digest, RIGHTARG = image_digest, PROCEDURE = image_digest_lt,
	COMMUTATOR = >, NEGATOR = >=, RESTRICT = scalarltsel, JOIN = scalarltjoinsel
);
CREATE OPERATOR <= (
	LEFTARG = image_digest, RIGHTARG = image_digest, PROCEDURE = image_digest_le,
	COMMUTATOR = >=, NEGATOR = >, RESTRICT = scalarlesel, JOIN = scalarlejoinsel
);
CREATE OPERATOR > (
	LEFTARG = image_digest, RIGHTARG = image_digest, PROCEDURE = image_digest_gt,
	COMMUTATOR = <, NEGATOR = <=, RESTRICT = scalargtsel, JOIN = scalargtjoinsel
);
CREATE OPERATOR >= (
	LEFTARG = image_digest, RIGHTARG = image_digest, PROCEDURE = image_digest_ge,
	COMMUTATOR = <=, NEGATOR = <, RESTRICT = scalargesel, JOIN = scalargejoinsel
);

CREATE OPERATOR CLASS image_digest_ops
	DEFAULT FOR TYPE image_digest USING btree AS
	OPERATOR 1 <,
	OPERATOR 2 <=,
	OPERATOR 3 =,
	OPERATOR 4 >=,
	OPERATOR 5 >,
	FUNCTION 1 image_digest_cmp(image_digest, image_digest),
	FUNCTION 2 image_digest_sortsupport(internal);

CREATE OPERATOR CLASS image_digest_hash_ops
	DEFAULT FOR TYPE image_digest USING hash AS
	OPERATOR 1 =,
	FUNCTION 1 image_digest_hash(image_digest),
	FUNCTION 2 image_digest_hash_extended(image_digest, bigint);
