-- Protected tags (doc/gates.md): patterns, in LIKE syntax on "stream:tag",
-- of the tags of a namespace that never move and are never removed once
-- they have an image (the rule: src/sql/code/115_protection.sql).
-- created_by: the role that protected it, as the change log names actors.
CREATE TABLE protected_tag (
	namespace text COLLATE "C" NOT NULL,
	pattern text COLLATE "C" NOT NULL,
	created_by text NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (namespace, pattern)
);
COMMENT ON TABLE protected_tag IS 'patterns of the tags of a namespace that do not move once they have an image';

SELECT pg_catalog.pg_extension_config_dump('protected_tag', '');
