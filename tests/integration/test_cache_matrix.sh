#!/usr/bin/env bash
# test_cache_matrix.sh - the client matrices of boto3 and curl again, with lotad's
# cache on for every object (min_object_size 1 byte) and small extents (1 MiB), so that
# every GET/HEAD they make (conditionals, ranges, presigned URLs, denials, other users,
# multipart objects) goes through the cache's authorization and extent paths. Each
# script starts its own radosgw and lotad; this one only adds the flags and sums up.
set -u
here=$(cd "$(dirname "$0")" && pwd)
if [ "${LOTA_TEST_DIRECT:-}" = 1 ]; then
	echo "SKIP: test_cache_matrix.sh: tests lotad's cache (LOTA_TEST_DIRECT=1)"
	exit 77
fi
tmp=$(mktemp -d /tmp/lota-cache-matrix.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
rc=0
for t in boto3 curl; do
	echo "# --- test_$t.sh with the cache on"
	LOTA_TEST_LOTAD_ARGS="${LOTA_TEST_LOTAD_ARGS:-} --cache-dir $tmp/$t:8GiB --min-object-size 1 --extent-size 1MiB" \
		"$here/test_$t.sh"
	r=$?
	if [ "$r" = 77 ]; then
		echo "SKIP: test_cache_matrix.sh: test_$t.sh skipped"
		exit 77
	fi
	[ "$r" = 0 ] || rc=1
done
exit $rc
