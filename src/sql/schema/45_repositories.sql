-- The repository a stream was bulk-imported from (OpenShift's
-- spec.dockerImageRepository, doc/import.md): import_image(all_tags) and,
-- when scheduled, the worker list it again and add the tags new upstream,
-- with the import policy kept here.  list_reason and list_message are the
-- failure of its last listing (NULL after a success), as a tag's
-- ImportSuccess=False condition.
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
-- the scheduled repositories of a pushed repository, for registry_event
CREATE INDEX stream_repository_scheduled ON stream_repository (repository) WHERE scheduled;
COMMENT ON TABLE stream_repository IS 'the repository a stream imports all tags of (OpenShift spec.dockerImageRepository)';
SELECT pg_catalog.pg_extension_config_dump('stream_repository', '');
