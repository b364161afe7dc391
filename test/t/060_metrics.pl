# Metrics for Prometheus (doc/operations.md, "Metrics"): Debian's real
# prometheus-postgres-exporter, started on a loopback port with the queries
# of doc/monitoring/postgres_exporter.yaml, connects as a role in
# pg_monitor after doc/monitoring/metrics.sql ran; the metrics it serves
# over HTTP are the worker's counters, the due backlog, the failing tags by
# reason, the tags per namespace and the change log's last id, each equal to
# what SQL says.  That role reads counts and nothing else.
use strict;
use warnings;

use HTTP::Tiny;
use IPC::Run ();
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);

use ImagestreamTest qw(start_node invariants_hold wait_for);
use RegistryTest;

my $exporter_bin = '/usr/bin/prometheus-postgres-exporter';
plan skip_all => "$exporter_bin not found (apt-get install prometheus-postgres-exporter)"
  unless -x $exporter_bin;
my ($ok, $why) = RegistryTest->available();
plan skip_all => $why unless $ok;

my $doc = 'doc/monitoring';
my $node = start_node('metrics', worker => 1, conf => qq{
imagestream.blocked_networks = ''
imagestream.import_interval = '1h'
imagestream.max_imports_per_minute = -1
imagestream.request_timeout = '5s'
});
sub q1 { return $node->safe_psql('postgres', shift) }
my $reg = RegistryTest->start();
my $host = $reg->host;
ok(defined wait_for($node, 'SELECT count(*) FROM imagestream.worker_status', '1', 30), 'the worker runs');

# Three tags in two namespaces imported by the worker, and one that fails:
# its repository does not exist.
my $img = $reg->push_image('org/app', 'v1', content => 'metrics');
q1("SELECT imagestream.tag('$host/org/app:v1', 'shop/web:$_', scheduled => true, insecure => true)") for qw(v1 v2);
q1("SELECT imagestream.tag('$host/org/app:v1', 'team/api:latest', scheduled => true, insecure => true)");
q1("SELECT imagestream.tag('$host/org/gone:v1', 'team/api:gone', scheduled => true, insecure => true)");
ok(defined wait_for($node, "SELECT count(*) FROM imagestream.image_stream_tags WHERE image::text = '$img->{digest}'", '3', 30),
	'the worker imports three tags');
ok(defined wait_for($node, "SELECT import_reason FROM imagestream.image_stream_tags WHERE tag = 'gone'", 'NotFound', 30),
	'and fails the fourth, NotFound');
q1("SELECT imagestream.set_registry_credentials('$host', 'robot', 'team-s3cret', 'team')");

# A backlog the worker leaves alone: disabled (its row and counters stay),
# two tags requested and one pending.
my $before = q1('SELECT pg_conf_load_time()');
q1("ALTER SYSTEM SET imagestream.enable_worker = off; SELECT pg_reload_conf()");
ok(defined wait_for($node, "SELECT pg_conf_load_time() > '$before'", 't', 30)
	  && defined wait_for($node,
		"SELECT wait_event FROM pg_stat_activity WHERE pid = (SELECT pid FROM imagestream.worker_status)",
		'Extension', 30),
	'the worker is disabled');
is(q1("SELECT imagestream.import_now('shop/web')"), '2', 'two tags requested');
q1("SELECT imagestream.tag('$host/org/app:v1', 'team/api:next', insecure => true)");

# The monitoring role: pg_monitor, as the exporter's README asks, and no
# namespace grant.  metrics.sql refuses to run as it.
q1('CREATE ROLE exporter LOGIN; GRANT pg_monitor TO exporter');
my $setup = slurp_file("$doc/metrics.sql");
my (undef, undef, $err) = $node->psql('postgres', "SET ROLE exporter;\n$setup", on_error_stop => 1);
like($err, qr/run as a superuser or the owner of extension imagestream/, 'metrics.sql refuses an unprivileged role');
q1('CREATE DATABASE other');
(undef, undef, $err) = $node->psql('other', $setup, on_error_stop => 1);
like($err, qr/run as a superuser or the owner of extension imagestream, in its database/,
	'and a database without the extension');
q1($setup);
q1($setup);    # again, as after an update: harmless

# What the role may read: counts through the functions, nothing else.
sub as_role
{
	my ($role, $sql) = @_;
	my ($r, $o, $e) = $node->psql('postgres', "SET ROLE $role; $sql");
	return $r == 0 ? $o : "ERROR: $e";
}
sub as_exporter { return as_role('exporter', shift) }
is(as_exporter('SELECT count(*) FROM imagestream_metrics.tags()'), '2', 'the role counts the tags of both namespaces');
is(as_exporter('SELECT count(*) FROM imagestream.image_stream_tags'), '0', 'but sees no tag itself');
is(q1('SELECT count(*) FROM imagestream.registry_credentials') . ' ' . as_exporter('SELECT count(*) FROM imagestream.registry_credentials'),
	'1 0', 'nor the credentials a superuser sees');
like(as_exporter('SELECT secret FROM imagestream.registry_credential'), qr/permission denied/, 'nor their table');
like(as_exporter('SELECT count(*) FROM imagestream._due_tags()'), qr/permission denied/, 'nor the internal functions');
like(as_exporter("SELECT imagestream.import_now('team/api')"), qr/permission denied/, 'and may change nothing');
q1('CREATE ROLE stranger LOGIN');
like(as_role('stranger', 'SELECT count(*) FROM imagestream_metrics.tags()'), qr/permission denied/,
	'a role outside pg_monitor may not call them');

# The exporter, as that role, on a free loopback port; its default metrics
# too (pg_up, pg_stat_*), which pg_monitor allows.
my $port = RegistryTest::free_port();
my $log = "${PostgreSQL::Test::Utils::tmp_check}/exporter.log";
my $dsn = sprintf('host=%s port=%d dbname=postgres user=exporter sslmode=disable', $node->host, $node->port);
# (timeout: gone in 5 minutes even if this test is killed)
my $exporter = IPC::Run::start(
	[ 'timeout', '300', $exporter_bin, "--extend.query-path=$doc/postgres_exporter.yaml",
		"--web.listen-address=127.0.0.1:$port" ],
	'<', \undef, '>&', $log,
	init => sub { $ENV{DATA_SOURCE_NAME} = $dsn });
END { local $?; $exporter->kill_kill(grace => 5) if $exporter }

# One scrape: the samples by name and labels ("name{a="x",b="y"}" => value,
# "name" => value without labels),
# or undef until the exporter answers (at most 30 s).  $page keeps the text.
my $page = '';
sub scrape
{
	# (straight to loopback, whatever proxy the environment names)
	my $http = HTTP::Tiny->new(timeout => 10, proxy => undef, http_proxy => undef);
	my $t0 = time;
	while (time - $t0 < 30)
	{
		my $res = $http->get("http://127.0.0.1:$port/metrics");
		if ($res->{success})
		{
			my %m;
			$page = $res->{content};
			note(join("\n", grep { /^(imagestream|pg_up|pg_exporter)/ } split /\n/, $res->{content}));
			for (split /\n/, $res->{content})
			{
				next unless /^([a-z_]+)(?:\{(.*)\})? (\S+)$/;
				# (the label server="host:port" the exporter adds to each)
				my $labels = join(',', grep { !/^server=/ } split /,(?=\w+=")/, $2 // '');
				$m{ $labels eq '' ? $1 : "$1\{$labels\}" } = $3 + 0;
			}
			return \%m;
		}
		sleep 0.2;
	}
	return undef;
}
my $m = scrape();
ok(defined $m, 'the exporter serves /metrics') or diag(slurp_file($log));
$m //= {};

is($m->{pg_up}, 1, 'pg_up 1: it connected as the role');
is($m->{pg_exporter_last_scrape_error}, 0, 'and its scrape had no error') or diag(slurp_file($log));
unlike($page, qr/s3cret|robot/, 'no credentials in what it serves');

# the worker
is($m->{imagestream_workers_running}, 1, 'the worker runs');
my %w = map { $_ => $m->{"imagestream_worker_$_"} }
  qw(tags_checked_total imports_total failures_total requests_total received_bytes_total started_at_seconds);
my $sql_w = q1(q{SELECT tags_checked, imports, failures, requests, bytes_received, extract(epoch FROM started_at)
	FROM imagestream.worker_status});
is(join(' ', map { $w{$_} // 'none' } qw(tags_checked_total imports_total failures_total requests_total received_bytes_total)),
	join(' ', (split /\|/, $sql_w)[0 .. 4]), 'its counters are worker_status\'s');
cmp_ok($w{imports_total} // 0, '>=', 3, 'three imports counted');
cmp_ok($w{failures_total} // 0, '>=', 1, 'and the failure');
cmp_ok($w{requests_total} // 0, '>', 0, 'requests counted');
cmp_ok(abs(($w{started_at_seconds} // 0) - (split /\|/, $sql_w)[5]), '<', 0.01, 'its start time');
ok(defined $m->{imagestream_worker_overdue_seconds} && defined $m->{imagestream_worker_last_cycle_age_seconds},
	'its lag and the age of its last cycle');
# (ImagestreamWorkerDown of alerts.yaml reads the setting from the exporter's own pg_settings)
is($m->{pg_settings_imagestream_enable_worker}, 0, 'imagestream.enable_worker off, as pg_settings_imagestream_enable_worker');

# The samples of a metric whose labels are namespace and another, as "ns label value" lines, sorted.
sub samples
{
	my ($name, $label) = @_;
	my @rows;
	for my $k (keys %$m)
	{
		next unless $k =~ /^\Q$name\E\{(.*)\}$/;
		my %l = $1 =~ /(\w+)="([^"]*)"/g;
		push @rows, join(' ', $l{namespace}, $label ? $l{$label} : (), $m->{$k});
	}
	return join("\n", sort @rows);
}
sub sql_rows { return join("\n", sort split /\n/, q1(shift)) }

is(samples('imagestream_namespace_tags'),
	sql_rows(q{SELECT namespace || ' ' || count(*) FROM imagestream.image_stream_tags GROUP BY namespace}),
	'tags per namespace as image_stream_tags counts them');
is(samples('imagestream_namespace_tags'), "shop 2\nteam 3", 'shop 2, team 3');

is(samples('imagestream_due_tags', 'kind'), "shop requested 2\nteam pending 1",
	'the backlog: two requested tags of shop, a pending one of team');
is(samples('imagestream_due_tags', 'kind'),
	sql_rows(q{SELECT namespace || CASE WHEN requested THEN ' requested ' ELSE ' pending ' END || count(*)
		FROM imagestream._due_tags() WHERE requested OR pending GROUP BY namespace, requested}),
	'as the worker\'s own rule (_due_tags) counts it');

is(samples('imagestream_failing_tags', 'reason'), 'team NotFound 1', 'the failing tag by namespace and reason');
is(samples('imagestream_failing_tags', 'reason'),
	sql_rows(q{SELECT namespace || ' ' || import_reason || ' ' || count(*) FROM imagestream.image_stream_tags
		WHERE import_status = 'False' GROUP BY namespace, import_reason}),
	'as image_stream_tags shows it');

my $last = q1('SELECT max(id) FROM imagestream.change');
is($m->{imagestream_changes_total}, $last, "the change log's counter is its last id ($last)");
# two changes later, the next scrape counts them (this query is not cached)
q1("SELECT imagestream.tag('shop/web:v1', 'shop/web:copy'); SELECT imagestream.untag('shop/web:copy')");
$m = scrape() // {};
is($m->{imagestream_changes_total}, $last + 2, 'and counts two more changes');
is($m->{imagestream_changes_total}, q1('SELECT max(id) FROM imagestream.change'), 'still the last id');

invariants_hold($node);
done_testing();
