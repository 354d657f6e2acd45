/*
 * auth.h - lotad's authentication of client requests (DESIGN §2.1) and the upstream
 * request's credentials (§2.3).
 *
 * The credentials store holds the keys lotad knows (AWS shared-credentials file format,
 * one [section] per key with aws_access_key_id / aws_secret_access_key and an optional
 * aws_session_token). It is an immutable, reference-counted snapshot: SIGHUP builds a new
 * one and swaps it in atomically; requests in flight keep the snapshot they started with.
 *
 * Decision for one request (lotad_auth_check):
 *   - no signature                          -> ANONYMOUS: forwarded anonymously
 *   - signed for the upstream's host name   -> FORWARD: bytes forwarded untouched (the
 *     (redirected traffic)                     upstream verifies); verified locally too
 *                                              when the key is known
 *   - signed for one of lotad's own names   -> known key: verified locally, then RESIGN
 *                                              for the upstream host with the same key;
 *                                              unknown key: refused InvalidAccessKeyId
 *   - any local verification failure        -> refused with the S3 error (no upstream I/O)
 */
#ifndef LOTAD_AUTH_H
#define LOTAD_AUTH_H

#include <stdbool.h>
#include <stdint.h>

#include <lota/http.h>
#include <lota/sigv4.h>

typedef struct lotad_creds lotad_creds;

/* Load a credentials file. NULL on error with a precise message in err (path, line and
 * reason: duplicate key id, missing secret, unknown key, ...). An empty path gives an
 * empty store. */
lotad_creds *lotad_creds_load(const char *path, char *err, size_t err_cap);
void lotad_creds_ref(lotad_creds *c);
void lotad_creds_unref(lotad_creds *c); /* wipes secrets on the last unref; NULL ok */
size_t lotad_creds_count(const lotad_creds *c);
/* The secret of an access key (a view into the snapshot, valid while it is referenced);
 * false when unknown. */
bool lotad_creds_lookup(const lotad_creds *c, lota_str access_key, lota_str *secret,
                        lota_str *session_token);

/* The process-wide current snapshot: get returns a new reference (unref when done). */
lotad_creds *lotad_creds_current(void);
void lotad_creds_set_current(lotad_creds *c); /* takes a reference */

typedef enum lotad_auth_mode {
	LOTAD_AUTH_ANONYMOUS = 0,
	LOTAD_AUTH_FORWARD = 1, /* send the client's request head as is (Host included) */
	LOTAD_AUTH_RESIGN = 2,  /* replace auth headers/params with lotad's own signature */
	LOTAD_AUTH_REFUSED = 3, /* answer the client with the error below */
} lotad_auth_mode;

typedef struct lotad_auth_config {
	const char *const *endpoint_names; /* lotad's own names (virtual-host suffixes) */
	size_t num_endpoint_names;
	const char *upstream_host; /* host[:port] of the upstream as in its URL */
	const char *region;        /* region to sign for the upstream ("us-east-1") */
	int64_t max_skew_s;        /* default 900 */
} lotad_auth_config;

typedef struct lotad_auth_result {
	lotad_auth_mode mode;
	/* REFUSED: the S3 error to send */
	int http_status;     /* 400, 403 */
	const char *s3_code; /* "SignatureDoesNotMatch", "InvalidAccessKeyId", ... */
	const char *message; /* S3's message text */
	/* parsed claim (views into the request) */
	lota_sigv4_auth claim;
	/* RESIGN: the key to sign with (views into creds, which this result references) */
	lota_str access_key, secret_key, session_token;
	lotad_creds *creds; /* reference held for RESIGN; release with _cleanup */
} lotad_auth_result;

/*
 * Decide and, where lotad knows the key, verify. req is the parsed client request;
 * virtual-hosted requests are judged on the Host the client signed. now is the current
 * time (seconds). Always fills *out; returns 0, or a negative code only for internal
 * failures (out->mode is then REFUSED with a 500 InternalError).
 */
int lotad_auth_check(const lotad_auth_config *cfg, const lota_http_request *req, int64_t now,
                     lotad_auth_result *out);
void lotad_auth_result_cleanup(lotad_auth_result *r);

/*
 * For RESIGN: produce the upstream request's authentication. Input: the method, the
 * upstream path and query as they will be sent (path-style, percent-encoded, the
 * client's own X-Amz-* presign parameters already removed), and the headers that will be
 * sent (without Host/Authorization/X-Amz-Date/X-Amz-Security-Token, which this adds).
 * presigned: the client used a presigned URL; lotad then signs the header form with
 * UNSIGNED-PAYLOAD (a presigned GET has no body). payload_hash: the client's
 * x-amz-content-sha256 (kept: the upstream checks the body against it).
 * Writes Host, X-Amz-Date, X-Amz-Content-Sha256, [X-Amz-Security-Token], Authorization
 * lines ("Name: value\r\n" each) into out. Returns the length or a negative code.
 */
int lotad_auth_resign(const lotad_auth_result *r, const lotad_auth_config *cfg, lota_str method,
                      lota_str path, lota_str query, const lota_http_header *headers,
                      size_t num_headers, lota_str payload_hash, int64_t now, char *out,
                      size_t cap);

/* The query string with the client's presign parameters (X-Amz-Algorithm, -Credential,
 * -Date, -Expires, -SignedHeaders, -Signature, -Security-Token) removed. Returns length. */
size_t lotad_auth_strip_presign(lota_str query, char *out, size_t cap);

#endif
