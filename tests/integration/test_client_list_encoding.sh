#!/usr/bin/env bash
# test_client_list_encoding.sh - listing awkward keys with lota (ListObjectsV2 with
# encoding-type=url, decoded by liblota), against radosgw directly and through lotad.
#
# Keys with control characters (which XML 1.0 cannot carry), XML-special characters, a
# '+', a '%', a space, UTF-8 and a prefix holding a control character: each goes up
# (lota cp - ), is listed back byte-for-byte by `lota ls --recursive` (and as a common
# prefix by `lota ls`), and reads back its own body; `lota rm --recursive` (DeleteObjects
# with the listed keys) then leaves the bucket empty.
# shellcheck source=lib.sh disable=SC2317 # (helpers run through check)
. "$(dirname "$0")/lib.sh"
it_require_rgw
build=${LOTA_BUILD_DIR:-$IT_LIB_DIR/../../build}
lota=$build/tools/lota
[ -x "$lota" ] || it_die "lota is not built ($lota)"
it_setup

W=$IT_DIR/work
mkdir -p "$W"
export AWS_SHARED_CREDENTIALS_FILE=$IT_DIR/clients/aws-credentials
export AWS_CONFIG_FILE=$IT_DIR/clients/aws-config
L() {
	local ep=$1
	shift
	timeout 60 "$lota" "$@" --endpoint-url "$ep" --profile alice
}
keys=($'ctl\x01one' $'tab\tkey' $'esc\x1b[0m' $'del\x7f' "x<y>&z\"q'" 'plus+sign' 'pct%41'
	'sp ace' $'caf\xc3\xa9' '&amp;lit' ']]>cdata' $'d\x02ir/obj' 'p+q/r s')
endpoints=("direct=$RGW_ENDPOINT")
[ "${LOTA_TEST_DIRECT:-}" = 1 ] || endpoints+=("lotad=$S3_ENDPOINT")
for pair in "${endpoints[@]}"; do
	name=${pair%%=*} ep=${pair#*=}
	B=lota-keys-$name
	check "$name: create bucket" it_aws alice s3api create-bucket --bucket "$B"
	for k in "${keys[@]}"; do
		printf '%s' "$k" | L "$ep" cp --quiet - "s3://$B/$k" ||
			it_fail "$name: upload of key $(printf '%q' "$k")"
	done
	printf '%s\n' "${keys[@]}" | LC_ALL=C sort >"$W/want-$name"
	L "$ep" ls --recursive "s3://$B" >"$W/ls-$name" 2>"$W/err-$name"
	check_eq "$name: lota ls exits 0" "0 " "$? $(cat "$W/err-$name")"
	sed -E 's/^[0-9-]+ [0-9:]+ +[0-9]+ //' "$W/ls-$name" | LC_ALL=C sort >"$W/got-$name"
	check "$name: every awkward key listed back byte-for-byte" cmp "$W/want-$name" "$W/got-$name"
	# (the server did encode them: what lota printed was decoded by liblota)
	check_contains "$name: asked with encoding-type=url, the server encodes the keys" \
		"<Key>ctl%01one</Key>" "$(it_curl alice -s "$ep/$B?encoding-type=url&list-type=2")"
	for k in "${keys[@]}"; do
		[ "$(L "$ep" cp "s3://$B/$k" -)" = "$k" ] ||
			it_fail "$name: key $(printf '%q' "$k") does not read back its body"
	done
	it_pass "$name: each key reads back its own body"
	check_contains "$name: a prefix with a control character is a common prefix" \
		$'PRE d\x02ir/' "$(L "$ep" ls "s3://$B/")"
	check_contains "$name: ... and a prefix with '+' and a space" 'PRE p+q/' "$(L "$ep" ls "s3://$B/")"
	check_eq "$name: listing under the awkward prefix" $'d\x02ir/obj' \
		"$(L "$ep" ls "s3://$B/"$'d\x02ir/' | sed -E 's/^[0-9-]+ [0-9:]+ +[0-9]+ //')"
	check "$name: rm --recursive deletes every listed key" L "$ep" rm --recursive "s3://$B/"
	check_eq "$name: ... the bucket is empty" "" "$(L "$ep" ls --recursive "s3://$B")"
done

it_finish
