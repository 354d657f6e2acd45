"""sigv4raw.py - requests signed and sent by hand, for tests that attack lotad's reading.

A small SigV4 signer (hmac/hashlib) so that the canonical request, the signed headers and
the payload line are exactly what a test wants, and http.client so that no client library
adds or drops a header. Keys and the region come from s3common (the test environment).
"""

import datetime
import hashlib
import hmac
import http.client
import os
import urllib.parse

from s3common import KEYS, REGION

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


def presign(user, method, path, signed_headers=None, query=None, payload=UNSIGNED, host=None,
            expires=600):
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
        ("X-Amz-Expires", str(expires)),
        ("X-Amz-SignedHeaders", ";".join(signed)),
    ]
    sig, _ = _sig(sk, amz, _canonical(method, path, q, hdrs, signed, payload))
    q.append(("X-Amz-Signature", sig))
    return "&".join("%s=%s" % (enc(k), enc(v)) for k, v in q)


def sign_headers(user, method, path, headers, payload, host=None):
    """Header-form signature: every header given (lower-case names) is signed; returns
    the headers to send (with host, x-amz-date, x-amz-content-sha256, authorization)."""
    ak, sk = KEYS[user]
    amz = _now()
    h = {"host": host or os.environ["S3_HOST_PORT"], "x-amz-date": amz,
         "x-amz-content-sha256": payload}
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
    h = sign_headers(user, method, path, {}, UNSIGNED, host="%s:%s" % to)
    return send(method, path, h, body, to=to)
