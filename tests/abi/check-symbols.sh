#!/usr/bin/env bash
# check-symbols.sh - liblota's exported ABI is exactly what its headers declare: the
# functions declared LOTA_API in include/lota/*.h, the symbols listed in lib/liblota.map,
# and the dynamic symbols the built liblota.so defines must be the same three sets. Any
# difference in any direction fails: a LOTA_API function missing from the map is not
# exported (callers fail to link), a map entry without a declaration exports nothing or
# something undocumented, a symbol the library defines beyond the list leaks. Every
# exported symbol must also carry a version from the map (lota_x@@LOTA_0).
# Usage: check-symbols.sh LIBLOTA_SO SOURCE_DIR (CTest passes both).
set -euo pipefail
so=${1:?usage: check-symbols.sh LIBLOTA_SO SOURCE_DIR}
src=${2:?usage: check-symbols.sh LIBLOTA_SO SOURCE_DIR}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0

# Declarations: comments and preprocessor lines removed (LOTA_API's own #define, and
# prose that names it), then the identifier before the '(' that follows each LOTA_API.
perl -0777 -ne 's{/\*.*?\*/}{}gs; s{//[^\n]*}{}g; s{^\s*#[^\n]*}{}mg;
	while (/\bLOTA_API\b[^;{}()]*?\b([A-Za-z_]\w*)\s*\(/g) { print "$1\n" }' \
	"$src"/include/lota/*.h | sort >"$tmp/headers"
# The version script: every "name;" inside a node, comments and the "*;" wildcard aside.
perl -0777 -ne 's{/\*.*?\*/}{}gs; while (/^\s*([A-Za-z_]\w*)\s*;/mg) { print "$1\n" }' \
	"$src/lib/liblota.map" | sort >"$tmp/map"
# What the library defines (type A: the version nodes themselves).
nm -D --defined-only "$so" | awk '$2 != "A" { print $3 }' >"$tmp/versioned"
sed 's/@.*//' "$tmp/versioned" | sort >"$tmp/exported"

compare() { # a-file a-name b-file b-name
	local only
	only=$(comm -23 <(sort -u "$1") <(sort -u "$3"))
	if [ -n "$only" ]; then
		echo "not ok - in $2 but not in $4:" $only
		fail=1
	fi
}
for f in headers map exported; do
	if [ ! -s "$tmp/$f" ]; then
		echo "not ok - no symbol found in the $f list"
		fail=1
	fi
	dups=$(uniq -d "$tmp/$f")
	if [ -n "$dups" ]; then
		echo "not ok - listed twice in the $f list:" $dups
		fail=1
	fi
done
compare "$tmp/headers" "the headers (LOTA_API)" "$tmp/map" "lib/liblota.map"
compare "$tmp/map" "lib/liblota.map" "$tmp/headers" "the headers (LOTA_API)"
compare "$tmp/map" "lib/liblota.map" "$tmp/exported" "liblota.so's dynamic symbols"
compare "$tmp/exported" "liblota.so's dynamic symbols" "$tmp/map" "lib/liblota.map"
unversioned=$(grep -v '@@\?LOTA_' "$tmp/versioned" || true)
if [ -n "$unversioned" ]; then
	echo "not ok - exported without a LOTA_ version:" $unversioned
	fail=1
fi
if [ $fail = 0 ]; then
	echo "ok - $(wc -l <"$tmp/map") functions: headers, lib/liblota.map and $(basename "$so") agree"
fi
exit $fail
