# pg_dump of a populated database restored into a new one gives the same
# rows in every table of the model, and the restored database carries on
# (sequences and change ids continue, grants still apply).
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;

use ImagestreamTest qw(start_node invariants_hold);

my $node = start_node('pg_dump');
my $dir = PostgreSQL::Test::Utils::tempdir;

$node->safe_psql('postgres', q{
	CREATE ROLE dump_viewer;
	SET search_path TO imagestream, public;
	SELECT create_stream('dp/web', lookup_local => true, annotations => '{"a": "b"}');
	SELECT map_image('dp/web:latest', ref_with_digest('quay.io/org/web', content_digest(v::bytea)))
	FROM unnest(ARRAY['1', '2', '3']) v;
	SELECT tag('web:latest', 'dp/web:stable', alias => true);
	SELECT tag('web:latest', 'dp/web:pinned');
	SELECT tag('quay.io/org/web:9', 'dp/web:next', scheduled => true);
	SELECT tag('quay.io/org/web:ref', 'dp/web:ref', reference => true);
	SELECT rollback('dp/web:latest');
	SELECT _record_failure(id, 'NotFound', 'gone') FROM tag WHERE name = 'next';
	SELECT map_image('dp/api:v1', ref_with_digest('quay.io/org/api', content_digest(m)), manifest => m)
	FROM (SELECT convert_to('{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"digest":"sha256:'
		|| digest_hex(content_digest('c')) || '","size":1},"layers":[{"digest":"sha256:'
		|| digest_hex(content_digest('l')) || '","size":2}]}', 'UTF8') AS m) x;
	SELECT grant_namespace('dp', 'dump_viewer', 'view');
	SELECT set_registry_credentials('quay.io', 'robot', 'token');
	SELECT set_registry_credentials('quay.io', 'dp-robot', 'dp-token', 'dp');
	SELECT add_trusted_key('release', '-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAN1mZ85Q4wCB2E6CJ+rjxKja1Ne4NFRo0byBLswLUsRw=
-----END PUBLIC KEY-----', 'dp');
	SELECT untag('dp/web:ref');
	-- an image change trigger of a role of its own: its owner is dumped by name
	CREATE ROLE dump_editor;
	SELECT grant_namespace('dp', 'dump_editor', 'edit');
	CREATE TABLE public.deploy (name text PRIMARY KEY, image text);
	INSERT INTO public.deploy VALUES ('web', NULL);
	GRANT SELECT (name), UPDATE (image) ON public.deploy TO dump_editor;
	SET ROLE dump_editor;
	SELECT add_trigger('dp/web:latest', 'public.deploy', 'image', 'name', 'web');
	RESET ROLE;
});

my @tables = qw(stream tag history image image_layer image_child registry_credential
  namespace_grant change trusted_key image_trigger);

sub fingerprint
{
	my ($db) = @_;
	return join("\n", map {
		$node->safe_psql($db,
			"SELECT '$_ ' || count(*) || ' ' || coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '')
			 FROM imagestream.$_ t")
	} @tables);
}

my $before = fingerprint('postgres');
$node->command_ok([ 'pg_dump', '-Fc', '-f', "$dir/dump", '-d', $node->connstr('postgres') ],
	'pg_dump succeeds');
$node->safe_psql('postgres', 'CREATE DATABASE restored');
$node->command_ok([ 'pg_restore', '--exit-on-error', '-d', $node->connstr('restored'), "$dir/dump" ],
	'pg_restore succeeds');
is(fingerprint('restored'), $before, 'every table of the model has the same rows after restore');
like($before, qr/^history 8 /m, 'the fingerprint covers a populated history');

is($node->safe_psql('restored', q{
	SELECT imagestream.resolve('dp/web:stable')::text = imagestream.resolve('dp/web:latest')::text
}), 't', 'resolve works on the restored database');

# the restored database carries on: new rows get fresh ids, change ids continue
$node->safe_psql('restored', q{
	SELECT imagestream.map_image('dp/web:latest',
		imagestream.ref_with_digest('quay.io/org/web', imagestream.content_digest('4')));
	SELECT imagestream.create_stream('dp/new');
	SELECT imagestream.tag('quay.io/org/new:1', 'dp/new:x');
	SELECT imagestream.map_image('dp/new:x',
		imagestream.ref_with_digest('quay.io/org/new', imagestream.content_digest('5')));
});
is($node->safe_psql('restored', q{
	SELECT (SELECT max(id) FROM imagestream.change)
	     - (SELECT count(*) FROM imagestream.change) || ','
	     || (SELECT bool_and(n = c) FROM (SELECT max(seq) AS n, count(*) AS c
										  FROM imagestream.history_event GROUP BY tag_id) x)
	     || ',' || (SELECT count(*) FROM imagestream.history_ref WHERE imagestream.ref_name(ref) = 'quay.io/org/new')
}), '0,true,1', 'change ids stay dense, events numbered per tag and pull specs stored once after restore');

# grants survive: the viewer sees the restored namespace
is($node->safe_psql('restored', q{
	SET ROLE dump_viewer;
	SELECT string_agg(name, ',' ORDER BY name) FROM imagestream.image_streams
}), 'api,new,web', 'namespace grants are restored');

# the trigger's owner is written by name, and its trigger fires after restore
$node->command_ok([ 'pg_restore', '-f', "$dir/dump.sql", "$dir/dump" ], 'the dump as SQL');
my $sql = PostgreSQL::Test::Utils::slurp_file("$dir/dump.sql");
like($sql, qr/^COPY imagestream\.image_trigger [^\n]*\n[^\n]*\tdump_editor\t/m,
	'the owner of a trigger is dumped by name');
is($node->safe_psql('restored', q{
	SELECT imagestream.map_image('dp/web:latest', imagestream.ref_with_digest('quay.io/org/web',
		imagestream.content_digest('after restore'::bytea)));
	SELECT image = imagestream.resolve('dp/web:latest')::text FROM public.deploy
}), "\nt", 'the trigger fires in the restored database');

invariants_hold($node);
ok($node->log_contains('terminated by signal') == 0, 'no backend crashed');
done_testing();
