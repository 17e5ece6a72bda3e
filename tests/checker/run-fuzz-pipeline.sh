#!/bin/sh
# SPDX-License-Identifier: MIT
# Fuzz the whole checking pipeline for a bounded time, seeded with the
# first records of every saved recording (samples/*.zst):
#   run-fuzz-pipeline.sh FUZZER FUZZ-SEED SAMPLES_DIR SECONDS [CORPUS_DIR]
# With CORPUS_DIR the corpus is kept there (tools/fuzz); otherwise it is a
# fresh temporary one.
set -eu
fuzzer=$1 seed=$2 samples=$3 secs=$4
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
corpus=${5:-$dir/corpus}
mkdir -p "$corpus"
n=0
for t in "$samples"/*.zst; do
	name=$(basename "$t" .zst)
	"$seed" "$t" "$corpus/seed-$name" 1500 || continue
	n=$((n + 1))
done
[ "$n" -gt 0 ] || { echo "run-fuzz-pipeline: no seeds from $samples" >&2; exit 1; }
echo "run-fuzz-pipeline: $n seeds from $samples, fuzzing for ${secs}s"
exec "$fuzzer" -max_total_time="$secs" -max_len=131072 -timeout=10 \
	-rss_limit_mb=2048 -print_final_stats=1 "$corpus"
