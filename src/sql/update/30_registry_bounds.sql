-- What one import reads from a registry is bounded (finding S15,
-- doc/security.md): the tag list is read a page at a time and only its
-- names are kept, so _registry_tags replaces _registry_tag_pages, which
-- returned every page, and import_image(all_tags) takes the names.
-- _import_fetched plans its statements generically.

DROP FUNCTION _registry_tag_pages(image_ref, boolean);
