#!/usr/bin/env bash
# Builds the libFuzzer targets and runs each for $1 seconds (default 20):
#   parsers   src/digest.c, src/reference.c, seeded with every input of the
#             conformance files
#   headers   src/headers.c, seeded with test/fuzz/seeds/headers/
#   manifest  src/manifest.c, src/json_fields.c, src/cosign_layout.c with PostgreSQL's frontend
#             JSON parser (libpgcommon.a, postgresql-server-dev-15) and
#             pg_stubs.c, seeded with test/fuzz/seeds/manifest/
#   semver    src/semver.c, seeded with "range<TAB>version<TAB>version" from
#             every row of test/conformance/semver_*.tsv
#   signature src/cosign_crypto.c and src/cosign.c (with the JSON parser and
#             pg_stubs.c, as manifest), seeded with test/fuzz/seeds/signature/
# Prints each target's executed units and peak RSS.  Exit status non-zero on
# a crash or a failed check; the crashing input is left in
# test/fuzz/work/<target>/.  FUZZ_TARGETS="headers manifest" runs a subset.
set -euo pipefail

seconds=${1:-20}
targets=${FUZZ_TARGETS:-parsers headers manifest semver signature}
cd "$(dirname "$0")"
PG_CONFIG=${PG_CONFIG:-pg_config}
CFLAGS="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined"

build() {
	case $1 in
	parsers)
		clang $CFLAGS -I../../src fuzz_parsers.c ../../src/digest.c ../../src/reference.c \
			-lcrypto -o fuzz_parsers ;;
	headers)
		clang $CFLAGS -I../../src fuzz_headers.c ../../src/headers.c -o fuzz_headers ;;
	manifest)
		# PGXS's printf attribute (gnu_printf) is unknown to clang
		clang $CFLAGS -Wno-ignored-attributes -I../../src -I"$($PG_CONFIG --includedir-server)" \
			fuzz_manifest.c pg_stubs.c ../../src/manifest.c ../../src/json_fields.c ../../src/cosign_layout.c \
			-L"$($PG_CONFIG --pkglibdir)" -lpgcommon -lpgport -o fuzz_manifest ;;
	semver)
		clang $CFLAGS -I../../src fuzz_semver.c ../../src/semver.c ../../src/digest.c \
			-lcrypto -o fuzz_semver ;;
	signature)
		clang $CFLAGS -Wno-ignored-attributes -I../../src -I"$($PG_CONFIG --includedir-server)" \
			fuzz_signature.c pg_stubs.c ../../src/cosign.c ../../src/cosign_crypto.c \
			../../src/json_fields.c ../../src/digest.c \
			-L"$($PG_CONFIG --pkglibdir)" -lpgcommon -lpgport -lcrypto -o fuzz_signature ;;
	*)
		echo "unknown fuzz target $1" >&2
		return 1 ;;
	esac
}

seed() {
	local dir=$1 n=0 f line
	if [ -d "seeds/$2" ]; then
		cp seeds/"$2"/* "$dir/"
	fi
	if [ "$2" = parsers ]; then
		for f in ../conformance/*.tsv; do
			while IFS= read -r line; do
				n=$((n + 1))
				printf '%s' "$line" >"$dir/$(basename "$f" .tsv)-$n"
			done < <(tail -n +2 "$f" | cut -f1)
		done
	fi
	if [ "$2" = semver ]; then
		# range (or version), version, other version of each row
		awk -F'\t' -v dir="$dir" 'FNR > 1 {
			f = sprintf("%s/semver-%d", dir, ++n)
			if (FILENAME ~ /versions/)
				printf "%s\t%s\t%s", $1, $1, ($4 == "" ? $1 : $4) > f
			else
				printf "%s\t%s\t%s", $1, $2, $2 > f
			close(f)
		}' ../conformance/semver_*.tsv
	fi
}

status=0
for t in $targets; do
	work=work/$t
	mkdir -p "$work/corpus" "$work/seeds"
	build "$t"
	seed "$work/seeds" "$t"
	if ./fuzz_"$t" -max_total_time="$seconds" -print_final_stats=1 \
		-artifact_prefix="$work/" "$work/corpus" "$work/seeds" 2>"$work/fuzz.log"; then
		units=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/fuzz.log")
		rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$work/fuzz.log")
		echo "fuzz_$t: ${seconds} s, $units executed units, peak RSS $rss MB"
	else
		tail -n 40 "$work/fuzz.log"
		echo "fuzz_$t: FAILED, input kept in test/fuzz/$work/ ($(ls "$work" | grep -E '^(crash|leak|timeout|oom)-' | tr '\n' ' '))"
		status=1
	fi
done
exit $status
