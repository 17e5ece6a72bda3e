#!/bin/sh
# Short fuzz run for the test suite: seed a fresh corpus with small
# generated traces, then fuzz the reader for a bounded number of runs.
#   run-fuzz.sh FUZZER GEN-TRACE
set -eu
fuzzer=$1
gen=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir "$dir/corpus"
"$gen" --cpus 1 --records 40 --seed 1 -o "$dir/corpus/one"
"$gen" --cpus 2 --records 300 --seed 2 --lost -o "$dir/corpus/two"
"$gen" --cpus 3 --records 3000 --seed 3 --lost -o "$dir/corpus/three"
# Raw-page seeds ('P', CPU byte, then pages) for the page and record checks.
printf 'P\001PKPG' > "$dir/corpus/raw-page"
if command -v zstd > /dev/null; then
	{ printf 'P\002'; zstd -q -dc "$dir/corpus/two" | head -c 16384; } \
		> "$dir/corpus/raw-gen"
fi
exec "$fuzzer" -runs=20000 -max_total_time=20 -max_len=65536 \
	-timeout=10 -rss_limit_mb=1024 -print_final_stats=1 "$dir/corpus"
