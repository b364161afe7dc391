-- Issue 18, item 7: pull credentials per namespace, as OpenShift keeps pull
-- secrets per project (doc/functions.md).  A row belongs to a namespace, or
-- to none ('', server-wide): the rows of 0.2.0 stay server-wide.  The view
-- registry_credentials shows them without the secret.  (The columns are
-- added without a default and the rows written, so that they keep no
-- "missing value" that a new installation's table has not.)
ALTER TABLE registry_credential DROP CONSTRAINT registry_credential_pkey;
ALTER TABLE registry_credential ADD COLUMN namespace text COLLATE "C", ADD COLUMN updated_at timestamptz;
UPDATE registry_credential SET namespace = '', updated_at = now();
ALTER TABLE registry_credential
	ALTER COLUMN namespace SET DEFAULT '', ALTER COLUMN namespace SET NOT NULL,
	ALTER COLUMN updated_at SET DEFAULT now(), ALTER COLUMN updated_at SET NOT NULL;
ALTER TABLE registry_credential ADD PRIMARY KEY (namespace, registry);

-- set_ and drop_registry_credentials take the namespace; the fetch entry
-- points take the namespace whose credentials they send
DROP FUNCTION set_registry_credentials(text, text, text);
DROP FUNCTION _api_set_registry_credentials(text, text, text);
DROP FUNCTION drop_registry_credentials(text);
DROP FUNCTION _api_drop_registry_credentials(text);
DROP FUNCTION _fetch_source(image_ref, boolean, boolean, image_digest, text, text);
DROP FUNCTION _fetch_sources(image_ref[], boolean[], boolean[], image_digest[], text[], text[]);
