"""request_reading.py - lotad reads a request as the upstream does, and answers as HTTP says.

  - A HEAD that lotad refuses itself (a wrong signature, an unknown key) is answered with
    the head alone: the Content-Length a GET would carry, and no body byte. Checked on one
    connection: the next response must start right after the head.
  - Host: <bucket>.<upstream address> is not virtual-hosted style for this radosgw (its
    rgw_dns_name is another name; it takes the whole Host as a bucket name), so lotad must
    not read it as <bucket> + key either: bob's write to his own bucket, sent with such a
    Host, must not be taken for a write to alice's bucket (which would drop alice's cached
    extents: her next read would be a miss instead of a hit).
  - What lotad cannot judge (a CORS preflight, presign parameters out of its range, a
    claim for another service) is relayed as sent: the client gets radosgw's own answer
    to the same bytes, compared with radosgw asked directly.
"""

import os
import socket
import urllib.request

from s3common import Checks
from sigv4raw import LOTAD, RGW, UNSIGNED, code, presign, rgw, send, sign_headers

ADMIN = int(os.environ["IT_LOTAD_ADMIN_PORT"])


def metric(name):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % ADMIN, timeout=10) as r:
        for line in r.read().decode().splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0] == name:
                return float(parts[1])
    return None


def wait_metric(name, value, secs=60):
    import time

    deadline = time.monotonic() + secs
    while time.monotonic() < deadline:
        if metric(name) == value:
            return True
        time.sleep(0.1)
    return False


def raw_exchange(requests):
    """Send raw request heads on one connection (the last asks to close) and return all
    the bytes lotad sent back until it closed."""
    s = socket.create_connection(LOTAD, timeout=60)
    s.sendall(b"".join(requests))
    out = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        out += b
    s.close()
    return out


def head_of(headers, method, path, close=False):
    lines = ["%s %s HTTP/1.1" % (method, path)]
    lines += ["%s: %s" % (k, v) for k, v in headers.items()]
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def split_head(data):
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return None, {}, data
    lines = data[:end].decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    hs = {}
    for ln in lines[1:]:
        k, _, v = ln.partition(":")
        hs[k.strip().lower()] = v.strip()
    return status, hs, data[end + 4 :]


def main():
    t = Checks()
    tag = os.urandom(4).hex()

    # --- HEAD refused by lotad itself: no body
    path = "/head-refusal-%s/some/key" % tag
    for user, want in (("wrongsecret", "SignatureDoesNotMatch"), ("unknown", "InvalidAccessKeyId")):
        st, body, hd = send("GET", path, sign_headers(user, "GET", path, {}, UNSIGNED))
        t.eq("GET as %s: lotad refuses it itself (%s)" % (user, want), (403, want), (st, code(body)))
        get_len = int(hd.get("content-length", "-1"))
        h = sign_headers(user, "HEAD", path, {}, UNSIGNED)
        nxt = {"host": "%s:%s" % LOTAD}
        data = raw_exchange([head_of(h, "HEAD", path), head_of(nxt, "GET", "/", close=True)])
        st, hs, rest = split_head(data)
        t.eq("HEAD as %s: 403" % user, 403, st)
        t.eq("HEAD as %s: Content-Length as the GET's (%d)" % (user, get_len), str(get_len),
             hs.get("content-length"))
        t.ok(rest.startswith(b"HTTP/1.1 "),
             "HEAD as %s: no body byte; the next response follows the head at once" % user,
             rest[:200])

    # --- Host: <bucket>.<upstream address> is not virtual-hosted style for this radosgw
    # (its rgw_dns_name is "localhost"): it takes such a Host whole as a bucket name. lotad,
    # without --upstream-virtual-hosted, must not read it as <bucket> + path either.
    alice_b = "alice-priv-%s" % tag
    bob_b = "%s.%s" % (alice_b, RGW.hostname)  # bob's bucket, named like alice's + host
    t.eq("alice creates her bucket (radosgw)", 200, rgw("PUT", "/" + alice_b, "alice")[0])
    t.eq("bob creates his bucket %s (radosgw)" % bob_b, 200, rgw("PUT", "/" + bob_b, "bob")[0])
    key = "shard/x"
    data = os.urandom(2 * 1024 * 1024 + 7)
    apath = "/%s/%s" % (alice_b, key)
    t.eq("alice stores %s (radosgw)" % apath, 200, rgw("PUT", apath, "alice", data)[0])
    st, body, hd = send("GET", apath, sign_headers("alice", "GET", apath, {}, UNSIGNED))
    t.eq("alice's first GET through lotad: 200, a miss", (200, "miss"),
         (st, hd.get("x-lota-cache")))
    t.ok(body == data, "... every byte right")
    t.ok(wait_metric("lota_cache_fills_in_progress", 0), "the fill finished")
    st, body, hd = send("GET", apath, sign_headers("alice", "GET", apath, {}, UNSIGNED))
    t.eq("alice's second GET: a hit", (200, "hit"), (st, hd.get("x-lota-cache")))
    up = "%s.%s:%s" % (alice_b, RGW.hostname, RGW.port)
    h = sign_headers("bob", "PUT", "/" + key, {}, UNSIGNED, host=up)
    st, body, _ = send("PUT", "/" + key, h, b"bob's own bytes")
    t.eq("bob's PUT /%s with Host: %s through lotad: 200" % (key, up), 200, st)
    st, body, _ = rgw("GET", "/%s/%s" % (bob_b, key), "bob")
    t.eq("... radosgw wrote it into bob's own bucket", (200, b"bob's own bytes"), (st, body))
    st, body, _ = rgw("GET", apath, "alice")
    t.ok(st == 200 and body == data, "... alice's object is untouched (radosgw)")
    st, body, hd = send("GET", apath, sign_headers("alice", "GET", apath, {}, UNSIGNED))
    t.eq("alice's next GET is still a hit (lotad did not take bob's write for hers)",
         (200, "hit"), (st, hd.get("x-lota-cache")))
    t.ok(body == data, "... every byte right")
    # --- what lotad cannot judge, the upstream answers: the same bytes sent to radosgw
    # directly and through lotad get the same answer
    lotad_host = "%s:%s" % LOTAD
    st, _, _ = rgw("PUT", "/relay-%s" % tag, "alice")
    t.eq("alice creates a bucket for the relay cases (radosgw)", 200, st)
    rpath = "/relay-%s/obj" % tag
    t.eq("alice stores an object (radosgw)", 200, rgw("PUT", rpath, "alice", b"relay bytes")[0])
    cases = [
        ("OPTIONS (a CORS preflight) on a presigned URL", "OPTIONS",
         presign("alice", "GET", rpath),
         {"origin": "http://app.example", "access-control-request-method": "GET"}),
        ("a presigned GET with X-Amz-Expires above a week", "GET",
         presign("alice", "GET", rpath, expires=700000), {}),
        ("a header-signed GET for another service", "GET", None, "iam"),
    ]
    for desc, method, q, extra in cases:
        if q is None:
            h = sign_headers("alice", method, rpath, {}, UNSIGNED)
            h["authorization"] = h["authorization"].replace("/s3/", "/%s/" % extra)
            target = rpath
        else:
            h = dict(extra, host=lotad_host)
            target = "%s?%s" % (rpath, q)
        h["host"] = lotad_host
        d_st, d_body, _ = send(method, target, h, to=(RGW.hostname, RGW.port))
        l_st, l_body, l_hd = send(method, target, h)
        t.eq("%s: lotad's answer is radosgw's own (%s %s)" % (desc, d_st, code(d_body)),
             (d_st, code(d_body)), (l_st, code(l_body)))
        t.ok("x-lota-cache" not in l_hd or l_hd["x-lota-cache"] == "bypass",
             "%s: nothing was served from the cache" % desc, l_hd.get("x-lota-cache"))
    t.exit()


if __name__ == "__main__":
    main()
