#!/usr/bin/env python3
"""rawpeer.py - the transfers of a warm cluster epoch made by a raw TCP client and server.

bench/cluster.sh runs it on the same ground as lotad, with the same placement, so that
its "3 nodes together / one node alone" can be set beside what the links and the access
pattern allow with nothing of lotad in the way (no HTTP, no signing, no store, no copy).

  rawpeer.py serve ADDR PORT
      answers each line "N\\n" on a connection with N bytes (kept alive).
  rawpeer.py read PLAN STREAMS PORT ADDR...
      PLAN: one line per shard this node reads, in order: "EXTENT_BYTES:OWNER ..." for
      its extents (OWNER: an index into ADDR..., "-" for this node's own). STREAMS
      threads take the shards in order, as curl --parallel does; a thread reads a
      shard's extents one after the other, each from its owner over a connection of
      its own to that owner (kept alive); its own extents cost nothing (lotad reads
      them from its store). Prints "BYTES SECONDS".
"""
import socket
import sys
import threading
import time

CHUNK = 1 << 20


def serve(addr, port):
    block = b"\0" * CHUNK
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(64)

    def one(c):
        with c, c.makefile("rb") as f:
            for line in f:
                n = int(line)
                while n:
                    k = min(n, CHUNK)
                    c.sendall(block[:k])
                    n -= k

    while True:
        c, _ = s.accept()
        threading.Thread(target=one, args=(c,), daemon=True).start()


def read(plan, streams, port, addrs):
    with open(plan) as f:
        shards = [line.split() for line in f if line.strip()]
    lock = threading.Lock()
    total = [0]
    nxt = [0]

    def stream():
        conns = {}
        buf = bytearray(CHUNK)
        while True:
            with lock:
                if nxt[0] >= len(shards):
                    break
                shard = shards[nxt[0]]
                nxt[0] += 1
            for ext in shard:
                n, owner = ext.split(":")
                n = int(n)
                if owner != "-":
                    o = int(owner)
                    if o not in conns:
                        conns[o] = socket.create_connection((addrs[o], port))
                    c = conns[o]
                    c.sendall(b"%d\n" % n)
                    left = n
                    while left:
                        k = c.recv_into(buf, min(left, CHUNK))
                        if not k:
                            sys.exit("rawpeer: owner %s closed the connection" % addrs[o])
                        left -= k
                with lock:
                    total[0] += n
        for c in conns.values():
            c.close()

    t0 = time.monotonic()
    ts = [threading.Thread(target=stream) for _ in range(streams)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    print(total[0], "%.6f" % (time.monotonic() - t0))


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "serve":
        serve(sys.argv[2], int(sys.argv[3]))
    elif len(sys.argv) >= 6 and sys.argv[1] == "read":
        read(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5:])
    else:
        sys.exit(__doc__)
