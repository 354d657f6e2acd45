#!/usr/bin/env bash
# test_upstream_tls.sh - lotad in front of an HTTPS upstream: radosgw serves TLS with a
# certificate from a CA made for the test; lotad verifies it with --upstream-ca-file and
# relays byte-exact bodies both ways. Without the CA (only the system roots) the upstream
# is refused: every request fails with an S3 error, nothing is sent in clear, and the
# failure is counted as a TLS upstream error.
. "$(dirname "$0")/lib.sh"
it_require_rgw
it_require_cmd openssl
if [ "${LOTA_TEST_DIRECT:-}" = 1 ]; then
	it_skip "this test is about lotad's upstream client"
fi
export RGW_TLS=1
it_rgw_start
IT_CREDENTIALS=$IT_DIR/clients/lotad-credentials
S3_VHOST_DOMAIN=localhost S3_HOST_PORT=127.0.0.1:$RGW_PORT S3_ENDPOINT=$RGW_ENDPOINT S3_PORT=$RGW_PORT
export S3_ENDPOINT S3_PORT S3_HOST_PORT S3_VHOST_DOMAIN RGW_ENDPOINT RGW_REGION \
	RGW_ALICE_ACCESS RGW_ALICE_SECRET RGW_BOB_ACCESS RGW_BOB_SECRET \
	IT_WRONG_SECRET IT_UNKNOWN_ACCESS IT_UNKNOWN_SECRET
it_write_client_configs

W=$IT_DIR/work
mkdir -p "$W"
B=lota-tls
check "radosgw answers HTTPS with the test CA" \
	curl -sf -o /dev/null --cacert "$RGW_TLS_CA" "https://localhost:$RGW_TLS_PORT/"

use_lotad() { # extra lotad args...
	lotad_stop
	IT_UPSTREAM_URL=https://localhost:$RGW_TLS_PORT LOTA_TEST_LOTAD_ARGS="$*" \
		lotad_start "$RGW_PORT" "$IT_CREDENTIALS"
	S3_PORT=$IT_LOTAD_PORT S3_HOST_PORT=127.0.0.1:$IT_LOTAD_PORT
	S3_ENDPOINT=http://$S3_HOST_PORT
	export S3_PORT S3_HOST_PORT S3_ENDPOINT
	it_write_client_configs
}

use_lotad --upstream-ca-file "$RGW_TLS_CA"
check "create bucket through lotad over TLS" it_curl alice -f -X PUT "$S3_ENDPOINT/$B"
it_random_file "$W/obj" $((5 * 1048576 + 3))
check "PUT 5 MiB through lotad over TLS" it_curl alice -f -o /dev/null -T "$W/obj" "$S3_ENDPOINT/$B/o"
: >"$W/back"
it_curl alice -sf -o "$W/back" "$S3_ENDPOINT/$B/o"
check_eq "GET returns the same bytes" "$(it_sha256 "$W/obj")" "$(it_sha256 "$W/back")"
code=$(it_curl alice -s -o "$W/err" -w '%{http_code}' "$S3_ENDPOINT/$B/missing")
check_eq "upstream errors are relayed over TLS (404)" 404 "$code"

use_lotad
code=$(it_curl alice -s -o "$W/err" -w '%{http_code}' "$S3_ENDPOINT/$B/o")
check_eq "an upstream certificate from an unknown CA is refused (502)" 502 "$code"
check_eq "the refusal is an S3 error" InternalError "$(it_s3_code <"$W/err")"
metrics=$(curl -s "http://127.0.0.1:$IT_LOTAD_ADMIN_PORT/metrics")
tls=$(echo "$metrics" | sed -n 's/^lota_upstream_errors_total{kind="tls"} //p')
check "the failure counts as a TLS upstream error ($tls)" test "${tls:-0}" -ge 1
check "lotad logs the verification failure" grep -qi 'certificate\|SSL' "$IT_DIR/lotad.log"

use_lotad --upstream-ca-file "$RGW_TLS_CA"
it_curl alice -s -o /dev/null -X DELETE "$S3_ENDPOINT/$B/o"
check "delete bucket" it_curl alice -f -X DELETE "$S3_ENDPOINT/$B"
it_finish
