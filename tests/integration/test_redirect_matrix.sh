#!/usr/bin/env bash
# test_redirect_matrix.sh - the three ways into lotad (endpoint change, LD_PRELOAD shim,
# eBPF redirect) over http and https, with real clients and a key lotad holds (alice)
# and one it does not (bob: lotad's credentials hold alice only).
#
# Clients: awscli, boto3, s3cmd, curl --aws-sigv4, rclone (Go: no shim) and a `gcc
# -static` C client (clients/static_get.c: plain HTTP with a presigned URL, eBPF only).
# Each row reads an object of its own twice, whole (so a foreign key's first 200 stores
# the whole object and its second read is a 304-confirmed hit: no --fill-credentials):
# bytes exact by sha256, both reads counted by lotad, the second a hit
# (lota_cache_hits_total moved, and x-lota-cache: hit where the client shows it: curl,
# boto3, the static client). boto3 reads twice in one process, waiting for lotad's
# fills in between (its start is what costs).
#
# Endpoints ("localhost" is a --redirect name: any Host localhost:PORT is the upstream's
# own, so both keys sign for the upstream's name):
#   endpoint change  http://localhost:LOTAD / https://localhost:TLS, the bundle given
#   LD_PRELOAD       http://127.0.0.1:RGW (LOTA_REDIRECT=127.0.0.1:RGW) /
#                    https://localhost:P, P a port nothing listens on
#                    (LOTA_REDIRECT=https://localhost:P), the bundle exported by the shim
#   eBPF (root)      http://127.0.0.1:RGW (the upstream) / https://localhost (port 443
#                    redirected to the TLS listener), in a test cgroup, the bundle given
# Also: TLS serves a --redirect name (s3.lota.test: a verified certificate for it), and a
# client that does not trust the node CA fails its handshake in each https way.
# Without root the eBPF rows are skipped, loudly; the rest runs.
# shellcheck source=lib.sh disable=SC2317 # (helpers run through check)
. "$(dirname "$0")/lib.sh"
[ "${LOTA_TEST_DIRECT:-0}" = 1 ] && it_skip "lotad-specific test (LOTA_TEST_DIRECT=1)"
it_require_rgw
it_require_boto3
it_require_cmd curl "$IT_AWS" s3cmd rclone openssl awk
# The clients trust what each row gives them (the bundle, or the shim's export, which
# leaves a variable the user set alone): none from the caller's environment.
unset SSL_CERT_FILE SSL_CERT_DIR CURL_CA_BUNDLE REQUESTS_CA_BUNDLE
BUILD=${LOTA_BUILD_DIR:-$IT_LIB_DIR/../../build}
SHIM=$BUILD/preload/liblota-preload.so
[ -f "$SHIM" ] || it_die "the shim is not built ($SHIM missing)"
W=$IT_DIR/work
CA=$IT_DIR/ca
mkdir -p "$W"

EBPF=1
if [ "$(id -u)" -ne 0 ]; then
	EBPF=0
	echo "# ############################################################################"
	echo "# NOT ROOT: the eBPF rows of the matrix are SKIPPED (run as root to test them)"
	echo "# ############################################################################"
fi
bin=$(it_lotad_bin)
if [ $EBPF = 1 ] && ! grep -q lota_connect4 "$bin"; then
	EBPF=0
	echo "# SKIPPED: the eBPF rows (this lotad was built without the eBPF redirect)"
fi
CG2=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
if [ $EBPF = 1 ] && [ -z "$CG2" ]; then
	EBPF=0
	echo "# SKIPPED: the eBPF rows (no cgroup v2 file system is mounted)"
fi
STATIC=0
if [ $EBPF = 1 ] && gcc -static -O2 -o "$W/static_get" "$IT_CLIENTS_DIR/static_get.c" 2>"$W/gcc.log"; then
	STATIC=1
elif [ $EBPF = 1 ]; then
	echo "# SKIPPED: the static client rows (gcc -static failed: $(tail -n 1 "$W/gcc.log"))"
fi

CG=
if [ $EBPF = 1 ]; then
	CG=$CG2/lota-it-matrix-$$
	mkdir "$CG" || it_die "cannot create the test cgroup $CG"
	cg_remove() {
		[ -d "$CG" ] || return 0
		local pids deadline=$((SECONDS + 10))
		while pids=$(cat "$CG/cgroup.procs" 2>/dev/null) && [ -n "$pids" ]; do
			# shellcheck disable=SC2086
			kill -KILL $pids 2>/dev/null
			[ "$SECONDS" -ge "$deadline" ] && break
			sleep 0.1
		done
		rmdir "$CG"
	}
	it_at_exit cg_remove
fi

it_setup
read -r TP HP _ <<<"$(it_free_ports)"
LP=$IT_LOTAD_PORT
RP=$RGW_PORT
it_creds_file "$W/creds-alice" alice
# shellcheck disable=SC2034 # read by lotad_restart (lib.sh)
IT_LOTAD_CREDENTIALS=$W/creds-alice
IT_LOTAD_ARGS=(--cache-dir "$IT_DIR/cache:1GiB" --min-object-size 1MiB
	--tls-listen "127.0.0.1:$TP" --ca-dir "$CA" --redirect localhost
	--redirect s3.lota.test:443)
if [ $EBPF = 1 ]; then
	IT_LOTAD_ARGS+=(--redirect-ebpf --redirect-cgroup "$CG")
	# localhost:443 joins the eBPF map (every --redirect entry does).
	IT_LOTAD_ARGS+=(--redirect localhost:443)
fi
lotad_restart
BUNDLE=$("$BUILD/tools/lota" ca-bundle --ca-dir "$CA")
check "lota ca-bundle names a bundle" test -s "$BUNDLE"

# --- TLS serves the --redirect names
out=$(openssl s_client -connect "127.0.0.1:$TP" -servername s3.lota.test -CAfile "$CA/ca.pem" \
	-verify_hostname s3.lota.test </dev/null 2>&1)
check_contains "TLS: a certificate for the --redirect name s3.lota.test" \
	"subject=CN = s3.lota.test" "$out"
check_contains "TLS: ... verified with the node CA" "Verify return code: 0 (ok)" "$out"

# --- objects: one per row, alice's in her bucket, bob's in his (uploaded to radosgw)
R=$RGW_ENDPOINT
check "create alice's bucket" it_curl alice -sf -o /dev/null -X PUT "$R/mx-alice"
check "create bob's bucket" it_curl bob -sf -o /dev/null -X PUT "$R/mx-bob"
declare -A SHA
N=0
# obj KEY PROFILE: a new 2 MiB (+ a little) object of PROFILE; its name in OBJ.
obj() {
	N=$((N + 1))
	OBJ=$1
	it_random_file "$W/src" $((2 * 1024 * 1024 + 4099 * N))
	SHA[$OBJ]=$(it_sha256 "$W/src")
	it_curl "$2" -sf -o /dev/null -T "$W/src" "$R/mx-$2/$OBJ" || it_fail "upload $OBJ"
}

# --- clients: read URL (endpoint base), PROFILE, KEY into $W/out; print x-lota-cache
# ("-" when the client does not show it). CAOPT: the bundle to trust, or empty.
c_curl() {
	local ca=()
	[ -n "$CAOPT" ] && ca=(--cacert "$CAOPT")
	it_curl "$2" -sf "${ca[@]}" -D "$W/h" -o "$W/out" "$1/mx-$2/$3" || return 1
	tr -d '\r' <"$W/h" | awk -F': *' 'tolower($1) == "x-lota-cache" { v = $2 } END { print (v == "" ? "-" : v) }'
}
# boto3 reads twice in one process (its start is the slow part): the object into
# $W/out.1, lotad's fills awaited through /metrics, again into $W/out.2; prints both
# x-lota-cache values.
c_boto3_twice() {
	it_keys "$2"
	it__pyenv AWS_ACCESS_KEY_ID="$IT_AK" AWS_SECRET_ACCESS_KEY="$IT_SK" ${CAOPT:+AWS_CA_BUNDLE=$CAOPT} \
		timeout 120 "$IT_PY" -c '
import sys, time, urllib.request, boto3
from botocore.config import Config
ep, b, k, out, region, admin = sys.argv[1:7]
c = boto3.client("s3", endpoint_url=ep, region_name=region,
                 config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
def fills():
    m = urllib.request.urlopen("http://%s/metrics" % admin, timeout=5).read().decode()
    return [l.split()[1] for l in m.splitlines() if l.startswith("lota_cache_fills_in_progress ")]
seen = []
for i in (1, 2):
    r = c.get_object(Bucket=b, Key=k)
    open("%s.%d" % (out, i), "wb").write(r["Body"].read())
    seen.append(r["ResponseMetadata"]["HTTPHeaders"].get("x-lota-cache", "-"))
    deadline = time.time() + 60
    while fills() != ["0"] and time.time() < deadline:
        time.sleep(0.1)
print(" ".join(seen))
' "$1" "mx-$2" "$3" "$W/out" "$RGW_REGION" "127.0.0.1:$IT_LOTAD_ADMIN_PORT"
}
c_awscli() {
	it_keys "$2"
	it__pyenv AWS_ACCESS_KEY_ID="$IT_AK" AWS_SECRET_ACCESS_KEY="$IT_SK" AWS_DEFAULT_REGION="$RGW_REGION" \
		AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null ${CAOPT:+AWS_CA_BUNDLE=$CAOPT} \
		timeout 120 "$IT_AWS" --endpoint-url "$1" s3api get-object --bucket "mx-$2" --key "$3" \
		"$W/out" >/dev/null || return 1
	echo -
}
c_s3cmd() {
	it_keys "$2"
	local hp=${1#*://} https=False
	case $1 in https:*) https=True ;; esac
	[ "$hp" = localhost ] && hp=localhost:443
	cat >"$W/s3cmd.cfg" <<EOF
[default]
access_key = $IT_AK
secret_key = $IT_SK
host_base = $hp
host_bucket = $hp
bucket_location = $RGW_REGION
use_https = $https
ca_certs_file = ${CAOPT}
check_ssl_certificate = True
signature_v2 = False
progress_meter = False
EOF
	rm -f "$W/out"
	it__pyenv timeout 120 s3cmd -c "$W/s3cmd.cfg" get "s3://mx-$2/$3" "$W/out" >/dev/null || return 1
	echo -
}
c_rclone() {
	it_keys "$2"
	rm -rf "$W/rc"
	env ${CAOPT:+SSL_CERT_FILE=$CAOPT} timeout 120 rclone --retries 1 --low-level-retries 1 \
		--s3-provider Ceph --s3-access-key-id "$IT_AK" --s3-secret-access-key "$IT_SK" \
		--s3-endpoint "$1" --s3-region "$RGW_REGION" --s3-force-path-style \
		copyto ":s3:mx-$2/$3" "$W/out" || return 1
	echo -
}
c_static() {
	local url target out
	it_keys "$2"
	url=$(AWS_ACCESS_KEY_ID=$IT_AK AWS_SECRET_ACCESS_KEY=$IT_SK AWS_REGION=$RGW_REGION \
		"$BUILD/tools/lota" presign --endpoint "$R" --bucket "mx-$2" --key "$3") || return 1
	target=/${url#http://*/}
	out=$("$W/static_get" 127.0.0.1 "$RP" "$target" "$W/out") || return 1
	# "STATUS X-LOTA-CACHE PEER"
	[ "${out%% *}" = 200 ] || return 1
	out=${out#* }
	echo "${out%% *}"
}

in_cg() { (echo "$BASHPID" >"$CG/cgroup.procs" && "$@"); }
in_shim() {
	(
		export LD_PRELOAD=$SHIM LOTA_ENDPOINT=127.0.0.1:$LP LOTA_TLS_ENDPOINT=127.0.0.1:$TP \
			LOTA_CA_BUNDLE=$BUNDLE LOTA_REDIRECT=$SHIM_REDIRECT
		"$@"
	)
}
direct() { "$@"; }
wait_idle() { it_wait_metric 60 lota_cache_fills_in_progress 0; }

# row CLIENT WAY PROTO PROFILE: the two reads of one matrix row.
row() {
	local c=$1 way=$2 proto=$3 p=$4 url run=direct name
	CAOPT=
	case $way/$proto in
	ep/http) url=http://localhost:$LP ;;
	ep/https) url=https://localhost:$TP CAOPT=$BUNDLE ;;
	shim/http) url=http://127.0.0.1:$RP run=in_shim SHIM_REDIRECT=127.0.0.1:$RP ;;
	shim/https) url=https://localhost:$HP run=in_shim SHIM_REDIRECT=https://localhost:$HP ;;
	ebpf/http) url=http://127.0.0.1:$RP run=in_cg ;;
	ebpf/https) url=https://localhost run=in_cg CAOPT=$BUNDLE ;;
	esac
	name="$c $way $proto $p"
	obj "$c-$way-$proto-$p" "$p"
	local pass g0 h0 xc t0=$SECONDS
	if [ "$c" = boto3 ]; then
		wait_idle
		g0=$(it_requests_done get_object)
		h0=$(it_metric0 lota_cache_hits_total)
		rm -f "$W/out".*
		xc=$($run c_boto3_twice "$url" "$p" "$OBJ" 2>"$W/err") || {
			it_fail "$name: the client failed"
			sed 's/^/#   /' "$W/err" | tail -n 5
			return
		}
		for pass in 1 2; do
			check_eq "$name read $pass: bytes" "${SHA[$OBJ]}" "$(it_sha256 "$W/out.$pass" 2>/dev/null)"
		done
		check "$name reads 1 and 2: through lotad" it_wait_requests_done 10 get_object $((g0 + 2))
		check "$name read 2: a hit (lota_cache_hits_total > $h0)" \
			it_wait_metric_ge 10 lota_cache_hits_total $((h0 + 1))
		check_eq "$name read 2: x-lota-cache" hit "${xc#* }"
		it_log "$name: $((SECONDS - t0)) s (x-lota-cache: $xc)"
		if [ "${xc#* }" != hit ]; then # what lotad said about it (warnings and errors)
			grep -E ' (warn|error) ' "$IT_DIR/lotad.log" | tail -n 8 | sed 's/^/#   lotad: /'
			curl -sf -m 5 "http://127.0.0.1:$IT_LOTAD_ADMIN_PORT/metrics" |
				grep -E '^lota_cache_(fills_total|bypass_total|misses_total)' | sed 's/^/#   /'
		fi
		return
	fi
	for pass in 1 2; do
		wait_idle
		g0=$(it_requests_done get_object)
		h0=$(it_metric0 lota_cache_hits_total)
		rm -f "$W/out"
		xc=$($run "c_$c" "$url" "$p" "$OBJ" 2>"$W/err") || {
			it_fail "$name read $pass: the client failed"
			sed 's/^/#   /' "$W/err" | tail -n 5
			return
		}
		check_eq "$name read $pass: bytes" "${SHA[$OBJ]}" "$(it_sha256 "$W/out" 2>/dev/null)"
		check "$name read $pass: through lotad" it_wait_requests_done 10 get_object $((g0 + 1))
		if [ $pass = 2 ]; then
			check "$name read 2: a hit (lota_cache_hits_total > $h0)" \
				it_wait_metric_ge 10 lota_cache_hits_total $((h0 + 1))
			[ "$xc" = - ] || check_eq "$name read 2: x-lota-cache" hit "$xc"
		fi
	done
	it_log "$name: $((SECONDS - t0)) s"
}

WAYS="ep shim"
[ $EBPF = 1 ] && WAYS="ep shim ebpf"
for proto in http https; do
	for way in $WAYS; do
		for c in curl boto3 awscli s3cmd rclone static; do
			case $c/$way in rclone/shim | static/ep | static/shim) continue ;; esac
			[ $c = static ] && { [ $STATIC = 1 ] && [ $proto = http ] || continue; }
			for p in alice bob; do row "$c" "$way" "$proto" "$p"; done
		done
	done
done

# --- a client that does not trust the node CA fails its handshake
obj untrusted alice
code=0
it_curl alice -sf -o /dev/null "https://localhost:$TP/mx-alice/untrusted" 2>/dev/null || code=$?
check_eq "endpoint change, https, no bundle: curl fails verification (60)" 60 "$code"
code=0
(
	export LD_PRELOAD=$SHIM LOTA_ENDPOINT=127.0.0.1:$LP LOTA_TLS_ENDPOINT=127.0.0.1:$TP \
		LOTA_CA_BUNDLE=$W/none.pem LOTA_REDIRECT=https://localhost:$HP
	it_curl alice -sf -o /dev/null "https://localhost:$HP/mx-alice/untrusted" 2>/dev/null
) || code=$?
check_eq "LD_PRELOAD, https, no bundle exported: curl fails verification (60)" 60 "$code"
if [ $EBPF = 1 ]; then
	code=0
	in_cg it_curl alice -sf -o /dev/null "https://localhost/mx-alice/untrusted" 2>/dev/null || code=$?
	check_eq "eBPF, https, no bundle: curl fails verification (60)" 60 "$code"
fi
it_finish
