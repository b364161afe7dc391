-- Retention (doc/gates.md): the history a namespace keeps, applied by the
-- worker once an hour with prune's rules (src/sql/code/256_retention.sql).
-- A NULL part is no such limit; a row with neither is no rule, and goes.
-- applied_at: when the worker last applied it (NULL: not yet, or changed
-- since).
CREATE TABLE namespace_retention (
	namespace text COLLATE "C" PRIMARY KEY,
	keep_tag_revisions integer,
	keep_younger_than interval,
	applied_at timestamptz,
	CHECK (keep_tag_revisions IS NOT NULL OR keep_younger_than IS NOT NULL)
);
COMMENT ON TABLE namespace_retention IS 'the history retention rule of a namespace';

SELECT pg_catalog.pg_extension_config_dump('namespace_retention', '');
