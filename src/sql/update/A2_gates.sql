-- Issue 21: gates (doc/gates.md): a tag says whether it has any, and the
-- gates' tables are those of src/sql/schema/55_gates.sql.
-- (set row by row, not as a stored default: a table made by the update is
-- then the one a new installation makes, to pg_dump --binary-upgrade too)
ALTER TABLE tag ADD COLUMN gated boolean;
UPDATE tag SET gated = false;
ALTER TABLE tag ALTER COLUMN gated SET DEFAULT false, ALTER COLUMN gated SET NOT NULL;

-- The gates of a tag (set_gates); a NULL column is no such gate.
CREATE TABLE tag_gate (
	tag_id bigint PRIMARY KEY REFERENCES tag ON DELETE CASCADE,
	min_age interval CHECK (min_age >= '0'),
	platforms text[] CHECK (cardinality(platforms) > 0),
	labels jsonb CHECK (jsonb_typeof(labels) = 'object'),
	signed_by text[] COLLATE "C" CHECK (cardinality(signed_by) > 0),
	approval boolean NOT NULL DEFAULT false
);
COMMENT ON TABLE tag_gate IS 'the gates an import of a tag must pass';

-- The candidate an import offered a gated tag and the gates did not let
-- through (yet): the tag stays on its image.  state pending: age or
-- approval not reached, re-evaluated by the worker from recheck_at on
-- (NULL: when approved); refused: a gate refuses it.
CREATE TABLE gate_candidate (
	tag_id bigint PRIMARY KEY REFERENCES tag ON DELETE CASCADE,
	source text NOT NULL,
	ref image_ref NOT NULL,
	image image_digest NOT NULL,
	source_digest image_digest,
	state text NOT NULL CHECK (state IN ('pending', 'refused')),
	gate text NOT NULL,
	message text NOT NULL,
	recheck_at timestamptz,
	offered_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX gate_candidate_recheck ON gate_candidate (recheck_at) WHERE state = 'pending';
COMMENT ON TABLE gate_candidate IS 'an image an import offered a gated tag, not let through';

-- When a namespace's imports first offered a digest to a gated tag: the
-- catalogue's first_seen, by namespace, from which a minimum age counts.
-- Per namespace, so that no other namespace can age an image (by mapping
-- its digest, or importing it from a registry of its own, before it is
-- published where this namespace takes it from).
CREATE TABLE gate_seen (
	namespace text COLLATE "C" NOT NULL,
	image image_digest NOT NULL REFERENCES image ON DELETE CASCADE,
	first_seen timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (namespace, image)
);
COMMENT ON TABLE gate_seen IS 'when a namespace''s imports first offered an image to a gated tag';

-- Approvals (approve): an image a namespace admin let through the approval
-- gate of a tag, and who.
CREATE TABLE gate_approval (
	tag_id bigint NOT NULL REFERENCES tag ON DELETE CASCADE,
	image image_digest NOT NULL,
	approver text NOT NULL,
	approved_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tag_id, image)
);
COMMENT ON TABLE gate_approval IS 'images approved for a tag, and by whom';

-- Signatures found for a digest (cosign's simple signing: the payload
-- layer and its base64 signature), as the registry served them; verified
-- against the trusted keys each time a gate asks (doc/gates.md).  The
-- digest signed is what a tag's source served: for a Legacy import of an
-- index, the index, which the catalogue then holds by its digest alone.
CREATE TABLE image_signature (
	image image_digest NOT NULL REFERENCES image ON DELETE CASCADE,
	-- sha256 of the payload and the signature: one row each
	id bytea NOT NULL,
	payload bytea NOT NULL,
	signature text NOT NULL,
	found_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (image, id)
);
COMMENT ON TABLE image_signature IS 'cosign signatures found for an image';

-- What verifying a kept signature with a key said (NULL: it verifies), by
-- the key's PEM (its sha256): verifying is the same every time, and a gate
-- evaluated for many tags, or at every check of a held candidate, verifies
-- each signature with each key once.  A cache: not dumped.
CREATE TABLE signature_check (
	image image_digest NOT NULL,
	signature_id bytea NOT NULL,
	key_id bytea NOT NULL,
	reason text,
	PRIMARY KEY (image, signature_id, key_id),
	FOREIGN KEY (image, signature_id) REFERENCES image_signature (image, id) ON DELETE CASCADE
);
COMMENT ON TABLE signature_check IS 'what verifying a kept signature with a trusted key said';

SELECT pg_catalog.pg_extension_config_dump('tag_gate', '');
SELECT pg_catalog.pg_extension_config_dump('gate_candidate', '');
SELECT pg_catalog.pg_extension_config_dump('gate_seen', '');
SELECT pg_catalog.pg_extension_config_dump('gate_approval', '');
SELECT pg_catalog.pg_extension_config_dump('image_signature', '');
