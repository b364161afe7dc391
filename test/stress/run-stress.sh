#!/usr/bin/env bash
# `make stress`: the tests that take minutes (doc/reliability.md): installs
# what is missing, builds and installs, then runs the TAP files of
# test/stress as the postgres user when started by root.  STRESS_SECONDS
# sets the length of the timed runs (default 60).
set -uo pipefail

cd "$(dirname "$0")/../.."
source test/install-deps.sh
install_deps || exit 1
make -s >/dev/null && make -s install >/dev/null || exit 1

if [ "$(id -u)" -eq 0 ]; then
	run_as() { runuser -u postgres -- env STRESS_SECONDS="${STRESS_SECONDS:-60}" "$@"; }
	owner=postgres
else
	run_as() { env STRESS_SECONDS="${STRESS_SECONDS:-60}" "$@"; }
	owner=$(id -un)
fi
WORK=$(mktemp -d /tmp/imagestream-stress.XXXXXX)
cp -r Makefile imagestream.control sql expected test "$WORK"/
chown -R "$owner" "$WORK"
chmod 755 "$WORK"
run_as make -C "$WORK" -s installcheck REGRESS= PROVE_TESTS="${STRESS_TESTS:-test/stress/*.pl}" \
	PROVE_FLAGS='-I test/lib -v' 2>&1 | tee "$WORK/stress.log"
status=${PIPESTATUS[0]}
if [ "$status" -eq 0 ]; then
	rm -rf "$WORK"
else
	echo "logs kept in $WORK"
fi
exit "$status"
