#!/usr/bin/env bash
# The test command: installs what is needed, then builds lota twice and runs every test
# under CTest in both builds:
#   build/       gcc, optimized (unit, fuzz-corpus replay, integration, install tests)
#   build-asan/  clang, ASan+UBSan, libFuzzer harnesses run for LOTA_FUZZ_SECONDS each
# Before them, scripts/check-builds.sh builds lota in the other ways people build it.
# Exits non-zero when anything fails. Usage: scripts/test.sh [--quick] (quick: one build,
# no integration tests, no check-builds; for a fast edit-test loop).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
quick=0
[ "${1:-}" = --quick ] && quick=1

bash scripts/deps.sh
bash scripts/check-format.sh
bash scripts/check-layers.sh
# gcc/clang x Release/Debug and Debian's hardening flags, warnings as errors (~1 min).
[ $quick = 1 ] || bash scripts/check-builds.sh

jobs=$(nproc)
# 30 s per harness from the committed corpus: 10 harnesses, two at a time on two cores,
# add about 2.5 min to the sanitizer build's tests.
fuzz_seconds=${LOTA_FUZZ_SECONDS:-30}
status=0

run_build() { # name, ctest label exclusion, cmake args...
	local dir=$1 exclude=$2
	shift 2
	echo "=== configure $dir: $*"
	mkdir -p "$dir"
	cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLOTA_WERROR=ON "$@" \
		>"$dir/configure.log" 2>&1 || {
		cat "$dir/configure.log"
		return 1
	}
	echo "=== build $dir"
	cmake --build "$dir" -j "$jobs" >"$dir/build.log" 2>&1 || {
		grep -E 'error|Error' "$dir/build.log" | head -40
		return 1
	}
	echo "=== test $dir"
	local args=(--output-on-failure --timeout 900 -j "$jobs")
	[ -n "$exclude" ] && args+=(-LE "$exclude")
	(cd "$dir" && ctest "${args[@]}")
}

if [ $quick = 1 ]; then
	run_build build integration || status=1
	exit $status
fi
run_build build "" || status=1
run_build build-asan "" -DCMAKE_C_COMPILER=clang -DLOTA_SANITIZE=ON -DLOTA_FUZZ=ON \
	-DLOTA_FUZZ_SECONDS="$fuzz_seconds" || status=1
if [ $status = 0 ]; then echo "=== all tests passed in both builds"; else echo "=== FAILED"; fi
exit $status
