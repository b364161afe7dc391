-- Semantic versions and ranges as Masterminds/semver v3.2.0 reads them
-- (src/semver.c; doc/policies.md, "Semantic versions").  They read nothing
-- but their arguments, so every role may call them.

CREATE OR REPLACE FUNCTION semver_compare(a text, b text) RETURNS integer
	AS 'MODULE_PATHNAME', 'semver_compare_text'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION semver_compare(text, text) IS '-1, 0 or 1 as version a sorts before, with or after version b (semver precedence; build metadata ignored)';

CREATE OR REPLACE FUNCTION semver_satisfies(version text, range text) RETURNS boolean
	AS 'MODULE_PATHNAME', 'semver_satisfies_text'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION semver_satisfies(text, text) IS 'does the version satisfy the range (Masterminds/semver constraints, as Flux image policies read them)?';
