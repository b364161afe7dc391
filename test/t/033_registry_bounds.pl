# What one import and one worker cycle may read from a registry is bounded
# (doc/security.md S15): a hostile registry (test/lib/hostile_registry.py)
# that lists one child many times, lists many children, serves big configs
# or manifests of tiny JSON values, or pages its tag list for ever gets a failure that names the setting, and
# the backend's peak memory stays bounded; each setting takes effect; the
# worker defers what is over its cycle's bound to the next cycle; and real
# imports of a multi-arch index and of all tags still work.
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

use ImagestreamTest qw(start_node invariants_hold wait_for assert_no_crash);
use RegistryTest;

my $MB = 1024 * 1024;

# the worker is off until its own test below turns it on
my $node = start_node('bounds', worker => 1, conf => qq{
imagestream.enable_worker = off
imagestream.blocked_networks = ''
imagestream.request_timeout = '10s'
imagestream.import_interval = '1h'
imagestream.max_imports_per_minute = -1
});
# configs of 8 MiB: 8 of them are over the default max_import_size (64MB)
$node->safe_psql('postgres', 'ALTER DATABASE postgres SET search_path TO public, imagestream');
my $evil = RegistryTest->start_hostile(big_count => 8, big_config_size => 8 * $MB,
	repeat_count => 20, many_children => 100, page_count => 50, page_size => 3584 * 1024);
my $ehost = $evil->host;

sub q1 { return $node->safe_psql('postgres', shift) }

# The growth of this backend's peak resident memory (VmHWM, in MB) while
# $sql runs, and what $sql returned; one session reads both.
sub peak_growth
{
	my ($sql) = @_;
	my $hwm = "SELECT substring(pg_read_file('/proc/self/status') FROM 'VmHWM:\\s+(\\d+) kB')::bigint / 1024";
	# the library and libcurl loaded first, so that only the import counts
	my @lines = split /\n/, q1("SELECT imagestream.ref_name('x/y'); $hwm; $sql; $hwm");
	return ($lines[-1] - $lines[1], join("\n", @lines[ 2 .. $#lines - 1 ]));
}

sub import_sql
{
	my ($dest, $source, $extra) = @_;
	return "SELECT status || '|' || coalesce(reason, '') || '|' || coalesce(message, '')
			FROM imagestream.import_image('$dest', '$ehost/$source', insecure => true" . ($extra // '') . ', confirm => true)';
}

# GETs in the hostile registry's log whose path matches $re
sub gets
{
	my ($re) = @_;
	return scalar grep { $_->{method} eq 'GET' && $_->{path} =~ $re } @{ $evil->request_log };
}

my $child0 = $evil->request('GET', '/v2/bigconfigs/app/manifests/c0');
my ($config0) = $child0->{content} =~ /"digest"\s*:\s*"(sha256:[0-9a-f]{64})"/;

# an index that lists one child 20 times: the child is fetched once, and
# the backend's memory stays far from 20 copies of its 8 MiB config (0.2.0: 955 MB)
$evil->reset_log;
my ($grew, $got) = peak_growth(import_sql('bo/rep:t', 'bigconfigs/app:repeat',
		", import_mode => 'PreserveOriginal'"));
like($got, qr/^Success\|\|/, 'an index listing one child 20 times imports');
ok($grew < 160, "and the backend's peak memory grew by less than 160 MB ($grew MB)");
is(gets(qr{/blobs/\Q$config0\E$}), 1, "the repeated child's config is read once");
is(q1("SELECT count(*) FROM imagestream.image_child c JOIN imagestream.image_stream_tags t ON t.image = c.image
	   WHERE t.stream = 'rep'"), '20', 'the index is kept as served, its 20 entries with it');

# 100 distinct children: over the default max_index_children (64), none fetched
$evil->reset_log;
like(q1(import_sql('bo/many:t', 'manychildren/app:many', ", import_mode => 'PreserveOriginal'")),
	qr/^Failure\|ManifestTooLarge\|.*lists 100 manifests.*imagestream\.max_index_children \(64\)/,
	'an index of 100 children is over max_index_children (64)');
is(gets(qr{/manifests/sha256:}), 0, 'and none of its children is fetched');
like(q1("SET imagestream.max_index_children = 100; " . import_sql('bo/many:t', 'manychildren/app:many',
			", import_mode => 'PreserveOriginal'")),
	qr/^Success\|\|/, 'max_index_children = 100 lets it import');
like(q1("SET imagestream.max_index_children = 7; " . import_sql('bo/big:t', 'bigconfigs/app:latest',
			", import_mode => 'PreserveOriginal'")),
	qr/^Failure\|ManifestTooLarge\|.*lists 8 manifests.*imagestream\.max_index_children \(7\)/,
	'max_index_children = 7 refuses an index of 8');
like(q1(import_sql('bo/many:legacy', 'manychildren/app:many')), qr/^Success\|\|/,
	'a Legacy import, which reads one child, is not bound by max_index_children');

# eight children of 3.5 MiB made of tiny JSON values ("1,1,1,..."), then a
# missing one: reading each keeps no copy of every value it skips
($grew, $got) = peak_growth(import_sql('bo/tiny:t', 'manychildren/app:tiny',
		", import_mode => 'PreserveOriginal'"));
like($got, qr/^Failure\|NotFound\|/, 'an index of children made of tiny values, the last missing, fails');
ok($grew < 100, "and the backend's peak memory grew by less than 100 MB ($grew MB)");

# eight children with configs of 8 MiB: over the default max_import_size
($grew, $got) = peak_growth(import_sql('bo/big:t', 'bigconfigs/app:latest',
		", import_mode => 'PreserveOriginal'"));
like($got, qr/^Failure\|ManifestTooLarge\|.*more than imagestream\.max_import_size \(64 MB\)/,
	'an index whose children read more than 64 MB is over max_import_size');
ok($grew < 200, "and the backend's peak memory grew by less than 200 MB ($grew MB)");
like(q1("SET imagestream.max_import_size = '200MB'; " . import_sql('bo/big:t', 'bigconfigs/app:latest',
			", import_mode => 'PreserveOriginal'")),
	qr/^Success\|\|/, 'max_import_size = 200MB lets it import');
like(q1("SET imagestream.max_import_size = '4MB'; " . import_sql('bo/one:t', 'bigconfigs/app:c1')),
	qr/^Failure\|ManifestTooLarge\|.*imagestream\.max_import_size \(4 MB\)/,
	'max_import_size = 4MB refuses one image with a config of 8 MiB');
like(q1("SET imagestream.max_config_size = '4MB'; " . import_sql('bo/one:t', 'bigconfigs/app:c1')),
	qr/^Failure\|ManifestTooLarge\|.*blob sha256:[0-9a-f]+ of bigconfigs\/app is over imagestream\.max_config_size \(4 MB\)/,
	'max_config_size = 4MB refuses a config of 8 MiB');
like(q1(import_sql('bo/one:t', 'bigconfigs/app:c1')), qr/^Success\|\|/,
	'which the default max_config_size (16MB) reads');

# all_tags: the sources of one import share max_import_size; each of its
# ten sources reads 8 MiB
like(q1("SET imagestream.max_import_size = '20MB';
		 SELECT string_agg(DISTINCT status || ' ' || coalesce(reason, '') || ' ' || coalesce(message, ''), E'\\n')
		 || E'\\n' || string_agg(status, ' ' ORDER BY status)
		 FROM imagestream.import_image('bo/all', '$ehost/bigconfigs/app', all_tags => true, insecure => true,
			dry_run => true, confirm => true)"),
	qr/^Failure ManifestTooLarge .*imagestream\.max_import_size \(20 MB\).*\nFailure( Failure){7} Success Success$/s,
	'the sources of one all_tags import share max_import_size: two of ten are read');

# a tag list of 50 pages of 3.5 MiB: over the default max_tag_list_size
$evil->reset_log;
($grew, $got) = peak_growth("SELECT string_agg(status || '|' || coalesce(reason, '') || '|' || coalesce(message, ''), E'\\n')
	FROM imagestream.import_image('bo/pages', '$ehost/manypages/app', all_tags => true, insecure => true, dry_run => true, confirm => true)");
like($got, qr/^Failure\|ManifestTooLarge\|.*imagestream\.max_tag_list_size \(8 MB\)/,
	'a tag list over max_tag_list_size (8 MB) fails');
ok(gets(qr{/tags/list}) <= 4, 'after the pages that reach the limit');
ok($grew < 100, "and the backend's peak memory grew by less than 100 MB ($grew MB)");
# with room for it, memory is bounded by a page, not by the list
($grew, $got) = peak_growth("SET imagestream.max_tag_list_size = '1GB'; SET imagestream.max_bulk_import = 2;
	SELECT string_agg(tag || ' ' || status, ', ' ORDER BY tag)
	FROM imagestream.import_image('bo/pages', '$ehost/manypages/padded', all_tags => true, insecure => true, dry_run => true, confirm => true)");
like($got, qr/^p0-a Success, p0-b Success, p1-a Skipped/, 'a tag list of 50 padded pages of 3.5 MiB is read');
ok($grew < 60, "with the backend's peak memory grown by less than 60 MB ($grew MB)");
like(q1("SET imagestream.max_tag_list_size = '1MB';
		 SELECT reason || ' ' || message FROM imagestream.import_image('bo/pages', '$ehost/manypages/padded',
			all_tags => true, insecure => true, dry_run => true, confirm => true)"),
	qr/^ManifestTooLarge .*imagestream\.max_tag_list_size \(1 MB\)/, 'max_tag_list_size = 1MB takes effect');

# one page of 350,000 names, whatever n asks (review finding R2): one sort
# ranks them (src/tag_order.c); the first max_bulk_import are imported, in
# OpenShift's order ("v-a" is one of the other tags, before "w000000"),
# and the rest reported as skipped
($grew, $got) = peak_growth("SET imagestream.max_bulk_import = 4;
	SELECT string_agg(tag, ' ' ORDER BY ord) FILTER (WHERE status <> 'Skipped') || ' | ' || count(*)
	FROM imagestream.import_image('bo/huge', '$ehost/hugelist/app', all_tags => true, insecure => true,
		dry_run => true, confirm => true) WITH ORDINALITY AS r(tag, status, image, ref, reason, message, metadata, ord)");
is($got, '2.1 2.0 v-a v-b | 350000', 'a page of 350,000 names: the first four in OpenShift order, the rest skipped');
ok($grew < 300, "with the backend's peak memory grown by less than 300 MB ($grew MB)");

# a 0.2.0 installation on this library, until it is updated: its
# import_image gets the tags as one page
q1('CREATE DATABASE old');
$node->safe_psql('old', "CREATE EXTENSION imagestream VERSION '0.2.0'");
is($node->safe_psql('old', "SET imagestream.max_bulk_import = 3; SET imagestream.max_tag_list_size = '1GB';
		SELECT string_agg(tag || ' ' || status, ', ' ORDER BY tag)
		FROM imagestream.import_image('old/pages', '$ehost/manypages/padded', all_tags => true, insecure => true,
			dry_run => true) WHERE tag LIKE 'p1-%'"),
	'p1-a Success, p1-b Skipped', 'a 0.2.0 installation lists tags through the new library');

# settings: units, defaults, superuser only
is(q1("SELECT string_agg(name || '=' || setting || coalesce(unit, '') || ' ' || context, ', ' ORDER BY name)
	   FROM pg_settings WHERE name IN ('imagestream.max_config_size', 'imagestream.max_index_children',
		 'imagestream.max_import_size', 'imagestream.max_tag_list_size', 'imagestream.max_cycle_size')"),
	'imagestream.max_config_size=16384kB superuser, imagestream.max_cycle_size=131072kB sighup, '
	  . 'imagestream.max_import_size=65536kB superuser, imagestream.max_index_children=64 superuser, '
	  . 'imagestream.max_tag_list_size=8192kB superuser',
	'the new settings, their defaults and who sets them');
q1('CREATE ROLE bounds_user');
my ($ret, $out, $err) = $node->psql('postgres', "SET ROLE bounds_user; SET imagestream.max_import_size = '1GB'");
like($err, qr/permission denied to set parameter "imagestream\.max_import_size"/, 'an ordinary role cannot raise them');

# the worker: what is over max_cycle_size waits for the next cycle, which
# starts at once; each config is read once and every tag is imported
$node->append_conf('postgresql.conf', "imagestream.enable_worker = on\nimagestream.max_cycle_size = '12MB'\n");
$node->reload;
ok(wait_for($node, 'SELECT count(*) FROM imagestream.worker_status WHERE database = current_database()', '1', 10), 'the worker runs');
$evil->reset_log;
q1('BEGIN; ' . join('', map { "SELECT imagestream.tag('$ehost/bigconfigs/app:c$_', 'wk/big:c$_', insecure => true); " } 0 .. 4)
	. 'COMMIT');
my $took = wait_for($node, "SELECT count(*) FROM imagestream.image_stream_tags WHERE namespace = 'wk' AND image IS NOT NULL",
	'5', 60);
ok(defined $took, 'the worker imports five tags of 8 MiB each, 12MB a cycle' . (defined $took ? sprintf(' (%.1f s)', $took) : ''));
my @heads = grep { $_->{method} eq 'HEAD' && $_->{path} =~ m{/manifests/c\d$} } @{ $evil->request_log };
ok(@heads > 5, 'over several cycles: the deferred tags are asked again (' . scalar(@heads) . ' HEAD requests)');
is(gets(qr{/blobs/}), 5, 'and each config is read once');
is(q1("SELECT count(*) FROM imagestream.image_stream_tags WHERE namespace = 'wk' AND import_status IS NOT NULL"), '0',
	'no tag has a failure condition');

# a scheduled repository whose one page lists 350,000 names: the worker
# adds the first max_bulk_import (50) of them and goes on with the other
# tags it imports (listed every 2 s here, at once when set)
$node->append_conf('postgresql.conf', "imagestream.import_interval = '2s'\n");
$node->reload;
q1("SELECT imagestream.create_stream('wk/huge');
	SELECT imagestream.set_repository('wk/huge', '$ehost/hugelist/app', scheduled => true, insecure => true)");
$took = wait_for($node, "SELECT count(*) FROM imagestream.tag WHERE namespace = 'wk' AND stream = 'huge'", '50', 120);
ok(defined $took, 'the worker adds 50 tags of a page of 350,000 names' . (defined $took ? sprintf(' (%.1f s)', $took) : ''));
is(q1("SELECT string_agg(name, ' ' ORDER BY name COLLATE \"C\") FILTER (WHERE name NOT LIKE 'w%')
		|| ' | ' || count(*) FILTER (WHERE name BETWEEN 'w000000' AND 'w000045')
	   FROM imagestream.tag WHERE namespace = 'wk' AND stream = 'huge'"),
	'2.0 2.1 v-a v-b | 46', "the first 50 in OpenShift's order");
q1("SELECT imagestream.tag('$ehost/ok/app:latest', 'wk/after:t', insecure => true)");
ok(defined wait_for($node, "SELECT count(*) FROM imagestream.image_stream_tags WHERE namespace = 'wk' AND stream = 'after' AND tag = 't' AND image IS NOT NULL",
		'1', 60), 'and imports a tag of another stream after it');
q1("SELECT imagestream.set_repository('wk/huge', NULL)");
$node->append_conf('postgresql.conf', "imagestream.import_interval = '1h'\n");
$node->reload;

# What a process keeps of a registry's tokens is bounded (S27): a registry
# that hands out 20 kB tokens said to live for 63 years, one per
# repository, does not grow the process; tokens of a usual size are kept
# and used again.
sub token_gets
{
	my ($path) = @_;
	return scalar grep { $_->{path} =~ m{^\Q$path\E(\?|$)} } @{ $evil->request_log };
}
$evil->reset_log;
my @kept = split /\n/, q1(join('', map { "SELECT status FROM imagestream.import_image('bo/tk:r$_', '$ehost/bigtoken/r$_', insecure => true, confirm => true); " } 1 .. 20)
	. "SELECT status FROM imagestream.import_image('bo/tk:again', '$ehost/bigtoken/r1', insecure => true, confirm => true); "
	. "SELECT total_bytes FROM pg_backend_memory_contexts WHERE name = 'imagestream registry hosts'");
is(join(',', grep { $_ eq 'Success' } @kept[0 .. 20]), join(',', ('Success') x 21),
	'S27: 21 imports from a registry whose tokens are 20 kB, in one session');
# each import asks for its manifest and its config: two tokens when none is kept
is(token_gets('/token-big'), 42, 'S27: such a token is used, not kept: each request of the 21 imports asks for one');
cmp_ok($kept[21], '<', 128 * 1024, "S27: and the table of hosts stays small ($kept[21] bytes)");
$evil->reset_log;
q1(join('', map { "SELECT status FROM imagestream.import_image('bo/usual:t$_', '$ehost/bearerauth/app', insecure => true, confirm => true); " } 1 .. 2));
is(token_gets('/token'), 1, 'S27: a token of a usual size is kept: two imports of a repository ask once');

# the good path on a real registry: a multi-arch index and all tags
my $reg = RegistryTest->start();
my $host = $reg->host;
my @children = map { $reg->push_image('org/multi', undef, os => 'linux', arch => $_, content => "multi $_") }
	qw(amd64 arm64 s390x);
my $list = $reg->push_index('org/multi', 'v1', \@children, format => 'oci');
$reg->push_image('org/multi', $_, content => "tag $_") for qw(1.0 1.1 2.0);
is(q1("SELECT status || ' ' || image FROM imagestream.import_image('gd/multi:v1', '$host/org/multi:v1',
		insecure => true, import_mode => 'PreserveOriginal', confirm => true)"),
	"Success $list->{digest}", 'PreserveOriginal import of a real multi-arch index');
is(q1("SELECT count(*) FROM imagestream.images WHERE digest IN ("
		. join(', ', map { "'$_->{digest}'" } @children) . ") AND os = 'linux'"),
	'3', 'with its three children and their configs');
is(q1("SELECT string_agg(tag || ' ' || status, ', ' ORDER BY tag)
	   FROM imagestream.import_image('gd/all', '$host/org/multi', all_tags => true, insecure => true, confirm => true)"),
	'1.0 Success, 1.1 Success, 2.0 Success, v1 Success', 'all_tags of a real repository');

invariants_hold($node);
assert_no_crash($node);

done_testing();
