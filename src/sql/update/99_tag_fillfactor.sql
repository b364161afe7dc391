-- Issue 19 ("without losing HOT updates on the import path"): room on each
-- page of tag for the rows its imports rewrite (src/sql/schema/40_tables.sql);
-- pages written before the update get it as they are rewritten.
ALTER TABLE tag SET (fillfactor = 80);
