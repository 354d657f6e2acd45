#!/usr/bin/env python3
"""gen-man.py - the man pages of lota, from one source each (docs/man/*.md).

A source is a small subset of Markdown plus three directives that pull text from where
it is kept anyway, so a page cannot drift from the program:
  {{options PROGRAM}}    the options of `PROGRAM --help` (lotad: every config key)
  {{commands PROGRAM}}   `PROGRAM --help`'s commands, each with `PROGRAM CMD --help`
  {{api HEADER}}         the file comment, types and LOTA_API functions of a header

Usage: gen-man.py SRC.md OUT [--bin NAME=PATH]... [--source-dir DIR] [--version V]
Writes roff (man(7) macros) to OUT. Python 3 standard library only (no pandoc).

Markdown subset: "% NAME SECTION TITLE" first line; "# SECTION", "## SUBSECTION";
paragraphs; "- " bullets; a "term" line followed by ": definition" lines; ``` fences
(verbatim); inline `code` (bold), **bold**, *italic*.
"""
import re
import subprocess
import sys


def esc(s):
    """Escape plain text for roff (a line is never taken for a request)."""
    s = s.replace("\\", "\\e")
    # a '-' that starts a word (an option) is a minus sign; a hyphen inside a word stays
    s = re.sub(r"(^|(?<=[\s(\[=,\"'`|/]))-", r"\\-", s)
    s = re.sub(r"(?<=\\-)-", r"\\-", s)
    return s


def line_safe(s):
    return "\\&" + s if s[:1] in (".", "'") else s


def inline(s):
    """`code`, **bold** and *italic* to font changes, the rest escaped."""
    out = []
    pos = 0
    for m in re.finditer(r"`([^`]+)`|\*\*([^*]+)\*\*|\*([^*\s][^*]*)\*", s):
        out.append(esc(s[pos:m.start()]))
        if m.group(1) is not None:
            out.append("\\fB" + esc(m.group(1)) + "\\fR")
        elif m.group(2) is not None:
            out.append("\\fB" + esc(m.group(2)) + "\\fR")
        else:
            out.append("\\fI" + esc(m.group(3)) + "\\fR")
        pos = m.end()
    out.append(esc(s[pos:]))
    return line_safe("".join(out))


def run_help(argv):
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return r.stdout


def parse_options(text):
    """[(left, description)] from lota_config_print_help's layout: "  " + the flag part
    padded to 34 + " " + the help; a flag part longer than 34 stands alone on its line
    and the help follows on the next, indented by 37."""
    opts = []
    lines = text.splitlines()
    for i, raw in enumerate(lines):
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if re.match(r"^ {2,6}-", raw):
            if nxt.startswith(" " * 37) and len(raw.strip()) > 34:
                opts.append([raw.strip(), ""])
            else:
                opts.append([raw[2:36].strip(), raw[37:].strip()])
        elif opts and raw.startswith(" " * 30) and raw.strip():
            opts[-1][1] = (opts[-1][1] + " " + raw.strip()).strip()
    return opts


def roff_option(left, desc):
    # "-c, --config FILE" -> bold flags, italic metavariable
    parts = []
    for tok in left.strip().split(", "):
        words = tok.split(" ", 1)
        p = "\\fB" + esc(words[0]) + "\\fR"
        if len(words) > 1:
            p += " \\fI" + esc(words[1]) + "\\fR"
        parts.append(p)
    return [".TP", ", ".join(parts), inline(desc)]


def directive_options(bins, prog):
    return [l for o in parse_options(run_help([bins[prog], "--help"])) for l in roff_option(*o)]


def directive_commands(bins, prog):
    top = run_help([bins[prog], "--help"])
    cmds = []
    for raw in top.splitlines():
        m = re.match(r"^  (\S+)\s+(.*)$", raw)
        if m:
            cmds.append((m.group(1), m.group(2)))
    # options every command shares are listed once, under COMMON OPTIONS
    helps = {}
    for name, _ in cmds:
        h = run_help([bins[prog], name, "--help"])
        if name == "bench":  # bench takes its mode first
            h += run_help([bins[prog], name, "get", "--help"])
            h += run_help([bins[prog], name, "cipher", "--help"])
        helps[name] = h
    per = {n: parse_options(h) for n, h in helps.items()}
    with_opts = [n for n in per if per[n]]
    # an option several commands share, word for word, is written once
    count = {}
    for n in with_opts:
        for o in per[n]:
            count[tuple(o)] = count.get(tuple(o), 0) + 1
    common = {o[0] for o, k in count.items() if k >= 3}
    out = []
    for name, summary in cmds:
        out += [".SS " + esc(name), inline(summary[:1].upper() + summary[1:] + ".")]
        usage = [l for l in helps[name].splitlines() if l.lower().startswith("usage:")]
        if usage:
            out += [".PP", ".nf", line_safe(esc(usage[0].split(":", 1)[1].strip())), ".fi"]
        own = [o for o in per[name] if o[0] not in common]
        shared = [o[0].split(" ")[0].split(",")[-1].strip() or o[0] for o in per[name] if o[0] in common]
        if own:
            out += [".PP", "Options:"]
            for o in own:
                out += roff_option(*o)
        if shared:
            out += [".PP", inline("Common options: " + ", ".join("`%s`" % x.strip() for x in shared) + ".")]
    if common:
        out += [".SS common options", "Options of several commands (see each command's own):"]
        seen = set()
        for n in with_opts:
            for o in per[n]:
                if o[0] in common and o[0] not in seen:
                    seen.add(o[0])
                    out += roff_option(*o)
    return out


def take_decl(body, pos):
    """The declaration at pos (a LOTA_API function or a typedef, braces matched) and the
    position after it, or (None, pos)."""
    m = re.compile(r"\s*(LOTA_API|typedef)\b").match(body, pos)
    if not m:
        return None, pos
    start = m.start(1)
    semi = body.index(";", start)
    brace = body.find("{", start)
    if m.group(1) == "typedef" and 0 <= brace < semi:
        depth, i = 0, brace
        while True:
            if body[i] == "{":
                depth += 1
            elif body[i] == "}":
                depth -= 1
                if depth == 0:
                    break
            i += 1
        semi = body.index(";", i)
    return body[start:semi + 1], semi + 1


def directive_api(path):
    """Each comment of the header followed by declarations: their names as the entry's
    title, the declarations verbatim, the comment as its text."""
    text = open(path, encoding="utf-8").read()
    out = []
    m = re.match(r"\s*/\*(.*?)\*/", text, re.S)
    body = text[m.end():] if m else text
    for cm in re.finditer(r"/\*((?:(?!\*/).)*)\*/", body, re.S):
        decls, pos = [], cm.end()
        while True:
            d, pos = take_decl(body, pos)
            if d is None:
                break
            decls.append(d)
        if not decls:
            continue
        comment = " ".join(l.strip().lstrip("*").strip() for l in cm.group(1).splitlines())
        comment = re.sub(r"\s+", " ", comment).strip()
        names = []
        code = []
        for d in decls:
            d = d.replace("LOTA_API ", "")
            d = re.sub(r"\s*LOTA_WUR", "", d)
            d = re.sub(r"\s*LOTA_PRINTF\([^)]*\)", "", d)
            nm = re.search(r"(lota_\w+)\s*\(", d) or re.search(r"}\s*(lota_\w+)\s*;", d) \
                or re.search(r"(lota_\w+)\s*;", d)
            if nm:
                names.append(nm.group(1))
            code += d.splitlines()
        out += [".SS " + esc(", ".join(names) or "declarations"), ".nf"]
        out += [line_safe(esc(l)) for l in code]
        out += [".fi", inline(comment)]
    return out


def convert(src, bins, source_dir, version):
    lines = open(src, encoding="utf-8").read().splitlines()
    out = []
    head = lines.pop(0)
    m = re.match(r"^%\s+(\S+)\s+(\S+)\s+(.*)$", head)
    if not m:
        sys.exit("%s: first line must be '%% NAME SECTION TITLE'" % src)
    name, sec, title = m.groups()
    out.append('.TH %s %s "" "lota %s" "%s"' % (name.upper(), sec, version, title))
    para = []
    i = 0

    def flush():
        if para:
            out.extend(inline(p) for p in para)
            para.clear()

    while i < len(lines):
        l = lines[i]
        if l.startswith("```"):
            flush()
            out += [".PP", ".RS 4", ".nf"]
            i += 1
            while i < len(lines) and not lines[i].startswith("```"):
                out.append(line_safe(esc(lines[i])))
                i += 1
            out += [".fi", ".RE"]
        elif l.startswith("## "):
            flush()
            out.append(".SS " + esc(l[3:]))
        elif l.startswith("# "):
            flush()
            out.append(".SH " + esc(l[2:].upper()))
        elif l.startswith("{{"):
            flush()
            d = l.strip("{} ").split()
            if d[0] == "options":
                out += directive_options(bins, d[1])
            elif d[0] == "commands":
                out += directive_commands(bins, d[1])
            elif d[0] == "api":
                out += directive_api(source_dir + "/" + d[1])
            else:
                sys.exit("%s: unknown directive %s" % (src, l))
        elif l.startswith("- "):
            flush()
            out += [".IP \\(bu 2", inline(l[2:])]
            while i + 1 < len(lines) and lines[i + 1].startswith("  ") and lines[i + 1].strip():
                i += 1
                out.append(inline(lines[i].strip()))
        elif i + 1 < len(lines) and lines[i + 1].startswith(": ") and l.strip():
            flush()
            out += [".TP", inline(l)]
            i += 1
            out.append(inline(lines[i][2:]))
            while i + 1 < len(lines) and lines[i + 1].startswith("  ") and lines[i + 1].strip():
                i += 1
                out.append(inline(lines[i].strip()))
        elif not l.strip():
            flush()
            if out and not out[-1].startswith((".SH", ".SS", ".PP", ".TH")):
                out.append(".PP")
        else:
            para.append(l.strip())
        i += 1
    flush()
    while out and out[-1] == ".PP":
        out.pop()
    return "\n".join(out) + "\n"


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    src, dst = argv[1], argv[2]
    bins, source_dir, version = {}, ".", "0"
    rest = argv[3:]
    while rest:
        opt, val = rest[0], rest[1]
        rest = rest[2:]
        if opt == "--bin":
            k, v = val.split("=", 1)
            bins[k] = v
        elif opt == "--source-dir":
            source_dir = val
        elif opt == "--version":
            version = val
        else:
            sys.exit("gen-man.py: unknown option " + opt)
    text = convert(src, bins, source_dir, version)
    with open(dst, "w", encoding="utf-8") as f:
        f.write(text)


if __name__ == "__main__":
    main(sys.argv)
