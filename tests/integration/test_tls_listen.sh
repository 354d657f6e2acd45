#!/usr/bin/env bash
# test_tls_listen.sh - HTTPS for the names lotad serves (--tls-listen, --ca-dir): the node
# CA made at first start (ca.key 0600, bundle.pem = system roots + ca.pem, `lota
# ca-bundle`), real clients verifying lotad's certificates with the bundle (curl
# --aws-sigv4 --cacert / CURL_CA_BUNDLE, boto3 verify=, awscli AWS_CA_BUNDLE, s3cmd
# ca_certs_file, Python's SSL_CERT_FILE): a 24 MiB object byte-exact by sha256, the second
# read a hit, PUT through TLS, virtual-hosted names (SNI bucket.localhost).
# Then the redirected form: lotad's TLS listener on 127.0.0.2 at radosgw's port, and a
# client that believes it talks to the upstream itself (https://localhost:RGWPORT, signed
# for that host): forwarded untouched, byte-exact.
# Refusals: a client without the bundle fails its handshake (curl exit 60, boto3 and
# awscli SSL errors) and is never served unverified; a name lotad does not serve, or no
# name, gets an alert and no certificate; a ca.key others may read stops lotad at start.
# The plain listener keeps serving as before.
# shellcheck source=lib.sh disable=SC2317 # (helpers run through check)
. "$(dirname "$0")/lib.sh"
[ "${LOTA_TEST_DIRECT:-0}" = 1 ] && it_skip "lotad-specific test (LOTA_TEST_DIRECT=1)"
it_require_rgw
it_require_boto3
it_require_cmd curl openssl "$IT_AWS" s3cmd

CA=$IT_DIR/ca
BUNDLE=$CA/bundle.pem
read -r TLS_PORT _ <<<"$(it_free_ports)"
it_rgw_start
# lotad's upstream is named "localhost" (so localhost:RGW_PORT is the upstream's own
# name), and "localhost" is also lotad's --endpoint-name (lib.sh): https://localhost:TLS
# is lotad's own endpoint over TLS.
IT_UPSTREAM_URL=http://localhost:$RGW_PORT
IT_LOTAD_ARGS=(--tls-listen "127.0.0.1:$TLS_PORT" --ca-dir "$CA"
	--cache-dir "$IT_DIR/cache:1GiB" --min-object-size 1MiB)
S3_HOST_PORT=127.0.0.1:$RGW_PORT S3_ENDPOINT=$RGW_ENDPOINT S3_PORT=$RGW_PORT S3_VHOST_DOMAIN=localhost
it_write_client_configs
lotad_start "$RGW_PORT" "$IT_CREDENTIALS"
S3_PORT=$IT_LOTAD_PORT S3_HOST_PORT=127.0.0.1:$IT_LOTAD_PORT
S3_ENDPOINT=http://$S3_HOST_PORT
export S3_ENDPOINT S3_PORT S3_HOST_PORT S3_VHOST_DOMAIN RGW_ENDPOINT RGW_REGION \
	RGW_ALICE_ACCESS RGW_ALICE_SECRET RGW_BOB_ACCESS RGW_BOB_SECRET \
	IT_WRONG_SECRET IT_UNKNOWN_ACCESS IT_UNKNOWN_SECRET
it_write_client_configs

W=$IT_DIR/work
mkdir -p "$W"
B=lota-tls-listen
TLS=https://localhost:$TLS_PORT
RES=(--resolve "localhost:$TLS_PORT:127.0.0.1")
SIZE=$((24 * 1048576 + 5))
it_random_file "$W/obj" $SIZE
SUM=$(it_sha256 "$W/obj")

# --- the node CA on disk
check_eq "ca.key is 0600" 600 "$(stat -c %a "$CA/ca.key")"
check_eq "ca.pem is 0644" 644 "$(stat -c %a "$CA/ca.pem")"
check "ca.pem is a CA certificate (CA:TRUE, pathlen 0)" \
	sh -c "openssl x509 -in '$CA/ca.pem' -noout -text | grep -q 'CA:TRUE, pathlen:0'"
roots=$(grep -c 'BEGIN CERTIFICATE' /etc/ssl/certs/ca-certificates.crt)
check_eq "bundle.pem = the system roots + ca.pem" $((roots + 1)) "$(grep -c 'BEGIN CERTIFICATE' "$BUNDLE")"
check "bundle.pem ends with ca.pem" sh -c "tail -c $(stat -c %s "$CA/ca.pem") '$BUNDLE' | cmp -s - '$CA/ca.pem'"
check_eq "lota ca-bundle prints the bundle's path" "$BUNDLE" \
	"$("${LOTA_BUILD_DIR:-$IT_LIB_DIR/../../build}/tools/lota" ca-bundle --ca-dir "$CA")"
CA_SUM=$(it_sha256 "$CA/ca.pem")

# --- curl --aws-sigv4 over TLS, verifying with the bundle
check "curl: create the bucket over TLS" \
	it_curl alice -f -o /dev/null "${RES[@]}" --cacert "$BUNDLE" -X PUT "$TLS/$B"
check "curl: PUT 24 MiB over TLS" \
	it_curl alice -f -o /dev/null "${RES[@]}" --cacert "$BUNDLE" -T "$W/obj" "$TLS/$B/obj"
it_curl alice -f -o "$W/c1" -D "$W/c1.h" "${RES[@]}" --cacert "$BUNDLE" "$TLS/$B/obj"
check_eq "curl: GET over TLS is byte-exact (sha256)" "$SUM" "$(it_sha256 "$W/c1")"
check "curl: the first read fills the cache (miss)" grep -qi '^x-lota-cache: miss' "$W/c1.h"
it_wait_metric 30 lota_cache_fills_in_progress 0
it_curl alice -f -o "$W/c2" -D "$W/c2.h" "${RES[@]}" --cacert "$BUNDLE" "$TLS/$B/obj"
check_eq "curl: second GET over TLS byte-exact" "$SUM" "$(it_sha256 "$W/c2")"
check "curl: the second read is a hit" grep -qi '^x-lota-cache: hit' "$W/c2.h"
it_curl alice -f -o "$W/c3" -D "$W/c3.h" "${RES[@]}" -H 'Range: bytes=1000-2000999' \
	--cacert "$BUNDLE" "$TLS/$B/obj"
check_eq "curl: a range over TLS from the cache" "$(tail -c +1001 "$W/obj" | head -c 2000000 | sha256sum | cut -d' ' -f1)" "$(it_sha256 "$W/c3")"
CURL_CA_BUNDLE=$BUNDLE check "curl: CURL_CA_BUNDLE (what the shim exports) works as --cacert" \
	it_curl alice -f -o /dev/null "${RES[@]}" "$TLS/$B/obj"
# two requests on one kept-alive TLS connection
out=$(it_curl alice -f -o /dev/null -o /dev/null -w '%{num_connects}\n' "${RES[@]}" --cacert "$BUNDLE" \
	"$TLS/$B/obj" "$TLS/$B/obj" | tr '\n' ' ')
check_eq "curl: two GETs on one kept-alive TLS connection" "1 0 " "$out"

# --- a client without the bundle: refused by its own verification, never served
code=0
it_curl alice -o "$W/x" "${RES[@]}" "$TLS/$B/obj" 2>"$W/x.err" || code=$?
check_eq "curl without the bundle fails its handshake (exit 60)" 60 "$code"
check "curl without the bundle got no byte of the object" test ! -s "$W/x"

# --- boto3: verify= the bundle, path and virtual-hosted style; without: SSLError
cat >"$W/boto.py" <<'EOF'
import hashlib, os, sys
import boto3, botocore.config, botocore.exceptions
ep, bundle, bucket, want = sys.argv[1:5]
def client(verify, style):
    return boto3.session.Session(profile_name="alice").client(
        "s3", endpoint_url=ep, verify=verify,
        config=botocore.config.Config(s3={"addressing_style": style}, retries={"max_attempts": 1}))
def say(ok, what):
    print(("ok - " if ok else "not ok - ") + what)
for style in ("path", "virtual"):
    r = client(bundle, style).get_object(Bucket=bucket, Key="obj")
    body = r["Body"].read()
    say(hashlib.sha256(body).hexdigest() == want, f"boto3 ({style}) GET over TLS is byte-exact")
    lab = r["ResponseMetadata"]["HTTPHeaders"].get("x-lota-cache")
    say(lab == "hit", f"boto3 ({style}) read is a hit (x-lota-cache: {lab})")
c = client(bundle, "path")
c.put_object(Bucket=bucket, Key="small", Body=b"hello over tls")
say(c.get_object(Bucket=bucket, Key="small")["Body"].read() == b"hello over tls",
    "boto3 put_object + get_object over TLS")
try:
    client(True, "path").head_object(Bucket=bucket, Key="obj")
    say(False, "boto3 with the system roots only is refused (it was served)")
except botocore.exceptions.SSLError as e:
    say("CERTIFICATE_VERIFY_FAILED" in str(e), "boto3 with the system roots only: SSLError, certificate verify failed")
EOF
it_run_checks "boto3 over TLS" it_python "$W/boto.py" "$TLS" "$BUNDLE" "$B" "$SUM"

# Python's own TLS (urllib) takes SSL_CERT_FILE, which the shim exports
check "python ssl with SSL_CERT_FILE=bundle verifies lotad" \
	env SSL_CERT_FILE="$BUNDLE" "$IT_PY" -c "
import socket, ssl
ctx = ssl.create_default_context()
with socket.create_connection(('127.0.0.1', $TLS_PORT)) as s:
    with ctx.wrap_socket(s, server_hostname='bucket.localhost') as t:
        assert t.version() in ('TLSv1.2', 'TLSv1.3'), t.version()
"

# --- awscli with AWS_CA_BUNDLE
rm -f "$W/a1"
AWS_CA_BUNDLE=$BUNDLE S3_ENDPOINT=$TLS check "awscli (AWS_CA_BUNDLE) s3 cp down over TLS" \
	it_aws alice s3 cp "s3://$B/obj" "$W/a1"
check_eq "awscli: byte-exact" "$SUM" "$(it_sha256 "$W/a1" 2>/dev/null)"
AWS_CA_BUNDLE=$BUNDLE S3_ENDPOINT=$TLS check "awscli (AWS_CA_BUNDLE) s3 cp up over TLS" \
	it_aws alice s3 cp "$W/obj" "s3://$B/obj-aws"
check_eq "awscli upload over TLS landed byte-exact (read from radosgw)" "$SUM" \
	"$(it_curl alice -f "$RGW_ENDPOINT/$B/obj-aws" | sha256sum | cut -d' ' -f1)"
S3_ENDPOINT=$TLS check_fails_with "awscli without the bundle: SSL validation fails" \
	"SSL validation failed" it_aws alice s3 ls "s3://$B/"

# --- s3cmd with ca_certs_file
it_keys alice
cat >"$W/s3cmd.cfg" <<EOF
[default]
access_key = $IT_AK
secret_key = $IT_SK
host_base = localhost:$TLS_PORT
host_bucket = localhost:$TLS_PORT
bucket_location = $RGW_REGION
use_https = True
check_ssl_certificate = True
check_ssl_hostname = True
ca_certs_file = $BUNDLE
signature_v2 = False
guess_mime_type = False
progress_meter = False
EOF
rm -f "$W/s1"
check "s3cmd (ca_certs_file) get over TLS" it__pyenv timeout 120 s3cmd -c "$W/s3cmd.cfg" get "s3://$B/obj" "$W/s1"
check_eq "s3cmd: byte-exact" "$SUM" "$(it_sha256 "$W/s1" 2>/dev/null)"

# --- names lotad does not serve, and no name: an alert, no certificate
code=0
it_curl alice -o /dev/null --resolve "example.org:$TLS_PORT:127.0.0.1" --cacert "$BUNDLE" \
	"https://example.org:$TLS_PORT/$B/obj" 2>"$W/n.err" || code=$?
check_eq "curl to a name lotad does not serve fails its handshake (exit 35)" 35 "$code"
check "... with the unrecognized_name alert" grep -q 'unrecognized name' "$W/n.err"
out=$(openssl s_client -connect "127.0.0.1:$TLS_PORT" -servername example.org </dev/null 2>&1)
check_contains "openssl s_client -servername example.org: no certificate" "no peer certificate available" "$out"
out=$(openssl s_client -connect "127.0.0.1:$TLS_PORT" -noservername </dev/null 2>&1)
check_contains "openssl s_client without SNI: no certificate" "no peer certificate available" "$out"
out=$(openssl s_client -connect "127.0.0.1:$TLS_PORT" -servername bucket.localhost -tls1_1 \
	-cipher 'DEFAULT@SECLEVEL=0' </dev/null 2>&1)
check_contains "TLS 1.1 is refused by lotad (protocol_version alert)" "alert protocol version" "$out"
out=$(openssl s_client -connect "127.0.0.1:$TLS_PORT" -servername bucket.localhost -tls1_2 -CAfile "$CA/ca.pem" -verify_hostname bucket.localhost </dev/null 2>&1)
check_contains "TLS 1.2: a certificate for bucket.localhost that verifies" "Verify return code: 0 (ok)" "$out"
check "lotad counts the refused handshakes" it_wait_metric_ge 10 'lota_tls_handshakes_total{result="refused"}' 3

# --- many names at once on every worker: each gets its own certificate, all verify
pids=()
for i in $(seq 16); do
	curl -s -o /dev/null -m 30 -w '%{http_code}\n' --resolve "b$i.localhost:$TLS_PORT:127.0.0.1" \
		--cacert "$BUNDLE" "https://b$i.localhost:$TLS_PORT/" >"$W/par.$i" 2>&1 &
	pids+=($!)
done
wait "${pids[@]}" # (not a bare wait: lotad is a child of this shell too)
check_eq "16 parallel handshakes for 16 new names all verify" 16 "$(cat "$W"/par.* | grep -c '^[1-5][0-9][0-9]$')"

# --- what is not TLS on the TLS port: closed, counted as a failed handshake
failed0=$(it_metric0 'lota_tls_handshakes_total{result="failed"}')
code=0
curl -s -o /dev/null -m 10 "http://127.0.0.1:$TLS_PORT/" || code=$?
check "plain HTTP to the TLS port gets no answer (curl exit $code)" test "$code" -ne 0
check "... and counts as a failed handshake" \
	it_wait_metric_ge 10 'lota_tls_handshakes_total{result="failed"}' $((failed0 + 1))

# --- the plain listener is unaffected
it_curl alice -f -o "$W/p1" -D "$W/p1.h" "$S3_ENDPOINT/$B/obj"
check_eq "plain listener: byte-exact" "$SUM" "$(it_sha256 "$W/p1")"
check "plain listener: a hit" grep -qi '^x-lota-cache: hit' "$W/p1.h"

# --- the redirected form: lotad's TLS listener where the client believes the upstream is
# (127.0.0.2 at radosgw's port), the request signed for the upstream's own name.
lotad_stop
IT_LOTAD_ARGS=(--tls-listen "127.0.0.2:$RGW_PORT" --ca-dir "$CA"
	--cache-dir "$IT_DIR/cache:1GiB" --min-object-size 1MiB)
lotad__launch
check_eq "restart: the same node CA" "$CA_SUM" "$(it_sha256 "$CA/ca.pem")"
UP=https://localhost:$RGW_PORT
URES=(--resolve "localhost:$RGW_PORT:127.0.0.2")
it_curl alice -f -o "$W/r1" "${URES[@]}" --cacert "$BUNDLE" "$UP/$B/obj"
check_eq "redirected (signed for the upstream's name): GET over TLS byte-exact" "$SUM" "$(it_sha256 "$W/r1" 2>/dev/null)"
check "redirected: PUT over TLS" it_curl alice -f -o /dev/null "${URES[@]}" --cacert "$BUNDLE" \
	-T "$W/obj" "$UP/$B/obj-redirected"
check_eq "redirected: the PUT landed byte-exact (read from radosgw)" "$SUM" \
	"$(it_curl alice -f "$RGW_ENDPOINT/$B/obj-redirected" | sha256sum | cut -d' ' -f1)"
code=$(it_curl bob -s -o /dev/null -w '%{http_code}' "${URES[@]}" --cacert "$BUNDLE" "$UP/$B/obj")
check_eq "redirected: bob is denied by the upstream (403)" 403 "$code"
check "lotad counts the redirected handshakes" it_wait_metric_ge 10 'lota_tls_handshakes_total{result="ok"}' 3

# --- the CA key's permissions at start
lotad_stop
chmod 0644 "$CA/ca.key"
code=0
"$(it_lotad_bin)" --listen "127.0.0.1:$IT_LOTAD_PORT" --upstream "$IT_UPSTREAM_URL" \
	--tls-listen "127.0.0.1:$TLS_PORT" --ca-dir "$CA" >"$W/refused.log" 2>&1 </dev/null || code=$?
check_eq "a ca.key readable by others stops lotad at start (exit 2)" 2 "$code"
check "... naming the key and the reason" grep -q 'ca_dir.*ca.key.*readable by others' "$W/refused.log"
chmod 0600 "$CA/ca.key"
code=0
"$(it_lotad_bin)" --upstream "$IT_UPSTREAM_URL" --tls-listen "127.0.0.1" >"$W/bad.log" 2>&1 </dev/null || code=$?
check_eq "a tls_listen without a port is refused at start (exit 2)" 2 "$code"
check "... naming the key" grep -q 'config key "tls_listen"' "$W/bad.log"
code=0
"$(it_lotad_bin)" --upstream "$IT_UPSTREAM_URL" --tls-listen "127.0.0.1:$TLS_PORT" \
	--ca-dir "$W/obj/ca" >"$W/bad.log" 2>&1 </dev/null || code=$?
check_eq "a ca_dir that cannot be a directory is refused at start (exit 2)" 2 "$code"
check "... naming the key" grep -q 'config key "ca_dir"' "$W/bad.log"
IT_LOTAD_ARGS=(--tls-listen "127.0.0.1:$TLS_PORT" --ca-dir "$CA" --header-timeout 1s)
lotad__launch
check "with the key 0600 again lotad serves TLS with the same CA" \
	it_curl alice -f -o /dev/null "${RES[@]}" --cacert "$CA/ca.pem" "$TLS/$B/small"
# a client that connects and never says hello is closed after header_timeout
check "a handshake that never starts is closed (header_timeout 1s)" "$IT_PY" -c "
import socket, time
s = socket.create_connection(('127.0.0.1', $TLS_PORT))
s.settimeout(15)
t0 = time.time()
assert s.recv(1) == b'', 'got bytes'
assert time.time() - t0 < 15
"

it_curl alice -s -o /dev/null -X DELETE "$S3_ENDPOINT/$B/obj"
it_curl alice -s -o /dev/null -X DELETE "$S3_ENDPOINT/$B/obj-aws"
it_curl alice -s -o /dev/null -X DELETE "$S3_ENDPOINT/$B/obj-redirected"
it_curl alice -s -o /dev/null -X DELETE "$S3_ENDPOINT/$B/small"
check "delete the bucket" it_curl alice -f -o /dev/null -X DELETE "$S3_ENDPOINT/$B"
it_finish
