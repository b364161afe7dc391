-- Issue 17: names are split and refused in C (src/names.c); nothing raises
-- through _name_error any more.

DROP FUNCTION _name_error(text, text, text);
