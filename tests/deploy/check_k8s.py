#!/usr/bin/env python3
"""check_k8s.py - the Kubernetes manifests of deploy/kubernetes/, checked by parsing them
(no API server is needed, none is reachable here): every manifest parses; every flag the
DaemonSet gives lotad and every key of the ConfigMap's lotad.conf exists in
`lotad --help`; ports and probes agree with the configuration (listen, admin_listen,
peer_listen, peers_dns, tls_listen); the Service selects the DaemonSet's pods and the
ServiceMonitor the Service; the secret files lotad reads are single files (subPath: lotad
opens them with O_NOFOLLOW, a Secret volume gives symlinks) of mode 0600 as lotad
demands, owned by the user lotad runs as; the secrets are placeholders; the config,
cache and state paths are mounted.

Usage: check_k8s.py LOTAD_BINARY MANIFEST_DIR   (prints ok/not ok lines, exit 1 on any)
"""
import glob
import json
import os
import re
import subprocess
import sys

try:
    import yaml
except ImportError:
    print("SKIP: check_k8s.py: python3 has no yaml (Debian python3-yaml)")
    sys.exit(77)

from tap import check, finish


def port_of(hostport):
    return int(hostport.rsplit(":", 1)[1])


def main(lotad, mdir):
    docs = []
    for path in sorted(glob.glob(os.path.join(mdir, "*.yaml"))):
        try:
            for d in yaml.safe_load_all(open(path)):
                if d:
                    docs.append((os.path.basename(path), d))
            check("%s parses" % os.path.basename(path), True)
        except yaml.YAMLError as e:
            check("%s parses" % os.path.basename(path), False, e)
    for f, d in docs:
        check("%s: %s has apiVersion, kind, metadata.name" % (f, d.get("kind")),
              all(k in d for k in ("apiVersion", "kind")) and d.get("metadata", {}).get("name"))

    def one(kind, name=None):
        found = [d for _, d in docs if d["kind"] == kind and
                 (name is None or d["metadata"]["name"] == name)]
        check("one %s%s" % (kind, " " + name if name else ""), len(found) == 1, len(found))
        return found[0] if found else {}

    helptext = subprocess.run([lotad, "--help"], stdout=subprocess.PIPE, text=True).stdout
    flags = set(re.findall(r"--(?:\[no-\])?([a-z0-9][a-z0-9-]*)", helptext))

    ds = one("DaemonSet")
    cm = one("ConfigMap")
    svc = one("Service")
    sm = one("ServiceMonitor")
    ns = {d["metadata"].get("namespace") for _, d in docs if d["kind"] != "Namespace"}
    check("every namespaced object is in one namespace", len(ns) == 1, ns)

    pod = ds["spec"]["template"]
    spec = pod["spec"]
    c = next(x for x in spec["containers"] if x["name"] == "lotad")
    argv = c.get("command", []) + c.get("args", [])
    check("the container runs lotad", argv and argv[0].endswith("/lotad"), argv[:1])
    args = argv[1:]
    given = {}
    i = 0
    while i < len(args):
        a = args[i]
        check("lotad flag %s exists in lotad --help" % a,
              a.startswith("--") and a[2:].split("=")[0] in flags)
        if "=" in a:
            given[a[2:].split("=")[0]] = a.split("=", 1)[1]
        elif i + 1 < len(args) and not args[i + 1].startswith("--"):
            given[a[2:]] = args[i + 1]
            i += 1
        i += 1

    # the configuration file: the ConfigMap mounted where --config says
    conf_path = given.get("config")
    check("lotad is given --config", conf_path)
    mounts = {m["mountPath"]: m for m in c.get("volumeMounts", [])}
    vols = {v["name"]: v for v in spec.get("volumes", [])}
    m = mounts.get(conf_path, {})
    v = vols.get(m.get("name"), {})
    check("--config is the ConfigMap's file", v.get("configMap", {}).get("name") ==
          cm["metadata"]["name"] and m.get("subPath") in cm["data"], m)
    conf = json.loads(cm["data"][m.get("subPath", "lotad.conf")]) if cm else {}
    for k in conf:
        check("config key %s exists in lotad --help" % k, k.replace("_", "-") in flags)
    settings = dict(conf)
    settings.update({k.replace("-", "_"): v for k, v in given.items()})
    for k in ("listen", "admin_listen", "peer_listen"):
        check("lotad is given %s (config or flag)" % k, k in settings)
        settings.setdefault(k, "missing:0")

    # ports: config <-> container ports <-> probes <-> Service <-> ServiceMonitor
    cports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
    check("hostNetwork (peers and clients reach the node's address)", spec.get("hostNetwork"))
    check("listen port is the container's s3 port", port_of(settings["listen"]) == cports.get("s3"))
    check("admin_listen port is the container's admin port",
          port_of(settings["admin_listen"]) == cports.get("admin"))
    if "tls_listen" in settings:
        check("tls_listen port is the container's s3-tls port",
              port_of(settings["tls_listen"]) == cports.get("s3-tls"))
    check("admin_listen listens beyond loopback (probes, scrapes)",
          not settings["admin_listen"].startswith("127."))
    for probe in ("readinessProbe", "livenessProbe"):
        p = c.get(probe, {}).get("httpGet", {})
        port = p.get("port")
        port = cports.get(port, port)
        check("%s is GET /healthz on the admin port" % probe,
              p.get("path") == "/healthz" and port == cports.get("admin"), p)
    peer_port = port_of(settings["peer_listen"])
    check("peer_listen port is the container's peer port", peer_port == cports.get("peer"))
    sports = {p["name"]: p for p in svc["spec"]["ports"]}
    check("the Service is headless", svc["spec"].get("clusterIP") == "None")
    check("the Service's peer port is peer_listen's",
          sports.get("peer", {}).get("port") == peer_port and
          cports.get(sports["peer"].get("targetPort"), sports["peer"].get("targetPort")) == peer_port)
    check("the Service's admin port is admin_listen's",
          sports.get("admin", {}).get("port") == port_of(settings["admin_listen"]))
    dns = settings.get("peers_dns", "")
    svcname = "%s.%s.svc" % (svc["metadata"]["name"], svc["metadata"]["namespace"])
    check("peers_dns names the headless Service and its peer port",
          dns.startswith(svcname) and port_of(dns) == peer_port, dns)

    # selectors
    labels = pod["metadata"]["labels"]
    sel = ds["spec"]["selector"]["matchLabels"]
    check("the DaemonSet's selector matches its pods",
          all(labels.get(k) == v for k, v in sel.items()))
    check("the Service selects the DaemonSet's pods",
          svc["spec"]["selector"] and all(labels.get(k) == v for k, v in svc["spec"]["selector"].items()))
    slabels = svc["metadata"].get("labels", {})
    check("the ServiceMonitor selects the Service",
          all(slabels.get(k) == v for k, v in sm["spec"]["selector"]["matchLabels"].items()) and
          svc["metadata"]["namespace"] in sm["spec"].get("namespaceSelector", {}).get("matchNames", []))
    check("the ServiceMonitor scrapes /metrics on the Service's admin port",
          any(e.get("port") == "admin" and e.get("path", "/metrics") == "/metrics"
              for e in sm["spec"]["endpoints"]))

    # secrets: single files of mode 0600 owned by lotad's user
    secrets = {d["metadata"]["name"]: d for _, d in docs if d["kind"] == "Secret"}
    uid = c.get("securityContext", {}).get("runAsUser", spec.get("securityContext", {}).get("runAsUser"))
    for key in ("credentials", "cluster_secret_file"):
        path = settings.get(key)
        if not path:
            continue
        m = mounts.get(path, {})
        v = vols.get(m.get("name"), {}).get("secret", {})
        check("%s (%s) is mounted from a Secret" % (key, path), v.get("secretName") in secrets, m)
        check("%s is a single file (subPath), not a symlink" % key, m.get("subPath"))
        mode = v.get("defaultMode")
        for it in v.get("items", []):
            if it.get("path") == m.get("subPath") and "mode" in it:
                mode = it["mode"]
        check("%s has mode 0600" % key, mode == 0o600, oct(mode) if mode else mode)
        sec = secrets.get(v.get("secretName"), {})
        data = dict(sec.get("stringData", {}))
        check("%s's Secret has the key %s" % (key, m.get("subPath")), m.get("subPath") in data)
        check("%s's Secret holds placeholders only" % key,
              all("PLACEHOLDER" in str(x) for x in data.values()) and "data" not in sec)
    check("lotad runs as root, the owner of Secret files (lotad checks the owner)", uid == 0, uid)

    # disks and state
    for cd in settings.get("cache_dir", []):
        d = cd.rsplit(":", 1)[0]
        m = mounts.get(d, {})
        check("cache dir %s is a hostPath (the node's NVMe)" % d,
              "hostPath" in vols.get(m.get("name"), {}), m)
    ca = settings.get("ca_dir", "/var/lib/lota/ca")
    check("ca_dir is on a hostPath (the node CA survives restarts)",
          any(ca.startswith(p.rstrip("/") + "/") and "hostPath" in vols.get(mm["name"], {})
              for p, mm in mounts.items()))
    shim = [v for v in spec["volumes"] if v.get("hostPath", {}).get("path", "").endswith("/shim")]
    check("the shim and CA bundle are offered in a hostPath dir", len(shim) == 1)
    res = c.get("resources", {})
    check("resources requested (cpu, memory)",
          "cpu" in res.get("requests", {}) and "memory" in res.get("requests", {}))
    grace = spec.get("terminationGracePeriodSeconds", 30)
    st = settings.get("shutdown_timeout", "30s")
    check("the grace period outlasts lotad's shutdown_timeout",
          st.endswith("s") and grace > int(st[:-1]), (grace, st))

    return finish()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
