# stack.sh - sourced by the demo and the benchmarks: a throw-away radosgw cluster on
# 127.0.0.1 (tests/integration/rgw.sh) with lotad in front of it, both in one temp dir
# that an EXIT trap removes after stopping the processes by PID.
#
#   stack_start LOTAD_BIN [LOTAD_ARGS...]
#
# Sets STACK_DIR, the RGW_* variables of rgw.env (RGW_ENDPOINT, user keys), LOTAD_PORT,
# LOTAD_ADMIN_PORT and LOTAD_PID. lotad knows alice's key (STACK_DIR/credentials).
# RGW_MEMSTORE_BYTES sizes radosgw's RAM-backed store. Exits when either does not start.
# shellcheck disable=SC1091
. "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tests/integration/rgw.sh"

STACK_DIR=
LOTAD_PID=

stack__cleanup() {
	# never stop half-way (set -e in the callers): the cluster must go too
	if [ -n "$LOTAD_PID" ]; then
		kill "$LOTAD_PID" 2>/dev/null && wait "$LOTAD_PID" 2>/dev/null || true
	fi
	if [ -n "$STACK_DIR" ]; then
		rgw_stop "$STACK_DIR/rgw" >/dev/null 2>&1 || true
		rm -rf "$STACK_DIR"
	fi
}

stack_start() {
	local bin=$1
	shift
	STACK_DIR=$(mktemp -d /tmp/lota-stack.XXXXXX)
	trap stack__cleanup EXIT
	rgw_start "$STACK_DIR/rgw" >/dev/null || { echo "radosgw did not start" >&2; exit 1; }
	. "$STACK_DIR/rgw/rgw.env"
	cat >"$STACK_DIR/credentials" <<EOC
[alice]
aws_access_key_id = $RGW_ALICE_ACCESS
aws_secret_access_key = $RGW_ALICE_SECRET
EOC
	chmod 600 "$STACK_DIR/credentials"
	read -r LOTAD_PORT LOTAD_ADMIN_PORT _ <<<"$(rgw__free_ports)"
	"$bin" --listen "127.0.0.1:$LOTAD_PORT" --admin-listen "127.0.0.1:$LOTAD_ADMIN_PORT" \
		--upstream "$RGW_ENDPOINT" --credentials "$STACK_DIR/credentials" "$@" \
		>"$STACK_DIR/lotad.log" 2>&1 </dev/null &
	LOTAD_PID=$!
	local i
	for i in $(seq 100); do
		curl -sf -o /dev/null "http://127.0.0.1:$LOTAD_ADMIN_PORT/healthz" && return 0
		kill -0 "$LOTAD_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "lotad did not become healthy; its log:" >&2
	tail -n 20 "$STACK_DIR/lotad.log" >&2
	exit 1
}
