#!/usr/bin/env bash
# Builds PostgreSQL 17 from Debian 13's (trixie's) own source package, for
# `make test-pg17`: bookworm ships only 15.  The source comes from the mirror
# this machine's bookworm packages come from, through a deb-src-only entry
# (no trixie binary package can be installed from it).  Source and
# installation are cached in $PG17_CACHE/<Debian version>/, so a second run
# downloads and builds nothing.  Not Debian's package build (documentation,
# flavours and its whole test suite take hours): the unpacked, patched
# source is configured directly, with the TAP test modules installed.
# As root.  Prints the installation's bindir on its last line.
set -euo pipefail

CACHE=${PG17_CACHE:-/var/cache/imagestream-pg17}
SOURCES=/etc/apt/sources.list.d/imagestream-pg17-src.sources
# The version tested (doc/testing.md): trixie's index listed 17.12-0+deb13u1
# when this was written, but the mirror served only 17.9 to 17.11's files.
VERSION=17.11-0+deb13u1
DSC_SHA256=bf148ae423a982707c3f60672c3a072ef62b701bd9f5df847d9f4b8c9b3e3b18
BUILD_DEPS=(dpkg-dev curl bison flex libssl-dev zlib1g-dev libipc-run-perl make gcc)
# other apt users (other test runs) may hold the lock for a while
APT=(apt-get -o DPkg::Lock::Timeout=600)

# the mirror of bookworm's main suite (deb822 or one-line lists alike)
mirror() {
	apt-get indextargets --format '$(REPO_URI) $(CODENAME) $(TARGET_OF)' |
		awk '$2 == "bookworm" && $3 == "deb" { print $1; exit }'
}

add_source() {
	local uri
	uri=$(mirror)
	[ -n "$uri" ] || { echo "no bookworm mirror found in apt's sources" >&2; return 1; }
	cat >"$SOURCES.new" <<SRC
# imagestream's \`make test-pg17\`: Debian 13's PostgreSQL 17 source only.
Types: deb-src
URIs: $uri
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
	if ! cmp -s "$SOURCES.new" "$SOURCES" 2>/dev/null; then
		mv "$SOURCES.new" "$SOURCES"
		"${APT[@]}" update -qq
	else
		rm -f "$SOURCES.new"
	fi
}

# fetch_source DIR: the pinned version's .dsc and tarballs into DIR.  apt-get
# source verifies them against trixie's signed index while it lists the
# pinned version; once a newer one replaced it there, the .dsc comes from the
# same mirror's pool, checked against its pinned SHA-256 (dpkg-source -x then
# checks the tarballs against the .dsc).
fetch_source() {
	local uri f
	if (cd "$1" && "${APT[@]}" source -qq --download-only "postgresql-17=$VERSION") >&2 2>/dev/null; then
		return 0
	fi
	uri=$(mirror)
	f=postgresql-17_$VERSION.dsc
	curl -sSf -o "$1/$f" "${uri%/}/pool/main/p/postgresql-17/${f//+/%2b}"
	echo "$DSC_SHA256  $1/$f" | sha256sum -c --quiet - >&2
	for f in $(awk '/^Files:/ { on = 1; next } /^[^ ]/ { on = 0 } on { print $3 }' "$1/$f"); do
		curl -sSf -o "$1/$f" "${uri%/}/pool/main/p/postgresql-17/${f//+/%2b}"
	done
}

install_build_deps() {
	local missing=() p
	for p in "${BUILD_DEPS[@]}"; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
			missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	echo "== installing ${missing[*]}" >&2
	DEBIAN_FRONTEND=noninteractive "${APT[@]}" install -y -qq --no-install-recommends \
		"${missing[@]}" >/dev/null
}

[ "$(id -u)" -eq 0 ] || { echo "build-pg17.sh: run as root (apt-get)" >&2; exit 1; }
install_build_deps
add_source
dir=$CACHE/$VERSION
prefix=$dir/install
echo "== PostgreSQL 17 from Debian's postgresql-17 $VERSION ($prefix)" >&2

if [ ! -f "$dir/downloaded" ]; then
	rm -rf "$dir/src"
	mkdir -p "$dir/src"
	fetch_source "$dir/src"
	touch "$dir/downloaded"
fi

if [ ! -x "$prefix/bin/postgres" ] || [ ! -f "$dir/installed" ]; then
	rm -rf "$dir/build" "$prefix"
	mkdir -p "$dir/build"
	dpkg-source -x "$dir/src/postgresql-17_$VERSION.dsc" "$dir/build/postgresql-17" >&2
	(
		cd "$dir/build/postgresql-17"
		# Debian's 50-per-version-dirs patch puts the libraries in
		# /usr/lib/postgresql/17/lib unless libdir names postgresql
		./configure -q --prefix="$prefix" --libdir="$prefix/lib/postgresql" \
			--enable-tap-tests --with-openssl --without-icu --without-readline
		make -s -j2
		make -s install
	) >"$dir/build.log" 2>&1 || { tail -n 40 "$dir/build.log" >&2; exit 1; }
	touch "$dir/installed"
fi
echo "$prefix/bin"
