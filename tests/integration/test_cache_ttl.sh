#!/usr/bin/env bash
# test_cache_ttl.sh - metadata_ttl, the documented relaxation: with --metadata-ttl 8s a
# hit may be served without asking the upstream for up to 8 s after the upstream last
# said 200 to that access key for that object. Shown here as it is: an overwrite made at
# the upstream directly is not seen through lotad inside the window and is seen after it;
# the relaxation never crosses keys (bob is still asked about, and refused) and never
# applies to conditional requests. Without the flag (the default) the same overwrite is
# seen at once (test_cache_behaviour.sh).
. "$(dirname "$0")/lib.sh"
it_require_rgw
[ "${LOTA_TEST_DIRECT:-}" = 1 ] && it_skip "tests lotad's cache (LOTA_TEST_DIRECT=1)"
LOTA_TEST_LOTAD_ARGS="${LOTA_TEST_LOTAD_ARGS:-} --cache-dir $IT_DIR/cache:2GiB --min-object-size 1MiB --extent-size 4MiB --metadata-ttl 8s"
it_setup

W=$IT_DIR/work
mkdir -p "$W"
B=lota-ttl
E=$S3_ENDPOINT
status() {
	local p=$1
	shift
	rm -f "$W/body" "$W/hdr"
	it_curl "$p" -o "$W/body" -D "$W/hdr" -w '%{http_code}' "$@"
}
hdr() { tr -d '\r' <"$W/hdr" | sed -n "s/^$1: //Ip" | tail -n 1; }

check_eq "create bucket" 200 "$(status alice -X PUT "$E/$B")"
it_random_file "$W/v1" $((6 * 1024 * 1024 + 5))
it_random_file "$W/v2" $((6 * 1024 * 1024 + 5))
# (hashed before the window opens: the checks inside it must fit in the TTL, so it is 8 s,
# well beyond what they take on a loaded machine)
V1=$(it_sha256 "$W/v1") V2=$(it_sha256 "$W/v2")
check_eq "put v1" 200 "$(status alice -T "$W/v1" "$E/$B/obj")"
check_eq "first GET -> 200" 200 "$(status alice "$E/$B/obj")"
check_eq "first GET was a miss" miss "$(hdr x-lota-cache)"
check_eq "first GET bytes" "$V1" "$(it_sha256 "$W/body")"
it_wait_for 20 sh -c "curl -s http://127.0.0.1:$IT_LOTAD_ADMIN_PORT/metrics | grep -q '^lota_cache_fills_in_progress 0'"
# overwrite at radosgw directly (lotad does not see this write)
check_eq "overwrite at the upstream directly" 200 "$(status alice -T "$W/v2" "$RGW_ENDPOINT/$B/obj")"
check_eq "GET inside the window -> 200" 200 "$(status alice "$E/$B/obj")"
check_eq "inside the window: a hit" hit "$(hdr x-lota-cache)"
check_eq "inside the window: the old bytes (the documented relaxation)" "$V1" "$(it_sha256 "$W/body")"
check_eq "a conditional GET still asks the upstream: If-Match old ETag -> 412" 412 \
	"$(status alice -H "If-Match: $(tr -d '\r' <"$W/hdr" | sed -n 's/^etag: //Ip')" "$E/$B/obj")"
check_eq "bob inside alice's window is still asked about -> 403" 403 "$(status bob "$E/$B/obj")"
check "bob's 403 carries none of the object" sh -c "! cmp -s '$W/body' '$W/v1' && [ \$(stat -c %s '$W/body') -lt 4096 ]"
# The end of the window is no event inside lotad: the next request finds the grant too
# old and asks the upstream again. So GET until an answer is not a hit (at most 60 s,
# far beyond the TTL), instead of sleeping for the TTL: until then each is a hit of the
# old bytes (still the window); the first one after it asks the upstream, sees the new
# ETag and is a miss with the new bytes.
deadline=$((SECONDS + 60)) in_window=0 wrong=0
while :; do
	st=$(status alice "$E/$B/obj")
	if [ "$st" != 200 ] || [ "$(hdr x-lota-cache)" != hit ]; then
		break
	fi
	in_window=$((in_window + 1))
	[ "$(it_sha256 "$W/body")" = "$V1" ] || wrong=$((wrong + 1))
	[ $SECONDS -lt $deadline ] || break
	sleep 0.2 # between polls of a deadline
done
check_eq "every hit until the window ended had the old bytes ($in_window hits)" 0 "$wrong"
check_eq "GET after the window -> 200" 200 "$st"
check_eq "after the window: the new bytes" "$V2" "$(it_sha256 "$W/body")"
check_eq "after the window: a miss (a new ETag is a new cache key)" miss "$(hdr x-lota-cache)"
it_finish
