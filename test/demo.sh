#!/usr/bin/env bash
# `make demo` (README.md): on a fresh Debian machine, installs what is
# missing, builds and installs the extension, then runs test/demo.pl: a
# throwaway cluster and registry showing imports, the worker, NOTIFY, a
# rollback and describe.  --keep leaves both running.
set -euo pipefail

cd "$(dirname "$0")/.."
source test/install-deps.sh
install_deps

echo "== building and installing imagestream"
make -s >/dev/null && make -s install >/dev/null

if [ "$(id -u)" -eq 0 ]; then
	dir=$(mktemp -d /tmp/imagestream-demo.XXXXXX)
	cp -r test "$dir"/
	chown -R postgres "$dir"
	chmod 755 "$dir"
	cd "$dir"
	exec runuser -u postgres -- perl -I test/lib test/demo.pl "$@"
fi
exec perl -I test/lib test/demo.pl "$@"
