"""ground_boto3.py - boto3 reads on the multi-node test ground (run through netground.sh's
ng_python inside a node's namespace; the endpoint and the users' keys come from its
environment: NG_ENDPOINT_URL, NG_REGION, NG_ALICE_ACCESS/SECRET, NG_BOB_ACCESS/SECRET).

    ground_boto3.py get PROFILE BUCKET KEY OUT
        one get_object as PROFILE (alice or bob), body to OUT; prints
        "STATUS X-LOTA-CACHE" ("-" when the header is missing), or "STATUS CODE" when
        the answer is an S3 error (exit status 0: the shell script decides)
    ground_boto3.py epoch PROFILE BUCKET THREADS KEY...
        read every KEY once (THREADS at a time), each body checked against its ETag (the
        MD5 of a single-part upload) while it streams; prints one line per object
        ("KEY BYTES X-LOTA-CACHE md5-ok|md5-BAD") and then
        "total BYTES SECONDS errors N bad N"

Nothing here retries: botocore's retries are off, so a failure is seen as it happened.
Exit status 1 on an unexpected error (printed on stderr).
"""

import hashlib
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError


def client(profile, threads=1):
    who = profile.upper()
    conf = Config(
        signature_version="s3v4",
        s3={"addressing_style": "path"},
        retries={"max_attempts": 1, "mode": "standard"},
        connect_timeout=10,
        read_timeout=300,
        max_pool_connections=max(10, threads),
    )
    return boto3.session.Session().client(
        "s3",
        endpoint_url=os.environ["NG_ENDPOINT_URL"],
        aws_access_key_id=os.environ["NG_%s_ACCESS" % who],
        aws_secret_access_key=os.environ["NG_%s_SECRET" % who],
        region_name=os.environ.get("NG_REGION", "us-east-1"),
        config=conf,
    )


def cache_header(resp):
    for k, v in resp["ResponseMetadata"]["HTTPHeaders"].items():
        if k.lower() == "x-lota-cache":
            return v
    return "-"


def get(profile, bucket, key, out):
    try:
        r = client(profile).get_object(Bucket=bucket, Key=key)
    except ClientError as e:
        st = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        print(st, e.response.get("Error", {}).get("Code"))
        return
    with open(out, "wb") as f:
        for chunk in r["Body"].iter_chunks(1 << 20):
            f.write(chunk)
    print(r["ResponseMetadata"]["HTTPStatusCode"], cache_header(r))


def epoch(profile, bucket, threads, keys):
    c = client(profile, threads)

    def one(key):
        try:
            r = c.get_object(Bucket=bucket, Key=key)
            h = hashlib.md5()
            n = 0
            for chunk in r["Body"].iter_chunks(1 << 20):
                h.update(chunk)
                n += len(chunk)
            ok = h.hexdigest() == r["ETag"].strip('"')
            return key, n, cache_header(r), "md5-ok" if ok else "md5-BAD"
        except Exception as e:  # reported, counted as an error
            return key, 0, "-", "error:%s" % type(e).__name__

    t0 = time.monotonic()
    with ThreadPoolExecutor(max_workers=threads) as ex:
        res = list(ex.map(one, keys))
    dt = time.monotonic() - t0
    total = errors = bad = 0
    for key, n, label, verdict in res:
        print(key, n, label, verdict)
        total += n
        errors += verdict.startswith("error")
        bad += verdict == "md5-BAD"
    print("total %d %.6f errors %d bad %d" % (total, dt, errors, bad))


def main(argv):
    if len(argv) == 6 and argv[1] == "get":
        get(*argv[2:])
    elif len(argv) >= 6 and argv[1] == "epoch":
        epoch(argv[2], argv[3], int(argv[4]), argv[5:])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
