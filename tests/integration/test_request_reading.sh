#!/usr/bin/env bash
# test_request_reading.sh - lotad reads a request as the upstream does, answers a HEAD as
# HTTP says, and keeps secrets in a request target out of its log:
#   - a HEAD lotad refuses itself gets the head alone (Content-Length as the GET's, no
#     body byte on the connection);
#   - Host: <bucket>.<upstream address> is not virtual-hosted for radosgw, nor for lotad:
#     bob's write to his own bucket does not drop alice's cached extents;
#   - a target with X-Amz-Signature=, X-Amz-Credential=, X-Amz-Security-Token= in its path
#     or query (raw or %3D) is logged with those values redacted.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
[ "${LOTA_TEST_DIRECT:-0}" = 1 ] && it_skip "lotad-specific test (LOTA_TEST_DIRECT=1)"
it_require_rgw
it_require_cmd curl grep
IT_LOTAD_ARGS=(--cache-dir "$IT_DIR/cache:256MiB" --extent-size 1MiB --min-object-size 1MiB
	--access-log)
it_setup
export IT_LOTAD_ADMIN_PORT
it_run_checks "request reading" it_python "$IT_CLIENTS_DIR/request_reading.py"

# --- secrets in a logged target
RND=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
SIG=SIGSECRET$RND
CRED=CREDSECRET$RND
TOK=TOKSECRET$RND
LOG=$IT_DIR/lotad.log
targets=(
	"/redact-$RND-1/X-Amz-Signature=$SIG/k?X-Amz-Credential=$CRED"
	"/redact-$RND-2/k&X-Amz-Security-Token=$TOK&x=1"
	"/redact-$RND-3/x-amz-signature%3D$SIG"
	"/redact-$RND-4/k?x-id=GetObject&X-Amz-Signature=$SIG&X-Amz-Security-Token=$TOK"
)
for tg in "${targets[@]}"; do
	curl -s -o /dev/null --path-as-is "$S3_ENDPOINT$tg" || true
done
for i in 1 2 3 4; do
	check "the access log has the request to redact-$RND-$i" \
		it_wait_for 20 grep -q "target=/redact-$RND-$i" "$LOG"
done
check "no signature in the log" bash -c "! grep -q '$SIG' '$LOG'"
check "no credential in the log" bash -c "! grep -q '$CRED' '$LOG'"
check "no security token in the log" bash -c "! grep -q '$TOK' '$LOG'"
check "the log says REDACTED where they stood" grep -q "redact-$RND-1/X-Amz-Signature=REDACTED" "$LOG"
it_finish
