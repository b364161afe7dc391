#!/usr/bin/env bash
# `make bench`: installs what is missing (the test packages, and the peers
# compared against: skopeo, ab from apache2-utils, psycopg2 for the
# notification client), builds and installs, then runs test/bench/bench.pl
# as the postgres user, which writes doc/performance.md; exits non-zero
# when a measurement failed.
set -euo pipefail

cd "$(dirname "$0")/../.."
source test/install-deps.sh
PACKAGES+=(skopeo python3-psycopg2)
install_deps

make -s >/dev/null && make -s install >/dev/null
out=$PWD/doc/performance.md
if [ "$(id -u)" -eq 0 ]; then
	dir=$(mktemp -d /tmp/imagestream-bench.XXXXXX)
	cp -r test "$dir"/
	chown -R postgres "$dir"
	chmod 755 "$dir"
	status=0
	(cd "$dir" && runuser -u postgres -- perl -I test/lib test/bench/bench.pl "$dir/performance.md") || status=$?
	if [ -f "$dir/performance.md" ]; then cp "$dir/performance.md" "$out"; fi
	rm -rf "$dir"
else
	status=0
	perl -I test/lib test/bench/bench.pl "$out" || status=$?
fi
# a failed measurement is a row marked FAILED in the report and a non-zero
# status (bench.pl)
if [ -z "${BENCH_ONLY:-}" ] && [ -f "$out" ]; then echo "== wrote $out"; fi
if [ "$status" -ne 0 ]; then echo "== the bench failed (status $status): see the FAILED rows" >&2; fi
exit "$status"
