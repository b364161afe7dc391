# Every function of schema imagestream, found in pg_proc (so functions
# added later are covered without editing this file), called as a role
# without rights and as a tenant (edit on one namespace): NULL in each
# argument position and in all of them, and extreme values per argument
# type (empty, 1 MB, malformed, limits of integers, deep and huge jsonb, bad
# enum labels).  The C functions get the same as superuser.
# Each call is its own transaction under a statement_timeout; the server must
# never restart, every error must be an ordinary ERROR (no FATAL, no PANIC,
# no internal error, no timeout).  Calls a role may not execute are refused
# and counted.  Imports fail fast: no registry they name is allowed.
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

use ImagestreamTest qw(start_node wait_for assert_no_crash);

my $t0 = time();
my $node = start_node('surface', conf => q{
imagestream.allowed_registries = 'allowed.invalid'
imagestream.request_timeout = '2s'
log_min_error_statement = panic
restart_after_crash = on
max_prepared_transactions = 2
});

sub q1 { return $node->safe_psql('postgres', shift) }

my $super = q1('SELECT current_user');
q1(qq{
	CREATE ROLE nobody LOGIN;				-- no right at all
	CREATE ROLE tenant LOGIN;				-- edit on alpha
	SET search_path TO imagestream;
	SELECT grant_namespace('alpha', 'tenant', 'edit');
	SELECT create_stream('alpha/app', annotations => '{"a": "b"}');
	SELECT map_image('alpha/app:latest', ref_with_digest('none.invalid/org/app', content_digest(v::bytea)))
	FROM unnest(ARRAY['v1', 'v2', 'v3']) v;
	SELECT tag('app:latest', 'alpha/app:copy');
	SELECT tag('app:latest', 'alpha/app:alias', alias => true);
	SELECT tag('none.invalid/org/app:2', 'alpha/app:sched', scheduled => true);
	SELECT map_image('beta/other:x', ref_with_digest('none.invalid/org/other', content_digest('o')));
	SELECT set_registry_credentials('none.invalid', 'robot', 'token');
});

# ---------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------

my $digest = "imagestream.content_digest('v1')";
my $manifest = "convert_to('"
  . '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",'
  . '"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:'
  . ('0' x 64) . '","size":2},"layers":[]}' . "', 'UTF8')";

# a plausible value for a text argument, by its name
my %text_by_name = (
	namespace => "'alpha'", ns => "'alpha'", p_ns => "'alpha'", p_namespace => "'alpha'",
	p_default_ns => "'alpha'", stream => "'alpha/app'", name => "'app'", level => "'edit'",
	what => "'tag'", destination => "'alpha/app:dest'", from_image => "'none.invalid/org/app:1'",
	registry => "'none.invalid'", username => "'u'", secret => "'s'", image => "'app:latest'",
	stream_image => q{'alpha/app@' || } . $digest, to_image => "$digest\::text",
	media_type => "'application/vnd.oci.image.manifest.v1+json'", algorithm => "'sha256'",
	p_media_type => "'application/vnd.oci.image.manifest.v1+json'",
	repository => "'none.invalid/org/app'", semver => "'>=1.0'", ordering => 'NULL', pattern => "'^v'",
	extract => "'x'");

# a plausible value of each type (arrays, enums and composites below)
my %typical = (
	text => "'alpha/app:latest'",
	boolean => 'false',
	integer => '1',
	bigint => '1',
	jsonb => q{'{"a": "b"}'},
	bytea => $manifest,
	regrole => 'current_user',
	interval => q{'1 day'},
	'timestamp with time zone' => 'now()',
	cstring => q{'x'},
	oid => '0',
	'imagestream.image_ref' => "imagestream.ref_with_digest('none.invalid/org/app', $digest)",
	'imagestream.image_digest' => $digest);

my $mb = 1024 * 1024;
my %extremes = (
	text => [
		"''", "repeat('x', $mb)", "repeat('a/', 300000) || 'b'", "repeat('a', 300) || ':' || repeat('b', 300)",
		q{'alpha/app:latest@sha256:' || repeat('0', 64)}, q{'%s%s%n%x%%'}, q{E'\\\\'}, q{' alpha/app '},
		q{'ALPHA/App:LATEST'}, q{'a:b:c@d@e/:@'}, q{U&'\00e9\+01F600'}, q{'..'}, q{'/'},
		q{'alpha/app:' || repeat('t', 200)}, q{'sha256:' || repeat('f', 64)}, q{'sha512:'} ],
	boolean => [ 'true', 'false' ],
	integer => [ '-1', '0', '2147483647', '-2147483648' ],
	bigint => [ '-1', '0', '9223372036854775807', '-9223372036854775808' ],
	jsonb => [
		q{'null'}, q{'[]'}, q{'"x"'}, q{'{"a": {"b": [1, 2, {"c": null}]}}'},
		"(repeat('[', 2000) || repeat(']', 2000))::jsonb",
		"(repeat('{\"a\":', 2000) || '1' || repeat('}', 2000))::jsonb",
		"(SELECT jsonb_object_agg('k' || g, repeat('v', 100)) FROM generate_series(1, 10000) g)",
		"jsonb_build_object(repeat('k', $mb), repeat('v', $mb))" ],
	bytea => [
		q{''}, q{'\x00'}, q{'\xc328'}, "decode(repeat('ff', $mb), 'hex')", "'{'",
		"convert_to(repeat('[', 100000) || repeat(']', 100000), 'UTF8')",
		q{convert_to('{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"digest":"sha256:x"},{}]}', 'UTF8')},
		q{convert_to('{"schemaVersion":1}', 'UTF8')} ],
	regrole => [
		'0::oid::regrole', '4294967295::oid::regrole', "'nobody'::regrole", "'pg_database_owner'::regrole",
		"(SELECT oid FROM pg_roles WHERE rolsuper LIMIT 1)::regrole" ],
	interval => [ q{'-178000000 years'}, q{'178000000 years'}, q{'0'} ],
	'timestamp with time zone' => [ q{'infinity'}, q{'-infinity'}, q{'epoch'} ],
	cstring => [ q{''}, "repeat('x', $mb)", q{'sha256:'}, q{'a@sha256:' || repeat('0', 64)} ],
	'imagestream.image_ref' => [
		q{'localhost:1/a/b:c'}, q{'none.invalid/' || repeat('a', 200) || ':x'},
		q{'x@sha512:' || repeat('0', 128)}, q{'docker.io/library/nginx'} ],
	'imagestream.image_digest' => [ q{'sha256:' || repeat('0', 64)}, q{'sha512:' || repeat('f', 128)} ]);

# pg_proc: every function, its argument types and names
my @functions;
for my $row (split /\n/, q1(q{
	SELECT p.oid::regprocedure, p.proname, l.lanname,
		coalesce(array_to_string(p.proargnames[1:p.pronargs], ',', ''), ''),
		coalesce((SELECT string_agg(format_type(t, NULL), ';' ORDER BY i)
				  FROM unnest(p.proargtypes) WITH ORDINALITY u(t, i)), '')
	FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
	WHERE p.pronamespace = 'imagestream'::regnamespace AND p.prokind = 'f'
	ORDER BY 1::text}))
{
	my ($sig, $name, $lang, $argnames, $argtypes) = split /\|/, $row, -1;
	my @types = split /;/, $argtypes;
	my @names = split /,/, $argnames, -1;
	push @functions, { sig => $sig, name => $name, lang => $lang, types => \@types,
		names => [ map { $names[$_] // '' } 0 .. $#types ] };
}
# the element type of each array type, the labels of each enum, which are composite
my (%element, %labels, %composite);
for my $row (split /\n/, q1(q{
	SELECT format_type(t.oid, NULL), t.typtype, coalesce(format_type(nullif(t.typelem, 0), NULL), ''),
		coalesce((SELECT string_agg(quote_literal(enumlabel), ',' ORDER BY enumsortorder)
				  FROM pg_enum WHERE enumtypid = t.oid), '')
	FROM pg_type t
	WHERE t.oid IN (SELECT unnest(proargtypes) FROM pg_proc WHERE pronamespace = 'imagestream'::regnamespace)}))
{
	my ($type, $kind, $elem, $enum) = split /\|/, $row, -1;
	$element{$type} = $elem if $elem ne '' && $kind eq 'b' && $type =~ /\[\]$/;
	$labels{$type} = [ split /,/, $enum ] if $kind eq 'e';
	$composite{$type} = 1 if $kind eq 'c';
}
# internal arguments take only values of type internal, which SQL cannot write
my $internal = grep { grep { $_ eq 'internal' } @{ $_->{types} } } @functions;
@functions = grep { !grep { $_ eq 'internal' } @{ $_->{types} } } @functions;
note "$internal functions with an argument of type internal are not callable from SQL";
ok(scalar(@functions) > 100, scalar(@functions) . ' functions of schema imagestream found in pg_proc');

sub typical
{
	my ($type, $argname) = @_;
	return $text_by_name{$argname} if $type eq 'text' && $text_by_name{$argname};
	return $typical{$type} if exists $typical{$type};
	return $labels{$type}[0] if $labels{$type};
	return "jsonb_populate_record(NULL::$type, '{}')" if $composite{$type};
	return 'ARRAY[' . typical($element{$type}, '') . ']' if $element{$type};
	return 'NULL';
}

sub extreme_values
{
	my ($type) = @_;
	return @{ $extremes{$type} } if $extremes{$type};
	# every label, and a bad one (refused by the cast, before the call)
	return (@{ $labels{$type} }, q{'NoSuchLabel'}) if $labels{$type};
	if ($composite{$type})
	{
		my $table = $type =~ s/^imagestream\.//r;
		my @v = ("jsonb_populate_record(NULL::$type, '{\"id\": -1, \"namespace\": \"\", \"name\": \"\"}')");
		push @v, "(SELECT x FROM $type x LIMIT 1)"
		  if q1("SELECT to_regclass('$type') IS NOT NULL") eq 't' && $table !~ /^_/;
		return @v;
	}
	if (my $elem = $element{$type})
	{
		my $e = typical($elem, '');
		return ("'{}'", "ARRAY[NULL]", "ARRAY[[$e], [$e]]", "array_fill(($e)::$elem, ARRAY[10000])",
			"array_fill(($e)::$elem, ARRAY[1], ARRAY[-5])", map { "ARRAY[$_]" } extreme_values($elem));
	}
	return ();
}

sub call
{
	my ($f, @args) = @_;
	my @typed = map { "($args[$_])::$f->{types}[$_]" } 0 .. $#args;
	my $name = $f->{sig} =~ s/\(.*//r;
	return "SELECT length($name(" . join(', ', @typed) . ')::text);';
}

# the calls: (function, SQL)
sub null_calls
{
	my ($f) = @_;
	my $n = @{ $f->{types} };
	my @calls = (call($f, ('NULL') x $n));
	for my $i (0 .. $n - 1)
	{
		push @calls, call($f, map { $_ == $i ? 'NULL' : typical($f->{types}[$_], $f->{names}[$_]) } 0 .. $n - 1)
		  if $n > 1;
	}
	return @calls;
}

sub extreme_calls
{
	my ($f) = @_;
	my $n = @{ $f->{types} };
	my @calls = (call($f, map { typical($f->{types}[$_], $f->{names}[$_]) } 0 .. $n - 1));
	for my $i (0 .. $n - 1)
	{
		for my $v (extreme_values($f->{types}[$i]))
		{
			push @calls, call($f, map { $_ == $i ? $v : typical($f->{types}[$_], $f->{names}[$_]) } 0 .. $n - 1);
		}
	}
	return @calls;
}

# ---------------------------------------------------------------------------
# Running them
# ---------------------------------------------------------------------------

# the checkpointer starts again when a crash reinitialises the server (with
# restart_after_crash on, so that one crash does not hide the next)
my $since_sql = q{SELECT backend_start FROM pg_stat_activity WHERE backend_type = 'checkpointer'};
my $since = q1($since_sql);

# Runs @calls as $role, each one line: its own transaction.  Returns a hash:
# calls, ok, refused, errors by SQLSTATE (with an example of each), and the
# bad ones (FATAL, PANIC, internal errors, timeouts, a lost connection) with
# the call that caused each.  After a lost connection the calls go on from
# the next one once the server is back, so that one crash does not hide the
# next.
sub run_calls
{
	my ($role, @calls) = @_;
	my $header = "\\set VERBOSITY verbose\nSET statement_timeout = '5s';\nSET client_min_messages = error;\n\\o /dev/null\n";
	my $first = () = $header =~ /\n/g;
	my %r = (calls => scalar(@calls), ok => scalar(@calls), refused => 0, errors => {}, example => {}, bad => []);
	my $from = 0;
	while ($from < @calls)
	{
		wait_for($node, 'SELECT 1', '1', 60);
		my @run = @calls[ $from .. $#calls ];
		# from a file: psql may end early (a crash), and a script on its
		# stdin would then end the test with SIGPIPE
		my $file = "$PostgreSQL::Test::Utils::tmp_check/calls.sql";
		open(my $fh, '>', $file) or die "cannot write $file: $!";
		print $fh $header, map { "BEGIN; $_ ROLLBACK;\n" } @run;
		close $fh;
		my ($ret, $out, $err) = $node->psql('postgres', '', on_error_stop => 0, extra_params => [ '-U', $role, '-f', $file ]);
		my $lost;
		for my $line (split /\n/, $err)
		{
			next unless $line =~ /^psql:[^:]*:(\d+): (.*)/;
			my ($i, $text) = ($1 - $first - 1, $2);
			my $what = $run[$i] // "line $1";
			if ($text =~ /server closed the connection|connection to server was lost/)
			{
				$lost //= $i;
				next;
			}
			next unless $text =~ /^(ERROR|FATAL|PANIC):\s+(?:([0-9A-Z]{5}): )?(.*)/;
			my ($level, $state, $msg) = ($1, $2 // '', $3);
			$r{ok}--;
			if ($level ne 'ERROR' || $state =~ /^(XX|57)/)
			{
				push @{ $r{bad} }, "$level $state $msg: $what";
			}
			elsif ($state eq '42501' && $msg =~ /^permission denied for function/)
			{
				$r{refused}++;
			}
			else
			{
				$r{errors}{$state}++;
				$r{example}{$state} //= "$msg: $what";
			}
		}
		last unless defined $lost || $ret == 2;
		$lost //= 0;
		push @{ $r{bad} }, "the connection was lost: " . ($run[$lost] // $err);
		$r{ok}--;
		$from += $lost + 1;
	}
	return \%r;
}

sub report
{
	my ($who, $r) = @_;
	note sprintf('%s: %d calls, %d returned, %d refused, errors by SQLSTATE: %s', $who, $r->{calls}, $r->{ok},
		$r->{refused}, join(' ', map { "$_=$r->{errors}{$_}" } sort keys %{ $r->{errors} }));
	note "  $_ e.g. $r->{example}{$_}" for sort keys %{ $r->{example} };
	is(join("\n", @{ $r->{bad} }), '', "$who: every failure is an ordinary ERROR (no crash, FATAL, internal error or timeout)");
}

my @c_functions = grep { $_->{lang} eq 'c' } @functions;
my $public = { map { $_ => 1 } split /\n/, q1(q{
	SELECT p.oid::regprocedure FROM pg_proc p
	WHERE p.pronamespace = 'imagestream'::regnamespace AND has_function_privilege('nobody', p.oid, 'EXECUTE')}) };

my @all_null = map { null_calls($_) } @functions;
my @extreme = map { extreme_calls($_) } @functions;

# Finding S13: _pull_spec_of, executable by PUBLIC, read NULL arguments.
my ($ret, $out, $err) = $node->psql('postgres',
	q{SELECT imagestream._pull_spec_of('a/b:c', NULL, false, NULL, NULL) IS NULL}, extra_params => [ '-U', 'nobody' ]);
is("$ret $out", '0 t', 'S13: _pull_spec_of with NULL namespace and stream is NULL, not a crash');
for my $role ('nobody', 'tenant')
{
	report("$role, NULLs", run_calls($role, @all_null));
	report("$role, extreme values", run_calls($role, @extreme));
}
my $r = run_calls('nobody', map { null_calls($_) } grep { $public->{ $_->{sig} } } @functions);
is($r->{refused}, 0, 'a role without rights may execute every function PUBLIC may');
report("$super (superuser), NULLs and extreme values to the C functions",
	run_calls($super, map { (null_calls($_), extreme_calls($_)) } @c_functions));

wait_for($node, 'SELECT 1', '1', 60);
is(q1($since_sql), $since, 'the server never restarted');
is(q1(q{SELECT count(*) FROM imagestream.tag WHERE namespace = 'alpha'}), '4', 'every call was rolled back');
my $seconds = time() - $t0;
note sprintf('%.0f s', $seconds);
cmp_ok($seconds, '<', 120, 'the whole surface is called in under 2 minutes');

# ---------------------------------------------------------------------------
# S24: namespace grants outlived DROP ROLE as a bare OID, which a restore or
# a new role with the same OID took over.
# ---------------------------------------------------------------------------

# what $role sees of namespace alpha in $db ('' if it cannot even connect)
sub sees
{
	my ($db, $role) = @_;
	my ($ret, $out) = $node->psql($db, "SET ROLE $role;\nSELECT count(*) FROM imagestream.image_streams WHERE namespace = 'alpha'");
	return $out;
}

q1(q{CREATE ROLE leaver LOGIN; CREATE DATABASE other});
$node->safe_psql('other', q{
	CREATE EXTENSION imagestream;
	SELECT imagestream.create_stream('alpha/app');
	SELECT imagestream.grant_namespace('alpha', 'leaver', 'view');
});
q1(q{SELECT imagestream.grant_namespace('alpha', 'leaver', 'view')});
my $oid = q1(q{SELECT 'leaver'::regrole::oid});
is(sees('postgres', 'leaver') . sees('other', 'leaver'), '11', 'S24: a grantee sees its namespace in both databases');
($ret, $out, $err) = $node->psql('postgres', 'DROP ROLE leaver');
like($err, qr/role "leaver" cannot be dropped because some objects depend on it\n.*privileges for function imagestream\.namespace_grantee\(\)/,
	'S24: DROP ROLE refuses a role that holds namespace grants');
$node->psql('postgres', 'DROP OWNED BY leaver');
is(sees('postgres', 'leaver') . sees('other', 'leaver'), '01',
	'S24: DROP OWNED BY takes its grants in that database at once, not in another');
($ret, $out, $err) = $node->psql('postgres', 'DROP ROLE leaver');
like($err, qr/1 object in database other/, 'S24: DROP ROLE refuses while another database holds one');
$node->psql('other', 'DROP OWNED BY leaver');
$node->psql('postgres', 'DROP ROLE leaver');
q1('CREATE ROLE leaver LOGIN');
is(sees('postgres', 'leaver') . sees('other', 'leaver'), '00', 'S24: a new role with the same name has no right');
q1('DROP ROLE leaver');

# a new role gets the dropped one's OID, as after a wraparound: the OID
# counter is set a little before it (the server may take an OID as it
# starts), and roles are created until one has it
$node->stop;
$node->command_ok([ 'pg_resetwal', '-o', $oid - 50, $node->data_dir ], 'pg_resetwal sets the next OID');
$node->start;
q1(qq{
	DO \$\$
	DECLARE
		i integer := 0;
	BEGIN
		LOOP
			i := i + 1;
			EXECUTE format('CREATE ROLE filler_%s', i);
			EXIT WHEN ('filler_' || i)::regrole::oid >= $oid OR i = 60;
		END LOOP;
		EXECUTE format('ALTER ROLE filler_%s RENAME TO heir', i);
	END \$\$;
});
is(q1(q{SELECT 'heir'::regrole::oid}), $oid, 'S24: a new role gets the OID of the dropped grantee');
is(sees('postgres', 'heir') . sees('other', 'heir'), '00', 'S24: and none of its rights');

# a dump holds the grants that count, by role name
my $dir = PostgreSQL::Test::Utils::tempdir;
$node->command_ok([ 'pg_dump', '-Fc', '-f', "$dir/dump", '-d', $node->connstr('postgres') ], 'pg_dump succeeds');
q1('CREATE DATABASE restored');
$node->command_ok([ 'pg_restore', '--exit-on-error', '-d', $node->connstr('restored'), "$dir/dump" ],
	'pg_restore succeeds');
is($node->safe_psql('restored', q{SELECT string_agg(grantee::text, ',') FROM imagestream.namespace_grant}),
	'tenant', 'S24: the dump leaves out the grant of the dropped role, which its OID would give to another');
is(sees('restored', 'tenant') . sees('restored', 'heir'), '10', 'S24: a restored grant gives its right, by role name');

($ret, $out, $err) = $node->psql('postgres', q{SELECT imagestream.grant_namespace('alpha', 4000000000::oid::regrole, 'view')});
like($err, qr/role with OID 4000000000 does not exist/, 'S24: a grant to a role that does not exist is refused');

# The privilege is set at commit, under a lock held only while committing:
# an admin's open transaction holds up no grant or revoke elsewhere, and
# grants of one role in two namespaces end right in either commit order.
q1(q{
	CREATE ROLE alice LOGIN; CREATE ROLE bob LOGIN; CREATE ROLE carol LOGIN; CREATE ROLE dave LOGIN;
	SELECT imagestream.grant_namespace('alpha', 'alice', 'admin');
	SELECT imagestream.grant_namespace('bravo', 'bob', 'admin');
	SELECT imagestream.create_stream('bravo/app');
});

# the namespaces whose streams $role sees, in database postgres
sub visible
{
	my ($role) = @_;
	return q1("SET ROLE $role; SELECT string_agg(DISTINCT namespace, ',' ORDER BY namespace) FROM imagestream.image_streams");
}

# whether $role holds the marker and whether it has a grant row: '11' or
# '00' when they agree
sub marker_and_rows
{
	my ($role) = @_;
	return q1(qq{SELECT has_function_privilege('$role', 'imagestream.namespace_grantee()', 'EXECUTE')::int
		|| '' || EXISTS (SELECT 1 FROM imagestream.namespace_grant WHERE grantee = '$role'::regrole)::int});
}

# a session of $role in a repeatable read transaction (its snapshot taken)
sub open_as
{
	my ($role) = @_;
	my $s = $node->background_psql('postgres');
	$s->query_safe("SET statement_timeout = '10s'; SET lock_timeout = '10s'; SET ROLE $role; "
		  . 'BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT 1');
	return $s;
}

my $alice = open_as('alice');
$alice->query_safe(q{SELECT imagestream.grant_namespace('alpha', 'carol', 'view')});
# (alice's transaction stays open: a wait for it could only end at the
# statement timeout, in an error, so success is the proof, whatever the
# time the machine takes)
my $t1 = time();
($ret, $out, $err) = $node->psql('postgres',
	q{SET statement_timeout = '10s'; SET ROLE bob; SELECT imagestream.grant_namespace('bravo', 'dave', 'view')});
note(sprintf('S24: bob granted in %.1f s', time() - $t1));
is($ret, 0, "S24: an admin's open grant holds up no grant in another namespace") or diag($err);
($ret, $out, $err) = $node->psql('postgres',
	q{SET statement_timeout = '10s'; SET ROLE bob; SELECT imagestream.revoke_namespace('bravo', 'dave')});
is($ret, 0, "S24: nor a revoke") or diag($err);
$node->psql('postgres',
	q{SET statement_timeout = '10s'; SET ROLE bob; SELECT imagestream.grant_namespace('bravo', 'dave', 'view')});
$alice->query_safe('COMMIT');
$alice->quit;
is(visible('carol') . ' ' . visible('dave') . ' ' . marker_and_rows('carol') . marker_and_rows('dave'),
	'alpha bravo 1111', 'S24: both committed grants count');

# two transactions change grants of carol in alpha and bravo at once,
# committing in either order; $start and $moves as [role, SQL]
sub race
{
	my ($name, $want, $start, @moves) = @_;
	for my $order ([ 0, 1 ], [ 1, 0 ])
	{
		q1("DELETE FROM imagestream.namespace_grant WHERE grantee = 'carol'::regrole; $start");
		# (a background psql stops at an error: the test goes on)
		my $failed = eval {
			my @s = map { open_as($_->[0]) } @moves;
			my $stderr = '';
			for my $i (0, 1)
			{
				$s[$i]->query("SELECT imagestream.$moves[$i][1]");
				$stderr .= $s[$i]->{stderr};
			}
			for my $i (@$order)
			{
				$s[$i]->query('COMMIT');
				$stderr .= $s[$i]->{stderr};
				$s[$i]->quit;
			}
			$stderr;
		} // "died: $@";
		is($failed, '', "S24: $name, committed in order @$order: no error");
		is(visible('carol') // '', $want, "S24: $name, committed in order @$order: carol sees $want");
		my $m = marker_and_rows('carol');
		ok($m eq '11' || $m eq '00', "S24: $name, committed in order @$order: the privilege is held exactly when a row exists ($m)");
	}
}
race('revoke of her last grant while she is granted another', 'bravo',
	q{SELECT imagestream.grant_namespace('alpha', 'carol', 'view')},
	[ 'alice', q{revoke_namespace('alpha', 'carol')} ], [ 'bob', q{grant_namespace('bravo', 'carol', 'view')} ]);
race('revokes of her two grants', '',
	q{SELECT imagestream.grant_namespace('alpha', 'carol', 'view'); SELECT imagestream.grant_namespace('bravo', 'carol', 'view')},
	[ 'alice', q{revoke_namespace('alpha', 'carol')} ], [ 'bob', q{revoke_namespace('bravo', 'carol')} ]);
race('two first grants', 'alpha,bravo', '',
	[ 'alice', q{grant_namespace('alpha', 'carol', 'view')} ], [ 'bob', q{grant_namespace('bravo', 'carol', 'view')} ]);

# rows that DROP OWNED BY left do not count again with new grants
q1(q{SELECT imagestream.create_stream('gamma/app')});
my $dropped = q{SELECT imagestream.grant_namespace('gamma', 'carol', 'edit'); DROP OWNED BY carol};
race('grants after DROP OWNED BY', 'alpha,bravo', $dropped,
	[ 'alice', q{grant_namespace('alpha', 'carol', 'view')} ], [ 'bob', q{grant_namespace('bravo', 'carol', 'view')} ]);
q1("DELETE FROM imagestream.namespace_grant WHERE grantee = 'carol'::regrole; $dropped");
q1(q{SET ROLE bob; SELECT imagestream.grant_namespace('bravo', 'carol', 'view')});
is(q1(q{SELECT string_agg(namespace, ',') FROM imagestream.namespace_grant WHERE grantee = 'carol'::regrole}),
	'bravo', 'S24: a first grant after DROP OWNED BY deletes the rows it revoked');

# a grantee may lock the privilege's catalog row (PostgreSQL lets any
# holder run GRANT on the function): a grant then fails at once rather
# than wait under the commit lock, and tag changes go on
q1(q{CREATE ROLE erin LOGIN});
my $carol = open_as('carol');
$carol->query_safe(q{SET client_min_messages = error; GRANT EXECUTE ON FUNCTION imagestream.namespace_grantee() TO carol});
$t1 = time();
($ret, $out, $err) = $node->psql('postgres',
	q{SET lock_timeout = '10s'; SET ROLE bob; SELECT imagestream.grant_namespace('bravo', 'erin', 'view')});
note(sprintf('S24: the grant failed in %.1f s', time() - $t1));
like($err, qr/could not set the privilege that makes namespace grants count/,
	'S24: a grant fails while a grantee holds the privilege row');
# (a wait for the row would end at lock_timeout with PostgreSQL's own
# message; this detail is the one of a lock not waited for)
like($err, qr/DETAIL:  Another transaction is changing the privileges of function imagestream\.namespace_grantee\(\)/,
	'S24: at once, without waiting for the row lock');
($ret, $out, $err) = $node->psql('postgres', q{SET lock_timeout = '10s'; SET ROLE bob; }
	  . q{SELECT imagestream.map_image('bravo/app:x', imagestream.ref_with_digest('none.invalid/org/app', imagestream.content_digest('x')))});
is($ret, 0, 'S24: meanwhile a tag change commits') or diag($err);
$carol->query_safe('ROLLBACK');
$carol->quit;
is(marker_and_rows('erin'), '00', 'S24: the failed grant left neither row nor privilege');

($ret, $out, $err) = $node->psql('postgres',
	q{SET ROLE alice; BEGIN; SELECT imagestream.grant_namespace('alpha', 'dave', 'edit'); PREPARE TRANSACTION 'g'});
like($err, qr/cannot PREPARE a transaction that changed namespace grants/, 'S24: PREPARE TRANSACTION of a grant is refused');
$node->psql('postgres', q{ROLLBACK PREPARED 'g'}) if $ret == 0;

assert_no_crash($node);
done_testing();
