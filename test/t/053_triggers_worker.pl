# Image change triggers and the worker (issue 22; doc/promotion.md,
# "Triggers"): a deployments row follows a scheduled tag that the worker
# imports from the real registry, written in the very transaction that
# records the move and its change row, by the set-based
# recording as by the one-tag path (the same commit: its timestamp, with
# track_commit_timestamp); a paused trigger leaves the row alone; rows kept
# locked by another session hold the worker's move up 5 s at most.
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;

use ImagestreamTest qw(start_node wait_for assert_no_crash invariants_hold);
use RegistryTest;

my ($ok, $why) = RegistryTest->available();
plan skip_all => $why unless $ok;

my $node = start_node('triggers', worker => 1, conf => q{
imagestream.blocked_networks = ''
imagestream.import_interval = '1s'
imagestream.max_imports_per_minute = -1
track_commit_timestamp = on
});
sub q1 { return $node->safe_psql('postgres', shift) }

my $reg = RegistryTest->start();
my $h = $reg->host;
ok(defined wait_for($node, 'SELECT count(*) FROM imagestream.worker_status', '1', 30), 'the worker runs');

q1(q{CREATE TABLE deployments (name text PRIMARY KEY, image text, spec jsonb)});
# 20 tags of one stream: the worker records them set-based (16 or more)
my $one = $reg->push_image('shop/web', 'latest', content => 'web one');
q1('BEGIN;' . join('', map { "SELECT imagestream.tag('$h/shop/web:latest', 'tr/web:t$_', scheduled => true, insecure => true);" } 1 .. 20)
	. q{INSERT INTO deployments VALUES ('web', NULL, '{"containers": [{"image": null}]}'), ('other', NULL, NULL);
		SELECT imagestream.add_trigger('tr/web:t7', 'deployments', 'image', 'name', 'web');
		SELECT imagestream.add_trigger('tr/web:t7', 'deployments', 'spec', 'name', 'web', '{containers,0,image}');
		COMMIT});
ok(defined wait_for($node, "SELECT count(*) FROM imagestream.tag WHERE namespace = 'tr' AND image IS NOT NULL", '20', 30),
	'the worker imports the 20 tags');
ok(defined wait_for($node, "SELECT image = imagestream.resolve('tr/web:t7')::text AND spec #>> '{containers,0,image}' = image
	FROM deployments WHERE name = 'web'", 't', 10), 'the row\'s column and its jsonb path follow the tag');

my $two = $reg->push_image('shop/web', 'latest', content => 'web two');
ok(defined wait_for($node, "SELECT image FROM imagestream.image_stream_tags WHERE namespace = 'tr' AND tag = 't7'",
	$two->{digest}, 30), 'upstream moves: the worker records the new image');
is(q1("SELECT image FROM deployments WHERE name = 'web'"), q1("SELECT imagestream.resolve('tr/web:t7')"),
	'the row follows');
is(q1("SELECT pg_xact_commit_timestamp(d.xmin) = pg_xact_commit_timestamp(c.xmin) FROM deployments d, imagestream.change c
	   WHERE d.name = 'web' AND c.namespace = 'tr' AND c.tag = 't7' AND c.image::text = '$two->{digest}'"), 't',
	'written by the transaction that recorded the move and its change row');
is(q1("SELECT image IS NULL FROM deployments WHERE name = 'other'"), 't', 'another row is untouched');
is(q1("SELECT count(*) FROM imagestream.triggers WHERE last_error IS NOT NULL"), '0', 'no trigger failed');

# paused: the row stays, and catches up when resumed
my $id = q1("SELECT id FROM imagestream.triggers WHERE column_name = 'image'");
q1("SELECT imagestream.pause_trigger($id, true)");
my $three = $reg->push_image('shop/web', 'latest', content => 'web three');
ok(defined wait_for($node, "SELECT image FROM imagestream.image_stream_tags WHERE namespace = 'tr' AND tag = 't7'",
	$three->{digest}, 30), 'a third image recorded');
like(q1("SELECT image FROM deployments WHERE name = 'web'"), qr/\Q$two->{digest}\E$/, 'a paused trigger leaves the column');
q1("SELECT imagestream.pause_trigger($id, false)");
like(q1("SELECT image FROM deployments WHERE name = 'web'"), qr/\Q$three->{digest}\E$/, 'resumed, it catches up');

# a table whose rows another session keeps locked: each firing waits a
# second (lock_timeout) and records it, the owner's statements stop after 5 s
# in all in the transaction, and the worker's move goes on
q1(q{CREATE TABLE locked (id integer PRIMARY KEY, image text);
	 INSERT INTO locked SELECT i, NULL FROM generate_series(1, 8) AS i;
	 SELECT imagestream.add_trigger('tr/web:t3', 'locked', 'image', 'id', i::text) FROM generate_series(1, 8) AS i});
my $holder = $node->background_psql('postgres');
$holder->query_safe('BEGIN; SELECT id FROM locked FOR UPDATE');
my $four = $reg->push_image('shop/web', 'latest', content => 'web four');
my $took = wait_for($node, "SELECT image FROM imagestream.image_stream_tags WHERE namespace = 'tr' AND tag = 't3'",
	$four->{digest}, 60);
ok(defined $took, 'the worker records the move though the trigger\'s rows are locked');
my $errors = q1(q{SELECT string_agg(CASE WHEN last_error LIKE '%lock timeout%' THEN 'lock'
		WHEN last_error LIKE '%used their time%' OR last_error LIKE '%ran out of time%' THEN 'time'
		ELSE coalesce(last_error, 'none') END, ',' ORDER BY id)
	FROM imagestream.triggers WHERE target = 'locked'::regclass});
# (about five wait their second; a loaded machine's overheads may take one)
like($errors, qr/^(lock,){3,5}(lock|time)(,time)+$/,
	'firings wait a second each until the owner\'s 5 s are used up: the rest are not run');
$holder->query_safe('ROLLBACK');
$holder->quit;

invariants_hold($node);
assert_no_crash($node);
$node->stop;
done_testing();
