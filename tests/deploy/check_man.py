#!/usr/bin/env python3
"""check_man.py - the man pages (built by scripts/gen-man.py from docs/man/*.md) in step
with the programs: every flag of `lotad --help` is in lotad(8) and every flag lotad(8)
names exists; the same for lota(1) against `lota --help` and each `lota COMMAND --help`;
every LOTA_API function of include/lota/client.h has its entry in liblota(3) and every
lota_client_* that page names exists; each page renders without a groff warning.

Usage: check_man.py LOTAD LOTA MAN_DIR SOURCE_DIR
"""
import os
import re
import shutil
import subprocess
import sys

from tap import check, finish


def out(argv):
    return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout


def help_flags(text):
    """--flag names of a --help text; --[no-]x gives x and no-x."""
    fl = set()
    for neg, name in re.findall(r"--(\[no-\])?([a-z0-9][a-z0-9-]*)", text):
        fl.add(name)
        if neg:
            fl.add("no-" + name)
    return fl


def man_flags(roff):
    text = roff.replace("\\-", "-").replace("\\fB", "").replace("\\fI", "").replace("\\fR", "")
    return help_flags(text)


def compare(page, helps, roff):
    hf, mf = help_flags(helps), man_flags(roff)
    # a --[no-]x option is documented by its form; "no-x" alone need not be written
    missing = sorted(f for f in hf if f not in mf and not (f.startswith("no-") and f[3:] in mf))
    unknown = sorted(f for f in mf if f not in hf and not (f.startswith("no-") and f[3:] in hf))
    check("%s: every flag of --help is in the page" % page, not missing, missing)
    check("%s: every flag the page names exists" % page, not unknown, unknown)


def main(lotad, lota, mandir, src):
    pages = {p: open(os.path.join(mandir, p)).read() for p in
             ("lotad.8", "lota.1", "liblota-preload.7", "liblota.3")}
    compare("lotad.8", out([lotad, "--help"]), pages["lotad.8"])
    top = out([lota, "--help"])
    cmds = re.findall(r"^  (\S+)\s", top, re.M)
    check("lota --help lists commands", len(cmds) >= 5, cmds)
    helps = top
    for c in cmds:
        helps += out([lota, c, "--help"])
        if c == "bench":
            helps += out([lota, c, "get", "--help"])
            helps += out([lota, c, "cipher", "--help"])
        check("lota.1 has the command %s" % c,
              re.search(r"^\.SS %s$" % re.escape(c), pages["lota.1"].replace("\\-", "-"), re.M))
    compare("lota.1", helps, pages["lota.1"])
    # the shim's page names no program flag; its variables are the shim's
    shim_src = open(os.path.join(src, "preload", "config.c")).read() + \
        open(os.path.join(src, "preload", "shim.c")).read()
    for var in set(re.findall(r"\b(LOTA_[A-Z_]+)\b", pages["liblota-preload.7"].replace("\\", ""))):
        check("liblota-preload.7: %s is read by the shim" % var, var in shim_src)
    hdr = open(os.path.join(src, "include", "lota", "client.h")).read()
    api = set(re.findall(r"LOTA_API[^;(]*?\b(lota_\w+)\s*\(", hdr, re.S))
    check("client.h declares functions", len(api) > 10, len(api))
    documented = set()
    for title in re.findall(r"^\.SS (.*)$", pages["liblota.3"], re.M):
        documented |= set(re.findall(r"\b(lota_\w+)", title))
    check("liblota.3: every client function has an entry", api <= documented, sorted(api - documented))
    named = set(re.findall(r"\b(lota_client_\w+)", pages["liblota.3"]))
    words = set(re.findall(r"\b(lota_client_\w+)", hdr))
    check("liblota.3: every lota_client_ name exists", named <= words, sorted(named - words))
    if shutil.which("groff"):
        for p, text in pages.items():
            r = subprocess.run(["groff", "-man", "-ww", "-z", "-Tutf8"], input=text,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            check("%s renders without warnings" % p, r.returncode == 0 and not r.stderr.strip(),
                  r.stderr.strip()[:400])
    return finish()


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:5]))
