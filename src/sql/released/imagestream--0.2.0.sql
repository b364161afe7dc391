-- imagestream: OpenShift image streams in PostgreSQL.
-- Built from src/sql/*.sql in name order; edit those files, not this one.

\echo Use "CREATE EXTENSION imagestream" to load this file. \quit
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

CREATE FUNCTION digest_algorithm(image_digest) RETURNS text
	AS 'MODULE_PATHNAME', 'image_digest_algorithm'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION digest_algorithm(image_digest) IS 'the algorithm of a digest: sha256 or sha512';

CREATE FUNCTION digest_hex(image_digest) RETURNS text
	AS 'MODULE_PATHNAME', 'image_digest_hex'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION digest_hex(image_digest) IS 'the hexadecimal hash of a digest, without the algorithm';

CREATE FUNCTION content_digest(bytea, algorithm text DEFAULT 'sha256') RETURNS image_digest
	AS 'MODULE_PATHNAME', 'image_digest_content'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION content_digest(bytea, text) IS 'the digest of some content (sha256 or sha512)';

CREATE FUNCTION digest_has_prefix(image_digest, text) RETURNS boolean
	AS 'MODULE_PATHNAME', 'image_digest_has_prefix'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION digest_has_prefix(image_digest, text) IS 'does the hex part, or the whole algorithm:hex text, start with this prefix?';
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
-- The enumerations of OpenShift's image API (image.openshift.io/v1).

CREATE TYPE source_kind AS ENUM ('DockerImage', 'ImageStreamTag', 'ImageStreamImage');
COMMENT ON TYPE source_kind IS 'kind of a tag''s source (TagReference.from.kind)';

CREATE TYPE reference_policy AS ENUM ('Source', 'Local');
COMMENT ON TYPE reference_policy IS 'how consumers pull a tag''s image (TagReferencePolicy.type)';

CREATE TYPE import_mode AS ENUM ('Legacy', 'PreserveOriginal');
COMMENT ON TYPE import_mode IS 'what an import of a manifest list keeps (TagImportPolicy.importMode)';
-- The model: streams, tags (spec and status together), history, the image
-- catalogue, credentials, namespace grants and the change log.  See
-- doc/model.md.  Names compare byte-wise (COLLATE "C"), as in OpenShift.

CREATE TYPE tag_event AS (
	position integer,					-- 0 = current
	created timestamptz,
	docker_image_reference image_ref,
	image image_digest,					-- NULL for a reference-only event
	generation bigint,
	platforms text[]					-- os/architecture[/variant] of the image or its children
);

CREATE TABLE stream (
	id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
	namespace text COLLATE "C" NOT NULL,
	name text COLLATE "C" NOT NULL,
	generation bigint NOT NULL DEFAULT 1 CHECK (generation >= 1),
	lookup_local boolean NOT NULL DEFAULT false,
	annotations jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(annotations) = 'object'),
	created_at timestamptz NOT NULL DEFAULT now(),
	UNIQUE (namespace, name)
);
COMMENT ON TABLE stream IS 'image streams (OpenShift ImageStream)';

-- One row per tag name of a stream: its spec (TagReference) when has_spec,
-- the newest history event copied into the head columns, and the
-- ImportSuccess condition.  namespace and stream repeat the stream's names
-- so that resolving "ns/stream:tag" is one index probe.
CREATE TABLE tag (
	id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
	stream_id bigint NOT NULL REFERENCES stream ON DELETE CASCADE,
	namespace text COLLATE "C" NOT NULL,
	stream text COLLATE "C" NOT NULL,
	name text COLLATE "C" NOT NULL,
	-- spec
	has_spec boolean NOT NULL DEFAULT false,
	from_kind source_kind,
	from_ref text,
	reference boolean NOT NULL DEFAULT false,
	spec_generation bigint,
	scheduled boolean NOT NULL DEFAULT false,
	insecure boolean NOT NULL DEFAULT false,
	import_mode import_mode NOT NULL DEFAULT 'Legacy',
	reference_policy reference_policy NOT NULL DEFAULT 'Source',
	annotations jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(annotations) = 'object'),
	-- status: head of the history
	image image_digest,
	docker_image_reference image_ref,
	created timestamptz,
	status_generation bigint,
	history_length integer NOT NULL DEFAULT 0 CHECK (history_length >= 0),
	-- what the source served at the last successful import (for a manifest
	-- list imported in Legacy mode, the list's digest): an unchanged source
	-- is then recognised by one HEAD request
	source_digest image_digest,
	-- import_now asked the worker to import this tag
	import_requested_at timestamptz,
	-- status: the ImportSuccess condition
	import_status text CHECK (import_status IN ('True', 'False')),
	import_reason text,
	import_message text,
	import_generation bigint,
	import_transition timestamptz,
	UNIQUE (namespace, stream, name),
	CHECK (NOT has_spec OR (from_kind IS NOT NULL AND from_ref IS NOT NULL AND spec_generation IS NOT NULL)),
	CHECK ((history_length = 0) = (docker_image_reference IS NULL))
);
CREATE INDEX tag_stream ON tag (stream_id);
-- the tags that follow a tag of their stream, looked up on every new event
CREATE INDEX tag_followers ON tag (stream_id, from_ref) WHERE has_spec AND from_kind = 'ImageStreamTag';
COMMENT ON TABLE tag IS 'spec and status of each tag (OpenShift TagReference and NamedTagEventList)';

-- Tag history, in two tables sized for many events (doc/model.md): most
-- events' pull spec is their repository and their own digest, so an event
-- holds a 4-byte id of its pull spec without the digest (history_ref) and
-- the digest once.  The views _history (internal) and history (callers')
-- give events with their whole pull spec.
CREATE TABLE history_ref (
	id integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
	-- with_digest: the event's pull spec is ref_with_digest(ref, image), ref
	-- its repository; otherwise ref is the pull spec itself
	ref image_ref NOT NULL,
	with_digest boolean NOT NULL,
	UNIQUE (ref, with_digest)
);
COMMENT ON TABLE history_ref IS 'pull specs of tag events, stored once';

-- Newest first by seq, numbered per tag.  "Overwrite in place" updates the
-- newest row; a new event is a new row with the next seq.  Columns in
-- this order leave no padding.
CREATE TABLE history_event (
	tag_id integer NOT NULL REFERENCES tag ON DELETE CASCADE,
	seq integer NOT NULL,
	created timestamptz NOT NULL,
	generation bigint NOT NULL,
	ref integer NOT NULL REFERENCES history_ref,
	image image_digest,
	PRIMARY KEY (tag_id, seq)
);
-- equality lookups only (which tags hold an image): a hash index is a third
-- the size of a btree on the 34-byte digest
CREATE INDEX history_image ON history_event USING hash (image);
COMMENT ON TABLE history_event IS 'tag events (OpenShift TagEvent), their pull spec in history_ref';

-- history_event.tag_id is 4 bytes: tag ids stop there
ALTER TABLE tag ALTER COLUMN id SET MAXVALUE 2147483647;

CREATE VIEW _history AS
SELECT e.tag_id, e.seq, e.created,
	CASE WHEN r.with_digest THEN imagestream.ref_with_digest(r.ref, e.image) ELSE r.ref END
		AS docker_image_reference,
	e.image, e.generation
FROM imagestream.history_event e LEFT JOIN imagestream.history_ref r ON r.id = e.ref;
COMMENT ON VIEW _history IS 'tag events with their pull spec, for the extension''s own functions';

-- The image catalogue, shared by digest.  manifest holds the bytes exactly
-- as served, so that the digest can be checked again; it is NULL for an
-- image known only by its digest.
CREATE TABLE image (
	digest image_digest PRIMARY KEY,
	media_type text,
	manifest bytea,
	docker_image_reference image_ref,
	size bigint,
	os text,
	architecture text,
	variant text,
	created timestamptz,
	labels jsonb,
	config jsonb,
	imported_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE image IS 'image catalogue (OpenShift Image)';

CREATE TABLE image_layer (
	image image_digest NOT NULL REFERENCES image ON DELETE CASCADE,
	position integer NOT NULL,
	digest image_digest NOT NULL,
	size bigint,
	media_type text,
	PRIMARY KEY (image, position)
);

-- Child manifests of an index or manifest list.
CREATE TABLE image_child (
	image image_digest NOT NULL REFERENCES image ON DELETE CASCADE,
	position integer NOT NULL,
	digest image_digest NOT NULL,
	media_type text,
	size bigint,
	os text,
	architecture text,
	variant text,
	PRIMARY KEY (image, position)
);
CREATE INDEX image_child_digest ON image_child (digest);

-- Pull credentials per registry host or host/path prefix; readable by the
-- extension owner only.
CREATE TABLE registry_credential (
	registry text COLLATE "C" PRIMARY KEY,
	username text NOT NULL,
	secret text NOT NULL
);

CREATE TABLE namespace_grant (
	namespace text COLLATE "C" NOT NULL,
	grantee regrole NOT NULL,
	level text NOT NULL CHECK (level IN ('view', 'edit', 'admin')),
	PRIMARY KEY (namespace, grantee)
);

-- The durable change log.  A writer locks the table against other writers
-- (readers are not blocked) until it commits and takes max(id) + 1: ids are
-- dense and in commit order, so a consumer that has read up to id N never
-- misses a later commit with a smaller id, as it could with a sequence.
CREATE TABLE change (
	id bigint PRIMARY KEY,
	at timestamptz NOT NULL DEFAULT now(),
	event text NOT NULL CHECK (event IN ('tag_updated', 'tag_deleted', 'stream_deleted', 'import_failed')),
	namespace text COLLATE "C" NOT NULL,
	stream text COLLATE "C" NOT NULL,
	tag text COLLATE "C",
	image image_digest,
	previous_image image_digest,
	docker_image_reference image_ref,
	generation bigint,
	reason text,
	message text
);
CREATE INDEX change_namespace ON change (namespace, id);
COMMENT ON TABLE change IS 'durable log of tag changes, also announced with NOTIFY';

-- pg_dump keeps the user's data.
SELECT pg_catalog.pg_extension_config_dump('stream', '');
SELECT pg_catalog.pg_extension_config_dump('stream_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('tag', '');
SELECT pg_catalog.pg_extension_config_dump('tag_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('history_ref', '');
SELECT pg_catalog.pg_extension_config_dump('history_ref_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('history_event', '');
SELECT pg_catalog.pg_extension_config_dump('image', '');
SELECT pg_catalog.pg_extension_config_dump('image_layer', '');
SELECT pg_catalog.pg_extension_config_dump('image_child', '');
SELECT pg_catalog.pg_extension_config_dump('registry_credential', '');
SELECT pg_catalog.pg_extension_config_dump('namespace_grant', '');
SELECT pg_catalog.pg_extension_config_dump('change', '');
-- Names of SPEC section 1: "namespace/name", "namespace/name:tag",
-- "namespace/name@digest-or-prefix".  Malformed names are SQLSTATE 22023.
-- resolve() (C, not SECURITY DEFINER) reports a bad tag name through
-- _parse_tag in the caller's context: the functions it reaches pin their
-- search_path, so that nothing a caller's path finds (a public.format, say)
-- runs in their place, and _check_names and _name_error are executable by
-- PUBLIC (90_security.sql).

CREATE FUNCTION _name_error(what text, input text, detail text) RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	RAISE EXCEPTION 'invalid %: "%"', what, input
		USING ERRCODE = 'invalid_parameter_value', DETAIL = detail;
END $$;

CREATE FUNCTION _check_names(input text, what text, ns text, name text, tag text DEFAULT NULL)
RETURNS void LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	IF ns IS NULL OR ns !~ '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$' OR octet_length(ns) > 63 THEN
		PERFORM imagestream._name_error(what, input,
			format('The namespace "%s" must be a DNS label: at most 63 lowercase letters, digits and inner hyphens.', ns));
	END IF;
	IF name IS NULL OR name !~ '^[a-z0-9]+([._-][a-z0-9]+)*$' OR octet_length(name) > 255 THEN
		PERFORM imagestream._name_error(what, input,
			format('The stream name "%s" must be lowercase letters and digits joined by single ".", "_" or "-", at most 255 bytes.', name));
	END IF;
	IF tag IS NOT NULL AND tag !~ '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$' THEN
		PERFORM imagestream._name_error(what, input,
			format('The tag "%s" must be 1 to 128 letters, digits, "_", "." or "-", not starting with "." or "-".', tag));
	END IF;
END $$;

-- "ns/name"
CREATE FUNCTION _parse_stream(input text, OUT namespace text, OUT name text)
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
	IF input IS NULL OR strpos(input, '/') = 0 THEN
		PERFORM imagestream._name_error('image stream name', input,
			'An image stream is named "namespace/name".');
	END IF;
	namespace := split_part(input, '/', 1);
	name := substr(input, strpos(input, '/') + 1);
	PERFORM imagestream._check_names(input, 'image stream name', namespace, name);
END $$;

-- "ns/name[:tag]", tag "latest" when left out
CREATE FUNCTION _parse_tag(input text, OUT namespace text, OUT stream text, OUT tag text)
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	rest text;
BEGIN
	IF input IS NULL OR strpos(input, '/') = 0 OR strpos(input, '@') > 0 THEN
		PERFORM imagestream._name_error('image stream tag name', input,
			'A tag is named "namespace/name:tag" (":tag" defaults to ":latest").');
	END IF;
	namespace := split_part(input, '/', 1);
	rest := substr(input, strpos(input, '/') + 1);
	IF strpos(rest, ':') > 0 THEN
		stream := split_part(rest, ':', 1);
		tag := substr(rest, strpos(rest, ':') + 1);
	ELSE
		stream := rest;
		tag := 'latest';
	END IF;
	PERFORM imagestream._check_names(input, 'image stream tag name', namespace, stream, tag);
END $$;

-- "ns/name@id": id is a digest or a prefix of one (hex, or "algorithm:hex")
CREATE FUNCTION _parse_stream_image(input text, OUT namespace text, OUT stream text, OUT id text)
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
	name text;
BEGIN
	IF input IS NULL OR strpos(input, '/') = 0 OR strpos(input, '@') = 0 THEN
		PERFORM imagestream._name_error('image stream image name', input,
			'An image in a stream is named "namespace/name@sha256:<hex>", or with a unique prefix of at least 7 hex digits.');
	END IF;
	name := split_part(input, '@', 1);
	id := substr(input, strpos(input, '@') + 1);
	namespace := split_part(name, '/', 1);
	stream := substr(name, strpos(name, '/') + 1);
	PERFORM imagestream._check_names(input, 'image stream image name', namespace, stream);
	IF id !~ '^((sha256|sha512):)?[0-9a-f]{7,128}$' THEN
		PERFORM imagestream._name_error('image stream image name', input,
			'The image must be a digest or a prefix of its lowercase hex digits, at least 7 long.');
	END IF;
END $$;
-- Rights per namespace (SPEC section 8): view < edit < admin.  Superusers and
-- the extension owner (and its members) have every right.
--
-- An API function F that checks rights is a C entry (SECURITY INVOKER) that
-- notes the role calling it and runs the body _api_F (SECURITY DEFINER, not
-- executable by PUBLIC) with the same arguments (src/api_call.c).  Rights
-- are those of the role the entry noted, or of current_user outside an API
-- call (src/rights.c).  The functions that ask are PARALLEL RESTRICTED: a
-- parallel worker does not know the role an entry noted.

CREATE FUNCTION _calling_role() RETURNS oid
	AS 'MODULE_PATHNAME', 'imagestream_calling_role'
	LANGUAGE C STABLE PARALLEL RESTRICTED;

-- In C (src/rights.c): the check runs per resolve() and per row under
-- row-level security.
CREATE FUNCTION _privileged() RETURNS boolean
	AS 'MODULE_PATHNAME', 'imagestream_privileged'
	LANGUAGE C STABLE PARALLEL RESTRICTED;

CREATE FUNCTION _level_rank(level text) RETURNS integer
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
	SELECT CASE level WHEN 'view' THEN 1 WHEN 'edit' THEN 2 WHEN 'admin' THEN 3 END
$$;

CREATE FUNCTION _can(ns text, level text) RETURNS boolean
	AS 'MODULE_PATHNAME', 'imagestream_can'
	LANGUAGE C STABLE PARALLEL RESTRICTED;

-- resolve() calls it in the caller's context: its search_path is pinned.
CREATE FUNCTION _require(ns text, level text) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	IF NOT imagestream._can(ns, level) THEN
		RAISE EXCEPTION 'permission denied for namespace "%"', ns
			USING ERRCODE = 'insufficient_privilege',
				DETAIL = format('This needs the %s right on namespace "%s".', level, ns),
				HINT = 'A namespace admin can grant it with imagestream.grant_namespace().';
	END IF;
END $$;

CREATE FUNCTION _require_privileged(what text) RETURNS void
LANGUAGE plpgsql STABLE AS $$
BEGIN
	IF NOT imagestream._privileged() THEN
		RAISE EXCEPTION 'permission denied to %', what
			USING ERRCODE = 'insufficient_privilege',
				DETAIL = 'Only superusers and the owner of extension imagestream may do this.';
	END IF;
END $$;

CREATE FUNCTION _api_grant_namespace(namespace text, grantee regrole, level text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
BEGIN
	PERFORM imagestream._check_names(namespace, 'namespace', namespace, 'x');
	IF imagestream._level_rank(level) IS NULL THEN
		RAISE EXCEPTION 'invalid namespace right "%"', level
			USING ERRCODE = 'invalid_parameter_value', HINT = 'Use view, edit or admin.';
	END IF;
	PERFORM imagestream._require(namespace, 'admin');
	INSERT INTO imagestream.namespace_grant AS g VALUES (namespace, grantee, level)
		ON CONFLICT ON CONSTRAINT namespace_grant_pkey DO UPDATE SET level = excluded.level;
END $$;

CREATE FUNCTION grant_namespace(namespace text, grantee regrole, level text) RETURNS void
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C;
COMMENT ON FUNCTION grant_namespace(text, regrole, text) IS 'give a role view, edit or admin rights on a namespace';

CREATE FUNCTION _api_revoke_namespace(namespace text, grantee regrole) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
BEGIN
	PERFORM imagestream._check_names(namespace, 'namespace', namespace, 'x');
	PERFORM imagestream._require(namespace, 'admin');
	DELETE FROM imagestream.namespace_grant g
		WHERE g.namespace = _api_revoke_namespace.namespace AND g.grantee = _api_revoke_namespace.grantee;
END $$;

CREATE FUNCTION revoke_namespace(namespace text, grantee regrole) RETURNS void
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C;
COMMENT ON FUNCTION revoke_namespace(text, regrole) IS 'take back a role''s rights on a namespace';
-- The change log (SPEC section 6): one row per change and a NOTIFY with the
-- same fields, sent in the changing transaction (delivered only on commit).

-- NOTIFY payloads must stay under 8000 bytes; past this size the long text
-- fields are left out and "truncated" is set (changes_since has them all).
CREATE FUNCTION _notify_payload_limit() RETURNS integer
LANGUAGE sql IMMUTABLE AS $$ SELECT 7000 $$;

-- Announces a row of the change log (at commit).
CREATE FUNCTION _notify_change(c change) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	payload jsonb;
BEGIN
	-- imagestream.notify_payload = id: any role may LISTEN, so a DBA can
	-- send the id alone and let listeners read the change with their rights
	IF current_setting('imagestream.notify_payload', true) = 'id' THEN
		payload := jsonb_build_object('id', c.id);
	ELSE
		payload := jsonb_strip_nulls(jsonb_build_object(
			'id', c.id, 'at', c.at, 'event', c.event, 'namespace', c.namespace,
			'stream', c.stream, 'tag', c.tag, 'image', c.image::text,
			'previous_image', c.previous_image::text,
			'docker_image_reference', c.docker_image_reference::text,
			'generation', c.generation, 'reason', c.reason, 'message', c.message));
	END IF;
	IF octet_length(payload::text) > imagestream._notify_payload_limit() THEN
		payload := payload - 'docker_image_reference' - 'message' - 'reason'
			|| '{"truncated": true}';
	END IF;
	PERFORM pg_notify(coalesce(nullif(current_setting('imagestream.notify_channel', true), ''),
							   'imagestream'),
					  payload::text);
END $$;

CREATE FUNCTION _log_change(event text, ns text, stream text, tag text,
	image image_digest, previous_image image_digest, ref image_ref,
	generation bigint, reason text DEFAULT NULL, message text DEFAULT NULL)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	c imagestream.change;
BEGIN
	-- Writers queue here until commit, so ids are dense and in commit order.
	LOCK TABLE imagestream.change IN SHARE ROW EXCLUSIVE MODE;
	SELECT coalesce(max(x.id), 0) + 1 INTO c.id FROM imagestream.change x;
	INSERT INTO imagestream.change
		VALUES (c.id, now(), event, ns, stream, tag, image, previous_image, ref,
				generation, reason, message)
		RETURNING * INTO c;
	PERFORM imagestream._notify_change(c);
	RETURN c.id;
END $$;

CREATE FUNCTION _api_changes_since(after_id bigint, max_rows integer DEFAULT 1000)
RETURNS SETOF change
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
BEGIN
	IF max_rows IS NULL OR max_rows < 0 THEN
		RAISE EXCEPTION 'max_rows must be zero or more'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	RETURN QUERY
		SELECT c.* FROM imagestream.change c
		WHERE c.id > coalesce(after_id, 0) AND imagestream._can(c.namespace, 'view')
		ORDER BY c.id
		LIMIT max_rows;
END $$;

CREATE FUNCTION changes_since(after_id bigint, max_rows integer DEFAULT 1000)
RETURNS SETOF change
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C STABLE;
COMMENT ON FUNCTION changes_since(bigint, integer) IS 'changes after the given id, oldest first, in namespaces the caller may view';
-- The rules of SPEC section 3 (OpenShift's strategy and imageutil helpers):
-- stream and tag generations, AddTagEventToImageStream, tag tracking, and the
-- ImportSuccess=False condition.  Internal: called by the API functions.

-- The stream row, locked; created (generation 1) when missing and p_create.
CREATE FUNCTION _lock_stream(p_ns text, p_name text, p_create boolean DEFAULT false)
RETURNS imagestream.stream LANGUAGE plpgsql AS $$
DECLARE
	s imagestream.stream;
BEGIN
	SELECT * INTO s FROM imagestream.stream
		WHERE namespace = p_ns AND name = p_name FOR UPDATE;
	IF NOT FOUND AND p_create THEN
		INSERT INTO imagestream.stream (namespace, name) VALUES (p_ns, p_name)
			ON CONFLICT (namespace, name) DO NOTHING;
		SELECT * INTO s FROM imagestream.stream
			WHERE namespace = p_ns AND name = p_name FOR UPDATE;
	END IF;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'image stream "%/%" does not exist', p_ns, p_name
			USING ERRCODE = 'undefined_object';
	END IF;
	RETURN s;
END $$;

-- The tag row of a stream, locked; created empty when missing and p_create.
CREATE FUNCTION _lock_tag(p_stream imagestream.stream, p_tag text, p_create boolean DEFAULT false)
RETURNS imagestream.tag LANGUAGE plpgsql AS $$
DECLARE
	t imagestream.tag;
BEGIN
	SELECT * INTO t FROM imagestream.tag
		WHERE namespace = p_stream.namespace AND stream = p_stream.name AND name = p_tag
		FOR UPDATE;
	IF NOT FOUND AND p_create THEN
		INSERT INTO imagestream.tag (stream_id, namespace, stream, name)
			VALUES (p_stream.id, p_stream.namespace, p_stream.name, p_tag)
			RETURNING * INTO t;
	ELSIF NOT FOUND THEN
		RAISE EXCEPTION 'image stream tag "%/%:%" does not exist', p_stream.namespace, p_stream.name, p_tag
			USING ERRCODE = 'undefined_object';
	END IF;
	RETURN t;
END $$;

-- A tag with no spec, no history and no condition does not exist.
CREATE FUNCTION _drop_if_empty(p_tag_id bigint) RETURNS void
LANGUAGE sql AS $$
	DELETE FROM imagestream.tag
	WHERE id = p_tag_id AND NOT has_spec AND history_length = 0 AND import_status IS NULL
$$;

-- Copies the newest history event into the tag row.
CREATE FUNCTION _refresh_head(p_tag_id bigint) RETURNS void
LANGUAGE sql AS $$
	UPDATE imagestream.tag t
	SET image = h.image, docker_image_reference = h.docker_image_reference,
		created = h.created, status_generation = h.generation,
		history_length = (SELECT count(*) FROM imagestream.history_event x WHERE x.tag_id = t.id)
	FROM (SELECT NULL::integer AS dummy) d
	LEFT JOIN LATERAL (SELECT * FROM imagestream._history x WHERE x.tag_id = p_tag_id
					   ORDER BY x.seq DESC LIMIT 1) h ON true
	WHERE t.id = p_tag_id
$$;

-- How history_ref keeps a pull spec: as its repository when it is the
-- repository and the event's digest (an import's), else whole.
CREATE FUNCTION _history_key(p_ref image_ref, p_image image_digest,
	OUT ref image_ref, OUT with_digest boolean)
LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE WHEN b.w THEN b.repo ELSE p_ref END, b.w
	FROM (SELECT a.repo, coalesce(imagestream.ref_with_digest(a.repo, p_image) = p_ref, false) AS w
		  FROM (SELECT imagestream.ref_name(p_ref)::imagestream.image_ref AS repo) a) b
$$;

-- The history_ref id of a pull spec of an event of p_image, added when new.
-- The lookup comes first: ON CONFLICT alone would take an id from the
-- sequence on every call.
CREATE FUNCTION _history_ref_id(p_ref image_ref, p_image image_digest) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
	k record := imagestream._history_key(p_ref, p_image);
	found_id integer;
BEGIN
	LOOP
		SELECT r.id INTO found_id FROM imagestream.history_ref r
		WHERE r.ref = k.ref AND r.with_digest = k.with_digest;
		IF found_id IS NOT NULL THEN
			RETURN found_id;
		END IF;
		-- nothing when another transaction added it meanwhile: read it then
		INSERT INTO imagestream.history_ref (ref, with_digest) VALUES (k.ref, k.with_digest)
			ON CONFLICT DO NOTHING RETURNING id INTO found_id;
		IF found_id IS NOT NULL THEN
			RETURN found_id;
		END IF;
	END LOOP;
END $$;

-- The same for many events: the ids in the order given, NULL for a NULL
-- pull spec.
CREATE FUNCTION _history_ref_ids(p_refs image_ref[], p_images image_digest[]) RETURNS integer[]
LANGUAGE plpgsql AS $$
DECLARE
	keys imagestream.image_ref[];
	withs boolean[];
	ids integer[];
BEGIN
	SELECT array_agg(k.ref ORDER BY u.n), array_agg(k.with_digest ORDER BY u.n) INTO keys, withs
	FROM unnest(p_refs, p_images) WITH ORDINALITY AS u(ref, image, n)
	LEFT JOIN LATERAL imagestream._history_key(u.ref, u.image) k ON u.ref IS NOT NULL;
	INSERT INTO imagestream.history_ref (ref, with_digest)
	SELECT DISTINCT k.ref, k.with_digest FROM unnest(keys, withs) AS k(ref, with_digest)
	WHERE k.ref IS NOT NULL
	  AND NOT EXISTS (SELECT 1 FROM imagestream.history_ref r
					  WHERE r.ref = k.ref AND r.with_digest = k.with_digest)
	ON CONFLICT DO NOTHING;
	SELECT array_agg(r.id ORDER BY k.n) INTO ids
	FROM unnest(keys, withs) WITH ORDINALITY AS k(ref, with_digest, n)
	LEFT JOIN imagestream.history_ref r ON r.ref = k.ref AND r.with_digest = k.with_digest;
	RETURN ids;
END $$;

-- AddTagEventToImageStream, then the change log and tracking tags.
-- Returns false when nothing changed.
CREATE FUNCTION _add_event(p_tag_id bigint, p_ref image_ref, p_image image_digest,
	p_generation bigint, p_created timestamptz DEFAULT now())
RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
	t imagestream.tag;
	head imagestream._history;
	same_ref boolean;
	same_image boolean;
	added integer;
BEGIN
	SELECT * INTO t FROM imagestream.tag WHERE id = p_tag_id FOR UPDATE;
	-- (the tag row's lock keeps its history still)
	SELECT * INTO head FROM imagestream._history
		WHERE tag_id = p_tag_id ORDER BY seq DESC LIMIT 1;
	same_ref := head.docker_image_reference = p_ref;
	same_image := head.image IS NOT DISTINCT FROM p_image;
	IF head.tag_id IS NOT NULL AND same_ref AND same_image AND head.generation = p_generation THEN
		RETURN false;
	ELSIF head.tag_id IS NOT NULL AND (same_ref OR same_image) THEN
		-- collapse, or overwrite the head in place; created is kept
		UPDATE imagestream.history_event
		SET ref = imagestream._history_ref_id(p_ref, p_image), image = p_image, generation = p_generation
		WHERE tag_id = p_tag_id AND seq = head.seq;
		added := 0;
		p_created := head.created;
	ELSE
		INSERT INTO imagestream.history_event (tag_id, seq, created, generation, ref, image)
			VALUES (p_tag_id, coalesce(head.seq, 0) + 1, p_created, p_generation,
					imagestream._history_ref_id(p_ref, p_image), p_image);
		added := 1;
	END IF;
	-- the new head into the tag row (_refresh_head, without reading history
	-- again), and the conditions cleared: one write of the tag
	UPDATE imagestream.tag
	SET image = p_image, docker_image_reference = p_ref, created = p_created,
		status_generation = p_generation, history_length = history_length + added,
		import_status = NULL, import_reason = NULL, import_message = NULL,
		import_generation = NULL, import_transition = NULL
	WHERE id = p_tag_id;

	IF head.tag_id IS NULL OR NOT (same_ref AND same_image) THEN
		PERFORM imagestream._log_change('tag_updated', t.namespace, t.stream, t.name,
			p_image, head.image, p_ref, p_generation);
	END IF;
	PERFORM imagestream._update_followers(p_tag_id);
	RETURN true;
END $$;

-- UpdateTrackingTags: tags of the same stream whose spec follows this one
-- (kind ImageStreamTag) get its newest event as it is.  Chains follow
-- through _add_event; tag() refuses cycles.
CREATE FUNCTION _update_followers(p_tag_id bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	src imagestream.tag;
	f record;
BEGIN
	SELECT * INTO src FROM imagestream.tag WHERE id = p_tag_id;
	IF src.docker_image_reference IS NULL THEN
		RETURN;
	END IF;
	FOR f IN
		SELECT id FROM imagestream.tag
		WHERE stream_id = src.stream_id AND has_spec AND from_kind = 'ImageStreamTag'
		  AND from_ref = format('%s/%s:%s', src.namespace, src.stream, src.name)
		  AND id <> src.id
		ORDER BY name
	LOOP
		PERFORM imagestream._add_event(f.id, src.docker_image_reference, src.image,
									   src.status_generation, src.created);
	END LOOP;
END $$;

-- Sets a tag's spec (TagReference) with OpenShift's generation rules: the
-- stream generation grows by one when the spec differs at all; the tag's
-- generation becomes the stream's when the tag is new or its source,
-- reference flag or import mode changed (tagRefChanged), which ref_changed
-- reports.  In a stream created by the same call the spec is part of the
-- creation: generation 1 for both.
CREATE FUNCTION _set_spec(p_stream imagestream.stream, p_tag text, p_kind source_kind,
	p_from text, p_reference boolean, p_scheduled boolean, p_insecure boolean,
	p_import_mode import_mode, p_policy reference_policy, p_annotations jsonb,
	p_new_stream boolean DEFAULT false, OUT t imagestream.tag, OUT ref_changed boolean)
LANGUAGE plpgsql AS $$
DECLARE
	gen bigint := p_stream.generation;
	differs boolean;
BEGIN
	t := imagestream._lock_tag(p_stream, p_tag, true);
	ref_changed := NOT t.has_spec OR t.from_ref IS DISTINCT FROM p_from
		OR t.reference <> p_reference OR t.import_mode <> p_import_mode;
	differs := ref_changed OR t.from_kind IS DISTINCT FROM p_kind
		OR t.scheduled <> p_scheduled OR t.insecure <> p_insecure
		OR t.reference_policy <> p_policy OR t.annotations <> p_annotations;
	IF differs AND NOT p_new_stream THEN
		UPDATE imagestream.stream SET generation = generation + 1
			WHERE id = p_stream.id RETURNING generation INTO gen;
	END IF;
	UPDATE imagestream.tag
	SET has_spec = true, from_kind = p_kind, from_ref = p_from, reference = p_reference,
		scheduled = p_scheduled, insecure = p_insecure, import_mode = p_import_mode,
		reference_policy = p_policy, annotations = p_annotations,
		spec_generation = CASE WHEN ref_changed THEN gen ELSE spec_generation END
	WHERE id = t.id
	RETURNING * INTO t;
END $$;

-- A failed import: the history stays; the conditions become one
-- ImportSuccess=False condition unless an identical one is there already.
-- As OpenShift, the condition and the tag's spec carry the next stream
-- generation (the stream moves to it when the tag has a spec), so the tag is
-- no longer pending.  p_generation, when given, is that next generation
-- (shared by the worker's tags of one stream).  Returns false when nothing
-- was written.
CREATE FUNCTION _record_failure(p_tag_id bigint, p_reason text, p_message text,
	p_generation bigint DEFAULT NULL)
RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
	t imagestream.tag;
	gen bigint := p_generation;
	msg text := coalesce(nullif(p_message, ''), 'unknown error prevented import');
BEGIN
	SELECT * INTO t FROM imagestream.tag WHERE id = p_tag_id FOR UPDATE;
	IF t.import_status = 'False' AND t.import_reason IS NOT DISTINCT FROM p_reason
	   AND t.import_message = msg THEN
		RETURN false;
	END IF;
	IF gen IS NOT NULL AND t.has_spec THEN
		UPDATE imagestream.stream SET generation = gen WHERE id = t.stream_id AND generation <> gen;
	ELSIF t.has_spec THEN
		UPDATE imagestream.stream SET generation = generation + 1
			WHERE id = t.stream_id RETURNING generation INTO gen;
	ELSIF gen IS NULL THEN
		SELECT generation + 1 INTO gen FROM imagestream.stream WHERE id = t.stream_id;
	END IF;
	UPDATE imagestream.tag
	SET import_status = 'False', import_reason = p_reason, import_message = msg,
		import_generation = gen, import_transition = now(),
		spec_generation = CASE WHEN has_spec THEN gen END
	WHERE id = p_tag_id;
	PERFORM imagestream._log_change('import_failed', t.namespace, t.stream, t.name,
		NULL, t.image, t.docker_image_reference, gen, p_reason, msg);
	RETURN true;
END $$;
-- The image catalogue: manifests (OCI and Docker schema 2, images and
-- indexes) read into image, image_layer and image_child rows.

CREATE FUNCTION _manifest_error(detail text) RETURNS void
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
	RAISE EXCEPTION 'invalid image manifest'
		USING ERRCODE = 'invalid_parameter_value', DETAIL = detail;
END $$;

-- The media type a manifest declares or, for OCI content without one, the
-- one its fields imply.  Schema 1 and unknown types are refused.
CREATE FUNCTION _manifest_media_type(doc jsonb, given text) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
	mt text := coalesce(nullif(given, ''), doc->>'mediaType');
BEGIN
	IF doc->>'schemaVersion' = '1' OR mt LIKE 'application/vnd.docker.distribution.manifest.v1%' THEN
		PERFORM imagestream._manifest_error('Docker schema 1 manifests are not supported; push the image again with a current client.');
	END IF;
	IF mt IS NULL THEN
		mt := CASE WHEN doc ? 'manifests' THEN 'application/vnd.oci.image.index.v1+json'
				   WHEN doc ? 'config' THEN 'application/vnd.oci.image.manifest.v1+json' END;
	END IF;
	IF mt IS NULL OR mt NOT IN ('application/vnd.oci.image.manifest.v1+json',
								'application/vnd.oci.image.index.v1+json',
								'application/vnd.docker.distribution.manifest.v2+json',
								'application/vnd.docker.distribution.manifest.list.v2+json') THEN
		PERFORM imagestream._manifest_error(format('Media type "%s" is not an OCI or Docker schema 2 image manifest or index.', mt));
	END IF;
	RETURN mt;
END $$;

CREATE FUNCTION _is_index(media_type text) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
	SELECT media_type IN ('application/vnd.oci.image.index.v1+json',
						  'application/vnd.docker.distribution.manifest.list.v2+json')
$$;

-- A descriptor's digest, refusing a malformed one with a clear message.
CREATE FUNCTION _descriptor_digest(d jsonb, what text) RETURNS image_digest
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
	RETURN (d->>'digest')::imagestream.image_digest;
EXCEPTION WHEN invalid_text_representation OR null_value_not_allowed THEN
	PERFORM imagestream._manifest_error(format('The %s descriptor has no valid digest: %s.', what, coalesce(d->>'digest', 'none')));
END $$;

-- Records an image known only by its digest (no manifest at hand).
CREATE FUNCTION _ensure_image(p_digest image_digest, p_ref image_ref) RETURNS void
LANGUAGE sql AS $$
	INSERT INTO imagestream.image (digest, docker_image_reference)
	VALUES (p_digest, p_ref)
	ON CONFLICT (digest) DO NOTHING
$$;

-- Verifies a manifest against its digest and stores it with its layers or
-- children.  An image already catalogued with its manifest is left as it is.
CREATE FUNCTION _catalogue_manifest(p_digest image_digest, p_media_type text,
	p_manifest bytea, p_ref image_ref) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	doc jsonb;
	mt text;
	layer_size bigint;
BEGIN
	IF imagestream.content_digest(p_manifest, imagestream.digest_algorithm(p_digest)) <> p_digest THEN
		PERFORM imagestream._manifest_error(format('The manifest hashes to %s, not %s.',
			imagestream.content_digest(p_manifest, imagestream.digest_algorithm(p_digest)), p_digest));
	END IF;
	BEGIN
		doc := convert_from(p_manifest, 'UTF8')::jsonb;
	EXCEPTION WHEN OTHERS THEN
		PERFORM imagestream._manifest_error('The manifest is not valid UTF-8 JSON.');
	END;
	IF jsonb_typeof(doc) <> 'object' THEN
		PERFORM imagestream._manifest_error('The manifest is not a JSON object.');
	END IF;
	mt := imagestream._manifest_media_type(doc, p_media_type);
	IF EXISTS (SELECT 1 FROM imagestream.image WHERE digest = p_digest AND manifest IS NOT NULL) THEN
		RETURN mt;
	END IF;
	DELETE FROM imagestream.image WHERE digest = p_digest;

	IF imagestream._is_index(mt) THEN
		IF jsonb_typeof(doc->'manifests') IS DISTINCT FROM 'array' THEN
			PERFORM imagestream._manifest_error('An index must list its manifests.');
		END IF;
		INSERT INTO imagestream.image (digest, media_type, manifest, docker_image_reference, size)
		VALUES (p_digest, mt, p_manifest, p_ref, octet_length(p_manifest));
		INSERT INTO imagestream.image_child
		SELECT p_digest, (m.ord - 1)::integer, imagestream._descriptor_digest(m.d, 'child manifest'),
			m.d->>'mediaType', (m.d->>'size')::bigint, m.d#>>'{platform,os}',
			m.d#>>'{platform,architecture}', m.d#>>'{platform,variant}'
		FROM jsonb_array_elements(doc->'manifests') WITH ORDINALITY AS m(d, ord);
	ELSE
		IF jsonb_typeof(doc->'config') IS DISTINCT FROM 'object'
		   OR jsonb_typeof(doc->'layers') IS DISTINCT FROM 'array' THEN
			PERFORM imagestream._manifest_error('An image manifest must have a config descriptor and a list of layers.');
		END IF;
		PERFORM imagestream._descriptor_digest(doc->'config', 'config');
		SELECT coalesce(sum((l->>'size')::bigint), 0) INTO layer_size
			FROM jsonb_array_elements(doc->'layers') AS l;
		INSERT INTO imagestream.image (digest, media_type, manifest, docker_image_reference, size)
		VALUES (p_digest, mt, p_manifest, p_ref,
				layer_size + coalesce((doc#>>'{config,size}')::bigint, 0));
		INSERT INTO imagestream.image_layer
		SELECT p_digest, (l.ord - 1)::integer, imagestream._descriptor_digest(l.d, 'layer'),
			(l.d->>'size')::bigint, l.d->>'mediaType'
		FROM jsonb_array_elements(doc->'layers') WITH ORDINALITY AS l(d, ord);
	END IF;
	RETURN mt;
END $$;
-- Streams: create, delete, image lookup policy.

CREATE FUNCTION _api_create_stream(stream text, lookup_local boolean DEFAULT false,
	annotations jsonb DEFAULT '{}', if_not_exists boolean DEFAULT false)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
DECLARE
	n record := imagestream._parse_stream(stream);
BEGIN
	PERFORM imagestream._require(n.namespace, 'edit');
	IF annotations IS NULL OR jsonb_typeof(annotations) <> 'object' THEN
		RAISE EXCEPTION 'annotations must be a JSON object'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	INSERT INTO imagestream.stream (namespace, name, lookup_local, annotations)
	VALUES (n.namespace, n.name, coalesce(lookup_local, false), annotations)
	ON CONFLICT ON CONSTRAINT stream_namespace_name_key DO NOTHING;
	IF NOT FOUND AND NOT coalesce(if_not_exists, false) THEN
		RAISE EXCEPTION 'image stream "%" already exists', _api_create_stream.stream
			USING ERRCODE = 'duplicate_object';
	END IF;
END $$;

CREATE FUNCTION create_stream(stream text, lookup_local boolean DEFAULT false,
	annotations jsonb DEFAULT '{}', if_not_exists boolean DEFAULT false)
RETURNS void
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C;
COMMENT ON FUNCTION create_stream(text, boolean, jsonb, boolean) IS 'create an image stream "namespace/name"';

CREATE FUNCTION _api_delete_stream(stream text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
DECLARE
	n record := imagestream._parse_stream(stream);
	s imagestream.stream;
BEGIN
	PERFORM imagestream._require(n.namespace, 'edit');
	s := imagestream._lock_stream(n.namespace, n.name);
	DELETE FROM imagestream.stream WHERE id = s.id;
	PERFORM imagestream._log_change('stream_deleted', s.namespace, s.name, NULL,
		NULL, NULL, NULL, s.generation);
END $$;

CREATE FUNCTION delete_stream(stream text) RETURNS void
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C;
COMMENT ON FUNCTION delete_stream(text) IS 'remove an image stream with its spec and status tags';

CREATE FUNCTION _api_set_lookup_local(stream text, enabled boolean) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
DECLARE
	n record := imagestream._parse_stream(stream);
	s imagestream.stream;
BEGIN
	IF enabled IS NULL THEN
		RAISE EXCEPTION 'enabled must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	PERFORM imagestream._require(n.namespace, 'edit');
	s := imagestream._lock_stream(n.namespace, n.name);
	IF s.lookup_local <> enabled THEN
		-- the lookup policy is part of the spec
		UPDATE imagestream.stream
		SET lookup_local = enabled, generation = generation + 1
		WHERE id = s.id;
	END IF;
END $$;

CREATE FUNCTION set_lookup_local(stream text, enabled boolean) RETURNS void
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C;
COMMENT ON FUNCTION set_lookup_local(text, boolean) IS 'oc set image-lookup: let short names in the namespace resolve to this stream';
-- oc tag and oc tag -d.

-- The kind of a source written without one (SPEC section 4, as oc tag with
-- the stream's existence checked): a registry host or anything that is not
-- an existing stream's tag or image is a DockerImage.  A stream in a
-- namespace the caller may not view counts as missing, as for oc tag, whose
-- lookup is refused: otherwise the kind would tell whether it exists.
CREATE FUNCTION _infer_source_kind(p_source text, p_default_ns text) RETURNS source_kind
LANGUAGE plpgsql STABLE AS $$
DECLARE
	m text[];
	first text := split_part(p_source, '/', 1);
BEGIN
	IF strpos(p_source, '/') > 0 AND (strpos(first, '.') > 0 OR strpos(first, ':') > 0 OR first = 'localhost') THEN
		RETURN 'DockerImage';
	END IF;
	m := regexp_match(p_source, '^(?:([^/]+)/)?([^/:@]+)(?::([^/:@]+)|@(.+))$');
	IF m IS NULL OR NOT EXISTS (SELECT 1 FROM imagestream.stream
								WHERE namespace = coalesce(m[1], p_default_ns) AND name = m[2]
								  AND imagestream._can(namespace, 'view')) THEN
		RETURN 'DockerImage';
	END IF;
	RETURN CASE WHEN m[4] IS NOT NULL THEN 'ImageStreamImage' ELSE 'ImageStreamTag' END;
END $$;

-- "[ns/]stream:tag" or "[ns/]stream@id" of a source, its namespace
-- defaulting to the destination's.
CREATE FUNCTION _parse_source(p_source text, p_kind source_kind, p_default_ns text,
	OUT namespace text, OUT stream text, OUT tag text, OUT id text)
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
	full_name text := CASE WHEN strpos(p_source, '/') > 0 THEN p_source
						   ELSE p_default_ns || '/' || p_source END;
	n record;
BEGIN
	IF p_kind = 'ImageStreamTag' THEN
		IF strpos(p_source, ':') = 0 THEN
			RAISE EXCEPTION 'source "%" of kind ImageStreamTag has no tag', p_source
				USING ERRCODE = 'invalid_parameter_value', HINT = 'Write it as "namespace/stream:tag" or "stream:tag".';
		END IF;
		n := imagestream._parse_tag(full_name);
		namespace := n.namespace; stream := n.stream; tag := n.tag;
	ELSE
		n := imagestream._parse_stream_image(full_name);
		namespace := n.namespace; stream := n.stream; id := n.id;
	END IF;
END $$;

-- ResolveImageID: the one image of a stream's history whose digest starts
-- with id, and the pull spec of its newest event.
CREATE FUNCTION _resolve_image_id(p_ns text, p_stream text, p_id text,
	OUT image image_digest, OUT docker_image_reference image_ref)
LANGUAGE plpgsql STABLE AS $$
DECLARE
	matches image_digest[];
BEGIN
	SELECT array_agg(DISTINCT h.image) INTO matches
	FROM imagestream._history h JOIN imagestream.tag t ON t.id = h.tag_id
	WHERE t.namespace = p_ns AND t.stream = p_stream AND h.image IS NOT NULL
	  AND imagestream.digest_has_prefix(h.image, p_id);
	IF matches IS NULL THEN
		RAISE EXCEPTION 'image "%" not found in image stream "%/%"', p_id, p_ns, p_stream
			USING ERRCODE = 'undefined_object';
	ELSIF cardinality(matches) > 1 THEN
		RAISE EXCEPTION 'more than one image of image stream "%/%" matches "%"', p_ns, p_stream, p_id
			USING ERRCODE = 'cardinality_violation',
				DETAIL = format('Matching images: %s.', array_to_string(matches, ', ')),
				HINT = 'Give more digits of the digest.';
	END IF;
	image := matches[1];
	SELECT h.docker_image_reference INTO docker_image_reference
	FROM imagestream._history h JOIN imagestream.tag t ON t.id = h.tag_id
	WHERE t.namespace = p_ns AND t.stream = p_stream AND h.image = matches[1]
	ORDER BY h.seq DESC LIMIT 1;
END $$;

-- Pins a tag to an image of a stream (kind ImageStreamImage) and records it.
CREATE FUNCTION _tag_image(p_dest imagestream.stream, p_tag text, p_src_ns text,
	p_src_stream text, p_id text, p_reference boolean, p_import_mode import_mode,
	p_policy reference_policy, p_new_stream boolean) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	found record;
	spec record;
BEGIN
	found := imagestream._resolve_image_id(p_src_ns, p_src_stream, p_id);
	spec := imagestream._set_spec(p_dest, p_tag, 'ImageStreamImage',
		format('%s/%s@%s', p_src_ns, p_src_stream, found.image), p_reference, false, false,
		p_import_mode, p_policy, '{}', p_new_stream);
	IF spec.ref_changed THEN
		PERFORM imagestream._add_event((spec.t).id, found.docker_image_reference, found.image,
									   (spec.t).spec_generation);
	END IF;
END $$;

CREATE FUNCTION _api_tag(source text, destination text, source_kind source_kind DEFAULT NULL,
	alias boolean DEFAULT false, reference boolean DEFAULT false,
	scheduled boolean DEFAULT false, insecure boolean DEFAULT false,
	reference_policy reference_policy DEFAULT 'Source',
	import_mode import_mode DEFAULT 'Legacy')
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
DECLARE
	d record := imagestream._parse_tag(destination);
	kind imagestream.source_kind := source_kind;
	src record;
	s imagestream.stream;
	head imagestream.tag;
	spec record;
	ref imagestream.image_ref;
	hop imagestream.tag;
	v_alias boolean := coalesce(alias, false);
	v_reference boolean := coalesce(reference, false);
	v_scheduled boolean := coalesce(scheduled, false);
	v_insecure boolean := coalesce(insecure, false);
	v_policy imagestream.reference_policy := coalesce(reference_policy, 'Source');
	v_mode imagestream.import_mode := coalesce(import_mode, 'Legacy');
	new_stream boolean;
BEGIN
	IF source IS NULL THEN
		RAISE EXCEPTION 'a source is required' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	PERFORM imagestream._require(d.namespace, 'edit');
	IF kind IS NULL THEN
		kind := imagestream._infer_source_kind(source, d.namespace);
	END IF;
	IF kind <> 'DockerImage' AND (v_scheduled OR v_insecure) THEN
		RAISE EXCEPTION 'only tags from container images (DockerImage) can be scheduled or insecure'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF v_alias AND kind <> 'ImageStreamTag' THEN
		RAISE EXCEPTION 'only a tag of an image stream can be aliased'
			USING ERRCODE = 'invalid_parameter_value',
				DETAIL = format('The source "%s" is of kind %s.', source, kind);
	END IF;

	IF kind <> 'DockerImage' THEN
		src := imagestream._parse_source(source, kind, d.namespace);
		PERFORM imagestream._require(src.namespace, 'view');
		IF NOT EXISTS (SELECT 1 FROM imagestream.stream
					   WHERE namespace = src.namespace AND name = src.stream) THEN
			RAISE EXCEPTION 'image stream "%/%" does not exist', src.namespace, src.stream
				USING ERRCODE = 'undefined_object';
		END IF;
	END IF;
	IF v_alias THEN
		IF src.namespace <> d.namespace OR src.stream <> d.stream THEN
			RAISE EXCEPTION 'cannot alias a tag of another image stream'
				USING ERRCODE = 'invalid_parameter_value',
					DETAIL = 'An alias follows a tag of its own stream, as in OpenShift.';
		END IF;
	END IF;

	new_stream := NOT EXISTS (SELECT 1 FROM imagestream.stream
							  WHERE namespace = d.namespace AND name = d.stream);
	s := imagestream._lock_stream(d.namespace, d.stream, true);

	IF kind = 'ImageStreamTag' AND v_alias THEN
		-- follow the chain from the source; reaching the destination is a cycle
		hop.name := src.tag;
		LOOP
			IF hop.name = d.tag THEN
				RAISE EXCEPTION 'tag "%" cannot follow "%": that would make a cycle', destination, source
					USING ERRCODE = 'invalid_parameter_value';
			END IF;
			SELECT * INTO hop FROM imagestream.tag
			WHERE stream_id = s.id AND name = hop.name AND has_spec AND from_kind = 'ImageStreamTag';
			EXIT WHEN NOT FOUND;
			hop.name := substr(hop.from_ref, length(format('%s/%s:', s.namespace, s.name)) + 1);
		END LOOP;
		spec := imagestream._set_spec(s, d.tag, 'ImageStreamTag',
			format('%s/%s:%s', s.namespace, s.name, src.tag), v_reference, false, false,
			v_mode, v_policy, '{}', new_stream);
		SELECT * INTO head FROM imagestream.tag
		WHERE stream_id = s.id AND name = src.tag AND docker_image_reference IS NOT NULL;
		IF spec.ref_changed AND FOUND THEN
			PERFORM imagestream._add_event((spec.t).id, head.docker_image_reference, head.image,
										   (spec.t).spec_generation, head.created);
		END IF;
		RETURN;
	END IF;

	IF kind = 'ImageStreamTag' THEN
		-- a copy: the source's current image, pinned by digest
		SELECT * INTO head FROM imagestream.tag
		WHERE namespace = src.namespace AND stream = src.stream AND name = src.tag;
		IF head.docker_image_reference IS NULL THEN
			RAISE EXCEPTION 'image stream tag "%/%:%" has no image', src.namespace, src.stream, src.tag
				USING ERRCODE = 'no_data_found',
					DETAIL = 'A tag that does not point to an image cannot be the source of a tag.';
		END IF;
		IF head.image IS NOT NULL THEN
			PERFORM imagestream._tag_image(s, d.tag, src.namespace, src.stream,
				head.image::text, v_reference, v_mode, v_policy, new_stream);
			RETURN;
		END IF;
		-- a reference-only event: tag its pull spec, as oc does
		kind := 'DockerImage';
		ref := head.docker_image_reference;
	ELSIF kind = 'ImageStreamImage' THEN
		PERFORM imagestream._tag_image(s, d.tag, src.namespace, src.stream, src.id,
			v_reference, v_mode, v_policy, new_stream);
		RETURN;
	ELSE
		ref := source::imagestream.image_ref;
	END IF;

	spec := imagestream._set_spec(s, d.tag, 'DockerImage', ref::text, v_reference,
		v_scheduled, v_insecure, v_mode, v_policy, '{}', new_stream);
	IF v_reference AND spec.ref_changed THEN
		PERFORM imagestream._add_event((spec.t).id, ref, NULL, (spec.t).spec_generation);
	ELSIF spec.ref_changed THEN
		PERFORM imagestream._wake_worker();		-- the tag is pending
	END IF;
END $$;

CREATE FUNCTION tag(source text, destination text, source_kind source_kind DEFAULT NULL,
	alias boolean DEFAULT false, reference boolean DEFAULT false,
	scheduled boolean DEFAULT false, insecure boolean DEFAULT false,
	reference_policy reference_policy DEFAULT 'Source',
	import_mode import_mode DEFAULT 'Legacy')
RETURNS void
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C;
COMMENT ON FUNCTION tag(text, text, source_kind, boolean, boolean, boolean, boolean, reference_policy, import_mode)
	IS 'oc tag: point a tag at a container image, a tag or an image of a stream';

CREATE FUNCTION _api_untag(tag text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
DECLARE
	d record := imagestream._parse_tag(tag);
	s imagestream.stream;
	t imagestream.tag;
	gen bigint;
BEGIN
	PERFORM imagestream._require(d.namespace, 'edit');
	s := imagestream._lock_stream(d.namespace, d.stream);
	t := imagestream._lock_tag(s, d.tag);
	gen := s.generation;
	IF t.has_spec THEN
		UPDATE imagestream.stream SET generation = generation + 1
			WHERE id = s.id RETURNING generation INTO gen;
	END IF;
	DELETE FROM imagestream.tag WHERE id = t.id;
	PERFORM imagestream._log_change('tag_deleted', t.namespace, t.stream, t.name,
		NULL, t.image, t.docker_image_reference, gen);
END $$;

CREATE FUNCTION untag(tag text) RETURNS void
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C;
COMMENT ON FUNCTION untag(text) IS 'oc tag -d: remove a tag''s spec and status';
-- OpenShift ImageStreamMapping: record an image pushed or imported elsewhere
-- as a tag's current image.  No network I/O.

CREATE FUNCTION _api_map_image(tag text, docker_image_reference image_ref,
	image image_digest DEFAULT NULL, manifest bytea DEFAULT NULL, media_type text DEFAULT NULL)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
DECLARE
	d record := imagestream._parse_tag(tag);
	ref imagestream.image_ref := docker_image_reference;
	digest imagestream.image_digest := coalesce(image, imagestream.ref_digest(ref));
	wanted text := digest::text;
	s imagestream.stream;
	t imagestream.tag;
BEGIN
	PERFORM imagestream._require(d.namespace, 'edit');
	IF ref IS NULL THEN
		RAISE EXCEPTION 'docker_image_reference is required' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF digest IS NULL THEN
		RAISE EXCEPTION 'the image digest is not known'
			USING ERRCODE = 'invalid_parameter_value',
				HINT = 'Pass image, or a docker_image_reference with "@sha256:…".';
	END IF;
	IF image IS NOT NULL AND imagestream.ref_digest(ref) IS NOT NULL
	   AND imagestream.ref_digest(ref) <> image THEN
		RAISE EXCEPTION 'image % does not match the digest of "%"', image, ref
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF media_type IS NOT NULL AND manifest IS NULL THEN
		RAISE EXCEPTION 'media_type needs a manifest' USING ERRCODE = 'invalid_parameter_value';
	END IF;

	-- A digest is public knowledge (NOTIFY announces every one): knowing it
	-- must not open an image that only streams of other namespaces hold.
	-- Without the manifest, an image held by a stream must be one the caller
	-- sees.
	IF manifest IS NULL AND NOT imagestream._privileged()
	   AND NOT EXISTS (SELECT 1 FROM imagestream.images v WHERE v.digest = wanted::imagestream.image_digest)
	   AND (EXISTS (SELECT 1 FROM imagestream._history h WHERE h.image = wanted::imagestream.image_digest)
			OR EXISTS (SELECT 1 FROM imagestream.image_child c
					   JOIN imagestream._history h ON h.image = c.image
					   WHERE c.digest = wanted::imagestream.image_digest)) THEN
		RAISE EXCEPTION 'image % is held only by image streams you may not view', digest
			USING ERRCODE = 'insufficient_privilege',
				HINT = 'Pass the image''s manifest to record it.';
	END IF;

	-- the stream first: prune, which locks every stream, then cannot delete
	-- the image between its check here and the event
	s := imagestream._lock_stream(d.namespace, d.stream, true);
	IF manifest IS NOT NULL THEN
		PERFORM imagestream._catalogue_manifest(digest, media_type, manifest, ref);
	ELSE
		PERFORM imagestream._ensure_image(digest, ref);
	END IF;
	t := imagestream._lock_tag(s, d.tag, true);
	-- a push records the stream's current generation
	PERFORM imagestream._add_event(t.id, ref, digest, s.generation);
END $$;

CREATE FUNCTION map_image(tag text, docker_image_reference image_ref,
	image image_digest DEFAULT NULL, manifest bytea DEFAULT NULL, media_type text DEFAULT NULL)
RETURNS void
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C;
COMMENT ON FUNCTION map_image(text, image_ref, image_digest, bytea, text) IS 'OpenShift ImageStreamMapping: record a pushed image as a tag''s current image';
-- Reading tags: resolve, the lookup policy, history, ImageStreamImage.

-- The pull spec consumers must use for a tag's current event: by digest,
-- from the source repository (policy Source) or the stream's local
-- repository (policy Local, when imagestream.local_registry is set).
CREATE FUNCTION _pull_spec_of(reference image_ref, image image_digest, local_policy boolean,
							  namespace text, stream text) RETURNS image_ref
	AS 'MODULE_PATHNAME', 'imagestream_pull_spec'
	LANGUAGE C STABLE PARALLEL SAFE;

-- The view image_stream_tags calls it as the caller, under the caller's
-- search_path; it stays inlinable, so it names its operator by schema
-- rather than pinning search_path.
CREATE FUNCTION _pull_spec(t imagestream.tag) RETURNS image_ref
LANGUAGE sql STABLE AS $$
	SELECT imagestream._pull_spec_of(t.docker_image_reference, t.image,
		t.has_spec AND t.reference_policy OPERATOR(pg_catalog.=) 'Local', t.namespace, t.stream)
$$;

-- In C (src/resolve.c): one index probe, the call consumers make most.
CREATE FUNCTION resolve(tag text, missing_ok boolean DEFAULT false) RETURNS image_ref
	AS 'MODULE_PATHNAME', 'imagestream_resolve'
	LANGUAGE C STABLE;
COMMENT ON FUNCTION resolve(text, boolean) IS 'the pull spec, by digest, that consumers of a tag must use now';

-- OpenShift's image lookup policy: "name", "name:tag" or "name@id" with no
-- registry and no namespace, naming a stream with lookup_local, resolves
-- through the stream; anything else comes back normalised.
CREATE FUNCTION _api_resolve_image(namespace text, image text) RETURNS image_ref
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
DECLARE
	m text[];
	t imagestream.tag;
	found record;
BEGIN
	PERFORM imagestream._check_names(namespace, 'namespace', namespace, 'x');
	PERFORM imagestream._require(namespace, 'view');
	m := regexp_match(image, '^([a-z0-9]+(?:[._-][a-z0-9]+)*)(?::([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})|@((?:sha256|sha512):[0-9a-f]+))?$');
	IF m IS NOT NULL AND EXISTS (SELECT 1 FROM imagestream.stream s
								 WHERE s.namespace = _api_resolve_image.namespace
								   AND s.name = m[1] AND s.lookup_local) THEN
		IF m[3] IS NOT NULL THEN
			BEGIN
				found := imagestream._resolve_image_id(namespace, m[1], m[3]);
				RETURN imagestream.ref_with_digest(
					imagestream.ref_name(found.docker_image_reference)::imagestream.image_ref, found.image);
			EXCEPTION WHEN undefined_object OR cardinality_violation THEN
				NULL;		-- not an image of the stream: fall through
			END;
		ELSE
			SELECT * INTO t FROM imagestream.tag x
			WHERE x.namespace = _api_resolve_image.namespace AND x.stream = m[1]
			  AND x.name = coalesce(m[2], 'latest');
			IF t.docker_image_reference IS NOT NULL THEN
				RETURN imagestream._pull_spec(t);
			END IF;
		END IF;
	END IF;
	RETURN image::imagestream.image_ref;
END $$;

CREATE FUNCTION resolve_image(namespace text, image text) RETURNS image_ref
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C STABLE;
COMMENT ON FUNCTION resolve_image(text, text) IS 'resolve a short image name through streams with local lookup in a namespace';

-- os/architecture[/variant] of an image, or of each child of an index.
CREATE FUNCTION _platforms(p_image image_digest) RETURNS text[]
LANGUAGE sql STABLE AS $$
	SELECT CASE
		WHEN i.os IS NOT NULL THEN ARRAY[concat_ws('/', i.os, i.architecture, i.variant)]
		ELSE (SELECT array_agg(concat_ws('/', c.os, c.architecture, c.variant) ORDER BY c.position)
			  FROM imagestream.image_child c WHERE c.image = i.digest AND c.os IS NOT NULL)
	END
	FROM imagestream.image i WHERE i.digest = p_image
$$;

CREATE FUNCTION _api_history(tag text) RETURNS SETOF tag_event
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
DECLARE
	d record := imagestream._parse_tag(tag);
	t_id bigint;
BEGIN
	PERFORM imagestream._require(d.namespace, 'view');
	SELECT id INTO t_id FROM imagestream.tag
	WHERE namespace = d.namespace AND stream = d.stream AND name = d.tag;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'image stream tag "%" does not exist', _api_history.tag
			USING ERRCODE = 'undefined_object';
	END IF;
	RETURN QUERY
		SELECT (row_number() OVER (ORDER BY h.seq DESC) - 1)::integer, h.created,
			h.docker_image_reference, h.image, h.generation, imagestream._platforms(h.image)
		FROM imagestream._history h WHERE h.tag_id = t_id
		ORDER BY h.seq DESC;
END $$;

CREATE FUNCTION history(tag text) RETURNS SETOF tag_event
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C STABLE;
COMMENT ON FUNCTION history(text) IS 'the events of a tag, newest (position 0, current) first';

-- The pull spec under which a stream holds an image (OpenShift's
-- ImageStreamImage shows its event's): its newest event of that image, or
-- for a platform image the repository of its index's event.  (The
-- catalogue's one pull spec per image may be another namespace's.)
CREATE FUNCTION _stream_reference(p_digest image_digest, p_namespace text, p_stream text)
RETURNS image_ref LANGUAGE sql STABLE SET search_path = pg_catalog, imagestream, pg_temp AS $$
	SELECT coalesce(
		(SELECT h.docker_image_reference
		 FROM imagestream._history h JOIN imagestream.tag t ON t.id = h.tag_id
		 WHERE h.image = p_digest AND t.namespace = p_namespace AND t.stream = p_stream
		 ORDER BY h.created DESC LIMIT 1),
		(SELECT imagestream.ref_with_digest(
					imagestream.ref_name(h.docker_image_reference)::imagestream.image_ref, p_digest)
		 FROM imagestream.image_child c
		 JOIN imagestream._history h ON h.image = c.image
		 JOIN imagestream.tag t ON t.id = h.tag_id
		 WHERE c.digest = p_digest AND t.namespace = p_namespace AND t.stream = p_stream
		 ORDER BY h.created DESC LIMIT 1))
$$;

-- An image's metadata as JSON (the image part of OpenShift's ImageStreamImage),
-- with the pull spec p_ref (as OpenShift, the stream's event's).
CREATE FUNCTION _image_json(p_digest image_digest, p_ref image_ref) RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT jsonb_strip_nulls(jsonb_build_object(
		'digest', i.digest::text, 'mediaType', i.media_type,
		'dockerImageReference', p_ref::text, 'size', i.size,
		'os', i.os, 'architecture', i.architecture, 'variant', i.variant,
		'created', i.created, 'labels', i.labels, 'config', i.config,
		'layers', (SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
						'digest', l.digest::text, 'size', l.size, 'mediaType', l.media_type))
					ORDER BY l.position)
				   FROM imagestream.image_layer l WHERE l.image = i.digest),
		'manifests', (SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
						'digest', c.digest::text, 'mediaType', c.media_type, 'size', c.size,
						'os', c.os, 'architecture', c.architecture, 'variant', c.variant))
					ORDER BY c.position)
				   FROM imagestream.image_child c WHERE c.image = i.digest),
		'importedAt', i.imported_at))
	FROM imagestream.image i WHERE i.digest = p_digest
$$;

CREATE FUNCTION _api_image(stream_image text) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
DECLARE
	d record := imagestream._parse_stream_image(stream_image);
	matches image_digest[];
BEGIN
	PERFORM imagestream._require(d.namespace, 'view');
	IF NOT EXISTS (SELECT 1 FROM imagestream.stream WHERE namespace = d.namespace AND name = d.stream) THEN
		RAISE EXCEPTION 'image stream "%/%" does not exist', d.namespace, d.stream
			USING ERRCODE = 'undefined_object';
	END IF;
	-- images of the stream's history, and the children of indexes among them
	WITH held AS (
		SELECT h.image FROM imagestream._history h JOIN imagestream.tag t ON t.id = h.tag_id
		WHERE t.namespace = d.namespace AND t.stream = d.stream AND h.image IS NOT NULL
	)
	SELECT array_agg(DISTINCT x.image) INTO matches
	FROM (SELECT image FROM held
		  UNION SELECT c.digest FROM imagestream.image_child c JOIN held ON c.image = held.image) x
	WHERE imagestream.digest_has_prefix(x.image, d.id);
	IF matches IS NULL THEN
		RAISE EXCEPTION 'image "%" not found', stream_image USING ERRCODE = 'undefined_object';
	ELSIF cardinality(matches) > 1 THEN
		RAISE EXCEPTION 'more than one image of image stream "%/%" matches "%"', d.namespace, d.stream, d.id
			USING ERRCODE = 'cardinality_violation',
				DETAIL = format('Matching images: %s.', array_to_string(matches, ', ')),
				HINT = 'Give more digits of the digest.';
	END IF;
	RETURN jsonb_build_object('name', format('%s@%s', d.stream, matches[1]),
		'namespace', d.namespace,
		'image', coalesce(imagestream._image_json(matches[1],
							imagestream._stream_reference(matches[1], d.namespace, d.stream)),
						  jsonb_build_object('digest', matches[1]::text)));
END $$;

CREATE FUNCTION image(stream_image text) RETURNS jsonb
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C STABLE;
COMMENT ON FUNCTION image(text) IS 'OpenShift ImageStreamImage: metadata of an image held by a stream';
-- Going back to an earlier image, and pruning old history and images.

CREATE FUNCTION _api_rollback(tag text, to_image text DEFAULT NULL, steps integer DEFAULT 1)
RETURNS tag_event LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
DECLARE
	d record := imagestream._parse_tag(tag);
	s imagestream.stream;
	t imagestream.tag;
	target imagestream._history;
	result imagestream.tag_event;
BEGIN
	PERFORM imagestream._require(d.namespace, 'edit');
	s := imagestream._lock_stream(d.namespace, d.stream);
	t := imagestream._lock_tag(s, d.tag);
	IF to_image IS NOT NULL THEN
		IF to_image !~ '^((sha256|sha512):)?[0-9a-f]{7,128}$' THEN
			RAISE EXCEPTION 'invalid image "%"', to_image
				USING ERRCODE = 'invalid_parameter_value',
					DETAIL = 'Give a digest or a prefix of its lowercase hex digits, at least 7 long.';
		END IF;
		IF (SELECT count(DISTINCT h.image) FROM imagestream._history h
			WHERE h.tag_id = t.id AND imagestream.digest_has_prefix(h.image, to_image)) > 1 THEN
			RAISE EXCEPTION 'more than one image in the history of "%" matches "%"', _api_rollback.tag, to_image
				USING ERRCODE = 'cardinality_violation', HINT = 'Give more digits of the digest.';
		END IF;
		SELECT * INTO target FROM imagestream._history h
		WHERE h.tag_id = t.id AND imagestream.digest_has_prefix(h.image, to_image)
		ORDER BY h.seq DESC LIMIT 1;
		IF NOT FOUND THEN
			RAISE EXCEPTION 'image "%" is not in the history of "%"', to_image, _api_rollback.tag
				USING ERRCODE = 'undefined_object';
		END IF;
	ELSE
		IF steps IS NULL OR steps < 1 THEN
			RAISE EXCEPTION 'steps must be 1 or more' USING ERRCODE = 'invalid_parameter_value';
		END IF;
		SELECT * INTO target FROM imagestream._history h
		WHERE h.tag_id = t.id ORDER BY h.seq DESC OFFSET steps LIMIT 1;
		IF NOT FOUND THEN
			RAISE EXCEPTION 'the history of "%" has no event % steps back', _api_rollback.tag, steps
				USING ERRCODE = 'invalid_parameter_value',
					DETAIL = format('It holds %s events.', t.history_length);
		END IF;
		IF target.image IS NULL THEN
			RAISE EXCEPTION 'the event % steps back has no image to roll back to', steps
				USING ERRCODE = 'invalid_parameter_value',
					DETAIL = format('It is a reference to %s only.', target.docker_image_reference);
		END IF;
	END IF;

	-- as "oc tag stream@digest stream:tag": pin the spec, record a new event
	PERFORM imagestream._set_spec(s, d.tag, 'ImageStreamImage',
		format('%s/%s@%s', s.namespace, s.name, target.image), t.reference, false, false,
		t.import_mode, t.reference_policy, '{}');
	-- the stream's generation now: the spec's when the pin moved, and never
	-- below an event pushed since an earlier rollback to the same image
	PERFORM imagestream._add_event(t.id, target.docker_image_reference, target.image,
		(SELECT x.generation FROM imagestream.stream x WHERE x.id = s.id));
	SELECT * INTO result FROM imagestream.history(_api_rollback.tag) LIMIT 1;
	RETURN result;
END $$;

CREATE FUNCTION rollback(tag text, to_image text DEFAULT NULL, steps integer DEFAULT 1)
RETURNS tag_event
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C;
COMMENT ON FUNCTION rollback(text, text, integer) IS 'point a tag back at an earlier image of its history and pin it there';

CREATE FUNCTION _api_prune(keep_tag_revisions integer DEFAULT 3,
	keep_younger_than interval DEFAULT '60 minutes', confirm boolean DEFAULT false)
RETURNS TABLE(action text, stream text, tag text, image image_digest)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
DECLARE
	threshold timestamptz := now() - keep_younger_than;
BEGIN
	PERFORM imagestream._require_privileged('prune images');
	IF keep_tag_revisions IS NULL OR keep_tag_revisions < 0 OR keep_younger_than IS NULL
	   OR keep_younger_than < interval '0' THEN
		RAISE EXCEPTION 'keep_tag_revisions and keep_younger_than must be zero or more'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	-- with confirm, every stream is locked first, as each writer locks its
	-- stream: what is chosen below is then not changing under the deletes
	-- (a head refreshed from a stale event, an image deleted that a new event
	-- was about to use; found by make stress)
	IF coalesce(confirm, false) THEN
		PERFORM 1 FROM imagestream.stream x ORDER BY x.id FOR UPDATE;
	END IF;
	CREATE TEMPORARY TABLE pg_temp.imagestream_prune_events ON COMMIT DROP AS
		SELECT h.tag_id, h.seq, t.namespace, t.stream, t.name, h.image
		FROM imagestream.history_event h JOIN imagestream.tag t ON t.id = h.tag_id
		JOIN LATERAL (SELECT count(*) AS newer FROM imagestream.history_event x
					  WHERE x.tag_id = h.tag_id AND x.seq > h.seq) p ON true
		WHERE p.newer >= greatest(keep_tag_revisions, 1) AND h.created < threshold;

	-- images no history, spec or used index refers to any more
	CREATE TEMPORARY TABLE pg_temp.imagestream_prune_images ON COMMIT DROP AS
		WITH RECURSIVE used(digest) AS (
			SELECT h.image FROM imagestream.history_event h
			WHERE h.image IS NOT NULL
			  AND NOT EXISTS (SELECT 1 FROM pg_temp.imagestream_prune_events e
							  WHERE e.tag_id = h.tag_id AND e.seq = h.seq)
			UNION
			SELECT substr(t.from_ref, strpos(t.from_ref, '@') + 1)::imagestream.image_digest
			FROM imagestream.tag t WHERE t.has_spec AND t.from_kind = 'ImageStreamImage'
			UNION
			SELECT c.digest FROM imagestream.image_child c JOIN used u ON c.image = u.digest
		)
		SELECT i.digest FROM imagestream.image i
		WHERE i.digest NOT IN (SELECT u.digest FROM used u WHERE u.digest IS NOT NULL)
		  AND i.imported_at < threshold;

	RETURN QUERY
		SELECT 'delete_event', e.namespace || '/' || e.stream, e.name, e.image
		FROM pg_temp.imagestream_prune_events e ORDER BY e.namespace, e.stream, e.name, e.seq DESC;
	RETURN QUERY
		SELECT 'delete_image', NULL::text, NULL::text, p.digest
		FROM pg_temp.imagestream_prune_images p ORDER BY p.digest;

	IF coalesce(confirm, false) THEN
		DELETE FROM imagestream.history_event h USING pg_temp.imagestream_prune_events e
		WHERE h.tag_id = e.tag_id AND h.seq = e.seq;
		-- and the pull specs no event uses any more
		DELETE FROM imagestream.history_ref r
		WHERE NOT EXISTS (SELECT 1 FROM imagestream.history_event h WHERE h.ref = r.id);
		PERFORM imagestream._refresh_head(x.tag_id)
		FROM (SELECT DISTINCT tag_id FROM pg_temp.imagestream_prune_events) x;
		DELETE FROM imagestream.image i USING pg_temp.imagestream_prune_images p
		WHERE i.digest = p.digest;
	END IF;
	DROP TABLE pg_temp.imagestream_prune_events, pg_temp.imagestream_prune_images;
END $$;

CREATE FUNCTION prune(keep_tag_revisions integer DEFAULT 3,
	keep_younger_than interval DEFAULT '60 minutes', confirm boolean DEFAULT false)
RETURNS TABLE(action text, stream text, tag text, image image_digest)
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C;
COMMENT ON FUNCTION prune(integer, interval, boolean) IS 'oc adm prune images: drop old history events and unreferenced images (a dry run unless confirm)';
-- oc describe is, and the tag order OpenShift prints and imports in.

-- library-go PrioritizeTags: "latest", then minor versions (5.1, v5.1,
-- 5.1-rc1) newest first, then full semantic versions newest first, then the
-- rest by bytes.  Versions follow blang/semver.
CREATE FUNCTION _tag_priority(tag text, OUT priority integer, OUT major numeric,
	OUT minor numeric, OUT patch numeric, OUT release boolean, OUT pre text[], OUT prefix text)
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
	short text := tag;
	m text[];
	semver constant text := '^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$';
	ident text;
BEGIN
	prefix := '';
	IF tag = 'latest' THEN
		priority := 0;
		RETURN;
	END IF;
	IF left(tag, 1) = 'v' THEN
		prefix := 'v';
		short := substr(tag, 2);
	END IF;
	m := regexp_match(short, semver);
	priority := 2;
	IF m IS NULL THEN
		priority := 1;
		IF short ~ '^[0-9]+\.[0-9]+$' THEN
			m := regexp_match(short || '.0', semver);
		ELSIF short ~ '^[0-9]+\.[0-9]+-[0-9A-Za-z_]+$' THEN
			m := regexp_match(regexp_replace(short, '^([0-9]+\.[0-9]+)', '\1.0'), semver);
		END IF;
	END IF;
	IF m IS NOT NULL AND m[4] IS NOT NULL THEN
		-- prerelease identifiers: numbers before words, numbers by value
		FOREACH ident IN ARRAY string_to_array(m[4], '.') LOOP
			IF ident ~ '^[0-9]+$' THEN
				IF ident ~ '^0[0-9]' THEN
					m := NULL;			-- a leading zero is not semver
					EXIT;
				END IF;
				pre := pre || ('0' || lpad(ident, 40, '0'));
			ELSE
				pre := pre || ('1' || ident);
			END IF;
		END LOOP;
	END IF;
	IF m IS NULL THEN
		priority := 3;
		pre := NULL;
		RETURN;
	END IF;
	major := m[1]::numeric;
	minor := m[2]::numeric;
	patch := m[3]::numeric;
	release := m[4] IS NULL;
END $$;

CREATE FUNCTION _prioritize_tags(tags text[]) RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$
	SELECT coalesce(array_agg(t ORDER BY (p).priority, (p).major DESC, (p).minor DESC,
			(p).patch DESC, (p).release DESC, (p).pre DESC, (p).prefix COLLATE "C",
			t COLLATE "C"), '{}')
	-- (OFFSET 0: one call a tag, not one for each field of p)
	FROM (SELECT t, imagestream._tag_priority(t) AS p FROM unnest(tags) AS t OFFSET 0) x
$$;

-- docker's units.HumanDuration, as oc prints ages.
CREATE FUNCTION _human_duration(d interval) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
	secs double precision := extract(epoch FROM d);
	hours integer := floor(secs / 3600 + 0.5);
BEGIN
	IF secs < 1 THEN RETURN 'Less than a second';
	ELSIF floor(secs) = 1 THEN RETURN '1 second';
	ELSIF secs < 60 THEN RETURN format('%s seconds', floor(secs));
	ELSIF floor(secs / 60) = 1 THEN RETURN 'About a minute';
	ELSIF secs < 3600 THEN RETURN format('%s minutes', floor(secs / 60));
	ELSIF hours = 1 THEN RETURN 'About an hour';
	ELSIF hours < 48 THEN RETURN format('%s hours', hours);
	ELSIF hours < 24 * 7 * 2 THEN RETURN format('%s days', hours / 24);
	ELSIF hours < 24 * 30 * 2 THEN RETURN format('%s weeks', hours / 24 / 7);
	ELSIF hours < 24 * 365 * 2 THEN RETURN format('%s months', hours / 24 / 30);
	END IF;
	RETURN format('%s years', floor(secs / 3600)::bigint / 24 / 365);
END $$;

-- A spec tag's source as oc prints it: the namespace only when it differs.
CREATE FUNCTION _from_display(t imagestream.tag) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE WHEN t.from_kind <> 'DockerImage' AND starts_with(t.from_ref, t.namespace || '/')
				THEN substr(t.from_ref, length(t.namespace) + 2)
				ELSE t.from_ref END
$$;

-- The tag a same-stream alias chain ends at, or NULL when the tag is no
-- alias or its chain ends nowhere (oc's FollowTagReference).
CREATE FUNCTION _alias_target(p_tag imagestream.tag) RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
	cur imagestream.tag := p_tag;
	prefix text := format('%s/%s:', p_tag.namespace, p_tag.stream);
	seen text[] := ARRAY[p_tag.name];
	next_name text;
BEGIN
	WHILE cur.has_spec AND cur.from_kind = 'ImageStreamTag' AND starts_with(cur.from_ref, prefix) LOOP
		next_name := substr(cur.from_ref, length(prefix) + 1);
		IF next_name = ANY (seen) THEN
			RETURN NULL;
		END IF;
		seen := seen || next_name;
		SELECT * INTO cur FROM imagestream.tag
		WHERE stream_id = p_tag.stream_id AND name = next_name AND has_spec;
		IF NOT FOUND THEN
			RETURN NULL;
		END IF;
	END LOOP;
	RETURN CASE WHEN cur.name <> p_tag.name THEN cur.name END;
END $$;

CREATE FUNCTION _api_describe(stream text) RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
DECLARE
	n record := imagestream._parse_stream(stream);
	s imagestream.stream;
	out text;
	t imagestream.tag;
	h imagestream._history;
	names text[];
	hidden jsonb := '{}';
	target text;
	local_registry text := nullif(current_setting('imagestream.local_registry', true), '');
	first boolean := true;
	i integer;
	k text;
	v text;
BEGIN
	PERFORM imagestream._require(n.namespace, 'view');
	SELECT * INTO s FROM imagestream.stream WHERE namespace = n.namespace AND name = n.name;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'image stream "%" does not exist', _api_describe.stream
			USING ERRCODE = 'undefined_object';
	END IF;

	-- the header block: oc's tabwriter pads its first column to 24
	out := format(E'Name:\t\t\t%s\nNamespace:\t\t%s\nCreated:\t\t%s ago\nLabels:\t\t\t<none>\n',
				  s.name, s.namespace, imagestream._human_duration(now() - s.created_at));
	i := 0;
	FOR k, v IN SELECT key, value FROM jsonb_each_text(s.annotations) ORDER BY key COLLATE "C" LOOP
		out := out || CASE WHEN i = 0 THEN E'Annotations:\t\t' ELSE E'\t\t\t' END || k || '=' || v || E'\n';
		i := i + 1;
	END LOOP;
	IF i = 0 THEN
		out := out || E'Annotations:\t\t<none>\n';
	END IF;
	out := out || format(E'Image Repository:\t%s\nImage Lookup:\t\tlocal=%s\n',
		coalesce(local_registry || '/' || s.namespace || '/' || s.name, '<none>'), s.lookup_local);

	SELECT array_agg(x.name) INTO names FROM imagestream.tag x WHERE x.stream_id = s.id;
	IF names IS NULL THEN
		RETURN out || E'Tags:\t\t\t<none>\n';
	END IF;
	out := out || format(E'Unique Images:\t\t%s\nTags:\t\t\t%s\n\n',
		(SELECT count(DISTINCT coalesce(hh.image::text, '')) FROM imagestream._history hh
		 JOIN imagestream.tag x ON x.id = hh.tag_id WHERE x.stream_id = s.id),
		cardinality(names));

	-- aliases that end at another spec tag are listed with it, not alone
	FOR t IN SELECT * FROM imagestream.tag x WHERE x.stream_id = s.id LOOP
		target := imagestream._alias_target(t);
		IF target IS NOT NULL THEN
			hidden := jsonb_set(hidden, ARRAY[target],
				coalesce(hidden->target, '[]') || to_jsonb(t.name));
		END IF;
	END LOOP;

	FOR t IN SELECT x.* FROM unnest(imagestream._prioritize_tags(names)) WITH ORDINALITY AS o(name, ord)
			 JOIN imagestream.tag x ON x.stream_id = s.id AND x.name = o.name
			 ORDER BY o.ord LOOP
		CONTINUE WHEN EXISTS (SELECT 1 FROM jsonb_each(hidden) e
							  WHERE e.value ? t.name);
		IF NOT first THEN
			out := out || E'\n';
		END IF;
		first := false;
		out := out || t.name || CASE WHEN hidden ? t.name
			THEN ' (' || array_to_string(imagestream._prioritize_tags(
				ARRAY(SELECT jsonb_array_elements_text(hidden->t.name))), ', ') || ')'
			ELSE '' END || E'\n';
		out := out || CASE
			WHEN NOT t.has_spec THEN E'  no spec tag\n'
			WHEN t.from_kind = 'ImageStreamTag' THEN
				format(CASE WHEN t.reference THEN E'  reference to %s\n' ELSE E'  tagged from %s\n' END,
					   imagestream._from_display(t))
			WHEN t.from_kind = 'DockerImage' THEN
				format(CASE WHEN t.reference THEN E'  reference to registry %s\n'
							WHEN t.scheduled THEN E'  updates automatically from registry %s\n'
							ELSE E'  tagged from %s\n' END, t.from_ref)
			ELSE format(CASE WHEN t.reference THEN E'  reference to image %s\n' ELSE E'  tagged from %s\n' END,
						imagestream._from_display(t))
		END;
		IF t.has_spec AND t.insecure THEN
			out := out || E'    will use insecure HTTPS or HTTP connections\n';
		END IF;
		IF t.has_spec AND t.reference_policy = 'Local' THEN
			out := out || E'    prefer registry pullthrough when referencing this tag\n';
		END IF;
		out := out || E'\n';
		IF t.has_spec AND NOT t.reference
		   AND t.spec_generation > greatest(coalesce(t.status_generation, 0), coalesce(t.import_generation, 0)) THEN
			out := out || E'  ~ importing latest image ...\n';
		END IF;
		IF t.import_status = 'False' THEN
			out := out || format(E'  ! error: Import failed (%s): %s\n      %s ago\n',
				t.import_reason, t.import_message, imagestream._human_duration(now() - t.import_transition));
		END IF;
		i := 0;
		FOR h IN SELECT * FROM imagestream._history x WHERE x.tag_id = t.id ORDER BY x.seq DESC LOOP
			out := out || CASE WHEN i = 0 THEN '  * ' ELSE '    ' END || h.docker_image_reference::text || E'\n';
			out := out || '      ' || imagestream._human_duration(now() - h.created) || ' ago'
				|| CASE WHEN h.image IS NOT NULL
						 AND imagestream.ref_digest(h.docker_image_reference) IS DISTINCT FROM h.image
						THEN E'\t' || h.image::text ELSE '' END || E'\n';
			i := i + 1;
		END LOOP;
	END LOOP;
	RETURN out;
END $$;

CREATE FUNCTION describe(stream text) RETURNS text
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C STABLE;
COMMENT ON FUNCTION describe(text) IS 'oc describe is: a readable report of a stream and its tags';
-- Registry pull credentials: set and dropped by superusers and the extension
-- owner; read by nobody else (the import reads them as the owner).

CREATE FUNCTION _api_set_registry_credentials(registry text, username text, secret text)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
BEGIN
	PERFORM imagestream._require_privileged('set registry credentials');
	IF registry IS NULL OR registry !~ '^(\[[0-9A-Fa-f:]+\]|[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?)(:[0-9]+)?(/[a-z0-9._/-]*[a-z0-9])?$' THEN
		RAISE EXCEPTION 'invalid registry "%"', registry
			USING ERRCODE = 'invalid_parameter_value',
				DETAIL = 'Give a registry host[:port], optionally followed by a repository path prefix.';
	END IF;
	IF username IS NULL OR secret IS NULL THEN
		RAISE EXCEPTION 'username and secret are required' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	INSERT INTO imagestream.registry_credential VALUES (registry, username, secret)
	ON CONFLICT ON CONSTRAINT registry_credential_pkey
	DO UPDATE SET username = excluded.username, secret = excluded.secret;
END $$;

CREATE FUNCTION set_registry_credentials(registry text, username text, secret text)
RETURNS void
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C;
COMMENT ON FUNCTION set_registry_credentials(text, text, text) IS 'pull credentials for a registry host or host/path prefix (the longest match wins)';

CREATE FUNCTION _api_drop_registry_credentials(registry text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
BEGIN
	PERFORM imagestream._require_privileged('drop registry credentials');
	DELETE FROM imagestream.registry_credential c WHERE c.registry = _api_drop_registry_credentials.registry;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'no credentials for registry "%"', registry USING ERRCODE = 'undefined_object';
	END IF;
END $$;

CREATE FUNCTION drop_registry_credentials(registry text) RETURNS void
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C;
COMMENT ON FUNCTION drop_registry_credentials(text) IS 'forget the pull credentials of a registry';
-- oc import-image (SPEC sections 4 and 5): the network I/O is C
-- (src/registry.c); deciding what to fetch and recording it is here.

-- What a fetch of a source found (src/fetch.c).
CREATE TYPE _fetched AS (status text, reason text, message text, retry_after integer,
	image image_digest, source_digest image_digest, digests image_digest[],
	media_types text[], manifests bytea[], configs bytea[]);

CREATE FUNCTION _fetch_source(ref image_ref, insecure boolean, preserve boolean,
	known image_digest, prefer_os text, prefer_arch text) RETURNS _fetched
	AS 'MODULE_PATHNAME', 'imagestream_fetch_source' LANGUAGE C VOLATILE;

-- _fetch_source for many sources at once (src/fetch_many.c), in their order:
-- the HEAD requests concurrently, each distinct new digest fetched once.
CREATE FUNCTION _fetch_sources(refs image_ref[], insecure boolean[], preserve boolean[],
	known image_digest[], prefer_os text[], prefer_arch text[]) RETURNS SETOF _fetched
	AS 'MODULE_PATHNAME', 'imagestream_fetch_sources' LANGUAGE C VOLATILE;

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

-- Catalogues a fetched manifest and its config blob, unless the catalogue
-- holds it already (a digest shared by many tags is checked and parsed once).
CREATE FUNCTION _catalogue_fetched(p_digest image_digest, p_media_type text,
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

-- What an import of source found (f, from _fetch_source or _fetch_sources);
-- when p_write, every manifest fetched is catalogued.  status is 'Success',
-- 'Unchanged' or 'Failure'.
CREATE FUNCTION _import_fetched(f _fetched, p_source image_ref, p_write boolean,
	OUT status text, OUT reason text, OUT message text, OUT image image_digest,
	OUT source_digest image_digest, OUT retry_after integer)
LANGUAGE plpgsql AS $$
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
	END IF;
END $$;
-- import_image: oc import-image, synchronous.

-- Records a successful import into a tag by OpenShift's importSuccessful:
-- when the pull spec, the image or a pending spec changed, the spec points
-- at the source and the new event carries the next stream generation;
-- otherwise only the import policy is updated.  Conditions are cleared.
-- Writes nothing when nothing changed.  p_generation, when given, is the
-- generation the stream moves to (the worker's tags of one stream share it,
-- as in OpenShift's import of a whole stream).
CREATE FUNCTION _record_import(p_stream imagestream.stream, p_new_stream boolean, p_tag text,
	p_source text, p_ref image_ref, p_image image_digest, p_source_digest image_digest,
	p_scheduled boolean, p_insecure boolean, p_mode import_mode, p_policy reference_policy,
	p_generation bigint DEFAULT NULL)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	t imagestream.tag := imagestream._lock_tag(p_stream, p_tag, true);
	gen bigint := coalesce(p_generation, CASE WHEN p_new_stream THEN p_stream.generation
											  ELSE p_stream.generation + 1 END);
	changed boolean;
BEGIN
	changed := t.history_length = 0 OR t.docker_image_reference <> p_ref
		OR t.image IS DISTINCT FROM p_image OR NOT t.has_spec
		OR t.spec_generation > coalesce(t.status_generation, 0);
	IF changed THEN
		UPDATE imagestream.stream SET generation = gen WHERE id = p_stream.id AND generation <> gen;
		UPDATE imagestream.tag
		SET has_spec = true, from_kind = 'DockerImage', from_ref = p_source,
			scheduled = p_scheduled, insecure = p_insecure, import_mode = p_mode,
			reference_policy = CASE WHEN has_spec THEN reference_policy ELSE p_policy END,
			spec_generation = gen, source_digest = p_source_digest
		WHERE id = t.id;
		PERFORM imagestream._add_event(t.id, p_ref, p_image, gen);
		RETURN;
	END IF;
	IF t.scheduled <> p_scheduled OR t.insecure <> p_insecure OR t.import_mode <> p_mode THEN
		UPDATE imagestream.stream SET generation = gen WHERE id = p_stream.id AND generation <> gen;
		UPDATE imagestream.tag SET scheduled = p_scheduled, insecure = p_insecure, import_mode = p_mode
		WHERE id = t.id;
	END IF;
	IF t.source_digest IS DISTINCT FROM p_source_digest THEN
		UPDATE imagestream.tag SET source_digest = p_source_digest WHERE id = t.id;
	END IF;
	IF t.import_status IS NOT NULL THEN
		UPDATE imagestream.tag
		SET import_status = NULL, import_reason = NULL, import_message = NULL,
			import_generation = NULL, import_transition = NULL
		WHERE id = t.id;
	END IF;
END $$;

-- _record_import for many tags of a stream at once, set-based, in the order
-- given (import_image of all tags, the worker's chunk of a stream): the
-- same rows written, with one write of each tag row, and the change rows
-- and their NOTIFYs together.  p_stream is locked; p_generation is the
-- generation it moves to.  p_clear_requested also clears
-- import_requested_at (the worker).  Returns the positions of the tags it
-- leaves to _record_import: tags that other tags follow (their followers
-- move with them, _add_event), and names given twice.
CREATE FUNCTION _record_imports(p_stream imagestream.stream, p_generation bigint,
	p_tags text[], p_sources text[], p_refs image_ref[], p_images image_digest[],
	p_source_digests image_digest[], p_scheduled boolean[], p_insecure boolean[],
	p_modes import_mode[], p_policies reference_policy[], p_clear_requested boolean DEFAULT false)
RETURNS SETOF integer LANGUAGE plpgsql AS $$
DECLARE
	alone integer[];
	-- per tag recorded here, by its position (pos) in the arrays given:
	-- what _record_import and _add_event would do, decided before any write
	pos integer[];
	ids bigint[];
	events text[];				-- insert, overwrite, none (no new event); NULL: not changed
	options boolean[];			-- not changed, but scheduled, insecure or the mode differ
	createds timestamptz[];		-- of the history head
	seqs integer[];
	refids integer[];			-- history_ref of the events written
	previous imagestream.image_digest[];
	logged boolean[];
	base bigint;
	c imagestream.change;
BEGIN
	-- the new tags, in the order given (the stream is locked: no one else adds them)
	INSERT INTO imagestream.tag (stream_id, namespace, stream, name)
	SELECT p_stream.id, p_stream.namespace, p_stream.name, u.name
	FROM unnest(p_tags) WITH ORDINALITY AS u(name, n)
	WHERE NOT EXISTS (SELECT 1 FROM imagestream.tag t WHERE t.namespace = p_stream.namespace
					  AND t.stream = p_stream.name AND t.name = u.name)
	GROUP BY u.name
	ORDER BY min(u.n);
	PERFORM 1 FROM imagestream.tag t
	WHERE t.namespace = p_stream.namespace AND t.stream = p_stream.name AND t.name = ANY (p_tags)
	ORDER BY t.id FOR UPDATE;

	SELECT coalesce(array_agg(y.n ORDER BY y.n) FILTER (WHERE y.alone), '{}'),
		   array_agg(y.n ORDER BY y.n) FILTER (WHERE NOT y.alone),
		   array_agg(y.id ORDER BY y.n) FILTER (WHERE NOT y.alone),
		   array_agg(CASE WHEN NOT y.changed THEN NULL
						  WHEN y.seq IS NOT NULL AND y.same_ref AND y.same_image
							   AND y.head_generation = p_generation THEN 'none'
						  WHEN y.seq IS NOT NULL AND (y.same_ref OR y.same_image) THEN 'overwrite'
						  ELSE 'insert' END ORDER BY y.n) FILTER (WHERE NOT y.alone),
		   array_agg(NOT y.changed AND (y.t_scheduled <> y.scheduled OR y.t_insecure <> y.insecure
										OR y.t_mode <> y.mode) ORDER BY y.n) FILTER (WHERE NOT y.alone),
		   array_agg(y.head_created ORDER BY y.n) FILTER (WHERE NOT y.alone),
		   array_agg(y.seq ORDER BY y.n) FILTER (WHERE NOT y.alone),
		   array_agg(y.head_image ORDER BY y.n) FILTER (WHERE NOT y.alone),
		   array_agg(y.changed AND NOT (y.seq IS NOT NULL AND y.same_ref AND y.same_image)
					 ORDER BY y.n) FILTER (WHERE NOT y.alone)
	INTO alone, pos, ids, events, options, createds, seqs, previous, logged
	FROM (SELECT z.*, coalesce(z.head_ref = z.ref, false) AS same_ref,
				 z.head_image IS NOT DISTINCT FROM z.image AS same_image,
				 coalesce(z.history_length = 0 OR z.t_ref <> z.ref OR z.t_image IS DISTINCT FROM z.image
						  OR NOT z.has_spec OR z.spec_generation > coalesce(z.status_generation, 0),
						  false) AS changed
		  FROM (SELECT u.n::integer AS n, u.ref, u.image, u.scheduled, u.insecure, u.mode,
					   t.id, t.has_spec, t.history_length, t.spec_generation, t.status_generation,
					   t.docker_image_reference AS t_ref, t.image AS t_image,
					   t.scheduled AS t_scheduled, t.insecure AS t_insecure, t.import_mode AS t_mode,
					   count(*) OVER (PARTITION BY u.name) > 1
					   OR EXISTS (SELECT 1 FROM imagestream.tag x
								  WHERE x.stream_id = t.stream_id AND x.has_spec
									AND x.from_kind = 'ImageStreamTag'
									AND x.from_ref = format('%s/%s:%s', t.namespace, t.stream, t.name)
									AND x.id <> t.id) AS alone,
					   h.seq, h.created AS head_created, h.image AS head_image,
					   h.docker_image_reference AS head_ref, h.generation AS head_generation
				FROM unnest(p_tags, p_refs, p_images, p_scheduled, p_insecure, p_modes)
					 WITH ORDINALITY AS u(name, ref, image, scheduled, insecure, mode, n)
				JOIN imagestream.tag t ON t.namespace = p_stream.namespace
					 AND t.stream = p_stream.name AND t.name = u.name
				LEFT JOIN LATERAL (SELECT * FROM imagestream._history x WHERE x.tag_id = t.id
								   ORDER BY x.seq DESC LIMIT 1) h ON true) z) y;
	RETURN QUERY SELECT unnest(alone);
	IF pos IS NULL THEN
		RETURN;
	END IF;

	IF EXISTS (SELECT 1 FROM unnest(events, options) AS x(event, options)
			   WHERE x.event IS NOT NULL OR x.options) THEN
		UPDATE imagestream.stream SET generation = p_generation
		WHERE id = p_stream.id AND generation <> p_generation;
	END IF;
	refids := imagestream._history_ref_ids(
		ARRAY(SELECT CASE WHEN x.event IN ('insert', 'overwrite') THEN p_refs[x.n] END
			  FROM unnest(pos, events) WITH ORDINALITY AS x(n, event, k) ORDER BY x.k),
		ARRAY(SELECT p_images[x.n] FROM unnest(pos) WITH ORDINALITY AS x(n, k) ORDER BY x.k));
	UPDATE imagestream.history_event h
	SET ref = x.refid, image = u.image, generation = p_generation
	FROM unnest(pos, ids, events, seqs, refids) AS x(n, id, event, seq, refid)
	JOIN unnest(p_images) WITH ORDINALITY AS u(image, n) ON u.n = x.n
	WHERE x.event = 'overwrite' AND h.tag_id = x.id AND h.seq = x.seq;
	INSERT INTO imagestream.history_event (tag_id, seq, created, generation, ref, image)
	SELECT x.id, coalesce(x.seq, 0) + 1, now(), p_generation, x.refid, u.image
	FROM unnest(pos, ids, events, seqs, refids) AS x(n, id, event, seq, refid)
	JOIN unnest(p_images) WITH ORDINALITY AS u(image, n) ON u.n = x.n
	WHERE x.event = 'insert'
	ORDER BY x.n;
	-- one write of each tag: the spec, the new head, the conditions cleared
	UPDATE imagestream.tag t
	SET has_spec = t.has_spec OR x.changed,
		from_kind = CASE WHEN x.changed THEN 'DockerImage' ELSE t.from_kind END,
		from_ref = CASE WHEN x.changed THEN x.source ELSE t.from_ref END,
		scheduled = x.scheduled, insecure = x.insecure, import_mode = x.mode,
		reference_policy = CASE WHEN x.changed AND NOT t.has_spec THEN x.policy ELSE t.reference_policy END,
		spec_generation = CASE WHEN x.changed THEN p_generation ELSE t.spec_generation END,
		source_digest = x.source_digest,
		image = CASE WHEN x.moves THEN x.image ELSE t.image END,
		docker_image_reference = CASE WHEN x.moves THEN x.ref ELSE t.docker_image_reference END,
		created = CASE x.event WHEN 'insert' THEN now() WHEN 'overwrite' THEN x.created ELSE t.created END,
		status_generation = CASE WHEN x.moves THEN p_generation ELSE t.status_generation END,
		history_length = t.history_length + CASE x.event WHEN 'insert' THEN 1 ELSE 0 END,
		import_status = CASE x.event WHEN 'none' THEN t.import_status END,
		import_reason = CASE x.event WHEN 'none' THEN t.import_reason END,
		import_message = CASE x.event WHEN 'none' THEN t.import_message END,
		import_generation = CASE x.event WHEN 'none' THEN t.import_generation END,
		import_transition = CASE x.event WHEN 'none' THEN t.import_transition END,
		import_requested_at = CASE WHEN p_clear_requested THEN NULL ELSE t.import_requested_at END
	FROM (SELECT d.id, d.event, d.created, d.event IS NOT NULL AS changed,
				 coalesce(d.event IN ('insert', 'overwrite'), false) AS moves,
				 u.source, u.ref, u.image, u.source_digest, u.scheduled, u.insecure, u.mode, u.policy
		  FROM unnest(pos, ids, events, createds) AS d(n, id, event, created)
		  JOIN unnest(p_sources, p_refs, p_images, p_source_digests, p_scheduled, p_insecure,
					  p_modes, p_policies)
			   WITH ORDINALITY AS u(source, ref, image, source_digest, scheduled, insecure, mode, policy, n)
			   ON u.n = d.n) x
	WHERE t.id = x.id
	  AND (x.changed OR t.scheduled <> x.scheduled OR t.insecure <> x.insecure
		   OR t.import_mode <> x.mode OR t.source_digest IS DISTINCT FROM x.source_digest
		   OR t.import_status IS NOT NULL OR (p_clear_requested AND t.import_requested_at IS NOT NULL));

	IF true = ANY (logged) THEN
		-- as _log_change: dense ids in commit order
		LOCK TABLE imagestream.change IN SHARE ROW EXCLUSIVE MODE;
		SELECT coalesce(max(x.id), 0) INTO base FROM imagestream.change x;
		INSERT INTO imagestream.change (id, at, event, namespace, stream, tag, image, previous_image,
										docker_image_reference, generation)
		SELECT base + row_number() OVER (ORDER BY x.n), now(), 'tag_updated', p_stream.namespace,
			   p_stream.name, u.name, u.image, x.previous, u.ref, p_generation
		FROM unnest(pos, logged, previous) AS x(n, logged, previous)
		JOIN unnest(p_tags, p_refs, p_images) WITH ORDINALITY AS u(name, ref, image, n) ON u.n = x.n
		WHERE x.logged;
		FOR c IN SELECT * FROM imagestream.change x WHERE x.id > base ORDER BY x.id LOOP
			PERFORM imagestream._notify_change(c);
		END LOOP;
	END IF;
END $$;

-- Records a failed import: a new tag gets a spec from the source (an
-- existing spec is kept), then the failure condition.
CREATE FUNCTION _record_import_failure(p_stream imagestream.stream, p_tag text, p_source text,
	p_scheduled boolean, p_insecure boolean, p_mode import_mode, p_policy reference_policy,
	p_reason text, p_message text, p_create_spec boolean, p_generation bigint DEFAULT NULL)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	t imagestream.tag := imagestream._lock_tag(p_stream, p_tag, true);
BEGIN
	IF NOT t.has_spec AND p_create_spec THEN
		UPDATE imagestream.tag
		SET has_spec = true, from_kind = 'DockerImage', from_ref = p_source,
			scheduled = p_scheduled, insecure = p_insecure, import_mode = p_mode,
			reference_policy = p_policy, spec_generation = p_stream.generation
		WHERE id = t.id;
	END IF;
	PERFORM imagestream._record_failure(t.id, p_reason, p_message, p_generation);
END $$;

-- The tag an import of "tag" targets: itself, or the end of its chain of
-- same-stream aliases (oc's FollowTagReference).
CREATE FUNCTION _import_target(p_stream imagestream.stream, p_tag text) RETURNS imagestream.tag
LANGUAGE plpgsql STABLE AS $$
DECLARE
	t imagestream.tag;
	seen text[] := '{}';
	prefix text := format('%s/%s:', p_stream.namespace, p_stream.name);
BEGIN
	LOOP
		SELECT * INTO t FROM imagestream.tag WHERE stream_id = p_stream.id AND name = p_tag AND has_spec;
		IF NOT FOUND OR t.from_kind <> 'ImageStreamTag' THEN
			RETURN t;
		END IF;
		IF p_tag = ANY (seen) THEN
			RAISE EXCEPTION 'tag "%" is part of a cycle of aliases', p_tag
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		seen := seen || p_tag;
		p_tag := substr(t.from_ref, length(prefix) + 1);
	END LOOP;
END $$;

-- How one tag of an import is imported: its row (if any), and the options
-- in effect.  Re-importing never turns scheduled or insecure off; known is
-- what the source served last, when the tag follows that source still.
CREATE FUNCTION _import_options(p_stream_id bigint, p_job jsonb, p_scheduled boolean,
	p_insecure boolean, p_mode import_mode, p_policy reference_policy,
	OUT t imagestream.tag, OUT sched boolean, OUT insecure boolean, OUT mode import_mode,
	OUT policy reference_policy, OUT known image_digest)
LANGUAGE plpgsql STABLE AS $$
BEGIN
	SELECT * INTO t FROM imagestream.tag x WHERE x.stream_id = p_stream_id AND x.name = p_job->>'tag';
	sched := coalesce(p_scheduled, false) OR coalesce(t.scheduled, false);
	insecure := coalesce(p_insecure, false) OR coalesce(t.insecure, false);
	mode := coalesce(p_mode, t.import_mode, 'Legacy');
	policy := coalesce(p_policy, CASE WHEN t.has_spec THEN t.reference_policy END, 'Source');
	known := CASE WHEN t.from_ref = p_job->>'source' AND t.image IS NOT NULL
					   AND t.spec_generation <= coalesce(t.status_generation, 0)
				  THEN t.source_digest END;
END $$;

CREATE FUNCTION _api_import_image(destination text, from_image text DEFAULT NULL,
	all_tags boolean DEFAULT false, scheduled boolean DEFAULT NULL,
	insecure boolean DEFAULT NULL, reference_policy reference_policy DEFAULT NULL,
	import_mode import_mode DEFAULT NULL, dry_run boolean DEFAULT false)
RETURNS TABLE(tag text, status text, image image_digest, docker_image_reference image_ref,
	reason text, message text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
#variable_conflict use_variable
DECLARE
	d record;
	v_ns text;
	v_stream text;
	v_tag text;
	s imagestream.stream;
	new_stream boolean;
	t imagestream.tag;
	source imagestream.image_ref;
	repo imagestream.image_ref;
	jobs jsonb := '[]';			-- [{tag, source}] in import order
	job jsonb;
	r record;
	listed record;
	names text[];
	limit_n integer := current_setting('imagestream.max_bulk_import')::integer;
	v_sched boolean;
	v_insecure boolean;
	v_mode imagestream.import_mode;
	v_policy imagestream.reference_policy;
	pull imagestream.image_ref;
	i integer := 0;
	o record;
	srcs imagestream.image_ref[] := '{}';
	insecures boolean[] := '{}';
	preserves boolean[] := '{}';
	knowns imagestream.image_digest[] := '{}';
	oses text[] := '{}';
	arches text[] := '{}';
	fetched imagestream._fetched[];
	one imagestream._fetched;			-- what was fetched for the current tag
	gen bigint;					-- of this import, shared by its tags (OpenShift's nextGeneration)
	-- all tags: the imports recorded together at the end (_record_imports)
	together text[] := '{}';
	together_sources text[] := '{}';
	together_refs imagestream.image_ref[] := '{}';
	together_images imagestream.image_digest[] := '{}';
	together_digests imagestream.image_digest[] := '{}';
	together_scheduled boolean[] := '{}';
	together_insecure boolean[] := '{}';
	together_modes imagestream.import_mode[] := '{}';
	together_policies imagestream.reference_policy[] := '{}';
	catalogued text[] := '{}';
	one_by_one integer[];
	k integer;
BEGIN
	IF coalesce(all_tags, false) THEN
		IF strpos(destination, ':') > 0 THEN
			RAISE EXCEPTION 'cannot import a tag "%" and all tags at once', destination
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		d := imagestream._parse_stream(destination);
		v_ns := d.namespace;
		v_stream := d.name;
	ELSE
		d := imagestream._parse_tag(destination);
		v_ns := d.namespace;
		v_stream := d.stream;
		v_tag := d.tag;
	END IF;
	PERFORM imagestream._require(v_ns, 'edit');
	IF from_image IS NOT NULL THEN
		source := from_image::imagestream.image_ref;
	END IF;
	new_stream := NOT EXISTS (SELECT 1 FROM imagestream.stream x
							  WHERE x.namespace = v_ns AND x.name = v_stream);
	IF new_stream AND source IS NULL THEN
		RAISE EXCEPTION 'image stream "%/%" does not exist', v_ns, v_stream
			USING ERRCODE = 'undefined_object', HINT = 'Give from_image to create it.';
	END IF;
	-- no lock yet: the registry is asked before anything is locked
	SELECT * INTO s FROM imagestream.stream x WHERE x.namespace = v_ns AND x.name = v_stream;

	-- what to import: (tag, source) pairs
	IF NOT coalesce(all_tags, false) THEN
		t := imagestream._import_target(s, v_tag);
		IF source IS NULL THEN
			IF t.id IS NULL THEN
				RAISE EXCEPTION 'image stream tag "%" does not exist', destination
					USING ERRCODE = 'undefined_object', HINT = 'Give from_image to import it.';
			ELSIF t.from_kind <> 'DockerImage' THEN
				RAISE EXCEPTION 'tag "%" points to %, which cannot be imported', t.name, t.from_ref
					USING ERRCODE = 'invalid_parameter_value';
			END IF;
			jobs := jsonb_build_array(jsonb_build_object('tag', t.name, 'source', t.from_ref));
		ELSE
			jobs := jsonb_build_array(jsonb_build_object('tag', coalesce(t.name, v_tag), 'source', source::text));
		END IF;
	ELSIF source IS NOT NULL THEN
		IF imagestream.ref_tag(source) IS NOT NULL OR imagestream.ref_digest(source) IS NOT NULL THEN
			RAISE EXCEPTION 'from_image must name a repository, not a tag or digest, to import all tags'
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		repo := source;
		listed := imagestream._registry_tag_pages(repo, coalesce(insecure, false));
		IF listed.status <> 'ok' THEN
			RETURN QUERY SELECT NULL::text, 'Failure', NULL::imagestream.image_digest,
				NULL::imagestream.image_ref, listed.reason, listed.message;
			RETURN;
		END IF;
		SELECT imagestream._prioritize_tags(array_agg(DISTINCT x)) INTO names
		FROM unnest(listed.pages) AS p,
			 jsonb_array_elements_text(CASE WHEN jsonb_typeof(p::jsonb->'tags') = 'array'
											THEN p::jsonb->'tags' ELSE '[]' END) AS x;
		SELECT coalesce(jsonb_agg(jsonb_build_object('tag', n,
			'source', imagestream.ref_with_tag(repo, n)::text) ORDER BY o), '[]')
		INTO jobs FROM unnest(names) WITH ORDINALITY AS u(n, o);
	ELSE
		SELECT coalesce(jsonb_agg(jsonb_build_object('tag', x.name, 'source', x.from_ref)
			ORDER BY x.name), '[]')
		INTO jobs FROM imagestream.tag x
		WHERE x.stream_id = s.id AND x.has_spec AND x.from_kind = 'DockerImage' AND NOT x.reference;
	END IF;

	-- all tags: every source is fetched first, together (src/fetch_many.c)
	IF coalesce(all_tags, false) THEN
		FOR job IN SELECT value FROM jsonb_array_elements(jobs) LOOP
			EXIT WHEN limit_n >= 0 AND cardinality(srcs) >= limit_n;
			o := imagestream._import_options(s.id, job, scheduled, insecure, import_mode, reference_policy);
			srcs := srcs || (job->>'source')::imagestream.image_ref;
			insecures := insecures || o.insecure;
			preserves := preserves || (o.mode = 'PreserveOriginal');
			knowns := knowns || o.known;
			oses := oses || ((o.t).annotations->>'importer.image.openshift.io/prefer-os');
			arches := arches || ((o.t).annotations->>'importer.image.openshift.io/prefer-arch');
		END LOOP;
		fetched := ARRAY(SELECT f FROM imagestream._fetch_sources(srcs, insecures, preserves,
															 knowns, oses, arches) f);
	END IF;

	FOR job IN SELECT value FROM jsonb_array_elements(jobs) LOOP
		i := i + 1;
		IF coalesce(all_tags, false) AND limit_n >= 0 AND i > limit_n THEN
			RETURN QUERY SELECT job->>'tag', 'Skipped', NULL::imagestream.image_digest,
				NULL::imagestream.image_ref, NULL::text,
				format('Over imagestream.max_bulk_import (%s).', limit_n);
			CONTINUE;
		END IF;
		o := imagestream._import_options(s.id, job, scheduled, insecure, import_mode, reference_policy);
		t := o.t;
		v_sched := o.sched;
		v_insecure := o.insecure;
		v_mode := o.mode;
		v_policy := o.policy;
		one := CASE WHEN coalesce(all_tags, false) THEN fetched[i]
				  ELSE imagestream._fetch_source((job->>'source')::imagestream.image_ref, v_insecure,
					v_mode = 'PreserveOriginal', o.known,
					t.annotations->>'importer.image.openshift.io/prefer-os',
					t.annotations->>'importer.image.openshift.io/prefer-arch') END;
		-- catalogued below, once the stream is locked (see prune)
		r := imagestream._import_fetched(one, (job->>'source')::imagestream.image_ref, false);
		IF r.status = 'Unchanged' THEN
			r.image := t.image;
		END IF;
		pull := CASE WHEN r.image IS NOT NULL THEN imagestream.ref_with_digest(
			imagestream.ref_name((job->>'source')::imagestream.image_ref)::imagestream.image_ref, r.image) END;
		IF NOT coalesce(dry_run, false) AND r.status = 'Unchanged' AND t.import_status IS NULL
		   AND t.scheduled = v_sched AND t.insecure = v_insecure AND t.import_mode = v_mode
		   AND t.source_digest = r.source_digest THEN
			NULL;				-- nothing changed: nothing is written, not even a row lock
		ELSIF NOT coalesce(dry_run, false) THEN
			IF gen IS NULL THEN
				new_stream := s.id IS NULL;
				s := imagestream._lock_stream(v_ns, v_stream, true);
				gen := CASE WHEN new_stream THEN s.generation ELSE s.generation + 1 END;
			END IF;
			-- (what one source digest served is catalogued once)
			IF r.status = 'Success' AND NOT (r.source_digest::text || r.image::text) = ANY (catalogued) THEN
				PERFORM imagestream._import_fetched(one, (job->>'source')::imagestream.image_ref, true);
				catalogued := array_append(catalogued, r.source_digest::text || r.image::text);
			END IF;
			IF r.status = 'Failure' THEN
				PERFORM imagestream._record_import_failure(s, job->>'tag', job->>'source', v_sched,
					v_insecure, v_mode, v_policy, r.reason, r.message, NOT coalesce(all_tags, false), gen);
			ELSIF (r.status = 'Success' OR r.status = 'Unchanged') AND coalesce(all_tags, false) THEN
				together := array_append(together, job->>'tag');
				together_sources := array_append(together_sources, job->>'source');
				together_refs := array_append(together_refs, pull);
				together_images := array_append(together_images, r.image);
				together_digests := array_append(together_digests, r.source_digest);
				together_scheduled := array_append(together_scheduled, v_sched);
				together_insecure := array_append(together_insecure, v_insecure);
				together_modes := array_append(together_modes, v_mode);
				together_policies := array_append(together_policies, v_policy);
			ELSIF r.status = 'Success' OR r.status = 'Unchanged' THEN
				PERFORM imagestream._record_import(s, new_stream, job->>'tag', job->>'source', pull,
					r.image, r.source_digest, v_sched, v_insecure, v_mode, v_policy, gen);
			END IF;
		END IF;
		RETURN QUERY SELECT job->>'tag', CASE WHEN r.status = 'Failure' THEN 'Failure' ELSE 'Success' END,
			r.image, pull, r.reason, r.message;
	END LOOP;
	-- the tags _record_imports leaves; all of them when there are few (it
	-- costs about 2 ms a call, one at a time about 0.3 ms a tag; as src/worker.c)
	one_by_one := CASE WHEN cardinality(together) >= 16
		THEN ARRAY(SELECT imagestream._record_imports(s, gen, together, together_sources,
				together_refs, together_images, together_digests, together_scheduled,
				together_insecure, together_modes, together_policies))
		ELSE ARRAY(SELECT generate_series(1, cardinality(together))) END;
	FOREACH k IN ARRAY one_by_one LOOP
		PERFORM imagestream._record_import(s, new_stream, together[k], together_sources[k],
			together_refs[k], together_images[k], together_digests[k], together_scheduled[k],
			together_insecure[k], together_modes[k], together_policies[k], gen);
	END LOOP;
END $$;

CREATE FUNCTION import_image(destination text, from_image text DEFAULT NULL,
	all_tags boolean DEFAULT false, scheduled boolean DEFAULT NULL,
	insecure boolean DEFAULT NULL, reference_policy reference_policy DEFAULT NULL,
	import_mode import_mode DEFAULT NULL, dry_run boolean DEFAULT false)
RETURNS TABLE(tag text, status text, image image_digest, docker_image_reference image_ref,
	reason text, message text)
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C;
COMMENT ON FUNCTION import_image(text, text, boolean, boolean, boolean, reference_policy, import_mode, boolean)
	IS 'oc import-image: import a tag, or every tag of a repository, from its registry now';
-- The background worker's SQL side (SPEC section 7): waking it, recording
-- what it fetched, import_now, and its status.

CREATE FUNCTION _wake_worker() RETURNS void
	AS 'MODULE_PATHNAME', 'imagestream_wake_worker' LANGUAGE C VOLATILE;

CREATE FUNCTION _worker_preloaded() RETURNS boolean
	AS 'MODULE_PATHNAME', 'imagestream_worker_preloaded' LANGUAGE C VOLATILE;

CREATE FUNCTION _worker_status(OUT pid integer, OUT started_at timestamptz,
	OUT last_cycle_at timestamptz, OUT tags_scheduled bigint, OUT tags_checked bigint,
	OUT imports bigint, OUT failures bigint, OUT requests bigint, OUT bytes_received bigint,
	OUT in_flight integer, OUT next_due_at timestamptz)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'imagestream_worker_status' LANGUAGE C VOLATILE;

CREATE VIEW worker_status AS SELECT * FROM imagestream._worker_status();
COMMENT ON VIEW worker_status IS 'the background worker, one row while it runs; counters since it started';

-- The generation the worker's imports into a stream move it to, the stream
-- locked: its tags recorded in one transaction share it (src/worker.c).
CREATE FUNCTION _worker_stream_generation(p_stream_id bigint) RETURNS bigint
LANGUAGE sql SET search_path = pg_catalog, imagestream, pg_temp AS $$
	SELECT generation + 1 FROM imagestream.stream WHERE id = p_stream_id FOR UPDATE
$$;

-- Records what the worker fetched for a tag (src/worker.c), unless the
-- tag's source changed meanwhile.
CREATE FUNCTION _worker_apply(p_tag_id bigint, p_source text, f _fetched,
	p_generation bigint) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, imagestream, pg_temp AS $$
DECLARE
	t imagestream.tag;
	s imagestream.stream;
	repo imagestream.image_ref := imagestream.ref_name(p_source::imagestream.image_ref)::imagestream.image_ref;
BEGIN
	SELECT * INTO t FROM imagestream.tag WHERE id = p_tag_id;
	IF NOT FOUND OR NOT t.has_spec OR t.from_ref IS DISTINCT FROM p_source THEN
		RETURN;
	END IF;
	SELECT * INTO s FROM imagestream.stream WHERE id = t.stream_id FOR UPDATE;
	t := imagestream._lock_tag(s, t.name);
	IF t.import_requested_at IS NOT NULL THEN
		UPDATE imagestream.tag SET import_requested_at = NULL WHERE id = t.id;
	END IF;
	IF f.status = 'Failure' THEN
		PERFORM imagestream._record_failure(t.id, f.reason, f.message, p_generation);
		RETURN;
	END IF;
	PERFORM imagestream._import_fetched(f, p_source::imagestream.image_ref, true);
	PERFORM imagestream._record_import(s, false, t.name, t.from_ref,
		CASE WHEN f.status = 'Success' THEN imagestream.ref_with_digest(repo, f.image)
			 ELSE t.docker_image_reference END,
		CASE WHEN f.status = 'Success' THEN f.image ELSE t.image END,
		f.source_digest, t.scheduled, t.insecure, t.import_mode, t.reference_policy, p_generation);
END $$;

-- _worker_apply for the tags of one stream at once, set-based (src/worker.c):
-- p_generation is the stream's new generation, locked.  It records the tags
-- whose source served an image (Success or Unchanged) with _record_imports
-- and skips those whose source changed meanwhile, as _worker_apply does; it
-- returns the positions (in the arrays) of the tags it leaves to
-- _worker_apply: failures, and those _record_imports leaves.
CREATE FUNCTION _worker_apply_many(p_stream_id bigint, p_tag_ids bigint[], p_sources text[],
	f _fetched[], p_generation bigint) RETURNS SETOF integer
LANGUAGE plpgsql SET search_path = pg_catalog, imagestream, pg_temp AS $$
DECLARE
	s imagestream.stream;
	alone integer[];			-- positions left to _worker_apply
	here boolean[];				-- per position: recorded here
	fe imagestream._fetched;
	shared imagestream._fetched;	-- the last with manifests: those after it with none share them
	catalogued text[] := '{}';		-- source digest and image of each fetch catalogued
	i integer := 0;
	-- the tags recorded here, by their position in the arrays given
	pos integer[];
	names text[];
	sources text[];
	refs imagestream.image_ref[];
	images imagestream.image_digest[];
	source_digests imagestream.image_digest[];
	scheduled boolean[];
	insecure boolean[];
	modes imagestream.import_mode[];
	policies imagestream.reference_policy[];
BEGIN
	SELECT * INTO s FROM imagestream.stream WHERE id = p_stream_id;
	PERFORM 1 FROM imagestream.tag t WHERE t.id = ANY (p_tag_ids) ORDER BY t.id FOR UPDATE;
	-- (unnest expands each _fetched into its columns: u.status, u.image, ...)
	SELECT coalesce(array_agg(x.pos ORDER BY x.pos) FILTER (WHERE x.tag_id IS NOT NULL AND x.alone), '{}'),
		   array_agg(x.tag_id IS NOT NULL AND NOT x.alone ORDER BY x.pos)
	INTO alone, here
	FROM (SELECT u.ordinality::integer AS pos, t.id AS tag_id,
				 u.status IS DISTINCT FROM 'Success' AND u.status IS DISTINCT FROM 'Unchanged'
				 OR (u.status = 'Unchanged' AND t.docker_image_reference IS NULL)
				 OR t.stream_id <> p_stream_id AS alone
		  FROM unnest(p_tag_ids, p_sources, f) WITH ORDINALITY AS u(tag_id, source)
		  LEFT JOIN imagestream.tag t ON t.id = u.tag_id AND t.has_spec AND t.from_ref = u.source) x;
	RETURN QUERY SELECT unnest(alone);
	IF NOT true = ANY (here) THEN
		RETURN;
	END IF;

	-- the catalogue: each fetch once, under the first tag recorded from it
	FOREACH fe IN ARRAY f LOOP
		i := i + 1;
		IF fe.digests IS NOT NULL THEN
			shared := fe;
		END IF;
		IF fe.status = 'Success' AND here[i] AND shared.image = fe.image
		   AND NOT (fe.source_digest::text || fe.image::text) = ANY (catalogued) THEN
			PERFORM imagestream._import_fetched(shared, p_sources[i]::imagestream.image_ref, true);
			catalogued := catalogued || (fe.source_digest::text || fe.image::text);
		END IF;
	END LOOP;

	-- each tag with its own options; Unchanged keeps the tag's pull spec
	SELECT array_agg(u.ordinality ORDER BY u.ordinality), array_agg(t.name ORDER BY u.ordinality),
		   array_agg(t.from_ref ORDER BY u.ordinality),
		   array_agg(CASE WHEN u.status = 'Success'
						  THEN imagestream.ref_with_digest(imagestream.ref_name(t.from_ref::imagestream.image_ref)::imagestream.image_ref,
														   u.image)
						  ELSE t.docker_image_reference END ORDER BY u.ordinality),
		   array_agg(CASE WHEN u.status = 'Success' THEN u.image ELSE t.image END ORDER BY u.ordinality),
		   array_agg(u.source_digest ORDER BY u.ordinality), array_agg(t.scheduled ORDER BY u.ordinality),
		   array_agg(t.insecure ORDER BY u.ordinality), array_agg(t.import_mode ORDER BY u.ordinality),
		   array_agg(t.reference_policy ORDER BY u.ordinality)
	INTO pos, names, sources, refs, images, source_digests, scheduled, insecure, modes, policies
	FROM unnest(p_tag_ids, f) WITH ORDINALITY AS u(tag_id)
	JOIN imagestream.tag t ON t.id = u.tag_id
	WHERE here[u.ordinality];
	RETURN QUERY
		SELECT pos[k] FROM imagestream._record_imports(s, p_generation, names, sources, refs, images,
			source_digests, scheduled, insecure, modes, policies, true) AS k;
END $$;

-- import_now: the tag, every importable tag of the stream, or (NULL) every
-- scheduled tag the caller may edit is due now; the worker wakes at commit.
CREATE FUNCTION _api_import_now(target text DEFAULT NULL) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
DECLARE
	d record;
	marked integer;
BEGIN
	-- The streams first, in id order, as the worker and every writer lock
	-- them: marking tags row by row otherwise deadlocks with the worker,
	-- which holds a stream's tags while it records a chunk.
	IF target IS NULL THEN
		PERFORM 1 FROM imagestream.stream s
		WHERE EXISTS (SELECT 1 FROM imagestream.tag t WHERE t.stream_id = s.id AND t.has_spec
					  AND t.from_kind = 'DockerImage' AND NOT t.reference AND t.scheduled
					  AND imagestream._can(t.namespace, 'edit'))
		ORDER BY s.id FOR UPDATE;
		UPDATE imagestream.tag t SET import_requested_at = now()
		WHERE t.has_spec AND t.from_kind = 'DockerImage' AND NOT t.reference AND t.scheduled
		  AND imagestream._can(t.namespace, 'edit');
		GET DIAGNOSTICS marked = ROW_COUNT;
	ELSIF strpos(target, ':') > 0 THEN
		d := imagestream._parse_tag(target);
		PERFORM imagestream._require(d.namespace, 'edit');
		PERFORM 1 FROM imagestream.stream s WHERE s.namespace = d.namespace AND s.name = d.stream FOR UPDATE;
		UPDATE imagestream.tag t SET import_requested_at = now()
		WHERE t.namespace = d.namespace AND t.stream = d.stream AND t.name = d.tag
		  AND t.has_spec AND t.from_kind = 'DockerImage' AND NOT t.reference;
		GET DIAGNOSTICS marked = ROW_COUNT;
		IF marked = 0 THEN
			IF NOT EXISTS (SELECT 1 FROM imagestream.tag t WHERE t.namespace = d.namespace
						   AND t.stream = d.stream AND t.name = d.tag) THEN
				RAISE EXCEPTION 'image stream tag "%" does not exist', target
					USING ERRCODE = 'undefined_object';
			END IF;
			RAISE EXCEPTION 'image stream tag "%" is not imported from a registry', target
				USING ERRCODE = 'invalid_parameter_value',
					HINT = 'Only tags from a container image (DockerImage), not references, are imported.';
		END IF;
	ELSE
		d := imagestream._parse_stream(target);
		PERFORM imagestream._require(d.namespace, 'edit');
		PERFORM 1 FROM imagestream.stream s WHERE s.namespace = d.namespace AND s.name = d.name FOR UPDATE;
		IF NOT FOUND THEN
			RAISE EXCEPTION 'image stream "%" does not exist', target USING ERRCODE = 'undefined_object';
		END IF;
		UPDATE imagestream.tag t SET import_requested_at = now()
		WHERE t.namespace = d.namespace AND t.stream = d.name
		  AND t.has_spec AND t.from_kind = 'DockerImage' AND NOT t.reference;
		GET DIAGNOSTICS marked = ROW_COUNT;
	END IF;
	IF marked > 0 THEN
		PERFORM imagestream._wake_worker();
	END IF;
	RETURN marked;
END $$;

CREATE FUNCTION import_now(target text DEFAULT NULL) RETURNS integer
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C;
COMMENT ON FUNCTION import_now(text) IS 'ask the worker to import a tag, a stream''s tags, or every scheduled tag, now (for registry webhooks)';

-- (A WARNING: CREATE EXTENSION hides the NOTICEs of its script.)
DO $$
BEGIN
	IF NOT imagestream._worker_preloaded() THEN
		RAISE WARNING 'the imagestream background worker is not running: scheduled and pending tags are imported only by import_image()'
			USING HINT = 'Add imagestream to shared_preload_libraries and restart the server.';
	END IF;
END $$;
-- Views of SPEC section 4, each showing only namespaces the caller may view.
-- They run as their owner, so they filter with _can() themselves;
-- security_barrier keeps the filter ahead of any function a caller adds.

-- Called by the view image_streams as the caller, under the caller's
-- search_path: every function and operator is named by schema.
CREATE FUNCTION _local_repository(ns text, name text) RETURNS text
LANGUAGE sql STABLE AS $$
	SELECT CASE WHEN pg_catalog.current_setting('imagestream.local_registry', true) OPERATOR(pg_catalog.<>) ''
		THEN pg_catalog.concat_ws('/', pg_catalog.current_setting('imagestream.local_registry', true), ns, name) END
$$;

CREATE VIEW image_streams WITH (security_barrier) AS
SELECT s.namespace, s.name, s.generation, s.lookup_local,
	imagestream._local_repository(s.namespace, s.name) AS local_repository,
	coalesce((SELECT array_agg(t.name ORDER BY t.name COLLATE "C") FROM imagestream.tag t
			  WHERE t.stream_id = s.id), '{}') AS tags,
	(SELECT max(t.created) FROM imagestream.tag t WHERE t.stream_id = s.id) AS updated,
	s.annotations
FROM imagestream.stream s
WHERE imagestream._can(s.namespace, 'view');
COMMENT ON VIEW image_streams IS 'oc get is';

CREATE VIEW image_stream_tags WITH (security_barrier) AS
SELECT t.namespace, t.stream, t.name AS tag,
	CASE WHEN t.has_spec THEN t.from_kind END AS from_kind,
	CASE WHEN t.has_spec THEN t.from_ref END AS from_ref,
	CASE WHEN t.has_spec THEN t.reference END AS reference,
	CASE WHEN t.has_spec THEN t.scheduled END AS scheduled,
	CASE WHEN t.has_spec THEN t.insecure END AS insecure,
	CASE WHEN t.has_spec THEN t.import_mode END AS import_mode,
	CASE WHEN t.has_spec THEN t.reference_policy END AS reference_policy,
	t.spec_generation,
	t.image, t.docker_image_reference,
	imagestream._pull_spec(t) AS pull_spec,
	t.created, t.status_generation,
	coalesce(t.has_spec AND t.from_kind = 'DockerImage' AND NOT t.reference
			 AND t.spec_generation > greatest(coalesce(t.status_generation, 0),
											 coalesce(t.import_generation, 0)), false) AS pending,
	t.import_status, t.import_reason, t.import_message,
	t.history_length
FROM imagestream.tag t
WHERE imagestream._can(t.namespace, 'view');
COMMENT ON VIEW image_stream_tags IS 'oc get istag: one row per spec or status tag';

-- Images held by a stream the caller may view: in a history, or a child of
-- an index that is.
CREATE VIEW images WITH (security_barrier) AS
SELECT i.digest, i.media_type,
	-- the catalogue keeps one pull spec per image, of whichever stream
	-- catalogued it first; a viewer reads one of a stream it may view
	-- (security finding S5)
	CASE WHEN imagestream._privileged() THEN i.docker_image_reference
		 ELSE coalesce(
			(SELECT h.docker_image_reference
			 FROM imagestream._history h JOIN imagestream.tag t ON t.id = h.tag_id
			 WHERE h.image = i.digest AND imagestream._can(t.namespace, 'view')
			 ORDER BY h.created DESC LIMIT 1),
			(SELECT imagestream.ref_with_digest(
						imagestream.ref_name(h.docker_image_reference)::imagestream.image_ref, i.digest)
			 FROM imagestream.image_child c
			 JOIN imagestream._history h ON h.image = c.image
			 JOIN imagestream.tag t ON t.id = h.tag_id
			 WHERE c.digest = i.digest AND imagestream._can(t.namespace, 'view')
			 ORDER BY h.created DESC LIMIT 1)) END AS docker_image_reference,
	i.size, i.os, i.architecture,
	i.variant, i.created, i.labels, i.config,
	coalesce((SELECT array_agg(l.digest ORDER BY l.position) FROM imagestream.image_layer l
			  WHERE l.image = i.digest), '{}') AS layers,
	coalesce((SELECT array_agg(c.digest ORDER BY c.position) FROM imagestream.image_child c
			  WHERE c.image = i.digest), '{}') AS manifests,
	i.imported_at
FROM imagestream.image i
WHERE imagestream._privileged()
   OR EXISTS (SELECT 1 FROM imagestream._history h JOIN imagestream.tag t ON t.id = h.tag_id
			  WHERE h.image = i.digest AND imagestream._can(t.namespace, 'view'))
   OR EXISTS (SELECT 1 FROM imagestream.image_child c
			  JOIN imagestream._history h ON h.image = c.image
			  JOIN imagestream.tag t ON t.id = h.tag_id
			  WHERE c.digest = i.digest AND imagestream._can(t.namespace, 'view'));
COMMENT ON VIEW images IS 'the image catalogue, as far as the caller''s streams hold it';

-- Tag events, of tags the caller may view, with their whole pull spec (the
-- tables under it are the extension's own).
CREATE VIEW history WITH (security_barrier) AS
SELECT h.tag_id, h.seq, h.created, h.docker_image_reference, h.image, h.generation
FROM imagestream._history h JOIN imagestream.tag t ON t.id = h.tag_id
WHERE imagestream._can(t.namespace, 'view');
COMMENT ON VIEW history IS 'tag events (OpenShift TagEvent), newest of a tag by largest seq';
-- Privileges (SPEC section 8).  Tables are written only through the API
-- functions; ordinary roles read them under row-level security, namespace by
-- namespace.  Credentials are the extension owner's alone.

REVOKE ALL ON ALL TABLES IN SCHEMA imagestream FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA imagestream FROM PUBLIC;
GRANT USAGE ON SCHEMA imagestream TO PUBLIC;

GRANT SELECT ON stream, tag, change, image_layer, image_child,
	namespace_grant TO PUBLIC;
-- (not the catalogue's pull spec, which may be another namespace's: the
-- images view gives each viewer one of its own streams')
GRANT SELECT (digest, media_type, manifest, size, os, architecture, variant, created,
	labels, config, imported_at) ON image TO PUBLIC;
GRANT SELECT ON image_streams, image_stream_tags, images, history, worker_status TO PUBLIC;

ALTER TABLE stream ENABLE ROW LEVEL SECURITY;
ALTER TABLE tag ENABLE ROW LEVEL SECURITY;
ALTER TABLE change ENABLE ROW LEVEL SECURITY;
ALTER TABLE image ENABLE ROW LEVEL SECURITY;
ALTER TABLE image_layer ENABLE ROW LEVEL SECURITY;
ALTER TABLE image_child ENABLE ROW LEVEL SECURITY;
ALTER TABLE namespace_grant ENABLE ROW LEVEL SECURITY;
ALTER TABLE registry_credential ENABLE ROW LEVEL SECURITY;

CREATE POLICY view_namespace ON stream FOR SELECT USING (_can(namespace, 'view'));
CREATE POLICY view_namespace ON tag FOR SELECT USING (_can(namespace, 'view'));
CREATE POLICY view_namespace ON change FOR SELECT USING (_can(namespace, 'view'));
CREATE POLICY admin_namespace ON namespace_grant FOR SELECT USING (_can(namespace, 'admin'));
CREATE POLICY held_by_visible_stream ON image FOR SELECT
	USING (EXISTS (SELECT 1 FROM images v WHERE v.digest = image.digest));
CREATE POLICY held_by_visible_stream ON image_layer FOR SELECT
	USING (EXISTS (SELECT 1 FROM images v WHERE v.digest = image_layer.image));
CREATE POLICY held_by_visible_stream ON image_child FOR SELECT
	USING (EXISTS (SELECT 1 FROM images v WHERE v.digest = image_child.image));

-- Internal functions (named with a leading underscore) are not for callers,
-- except the read-only ones that views, policies and resolve() call as the
-- caller.
DO $$
DECLARE
	f regprocedure;
BEGIN
	FOR f IN SELECT p.oid::regprocedure FROM pg_proc p
			 WHERE p.pronamespace = 'imagestream'::regnamespace AND p.proname LIKE '\_%'
			   AND p.proname NOT IN ('_can', '_privileged', '_calling_role', '_level_rank',
									 '_pull_spec', '_pull_spec_of', '_local_repository', '_worker_status',
									 '_check_names', '_name_error')
	LOOP
		EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
	END LOOP;
END $$;
-- The model's invariants, checked over all the data (doc/reliability.md).
-- Returns one row per violation: none when the model is sound.  The tests
-- end with it, after concurrency, crashes and restarts.

CREATE FUNCTION _api_check_invariants() RETURNS TABLE(invariant text, object text, detail text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, imagestream, pg_temp AS $$
BEGIN
	PERFORM imagestream._require_privileged('check the invariants');

	-- a tag repeats its stream's names
	RETURN QUERY
		SELECT 'tag names its stream', format('%s/%s:%s', t.namespace, t.stream, t.name),
			format('stream %s is %s/%s', s.id, s.namespace, s.name)
		FROM imagestream.tag t JOIN imagestream.stream s ON s.id = t.stream_id
		WHERE (t.namespace, t.stream) IS DISTINCT FROM (s.namespace, s.name);

	-- the head columns are the newest event; history_length counts the events
	RETURN QUERY
		SELECT 'tag head is its newest event', format('%s/%s:%s', t.namespace, t.stream, t.name),
			format('head %s %s gen %s len %s; newest %s %s gen %s, %s events',
				   t.docker_image_reference, t.image, t.status_generation, t.history_length,
				   h.docker_image_reference, h.image, h.generation, n.events)
		FROM imagestream.tag t
		CROSS JOIN LATERAL (SELECT count(*) AS events FROM imagestream._history x
							WHERE x.tag_id = t.id) n
		LEFT JOIN LATERAL (SELECT * FROM imagestream._history x WHERE x.tag_id = t.id
						   ORDER BY x.seq DESC LIMIT 1) h ON true
		WHERE t.history_length <> n.events
		   OR t.docker_image_reference::text IS DISTINCT FROM h.docker_image_reference::text
		   OR t.image::text IS DISTINCT FROM h.image::text
		   OR t.created IS DISTINCT FROM h.created
		   OR t.status_generation IS DISTINCT FROM h.generation;

	-- consecutive events differ (an equal one collapses into the head)
	RETURN QUERY
		SELECT 'consecutive events differ', format('%s/%s:%s', t.namespace, t.stream, t.name),
			format('events %s and %s: %s %s', p.prev_seq, p.seq, p.docker_image_reference, p.image)
		FROM (SELECT h.*, lag(h.seq) OVER w AS prev_seq,
					 lag(h.docker_image_reference::text) OVER w AS prev_ref,
					 lag(h.image::text) OVER w AS prev_image
			  FROM imagestream._history h WINDOW w AS (PARTITION BY h.tag_id ORDER BY h.seq)) p
		JOIN imagestream.tag t ON t.id = p.tag_id
		WHERE p.prev_seq IS NOT NULL AND p.prev_ref = p.docker_image_reference::text
		  AND p.prev_image IS NOT DISTINCT FROM p.image::text;

	-- an event's reference, when it has a digest, has its image's
	RETURN QUERY
		SELECT 'event reference names its image', format('%s/%s:%s', t.namespace, t.stream, t.name),
			format('event %s: %s, image %s', h.seq, h.docker_image_reference, h.image)
		FROM imagestream._history h JOIN imagestream.tag t ON t.id = h.tag_id
		WHERE imagestream.ref_digest(h.docker_image_reference) IS NOT NULL
		  AND imagestream.ref_digest(h.docker_image_reference)::text IS DISTINCT FROM h.image::text;

	-- every event has a pull spec: history_ref keeps one by its repository
	-- only for events with a digest to rebuild it with
	RETURN QUERY
		SELECT 'event has a pull spec', format('%s/%s:%s', t.namespace, t.stream, t.name),
			format('event %s', h.seq)
		FROM imagestream._history h JOIN imagestream.tag t ON t.id = h.tag_id
		WHERE h.docker_image_reference IS NULL;

	-- every event's image is in the catalogue (reference-only events have none)
	RETURN QUERY
		SELECT 'event image catalogued', format('%s/%s:%s', t.namespace, t.stream, t.name),
			format('event %s: image %s', h.seq, h.image)
		FROM imagestream._history h JOIN imagestream.tag t ON t.id = h.tag_id
		WHERE h.image IS NOT NULL
		  AND NOT EXISTS (SELECT 1 FROM imagestream.image i WHERE i.digest = h.image);

	-- generations never exceed the stream's, events' never decrease
	RETURN QUERY
		SELECT 'generations within the stream', format('%s/%s:%s', t.namespace, t.stream, t.name),
			format('stream %s, spec %s, status %s, condition %s', s.generation, t.spec_generation,
				   t.status_generation, t.import_generation)
		FROM imagestream.tag t JOIN imagestream.stream s ON s.id = t.stream_id
		WHERE t.spec_generation > s.generation OR t.status_generation > s.generation
		   OR t.import_generation > s.generation;
	RETURN QUERY
		SELECT 'event generations never decrease', format('%s/%s:%s', t.namespace, t.stream, t.name),
			format('event %s has generation %s after %s', p.seq, p.generation, p.prev_generation)
		FROM (SELECT h.*, lag(h.generation) OVER (PARTITION BY h.tag_id ORDER BY h.seq) AS prev_generation
			  FROM imagestream._history h) p
		JOIN imagestream.tag t ON t.id = p.tag_id
		WHERE p.generation < p.prev_generation;

	-- the ImportSuccess condition: complete when set, empty when not
	RETURN QUERY
		SELECT 'condition consistent', format('%s/%s:%s', t.namespace, t.stream, t.name),
			format('status %s, reason %s, generation %s, transition %s', t.import_status,
				   t.import_reason, t.import_generation, t.import_transition)
		FROM imagestream.tag t
		WHERE (t.import_status IS NULL AND (t.import_reason IS NOT NULL OR t.import_message IS NOT NULL
											OR t.import_generation IS NOT NULL OR t.import_transition IS NOT NULL))
		   OR (t.import_status = 'False' AND (t.import_reason IS NULL OR t.import_generation IS NULL
											  OR t.import_transition IS NULL OR NOT t.has_spec));

	-- a tag that exists has a spec, an event or a condition
	RETURN QUERY
		SELECT 'no empty tags', format('%s/%s:%s', t.namespace, t.stream, t.name), 'no spec, history or condition'
		FROM imagestream.tag t
		WHERE NOT t.has_spec AND t.history_length = 0 AND t.import_status IS NULL;

	-- a tag that follows a tag of its stream shows that tag's current event
	RETURN QUERY
		SELECT 'alias equals its source', format('%s/%s:%s', f.namespace, f.stream, f.name),
			format('shows %s, source %s shows %s', f.docker_image_reference, f.from_ref, s.docker_image_reference)
		FROM imagestream.tag f
		JOIN imagestream.tag s ON s.stream_id = f.stream_id
			AND f.from_ref = format('%s/%s:%s', s.namespace, s.stream, s.name)
		WHERE f.has_spec AND f.from_kind = 'ImageStreamTag' AND NOT f.reference
		  AND s.docker_image_reference IS NOT NULL
		  AND (f.docker_image_reference::text IS DISTINCT FROM s.docker_image_reference::text
			   OR f.image::text IS DISTINCT FROM s.image::text);

	-- catalogue rows of an image belong to an image that is catalogued
	RETURN QUERY
		SELECT 'no orphan catalogue rows', c.image::text, 'image_child of an uncatalogued image'
		FROM imagestream.image_child c
		WHERE NOT EXISTS (SELECT 1 FROM imagestream.image i WHERE i.digest = c.image)
		UNION ALL
		SELECT 'no orphan catalogue rows', l.image::text, 'image_layer of an uncatalogued image'
		FROM imagestream.image_layer l
		WHERE NOT EXISTS (SELECT 1 FROM imagestream.image i WHERE i.digest = l.image);

	-- change ids are dense from the oldest kept
	RETURN QUERY
		SELECT 'change ids dense', 'change', format('%s rows from id %s to %s', count(*), min(id), max(id))
		FROM imagestream.change
		HAVING count(*) > 0 AND max(id) - min(id) + 1 <> count(*);
END $$;

CREATE FUNCTION check_invariants() RETURNS TABLE(invariant text, object text, detail text)
	AS 'MODULE_PATHNAME', 'imagestream_api_call' LANGUAGE C STABLE;
REVOKE ALL ON FUNCTION _api_check_invariants() FROM PUBLIC;
COMMENT ON FUNCTION check_invariants() IS 'the model''s invariants: one row per violation, none when sound';
