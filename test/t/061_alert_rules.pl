# The alert rules of doc/monitoring/alerts.yaml (doc/operations.md,
# "Metrics") checked by Prometheus' own promtool: they load, and
# test/monitoring/alerts_test.yaml's cases hold (each alert fires on the
# series it is about, after its "for", and not on a healthy worker's).
# doc/operations.md shows the file: the same rules.
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;

my $promtool = '/usr/bin/promtool';
plan skip_all => "$promtool not found (apt-get install prometheus)" unless -x $promtool;

my $rules = slurp_file('doc/monitoring/alerts.yaml');
my ($shown) = slurp_file('doc/operations.md') =~ /^```yaml\n(groups:.*?)^```$/ms;
is($shown, $rules =~ s/\A(#[^\n]*\n)*//r, 'doc/operations.md shows the rules of alerts.yaml, but its header');

my ($out, $err) = run_command([ $promtool, 'check', 'rules', 'doc/monitoring/alerts.yaml' ]);
like($out, qr/SUCCESS: 5 rules found/, 'promtool loads the five rules') or diag($err);
($out, $err) = run_command([ $promtool, 'test', 'rules', 'test/monitoring/alerts_test.yaml' ]);
like($out, qr/^\s*SUCCESS\s*$/m, 'and their unit tests pass') or diag("$out\n$err");

done_testing();
