-- imagestream 0.2.0 -> 0.3.0
--
-- Built from src/sql/update/*.sql in name order, one piece per concern; each
-- piece carries what its concern changed in src/sql/*.sql since 0.2.0.
-- test/t/040_upgrade.pl checks that an updated 0.2.0 dumps the same as a new
-- 0.3.0.

\echo Use "ALTER EXTENSION imagestream UPDATE TO '0.3.0'" to load this file. \quit
