-- Fetching from registries (doc/functions.md, doc/import.md): the network I/O is C
-- (src/fetch_sql.c and below it, doc/architecture.md); what a fetch found comes
-- back as a _fetched (src/sql/schema/50_import_types.sql).  Each sends the
-- stored credentials of namespace (its own first, then the server-wide
-- ones; NULL: only the server-wide ones), the namespace the import is for.

CREATE OR REPLACE FUNCTION _fetch_source(ref image_ref, insecure boolean, preserve boolean,
	known image_digest, prefer_os text, prefer_arch text, namespace text) RETURNS _fetched
	AS 'MODULE_PATHNAME', 'imagestream_fetch_source' LANGUAGE C VOLATILE;

-- _fetch_source for many sources at once (src/fetch_many.c), in their order:
-- the HEAD requests concurrently, each distinct new digest fetched once.
CREATE OR REPLACE FUNCTION _fetch_sources(refs image_ref[], insecure boolean[], preserve boolean[],
	known image_digest[], prefer_os text[], prefer_arch text[], namespace text) RETURNS SETOF _fetched
	AS 'MODULE_PATHNAME', 'imagestream_fetch_sources' LANGUAGE C VOLATILE;

-- The tags of a repository's tag list, in the registry's order (src/registry.c);
-- NULL for a NULL ref or insecure.
CREATE OR REPLACE FUNCTION _registry_tags(ref image_ref, insecure boolean, namespace text,
	OUT status text, OUT reason text, OUT message text, OUT tags text[])
	AS 'MODULE_PATHNAME', 'imagestream_registry_tags' LANGUAGE C VOLATILE;

