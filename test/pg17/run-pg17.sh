#!/usr/bin/env bash
# `make test-pg17` (README.md, doc/testing.md): builds PostgreSQL 17 from
# Debian 13's source package (test/pg17/build-pg17.sh, cached after the
# first run), builds the extension against it with warnings as errors,
# installs it into that installation (never into the system's PostgreSQL),
# and runs the pg_regress suite, every TAP test and the unit tests against
# 17, then prints "N passed, N failed, N skipped" as `make test` does (whose
# counting it reuses).  As root; the servers and tests run as postgres.
set -uo pipefail

cd "$(dirname "$0")/../.."
source test/run-tests.sh
[ "$(id -u)" -eq 0 ] || { echo "make test-pg17: run as root (it installs packages and builds into /var/cache)"; exit 1; }

source test/install-deps.sh
install_deps || exit 1

echo "== PostgreSQL 17 (built once, then cached)"
BIN=$(bash test/pg17/build-pg17.sh | tail -n 1)
if [ ! -x "$BIN/pg_config" ]; then
	echo "building PostgreSQL 17 failed"
	failed=$((failed + 1))
	finish
fi
PG_CONFIG=$BIN/pg_config
echo "$("$BIN/postgres" --version), $PG_CONFIG"

# A copy, so that the 17 objects never mix with the work tree's 15 ones
# (and none of the work tree's objects, built for 15, is taken as built).
WORK=$(mktemp -d /tmp/imagestream-pg17.XXXXXX)
cp -r Makefile imagestream.control src sql expected test doc "$WORK"/
find "$WORK/src" \( -name '*.o' -o -name '*.bc' -o -name '*.so' \) -delete

echo "== build against 17 (warnings are errors) and install into it"
if ! { make -C "$WORK" -s COPT='-Werror' PG_CONFIG="$PG_CONFIG" &&
	make -C "$WORK" -s install PG_CONFIG="$PG_CONFIG"; } >"$WORK/build.log" 2>&1; then
	cat "$WORK/build.log"
	echo "build or install failed; logs kept in $WORK"
	failed=$((failed + 1))
	finish
fi

chown -R postgres "$WORK"
chmod 755 "$WORK"
as_postgres() { runuser -u postgres -- env PATH="$BIN:$PATH" "$@"; }

echo "== pg_regress on 17"
as_postgres make -C "$WORK" -s installcheck TAP_TESTS= PG_CONFIG="$PG_CONFIG" 2>&1 | tee "$WORK/regress.log"
status=${PIPESTATUS[0]}
[ -f "$WORK/regression.diffs" ] && head -n 200 "$WORK/regression.diffs"
count "$WORK/regress.log" \
	'^(test +|     )?[a-z0-9_]+ +\.\.\. ok|^ok [0-9]+ +[-+] ' \
	'^(test +|     )?[a-z0-9_]+ +\.\.\. FAILED|^not ok [0-9]+ +[-+] ' "$status"

echo "== TAP tests on 17"
as_postgres make -C "$WORK" -s installcheck REGRESS= PROVE_FLAGS='-I test/lib -v' \
	PG_CONFIG="$PG_CONFIG" 2>&1 | tee "$WORK/tap.log"
status=${PIPESTATUS[0]}
count_tap "$WORK/tap.log" "$WORK" "$status"
check_crash_helper "$WORK"

echo "== unit tests (test/unit) against 17's headers"
as_postgres make -C "$WORK" -s unit PG_CONFIG="$PG_CONFIG" 2>&1 | tee "$WORK/unit.log"
count "$WORK/unit.log" '^ok [0-9]+' '^not ok [0-9]+' "${PIPESTATUS[0]}"

if [ "$failed" -eq 0 ]; then
	rm -rf "$WORK"
else
	echo "logs kept in $WORK"
fi
finish
