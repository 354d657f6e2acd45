#!/usr/bin/env bash
# test_client_vhost.sh - liblota's addressing_style (path | virtual | auto, like the AWS
# config's s3 block) through `lota`, against radosgw (rgw_dns_name = localhost) and lotad
# (--endpoint-name localhost). libcurl resolves *.localhost to the loopback itself (RFC
# 6761), so http://BUCKET.localhost:PORT needs no resolver entry. A logging TCP relay
# (socat -v) in front of radosgw shows what was sent: the Host and the request line.
#
# - virtual (--addressing-style, or the profile's `s3 = / addressing_style = virtual`):
#   `Host: BUCKET.localhost:PORT`, the key alone in the path; a multipart upload, a
#   download, a listing and a delete all work so, byte-exact, signed for that Host.
# - auto: virtual for a name, path-style for 127.0.0.1; path (the flag over the
#   profile): the bucket in the path.
# - refused: a style that is none of the three (exit 2, named); a bucket that cannot be
#   a host label under virtual (exit 1, said so, nothing sent).
# shellcheck source=lib.sh disable=SC2317 # (helpers run through check)
. "$(dirname "$0")/lib.sh"
it_require_rgw
it_require_cmd socat
build=${LOTA_BUILD_DIR:-$IT_LIB_DIR/../../build}
lota=$build/tools/lota
[ -x "$lota" ] || it_die "lota is not built ($lota)"
it_setup

W=$IT_DIR/work
mkdir -p "$W"
export AWS_SHARED_CREDENTIALS_FILE=$IT_DIR/clients/aws-credentials
export AWS_CONFIG_FILE=$IT_DIR/clients/aws-config
read -r SP _ _ <<<"$(it_free_ports)"
socat -v TCP-LISTEN:"$SP",bind=127.0.0.1,reuseaddr,fork TCP:127.0.0.1:"$RGW_PORT" \
	2>"$W/relay.log" &
RELAY=$!
stop_relay() { kill "$RELAY" 2>/dev/null && wait "$RELAY" 2>/dev/null; return 0; }
it_at_exit stop_relay
it_wait_for 10 bash -c "echo >/dev/tcp/127.0.0.1/$SP" || it_die "socat relay did not start"

B=lota-vhost
# L PROFILE HOST ARGS...: lota as PROFILE through the relay, the endpoint named HOST
L() {
	local p=$1 h=$2
	shift 2
	timeout 60 "$lota" "$@" --endpoint-url "http://$h:$SP" --profile "$p"
}
# sent NEEDLE: the relay saw NEEDLE since the log was last cut
sent() { grep -qF -- "$1" "$W/relay.log"; }
cut_log() { : >"$W/relay.log"; }
check "create bucket $B" it_aws alice s3api create-bucket --bucket "$B"

it_random_file "$W/obj" $((6 * 1024 * 1024 + 3))
cut_log
check "virtual (flag): 6 MiB multipart up" L alice localhost cp --quiet "$W/obj" "s3://$B/dir/obj" \
	--addressing-style virtual --multipart-threshold 5MiB --multipart-part-size 5MiB
check "... sent with Host: $B.localhost:$SP" sent "Host: $B.localhost:$SP"
check "... the key alone in the path (POST /dir/obj?uploads)" sent "POST /dir/obj?uploads"
check "... parts too (PUT /dir/obj?partNumber=)" sent "PUT /dir/obj?partNumber="
check "... never the bucket in the path" bash -c "! grep -qF ' /$B/' '$W/relay.log'"
cut_log
check "virtual (profile alice-vhost): download" L alice-vhost localhost cp --quiet "s3://$B/dir/obj" "$W/obj.back" \
	--part-size 4MiB
check_eq "... byte-exact" "$(it_sha256 "$W/obj")" "$(it_sha256 "$W/obj.back")"
check "... ranged GETs of the key alone" sent "GET /dir/obj HTTP/1.1"
check "... with the bucket in the Host" sent "Host: $B.localhost:$SP"
cut_log
out=$(L alice-vhost localhost ls --recursive "s3://$B/")
check_contains "virtual: ls lists the object" "dir/obj" "$out"
check "... as GET /?...list-type=2 to the bucket's host" bash -c "grep -qE '^GET /\\?[^ ]*list-type=2' '$W/relay.log'"
cut_log
check "auto with a name: ls" L alice localhost ls "s3://$B/dir/" --addressing-style auto
check "... virtual-hosted" sent "Host: $B.localhost:$SP"
cut_log
check "auto with an address: ls, path-style" L alice 127.0.0.1 ls "s3://$B/dir/" --addressing-style auto
check "... GET /$B?..." sent "GET /$B?"
check "... Host: 127.0.0.1:$SP" sent "Host: 127.0.0.1:$SP"
cut_log
check "path (flag over the profile's virtual): ls" L alice-vhost localhost ls "s3://$B/dir/" \
	--addressing-style path
check "... GET /$B?... with Host: localhost:$SP" bash -c \
	"grep -qF 'GET /$B?' '$W/relay.log' && grep -qF 'Host: localhost:$SP' '$W/relay.log'"
check "virtual: rm" L alice-vhost localhost rm "s3://$B/dir/obj"
check_fails_with "... the object is gone" NoSuchKey L alice localhost cp "s3://$B/dir/obj" -

check_fails_with "a style that is none of the three: exit 2, named" 'addressing_style "sideways"' \
	L alice localhost ls "s3://$B/" --addressing-style sideways
L alice localhost ls "s3://$B/" --addressing-style sideways >/dev/null 2>&1
check_eq "... exit status 2" 2 $?
cut_log
check_fails_with "virtual with a bucket that cannot be a host label" "cannot be a host name" \
	L alice localhost ls "s3://Not_A_Label/" --addressing-style virtual
check "... nothing sent" bash -c "! grep -q 'Not_A_Label' '$W/relay.log'"

# through lotad (its --endpoint-name is localhost)
if [ "${LOTA_TEST_DIRECT:-}" != 1 ]; then
	it_random_file "$W/small" $((5 * 1024 * 1024))
	LD() { timeout 60 "$lota" "$@" --endpoint-url "http://localhost:$S3_PORT" --profile alice \
		--addressing-style virtual; }
	check "lotad, virtual: up" LD cp --quiet "$W/small" "s3://$B/small"
	check "lotad, virtual: down" LD cp --quiet "s3://$B/small" "$W/small.back"
	check_eq "... byte-exact" "$(it_sha256 "$W/small")" "$(it_sha256 "$W/small.back")"
fi

it_finish
