/*
 * auth.c - lotad's credentials store and the authentication decision for client
 * requests (docs/architecture.md §4), plus the upstream request's own signature (§4.3).
 *
 * Credentials store: an immutable snapshot of an AWS shared-credentials file as
 * liblota's strict reader gives it (lota/awsconf.h), entries sorted by access key id
 * (binary search), each string in its own allocation so every secret can be wiped on the
 * last unref. The process-wide current snapshot is a
 * pointer guarded by a mutex: taking a reference and swapping are both done under it, so
 * a reader can never reference a snapshot whose count already reached zero (a bare
 * atomic pointer load followed by an increment would race with the final unref).
 *
 * Decision: the Host the client signed tells whom it signed for. Signed for the
 * upstream (exact host:port, or a virtual-hosted bucket.<upstream>) -> the bytes are
 * forwarded as they are, after a local verification when the key is known. Signed for
 * anything else (lotad's own names, an IP, localhost) -> the signature can only be
 * checked here, so an unknown key is refused, a known key is verified and the request
 * re-signed for the upstream with the same key. Every refusal carries the S3 error
 * code, status and message S3 itself would send.
 *
 * Secrets never reach a log line; comparisons of secrets (session tokens, chunk
 * signatures) are constant time.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <lota/awsconf.h>
#include <lota/log.h>

#include "crypto-internal.h"
#include "s3/auth.h"
#include "util/hostport.h"
#include "util/names.h"

#define TOKEN_MAX LOTA_AWSCONF_TOKEN_MAX

typedef struct cred {
	char *ak, *sk, *tok;
	size_t ak_len, sk_len, tok_len;
	char *section; /* the profile's name (fill_credentials names one) */
} cred;

struct lotad_creds {
	atomic_int refs;
	size_t n;
	cred *v; /* sorted by access key id */
};

/* ---------------------------------------------------------------- store */

static void cred_wipe(cred *c)
{
	if (c->sk) {
		lota__wipe(c->sk, c->sk_len);
		free(c->sk);
	}
	if (c->tok) {
		lota__wipe(c->tok, c->tok_len);
		free(c->tok);
	}
	free(c->ak);
	free(c->section);
	memset(c, 0, sizeof(*c));
}

static void creds_free(lotad_creds *c)
{
	for (size_t i = 0; i < c->n; i++)
		cred_wipe(&c->v[i]);
	free(c->v);
	free(c);
}

void lotad_creds_ref(lotad_creds *c)
{
	if (c)
		atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
}

void lotad_creds_unref(lotad_creds *c)
{
	if (c && atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) == 1)
		creds_free(c);
}

size_t lotad_creds_count(const lotad_creds *c)
{
	return c ? c->n : 0;
}

static int keycmp(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t n = alen < blen ? alen : blen;
	int r = memcmp(a, b, n);
	if (r != 0)
		return r;
	return alen < blen ? -1 : alen > blen ? 1 : 0;
}

bool lotad_creds_lookup(const lotad_creds *c, lota_str access_key, lota_str *secret,
                        lota_str *session_token)
{
	if (!c || access_key.len == 0)
		return false;
	size_t lo = 0, hi = c->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const cred *e = &c->v[mid];
		int r = keycmp(access_key.ptr, access_key.len, e->ak, e->ak_len);
		if (r == 0) {
			if (secret)
				*secret = (lota_str){e->sk, e->sk_len};
			if (session_token)
				*session_token = (lota_str){e->tok, e->tok_len};
			return true;
		}
		if (r < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return false;
}

bool lotad_creds_lookup_profile(const lotad_creds *c, const char *profile, lota_str *access_key,
                                lota_str *secret, lota_str *session_token)
{
	if (!c || !profile)
		return false;
	for (size_t i = 0; i < c->n; i++) {
		const cred *e = &c->v[i];
		if (!e->section || strcmp(e->section, profile) != 0)
			continue;
		*access_key = (lota_str){e->ak, e->ak_len};
		*secret = (lota_str){e->sk, e->sk_len};
		*session_token = (lota_str){e->tok, e->tok_len};
		return true;
	}
	return false;
}

static pthread_mutex_t current_lock = PTHREAD_MUTEX_INITIALIZER;
static lotad_creds *current;

lotad_creds *lotad_creds_current(void)
{
	pthread_mutex_lock(&current_lock);
	lotad_creds *c = current;
	lotad_creds_ref(c);
	pthread_mutex_unlock(&current_lock);
	return c;
}

void lotad_creds_set_current(lotad_creds *c)
{
	lotad_creds_ref(c);
	pthread_mutex_lock(&current_lock);
	lotad_creds *old = current;
	current = c;
	pthread_mutex_unlock(&current_lock);
	lotad_creds_unref(old);
}

/* ---------------------------------------------------------------- loading */

/* The file is read and checked by liblota's strict credentials reader (lota/awsconf.h,
 * LOTA_AWSCONF_STRICT: lotad's rules and messages): every section a non-empty key id
 * and secret, no key id twice, nothing but visible ASCII. It calls back only once the
 * whole file is valid; this keeps a copy of each entry. */
typedef struct build {
	cred *v;
	size_t n, alloc;
} build;

static char *dup_str(lota_str s)
{
	char *d = malloc(s.len + 1);
	if (d) {
		if (s.len)
			memcpy(d, s.ptr, s.len);
		d[s.len] = '\0';
	}
	return d;
}

static int build_add(void *ud, const lota_aws_credentials_entry *e)
{
	build *b = ud;
	if (b->n == b->alloc) {
		size_t na = b->alloc ? b->alloc * 2 : 8;
		cred *nv = realloc(b->v, na * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		b->v = nv;
		b->alloc = na;
	}
	cred *c = &b->v[b->n++]; /* counted before the copies, so the cleanup frees them */
	*c = (cred){.ak = dup_str(e->access_key_id),
	            .sk = dup_str(e->secret_access_key),
	            .ak_len = e->access_key_id.len,
	            .sk_len = e->secret_access_key.len,
	            .section = dup_str(e->section)};
	if (e->session_token.len) {
		c->tok = dup_str(e->session_token);
		c->tok_len = e->session_token.len;
	}
	return c->ak && c->sk && c->section && (c->tok || !c->tok_len) ? 0 : -ENOMEM;
}

static int cmp_ak(const void *a, const void *b)
{
	const cred *x = a, *y = b;
	return keycmp(x->ak, x->ak_len, y->ak, y->ak_len);
}

/* The snapshot of what the reader returned (rc), sorted for lookups; NULL on failure. */
static lotad_creds *build_finish(build *b, int rc, char *err, size_t err_cap)
{
	lotad_creds *out = NULL;
	if (rc == 0 && !(out = calloc(1, sizeof(*out)))) {
		rc = -ENOMEM;
		snprintf(err, err_cap, "credentials: out of memory");
	}
	if (rc == 0) {
		/* no key id repeats (the reader refuses that), so the order is total */
		if (b->n > 1)
			qsort(b->v, b->n, sizeof(*b->v), cmp_ak);
		atomic_init(&out->refs, 1);
		out->n = b->n;
		out->v = b->v;
		return out;
	}
	for (size_t i = 0; i < b->n; i++)
		cred_wipe(&b->v[i]);
	free(b->v);
	return NULL;
}

lotad_creds *lotad_creds_parse(const char *buf, size_t len, const char *name, char *err,
                               size_t err_cap)
{
	build b = {0};
	int rc = lota_aws_credentials_foreach(buf, len, name ? name : "credentials",
	                                      LOTA_AWSCONF_STRICT, build_add, &b, err, err_cap);
	return build_finish(&b, rc, err, err_cap);
}

lotad_creds *lotad_creds_load(const char *path, char *err, size_t err_cap)
{
	if (err && err_cap)
		err[0] = '\0';
	if (!path || !path[0])
		return lotad_creds_parse("", 0, "credentials", err, err_cap);
	build b = {0};
	int rc = lota_aws_credentials_foreach_file(
	    path, LOTA_AWSCONF_STRICT | LOTA_AWSCONF_WARN_MODE, build_add, &b, err, err_cap);
	return build_finish(&b, rc, err, err_cap);
}

/* ---------------------------------------------------------------- decision */

/* S3's own wording for each refusal. */
#define MSG_SIG_MISMATCH                                                                  \
	"The request signature we calculated does not match the signature you provided. " \
	"Check your key and signing method."
#define MSG_UNKNOWN_KEY "The AWS Access Key Id you provided does not exist in our records."
#define MSG_SKEW        "The difference between the request time and the current time is too large."
#define MSG_EXPIRED     "Request has expired"
#define MSG_NOT_YET     "Request is not yet valid"
#define MSG_V2                                                                        \
	"The authorization mechanism you have provided is not supported. Please use " \
	"AWS4-HMAC-SHA256."
#define MSG_TOKEN      "The provided token is malformed or otherwise invalid."
#define MSG_NOT_SIGNED "There were headers present in the request which were not signed"
#define MSG_INTERNAL   "We encountered an internal error. Please try again."
#define MSG_TOO_LARGE                                                                  \
	"The request has more headers, query parameters or signed bytes than a SigV4 " \
	"signature covers."

static void refuse(lotad_auth_result *r, int status, const char *code, const char *msg)
{
	r->mode = LOTAD_AUTH_REFUSED;
	r->http_status = status;
	r->s3_code = code;
	r->message = msg;
}

/* The refusal for a failed verification (code from lota_sigv4_verify); 1 when the code
 * is not one (the claim is relayed for the upstream's verdict instead). */
static int refuse_code(lotad_auth_result *r, int rc, bool query_form)
{
	switch (rc) {
	case LOTA_E_TOO_LARGE:
		refuse(r, 400, "InvalidRequest", MSG_TOO_LARGE);
		return 0;
	case LOTA_E_SIGV4_MISMATCH:
		refuse(r, 403, "SignatureDoesNotMatch", MSG_SIG_MISMATCH);
		return 0;
	case LOTA_E_SIGV4_SKEW:
		if (query_form)
			refuse(r, 403, "AccessDenied", MSG_NOT_YET);
		else
			refuse(r, 403, "RequestTimeTooSkewed", MSG_SKEW);
		return 0;
	case LOTA_E_SIGV4_EXPIRED:
		refuse(r, 403, "AccessDenied", MSG_EXPIRED);
		return 0;
	case LOTA_E_SIGV4_UNKNOWN_KEY:
		refuse(r, 403, "InvalidAccessKeyId", MSG_UNKNOWN_KEY);
		return 0;
	default:
		if (rc <= LOTA_E_SIGV4_MALFORMED && rc >= LOTA_E_SIGV4_HEADERS)
			return 1;
		refuse(r, 500, "InternalError", MSG_INTERNAL);
		return 0;
	}
}

static bool eq_nocase(const char *a, size_t alen, const char *b, size_t blen)
{
	return alen == blen && strncasecmp(a, b, alen) == 0;
}

static const lota_http_header *find_hdr(const lota_http_header *h, size_t n, const char *name)
{
	size_t nl = strlen(name);
	for (size_t i = 0; i < n; i++) {
		if (eq_nocase(h[i].name.ptr, h[i].name.len, name, nl))
			return &h[i];
	}
	return NULL;
}

/* Split "host[:port]" (util/hostport.h); port = -1 when absent, -2 for anything
 * malformed (matches nothing). A trailing dot names the same host: it is dropped. */
static lota_str split_host(lota_str hp, long *port)
{
	lota_str h;
	if (lotad_hostport_split(hp, &h, port) < 0)
		*port = -2;
	if (h.len > 1 && h.ptr[h.len - 1] == '.')
		h.len--;
	return h;
}

/* Whether the client's Host (cl, cl_port) names the endpoint name[:port]: the same host
 * (case-insensitive) or <bucket>.host, on the same port. A missing port on the client's
 * side is dport (the upstream's scheme default); on a redirect name's side (any_port) it
 * matches every port, and a client without one matches a name's 80 or 443, the ports a
 * Host header leaves out. */
static bool host_names(lota_str name, long dport, bool any_port, lota_str cl, long cl_port)
{
	long up_port;
	lota_str up = split_host(name, &up_port);
	if (up_port == -2)
		return false;
	if (up_port >= 0 || !any_port) {
		long want = up_port < 0 ? dport : up_port;
		bool ok = cl_port < 0 ? (want == dport || (any_port && (want == 80 || want == 443)))
		                      : cl_port == want;
		if (!ok)
			return false;
	}
	if (eq_nocase(up.ptr, up.len, cl.ptr, cl.len))
		return true;
	/* virtual-hosted: <bucket>.<upstream host>, bucket not empty */
	if (up.len == 0 || up.ptr[0] == '[' || cl.len < up.len + 2)
		return false;
	size_t off = cl.len - up.len;
	return cl.ptr[off - 1] == '.' && eq_nocase(cl.ptr + off, up.len, up.ptr, up.len);
}

bool lotad_auth__host_is_upstream(const lotad_auth_config *cfg, lota_str host)
{
	if (!cfg->upstream_host || host.len == 0)
		return false;
	long dport = cfg->upstream_default_port > 0 ? cfg->upstream_default_port : 443;
	long cl_port;
	lota_str cl = split_host(host, &cl_port);
	if (cl_port == -2)
		return false;
	if (host_names((lota_str){cfg->upstream_host, strlen(cfg->upstream_host)}, dport, false, cl,
	               cl_port))
		return true;
	/* the other names of the upstream whose traffic is redirected here (redirect) */
	for (size_t i = 0; i < cfg->num_redirect_names; i++) {
		const char *r = cfg->redirect_names[i];
		if (r && host_names((lota_str){r, strlen(r)}, dport, true, cl, cl_port))
			return true;
	}
	return false;
}

bool lotad_auth_host_is(const char *endpoint_hostport, int default_port, lota_str host)
{
	if (!endpoint_hostport || host.len == 0)
		return false;
	long dport = default_port > 0 ? default_port : 443;
	long cl_port;
	lota_str cl = split_host(host, &cl_port);
	return cl_port != -2 && host_names((lota_str){endpoint_hostport, strlen(endpoint_hostport)},
	                                   dport, false, cl, cl_port);
}

static bool is_hex64(lota_str s)
{
	if (s.len != 64)
		return false;
	for (size_t i = 0; i < 64; i++) {
		char c = s.ptr[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
			return false;
	}
	return true;
}

static bool lstr_is(lota_str s, const char *lit)
{
	size_t n = strlen(lit);
	return s.len == n && memcmp(s.ptr, lit, n) == 0;
}

/* Checks S3 makes before the signature, then the signature itself. 0 verified, -1
 * refused (r says why), 1 a claim lotad cannot judge: relayed for the upstream's verdict
 * (a service other than s3, presign parameters out of range, a missing or malformed
 * payload hash: the upstream answers those itself). */
static int verify_local(const lotad_auth_config *cfg, const lota_sigv4_request *sr,
                        lotad_auth_result *r, lota_str secret, lota_str stored_token, int64_t now)
{
	const lota_sigv4_auth *a = &r->claim;
	bool q = a->form == LOTA_SIGV4_FORM_QUERY;
	if (!lstr_is(a->service, "s3"))
		return 1;
	if (q) {
		if (a->expires_s < 0 || a->expires_s > 604800)
			return 1;
	} else {
		lota_str ph = a->payload_hash;
		if (ph.len == 0) {
			const lota_http_header *h =
			    find_hdr(sr->headers, sr->num_headers, "x-amz-content-sha256");
			if (h)
				ph = h->value;
		}
		if (ph.len == 0)
			return 1;
		if (!is_hex64(ph) && !lstr_is(ph, LOTA_SIGV4_UNSIGNED_PAYLOAD) &&
		    !lstr_is(ph, LOTA_SIGV4_STREAMING_PAYLOAD) &&
		    !lstr_is(ph, LOTA_SIGV4_STREAMING_PAYLOAD_TRAILER) &&
		    !lstr_is(ph, LOTA_SIGV4_STREAMING_UNSIGNED_TRAILER))
			return 1;
	}
	/* A key stored with a session token is a temporary credential: the request must
	 * carry that very token (it is also covered by the signature). */
	if (stored_token.len > 0) {
		/* the query form carries it percent-encoded */
		char tok[TOKEN_MAX];
		lota_str sent = a->session_token;
		if (q && sent.len <= 3 * TOKEN_MAX) {
			int dl = lota_uri_decode(sent.ptr, sent.len, tok, sizeof(tok));
			sent = dl < 0 ? (lota_str){NULL, 0} : (lota_str){tok, (size_t)dl};
		}
		bool same = sent.len == stored_token.len &&
		            lota__ct_equal(sent.ptr, stored_token.ptr, stored_token.len);
		lota__wipe(tok, sizeof(tok));
		if (!same) {
			refuse(r, 403, "InvalidToken", MSG_TOKEN);
			return -1;
		}
	}
	int64_t skew = cfg->max_skew_s > 0 ? cfg->max_skew_s : 900;
	int rc = lota_sigv4_verify(sr, a, secret, now, skew, 0);
	if (rc < 0)
		return refuse_code(r, rc, q) ? 1 : -1;
	/* S3 refuses an x-amz-* header the signature does not cover: such a header can
	 * change what the request does (x-amz-copy-source, x-amz-acl, ...), so a signed
	 * request, or a presigned URL, must not gain one on the way. */
	lota_str which;
	if (lotad_auth__unsigned_amz_header(sr->headers, sr->num_headers, a->signed_headers,
	                                    &which)) {
		lota_log_info("auth: refused: header %.*s is present but not signed",
		              (int)(which.len > 64 ? 64 : which.len), which.ptr);
		refuse(r, 403, "AccessDenied", MSG_NOT_SIGNED);
		return -1;
	}
	return 0;
}

int lotad_auth_check(const lotad_auth_config *cfg, const lota_http_request *req, int64_t now,
                     lotad_auth_result *out)
{
	memset(out, 0, sizeof(*out));
	lota_sigv4_request sr = {
	    .method = req->method,
	    .path = req->path,
	    .query = req->query,
	    .headers = req->headers,
	    .num_headers = req->num_headers,
	};
	bool to_upstream = lotad_auth__host_is_upstream(cfg, req->host);
	/* A CORS preflight is not a signed request, whatever its URL carries: the upstream
	 * answers it. */
	if (eq_nocase(req->method.ptr, req->method.len, "OPTIONS", 7)) {
		out->mode = to_upstream ? LOTAD_AUTH_FORWARD : LOTAD_AUTH_RELAY;
		return 0;
	}
	int rc = lota_sigv4_parse(&sr, &out->claim);
	if (rc < 0) {
		/* a claim lotad cannot parse: the upstream gives its own verdict on it */
		memset(&out->claim, 0, sizeof(out->claim));
		out->mode = to_upstream ? LOTAD_AUTH_FORWARD : LOTAD_AUTH_RELAY;
		return 0;
	}
	switch (out->claim.form) {
	case LOTA_SIGV4_FORM_NONE:
		out->mode = LOTAD_AUTH_ANONYMOUS;
		return 0;
	case LOTA_SIGV4_FORM_OTHER:
		if (to_upstream)
			out->mode = LOTAD_AUTH_FORWARD;
		else
			refuse(out, 400, "InvalidRequest", MSG_V2);
		return 0;
	case LOTA_SIGV4_FORM_HEADER:
	case LOTA_SIGV4_FORM_QUERY:
		break;
	default:
		refuse(out, 500, "InternalError", MSG_INTERNAL);
		return LOTA_E_INTERNAL;
	}
	lotad_creds *creds = lotad_creds_current();
	lota_str secret, token;
	if (!lotad_creds_lookup(creds, out->claim.access_key, &secret, &token)) {
		lotad_creds_unref(creds);
		if (to_upstream)
			out->mode = LOTAD_AUTH_FORWARD;
		else
			refuse(out, 403, "InvalidAccessKeyId", MSG_UNKNOWN_KEY);
		return 0;
	}
	int v = verify_local(cfg, &sr, out, secret, token, now);
	if (v != 0) {
		lotad_creds_unref(creds);
		if (v > 0) {
			out->mode = to_upstream ? LOTAD_AUTH_FORWARD : LOTAD_AUTH_RELAY;
			return 0;
		}
		return out->http_status >= 500 ? LOTA_E_INTERNAL : 0;
	}
	out->mode = to_upstream ? LOTAD_AUTH_FORWARD : LOTAD_AUTH_RESIGN;
	out->access_key = out->claim.access_key;
	out->secret_key = secret;
	out->session_token = token;
	out->creds = creds; /* the reference taken above */
	return 0;
}

void lotad_auth_result_cleanup(lotad_auth_result *r)
{
	if (!r)
		return;
	lotad_creds_unref(r->creds);
	r->creds = NULL;
	r->secret_key = r->session_token = (lota_str){NULL, 0};
}

/* ---------------------------------------------------------------- upstream signature */

/* Headers the upstream request's signature writes itself: a client's are not carried
 * over (its Authorization, date, token and payload hash belong to its own signature). */
static bool written_by_signature(lota_str name)
{
	static const char *const own[] = {
	    "host", "authorization", "x-amz-date", "x-amz-security-token", "x-amz-content-sha256",
	};
	for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++)
		if (eq_nocase(name.ptr, name.len, own[i], strlen(own[i])))
			return true;
	return false;
}

/* Headers lotad never signs: hop-by-hop ones (they may legitimately change per hop) and
 * ones proxies rewrite. */
static bool never_signed(lota_str name)
{
	static const char *const skip[] = {"expect", "user-agent", "x-amzn-trace-id"};
	if (lotad_hop_by_hop(name))
		return true;
	for (size_t i = 0; i < sizeof(skip) / sizeof(skip[0]); i++)
		if (eq_nocase(name.ptr, name.len, skip[i], strlen(skip[i])))
			return true;
	return false;
}

bool lotad_auth_client_signed(const lotad_auth_result *r, lota_str name)
{
	return r && lota_sigv4_auth_signs(&r->claim, name);
}

static bool is_amz_header(lota_str name)
{
	return name.len >= 6 && strncasecmp(name.ptr, "x-amz-", 6) == 0;
}

bool lotad_auth__unsigned_amz_header(const lota_http_header *headers, size_t num_headers,
                                     lota_str signed_headers, lota_str *which)
{
	lota_sigv4_auth claim = {.signed_headers = signed_headers};
	for (size_t i = 0; i < num_headers; i++) {
		lota_str nm = headers[i].name;
		if (!is_amz_header(nm))
			continue;
		/* its value is the payload line of the canonical request, so it is covered by
		 * the signature whether or not it is listed (S3 accepts it unlisted) */
		if (eq_nocase(nm.ptr, nm.len, "x-amz-content-sha256", 20))
			continue;
		if (!lota_sigv4_auth_signs(&claim, nm)) {
			if (which)
				*which = nm;
			return true;
		}
	}
	return false;
}

int lotad_auth_request_add_client(const lotad_auth_result *r, lota_request *req, lota_str name,
                                  lota_str value)
{
	if (!r || !req)
		return -EINVAL;
	if (written_by_signature(name))
		return 0;
	/* The client's headers are signed only where the client signed them: lotad never
	 * vouches, with the client's key, for a header the client did not vouch for. */
	unsigned flags =
	    never_signed(name) || !lotad_auth_client_signed(r, name) ? LOTA_REQUEST_UNSIGNED : 0;
	int rc = lota_request_header_add(req, name, value, flags);
	return rc < 0 ? rc : 0;
}

int lotad_auth_request_sign(const lotad_auth_result *r, const lotad_auth_config *cfg,
                            lota_request *req, lota_str payload_hash, int64_t now,
                            char *signature_out)
{
	if (signature_out)
		signature_out[0] = '\0';
	if (!r || !cfg || !req || r->secret_key.len == 0 || r->access_key.len == 0 ||
	    !cfg->upstream_host)
		return -EINVAL;
	bool presigned = r->claim.form == LOTA_SIGV4_FORM_QUERY;
	/* The payload hash the client signed is kept: a presigned URL pinned to a body
	 * (X-Amz-Content-Sha256) stays pinned, and the upstream checks the body against it.
	 * Only an unpinned request gets the form's default. */
	if (payload_hash.len == 0)
		payload_hash = presigned ? LOTA_STR_LIT(LOTA_SIGV4_UNSIGNED_PAYLOAD)
		                         : LOTA_STR_LIT(LOTA_SIGV4_EMPTY_SHA256);
	const char *region = cfg->region && cfg->region[0] ? cfg->region : "us-east-1";
	lota_sigv4_params params =
	    LOTA_OPTS(lota_sigv4_params, .access_key = r->access_key, .secret_key = r->secret_key,
	              .session_token = r->session_token, .region = {region, strlen(region)},
	              .service = LOTA_STR_LIT("s3"), .time = now);
	return lota_sigv4_sign_request(&params, req,
	                               (lota_str){cfg->upstream_host, strlen(cfg->upstream_host)},
	                               payload_hash, signature_out);
}

/* Whether the parameter p[0..n) ("name" or "name=value") is a presign one. */
static bool is_presign_param(const char *p, size_t n)
{
	const char *eq = memchr(p, '=', n);
	return lotad_presign_param((lota_str){p, eq ? (size_t)(eq - p) : n});
}

size_t lotad_auth_strip_presign(lota_str query, char *out, size_t cap)
{
	size_t len = 0; /* length of the full result, even past cap */
	const char *s = query.ptr, *end = query.ptr + query.len;
	while (query.len && s <= end) {
		const char *amp = memchr(s, '&', (size_t)(end - s));
		const char *e = amp ? amp : end;
		size_t n = (size_t)(e - s);
		if (n > 0 && !is_presign_param(s, n)) {
			if (len > 0) {
				if (len + 1 < cap)
					out[len] = '&';
				len++;
			}
			for (size_t i = 0; i < n; i++, len++) {
				if (len + 1 < cap)
					out[len] = s[i];
			}
		}
		if (!amp)
			break;
		s = amp + 1;
	}
	if (cap > 0)
		out[len < cap ? len : cap - 1] = '\0';
	return len;
}

/* ---------------------------------------------------------------- aws-chunked */

/* The chain of the client's body (its scope, its seed: the signature lotad verified)
 * and the upstream's (lotad's region, the re-signed request's date and seed), for
 * liblota's re-signer (lota/chunked.h): it keeps the client's chunk boundaries and size
 * texts, so the body keeps its length and the signed Content-Length stays true. */
lota_chunk_resigner *lotad_auth_chunk_resigner(const lotad_auth_result *r,
                                               const lotad_auth_config *cfg, int64_t resign_time,
                                               const char *upstream_seed_signature,
                                               size_t max_chunk_bytes)
{
	if (!r || !cfg || !upstream_seed_signature || r->secret_key.len == 0)
		return NULL;
	char date[LOTA_SIGV4_AMZ_DATE_LEN + 1];
	lota_sigv4_format_amz_date(resign_time, date);
	const char *region = cfg->region && cfg->region[0] ? cfg->region : "us-east-1";
	lota_chunk_chain_params client = LOTA_OPTS(
	    lota_chunk_chain_params, .secret_key = r->secret_key, .amz_date = r->claim.amz_date,
	    .scope_date = r->claim.scope_date, .region = r->claim.region,
	    .service = LOTA_STR_LIT("s3"), .seed_signature = r->claim.signature);
	lota_chunk_chain_params up =
	    LOTA_OPTS(lota_chunk_chain_params, .secret_key = r->secret_key,
	              .amz_date = {date, LOTA_SIGV4_AMZ_DATE_LEN},
	              .region = {region, strlen(region)}, .service = LOTA_STR_LIT("s3"),
	              .seed_signature = {upstream_seed_signature, strlen(upstream_seed_signature)});
	lota_chunk_resigner *out = NULL;
	if (lota_chunk_resigner_new(&client, &up, max_chunk_bytes, &out) < 0)
		return NULL;
	return out;
}
