#!/usr/bin/env bash
# `make bench`: installs what is missing (the test packages, and the peers
# compared against: skopeo, ab from apache2-utils, psycopg2 for the
# notification client), builds and installs, then runs test/bench/bench.pl
# as the postgres user, which writes doc/performance.md.
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
	(cd "$dir" && runuser -u postgres -- perl -I test/lib test/bench/bench.pl "$dir/performance.md")
	if [ -f "$dir/performance.md" ]; then cp "$dir/performance.md" "$out"; fi
	rm -rf "$dir"
else
	perl -I test/lib test/bench/bench.pl "$out"
fi
if [ -z "${BENCH_ONLY:-}" ]; then echo "== wrote $out"; fi
