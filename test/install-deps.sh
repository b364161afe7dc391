#!/usr/bin/env bash
# Installs the Debian packages the build, the tests and the demo need, when
# missing: as root with apt-get, otherwise it prints the apt-get line and
# fails.  Sourced by test/run-tests.sh and test/demo.sh.

PACKAGES=(make gcc postgresql-15 postgresql-server-dev-15 libssl-dev
	libcurl4-openssl-dev libipc-run-perl clang libclang-rt-14-dev
	docker-registry apache2-utils openssl curl python3 python3-jwt python3-cryptography
	golang-go golang-github-masterminds-semver-dev prometheus-postgres-exporter prometheus
	postgresql-15-auto-failover pg-auto-failover-cli)

install_deps() {
	local missing=() p
	for p in "${PACKAGES[@]}"; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
			missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "Missing packages. Install them with:"
		echo "  sudo apt-get install -y ${missing[*]}"
		return 1
	fi
	echo "== installing ${missing[*]}"
	apt-get update -qq &&
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			"${missing[@]}" >/dev/null || { echo "apt-get install failed"; return 1; }
}
