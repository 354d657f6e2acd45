/*
 * lota/common.h - what every liblota header shares: the export macro, the byte-view
 * type, the error codes and lota_strerror().
 *
 * Errors: every fallible function returns 0 (or a non-negative count) on success and a
 * negative code on failure. A code is either -errno passed through from the system
 * (-ENOMEM, -EINVAL, -EIO, ...) or one of lota's own codes below, all <= -1000 so the
 * two ranges never meet. The enum is append-only and every code has its value written
 * out: a code, once released, keeps its value and is never removed, and a new one takes
 * a free value in its group. There is deliberately no "last code" marker: it would move
 * with every addition and bake one release's count into programs compiled against it.
 * lota_strerror() of a code this library does not know is "unknown error".
 *
 * Options structs (libbpf's OPTS discipline). A public struct that a caller fills to
 * pass settings and that may gain fields in later releases (lota_http_limits,
 * lota_sigv4_params, lota_aws_resolve_opts, lota_chunk_chain_params, and the client's
 * lota_client_opts, lota_get_opts, lota_put_opts, lota_list_opts, lota_prestage_opts)
 * begins with `size_t sz`, which the caller sets to the sizeof of the struct as its
 * headers declare it. LOTA_OPTS() does that and zeroes every field not named, which is
 * every field's default:
 *     lota_http_limits lim = LOTA_OPTS(lota_http_limits, .max_headers = 64);
 * Fields are only ever appended. The library reads the first sz bytes and takes any field
 * beyond them as zero, so a program built against older headers keeps its meaning. An sz
 * below the struct's first released size (0: not set), above LOTA_OPTS_MAX, or above the
 * size this library knows with a non-zero byte in the part it does not know (a newer
 * program asking for something this library cannot do) is LOTA_E_OPTS, and the call does
 * nothing. Other public structs have no sz: plain values and views (lota_str,
 * lota_http_header, lota_range, lota_hash128, lota_cache_key, lota_object_id),
 * descriptions of a message (lota_sigv4_request), results the library fills
 * (lota_http_request, lota_http_response, lota_sigv4_auth, lota_sigv4_signature,
 * lota_aws_credentials_entry), caller-owned state
 * (lota_http_chunked) and key-table entries (lota_config_key); the client's results
 * (lota_client_error, lota_object_info, lota_list_entry, lota_client_node,
 * lota_client_member, lota_client_node_stats). Their layout is fixed for the SONAME:
 * growing one takes a new function or a new major version (lota_client_member, with
 * lota_client_cluster_members, is lota_client_node grown so).
 */
#ifndef LOTA_COMMON_H
#define LOTA_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define LOTA_API               __attribute__((visibility("default")))
#define LOTA_WUR               __attribute__((warn_unused_result))
#define LOTA_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define LOTA_API
#define LOTA_WUR
#define LOTA_PRINTF(fmt, args)
#endif

#define LOTA_VERSION_MAJOR  0
#define LOTA_VERSION_MINOR  1
#define LOTA_VERSION_PATCH  0
#define LOTA_VERSION_STRING "0.1.0"

/* A read-only view of bytes owned by someone else. Never NUL-terminated by contract. */
typedef struct lota_str {
	const char *ptr;
	size_t len;
} lota_str;

#define LOTA_STR_LIT(s) ((lota_str){(s), sizeof(s) - 1})

/* An options struct of TYPE (a compound literal, C99 designated initializers for the
 * fields): sz set, every field not named zero. See "Options structs" above. */
#define LOTA_OPTS(TYPE, ...) ((TYPE){.sz = sizeof(TYPE), __VA_ARGS__})
/* No options struct is, or will be, larger: an sz above it is refused unread. */
#define LOTA_OPTS_MAX 4096u

/* lota's own error codes (append only; never renumber, never remove). */
enum lota_error {
	LOTA_OK = 0,
	LOTA_E_BASE = -1000,
	LOTA_E_INCOMPLETE = -1001, /* need more input */
	LOTA_E_INTERNAL = -1002,   /* a broken invariant or library failure */
	LOTA_E_TOO_LARGE = -1003,  /* input or result exceeds a configured cap */
	LOTA_E_OVERFLOW = -1004,   /* a number does not fit */
	LOTA_E_OPTS = -1005,       /* bad sz in an options struct (see above) */
	/* HTTP/1.1 parsing */
	LOTA_E_HTTP_METHOD = -1010,  /* bad or missing method token */
	LOTA_E_HTTP_TARGET = -1011,  /* bad request target */
	LOTA_E_HTTP_VERSION = -1012, /* not HTTP/1.0 or HTTP/1.1 */
	LOTA_E_HTTP_STATUS = -1013,  /* bad status line */
	LOTA_E_HTTP_HEADER_NAME = -1014,
	LOTA_E_HTTP_HEADER_VALUE = -1015,
	LOTA_E_HTTP_BARE_CR = -1016,  /* CR not followed by LF */
	LOTA_E_HTTP_OBS_FOLD = -1017, /* obsolete line folding */
	LOTA_E_HTTP_HEAD_TOO_LONG = -1018,
	LOTA_E_HTTP_TOO_MANY_HEADERS = -1019,
	LOTA_E_HTTP_CL_AND_TE = -1020, /* both Content-Length and Transfer-Encoding */
	LOTA_E_HTTP_DUP_CL = -1021,    /* more than one Content-Length */
	LOTA_E_HTTP_BAD_CL = -1022,    /* Content-Length not a decimal number */
	LOTA_E_HTTP_BAD_TE = -1023,    /* Transfer-Encoding other than a final chunked */
	LOTA_E_HTTP_CHUNK_SIZE = -1024,
	LOTA_E_HTTP_CHUNK = -1025, /* bad chunk framing (missing CRLF, bad trailer) */
	LOTA_E_HTTP_HOST = -1026,  /* missing, duplicate or invalid Host */
	/* Range header */
	LOTA_E_RANGE_MALFORMED = -1030,     /* not a valid single byte range: serve 200 */
	LOTA_E_RANGE_UNSATISFIABLE = -1031, /* valid but outside the object: 416 */
	/* SigV4 */
	LOTA_E_SIGV4_MALFORMED = -1040,   /* Authorization / X-Amz-* unparsable or incomplete */
	LOTA_E_SIGV4_ALGORITHM = -1041,   /* not AWS4-HMAC-SHA256 */
	LOTA_E_SIGV4_MISMATCH = -1042,    /* signature does not match */
	LOTA_E_SIGV4_SKEW = -1043,        /* request time too far from now */
	LOTA_E_SIGV4_EXPIRED = -1044,     /* presigned URL expired */
	LOTA_E_SIGV4_UNKNOWN_KEY = -1045, /* access key not known */
	LOTA_E_SIGV4_DATE = -1046,        /* bad or missing X-Amz-Date / Date */
	LOTA_E_SIGV4_SCOPE = -1047,       /* credential scope does not match date/service */
	LOTA_E_SIGV4_HEADERS = -1048,     /* a required header is not signed or is missing */
	/* configuration */
	LOTA_E_CONFIG_SYNTAX = -1060, /* the JSON does not parse */
	LOTA_E_CONFIG_UNKNOWN_KEY = -1061,
	LOTA_E_CONFIG_TYPE = -1062,    /* the value has the wrong type */
	LOTA_E_CONFIG_VALUE = -1063,   /* the value is out of range or malformed */
	LOTA_E_CONFIG_MISSING = -1064, /* a required key has no value */
	LOTA_E_CONFIG_FLAG = -1065,    /* a bad command-line flag */
	LOTA_E_CONFIG_SCHEMA = -1066,  /* the program's key table is broken (lota/config.h) */
	/* placement */
	LOTA_E_PLACEMENT_NO_NODES = -1080,
	LOTA_E_PLACEMENT_DUP_NODE = -1081,
	/* crypto */
	LOTA_E_CRYPTO = -1090,   /* OpenSSL failed */
	LOTA_E_AUTH_TAG = -1091, /* an authentication tag did not verify */
	/* peer protocol (lota/peer.h) */
	LOTA_E_PEER_MALFORMED = -1100, /* a peer field missing, duplicated or malformed */
	LOTA_E_PEER_AUTH = -1101,      /* the peer HMAC does not verify */
	LOTA_E_PEER_STALE = -1102,     /* peer time outside the window, past or future */
	LOTA_E_PEER_REPLAY = -1103,    /* peer nonce already seen within the window */
	LOTA_E_PEER_BUSY = -1104,      /* replay cache full of live nonces */
	LOTA_E_PEER_SECRET = -1105,    /* cluster secret shorter or longer than allowed */
	/* the S3 client (lota/client.h): details in its lota_client_error */
	LOTA_E_CLIENT_HTTP = -1110,      /* the server answered with an error */
	LOTA_E_CLIENT_NOT_FOUND = -1111, /* 404: no such key, bucket or upload */
	LOTA_E_CLIENT_DENIED = -1112,    /* 403: signature, key or permission refused */
	LOTA_E_CLIENT_CHANGED = -1113,   /* 412: the object changed (If-Match failed) */
	LOTA_E_CLIENT_TRANSPORT = -1114, /* no answer: connect, reset, timeout */
	LOTA_E_CLIENT_PROTOCOL = -1115,  /* an answer that breaks S3's rules */
	LOTA_E_CLIENT_ABORTED = -1116,   /* a callback asked to stop */
	LOTA_E_CLIENT_URI = -1117,       /* a bad endpoint URL */
};

/* A static, human-readable message for any code (lota's own or -errno). Never NULL. */
LOTA_API const char *lota_strerror(int code);

/* The name of the code, e.g. "LOTA_E_HTTP_DUP_CL" or "ENOMEM". Never NULL. */
LOTA_API const char *lota_strerror_name(int code);

/* The library's version string, e.g. "0.1.0". */
LOTA_API const char *lota_version(void);

#ifdef __cplusplus
}
#endif
#endif
