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

Requests are signed and sent by hand (sigv4raw) so that the signed headers and the
payload line are exactly what each case needs.
"""

import hashlib
import os

from s3common import Checks
from sigv4raw import UNSIGNED, code, presign, rgw, send, sign_headers

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
