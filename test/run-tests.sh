#!/usr/bin/env bash
# The project's one test command (`make test`, README.md): installs missing
# Debian packages (as root), checks that doc/ has an entry for every public
# function, view and setting and that no file of src/ includes a header of a
# layer above its own, builds with warnings as errors, installs, runs
# pg_regress on a temporary cluster, every TAP test, the unit tests
# (test/unit), 20 s of each fuzz target and the Debian package's test
# (test/deb, as root), then prints "N passed, N
# failed, N skipped" (CI reads "N passed, N failed"; a skip is neither, and
# is listed with its reason).  PostgreSQL
# refuses to run as root, so when started by root the servers and tests run
# as the postgres user.
set -uo pipefail

passed=0
failed=0
skipped=0

# count LOG OK_REGEX FAIL_REGEX STATUS: adds the log's results to the totals;
# a failing step that reported no failure of its own counts as one.
count() {
	local ok bad
	ok=$(grep -cE "$2" "$1")
	bad=$(grep -cE "$3" "$1")
	passed=$((passed + ok))
	failed=$((failed + bad))
	if [ "$4" -ne 0 ] && [ "$bad" -eq 0 ]; then
		failed=$((failed + 1))
	fi
}

# count_tap LOG DIR STATUS: adds the results of a `prove -v` log of the TAP
# files DIR/test/t/*.pl to the totals.  A skipped assertion ("ok N # skip
# WHY") and a skipped file ("FILE .. skipped: WHY", plan skip_all) count as
# skipped, neither passed nor failed, and are listed with their reasons.
# "not ok … # TODO" marks an open finding (doc/security.md): prove passes
# it, and it counts as neither passed nor failed; "ok … # TODO" (fixed, and
# the TODO left behind) counts as passed.  Every TAP file must have run: a
# PGXS without TAP support runs none and says so only in a message.
count_tap() {
	local log=$1 dir=$2 status=$3 todo expected ran missing
	todo=$(grep -cE '^ *not ok [0-9]+.*# TODO' "$log")
	awk '
		/^test\/t\/[^ ]+\.pl \.\./ { file = $1 }
		/^test\/t\/[^ ]+\.pl \.\. skipped: / { sub(/^[^ ]+ \.\. skipped: /, ""); print file ": skipped whole (skip_all): " $0; next }
		tolower($0) ~ /^ *ok [0-9]+[^#]*# skip/ { line = $0; sub(/^ */, "", line); print file ": " line }
	' "$log" >"$log.skips"
	skipped=$((skipped + $(wc -l <"$log.skips")))
	grep -viE '^ *not ok [0-9]+.*# TODO|^ *ok [0-9]+[^#]*# skip' "$log" >"$log.counted"
	count "$log.counted" '^ *ok [0-9]+' '^ *not ok [0-9]+' "$status"
	echo "($todo open findings marked TODO)"
	if [ -s "$log.skips" ]; then
		echo "skipped:"
		sed 's/^/  /' "$log.skips"
	fi
	expected=$(cd "$dir" && ls test/t/*.pl | sort)
	ran=$(sed -nE 's/^(test\/t\/[^ ]+\.pl) \.\..*/\1/p' "$log" | sort -u)
	missing=$(comm -23 <(echo "$expected") <(echo "$ran"))
	if [ -n "$missing" ]; then
		echo "TAP files that did not run ($(echo "$ran" | grep -c .) of $(echo "$expected" | grep -c .) ran; a PGXS without TAP support runs none):"
		echo "$missing" | sed 's/^/  /'
		failed=$((failed + 1))
	fi
}

# check_crash_helper DIR: every TAP file that starts PostgreSQL servers
# loads ImagestreamTest, whose check of every node's log for crashes runs
# at done_testing (doc/testing.md); a file without it counts as a failure.
check_crash_helper() {
	local f bad=0
	for f in "$1"/test/t/*.pl; do
		if grep -qE 'PostgreSQL::Test::Cluster|start_node' "$f" && ! grep -qE '^use ImagestreamTest\b' "$f"; then
			echo "$(basename "$f") starts servers without 'use ImagestreamTest' (the crash check of its servers' logs)"
			bad=1
		fi
	done
	[ "$bad" -eq 0 ] || failed=$((failed + 1))
}

finish() {
	echo
	echo "$passed passed, $failed failed, $skipped skipped"
	[ "$failed" -eq 0 ]
	exit
}

# sourced (to try the functions above on a log): nothing more
if [ "${BASH_SOURCE[0]}" != "$0" ]; then
	return 0
fi

cd "$(dirname "$0")/.."
SRC=$PWD
FUZZ_SECONDS=${FUZZ_SECONDS:-20}

source test/install-deps.sh
install_deps || exit 1

echo "== every function, view and setting has its entry in doc/"
if perl test/doc_reference.pl "$SRC"; then
	passed=$((passed + 1))
else
	failed=$((failed + 1))
fi

echo "== the layers of src/ point one way (doc/architecture.md)"
if perl test/check_layers.pl "$SRC"; then
	passed=$((passed + 1))
else
	failed=$((failed + 1))
fi

echo "== build (warnings are errors) and install"
if ! { make -s clean && make -s COPT='-Werror' && make -s install; } >/tmp/imagestream-build.$$ 2>&1; then
	cat /tmp/imagestream-build.$$
	rm -f /tmp/imagestream-build.$$
	echo "build or install failed"
	failed=$((failed + 1))
	finish
fi
rm -f /tmp/imagestream-build.$$

# The tests run from a copy owned by the user that runs the servers.
if [ "$(id -u)" -eq 0 ]; then
	run_as() { runuser -u postgres -- "$@"; }
	owner=postgres
else
	run_as() { "$@"; }
	owner=$(id -un)
fi
WORK=$(mktemp -d /tmp/imagestream-test.XXXXXX)
# (doc: the queries and alert rules of doc/monitoring that test/t/06[01]_*.pl load)
cp -r Makefile imagestream.control sql expected test doc "$WORK"/
chown -R "$owner" "$WORK"
chmod 755 "$WORK"

echo "== pg_regress"
run_as make -C "$WORK" -s installcheck TAP_TESTS= 2>&1 | tee "$WORK/regress.log"
status=${PIPESTATUS[0]}
[ -f "$WORK/regression.diffs" ] && head -n 200 "$WORK/regression.diffs"
count "$WORK/regress.log" \
	'^(test +|     )?[a-z0-9_]+ +\.\.\. ok|^ok [0-9]+ +[-+] ' \
	'^(test +|     )?[a-z0-9_]+ +\.\.\. FAILED|^not ok [0-9]+ +[-+] ' "$status"

echo "== TAP tests"
run_as make -C "$WORK" -s installcheck REGRESS= PROVE_FLAGS='-I test/lib -v' 2>&1 |
	tee "$WORK/tap.log"
status=${PIPESTATUS[0]}
count_tap "$WORK/tap.log" "$WORK" "$status"
check_crash_helper "$WORK"

echo "== unit tests (test/unit)"
make -s unit 2>&1 | tee "$WORK/unit.log"
count "$WORK/unit.log" '^ok [0-9]+' '^not ok [0-9]+' "${PIPESTATUS[0]}"

if command -v clang >/dev/null; then
	echo "== libFuzzer, $FUZZ_SECONDS s per target"
	bash test/fuzz/run-fuzz.sh "$FUZZ_SECONDS" 2>&1 | tee "$WORK/fuzz.log"
	if [ "${PIPESTATUS[0]}" -eq 0 ]; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
	fi
fi

# The Debian package last: removing it takes away the files `make install`
# put in place, which are installed again after it.  Its TAP lines are shown
# and counted; its log is in $WORK.
echo "== the Debian package (test/deb/run-deb-test.sh, also make test-deb)"
bash test/deb/run-deb-test.sh >"$WORK/deb.log" 2>&1
status=$?
if [ "$status" -eq 77 ]; then
	echo "skipped: the package test: $(sed -n 's/^skip: //p' "$WORK/deb.log")"
	skipped=$((skipped + 1))
else
	grep -E '^== |^ *(not )?ok [0-9]+' "$WORK/deb.log"
	[ "$status" -eq 0 ] || tail -n 40 "$WORK/deb.log"
	count "$WORK/deb.log" '^ *ok [0-9]+' '^ *not ok [0-9]+' "$status"
	if ! make -s -j2 install >"$WORK/reinstall.log" 2>&1; then
		cat "$WORK/reinstall.log"
		echo "make install after the package test failed"
		failed=$((failed + 1))
	fi
fi

if [ "$failed" -eq 0 ]; then
	rm -rf "$WORK"
else
	echo "logs kept in $WORK"
fi
finish
