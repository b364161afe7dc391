#!/usr/bin/env bash
# Builds the libFuzzer target and runs it for $1 seconds (default 60), seeded
# with every input of the conformance files.  Exit status non-zero on a crash
# or a failed check; the crashing input is left in test/fuzz/work/.
set -euo pipefail

seconds=${1:-60}
cd "$(dirname "$0")"
work=work
mkdir -p "$work/corpus" "$work/seeds"

clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-I../../src fuzz_parsers.c ../../src/digest.c ../../src/reference.c \
	-lcrypto -o fuzz_parsers

n=0
for f in ../conformance/*.tsv; do
	tail -n +2 "$f" | cut -f1 | while IFS= read -r line; do
		n=$((n + 1))
		printf '%s' "$line" >"$work/seeds/$(basename "$f" .tsv)-$n"
	done
done

./fuzz_parsers -max_total_time="$seconds" -print_final_stats=1 \
	-artifact_prefix="$work/" "$work/corpus" "$work/seeds" 2>"$work/fuzz.log" ||
	{ tail -n 40 "$work/fuzz.log"; exit 1; }
grep -E 'stat::number_of_executed_units|stat::peak_rss_mb|cov:' "$work/fuzz.log" | tail -n 3
