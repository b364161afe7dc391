-- imagestream: OpenShift image streams in PostgreSQL.
-- Built from src/sql/*.sql in name order; edit those files, not this one.

\echo Use "CREATE EXTENSION imagestream" to load this file. \quit
