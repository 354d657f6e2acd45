#!/usr/bin/env bash
# test_awscli.sh - /usr/bin/aws (awscli 2) against the endpoint under test (lotad in front
# of radosgw; radosgw itself with LOTA_TEST_DIRECT=1): a 100 MiB multipart upload and
# download, ranged gets, head, list, delete, awkward keys, virtual-hosted style, and the
# authentication/authorization failures a client sees. Every byte is compared by sha256.
. "$(dirname "$0")/lib.sh"
it_require_rgw
it_require_cmd "$IT_AWS"
it_setup

W=$IT_DIR/work
mkdir -p "$W"
B=lota-aws
BIG=$W/big.bin
it_random_file "$BIG" $((100 * 1024 * 1024))
BIG_SHA=$(it_sha256 "$BIG")

# Expect an aws command to fail with S3 error CODE. awscli 2.9 loses the code of an error
# whose <Message> is empty (radosgw sends empty messages: the CLI prints "argument of type
# 'NoneType' is not iterable"), so the response body is read from --debug output.
expect_err() {
	local desc=$1 code=$2 out
	shift 2
	if out=$("$@" --debug 2>&1); then
		it_fail "$desc (command succeeded)"
	elif grep -qE "<Code>$code</Code>|\($code\)" <<<"$out"; then
		it_pass "$desc"
	else
		it_fail "$desc"
		grep -E '<Code>|An error occurred|Response body|HTTP/1.1" [0-9]+' <<<"$out" | tail -n 5 |
			sed 's/^/#   /'
	fi
}

check "create bucket $B" it_aws alice s3api create-bucket --bucket "$B"

# --- 100 MiB: multipart up, down, head, ranges
check "s3 cp up 100 MiB (multipart)" it_aws alice s3 cp --only-show-errors "$BIG" "s3://$B/data/big.bin"
head_json=$(it_aws alice s3api head-object --bucket "$B" --key data/big.bin 2>&1)
check_eq "head-object ContentLength" 104857600 "$(jq -r .ContentLength <<<"$head_json" 2>/dev/null)"
etag=$(jq -r .ETag <<<"$head_json" 2>/dev/null)
check "head-object ETag is a multipart ETag (\"...-N\"): $etag" grep -qE '^"[0-9a-f]{32}-[0-9]+"$' <<<"$etag"

check "s3 cp down 100 MiB" it_aws alice s3 cp --only-show-errors "s3://$B/data/big.bin" "$W/big.down"
check_eq "100 MiB download sha256" "$BIG_SHA" "$(it_sha256 "$W/big.down" 2>/dev/null)"

range_check() { # DESC RANGE OFFSET LENGTH EXPECT_CONTENT_RANGE
	local out=$W/range.out json
	rm -f "$out"
	if ! json=$(it_aws alice s3api get-object --bucket "$B" --key data/big.bin --range "$2" "$out" 2>&1); then
		it_fail "$1: get-object --range $2"
		echo "$json" | tail -n 5 | sed 's/^/#   /'
		return
	fi
	check_eq "$1: bytes" "$(tail -c +$(($3 + 1)) "$BIG" | head -c "$4" | sha256sum | cut -d' ' -f1)" \
		"$(it_sha256 "$out")"
	check_eq "$1: ContentRange" "$5" "$(jq -r .ContentRange <<<"$json")"
}
range_check "range in the middle" bytes=1048576-2097151 1048576 1048576 "bytes 1048576-2097151/104857600"
range_check "range across a part boundary" bytes=8388000-8389000 8388000 1001 "bytes 8388000-8389000/104857600"
range_check "suffix range" bytes=-1000 $((104857600 - 1000)) 1000 "bytes 104856600-104857599/104857600"
range_check "open-ended range" bytes=104857000- 104857000 600 "bytes 104857000-104857599/104857600"
expect_err "range past the end -> InvalidRange" InvalidRange \
	it_aws alice s3api get-object --bucket "$B" --key data/big.bin --range bytes=104857600- "$W/x"

# --- virtual-hosted style: same bytes through http://lota-aws.localhost:PORT
check "vhost: s3 cp down 100 MiB" it_aws alice-vhost s3 cp --only-show-errors "s3://$B/data/big.bin" "$W/big.vhost"
check_eq "vhost: 100 MiB download sha256" "$BIG_SHA" "$(it_sha256 "$W/big.vhost" 2>/dev/null)"
echo "vhost put" >"$W/vh.txt"
check "vhost: put-object" it_aws alice-vhost s3api put-object --bucket "$B" --key vhost/one.txt --body "$W/vh.txt"
check "vhost: get-object" it_aws alice-vhost s3api get-object --bucket "$B" --key vhost/one.txt "$W/vh.down"
check_eq "vhost: bytes" "$(it_sha256 "$W/vh.txt")" "$(it_sha256 "$W/vh.down" 2>/dev/null)"

# --- awkward keys: spaces, +, %, unicode, runs of /
KEYS=("with space.txt" "plus+sign+.bin" "per%cent%2F%41.txt" "unicode-é-日本語-🙂"
	"a//double//slash" "dir/sub dir/x+y %z é/" "/leading-slash" "tilde~and=eq&amp;?q#h")
i=0
for k in "${KEYS[@]}"; do
	i=$((i + 1))
	f=$W/key$i
	it_random_file "$f" $((1000 + i * 777))
	check "put-object key '$k'" it_aws alice s3api put-object --bucket "$B" --key "keys/$k" --body "$f"
	rm -f "$f.down"
	check "get-object key '$k'" it_aws alice s3api get-object --bucket "$B" --key "keys/$k" "$f.down"
	check_eq "bytes of key '$k'" "$(it_sha256 "$f")" "$(it_sha256 "$f.down" 2>/dev/null)"
done
listed=$(it_aws alice s3api list-objects-v2 --bucket "$B" --prefix keys/ --query 'Contents[].Key' --output json 2>&1 | jq -r '.[]' 2>&1 | LC_ALL=C sort)
expected=$(for k in "${KEYS[@]}"; do echo "keys/$k"; done | LC_ALL=C sort)
check_eq "list-objects-v2 returns every awkward key exactly" "$expected" "$listed"
listed=$(it_aws alice-vhost s3api list-objects-v2 --bucket "$B" --prefix keys/ --query 'Contents[].Key' --output json 2>&1 | jq -r '.[]' 2>&1 | LC_ALL=C sort)
check_eq "vhost: list-objects-v2 returns every awkward key exactly" "$expected" "$listed"
n=$(it_aws alice s3api list-objects-v2 --bucket "$B" --prefix "keys/dir/" --delimiter / --query 'CommonPrefixes[].Prefix' --output text 2>&1)
check_eq "list-objects-v2 with delimiter" "keys/dir/sub dir/" "$n"
k="unicode-é-日本語-🙂"
check "vhost: head-object of an awkward key" it_aws alice-vhost s3api head-object --bucket "$B" --key "keys/$k"
rm -f "$W/vh.awk"
check "vhost: get-object of an awkward key" it_aws alice-vhost s3api get-object --bucket "$B" --key "keys/$k" "$W/vh.awk"
check_eq "vhost: bytes of an awkward key" "$(it_sha256 "$W/key4")" "$(it_sha256 "$W/vh.awk" 2>/dev/null)"

# --- delete
check "delete-object" it_aws alice s3api delete-object --bucket "$B" --key "keys/with space.txt"
expect_err "head-object after delete -> 404" 404 \
	it_aws alice s3api head-object --bucket "$B" --key "keys/with space.txt"
expect_err "get-object after delete -> NoSuchKey" NoSuchKey \
	it_aws alice s3api get-object --bucket "$B" --key "keys/with space.txt" "$W/x"
check "s3 rm of the 100 MiB object" it_aws alice s3 rm --only-show-errors "s3://$B/data/big.bin"
expect_err "get-object of the removed 100 MiB object -> NoSuchKey" NoSuchKey \
	it_aws alice s3api get-object --bucket "$B" --key data/big.bin "$W/x"

# --- authentication and authorization failures
expect_err "wrong secret -> SignatureDoesNotMatch" SignatureDoesNotMatch \
	it_aws wrongsecret s3api get-object --bucket "$B" --key vhost/one.txt "$W/x"
expect_err "wrong secret on list -> SignatureDoesNotMatch" SignatureDoesNotMatch \
	it_aws wrongsecret s3api list-objects-v2 --bucket "$B"
expect_err "unknown access key -> InvalidAccessKeyId" InvalidAccessKeyId \
	it_aws unknown s3api get-object --bucket "$B" --key vhost/one.txt "$W/x"
expect_err "bob reads alice's private object -> AccessDenied" AccessDenied \
	it_aws bob s3api get-object --bucket "$B" --key vhost/one.txt "$W/x"
expect_err "vhost: bob reads alice's private object -> AccessDenied" AccessDenied \
	it_aws bob-vhost s3api get-object --bucket "$B" --key vhost/one.txt "$W/x"
expect_err "bob heads alice's private object -> 403" 403 \
	it_aws bob s3api head-object --bucket "$B" --key vhost/one.txt
expect_err "bob lists alice's bucket -> AccessDenied" AccessDenied \
	it_aws bob s3api list-objects-v2 --bucket "$B"
expect_err "bob writes into alice's bucket -> AccessDenied" AccessDenied \
	it_aws bob s3api put-object --bucket "$B" --key from-bob --body "$W/vh.txt"
expect_err "missing bucket -> NoSuchBucket" NoSuchBucket \
	it_aws alice s3api get-object --bucket lota-no-such-bucket --key x "$W/x"

it_finish
