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

# The S3 commands: usage errors (status 2) before anything is sent.
expect "cp needs one s3:// side" 2 'one of SRC and DST' "$lota" cp a b
expect "cp of two s3:// URIs is refused" 2 'one of SRC and DST' "$lota" cp s3://a/b s3://c/d
expect "cp with one argument" 2 'usage' "$lota" cp s3://b/k
expect "cp with a bad s3 URI" 2 'one of SRC and DST' "$lota" cp s3:/b/k x
expect "cp of a prefix without --recursive" 2 'names no object' "$lota" cp s3://b/dir/ x --endpoint-url http://127.0.0.1:9
expect "cp --recursive from stdin" 2 'stdin' "$lota" cp --recursive - s3://b/k
expect "cp flags after the arguments" 2 'concurrency' "$lota" cp s3://b/k x --concurrency 0
expect "cp unknown flag" 2 'unknown' "$lota" cp --frob 1 s3://b/k x
expect "cp bad part size" 2 'part_size|part-size' "$lota" cp s3://b/k x --part-size 12XB
expect "cp bad endpoint" 2 'ftp://x' "$lota" cp s3://b/k x --endpoint-url ftp://x
expect "cp --help lists its flags" 0 '--recursive.*--jobs|--endpoint-url' "$lota" cp --help
expect "ls needs s3://" 2 'is not s3://' "$lota" ls /tmp
expect "common flags before the command, as aws takes them" 2 'lota ls: "/tmp" is not s3://' \
	"$lota" --endpoint-url http://127.0.0.1:9 --region r ls /tmp
expect "rm needs a key" 2 'is not s3://bucket/key' "$lota" rm s3://b
expect "prestage needs s3://" 2 'is not s3://' "$lota" prestage b/p
expect "bench needs get or put" 2 'usage' "$lota" bench
expect "bench bad size" 2 'size' "$lota" bench get s3://b/p --size 4XB
expect "cluster needs an admin endpoint" 1 'no admin endpoint' env -u LOTA_ADMIN_URL "$lota" cluster
expect "cluster with a bad admin URL" 1 'is not http' "$lota" cluster ftp://x
expect "nothing listening: exit 1 naming the failure" 1 'lota ls: s3://b/: ' \
	env AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null "$lota" ls s3://b/ --endpoint-url http://127.0.0.1:9
tmpd=$(mktemp -d)
env AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null "$lota" cp s3://b/k "$tmpd/x" --endpoint-url http://127.0.0.1:9 >/dev/null 2>&1
[ $? = 1 ] && [ -z "$(ls -A "$tmpd")" ] && ok "a failed download leaves nothing behind" || bad "failed download left: $(ls -A "$tmpd")"
rm -rf "$tmpd"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
