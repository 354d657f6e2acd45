#!/usr/bin/env bash
# Installs everything lota needs to build, test and benchmark on Debian 12 (root).
# Idempotent: when every package is already installed it only runs dpkg-query and exits.
set -euo pipefail

PKGS=(
  # toolchain
  build-essential cmake pkg-config clang llvm clang-format libclang-rt-14-dev git
  # liblota / lotad dependencies
  libcurl4-openssl-dev libssl-dev libxxhash-dev libcjson-dev libcunit1-dev libbpf-dev
  libelf-dev zlib1g-dev
  # test ground: a real S3 server and real S3 clients
  ceph-mon ceph-osd radosgw awscli python3-boto3 s3cmd curl rclone
  # tools used by tests and benchmarks
  iproute2 procps psmisc openssl wrk nginx-light varnish xxd jq socat bpftool python3-yaml
  # packaging and deployment: the .debs, sd_notify, the unit, man pages, /metrics lint
  debhelper lintian fakeroot libsystemd-dev systemd groff-base man-db adduser prometheus
  # profiles of bench/cache.sh (LOTA_BENCH_PERF)
  linux-perf
  # the io_uring ways of bench/rawserve (bench/cache.sh hit); lotad does not use it
  liburing-dev
)

missing=()
for p in "${PKGS[@]}"; do
  st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$st" = installed ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "deps.sh: missing packages: ${missing[*]}; run as root to install them" >&2
  exit 1
fi
echo "deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# nginx and varnish are started by the benchmarks themselves on loopback ports, never as
# system services; prometheus is there for promtool only.
for s in nginx varnish prometheus; do
  systemctl disable --now "$s" >/dev/null 2>&1 || true
  pkill -x "$s" 2>/dev/null || true
done
