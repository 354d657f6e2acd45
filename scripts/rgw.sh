#!/usr/bin/env bash
# scripts/rgw.sh - start or stop a throw-away single-node Ceph radosgw on 127.0.0.1 (the
# S3 server lota is tested against) for interactive use:
#
#   scripts/rgw.sh start DIR   # prints the endpoint, the test users' keys and an example
#   scripts/rgw.sh stop DIR    # stops the daemons by PID and removes DIR
#
# All state (RAM-backed OSD, logs, sockets) lives in DIR. The work is done by
# tests/integration/rgw.sh, which the integration tests use too.
set -u
here=$(cd "$(dirname "$0")" && pwd)
impl=$here/../tests/integration/rgw.sh
case "${1:-}" in
start)
	[ $# -eq 2 ] || {
		echo "usage: $0 start DIR" >&2
		exit 2
	}
	"$impl" start "$2" >/dev/null || exit $?
	# shellcheck disable=SC1091
	. "$2/rgw.env"
	cat <<EOF2
radosgw is up (started in ${RGW_START_MS} ms); stop it with: $0 stop $RGW_DIR
  endpoint      $RGW_ENDPOINT   (virtual-hosted: http://BUCKET.localhost:$RGW_PORT)
  region        $RGW_REGION
  alice         $RGW_ALICE_ACCESS  $RGW_ALICE_SECRET
  bob           $RGW_BOB_ACCESS  $RGW_BOB_SECRET
  logs          $RGW_DIR/log/
  environment   $RGW_DIR/rgw.env (sourceable)
example:
  AWS_ACCESS_KEY_ID=$RGW_ALICE_ACCESS AWS_SECRET_ACCESS_KEY=$RGW_ALICE_SECRET \\
    AWS_DEFAULT_REGION=$RGW_REGION /usr/bin/aws --endpoint-url $RGW_ENDPOINT s3 mb s3://demo
EOF2
	;;
stop)
	[ $# -eq 2 ] || {
		echo "usage: $0 stop DIR" >&2
		exit 2
	}
	exec "$impl" stop "$2"
	;;
*)
	echo "usage: $0 start DIR | stop DIR" >&2
	exit 2
	;;
esac
