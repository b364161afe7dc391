# Protected tags and retention under concurrency (doc/gates.md):
# - protect() waits for a move of a tag it matches that is under way, which
#   commits first; a move that starts while protect() is open waits for it
#   and is then refused (55000);
# - _retention_apply(), the worker's pass (one namespace a call), waits for
#   a namespace's locked stream at most its lock_timeout, warns, and
#   postpones that namespace by an hour while the others are applied.
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;

use ImagestreamTest qw(start_node wait_for invariants_hold);

my $node = start_node('protect_locks');
sub q1 { return $node->safe_psql('postgres', shift) }

# the SQL of a push of $content to $tag
sub push_sql
{
	my ($tag, $content) = @_;
	return "SELECT imagestream.map_image('$tag', imagestream.ref_with_digest('quay.io/pl/web', "
	  . "imagestream.content_digest('$content')));";
}
sub image_of
{
	my ($ns, $stream, $tag) = @_;
	return q1("SELECT image FROM imagestream.image_stream_tags
			   WHERE namespace = '$ns' AND stream = '$stream' AND tag = '$tag'");
}
sub digest { return q1("SELECT imagestream.content_digest('$_[0]')") }
# whether a session is waiting for a lock in a statement that contains $what
sub waiting
{
	my ($what) = @_;
	return wait_for($node, "SELECT count(*) FROM pg_stat_activity
		WHERE wait_event_type = 'Lock' AND strpos(query, '$what') > 0", '1', 30);
}

q1(push_sql('pl/web:prod', 'v1') . push_sql('pl/web:dev', 'd1'));

# a move under way commits before the pattern counts
# (it goes on after an error: the refusal it meets below)
my $mover = $node->background_psql('postgres', on_error_stop => 0);
my $admin = $node->background_psql('postgres');
$mover->query_safe('BEGIN; ' . push_sql('pl/web:prod', 'v2'));
$admin->query_until(qr/protecting/, "\\echo protecting\nSELECT imagestream.protect('pl', 'web:prod');\n");
ok(defined waiting('protect('), 'protect() waits for the move of the tag it matches under way');
$mover->query_safe('COMMIT');
ok(defined wait_for($node, q{SELECT count(*) FROM imagestream.protected_tags WHERE namespace = 'pl'}, '1', 30),
	'and commits after it');
is(image_of('pl', 'web', 'prod'), digest('v2'), 'the move came first: the tag holds its image');
my ($ret, $out, $err) = $node->psql('postgres', push_sql('pl/web:prod', 'v3'));
like($err, qr/image stream tag "pl\/web:prod" is protected/, 'then the next move is refused');

# a move that starts while protect() is open waits, and is refused
$admin->query_safe(q{BEGIN; SELECT imagestream.protect('pl', 'web:d%')});
$mover->query_until(qr/moving/, "\\echo moving\n" . push_sql('pl/web:dev', 'd2') . "\n");
ok(defined waiting('map_image('), 'a move of a tag that protect() is protecting waits for it');
$admin->query_safe('COMMIT');
$mover->query('SELECT 1');
like($mover->{stderr}, qr/ERROR:  image stream tag "pl\/web:dev" is protected/,
	'and is refused once the pattern commits');
is(image_of('pl', 'web', 'dev'), digest('d1'), 'the tag keeps its image');
$mover->quit;

# retention: pl keeps one revision, pl2 too; a session keeps a stream of pl locked
q1(join('', map { push_sql('pl/api:x', "a$_") . push_sql('pl2/api:x', "b$_") } 1 .. 3));
q1(q{SELECT imagestream.set_retention('pl', 1, NULL); SELECT imagestream.set_retention('pl2', 1, NULL)});
$admin->query_safe(q{BEGIN; SELECT 1 FROM imagestream.stream WHERE namespace = 'pl' AND name = 'api' FOR UPDATE});
# (one namespace a call, as the worker makes them: a transaction each)
($ret, $out, $err) = $node->psql('postgres',
	q{SET lock_timeout = '200ms'; SELECT imagestream._retention_apply() = now()});
is("$ret $out", '0 t', '_retention_apply() ends within its lock_timeout, another namespace due at once');
like($err, qr/WARNING:  imagestream: retention of namespace "pl" postponed by an hour/, 'with a warning');
is(q1(q{SELECT imagestream._retention_apply()
		= (SELECT min(applied_at) FROM imagestream.namespace_retention) + interval '1 hour'}), 't',
	'the next call applies the other; the next pass is due an hour after the first');
is(q1(q{SELECT string_agg(namespace || '/' || stream || ':' || tag || ' ' || history_length, ', ' ORDER BY namespace)
		FROM imagestream.image_stream_tags WHERE stream = 'api'}),
	'pl/api:x 3, pl2/api:x 1', 'the locked namespace is left as it was, the other applied');
is(q1(q{SELECT count(*) FROM imagestream.retention_rules WHERE applied_at IS NOT NULL}), '2',
	'both count as applied');
$admin->query_safe('ROLLBACK');
$admin->quit;
q1(q{UPDATE imagestream.namespace_retention SET applied_at = applied_at - interval '1 hour'});
q1(q{SELECT imagestream._retention_apply()});
is(q1(q{SELECT history_length FROM imagestream.image_stream_tags WHERE namespace = 'pl' AND stream = 'api'}),
	'1', 'an hour later it is applied');
invariants_hold($node);

done_testing();
