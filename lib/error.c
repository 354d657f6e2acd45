/*
 * error.c - lota_strerror(): one message per code. lota's own codes are looked up in a
 * table indexed by (LOTA_E_BASE - code); anything else is treated as -errno.
 */
#include <errno.h>
#include <string.h>

#include <lota/common.h>

struct errinfo {
	int code;
	const char *name;
	const char *msg;
};

#define E(c, m)          \
	{                \
		c, #c, m \
	}
static const struct errinfo errors[] = {
    E(LOTA_OK, "success"),
    E(LOTA_E_INCOMPLETE, "more input is needed"),
    E(LOTA_E_INTERNAL, "internal error"),
    E(LOTA_E_TOO_LARGE, "input exceeds a configured limit"),
    E(LOTA_E_OVERFLOW, "number out of range"),
    E(LOTA_E_OPTS, "options struct: sz not set to its sizeof, or fields this library does not "
                   "know are set"),
    E(LOTA_E_HTTP_METHOD, "invalid HTTP method"),
    E(LOTA_E_HTTP_TARGET, "invalid HTTP request target"),
    E(LOTA_E_HTTP_VERSION, "unsupported HTTP version"),
    E(LOTA_E_HTTP_STATUS, "invalid HTTP status line"),
    E(LOTA_E_HTTP_HEADER_NAME, "invalid HTTP header name"),
    E(LOTA_E_HTTP_HEADER_VALUE, "invalid HTTP header value"),
    E(LOTA_E_HTTP_BARE_CR, "bare CR in HTTP message"),
    E(LOTA_E_HTTP_OBS_FOLD, "obsolete line folding in HTTP header"),
    E(LOTA_E_HTTP_HEAD_TOO_LONG, "HTTP message head too long"),
    E(LOTA_E_HTTP_TOO_MANY_HEADERS, "too many HTTP headers"),
    E(LOTA_E_HTTP_CL_AND_TE, "both Content-Length and Transfer-Encoding present"),
    E(LOTA_E_HTTP_DUP_CL, "more than one Content-Length"),
    E(LOTA_E_HTTP_BAD_CL, "invalid Content-Length"),
    E(LOTA_E_HTTP_BAD_TE, "unsupported Transfer-Encoding"),
    E(LOTA_E_HTTP_CHUNK_SIZE, "invalid chunk size"),
    E(LOTA_E_HTTP_CHUNK, "invalid chunked encoding"),
    E(LOTA_E_HTTP_HOST, "missing or invalid Host header"),
    E(LOTA_E_RANGE_MALFORMED, "malformed Range header"),
    E(LOTA_E_RANGE_UNSATISFIABLE, "requested range not satisfiable"),
    E(LOTA_E_SIGV4_MALFORMED, "malformed SigV4 authorization"),
    E(LOTA_E_SIGV4_ALGORITHM, "unsupported signing algorithm"),
    E(LOTA_E_SIGV4_MISMATCH, "signature does not match"),
    E(LOTA_E_SIGV4_SKEW, "request time too skewed"),
    E(LOTA_E_SIGV4_EXPIRED, "presigned request expired"),
    E(LOTA_E_SIGV4_UNKNOWN_KEY, "unknown access key"),
    E(LOTA_E_SIGV4_DATE, "missing or invalid request date"),
    E(LOTA_E_SIGV4_SCOPE, "credential scope does not match the request"),
    E(LOTA_E_SIGV4_HEADERS, "required header missing or not signed"),
    E(LOTA_E_CONFIG_SYNTAX, "configuration is not valid JSON"),
    E(LOTA_E_CONFIG_UNKNOWN_KEY, "unknown configuration key"),
    E(LOTA_E_CONFIG_TYPE, "configuration value has the wrong type"),
    E(LOTA_E_CONFIG_VALUE, "invalid configuration value"),
    E(LOTA_E_CONFIG_MISSING, "required configuration key missing"),
    E(LOTA_E_CONFIG_FLAG, "invalid command-line flag"),
    E(LOTA_E_CONFIG_SCHEMA, "invalid configuration key table"),
    E(LOTA_E_PLACEMENT_NO_NODES, "no nodes to place on"),
    E(LOTA_E_PLACEMENT_DUP_NODE, "duplicate node"),
    E(LOTA_E_CRYPTO, "cryptographic library failure"),
    E(LOTA_E_AUTH_TAG, "authentication tag mismatch"),
    E(LOTA_E_PEER_MALFORMED, "peer request field missing, duplicated or malformed"),
    E(LOTA_E_PEER_AUTH, "peer request signature does not verify"),
    E(LOTA_E_PEER_STALE, "peer request time outside the window"),
    E(LOTA_E_PEER_REPLAY, "peer request replayed"),
    E(LOTA_E_PEER_BUSY, "peer replay cache full"),
    E(LOTA_E_PEER_SECRET, "cluster secret of a bad length"),
    E(LOTA_E_CLIENT_HTTP, "the S3 server answered with an error"),
    E(LOTA_E_CLIENT_NOT_FOUND, "no such key, bucket or upload"),
    E(LOTA_E_CLIENT_DENIED, "access denied"),
    E(LOTA_E_CLIENT_CHANGED, "the object changed (precondition failed)"),
    E(LOTA_E_CLIENT_TRANSPORT, "no answer from the S3 server"),
    E(LOTA_E_CLIENT_PROTOCOL, "unexpected answer from the S3 server"),
    E(LOTA_E_CLIENT_ABORTED, "stopped by a callback"),
    E(LOTA_E_CLIENT_URI, "invalid endpoint URL"),
};
#undef E

static const struct errinfo *find(int code)
{
	for (size_t i = 0; i < sizeof(errors) / sizeof(errors[0]); i++)
		if (errors[i].code == code)
			return &errors[i];
	return NULL;
}

const char *lota_strerror(int code)
{
	const struct errinfo *e = find(code);
	if (e)
		return e->msg;
	if (code < 0 && code > LOTA_E_BASE)
		return strerror(-code); /* glibc: thread-safe for known errnos */
	return "unknown error";
}

const char *lota_strerror_name(int code)
{
	const struct errinfo *e = find(code);
	if (e)
		return e->name;
	if (code < 0 && code > LOTA_E_BASE) {
		const char *n = strerrorname_np(-code);
		return n ? n : "EUNKNOWN";
	}
	return "LOTA_E_UNKNOWN";
}

const char *lota_version(void)
{
	return LOTA_VERSION_STRING;
}
