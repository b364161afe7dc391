# Catalogue isolation (doc/security.md S16, S17): an index that a caller
# wrote, or imported from a registry it runs, opens no image of another
# namespace; no base table is readable by roles without rights, and the
# views they read show no trace of another namespace, not even in EXPLAIN
# ANALYZE's row counts.  Roles: alice (view on alpha), editor (edit on
# alpha), carol (view on bravo, edit on alpha), bob (admin on bravo), eve
# (no right).
use strict;
use warnings;

use Digest::SHA qw(sha256_hex);
use Math::BigInt;
use PostgreSQL::Test::Utils;
use Test::More;

use ImagestreamTest qw(start_node assert_no_crash);
use RegistryTest;

my $node = start_node('isolation', conf => "imagestream.blocked_networks = ''");
my $reg = RegistryTest->start();
my $host = $reg->host;
my $hostile = RegistryTest->start_hostile();
my $hostile_host = $hostile->host;

sub q1 { return $node->safe_psql('postgres', shift) }

sub ok_as
{
	my ($role, $sql) = @_;
	return $node->safe_psql('postgres', "SET ROLE $role;\nSET search_path = pg_catalog, imagestream;\n$sql");
}

# (stdout, stderr) of $sql as $role
sub as_role
{
	my ($role, $sql) = @_;
	my ($ret, $out, $err) = $node->psql('postgres', "SET ROLE $role;\n$sql");
	return ($out, $err);
}

sub import_row
{
	my ($role, $args) = @_;
	return ok_as($role, "SELECT status || '|' || coalesce(reason, '') || '|' || coalesce(image::text, '')
						 FROM imagestream.import_image($args, confirm => true)");
}

q1(q{
	CREATE ROLE alice LOGIN;
	CREATE ROLE editor LOGIN;
	CREATE ROLE carol LOGIN;
	CREATE ROLE bob LOGIN;
	CREATE ROLE eve LOGIN;
	SELECT imagestream.grant_namespace('alpha', 'alice', 'view');
	SELECT imagestream.grant_namespace('alpha', 'editor', 'edit');
	SELECT imagestream.grant_namespace('alpha', 'carol', 'edit');
	SELECT imagestream.grant_namespace('bravo', 'carol', 'view');
	SELECT imagestream.grant_namespace('bravo', 'bob', 'admin');
	SELECT imagestream.set_registry_credentials('quay.io', 'bravo-robot', 'Brav0-s3cret', 'bravo');
	SELECT imagestream.add_trusted_key('bravo-release', '-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAN1mZ85Q4wCB2E6CJ+rjxKja1Ne4NFRo0byBLswLUsRw=
-----END PUBLIC KEY-----', 'bravo');
});

# bravo's images, imported from the registry: one image with a secret in its
# configuration, and an index of two images (PreserveOriginal)
my $secret = $reg->push_image('bravo-team/secret', 'v1', content => 'bravo secret',
	env => ['SECRET_TOKEN=bravo-s3cret']);
my $amd = $reg->push_image('bravo-team/multi', undef, content => 'bravo amd', arch => 'amd64');
my $arm = $reg->push_image('bravo-team/multi', undef, content => 'bravo arm', arch => 'arm64');
my $bravo_index = $reg->push_index('bravo-team/multi', 'v1', [ $amd, $arm ]);
is(import_row('bob', "'bravo/secret:v1', '$host/bravo-team/secret:v1', insecure => true"),
	"Success||$secret->{digest}", 'bravo imports its image');
is(import_row('bob', "'bravo/multi:v1', '$host/bravo-team/multi:v1', insecure => true, import_mode => 'PreserveOriginal'"),
	"Success||$bravo_index->{digest}", 'bravo imports its index with its children');
my $d = $secret->{digest};
(my $d_hex = $d) =~ s/^sha256://;
is(ok_as('bob', "SELECT config->'env' ? 'SECRET_TOKEN=bravo-s3cret' FROM imagestream.images WHERE digest::text = '$d'"),
	't', 'bob reads the configuration of bravo\'s image');
is(ok_as('bob', "SELECT count(*) FROM imagestream.images
				 WHERE digest::text IN ('$amd->{digest}', '$arm->{digest}') AND os = 'linux'"),
	'2', 'bob reads the children of bravo\'s index');

# ---------------------------------------------------------------------------
# S16: an index the caller wrote opens none of the digests it lists
# ---------------------------------------------------------------------------

my $index = qq({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json",)
  . qq("manifests":[{"mediaType":"application/vnd.docker.distribution.manifest.v2+json",)
  . qq("digest":"$d","size":1,"platform":{"os":"linux","architecture":"s390x"}}]});
my $forged = 'sha256:' . sha256_hex($index);
ok_as('editor', "SELECT imagestream.map_image('alpha/probe:forged', 'quay.io/alpha-org/probe\@$forged',
	manifest => convert_to('$index', 'UTF8'))");
is(ok_as('alice', "SELECT manifests::text FROM imagestream.images WHERE digest::text = '$forged'"),
	"{$d}", 'S16: alice sees the forged index, which lists bravo\'s digest');
is(ok_as('alice', "SELECT count(*) FROM imagestream.images WHERE digest::text = '$d'"), '0',
	'S16: but not the image it lists (held by bravo only)');
is(ok_as('alice', "SELECT count(*) FROM imagestream.images WHERE config::text ~ 'bravo-s3cret'"), '0',
	'S16: nor its configuration');
my ($out, $err) = as_role('alice', "SELECT imagestream.image('alpha/probe\@$d_hex')");
like($err, qr/image "alpha\/probe\@$d_hex" not found/, 'S16: image() does not find it in the stream');
($out, $err) = as_role('editor', "SELECT imagestream.map_image('alpha/probe:bydigest', 'quay.io/x/y\@$d')");
like($err, qr/is held only by image streams you may not view/,
	'S16: and the forged index does not let the editor map it by digest (S4)');

# the bytes of bravo's real index (as if they leaked) prove nothing about
# its children: they open to a stream that fetched them
my $index_bytes = $bravo_index->{manifest};
$index_bytes =~ s/'/''/g;
ok_as('editor', "SELECT imagestream.map_image('alpha/probe:copied', 'quay.io/alpha-org/probe\@$bravo_index->{digest}',
	manifest => convert_to('$index_bytes', 'UTF8'))");
is(ok_as('alice', "SELECT count(*) FROM imagestream.images WHERE digest::text = '$bravo_index->{digest}'"), '1',
	'S16: the bytes of a real index record it in alpha');
is(ok_as('alice', "SELECT count(*) FROM imagestream.images WHERE digest::text IN ('$amd->{digest}', '$arm->{digest}')"),
	'0', 'S16: but open none of its children, which only bravo fetched');
($out, $err) = as_role('alice', "SELECT imagestream.image('alpha/probe\@$amd->{digest}')");
like($err, qr/not found/, 'S16: nor does image()');

# a registry the attacker runs: an index that lists bravo's digest
my $foreign = "$hostile_host/foreignchild/$d_hex/app:latest";
like(import_row('editor', "'alpha/hostile:preserve', '$foreign', insecure => true, import_mode => 'PreserveOriginal'"),
	qr/^Failure\|DigestMismatch\|/, 'S16: a PreserveOriginal import verifies each child: the foreign one fails');
like(import_row('editor', "'alpha/hostile:legacy', '$foreign', insecure => true"),
	qr/^Success\|\|sha256:/, 'S16: a Legacy import fetches the linux/amd64 child only');
is(ok_as('alice', "SELECT count(*) FROM imagestream.images WHERE digest::text = '$d'"), '0',
	'S16: neither import opens bravo\'s image');
($out, $err) = as_role('alice', "SELECT imagestream.image('alpha/hostile\@$d_hex')");
like($err, qr/not found/, 'S16: nor does image() find it');

# what an import fetched and verified does open, and a copy by a role that
# views the source carries it
my $own_amd = $reg->push_image('alpha-team/multi', undef, content => 'alpha amd', arch => 'amd64');
my $own_arm = $reg->push_image('alpha-team/multi', undef, content => 'alpha arm', arch => 'arm64');
my $own_index = $reg->push_index('alpha-team/multi', 'v1', [ $own_amd, $own_arm ], format => 'oci');
is(import_row('editor', "'alpha/multi:v1', '$host/alpha-team/multi:v1', insecure => true, import_mode => 'PreserveOriginal'"),
	"Success||$own_index->{digest}", 'alpha imports its own index');
is(ok_as('alice', "SELECT string_agg(architecture, ',' ORDER BY architecture) FROM imagestream.images
				   WHERE digest::text IN ('$own_amd->{digest}', '$own_arm->{digest}')"),
	'amd64,arm64', 'S16: the children an import fetched and verified are alice\'s to see');
is(ok_as('alice', "SELECT imagestream.image('alpha/multi\@$own_arm->{digest}')->'image'->>'architecture'"),
	'arm64', 'S16: image() finds them in the stream');
ok_as('carol', "SELECT imagestream.tag('bravo/multi:v1', 'alpha/shared:v1')");
is(ok_as('alice', "SELECT count(*) FROM imagestream.images WHERE digest::text IN ('$amd->{digest}', '$arm->{digest}')"),
	'2', 'S16: carol, who views bravo, copies its index into alpha with the children bravo proved');
is(q1("SELECT count(*) FROM imagestream.images WHERE digest::text = '$d'"), '1',
	'S16: the superuser sees every image (the checks above can fail)');

# ---------------------------------------------------------------------------
# S17: no base table for roles without rights; views without a trace
# ---------------------------------------------------------------------------

my @views = qw(history image_stream_tags image_streams images namespace_grants protected_tags
  registry_credentials retention_rules tag_policies triggers trusted_keys worker_status);
is(q1(q{
	SELECT string_agg(c.relname, ' ' ORDER BY c.relname) FROM pg_class c
	WHERE c.relnamespace = 'imagestream'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
	  AND has_table_privilege('eve', c.oid, 'SELECT')}),
	join(' ', @views), 'S17: an ordinary role may SELECT exactly the views of doc/functions.md');
is(q1(q{
	SELECT count(*) FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
	WHERE c.relnamespace = 'imagestream'::regnamespace AND a.attnum > 0
	  AND has_column_privilege('eve', c.oid, a.attnum, 'SELECT')
	  AND c.relkind <> 'v'}),
	'0', 'S17: and no column of a base table');

my @rels = split /\n/, q1(q{
	SELECT c.relname || ' ' || c.relkind::text FROM pg_class c
	WHERE c.relnamespace = 'imagestream'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
	ORDER BY 1});
cmp_ok(scalar(@rels), '>=', 18, 'S17: every relation of the schema is checked (' . scalar(@rels) . ')');

# values of a column in the superuser's rows that mention bravo, its
# digests or its images
my $marker = join('|', 'bravo', $d_hex, map { substr($_, 7) } $bravo_index->{digest}, $amd->{digest}, $arm->{digest});
sub bravo_values
{
	my ($rel, $col) = @_;
	return split /\n/, q1("SELECT DISTINCT x.$col FROM imagestream.$rel x
							WHERE x::text ~ '$marker' AND x.$col IS NOT NULL LIMIT 20");
}

# the digest right after $d in their order (sha256, hash as a number)
sub next_digest
{
	my ($d) = @_;
	my $n = Math::BigInt->from_hex(substr($d, 7))->binc->as_hex;
	$n =~ s/^0x//;
	return 'sha256:' . ('0' x (64 - length($n))) . $n;
}

# EXPLAIN ANALYZE of a condition, as a literal (the plan and its estimates
# for that value) and as a parameter of a generic plan (index conditions and
# row counts), the value replaced by VALUE
sub plans
{
	my ($role, $rel, $col, $type, $op, $v) = @_;
	my $opts = 'ANALYZE, COSTS, TIMING OFF, SUMMARY OFF';
	my $p = ok_as($role, "SET plan_cache_mode = force_generic_plan;
		PREPARE q($type) AS SELECT * FROM imagestream.$rel WHERE $col $op \$1;
		EXPLAIN ($opts) EXECUTE q('$v');");
	$p .= "\n" . ok_as($role, "EXPLAIN ($opts) SELECT * FROM imagestream.$rel WHERE $col $op '$v'::$type")
	  if $type !~ /int|regrole/;
	$p =~ s/'\Q$v\E'/VALUE/g;
	$p =~ s/Memory Usage: \d+kB//g;
	return $p;
}

my $compared = 0;
for my $entry (@rels)
{
	my ($rel, $kind) = split / /, $entry;
	for my $role (qw(eve alice))
	{
		my ($o, $e) = as_role($role, "SELECT count(*) FROM imagestream.$rel");
		if (q1("SELECT has_table_privilege('$role', 'imagestream.$rel', 'SELECT')") eq 'f')
		{
			like($e, qr/permission denied for (table|view) $rel/, "S17: $role may not read $rel ($kind)");
			($o, $e) = as_role($role, "EXPLAIN (ANALYZE) SELECT * FROM imagestream.$rel");
			like($e, qr/permission denied/, "S17: nor EXPLAIN ANALYZE it");
			next;
		}
		is($e, '', "S17: $role reads view $rel");
	}
	# every column of every relation an ordinary role may read: a leakproof
	# condition (= and < of text, digests, numbers) that matches a row of
	# bravo only gives the plan, the estimates and the row counts of one that
	# matches nothing
	next unless q1("SELECT has_table_privilege('alice', 'imagestream.$rel', 'SELECT')") eq 't';
	my @cols = split /\n/, q1("SELECT attname || ' ' || format_type(atttypid, NULL) FROM pg_attribute
		WHERE attrelid = 'imagestream.$rel'::regclass AND attnum > 0 AND NOT attisdropped
		  AND atttypid IN ('text'::regtype, 'imagestream.image_digest'::regtype, 'imagestream.image_ref'::regtype,
						   'bigint'::regtype, 'integer'::regtype, 'regrole'::regtype)
		ORDER BY attnum");
	for my $c (@cols)
	{
		my ($col, $type) = split / /, $c, 2;
		my @values = bravo_values($rel, $col);
		my $none = $type =~ /digest/ ? 'sha256:' . ('0' x 64)
		  : $type =~ /image_ref/ ? 'nowhere.example/none@sha256:' . ('0' x 64)
		  : $type =~ /int/ ? '-1' : $type eq 'regrole' ? 'eve' : 'no-such-value';
		for my $role (qw(eve alice))
		{
			# a value of bravo that no row the role may see has
			my ($v) = grep {
				ok_as($role, "SELECT count(*) FROM imagestream.$rel WHERE $col = '$_'::$type") eq '0'
			} @values;
			next unless defined $v;
			$compared++;
			my ($with, $without) = (plans($role, $rel, $col, $type, '=', $v), plans($role, $rel, $col, $type, '=', $none));
			is($with, $without, "S17: $role, EXPLAIN ANALYZE of $rel.$col = (a value of bravo) shows no trace of it")
			  or diag("$v:\n$with\n$none:\n$without");
			next unless $type =~ /digest/;
			# < the next digest and < the digest itself differ by the digest
			($with, $without) = (plans($role, $rel, $col, $type, '<', next_digest($v)),
								 plans($role, $rel, $col, $type, '<', $v));
			is($with, $without, "S17: $role, EXPLAIN ANALYZE of $rel.$col < (around a digest of bravo) shows no trace of it")
			  or diag("$v:\n$with\n$without");
		}
	}
}
cmp_ok($compared, '>=', 20, "S17: $compared plans compared");

# callers read what they read before, through the views and functions
is(ok_as('alice', "SELECT count(*) FROM imagestream.image_stream_tags"),
	q1("SELECT count(*) FROM imagestream.image_stream_tags WHERE namespace = 'alpha'"),
	'S17: alice reads the tags of alpha');
is(ok_as('alice', "SELECT string_agg(DISTINCT namespace, ',') FROM imagestream.image_streams"), 'alpha',
	'S17: and its streams');
is(ok_as('alice', "SELECT count(*) FROM imagestream.history h
				   JOIN imagestream.image_stream_tags t ON true WHERE false"), '0',
	'S17: views join');
is(ok_as('alice', "SELECT count(*) FROM imagestream.history"),
	q1("SELECT count(*) FROM imagestream.history h JOIN imagestream.tag t ON t.id = h.tag_id WHERE t.namespace = 'alpha'"),
	'S17: and its history');
is(ok_as('alice', "SELECT imagestream.resolve('alpha/multi:v1')::text"),
	"$host/alpha-team/multi\@$own_index->{digest}", 'S17: resolve() works for alice');
is(ok_as('alice', "SELECT count(*) FROM imagestream.history('alpha/multi:v1')"), '1',
	'S17: history() too');
is(ok_as('alice', "SELECT count(*) > 0 FROM imagestream.changes_since(0)"), 't', 'S17: changes_since() too');
like(ok_as('alice', "SELECT imagestream.describe('alpha/multi')"), qr/v1/, 'S17: describe() too');
is(ok_as('eve', "SELECT (SELECT count(*) FROM imagestream.image_stream_tags) + (SELECT count(*) FROM imagestream.images)"),
	'0', 'S17: eve, with no right, reads no row');
is(ok_as('bob', "SELECT string_agg(grantee::text || ':' || level, ',' ORDER BY grantee::text) FROM imagestream.namespace_grants"),
	'bob:admin,carol:view', 'S17: an admin reads the grants of its namespace in namespace_grants');
is(ok_as('carol', "SELECT count(*) FROM imagestream.namespace_grants"), '0',
	'S17: a viewer or editor reads none');

assert_no_crash($node);
done_testing();
