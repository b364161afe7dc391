-- Issue 21: a fetch looks up the cosign signatures of what it found
-- (doc/import.md, "Signatures"), for tags with a signature gate: _fetched
-- carries them (src/sql/schema/50_import_types.sql).
ALTER TYPE _fetched ADD ATTRIBUTE signature_payloads bytea[],
	ADD ATTRIBUTE signature_values text[], ADD ATTRIBUTE signature_error text;
