-- Issue 18, review finding R2: OpenShift's tag order is ranked in C
-- (src/tag_order.c), which also leaves out the tags a stream has and stops
-- at the room left, so that a hostile registry's page of a million names
-- costs one sort, not a PL/pgSQL parse of each name.
DROP FUNCTION _prioritize_tags(text[]);
DROP FUNCTION _tag_priority(text);
