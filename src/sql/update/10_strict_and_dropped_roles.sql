
-- Issue 15, finding S13: C functions that read NULL arguments.  The library
-- checks every argument a function reads; those with no optional argument
-- are STRICT.
ALTER FUNCTION _registry_tag_pages(image_ref, boolean) STRICT;
