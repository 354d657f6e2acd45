#!/usr/bin/env bash
# check_unit.sh - debian/lotad.service passes `systemd-analyze verify` (systemd need not
# be PID 1 for that). verify wants the ExecStart binary to exist: a copy of the unit
# whose ExecStart names the built lotad is checked, the rest of the unit unchanged.
# Usage: check_unit.sh UNIT LOTAD_BINARY
set -u
unit=$1 lotad=$2
if ! command -v systemd-analyze >/dev/null; then
	echo "SKIP: check_unit.sh: no systemd-analyze (Debian package systemd)"
	exit 77
fi
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
sed "s|^ExecStart=/usr/bin/lotad |ExecStart=$lotad |" "$unit" >"$d/lotad.service"
grep -q "^ExecStart=$lotad " "$d/lotad.service" || {
	echo "not ok - the unit's ExecStart is /usr/bin/lotad ..."
	exit 1
}
out=$(cd "$d" && SYSTEMD_LOG_LEVEL=notice systemd-analyze verify --man=no ./lotad.service 2>&1)
rc=$?
# Nothing from lotad.service is acceptable; systemd-analyze also reads the units the
# machine itself has (network-online.target ...), whose complaints are not ours.
ours=$(grep -i "lotad.service" <<<"$out" || true)
if [ $rc -eq 0 ] && [ -z "$ours" ]; then
	echo "ok - systemd-analyze verify lotad.service"
	exit 0
fi
echo "not ok - systemd-analyze verify lotad.service (status $rc)"
printf '%s\n' "$out" | sed 's/^/#   /'
exit 1
