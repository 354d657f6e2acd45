#!/usr/bin/env bash
# test_resign_security.sh - lotad signs the upstream request with the client's own key:
# it must never sign what the client did not sign, nor weaken what the client pinned.
# The attacks (clients/resign_attacks.py) go through lotad to radosgw; what was stored is
# read back from radosgw directly:
#   - a presigned PUT URL (SignedHeaders=host) sent with x-amz-copy-source and x-amz-acl
#     of the bearer's choosing: 403 AccessDenied (as S3 answers), nothing created, the
#     private object not copied anywhere; the same for a header-signed request;
#   - signed x-amz-acl, x-amz-meta-*, Content-Type still take effect;
#   - a body pinned by x-amz-content-sha256 (presigned header or query parameter, or the
#     header form) replaced by another: refused, nothing stored; the pinned body stored.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
[ "${LOTA_TEST_DIRECT:-0}" = 1 ] && it_skip "lotad-specific test (LOTA_TEST_DIRECT=1)"
it_require_rgw
it_setup
it_run_checks "resign attacks" it_python "$IT_CLIENTS_DIR/resign_attacks.py"
it_finish
