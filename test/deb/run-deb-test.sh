#!/usr/bin/env bash
# The Debian package's test (`make test-deb`, and the last step of
# `make test`), as root: builds it with `make deb`, installs it with apt-get
# from the .deb in the parent directory, checks its version, files (those of
# `make install`) and dependencies, runs test/deb/t/installed.pl on a fresh
# cluster, removes and purges the package, checks that none of its files
# remain and runs test/deb/t/removed.pl.  Prints "N passed, N failed" as
# `make test` does; exits 77 after "skip: WHY" when it cannot run here.  The
# system is left without the extension, whatever `make install` had put
# there: `make install` puts it back.
set -uo pipefail

cd "$(dirname "$0")/../.."
source test/run-tests.sh	# count, finish and the totals

PKG=postgresql-15-imagestream
PG_BIN=/usr/lib/postgresql/15/bin

installed() { dpkg-query -W -f='${Status}' "$PKG" 2>/dev/null | grep -q ' installed$'; }
if [ "$(id -u)" -ne 0 ]; then
	echo "skip: installing a package needs root"
	exit 77
fi
# a DBA's installation of the package is not this test's to remove
if installed; then
	echo "skip: $PKG is installed, and this test would remove it"
	exit 77
fi
source test/install-deps.sh
install_deps || exit 1
# whatever happens, the package does not stay behind
trap 'installed && apt-get purge -y -qq "$PKG" >/dev/null' EXIT

WORK=$(mktemp -d /tmp/imagestream-deb.XXXXXX)
cp -r Makefile imagestream.control src test "$WORK"/
chown -R postgres "$WORK"
chmod 755 "$WORK"
LOG=$WORK/checks.log
n=0

# check DESCRIPTION COMMAND...: one TAP line for the command's success,
# and its status
check() {
	local what=$1
	shift
	n=$((n + 1))
	if "$@"; then
		echo "ok $n - $what" | tee -a "$LOG"
	else
		echo "not ok $n - $what" | tee -a "$LOG"
		return 1
	fi
}

# tap FILE: a TAP file of test/deb/t, run as postgres, counted
tap() {
	local log=$WORK/$(basename "$1").log
	echo "== $1"
	runuser -u postgres -- make -C "$WORK" -s installcheck PG_CONFIG=$PG_BIN/pg_config REGRESS= \
		PROVE_TESTS="$1" PROVE_FLAGS='-I test/lib -v' 2>&1 | tee "$log"
	count "$log" '^ *ok [0-9]+' '^ *not ok [0-9]+' "${PIPESTATUS[0]}"
}

build_deb() { make -s deb >"$WORK/deb-build.log" 2>&1 || { tail -n 40 "$WORK/deb-build.log"; return 1; }; }
apt_get() { apt-get "$@" >"$WORK/apt.log" 2>&1 || { cat "$WORK/apt.log"; return 1; }; }
# the files (not directories) dpkg lists for the package
package_files() { dpkg -L "$PKG" | while read -r f; do [ -f "$f" ] && echo "$f"; done | sort; }
same_files_as_make_install() {
	runuser -u postgres -- make -C "$WORK" -s -j2 install PG_CONFIG=$PG_BIN/pg_config DESTDIR="$WORK/destdir" >/dev/null &&
		diff <(cd "$WORK/destdir" && find . -type f | sed 's/^\.//' | sort) <(grep -v '^/usr/share/doc/' "$WORK/package-files")
}
purged() {
	local s
	s=$(dpkg-query -W -f='${db:Status-Status}' "$PKG" 2>/dev/null)
	[ -z "$s" ] || [ "$s" = not-installed ]
}
depends_on() { dpkg-query -W -f='${Depends}' "$PKG" | grep -qE "(^|, )$1( |,|$)"; }
# (a directory the package shares with files it did not install, such as
# those of an earlier `make install`, stays: dpkg removes empty ones alone)
nothing_left() {
	local f bad=0
	for f in $(cat "$WORK/package-files") "/usr/share/doc/$PKG"; do
		[ -e "$f" ] && { echo "left behind: $f"; bad=1; }
	done
	return $bad
}

echo "== make deb"
# (without a new build, an older .deb there is no test of this tree)
if ! check "make deb builds the package" build_deb; then
	count "$LOG" '^ok [0-9]+' '^not ok [0-9]+' 0
	finish
fi
VERSION=$(dpkg-parsechangelog -S Version)
DEB=../${PKG}_${VERSION}_$(dpkg --print-architecture).deb
echo "== $DEB"
check "the package's version is the extension's default_version" \
	[ "${VERSION%-*}" = "$(sed -n "s/^default_version = '\(.*\)'/\1/p" imagestream.control)" ]
check "apt-get install $DEB" apt_get install -y "$DEB"
check "$PKG is installed" installed
package_files >"$WORK/package-files"
EXT=$($PG_BIN/pg_config --sharedir)/extension
for f in "$($PG_BIN/pg_config --pkglibdir)/imagestream.so" "$EXT/imagestream.control" "$EXT/imagestream--${VERSION%-*}.sql"; do
	check "dpkg -L lists $f" grep -qx "$f" "$WORK/package-files"
done
check "the package holds the files make install installs, no more, no less" same_files_as_make_install
for d in postgresql-15 libcurl4 libssl3; do
	check "it depends on $d" depends_on "$d"
done
check "every library imagestream.so needs is found" \
	bash -c "! ldd $($PG_BIN/pg_config --pkglibdir)/imagestream.so | grep 'not found'"

tap test/deb/t/installed.pl

echo "== apt-get remove and purge"
check "apt-get remove $PKG" apt_get remove -y "$PKG"
# (apt-get knows a local .deb only while it is installed: dpkg purges)
check "dpkg --purge $PKG" dpkg --purge "$PKG"
check "dpkg keeps nothing of $PKG, not even its configuration" purged
check "no file of the package is left" nothing_left

tap test/deb/t/removed.pl

count "$LOG" '^ok [0-9]+' '^not ok [0-9]+' 0
if [ "$failed" -eq 0 ]; then
	rm -rf "$WORK"
else
	echo "logs kept in $WORK"
fi
finish
