#!/usr/bin/env bash
# test_ops_observe.sh - what an operator reads: lotad with --log-format json and
# --access-log in front of radosgw. Every log line is one JSON object (python3 json);
# the access line of each request has the fields operators grep for (req_id, op, bucket,
# status, bytes_in, bytes_out, source, duration_us), with source upstream for a miss,
# cache for a hit, proxy for a PUT and lotad for a refused signature; a presigned
# URL's signature and credential never appear in the log. A bad --log-format is refused
# at start with the key and the reason.
# Then the dashboard: lotad is a one-member cluster (so the cluster series exist too);
# after a miss and a hit its /metrics passes `promtool check metrics`, and every query of
# deploy/grafana/lota.json names only metrics and labels it exports
# (tests/deploy/check_dashboard.py).
. "$(dirname "$0")/lib.sh"
it_require_rgw
it_require_cmd "$IT_PY" promtool
SRC=${LOTA_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
read -r PEER_PORT _ <<<"$(it_free_ports)"
head -c 32 /dev/urandom >"$IT_DIR/cluster.secret"
chmod 600 "$IT_DIR/cluster.secret"
IT_LOTAD_ARGS=(--cache-dir "$IT_DIR/cache:1GiB" --log-format json --access-log
	--node-id n1 --peer-listen "127.0.0.1:$PEER_PORT" --peer "n1=127.0.0.1:$PEER_PORT"
	--cluster-secret-file "$IT_DIR/cluster.secret")
it_setup

W=$IT_DIR/work
mkdir -p "$W"
B=lota-ops
E=$S3_ENDPOINT
LOG=$IT_DIR/lotad.log

# --- a bad format stops lotad at start, naming the key and why
out=$("$(it_lotad_bin)" --upstream http://127.0.0.1:1 --log-format xml 2>&1)
rc=$?
check_eq "--log-format xml: exit 2" 2 "$rc"
check_contains "--log-format xml: the key and the reason" \
	'config key "log_format": "xml" is not text or json' "$out"

check_eq "create bucket" 200 "$(it_curl alice -o /dev/null -w '%{http_code}' -X PUT "$E/$B")"
it_random_file "$W/obj" $((5 * 1024 * 1024 + 3))
SHA=$(it_sha256 "$W/obj")
check_eq "PUT" 200 "$(it_curl alice -o /dev/null -w '%{http_code}' -T "$W/obj" "$E/$B/o.bin")"
check_eq "GET (miss)" 200 "$(it_curl alice -o "$W/miss" -w '%{http_code}' "$E/$B/o.bin")"
check_eq "GET (miss) bytes" "$SHA" "$(it_sha256 "$W/miss")"
it_wait_metric_ge 30 lota_cache_fills_total'{result="started"}' 1 ||
	it_fail "the miss started a fill"
# the fill is published when a GET is a hit: poll for it, never sleep
deadline=$((SECONDS + 30))
while :; do
	h=$(it_curl alice -o "$W/hit" -D "$W/hdr" -w '%{http_code}' "$E/$B/o.bin")
	grep -qi '^x-lota-cache: hit' "$W/hdr" && break
	[ $SECONDS -ge $deadline ] && break
	sleep 0.2
done
check_eq "GET (hit) 200" 200 "$h"
check_contains "GET (hit) x-lota-cache" "hit" "$(grep -i '^x-lota-cache' "$W/hdr")"
check_eq "GET (hit) bytes" "$SHA" "$(it_sha256 "$W/hit")"
check_eq "wrong secret refused by lotad" 403 \
	"$(it_curl wrongsecret -o /dev/null -w '%{http_code}' "$E/$B/o.bin")"
# a presigned URL: its secrets must not reach the log
URL=$(it_aws alice s3 presign "s3://$B/o.bin")
check_eq "presigned GET" 200 "$(curl -sS -o /dev/null -w '%{http_code}' "$URL")"
SIG=$(sed -n 's/.*X-Amz-Signature=\([0-9a-f]*\).*/\1/p' <<<"$URL")
it_wait_requests_done 20 get_object 4 || it_fail "lotad ended the GETs"

check "every log line is one JSON object" "$IT_PY" -c '
import json, sys
n = 0
for line in open(sys.argv[1], "rb"):
    j = json.loads(line)
    assert isinstance(j, dict) and "ts" in j and "level" in j and "msg" in j, line
    n += 1
assert n > 5, n' "$LOG"

# access FIELD=VALUE...: an access line with these values (all fields present) exists
access() {
	"$IT_PY" - "$LOG" "$@" <<'PY'
import json, sys
want = dict(a.split("=", 1) for a in sys.argv[2:])
need = ["req_id", "op", "bucket", "status", "bytes_in", "bytes_out", "source", "duration_us"]
for line in open(sys.argv[1], "rb"):
    j = json.loads(line)
    if j.get("msg") != "access":
        continue
    missing = [f for f in need if f not in j]
    if missing:
        sys.exit("access line without %s: %s" % (missing, line))
    if all(str(j[k]) == v for k, v in want.items()):
        assert isinstance(j["status"], int) and isinstance(j["bytes_out"], int)
        assert isinstance(j["duration_us"], int) and j["duration_us"] >= 0
        sys.exit(0)
sys.exit("no access line with %s" % want)
PY
}
check "access: PUT proxied, bytes in" access op=put_object bucket=$B status=200 source=proxy \
	bytes_in=$((5 * 1024 * 1024 + 3))
check "access: the miss came from the upstream" access op=get_object bucket=$B status=200 \
	source=upstream
check "access: the hit came from the cache" access op=get_object bucket=$B status=200 \
	source=cache
check "access: the refused signature answered by lotad" access status=403 source=lotad
check "access: a request id from the upstream" "$IT_PY" -c '
import json, sys
ids = [json.loads(l).get("req_id") for l in open(sys.argv[1], "rb")]
assert any(i for i in ids if i), ids' "$LOG"
if [ -n "$SIG" ]; then
	check "the presigned signature is not in the log" bash -c "! grep -q '$SIG' '$LOG'"
	check "the presigned target is logged, redacted" grep -q 'X-Amz-Signature=REDACTED' "$LOG"
else
	it_fail "a presigned URL was made"
fi
check "no secret key in the log" bash -c "! grep -qF '$RGW_ALICE_SECRET' '$LOG'"

# --- the dashboard against the live /metrics
check "GET /metrics" bash -c "curl -sf -m 5 http://127.0.0.1:$IT_LOTAD_ADMIN_PORT/metrics >'$W/metrics'"
check "promtool check metrics" bash -c "promtool check metrics <'$W/metrics'"
it_run_checks "dashboard queries" "$IT_PY" "$SRC/tests/deploy/check_dashboard.py" \
	"$SRC/deploy/grafana/lota.json" "$W/metrics"

it_finish
