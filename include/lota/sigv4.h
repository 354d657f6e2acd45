/*
 * lota/sigv4.h - AWS Signature Version 4: signing (Authorization header and presigned
 * URL), verification of both forms, and aws-chunked (streaming) chunk signatures.
 *
 * Requests are described by lota_sigv4_request: method, the path and query exactly as
 * they appear on the wire (percent-encoded as the client sent them), and the headers.
 * The canonical request follows S3's rules by default: the path is decoded once and
 * re-encoded with S3's URI encoding (unreserved A-Za-z0-9-._~ kept, '/' kept, every other
 * byte %XX upper-case), with no dot-segment or slash normalization; query parameters are
 * decoded, re-encoded and sorted by name then value. LOTA_SIGV4_NORMALIZE_PATH and
 * LOTA_SIGV4_DOUBLE_ENCODE select the generic (non-S3) AWS behaviour used by the public
 * test suite.
 *
 * Secrets: secret keys and derived signing keys live only in caller memory and in the
 * per-thread key cache (wiped on eviction); they are never logged. Comparisons of
 * signatures are constant time.
 *
 * Besides the codes each function names, any function here that hashes may return
 * LOTA_E_CRYPTO (OpenSSL failed), -ENOMEM, or -EAGAIN when the process had no pthread
 * key left for the per-thread state on the first use (PTHREAD_KEYS_MAX); that last one
 * is final for the process. The library never aborts.
 */
#ifndef LOTA_SIGV4_H
#define LOTA_SIGV4_H

#include <stdbool.h>
#include <lota/common.h>
#include <lota/http.h>
#include <lota/request.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LOTA_SIGV4_ALGORITHM                  "AWS4-HMAC-SHA256"
#define LOTA_SIGV4_UNSIGNED_PAYLOAD           "UNSIGNED-PAYLOAD"
#define LOTA_SIGV4_STREAMING_PAYLOAD          "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
#define LOTA_SIGV4_STREAMING_PAYLOAD_TRAILER  "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
#define LOTA_SIGV4_STREAMING_UNSIGNED_TRAILER "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
#define LOTA_SIGV4_EMPTY_SHA256               "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

#define LOTA_SIGV4_NORMALIZE_PATH 0x1u /* remove dot segments, merge slashes (not S3) */
#define LOTA_SIGV4_DOUBLE_ENCODE  0x2u /* encode the path twice (not S3) */
/* Query form: X-Amz-Security-Token was appended after signing and is not part of the
 * canonical query (some non-S3 services; S3 signs it). */
#define LOTA_SIGV4_UNSIGNED_TOKEN 0x4u

#define LOTA_SIGV4_AMZ_DATE_LEN      16 /* 20150830T123600Z */
#define LOTA_SIGV4_SIGNATURE_HEX_LEN 64
#define LOTA_SIGV4_AUTH_MAX          2048 /* room for any Authorization value we produce */

/*
 * Limits. Each one is decided by a single rule that signing and verification share, so a
 * request that lota_sigv4_sign_header or lota_sigv4_presign produces is always one that
 * lota_sigv4_parse and lota_sigv4_verify accept (as sent, at the signing time); a signer
 * refuses what would exceed a limit (LOTA_E_TOO_LARGE unless said otherwise) instead of
 * producing a request that the verifier then refuses.
 *
 * Headers: a request carries at most LOTA_SIGV4_MAX_HEADERS header fields, Authorization
 * included. So the header form signs at most LOTA_SIGV4_MAX_HEADERS - 1 (the Authorization
 * it makes is one more), a presigned request keeps all LOTA_SIGV4_MAX_HEADERS. The
 * signed-header list has at most LOTA_SIGV4_SIGNED_HEADERS_MAX bytes, counting each
 * separator as one byte whether it is sent as ';' or %3B (both limits apply: 127 headers
 * fit when their names average 11 bytes).
 *
 * Query: at most LOTA_SIGV4_MAX_QUERY_PARAMS parameters are signed, and their S3-encoded
 * names and values take at most LOTA_SIGV4_QUERY_MAX bytes ('=' and '&' not counted).
 * What the signature does not cover counts for nothing: empty parameters ("a&&b") and, in
 * the query form, X-Amz-Signature (and X-Amz-Security-Token with
 * LOTA_SIGV4_UNSIGNED_TOKEN). Presigning signs five parameters of its own (X-Amz-Algorithm,
 * -Credential, -Date, -Expires, -SignedHeaders), six with a session token, so a request
 * presigns with at most 123 parameters of its own (122 with a signed token), and the URL
 * then has 129 parameters on the wire with X-Amz-Signature.
 *
 * Credential: the access key has 1..LOTA_SIGV4_ACCESS_KEY_MAX bytes (else -EINVAL from a
 * signer, LOTA_E_SIGV4_MALFORMED from the parser), region and service
 * 1..LOTA_SIGV4_SCOPE_PART_MAX (else LOTA_E_SIGV4_SCOPE), all printable ASCII without
 * '/', '%' or space. The secret has at most LOTA_SIGV4_SECRET_MAX bytes.
 *
 * Path: with LOTA_SIGV4_NORMALIZE_PATH, at most LOTA_SIGV4_MAX_PATH_SEGMENTS segments
 * remain after dot-segment removal. Presigned URLs live 1..LOTA_SIGV4_EXPIRES_MAX seconds.
 * Times are those of the years 0000..9999, which X-Amz-Date can carry.
 */
#define LOTA_SIGV4_MAX_HEADERS        128
#define LOTA_SIGV4_SIGNED_HEADERS_MAX 1536
#define LOTA_SIGV4_MAX_QUERY_PARAMS   128
#define LOTA_SIGV4_QUERY_MAX          16384
#define LOTA_SIGV4_ACCESS_KEY_MAX     128
#define LOTA_SIGV4_SCOPE_PART_MAX     64
#define LOTA_SIGV4_SECRET_MAX         256
#define LOTA_SIGV4_MAX_PATH_SEGMENTS  512
#define LOTA_SIGV4_EXPIRES_MAX        604800

typedef struct lota_sigv4_request {
	lota_str method;
	lota_str path;  /* as on the wire, before '?' */
	lota_str query; /* as on the wire, after '?', without it */
	const lota_http_header *headers;
	size_t num_headers;
	/* The payload hash to sign: hex SHA-256, UNSIGNED-PAYLOAD or a STREAMING-* marker.
	 * Empty: the x-amz-content-sha256 header if present, else the hash of the empty
	 * body (header form) or UNSIGNED-PAYLOAD (query form). */
	lota_str payload_hash;
} lota_sigv4_request;

/* An options struct (lota/common.h): build it with LOTA_OPTS(lota_sigv4_params, ...). */
typedef struct lota_sigv4_params {
	size_t sz; /* sizeof(lota_sigv4_params) */
	lota_str access_key;
	lota_str secret_key;
	lota_str session_token; /* optional: signed as x-amz-security-token */
	lota_str region;        /* e.g. "us-east-1" */
	lota_str service;       /* "s3" */
	int64_t time;           /* seconds since the epoch, UTC */
	unsigned flags;         /* LOTA_SIGV4_* */
} lota_sigv4_params;

/* Header-form signature of a request. */
typedef struct lota_sigv4_signature {
	char amz_date[LOTA_SIGV4_AMZ_DATE_LEN + 1];       /* X-Amz-Date value */
	char signature[LOTA_SIGV4_SIGNATURE_HEX_LEN + 1]; /* hex */
	char authorization[LOTA_SIGV4_AUTH_MAX];          /* Authorization value */
} lota_sigv4_signature;

/*
 * Sign req in the header form. Every header in req->headers is signed (names lower-cased
 * and sorted, values trimmed and inner whitespace runs folded); the caller must include
 * Host and X-Amz-Date (whose value must equal the one for params->time, see
 * lota_sigv4_format_amz_date) and, for S3, x-amz-content-sha256. With
 * params->session_token, the request must carry it as an X-Amz-Security-Token header
 * (else LOTA_E_SIGV4_HEADERS). An Authorization header in req is never signed: the
 * request to send is req's other headers plus out->authorization. Returns 0 or a negative
 * code: LOTA_E_OPTS (params->sz not set, see lota/common.h), LOTA_E_SIGV4_HEADERS (Host
 * missing; a header name the signed-header list cannot
 * carry: one with '%', ',', '=', ';', ':', a control or non-ASCII byte),
 * LOTA_E_SIGV4_DATE (X-Amz-Date missing or not params->time, or a time outside the years
 * 0000..9999), LOTA_E_TOO_LARGE (a limit above), or what lota_sigv4_parse would say of
 * the request to send (e.g. LOTA_E_SIGV4_MALFORMED for a query that carries
 * X-Amz-Algorithm, -Credential or -Signature, or a credential with a ','). out is zeroed
 * on failure.
 */
LOTA_API int lota_sigv4_sign_header(const lota_sigv4_params *params, const lota_sigv4_request *req,
                                    lota_sigv4_signature *out) LOTA_WUR;

/*
 * Presign req (query form) valid for expires_s seconds (1..LOTA_SIGV4_EXPIRES_MAX, else
 * -EINVAL). Every header of req is signed and must be sent as it is; Host is required
 * and Authorization refused. Writes into out (capacity cap, NUL-terminated) the complete
 * query string to send: req->query's parameters plus X-Amz-Algorithm, X-Amz-Credential,
 * X-Amz-Date, X-Amz-Expires, X-Amz-SignedHeaders, [X-Amz-Security-Token] and
 * X-Amz-Signature. Returns its length or a negative code: LOTA_E_OPTS (as for
 * lota_sigv4_sign_header), LOTA_E_TOO_LARGE (a limit above, or cap), LOTA_E_SIGV4_HEADERS (as for lota_sigv4_sign_header, and a header name
 * with a byte other than A-Za-z0-9-._~, which the query would carry percent-encoded),
 * LOTA_E_SIGV4_DATE, or what lota_sigv4_parse would say of the request to send:
 * LOTA_E_SIGV4_MALFORMED when req->query already holds one of the parameters added here
 * (or X-Amz-Content-Sha256 twice) or req has an Authorization header,
 * LOTA_E_SIGV4_MALFORMED / LOTA_E_SIGV4_SCOPE for an access key / region or service
 * with a byte other than A-Za-z0-9-._~ (the parser refuses them percent-encoded).
 */
LOTA_API int lota_sigv4_presign(const lota_sigv4_params *params, const lota_sigv4_request *req,
                                int64_t expires_s, char *out, size_t cap) LOTA_WUR;

/*
 * Sign req in place (header form), for the host given, as lota_sigv4_sign_header would
 * sign it. The fields it writes, each one signed field (replacing any of that name):
 *   Host                  host (empty: keep req's own Host; none is LOTA_E_SIGV4_HEADERS)
 *   X-Amz-Date            params->time
 *   X-Amz-Content-Sha256  payload_hash (a hex SHA-256, UNSIGNED-PAYLOAD or a STREAMING-*
 *                         marker); empty: req's own non-empty value, else the empty
 *                         body's hash
 *   X-Amz-Security-Token  params->session_token; removed when there is none
 *   Authorization         the signature, appended last
 * Every other field is signed unless it carries LOTA_REQUEST_UNSIGNED; as SigV4 signs
 * names (the receiver joins all fields of a signed name), a name with both signed and
 * unsigned fields is refused with LOTA_E_SIGV4_HEADERS. signature_out
 * (may be NULL; 65 bytes) gets the hex signature: the seed of an aws-chunked body.
 * Returns 0, -EINVAL (NULL params or req), LOTA_E_OPTS (params->sz, see lota/common.h),
 * the errors of lota_sigv4_sign_header, or those of lota_request_header_set (a limit of
 * lota/request.h). After -EINVAL or LOTA_E_OPTS req is as it was; after any other
 * failure req has no Authorization field (a stale one is removed first) and the other
 * fields above may have been written.
 */
LOTA_API int lota_sigv4_sign_request(const lota_sigv4_params *params, lota_request *req,
                                     lota_str host, lota_str payload_hash,
                                     char *signature_out) LOTA_WUR;

typedef enum lota_sigv4_form {
	LOTA_SIGV4_FORM_NONE = 0,   /* anonymous: no Authorization, no X-Amz-Signature */
	LOTA_SIGV4_FORM_HEADER = 1, /* Authorization: AWS4-HMAC-SHA256 ... */
	LOTA_SIGV4_FORM_QUERY = 2,  /* presigned URL */
	LOTA_SIGV4_FORM_OTHER = 3,  /* another scheme (SigV2 "AWS ak:sig", SigV4A, ...) */
} lota_sigv4_form;

/* What a request claims, parsed without any crypto. Views point into the request (never
 * into this struct, so it may be copied). In the query form they are the raw, still
 * percent-encoded bytes: signed_headers may use %3B as the separator and session_token
 * is encoded; access_key, region and service never contain '%' (refused otherwise). */
typedef struct lota_sigv4_auth {
	lota_sigv4_form form;
	lota_str access_key;
	lota_str scope_date; /* yyyymmdd of the credential scope */
	lota_str region;
	lota_str service;
	lota_str signed_headers; /* "host;x-amz-date;..." */
	lota_str signature;      /* hex as sent */
	lota_str amz_date;       /* X-Amz-Date (or Date) value as sent */
	int64_t time;            /* amz_date as seconds since the epoch */
	int64_t expires_s;       /* query form: X-Amz-Expires; header form: 0 */
	lota_str payload_hash;   /* x-amz-content-sha256 (header form) or UNSIGNED-PAYLOAD */
	lota_str session_token;  /* X-Amz-Security-Token, if any */
} lota_sigv4_auth;

/*
 * Parse the authorization a request claims. Returns 0 (form NONE for anonymous, OTHER for
 * schemes lota does not verify) or LOTA_E_SIGV4_MALFORMED / LOTA_E_SIGV4_ALGORITHM /
 * LOTA_E_SIGV4_DATE / LOTA_E_SIGV4_SCOPE (scope date differs from the request date, or
 * the scope's terminator is not aws4_request) / LOTA_E_SIGV4_HEADERS (host or, in the
 * header form, x-amz-date not signed; a signed header missing from the request). Limits:
 * LOTA_E_TOO_LARGE for more than LOTA_SIGV4_MAX_HEADERS header fields,
 * LOTA_E_SIGV4_MALFORMED for a signed-header list or credential over its limit (a region
 * or service over its limit is LOTA_E_SIGV4_SCOPE).
 */
LOTA_API int lota_sigv4_parse(const lota_sigv4_request *req, lota_sigv4_auth *out) LOTA_WUR;

/* Whether the claim's signed-header list names the header `name` (case-insensitive; the
 * query form's %3B separators are read as ';'). The one rule for "the client signed this
 * header": a verifier refusing unsigned x-amz-* headers and a re-signer signing only what
 * the client signed both ask it. false for NULL or an empty name. */
LOTA_API bool lota_sigv4_auth_signs(const lota_sigv4_auth *auth, lota_str name);

/*
 * Verify a parsed request with the secret of auth->access_key. now and max_skew_s check
 * the request time (header form: |now - time| <= max_skew_s, else LOTA_E_SIGV4_SKEW;
 * query form: time - max_skew_s <= now <= time + expires_s, else LOTA_E_SIGV4_EXPIRED,
 * or SKEW for a date in the future). The signature is recomputed over the signed headers
 * only and compared in constant time: 0 or LOTA_E_SIGV4_MISMATCH. LOTA_E_TOO_LARGE for a
 * query, normalized path or secret over its limit.
 */
LOTA_API int lota_sigv4_verify(const lota_sigv4_request *req, const lota_sigv4_auth *auth,
                               lota_str secret_key, int64_t now, int64_t max_skew_s,
                               unsigned flags) LOTA_WUR;

/* Debug/test helpers: the canonical request and string to sign that verify/sign use
 * (with the signed-header list given as "a;b;c"). Return the length written (out always
 * NUL-terminated) or a negative code; LOTA_E_TOO_LARGE when cap is too small. */
LOTA_API int lota_sigv4_canonical_request(const lota_sigv4_request *req, lota_str signed_headers,
                                          unsigned flags, bool query_form, char *out,
                                          size_t cap) LOTA_WUR;
LOTA_API int lota_sigv4_string_to_sign(lota_str amz_date, lota_str scope,
                                       const char *canonical_request, size_t len, char *out,
                                       size_t cap) LOTA_WUR;

/* "20150830T123600Z" for a time (out has LOTA_SIGV4_AMZ_DATE_LEN + 1 bytes). */
LOTA_API void lota_sigv4_format_amz_date(int64_t time, char *out);
/* Parse "20150830T123600Z" (or an RFC 1123 Date). 0 or LOTA_E_SIGV4_DATE. */
LOTA_API int lota_sigv4_parse_amz_date(const char *s, size_t len, int64_t *time) LOTA_WUR;

/* The signing key HMAC chain for (secret, yyyymmdd, region, service): 32 bytes. Cached
 * per thread; the cache holds only derived keys. */
LOTA_API int lota_sigv4_signing_key(lota_str secret_key, lota_str scope_date, lota_str region,
                                    lota_str service, uint8_t out[32]) LOTA_WUR;

/*
 * aws-chunked: the signature of one chunk, chained from the previous one (the seed is
 * the request's own signature):
 *   string to sign = "AWS4-HMAC-SHA256-PAYLOAD\n" amz_date "\n" scope "\n" prev_sig "\n"
 *                    hex(sha256("")) "\n" hex(sha256(chunk))
 * scope is "yyyymmdd/region/service/aws4_request". out gets 64 hex chars + NUL.
 */
LOTA_API int lota_sigv4_chunk_signature(const uint8_t signing_key[32], lota_str amz_date,
                                        lota_str scope, lota_str prev_signature,
                                        const uint8_t chunk_sha256[32], char *out) LOTA_WUR;

/* S3 URI encoding of bytes (encode_slash: '/' becomes %2F). Returns the length written
 * (NUL-terminated) or LOTA_E_TOO_LARGE. */
LOTA_API int lota_uri_encode(const char *in, size_t len, bool encode_slash, char *out,
                             size_t cap) LOTA_WUR;
/* Percent-decoding ('+' stays '+'). Returns the length or LOTA_E_HTTP_TARGET for a bad
 * escape. out may equal in. */
LOTA_API int lota_uri_decode(const char *in, size_t len, char *out, size_t cap) LOTA_WUR;

#ifdef __cplusplus
}
#endif
#endif
