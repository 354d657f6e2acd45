#!/usr/bin/env bash
# run-fuzzer.sh BINARY SEED_CORPUS WORK_DIR SECONDS
# Runs a libFuzzer harness for SECONDS on a scratch corpus seeded from the repo's corpus
# (the repo's seeds are never written to) and prints the exec count. Fails on a crash.
set -euo pipefail
bin=$1 seeds=$2 work=$3 secs=$4
rm -rf "$work"; mkdir -p "$work/corpus" "$work/artifacts"
"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix="$work/artifacts/" "$work/corpus" "$seeds" 2>"$work/log" || {
  tail -n 60 "$work/log"; exit 1; }
grep -E 'stat::number_of_executed_units|Done [0-9]+ runs' "$work/log" | tail -n 2
