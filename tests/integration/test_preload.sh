#!/usr/bin/env bash
# test_preload.sh - the LD_PRELOAD shim (liblota-preload.so) with real programs: clients
# configured for radosgw's own endpoint, by address (127.0.0.1:RGW) and by name
# (localhost:RGW), run with the shim and LOTA_REDIRECT naming that endpoint, and reach
# lotad without a change: curl --aws-sigv4, boto3 (download_file: ranged GETs on Python
# threads, non-blocking connects), awscli and s3cmd, each byte-exact by sha256, every
# read seen by lotad (its request counter moves), the second read served from the cache.
# A plain C client (clients/preload_client.c) covers each libc resolver (getaddrinfo,
# gethostbyname, gethostbyname2 and their _r forms) with a name only the shim's resolver
# hooks can tie to the endpoint, blocking and non-blocking connects, a forked child that
# connects to what its parent resolved, threads, exec, and getpeername() showing the
# address asked for. The shim inside `bash -c`.
# Left alone: an address or port not listed, a name not resolved by the program, a bad
# configuration (silent unless LOTA_PRELOAD_DEBUG). lotad down: every client connects
# where it asked and still reads the bytes.
#
# Requests for the upstream's own Host (the address form) are forwarded by lotad; it
# caches them once it can authorize keys it does not hold itself (issue 10 §1, lotad
# --fill-credentials): until then their second read is checked to pass through lotad,
# and the name form (Host localhost:RGW, verified with alice's key) proves the hit.
# shellcheck source=lib.sh disable=SC2317 # (helpers run through check)
. "$(dirname "$0")/lib.sh"
[ "${LOTA_TEST_DIRECT:-0}" = 1 ] && it_skip "lotad-specific test (LOTA_TEST_DIRECT=1)"
it_require_rgw
it_require_boto3
it_require_cmd curl "$IT_AWS" s3cmd getent "${LOTA_CC:-cc}"
SHIM=${LOTA_BUILD_DIR:-$IT_LIB_DIR/../../build}/preload/liblota-preload.so
[ -f "$SHIM" ] || it_die "the shim is not built ($SHIM missing)"
IT_LOTAD_ARGS=(--cache-dir "$IT_DIR/cache:1GiB" --min-object-size 1MiB)
it_setup

W=$IT_DIR/work
mkdir -p "$W"
B=lota-preload
MiB=$((1024 * 1024))
SIZE=$((3 * MiB + 5))
R=$RGW_ENDPOINT
RP=$RGW_PORT
SERVED_CACHE='lota_bytes_served_total{source="cache"}'
CACHE_FORWARDED=0
"$(it_lotad_bin)" --help 2>&1 | grep -- '--fill-credentials' >/dev/null && CACHE_FORWARDED=1
it_log "lotad caches requests for the upstream's own name: $CACHE_FORWARDED"

# The C client, built without the project's flags: a program lota does not build.
PC=$W/preload_client
"${LOTA_CC:-cc}" -std=c11 -D_GNU_SOURCE -O2 -pthread -o "$PC" \
	"$IT_CLIENTS_DIR/preload_client.c" || it_die "cannot build clients/preload_client.c"

# A second name of 127.0.0.1 from /etc/hosts (the machine's host name): only the
# shim's resolver hooks can tell that a connect to 127.0.0.1 is for it. localhost
# cannot serve: the shim takes it as 127.0.0.1 from the start (curl resolves it alone).
ALT=
for n in "$(hostname)" vm runsc; do
	[ "$n" != localhost ] && getent ahostsv4 "$n" 2>/dev/null | grep -q '^127\.0\.0\.1 ' &&
		ALT=$n && break
done
[ -n "$ALT" ] || it_log "no second name of 127.0.0.1 in /etc/hosts: resolver checks use localhost"

# shim REDIRECT CMD...: CMD with the shim, LOTA_REDIRECT=REDIRECT, lotad as the endpoint.
shim() {
	local redirect=$1
	shift
	(
		export LD_PRELOAD=$SHIM LOTA_REDIRECT=$redirect \
			LOTA_ENDPOINT=127.0.0.1:$IT_LOTAD_PORT
		"$@"
	)
}
# All requests lotad has ended (the sum of lota_request_duration_seconds_count).
reqs() {
	curl -sf -m 5 "http://127.0.0.1:$IT_LOTAD_ADMIN_PORT/metrics" |
		awk '$1 ~ /^lota_request_duration_seconds_count/ { s += $2 } END { print s + 0 }'
}
# wait_reqs_above OLD: lotad ended a request since reqs printed OLD (10 s at most).
wait_reqs_above() {
	local deadline=$((SECONDS + 10))
	until [ "$(reqs)" -gt "$1" ]; do
		[ $SECONDS -ge $deadline ] && return 1
		sleep 0.1
	done
}
served() { it_metric0 "$SERVED_CACHE"; }
wait_idle() { it_wait_metric 60 lota_cache_fills_in_progress 0; }

check_eq "create bucket" 200 "$(it_curl alice -s -o /dev/null -w '%{http_code}' -X PUT "$R/$B")"
it_random_file "$W/src" "$SIZE"
SHA=$(it_sha256 "$W/src")
# obj_put KEY: the object at radosgw directly (so the first read through lotad is cold)
obj_put() { it_curl alice -sf -o /dev/null -T "$W/src" "$R/$B/$1" || it_die "upload $1"; }

# s3cmd configurations for the two forms (path style: host_bucket without a bucket)
for form in addr name; do
	hp=127.0.0.1:$RP
	[ $form = name ] && hp=localhost:$RP
	sed -e "s/^host_base = .*/host_base = $hp/" -e "s/^host_bucket = .*/host_bucket = $hp/" \
		"$IT_DIR/clients/s3cmd-alice.cfg" >"$W/s3cmd-$form.cfg"
done

# read_with FORM CLIENT OUT: one read of $B/FORM-CLIENT by CLIENT configured for radosgw's
# endpoint in FORM, with the shim redirecting that endpoint.
read_with() {
	local form=$1 client=$2 out=$3 host=127.0.0.1
	[ "$form" = name ] && host=localhost
	local ep=http://$host:$RP key=$form-$client
	rm -f "$out"
	case $client in
	curl) shim "$host:$RP" it_curl alice -sf -D "$out.hdr" -o "$out" "$ep/$B/$key" ;;
	boto3)
		S3_ENDPOINT=$ep shim "$host:$RP" it_python "$IT_CLIENTS_DIR/cache_boto3.py" \
			download "$B" "$key" "$out" $((MiB)) 4 >"$out.xc"
		;;
	aws) S3_ENDPOINT=$ep shim "$host:$RP" it_aws alice s3 cp --only-show-errors \
		"s3://$B/$key" "$out" ;;
	s3cmd) shim "$host:$RP" it__pyenv timeout 300 s3cmd -c "$W/s3cmd-$form.cfg" get \
		--force "s3://$B/$key" "$out" >"$out.log" 2>&1 ;;
	esac
}

# --- real clients, both forms, two reads each
for form in name addr; do
	for client in curl boto3 aws s3cmd; do
		obj_put "$form-$client"
		for pass in 1 2; do
			wait_idle
			r0=$(reqs) s0=$(served)
			out=$W/$form-$client.$pass
			read_with $form $client "$out"
			what="$client ($form form, read $pass)"
			check_eq "$what: bytes" "$SHA" "$(it_sha256 "$out" 2>/dev/null)"
			check "$what: went through lotad" wait_reqs_above "$r0"
			[ "$pass" = 2 ] || continue
			if [ $form = name ] || [ $CACHE_FORWARDED = 1 ]; then
				wait_idle
				d=$(($(served) - s0))
				check "$what: served from the cache (+$d bytes >= $SIZE)" \
					test "$d" -ge "$SIZE"
				case $client in
				curl) check "$what: x-lota-cache: hit" grep -qi '^x-lota-cache: hit' "$out.hdr" ;;
				boto3) check "$what: every ranged GET a hit ($(sort "$out.xc" | uniq -c | tr -s ' \n' ' '))" \
					test "$(sort -u "$out.xc")" = hit ;;
				esac
			fi
		done
	done
done

# --- the C client: an anonymous reader of a public object, through each resolver by a
# name only the resolver hooks tie to 127.0.0.1
obj_put pub
it_aws alice --endpoint-url "$R" s3api put-object-acl --bucket "$B" --key pub \
	--acl public-read >/dev/null || it_die "public-read on pub"
NAME=${ALT:-localhost}
# pc_check DESC EXPECT_N OPTIONS...: the C client with the shim; its bodies byte-exact
pc_check() {
	local desc=$1 n=$2 f ok=1
	shift 2
	rm -f "$W"/pc.out*
	local r0
	r0=$(reqs)
	if ! shim "$NAME:$RP" "$PC" "$@" "$NAME" "$RP" "/$B/pub" "$W/pc.out" 2>"$W/pc.err"; then
		it_fail "$desc: client failed: $(head -c 300 "$W/pc.err")"
		return
	fi
	for f in "$W"/pc.out*; do
		[ "$(it_sha256 "$f")" = "$SHA" ] || ok=0
	done
	check "$desc: $n bod(y/ies) byte-exact" test "$ok" = 1 -a "$(find "$W" -name 'pc.out*' | wc -l)" = "$n"
	check "$desc: went through lotad" wait_reqs_above "$r0"
}
for res in gai ghbn ghbn2 ghbn_r ghbn2_r; do
	pc_check "C client, resolver $res, blocking connect" 1 --resolver "$res"
done
pc_check "C client, non-blocking connect" 1 --nonblock
pc_check "C client, resolved by the parent, connected by a forked child" 1 --fork
pc_check "C client, 8 threads" 8 --threads 8
pc_check "C client after exec" 1 --exec
peer=$(shim "$NAME:$RP" "$PC" --peer "$NAME" "$RP" "/$B/pub" "$W/peer.out" 2>/dev/null)
check_eq "getpeername on a redirected socket: the address asked for" "peer=127.0.0.1:$RP" "$peer"
peer=$("$PC" --peer 127.0.0.1 "$IT_LOTAD_PORT" "/$B/pub" "$W/peer.out" 2>/dev/null)
check_eq "getpeername without the shim: lotad" "peer=127.0.0.1:$IT_LOTAD_PORT" "$peer"
wait_all() { # OLD N: lotad ended N more requests since reqs printed OLD (10 s at most)
	local deadline=$((SECONDS + 10))
	until [ "$(reqs)" -ge $(($1 + $2)) ]; do
		[ $SECONDS -ge $deadline ] && return 1
		sleep 0.1
	done
}
r0=$(reqs)
shim "$NAME:$RP" "$PC" --threads 8 "$NAME" "$RP" "/$B/pub" "$W/thr.out" 2>/dev/null
check "8 threads: all 8 GETs reached lotad" wait_all "$r0" 8

# --- the shim inside bash -c (bash forks, then curl is exec'd twice)
r0=$(reqs)
shim "127.0.0.1:$RP" bash -c 'curl "$@" -o "$0.1" && curl "$@" -o "$0.2"' "$W/bash" -sf \
	"$R/$B/pub"
check_eq "bash -c: first curl bytes" "$SHA" "$(it_sha256 "$W/bash.1" 2>/dev/null)"
check_eq "bash -c: second curl bytes" "$SHA" "$(it_sha256 "$W/bash.2" 2>/dev/null)"
check "bash -c: both curls went through lotad" wait_all "$r0" 2

# --- left alone: what is not listed
# untouched DESC REDIRECT CMD...: CMD succeeds with the shim, its response carries no
# x-lota-cache (lotad adds it to every GET), and lotad's counter has not moved.
untouched() {
	local desc=$1 redirect=$2 r0 r1
	shift 2
	r0=$(reqs)
	rm -f "$W/u.out" "$W/u.hdr"
	shim "$redirect" "$@"
	check_eq "$desc: bytes" "$SHA" "$(it_sha256 "$W/u.out" 2>/dev/null)"
	check "$desc: not through lotad (no x-lota-cache)" \
		bash -c "! grep -qi '^x-lota-cache' '$W/u.hdr'"
	r1=$(reqs)
	check_eq "$desc: lotad's request counter did not move" "$r0" "$r1"
}
untouched "another port listed" "127.0.0.1:$((RP + 1)),localhost:1" \
	it_curl alice -sf -D "$W/u.hdr" -o "$W/u.out" "$R/$B/name-curl"
if [ -n "$ALT" ]; then
	untouched "a listed name the program never resolved ($ALT)" "$ALT:$RP" \
		it_curl alice -sf -D "$W/u.hdr" -o "$W/u.out" "$R/$B/name-curl"
fi
# a bad configuration: the shim stands aside, silently
untouched "bad LOTA_REDIRECT" "127.0.0.1:$RP,,x" \
	it_curl alice -sf -D "$W/u.hdr" -o "$W/u.out" "$R/$B/name-curl"
err=$(shim "127.0.0.1:$RP,,x" curl -sf -o /dev/null "$R/$B/pub" 2>&1)
check_eq "bad LOTA_REDIRECT: nothing printed" "" "$err"
err=$(LOTA_PRELOAD_DEBUG=1 shim "127.0.0.1:$RP,,x" curl -sf -o /dev/null "$R/$B/pub" 2>&1)
check_contains "bad LOTA_REDIRECT with LOTA_PRELOAD_DEBUG: says why" "disabled: LOTA_REDIRECT: empty item" "$err"
printf 'redirect = 127.0.0.1:%s\nbogus = 1\n' "$RP" >"$W/bad.conf"
err=$(LOTA_PRELOAD_DEBUG=1 LOTA_PRELOAD_CONFIG=$W/bad.conf shim "" curl -sf -o /dev/null \
	"$R/$B/pub" 2>&1)
check_contains "bad LOTA_PRELOAD_CONFIG: says which line" "line 2: unknown key 'bogus'" "$err"
printf 'redirect = 127.0.0.1:%s\n' "$RP" >"$W/good.conf"
r0=$(reqs)
(
	unset LOTA_REDIRECT
	export LD_PRELOAD=$SHIM LOTA_PRELOAD_CONFIG=$W/good.conf \
		LOTA_ENDPOINT=127.0.0.1:$IT_LOTAD_PORT
	curl -sf -o "$W/conf.out" "$R/$B/pub"
)
check_eq "LOTA_PRELOAD_CONFIG file: bytes" "$SHA" "$(it_sha256 "$W/conf.out" 2>/dev/null)"
check "LOTA_PRELOAD_CONFIG file: went through lotad" wait_reqs_above "$r0"

# --- HTTPS: the node's CA bundle exported when 443 is redirected to a TLS listener
# (the handshake itself is tested with lotad's TLS listener)
: >"$W/bundle.pem"
ca_env() { # REDIRECT VAR=VALUE...: the CA variables a shimmed program starts with
	local redirect=$1
	shift
	env -u SSL_CERT_FILE -u CURL_CA_BUNDLE -u AWS_CA_BUNDLE -u REQUESTS_CA_BUNDLE "$@" \
		LOTA_TLS_ENDPOINT=127.0.0.1:1 LOTA_CA_BUNDLE="$W/bundle.pem" \
		bash -c 'export LD_PRELOAD=$0 LOTA_REDIRECT=$1; exec env' "$SHIM" "$redirect" |
		grep -E '^(SSL_CERT_FILE|CURL_CA_BUNDLE|AWS_CA_BUNDLE|REQUESTS_CA_BUNDLE)=' | sort |
		tr '\n' ' '
}
B4="AWS_CA_BUNDLE=$W/bundle.pem CURL_CA_BUNDLE=$W/bundle.pem REQUESTS_CA_BUNDLE=$W/bundle.pem SSL_CERT_FILE=$W/bundle.pem "
check_eq "443 redirected: the CA bundle in all four variables" "$B4" "$(ca_env s3.example:443)"
check_eq "a variable the user set is kept" \
	"AWS_CA_BUNDLE=/mine.pem CURL_CA_BUNDLE=$W/bundle.pem REQUESTS_CA_BUNDLE=$W/bundle.pem SSL_CERT_FILE=$W/bundle.pem " \
	"$(ca_env s3.example:443 AWS_CA_BUNDLE=/mine.pem)"
check_eq "443 not redirected: nothing exported" "" "$(ca_env s3.example:80)"
rm -f "$W/bundle.pem"
check_eq "no bundle file: nothing exported" "" "$(ca_env s3.example:443)"

# --- lotad down: every client connects where it asked
lotad_stop
check "lotad is down" bash -c "! curl -sf -m 2 -o /dev/null http://127.0.0.1:$IT_LOTAD_PORT/"
for client in curl boto3 aws s3cmd; do
	read_with addr $client "$W/down-$client"
	check_eq "lotad down: $client reads directly: bytes" "$SHA" \
		"$(it_sha256 "$W/down-$client" 2>/dev/null)"
done
rm -f "$W"/pc.out*
LOTA_PRELOAD_DEBUG=1 shim "$NAME:$RP" "$PC" "$NAME" "$RP" "/$B/pub" "$W/pc.out" 2>"$W/pc.err"
check_eq "lotad down: C client (blocking) reads directly: bytes" "$SHA" \
	"$(it_sha256 "$W/pc.out" 2>/dev/null)"
check_contains "lotad down: the blocking connect was refused, then went direct" \
	"connecting directly" "$(cat "$W/pc.err")"
rm -f "$W"/pc.out*
LOTA_PRELOAD_DEBUG=1 shim "$NAME:$RP" "$PC" --nonblock "$NAME" "$RP" "/$B/pub" "$W/pc.out" \
	2>"$W/pc.err"
check_eq "lotad down: C client (non-blocking) reads directly: bytes" "$SHA" \
	"$(it_sha256 "$W/pc.out" 2>/dev/null)"
check_contains "lotad down: the probe saw lotad down" "is down" "$(cat "$W/pc.err")"
it_finish
