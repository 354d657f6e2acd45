"""s3common.py - shared pieces of the Python (boto3) integration helpers.

The endpoint under test and the test users come from the environment that lib.sh's
it_setup exports (S3_ENDPOINT, S3_PORT, S3_VHOST_DOMAIN, RGW_*_ACCESS/SECRET, ...).
Helpers print one line per check ("ok - ..." / "not ok - ...") which lib.sh counts;
the process exit status is 1 when any check failed. Nothing here retries: botocore's
retries are off, so a failure is seen as it happened.
"""

import hashlib
import os
import sys
import traceback

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

ENDPOINT = os.environ["S3_ENDPOINT"]
PORT = os.environ["S3_PORT"]
VHOST_DOMAIN = os.environ.get("S3_VHOST_DOMAIN", "localhost")
REGION = os.environ.get("RGW_REGION", "us-east-1")

KEYS = {
    "alice": (os.environ["RGW_ALICE_ACCESS"], os.environ["RGW_ALICE_SECRET"]),
    "bob": (os.environ["RGW_BOB_ACCESS"], os.environ["RGW_BOB_SECRET"]),
    "wrongsecret": (os.environ["RGW_ALICE_ACCESS"], os.environ["IT_WRONG_SECRET"]),
    "unknown": (os.environ["IT_UNKNOWN_ACCESS"], os.environ["IT_UNKNOWN_SECRET"]),
}


def client(profile="alice", vhost=False):
    """A boto3 S3 client for a test user; path-style or virtual-hosted."""
    ak, sk = KEYS[profile]
    # botocore will not prefix an IP address with a bucket, so virtual-hosted style uses
    # the name; *.localhost resolves to 127.0.0.1 through clients/site/sitecustomize.py.
    ep = "http://%s:%s" % (VHOST_DOMAIN, PORT) if vhost else ENDPOINT
    conf = Config(
        signature_version="s3v4",
        s3={"addressing_style": "virtual" if vhost else "path"},
        retries={"max_attempts": 1, "mode": "standard"},
        connect_timeout=10,
        read_timeout=120,
    )
    return boto3.session.Session().client(
        "s3",
        endpoint_url=ep,
        aws_access_key_id=ak,
        aws_secret_access_key=sk,
        region_name=REGION,
        config=conf,
    )


def sha(b):
    return hashlib.sha256(b).hexdigest()


def err_of(e):
    """(http status, S3 error code) of a ClientError."""
    return (
        e.response.get("ResponseMetadata", {}).get("HTTPStatusCode"),
        e.response.get("Error", {}).get("Code"),
    )


class Checks:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def ok(self, cond, desc, detail=None):
        if cond:
            self.passed += 1
            print("ok - " + desc, flush=True)
        else:
            self.failed += 1
            print("not ok - " + desc, flush=True)
            if detail is not None:
                for line in str(detail).splitlines()[-12:]:
                    print("#   " + line, flush=True)
        return bool(cond)

    def eq(self, desc, expected, actual):
        return self.ok(
            expected == actual,
            desc,
            "expected: %r\nactual:   %r" % (expected, actual),
        )

    def run(self, desc, fn):
        """Run fn(); ok when it returns without raising. Returns fn's result or None."""
        try:
            r = fn()
        except Exception as e:  # a check must never end the helper
            self.ok(False, desc, "%s: %s\n%s" % (type(e).__name__, e, traceback.format_exc()))
            return None
        self.ok(True, desc)
        return r

    def fails(self, desc, fn, status=None, code=None):
        """Expect fn() to raise a ClientError with this HTTP status and/or S3 code."""
        try:
            fn()
        except ClientError as e:
            st, c = err_of(e)
            good = (status is None or st == status) and (code is None or c == code)
            return self.ok(good, desc, "expected %s %s, got %s %s" % (status, code, st, c))
        except Exception as e:
            return self.ok(False, desc, "%s: %s" % (type(e).__name__, e))
        return self.ok(False, desc, "the request succeeded")

    def exit(self):
        sys.exit(1 if self.failed else 0)
