/*
 * proxy.c - streaming S3 proxy (see proxy.h).
 *
 * One proxy object per request: a curl easy handle on the worker's multi, the upstream
 * header list, and the response head being collected. Data flow and backpressure:
 *   client body -> curl: CURLOPT_READFUNCTION copies decoded body bytes out of the
 *     connection's input buffer; with none buffered it pauses the upload
 *     (CURL_READFUNC_PAUSE), and on_body resumes it.
 *   upstream -> client: CURLOPT_HEADERFUNCTION builds the response head (hop-by-hop
 *     headers dropped, the rest byte for byte); the blank line commits it with a framing
 *     chosen here (Content-Length when the upstream gave one, else chunked).
 *     CURLOPT_WRITEFUNCTION sends body bytes (or queues what the socket does not take;
 *     with relay_send coalesce it queues them all, sent in larger pieces), or pauses the
 *     download when the output buffer is full; on_drain resumes it.
 * aws-chunked uploads (STREAMING-AWS4-HMAC-SHA256-PAYLOAD) that lotad re-signs pass
 * through a chunk re-signer between the client's body and curl: each chunk signature is
 * verified against the client's chain and replaced by the upstream chain's (same length,
 * so Content-Length holds). A bad client chunk aborts the upload (the upstream never
 * stores a partial object) and the client gets 403 SignatureDoesNotMatch.
 * Nothing reaches the client before the upstream head is complete, so an upstream
 * failure before that is answered with an S3 error (or retried: a GET or HEAD, or a
 * request without a body that could not connect); after that it closes the connection.
 */
#include "s3/proxy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <lota/log.h>

#include "metrics.h"
#include "net/upstream.h"
#include "s3/s3err.h"
#include "util/clock.h"
#include "util/names.h"

#define RHEAD_CAP (32 * 1024)
#define STAGE_CAP (64 * 1024) /* client aws-chunked bytes waiting for the re-signer */
#define URL_CAP   (LOTAD_MAX_HEAD_BYTES + 1024)

typedef struct proxy {
	lotad_handler h; /* first: the server hands us back this pointer */
	lotad_xfer x;
	lotad_conn *c;
	lotad_worker *w;
	const lotad_settings *s;
	lotad_auth_result auth;
	lotad_s3req sr;
	const char *cache_label;        /* x-lota-cache of an object read, else NULL */
	const lotad_proxy_hooks *hooks; /* reports to the cache (NULL: none) */
	/* a cold ranged read answered by the upstream: what its head says of the object, for
	 * the fill that follows (lotad_proxy_start_filling) */
	bool fill_after;
	/* a read forwarded for the cache (lotad_proxy_start_tee): the If-None-Match lotad
	 * adds, where the answer goes, and the sink of its body */
	const lotad_proxy_tee *tee;
	void *sink;
	bool tee_no_store, not_modified;
	size_t inm_len;
	char inm[260];
	size_t seen_len[4]; /* ETag, x-amz-version-id, Content-Length, Content-Range */
	char seen[4][256];
	struct curl_slist *hdrs;
	bool is_head, has_body, retryable_method;
	bool send_paused, recv_paused;
	bool head_done, in_1xx, any_byte, have_cl;
	int status;
	int local_status; /* a failure of ours while relaying the head */
	int attempts;
	uint64_t t0_us;
	lotad_timer retry;
	lota_chunk_resigner *resigner; /* re-signed aws-chunked upload, else NULL */
	char *stage;
	size_t stage_len;
	bool stage_eof;
	int chunk_err; /* the re-signer's failure: the upload was aborted for it */
	size_t rhead_len;
	char rhead[RHEAD_CAP];
	char errbuf[CURL_ERROR_SIZE];
} proxy;

static bool name_is(lota_str n, const char *s)
{
	return lota_str_eq_nocase(n, s, strlen(s));
}

/* ------------------------------------------------------------ lifecycle --- */

static void proxy_free(proxy *p)
{
	if (!p)
		return;
	lotad_timer_stop(lotad_worker_loop(p->w), &p->retry);
	if (p->sink)
		p->tee->end(p->sink, false);
	p->sink = NULL;
	if (p->x.easy) {
		lotad_upstream_remove(lotad_worker_upstream(p->w), &p->x);
		curl_easy_cleanup(p->x.easy);
	}
	curl_slist_free_all(p->hdrs);
	lotad_auth_result_cleanup(&p->auth);
	lota_chunk_resigner_free(p->resigner);
	free(p->stage);
	free(p);
}

static void proxy_abort(lotad_handler *h)
{
	proxy *p = (proxy *)h;
	p->c = NULL;
	proxy_free(p);
}

static void proxy_on_body(lotad_handler *h)
{
	proxy *p = (proxy *)h;
	if (!p->send_paused || !p->x.easy)
		return;
	p->send_paused = false;
	curl_easy_pause(p->x.easy, p->recv_paused ? CURLPAUSE_RECV : CURLPAUSE_CONT);
}

static void proxy_on_drain(lotad_handler *h)
{
	proxy *p = (proxy *)h;
	if (!p->recv_paused || !p->x.easy)
		return;
	p->recv_paused = false;
	curl_easy_pause(p->x.easy, p->send_paused ? CURLPAUSE_SEND : CURLPAUSE_CONT);
}

static const lotad_handler_ops proxy_ops = {
    .on_body = proxy_on_body,
    .on_drain = proxy_on_drain,
    .abort = proxy_abort,
};

/* ------------------------------------------------------- curl callbacks --- */

/* The body of a re-signed aws-chunked upload: client bytes -> stage -> re-signer -> curl. */
static size_t read_resigned(proxy *p, char *buf, size_t cap)
{
	/* The re-signer holds a whole chunk before it emits it, so it may consume input
	 * without producing output: keep feeding it what the connection has buffered until
	 * it produces something or nothing more can move. */
	for (;;) {
		size_t got = 0;
		if (!p->stage_eof && p->stage_len < STAGE_CAP) {
			got = lotad_conn_body_read(p->c, p->stage + p->stage_len,
			                           STAGE_CAP - p->stage_len, &p->stage_eof);
			p->stage_len += got;
		}
		size_t used = 0, made = 0;
		int rc = lota_chunk_resigner_feed(p->resigner, p->stage, p->stage_len, &used, buf,
		                                  cap, &made);
		memmove(p->stage, p->stage + used, p->stage_len - used);
		p->stage_len -= used;
		if (rc < 0) {
			p->chunk_err = rc;
			return CURL_READFUNC_ABORT;
		}
		if (made)
			return made;
		if (rc == 1)
			return 0; /* the final chunk is out: end of the upload */
		if (used || got)
			continue;
		if (p->stage_eof) {
			p->chunk_err = LOTA_E_HTTP_CHUNK; /* the body ended inside the stream */
			return CURL_READFUNC_ABORT;
		}
		p->send_paused = true;
		return CURL_READFUNC_PAUSE;
	}
}

static size_t read_cb(char *buf, size_t size, size_t nitems, void *ud)
{
	proxy *p = ud;
	bool eof = false;
	if (!p->c)
		return CURL_READFUNC_ABORT;
	if (p->resigner)
		return read_resigned(p, buf, size * nitems);
	size_t n = lotad_conn_body_read(p->c, buf, size * nitems, &eof);
	if (n || eof)
		return n;
	p->send_paused = true;
	return CURL_READFUNC_PAUSE;
}

static void rhead_add(proxy *p, const char *s, size_t n)
{
	if (p->rhead_len + n > sizeof(p->rhead)) {
		p->local_status = 502;
		return;
	}
	memcpy(p->rhead + p->rhead_len, s, n);
	p->rhead_len += n;
}

/* The final head of a forwarded cached read is complete: a 304 to the If-None-Match
 * lotad added is the cache's (1: the head is not relayed); anything else is relayed, and
 * the cache is told of it (its sink gets the body). */
static int tee_head(proxy *p)
{
	if (p->inm_len && p->status == 304) {
		p->not_modified = true;
		return 1;
	}
	p->cache_label = p->status == 200 || p->status == 206 ? "miss" : "bypass";
	const char *eol = memchr(p->rhead, '\n', p->rhead_len);
	lota_str fields = {eol ? eol + 1 : p->rhead,
	                   eol ? p->rhead_len - (size_t)(eol + 1 - p->rhead) : 0};
	lota_str v[4];
	for (int i = 0; i < 4; i++)
		v[i] = (lota_str){p->seen[i], p->seen_len[i]};
	p->sink =
	    p->tee->begin(p->tee->ud, p->w, &p->sr, &p->auth, lotad_conn_request(p->c)->query,
	                  p->is_head, p->tee_no_store, p->status, v[0], v[1], v[2], v[3], fields);
	return 0;
}

static size_t header_cb(char *buf, size_t size, size_t nitems, void *ud)
{
	proxy *p = ud;
	size_t n = size * nitems;
	if (!p->c)
		return 0;
	if (!p->any_byte) {
		p->any_byte = true;
		lotad_metrics_upstream_latency(lotad_mono_us() - p->t0_us);
	}
	if (p->head_done)
		return n; /* trailers of a chunked upstream body: not relayed */
	size_t len = n;
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		len--;
	if (len >= 5 && memcmp(buf, "HTTP/", 5) == 0) {
		/* A status line: keep code and reason exactly, speak HTTP/1.1. */
		const char *sp = memchr(buf, ' ', len);
		if (!sp || (size_t)(buf + len - sp) < 4)
			return 0;
		p->status = atoi(sp + 1);
		p->in_1xx = p->status >= 100 && p->status < 200;
		p->rhead_len = 0;
		p->have_cl = false;
		rhead_add(p, "HTTP/1.1", 8);
		rhead_add(p, sp, (size_t)(buf + len - sp));
		rhead_add(p, "\r\n", 2);
		return n;
	}
	if (len == 0) {
		if (p->in_1xx) {
			p->in_1xx = false;
			p->rhead_len = 0;
			return n;
		}
		lotad_xfer_status(&p->x, p->status);
		if (p->hooks && p->hooks->upstream_status)
			p->hooks->upstream_status(p->hooks->ud, &p->sr, p->status);
		if (p->local_status || !p->status)
			return 0;
		if (p->tee && tee_head(p) == 1)
			return n; /* a 304 to lotad's If-None-Match: the cache answers */
		if (p->cache_label) {
			char line[64];
			int ll =
			    snprintf(line, sizeof(line), "x-lota-cache: %s\r\n", p->cache_label);
			rhead_add(p, line, (size_t)ll);
			if (p->local_status)
				return 0;
		}
		lotad_resp_framing fr;
		if (p->is_head || p->status == 204 || p->status == 304)
			fr = LOTAD_RESP_NONE;
		else if (p->have_cl)
			fr = LOTAD_RESP_LENGTH;
		else
			fr = LOTAD_RESP_CHUNKED;
		if (lotad_conn_resp_head(p->c, p->status, p->rhead, p->rhead_len, fr) < 0) {
			p->local_status = 502;
			return 0;
		}
		p->head_done = true;
		return n;
	}
	if (p->in_1xx)
		return n;
	const char *colon = memchr(buf, ':', len);
	if (!colon)
		return n; /* not a header line: curl would have failed; skip */
	lota_str name = {buf, (size_t)(colon - buf)};
	if (lotad_hop_by_hop(name))
		return n;
	if (name_is(name, "content-length"))
		p->have_cl = true;
	if (p->fill_after || p->tee) {
		static const char *const keep[4] = {"etag", "x-amz-version-id", "content-length",
		                                    "content-range"};
		for (int i = 0; i < 4; i++) {
			if (!name_is(name, keep[i]))
				continue;
			const char *v = colon + 1;
			while (v < buf + len && (*v == ' ' || *v == '\t'))
				v++;
			size_t vl = (size_t)(buf + len - v);
			p->seen_len[i] = vl <= sizeof(p->seen[i]) ? vl : 0;
			memcpy(p->seen[i], v, p->seen_len[i]);
		}
	}
	if (name_is(name, "x-amz-request-id")) {
		const char *v = colon + 1;
		while (v < buf + len && (*v == ' ' || *v == '\t'))
			v++;
		lotad_conn_set_request_id(p->c, v, (size_t)(buf + len - v));
	}
	rhead_add(p, buf, len);
	rhead_add(p, "\r\n", 2);
	return n;
}

static size_t write_cb(char *buf, size_t size, size_t nmemb, void *ud)
{
	proxy *p = ud;
	size_t n = size * nmemb;
	if (!p->c || !p->head_done)
		return 0;
	if (lotad_conn_out_room(p->c) < n) {
		p->recv_paused = true;
		lotad_conn_want_drain(p->c);
		return CURL_WRITEFUNC_PAUSE;
	}
	int rc = p->s->relay_coalesce ? lotad_conn_resp_body_coalesced(p->c, buf, n)
	                              : lotad_conn_resp_body(p->c, buf, n);
	if (rc < 0)
		return 0; /* the client is gone: abort the transfer */
	if (p->sink)
		p->tee->write(p->sink, buf, n);
	if (p->cache_label && p->status >= 200 && p->status < 300 && p->hooks &&
	    p->hooks->upstream_bytes)
		p->hooks->upstream_bytes(p->hooks->ud, n);
	return n;
}

/* ------------------------------------------------------------ completion --- */

static const char *error_kind(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
		return "connect";
	case CURLE_OPERATION_TIMEDOUT:
		return "timeout";
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
		return "reset";
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
		return "tls";
	default:
		return "other";
	}
}

static bool retryable(const proxy *p, CURLcode rc)
{
	if (p->any_byte || p->has_body || lotad_conn_resp_started(p->c))
		return false;
	if (p->attempts >= p->s->upstream_retries)
		return false;
	if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST)
		return true;
	return p->retryable_method &&
	       (rc == CURLE_SEND_ERROR || rc == CURLE_RECV_ERROR || rc == CURLE_GOT_NOTHING);
}

static int proxy_launch(proxy *p);

/* A request whose success replaces or removes the object at sr's key. */
static bool is_object_write(lotad_conn *c, const lotad_s3req *sr)
{
	const lota_http_request *req = lotad_conn_request(c);
	if (!sr->key.len)
		return false;
	switch (sr->op) {
	case LOTAD_OP_PUT_OBJECT:
	case LOTAD_OP_COPY_OBJECT:
	case LOTAD_OP_DELETE_OBJECT:
		return true;
	case LOTAD_OP_MULTIPART: /* CompleteMultipartUpload: POST ?uploadId=... */
		return lota_str_eq_nocase(req->method, "POST", 4) &&
		       memmem(req->query.ptr, req->query.len, "uploadId=", 9) != NULL;
	default:
		return false;
	}
}

static void retry_cb(lotad_timer *t)
{
	proxy *p = t->ud;
	if (proxy_launch(p) < 0) {
		lotad_conn *c = p->c;
		p->c = NULL;
		lotad_conn_send_error(c, 500, "InternalError", "Cannot start the upstream request.",
		                      !lotad_conn_body_done(c));
		proxy_free(p);
	}
}

static void proxy_done(lotad_xfer *x, CURLcode rc)
{
	proxy *p = (proxy *)((char *)x - offsetof(proxy, x));
	lotad_conn *c = p->c;
	lotad_upstream_remove(lotad_worker_upstream(p->w), &p->x);
	if (!c) {
		proxy_free(p);
		return;
	}
	if (rc == CURLE_OK && p->not_modified) {
		lotad_auth_result a = p->auth;
		memset(&p->auth, 0, sizeof(p->auth)); /* handed over */
		p->c = NULL;
		p->tee->not_modified(p->tee->ud, c, &p->sr, &a, (lota_str){p->inm, p->inm_len});
		proxy_free(p);
		return;
	}
	if (rc == CURLE_OK && p->head_done) {
		const lotad_proxy_hooks *hk = p->hooks;
		if (p->sink)
			p->tee->end(p->sink, true);
		p->sink = NULL;
		if (hk && hk->object_written && p->status >= 200 && p->status < 300 &&
		    is_object_write(c, &p->sr))
			hk->object_written(hk->ud, p->sr.bucket, p->sr.key);
		if (hk && hk->filled_response && p->fill_after &&
		    (p->status == 200 || p->status == 206)) {
			lota_str v[4];
			for (int i = 0; i < 4; i++)
				v[i] = (lota_str){p->seen[i], p->seen_len[i]};
			hk->filled_response(hk->ud, p->w, &p->sr, &p->auth,
			                    lotad_conn_request(c)->query, v[0], v[1], v[2], v[3]);
		}
		p->c = NULL;
		lotad_conn_resp_end(c, true);
		proxy_free(p);
		return;
	}
	bool client_side =
	    rc == CURLE_WRITE_ERROR || rc == CURLE_READ_ERROR || rc == CURLE_ABORTED_BY_CALLBACK;
	if (!client_side || p->local_status) {
		const char *kind = p->local_status ? "other" : error_kind(rc);
		lotad_metrics_upstream_error(kind);
		lota_log_warn(
		    "upstream: %.*s %.*s: %s (%s)%s", (int)lotad_conn_request(c)->method.len,
		    lotad_conn_request(c)->method.ptr, (int)p->sr.bucket.len, p->sr.bucket.ptr,
		    p->local_status ? "bad response head" : curl_easy_strerror(rc), kind,
		    p->head_done ? " after the response started" : "");
	}
	if (!p->head_done && !lotad_conn_resp_started(c) && !client_side && !p->local_status &&
	    retryable(p, rc)) {
		p->attempts++;
		uint64_t delay = 50u << (p->attempts > 6 ? 6 : p->attempts);
		delay += (uint64_t)(rand() % 50);
		p->rhead_len = 0;
		p->status = 0;
		p->in_1xx = false;
		p->not_modified = false;
		lotad_timer_start(lotad_worker_loop(p->w), &p->retry, delay);
		return;
	}
	p->c = NULL;
	if (p->chunk_err && !lotad_conn_resp_started(c)) {
		bool sig = p->chunk_err == LOTA_E_SIGV4_MISMATCH;
		lota_log_info("aws-chunked upload refused: %s", lota_strerror(p->chunk_err));
		lotad_metrics_auth_refused(sig ? "SignatureDoesNotMatch" : "IncompleteBody");
		lotad_conn_send_error(
		    c, sig ? 403 : 400, sig ? "SignatureDoesNotMatch" : "IncompleteBody",
		    sig ? "The request signature we calculated does not match the signature you "
		          "provided. Check your key and signing method."
		        : "The aws-chunked request body is malformed or incomplete.",
		    true);
	} else if (lotad_conn_resp_started(c) || (client_side && !p->local_status)) {
		lotad_conn_resp_end(c, false);
	} else {
		int st = 502;
		const char *code = "InternalError";
		const char *msg = "The upstream object store failed to answer.";
		if (p->local_status) {
			msg = "The upstream object store sent a response lotad cannot relay.";
		} else if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST) {
			st = 503;
			code = "ServiceUnavailable";
			msg = "The upstream object store is not reachable.";
		} else if (rc == CURLE_OPERATION_TIMEDOUT) {
			st = 504;
			code = "ServiceUnavailable";
			msg = "The upstream object store did not answer in time.";
		}
		lotad_conn_send_error(c, st, code, msg, !lotad_conn_body_done(c));
	}
	proxy_free(p);
}

/* ------------------------------------------------------------ set-up --- */

/* The client's header fields the upstream request carries: all but hop-by-hop ones and
 * what curl or the signature sets. */
static bool forwarded(lota_str nm, bool resign)
{
	if (lotad_hop_by_hop(nm) || name_is(nm, "host") || name_is(nm, "content-length") ||
	    name_is(nm, "expect"))
		return false;
	return !resign ||
	       !(name_is(nm, "authorization") || name_is(nm, "x-amz-date") ||
	         name_is(nm, "x-amz-security-token") || name_is(nm, "x-amz-content-sha256"));
}

/* The upstream request over lota_request's limits (fields, bytes) is the client's request
 * being too large to forward. */
static int request_rc(int rc)
{
	return rc == LOTA_E_TOO_LARGE || rc == LOTA_E_HTTP_TOO_MANY_HEADERS ? -E2BIG : rc;
}

/* Build the URL, the header list and the method. Returns 0 or a negative code. */
static int proxy_setup(proxy *p)
{
	const lota_http_request *req = lotad_conn_request(p->c);
	const lotad_settings *s = p->s;
	bool resign = p->auth.mode == LOTAD_AUTH_RESIGN;
	/* A relayed claim goes as the client sent it, like a redirected one: the upstream
	 * judges exactly what the client signed. */
	bool forward = p->auth.mode == LOTAD_AUTH_FORWARD || p->auth.mode == LOTAD_AUTH_RELAY;
	char *u = malloc(URL_CAP), *qbuf = NULL;
	lota_request *ur = lota_request_new();
	int rc = -ENOMEM;
	if (!u || !ur)
		goto out;

	/* Path: path-style on the upstream; a redirected (FORWARD) request is sent as
	 * signed, byte for byte. */
	char pathbuf[LOTAD_MAX_HEAD_BYTES + 256];
	lota_str path = req->path;
	if (!forward && p->sr.vhost) {
		int n = snprintf(pathbuf, sizeof(pathbuf), "/%.*s%.*s", (int)p->sr.bucket.len,
		                 p->sr.bucket.ptr, (int)req->path.len, req->path.ptr);
		if (n < 0 || (size_t)n >= sizeof(pathbuf)) {
			rc = -E2BIG;
			goto out;
		}
		path = (lota_str){pathbuf, (size_t)n};
	}
	lota_str query = req->query;
	if (resign && p->auth.claim.form == LOTA_SIGV4_FORM_QUERY) {
		qbuf = malloc(req->query.len + 1);
		if (!qbuf)
			goto out;
		size_t ql = lotad_auth_strip_presign(req->query, qbuf, req->query.len + 1);
		query = (lota_str){qbuf, ql};
	}
	int n = snprintf(u, URL_CAP, "%s%.*s%s%.*s", s->upstream_url, (int)path.len, path.ptr,
	                 query.len ? "?" : "", (int)query.len, query.ptr);
	if (n < 0 || n >= URL_CAP) {
		rc = -E2BIG;
		goto out;
	}

	/* The upstream request as data: its request line, then the client's fields (in a
	 * re-signed request, signed where the client signed them), then Host or the
	 * signature. curl gets the fields one by one, as they are. */
	if ((rc = lota_request_reset(ur, req->method, path, query)) < 0)
		goto out;
	for (size_t i = 0; i < req->num_headers; i++) {
		const lota_http_header *h = &req->headers[i];
		if (!forwarded(h->name, resign))
			continue;
		rc = resign ? lotad_auth_request_add_client(&p->auth, ur, h->name, h->value)
		            : lota_request_header_add(ur, h->name, h->value, 0);
		if (rc < 0)
			goto out;
	}
	if (resign) {
		lota_str ph = p->auth.claim.payload_hash;
		bool streaming = lota_str_eq_nocase(ph, LOTA_SIGV4_STREAMING_PAYLOAD,
		                                    strlen(LOTA_SIGV4_STREAMING_PAYLOAD));
		if (lota_str_eq_nocase(ph, LOTA_SIGV4_STREAMING_PAYLOAD_TRAILER,
		                       strlen(LOTA_SIGV4_STREAMING_PAYLOAD_TRAILER))) {
			rc = -ENOTSUP; /* signed trailers cannot be re-signed */
			goto out;
		}
		int64_t now = (int64_t)time(NULL);
		char seed[LOTA_SIGV4_SIGNATURE_HEX_LEN + 1];
		/* curl sends the body's Content-Length itself, with the client's value: it is
		 * signed when the client signed it (lotad_curl_headers leaves it to curl). */
		const lota_http_header *cl =
		    lota_http_find_header(req->headers, req->num_headers, "content-length", 14);
		if (cl && p->has_body && req->body == LOTA_HTTP_BODY_LENGTH &&
		    (rc = lotad_auth_request_add_client(&p->auth, ur, cl->name, cl->value)) < 0)
			goto out;
		if ((rc = lotad_auth_request_sign(&p->auth, &s->auth, ur, ph, now, seed)) < 0)
			goto out;
		if (streaming && p->has_body) {
			rc = -ENOMEM;
			p->stage = malloc(STAGE_CAP);
			p->resigner = lotad_auth_chunk_resigner(&p->auth, &s->auth, now, seed, 0);
			if (!p->stage || !p->resigner)
				goto out;
		}
	} else {
		lota_str host =
		    forward ? req->host
		            : (lota_str){s->upstream_hostport, strlen(s->upstream_hostport)};
		if ((rc = lota_request_header_add(ur, LOTA_STR_LIT("Host"), host, 0)) < 0)
			goto out;
		/* the cache's If-None-Match: unsigned, beside the client's signed request (the
		 * upstream checks the signature first: a denial is still a denial) */
		if (forward && p->inm_len &&
		    (rc = lota_request_header_add(ur, LOTA_STR_LIT("If-None-Match"),
		                                  (lota_str){p->inm, p->inm_len},
		                                  LOTA_REQUEST_UNSIGNED)) < 0)
			goto out;
	}
	rc = -ENOMEM;
	if (lotad_curl_headers(&p->hdrs, ur) < 0)
		goto out;

	CURL *e = curl_easy_init();
	if (!e)
		goto out;
	p->x.easy = e;
	p->x.done = proxy_done;
	curl_easy_setopt(e, CURLOPT_URL, u);
	curl_easy_setopt(e, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PROXY, "");
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, p->hdrs);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, p);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, p);
	curl_easy_setopt(e, CURLOPT_HTTP_CONTENT_DECODING, 0L);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, p->errbuf);
	/* curl hands over at most this much per write callback; it must fit the client's
	 * output buffer whole (a paused write is re-delivered whole). */
	curl_easy_setopt(
	    e, CURLOPT_BUFFERSIZE,
	    (long)(s->client_buffer < CURL_MAX_READ_SIZE ? s->client_buffer : CURL_MAX_READ_SIZE));
	curl_easy_setopt(e, CURLOPT_UPLOAD_BUFFERSIZE, 128L * 1024);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)s->upstream_connect_timeout_ms);
	if (s->upstream_timeout_ms) {
		/* No byte for this long (a paused transfer is not measured by curl). */
		long secs = (long)((s->upstream_timeout_ms + 999) / 1000);
		curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
		curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, secs);
	}
	if (s->request_timeout_ms)
		curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)s->request_timeout_ms);
	if (s->upstream_ca_file && s->upstream_ca_file[0])
		curl_easy_setopt(e, CURLOPT_CAINFO, s->upstream_ca_file);

	lota_str m = req->method;
	char method[32];
	snprintf(method, sizeof(method), "%.*s", (int)(m.len < 31 ? m.len : 31), m.ptr);
	if (p->is_head) {
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	} else if (p->has_body) {
		curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(e, CURLOPT_READFUNCTION, read_cb);
		curl_easy_setopt(e, CURLOPT_READDATA, p);
		curl_off_t size = req->body == LOTA_HTTP_BODY_LENGTH
		                      ? (curl_off_t)req->content_length
		                      : (curl_off_t)-1;
		curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, size);
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
	} else if (strcmp(method, "GET") != 0) {
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
	}
	rc = 0;
out:
	/* curl copies the URL and the method string; the header list stays with us. */
	free(u);
	free(qbuf);
	lota_request_free(ur);
	return request_rc(rc);
}

static int proxy_launch(proxy *p)
{
	p->t0_us = lotad_mono_us();
	p->any_byte = false;
	p->head_done = false;
	p->send_paused = p->recv_paused = false;
	return lotad_upstream_add(lotad_worker_upstream(p->w), &p->x);
}

static void proxy_start(lotad_conn *c, const lotad_s3req *sr, lotad_auth_result *auth,
                        const char *cache_label, bool fill_after, const lotad_proxy_hooks *hooks,
                        const lotad_proxy_tee *tee, lota_str inm, bool no_store)
{
	const lota_http_request *req = lotad_conn_request(c);
	proxy *p = calloc(1, sizeof(*p));
	if (!p) {
		lotad_auth_result_cleanup(auth);
		lotad_conn_send_error(c, 503, "SlowDown", "Out of memory.", true);
		return;
	}
	p->h.ops = &proxy_ops;
	p->c = c;
	p->w = lotad_conn_worker(c);
	/* the bucket's region's upstream (region.h), else the worker's */
	p->s = sr->up ? sr->up : lotad_worker_settings(p->w);
	p->auth = *auth;
	memset(auth, 0, sizeof(*auth)); /* taken over */
	p->sr = *sr;
	p->cache_label = cache_label;
	p->fill_after = fill_after;
	p->hooks = hooks;
	p->tee = tee;
	p->tee_no_store = no_store;
	if (tee && inm.len && inm.len <= sizeof(p->inm)) {
		memcpy(p->inm, inm.ptr, inm.len);
		p->inm_len = inm.len;
	}
	lotad_timer_init(&p->retry, retry_cb, p);
	p->is_head = lota_str_eq_nocase(req->method, "HEAD", 4);
	bool get = lota_str_eq_nocase(req->method, "GET", 3);
	p->retryable_method = p->is_head || get;
	p->has_body = !p->is_head &&
	              (req->body == LOTA_HTTP_BODY_CHUNKED ||
	               (req->body == LOTA_HTTP_BODY_LENGTH && (req->content_length > 0 || !get)));
	int rc = proxy_setup(p);
	if (rc == 0)
		rc = proxy_launch(p);
	if (rc < 0) {
		p->c = NULL;
		if (rc == -ENOTSUP) {
			lotad_conn_send_error(c, 501, "NotImplemented",
			                      "lotad cannot re-sign uploads with signed trailers "
			                      "(STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER); sign "
			                      "the request for the upstream's host name instead.",
			                      !lotad_conn_body_done(c));
		} else {
			lota_log_error("proxy: cannot set up the upstream request: %s",
			               lota_strerror(rc));
			lotad_conn_send_error(c, rc == -E2BIG ? 400 : 500,
			                      rc == -E2BIG ? "InvalidRequest" : "InternalError",
			                      rc == -E2BIG
			                          ? "The request is too large to forward."
			                          : "lotad could not start the upstream request.",
			                      !lotad_conn_body_done(c));
		}
		proxy_free(p);
		return;
	}
	lotad_conn_attach(c, &p->h);
	if (p->has_body)
		lotad_conn_send_continue(c);
}

void lotad_proxy_start(lotad_conn *c, const lotad_s3req *sr, lotad_auth_result *auth,
                       const char *cache_label, const lotad_proxy_hooks *hooks)
{
	proxy_start(c, sr, auth, cache_label, false, hooks, NULL, (lota_str){NULL, 0}, false);
}

void lotad_proxy_start_filling(lotad_conn *c, const lotad_s3req *sr, lotad_auth_result *auth,
                               const lotad_proxy_hooks *hooks)
{
	proxy_start(c, sr, auth, "miss", true, hooks, NULL, (lota_str){NULL, 0}, false);
}

void lotad_proxy_start_tee(lotad_conn *c, const lotad_s3req *sr, lotad_auth_result *auth,
                           lota_str if_none_match, bool no_store, const lotad_proxy_tee *tee,
                           const lotad_proxy_hooks *hooks)
{
	proxy_start(c, sr, auth, "bypass", false, hooks, tee, if_none_match, no_store);
}
