#!/usr/bin/env bash
# test_cluster_tls.sh - the peer port with mutual TLS (--peer-tls-cert/-key/-ca): three
# lotads on 127.0.0.1 in one cluster, their certificates made here by openssl (a cluster
# CA, one certificate per node naming 127.0.0.1, and a rogue CA with a certificate of its
# own).
#
# - the probes work over TLS: every node's GET /cluster lists a, b and c up.
# - an object of 3 extents read cold through a is filled once in the cluster (3 fills);
#   reads through b and c are byte-exact with no more fill, and a range of an extent
#   another member owns is x-lota-cache: peer (the front node's curl over TLS).
# - on the peer port a plain-HTTP request, a TLS client without a certificate and one
#   with the rogue CA's certificate get no byte, even with a valid HMAC; a member's
#   certificate with a valid HMAC gets 200, with an unknown node id still 403 (the HMAC
#   and the member check stay on top of TLS).
# - bad combinations are refused at start with the key and the reason: a cert without
#   key and CA, a key others may read, a key that is not the cert's, TLS without a cluster.
# shellcheck source=lib.sh disable=SC2317 # (helpers run through check)
. "$(dirname "$0")/lib.sh"
[ "${LOTA_TEST_DIRECT:-0}" = 1 ] && it_skip "lotad-specific test (LOTA_TEST_DIRECT=1)"
it_require_rgw
it_require_cmd curl md5sum openssl

LOTA=${LOTA_BUILD_DIR:-$IT_LIB_DIR/../../build}/tools/lota
MiB=$((1024 * 1024))
EXT=4MiB
SECRET=$IT_DIR/cluster.secret
head -c 32 /dev/urandom >"$SECRET"
chmod 600 "$SECRET"

# --- certificates: a cluster CA, a certificate per node, a rogue CA and its certificate
T=$IT_DIR/tls
mkdir -p "$T"
mkca() { # mkca NAME
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
		-subj "/CN=$1" -keyout "$T/$1.key" -out "$T/$1.pem" 2>/dev/null
}
mkcert() { # mkcert NAME CA
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$1" \
		-keyout "$T/$1.key" -out "$T/$1.csr" 2>/dev/null &&
		printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n' >"$T/$1.ext" &&
		openssl x509 -req -in "$T/$1.csr" -CA "$T/$2.pem" -CAkey "$T/$2.key" -CAcreateserial \
			-days 2 -extfile "$T/$1.ext" -out "$T/$1.pem" 2>/dev/null &&
		chmod 600 "$T/$1.key"
}
{ mkca ca && mkca rogue-ca; } || it_die "openssl could not make the CAs"
for n in a b c; do mkcert "$n" ca || it_die "openssl could not make $n's certificate"; done
mkcert rogue rogue-ca || it_die "openssl could not make the rogue certificate"
tlsargs() { echo --peer-tls-cert "$T/$1.pem" --peer-tls-key "$T/$1.key" --peer-tls-ca "$T/ca.pem"; }

read -r PA PB PC <<<"$(it_free_ports)"
read -r LB AB LC <<<"$(it_free_ports)"
read -r AC _ _ <<<"$(it_free_ports)"
CL=(--peer "a=127.0.0.1:$PA" --peer "b=127.0.0.1:$PB" --peer "c=127.0.0.1:$PC"
	--cluster-secret-file "$SECRET" --peer-timeout 2s --extent-size "$EXT"
	--min-object-size 1MiB --workers 2)
# shellcheck disable=SC2207 # (paths without spaces)
IT_LOTAD_ARGS=(--node-id a --peer-listen "127.0.0.1:$PA" --cache-dir "$IT_DIR/cache-a:1GiB"
	"${CL[@]}" $(tlsargs a))
it_setup

declare -A LPORT=([a]=$IT_LOTAD_PORT [b]=$LB [c]=$LC)
declare -A APORT=([a]=$IT_LOTAD_ADMIN_PORT [b]=$AB [c]=$AC)
declare -A PID=()
start_node() {
	local id=$1
	# shellcheck disable=SC2046 # (paths without spaces)
	"$(it_lotad_bin)" --listen "127.0.0.1:${LPORT[$id]}" --upstream "http://127.0.0.1:$RGW_PORT" \
		--credentials "$IT_CREDENTIALS" --admin-listen "127.0.0.1:${APORT[$id]}" \
		--endpoint-name localhost --node-id "$id" --peer-listen "127.0.0.1:$2" \
		--cache-dir "$IT_DIR/cache-$id:1GiB" "${CL[@]}" $(tlsargs "$id") \
		>>"$IT_DIR/lotad-$id.log" 2>&1 </dev/null &
	PID[$id]=$!
	it_wait_for 20 curl -sf -m 2 -o /dev/null "http://127.0.0.1:${APORT[$id]}/healthz" ||
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
start_node b "$PB"
start_node c "$PC"

metric() {
	curl -sf -m 5 "http://127.0.0.1:${APORT[$1]}/metrics" |
		awk -v s="$2" '$1 == s { v = $2 } END { print (v == "" ? 0 : v) }'
}
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
check "the probes over TLS: every node's /cluster lists a, b and c up" it_wait_for 20 all_up

# --- one object of 3 extents: one fill per extent, warm reads from the owners
W=$IT_DIR/work
mkdir -p "$W"
B=lota-tls
url() { echo "http://127.0.0.1:${LPORT[$1]}/$B/$2"; }
check_eq "create bucket" 200 "$(it_curl alice -s -o /dev/null -w '%{http_code}' -X PUT "$(url a "")")"
SIZE=$((12 * MiB - 5))
owner_of() { # K: the member owning extent K of x.bin (its ETag is ETAG_X)
	"$LOTA" owner --node a --node b --node c --bucket "$B" --key x.bin --etag "$ETAG_X" \
		--size "$SIZE" --extent-size "$EXT" --offset $(($1 * 4 * MiB)) | sed -n '2s/^1 //p'
}
# Placement follows the ETag, so the content decides the owners: an object whose three
# extents one member owns would leave that member nothing to read from a peer (1 in 9);
# draw the content again then.
for try in 1 2 3 4 5 6 7 8; do
	it_random_file "$W/x" "$SIZE"
	ETAG_X="\"$(md5sum "$W/x" | cut -d' ' -f1)\""
	[ "$(for k in 0 1 2; do owner_of "$k"; done | sort -u | wc -l)" -gt 1 ] && break
done
SHA_X=$(it_sha256 "$W/x")
check_eq "upload through node a" 200 \
	"$(it_curl alice -s -o /dev/null -w '%{http_code}' -T "$W/x" "$(url a x.bin)")"
fills() { # every node's upstream fills: its own and those made for a member
	local n t=0
	for n in a b c; do
		t=$((t + $(metric "$n" 'lota_cache_fills_total{result="started"}')))
	done
	echo "$t"
}
idle() {
	local n
	for n in a b c; do
		[ "$(metric "$n" lota_cache_fills_in_progress)" = 0 ] || return 1
	done
}
it_curl alice -o "$W/xa" "$(url a x.bin)"
check_eq "node a (cold): bytes exact" "$SHA_X" "$(it_sha256 "$W/xa")"
check "fills finish" it_wait_for 30 idle
check_eq "3 extents, 3 upstream fills in the cluster" 3 "$(fills)"
for n in b c; do
	it_curl alice -o "$W/x$n" "$(url "$n" x.bin)"
	check_eq "node $n (warm): bytes exact" "$SHA_X" "$(it_sha256 "$W/x$n")"
	# a range of an extent another member owns
	for k in 0 1 2; do
		o=$(owner_of "$k")
		[ "$o" != "$n" ] && break
	done
	off=$((k * 4 * MiB + 1000))
	it_curl alice -s -D "$W/h.$n" -o "$W/r$n" -r "$off-$((off + MiB - 1))" "$(url "$n" x.bin)"
	check_contains "node $n: a range of extent $k (owner $o) is x-lota-cache: peer" \
		"x-lota-cache: peer" "$(tr -d '\r' <"$W/h.$n")"
	check_eq "... bytes exact" "$(tail -c +$((off + 1)) "$W/x" | head -c "$MiB" | sha256sum | cut -d' ' -f1)" \
		"$(it_sha256 "$W/r$n")"
done
check "fills finish" it_wait_for 30 idle
check_eq "still 3 upstream fills in the cluster" 3 "$(fills)"
check "peer bytes went out of the owners over TLS" \
	test $(($(metric a 'lota_peer_bytes_total{direction="in"}') + $(metric b 'lota_peer_bytes_total{direction="in"}') + $(metric c 'lota_peer_bytes_total{direction="in"}'))) -gt 0

# --- the peer port: only a member's certificate gets a byte
PS=$IT_CLIENTS_DIR/peer_sign.py
check_eq "a member's certificate and a valid HMAC: 200" 200 \
	"$(it_python "$PS" tls 127.0.0.1 "$PB" "$SECRET" a "$T/ca.pem" "$T/a.pem" "$T/a.key" | cut -d' ' -f1)"
check_eq "a member's certificate and an unknown node id: 403 (the HMAC stays on top)" 403 \
	"$(it_python "$PS" tls 127.0.0.1 "$PB" "$SECRET" zz "$T/ca.pem" "$T/a.pem" "$T/a.key" | cut -d' ' -f1)"
check_eq "plain HTTP with a valid HMAC: no byte" "0 0" \
	"$(it_python "$PS" plain 127.0.0.1 "$PB" "$SECRET" a)"
check_eq "TLS without a client certificate, valid HMAC: no byte" "0 0" \
	"$(it_python "$PS" tls 127.0.0.1 "$PB" "$SECRET" a "$T/ca.pem")"
check_eq "TLS with the rogue CA's certificate, valid HMAC: no byte" "0 0" \
	"$(it_python "$PS" tls 127.0.0.1 "$PB" "$SECRET" a "$T/ca.pem" "$T/rogue.pem" "$T/rogue.key")"
check_contains "b's log names the refused handshakes" "TLS handshake refused" "$(cat "$IT_DIR/lotad-b.log")"
st=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$T/ca.pem" "https://127.0.0.1:$PB/peer/health")
check_eq "curl without a client certificate: no HTTP status" 000 "$st"

# --- bad combinations are refused at start
bad() { # bad ARGS...: lotad's exit code and message
	"$(it_lotad_bin)" --upstream "http://127.0.0.1:$RGW_PORT" --node-id a \
		--peer-listen 127.0.0.1:1 --peer a=127.0.0.1:1 --cluster-secret-file "$SECRET" "$@" 2>&1
	echo "exit $?"
}
out=$(bad --peer-tls-cert "$T/a.pem")
check_contains "a cert alone is refused (exit 2)" "exit 2" "$out"
check_contains "... naming the missing key" 'config key "peer_tls_key": required with peer_tls_cert' "$out"
out=$(bad --peer-tls-cert "$T/a.pem" --peer-tls-key "$T/a.key")
check_contains "cert and key without CA are refused" 'config key "peer_tls_ca": required' "$out"
cp "$T/a.key" "$T/open.key"
chmod 644 "$T/open.key"
out=$(bad --peer-tls-cert "$T/a.pem" --peer-tls-key "$T/open.key" --peer-tls-ca "$T/ca.pem")
check_contains "a key others may read is refused" 'config key "peer_tls_key"' "$out"
check_contains "... with the fix" "must be 0600" "$out"
out=$(bad --peer-tls-cert "$T/a.pem" --peer-tls-key "$T/b.key" --peer-tls-ca "$T/ca.pem")
check_contains "a key that is not the cert's is refused" 'config key "peer_tls_key"' "$out"
check_contains "... with the reason" "key values mismatch" "$out"
out=$(bad --peer-tls-cert "$T/a.pem" --peer-tls-key "$T/a.key" --peer-tls-ca "$T/missing.pem")
check_contains "a missing CA file is refused" 'config key "peer_tls_ca"' "$out"
# shellcheck disable=SC2046 # (paths without spaces)
out=$("$(it_lotad_bin)" --upstream "http://127.0.0.1:$RGW_PORT" $(tlsargs a) 2>&1)
check_contains "peer TLS without a cluster is refused" 'config key "peer_tls_cert": peer TLS needs a cluster' "$out"

for n in b c; do
	kill -TERM "${PID[$n]}"
	wait "${PID[$n]}"
	check_eq "node $n exits 0 on SIGTERM" 0 $?
	PID[$n]=
done
check "no sanitizer report in the logs of a, b and c" \
	bash -c "! grep -qE 'AddressSanitizer|LeakSanitizer|runtime error' '$IT_DIR'/lotad*.log"

it_finish
