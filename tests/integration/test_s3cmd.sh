#!/usr/bin/env bash
# test_s3cmd.sh - s3cmd (Python, its own SigV4 signer) against the endpoint under test:
# bucket creation, a multipart put and get (sha256 compared), awkward keys, recursive
# listing, info, delete, virtual-hosted style, and the authentication failures.
# Note: s3cmd exits 77 on "access denied"; that is only ever seen inside a check here.
. "$(dirname "$0")/lib.sh"
it_require_rgw
it_require_cmd s3cmd
it_setup

W=$IT_DIR/work
mkdir -p "$W"
B=lota-s3cmd
it_random_file "$W/big" $((23 * 1024 * 1024))
BIG_SHA=$(it_sha256 "$W/big")

# s3cmd prints "ERROR: S3 error: 403 (Code)"; HEAD-based commands only have the reason
# (the negative checks below use check_fails_with from lib.sh).
check "mb s3://$B" it_s3cmd alice mb "s3://$B"
check "put 23 MiB (multipart, 5 MiB chunks)" it_s3cmd alice put --multipart-chunk-size-mb=5 "$W/big" "s3://$B/big/file.bin"
etag=$(it_curl alice -sI "$S3_ENDPOINT/$B/big/file.bin" | tr -d '\r' | sed -n 's/^[Ee][Tt][Aa][Gg]: //p')
check "the object has a 5-part multipart ETag: $etag" grep -qE '^"[0-9a-f]{32}-5"$' <<<"$etag"
check "get 23 MiB" it_s3cmd alice get --force "s3://$B/big/file.bin" "$W/big.down"
check_eq "23 MiB bytes" "$BIG_SHA" "$(it_sha256 "$W/big.down" 2>/dev/null)"
check "vhost: get 23 MiB" it_s3cmd alice-vhost get --force "s3://$B/big/file.bin" "$W/big.vhost"
check_eq "vhost: 23 MiB bytes" "$BIG_SHA" "$(it_sha256 "$W/big.vhost" 2>/dev/null)"
info=$(it_s3cmd alice info "s3://$B/big/file.bin" 2>&1)
check_contains "info shows the size" "File size: $((23 * 1024 * 1024))" "$info"

KEYS=("with space" "plus+plus" "100%25 real%" "ünï/日本/🙂" "dbl//slash" "a b/c+d/e%f")
i=0
for k in "${KEYS[@]}"; do
	i=$((i + 1))
	it_random_file "$W/k$i" $((3000 + i))
	prof=alice
	[ $((i % 2)) -eq 0 ] && prof=alice-vhost
	check "put key '$k' ($prof)" it_s3cmd $prof put "$W/k$i" "s3://$B/keys/$k"
	check "get key '$k'" it_s3cmd alice get --force "s3://$B/keys/$k" "$W/k$i.down"
	check_eq "bytes of key '$k'" "$(it_sha256 "$W/k$i")" "$(it_sha256 "$W/k$i.down" 2>/dev/null)"
done
listed=$(it_s3cmd alice ls -r "s3://$B/keys/" 2>&1 | sed -n "s|.*s3://$B/||p" | LC_ALL=C sort)
expected=$(for k in "${KEYS[@]}"; do echo "keys/$k"; done | LC_ALL=C sort)
check_eq "ls -r lists every awkward key exactly" "$expected" "$listed"
listed=$(it_s3cmd alice-vhost ls -r "s3://$B/keys/" 2>&1 | sed -n "s|.*s3://$B/||p" | LC_ALL=C sort)
check_eq "vhost: ls -r lists every awkward key exactly" "$expected" "$listed"

check "del a key" it_s3cmd alice del "s3://$B/keys/with space"
check_fails_with "get after del -> does not exist" "does not exist" it_s3cmd alice get --force "s3://$B/keys/with space" "$W/gone"

check_fails_with "wrong secret -> SignatureDoesNotMatch" "(SignatureDoesNotMatch)" it_s3cmd wrongsecret ls "s3://$B"
check_fails_with "wrong secret on put -> SignatureDoesNotMatch" "(SignatureDoesNotMatch)" it_s3cmd wrongsecret put "$W/k1" "s3://$B/x"
check_fails_with "unknown access key -> InvalidAccessKeyId" "(InvalidAccessKeyId)" it_s3cmd unknown ls "s3://$B"
check_fails_with "bob lists alice's bucket -> AccessDenied" "(AccessDenied)" it_s3cmd bob ls "s3://$B"
check_fails_with "bob reads alice's object -> 403" "403" it_s3cmd bob get --force "s3://$B/big/file.bin" "$W/bob"
check_fails_with "vhost: bob reads alice's object -> 403" "403" it_s3cmd bob-vhost get --force "s3://$B/big/file.bin" "$W/bob"
[ -s "$W/bob" ] && it_fail "bob's failed get left data behind" || it_pass "bob's failed get wrote no data"

check "rm -r the bucket contents" it_s3cmd alice del -r --force "s3://$B/"
check "rb s3://$B" it_s3cmd alice rb "s3://$B"
it_finish
