"""boto3_matrix.py - Debian's boto3 against the endpoint under test.

Run by test_boto3.sh (through lib.sh's it_python). Covers: get_object with Range and
every conditional, presigned GET URLs (valid, tampered, expired, wrong user), multipart
upload_fileobj / download_fileobj, paginated list_objects_v2, copy_object,
delete_objects, object ACLs (grant to another user, public-read for anonymous, back to
private), user metadata, awkward keys, virtual-hosted style, and the authentication
failures. Every byte read is compared (sha256) with what was written.
"""

import io
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timedelta, timezone

from boto3.s3.transfer import TransferConfig

from s3common import Checks, client, sha

T = Checks()
A = client("alice")
AV = client("alice", vhost=True)
BOB = client("bob")
BOBV = client("bob", vhost=True)
BUCKET = "lota-boto3"
MiB = 1024 * 1024


def wait_expired(url, secs=60):
    """Wait until the wall clock is two whole seconds past a presigned URL's X-Amz-Date +
    X-Amz-Expires (lotad and radosgw count whole seconds). The clock passing the expiry
    is the input of the expired-URL checks: polled against a deadline, not a fixed
    sleep. True when it has passed."""
    q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
    signed = datetime.strptime(q["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
    # two whole seconds: lotad's time(2) reads a coarse clock that may lag this one by a
    # tick, so at one second past it may still see the last valid second
    expired_at = signed.timestamp() + int(q["X-Amz-Expires"]) + 2
    deadline = time.monotonic() + secs
    while time.time() < expired_at:
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)  # between polls of the clock
    return True


def http_get(url, headers=None):
    """Plain (unsigned) GET: (status, body bytes, headers)."""
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.read(), r.headers
    except urllib.error.HTTPError as e:
        return e.code, e.read(), e.headers


def code_of(body):
    m = re.search(rb"<Code>([^<]*)</Code>", body or b"")
    return m.group(1).decode() if m else None


def get_bytes(c, key, **kw):
    r = c.get_object(Bucket=BUCKET, Key=key, **kw)
    return r, r["Body"].read()


# ------------------------------------------------------------------ setup
T.run("create bucket " + BUCKET, lambda: A.create_bucket(Bucket=BUCKET))
DATA = os.urandom(6 * MiB + 12345)
KEY = "obj/data.bin"
put = T.run(
    "put_object 6 MiB with metadata",
    lambda: A.put_object(
        Bucket=BUCKET,
        Key=KEY,
        Body=DATA,
        ContentType="application/x-lota-test",
        Metadata={"origin": "boto3", "mixed-case": "Value 1"},
    ),
)
ETAG = put["ETag"] if put else '"missing"'
N = len(DATA)

# ------------------------------------------------------------------ plain and ranged GET
r = T.run("get_object full", lambda: get_bytes(A, KEY))
if r:
    T.eq("full body sha256", sha(DATA), sha(r[1]))
    T.eq("ETag on GET equals PUT's", ETAG, r[0]["ETag"])
    T.eq("Content-Type kept", "application/x-lota-test", r[0]["ContentType"])
    T.eq("user metadata kept", {"origin": "boto3", "mixed-case": "Value 1"}, r[0]["Metadata"])
    T.eq("ContentLength", N, r[0]["ContentLength"])

for desc, rng, lo, hi in [
    ("first byte", "bytes=0-0", 0, 0),
    ("middle", "bytes=100-199", 100, 199),
    ("across 4 MiB", "bytes=%d-%d" % (4 * MiB - 10, 4 * MiB + 10), 4 * MiB - 10, 4 * MiB + 10),
    ("suffix", "bytes=-10", N - 10, N - 1),
    ("open end", "bytes=%d-" % (N - 1000), N - 1000, N - 1),
    ("end past size is clamped", "bytes=%d-%d" % (N - 5, N + 500), N - 5, N - 1),
]:
    r = T.run("Range %s (%s)" % (desc, rng), lambda: get_bytes(A, KEY, Range=rng))
    if r:
        T.eq("Range %s: status 206" % desc, 206, r[0]["ResponseMetadata"]["HTTPStatusCode"])
        T.eq("Range %s: bytes" % desc, sha(DATA[lo : hi + 1]), sha(r[1]))
        T.eq("Range %s: Content-Range" % desc, "bytes %d-%d/%d" % (lo, hi, N), r[0]["ContentRange"])
T.fails(
    "Range beyond the end -> 416 InvalidRange",
    lambda: A.get_object(Bucket=BUCKET, Key=KEY, Range="bytes=%d-" % N),
    416,
    "InvalidRange",
)

# ------------------------------------------------------------------ conditionals
now = datetime.now(timezone.utc)
past = now - timedelta(days=365)
future = now + timedelta(days=1)
r = T.run("If-Match current ETag -> 200", lambda: get_bytes(A, KEY, IfMatch=ETAG))
if r:
    T.eq("If-Match current ETag: bytes", sha(DATA), sha(r[1]))
T.fails("If-Match other ETag -> 412", lambda: A.get_object(Bucket=BUCKET, Key=KEY, IfMatch='"0123456789abcdef0123456789abcdef"'), 412, "PreconditionFailed")
T.fails("If-None-Match current ETag -> 304", lambda: A.get_object(Bucket=BUCKET, Key=KEY, IfNoneMatch=ETAG), 304)
T.fails("HEAD If-None-Match current ETag -> 304", lambda: A.head_object(Bucket=BUCKET, Key=KEY, IfNoneMatch=ETAG), 304)
r = T.run("If-None-Match other ETag -> 200", lambda: get_bytes(A, KEY, IfNoneMatch='"0123456789abcdef0123456789abcdef"'))
if r:
    T.eq("If-None-Match other ETag: bytes", sha(DATA), sha(r[1]))
T.fails("If-Modified-Since future -> 304", lambda: A.get_object(Bucket=BUCKET, Key=KEY, IfModifiedSince=future), 304)
r = T.run("If-Modified-Since past -> 200", lambda: get_bytes(A, KEY, IfModifiedSince=past))
if r:
    T.eq("If-Modified-Since past: bytes", sha(DATA), sha(r[1]))
T.fails("If-Unmodified-Since past -> 412", lambda: A.get_object(Bucket=BUCKET, Key=KEY, IfUnmodifiedSince=past), 412, "PreconditionFailed")
r = T.run("If-Unmodified-Since future -> 200", lambda: get_bytes(A, KEY, IfUnmodifiedSince=future))
if r:
    T.eq("If-Unmodified-Since future: bytes", sha(DATA), sha(r[1]))
r = T.run("Range with If-Match current -> 206", lambda: get_bytes(A, KEY, Range="bytes=10-19", IfMatch=ETAG))
if r:
    T.eq("Range with If-Match: bytes", sha(DATA[10:20]), sha(r[1]))
T.fails("Range with If-Match other -> 412", lambda: A.get_object(Bucket=BUCKET, Key=KEY, Range="bytes=10-19", IfMatch='"00"'), 412, "PreconditionFailed")

# ------------------------------------------------------------------ presigned GET
for label, c in (("path", A), ("vhost", AV)):
    url = c.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": KEY}, ExpiresIn=300)
    st, body, _ = http_get(url)
    T.eq("presigned GET (%s): status" % label, 200, st)
    T.eq("presigned GET (%s): bytes" % label, sha(DATA), sha(body))
    st, body, h = http_get(url, {"Range": "bytes=1000-1999"})
    T.eq("presigned GET (%s) with Range: status" % label, 206, st)
    T.eq("presigned GET (%s) with Range: bytes" % label, sha(DATA[1000:2000]), sha(body))

    u = urllib.parse.urlsplit(url)
    q = urllib.parse.parse_qsl(u.query, keep_blank_values=True)

    def with_query(qq, path=None):
        return urllib.parse.urlunsplit((u.scheme, u.netloc, path or u.path, urllib.parse.urlencode(qq), ""))

    sig = [v for k, v in q if k == "X-Amz-Signature"][0]
    bad_sig = sig[:-1] + ("0" if sig[-1] != "0" else "1")
    tampered = {
        "signature changed": with_query([(k, bad_sig if k == "X-Amz-Signature" else v) for k, v in q]),
        "expiry extended": with_query([(k, "600" if k == "X-Amz-Expires" else v) for k, v in q]),
        "other key": with_query(q, u.path.replace("data.bin", "data.bim")),
        "query parameter added": with_query(q + [("response-content-type", "text/html")]),
    }
    for what, turl in tampered.items():
        st, body, _ = http_get(turl)
        T.eq("tampered presigned URL (%s, %s) -> 403 SignatureDoesNotMatch" % (label, what), (403, "SignatureDoesNotMatch"), (st, code_of(body)))

bob_url = BOB.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": KEY}, ExpiresIn=300)
st, body, _ = http_get(bob_url)
T.eq("bob's presigned URL for alice's private object -> 403 AccessDenied", (403, "AccessDenied"), (st, code_of(body)))
unk = client("unknown").generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": KEY}, ExpiresIn=300)
st, body, _ = http_get(unk)
T.eq("presigned URL with an unknown key -> 403 InvalidAccessKeyId", (403, "InvalidAccessKeyId"), (st, code_of(body)))
wrong = client("wrongsecret").generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": KEY}, ExpiresIn=300)
st, body, _ = http_get(wrong)
T.eq("presigned URL signed with a wrong secret -> 403 SignatureDoesNotMatch", (403, "SignatureDoesNotMatch"), (st, code_of(body)))

expiring = [A.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": KEY}, ExpiresIn=1), AV.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": KEY}, ExpiresIn=1)]
for label, url in zip(("path", "vhost"), expiring):
    T.ok(wait_expired(url), "the clock passed the expiry of the 1 s presigned URL (%s)" % label)
    st, body, _ = http_get(url)
    T.eq("expired presigned URL (%s) -> 403 AccessDenied" % label, (403, "AccessDenied"), (st, code_of(body)))

# ------------------------------------------------------------------ multipart upload_fileobj
BIG = os.urandom(17 * MiB + 333)
tc = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB, max_concurrency=4)
T.run("upload_fileobj 17 MiB (multipart, 5 MiB parts)", lambda: A.upload_fileobj(io.BytesIO(BIG), BUCKET, "mp/big.bin", Config=tc))
h = T.run("head_object of the multipart object", lambda: A.head_object(Bucket=BUCKET, Key="mp/big.bin"))
if h:
    T.ok(re.fullmatch(r'"[0-9a-f]{32}-4"', h["ETag"]) is not None, "multipart ETag has 4 parts: %s" % h["ETag"])
    T.eq("multipart ContentLength", len(BIG), h["ContentLength"])
for label, c in (("path", A), ("vhost", AV)):
    buf = io.BytesIO()
    T.run("download_fileobj (%s, parallel ranged GETs)" % label, lambda: c.download_fileobj(BUCKET, "mp/big.bin", buf, Config=tc))
    T.eq("download_fileobj (%s): bytes" % label, sha(BIG), sha(buf.getvalue()))
r = T.run("Range across the multipart part boundary", lambda: get_bytes(A, "mp/big.bin", Range="bytes=%d-%d" % (5 * MiB - 3, 5 * MiB + 2)))
if r:
    T.eq("Range across the part boundary: bytes", sha(BIG[5 * MiB - 3 : 5 * MiB + 3]), sha(r[1]))

# ------------------------------------------------------------------ paginated listing
PAGE_KEYS = sorted("page/k%02d" % i for i in range(11))
for k in PAGE_KEYS:
    A.put_object(Bucket=BUCKET, Key=k, Body=k.encode())
for label, c in (("path", A), ("vhost", AV)):
    pages = list(c.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix="page/", PaginationConfig={"PageSize": 3}))
    T.eq("list_objects_v2 paginated (%s): 4 pages of <= 3" % label, [3, 3, 3, 2], [p.get("KeyCount", 0) for p in pages])
    T.eq("list_objects_v2 paginated (%s): every key once, in order" % label, PAGE_KEYS, [o["Key"] for p in pages for o in p.get("Contents", [])])
keys, token, rounds = [], None, 0
while rounds < 10:
    kw = {"ContinuationToken": token} if token else {}
    p = A.list_objects_v2(Bucket=BUCKET, Prefix="page/", MaxKeys=4, **kw)
    keys += [o["Key"] for o in p.get("Contents", [])]
    rounds += 1
    if not p.get("IsTruncated"):
        break
    token = p["NextContinuationToken"]
T.eq("list_objects_v2 ContinuationToken loop (MaxKeys=4)", (PAGE_KEYS, 3), (keys, rounds))
p = A.list_objects_v2(Bucket=BUCKET, Prefix="page/", StartAfter="page/k07")
T.eq("list_objects_v2 StartAfter", PAGE_KEYS[8:], [o["Key"] for o in p.get("Contents", [])])

# ------------------------------------------------------------------ copy_object
T.run("copy_object", lambda: A.copy_object(Bucket=BUCKET, Key="copy/dst.bin", CopySource={"Bucket": BUCKET, "Key": KEY}))
r = T.run("get the copy", lambda: get_bytes(A, "copy/dst.bin"))
if r:
    T.eq("copy: bytes", sha(DATA), sha(r[1]))
    T.eq("copy: metadata copied", {"origin": "boto3", "mixed-case": "Value 1"}, r[0]["Metadata"])
T.run(
    "copy_object with MetadataDirective=REPLACE (vhost)",
    lambda: AV.copy_object(Bucket=BUCKET, Key="copy/replaced.bin", CopySource={"Bucket": BUCKET, "Key": "mp/big.bin"}, MetadataDirective="REPLACE", Metadata={"new": "yes"}),
)
r = T.run("get the replaced copy", lambda: get_bytes(A, "copy/replaced.bin"))
if r:
    T.eq("replaced copy: bytes", sha(BIG), sha(r[1]))
    T.eq("replaced copy: metadata", {"new": "yes"}, r[0]["Metadata"])
T.fails("bob copies alice's object into her bucket -> 403 AccessDenied", lambda: BOB.copy_object(Bucket=BUCKET, Key="copy/bob.bin", CopySource={"Bucket": BUCKET, "Key": KEY}), 403, "AccessDenied")

# ------------------------------------------------------------------ delete_objects
res = T.run(
    "delete_objects (11 keys + 1 missing)",
    lambda: A.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": k} for k in PAGE_KEYS + ["page/missing"]]}),
)
if res:
    T.eq("delete_objects: every key reported deleted", sorted(PAGE_KEYS + ["page/missing"]), sorted(d["Key"] for d in res.get("Deleted", [])))
    T.eq("delete_objects: no errors", [], res.get("Errors", []))
T.eq("list after delete_objects is empty", 0, A.list_objects_v2(Bucket=BUCKET, Prefix="page/").get("KeyCount"))
T.fails("get a deleted key -> 404 NoSuchKey", lambda: A.get_object(Bucket=BUCKET, Key=PAGE_KEYS[0]), 404, "NoSuchKey")
T.fails("head a deleted key -> 404", lambda: A.head_object(Bucket=BUCKET, Key=PAGE_KEYS[0]), 404)
T.fails("bob delete_objects in alice's bucket -> 403 AccessDenied", lambda: BOB.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": KEY}]}), 403, "AccessDenied")

# ------------------------------------------------------------------ ACL on an object
ACL_KEY = "acl/shared.bin"
ACL_DATA = os.urandom(100000)
A.put_object(Bucket=BUCKET, Key=ACL_KEY, Body=ACL_DATA)
T.fails("ACL private: bob get_object -> 403 AccessDenied", lambda: BOB.get_object(Bucket=BUCKET, Key=ACL_KEY), 403, "AccessDenied")
T.fails("ACL private: bob head_object -> 403", lambda: BOB.head_object(Bucket=BUCKET, Key=ACL_KEY), 403)
T.fails("bob cannot change alice's ACL -> 403 AccessDenied", lambda: BOB.put_object_acl(Bucket=BUCKET, Key=ACL_KEY, GrantRead="id=bob"), 403, "AccessDenied")
T.run("put_object_acl GrantRead id=bob", lambda: A.put_object_acl(Bucket=BUCKET, Key=ACL_KEY, GrantRead="id=bob"))
acl = T.run("get_object_acl", lambda: A.get_object_acl(Bucket=BUCKET, Key=ACL_KEY))
if acl:
    T.ok(any(g["Grantee"].get("ID") == "bob" and g["Permission"] == "READ" for g in acl["Grants"]), "ACL lists bob READ", acl["Grants"])
for label, c in (("path", BOB), ("vhost", BOBV)):
    r = T.run("granted: bob get_object (%s)" % label, lambda: get_bytes(c, ACL_KEY))
    if r:
        T.eq("granted: bob reads the bytes (%s)" % label, sha(ACL_DATA), sha(r[1]))
r = T.run("granted: bob ranged get", lambda: get_bytes(BOB, ACL_KEY, Range="bytes=5-9"))
if r:
    T.eq("granted: bob ranged bytes", sha(ACL_DATA[5:10]), sha(r[1]))
st, body, _ = http_get("%s/%s/%s" % (os.environ["S3_ENDPOINT"], BUCKET, ACL_KEY))
T.eq("bob's grant does not open it to anonymous -> 403 AccessDenied", (403, "AccessDenied"), (st, code_of(body)))
T.run("put_object_acl public-read", lambda: A.put_object_acl(Bucket=BUCKET, Key=ACL_KEY, ACL="public-read"))
st, body, _ = http_get("%s/%s/%s" % (os.environ["S3_ENDPOINT"], BUCKET, ACL_KEY))
T.eq("public-read: anonymous GET -> 200", 200, st)
T.eq("public-read: anonymous bytes", sha(ACL_DATA), sha(body))
T.run("put_object_acl private again", lambda: A.put_object_acl(Bucket=BUCKET, Key=ACL_KEY, ACL="private"))
st, body, _ = http_get("%s/%s/%s" % (os.environ["S3_ENDPOINT"], BUCKET, ACL_KEY))
T.eq("private again: anonymous GET -> 403 AccessDenied", (403, "AccessDenied"), (st, code_of(body)))
T.fails("private again: bob get_object -> 403 AccessDenied", lambda: BOB.get_object(Bucket=BUCKET, Key=ACL_KEY), 403, "AccessDenied")
T.fails("private again: bob ranged get -> 403 AccessDenied", lambda: BOB.get_object(Bucket=BUCKET, Key=ACL_KEY, Range="bytes=0-0"), 403, "AccessDenied")

# ------------------------------------------------------------------ awkward keys
AWK = ["sp ace", "plus+plus", "pct%25%2f%zz", "ünïcödé/日本/🙂", "a//b///c", "q?x=1&y=2#frag", "semi;colon,comma'quote\"", "trailing/"]
for i, k in enumerate(AWK):
    body = os.urandom(500 + i)
    c = AV if i % 2 else A
    label = "vhost" if i % 2 else "path"
    T.run("put awkward key %r (%s)" % (k, label), lambda: c.put_object(Bucket=BUCKET, Key="awk/" + k, Body=body))
    r = T.run("get awkward key %r (%s)" % (k, label), lambda: get_bytes(A if i % 2 else AV, "awk/" + k))
    if r:
        T.eq("awkward key %r: bytes" % k, sha(body), sha(r[1]))
    url = A.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": "awk/" + k}, ExpiresIn=300)
    st, got, _ = http_get(url)
    T.eq("awkward key %r: presigned GET" % k, (200, sha(body)), (st, sha(got)))
listed = [o["Key"] for o in A.list_objects_v2(Bucket=BUCKET, Prefix="awk/").get("Contents", [])]
T.eq("awkward keys listed exactly", sorted("awk/" + k for k in AWK), sorted(listed))

# ------------------------------------------------------------------ authentication failures
for label, vh in (("path", False), ("vhost", True)):
    T.fails("wrong secret (%s) -> 403 SignatureDoesNotMatch" % label, lambda: client("wrongsecret", vh).get_object(Bucket=BUCKET, Key=KEY), 403, "SignatureDoesNotMatch")
    T.fails("unknown access key (%s) -> 403 InvalidAccessKeyId" % label, lambda: client("unknown", vh).get_object(Bucket=BUCKET, Key=KEY), 403, "InvalidAccessKeyId")
    T.fails("bob reads alice's object (%s) -> 403 AccessDenied" % label, lambda: (BOBV if vh else BOB).get_object(Bucket=BUCKET, Key=KEY), 403, "AccessDenied")
    T.fails("bob ranged read of alice's object (%s) -> 403 AccessDenied" % label, lambda: (BOBV if vh else BOB).get_object(Bucket=BUCKET, Key=KEY, Range="bytes=0-9"), 403, "AccessDenied")
T.fails("wrong secret on put_object -> 403 SignatureDoesNotMatch", lambda: client("wrongsecret").put_object(Bucket=BUCKET, Key="x", Body=b"x"), 403, "SignatureDoesNotMatch")
T.fails("wrong secret on list -> 403 SignatureDoesNotMatch", lambda: client("wrongsecret").list_objects_v2(Bucket=BUCKET), 403, "SignatureDoesNotMatch")
T.fails("missing key -> 404 NoSuchKey", lambda: A.get_object(Bucket=BUCKET, Key="no/such/key"), 404, "NoSuchKey")
T.fails("missing bucket -> 404 NoSuchBucket", lambda: A.get_object(Bucket="lota-no-such-bucket", Key="k"), 404, "NoSuchBucket")
st, body, _ = http_get("%s/%s/%s" % (os.environ["S3_ENDPOINT"], BUCKET, KEY))
T.eq("anonymous GET of a private object -> 403 AccessDenied", (403, "AccessDenied"), (st, code_of(body)))

T.exit()
