-- Issue 17: an import's recording takes its tags as _tag_import values
-- (src/sql/schema/50_import_types.sql), where _record_import took nine
-- arguments and _record_imports nine parallel arrays.

CREATE TYPE _tag_import AS (tag text, source text, ref image_ref, image image_digest,
	source_digest image_digest, scheduled boolean, insecure boolean, mode import_mode,
	policy reference_policy);
DROP FUNCTION _record_import(stream, boolean, text, text, image_ref, image_digest, image_digest,
	boolean, boolean, import_mode, reference_policy, bigint);
DROP FUNCTION _record_imports(stream, bigint, text[], text[], image_ref[], image_digest[],
	image_digest[], boolean[], boolean[], import_mode[], reference_policy[], boolean);
