#!/usr/bin/env bash
# test_client_cluster.sh - liblota's view of a running cluster (lota_client_cluster,
# lota_client_owner) through `lota owner s3://...`, `lota cluster` and the locality-aware
# example, against three lotads on 127.0.0.1 in front of one radosgw (started as
# test_cluster_loopback.sh starts them; no root).
#
# - the owner the library names for each extent of an object is the node whose store
#   holds it after a read through node a (owner()'s HEAD pre-stages nothing): each
#   node's lota_cache_bytes grows by the bytes of the extents it was named for (plus
#   a few KiB of headers; nothing for the others); every
#   node's admin endpoint names the same owners, and the offline `lota owner --node`
#   ranking agrees.
# - `lota cluster` lists every member with its state, cache use and hit rate (each node's
#   /metrics); after a SIGKILL the dead member shows down, its admin URL is named on
#   stderr (exit 1), and owner() never names it.
# - every node's /cluster names each member's admin address (the port it listens on), and
#   `lota cluster` given one admin URL (or --admin-url) reports every node's counters
#   through them; with a member dead it says that member's admin endpoint does not answer.
# - example_locality reads first exactly the objects whose extent the node it asks owns.
# shellcheck source=lib.sh disable=SC2317 # (helpers run through check)
. "$(dirname "$0")/lib.sh"
[ "${LOTA_TEST_DIRECT:-0}" = 1 ] && it_skip "lotad-specific test (LOTA_TEST_DIRECT=1)"
it_require_rgw
it_require_cmd curl
build=${LOTA_BUILD_DIR:-$IT_LIB_DIR/../../build}
LOTA=$build/tools/lota
[ -x "$LOTA" ] || it_die "lota is not built ($LOTA)"
MiB=$((1024 * 1024))
EXT=16MiB
SECRET=$IT_DIR/cluster.secret
head -c 32 /dev/urandom >"$SECRET"
chmod 600 "$SECRET"

read -r PA PB PC <<<"$(it_free_ports)"
read -r LB AB LC <<<"$(it_free_ports)"
read -r AC _ _ <<<"$(it_free_ports)"
CL=(--peer "a=127.0.0.1:$PA" --peer "b=127.0.0.1:$PB" --peer "c=127.0.0.1:$PC"
	--cluster-secret-file "$SECRET" --peer-timeout 2s --extent-size "$EXT"
	--min-object-size 1MiB --workers 2)
IT_LOTAD_ARGS=(--node-id a --peer-listen "127.0.0.1:$PA" --cache-dir "$IT_DIR/cache-a:1GiB"
	"${CL[@]}")
it_setup

declare -A LPORT=([a]=$IT_LOTAD_PORT [b]=$LB [c]=$LC)
declare -A APORT=([a]=$IT_LOTAD_ADMIN_PORT [b]=$AB [c]=$AC)
declare -A PPORT=([a]=$PA [b]=$PB [c]=$PC)
declare -A PID=()
admin() { echo "http://127.0.0.1:${APORT[$1]}"; }
s3ep() { echo "http://127.0.0.1:${LPORT[$1]}"; }

start_node() {
	local id=$1 bin
	bin=$(it_lotad_bin)
	"$bin" --listen "127.0.0.1:${LPORT[$id]}" --upstream "http://127.0.0.1:$RGW_PORT" \
		--credentials "$IT_CREDENTIALS" --admin-listen "127.0.0.1:${APORT[$id]}" \
		--endpoint-name localhost --node-id "$id" --peer-listen "127.0.0.1:${PPORT[$id]}" \
		--cache-dir "$IT_DIR/cache-$id:1GiB" "${CL[@]}" \
		>>"$IT_DIR/lotad-$id.log" 2>&1 </dev/null &
	PID[$id]=$!
	it_wait_for 20 curl -sf -m 2 -o /dev/null "$(admin "$id")/healthz" ||
		it_die "lotad $id did not start (see $IT_DIR/lotad-$id.log)"
}
stop_nodes() {
	local id
	for id in b c; do
		[ -n "${PID[$id]:-}" ] || continue
		kill -TERM "${PID[$id]}" 2>/dev/null
		wait "${PID[$id]}" 2>/dev/null
	done
	return 0
}
it_at_exit stop_nodes
start_node b
start_node c

export AWS_SHARED_CREDENTIALS_FILE=$IT_DIR/clients/aws-credentials
export AWS_CONFIG_FILE=$IT_DIR/clients/aws-config
# L NODE ARGS... : the lota tool as alice against NODE's S3 and admin endpoints
L() {
	local n=$1
	shift
	timeout 120 "$LOTA" "$@" --endpoint-url "$(s3ep "$n")" --admin-url "$(admin "$n")" \
		--profile alice --extent-size "$EXT"
}
# metric NODE NAME: the sum of every series of NAME (0 when absent)
metric() {
	curl -sf -m 5 "$(admin "$1")/metrics" |
		awk -v s="$2" '{ n = $1; sub(/\{.*/, "", n) } n == s { v += $2 } END { print v + 0 }'
}
all_up() {
	local n
	for n in a b c; do
		[ "$(metric "$n" lota_cluster_members_up)" = 3 ] || return 1
	done
}
check "a, b and c see three members up" it_wait_for 30 all_up
idle() {
	local n
	for n in a b c; do
		[ "$(metric "$n" lota_cache_fills_in_progress)" = 0 ] || return 1
	done
}

W=$IT_DIR/work
mkdir -p "$W"
B=lota-client-cluster
check "create bucket" it_aws alice s3api create-bucket --bucket "$B"

# --- the owner of each extent is the node whose store fills with it
SIZE=$((40 * MiB))
it_random_file "$W/x" "$SIZE"
check "upload x (3 extents) through a" L a cp "$W/x" "s3://$B/x.bin"
ETAG="\"$(md5sum "$W/x" | cut -d' ' -f1)\""
declare -A USED0=() BYP0=()
for n in a b c; do
	USED0[$n]=$(metric "$n" lota_cache_bytes)
	BYP0[$n]=$(metric "$n" lota_cache_bypass_total)
done
declare -A OWN=([a]=0 [b]=0 [c]=0)
for off in 0 $((16 * MiB)) $((32 * MiB)); do
	out=$(L a owner "s3://$B/x.bin" --offset "$off")
	check_eq "lota owner (via a) exits 0 for offset $off" 0 $?
	o=$(echo "$out" | awk '$3 == "owner" { print $4 }')
	check_contains "... names a member ($out)" "$o" "a b c"
	check_eq "... node b's admin endpoint names the same owner" "$o" \
		"$(L b owner "s3://$B/x.bin" --offset "$off" | awk '{ print $4 }')"
	check_eq "... without --extent-size (the size /cluster states) the same owner" "$o" \
		"$(timeout 60 "$LOTA" owner "s3://$B/x.bin" --offset "$off" --endpoint-url "$(s3ep c)" \
			--admin-url "$(admin c)" --profile alice | awk '$3 == "owner" { print $4 }')"
	off_rank=$("$LOTA" owner --node a --node b --node c --bucket "$B" --key x.bin \
		--etag "$ETAG" --size "$SIZE" --extent-size "$EXT" --offset "$off" | sed -n '2s/^1 //p')
	check_eq "... the offline ranking agrees (equal capacities)" "$o" "$off_rank"
	len=$((16 * MiB))
	[ "$off" = $((32 * MiB)) ] && len=$((8 * MiB))
	OWN[$o]=$((OWN[$o] + len))
done
# owner() asks with Cache-Control: no-store: lotad passes each HEAD on (counted as a
# bypass) instead of taking it as a request to pre-stage the object
for n in a b; do
	check_eq "owner()'s 3 HEADs through $n passed on, nothing pre-staged" 3 \
		$(($(metric "$n" lota_cache_bypass_total) - BYP0[$n]))
done
check_fails_with "an offset beyond the object is refused" "beyond the object" \
	L a owner "s3://$B/x.bin" --offset "$SIZE"
check_fails_with "a missing key is NotFound" "NotFound" L a owner "s3://$B/nope"
check "read x through node a" L a cp "s3://$B/x.bin" "$W/x1"
check_eq "... bytes exact" "$(it_sha256 "$W/x")" "$(it_sha256 "$W/x1")"
check "fills finish" it_wait_for 30 idle
for n in a b c; do
	grew=$(($(metric "$n" lota_cache_bytes) - USED0[$n]))
	# (the store adds a few KiB of headers per extent; the smallest extent is 8 MiB)
	check "node $n's store grew by the ${OWN[$n]} bytes of extents owner() named for it ($grew)" \
		test "$grew" -ge "${OWN[$n]}" -a "$grew" -lt $((OWN[$n] + MiB))
done

# --- lota cluster: every member, state, cache use, hit rate
check "read x again through a (hits)" L a cp "s3://$B/x.bin" "$W/x2"
out=$(timeout 60 "$LOTA" cluster "$(admin a)" "$(admin b)" "$(admin c)")
check_eq "lota cluster with every node's admin URL exits 0" 0 $?
for n in a b c; do
	row=$(echo "$out" | awk -v n="$n" '$1 == n')
	check_contains "member $n listed up" " up " "$row"
	check_contains "... with its address" "127.0.0.1:${PPORT[$n]}" "$row"
	check_contains "... with its cache use of 1 GiB" "/1.0 GiB" "$row"
done
rate=$(echo "$out" | awk '$1 == "a" { print ($NF == "(answered)" ? $(NF - 1) : $NF) }')
hits=$(metric a lota_cache_hits_total) misses=$(metric a lota_cache_misses_total)
want=$(awk -v h="$hits" -v m="$misses" 'BEGIN { printf "%.1f%%", 100 * h / (h + m) }')
check_eq "node a's hit rate from its /metrics" "$want" "$rate"
check_contains "per-node counters" "$(admin b): hits" "$out"

# --- each member's admin address: every node's /cluster names it (the port it listens
# on), so that lota cluster given ONE admin URL reports every node's counters
for n in a b c; do
	got=$(curl -sf -m 5 "$(admin "$n")/cluster" | /usr/bin/python3 -c '
import json, sys
print(" ".join("%s=%s" % (m["id"], m.get("admin")) for m in json.load(sys.stdin)["members"]))')
	check_eq "$n's /cluster names every member's admin address" \
		"a=127.0.0.1:${APORT[a]} b=127.0.0.1:${APORT[b]} c=127.0.0.1:${APORT[c]}" "$got"
done
out=$(timeout 60 "$LOTA" cluster "$(admin b)")
check_eq "lota cluster with b's admin URL alone exits 0" 0 $?
for n in a b c; do
	check_contains "... reports $n's counters" "$(admin "$n"): hits" "$out"
done
rate=$(echo "$out" | awk '$1 == "a" { print $NF }')
check_eq "... node a's hit rate from its /metrics" "$want" "$rate"
check_eq "... and no member without one" "" "$(echo "$out" | grep 'hit rate unknown')"
out=$(L c cluster)
check_contains "lota cluster with --admin-url alone reports a's counters" "$(admin a): hits" "$out"

# --- the locality-aware example reads what its node owns first
declare -A LOCAL=()
for i in 1 2 3 4 5 6; do
	it_random_file "$W/s$i" $((2 * MiB))
	check "upload loc/s$i" L a cp --quiet "$W/s$i" "s3://$B/loc/s$i"
	LOCAL[loc/s$i]=$(L a owner "s3://$B/loc/s$i" | awk '{ print $4 }')
done
for n in a b; do
	out=$(LOTA_ENDPOINT=$(s3ep "$n") LOTA_ADMIN_URL=$(admin "$n") AWS_PROFILE=alice \
		timeout 60 "$build/examples/example_locality" "$B" loc/)
	check_eq "example_locality through $n exits 0" 0 $?
	want="" got=""
	for i in 1 2 3 4 5 6; do
		[ "${LOCAL[loc/s$i]}" = "$n" ] && want="$want loc/s$i"
	done
	got=$(echo "$out" | awk '$1 == "local" { printf " %s", $2 }')
	check_eq "... reads as local exactly the objects $n owns" "$want" "$got"
	check_eq "... reads all 6" 6 "$(echo "$out" | grep -cE '^(local|remote) ')"
	check "... local ones first" bash -c "echo '$out' | awk '\$1 == \"remote\" { r = 1 } \$1 == \"local\" && r { exit 1 }'"
done

# --- a killed member shows down, and is never named owner
kill -KILL "${PID[c]}"
wait "${PID[c]}" 2>/dev/null
PID[c]=
c_down() { L a cluster 2>/dev/null | awk '$1 == "c" { print $3 }' | grep -qx down; }
check "lota cluster shows c down after a SIGKILL" it_wait_for 30 c_down
out=$(timeout 60 "$LOTA" cluster "$(admin a)" "$(admin b)" "$(admin c)" 2>"$W/err")
check_eq "lota cluster exits 1 when a node's admin endpoint does not answer" 1 $?
check_contains "... naming it" "$(admin c)" "$(cat "$W/err")"
check_contains "... still listing a up" "up" "$(echo "$out" | awk '$1 == "a"')"
check_contains "... and c down" "down" "$(echo "$out" | awk '$1 == "c"')"
out=$(timeout 60 "$LOTA" cluster "$(admin a)")
check_eq "lota cluster with a's admin URL alone exits 0 with c down" 0 $?
check_contains "... says c's admin endpoint does not answer" \
	"c: hit rate unknown: its admin endpoint $(admin c) does not answer" "$out"
check_contains "... still reports b's counters" "$(admin b): hits" "$out"
for off in 0 $((16 * MiB)) $((32 * MiB)); do
	o=$(L a owner "s3://$B/x.bin" --offset "$off" | awk '{ print $4 }')
	want=$("$LOTA" owner --node a --node b --bucket "$B" --key x.bin --etag "$ETAG" \
		--size "$SIZE" --extent-size "$EXT" --offset "$off" | sed -n '2s/^1 //p')
	check_eq "offset $off: with c down the owner is the ranking of a and b" "$want" "$o"
done

it_finish
