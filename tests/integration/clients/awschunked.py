#!/usr/bin/python3
"""awschunked.py - an aws-chunked (STREAMING-AWS4-HMAC-SHA256-PAYLOAD) uploader written
from the AWS documentation with hashlib/hmac only, independent of liblota, so the test
checks lotad's verifier and re-signer against a second implementation, and radosgw
checks what lotad sends.

  awschunked.py ENDPOINT BUCKET KEY FILE ACCESS SECRET [--chunk N] [--tamper K]
                [--truncate]

--tamper K flips one byte of chunk K's data after signing (its signature no longer
matches); --truncate sends a Content-Length that covers the body but stops before the
final chunk. Prints the HTTP status and the response body (first 300 bytes).
"""
import argparse
import datetime
import hashlib
import hmac
import http.client
import sys
import urllib.parse

EMPTY = hashlib.sha256(b"").hexdigest()


def hm(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def main():
    ap = argparse.ArgumentParser()
    for a in ("endpoint", "bucket", "key", "file", "access", "secret"):
        ap.add_argument(a)
    ap.add_argument("--chunk", type=int, default=64 * 1024)
    ap.add_argument("--tamper", type=int, default=-1)
    ap.add_argument("--truncate", action="store_true")
    a = ap.parse_args()
    data = open(a.file, "rb").read()
    u = urllib.parse.urlsplit(a.endpoint)
    host = u.netloc
    now = datetime.datetime.utcnow()
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    day = amz_date[:8]
    region = "us-east-1"
    scope = f"{day}/{region}/s3/aws4_request"
    path = "/" + urllib.parse.quote(a.bucket, safe="") + "/" + urllib.parse.quote(a.key, safe="/~")

    chunks = [data[i:i + a.chunk] for i in range(0, len(data), a.chunk)] + [b""]

    def frame(size, sig):
        return f"{size:x};chunk-signature={sig}\r\n".encode()

    body_len = sum(len(frame(len(c), "0" * 64)) + len(c) + 2 for c in chunks)
    headers = {
        "host": host,
        "x-amz-date": amz_date,
        "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        "x-amz-decoded-content-length": str(len(data)),
        "content-encoding": "aws-chunked",
        "content-length": str(body_len),
    }
    signed = sorted(headers)
    creq = "\n".join([
        "PUT", path, "",
        "".join(f"{h}:{headers[h]}\n" for h in signed),
        ";".join(signed),
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
    ])
    sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                     hashlib.sha256(creq.encode()).hexdigest()])
    k = hm(("AWS4" + a.secret).encode(), day)
    k = hm(k, region)
    k = hm(k, "s3")
    k = hm(k, "aws4_request")
    seed = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={a.access}/{scope}, "
        f"SignedHeaders={';'.join(signed)}, Signature={seed}")

    body = bytearray()
    prev = seed
    for i, c in enumerate(chunks):
        csts = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", amz_date, scope, prev, EMPTY,
                          hashlib.sha256(c).hexdigest()])
        sig = hmac.new(k, csts.encode(), hashlib.sha256).hexdigest()
        prev = sig
        if i == a.tamper and c:
            c = bytes([c[0] ^ 1]) + c[1:]
        body += frame(len(c), sig) + c + b"\r\n"
    assert len(body) == body_len
    if a.truncate:
        # announce the whole body, send all but the final chunk, then close
        last = len(frame(0, "0" * 64)) + 2
        body = body[:-last]

    conn = http.client.HTTPConnection(host, timeout=60)
    conn.putrequest("PUT", path, skip_host=True, skip_accept_encoding=True)
    for h, v in headers.items():
        conn.putheader(h, v)
    conn.endheaders()
    try:
        conn.send(bytes(body))
        if a.truncate:
            conn.sock.shutdown(1)
        r = conn.getresponse()
        print(r.status)
        print(r.read()[:300].decode(errors="replace"))
    except (ConnectionError, http.client.RemoteDisconnected) as e:
        print("closed", e)
    return 0


if __name__ == "__main__":
    sys.exit(main())
