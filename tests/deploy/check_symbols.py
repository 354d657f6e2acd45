#!/usr/bin/env python3
"""check_symbols.py - debian/liblota0.symbols lists exactly the symbols of
lib/liblota.map, each under its version node (name@NODE), and every node itself: a
symbol added to the library without its line in the symbols file (or the other way
round) fails here rather than in a package build.

Usage: check_symbols.py LIBLOTA_MAP SYMBOLS_FILE
"""
import re
import sys


def main(mapfile, symfile):
    text = re.sub(r"/\*.*?\*/", "", open(mapfile).read(), flags=re.S)
    want = set()
    for node, body in re.findall(r"([A-Z0-9_.]+)\s*\{(.*?)\}", text, re.S):
        want.add("%s@%s" % (node, node))
        g = re.search(r"global:(.*?)(?:local:|$)", body, re.S)
        for sym in re.findall(r"([A-Za-z_]\w*)\s*;", g.group(1) if g else ""):
            want.add("%s@%s" % (sym, node))
    have = set()
    for line in open(symfile):
        if line.startswith(" ") and not line.startswith(" |"):
            have.add(line.split()[0])
    fail = 0
    for s in sorted(want - have):
        print("not ok - %s is in liblota.map but not in the symbols file" % s)
        fail += 1
    for s in sorted(have - want):
        print("not ok - %s is in the symbols file but not in liblota.map" % s)
        fail += 1
    if not fail:
        print("ok - the symbols file lists the %d symbols and nodes of liblota.map" % len(want))
    return 1 if fail else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
