#!/usr/bin/env bash
# test_region.sh - cross-region reads (README "Two regions"): one lotad in front of two
# regions, each its own single-node Ceph cluster whose zonegroup api_name names it
# (rgw.sh RGW_API_NAME): "lota-local" on 127.0.0.1 (--upstream, --region) and
# "lota-remote" inside a network namespace of this test, behind a veth shaped with tc tbf
# (LOTA_REGION_RATE, default 300mbit) like a link to another region
# (--region-upstream lota-remote=http://PFX.2:PORT). The two clusters share no bucket
# namespace, so lotad finds a bucket's home by asking both (an anonymous HEAD /BUCKET).
#
# Checks, with real clients (curl --aws-sigv4, aws cli, boto3), every body by sha256:
#   - a bucket in each region read through lotad, byte-exact; the remote one is counted
#     in lota_region_requests_total / lota_region_bytes_total{region="lota-remote"};
#   - the second read of the remote object is a hit (x-lota-cache and
#     lota_region_remote_hits_total);
#   - an overwrite made in the remote region is what the next read through lotad returns;
#   - a request signed by the client for the remote endpoint's own name (redirected to
#     lotad; the name is in --redirect) is forwarded there as it is;
#   - bob, who may not read alice's remote bucket, gets 403 also for the cached object;
#   - a write through lotad to the remote bucket lands in the remote region only;
#   - a bucket no region holds gets the upstream's own NoSuchBucket, and CreateBucket with
#     an unknown region the upstream's own InvalidLocationConstraint;
#   - a bucket that moves (deleted in the local region, created in the remote one) is
#     followed by the first read after the move (the old home's 404 to the authorizing
#     HEAD makes lotad probe again before answering); a missing key of a remote bucket
#     still gets the remote region's NoSuchKey.
# Needs root (namespace, veth, tc): skips with 77 otherwise.
# shellcheck source=lib.sh disable=SC2317 # (helpers run through check)
. "$(dirname "$0")/lib.sh"
[ "${LOTA_TEST_DIRECT:-0}" = 1 ] && it_skip "lotad-specific test (LOTA_TEST_DIRECT=1)"
it_require_root
it_require_rgw
it_require_boto3
it_require_cmd ip tc curl "$IT_AWS"
# shellcheck source=regionground.sh
. "$IT_LIB_DIR/regionground.sh"

W=$IT_DIR/work
mkdir -p "$W"
MiB=$((1024 * 1024))
RG_RATE=${LOTA_REGION_RATE:-300mbit}
it_at_exit rg_down
rg_up "$IT_DIR" || it_die "the two regions did not start"
LOCAL_EP=$RG_LOCAL_EP REMOTE_EP=$RG_REMOTE_EP
# shellcheck disable=SC1091
. "$RG_LOCAL_DIR/rgw.env" # RGW_PORT, RGW_REGION (lota-local), the users' keys

S3_HOST_PORT=127.0.0.1:$RGW_PORT S3_ENDPOINT=$RGW_ENDPOINT S3_PORT=$RGW_PORT
S3_VHOST_DOMAIN=localhost
it_write_client_configs
REMOTE_HP=${REMOTE_EP#http://}
IT_LOTAD_ARGS=(--cache-dir "$IT_DIR/cache:1GiB" --min-object-size 1MiB --region lota-local
	--region-upstream "lota-remote=$REMOTE_EP" --redirect "$REMOTE_HP")
lotad_start "$RGW_PORT" "$IT_CREDENTIALS"
S3_PORT=$IT_LOTAD_PORT S3_HOST_PORT=127.0.0.1:$IT_LOTAD_PORT
S3_ENDPOINT=http://$S3_HOST_PORT
it_write_client_configs
E=$S3_ENDPOINT

# direct EP PROFILE ARGS...: aws cli at a region's radosgw itself (setup and checks)
direct() {
	local ep=$1 p=$2
	shift 2
	it__pyenv AWS_PROFILE="$p" timeout 120 "$IT_AWS" --endpoint-url "$ep" --no-cli-pager "$@"
}
hdr() { tr -d '\r' <"$1" | sed -n "s/^$2: //Ip" | tail -n 1; }
# get PROFILE BUCKET KEY: GET through lotad with curl; sets ST, XC, SHA, CODE.
get() {
	: >"$W/body"
	: >"$W/hdr"
	ST=$(it_curl "$1" -o "$W/body" -D "$W/hdr" -w '%{http_code}' "$E/$2/$3" 2>/dev/null) || true
	XC=$(hdr "$W/hdr" x-lota-cache)
	SHA=$(it_sha256 "$W/body")
	CODE=$(it_s3_code <"$W/body")
}
RREQ='lota_region_requests_total{region="lota-remote"}'
RBYTES='lota_region_bytes_total{region="lota-remote"}'
RHITS='lota_region_remote_hits_total{region="lota-remote"}'

# --- a bucket in each region
it_random_file "$W/local.bin" $((6 * MiB + 17))
it_random_file "$W/remote.bin" $((6 * MiB + 33))
direct "$LOCAL_EP" alice s3api create-bucket --bucket rg-local \
	--create-bucket-configuration LocationConstraint=lota-local >/dev/null &&
	direct "$LOCAL_EP" alice s3 cp "$W/local.bin" s3://rg-local/obj >/dev/null ||
	it_die "setup of the local bucket"
direct "$REMOTE_EP" alice s3api create-bucket --bucket rg-remote \
	--create-bucket-configuration LocationConstraint=lota-remote >/dev/null &&
	direct "$REMOTE_EP" alice s3 cp "$W/remote.bin" s3://rg-remote/obj >/dev/null ||
	it_die "setup of the remote bucket"
check_eq "the regions answer GetBucketLocation with their names" "lota-local lota-remote" \
	"$(direct "$LOCAL_EP" alice s3api get-bucket-location --bucket rg-local --output text) $(direct "$REMOTE_EP" alice s3api get-bucket-location --bucket rg-remote --output text)"

get alice rg-local obj
check_eq "curl: the local region's object through lotad, byte-exact" \
	"200 $(it_sha256 "$W/local.bin")" "$ST $SHA"
get alice rg-remote obj
check_eq "curl: the remote region's object through lotad, byte-exact" \
	"200 $(it_sha256 "$W/remote.bin")" "$ST $SHA"
check "requests to the remote region are counted" it_wait_metric_ge 5 "$RREQ" 1
check "bytes from the remote region are counted" it_wait_metric_ge 5 "$RBYTES" $((6 * MiB))

# the remote object's next reads are hits (once its fill is published)
hit_soon() {
	local deadline=$((SECONDS + 30))
	while :; do
		get alice rg-remote obj
		[ "$ST $XC $SHA" = "200 hit $(it_sha256 "$W/remote.bin")" ] && return 0
		[ $SECONDS -ge $deadline ] && {
			echo "last read: $ST $XC"
			return 1
		}
		sleep 0.2
	done
}
check "the second read of the remote object is a hit, byte-exact" hit_soon
check "hits of remote objects are counted" it_wait_metric_ge 5 "$RHITS" 1
rm -f "$W/aws.bin"
it_aws alice s3 cp s3://rg-remote/obj "$W/aws.bin" >/dev/null 2>&1
check_eq "aws cli: the remote object through lotad, byte-exact" \
	"$(it_sha256 "$W/remote.bin")" "$(it_sha256 "$W/aws.bin" 2>/dev/null)"
cat >"$W/boto.py" <<'EOF'
import hashlib, os, sys
import boto3
s3 = boto3.client("s3", endpoint_url=os.environ["S3_ENDPOINT"], region_name="lota-local")
r = s3.get_object(Bucket=sys.argv[1], Key=sys.argv[2])
print(hashlib.sha256(r["Body"].read()).hexdigest(), r["ResponseMetadata"]["HTTPHeaders"].get("x-lota-cache", ""))
EOF
check_eq "boto3: the remote object through lotad is a hit, byte-exact" \
	"$(it_sha256 "$W/remote.bin") hit" \
	"$(AWS_PROFILE=alice S3_ENDPOINT=$E it_python "$W/boto.py" rg-remote obj 2>&1 | tail -n 1)"

# a request the client signed for the remote endpoint itself (redirected to lotad: its
# name is in --redirect) goes there as it is
redirected_get() {
	it_keys alice
	: >"$W/body"
	ST=$(timeout 60 curl -sS --aws-sigv4 "aws:amz:lota-remote:s3" --user "$IT_AK:$IT_SK" \
		-H "x-amz-content-sha256: UNSIGNED-PAYLOAD" --connect-to "$REMOTE_HP:127.0.0.1:$IT_LOTAD_PORT" \
		-o "$W/body" -w '%{http_code}' "$REMOTE_EP/$1") || true
	SHA=$(it_sha256 "$W/body")
}
FWD_BEFORE=$(it_metric0 "$RREQ")
redirected_get rg-remote/obj
check_eq "a request signed for the remote endpoint's own name, through lotad, byte-exact" \
	"200 $(it_sha256 "$W/remote.bin")" "$ST $SHA"
check "and it went to the remote region" it_wait_metric_ge 5 "$RREQ" $((FWD_BEFORE + 1))

# bob may not read alice's remote bucket: denied, also with the object cached
get bob rg-remote obj
check_eq "bob gets the remote region's 403 for the cached remote object" "403 AccessDenied" \
	"$ST $CODE"

# an overwrite in the remote region is what the next read returns
it_random_file "$W/remote2.bin" $((6 * MiB + 5))
direct "$REMOTE_EP" alice s3 cp "$W/remote2.bin" s3://rg-remote/obj >/dev/null ||
	it_fail "overwrite in the remote region"
get alice rg-remote obj
check_eq "after an overwrite in the remote region, lotad serves the new bytes" \
	"200 $(it_sha256 "$W/remote2.bin")" "$ST $SHA"

# a write through lotad goes to the remote region, and only there
it_random_file "$W/up.bin" $((2 * MiB + 1))
it_aws alice s3 cp "$W/up.bin" s3://rg-remote/up >/dev/null 2>&1 || it_fail "upload through lotad"
rm -f "$W/up-back.bin"
direct "$REMOTE_EP" alice s3 cp s3://rg-remote/up "$W/up-back.bin" >/dev/null 2>&1
check_eq "a write through lotad lands in the remote region" "$(it_sha256 "$W/up.bin")" \
	"$(it_sha256 "$W/up-back.bin" 2>/dev/null)"
check_fails_with "and not in the local one" "404" \
	direct "$LOCAL_EP" alice s3api head-object --bucket rg-remote --key up

# no region holds it: the upstream's own answers
get alice rg-nowhere obj
check_eq "a bucket no region holds: the upstream's NoSuchBucket" "404 NoSuchBucket" "$ST $CODE"
check_fails_with "CreateBucket in an unknown region: the upstream's InvalidLocationConstraint" \
	InvalidLocationConstraint it_aws alice s3api create-bucket --bucket rg-elsewhere \
	--create-bucket-configuration LocationConstraint=nowhere-1

# a bucket that moves from the local region to the remote one
it_random_file "$W/m1.bin" $((3 * MiB))
it_random_file "$W/m2.bin" $((3 * MiB + 9))
direct "$LOCAL_EP" alice s3api create-bucket --bucket rg-move \
	--create-bucket-configuration LocationConstraint=lota-local >/dev/null &&
	direct "$LOCAL_EP" alice s3 cp "$W/m1.bin" s3://rg-move/obj >/dev/null ||
	it_die "setup of the moving bucket"
get alice rg-move obj
check_eq "the moving bucket, in the local region first" "200 $(it_sha256 "$W/m1.bin")" \
	"$ST $SHA"
direct "$LOCAL_EP" alice s3 rb --force s3://rg-move >/dev/null &&
	direct "$REMOTE_EP" alice s3api create-bucket --bucket rg-move \
		--create-bucket-configuration LocationConstraint=lota-remote >/dev/null &&
	direct "$REMOTE_EP" alice s3 cp "$W/m2.bin" s3://rg-move/obj >/dev/null ||
	it_die "moving the bucket"
FORGOT=$(it_metric0 lota_region_forgotten_total)
get alice rg-move obj
check_eq "the moved bucket is followed to the remote region by the first read after the move" \
	"200 $(it_sha256 "$W/m2.bin")" "$ST $SHA"
check "its remembered home was dropped" it_wait_metric_ge 5 lota_region_forgotten_total \
	$((FORGOT + 1))
get alice rg-move obj
check_eq "and the next read is served from there too" "200 $(it_sha256 "$W/m2.bin")" \
	"$ST $SHA"
# a missing key in a remembered bucket: still the home region's own NoSuchKey
get alice rg-remote no-such-key
check_eq "a missing key of a remote bucket: the remote region's NoSuchKey" "404 NoSuchKey" \
	"$ST $CODE"

it_finish
