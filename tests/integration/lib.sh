# shellcheck shell=bash
# lib.sh - shared harness of the integration tests (sourced, never executed).
#
# A test script does:
#   . "$(dirname "$0")/lib.sh"
#   it_require_rgw; it_require_cmd /usr/bin/aws
#   it_setup                 # radosgw (+ lotad unless LOTA_TEST_DIRECT=1), client configs
#   check "description" command args...     # prints "ok - ..." or "not ok - ..."
#   it_finish                # prints "N passed, M failed"; exit 1 if any failed
#
# Invariants:
#   - Everything a test creates lives in one temp dir ($IT_DIR); the EXIT trap stops what
#     the test started (lotad, then the radosgw cluster, each by PID) and removes it.
#   - A missing prerequisite exits 77 (CTest's SKIP code) with a loud "SKIP:" line; a
#     missing lotad binary is a FAILURE (exit 1) unless LOTA_TEST_DIRECT=1, because then
#     the thing under test is absent, not the environment.
#   - Clients are always the Debian ones by full path (/usr/bin/aws, /usr/bin/python3);
#     the caller's AWS_* environment never leaks into them: every client gets generated
#     config files.
#   - Traffic goes to 127.0.0.1 only. "bucket.localhost" names (virtual-hosted style) do
#     not resolve on this kind of machine, so Python clients get a sitecustomize
#     (clients/site) mapping *.localhost to 127.0.0.1 and curl gets --connect-to.
#
# Endpoint variables after it_setup:
#   S3_HOST_PORT     127.0.0.1:PORT of the endpoint under test (lotad, or radosgw direct)
#   S3_ENDPOINT      http://127.0.0.1:PORT (path-style)
#   S3_PORT          PORT
#   S3_VHOST_DOMAIN  localhost (virtual-hosted style: http://BUCKET.localhost:PORT)
#   RGW_ENDPOINT     radosgw itself (for out-of-band setup and comparisons only)

IT_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
IT_CLIENTS_DIR=$IT_LIB_DIR/clients
IT_AWS=/usr/bin/aws
IT_PY=/usr/bin/python3
IT_NAME=$(basename "$0")
IT_PASSED=0
IT_FAILED=0
IT_LOTAD_PID=
IT_LOTAD_ARGS=()
IT_AT_EXIT=()
IT_RGW_DIR=
IT_T0=$(date +%s%N)

# shellcheck source=rgw.sh
. "$IT_LIB_DIR/rgw.sh"

# Never let the caller's AWS settings change what the clients do.
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_PROFILE \
	AWS_DEFAULT_PROFILE AWS_ENDPOINT_URL AWS_CONFIG_FILE AWS_SHARED_CREDENTIALS_FILE \
	AWS_DEFAULT_REGION AWS_REGION AWS_CA_BUNDLE

it_log() { echo "# $*"; }

# ---------------------------------------------------------------- skip / require
it_skip() {
	echo "SKIP: $IT_NAME: $*"
	exit 77
}

it_require_root() {
	[ "$(id -u)" -eq 0 ] || it_skip "needs root"
}

# Each argument is a command name or a full path.
it_require_cmd() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || it_skip "missing $c"
	done
}

it_require_rgw() {
	it_require_cmd ceph-mon ceph-osd radosgw radosgw-admin monmaptool ceph-authtool ceph \
		uuidgen curl sha256sum "$IT_PY"
}

it_require_boto3() {
	it_require_cmd "$IT_PY"
	"$IT_PY" -c 'import boto3' 2>/dev/null || it_skip "$IT_PY has no boto3 (python3-boto3)"
}

# ---------------------------------------------------------------- temp dir + cleanup
IT_DIR=$(mktemp -d "${TMPDIR:-/tmp}/lota-it.XXXXXX") || {
	echo "not ok - cannot create a temp dir"
	exit 1
}

it__cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	lotad_stop
	local f
	for f in "${IT_AT_EXIT[@]}"; do "$f"; done
	if [ -n "$IT_RGW_DIR" ]; then
		if [ -n "${LOTA_TEST_KEEP:-}" ]; then
			it_log "LOTA_TEST_KEEP set: cluster left running in $IT_RGW_DIR"
		else
			rgw_stop "$IT_RGW_DIR"
		fi
	fi
	[ -n "${LOTA_TEST_KEEP:-}" ] || rm -rf "$IT_DIR"
	rgw__free_ports_release
	exit "$rc"
}

# it_at_exit FUNC: run FUNC on exit after lotad has stopped, before radosgw stops and the
# temp dir goes (e.g. unmount a file system the test mounted inside $IT_DIR).
it_at_exit() { IT_AT_EXIT+=("$1"); }
trap it__cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- checks
it_pass() {
	IT_PASSED=$((IT_PASSED + 1))
	echo "ok - $*"
}

it_fail() {
	IT_FAILED=$((IT_FAILED + 1))
	echo "not ok - $*"
}

# check DESC CMD... : ok when CMD exits 0. On failure the command's output is shown.
check() {
	local desc=$1 out
	shift
	if out=$("$@" 2>&1); then
		it_pass "$desc"
	else
		it_fail "$desc"
		printf '%s\n' "$out" | tail -n 15 | sed 's/^/#   /'
	fi
}

# check_eq DESC EXPECTED ACTUAL
check_eq() {
	if [ "$2" = "$3" ]; then
		it_pass "$1"
	else
		it_fail "$1"
		echo "#   expected: $2"
		echo "#   actual:   $3"
	fi
}

# check_contains DESC NEEDLE HAYSTACK
check_contains() {
	case "$3" in
	*"$2"*) it_pass "$1" ;;
	*)
		it_fail "$1"
		echo "#   expected to contain: $2"
		printf '%s\n' "$3" | tail -n 10 | sed 's/^/#   actual: /'
		;;
	esac
}

# check_fails_with DESC NEEDLE COMMAND...: the command must fail, and its output (stdout
# and stderr) must contain NEEDLE (an S3 error code, a status).
check_fails_with() {
	local desc=$1 needle=$2 out
	shift 2
	if out=$("$@" 2>&1); then
		it_fail "$desc (command succeeded)"
	else
		check_contains "$desc" "$needle" "$out"
	fi
}

# A fatal setup error: counts as a failure and ends the script.
it_die() {
	it_fail "$*"
	it_finish
}

it_finish() {
	local ms=$((($(date +%s%N) - IT_T0) / 1000000))
	it_log "$IT_NAME took $((ms / 1000)).$(printf '%03d' $((ms % 1000))) s"
	echo "$IT_PASSED passed, $IT_FAILED failed"
	[ "$IT_FAILED" -eq 0 ] && [ "$IT_PASSED" -gt 0 ]
	exit $?
}

# it_run_checks DESC CMD... : run a helper that prints "ok - ..." / "not ok - ..." lines
# and fold its results into ours. A helper that exits non-zero without reporting a
# failure (a crash) still counts as one.
it_run_checks() {
	local desc=$1 out rc line nfail=0 nok=0
	shift
	out=$(mktemp "$IT_DIR/checks.XXXXXX")
	"$@" 2>&1 | tee "$out"
	rc=${PIPESTATUS[0]}
	while IFS= read -r line; do
		case "$line" in
		"ok - "*) nok=$((nok + 1)) ;;
		"not ok - "*) nfail=$((nfail + 1)) ;;
		esac
	done <"$out"
	IT_PASSED=$((IT_PASSED + nok))
	IT_FAILED=$((IT_FAILED + nfail))
	if [ "$rc" -ne 0 ] && [ "$nfail" -eq 0 ]; then
		it_fail "$desc: helper exited with status $rc"
	elif [ "$nok" -eq 0 ] && [ "$nfail" -eq 0 ]; then
		it_fail "$desc: helper reported no checks"
	fi
}

# ---------------------------------------------------------------- small utilities
it_sha256() { sha256sum "$1" | cut -d' ' -f1; }

# it_random_file PATH BYTES
it_random_file() {
	head -c "$2" /dev/urandom >"$1"
}

# Three free TCP ports on 127.0.0.1, space separated (rgw.sh helper).
it_free_ports() { rgw__free_ports; }

# Poll CMD... for up to SECS seconds.
it_wait_for() { rgw__wait_for "$@"; }

# it_metric SERIES: the value of one series of lotad's admin /metrics, named exactly as
# it is printed (`lota_cache_hits_total`, `lota_cache_bytes{dir="0"}`). Prints nothing
# and fails when lotad does not answer or has no such series.
it_metric() {
	local m
	m=$(curl -sf -m 5 "http://127.0.0.1:$IT_LOTAD_ADMIN_PORT/metrics") || return 1
	awk -v s="$1" '$1 == s { print $2; found = 1; exit } END { exit !found }' <<<"$m"
}

# it_wait_metric SECS SERIES VALUE: poll until SERIES equals VALUE (at most SECS seconds).
it_wait_metric() {
	local deadline=$((SECONDS + $1))
	while :; do
		[ "$(it_metric "$2")" = "$3" ] && return 0
		[ $SECONDS -ge "$deadline" ] && return 1
		sleep 0.1
	done
}

# it_metric0 SERIES: as it_metric, but a series lotad does not print counts as 0 (a
# labelled counter such as lota_requests_total{op=..,status=..} appears at its first
# increment). Fails only when lotad does not answer.
it_metric0() {
	local m
	m=$(curl -sf -m 5 "http://127.0.0.1:$IT_LOTAD_ADMIN_PORT/metrics") || return 1
	awk -v s="$1" '$1 == s { v = $2 } END { print (v == "" ? 0 : v) }' <<<"$m"
}

# it_wait_metric_ge SECS SERIES MIN: poll until the counter SERIES (0 while not printed)
# is at least MIN (at most SECS seconds): the event it counts has happened.
it_wait_metric_ge() {
	local deadline=$((SECONDS + $1)) v
	while :; do
		v=$(it_metric0 "$2") && [ "$v" -ge "$3" ] 2>/dev/null && return 0
		[ $SECONDS -ge "$deadline" ] && return 1
		sleep 0.1
	done
}

# it_requests_done OP: how many requests of operation OP (get_object, head_object,
# put_object, ... as in lota_requests_total) lotad has answered, whatever their status.
# lotad counts a request when it ends it, after every decision it took for it (a fill
# started, an upload aborted): waiting for this count is how a test knows a request was
# processed before it asserts that something did not happen. A request whose client
# went away is counted too (status 499), when lotad has ended it.
it_requests_done() { it_metric0 "lota_request_duration_seconds_count{op=\"$1\"}"; }

# it_wait_requests_done SECS OP N: poll until it_requests_done OP >= N.
it_wait_requests_done() {
	it_wait_metric_ge "$1" "lota_request_duration_seconds_count{op=\"$2\"}" "$3"
}

# ---------------------------------------------------------------- radosgw
it_rgw_start() {
	IT_RGW_DIR=$IT_DIR/rgw
	if ! rgw_start "$IT_RGW_DIR"; then
		IT_RGW_DIR=
		it_die "radosgw test cluster did not start (see the log tail above)"
	fi
	# shellcheck disable=SC1091
	. "$IT_RGW_DIR/rgw.env"
	it_log "radosgw on $RGW_ENDPOINT, started in $((RGW_START_MS / 1000)).$(printf '%03d' $((RGW_START_MS % 1000))) s"
}

# ---------------------------------------------------------------- lotad
# The daemon under test. It is started with the same credentials file the clients use
# (alice and bob), so it can verify their signatures locally.
it_lotad_bin() { echo "${LOTA_BUILD_DIR:-$IT_LIB_DIR/../../build}/daemon/lotad"; }

it_lotad_healthy() {
	curl -sf -m 2 -o /dev/null "http://127.0.0.1:$IT_LOTAD_ADMIN_PORT/healthz"
}

# lotad_start UPSTREAM_PORT CREDENTIALS_FILE: start lotad in the background, wait for
# /healthz. Sets IT_LOTAD_PORT / IT_LOTAD_ADMIN_PORT / IT_LOTAD_PID.
lotad_start() {
	local ports
	ports=$(it_free_ports) || it_die "cannot pick free ports for lotad"
	read -r IT_LOTAD_PORT IT_LOTAD_ADMIN_PORT _ <<<"$ports"
	IT_LOTAD_UPSTREAM_PORT=$1 IT_LOTAD_CREDENTIALS=$2
	lotad__launch
}

# Start lotad on IT_LOTAD_PORT / IT_LOTAD_ADMIN_PORT with LOTA_TEST_LOTAD_ARGS (the
# caller's) and IT_LOTAD_ARGS (the test's), appending to $IT_DIR/lotad.log, and wait for
# /healthz.
lotad__launch() {
	local bin
	bin=$(it_lotad_bin)
	if [ ! -x "$bin" ]; then
		it_die "lotad is not built ($bin missing); build it, or set LOTA_TEST_DIRECT=1 to run the tests against radosgw directly"
	fi
	# shellcheck disable=SC2086 # LOTA_TEST_LOTAD_ARGS is a list of words
	"$bin" --listen "127.0.0.1:$IT_LOTAD_PORT" \
		--upstream "${IT_UPSTREAM_URL:-http://127.0.0.1:$IT_LOTAD_UPSTREAM_PORT}" \
		--credentials "$IT_LOTAD_CREDENTIALS" \
		--admin-listen "127.0.0.1:$IT_LOTAD_ADMIN_PORT" \
		--endpoint-name localhost \
		${LOTA_TEST_LOTAD_ARGS:-} "${IT_LOTAD_ARGS[@]}" \
		>>"$IT_DIR/lotad.log" 2>&1 </dev/null &
	IT_LOTAD_PID=$!
	local deadline=$((SECONDS + 20))
	until it_lotad_healthy; do
		if ! kill -0 "$IT_LOTAD_PID" 2>/dev/null; then
			wait "$IT_LOTAD_PID" 2>/dev/null
			local rc=$?
			IT_LOTAD_PID=
			echo "# ---- lotad exited with status $rc; last lines of its log:"
			tail -n 25 "$IT_DIR/lotad.log" | sed 's/^/#   /'
			it_die "lotad did not start"
		fi
		if [ $SECONDS -ge $deadline ]; then
			echo "# ---- lotad /healthz silent for 20 s; last lines of its log:"
			tail -n 25 "$IT_DIR/lotad.log" | sed 's/^/#   /'
			it_die "lotad did not become healthy"
		fi
		sleep 0.1
	done
	it_log "lotad (pid $IT_LOTAD_PID) on 127.0.0.1:$IT_LOTAD_PORT, admin :$IT_LOTAD_ADMIN_PORT"
}

# lotad_restart: stop lotad (SIGTERM, with the checks of lotad_stop; nothing when it is
# not running, e.g. after lotad_kill) and start it again on the same ports with the
# current IT_LOTAD_ARGS (a test may change them in between: another cache dir, another
# node secret). The clients' configs stay valid.
lotad_restart() {
	lotad_stop
	lotad__launch
}

# lotad_kill: SIGKILL lotad by PID and reap it (a crash; its exit status is not checked).
lotad_kill() {
	[ -n "$IT_LOTAD_PID" ] || return 0
	local pid=$IT_LOTAD_PID
	IT_LOTAD_PID=
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}

# Stop lotad by PID: SIGTERM, wait up to 10 s, then SIGKILL (reported as a failure:
# a daemon that ignores SIGTERM is a bug).
lotad_stop() {
	[ -n "$IT_LOTAD_PID" ] || return 0
	local pid=$IT_LOTAD_PID i
	IT_LOTAD_PID=
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid" 2>/dev/null
		it_fail "lotad exits within 10 s of SIGTERM"
	fi
	wait "$pid" 2>/dev/null
	local rc=$?
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 143 ]; then
		it_fail "lotad exit status after SIGTERM is 0 (got $rc)"
		tail -n 15 "$IT_DIR/lotad.log" | sed 's/^/#   /'
	fi
	return 0
}

# ---------------------------------------------------------------- client configs
# Profiles: alice, bob (real users), alice-vhost / bob-vhost (virtual-hosted style),
# wrongsecret (alice's key with a wrong secret), unknown (a key nobody has).
IT_WRONG_SECRET=wrongsecret000000000000000000000000000000
IT_UNKNOWN_ACCESS=AKIANOBODY0000000000
IT_UNKNOWN_SECRET=nobodysecret00000000000000000000000000000

# Key pair of a profile: sets IT_AK / IT_SK.
it_keys() {
	case "$1" in
	alice | alice-vhost) IT_AK=$RGW_ALICE_ACCESS IT_SK=$RGW_ALICE_SECRET ;;
	bob | bob-vhost) IT_AK=$RGW_BOB_ACCESS IT_SK=$RGW_BOB_SECRET ;;
	wrongsecret) IT_AK=$RGW_ALICE_ACCESS IT_SK=$IT_WRONG_SECRET ;;
	unknown) IT_AK=$IT_UNKNOWN_ACCESS IT_SK=$IT_UNKNOWN_SECRET ;;
	*)
		echo "it_keys: unknown profile $1" >&2
		return 1
		;;
	esac
}

IT_PROFILES="alice bob alice-vhost bob-vhost wrongsecret unknown"

# it_creds_file FILE PROFILE...: a credentials file (mode 0600) with those profiles' keys
# (it_keys): for a lotad that holds some users' keys and not others'.
it_creds_file() {
	local f=$1 p
	shift
	: >"$f"
	chmod 600 "$f"
	for p in "$@"; do
		it_keys "$p" || return 1
		printf '[%s]\naws_access_key_id = %s\naws_secret_access_key = %s\n' "$p" "$IT_AK" "$IT_SK" >>"$f"
	done
}

# The operator: a third radosgw user whose key lotad may fill with (--fill-credentials),
# created by it_operator_create; users grant it read with it_put_granted.
IT_OP_ACCESS=AKIAOPERATOR0000TEST
IT_OP_SECRET=operatorsecret000000000000000000000test
it_operator_create() {
	if timeout 60 radosgw-admin -c "$RGW_DIR/ceph.conf" user create --uid operator \
		--display-name operator --access-key "$IT_OP_ACCESS" --secret-key "$IT_OP_SECRET" \
		>"$IT_DIR/operator.out" 2>&1; then
		it_pass "radosgw user operator created"
	else
		it_fail "radosgw user operator created"
	fi
}

# it_creds_with_operator FROM TO: the credentials file FROM with the operator's key added
# as profile "operator", written to TO (0600).
it_creds_with_operator() {
	{
		cat "$1"
		printf '\n[operator]\naws_access_key_id = %s\naws_secret_access_key = %s\n' \
			"$IT_OP_ACCESS" "$IT_OP_SECRET"
	} >"$2"
	chmod 600 "$2"
}

# it_put_granted PROFILE BUCKET KEY FILE: upload FILE at radosgw as PROFILE, readable by
# the operator (boto3 put_object with GrantRead); prints "ok" when radosgw took it.
it_put_granted() {
	it_keys "$1" || return 1
	AWS_ACCESS_KEY_ID=$IT_AK AWS_SECRET_ACCESS_KEY=$IT_SK \
		it_python - "$RGW_ENDPOINT" "$2" "$3" "$4" "$1" <<'PY'
import sys, boto3
ep, b, k, path, owner = sys.argv[1:6]
s3 = boto3.client("s3", endpoint_url=ep, region_name="us-east-1")
s3.put_object(Bucket=b, Key=k, Body=open(path, "rb").read(),
              GrantRead='id="operator"', GrantFullControl='id="%s"' % owner)
print("ok")
PY
}

# it_mkobj_marked PATH MARK SIZE: SIZE random bytes with MARK at the start of every 4 KiB,
# so that any piece of the object larger than 4 KiB that leaks contains MARK.
it_mkobj_marked() {
	/usr/bin/python3 - "$1" "$2" "$3" <<'PY'
import os, sys
path, mark, size = sys.argv[1], sys.argv[2].encode(), int(sys.argv[3])
out = bytearray()
while len(out) < size:
    out += mark + os.urandom(4096 - len(mark))
open(path, "wb").write(out[:size])
PY
}

it_write_client_configs() {
	local p d=$IT_DIR/clients
	mkdir -p "$d"
	# The credentials lotad knows: the two real users only.
	cat >"$d/lotad-credentials" <<EOF
[alice]
aws_access_key_id = $RGW_ALICE_ACCESS
aws_secret_access_key = $RGW_ALICE_SECRET

[bob]
aws_access_key_id = $RGW_BOB_ACCESS
aws_secret_access_key = $RGW_BOB_SECRET
EOF
	: >"$d/aws-credentials"
	: >"$d/aws-config"
	: >"$d/rclone.conf"
	for p in $IT_PROFILES; do
		it_keys "$p"
		cat >>"$d/aws-credentials" <<EOF
[$p]
aws_access_key_id = $IT_AK
aws_secret_access_key = $IT_SK

EOF
		{
			echo "[profile $p]"
			echo "region = $RGW_REGION"
			echo "output = json"
			case $p in
			*-vhost) printf 's3 =\n    addressing_style = virtual\n' ;;
			*) printf 's3 =\n    addressing_style = path\n' ;;
			esac
			echo
		} >>"$d/aws-config"
		local hb=$S3_HOST_PORT hbase=$S3_HOST_PORT
		case $p in *-vhost)
			hb="%(bucket)s.$S3_VHOST_DOMAIN:$S3_PORT"
			hbase=$S3_VHOST_DOMAIN:$S3_PORT
			;;
		esac
		cat >"$d/s3cmd-$p.cfg" <<EOF
[default]
access_key = $IT_AK
secret_key = $IT_SK
host_base = $hbase
host_bucket = $hb
bucket_location = $RGW_REGION
use_https = False
signature_v2 = False
check_ssl_certificate = False
guess_mime_type = False
progress_meter = False
EOF
		# rclone (Go) resolves names itself and would ask a DNS server for
		# "bucket.localhost": it gets path-style remotes only.
		case $p in *-vhost) continue ;; esac
		cat >>"$d/rclone.conf" <<EOF
[$p]
type = s3
provider = Ceph
access_key_id = $IT_AK
secret_access_key = $IT_SK
endpoint = $S3_ENDPOINT
region = $RGW_REGION
force_path_style = true

EOF
	done
	IT_CREDENTIALS=$d/lotad-credentials
}

# ---------------------------------------------------------------- setup
# it_setup: radosgw, then lotad in front of it (or nothing with LOTA_TEST_DIRECT=1),
# then the client configs for the endpoint under test.
it_setup() {
	it_rgw_start
	IT_CREDENTIALS=$IT_DIR/clients/lotad-credentials
	S3_VHOST_DOMAIN=localhost
	if [ "${LOTA_TEST_DIRECT:-}" = 1 ]; then
		S3_PORT=$RGW_PORT
		it_log "LOTA_TEST_DIRECT=1: clients talk to radosgw directly"
	else
		# lotad needs the credentials file before the client configs exist.
		S3_HOST_PORT=127.0.0.1:$RGW_PORT S3_ENDPOINT=$RGW_ENDPOINT S3_PORT=$RGW_PORT
		it_write_client_configs
		lotad_start "$RGW_PORT" "$IT_CREDENTIALS"
		S3_PORT=$IT_LOTAD_PORT
	fi
	S3_HOST_PORT=127.0.0.1:$S3_PORT
	S3_ENDPOINT=http://$S3_HOST_PORT
	export S3_ENDPOINT S3_PORT S3_HOST_PORT S3_VHOST_DOMAIN RGW_ENDPOINT RGW_REGION \
		RGW_ALICE_ACCESS RGW_ALICE_SECRET RGW_BOB_ACCESS RGW_BOB_SECRET \
		IT_WRONG_SECRET IT_UNKNOWN_ACCESS IT_UNKNOWN_SECRET
	it_write_client_configs
}

# ---------------------------------------------------------------- clients
# Environment for the Python-based clients: generated config files, and *.localhost
# resolution for virtual-hosted style.
it__pyenv() {
	env -u PYTHONHOME \
		PYTHONPATH="$IT_CLIENTS_DIR/site" PYTHONDONTWRITEBYTECODE=1 \
		AWS_SHARED_CREDENTIALS_FILE="$IT_DIR/clients/aws-credentials" \
		AWS_CONFIG_FILE="$IT_DIR/clients/aws-config" \
		AWS_EC2_METADATA_DISABLED=true \
		"$@"
}

# it_aws PROFILE ARGS... : /usr/bin/aws against the endpoint under test.
it_aws() {
	local p=$1 ep=$S3_ENDPOINT
	shift
	# Virtual-hosted style needs a name in the endpoint (botocore will not put a bucket
	# in front of an IP address): http://localhost:PORT -> http://BUCKET.localhost:PORT.
	case $p in *-vhost) ep=http://$S3_VHOST_DOMAIN:$S3_PORT ;; esac
	it__pyenv AWS_PROFILE="$p" timeout 300 "$IT_AWS" --endpoint-url "$ep" \
		--no-cli-pager "$@"
}

# it_python SCRIPT ARGS... : Debian's python3 (boto3) with the test environment.
it_python() {
	it__pyenv PYTHONPATH="$IT_CLIENTS_DIR/site:$IT_CLIENTS_DIR" timeout 300 "$IT_PY" "$@"
}

# it_s3cmd PROFILE ARGS...
it_s3cmd() {
	local p=$1
	shift
	it__pyenv timeout 300 s3cmd -c "$IT_DIR/clients/s3cmd-$p.cfg" "$@"
}

# it_rclone ARGS... (remotes are the profile names: alice:bucket/key)
it_rclone() {
	timeout 300 rclone --config "$IT_DIR/clients/rclone.conf" --retries 1 \
		--low-level-retries 1 "$@"
}

# it_curl PROFILE [--vhost BUCKET] ARGS... : curl --aws-sigv4 signed as PROFILE.
# With --vhost, "http://BUCKET.localhost:PORT" is connected to 127.0.0.1:PORT.
# curl (7.88) signs an empty payload hash unless told otherwise, which S3 rejects for a
# body; UNSIGNED-PAYLOAD is what S3 clients send for streamed bodies.
it_curl() {
	local p=$1
	shift
	it_keys "$p" || return 1
	local extra=()
	if [ "${1:-}" = --vhost ]; then
		extra=(--connect-to "$2.$S3_VHOST_DOMAIN:$S3_PORT:127.0.0.1:$S3_PORT")
		shift 2
	fi
	timeout 300 curl -sS --aws-sigv4 "aws:amz:$RGW_REGION:s3" --user "$IT_AK:$IT_SK" \
		-H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "${extra[@]}" "$@"
}

# S3 error code in an XML body on stdin ("" when none).
it_s3_code() { sed -n 's:.*<Code>\([^<]*\)</Code>.*:\1:p' | head -n 1; }
