"""cache_boto3.py - boto3 reads for the node-cache tests (run through lib.sh's it_python).

    cache_boto3.py get BUCKET KEY OUT [RANGE]
        one get_object (path style, user alice), body to OUT; prints the response's
        x-lota-cache value ("-" when the header is missing)
    cache_boto3.py download BUCKET KEY OUT CHUNK_BYTES CONCURRENCY
        download_file with a TransferConfig that splits the object into parallel ranged
        GETs of CHUNK_BYTES; prints one line per GET response: its x-lota-cache value

The shell script compares the bytes and decides what is a pass; this helper only reads.
Exit status 1 on any error (the error is printed on stderr).
"""

import sys

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


def main(argv):
    if len(argv) >= 4 and argv[0] == "get":
        get(argv[1], argv[2], argv[3], argv[4] if len(argv) > 4 else None)
    elif len(argv) == 6 and argv[0] == "download":
        download(argv[1], argv[2], argv[3], int(argv[4]), int(argv[5]))
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
