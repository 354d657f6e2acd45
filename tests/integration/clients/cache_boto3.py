"""cache_boto3.py - boto3 reads for the node-cache tests (run through lib.sh's it_python).

    cache_boto3.py get BUCKET KEY OUT [RANGE]
        one get_object (path style, user alice), body to OUT; prints the response's
        x-lota-cache value ("-" when the header is missing)
    cache_boto3.py download BUCKET KEY OUT CHUNK_BYTES CONCURRENCY
        download_file with a TransferConfig that splits the object into parallel ranged
        GETs of CHUNK_BYTES; prints one line per GET response: its x-lota-cache value
    cache_boto3.py slow BUCKET KEY OUT STOPFILE
        a GET (a presigned URL of alice) read 4 KiB at a time, 10 times a second,
        through a socket with a 16 KiB receive buffer (so the kernel cannot take the
        rest of the body off lotad's hands) until STOPFILE exists or 300 s passed; the
        raw response, head included, goes to OUT. Keeps the extent's reader in lotad
        open meanwhile.

The shell script compares the bytes and decides what is a pass; this helper only reads.
Exit status 1 on any error (the error is printed on stderr).
"""

import os
import socket
import sys
import time
import urllib.parse

from boto3.s3.transfer import TransferConfig

from s3common import client


def cache_header(http_response_headers):
    for k, v in http_response_headers.items():
        if k.lower() == "x-lota-cache":
            return v
    return "-"


def get(bucket, key, out, rng=None):
    kw = {"Range": rng} if rng else {}
    r = client("alice").get_object(Bucket=bucket, Key=key, **kw)
    with open(out, "wb") as f:
        for chunk in r["Body"].iter_chunks(1 << 20):
            f.write(chunk)
    print(cache_header(r["ResponseMetadata"]["HTTPHeaders"]))


def download(bucket, key, out, chunk, conc):
    c = client("alice")
    seen = []

    def after_call(http_response, **_):
        seen.append(cache_header(http_response.headers))

    c.meta.events.register("after-call.s3.GetObject", after_call)
    cfg = TransferConfig(
        multipart_threshold=chunk, multipart_chunksize=chunk, max_concurrency=conc
    )
    c.download_file(bucket, key, out, Config=cfg)
    for s in seen:
        print(s)


def slow(bucket, key, out, stop):
    url = client("alice").generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=900
    )
    u = urllib.parse.urlsplit(url)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # set before connect: a fixed small window, no receive-buffer autotuning
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    s.connect((u.hostname, u.port))
    target = u.path + ("?" + u.query if u.query else "")
    head = "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n"
    s.sendall((head % (target, u.netloc)).encode())
    deadline = time.monotonic() + 300
    with open(out, "wb") as f:
        while not os.path.exists(stop) and time.monotonic() < deadline:
            b = s.recv(4096)
            if not b:
                break
            f.write(b)
            f.flush()
            time.sleep(0.1)  # the slow client itself, not a wait for an event
    s.close()


def main(argv):
    if len(argv) >= 4 and argv[0] == "get":
        get(argv[1], argv[2], argv[3], argv[4] if len(argv) > 4 else None)
    elif len(argv) == 5 and argv[0] == "slow":
        slow(argv[1], argv[2], argv[3], argv[4])
    elif len(argv) == 6 and argv[0] == "download":
        download(argv[1], argv[2], argv[3], int(argv[4]), int(argv[5]))
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
