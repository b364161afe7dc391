-- imagestream 0.2.0 -> 0.3.0
--
-- Built from src/sql/update/*.sql in name order, then src/sql/code/*.sql
-- (the same code as the install script's, which can run again): a piece
-- here holds, for one concern, what running the code cannot do (new tables,
-- columns and types, data migrations, DROP of what changed its signature).
-- test/t/040_upgrade.pl checks that an updated 0.2.0 dumps the same as a new
-- 0.3.0.

\echo Use "ALTER EXTENSION imagestream UPDATE TO '0.3.0'" to load this file. \quit
