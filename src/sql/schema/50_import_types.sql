-- The composite types that the import's functions pass around
-- (src/sql/code/150_fetch.sql and after).

-- What a fetch of a source found (src/fetch.c).
CREATE TYPE _fetched AS (status text, reason text, message text, retry_after integer,
	image image_digest, source_digest image_digest, digests image_digest[],
	media_types text[], manifests bytea[], configs bytea[]);
