/*
 * authorize.c - the authorizing HEAD of every cached GET/HEAD (re-signed with the
 * client's key, carrying the client's headers) and its answer's head kept for the
 * client, and metadata_ttl's grants: the upstream's last 200 per (access key, object),
 * reused while younger than metadata_ttl.
 */
#include "cache/cache-internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/names.h"

static void rhead_add(creq *q, const char *s, size_t n)
{
	if (q->rhead_len + n > sizeof(q->rhead)) {
		q->overflow = true;
		return;
	}
	memcpy(q->rhead + q->rhead_len, s, n);
	q->rhead_len += n;
}

static size_t auth_header(char *buf, size_t size, size_t nitems, void *ud)
{
	creq *q = ud;
	size_t n = size * nitems;
	lota_str l = trim(buf, n);
	if (!q->c)
		return 0;
	if (l.len >= 5 && memcmp(l.ptr, "HTTP/", 5) == 0) {
		const char *sp = memchr(l.ptr, ' ', l.len);
		q->status = sp ? atoi(sp + 1) : 0;
		q->in_1xx = q->status >= 100 && q->status < 200;
		q->rhead_len = 0;
		q->have_cl = false;
		q->etag = q->vid = (lota_str){NULL, 0};
		return n;
	}
	if (!l.len) {
		if (!q->in_1xx)
			lotad_xfer_status(&q->x, q->status);
		q->in_1xx = false;
		return n;
	}
	const char *colon = memchr(l.ptr, ':', l.len);
	if (!colon || q->in_1xx)
		return n;
	lota_str name = {l.ptr, (size_t)(colon - l.ptr)};
	lota_str v = trim(colon + 1, (size_t)(l.ptr + l.len - colon - 1));
	if (lotad_hop_by_hop(name))
		return n;
	if (name_is(name, "content-length")) {
		q->have_cl = parse_u64(v, &q->cl);
		return n;
	}
	if (name_is(name, "content-range"))
		return n;
	if (name_is(name, "x-amz-request-id"))
		lotad_conn_set_request_id(q->c, v.ptr, v.len);
	size_t at = q->rhead_len + (size_t)(v.ptr - l.ptr);
	rhead_add(q, l.ptr, l.len);
	rhead_add(q, "\r\n", 2);
	if (!q->overflow && name_is(name, "etag"))
		q->etag = (lota_str){q->rhead + at, v.len};
	if (!q->overflow && name_is(name, "x-amz-version-id"))
		q->vid = (lota_str){q->rhead + at, v.len};
	return n;
}

static size_t auth_write(char *buf, size_t size, size_t nmemb, void *ud)
{
	(void)buf;
	(void)ud;
	return size * nmemb; /* a HEAD has no body */
}

/* --- metadata_ttl: the upstream's last 200 per (access key, object) --- */

#define GRANT_SLOTS 1024

struct grant {
	lota_hash128 name;
	int64_t until_ms;
	uint64_t size;
	size_t head_len, etag_off, etag_len, vid_off, vid_len;
	char *head; /* the relayed headers (malloc'd) */
};

static lota_hash128 grant_name(const creq *q)
{
	lota_str ak = q->auth.access_key;
	char buf[256];
	int n = snprintf(buf, sizeof(buf), "%zu:%.*s", ak.len, (int)(ak.len < 200 ? ak.len : 200),
	                 ak.ptr);
	lota_hash128 o = cache_obj_name(q->sr.bucket, q->sr.key, q->vquery);
	memcpy(buf + n, &o, sizeof(o));
	return lota_cache_key_hash_canonical((const uint8_t *)buf, (size_t)n + sizeof(o));
}

static void grant_note(creq *q)
{
	lotad_cache *ca = q->ca;
	if (!ca->grants || !q->etag.len)
		return;
	char *head = malloc(q->rhead_len ? q->rhead_len : 1);
	if (!head)
		return;
	memcpy(head, q->rhead, q->rhead_len);
	lota_hash128 h = grant_name(q);
	pthread_mutex_lock(&ca->mu);
	struct grant *g = &ca->grants[h.lo % GRANT_SLOTS];
	free(g->head);
	*g = (struct grant){
	    .name = h,
	    .until_ms = (int64_t)lotad_mono_ms() + (int64_t)ca->cfg.metadata_ttl_ms,
	    .size = q->cl,
	    .head_len = q->rhead_len,
	    .etag_off = (size_t)(q->etag.ptr - q->rhead),
	    .etag_len = q->etag.len,
	    .vid_off = q->vid.len ? (size_t)(q->vid.ptr - q->rhead) : 0,
	    .vid_len = q->vid.len,
	    .head = head,
	};
	pthread_mutex_unlock(&ca->mu);
}

/* A grant younger than metadata_ttl for this key and object: fill q as the HEAD would
 * have. Requests with conditionals always ask the upstream. */
bool cache_grant_use(creq *q)
{
	lotad_cache *ca = q->ca;
	const lota_http_request *req = lotad_conn_request(q->c);
	if (!ca->grants)
		return false;
	for (size_t i = 0; i < req->num_headers; i++)
		if (req->headers[i].name.len > 3 &&
		    strncasecmp(req->headers[i].name.ptr, "if-", 3) == 0)
			return false;
	lota_hash128 h = grant_name(q);
	bool ok = false;
	pthread_mutex_lock(&ca->mu);
	struct grant *g = &ca->grants[h.lo % GRANT_SLOTS];
	if (g->head && g->name.hi == h.hi && g->name.lo == h.lo &&
	    (int64_t)lotad_mono_ms() < g->until_ms && g->head_len <= sizeof(q->rhead)) {
		memcpy(q->rhead, g->head, g->head_len);
		q->rhead_len = g->head_len;
		q->cl = g->size;
		q->have_cl = true;
		q->status = 200;
		q->etag = (lota_str){q->rhead + g->etag_off, g->etag_len};
		q->vid = (lota_str){g->vid_len ? q->rhead + g->vid_off : NULL, g->vid_len};
		ok = true;
	}
	pthread_mutex_unlock(&ca->mu);
	return ok;
}

int cache_grants_new(lotad_cache *ca)
{
	ca->grants = calloc(GRANT_SLOTS, sizeof(*ca->grants));
	return ca->grants ? 0 : -ENOMEM;
}

void cache_grants_free(lotad_cache *ca)
{
	if (!ca->grants)
		return;
	for (size_t i = 0; i < GRANT_SLOTS; i++)
		free(ca->grants[i].head);
	free(ca->grants);
	ca->grants = NULL;
}

static void auth_done(lotad_xfer *x, CURLcode rc)
{
	creq *q = (creq *)((char *)x - offsetof(creq, x));
	curl_off_t us = 0;
	long conns = 0;
	if (curl_easy_getinfo(q->x.easy, CURLINFO_TOTAL_TIME_T, &us) == CURLE_OK &&
	    curl_easy_getinfo(q->x.easy, CURLINFO_NUM_CONNECTS, &conns) == CURLE_OK)
		lotad_metrics_authorize(us > 0 ? (uint64_t)us : 0, conns > 0);
	lotad_upstream_remove(lotad_worker_upstream(q->w), &q->x);
	curl_easy_cleanup(q->x.easy);
	q->x.easy = NULL;
	curl_slist_free_all(q->hdrs);
	q->hdrs = NULL;
	q->xkind = X_NONE;
	if (!q->c) {
		cache_creq_free(q);
		return;
	}
	/* Anything but a usable 200: the proxy asks again with the client's own request and
	 * relays the answer exactly (denials, 304, 412, errors, retries). */
	if (rc != CURLE_OK || q->status != 200 || !q->have_cl || !q->etag.len || q->overflow) {
		q->sr.auth_status = rc == CURLE_OK ? q->status : 0; /* the router reads it */
		cache_creq_to_proxy(q, "bypass");
		return;
	}
	cache_objtab_note(q->ca, q->sr.bucket, q->sr.key, q->vquery, q->cl, q->etag, q->vid);
	if (q->ca->cfg.metadata_ttl_ms)
		grant_note(q);
	cache_authorized(q);
}

int cache_start_auth(creq *q)
{
	const lota_http_request *req = lotad_conn_request(q->c);
	char *url = malloc(URL_CAP), *path = malloc(URL_CAP);
	lota_request *r = NULL;
	lota_str pathv;
	int rc = -ENOMEM;
	if (!url || !path)
		goto out;
	rc = cache_object_url(q->s, q->sr.bucket, q->sr.key, q->vquery, url, URL_CAP, path, URL_CAP,
	                      &pathv);
	if (rc < 0)
		goto out;
	rc = -ENOMEM;
	if (!(r = cache_request_new("HEAD", pathv, q->vquery)))
		goto out;
	/* the client's fields, signed where the client signed them */
	for (size_t i = 0; i < req->num_headers; i++) {
		lota_str nm = req->headers[i].name;
		if (lotad_hop_by_hop(nm) || name_is(nm, "host") || name_is(nm, "content-length") ||
		    name_is(nm, "expect") || name_is(nm, "authorization") ||
		    name_is(nm, "x-amz-date") || name_is(nm, "x-amz-security-token") ||
		    name_is(nm, "x-amz-content-sha256") || name_is(nm, "range"))
			continue;
		if ((rc = lotad_auth_request_add_client(&q->auth, r, nm, req->headers[i].value)) <
		    0)
			goto out;
	}
	rc = cache_request_headers(&q->hdrs, r, &q->auth, q->s);
	if (rc < 0)
		goto out;
	rc = -ENOMEM;
	q->x.easy = cache_easy_new(q->s, url, q->hdrs, true, auth_header, auth_write, q, q->errbuf);
	if (!q->x.easy)
		goto out;
	q->x.done = auth_done;
	q->xkind = X_AUTH;
	rc = lotad_upstream_add(lotad_worker_upstream(q->w), &q->x);
	if (rc < 0) {
		curl_easy_cleanup(q->x.easy);
		q->x.easy = NULL;
	}
out:
	lota_request_free(r);
	free(url);
	free(path);
	return rc;
}
