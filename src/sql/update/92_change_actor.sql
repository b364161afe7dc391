-- Issue 18: the change log records who made each change (actor) and the
-- route of a change made on a role's behalf (via), as a new installation's
-- does (src/sql/schema/40_tables.sql); rows written before have neither.

ALTER TABLE change
	ADD COLUMN actor text,
	ADD COLUMN via text CHECK (via IN ('policy', 'registry_event', 'promote', 'approve', 'trigger'));
