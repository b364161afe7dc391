-- The composite types that the import's functions pass around
-- (src/sql/code/140_fetch.sql and after).

-- What a fetch of a source found (src/fetch.c); the signatures of
-- source_digest when the fetch looked them up (src/signature_fetch.c; NULL
-- arrays when it did not), and why some may be missing.
CREATE TYPE _fetched AS (status text, reason text, message text, retry_after integer,
	image image_digest, source_digest image_digest, digests image_digest[],
	media_types text[], manifests bytea[], configs bytea[],
	signature_payloads bytea[], signature_values text[], signature_error text);

-- A tag's import to record (src/sql/code/160_record_import.sql): the tag,
-- its source, the event (ref, image), what the source served and the
-- options the import sets.
CREATE TYPE _tag_import AS (tag text, source text, ref image_ref, image image_digest,
	source_digest image_digest, scheduled boolean, insecure boolean, mode import_mode,
	policy reference_policy);
