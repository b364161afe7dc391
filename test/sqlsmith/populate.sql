-- What `make sqlsmith` queries (run-sqlsmith.sh): two namespaces of streams
-- with tags, history, aliases, scheduled tags the worker fails to import,
-- images with layers and an index with children, a tenant with rights on
-- one namespace, and credentials.  psql variable superuser: the superuser.
CREATE EXTENSION imagestream;
CREATE ROLE tenant LOGIN;
-- unqualified operators (sqlsmith writes them so) find the extension's;
-- a statement that sleeps ends
ALTER ROLE tenant SET search_path = public, imagestream;
ALTER ROLE tenant SET statement_timeout = '5s';
ALTER ROLE :"superuser" SET search_path = public, imagestream;
ALTER ROLE :"superuser" SET statement_timeout = '5s';

SET search_path TO imagestream, public;
SELECT grant_namespace('alpha', 'tenant', 'edit');
SELECT grant_namespace('beta', 'tenant', 'view');

SELECT convert_to('{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:' || digest_hex(content_digest('config-a')) || '","size":100},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:' || digest_hex(content_digest('layer-1')) || '","size":1000},{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:' || digest_hex(content_digest('layer-2')) || '","size":2000}]}', 'UTF8') AS oci \gset
SELECT convert_to('{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"sha256:' || digest_hex(content_digest('config-b')) || '","size":50},"layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","digest":"sha256:' || digest_hex(content_digest('layer-1')) || '","size":1000}]}', 'UTF8') AS docker \gset
SELECT convert_to('{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"' || content_digest(:'oci')::text || '","size":' || octet_length(:'oci') || ',"platform":{"os":"linux","architecture":"amd64"}},{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","digest":"' || content_digest(:'docker')::text || '","size":' || octet_length(:'docker') || ',"platform":{"os":"linux","architecture":"arm64","variant":"v8"}}]}', 'UTF8') AS idx \gset

SELECT create_stream(s, lookup_local => s = 'alpha/web', annotations => '{"team": "a"}')
FROM unnest(ARRAY['alpha/web', 'alpha/api', 'beta/db']) s;
SELECT map_image('alpha/web:latest', ref_with_digest('registry.invalid/org/web', content_digest(v::text::bytea)))
FROM generate_series(1, 5) v;
SELECT map_image('alpha/web:oci', ref_with_digest('registry.invalid/org/web', content_digest(:'oci')), manifest => :'oci');
SELECT map_image('alpha/web:docker', ref_with_digest('registry.invalid/org/web', content_digest(:'docker')), manifest => :'docker');
SELECT map_image('alpha/web:multi', ref_with_digest('registry.invalid/org/web', content_digest(:'idx')), manifest => :'idx');
SELECT tag('web:latest', 'alpha/web:stable', alias => true);
SELECT tag('web:latest', 'alpha/web:pinned');
SELECT rollback('alpha/web:latest');
SELECT tag('registry.invalid/org/api:' || v, 'alpha/api:' || v, scheduled => true) FROM generate_series(1, 5) v;
SELECT tag('registry.invalid/org/api:ref', 'alpha/api:ref', reference => true);
SELECT map_image('beta/db:' || v, ref_with_digest('registry.invalid/org/db', content_digest(('db' || v)::bytea)))
FROM generate_series(1, 3) v;
SELECT set_registry_credentials('registry.invalid', 'robot', 'secret');
