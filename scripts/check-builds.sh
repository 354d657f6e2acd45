#!/usr/bin/env bash
# check-builds.sh - lota builds without a warning however it is built: gcc and clang,
# Release (-O3, where gcc's flow-based warnings see the most) and Debug (-O0, where
# builtins such as sqrt are real calls), and with Debian's hardening flags from
# dpkg-buildflags, as a package build would use them. Every build has -DLOTA_WERROR=ON.
# It configures and builds, in temporary directories, only the library, lotad, the
# `lota` tool, the examples and the unit suites (no fuzzers, no integration tests), and
# runs the unit suites and the ABI check in the Debug and the hardened builds (the two
# whose code differs most from scripts/test.sh's RelWithDebInfo builds). Every build
# runs; the exit status is non-zero when any failed, with the compiler's errors printed.
# About a minute on two idle cores. Usage: scripts/check-builds.sh
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

jobs=$(nproc)
targets=(lota lota_static lotad lota_cli examples unit_tests)
work=$(mktemp -d "${TMPDIR:-/tmp}/lota-check-builds.XXXXXX")
trap 'rm -rf "$work"' EXIT

# dpkg-buildflags derives -ffile-prefix-map from the working directory: run it here.
# CMake has no CPPFLAGS, so they go with the C flags.
hard_cflags="$(dpkg-buildflags --get CFLAGS) $(dpkg-buildflags --get CPPFLAGS)"
hard_ldflags=$(dpkg-buildflags --get LDFLAGS)

total_start=$SECONDS

build() { # name, run unit tests (0/1), cmake args...
	local name=$1 unit=$2
	shift 2
	local dir=$work/$name start=$SECONDS
	if ! cmake -S . -B "$dir" -DLOTA_WERROR=ON "$@" >"$work/$name.configure.log" 2>&1; then
		echo "check-builds: $name: configure failed" >&2
		cat "$work/$name.configure.log" >&2
		return 1
	fi
	if ! cmake --build "$dir" -j "$jobs" --target "${targets[@]}" >"$work/$name.build.log" 2>&1; then
		echo "check-builds: $name: build failed" >&2
		grep -v '^\[' "$work/$name.build.log" | grep -E -A3 'error|warning|undefined' |
			head -60 >&2
		return 1
	fi
	if [ "$unit" = 1 ] &&
		! (cd "$dir" && ctest -L 'unit|abi' -j "$jobs" --output-on-failure >"$work/$name.ctest.log" 2>&1); then
		echo "check-builds: $name: unit tests failed" >&2
		cat "$work/$name.ctest.log" >&2
		return 1
	fi
	local what=built
	[ "$unit" = 1 ] && what="built, unit tests pass"
	echo "check-builds: $name: $what ($((SECONDS - start)) s)"
}

status=0
build gcc-release 0 -DCMAKE_C_COMPILER=gcc -DCMAKE_BUILD_TYPE=Release || status=1
build gcc-debug 1 -DCMAKE_C_COMPILER=gcc -DCMAKE_BUILD_TYPE=Debug || status=1
build clang-release 0 -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Release || status=1
build clang-debug 0 -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug || status=1
# Build type None, as Debian's debhelper uses: only the package flags apply.
build gcc-dpkg-buildflags 1 -DCMAKE_C_COMPILER=gcc -DCMAKE_BUILD_TYPE=None \
	-DCMAKE_C_FLAGS="$hard_cflags" -DCMAKE_EXE_LINKER_FLAGS="$hard_ldflags" \
	-DCMAKE_SHARED_LINKER_FLAGS="$hard_ldflags" || status=1
if [ $status = 0 ]; then
	echo "check-builds: all 5 builds ok in $((SECONDS - total_start)) s"
else
	echo "check-builds: FAILED ($((SECONDS - total_start)) s)" >&2
fi
exit $status
