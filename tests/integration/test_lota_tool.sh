#!/usr/bin/env bash
# The `lota` command-line tool: presign output verifies with liblota's own parser (and is
# checked against radosgw in the client tests), owner agrees with the placement golden
# vectors' properties, and bad flags get precise errors and exit status 2.
set -uo pipefail
build=${LOTA_BUILD_DIR:?run under CTest (LOTA_BUILD_DIR)}
lota=$build/tools/lota
pass=0 fail=0
ok() { echo "ok - $*"; pass=$((pass + 1)); }
bad() { echo "not ok - $*"; fail=$((fail + 1)); }
expect() { # description, expected status, regex on combined output, command...
	local d=$1 st=$2 re=$3
	shift 3
	local out rc
	out=$("$@" 2>&1)
	rc=$?
	if [ "$rc" = "$st" ] && [[ "$out" =~ $re ]]; then ok "$d"; else bad "$d (status $rc: $out)"; fi
}

expect "version" 0 "^lota [0-9]+\.[0-9]+\.[0-9]+$" "$lota" version
expect "no command is a usage error" 2 "usage" "$lota"
expect "unknown command" 2 'unknown command "frobnicate"' "$lota" frobnicate
export AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY
expect "presign encodes the key" 0 '^http://127\.0\.0\.1:8000/b/a%20b/c%2B%25\?X-Amz-Algorithm=AWS4-HMAC-SHA256&.*X-Amz-Expires=600&.*X-Amz-Signature=[0-9a-f]{64}$' \
	"$lota" presign --endpoint http://127.0.0.1:8000 --bucket b --key 'a b/c+%' --expires 10m
expect "presign rejects a week and a second" 2 'expires' \
	"$lota" presign --endpoint http://h --bucket b --key k --expires 604801s
expect "presign needs --bucket" 2 'bucket' "$lota" presign --endpoint http://h --key k
expect "presign rejects a bad endpoint" 2 'is not http' "$lota" presign --endpoint ftp:/x --bucket b --key k
expect "presign unknown flag" 2 'unknown' "$lota" presign --endpoint http://h --bucket b --key k --frob 1
expect "presign without credentials" 2 'AWS_ACCESS_KEY_ID' env -u AWS_ACCESS_KEY_ID \
	"$lota" presign --endpoint http://h --bucket b --key k
expect "presign --help lists flags" 0 '--endpoint.*--expires' "$lota" presign --help

owner() { "$lota" owner --bucket data --key shard-0001.tar --etag '"abc"' "$@"; }
o1=$(owner --size 1GiB --node n1 --node n2 --node n3 --offset 0)
o2=$(owner --size 1GiB --node n3 --node n1 --node n2 --offset 0)
[ "$(echo "$o1" | sed 1d | wc -l)" = 3 ] && ok "owner ranks every node" || bad "owner output: $o1"
[ "$o1" = "$o2" ] && ok "owner order does not depend on the order nodes are given" || bad "order: $o1 / $o2"
e0=$(owner --size 1GiB --node n1 --node n2 --offset 0 | head -n1)
e1=$(owner --size 1GiB --node n1 --node n2 --offset 64MiB | head -n1)
[[ "$e0" =~ ^extent\ 0\ name\ [0-9a-f]{32}$ ]] && [[ "$e1" =~ ^extent\ 1\  ]] && [ "${e0#* name }" != "${e1#* name }" ] \
	&& ok "chunks of a large object are separate extents" || bad "extents: $e0 / $e1"
# The names lotad gives these extents (tests/unit/test_extent.c holds the same golden values).
[ "$e0" = "extent 0 name b69a468b215871d93e3fff987e1e33c0" ] && [ "$e1" = "extent 1 name a5571f2de562d05a03477eff401405de" ] \
	&& ok "owner names extents as lotad does" || bad "golden names: $e0 / $e1"
s0=$(owner --size 10MiB --node n1 --offset 9MiB | head -n1)
[[ "$s0" =~ ^extent\ 0\  ]] && ok "an object up to one extent is extent 0" || bad "small: $s0"
# A node with a large weight should own most extents.
heavy=0
for i in $(seq 1 40); do
	first=$("$lota" owner --bucket b --key "k$i" --etag e --size 1 --node light --node heavy=50 | sed -n 2p)
	[ "$first" = "1 heavy" ] && heavy=$((heavy + 1))
done
[ $heavy -ge 34 ] && ok "weight 50 vs 1 owns $heavy/40 keys" || bad "weight: heavy owns only $heavy/40"
expect "owner rejects a duplicate node" 2 'duplicate' owner --size 1 --node a --node a
expect "owner rejects a bad weight" 2 'weight' owner --size 1 --node a=x
expect "owner rejects a zero weight" 2 'a=0' owner --size 1 --node a=0
expect "owner rejects an offset past the end" 2 'beyond' owner --size 10 --node a --offset 10
expect "owner rejects a bad size" 2 'size' owner --size 10XB --node a
expect "owner: a 0-byte object has no extent" 2 '0-byte object has no extent' owner --size 0 --node a
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
