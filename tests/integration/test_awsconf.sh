#!/usr/bin/env bash
# AWS shared files and environment: `lota profile` (lota_aws_profile_resolve) resolves
# the access key, session token and region, and refuses what is wrong, exactly as the AWS
# CLI does. The reference is the resolver of Debian's AWS CLI v2 itself (/usr/bin/aws's
# bundled botocore, driven through /usr/bin/python3), over a matrix of profiles, files and
# variables. No server is involved, and no network: instance metadata is disabled.
# (The CLI here, 2.9, predates endpoint_url in the config file; the unit suite
# test_awsconf covers endpoints.)
. "$(dirname "$0")/lib.sh"
it_require_cmd "$IT_PY" /usr/bin/aws
"$IT_PY" -c 'import awscli.botocore.session' 2>/dev/null || it_skip "no AWS CLI v2 python package"
lota=${LOTA_BUILD_DIR:-$IT_LIB_DIR/../../build}/tools/lota
[ -x "$lota" ] || it_die "no $lota"

home=$IT_DIR/home
mkdir -p "$home/.aws" "$IT_DIR/other"
cat >"$home/.aws/credentials" <<'EOF'
# test keys
[default]
aws_access_key_id = CREDAK
aws_secret_access_key = CREDSK

[dev]
AWS_ACCESS_KEY_ID = DEVAK
aws_secret_access_key=DEVSK
region = cred-region

[tok]
aws_access_key_id = TOKAK
aws_secret_access_key = TOKSK
aws_session_token = TOKTOK

[half]
aws_access_key_id = HALFAK

[secretonly]
aws_secret_access_key = LONESK
EOF
cat >"$home/.aws/config" <<'EOF'
[default]
region = conf-region

[profile dev]
region = dev-region
aws_access_key_id = SHADOWED
aws_secret_access_key = SHADOWED

[profile cfgonly]
aws_access_key_id = CFGAK
aws_secret_access_key = CFGSK
aws_session_token = CFGTOK
region = us-west-2 # not a comment

[profile   spaced ]
region = spaced-region

[profile secretonly]
aws_access_key_id = CFGONLYAK
aws_secret_access_key = CFGONLYSK

[profilenot]
region = never

[profile both]
region = first
[profile both2]
region = second
EOF
cat >"$IT_DIR/other/creds" <<'EOF'
[default]
aws_access_key_id = OTHERAK
aws_secret_access_key = OTHERSK
EOF
printf '[default]\nregion = a\n[profile default]\nregion = b\n' >"$IT_DIR/other/dupdefault"

# What the AWS CLI resolves: the same four lines `lota profile` prints, or "error".
cli() { # [--profile NAME] -- env assignments...
	local prof=
	if [ "$1" = --profile ]; then
		prof=$2
		shift 2
	fi
	env -i HOME="$home" AWS_EC2_METADATA_DISABLED=true PATH=/usr/bin:/bin "$@" \
		"$IT_PY" - "$prof" <<'EOF' 2>/dev/null || echo error
import sys
import awscli  # installs the CLI's import alias: botocore is the CLI's own
import awscli.botocore.session as s
ses = s.Session(profile=sys.argv[1] or None)
try:
    c = ses.get_credentials()
    region = ses.get_config_variable('region')
except Exception as e:
    print("error")
    sys.exit(0)
f = c.get_frozen_credentials() if c else None
print("access_key_id", f.access_key if f else "-")
print("secret_access_key", "set" if f and f.secret_key else "-")
print("session_token", "set" if f and f.token else "-")
print("region", region or "-")
EOF
}

mine() { # [--profile NAME] -- env assignments...
	local args=()
	if [ "$1" = --profile ]; then
		args=(--profile "$2")
		shift 2
	fi
	local out
	if out=$(env -i HOME="$home" PATH=/usr/bin:/bin "$@" "$lota" profile "${args[@]}" 2>&1); then
		# the four lines the CLI prints, without lota's origins
		printf '%s\n' "$out" | grep -E '^(access_key_id|secret_access_key|session_token|region) ' |
			sed 's/ (.*)$//'
	else
		echo error
	fi
}

same() { # DESC [--profile NAME] env...
	local desc=$1
	shift
	check_eq "$desc" "$(cli "$@")" "$(mine "$@")"
}

same "default profile: keys from credentials, region from config"
same "AWS_PROFILE: the credentials file's keys and region win over the config's" AWS_PROFILE=dev
same "--profile" --profile dev
same "environment keys win over AWS_PROFILE's" AWS_PROFILE=dev AWS_ACCESS_KEY_ID=ENVAK \
	AWS_SECRET_ACCESS_KEY=ENVSK
same "--profile's keys win over the environment's" --profile dev AWS_ACCESS_KEY_ID=ENVAK \
	AWS_SECRET_ACCESS_KEY=ENVSK
same "environment session token comes with environment keys" AWS_ACCESS_KEY_ID=ENVAK \
	AWS_SECRET_ACCESS_KEY=ENVSK AWS_SESSION_TOKEN=ENVTOK
same "a profile's token comes with its keys only" AWS_PROFILE=tok AWS_SESSION_TOKEN=ENVTOK
same "keys, token and region from the config file alone" AWS_PROFILE=cfgonly
same "AWS_REGION over AWS_DEFAULT_REGION" AWS_REGION=r1 AWS_DEFAULT_REGION=r2
same "AWS_DEFAULT_REGION over the files" AWS_DEFAULT_REGION=r2 AWS_PROFILE=dev
# empty variables: a setting set to "" decides, a credential set to "" is unset
same "AWS_REGION set to \"\": no region" AWS_REGION= AWS_DEFAULT_REGION=r2
same "AWS_DEFAULT_REGION set to \"\": no region" AWS_DEFAULT_REGION=
same "AWS_PROFILE set to \"\"" AWS_PROFILE=
same "AWS_CONFIG_FILE set to \"\"" AWS_CONFIG_FILE=
same "AWS_SHARED_CREDENTIALS_FILE set to \"\"" AWS_SHARED_CREDENTIALS_FILE=
same "an empty AWS_ACCESS_KEY_ID is unset" AWS_ACCESS_KEY_ID= AWS_SECRET_ACCESS_KEY=x
same "an empty AWS_SECRET_ACCESS_KEY with a key id" AWS_ACCESS_KEY_ID=A AWS_SECRET_ACCESS_KEY=
same "an empty AWS_SESSION_TOKEN" AWS_ACCESS_KEY_ID=A AWS_SECRET_ACCESS_KEY=S AWS_SESSION_TOKEN=
same "[profile NAME] with spaces around the name" AWS_PROFILE=spaced
same "a secret without a key id is no credential" AWS_PROFILE=secretonly
same "[profileNAME] is not a profile" AWS_PROFILE=not
same "a profile no file has" AWS_PROFILE=nosuch
same "--profile default with no file that has it" --profile default \
	AWS_SHARED_CREDENTIALS_FILE="$IT_DIR/none" AWS_CONFIG_FILE="$IT_DIR/none"
same "aws_access_key_id without a secret" AWS_PROFILE=half
same "AWS_ACCESS_KEY_ID without AWS_SECRET_ACCESS_KEY" AWS_ACCESS_KEY_ID=ENVAK
same "AWS_SHARED_CREDENTIALS_FILE" AWS_SHARED_CREDENTIALS_FILE="$IT_DIR/other/creds"
same "AWS_SHARED_CREDENTIALS_FILE with ~" AWS_SHARED_CREDENTIALS_FILE="~/.aws/credentials" \
	AWS_PROFILE=tok
same "AWS_CONFIG_FILE=/dev/null" AWS_CONFIG_FILE=/dev/null
same "missing files" AWS_SHARED_CREDENTIALS_FILE="$IT_DIR/none" AWS_CONFIG_FILE="$IT_DIR/none2"
same "[default] then [profile default]: the later counts" AWS_CONFIG_FILE="$IT_DIR/other/dupdefault"
printf '[default]\nregion = b\n[default]\nregion = c\n' >"$IT_DIR/other/dupsection"
same "a section twice" AWS_CONFIG_FILE="$IT_DIR/other/dupsection"
printf '[default]\nregion = b\nregion = c\n' >"$IT_DIR/other/dupkey"
same "a key twice" AWS_CONFIG_FILE="$IT_DIR/other/dupkey"
printf 'region = b\n' >"$IT_DIR/other/nosection"
same "a key outside any section" AWS_CONFIG_FILE="$IT_DIR/other/nosection"

# lota says where each value came from, and never prints a secret
out=$(env -i HOME="$home" AWS_PROFILE=tok AWS_REGION=r "$lota" profile)
check_contains "origins: file and line" "access_key_id TOKAK ($home/.aws/credentials:12)" "$out"
check_contains "origins: variable" "region r (AWS_REGION)" "$out"
check_contains "a secret is only said to be set" "secret_access_key set (" "$out"
case "$out" in
*TOKSK* | *TOKTOK*) it_fail "a secret was printed" ;;
*) it_pass "no secret in the output" ;;
esac
check_fails_with "a syntax error names the file and line" "$IT_DIR/other/nosection:1: key outside" \
	env -i HOME="$home" AWS_CONFIG_FILE="$IT_DIR/other/nosection" "$lota" profile
it_finish
