#!/usr/bin/env bash
# test_packages.sh - the Debian packages, from `dpkg -i` to a serving lotad and back to a
# clean machine (root). Builds liblota0, liblota-dev, lotad and lota-tools with
# `dpkg-buildpackage -us -uc -b` from a copy of the sources in the test's temp dir (or
# takes the .debs from $LOTA_DEB_DIR), installs them, checks what they put where (the
# lota user, the cache dir, the credentials 0600, the unit passing
# `systemd-analyze verify`, the man pages, a program built with pkg-config against
# liblota-dev), then starts lotad as systemd would (systemd is not PID 1 here): the
# installed unit's own ExecStart line, as its User=, with NOTIFY_SOCKET, on the packaged
# configuration whose upstream is pointed at the test's radosgw. It must say READY=1,
# serve an object byte-exact with curl --aws-sigv4 (the second read from the cache),
# reload on SIGHUP (RELOADING=1, READY=1) and stop on SIGTERM (STOPPING=1, status 0).
# Then `dpkg --purge` and nothing of the packages is left: no file, user, group or dir,
# and the listings of /etc, /usr, /var/lib and /var/cache are as before.
# A trap purges the packages and stops lotad whatever happens.
. "$(dirname "$0")/lib.sh"
it_require_root
it_require_rgw
it_require_cmd dpkg dpkg-query dpkg-buildpackage systemd-analyze setpriv pkg-config cc
if [ "${LOTA_SANITIZE:-0}" = 1 ] && [ -z "${LOTA_DEB_DIR:-}" ]; then
	it_skip "the packages are built from the sources, not from this (sanitizer) build:" \
		"the optimized build's run builds and installs them"
fi
PKGS="lotad lota-tools liblota-dev liblota0"
for p in $PKGS; do
	st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ -z "$st" ] || [ "$st" = not-installed ] ||
		it_skip "package $p is already on this machine ($st): not touching an installation"
done
getent passwd lota >/dev/null && it_skip "a user lota exists already: not touching it"
[ -e /etc/lota ] && it_skip "/etc/lota exists already: not touching it"
export PYTHONDONTWRITEBYTECODE=1
SRC=${LOTA_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}

# --- what the machine looks like before (the names, and the user database)
snapshot() { # DIR: file listings of what packages touch, and every *lota* path
	find /etc /usr /var/lib /var/cache -xdev \
		\( -path /var/lib/dpkg -o -path /var/lib/apt -o -path /var/cache/apt \
		-o -path /var/cache/man -o -path /var/cache/debconf -o -path /var/cache/ldconfig \
		-o -path /var/lib/systemd/timers -o -path /var/lib/ucf \) -prune -o -print |
		LC_ALL=C sort >"$1/files"
	getent passwd | LC_ALL=C sort >"$1/passwd"
	getent group | LC_ALL=C sort >"$1/group"
}
mkdir -p "$IT_DIR/before" "$IT_DIR/after" "$IT_DIR/pkg"
snapshot "$IT_DIR/before"

LOTAD_PID=
NOTIFY_PID=
NOTIFY_DIR=
cleanup_packages() {
	if [ -n "$LOTAD_PID" ]; then
		kill -KILL "$LOTAD_PID" 2>/dev/null
		wait "$LOTAD_PID" 2>/dev/null
	fi
	if [ -n "$NOTIFY_PID" ]; then
		kill "$NOTIFY_PID" 2>/dev/null
		wait "$NOTIFY_PID" 2>/dev/null
	fi
	[ -n "$NOTIFY_DIR" ] && rm -rf "$NOTIFY_DIR"
	local p left=
	for p in $PKGS; do
		dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null | grep -qv not-installed &&
			left="$left $p"
	done
	if [ -n "$left" ]; then
		echo "# cleanup: purging$left"
		# shellcheck disable=SC2086
		dpkg --purge $left >/dev/null 2>&1 || echo "# cleanup: dpkg --purge failed"
	fi
}
it_at_exit cleanup_packages

# --- the packages
T0=$SECONDS
if [ -n "${LOTA_DEB_DIR:-}" ]; then
	cp "$LOTA_DEB_DIR"/*.deb "$IT_DIR/pkg/" || it_die "no .deb in LOTA_DEB_DIR=$LOTA_DEB_DIR"
	it_log "packages taken from $LOTA_DEB_DIR"
else
	mkdir -p "$IT_DIR/pkg/lota"
	# the sources as they are (tracked and new files), without build trees
	if git -C "$SRC" rev-parse >/dev/null 2>&1; then
		(cd "$SRC" && git ls-files -z -co --exclude-standard) |
			(cd "$SRC" && tar --null -T - -cf -) | tar -C "$IT_DIR/pkg/lota" -xf -
	else
		tar -C "$SRC" --exclude='./build*' --exclude=./.git -cf - . | tar -C "$IT_DIR/pkg/lota" -xf -
	fi
	if ! (cd "$IT_DIR/pkg/lota" &&
		DEB_BUILD_OPTIONS="nocheck parallel=2" dpkg-buildpackage -us -uc -b \
			>"$IT_DIR/pkg/build.log" 2>&1); then
		tail -n 30 "$IT_DIR/pkg/build.log" | sed 's/^/#   /'
		it_die "dpkg-buildpackage -us -uc -b"
	fi
	it_log "packages built in $((SECONDS - T0)) s"
fi
debs=()
for p in $PKGS; do
	f=$(ls "$IT_DIR"/pkg/"${p}"_*.deb 2>/dev/null | head -n 1)
	[ -n "$f" ] || it_die "no ${p}_*.deb"
	debs+=("$f")
done
check "dpkg-deb: lotad carries its unit, config and man page" bash -c \
	"dpkg-deb -c '${debs[0]}' | grep -q 'lib/systemd/system/lotad.service' &&
	 dpkg-deb -c '${debs[0]}' | grep -q 'etc/lota/lotad.conf' &&
	 dpkg-deb -c '${debs[0]}' | grep -q 'man8/lotad.8'"
if command -v lintian >/dev/null && [ "${LOTA_TEST_LINTIAN:-1}" = 1 ]; then
	lint=$(lintian --fail-on error "${debs[@]}" 2>&1)
	rc=$?
	check_eq "lintian: no error" 0 "$rc"
	grep -E '^E: ' <<<"$lint" | sed 's/^/#   /'
	it_log "lintian warnings: $(grep -c '^W: ' <<<"$lint")"
fi

# --- install
out=$(dpkg -i "${debs[@]}" 2>&1)
check_eq "dpkg -i the four packages" 0 "$?"
[ -n "$out" ] && printf '%s\n' "$out" | grep -iE 'error|warn' | sed 's/^/#   /'
triplet=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
for f in /usr/bin/lotad /usr/bin/lota "/usr/lib/$triplet/liblota.so.0" \
	"/usr/lib/$triplet/lota/liblota-preload.so" /usr/include/lota/client.h \
	"/usr/lib/$triplet/pkgconfig/liblota.pc" "/usr/lib/$triplet/cmake/lota/lotaConfig.cmake" \
	/lib/systemd/system/lotad.service /etc/lota/lotad.conf /etc/lota/credentials \
	/usr/share/man/man8/lotad.8.gz /usr/share/man/man1/lota.1.gz \
	/usr/share/man/man7/liblota-preload.7.gz /usr/share/man/man3/liblota.3.gz; do
	check "installed: $f" test -e "$f"
done
check "the lota system user" bash -c 'u=$(getent passwd lota) && [ "$(cut -d: -f3 <<<"$u")" -lt 1000 ]'
check_eq "/var/cache/lota belongs to lota" "lota 750" "$(stat -c '%U %a' /var/cache/lota)"
check_eq "/etc/lota/credentials: lota, 0600" "lota 600" "$(stat -c '%U %a' /etc/lota/credentials)"
check "systemd-analyze verify the installed unit" bash -c \
	'out=$(systemd-analyze verify --man=no /lib/systemd/system/lotad.service 2>&1); rc=$?;
	 ! grep -i lotad.service <<<"$out" && [ $rc -eq 0 ]'
check "man -w lotad" man -w lotad
cat >"$IT_DIR/v.c" <<'C'
#include <stdio.h>
#include <lota/common.h>
int main(void) { return puts(lota_version()) < 0; }
C
check "a program built against liblota-dev (pkg-config) runs" bash -c \
	"cc '$IT_DIR/v.c' -o '$IT_DIR/v' \$(pkg-config --cflags --libs liblota) && '$IT_DIR/v'"

# --- lotad as systemd would start it, on the packaged config pointed at radosgw
it_rgw_start
IT_CREDENTIALS=$IT_DIR/clients/lotad-credentials
S3_HOST_PORT=127.0.0.1:$RGW_PORT S3_ENDPOINT=$RGW_ENDPOINT S3_PORT=$RGW_PORT
it_write_client_configs
read -r PORT ADMIN _ <<<"$(it_free_ports)"
IT_LOTAD_ADMIN_PORT=$ADMIN
"$IT_PY" - "$RGW_ENDPOINT" "$PORT" "$ADMIN" <<'PY' || it_die "rewrite /etc/lota/lotad.conf"
import json, sys
p = "/etc/lota/lotad.conf"
c = json.load(open(p))
c["upstream"] = sys.argv[1]
c["listen"] = "127.0.0.1:" + sys.argv[2]
c["admin_listen"] = "127.0.0.1:" + sys.argv[3]
c["access_log"] = True
open(p, "w").write(json.dumps(c, indent=2) + "\n")
PY
cat >/etc/lota/credentials <<EOF
[alice]
aws_access_key_id = $RGW_ALICE_ACCESS
aws_secret_access_key = $RGW_ALICE_SECRET
EOF
UNIT=/lib/systemd/system/lotad.service
EXEC=$(sed -n 's/^ExecStart=//p' "$UNIT")
USR=$(sed -n 's/^User=//p' "$UNIT")
check_eq "the unit runs /usr/bin/lotad --config /etc/lota/lotad.conf" \
	"/usr/bin/lotad --config /etc/lota/lotad.conf" "$EXEC"
check_eq "the unit's user" lota "$USR"
check_eq "the unit is Type=notify" notify "$(sed -n 's/^Type=//p' "$UNIT")"
[ -n "$EXEC" ] && [ -n "$USR" ] || it_die "ExecStart= and User= of the installed unit"
# systemd's notification socket, played by a datagram socket that logs what it gets
NOTIFY_DIR=$(mktemp -d /tmp/lota-notify.XXXXXX)
chmod 755 "$NOTIFY_DIR"
"$IT_PY" - "$NOTIFY_DIR/notify.sock" "$IT_DIR/notify.log" <<'PY' &
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
os.chmod(sys.argv[1], 0o666)
with open(sys.argv[2], "ab", buffering=0) as f:
    while True:
        f.write(s.recv(4096).replace(b"\n", b" ") + b"\n")
PY
NOTIFY_PID=$!
it_wait_for 10 test -S "$NOTIFY_DIR/notify.sock" || it_die "the notify socket"
# shellcheck disable=SC2086 # ExecStart is a command line
NOTIFY_SOCKET=$NOTIFY_DIR/notify.sock setpriv --reuid="$USR" --regid="$USR" --init-groups \
	--inh-caps=-all $EXEC >"$IT_DIR/lotad.log" 2>&1 &
LOTAD_PID=$!
notified() { [ "$(grep -c "$1" "$IT_DIR/notify.log" 2>/dev/null)" -ge "${2:-1}" ]; }
if ! it_wait_for 30 notified READY=1; then
	tail -n 20 "$IT_DIR/lotad.log" | sed 's/^/#   /'
	it_die "lotad says READY=1"
fi
it_pass "lotad says READY=1 (sd_notify)"
check "/healthz" it_lotad_healthy
check_eq "lotad runs as lota" lota "$(ps -o user= -p "$LOTAD_PID" | tr -d ' ')"

E=http://127.0.0.1:$PORT
S3_PORT=$PORT
B=lota-pkg
it_random_file "$IT_DIR/obj" $((6 * 1024 * 1024 + 5))
SHA=$(it_sha256 "$IT_DIR/obj")
check_eq "create bucket through lotad" 200 "$(it_curl alice -o /dev/null -w '%{http_code}' -X PUT "$E/$B")"
check_eq "PUT through lotad" 200 "$(it_curl alice -o /dev/null -w '%{http_code}' -T "$IT_DIR/obj" "$E/$B/o.bin")"
check_eq "GET through lotad" 200 "$(it_curl alice -o "$IT_DIR/got" -w '%{http_code}' "$E/$B/o.bin")"
check_eq "GET byte-exact" "$SHA" "$(it_sha256 "$IT_DIR/got")"
deadline=$((SECONDS + 30))
while :; do
	it_curl alice -o "$IT_DIR/got2" -D "$IT_DIR/hdr" "$E/$B/o.bin"
	grep -qi '^x-lota-cache: hit' "$IT_DIR/hdr" && break
	[ $SECONDS -ge $deadline ] && break
	sleep 0.2
done
check_contains "a later GET is a hit (cache dir /var/cache/lota)" hit "$(grep -i '^x-lota-cache' "$IT_DIR/hdr")"
check_eq "the hit byte-exact" "$SHA" "$(it_sha256 "$IT_DIR/got2")"
check "extents in /var/cache/lota" bash -c '[ "$(find /var/cache/lota -type f | wc -l)" -ge 2 ]'

kill -HUP "$LOTAD_PID"
check "SIGHUP: READY=1 again" it_wait_for 10 notified READY=1 2
check "SIGHUP: RELOADING=1" notified RELOADING=1
check "SIGHUP: credentials reloaded" it_wait_for 10 grep -q "credentials reloaded" "$IT_DIR/lotad.log"
check_eq "GET after the reload" 200 "$(it_curl alice -o /dev/null -w '%{http_code}' "$E/$B/o.bin")"
kill -TERM "$LOTAD_PID"
wait "$LOTAD_PID"
rc=$?
LOTAD_PID=
check_eq "SIGTERM: lotad exits 0" 0 "$rc"
check "SIGTERM: STOPPING=1" notified STOPPING=1

# --- purge: nothing left
# shellcheck disable=SC2086
owned=$(dpkg -L $PKGS 2>/dev/null | LC_ALL=C sort -u)
# shellcheck disable=SC2086
out=$(dpkg --purge $PKGS 2>&1)
check_eq "dpkg --purge" 0 "$?"
[ -n "$out" ] && printf '%s\n' "$out" | grep -iE 'error|warn' | sed 's/^/#   /'
for p in $PKGS; do
	check_eq "$p is gone from dpkg" "" \
		"$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null | grep -v not-installed)"
done
left=$(while read -r f; do
	[ -n "$f" ] && [ -e "$f" ] && [ ! -d "$f" ] && echo "$f"
done <<<"$owned")
check_eq "no file of the packages is left" "" "$left"
check "no lota user" bash -c '! getent passwd lota'
check "no lota group" bash -c '! getent group lota'
for d in /etc/lota /var/cache/lota /var/lib/lota; do
	check "no $d" test ! -e "$d"
done
snapshot "$IT_DIR/after"
for s in files passwd group; do
	d=$(diff "$IT_DIR/before/$s" "$IT_DIR/after/$s")
	check_eq "the machine's $s as before" "" "$d"
done
it_log "from build to purge: $((SECONDS - T0)) s"
it_finish
