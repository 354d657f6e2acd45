"""resign_attacks.py - what lotad signs with a client's key, attacked.

lotad verifies a client's SigV4 signature and signs the upstream request again with the
same key. These checks try to make it sign more than the client did:
  - a presigned PUT URL (SignedHeaders=host) sent with headers of the bearer's own choosing
    (x-amz-copy-source, x-amz-acl): S3 refuses x-amz-* headers that are not signed, and so
    must lotad, or the upstream sees the signer asking to copy a private object into a
    public one;
  - the same with a header-signed request that gains an unsigned x-amz-* header;
  - a body pinned by the client (x-amz-content-sha256 signed in the header form, a signed
    X-Amz-Content-Sha256 header or query parameter in a presigned URL) replaced by another
    body: nothing may be stored.
And that what the client did sign still takes effect (x-amz-acl, x-amz-meta-*,
Content-Type). Every "nothing was created" is checked on radosgw directly.

Requests are built here with a small SigV4 signer (hmac/hashlib) so that the canonical
request, the signed headers and the payload line are exactly what each case needs, and
sent with http.client so that no client library adds or drops a header.
"""

import datetime
import hashlib
import hmac
import http.client
import os
import urllib.parse

from s3common import Checks, KEYS, REGION

LOTAD = (os.environ["S3_HOST_PORT"].rsplit(":", 1)[0], int(os.environ["S3_PORT"]))
RGW = urllib.parse.urlsplit(os.environ["RGW_ENDPOINT"])
UNSIGNED = "UNSIGNED-PAYLOAD"


def enc(s, slash=True):
    return urllib.parse.quote(s, safe="-_.~" + ("" if slash else "/"))


def _key(sk, date):
    k = hmac.new(("AWS4" + sk).encode(), date.encode(), hashlib.sha256).digest()
    for part in (REGION, "s3", "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    return k


def _canonical(method, path, query, headers, signed, payload):
    q = sorted((enc(k), enc(v)) for k, v in query)
    canon_q = "&".join("%s=%s" % kv for kv in q)
    lines = "".join("%s:%s\n" % (n, " ".join(headers[n].split())) for n in signed)
    return "\n".join([method, enc(path, slash=False), canon_q, lines, ";".join(signed), payload])


def _sig(sk, amz, canon):
    scope = "%s/%s/s3/aws4_request" % (amz[:8], REGION)
    sts = "\n".join(
        ["AWS4-HMAC-SHA256", amz, scope, hashlib.sha256(canon.encode()).hexdigest()]
    )
    return hmac.new(_key(sk, amz[:8]), sts.encode(), hashlib.sha256).hexdigest(), scope


def _now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def presign(user, method, path, signed_headers=None, query=None, payload=UNSIGNED, host=None):
    """The query string of a presigned URL for path on lotad; signed_headers: lower-case
    name -> value, signed besides host; query: extra (name, value) pairs, signed."""
    ak, sk = KEYS[user]
    amz = _now()
    hdrs = {"host": host or os.environ["S3_HOST_PORT"]}
    hdrs.update(signed_headers or {})
    signed = sorted(hdrs)
    q = list(query or []) + [
        ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
        ("X-Amz-Credential", "%s/%s/%s/s3/aws4_request" % (ak, amz[:8], REGION)),
        ("X-Amz-Date", amz),
        ("X-Amz-Expires", "600"),
        ("X-Amz-SignedHeaders", ";".join(signed)),
    ]
    sig, _ = _sig(sk, amz, _canonical(method, path, q, hdrs, signed, payload))
    q.append(("X-Amz-Signature", sig))
    return "&".join("%s=%s" % (enc(k), enc(v)) for k, v in q)


def sign_headers(user, method, path, headers, payload):
    """Header-form signature: every header given (lower-case names) is signed; returns
    the headers to send (with host, x-amz-date, x-amz-content-sha256, authorization)."""
    ak, sk = KEYS[user]
    amz = _now()
    h = {"host": os.environ["S3_HOST_PORT"], "x-amz-date": amz, "x-amz-content-sha256": payload}
    h.update(headers)
    signed = sorted(h)
    sig, scope = _sig(sk, amz, _canonical(method, path, [], h, signed, payload))
    h["authorization"] = "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s" % (
        ak,
        scope,
        ";".join(signed),
        sig,
    )
    return h


def send(method, target, headers=None, body=b"", to=LOTAD):
    c = http.client.HTTPConnection(to[0], to[1], timeout=60)
    c.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
    hs = dict(headers or {})
    if "host" not in hs:
        hs["host"] = "%s:%s" % to
    for k, v in hs.items():
        c.putheader(k, v)
    if method in ("PUT", "POST") or body:
        c.putheader("Content-Length", str(len(body)))
    c.endheaders(body if body else None)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data, {k.lower(): v for k, v in r.getheaders()}


def code(body):
    s = body.decode("utf-8", "replace")
    if "<Code>" not in s:
        return ""
    return s.split("<Code>", 1)[1].split("</Code>", 1)[0]


def rgw(method, path, user=None, body=b""):
    """A request straight to radosgw (the truth about what was stored)."""
    to = (RGW.hostname, RGW.port)
    if user is None:
        return send(method, path, {"host": "%s:%s" % to}, body, to=to)
    ak, sk = KEYS[user]
    amz = _now()
    h = {"host": "%s:%s" % to, "x-amz-date": amz, "x-amz-content-sha256": UNSIGNED}
    signed = sorted(h)
    sig, scope = _sig(sk, amz, _canonical(method, path, [], h, signed, UNSIGNED))
    h["authorization"] = "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s" % (
        ak,
        scope,
        ";".join(signed),
        sig,
    )
    return send(method, path, h, body, to=to)


def main():
    t = Checks()
    bucket = "alice-priv-%s" % os.urandom(4).hex()
    secret = b"LOTA-SECRET-" + os.urandom(16).hex().encode() + b"\n"
    msg = "There were headers present in the request which were not signed"

    st, _, _ = rgw("PUT", "/" + bucket, "alice")
    t.eq("alice creates a private bucket (radosgw)", 200, st)
    st, _, _ = rgw("PUT", "/%s/secret.bin" % bucket, "alice", secret)
    t.eq("alice stores a private object (radosgw)", 200, st)
    st, _, _ = rgw("GET", "/%s/secret.bin" % bucket)
    t.eq("the private object is not readable anonymously (radosgw)", 403, st)

    def absent(key, desc):
        st, body, _ = rgw("GET", "/%s/%s" % (bucket, key), "alice")
        t.eq("%s: nothing was created (alice's GET on radosgw: 404)" % desc, 404, st)
        t.ok(secret not in body, "%s: the secret is nowhere in the answer" % desc)
        st, body, _ = rgw("GET", "/%s/%s" % (bucket, key))
        t.ok(st != 200 and secret not in body, "%s: no anonymous read either" % desc, st)

    # --- 1. a presigned PUT (SignedHeaders=host) gains headers of the bearer's choosing
    attack = {"x-amz-copy-source": "%s/secret.bin" % bucket, "x-amz-acl": "public-read"}
    q = presign("alice", "PUT", "/%s/upload.bin" % bucket)
    st, body, _ = send("PUT", "/%s/upload.bin?%s" % (bucket, q), attack, b"harmless")
    t.eq("presigned PUT + unsigned x-amz-copy-source and x-amz-acl: 403", 403, st)
    t.eq("... AccessDenied", "AccessDenied", code(body))
    t.ok(msg.encode() in body, "... with S3's message", body)
    absent("upload.bin", "presigned PUT with unsigned headers")
    for name, value in attack.items():
        st, body, _ = send("PUT", "/%s/upload.bin?%s" % (bucket, q), {name: value}, b"x")
        t.eq("presigned PUT + unsigned %s alone: 403 AccessDenied" % name, (403, "AccessDenied"),
             (st, code(body)))
    absent("upload.bin", "presigned PUT with one unsigned header")
    # the URL itself, as issued, still works: the refusal is of the added headers only
    st, _, _ = send("PUT", "/%s/upload.bin?%s" % (bucket, q), {}, b"as issued")
    t.eq("the same presigned PUT as issued: 200", 200, st)
    st, body, _ = rgw("GET", "/%s/upload.bin" % bucket, "alice")
    t.eq("... stored the bearer's body, not the secret", (200, b"as issued"), (st, body))
    st, _, _ = rgw("GET", "/%s/upload.bin" % bucket)
    t.eq("... and the object stayed private (anonymous GET on radosgw: 403)", 403, st)

    # --- 2. a header-signed request gains an unsigned x-amz-* header (within the skew)
    h = sign_headers("alice", "PUT", "/%s/upload2.bin" % bucket, {}, UNSIGNED)
    st, body, _ = send("PUT", "/%s/upload2.bin" % bucket, dict(h, **attack), b"harmless")
    t.eq("header-signed PUT + unsigned x-amz-copy-source, x-amz-acl: 403 AccessDenied",
         (403, "AccessDenied"), (st, code(body)))
    absent("upload2.bin", "header-signed PUT with unsigned headers")

    # --- what the client signed reaches the upstream and takes effect
    signed = {"x-amz-acl": "public-read", "x-amz-meta-color": "blue", "content-type": "text/x-lota"}
    h = sign_headers("alice", "PUT", "/%s/signed.bin" % bucket, signed, UNSIGNED)
    st, body, _ = send("PUT", "/%s/signed.bin" % bucket, h, b"public bytes")
    t.eq("header-signed PUT with signed x-amz-acl, x-amz-meta-color, content-type: 200", 200, st)
    st, body, hd = rgw("GET", "/%s/signed.bin" % bucket)
    t.eq("... the signed x-amz-acl took effect (anonymous GET on radosgw: 200)", (200, b"public bytes"),
         (st, body))
    t.eq("... the signed x-amz-meta-color was stored", "blue", hd.get("x-amz-meta-color"))
    t.eq("... the signed content-type was stored", "text/x-lota", hd.get("content-type"))
    q = presign("alice", "PUT", "/%s/signed2.bin" % bucket, {"x-amz-acl": "public-read"})
    st, body, _ = send("PUT", "/%s/signed2.bin?%s" % (bucket, q), {"x-amz-acl": "public-read"},
                       b"presigned public")
    t.eq("presigned PUT that signed x-amz-acl, sent with it: 200", 200, st)
    st, body, _ = rgw("GET", "/%s/signed2.bin" % bucket)
    t.eq("... the signed x-amz-acl took effect", (200, b"presigned public"), (st, body))
    # a non-amz header the client did not sign is relayed unsigned, as S3 takes it directly
    h = sign_headers("alice", "PUT", "/%s/ctype.bin" % bucket, {}, UNSIGNED)
    st, _, _ = send("PUT", "/%s/ctype.bin" % bucket, dict(h, **{"content-type": "text/unsigned"}),
                    b"ct")
    t.eq("header-signed PUT with an unsigned Content-Type: 200", 200, st)
    st, _, hd = rgw("HEAD", "/%s/ctype.bin" % bucket, "alice")
    t.eq("... stored with it (the upstream takes unsigned non-amz headers as S3 does)",
         "text/unsigned", hd.get("content-type"))

    # --- 3. a pinned body replaced by another
    good, evil = b"the body alice pinned\n", b"another body of the bearer's\n"
    pin = hashlib.sha256(good).hexdigest()
    # (a) presigned, X-Amz-Content-Sha256 as a signed header
    q = presign("alice", "PUT", "/%s/pinned-h.bin" % bucket, {"x-amz-content-sha256": pin},
                payload=pin)
    st, body, _ = send("PUT", "/%s/pinned-h.bin?%s" % (bucket, q), {"x-amz-content-sha256": pin},
                       evil)
    t.ok(st in (400, 403), "presigned PUT pinned by a signed x-amz-content-sha256, other body: "
         "refused (%s %s)" % (st, code(body)), body)
    absent("pinned-h.bin", "presigned PUT (header pin) with another body")
    st, _, _ = send("PUT", "/%s/pinned-h.bin?%s" % (bucket, q), {"x-amz-content-sha256": pin}, good)
    t.eq("... with the pinned body: 200", 200, st)
    st, body, _ = rgw("GET", "/%s/pinned-h.bin" % bucket, "alice")
    t.eq("... the pinned body is what was stored", (200, good), (st, body))
    # (b) presigned, X-Amz-Content-Sha256 as a signed query parameter
    q = presign("alice", "PUT", "/%s/pinned-q.bin" % bucket,
                query=[("X-Amz-Content-Sha256", pin)], payload=pin)
    st, body, _ = send("PUT", "/%s/pinned-q.bin?%s" % (bucket, q), {}, evil)
    t.ok(st in (400, 403), "presigned PUT pinned by an X-Amz-Content-Sha256 parameter, other "
         "body: refused (%s %s)" % (st, code(body)), body)
    absent("pinned-q.bin", "presigned PUT (query pin) with another body")
    st, _, _ = send("PUT", "/%s/pinned-q.bin?%s" % (bucket, q), {}, good)
    t.eq("... with the pinned body: 200", 200, st)
    st, body, _ = rgw("GET", "/%s/pinned-q.bin" % bucket, "alice")
    t.eq("... the pinned body is what was stored", (200, good), (st, body))
    # (c) header form
    h = sign_headers("alice", "PUT", "/%s/pinned-s.bin" % bucket, {}, pin)
    st, body, _ = send("PUT", "/%s/pinned-s.bin" % bucket, h, evil)
    t.ok(st in (400, 403), "header-signed PUT with a body hash, other body: refused (%s %s)"
         % (st, code(body)), body)
    absent("pinned-s.bin", "header-signed PUT with another body")
    t.exit()


if __name__ == "__main__":
    main()
