#!/usr/bin/env bash
# test_boto3.sh - Debian's boto3 (/usr/bin/python3) against the endpoint under test:
# ranges, conditionals, presigned URLs (valid, tampered, expired, wrong user), multipart
# upload/download, paginated listing, copy, batch delete, object ACLs, awkward keys, both
# addressing styles, and the authentication failures. The checks are in
# clients/boto3_matrix.py; this script provides the servers.
. "$(dirname "$0")/lib.sh"
it_require_rgw
it_require_boto3
it_setup
it_run_checks "boto3 matrix" it_python "$IT_CLIENTS_DIR/boto3_matrix.py"
it_finish
