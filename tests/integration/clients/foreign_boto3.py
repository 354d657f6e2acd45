"""foreign_boto3.py - boto3 as a redirected, unmodified program (test_cache_foreign_keys.sh).

The client is configured for the upstream itself (radosgw's own endpoint) and signs for
it; its connections to that endpoint are sent to lotad instead, as the LD_PRELOAD shim or
the eBPF redirect would: urllib3's connect is redirected, the Host header and the
signature stay the upstream's. Nothing here knows lotad but its address.

  foreign_boto3.py UPSTREAM_URL LOTAD_HOST:PORT get BUCKET KEY OUT [RANGE]
      header-signed get_object; writes the body to OUT, prints "STATUS X-LOTA-CACHE"
  foreign_boto3.py UPSTREAM_URL LOTAD_HOST:PORT head BUCKET KEY
      head_object; prints "200 X-LOTA-CACHE CONTENT-LENGTH ETAG"
  foreign_boto3.py UPSTREAM_URL - presign BUCKET KEY EXPIRES
      prints a presigned GET URL for the upstream (no request is made)
Credentials come from the usual AWS_* variables.
"""
import sys
import urllib.parse

import boto3
import botocore.config
import urllib3.util.connection as uconn


def redirect(upstream, lotad):
    up = urllib.parse.urlsplit(upstream)
    target = (up.hostname, up.port)
    lhost, lport = lotad.rsplit(":", 1)
    real = uconn.create_connection

    def create_connection(address, *args, **kwargs):
        if tuple(address) == target:
            address = (lhost, int(lport))
        return real(address, *args, **kwargs)

    uconn.create_connection = create_connection


def client(upstream):
    cfg = botocore.config.Config(
        s3={"addressing_style": "path"}, retries={"max_attempts": 1}, signature_version="s3v4"
    )
    return boto3.client("s3", endpoint_url=upstream, region_name="us-east-1", config=cfg)


def main():
    upstream, lotad, cmd = sys.argv[1:4]
    args = sys.argv[4:]
    if lotad != "-":
        redirect(upstream, lotad)
    s3 = client(upstream)
    if cmd == "get":
        bucket, key, out = args[:3]
        kw = {"Range": args[3]} if len(args) > 3 else {}
        r = s3.get_object(Bucket=bucket, Key=key, **kw)
        with open(out, "wb") as f:
            for chunk in r["Body"].iter_chunks(1 << 20):
                f.write(chunk)
        h = r["ResponseMetadata"]["HTTPHeaders"]
        print(r["ResponseMetadata"]["HTTPStatusCode"], h.get("x-lota-cache", "-"))
    elif cmd == "head":
        bucket, key = args[:2]
        r = s3.head_object(Bucket=bucket, Key=key)
        h = r["ResponseMetadata"]["HTTPHeaders"]
        print(200, h.get("x-lota-cache", "-"), r["ContentLength"], r["ETag"])
    elif cmd == "presign":
        bucket, key, expires = args[:3]
        print(
            s3.generate_presigned_url(
                "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=int(expires)
            )
        )
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
