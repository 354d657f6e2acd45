/*
 * auth.h - lotad's authentication of client requests (docs/architecture.md §4) and the upstream
 * request's credentials (§4.3).
 *
 * The credentials store holds the keys lotad knows (AWS shared-credentials file format,
 * one [section] per key with aws_access_key_id / aws_secret_access_key and an optional
 * aws_session_token), read by liblota's strict reader (lota_aws_credentials_foreach with
 * LOTA_AWSCONF_STRICT, whose rules and messages are lotad's). It is an immutable,
 * reference-counted snapshot: SIGHUP builds a new one and swaps it in atomically;
 * requests in flight keep the snapshot they started with.
 *
 * Decision for one request (lotad_auth_check):
 *   - no signature                          -> ANONYMOUS: forwarded anonymously
 *   - signed for the upstream's host name   -> FORWARD: bytes forwarded untouched (the
 *     (redirected traffic)                     upstream verifies); verified locally too
 *                                              when the key is known
 *   - signed for one of lotad's own names   -> known key: verified locally, then RESIGN
 *                                              for the upstream host with the same key;
 *                                              unknown key: refused InvalidAccessKeyId
 *   - a signature that fails verification   -> refused with the S3 error (no upstream I/O)
 *     (mismatch, skew, expiry, token, unsigned x-amz-* headers)
 *   - a claim lotad cannot judge (malformed -> RELAY: the upstream's own answer is the
 *     or unsupported SigV4 claim, presign      client's (lotad refuses locally only a
 *     parameters out of range, service not     signature that fails verification)
 *     s3, bad payload hash) and OPTIONS
 *     (CORS preflights are not signed)
 *
 * "Signed for the upstream" means Host equals cfg->upstream_host (host case-insensitive,
 * a missing port read as upstream_default_port) or is <bucket>.<upstream host>, or names
 * one of cfg->redirect_names the same way (a redirect name without a port matches any
 * port; a Host without one matches a redirect name's 80 or 443); any other
 * Host (lotad's names, an IP, localhost) is lotad's. A claim lota_sigv4_parse rejects is
 * forwarded when signed for the upstream and relayed otherwise (either way the upstream
 * gives its own verdict); another scheme (SigV2, SigV4A) is forwarded when signed for
 * the upstream and refused otherwise. The S3 errors lotad sends itself (code, status,
 * message as S3 sends them):
 *   unknown key                 403 InvalidAccessKeyId
 *   wrong signature             403 SignatureDoesNotMatch
 *   header time off by > skew   403 RequestTimeTooSkewed
 *   presigned URL expired       403 AccessDenied "Request has expired"
 *   presigned URL in the future 403 AccessDenied "Request is not yet valid"
 *   more query bytes or parameters than SigV4 signs (lota/sigv4.h limits)
 *                               400 InvalidRequest
 *   SigV2 / other scheme        400 InvalidRequest "The authorization mechanism you have
 *                               provided is not supported. Please use AWS4-HMAC-SHA256."
 *   token differs from the one stored with the key   403 InvalidToken
 *   an x-amz-* header present but not signed         403 AccessDenied "There were
 *                               headers present in the request which were not signed"
 *                               (x-amz-content-sha256 excepted, as S3 does)
 */
#ifndef LOTAD_AUTH_H
#define LOTAD_AUTH_H

#include <stdbool.h>
#include <stdint.h>

#include <lota/chunked.h>
#include <lota/http.h>
#include <lota/request.h>
#include <lota/sigv4.h>

#include "settings.h"

typedef struct lotad_creds lotad_creds;

/* Parse credentials from memory (buf[0..len), no NUL needed); name is used in messages
 * ("name:line: reason"). Same rules and messages as lotad_creds_load: those of
 * lota_aws_credentials_foreach under LOTA_AWSCONF_STRICT. */
lotad_creds *lotad_creds_parse(const char *buf, size_t len, const char *name, char *err,
                               size_t err_cap);

/* Load a credentials file. NULL on error with a precise message in err (path, line and
 * reason: duplicate key id, missing secret, ...); a file group or others may read is
 * loaded with a warning in the log. An empty path gives an empty store. */
lotad_creds *lotad_creds_load(const char *path, char *err, size_t err_cap);
void lotad_creds_ref(lotad_creds *c);
void lotad_creds_unref(lotad_creds *c); /* wipes secrets on the last unref; NULL ok */
size_t lotad_creds_count(const lotad_creds *c);
/* The secret of an access key (a view into the snapshot, valid while it is referenced);
 * false when unknown. */
bool lotad_creds_lookup(const lotad_creds *c, lota_str access_key, lota_str *secret,
                        lota_str *session_token);

/* The key of the profile called `profile` (its [section] name), as views into the
 * snapshot; false when the snapshot has no such profile. */
bool lotad_creds_lookup_profile(const lotad_creds *c, const char *profile, lota_str *access_key,
                                lota_str *secret, lota_str *session_token);

/* The process-wide current snapshot: get returns a new reference (unref when done). */
lotad_creds *lotad_creds_current(void);
void lotad_creds_set_current(lotad_creds *c); /* takes a reference */

typedef enum lotad_auth_mode {
	LOTAD_AUTH_ANONYMOUS = 0,
	LOTAD_AUTH_FORWARD = 1, /* send the client's request head as is (Host included) */
	LOTAD_AUTH_RESIGN = 2,  /* replace auth headers/params with lotad's own signature */
	LOTAD_AUTH_REFUSED = 3, /* answer the client with the error below */
	/* A claim lotad cannot verify for a reason other than a failed signature (a
	 * malformed or unsupported SigV4 claim, presign parameters out of lotad's range, a
	 * CORS preflight): sent to the upstream as the client sent it, like FORWARD (nothing
	 * re-signed, the client's own Host), so the client gets the upstream's own verdict
	 * on exactly what it signed. Never cached. */
	LOTAD_AUTH_RELAY = 4,
} lotad_auth_mode;

typedef struct lotad_auth_result {
	lotad_auth_mode mode;
	/* REFUSED: the S3 error to send */
	int http_status;     /* 400, 403 */
	const char *s3_code; /* "SignatureDoesNotMatch", "InvalidAccessKeyId", ... */
	const char *message; /* S3's message text */
	/* parsed claim (views into the request) */
	lota_sigv4_auth claim;
	/* RESIGN, and FORWARD when the key is known and the signature verified: the key
	 * (views into creds, which this result references) */
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
 * For RESIGN: the upstream request, described as data (lota/request.h) and signed with
 * the client's key, for the upstream host. The caller starts req with
 * lota_request_reset (the method, and the upstream path and query as they will be sent:
 * path-style, percent-encoded, the client's own X-Amz-* presign parameters removed), then
 * adds its fields:
 *   the client's, with lotad_auth_request_add_client: each is signed only when the client
 *     signed it (it is in r->claim.signed_headers); the others go to the upstream
 *     unsigned (LOTA_REQUEST_UNSIGNED). lotad never signs, with the client's key, a
 *     header the client did not sign. Never signed: hop-by-hop headers and ones proxies
 *     rewrite (Connection, Keep-Alive, Proxy-*, TE, Trailer, Transfer-Encoding, Upgrade,
 *     Expect, User-Agent, X-Amzn-Trace-Id). Not added at all: Host, Authorization,
 *     X-Amz-Date, X-Amz-Security-Token and X-Amz-Content-Sha256, which the signature
 *     writes. Returns 0 or the errors of lota_request_header_add.
 *   lotad's own (a fill's Range and If-Match), with lota_request_header_add(req, name,
 *     value, 0): signed.
 * and signs it with lotad_auth_request_sign, which writes Host (cfg->upstream_host),
 * X-Amz-Date (now), X-Amz-Content-Sha256, [X-Amz-Security-Token] and Authorization
 * (lota_sigv4_sign_request). payload_hash: the payload hash the client signed (header
 * form: its x-amz-content-sha256; presigned: an X-Amz-Content-Sha256 pin, or
 * UNSIGNED-PAYLOAD). It is kept, so the upstream checks the body against what the client
 * pinned. Empty: the form's default (UNSIGNED-PAYLOAD for a presigned client, the empty
 * body's hash otherwise). signature_out (65 bytes, may be NULL) gets the new request's
 * hex signature: the seed of a re-signed aws-chunked body (a STREAMING-* payload_hash
 * makes the body's chunk signatures invalid: re-sign them with lotad_auth_chunk_resigner,
 * below). Returns 0, -EINVAL (r holds no key, or no upstream host), or the errors of
 * lota_sigv4_sign_request (e.g. LOTA_E_HTTP_TOO_MANY_HEADERS when the fields it adds do
 * not fit); on failure req is not to be sent.
 */
int lotad_auth_request_add_client(const lotad_auth_result *r, lota_request *req, lota_str name,
                                  lota_str value) LOTA_WUR;
int lotad_auth_request_sign(const lotad_auth_result *r, const lotad_auth_config *cfg,
                            lota_request *req, lota_str payload_hash, int64_t now,
                            char *signature_out) LOTA_WUR;

/* Whether the client signed the header called name (it is in r->claim.signed_headers). */
bool lotad_auth_client_signed(const lotad_auth_result *r, lota_str name);

/* Internal, exposed for tests: whether headers carry an x-amz-* header that the
 * SignedHeaders list does not name (x-amz-content-sha256 excepted: its value is the
 * canonical request's payload line, covered either way). *which gets the first such
 * name. */
bool lotad_auth__unsigned_amz_header(const lota_http_header *headers, size_t num_headers,
                                     lota_str signed_headers, lota_str *which);

/* Internal, exposed for tests: whether a Host value names the upstream (host:port
 * compared case-insensitively, a missing port being upstream_default_port, or
 * <bucket>.<upstream host>) or one of its redirect names (see above). */
bool lotad_auth__host_is_upstream(const lotad_auth_config *cfg, lota_str host);

/* Whether a Host value names the endpoint endpoint_hostport (host[:port], a missing port
 * being default_port, 0 = 443) or <bucket>.<its host>, as for the upstream above: the
 * router sends a request the client signed for another region's endpoint there. */
bool lotad_auth_host_is(const char *endpoint_hostport, int default_port, lota_str host);

/* The query string with the client's presign parameters (X-Amz-Algorithm, -Credential,
 * -Date, -Expires, -SignedHeaders, -Signature, -Security-Token; names compared
 * case-insensitively) removed, and empty parameters dropped. Returns the length of the
 * whole result, snprintf style: a value >= cap means out (always NUL-terminated when
 * cap > 0) was truncated. */
size_t lotad_auth_strip_presign(lota_str query, char *out, size_t cap);

/*
 * aws-chunked re-signing (STREAMING-AWS4-HMAC-SHA256-PAYLOAD bodies). When lotad
 * re-signs a streaming upload, the upstream chains every chunk signature from lotad's
 * new seed signature, so each chunk must be re-signed: liblota's re-signer
 * (lota/chunked.h) verifies each of the client's chunk signatures (chained from the
 * client's seed) and writes the same bytes with each chunk-signature replaced by the
 * upstream chain's. Feed it with lota_chunk_resigner_feed; a LOTA_E_SIGV4_MISMATCH is
 * answered 403 SignatureDoesNotMatch. The trailer variants (STREAMING-*-TRAILER) are not
 * supported.
 *
 * The re-signer for a RESIGN result: the client's side from r->claim and r->secret_key,
 * the upstream's from cfg->region, the time the upstream request was signed at and the
 * signature it got (its seed). max_chunk_bytes 0 means LOTA_CHUNK_DEFAULT_MAX. NULL on a
 * bad argument (no key, a seed that is not 64 lowercase hex digits) or out of memory.
 */
lota_chunk_resigner *lotad_auth_chunk_resigner(const lotad_auth_result *r,
                                               const lotad_auth_config *cfg, int64_t resign_time,
                                               const char *upstream_seed_signature,
                                               size_t max_chunk_bytes);

#endif
