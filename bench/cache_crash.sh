#!/usr/bin/env bash
# cache_crash.sh - the kill -9 loop of tests/integration/test_cache_crash.sh with many
# more cycles (default 200): lotad is killed at a random moment while it fills its cache
# from concurrent GETs, restarted on the same cache dir, and every object is read back
# by sha256. Prints a summary: cycles, how many kills cut a fill in progress, failed
# checks (with the failing lines), the seed that reproduces the run, and the time taken.
#
#   bench/cache_crash.sh [CYCLES]        (LOTA_CRASH_SEED=N to replay a run)
# Needs a built tree in build/ (or LOTA_BUILD_DIR) and the packages of scripts/deps.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/.." && pwd)
export LOTA_BUILD_DIR=${LOTA_BUILD_DIR:-$src/build}
export LOTA_CRASH_CYCLES=${1:-200}
[ -x "$LOTA_BUILD_DIR/daemon/lotad" ] || { echo "build first: $LOTA_BUILD_DIR/daemon/lotad missing" >&2; exit 1; }

log=$(mktemp /tmp/lota-cache-crash.XXXXXX)
trap 'rm -f "$log"' EXIT
t0=$(date +%s)
rc=0
"$src/tests/integration/test_cache_crash.sh" >"$log" 2>&1 || rc=$?
t1=$(date +%s)

cycles_ok=$(grep -c '^ok - cycle .*byte-exact' "$log" || true)
restarts_ok=$(grep -c '^ok - cycle .*no temp file after restart' "$log" || true)
echo "cache crash loop: $LOTA_CRASH_CYCLES cycles in $((t1 - t0)) s (test exit status $rc)"
grep -E '^# (crash cycles|summary)' "$log" | sed 's/^# /  /'
echo "  cycles with every object byte-exact: $cycles_ok/$LOTA_CRASH_CYCLES"
echo "  restarts without a leftover temp file: $restarts_ok/$LOTA_CRASH_CYCLES"
grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | sed 's/^/  checks: /'
if grep -q '^not ok' "$log"; then
	echo "failed checks:"
	grep -A 4 '^not ok' "$log" | sed 's/^/  /'
fi
exit "$rc"
