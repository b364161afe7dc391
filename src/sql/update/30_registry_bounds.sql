-- What one import reads from a registry is bounded (finding S15,
-- doc/security.md): the tag list is read a page at a time and only its
-- names are kept, so _registry_tags replaces _registry_tag_pages, which
-- returned every page, and import_image(all_tags) takes the names (its
-- body is created in 50_catalogue_isolation.sql, with the change of S16).
-- _import_fetched plans its statements generically.

DROP FUNCTION _registry_tag_pages(image_ref, boolean);

-- The tags of a repository's tag list, in the registry's order (src/registry.c).
CREATE FUNCTION _registry_tags(ref image_ref, insecure boolean,
	OUT status text, OUT reason text, OUT message text, OUT tags text[])
	AS 'MODULE_PATHNAME', 'imagestream_registry_tags' LANGUAGE C VOLATILE STRICT;
REVOKE ALL ON FUNCTION _registry_tags(image_ref, boolean) FROM PUBLIC;

-- Cataloguing what an import fetched copies each big value once, not once
-- for each place a custom plan uses it.
ALTER FUNCTION _import_fetched(_fetched, image_ref, boolean) SET plan_cache_mode = force_generic_plan;

