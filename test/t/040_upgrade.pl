# ALTER EXTENSION imagestream UPDATE from every released version: the
# updated database has the same SQL objects as a new installation (pg_dump
# --binary-upgrade, which dumps an extension's objects one by one), keeps its
# data, carries privileges a DBA changed on API functions over, and works
# with the rights rule of 0.2.0 (finding S6).
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;

use ImagestreamTest qw(start_node);

my $node = start_node('upgrade');
sub q1 { my ($db, $sql) = @_; return $node->safe_psql($db, $sql) }

my $current = q1('postgres', q{SELECT default_version FROM pg_available_extensions WHERE name = 'imagestream'});
my @released = split /\n/, q1('postgres', qq{
	SELECT version FROM pg_available_extension_versions
	WHERE name = 'imagestream' AND version <> '$current' ORDER BY string_to_array(version, '.')::int[]});
cmp_ok(scalar(@released), '>=', 1, "released versions to update from: @released");

# The objects of the extension as pg_dump --binary-upgrade writes them,
# without what differs by installation: OIDs and the version string.
sub objects
{
	my ($db) = @_;
	my ($out, $err);
	$node->run_log([ 'pg_dump', '--schema-only', '--binary-upgrade', '-d', $node->connstr($db),
		'-f', "$PostgreSQL::Test::Utils::tmp_check/$db.sql" ]) or die "pg_dump of $db failed";
	open(my $fh, '<', "$PostgreSQL::Test::Utils::tmp_check/$db.sql") or die $!;
	my @keep = grep { !/binary_upgrade_set_next_|binary_upgrade_create_empty_extension|^SET relfrozenxid|^WHERE oid = .\d+.;|^\\(un)?restrict |^--|^\s*$/ } <$fh>;
	close $fh;
	# the tables pg_dump dumps the rows of (their OIDs are left out above)
	push @keep, "config: " . q1($db, q{SELECT string_agg(c::regclass::text, ' ' ORDER BY c::regclass::text)
		FROM pg_extension, unnest(extconfig) c WHERE extname = 'imagestream'}) . "\n";
	return join('', @keep);
}

sub objects_diff
{
	my ($want, $got) = @_;
	my $dir = PostgreSQL::Test::Utils::tempdir;
	for (["$dir/new", $want], ["$dir/updated", $got])
	{
		open(my $fh, '>', $_->[0]) or die $!;
		print $fh $_->[1];
		close $fh;
	}
	my ($diff) = run_command([ 'diff', '-u', "$dir/new", "$dir/updated" ]);
	return substr($diff, 0, 20000);
}

q1('postgres', 'CREATE DATABASE fresh');
q1('fresh', 'CREATE EXTENSION imagestream');
my $fresh = objects('fresh');
like($fresh, qr/ALTER EXTENSION imagestream ADD FUNCTION imagestream\._api_tag\(/,
	'the dump lists the extension\'s objects one by one');

# what the API of every released version can do, with the rights it checks
my $populate = q{
	SET search_path TO imagestream, public;
	SELECT create_stream('up/web', lookup_local => true);
	SELECT map_image('up/web:latest', ref_with_digest('quay.io/org/web', content_digest(v::bytea)))
	FROM unnest(ARRAY['1', '2', '3']) v;
	SELECT tag('web:latest', 'up/web:stable', alias => true);
	SELECT tag('quay.io/org/web:9', 'up/web:next', scheduled => true);
	SELECT rollback('up/web:latest');
	SELECT grant_namespace('up', 'up_viewer', 'view');
	SELECT set_registry_credentials('quay.io', 'robot', 'token');
};
my @tables = qw(stream tag history image image_layer image_child registry_credential
  namespace_grant change);
sub rows
{
	my ($db) = @_;
	# events as each tag numbers them (0.1.0 numbered them across tags)
	my %from = (history => '(SELECT tag_id, rank() OVER (PARTITION BY tag_id ORDER BY seq) AS seq, created,
							 docker_image_reference, image, generation FROM imagestream.history)',
		# the columns of before (0.3.0 adds actor and via)
		change => '(SELECT id, at, event, namespace, stream, tag, image, previous_image,
							docker_image_reference, generation, reason, message FROM imagestream.change)',
		# (0.3.0 adds the namespace and the time set)
		registry_credential => '(SELECT registry, username, secret FROM imagestream.registry_credential)',
		# (0.3.0 adds gated)
		tag => q{(SELECT to_jsonb(x) - 'gated' FROM imagestream.tag x)});
	return join("\n", map {
		q1($db, "SELECT '$_ ' || count(*) || ' ' || coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '')
				 FROM " . ($from{$_} // "imagestream.$_") . " t")
	} @tables);
}

q1('postgres', 'CREATE ROLE up_viewer; CREATE ROLE up_builder; CREATE ROLE up_mallory');
for my $old (@released)
{
	(my $db = "from_$old") =~ s/\./_/g;
	q1('postgres', "CREATE DATABASE $db");
	q1($db, "CREATE EXTENSION imagestream VERSION '$old'");
	isnt(objects($db), $fresh, "$old: its objects differ from $current before the update (the check can fail)");
	q1($db, 'ALTER EXTENSION imagestream UPDATE');
	is(q1($db, q{SELECT extversion FROM pg_extension WHERE extname = 'imagestream'}), $current,
		"$old: updates to $current");
	my $updated = objects($db);
	ok($updated eq $fresh, "$old: the updated objects equal a new installation's")
	  or diag(objects_diff($fresh, $updated));

	# data written by the old version is kept, and the new one carries on
	my $data = "${db}_data";
	q1('postgres', "CREATE DATABASE $data");
	q1($data, "CREATE EXTENSION imagestream VERSION '$old'");
	q1($data, $populate);
	# (0.3.0 changes the signatures of import_image and prune: the update
	# carries the privileges over to the new functions)
	q1($data, q{
		REVOKE EXECUTE ON FUNCTION imagestream.import_image FROM PUBLIC;
		GRANT EXECUTE ON FUNCTION imagestream.import_image TO up_builder;
		REVOKE EXECUTE ON FUNCTION imagestream.prune FROM PUBLIC;
		GRANT EXECUTE ON FUNCTION imagestream.prune TO up_builder;
	});
	# the update runs the privileges of the code again (doc/upgrading.md)
	q1($data, 'REVOKE SELECT ON imagestream.images FROM PUBLIC');
	my $before = rows($data);
	like($before, qr/^history 6 /m, "$old: the old version wrote history");
	q1($data, 'ALTER EXTENSION imagestream UPDATE');
	is(rows($data), $before, "$old: every table keeps its rows through the update");
	is(q1($data, q{SELECT string_agg(registry || ' ' || coalesce(namespace, 'server-wide') || ' ' || username, ',')
					FROM imagestream.registry_credentials}),
		'quay.io server-wide robot', "$old: its registry credentials become server-wide ones");
	is(q1($data, q{SELECT imagestream.resolve('up/web:stable')::text = imagestream.resolve('up/web:latest')::text}),
		't', "$old: resolve works after the update");
	q1($data, q{SELECT imagestream.map_image('up/web:latest', imagestream.ref_with_digest('quay.io/org/web', imagestream.content_digest('4'::bytea)))});
	is(q1($data, q{SELECT count(*) FROM imagestream.history('up/web:latest')}), '5',
		"$old: and so does writing");
	my ($changes_before) = $before =~ /^change (\d+) /m;
	is(q1($data, qq{SELECT count(*) FILTER (WHERE actor IS NULL) || ' ' || count(*) FILTER (WHERE actor = quote_ident(current_user))
		|| ' ' || count(via) FROM imagestream.change}),
		"$changes_before 2 0", "$old: the changes of before have no actor, the new ones (latest, stable) their caller's");
	is(q1($data, q{SET ROLE up_viewer; SELECT count(*) FROM imagestream.image_stream_tags WHERE namespace = 'up'}),
		'3', "$old: a grant made before the update still gives its right");
	is(q1($data, q{
		SELECT has_function_privilege('up_builder', 'imagestream.import_image(text, text, boolean, boolean, boolean, imagestream.reference_policy, imagestream.import_mode, boolean, boolean)', 'EXECUTE')
		|| ' ' || has_function_privilege('public', 'imagestream.import_image(text, text, boolean, boolean, boolean, imagestream.reference_policy, imagestream.import_mode, boolean, boolean)', 'EXECUTE')
		|| ' ' || has_function_privilege('up_builder', 'imagestream._api_import_image(text, text, boolean, boolean, boolean, imagestream.reference_policy, imagestream.import_mode, boolean, boolean)', 'EXECUTE')
	}), 'true false false', "$old: a DBA's grant and revoke on an API function apply to it after the update, not to its body");
	is(q1($data, q{
		SELECT has_function_privilege('up_builder', 'imagestream.prune(integer, interval, boolean, text)', 'EXECUTE')
		|| ' ' || has_function_privilege('public', 'imagestream.prune(integer, interval, boolean, text)', 'EXECUTE')
		|| ' ' || has_function_privilege('up_builder', 'imagestream._api_prune(integer, interval, boolean, text)', 'EXECUTE')
	}), 'true false false', "$old: and on prune, which takes a namespace");
	is(q1($data, q{SELECT has_table_privilege('public', 'imagestream.images', 'SELECT')
					|| ' ' || has_table_privilege('public', 'imagestream.image_streams', 'SELECT')}),
		'false true', "$old: a view a DBA closed to PUBLIC stays closed after the update; the others stay open");
	# the rights rule of 0.2.0: a definer function acts with its owner's rights
	q1($data, q{
		CREATE FUNCTION public.borrow() RETURNS void LANGUAGE sql SECURITY DEFINER
			SET search_path = pg_catalog AS $$ SELECT imagestream.untag('up/web:stable') $$;
		ALTER FUNCTION public.borrow() OWNER TO up_mallory;
	});
	my ($ret, $out, $err) = $node->psql($data, 'SELECT public.borrow()');
	like($err, qr/permission denied for namespace "up"/,
		"$old: after the update a definer function has its owner's rights, not the superuser's calling it");
	is(q1($data, q{SELECT count(*) FROM imagestream.tag WHERE name = 'stable'}), '1', "$old: and the tag stays");
	is(q1($data, q{SELECT count(*) FROM imagestream.check_invariants()}), '0', "$old: invariants hold after the update");
}

done_testing();
