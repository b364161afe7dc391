-- Issue 18, item 5: a stream remembers the repository it was bulk-imported
-- from (OpenShift's spec.dockerImageRepository, doc/import.md), which
-- import_image(all_tags) and the worker list again for new tags.  (The view
-- image_streams gains two columns at its end: its CREATE OR REPLACE in
-- src/sql/code/310_views.sql replaces 0.2.0's.)

CREATE TABLE stream_repository (
	stream_id bigint PRIMARY KEY REFERENCES stream ON DELETE CASCADE,
	repository image_ref NOT NULL,
	scheduled boolean NOT NULL DEFAULT false,
	insecure boolean NOT NULL DEFAULT false,
	import_mode import_mode NOT NULL DEFAULT 'Legacy',
	reference_policy reference_policy NOT NULL DEFAULT 'Source',
	list_reason text,
	list_message text,
	list_transition timestamptz,
	-- a push announced (registry_event): the worker lists it at once
	requested_at timestamptz,
	CHECK ((list_reason IS NULL) = (list_transition IS NULL))
);
COMMENT ON TABLE stream_repository IS 'the repository a stream imports all tags of (OpenShift spec.dockerImageRepository)';
SELECT pg_catalog.pg_extension_config_dump('stream_repository', '');
