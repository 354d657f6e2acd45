#!/usr/bin/env bash
# test_cluster_loopback.sh - three lotads on 127.0.0.1 (different ports) as one cluster in
# front of one radosgw: the peer protocol, placement and failover without namespaces.
#
# - membership: every node's GET /cluster lists the three members up; a bad secret file
#   (world-readable, too short) is refused at start with the key and the reason.
# - one fill per extent cluster-wide: an object of 4 extents read through node a (cold)
#   while c is not running yet, then c joins and the object is read through b (boto3)
#   and c (awscli), byte-exact by sha256 on every node; the upstream fills of all nodes
#   (their own and those made for a member with its fill ticket) add up to 4, the
#   extents c now owns were taken from the previous owner (the next candidate), and the
#   nodes that did not own an extent got it from its owner (bytes served by "peer").
# - labels and sources: a range read through b of an extent another member holds is
#   x-lota-cache: peer and counted as lota_bytes_served_total{source="peer"} to the byte; a
#   cold single-extent object read through a node that does not own it is a miss counted
#   as "upstream" (the owner filled it), and its second read there is peer.
# - failover to the next candidate: c, owner of an extent of x whose previous owner b still
#   holds it, is killed with SIGKILL while it streams that extent to a slow reader through
#   a (4 MB/s, a range across the extent, so that the socket buffers cannot hold what is
#   left of it): the read completes byte-exact with no upstream fill and no upstream
#   byte for the rest (b gave it), then c restarts and rejoins.
# - a front node without a cache dir (f, a member that owns nothing) reads x from the
#   owners: byte-exact, x-lota-cache: peer, no upstream fill, no byte from the upstream.
# - a short range far into an extent (beyond the 16 MiB a fill may lag; a single node sends
#   it straight to the upstream) that another member holds is served by that member: two
#   more nodes, g and h, in a cluster of their own with 32 MiB extents.
# - a HEAD through b pre-stages an object's 2 extents where they belong (2 fills), and a
#   GET through c then needs no other upstream fill.
# - authorization stays the upstream's: bob and anonymous get 403 on every node for
#   alice's cached object.
# - the peer port (a hand-written signer, clients/peer_sign.py): no peer headers, a wrong
#   HMAC, another secret, stale, future, replayed, an unknown node id, a tampered range
#   are all 403 with no body byte; a signed request of a member for an extent range gets
#   exactly those bytes from its owner.
# - failover: a slow read through node a (a range across an extent another node owns);
#   the owner is killed with SIGKILL while it streams; the read completes byte-exact, with
#   no error; /cluster shows the dead node down, then up after it restarts; the same
#   with an owner that stalls (SIGSTOP) for longer than --peer-timeout.
# shellcheck source=lib.sh disable=SC2317 # (helpers run through check)
. "$(dirname "$0")/lib.sh"
[ "${LOTA_TEST_DIRECT:-0}" = 1 ] && it_skip "lotad-specific test (LOTA_TEST_DIRECT=1)"
it_require_rgw
it_require_cmd curl md5sum /usr/bin/aws

LOTA=${LOTA_BUILD_DIR:-$IT_LIB_DIR/../../build}/tools/lota
MiB=$((1024 * 1024))
EXT=16MiB
SECRET=$IT_DIR/cluster.secret
head -c 32 /dev/urandom >"$SECRET"
chmod 600 "$SECRET"

read -r PA PB PC <<<"$(it_free_ports)"
read -r LB AB LC <<<"$(it_free_ports)"
read -r AC PF LF <<<"$(it_free_ports)"
read -r AF _ _ <<<"$(it_free_ports)"
CL=(--peer "a=127.0.0.1:$PA" --peer "b=127.0.0.1:$PB" --peer "c=127.0.0.1:$PC" --peer "f=127.0.0.1:$PF"
	--cluster-secret-file "$SECRET" --peer-timeout 2s --extent-size "$EXT"
	--min-object-size 1MiB --workers 2)
# a: the front node of the slow reads an owner is killed under. Its client socket's
# send buffer is kept small, so that what the owner has sent and the reader has not read
# yet stays well below an extent (with the default 4 MiB, which the kernel doubles, and
# the receive buffers in between, an owner can send a whole 16 MiB extent before it is
# killed, and nothing fails over).
IT_LOTAD_ARGS=(--node-id a --peer-listen "127.0.0.1:$PA" --cache-dir "$IT_DIR/cache-a:1GiB"
	--client-send-buffer 64KiB "${CL[@]}")
it_setup

declare -A LPORT=([a]=$IT_LOTAD_PORT [b]=$LB [c]=$LC [f]=$LF)
declare -A APORT=([a]=$IT_LOTAD_ADMIN_PORT [b]=$AB [c]=$AC [f]=$AF)
declare -A PPORT=([a]=$PA [b]=$PB [c]=$PC [f]=$PF)
declare -A PID=()

# start_node ID: lotad for member ID (b or c; f: a front node without a cache dir, with
# an access log in JSON), in the background; waits for /healthz.
start_node() {
	local id=$1 bin cache=(--cache-dir "$IT_DIR/cache-$1:1GiB")
	bin=$(it_lotad_bin)
	[ "$id" = f ] && cache=(--access-log --log-format json)
	"$bin" --listen "127.0.0.1:${LPORT[$id]}" --upstream "http://127.0.0.1:$RGW_PORT" \
		--credentials "$IT_CREDENTIALS" --admin-listen "127.0.0.1:${APORT[$id]}" \
		--endpoint-name localhost --node-id "$id" --peer-listen "127.0.0.1:${PPORT[$id]}" \
		"${cache[@]}" "${CL[@]}" \
		>>"$IT_DIR/lotad-$id.log" 2>&1 </dev/null &
	PID[$id]=$!
	it_wait_for 20 curl -sf -m 2 -o /dev/null "http://127.0.0.1:${APORT[$id]}/healthz" ||
		it_die "lotad $id did not start (see $IT_DIR/lotad-$id.log)"
}
stop_nodes() {
	local id
	for id in b c f; do
		[ -n "${PID[$id]:-}" ] || continue
		kill -CONT "${PID[$id]}" 2>/dev/null
		kill -TERM "${PID[$id]}" 2>/dev/null
		wait "${PID[$id]}" 2>/dev/null
	done
	return 0
}
it_at_exit stop_nodes
start_node b

# metric NODE SERIES (0 when absent)
metric() {
	curl -sf -m 5 "http://127.0.0.1:${APORT[$1]}/metrics" |
		awk -v s="$2" '$1 == s { v = $2 } END { print (v == "" ? 0 : v) }'
}
# state NODE MEMBER: the member's state in NODE's GET /cluster
state() {
	curl -sf -m 5 "http://127.0.0.1:${APORT[$1]}/cluster" | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
print([m["state"] for m in d["members"] if m["id"] == sys.argv[1]][0])' "$2"
}
all_up() {
	local n m
	for n in a b c; do
		for m in a b c; do
			[ "$(state "$n" "$m")" = up ] || return 1
		done
	done
}
ab_up() { [ "$(state a b)" = up ] && [ "$(state b a)" = up ] && [ "$(state a c)" = down ]; }
check "a and b see each other up, c (not started) down" it_wait_for 20 ab_up
J=$(curl -sf "http://127.0.0.1:${APORT[b]}/cluster")
check_contains "GET /cluster names this node" '"node":"b"' "$J"
check_contains "GET /cluster has the shared fields" '"self":true' "$J"

# --- the secret file is checked at start
chmod 644 "$SECRET"
out=$("$(it_lotad_bin)" --upstream "http://127.0.0.1:$RGW_PORT" --node-id a \
	--peer-listen 127.0.0.1:1 --peer a=127.0.0.1:1 --cluster-secret-file "$SECRET" 2>&1)
check_eq "a world-readable secret is refused (exit 2)" 2 $?
check_contains "... naming the key and the mode" 'config key "cluster_secret_file"' "$out"
check_contains "... and the fix" "must be 0600" "$out"
chmod 600 "$SECRET"
head -c 16 /dev/urandom >"$IT_DIR/short.secret"
chmod 600 "$IT_DIR/short.secret"
out=$("$(it_lotad_bin)" --upstream "http://127.0.0.1:$RGW_PORT" --node-id a \
	--peer-listen 127.0.0.1:1 --peer a=127.0.0.1:1 --cluster-secret-file "$IT_DIR/short.secret" 2>&1)
check_contains "a 16-byte secret is refused" "16 bytes; the cluster secret must hold 32" "$out"

# --- one object, four extents, read through every node
W=$IT_DIR/work
mkdir -p "$W"
B=lota-cluster
url() { echo "http://127.0.0.1:${LPORT[$1]}/$B/$2"; }
check_eq "create bucket" 200 "$(it_curl alice -s -o /dev/null -w '%{http_code}' -X PUT "$(url a "")")"
# rank3 FILE KEY SIZE OFFSET [RANK]: the member at RANK (1: the owner) in the ranking of
# the extent at OFFSET among a, b and c
rank3() {
	"$LOTA" owner --node a --node b --node c --bucket "$B" --key "$2" \
		--etag "\"$(md5sum "$1" | cut -d' ' -f1)\"" --size "$3" --extent-size "$EXT" \
		--offset "$4" | sed -n "$((${5:-1} + 1))s/^${5:-1} //p"
}
owner3() { rank3 "$@" 1; }
# An object of which c (joining later) owns an extent after the first whose next
# candidate is b (b owns it until c joins, and still holds it after), with a full extent
# b never holds (its ranking has a before b).
for try in $(seq 1 40); do
	it_random_file "$W/x" $((48 * MiB + 5))
	c_owns=0 cb_off= nb_off=
	for off in 0 $((16 * MiB)) $((32 * MiB)) $((48 * MiB)); do
		r=$(for i in 1 2 3; do rank3 "$W/x" x.bin $((48 * MiB + 5)) "$off" "$i"; done | tr -d '\n')
		case $r in c*) c_owns=$((c_owns + 1)) ;; esac
		[ "$off" -gt 0 ] && [ "$off" -lt $((48 * MiB)) ] && [ "$r" = cba ] && cb_off=$off
		[ "$off" -lt $((48 * MiB)) ] && case $r in a* | ca*) nb_off=$off ;; esac
	done
	[ -n "$cb_off" ] && [ -n "$nb_off" ] && break
done
[ -n "$cb_off" ] && [ -n "$nb_off" ] || it_die "no suitable layout of x in $try tries"
SHA_X=$(it_sha256 "$W/x")
check_eq "upload through node a" 200 \
	"$(it_curl alice -s -o /dev/null -w '%{http_code}' -T "$W/x" "$(url a x.bin)")"
ETAG_X="\"$(md5sum "$W/x" | cut -d' ' -f1)\""

# node_fills NODE: the fills NODE made from the upstream: every fill it started (its own
# and those it ran as an owner for a member) but those a member gave it
node_fills() {
	echo $(($(metric "$1" 'lota_cache_fills_total{result="started"}') - $(metric "$1" 'lota_peer_fills_total{source="peer"}')))
}
fills() { # the upstream fills of every node
	echo $(($(node_fills a) + $(node_fills b) + $(node_fills c)))
}
fills_ab() { # those of a and b (when c is dead)
	echo $(($(node_fills a) + $(node_fills b)))
}
idle() {
	local n
	for n in a b c; do
		[ "$(metric "$n" lota_cache_fills_in_progress)" = 0 ] || return 1
	done
}
it_curl alice -o "$W/xa" "$(url a x.bin)"
check_eq "node a (curl, cold): bytes exact" "$SHA_X" "$(it_sha256 "$W/xa")"
check "fills finish" it_wait_for 30 idle
check_eq "4 extents, 4 fills with a and b" 4 "$(fills)"
start_node c
check "c joins: every node's /cluster lists a, b and c up" it_wait_for 20 all_up
check_eq "lota_cluster_members_up on a" 3 "$(metric a lota_cluster_members_up)"
S3_ENDPOINT=http://127.0.0.1:${LPORT[b]} S3_PORT=${LPORT[b]} it_python "$IT_CLIENTS_DIR/cache_boto3.py" \
	get "$B" x.bin "$W/xb" >/dev/null
check_eq "node b (boto3): bytes exact" "$SHA_X" "$(it_sha256 "$W/xb")"
S3_ENDPOINT=http://127.0.0.1:${LPORT[c]} it_aws alice s3 cp "s3://$B/x.bin" "$W/xc" >/dev/null
check_eq "node c (awscli): bytes exact" "$SHA_X" "$(it_sha256 "$W/xc")"
check "fills finish" it_wait_for 30 idle
check_eq "4 extents, still 4 upstream fills in the whole cluster" 4 "$(fills)"
check_eq "c took its $c_owns extent(s) from the previous owner" "$c_owns" \
	"$(metric c 'lota_peer_fills_total{source="peer"}')"
peer_b=$(metric b 'lota_bytes_served_total{source="peer"}')
peer_c=$(metric c 'lota_bytes_served_total{source="peer"}')
check "nodes b and c got extents from their owners ($peer_b, $peer_c peer bytes)" \
	test $((peer_b + peer_c)) -gt 0
check "fills avoided by a peer are counted" \
	test $(($(metric b lota_cache_fills_avoided_total) + $(metric c lota_cache_fills_avoided_total))) -gt 0

# --- x-lota-cache: peer for bytes that came warm from a member, counted as "peer"
off=$nb_off
sp=$(metric b 'lota_bytes_served_total{source="peer"}')
su=$(metric b 'lota_bytes_served_total{source="upstream"}')
ph=$(metric b lota_cache_peer_hits_total)
it_curl alice -s -D "$W/h.peer" -o "$W/xr" -r "$((off + 1000))-$((off + 1000 + MiB - 1))" "$(url b x.bin)"
check_contains "a range of a warm extent another member owns: x-lota-cache: peer" \
	"x-lota-cache: peer" "$(tr -d '\r' <"$W/h.peer")"
check_eq "... bytes exact" "$(tail -c +$((off + 1001)) "$W/x" | head -c "$MiB" | sha256sum | cut -d' ' -f1)" \
	"$(it_sha256 "$W/xr")"
check_eq "... counted as source=peer to the byte" $((sp + MiB)) \
	"$(metric b 'lota_bytes_served_total{source="peer"}')"
check_eq "... no byte counted as source=upstream" "$su" \
	"$(metric b 'lota_bytes_served_total{source="upstream"}')"
check_eq "... lota_cache_peer_hits_total counts it" $((ph + 1)) "$(metric b lota_cache_peer_hits_total)"
# a cold single-extent object through a node that does not own it: miss, "upstream"
for try in $(seq 1 10); do
	it_random_file "$W/s" $((3 * MiB))
	so=$(owner3 "$W/s" s.bin $((3 * MiB)) 0)
	[ "$so" != a ] && break
done
check_eq "upload s" 200 "$(it_curl alice -s -o /dev/null -w '%{http_code}' -T "$W/s" "$(url a s.bin)")"
sp=$(metric a 'lota_bytes_served_total{source="peer"}')
su=$(metric a 'lota_bytes_served_total{source="upstream"}')
it_curl alice -s -D "$W/h.s1" -o "$W/s1" "$(url a s.bin)"
check_contains "s cold through a (owner $so): x-lota-cache: miss" "x-lota-cache: miss" \
	"$(tr -d '\r' <"$W/h.s1")"
check_eq "... bytes exact" "$(it_sha256 "$W/s")" "$(it_sha256 "$W/s1")"
check_eq "... counted as source=upstream (the owner filled it)" $((su + 3 * MiB)) \
	"$(metric a 'lota_bytes_served_total{source="upstream"}')"
check_eq "... and not as peer" "$sp" "$(metric a 'lota_bytes_served_total{source="peer"}')"
check "fills finish" it_wait_for 30 idle
it_curl alice -s -D "$W/h.s2" -o "$W/s2" "$(url a s.bin)"
check_contains "s again through a: x-lota-cache: peer" "x-lota-cache: peer" "$(tr -d '\r' <"$W/h.s2")"
check_eq "... bytes exact" "$(it_sha256 "$W/s")" "$(it_sha256 "$W/s2")"
check_eq "... counted as source=peer" $((sp + 3 * MiB)) "$(metric a 'lota_bytes_served_total{source="peer"}')"

# --- the owner of an extent killed mid-stream: the rest from the next candidate (b holds
# it), not from the upstream
# slow_read VICTIM URL RANGE OUT: a slow reader (4 MB/s) of RANGE of URL into OUT, in the
# background (its PID in $reader); waits until VICTIM streams to it (more than the first
# byte a read-ahead asks for). True when VICTIM is then still in the middle of its
# extent: the socket buffers between an owner and the reader take several MiB, on some
# machines most of an extent, and an owner that has sent all of it can no longer fail
# mid-stream. False when it has (the read is left to finish: try again).
slow_read() {
	local v=$1 in0 now=0 i
	in0=$(metric "$v" 'lota_peer_bytes_total{direction="in"}')
	it_curl alice --limit-rate 4M -r "$3" -o "$4" -w '%{http_code}' "$2" >"$4.status" 2>"$4.err" &
	reader=$!
	for ((i = 0; i < 300; i++)); do
		now=$(metric "$v" 'lota_peer_bytes_total{direction="in"}')
		[ "$now" -gt $((in0 + 2 * MiB)) ] && break
		sleep 0.1
	done
	it_log "$v has sent $((now - in0)) bytes of the read"
	[ "$now" -gt $((in0 + 2 * MiB)) ] && [ "$now" -lt $((in0 + 12 * MiB)) ]
}
# mid_read VICTIM URL RANGE OUT: slow_read until VICTIM is caught mid-extent, at most 4
# tries (a try it outran is read to the end: a plain warm read, which moves none of the
# counters the failover checks compare).
mid_read() {
	local try
	for try in 1 2 3 4; do
		slow_read "$@" && return 0
		wait "$reader"
	done
	it_fail "owner $1 streams to node a, mid-extent (4 tries)"
}
# The read: from 2 MiB before c's extent to its end.
rng=$((cb_off - 2 * MiB))-$((cb_off + 16 * MiB - 1))
f0=$(fills_ab)
su=$(metric a 'lota_bytes_served_total{source="upstream"}')
dr=$(metric a lota_cache_direct_reads_total)
fo0=$(metric a lota_cache_peer_failovers_total)
mid_read c "$(url a x.bin)" "$rng" "$W/x2"
kill -KILL "${PID[c]}"
wait "${PID[c]}" 2>/dev/null
PID[c]=
wait "$reader"
check_eq "the read through a completes without error" "0 206" "$? $(cat "$W/x2.status")"
check_eq "... byte-exact" "$(tail -c +$((cb_off - 2 * MiB + 1)) "$W/x" | head -c $((18 * MiB)) | sha256sum | cut -d' ' -f1)" \
	"$(it_sha256 "$W/x2")"
check "... a failover counted" test "$(metric a lota_cache_peer_failovers_total)" -gt "$fo0"
check_eq "... no upstream fill in the cluster for the rest" "$f0" "$(fills_ab)"
check_eq "... no byte from the upstream on a" "$su" "$(metric a 'lota_bytes_served_total{source="upstream"}')"
check_eq "... no direct read on a" "$dr" "$(metric a lota_cache_direct_reads_total)"
check_contains "... a's log names the next candidate" "come from member b" "$(cat "$IT_DIR/lotad.log")"
start_node c
check "c restarts and rejoins" it_wait_for 20 all_up

# --- a front node without a cache dir (f) owns nothing and reads every extent from its
# owner: no upstream fill, no byte from the upstream
start_node f
f_sees() { [ "$(state f a)" = up ] && [ "$(state f b)" = up ] && [ "$(state f c)" = up ]; }
check "f (no cache) sees a, b and c up" it_wait_for 20 f_sees
check_contains "f's /cluster shows no cache capacity for f" '"cache_capacity_bytes":0,"self":true' \
	"$(curl -sf "http://127.0.0.1:$AF/cluster")"
f0=$(fills)
it_curl alice -s -D "$W/h.f" -o "$W/xfr" "$(url f x.bin)"
check_eq "x through f: bytes exact" "$SHA_X" "$(it_sha256 "$W/xfr")"
check_contains "... x-lota-cache: peer" "x-lota-cache: peer" "$(tr -d '\r' <"$W/h.f")"
check_eq "... every byte from the owners" $((48 * MiB + 5)) "$(metric f 'lota_bytes_served_total{source="peer"}')"
check_eq "... none from the upstream" 0 "$(metric f 'lota_bytes_served_total{source="upstream"}')"
check_eq "... no upstream fill in the cluster" "$f0" "$(fills)"
check "... f's access log gives it as source peer" it_python - "$IT_DIR/lotad-f.log" "$B" \
	$((48 * MiB + 5)) <<'PY'
import json, sys
for line in open(sys.argv[1], "rb"):
    j = json.loads(line)
    if (j.get("msg") == "access" and j.get("op") == "get_object" and j.get("bucket") == sys.argv[2]
            and j.get("status") == 200 and j.get("bytes_out") == int(sys.argv[3])):
        sys.exit(0 if j.get("source") == "peer" else "source %r" % j.get("source"))
sys.exit("no access line of the GET of x")
PY
st=$(it_curl bob -s -o "$W/deny" -w '%{http_code}' "$(url f x.bin)")
check_eq "... bob is refused on f" 403 "$st"
kill -TERM "${PID[f]}"
wait "${PID[f]}"
check_eq "f exits 0 on SIGTERM" 0 $?
PID[f]=
f_down() { [ "$(state a f)" = down ]; }
check "a sees f down" it_wait_for 15 f_down

# --- a short range far into an extent another member holds: from that member (with 16
# MiB extents no range is that far in, so two more nodes, g and h, with 32 MiB extents)
read -r PG PH LG <<<"$(it_free_ports)"
read -r LH AG AH <<<"$(it_free_ports)"
GH=()
start_gh() { # start_gh ID LISTEN ADMIN PEER
	"$(it_lotad_bin)" --listen "127.0.0.1:$2" --upstream "http://127.0.0.1:$RGW_PORT" \
		--credentials "$IT_CREDENTIALS" --admin-listen "127.0.0.1:$3" --endpoint-name localhost \
		--node-id "$1" --peer-listen "127.0.0.1:$4" --cache-dir "$IT_DIR/cache-$1:1GiB" \
		--peer "g=127.0.0.1:$PG" --peer "h=127.0.0.1:$PH" --cluster-secret-file "$SECRET" \
		--extent-size 32MiB --min-object-size 1MiB --workers 1 \
		>>"$IT_DIR/lotad-$1.log" 2>&1 </dev/null &
	GH+=($!)
}
stop_gh() {
	local p
	for p in "${GH[@]}"; do kill -TERM "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
	GH=()
	return 0
}
it_at_exit stop_gh
start_gh g "$LG" "$AG" "$PG"
start_gh h "$LH" "$AH" "$PH"
for try in $(seq 1 10); do # an object whose first extent h owns
	it_random_file "$W/g" $((40 * MiB))
	[ "$("$LOTA" owner --node g --node h --bucket "$B" --key g.bin --size $((40 * MiB)) \
		--etag "\"$(md5sum "$W/g" | cut -d' ' -f1)\"" --extent-size 32MiB | sed -n '2s/^1 //p')" = h ] && break
done
gh_up() {
	curl -sf -m 5 "http://127.0.0.1:$AG/cluster" | grep -q '"id":"h","address":"127.0.0.1:'"$PH"'","state":"up"'
}
check "g sees h up" it_wait_for 20 gh_up
check_eq "upload g.bin" 200 "$(it_curl alice -s -o /dev/null -w '%{http_code}' -T "$W/g" "http://127.0.0.1:$LG/$B/g.bin")"
it_curl alice -s -o "$W/g1" "http://127.0.0.1:$LG/$B/g.bin"
check_eq "g.bin through g (its first extent filled on h): bytes exact" "$(it_sha256 "$W/g")" "$(it_sha256 "$W/g1")"
gmetric() { curl -sf -m 5 "http://127.0.0.1:$1/metrics" | awk -v s="$2" '$1 == s { v = $2 } END { print (v == "" ? 0 : v) }'; }
hidle() { [ "$(gmetric "$AH" lota_cache_fills_in_progress)" = 0 ]; }
check "h's fill finishes" it_wait_for 30 hidle
sp=$(gmetric "$AG" 'lota_bytes_served_total{source="peer"}')
su=$(gmetric "$AG" 'lota_bytes_served_total{source="upstream"}')
far=$((20 * MiB + 77))
it_curl alice -s -D "$W/h.far" -o "$W/gf" -r "$far-$((far + 65535))" "http://127.0.0.1:$LG/$B/g.bin"
check_contains "a 64 KiB range 20 MiB into an extent h holds, through g: x-lota-cache: peer" \
	"x-lota-cache: peer" "$(tr -d '\r' <"$W/h.far")"
check_eq "... bytes exact" "$(tail -c +$((far + 1)) "$W/g" | head -c 65536 | sha256sum | cut -d' ' -f1)" \
	"$(it_sha256 "$W/gf")"
check_eq "... all from h" $((sp + 65536)) "$(gmetric "$AG" 'lota_bytes_served_total{source="peer"}')"
check_eq "... none from the upstream" "$su" "$(gmetric "$AG" 'lota_bytes_served_total{source="upstream"}')"
stop_gh

# --- a HEAD pre-stages every extent where it belongs
it_random_file "$W/z" $((32 * MiB))
check_eq "upload z" 200 "$(it_curl alice -s -o /dev/null -w '%{http_code}' -T "$W/z" "$(url a z.bin)")"
f0=$(fills)
check_eq "HEAD of z through b" 200 "$(it_curl alice -s -o /dev/null -w '%{http_code}' -I "$(url b z.bin)")"
staged() { [ "$(fills)" -ge $((f0 + 2)) ] && idle; }
check "the HEAD pre-staged z's 2 extents in the cluster" it_wait_for 30 staged
it_curl alice -o "$W/z1" "$(url c z.bin)"
check_eq "z through c: bytes exact" "$(it_sha256 "$W/z")" "$(it_sha256 "$W/z1")"
check "fills finish" it_wait_for 30 idle
check_eq "... with no more upstream fills" $((f0 + 2)) "$(fills)"

# --- the upstream still decides who reads
for n in a b c; do
	st=$(it_curl bob -s -o "$W/deny" -w '%{http_code}' "$(url "$n" x.bin)")
	check_eq "node $n: bob is refused alice's cached object" 403 "$st"
	st=$(curl -s -o "$W/deny" -w '%{http_code}' "$(url "$n" x.bin)")
	check_eq "node $n: anonymous is refused alice's cached object" 403 "$st"
done

# --- the peer port
it_run_checks "peer port refusals (node b)" it_python "$IT_CLIENTS_DIR/peer_sign.py" refusals \
	127.0.0.1 "$PB" "$SECRET" a
owner0=$("$LOTA" owner --node a --node b --node c --bucket "$B" --key x.bin --etag "$ETAG_X" \
	--size $((48 * MiB + 5)) --extent-size "$EXT" | sed -n '2s/^1 //p')
st=$(it_python "$IT_CLIENTS_DIR/peer_sign.py" extent 127.0.0.1 "${PPORT[$owner0]}" "$SECRET" a \
	"$B" x.bin "$ETAG_X" $((48 * MiB + 5)) 0 bytes=100-4195 "$W/ext")
check_eq "a member's signed extent request to its owner ($owner0): 206" 206 "$st"
check_eq "... with exactly those bytes" "$(tail -c +101 "$W/x" | head -c 4096 | sha256sum | cut -d' ' -f1)" \
	"$(it_sha256 "$W/ext")"

# --- an owner killed mid-stream: the read goes on elsewhere, byte-exact
# pick NAME: a 48 MiB object $W/NAME with an extent (after the first) owned by b or c,
# which becomes the victim.
pick() {
	local try off o
	victim= voff=
	for try in 1 2 3 4 5 6 7 8; do
		it_random_file "$W/$1" $((48 * MiB))
		for off in $((16 * MiB)) $((32 * MiB)); do
			o=$(owner3 "$W/$1" "$1.bin" $((48 * MiB)) "$off")
			case $o in b | c) victim=$o voff=$off && return 0 ;; esac
		done
	done
	it_die "no object layout with an extent owned by b or c in $try tries"
}
# slice FILE: the sha256 of the range the slow reader reads (1 MiB before the victim's
# extent to its end)
slice() { tail -c +$((voff - MiB + 1)) "$1" | head -c $((17 * MiB)) | sha256sum | cut -d' ' -f1; }
# victim_read NAME: a 48 MiB object NAME with an extent of the victim's (pick), uploaded
# and read cold through a; then a slow reader through a (slow_read, $reader) of the
# victim's extent, left running once the victim is mid-extent. fo0: a's failovers before.
victim_read() {
	local n=$1
	pick "$n"
	check_eq "upload $n" 200 \
		"$(it_curl alice -s -o /dev/null -w '%{http_code}' -T "$W/$n" "$(url a "$n.bin")")"
	it_curl alice -o "$W/${n}1" "$(url a "$n.bin")"
	check_eq "$n, cold through a: bytes exact" "$(it_sha256 "$W/$n")" "$(it_sha256 "$W/${n}1")"
	check "fills finish" it_wait_for 30 idle
	fo0=$(metric a lota_cache_peer_failovers_total)
	mid_read "$victim" "$(url a "$n.bin")" "$((voff - MiB))-$((voff + 16 * MiB - 1))" "$W/${n}2"
}
victim_read y
kill -KILL "${PID[$victim]}"
wait "${PID[$victim]}" 2>/dev/null
PID[$victim]=
wait "$reader"
check_eq "the slow read through a completes without error" "0 206" "$? $(cat "$W/y2.status")"
check_eq "... byte-exact" "$(slice "$W/y")" "$(it_sha256 "$W/y2")"
check "... the rest came from elsewhere (a failover counted)" \
	test "$(metric a lota_cache_peer_failovers_total)" -gt "$fo0"
down() { [ "$(state a "$victim")" = down ]; }
check "node a's /cluster shows $victim down" it_wait_for 15 down
check_eq "lota_cluster_members_up on a" 2 "$(metric a lota_cluster_members_up)"
it_curl alice -o "$W/y3" "$(url a y.bin)"
check_eq "y through a with $victim down: bytes exact" "$(it_sha256 "$W/y")" "$(it_sha256 "$W/y3")"
start_node "$victim"
up() { [ "$(state a "$victim")" = up ]; }
check "after a restart, $victim is up again on a's /cluster" it_wait_for 15 up
it_curl alice -o "$W/y4" "$(url "$victim" y.bin)"
check_eq "y through the restarted $victim: bytes exact" "$(it_sha256 "$W/y")" "$(it_sha256 "$W/y4")"

# --- an owner that stalls (SIGSTOP) mid-stream: after --peer-timeout the rest comes from
# elsewhere, byte-exact; it comes back up once it answers again (SIGCONT)
victim_read v
kill -STOP "${PID[$victim]}"
wait "$reader"
check_eq "the slow read through a completes without error despite the stalled owner" "0 206" \
	"$? $(cat "$W/v2.status")"
kill -CONT "${PID[$victim]}"
check_eq "... byte-exact" "$(slice "$W/v")" "$(it_sha256 "$W/v2")"
check "... the rest came from elsewhere (a failover counted)" \
	test "$(metric a lota_cache_peer_failovers_total)" -gt "$fo0"
check "$victim answers again: up on a's /cluster" it_wait_for 15 up

# b and c stop like a: SIGTERM, exit 0, nothing reported by a sanitizer
for n in b c; do
	[ -n "${PID[$n]:-}" ] || continue
	kill -TERM "${PID[$n]}"
	wait "${PID[$n]}"
	check_eq "node $n exits 0 on SIGTERM" 0 $?
	PID[$n]=
done
check "no sanitizer report in the logs of b and c" \
	bash -c "! grep -qE 'AddressSanitizer|LeakSanitizer|runtime error' '$IT_DIR'/lotad-*.log"

it_finish
