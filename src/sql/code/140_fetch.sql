-- Fetching from registries (doc/functions.md, doc/import.md): the network I/O is C
-- (src/fetch_sql.c and below it, doc/architecture.md); what a fetch found comes
-- back as a _fetched (src/sql/schema/50_import_types.sql).  Each sends the
-- stored credentials of namespace (its own first, then the server-wide
-- ones; NULL: only the server-wide ones), the namespace the import is for.
-- With signatures, a fetch that finds a new image also looks up the cosign
-- signatures of what the reference resolved to (doc/import.md, "Signatures").

CREATE OR REPLACE FUNCTION _fetch_source(ref image_ref, insecure boolean, preserve boolean,
	known image_digest, prefer_os text, prefer_arch text, namespace text,
	signatures boolean DEFAULT false) RETURNS _fetched
	AS 'MODULE_PATHNAME', 'imagestream_fetch_source' LANGUAGE C VOLATILE;

-- _fetch_source for many sources at once (src/fetch_many.c), in their order:
-- the HEAD requests concurrently, each distinct new digest fetched once.
CREATE OR REPLACE FUNCTION _fetch_sources(refs image_ref[], insecure boolean[], preserve boolean[],
	known image_digest[], prefer_os text[], prefer_arch text[], namespace text,
	signatures boolean[] DEFAULT NULL) RETURNS SETOF _fetched
	AS 'MODULE_PATHNAME', 'imagestream_fetch_sources' LANGUAGE C VOLATILE;

-- Whether the fetches of a tag whose gate is g (NULL: it has none) look up
-- signatures: its gate names the keys that must have signed its image
-- (tag_gate.signed_by).  The one rule, for import_image (280) and the
-- worker's _due_tags() (290), which join the gate; an expression, so that
-- the planner inlines it where a million tags are read.
CREATE OR REPLACE FUNCTION _signatures_wanted(g tag_gate) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
	SELECT g.signed_by IS NOT NULL
$$;

-- The tags of a repository's tag list, in the registry's order (src/registry.c);
-- NULL for a NULL ref or insecure.
CREATE OR REPLACE FUNCTION _registry_tags(ref image_ref, insecure boolean, namespace text,
	OUT status text, OUT reason text, OUT message text, OUT tags text[])
	AS 'MODULE_PATHNAME', 'imagestream_registry_tags' LANGUAGE C VOLATILE;

