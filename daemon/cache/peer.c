/*
 * peer.c - the front node's reads of extents that another member of the cluster owns
 * (docs/architecture.md §9.3): once the request is authorized here, an extent this node
 * does not hold and whose owner (placement over the members up) is a peer is asked of
 * that owner on its peer port, as a signed GET /peer/extent of the byte range, with a
 * fill ticket: a presigned GET of the object made here with the client's own key, valid
 * TICKET_S seconds, which the owner uses (pinned with If-Match) when it must fill the
 * extent. The answer must be a 206 of exactly the range asked for; its bytes go to the
 * client as they come, through the worker's curl multi like a direct read.
 *
 * The owner says whether it answers from its store ("X-Lota-Peer-Source: cache") or from
 * a fill: the bytes count as served by "peer" or "upstream" accordingly, and when they are
 * the first of a response not held here, its label is "peer" or "miss".
 *
 * Failover: an owner that refuses, does not hold the extent and got no ticket, resets,
 * dies, or sends nothing for peer_timeout ends this transfer; the bytes not sent yet
 * ([q->a, last]) are then asked of the next member up in the extent's ranking (which
 * holds it, or fills it with a new ticket of the same client), and when that one fails
 * too, read from the upstream pinned with If-Match (cache_start_direct), so the client
 * sees no error and every byte is right.
 */
#include "cache/cache-internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lota/log.h>
#include <lota/peer.h>
#include <lota/sigv4.h>

#define TICKET_S 300

bool cache_peer_owned(lotad_cache *ca, lota_hash128 h, lotad_peer_owner *out)
{
	return ca->cluster && lotad_cluster_owner(ca->cluster, h, out) == 1;
}

/* The fill ticket: the object's URL presigned with the client's key (empty when this
 * node does not hold the client's secret: the owner then serves only what it holds). */
static int make_ticket(const creq *q, char *out, size_t cap)
{
	const objinfo *o = q->o;
	out[0] = 0;
	if (!o->cred.access_key.len || !o->cred.secret_key.len)
		return 0;
	char *url = malloc(URL_CAP), *path = malloc(URL_CAP), *query = malloc(URL_CAP);
	int rc = -ENOMEM;
	lota_str pathv;
	if (!url || !path || !query)
		goto out;
	rc = cache_object_url(q->s, o->bucket, o->rkey, o->vquery, url, URL_CAP, path, URL_CAP,
	                      &pathv);
	if (rc < 0)
		goto out;
	lota_http_header host = {LOTA_STR_LIT("Host"),
	                         {q->s->upstream_hostport, strlen(q->s->upstream_hostport)}};
	lota_sigv4_request req = {.method = LOTA_STR_LIT("GET"),
	                          .path = pathv,
	                          .query = o->vquery,
	                          .headers = &host,
	                          .num_headers = 1};
	lota_sigv4_params p = LOTA_OPTS(
	    lota_sigv4_params, .access_key = o->cred.access_key, .secret_key = o->cred.secret_key,
	    .session_token = o->cred.session_token, .region = {q->s->region, strlen(q->s->region)},
	    .service = LOTA_STR_LIT("s3"), .time = (int64_t)time(NULL));
	rc = lota_sigv4_presign(&p, &req, TICKET_S, query, URL_CAP);
	if (rc < 0)
		goto out;
	int n = snprintf(out, cap, "%s%s?%s", q->s->upstream_url, path, query);
	rc = n < 0 || (size_t)n >= cap ? LOTA_E_TOO_LARGE : 0;
	if (rc)
		out[0] = 0;
out:
	free(url);
	free(path);
	free(query);
	return rc;
}

static size_t peer_header(char *buf, size_t size, size_t nitems, void *ud)
{
	creq *q = ud;
	size_t n = size * nitems;
	if (!q->c)
		return 0;
	int st;
	if (n > 9 && memcmp(buf, "HTTP/1.", 7) == 0 && sscanf(buf + 9, "%3d", &st) == 1) {
		q->peer_status = st;
		q->peer_range_ok = false;
		q->peer_warm = false;
		return n;
	}
	size_t hl = sizeof(LOTA_PEER_H_SOURCE) - 1;
	if (n > hl && strncasecmp(buf, LOTA_PEER_H_SOURCE ":", hl + 1) == 0) {
		lota_str v = trim(buf + hl + 1, n - hl - 1);
		q->peer_warm = v.len == 5 && memcmp(v.ptr, "cache", 5) == 0;
		return n;
	}
	if (n >= 14 && strncasecmp(buf, "Content-Range:", 14) == 0) {
		lota_str v = trim(buf + 14, n - 14);
		uint64_t ext_len =
		    cache_ext_last(q->ca, q->o, cache_ext_of(q->ca, q->o, q->peer_base)) -
		    q->peer_base + 1;
		char want[96];
		int wl = snprintf(want, sizeof(want), "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64,
		                  q->a - q->peer_base, q->direct_end - q->peer_base, ext_len);
		q->peer_range_ok = (size_t)wl == v.len && memcmp(v.ptr, want, v.len) == 0;
	} else if (n <= 2 && q->peer_status >= 200) {
		q->head_ok = q->peer_status == 206 && q->peer_range_ok;
		if (q->head_ok && q->peer_warm && q->head_pending)
			q->label = "peer"; /* its first byte comes warm from a member */
		lotad_xfer_status(&q->x, q->peer_status);
	}
	return n;
}

static size_t peer_write(char *buf, size_t size, size_t nmemb, void *ud)
{
	creq *q = ud;
	size_t n = size * nmemb;
	if (!q->c || !q->head_ok || n > q->direct_end + 1 - q->a)
		return 0;
	if (lotad_conn_out_room(q->c) < n) {
		q->recv_paused = true;
		lotad_conn_want_drain(q->c);
		return CURL_WRITEFUNC_PAUSE;
	}
	count(q->peer_warm ? &q->ca->served_peer : &q->ca->served_upstream, n);
	if (cache_flush_head(q) < 0 || lotad_conn_resp_body(q->c, buf, n) < 0)
		return 0;
	q->a += n;
	return n;
}

/* The member to ask for the rest of extent k after q->peer failed: the first member up
 * in the extent's ranking that is not this node and was not asked yet for this extent
 * (at most LOTAD_PEER_TRIES in all). */
static bool next_candidate(creq *q, uint64_t k, lotad_peer_owner *out)
{
	uint8_t *key = NULL;
	size_t klen;
	lota_hash128 h;
	if (q->peer_tries >= LOTAD_PEER_TRIES || cache_ext_key(q->ca, q->o, k, &key, &klen, &h) < 0)
		return false;
	free(key);
	const char *skip[LOTAD_PEER_TRIES];
	for (unsigned i = 0; i < q->peer_tries; i++)
		skip[i] = q->peer_tried[i];
	return lotad_cluster_candidate(q->ca->cluster, h, skip, q->peer_tries, out) == 1;
}

static void peer_done(lotad_xfer *x, CURLcode rc)
{
	creq *q = (creq *)((char *)x - offsetof(creq, x));
	lotad_cache *ca = q->ca;
	uint64_t got = q->a - q->peer_from;
	cache_creq_stop_xfer(q);
	if (!q->c) {
		lotad_cluster_count_out(ca->cluster, LOTAD_PEER_OUT_ERROR, got);
		cache_creq_free(q);
		return;
	}
	if (rc == CURLE_OK && q->head_ok && q->a == q->direct_end + 1) {
		lotad_cluster_count_out(ca->cluster, LOTAD_PEER_OUT_OK, got);
		count(&ca->fills_avoided, 1);
		cache_pump(q);
		return;
	}
	bool miss = q->peer_status == 404;
	lotad_cluster_count_out(ca->cluster, miss ? LOTAD_PEER_OUT_MISS : LOTAD_PEER_OUT_ERROR,
	                        got);
	count(&ca->peer_failovers, 1);
	uint64_t k = cache_ext_of(ca, q->o, q->a);
	lotad_peer_owner next;
	bool have_next = next_candidate(q, k, &next);
	/* a member asked without a ticket that does not hold the extent is no fault */
	lota_log(miss && q->peer_no_ticket ? LOTA_LOG_INFO : LOTA_LOG_WARN,
	         "cache: %s %s (%s:%d) of %.*s/%.*s: %s after %" PRIu64
	         " bytes; the remaining %" PRIu64 " bytes come from %s%s",
	         q->peer_tries > 1 ? "member" : "owner", q->peer.id, q->peer.host, q->peer.port,
	         (int)q->o->bucket.len, q->o->bucket.ptr, (int)q->o->rkey.len, q->o->rkey.ptr,
	         rc != CURLE_OK ? curl_easy_strerror(rc)
	         : miss         ? "extent not held (no ticket)"
	                        : "bad answer",
	         got, q->direct_end + 1 - q->a, have_next ? "member " : "the upstream",
	         have_next ? next.id : "");
	if (have_next) {
		q->peer = next;
		(void)cache_start_peer(q, k, q->direct_end);
		return;
	}
	(void)cache_start_direct(q, q->direct_end);
}

int cache_start_peer(creq *q, uint64_t k, uint64_t last)
{
	lotad_cache *ca = q->ca;
	uint8_t *key = NULL;
	size_t klen;
	lota_hash128 h;
	char *hex = malloc(LOTA_PEER_EXTENT_MAX + 1), *ticket = malloc(LOTA_PEER_TICKET_MAX + 1);
	char *lines = malloc(LOTA_PEER_HEAD_MAX), url[320], range[64];
	CURL *e = NULL;
	/* a new extent: its owner is the first member asked */
	if (q->peer_k != k)
		q->peer_tries = 0;
	if (q->peer_tries < LOTAD_PEER_TRIES)
		snprintf(q->peer_tried[q->peer_tries++], sizeof(q->peer_tried[0]), "%s",
		         q->peer.id);
	q->peer_k = k;
	if (!hex || !ticket || !lines || cache_ext_key(ca, q->o, k, &key, &klen, &h) < 0 ||
	    klen * 2 > LOTA_PEER_EXTENT_MAX)
		goto direct;
	for (size_t i = 0; i < klen; i++)
		snprintf(hex + 2 * i, 3, "%02x", key[i]);
	uint64_t base = cache_ext_first(ca, q->o, k);
	int rl =
	    snprintf(range, sizeof(range), "bytes=%" PRIu64 "-%" PRIu64, q->a - base, last - base);
	if (q->peer_no_ticket || make_ticket(q, ticket, LOTA_PEER_TICKET_MAX + 1) < 0)
		ticket[0] = 0;
	int n = lotad_cluster_extent_headers(
	    ca->cluster, (lota_str){hex, 2 * klen}, (lota_str){range, (size_t)rl},
	    (lota_str){ticket, strlen(ticket)}, lines, LOTA_PEER_HEAD_MAX);
	if (n < 0)
		goto direct;
	curl_slist_free_all(q->hdrs);
	q->hdrs = NULL;
	for (char *p = lines; p < lines + n;) {
		char *eol = memmem(p, (size_t)(lines + n - p), "\r\n", 2);
		if (!eol)
			break;
		*eol = 0;
		struct curl_slist *l = curl_slist_append(q->hdrs, p);
		if (!l)
			goto direct;
		q->hdrs = l;
		p = eol + 2;
	}
	const char *tcert = NULL, *tkey = NULL, *tca = NULL;
	bool tls = lotad_cluster_peer_tls(ca->cluster, &tcert, &tkey, &tca) == 1;
	snprintf(url, sizeof(url),
	         strchr(q->peer.host, ':') ? "%s://[%s]:%d/peer/extent" : "%s://%s:%d/peer/extent",
	         tls ? "https" : "http", q->peer.host, q->peer.port);
	e = cache_easy_new(q->s, url, q->hdrs, false, peer_header, peer_write, q, q->errbuf);
	if (!e)
		goto direct;
	if (tls) {
		/* mutual TLS: this node's certificate, and the owner's checked against the
		 * cluster CA and the member address in the URL (never the upstream's CA) */
		curl_easy_setopt(e, CURLOPT_SSLCERT, tcert);
		curl_easy_setopt(e, CURLOPT_SSLKEY, tkey);
		curl_easy_setopt(e, CURLOPT_CAINFO, tca);
		curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
		curl_easy_setopt(e, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	}
	uint64_t t = lotad_cluster_timeout_ms(ca->cluster);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)t);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, (long)((t + 999) / 1000));
	q->direct_end = last;
	q->peer_base = base;
	q->peer_from = q->a;
	q->peer_status = 0;
	q->peer_range_ok = false;
	q->head_ok = false;
	q->x.easy = e;
	q->x.done = peer_done;
	q->xkind = X_PEER;
	if (lotad_upstream_add(lotad_worker_upstream(q->w), &q->x) < 0) {
		q->x.easy = NULL;
		q->xkind = X_NONE;
		goto direct;
	}
	free(key);
	free(hex);
	free(ticket);
	free(lines);
	return 0;
direct:
	if (e)
		curl_easy_cleanup(e);
	curl_slist_free_all(q->hdrs);
	q->hdrs = NULL;
	free(key);
	free(hex);
	free(ticket);
	free(lines);
	lota_log_warn("cache: cannot ask owner %s for an extent; reading it from the upstream",
	              q->peer.id);
	return cache_start_direct(q, last);
}

int cache_cluster_fill_local(creq *q, uint64_t k)
{
	char *ticket = malloc(LOTA_PEER_TICKET_MAX + 1);
	int rc = -ENOMEM;
	q->r = NULL;
	if (ticket && (rc = make_ticket(q, ticket, LOTA_PEER_TICKET_MAX + 1)) == 0) {
		const objinfo *o = q->o;
		lota_cache_key ck = {o->bucket, o->dkey, o->etag, o->vid, o->size, k};
		rc = lotad_cluster_fill_local(q->ca->cluster, &ck,
		                              (lota_str){ticket, strlen(ticket)}, &q->r);
		if (rc < 0)
			q->r = NULL;
	}
	free(ticket);
	return rc;
}

void cache_cluster_prestage(creq *q, uint64_t first, uint64_t last)
{
	char *ticket = malloc(LOTA_PEER_TICKET_MAX + 1);
	lota_object_id id = cache_obj_id(q->o);
	if (ticket && make_ticket(q, ticket, LOTA_PEER_TICKET_MAX + 1) == 0 && ticket[0] &&
	    lotad_cluster_prestage(q->ca->cluster, &id, first, last,
	                           (lota_str){ticket, strlen(ticket)}) < 0)
		lota_log_debug("cache: no read-ahead of extents %" PRIu64 "-%" PRIu64, first, last);
	free(ticket);
}

void cache_cluster_readahead(creq *q, uint64_t k)
{
	unsigned ra = lotad_cluster_readahead(q->ca->cluster);
	uint64_t lastk = cache_ext_of(q->ca, q->o, q->b);
	if (!ra || q->is_head || q->no_fill)
		return;
	if (q->ra_next <= k)
		q->ra_next = k + 1;
	uint64_t upto = k + ra < lastk ? k + ra : lastk;
	if (q->ra_next > upto)
		return;
	cache_cluster_prestage(q, q->ra_next, upto);
	q->ra_next = upto + 1;
}
