#!/usr/bin/env bash
# Installs the build into a temporary prefix with `cmake --install`, then compiles and
# links an example program against it with nothing but `pkg-config --cflags --libs
# liblota`, runs it, and checks what the install contains: a versioned SONAME, only
# lota_* symbols exported, headers, liblota.pc and the CMake package config, and the
# LD_PRELOAD shim beside the library.
set -euo pipefail
build=${LOTA_BUILD_DIR:?run under CTest (LOTA_BUILD_DIR)}
src=${LOTA_SOURCE_DIR:?}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { echo "ok - $*"; pass=$((pass + 1)); }
bad() { echo "not ok - $*"; fail=$((fail + 1)); }

cmake --install "$build" --prefix "$tmp/prefix" >"$tmp/install.log" 2>&1 || {
	cat "$tmp/install.log"; exit 1; }
pc=$(find "$tmp/prefix" -name liblota.pc | head -n1)
[ -n "$pc" ] && ok "liblota.pc installed" || bad "liblota.pc installed"
export PKG_CONFIG_PATH=$(dirname "$pc")
so=$(find "$tmp/prefix" -name 'liblota.so.*.*' | head -n1)
[ -n "$so" ] && ok "versioned liblota.so installed ($(basename "$so"))" || bad "liblota.so.X.Y.Z"
soname=$(objdump -p "$so" | awk '/SONAME/ {print $2}')
[ "$soname" = "liblota.so.0" ] && ok "SONAME is liblota.so.0" || bad "SONAME is '$soname'"
others=$(nm -D --defined-only "$so" | awk '$2 ~ /^[TDBR]$/ {print $3}' | grep -v '^lota_[a-z]' || true)
[ -z "$others" ] && ok "only lota_* symbols exported ($(nm -D --defined-only "$so" | grep -c ' lota_'))" \
	|| bad "symbols other than lota_* exported: $(echo $others | head -c 300)"
internal=$(nm -D --defined-only "$so" | grep -c ' lota__' || true)
[ "$internal" = 0 ] && ok "no internal lota__ symbol exported" || bad "$internal lota__ symbols exported"
# the LD_PRELOAD shim beside the library, exporting the calls it interposes and nothing else
pre=$(dirname "$so")/liblota-preload.so
[ -f "$pre" ] && ok "liblota-preload.so installed beside liblota.so" || bad "liblota-preload.so installed"
pre_syms=$(nm -D --defined-only "$pre" 2>/dev/null | awk '$2 == "T" {print $3}' | sort | tr '\n' ' ')
[ "$pre_syms" = "connect getaddrinfo gethostbyname gethostbyname2 gethostbyname2_r gethostbyname_r getpeername " ] &&
	ok "liblota-preload.so exports the interposed calls only" || bad "liblota-preload.so exports: $pre_syms"
for h in common.h log.h http.h sigv4.h config.h placement.h peer.h client.h; do
	[ -f "$tmp/prefix/include/lota/$h" ] && ok "header lota/$h installed" || bad "header lota/$h"
done
cfg=$(find "$tmp/prefix" -name lotaConfig.cmake | head -n1)
[ -n "$cfg" ] && ok "CMake package config installed" || bad "lotaConfig.cmake installed"

# The public headers must stand alone and compile as C++ as well (extern "C").
nh=0 hbad=0
for h in "$tmp"/prefix/include/lota/*.h; do
	nh=$((nh + 1))
	echo "#include <lota/$(basename "$h")>" >"$tmp/h.c"
	"${LOTA_CC:-cc}" -std=c11 -Wall -Wextra -Werror -c "$tmp/h.c" -o /dev/null \
		$(pkg-config --cflags liblota) || { hbad=1; bad "lota/$(basename "$h") is not self-contained"; }
	if command -v g++ >/dev/null; then
		cp "$tmp/h.c" "$tmp/h.cc"
		g++ -Wall -Wextra -Werror -c "$tmp/h.cc" -o /dev/null $(pkg-config --cflags liblota) \
			|| { hbad=1; bad "lota/$(basename "$h") does not compile as C++"; }
	fi
done
[ $hbad = 0 ] && ok "all $nh public headers are self-contained (C and C++)"

extra=()
[ "${LOTA_SANITIZE:-0}" = 1 ] && extra=(-fsanitize=address,undefined)
if "${LOTA_CC:-cc}" -std=c11 -Wall -Wextra -Werror "${extra[@]}" "$src/examples/presign.c" -o "$tmp/presign" \
	$(pkg-config --cflags --libs liblota) 2>"$tmp/cc.log"; then
	ok "example compiles and links with pkg-config --cflags --libs liblota"
else
	cat "$tmp/cc.log"; bad "example compiles with pkg-config"
fi
url=$(LD_LIBRARY_PATH=$(dirname "$so") AWS_ACCESS_KEY_ID=AKIDEXAMPLE \
	AWS_SECRET_ACCESS_KEY=secret "$tmp/presign" http://127.0.0.1:9000 bkt "dir/a b+c" 60 || true)
case "$url" in
http://127.0.0.1:9000/bkt/dir/a%20b%2Bc\?*X-Amz-Signature=*) ok "installed example runs: $url" ;;
*) bad "installed example output: '$url'" ;;
esac
# The example must be using the installed library, not the build tree.
lib=$(LD_LIBRARY_PATH=$(dirname "$so") ldd "$tmp/presign" | awk '/liblota/ {print $3}')
case "$lib" in "$tmp"/*) ok "runs against the installed liblota" ;; *) bad "uses $lib" ;; esac

# A CMake project finds the installed package and links lota::lota.
mkdir -p "$tmp/consumer"
cp "$src/examples/presign.c" "$tmp/consumer/"
cat >"$tmp/consumer/CMakeLists.txt" <<'CMK'
cmake_minimum_required(VERSION 3.20)
project(consumer C)
find_package(lota 0.1 REQUIRED)
add_executable(presign presign.c)
target_link_libraries(presign PRIVATE lota::lota)
CMK
cflags=""
[ "${LOTA_SANITIZE:-0}" = 1 ] && cflags="-fsanitize=address,undefined"
if cmake -S "$tmp/consumer" -B "$tmp/consumer/build" -DCMAKE_PREFIX_PATH="$tmp/prefix" \
	-DCMAKE_C_COMPILER="${LOTA_CC:-cc}" -DCMAKE_C_FLAGS="$cflags" >"$tmp/cm.log" 2>&1 &&
	cmake --build "$tmp/consumer/build" >>"$tmp/cm.log" 2>&1; then
	ok "a CMake project links lota::lota through find_package(lota)"
else
	tail -20 "$tmp/cm.log"; bad "find_package(lota) consumer"
fi

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
