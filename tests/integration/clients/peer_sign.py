"""peer_sign.py - a member (or an impostor) speaking lota's peer protocol by hand, with
its own implementation of the canonical string and HMAC of include/lota/peer.h, so the
test checks lotad against the specification, not against itself.

    peer_sign.py refusals HOST PORT SECRET_FILE NODE_ID
        sends the requests a peer port must refuse (no peer headers, a wrong HMAC, a
        wrong secret, a stale and a future time, a replay of a good request, a good HMAC
        from a node id that is no member, a tampered range) and checks each gets a 403
        with no body byte; a good health probe gets 200. Prints ok/not ok lines.
    peer_sign.py extent HOST PORT SECRET_FILE NODE_ID BUCKET KEY ETAG SIZE INDEX RANGE OUT
        a signed GET /peer/extent of one extent (no fill ticket); the body goes to OUT,
        the status is printed.
    peer_sign.py plain HOST PORT SECRET_FILE NODE_ID
    peer_sign.py tls HOST PORT SECRET_FILE NODE_ID CA [CERT KEY]
        a signed health probe of member NODE_ID in plain HTTP, or over TLS (the server
        checked against CA, with the client certificate CERT/KEY if given); prints the
        status (0: none) and the number of bytes received after the handshake.
"""

import hashlib
import hmac
import os
import socket
import ssl
import struct
import sys
import time

TAG = "LOTA-PEER-HMAC-SHA256"


def canonical(method, target, node, t, nonce, extent="", rng="", ticket=""):
    return "\n".join([TAG, method, target, node, str(t), nonce, extent, rng, ticket])


def head(secret, method, target, node, t=None, nonce=None, extent="", rng="", ticket="",
         sig=None, sign_range=None):
    t = int(time.time()) if t is None else t
    nonce = nonce or os.urandom(16).hex()
    s = sig or hmac.new(secret, canonical(method, target, node, t, nonce, extent,
                                           rng if sign_range is None else sign_range,
                                           ticket).encode(), hashlib.sha256).hexdigest()
    h = f"{method} {target} HTTP/1.1\r\nHost: peer\r\nX-Lota-Peer-Node: {node}\r\n"
    h += f"X-Lota-Peer-Time: {t}\r\nX-Lota-Peer-Nonce: {nonce}\r\n"
    if extent:
        h += f"X-Lota-Peer-Extent: {extent}\r\n"
    if rng:
        h += f"Range: {rng}\r\n"
    if ticket:
        h += f"X-Lota-Peer-Ticket: {ticket}\r\n"
    return (h + f"X-Lota-Peer-Signature: {s}\r\nConnection: close\r\n\r\n").encode()


def send(host, port, raw):
    """One request on its own connection: (status, body bytes)."""
    with socket.create_connection((host, int(port)), timeout=30) as so:
        so.sendall(raw)
        data = b""
        while True:
            b = so.recv(65536)
            if not b:
                break
            data += b
    hd, _, body = data.partition(b"\r\n\r\n")
    status = int(hd.split(b" ")[1]) if hd.startswith(b"HTTP/1.1 ") else 0
    return status, body


def cache_key(bucket, key, etag, vid, size, index):
    out = b"LOTACK1\n"
    for f in (bucket, key, etag, vid):
        f = f.encode()
        out += struct.pack(">I", len(f)) + f
    return (out + struct.pack(">QQ", size, index)).hex()


FAILED = 0


def check(desc, cond):
    global FAILED
    print(("ok - " if cond else "not ok - ") + desc)
    FAILED += 0 if cond else 1


def refusals(host, port, secret, node):
    def refused(desc, raw):
        st, body = send(host, port, raw)
        check(f"peer port refuses {desc}: 403 (got {st})", st == 403)
        check(f"peer port refuses {desc}: no body byte (got {len(body)})", len(body) == 0)

    refused("a request without peer headers",
            b"GET /peer/health HTTP/1.1\r\nHost: peer\r\nConnection: close\r\n\r\n")
    refused("a wrong signature",
            head(secret, "GET", "/peer/health", node, sig="0" * 64))
    refused("a request signed with another secret",
            head(os.urandom(32), "GET", "/peer/health", node))
    refused("a stale request (61 s old)",
            head(secret, "GET", "/peer/health", node, t=int(time.time()) - 61))
    refused("a request from the future (+61 s)",
            head(secret, "GET", "/peer/health", node, t=int(time.time()) + 61))
    refused("a good signature from a node id that is no member",
            head(secret, "GET", "/peer/health", "intruder"))
    refused("a range changed after signing",
            head(secret, "GET", "/peer/extent", node, extent=cache_key("b", "k", '"e"', "", 1, 0),
                 rng="bytes=0-99", sign_range="bytes=0-0"))
    good = head(secret, "GET", "/peer/health", node)
    st, _ = send(host, port, good)
    check(f"a signed health probe of a member is answered (200, got {st})", st == 200)
    refused("the same request replayed", good)


def raw_probe(host, port, raw, ctx=None):
    """raw on one connection (TLS with ctx): (status, bytes received); a refused
    handshake or a reset ends the read with what came before it."""
    data = b""
    try:
        with socket.create_connection((host, int(port)), timeout=20) as so:
            if ctx:
                so = ctx.wrap_socket(so, server_hostname=host)
            so.sendall(raw)
            while True:
                b = so.recv(65536)
                if not b:
                    break
                data += b
    except (ssl.SSLError, ConnectionError, socket.timeout):
        pass
    hd = data.partition(b"\r\n\r\n")[0]
    status = int(hd.split(b" ")[1]) if hd.startswith(b"HTTP/1.1 ") else 0
    return status, len(data)


def main():
    mode, host, port, secret_file, node = sys.argv[1:6]
    secret = open(secret_file, "rb").read()
    if mode in ("plain", "tls"):
        ctx = None
        if mode == "tls":
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.load_verify_locations(sys.argv[6])
            if len(sys.argv) > 8:
                ctx.load_cert_chain(sys.argv[7], sys.argv[8])
        st, n = raw_probe(host, port, head(secret, "GET", "/peer/health", node), ctx)
        print(st, n)
        return
    if mode == "refusals":
        refusals(host, port, secret, node)
        sys.exit(1 if FAILED else 0)
    bucket, key, etag, size, index, rng, out = sys.argv[6:13]
    ext = cache_key(bucket, key, etag, "", int(size), int(index))
    st, body = send(host, port, head(secret, "GET", "/peer/extent", node, extent=ext, rng=rng))
    open(out, "wb").write(body)
    print(st)


if __name__ == "__main__":
    main()
