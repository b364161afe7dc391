-- Issue 19: registry_event (src/sql/code/295_registry_event.sql) finds the
-- tags that follow a pushed reference, and the scheduled repositories of a
-- pushed repository, through these indexes, never by a scan.  The tag
-- index's columns are changed by spec edits only, so the import path's
-- updates of a tag stay HOT.

CREATE INDEX tag_sources ON tag (from_ref) WHERE has_spec AND from_kind = 'DockerImage';
CREATE INDEX stream_repository_scheduled ON stream_repository (repository) WHERE scheduled;
