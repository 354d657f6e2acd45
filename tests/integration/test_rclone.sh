#!/usr/bin/env bash
# test_rclone.sh - rclone (Go: its own HTTP stack and resolver, no libc connect) against
# the endpoint under test: copy a tree up (one file multipart) and down, sha256 of every
# file, ranged cat, listing, delete, and the authentication failures. Path-style only: Go
# would send "bucket.localhost" to a DNS server.
. "$(dirname "$0")/lib.sh"
it_require_rgw
it_require_cmd rclone
it_setup

W=$IT_DIR/work
mkdir -p "$W/up/sub dir/ünï" "$W/down"
B=lota-rclone
it_random_file "$W/up/big.bin" $((27 * 1024 * 1024 + 5))
it_random_file "$W/up/sub dir/with space+plus%pct.txt" 4097
it_random_file "$W/up/sub dir/ünï/日本🙂" 1
: >"$W/up/empty"
MP=(--s3-upload-cutoff 5M --s3-chunk-size 5M)


check "mkdir alice:$B" it_rclone mkdir "alice:$B"
check "copy the tree up (27 MiB multipart)" it_rclone copy "${MP[@]}" "$W/up" "alice:$B/tree"
etag=$(it_curl alice -sI "$S3_ENDPOINT/$B/tree/big.bin" | tr -d '\r' | sed -n 's/^[Ee][Tt][Aa][Gg]: //p')
check "big.bin was uploaded in parts: $etag" grep -qE '^"[0-9a-f]{32}-6"$' <<<"$etag"
check "copy the tree down" it_rclone copy "alice:$B/tree" "$W/down"
for f in big.bin "sub dir/with space+plus%pct.txt" "sub dir/ünï/日本🙂" empty; do
	check_eq "bytes of '$f'" "$(it_sha256 "$W/up/$f")" "$(it_sha256 "$W/down/$f" 2>/dev/null)"
done
check "rclone check (sizes and hashes) up vs remote" it_rclone check "$W/up" "alice:$B/tree"
listed=$(it_rclone lsf -R --files-only "alice:$B/tree" 2>&1 | LC_ALL=C sort)
expected=$(cd "$W/up" && find . -type f | sed 's|^\./||' | LC_ALL=C sort)
check_eq "lsf -R lists every file" "$expected" "$listed"

it_rclone cat --offset 1048570 --count 100 "alice:$B/tree/big.bin" >"$W/part" 2>"$W/part.err"
check_eq "ranged cat bytes" "$(tail -c +1048571 "$W/up/big.bin" | head -c 100 | sha256sum | cut -d' ' -f1)" "$(it_sha256 "$W/part")"
it_rclone cat --tail 77 "alice:$B/tree/big.bin" >"$W/tail" 2>/dev/null
check_eq "cat --tail bytes" "$(tail -c 77 "$W/up/big.bin" | sha256sum | cut -d' ' -f1)" "$(it_sha256 "$W/tail")"

check "copyto single file down" it_rclone copyto "alice:$B/tree/sub dir/with space+plus%pct.txt" "$W/one"
check_eq "copyto bytes" "$(it_sha256 "$W/up/sub dir/with space+plus%pct.txt")" "$(it_sha256 "$W/one" 2>/dev/null)"

check_fails_with "wrong secret -> SignatureDoesNotMatch" SignatureDoesNotMatch it_rclone lsf "wrongsecret:$B"
check_fails_with "unknown access key -> InvalidAccessKeyId" InvalidAccessKeyId it_rclone lsf "unknown:$B"
check_fails_with "bob lists alice's bucket -> AccessDenied" AccessDenied it_rclone lsf "bob:$B"
check_fails_with "bob copies alice's object -> 403" 403 it_rclone copyto "bob:$B/tree/big.bin" "$W/bob"
[ -e "$W/bob" ] && it_fail "bob's failed copy left a file" || it_pass "bob's failed copy left no file"

check "delete the tree" it_rclone delete "alice:$B/tree"
check_eq "nothing left after delete" "" "$(it_rclone lsf -R "alice:$B" 2>&1)"
check "rmdir the bucket" it_rclone rmdir "alice:$B"
it_finish
