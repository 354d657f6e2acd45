"""aborted_uploads.py - PUT uploads that the client gives up on half-way.

    aborted_uploads.py HOST PORT BUCKET COUNT SIZE [PARALLEL [REFUSED_OK]]

Each upload is a PUT of BUCKET/abortN signed by alice (SigV4, UNSIGNED-PAYLOAD) that
announces Content-Length SIZE, sends about half of the body and closes the socket. Up to
PARALLEL uploads are open at once (default 50): a batch is started, then every socket of
it is closed, so the endpoint sees PARALLEL half-done uploads at the same time.
Prints "started N refused M" (a refused upload: its connection was closed or reset by
the endpoint before the partial body was written; one refused after that counts as
started). Exits 0 when none was refused, or
with REFUSED_OK = 1 (an endpoint that caps its connections) when at least one started.
The keys come from the environment lib.sh exports (RGW_ALICE_ACCESS/SECRET, RGW_REGION).
"""

import datetime
import hashlib
import hmac
import os
import socket
import sys


def sigv4_put_head(host, path, size, ak, sk, region):
    now = datetime.datetime.now(datetime.timezone.utc)
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    day = now.strftime("%Y%m%d")
    payload = "UNSIGNED-PAYLOAD"
    signed = "content-length;host;x-amz-content-sha256;x-amz-date"
    canon = "\n".join(
        [
            "PUT",
            path,
            "",
            "content-length:%d" % size,
            "host:%s" % host,
            "x-amz-content-sha256:%s" % payload,
            "x-amz-date:%s" % amz_date,
            "",
            signed,
            payload,
        ]
    )
    scope = "%s/%s/s3/aws4_request" % (day, region)
    sts = "\n".join(
        ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canon.encode()).hexdigest()]
    )

    def h(k, m):
        return hmac.new(k, m.encode(), hashlib.sha256).digest()

    k = h(h(h(h(("AWS4" + sk).encode(), day), region), "s3"), "aws4_request")
    sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    auth = "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s" % (
        ak,
        scope,
        signed,
        sig,
    )
    return (
        "PUT %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n"
        "x-amz-content-sha256: %s\r\nx-amz-date: %s\r\nAuthorization: %s\r\n\r\n"
        % (path, host, size, payload, amz_date, auth)
    ).encode()


def main():
    host, port, bucket = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    count, size = int(sys.argv[4]), int(sys.argv[5])
    parallel = int(sys.argv[6]) if len(sys.argv) > 6 else 50
    refused_ok = len(sys.argv) > 7 and sys.argv[7] == "1"
    ak, sk = os.environ["RGW_ALICE_ACCESS"], os.environ["RGW_ALICE_SECRET"]
    region = os.environ.get("RGW_REGION", "us-east-1")
    hostport = "%s:%d" % (host, port)
    part = os.urandom(size // 2)
    done = 0
    refused = 0
    while done < count:
        batch = []
        for i in range(done, min(count, done + parallel)):
            s = None
            try:
                s = socket.create_connection((host, port), timeout=30)
                s.sendall(sigv4_put_head(hostport, "/%s/abort%d" % (bucket, i), size, ak, sk, region))
                s.sendall(part)
                batch.append(s)
            except OSError as e:
                refused += 1
                if not refused_ok:
                    print("# upload %d: %s" % (i, e), file=sys.stderr)
                if s is not None:
                    s.close()
        for s in batch:
            s.close()
        done = min(count, done + parallel)
    print("started %d refused %d" % (count - refused, refused))
    if refused and not (refused_ok and refused < count):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
