# The security review of doc/security.md, one section per area: grants of
# every object, no row of another namespace in any relation or function,
# SECURITY DEFINER functions and planted search_path objects (in the API and
# in the worker), SSRF through literal forms and redirects, secrets, and the
# NOTIFY payload.  Each test names the finding it checks.
use strict;
use warnings;

use JSON::PP;
use MIME::Base64 qw(encode_base64);
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);

use ImagestreamTest qw(start_node wait_for);
use RegistryTest;

my $node = start_node('security');
$node->append_conf('postgresql.conf', qq{
imagestream.blocked_networks = '127.0.0.0/8,::1/128'
imagestream.request_timeout = '5s'
});
$node->reload;

sub q1 { return $node->safe_psql('postgres', shift) }

# psql as a role: (stdout, stderr)
sub as_role
{
	my ($role, $sql) = @_;
	my ($ret, $out, $err) = $node->psql('postgres', "SET ROLE $role;\n$sql");
	return ($out, $err);
}

sub ok_as
{
	my ($role, $sql) = @_;
	return $node->safe_psql('postgres', "SET ROLE $role;\n$sql");
}

q1(q{
	CREATE ROLE alice LOGIN;		-- view on alpha
	CREATE ROLE editor LOGIN;		-- edit on alpha
	CREATE ROLE mallory LOGIN;		-- admin on mal, CREATE on public
	CREATE ROLE eve LOGIN;			-- no right at all
	CREATE ROLE bob LOGIN;			-- view on bravo
	SELECT imagestream.grant_namespace('alpha', 'alice', 'view');
	SELECT imagestream.grant_namespace('alpha', 'editor', 'edit');
	SELECT imagestream.grant_namespace('mal', 'mallory', 'admin');
	SELECT imagestream.grant_namespace('bravo', 'bob', 'view');
});

# ---------------------------------------------------------------------------
# 1. Grants of every object
# ---------------------------------------------------------------------------

my $objects = q1(q{
	SELECT (SELECT count(*) FROM pg_class WHERE relnamespace = 'imagestream'::regnamespace)
		|| ' ' || (SELECT count(*) FROM pg_proc WHERE pronamespace = 'imagestream'::regnamespace)
		|| ' ' || (SELECT count(*) FROM pg_type WHERE typnamespace = 'imagestream'::regnamespace)
});
my ($n_rel, $n_proc, $n_type) = split / /, $objects;
note("grants: $n_rel relations, $n_proc functions, $n_type types");

is(q1(q{
	SELECT string_agg(c.oid::regclass || ':' || a.privilege_type, ', ')
	FROM pg_class c,
		aclexplode(coalesce(c.relacl, acldefault(CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END::"char", c.relowner))) a
	WHERE c.relnamespace = 'imagestream'::regnamespace AND a.grantee = 0
	  AND a.privilege_type <> 'SELECT'
}), '', 'grants: no table, view or sequence grants PUBLIC more than SELECT');
is(q1(q{
	SELECT string_agg(c.oid::regclass::text, ', ')
	FROM pg_class c, aclexplode(coalesce(c.relacl, acldefault('s', c.relowner))) a
	WHERE c.relnamespace = 'imagestream'::regnamespace AND c.relkind = 'S' AND a.grantee = 0
}), '', 'grants: no sequence is usable by PUBLIC');
is(q1(q{
	SELECT string_agg(c.oid::regclass || '.' || att.attname, ', ')
	FROM pg_class c JOIN pg_attribute att ON att.attrelid = c.oid, aclexplode(att.attacl) a
	WHERE c.relnamespace = 'imagestream'::regnamespace AND a.grantee = 0
}), '', 'grants: no column privilege for PUBLIC');
is(q1(q{
	SELECT string_agg(c.relname, ' ' ORDER BY c.relname)
	FROM pg_class c, aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) a
	WHERE c.relnamespace = 'imagestream'::regnamespace AND a.grantee = 0 AND a.privilege_type = 'SELECT'
}), 'history image_stream_tags image_streams images namespace_grants protected_tags registry_credentials retention_rules tag_policies triggers trusted_keys worker_status',
	'grants: PUBLIC may SELECT the views of doc/functions.md and no base table (S17)');
# what an ordinary role may do, whatever the grant's path
is(q1(q{
	SELECT string_agg(c.oid::regclass::text, ', ')
	FROM pg_class c
	WHERE c.relnamespace = 'imagestream'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
	  AND CASE WHEN c.relkind IN ('r', 'p', 'v', 'm', 'f')
			   THEN has_table_privilege('mallory', c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')
					OR has_any_column_privilege('mallory', c.oid, 'INSERT, UPDATE, REFERENCES') END
}), '', 'grants: an ordinary role can write no relation');
is(q1(q{
	SELECT string_agg(c.oid::regclass::text, ', ')
	FROM pg_class c
	WHERE c.relnamespace = 'imagestream'::regnamespace AND c.relkind = 'S'
	  AND CASE WHEN c.relkind = 'S' THEN has_sequence_privilege('mallory', c.oid, 'USAGE, UPDATE, SELECT') END
}), '', 'grants: an ordinary role can use no sequence');
is(q1(q{
	SELECT has_schema_privilege('mallory', 'imagestream', 'CREATE')::text || ' '
		|| (SELECT string_agg(a.privilege_type, ',') FROM pg_namespace n,
			aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) a
			WHERE n.nspname = 'imagestream' AND a.grantee = 0)
}), 'false USAGE', 'grants: schema imagestream gives PUBLIC USAGE only');
is(q1(q{
	SELECT string_agg(DISTINCT a.privilege_type, ',')
	FROM pg_type t, aclexplode(coalesce(t.typacl, acldefault('T', t.typowner))) a
	WHERE t.typnamespace = 'imagestream'::regnamespace AND a.grantee = 0
}), 'USAGE', 'grants: types give PUBLIC USAGE only');
my @allow = qw(_calling_role _can _level_rank _local_repository _privileged _pull_spec
  _pull_spec_of _view_history _view_image_stream_tags _view_image_streams _view_images _view_namespace_grants
  _view_protected_tags _view_registry_credentials _view_retention_rules _view_tag_policies _view_triggers _view_trusted_keys
  _worker_status);
is(q1(q{
	SELECT string_agg(DISTINCT p.proname, ' ' ORDER BY p.proname)
	FROM pg_proc p, aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
	WHERE p.pronamespace = 'imagestream'::regnamespace AND p.proname LIKE '\_%'
	  AND a.grantee = 0 AND a.privilege_type = 'EXECUTE'
}), join(' ', @allow), 'grants: internal functions executable by PUBLIC are exactly the allowlist');
is(q1(q{
	SELECT count(*) FROM pg_proc p
	WHERE p.pronamespace = 'imagestream'::regnamespace AND p.proname LIKE '\_%'
	  AND has_function_privilege('mallory', p.oid, 'EXECUTE')
}), scalar(@allow), 'grants: an ordinary role executes no other internal function');
my ($out, $err) = as_role('mallory', 'SELECT imagestream._wake_worker()');
like($err, qr/permission denied for function _wake_worker/, 'grants: _wake_worker is not for PUBLIC');

q1("SELECT imagestream.set_registry_credentials('registry.example.com', 'robot', 'cr3dential-value')");
for my $role (qw(mallory alice bob))
{
	($out, $err) = as_role($role, 'SELECT * FROM imagestream.registry_credential');
	like($err, qr/permission denied for table registry_credential/,
		"grants: registry_credential is unreadable by $role");
}
q1("SELECT imagestream.grant_namespace('mal', 'editor', 'admin')");
($out, $err) = as_role('editor', "SELECT secret FROM imagestream.registry_credential");
like($err, qr/permission denied/, 'grants: a namespace admin cannot read credentials either');
($out, $err) = as_role('mallory', "SELECT imagestream.set_registry_credentials('registry.example.com', 'x', 'y')");
like($err, qr/permission denied to set server-wide registry credentials/, 'grants: nor set them');
q1("SELECT imagestream.revoke_namespace('mal', 'editor')");

# ---------------------------------------------------------------------------
# 2. No row of another namespace
# ---------------------------------------------------------------------------

# A manifest of the image the test builds, and an index around it.
sub hex64 { return unpack('H*', pack('N*', map { int(rand(2**32)) } 1 .. 8)) }
my ($cfg, $layer, $child) = (hex64(), hex64(), hex64());
my $manifest = qq({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)
  . qq("config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:$cfg","size":2},)
  . qq("layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:$layer","size":3}]});
my $index = qq({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json",)
  . qq("manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:$child","size":7,)
  . qq("platform":{"os":"linux","architecture":"s390x"}}]});
my $bravo_digest = q1("SELECT imagestream.content_digest(convert_to('$manifest', 'UTF8'))");
my $bravo_index = q1("SELECT imagestream.content_digest(convert_to('$index', 'UTF8'))");
my $alpha_digest = q1("SELECT imagestream.content_digest('alpha image')");
(my $bravo_hex = $bravo_digest) =~ s/^sha256://;

q1(qq{
	SELECT imagestream.map_image('alpha/app:v1', 'quay.io/alpha-org/app\@$alpha_digest');
	SELECT imagestream.tag('quay.io/alpha-org/app:1', 'alpha/app:spec');
	SELECT imagestream.map_image('bravo/hidden-stream:secret-tag',
		'registry.bravo.example/bravo-team/hidden-repo\@$bravo_digest',
		manifest => convert_to('$manifest', 'UTF8'));
	SELECT imagestream.map_image('bravo/hidden-stream:multi',
		'registry.bravo.example/bravo-team/hidden-repo\@$bravo_index',
		manifest => convert_to('$index', 'UTF8'));
	SELECT imagestream.tag('registry.bravo.example/bravo-team/hidden-repo:pending', 'bravo/hidden-stream:pending');
	SELECT imagestream.create_stream('bravo/gone-stream');
	SELECT imagestream.map_image('bravo/gone-stream:x', 'registry.bravo.example/bravo-team/gone\@$bravo_digest');
	SELECT imagestream.untag('bravo/gone-stream:x');
	SELECT imagestream.delete_stream('bravo/gone-stream');
	SELECT imagestream.protect('bravo', 'hidden-other:%');
	SELECT imagestream.set_retention('bravo', 100, NULL);
});
# a trusted key of bravo
q1(q{SELECT imagestream.add_trusted_key('bravo-hidden-key', '-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAN1mZ85Q4wCB2E6CJ+rjxKja1Ne4NFRo0byBLswLUsRw=
-----END PUBLIC KEY-----', 'bravo')});
# a failed import of bravo: a condition and an import_failed change
q1(q{SELECT * FROM imagestream.import_image('bravo/hidden-stream:failing',
	'127.0.0.1:9/bravo-team/hidden-repo:x', insecure => true, confirm => true)});

# Every relation of the schema, from the catalog, read as alice (view on
# alpha) and as the superuser; a row of bravo is one whose text mentions it.
my $marker = "bravo|hidden|$bravo_hex|$cfg|$layer|$child";
my @rels = split /\n/, q1(q{
	SELECT c.oid::regclass FROM pg_class c
	WHERE c.relnamespace = 'imagestream'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
	ORDER BY 1});
my ($readable, $leaking, $superuser_sees) = (0, 0, 0);
for my $rel (@rels)
{
	my $count_sql = "SELECT count(*) FROM $rel x WHERE x::text ~ '$marker'";
	$superuser_sees++ if q1($count_sql) > 0;
	# a relation with column grants only: the row of the columns granted
	my $cols = q1("SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute
		WHERE attrelid = '$rel'::regclass AND attnum > 0 AND NOT attisdropped
		  AND has_column_privilege('alice', attrelid, attnum, 'SELECT')");
	$count_sql = "SELECT count(*) FROM $rel x WHERE row($cols)::text ~ '$marker'"
	  if q1("SELECT has_table_privilege('alice', '$rel', 'SELECT')") eq 'f' && $cols ne '';
	if ($cols eq '')
	{
		($out, $err) = as_role('alice', "SELECT count(*) FROM $rel");
		like($err, qr/permission denied/, "no leak: $rel is not readable at all");
		next;
	}
	$readable++;
	my $n = ok_as('alice', $count_sql);
	$leaking++ if $n > 0;
	is($n, '0', "no leak: $rel shows alice no row of bravo");
}
note("no leak: " . scalar(@rels) . " relations, $readable readable by alice, bravo rows in $superuser_sees for the superuser");
ok($superuser_sees >= 9, 'no leak: the markers are there for the superuser (the check can fail)');
is(ok_as('alice', 'SELECT count(*) FROM imagestream.image_stream_tags'), '2',
	'no leak: alice sees her own namespace');
# bob (view on bravo) does see them: the filter is per namespace, not all or nothing
is(ok_as('bob', "SELECT count(*) > 0 FROM imagestream.images x WHERE x::text ~ '$bravo_hex'"), 't',
	'no leak: bob, with view on bravo, sees its images');

# the functions
is(ok_as('alice', "SELECT count(*) FROM imagestream.changes_since(0) c WHERE c::text ~ '$marker'"), '0',
	'no leak: changes_since gives alice no change of bravo');
is(ok_as('alice', 'SELECT count(*) > 0 FROM imagestream.changes_since(0)'), 't',
	'no leak: but hers');
my %denied = (
	"imagestream.history('bravo/hidden-stream:secret-tag')" => 'history',
	"imagestream.image('bravo/hidden-stream\@$bravo_hex')" => 'image',
	"imagestream.resolve('bravo/hidden-stream:secret-tag')" => 'resolve',
	"imagestream.resolve('bravo/hidden-stream:secret-tag', missing_ok => true)" => 'resolve missing_ok',
	"imagestream.resolve_image('bravo', 'hidden-stream')" => 'resolve_image',
	"imagestream.describe('bravo/hidden-stream')" => 'describe',
	"imagestream.import_now('bravo/hidden-stream')" => 'import_now',
	"imagestream.rollback('bravo/hidden-stream:secret-tag')" => 'rollback',
	"imagestream.set_repository('bravo/hidden-stream', NULL)" => 'set_repository',
	"imagestream.protect('bravo', 'hidden-stream:%')" => 'protect',
	"imagestream.unprotect('bravo', 'hidden-other:%')" => 'unprotect',
	"imagestream.set_retention('bravo', 1, NULL)" => 'set_retention',
	"imagestream.prune(namespace => 'bravo')" => 'prune of a namespace',
);
for my $call (sort keys %denied)
{
	my ($o1, $e1) = as_role('alice', "SELECT $call");
	like($e1, qr/permission denied for namespace "bravo"/, "no leak: $denied{$call} of bravo is refused");
	(my $missing = $call) =~ s/hidden-stream/no-such-stream/;
	my ($o2, $e2) = as_role('alice', "SELECT $missing");
	(my $e1n = $e1) =~ s/hidden-stream/X/g;
	(my $e2n = $e2) =~ s/no-such-stream/X/g;
	is($e2n, $e1n, "no leak: $denied{$call} refuses an existing and a missing stream alike");
}
($out, $err) = as_role('alice', "SELECT imagestream.image('alpha/app\@$bravo_hex')");
like($err, qr/image "alpha\/app\@$bravo_hex" not found/, 'no leak: image() finds bravo\'s image in no stream of alpha');
is(ok_as('alice', 'SELECT imagestream.import_now()'), '0', 'no leak: import_now() marks nothing outside the caller\'s rights');
($out, $err) = as_role('alice', 'SELECT * FROM imagestream.prune()');
like($err, qr/permission denied to prune images/, 'no leak: prune (which lists every namespace) is for the privileged');

# tag(): the kind of a source written without one comes from its text alone
# (oc tag), and a stream of a namespace the caller cannot view is refused
# with the message of a missing one: nothing tells whether it exists
# (finding S3), and nothing falls back to Docker Hub (issue 18)
for my $form ([ 'bravo/%s:secret-tag', '' ], [ 'bravo/%s:secret-tag', ", source_kind => 'ImageStreamTag'" ],
	[ "bravo/%s\@$bravo_hex", '' ])
{
	my ($source, $kind) = @$form;
	my @err;
	for my $stream ('hidden-stream', 'no-such-stream')
	{
		my ($o, $e) = as_role('editor', sprintf(q{DO $$ BEGIN PERFORM imagestream.tag('%s', 'alpha/probe:a'%s);
			EXCEPTION WHEN OTHERS THEN RAISE NOTICE '%% %%', SQLSTATE, SQLERRM; END $$}, sprintf($source, $stream), $kind));
		($e) = $e =~ /NOTICE:\s+(.*)/;
		push @err, ($e // '') =~ s/\Q$stream\E/X/gr;
	}
	is($err[0], '42501 image stream "bravo/X" does not exist',
		"no leak: tag() from " . sprintf($source, '...') . "$kind of an invisible stream is refused");
	is($err[1], $err[0], "no leak: and from a missing one alike (no existence oracle)");
}
is(q1(q{SELECT count(*) FROM imagestream.image_stream_tags WHERE stream = 'probe'}), '0',
	'no leak: and nothing is tagged (no pull from docker.io)');

# map_image(): a digest (which NOTIFY announces) opens no image that only
# other namespaces hold, unless the caller has its manifest (finding S4)
($out, $err) = as_role('editor',
	"SELECT imagestream.map_image('alpha/probe:d', 'quay.io/x/y\@$bravo_digest')");
like($err, qr/image $bravo_digest is held only by image streams you may not view/,
	'no leak: map_image of another namespace\'s digest without its manifest is refused');
is(ok_as('editor', "SELECT count(*) FROM imagestream.images WHERE digest::text = '$bravo_digest'"), '0',
	'no leak: and its metadata stays hidden');
ok_as('editor', "SELECT imagestream.map_image('alpha/probe:e', 'quay.io/x/y\@$bravo_digest',
	manifest => convert_to('$manifest', 'UTF8'))");
is(ok_as('editor', "SELECT count(*) FROM imagestream.images WHERE digest::text = '$bravo_digest'"), '1',
	'no leak: with the manifest (proof of possession) it is recorded');
ok_as('editor', "SELECT imagestream.untag('alpha/probe:e')");
my $fresh = q1("SELECT imagestream.content_digest('a new one')");
ok_as('editor', "SELECT imagestream.map_image('alpha/probe:f', 'quay.io/x/y\@$fresh')");
is(ok_as('editor', "SELECT imagestream.resolve('alpha/probe:f')::text"), "quay.io/x/y\@$fresh",
	'no leak: a digest new to the catalogue is recorded as before');
ok_as('editor', "SELECT imagestream.delete_stream('alpha/probe')");

# Finding S5: an image shared by digest kept the pull spec of the stream
# that catalogued it first, and every viewer of any holder read it; a viewer
# now reads the pull spec of a stream it may view.
my $shared = q1("SELECT imagestream.content_digest('shared image')");
q1("SELECT imagestream.map_image('bravo/hidden-stream:shared', 'registry.bravo.example/bravo-team/shared-name\@$shared')");
q1("SELECT imagestream.map_image('alpha/app:shared', 'quay.io/alpha-org/app\@$shared')");
is(ok_as('alice', "SELECT count(*) FROM imagestream.images x WHERE x::text ~ 'bravo'"), '0',
	'no leak: a shared image shows alice no pull spec of bravo');
is(ok_as('alice', "SELECT docker_image_reference::text FROM imagestream.images WHERE digest::text = '$shared'"),
	"quay.io/alpha-org/app\@$shared", 'no leak: alice reads the pull spec of her own stream');
is(ok_as('alice', "SELECT imagestream.image('alpha/app\@$shared')->'image'->>'dockerImageReference'"),
	"quay.io/alpha-org/app\@$shared", 'no leak: and so does image()');
($out, $err) = as_role('alice', 'SELECT docker_image_reference FROM imagestream.image');
like($err, qr/permission denied for table image/, 'no leak: the catalogue\'s own pull spec column is not readable');
($out, $err) = as_role('alice', "SELECT count(*) FROM imagestream.image WHERE digest::text = '$shared'");
like($err, qr/permission denied for table image/, 'no leak: nor its other columns (S17: callers read the view images)');
q1("SELECT imagestream.untag('alpha/app:shared'); SELECT imagestream.untag('bravo/hidden-stream:shared')");

# ---------------------------------------------------------------------------
# 3. SECURITY DEFINER functions and planted objects
# ---------------------------------------------------------------------------

my $definers = q1(q{SELECT count(*) FROM pg_proc WHERE pronamespace = 'imagestream'::regnamespace AND prosecdef});
is(q1(q{
	SELECT string_agg(p.oid::regprocedure::text, ', ')
	FROM pg_proc p
	WHERE p.pronamespace = 'imagestream'::regnamespace AND p.prosecdef
	  AND NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) c
					  WHERE c LIKE 'search\_path=pg\_catalog, %' AND c LIKE '%, pg\_temp')
}), '', "definer: all $definers SECURITY DEFINER functions pin search_path (pg_catalog first, pg_temp last)");
is(q1(q{
	SELECT string_agg(p.oid::regprocedure::text, ', ')
	FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
	WHERE p.pronamespace = 'imagestream'::regnamespace AND p.prosecdef AND l.lanname NOT IN ('plpgsql', 'sql')
}), '', 'definer: no C function is SECURITY DEFINER');
cmp_ok($definers, '>=', 15, "definer: $definers functions checked");

# mallory plants objects where a caller-chosen search_path finds them: in
# public (CREATE granted, as in databases older than PostgreSQL 15) and in
# her pg_temp.  Each records its call, as the role that runs it.
q1(q{
	GRANT CREATE ON SCHEMA public TO mallory;
	CREATE TABLE public.pwned (who text, backend text, what text);
	GRANT INSERT, SELECT ON public.pwned TO PUBLIC;
});
my $plant = q{
	CREATE FUNCTION %1$s.pwn(what text) RETURNS void LANGUAGE sql AS
		$$ INSERT INTO public.pwned SELECT current_user, backend_type, what FROM pg_stat_activity WHERE pid = pg_backend_pid() $$;
	CREATE FUNCTION %1$s.text_eq(a text, b text) RETURNS boolean LANGUAGE plpgsql AS
		$$ BEGIN PERFORM %1$s.pwn('%1$s.=(text,text)'); RETURN a OPERATOR(pg_catalog.=) b; END $$;
	CREATE OPERATOR %1$s.= (LEFTARG = text, RIGHTARG = text, FUNCTION = %1$s.text_eq);
	CREATE FUNCTION %1$s.text_cat(a text, b text) RETURNS text LANGUAGE plpgsql AS
		$$ BEGIN PERFORM %1$s.pwn('%1$s.||'); RETURN a OPERATOR(pg_catalog.||) b; END $$;
	CREATE OPERATOR %1$s.|| (LEFTARG = text, RIGHTARG = text, FUNCTION = %1$s.text_cat);
	CREATE FUNCTION %1$s.digest_eq(a imagestream.image_digest, b imagestream.image_digest) RETURNS boolean
		LANGUAGE plpgsql AS $$ BEGIN PERFORM %1$s.pwn('%1$s.=(image_digest)'); RETURN a OPERATOR(imagestream.=) b; END $$;
	CREATE OPERATOR %1$s.= (LEFTARG = imagestream.image_digest, RIGHTARG = imagestream.image_digest, FUNCTION = %1$s.digest_eq);
	CREATE FUNCTION %1$s.mode_eq(a imagestream.import_mode, b imagestream.import_mode) RETURNS boolean
		LANGUAGE plpgsql AS $$ BEGIN PERFORM %1$s.pwn('%1$s.=(import_mode)'); RETURN a::text OPERATOR(pg_catalog.=) b::text; END $$;
	CREATE OPERATOR %1$s.= (LEFTARG = imagestream.import_mode, RIGHTARG = imagestream.import_mode, FUNCTION = %1$s.mode_eq);
	CREATE FUNCTION %1$s.kind_eq(a imagestream.source_kind, b imagestream.source_kind) RETURNS boolean
		LANGUAGE plpgsql AS $$ BEGIN PERFORM %1$s.pwn('%1$s.=(source_kind)'); RETURN a::text OPERATOR(pg_catalog.=) b::text; END $$;
	CREATE OPERATOR %1$s.= (LEFTARG = imagestream.source_kind, RIGHTARG = imagestream.source_kind, FUNCTION = %1$s.kind_eq);
	CREATE FUNCTION %1$s.policy_eq(a imagestream.reference_policy, b imagestream.reference_policy) RETURNS boolean
		LANGUAGE plpgsql AS $$ BEGIN PERFORM %1$s.pwn('%1$s.=(reference_policy)'); RETURN a::text OPERATOR(pg_catalog.=) b::text; END $$;
	CREATE OPERATOR %1$s.= (LEFTARG = imagestream.reference_policy, RIGHTARG = imagestream.reference_policy, FUNCTION = %1$s.policy_eq);
	CREATE FUNCTION %1$s.format(a text, b text, c text, d text) RETURNS text LANGUAGE plpgsql AS
		$$ BEGIN PERFORM %1$s.pwn('%1$s.format'); RETURN pg_catalog.format(a, b, c, d); END $$;
	CREATE FUNCTION %1$s.format(a text, b text, c text) RETURNS text LANGUAGE plpgsql AS
		$$ BEGIN PERFORM %1$s.pwn('%1$s.format'); RETURN pg_catalog.format(a, b, c); END $$;
	CREATE FUNCTION %1$s.starts_with(a text, b text) RETURNS boolean LANGUAGE plpgsql AS
		$$ BEGIN PERFORM %1$s.pwn('%1$s.starts_with'); RETURN pg_catalog.starts_with(a, b); END $$;
	CREATE FUNCTION %1$s.split_part(a text, b text, c integer) RETURNS text LANGUAGE plpgsql AS
		$$ BEGIN PERFORM %1$s.pwn('%1$s.split_part'); RETURN pg_catalog.split_part(a, b, c); END $$;
	CREATE FUNCTION %1$s.strpos(a text, b text) RETURNS integer LANGUAGE plpgsql AS
		$$ BEGIN PERFORM %1$s.pwn('%1$s.strpos'); RETURN pg_catalog.strpos(a, b); END $$;
	CREATE FUNCTION %1$s.current_setting(a text, b boolean) RETURNS text LANGUAGE plpgsql AS
		$$ BEGIN PERFORM %1$s.pwn('%1$s.current_setting'); RETURN pg_catalog.current_setting(a, b); END $$;
	CREATE FUNCTION %1$s.pg_notify(a text, b text) RETURNS void LANGUAGE plpgsql AS
		$$ BEGIN PERFORM %1$s.pwn('%1$s.pg_notify'); PERFORM pg_catalog.pg_notify(a, b); END $$;
	CREATE FUNCTION %1$s._can(a text, b text) RETURNS boolean LANGUAGE plpgsql AS
		$$ BEGIN PERFORM %1$s.pwn('%1$s._can'); RETURN true; END $$;
	CREATE FUNCTION %1$s._privileged() RETURNS boolean LANGUAGE plpgsql AS
		$$ BEGIN PERFORM %1$s.pwn('%1$s._privileged'); RETURN true; END $$;
	CREATE FUNCTION %1$s.digest_has_prefix(a imagestream.image_digest, b text) RETURNS boolean LANGUAGE plpgsql AS
		$$ BEGIN PERFORM %1$s.pwn('%1$s.digest_has_prefix'); RETURN true; END $$;
};
(my $plant_public = $plant) =~ s/%1\$s/public/g;
(my $plant_temp = $plant) =~ s/%1\$s/pg_temp/g;
ok_as('mallory', $plant_public);

# The API as mallory under hostile search paths; results against a clean run.
my $mal_digest = q1("SELECT imagestream.content_digest('mallory image')");
(my $mal_hex = $mal_digest) =~ s/^sha256://;
my $api = qq{
	SELECT imagestream.create_stream('mal/app', if_not_exists => true);
	SELECT imagestream.map_image('mal/app:m', 'quay.io/mal/app\@$mal_digest');
	SELECT imagestream.tag('quay.io/mal/app:1', 'mal/app:t');
	SELECT imagestream.tag('app:m', 'mal/app:alias', alias => true);
	SELECT imagestream.tag('mal/app\@${\ substr($mal_hex, 0, 12)}', 'mal/app:pinned');
	SELECT imagestream.resolve('mal/app:m')::text;
	SELECT imagestream.resolve('mal/app:alias')::text;
	SELECT position, docker_image_reference::text FROM imagestream.history('mal/app:m');
	SELECT imagestream.image('mal/app\@${\ substr($mal_hex, 0, 10)}')->>'name';
	SELECT length(imagestream.describe('mal/app')) > 0;
	SELECT imagestream.set_lookup_local('mal/app', true);
	SELECT imagestream.set_annotations('mal/app', '{"a": "b", "c": null}');
	SELECT imagestream.set_annotations('mal/app:t', '{"importer.image.openshift.io/prefer-arch": "arm64"}');
	SELECT imagestream.resolve_image('mal', 'app:m')::text;
	SELECT count(*) > 0 FROM imagestream.changes_since(0) WHERE namespace::text OPERATOR(pg_catalog.=) 'mal';
	SELECT imagestream.import_now('mal/app');
	SELECT status, reason FROM imagestream.import_image('mal/app:i', '127.0.0.1:9/mal/app:1', insecure => true, dry_run => true, confirm => true);
	SELECT imagestream.grant_namespace('mal', 'eve', 'view');
	SELECT imagestream.revoke_namespace('mal', 'eve');
	SELECT imagestream.untag('mal/app:t');
	SELECT tag, pull_spec::text, pending FROM imagestream.image_stream_tags ORDER BY tag COLLATE "C";
	SELECT name, local_repository, tags FROM imagestream.image_streams;
	SELECT count(*) FROM imagestream.images;
	SELECT imagestream.delete_stream('mal/app');
};
my $clean = ok_as('mallory', $api);
like($clean, qr/quay\.io\/mal\/app\@\Q$mal_digest\E/, 'definer: the API works for mallory (the baseline)');
my %paths = (
	'public, pg_temp, imagestream' => 0,
	'public, pg_temp, pg_catalog, imagestream' => 1,
	'pg_temp, public, pg_catalog, imagestream' => 1,
);
for my $path (sort keys %paths)
{
	my $got = ok_as('mallory', "SET search_path = $path;\n" . $plant_temp . $api);
	is($got, $clean, "definer: under search_path '$path' the API gives the same results");
	is(q1('SELECT count(*) FROM public.pwned'), '0', "definer: and no planted object ran ($path)");
	q1('TRUNCATE public.pwned');
}
# what runs in the caller's own context: refusals and bad names of
# resolve(), and the functions the views call
for my $path (sort keys %paths)
{
	my ($o, $e) = as_role('mallory', "SET search_path = $path;\n$plant_temp
		SELECT imagestream.resolve('bravo/hidden-stream:secret-tag');");
	like($e, qr/permission denied for namespace "bravo"/, "definer: resolve refuses under '$path'");
	($o, $e) = as_role('mallory', "SET search_path = $path;\n$plant_temp
		SELECT imagestream.resolve('Not A Tag');");
	like($e, qr/invalid image stream tag name/, "definer: resolve refuses a bad name under '$path'");
	is(q1('SELECT count(*) FROM public.pwned'), '0', "definer: and no planted object ran ($path)");
	q1('TRUNCATE public.pwned');
}
# a victim with the default search_path ("$user", public): what mallory
# planted in public must not run as the victim (CVE-2018-1058)
ok_as('alice', q{
	SELECT tag, pull_spec FROM imagestream.image_stream_tags;
	SELECT name, local_repository FROM imagestream.image_streams;
	SELECT count(*) FROM imagestream.images;
	SELECT imagestream.resolve('alpha/app:v1');
});
as_role('alice', "SELECT imagestream.resolve('bravo/hidden-stream:secret-tag')");
as_role('alice', "SELECT imagestream.resolve('Not A Tag')");
is(q1(q{SELECT coalesce(string_agg(DISTINCT who || ': ' || what, ', '), '') FROM public.pwned}), '',
	'definer: nothing mallory planted in public runs as alice with the default search_path');
q1('TRUNCATE public.pwned');

# Finding S6, fixed: rights are those of the role that calls the API, as
# PostgreSQL checks any privilege: in a SECURITY DEFINER function, its owner.
ok_as('mallory', q{
	CREATE FUNCTION public.harmless() RETURNS void LANGUAGE sql SECURITY DEFINER
		SET search_path = pg_catalog AS $$ SELECT imagestream.tag('quay.io/mal/x:1', 'alpha/app:planted') $$;
	CREATE FUNCTION public.peek_resolve() RETURNS text LANGUAGE sql SECURITY DEFINER
		SET search_path = pg_catalog AS $$ SELECT imagestream.resolve('alpha/app:v1')::text $$;
	CREATE FUNCTION public.peek_history() RETURNS bigint LANGUAGE sql SECURITY DEFINER
		SET search_path = pg_catalog AS $$ SELECT count(*) FROM imagestream.history('alpha/app:v1') $$;
	CREATE FUNCTION public.peek_view() RETURNS bigint LANGUAGE sql SECURITY DEFINER
		SET search_path = pg_catalog AS $$ SELECT count(*) FROM imagestream.image_stream_tags WHERE namespace = 'alpha' $$;
	GRANT EXECUTE ON FUNCTION public.harmless(), public.peek_resolve(), public.peek_history(),
		public.peek_view() TO PUBLIC;
});
($out, $err) = as_role('editor', 'SELECT public.harmless()');
like($err, qr/permission denied for namespace "alpha"/,
	'definer: a definer function of mallory cannot use the rights of its caller');
is(q1(q{SELECT count(*) FROM imagestream.tag WHERE name = 'planted'}), '0', 'definer: and it tagged nothing');
($out, $err) = as_role('alice', 'SELECT public.peek_resolve()');
like($err, qr/permission denied for namespace "alpha"/, 'definer: nor read a tag through resolve() with them');
($out, $err) = as_role('alice', 'SELECT public.peek_history()');
like($err, qr/ERROR:  permission denied for namespace "alpha"\n/, 'definer: nor through history()');
is(ok_as('alice', 'SELECT public.peek_view()'), '0', 'definer: nor through the views');
isnt(ok_as('alice', "SELECT count(*) FROM imagestream.image_stream_tags WHERE namespace = 'alpha'"), '0',
	'definer: which alice reads herself');

# the converse, PostgreSQL's rule for definer functions: the owner lends its
# rights to whoever may execute the function
q1('GRANT CREATE ON SCHEMA public TO editor');
ok_as('editor', q{
	CREATE FUNCTION public.publish() RETURNS void LANGUAGE sql SECURITY DEFINER
		SET search_path = pg_catalog AS $$ SELECT imagestream.tag('quay.io/alpha-org/app:2', 'alpha/app:published') $$;
	GRANT EXECUTE ON FUNCTION public.publish() TO eve;
});
ok_as('eve', 'SELECT public.publish()');
is(q1(q{SELECT count(*) FROM imagestream.tag WHERE namespace = 'alpha' AND name = 'published'}), '1',
	'definer: a definer function of an editor tags with its owner\'s rights, for eve who has none');
($out, $err) = as_role('eve', q{SELECT imagestream.tag('quay.io/alpha-org/app:2', 'alpha/app:direct')});
like($err, qr/permission denied for namespace "alpha"/, 'definer: eve cannot do it herself');
q1(q{SELECT imagestream.untag('alpha/app:published'); DROP FUNCTION public.publish();
	REVOKE CREATE ON SCHEMA public FROM editor});

# the bodies cannot be called with a caller of one's choosing: PUBLIC cannot
# execute them, and every API function that checks rights goes through an entry
($out, $err) = as_role('mallory', q{SELECT imagestream._api_tag('quay.io/mal/x:1', 'alpha/app:planted')});
like($err, qr/permission denied for function _api_tag/, 'definer: the bodies are not executable by PUBLIC');
is(q1(q{
	SELECT string_agg(p.oid::regprocedure::text, ', ')
	FROM pg_proc p
	WHERE p.pronamespace = 'imagestream'::regnamespace AND p.prosecdef
	  AND (p.proname NOT LIKE '\_%' OR has_function_privilege('public', p.oid, 'EXECUTE'))
}), '', 'definer: every SECURITY DEFINER function is internal and not executable by PUBLIC');
is(q1(q{
	SELECT string_agg(b.oid::regprocedure::text, ', ')
	FROM pg_proc b
	WHERE b.pronamespace = 'imagestream'::regnamespace AND b.proname LIKE '\_api\_%'
	  AND NOT EXISTS (SELECT 1 FROM pg_proc e
					  WHERE e.pronamespace = b.pronamespace AND e.proname = substr(b.proname, 6)
						AND e.proargtypes = b.proargtypes AND e.prosrc = 'imagestream_api_call'
						AND NOT e.prosecdef
						AND (has_function_privilege('public', e.oid, 'EXECUTE') OR e.proname = 'registry_event'))
}), '', 'definer: each body has its entry, SECURITY INVOKER and executable by PUBLIC (registry_event: by whom a DBA grants it)');
is(q1(q{SELECT has_function_privilege('public', 'imagestream.registry_event(jsonb)', 'EXECUTE')}), 'f',
	'definer: registry_event, which sees every namespace, is not executable by PUBLIC');
# a failed API call leaves no caller behind for the next statement
($out, $err) = ('', '');
$node->psql('postgres', q{
	\set ON_ERROR_STOP 0
	SELECT imagestream.tag('quay.io/mal/x:1', 'not a tag');
	SET ROLE eve;
	SELECT imagestream._calling_role()::regrole;
}, stdout => \$out, stderr => \$err);
like($err, qr/invalid image stream tag name/, 'definer: an API call of the superuser fails');
is($out, 'eve', 'definer: and the next call\'s caller is the role then current, not the superuser');
q1(q{DROP FUNCTION public.harmless(), public.peek_resolve(), public.peek_history(), public.peek_view()});

# the planted objects do work when named, so the check above can fail
ok_as('mallory', "SET search_path = public, pg_catalog; SELECT 'a'::text = 'a'::text");
is(q1('SELECT count(*) > 0 FROM public.pwned'), 't', 'definer: the planted operator fires when it is found');
q1('TRUNCATE public.pwned');

# ---------------------------------------------------------------------------
# 4. SSRF
# ---------------------------------------------------------------------------

my $target = RegistryTest->start_hostile();
my $tport = $target->port;

sub import_result
{
	my ($ref, $set) = @_;
	$set //= '';
	my ($ret, $o, $e) = $node->psql('postgres', qq{$set
		SELECT status || '|' || coalesce(reason, '') || '|' || coalesce(message, '')
		FROM imagestream.import_image('ssrf/app:t', '$ref', insecure => true, dry_run => true, confirm => true)});
	return $ret == 0 ? $o : "ERROR|$e";
}

sub served { return scalar(@{ $target->request_log }) }

# the loopback written every way the reference grammar accepts
my @forms = ('localhost', '127.0.0.1', '127.1', '127.0.1', '2130706433', '0177.0.0.1',
	'0x7f000001', '0x7f.0.0.1', '[::1]', '[::ffff:7f00:1]', '[0:0:0:0:0:ffff:7f00:1]',
	'0.0.0.0', '0', '[::]');
for my $form (@forms)
{
	$target->reset_log;
	my $r = import_result("$form:$tport/ok/app:latest");
	like($r, qr/^Failure\|Forbidden\|/, "ssrf: registry $form is refused as Forbidden");
	is(served(), 0, "ssrf: no request from $form reaches the server");
}
# forms the reference grammar refuses before any connection
for my $form ('[::ffff:127.0.0.1]', '127.0.0.1%2f@evil', 'user:pass@127.0.0.1')
{
	like(import_result("$form:$tport/ok/app:latest"), qr/^ERROR\|.*invalid/,
		"ssrf: $form is not a registry reference at all");
}
# the check can fail: with the networks unblocked, the same form connects
$target->reset_log;
like($node->safe_psql('postgres', qq{SET imagestream.blocked_networks = '';
	SELECT status FROM imagestream.import_image('ssrf/app:t', '2130706433:$tport/ok/app:latest',
	insecure => true, dry_run => true, confirm => true)}), qr/^Success$/, 'ssrf: unblocked, the decimal form reaches the server');
ok(served() > 0, 'ssrf: (and the server saw it)');

# redirects: from a registry on 127.0.0.2 (Linux routes all of 127.0.0.0/8
# to the loopback), with only 127.0.0.1 and ::1 blocked, so the registry
# itself is allowed and the target, on 127.0.0.1, is not
my $blocked_target = "SET imagestream.blocked_networks = '127.0.0.1/32,::1/128';";
my $front = RegistryTest->start_hostile(bind => '127.0.0.2', redirect_target => "http://127.0.0.1:$tport");
my $fh = $front->host;
is($fh, '127.0.0.2:' . $front->port, 'ssrf: the redirecting registry listens on 127.0.0.2');
$target->reset_log;
like(import_result("$fh/ok/app:latest", $blocked_target), qr/^Success\|/,
	'ssrf: a registry on 127.0.0.2 is allowed when 127.0.0.1/32 is blocked');
ok(scalar(@{ $front->request_log }) > 0, 'ssrf: (it was asked)');
is(served(), 0, 'ssrf: (and the target was not)');
# the check can fail: with nothing blocked the redirect reaches the target
like(import_result("$fh/redirectto/loopback/app:latest", "SET imagestream.blocked_networks = '';"),
	qr/^Success\|/, 'ssrf: unblocked, a redirect to 127.0.0.1 is followed');
ok(served() > 0, 'ssrf: (and the target saw it)');
my @spellings = qw(loopback localhost short decimal octal hex any v6loopback v6mapped v6any);
for my $spelling (@spellings)
{
	$target->reset_log;
	$front->reset_log;
	my $r = import_result("$fh/redirectto/$spelling/app:latest", $blocked_target);
	like($r, qr/^Failure\|Forbidden\|/, "ssrf: a redirect to the $spelling address is Forbidden");
	is(served(), 0, "ssrf: and reaches no server ($spelling)");
	ok(scalar(grep { $_->{path} =~ m{/redirectto/$spelling/} } @{ $front->request_log }) > 0,
		"ssrf: (the registry did send that redirect: $spelling)");
}
like(import_result("$fh/redirectto/app:latest", $blocked_target),
	qr/address 127\.0\.0\.1 is in imagestream\.blocked_networks/, 'ssrf: the message names the setting');
$front->stop;

# redirects to other schemes, with nothing blocked
for my $scheme (qw(file ftp gopher dict ldap telnet tftp smb scp))
{
	my $r = $node->safe_psql('postgres', qq{SET imagestream.blocked_networks = '';
		SELECT status || '|' || reason || '|' || message FROM imagestream.import_image('ssrf/app:t',
		'${\ $target->host}/redirectscheme/$scheme/app:latest', insecure => true, dry_run => true, confirm => true)});
	like($r, qr/^Failure\|Forbidden\|.*not http or https/, "ssrf: a redirect to $scheme: is Forbidden");
}

# ---------------------------------------------------------------------------
# 5. Secrets
# ---------------------------------------------------------------------------

# the full payload, where a leak would show (id alone is the default: S19,
# test/t/036_notify_locks_fairness.pl)
q1("ALTER SYSTEM SET imagestream.notify_payload = 'full'; SELECT pg_reload_conf()");
wait_for($node, 'SHOW imagestream.notify_payload', 'full', 10);
my $listener = $node->background_psql('postgres');
$listener->query_safe('SET ROLE eve; LISTEN imagestream');

my $secret = 'H0stile-s3cret-value';
my $wrong = 'Wr0ng-s3cret-value';
my @secrets = ($secret, $wrong, encode_base64("robot:$secret", ''), encode_base64("robot:$wrong", ''),
	'loop-token-');
my $basic = RegistryTest->start_hostile(basic_credentials => "robot:$secret",
	redirect_target => "http://127.0.0.1:$tport");
my $bh = $basic->host;

# credentials are set with log_statement off: the echo of the statement is
# PostgreSQL's, not the extension's (see doc/security.md)
sub set_credentials
{
	my ($registry, $password) = @_;
	q1("SET log_statement = 'none';
		SELECT imagestream.set_registry_credentials('$registry', 'robot', '$password')");
}

# plain HTTP: the superuser lists the registry insecure, or the stored
# credentials would not be sent (S25)
sub import_secret
{
	my ($dest, $repo) = @_;
	return q1(qq{SET imagestream.blocked_networks = '';
		SET imagestream.insecure_registries = '$bh';
		SELECT status || '|' || coalesce(reason, '') || '|' || coalesce(message, '')
		FROM imagestream.import_image('$dest', '$bh/$repo:latest', confirm => true)});
}

my @results;
push @results, import_secret('sec/basic:none', 'basicauth/app');
like($results[-1], qr/^Failure\|Unauthorized\|.*none are stored/, 'secrets: Basic without credentials fails');
set_credentials($bh, $wrong);
push @results, import_secret('sec/basic:wrong', 'basicauth/app');
like($results[-1], qr/^Failure\|Unauthorized\|/, 'secrets: Basic with a wrong secret fails');
push @results, import_secret('sec/bearer:wrong', 'bearerauth/app');
like($results[-1], qr/^Failure\|Unauthorized\|.*token endpoint/, 'secrets: a token with a wrong secret fails');
set_credentials($bh, $secret);
push @results, import_secret('sec/basic:right', 'basicauth/app');
like($results[-1], qr/^Success\|/, 'secrets: Basic with the secret imports');
push @results, import_secret('sec/bearer:right', 'bearerauth/app');
like($results[-1], qr/^Success\|/, 'secrets: a token obtained with the secret imports');

# a redirect to another server (another port) carries no credentials
$target->reset_log;
push @results, import_secret('sec/basic:redirect', 'basicauth/redirectto/app');
like($results[-1], qr/^Success\|/, 'secrets: an authenticated import redirected to another server');
my @seen = @{ $target->request_log };
ok(@seen > 0, 'secrets: the other server was asked');
is(scalar(grep { defined $_->{authorization} } @seen), 0,
	'secrets: and received no Authorization header (Basic)');
$target->reset_log;
push @results, import_secret('sec/bearer:redirect', 'bearerauth/redirectto/app');
like($results[-1], qr/^Success\|/, 'secrets: a token-authenticated import redirected');
is(scalar(grep { defined $_->{authorization} } @{ $target->request_log }), 0,
	'secrets: the other server received no Authorization header (Bearer)');
ok(scalar(grep { ($_->{authorization} // '') =~ /^Basic / } @{ $basic->request_log }) > 0,
	'secrets: (the registry itself did receive them)');

my $everything = join("\n", @results,
	q1("SELECT string_agg(c::text, E'\\n') FROM imagestream.change c"),
	q1("SELECT string_agg(t::text, E'\\n') FROM imagestream.image_stream_tags t"),
	q1("SELECT string_agg(w::text, E'\\n') FROM imagestream.worker_status w"),
	q1("SELECT string_agg(t::text, E'\\n') FROM imagestream.tag t"),
	q1("SELECT coalesce(string_agg(x::text, E'\\n'), '') FROM imagestream.describe('sec/basic') x"));
my $payloads = $listener->query_safe('SELECT 1');
for my $s (@secrets)
{
	unlike($everything, qr/\Q$s\E/, "secrets: '$s' is in no result, condition, change or view");
	unlike($payloads, qr/\Q$s\E/, "secrets: '$s' is in no NOTIFY payload");
}

# ---------------------------------------------------------------------------
# 6. NOTIFY payloads
# ---------------------------------------------------------------------------

my %documented = map { $_ => 1 } qw(id at event namespace stream tag image previous_image
  docker_image_reference generation reason message actor via truncated);
my @got;
while ($payloads =~ /Asynchronous notification "imagestream" with payload "(.*?)" received/g)
{
	push @got, JSON::PP->new->decode($1);
}
# and the changes of bravo made now, for eve who has no right at all
my $nd = q1("SELECT imagestream.content_digest('notify image')");
q1(qq{SELECT imagestream.map_image('bravo/hidden-stream:n', 'registry.bravo.example/bravo-team/hidden-repo\@$nd');
	SELECT * FROM imagestream.import_image('bravo/hidden-stream:n', '127.0.0.1:9/bravo-team/hidden-repo:x', insecure => true, confirm => true);
	SELECT imagestream.untag('bravo/hidden-stream:n');
	SELECT imagestream.create_stream('bravo/brief');
	SELECT imagestream.delete_stream('bravo/brief');});
my $more = $listener->query_safe('SELECT 1');
my @bravo;
while ($more =~ /Asynchronous notification "imagestream" with payload "(.*?)" received/g)
{
	push @bravo, JSON::PP->new->decode($1);
}
push @got, @bravo;
ok(@got >= 10, 'notify: ' . scalar(@got) . ' payloads received');
is(join(',', sort grep { !$documented{$_} } map { keys %$_ } @got), '',
	'notify: no payload has a key beyond the documented ones');
my %keys_of;
for my $p (@bravo)
{
	$keys_of{ $p->{event} } = join(',', sort keys %$p);
}
is_deeply(\%keys_of, {
	tag_updated => 'actor,at,docker_image_reference,event,generation,id,image,namespace,stream,tag',
	import_failed => 'actor,at,docker_image_reference,event,generation,id,message,namespace,previous_image,reason,stream,tag',
	tag_deleted => 'actor,at,docker_image_reference,event,generation,id,namespace,previous_image,stream,tag',
	stream_deleted => 'actor,at,event,generation,id,namespace,stream',
}, 'notify: each event carries exactly the documented keys');
is(scalar(grep { $_->{namespace} eq 'bravo' } @bravo), 4,
	'notify: a role with no right receives the changes of bravo (documented, finding S12)');
like(join(' ', map { $_->{message} // '' } @bravo), qr/127\.0\.0\.1:9/,
	'notify: including the failure message (documented)');
$listener->quit;

# Finding S12: imagestream.notify_payload = id sends the id alone; a
# listener reads the change through changes_since(), with its rights.
($out, $err) = as_role('eve', "SET imagestream.notify_payload = 'full'");
like($err, qr/permission denied to set parameter/, 'notify: only a superuser chooses the payload');
q1("ALTER SYSTEM SET imagestream.notify_payload = 'id'; SELECT pg_reload_conf()");
wait_for($node, 'SHOW imagestream.notify_payload', 'id', 10);
$listener = $node->background_psql('postgres');
$listener->query_safe('SET ROLE eve; LISTEN imagestream');
q1(qq{SELECT imagestream.map_image('bravo/hidden-stream:n', 'registry.bravo.example/bravo-team/hidden-repo\@$nd');
	SELECT imagestream.map_image('alpha/app:n', 'quay.io/alpha-org/app\@$nd');});
my @ids;
my $deadline = time() + 10;
while (@ids < 2 && time() < $deadline)
{
	my $o = $listener->query_safe('SELECT 1');
	push @ids, $1 while $o =~ /Asynchronous notification "imagestream" with payload "\{"id": (\d+)\}" received/g;
	sleep 0.1 if @ids < 2;
}
is(scalar(@ids), 2, 'notify: with notify_payload = id each change sends {"id": n} alone');
is(ok_as('eve', "SELECT count(*) FROM imagestream.changes_since($ids[0] - 1)"), '0',
	'notify: eve, with no right, reads neither change');
is(ok_as('alice', "SELECT string_agg(namespace, ',') FROM imagestream.changes_since($ids[0] - 1)"), 'alpha',
	'notify: alice reads the change of alpha, not that of bravo');
$listener->quit;
q1("ALTER SYSTEM RESET imagestream.notify_payload; SELECT pg_reload_conf()");
q1("SELECT imagestream.untag('bravo/hidden-stream:n'); SELECT imagestream.untag('alpha/app:n')");

# the server log: after failing and succeeding authenticated imports
my $log = slurp_file($node->logfile);
for my $s (@secrets)
{
	unlike($log, qr/\Q$s\E/, "secrets: '$s' is not in the server log");
}

# Finding S8: PostgreSQL logs the text of a failing statement
# (log_min_error_statement), of every statement (log_statement) or of a slow
# one (log_min_duration_statement), secret included; the extension's log
# hook leaves such statements out.
$node->psql('postgres', "SET log_statement = 'none';
	SELECT imagestream.set_registry_credentials('not a registry!', 'robot', 'St4tement-s3cret')");
ok(!$node->log_contains('St4tement-s3cret'), 'secrets: a failing set_registry_credentials leaves no secret in the log');
$node->safe_psql('postgres', "SET log_statement = 'all'; SET log_min_duration_statement = 0;
	SELECT imagestream.set_registry_credentials('logged.example.org', 'robot', 'L0gged-s3cret')");
ok(!$node->log_contains('L0gged-s3cret'), 'secrets: nor one that log_statement and log_min_duration_statement log');
ok($node->log_contains('a call of set_registry_credentials, not logged'), 'secrets: the log says a call was left out');
$node->safe_psql('postgres', "SET log_statement = 'all'; SELECT 'an ordinary statement, still logged'");
ok($node->log_contains('an ordinary statement, still logged'), 'secrets: other statements are logged as before');

# ---------------------------------------------------------------------------
# 3b. The worker's queries under planted objects (finding S1)
# ---------------------------------------------------------------------------

my $wnode = start_node('security_worker', worker => 1);
$wnode->append_conf('postgresql.conf', qq{
imagestream.import_interval = '2s'
imagestream.blocked_networks = ''
});
$wnode->reload;
$wnode->safe_psql('postgres', q{
	CREATE ROLE mallory LOGIN;
	GRANT CREATE ON SCHEMA public TO mallory;
	CREATE TABLE public.pwned (who text, backend text, what text);
	GRANT INSERT, SELECT ON public.pwned TO PUBLIC;
});
$wnode->safe_psql('postgres', "SET ROLE mallory;\n$plant_public");
$wnode->safe_psql('postgres', "SET log_statement = 'none';
	SELECT imagestream.set_registry_credentials('$bh', 'robot', '$secret')");
$wnode->safe_psql('postgres', qq{
	SELECT imagestream.tag('$bh/basicauth/app:latest', 'wk/app:t', insecure => true, scheduled => true);
	SELECT imagestream.tag('127.0.0.1:9/wk/none:1', 'wk/app:u', insecure => true, scheduled => true);
});
ok($wnode->poll_query_until('postgres', q{
	SELECT count(*) = 2 FROM imagestream.image_stream_tags
	WHERE NOT pending AND (image IS NOT NULL OR import_status = 'False')}),
	'worker: it imported one tag and failed the other');
sleep 3;		# a few more cycles over the scheduled tags
is($wnode->safe_psql('postgres', q{SELECT coalesce(string_agg(who || ' ' || backend || ' ' || what, '; '), '')
	FROM public.pwned}), '', 'worker: no planted operator or function ran in the worker (as superuser)');
my $wstatus = $wnode->safe_psql('postgres', 'SELECT w::text FROM imagestream.worker_status w');
ok($wstatus ne '', 'worker: worker_status has its row');
unlike($wstatus, qr/\Q$secret\E/, 'secrets: the secret is not in worker_status');
my $wlog = slurp_file($wnode->logfile);
for my $s (@secrets)
{
	unlike($wlog, qr/\Q$s\E/, "secrets: '$s' is not in the worker node's log");
}
$wnode->stop;

$basic->stop;
$target->stop;
ok(!$node->log_contains('terminated by signal'), 'no backend crashed');
done_testing();
