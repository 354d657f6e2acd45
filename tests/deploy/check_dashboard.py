#!/usr/bin/env python3
"""check_dashboard.py - deploy/grafana/lota.json against a live lotad's /metrics: every
PromQL query of the dashboard names only metrics lotad exports (a histogram's _bucket,
_sum and _count series included) and only label names those series carry; the panels
the operators need are there.

Usage: check_dashboard.py DASHBOARD_JSON METRICS_TEXT
"""
import json
import re
import sys

from tap import check, finish


def exported(text):
    """metric name -> set of label names, from the series and the TYPE lines."""
    names = {}
    for line in text.splitlines():
        m = re.match(r"# TYPE (\S+) (\S+)", line)
        if m:
            base, typ = m.groups()
            names.setdefault(base, set())
            if typ == "histogram":
                for s in ("_bucket", "_sum", "_count"):
                    names.setdefault(base + s, set())
            continue
        if not line or line.startswith("#"):
            continue
        m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?", line)
        if m:
            labels = set(re.findall(r"([a-zA-Z_][a-zA-Z0-9_]*)=\"", m.group(3) or ""))
            names.setdefault(m.group(1), set()).update(labels)
    return names


def queries(dash):
    for p in dash.get("panels", []):
        for t in p.get("targets", []):
            yield p.get("title", "?"), t.get("expr", "")
    for v in dash.get("templating", {}).get("list", []):
        q = v.get("query")
        if isinstance(q, dict):
            q = q.get("query")
        if v.get("type") == "query" and q:
            yield "variable " + v["name"], q


def main(dashfile, metricsfile):
    dash = json.load(open(dashfile))
    have = exported(open(metricsfile).read())
    n = 0
    for title, expr in queries(dash):
        n += 1
        check("%s: a query" % title, expr.strip())
        stripped = re.sub(r'"[^"]*"', '""', expr)
        for name in set(re.findall(r"\b(lota_[a-z0-9_]+)\b", stripped)):
            check("%s: %s is exported" % (title, name), name in have)
        # any other bare metric name in a selector would be a typo: only lota_ names
        for name in re.findall(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\{", stripped):
            check("%s: selector %s is lotad's" % (title, name), name.startswith("lota_"))
        for name, sel in re.findall(r"\b(lota_[a-z0-9_]+)\{([^}]*)\}", stripped):
            for lab in re.findall(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)", sel):
                if lab in ("instance", "job"):  # added by Prometheus
                    continue
                check("%s: %s has the label %s" % (title, name, lab),
                      lab in have.get(name, set()), sorted(have.get(name, set())))
    check("the dashboard has queries", n >= 10, n)
    titles = " | ".join(p.get("title", "") for p in dash["panels"]).lower()
    for want in ("served from cache vs proxied", "hit ratio", "bytes served by source",
                 "fills", "range requests", "errors by kind", "latency",
                 "cache use per node and disk", "members up"):
        check("a panel for %s" % want, want in titles)
    return finish()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
