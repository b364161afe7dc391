# High availability with pg_auto_failover (doc/operations.md): a monitor
# and two nodes run by Debian's pg_autoctl on 127.0.0.1, the worker
# importing on the primary and idle on the secondary; `pg_autoctl perform
# failover` while the worker imports a stream of upstream pushes; then the
# new primary's worker carries on, every tag is current, the change log has
# each change once, and a LISTEN client that reconnects catches up with
# changes_since.
use strict;
use warnings;

use IPC::Run ();
use Test::More;
use Time::HiRes qw(time sleep);

use AutoctlTest;
use ImagestreamTest qw(invariants_hold wait_for);
use RegistryTest;

for my $class (qw(RegistryTest AutoctlTest))
{
	my ($ok, $why) = $class->available;
	plan skip_all => $why unless $ok;
}

my $f = AutoctlTest->new;
$f->create_monitor;
my $n1 = $f->create_node('node1');
ok($f->wait_states({ node1 => 'single' }, 120), 'node1 runs as "single"')
  or die 'pg_autoctl did not start node1: ' . explain($f->{last_states});

# The library is added to pg_auto_failover's preload list, as a list, not
# a quoted string (which would name one library "pg_stat_statements,
# imagestream"), before the secondary exists: its base backup copies
# postgresql.auto.conf.  (shared_buffers: pg_autoctl sizes it to a quarter
# of the machine's memory.)
$n1->safe_psql('postgres', "ALTER SYSTEM SET shared_preload_libraries = pg_stat_statements, imagestream;
	ALTER SYSTEM SET shared_buffers = '128MB'");
$f->restart($n1);
$n1->safe_psql('postgres', "CREATE EXTENSION imagestream;
	ALTER SYSTEM SET imagestream.blocked_networks = '';
	ALTER SYSTEM SET imagestream.import_interval = '1s';
	ALTER SYSTEM SET imagestream.max_imports_per_minute = -1;
	SELECT pg_reload_conf()");
ok(defined wait_for($n1, 'SELECT count(*) FROM imagestream.worker_status', '1', 60), 'the worker runs on node1');

my $reg = RegistryTest->start;
my $host = $reg->host;
my @tags = map { my $r = $_; map { "app$r:t$_" } 1 .. 25 } 1 .. 4;	# 100 tags, 4 streams
# A push moves a tag to an image of its own or to the next image of its
# repository's series, each image pushed once by digest and then tagged
# (one request, quick): a tag never has the same image twice.
my %series;			# stream => [images pushed by digest]
my %pushed;			# tag => how many images it had
my %want;			# tag => the digest last pushed for it
my $pushes = 0;
sub push_one
{
	my ($tag, $img) = @_;
	my ($stream, $t) = split /:/, $tag;
	my $k = $pushed{$tag}++;
	$img //= $series{$stream}[$k] //= $reg->push_image("ha/$stream", undef, content => "$stream image $k");
	$reg->put_manifest("ha/$stream", $t, $img->{manifest}, $img->{media_type});
	$want{$tag} = $img->{digest};
	$pushes++;
	return;
}
push_one($_) for @tags;
$n1->safe_psql('postgres', 'BEGIN;'
	  . join('', map { "SELECT imagestream.tag('$host/ha/$_', 'ha/$_', scheduled => true, insecure => true);" } @tags)
	  . 'COMMIT');

# How many tags have the image last pushed for them, on $node.
sub tags_current
{
	my ($node) = @_;
	my $values = join(',', map { "('$_', '$want{$_}')" } sort keys %want);
	return $node->safe_psql('postgres', "SELECT count(*) FROM (VALUES $values) w(tag, image)
		JOIN imagestream.image_stream_tags t ON t.namespace = 'ha' AND t.stream || ':' || t.tag = w.tag
		WHERE t.image::text = w.image");
}
ok(defined wait_for($n1, "SELECT count(*) FROM imagestream.image_stream_tags WHERE image IS NOT NULL", '100', 120),
	'the worker on node1 imports 100 scheduled tags');

$n1->safe_psql('postgres', 'CHECKPOINT');	# (or the base backup waits for a spread one)
my $n2 = $f->create_node('node2');
# while it joins: an image of its own for each tag, for a busy import later
my %busy = map { my ($stream) = split /:/; ($_ => $reg->push_image("ha/$stream", undef, content => "$_ busy")) } @tags;
ok($f->wait_states({ node1 => 'primary', node2 => 'secondary' }, 180), 'node2 joins as secondary')
  or die 'node2 did not become secondary: ' . explain($f->{last_states});
is($n2->safe_psql('postgres', 'SELECT pg_is_in_recovery() || \' \' || count(*) FROM imagestream.worker_status'),
	'true 0', 'no worker on the secondary');

# The LISTEN client: psql on the formation's URI (every node, target_session_attrs
# = read-write: whichever is primary), as doc/operations.md says a client
# connects.  Each poll reads changes_since(last id read); a notification
# is a hint, and the poll reads the log whether one came or not.  A lost
# connection is made again at the next poll.
my $uri = $f->uri . '&connect_timeout=5';
# (rows: id => what it read; port_of: id => the server it read it from)
my %client = (last => 0, rows => {}, port_of => {}, again => 0, connections => 0, told => {});

sub client_query
{
	my ($sql) = @_;
	my $c = \%client;
	my $mark = 'done ' . ++$c->{n};
	$c->{in} .= "$sql\n;\n\\echo '$mark'\n";
	my $deadline = time + 30;
	while ($c->{out} !~ /^\Q$mark\E$/m && time < $deadline)
	{
		# (pump dies once psql has ended: the connection was lost)
		last unless eval { $c->{h}->pump_nb; 1 } && $c->{h}->pumpable;
		sleep 0.01;
	}
	return undef unless $c->{out} =~ s/^(.*?)^\Q$mark\E\n//ms;
	return $1;
}

sub client_poll
{
	my $c = \%client;
	if (!$c->{h})
	{
		@$c{qw(in out err)} = ('', '', '');
		$c->{h} = IPC::Run::start([ 'psql', '-XAtq', '-d', $uri ], '<', \$c->{in}, '>', \$c->{out}, '2>', \$c->{err});
		my $port = client_query('LISTEN imagestream; SELECT inet_server_port();');
		if (!defined $port || $port !~ /^(\d+)$/)
		{
			eval { $c->{h}->kill_kill; $c->{h}->finish };
			delete $c->{h};
			return;
		}
		$c->{port} = $1;
		$c->{connections}++;
	}
	my $out = client_query("SELECT id, coalesce(stream || ':' || tag, ''), image, previous_image FROM imagestream.changes_since($c->{last}) ORDER BY id");
	if (!defined $out)
	{
		eval { $c->{h}->kill_kill; $c->{h}->finish };
		delete $c->{h};
		return;
	}
	for my $l (split /\n/, $out)
	{
		if ($l =~ /^Asynchronous notification "imagestream" with payload "\{"id": (\d+)\}"/)
		{
			$c->{told}{ $c->{port} }++;
			$c->{told_max} = $1 if $1 > ($c->{told_max} // 0);
		}
		elsif ($l =~ /^(\d+)\|(.*)$/)
		{
			$c->{again}++ if exists $c->{rows}{$1};
			$c->{rows}{$1} = $2;
			$c->{port_of}{$1} = $c->{port};
			$c->{last} = $1 if $1 > $c->{last};
		}
	}
	return;
}

client_poll();
is($client{port}, $n1->port, 'the client connects to the primary, node1');

# A busy import: an image of its own for every tag (100 fetches), and more
# pushes, one at a time, all through the failover, which starts once the
# worker has recorded some of the first ones.
push_one($_, $busy{$_}) for @tags;
my $t0 = time;
my $moved = 0;
while (time - $t0 < 60 && !$moved)
{
	$moved = tags_current($n1);
	sleep 0.1;
}
ok($moved > 0, "node1's worker records the new images ($moved of 100 when the failover starts)");
my $last_before = $n1->safe_psql('postgres', 'SELECT max(id) FROM imagestream.change');
my $failover = $f->autoctl_start('perform', 'failover', '--pgdata', $f->{monitor}->data_dir);
my $deadline = time + 240;
my $i = 0;
while (time < $deadline)
{
	push_one($tags[ $i++ % @tags ]);
	client_poll();
	last unless $failover->pumpable;
}
ok(eval { $failover->finish } && $failover->result == 0, "pg_autoctl perform failover succeeds ($i pushes during it)")
  or diag('see ' . $f->dir . '/perform-failover.log');
ok($f->wait_states({ node1 => 'secondary', node2 => 'primary' }, 180), 'node2 is primary, node1 its secondary')
  or diag(explain($f->{last_states}));

is($n2->safe_psql('postgres', 'SELECT pg_is_in_recovery() || \' \' || count(*) FROM imagestream.worker_status'),
	'false 1', 'the worker runs on the new primary');
is($n1->safe_psql('postgres', q{SELECT pg_is_in_recovery() || ' ' || (SELECT count(*) FROM imagestream.worker_status)
		|| ' ' || (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'imagestream worker')}),
	'true 0 0', 'and none on the old primary, now a secondary');

# the new primary's worker carries on: a last image for every tag
push_one($_) for @tags;
$t0 = time;
while (time - $t0 < 120)
{
	client_poll();
	last if tags_current($n2) == @tags;
	sleep 0.2;
}
is(tags_current($n2), scalar @tags, 'every tag has the image last pushed for it');
is(join(' ', grep { $reg->manifest_digest('ha/' . (split /:/)[0], (split /:/)[1]) ne $want{$_} } @tags), '',
	'which is the registry\'s digest of its reference');

# The change log: ids dense from 1; per tag, each image once (every push
# has content of its own) and each move's previous_image the image of the
# move before (a change neither lost nor recorded twice).  (Some imports
# fail meanwhile: Debian's docker-registry answers 500 now and then for a
# manifest pushed as it is read; the worker retries them.)
is($n2->safe_psql('postgres', 'SELECT count(*) = max(id) AND min(id) = 1 FROM imagestream.change'), 't',
	'change ids are dense');
is($n2->safe_psql('postgres', q{SELECT string_agg(format('%s %s x%s', tag, image, n), ', ') FROM (
		SELECT stream || ':' || tag AS tag, image, count(*) AS n FROM imagestream.change
		WHERE event = 'tag_updated' GROUP BY 1, 2 HAVING count(*) > 1) d}),
	'', 'no image is recorded twice for a tag');
is($n2->safe_psql('postgres', q{SELECT string_agg(id::text, ' ') FROM (
		SELECT id, previous_image, lag(image) OVER (PARTITION BY namespace, stream, tag ORDER BY id) AS before
		FROM imagestream.change WHERE event = 'tag_updated') c
		WHERE previous_image::text IS DISTINCT FROM before::text}),
	'', 'each change starts from the image of the one before');
is($n2->safe_psql('postgres', q{SELECT count(*) FROM imagestream.image_stream_tags t
		WHERE t.image::text IS DISTINCT FROM (SELECT c.image::text FROM imagestream.change c WHERE c.namespace = t.namespace
			AND c.stream = t.stream AND c.tag = t.tag AND c.event = 'tag_updated' ORDER BY id DESC LIMIT 1)}),
	'0', 'and the last change of each tag is its image');
invariants_hold($n2, 'the invariants hold on the new primary');

# The client catches up on the new primary: every change of the log once,
# as the log has it.
my $max = $n2->safe_psql('postgres', 'SELECT max(id) FROM imagestream.change');
$t0 = time;
client_poll() while $client{last} < $max && time - $t0 < 30;
my $log = $n2->safe_psql('postgres',
	"SELECT string_agg(id || '|' || coalesce(stream || ':' || tag, '') || '|' || coalesce(image::text, '') || '|' || coalesce(previous_image::text, ''), E'\\n' ORDER BY id)
	 FROM imagestream.change");
is(join("\n", map { "$_|$client{rows}{$_}" } sort { $a <=> $b } keys %{ $client{rows} }), $log,
	"the client read every change of the new primary's log, as it is ($max changes)");
is($client{again}, 0, 'none twice');
my %from;
$from{$_}++ for values %{ $client{port_of} };
ok($client{connections} >= 2 && $from{ $n1->port } && $from{ $n2->port },
	"it read changes from node1, then, connected again, from node2 ($client{connections} connections)");
ok($client{told}{ $n1->port } && $client{told}{ $n2->port } && $client{told_max} <= $max,
	'and was told of changes by both');
# (how busy: node1 may stop before it records more; the numbers are noted)
my $during = grep { $_ > $last_before && $client{port_of}{$_} == $n1->port } keys %{ $client{rows} };
note("changes before the failover: $last_before, recorded by node1 after it began: $during, at the end: $max; pushes: $pushes");

# the old primary replays what the new one recorded
ok(defined wait_for($n1, 'SELECT max(id) FROM imagestream.change', $max, 60), 'the secondary replays the change log');
is(tags_current($n1), scalar @tags, 'and has every tag current');

eval { $client{h}->kill_kill; $client{h}->finish } if $client{h};
done_testing();
$f->stop_all;
