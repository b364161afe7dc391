-- Issue 21, item 4: protected tags (doc/gates.md); the same table as
-- src/sql/schema/57_protected_tags.sql.

CREATE TABLE protected_tag (
	namespace text COLLATE "C" NOT NULL,
	pattern text COLLATE "C" NOT NULL,
	created_by text NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (namespace, pattern)
);
COMMENT ON TABLE protected_tag IS 'patterns of the tags of a namespace that do not move once they have an image';

SELECT pg_catalog.pg_extension_config_dump('protected_tag', '');
