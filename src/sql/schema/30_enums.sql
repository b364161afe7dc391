-- The enumerations of OpenShift's image API (image.openshift.io/v1).

CREATE TYPE source_kind AS ENUM ('DockerImage', 'ImageStreamTag', 'ImageStreamImage');
COMMENT ON TYPE source_kind IS 'kind of a tag''s source (TagReference.from.kind)';

CREATE TYPE reference_policy AS ENUM ('Source', 'Local');
COMMENT ON TYPE reference_policy IS 'how consumers pull a tag''s image (TagReferencePolicy.type)';

CREATE TYPE import_mode AS ENUM ('Legacy', 'PreserveOriginal');
COMMENT ON TYPE import_mode IS 'what an import of a manifest list keeps (TagImportPolicy.importMode)';
