/*
 * foreign.c - cached reads signed with a key lotad does not hold (docs/architecture.md
 * §3.4, second form): redirected traffic, signed for the upstream's own name (header or
 * presigned form), which lotad can neither verify nor re-sign.
 *
 * lotad forwards the client's own request unchanged but for an unsigned
 * If-None-Match: <ETag of the copy it holds>, added only when every byte asked for is
 * in the store and the client sent no conditional of its own (with one, the request is
 * proxied as before: its answer is the upstream's alone). The upstream checks the
 * client's signature and permissions before the condition, so:
 *   304      the client is authorized and the copy is current: served from the store,
 *            200 or 206 as asked (Range honoured across extents), with the headers stored
 *            with the extent (those of the answer it was filled from);
 *   200/206  the client is authorized and the copy is not current (or there is none):
 *            the answer streams to the client, and tee.c stores the whole extents it
 *            carries; when lotad holds the client's key (a request signed for the
 *            upstream's own name, verified here), or else with fill_credentials, the
 *            extents it touches are filled whole with that key instead (fill.c, pinned
 *            by If-Match), the client having just been authorized;
 *   other    (403, 404, 412, 5xx ...) relayed verbatim; nothing of the store is read.
 * Checked by hand against radosgw 16.2.15 (a request signed by botocore, an
 * If-None-Match added after signing): a matching ETag gives 304 for header-signed and
 * presigned GETs, ranged GETs and HEADs; the 304 carries only x-amz-request-id and Date
 * (no ETag, no Content-Type, no x-amz-meta-*), hence the stored headers; another user
 * without a grant and a wrong secret still get 403 with a matching If-None-Match (the
 * condition is evaluated after authorization); a non-matching one gives the 200/206.
 *
 * Which copy: the object table (objtab.c) remembers the last ETag, size and version id
 * seen per bucket, key and version query, from any answer that authorized a client
 * (held keys' HEADs, foreign 200/206s): direct-mapped, OBJ_SLOTS entries, rebuilt at
 * start from the extents the store holds (objtab.c), so a restart keeps the hits. An
 * entry is used only when the store holds every byte asked for (copy_held): an evicted
 * copy is never named, and extents evicted between the If-None-Match and the 304 send the
 * read to the upstream again (lotad_cache_not_modified). When another object took its
 * slot, the next read of an object goes without If-None-Match (a full answer from the
 * upstream), and that answer names the extents again.
 */
#include "cache/cache-internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <lota/log.h>

bool cache_foreign_eligible(const lotad_auth_result *a)
{
	return a->mode == LOTAD_AUTH_FORWARD &&
	       (a->claim.form == LOTA_SIGV4_FORM_HEADER || a->claim.form == LOTA_SIGV4_FORM_QUERY);
}

bool cache_fill_cred(const lotad_cache *ca, lotad_auth_result *out)
{
	memset(out, 0, sizeof(*out));
	if (!ca->cfg.fill_profile || !ca->cfg.fill_profile[0])
		return false;
	lotad_creds *creds = lotad_creds_current();
	lota_str ak, sk, tok;
	if (!lotad_creds_lookup_profile(creds, ca->cfg.fill_profile, &ak, &sk, &tok)) {
		lotad_creds_unref(creds);
		return false;
	}
	out->mode = LOTAD_AUTH_RESIGN;
	out->claim.form = LOTA_SIGV4_FORM_HEADER;
	out->access_key = ak;
	out->secret_key = sk;
	out->session_token = tok;
	out->creds = creds; /* the reference taken above */
	return true;
}

bool cache_foreign_cred(const lotad_cache *ca, const lotad_auth_result *client,
                        lotad_auth_result *out)
{
	/* A key lotad holds, its signature verified here (FORWARD carries the key then): the
	 * client's own key signs the fills, as on the endpoint-change path (serve.c). */
	if (client && client->mode == LOTAD_AUTH_FORWARD && client->secret_key.len &&
	    client->creds) {
		memset(out, 0, sizeof(*out));
		lotad_creds_ref(client->creds);
		out->mode = LOTAD_AUTH_RESIGN;
		out->claim.form = LOTA_SIGV4_FORM_HEADER;
		out->access_key = client->access_key;
		out->secret_key = client->secret_key;
		out->session_token = client->session_token;
		out->creds = client->creds;
		return true;
	}
	return cache_fill_cred(ca, out);
}

/* Whether the client sent a conditional of its own (If-Match, If-None-Match,
 * If-Modified-Since, If-Unmodified-Since; If-Range is not cacheable at all). */
static bool client_conditional(const lota_http_request *req)
{
	for (size_t i = 0; i < req->num_headers; i++)
		if (req->headers[i].name.len > 3 &&
		    strncasecmp(req->headers[i].name.ptr, "if-", 3) == 0)
			return true;
	return false;
}

/* The bytes [*a, *b] the request asks of an object of size bytes: the whole object
 * without a Range; false when the Range cannot be honoured from a copy (malformed or
 * several ranges, or not satisfiable: the upstream answers those itself). */
static bool asked(const lota_http_request *req, uint64_t size, uint64_t *a, uint64_t *b)
{
	const lota_http_header *rh =
	    lota_http_find_header(req->headers, req->num_headers, "range", 5);
	*a = 0;
	*b = size ? size - 1 : 0;
	if (!rh)
		return size > 0;
	lota_range rg;
	return lota_range_parse(rh->value.ptr, rh->value.len, &rg) == 0 &&
	       lota_range_resolve(&rg, size, a, b) == 0;
}

/* What the object table remembers of the object, when the store holds every byte of
 * [a, b] of that version. */
static bool copy_held(lotad_cache *ca, const lotad_s3req *sr, lota_str vq,
                      const lota_http_request *req, struct objent *e)
{
	uint64_t a, b;
	char dk[4096];
	int dl;
	if (!cache_objtab_get(ca, sr->bucket, sr->key, vq, e, false) || !e->etag_len ||
	    e->size < ca->cfg.min_object_size || !asked(req, e->size, &a, &b) ||
	    (dl = cache_decode_key(sr->key, dk, sizeof(dk))) < 0)
		return false;
	lota_object_id id = {
	    sr->bucket, {dk, (size_t)dl}, {e->etag, e->etag_len}, {e->vid, e->vid_len}, e->size};
	uint64_t ka, kb;
	if (lota_extent_index(e->size, ext_size(ca), a, &ka) < 0 ||
	    lota_extent_index(e->size, ext_size(ca), b, &kb) < 0)
		return false;
	for (uint64_t k = ka; k <= kb; k++) {
		uint64_t first, last;
		lota_hash128 h;
		if (lota_extent_range(e->size, ext_size(ca), k, &first, &last) < 0 ||
		    lota_extent_name(&id, ext_size(ca), k, &h) < 0)
			return false;
		if (last > b)
			last = b;
		if (!lotad_cache__held(ca->store, h, last - first + 1))
			return false;
	}
	return true;
}

void cache_foreign_start(lotad_cache *ca, lotad_conn *c, const lotad_s3req *sr,
                         lotad_auth_result *auth, lota_str vquery, bool no_fill)
{
	const lota_http_request *req = lotad_conn_request(c);
	struct objent e;
	bool held = copy_held(ca, sr, vquery, req, &e);
	const lota_http_header *rh =
	    lota_http_find_header(req->headers, req->num_headers, "range", 5);
	lota_range rg;
	/* The client's own conditional, or a Range no copy can answer (several ranges, a
	 * malformed one): the upstream's answer alone, as for any proxied request. So is a
	 * Cache-Control: no-cache miss (nothing is stored). */
	if (!ca->forward || client_conditional(req) ||
	    (rh && lota_range_parse(rh->value.ptr, rh->value.len, &rg) < 0) || (no_fill && !held)) {
		count(&ca->foreign[F_PROXIED], 1);
		count(no_fill && !held ? &ca->misses : &ca->bypasses, 1);
		ca->proxy(ca->proxy_ud, c, sr, auth, no_fill && !held ? "miss" : "bypass", false);
		return;
	}
	lota_str inm = held ? (lota_str){e.etag, e.etag_len} : (lota_str){NULL, 0};
	ca->forward(ca->forward_ud, c, sr, auth, inm, no_fill);
}

/* The 304: the request is answered from the store like an authorized held-key read
 * (serve.c), with the headers stored with its first extent. */
void lotad_cache_not_modified(void *cache, lotad_conn *c, const lotad_s3req *sr,
                              lotad_auth_result *auth, lota_str inm)
{
	lotad_cache *ca = cache;
	const lota_http_request *req = lotad_conn_request(c);
	bool no_fill = false;
	lota_str vq = {"", 0};
	struct objent e;
	uint64_t a, b, k;
	lotad_store_reader *r = NULL;
	/* The 304 is about the ETag lotad sent: the table must still name that copy (another
	 * answer may have named a newer one meanwhile). */
	if (cache_not_cacheable(req, sr, auth, &no_fill, &vq) ||
	    !cache_objtab_get(ca, sr->bucket, sr->key, vq, &e, false) || e.etag_len != inm.len ||
	    memcmp(e.etag, inm.ptr, inm.len) != 0 || !asked(req, e.size, &a, &b)) {
		/* the copy is no longer known: ask again, without a condition */
		ca->forward(ca->forward_ud, c, sr, auth, (lota_str){NULL, 0}, no_fill);
		return;
	}
	creq *q = cache_creq_new(ca, c, sr, auth, vq, no_fill);
	if (!q)
		return;
	count(&ca->foreign[F_NOT_MODIFIED], 1);
	if (!cache_foreign_cred(ca, &q->auth, &q->fillcred))
		q->no_fill = true; /* nothing can fill a missing extent: it is proxied */
	/* the headers: those stored with the extent of the first byte asked for */
	char dk[4096];
	int dl = cache_decode_key(sr->key, dk, sizeof(dk));
	lota_object_id id = {sr->bucket,
	                     {dk, dl < 0 ? 0 : (size_t)dl},
	                     {e.etag, e.etag_len},
	                     {e.vid, e.vid_len},
	                     e.size};
	uint8_t *key = malloc(LOTA_CACHE_KEY_MAX_LEN);
	int kl = -ENOMEM;
	if (key && dl >= 0 && lota_extent_index(e.size, ext_size(ca), a, &k) == 0)
		kl = lota_extent_key(&id, ext_size(ca), k, key, LOTA_CACHE_KEY_MAX_LEN);
	if (kl < 0 || lotad_store_open(ca->store, lota_cache_key_hash_canonical(key, (size_t)kl),
	                               key, (size_t)kl, &r) < 0) {
		free(key);
		cache_creq_to_proxy(q, "miss"); /* evicted meanwhile: the upstream's answer */
		return;
	}
	free(key);
	lota_str meta = lotad_reader_meta(r);
	/* rhead: the stored headers, then the ETag and version id the views name */
	if (meta.len + e.etag_len + e.vid_len > sizeof(q->rhead)) {
		lotad_reader_close(r);
		cache_creq_to_proxy(q, "miss");
		return;
	}
	memcpy(q->rhead, meta.ptr, meta.len);
	lotad_reader_close(r);
	q->rhead_len = meta.len;
	memcpy(q->rhead + meta.len, e.etag, e.etag_len);
	q->etag = (lota_str){q->rhead + meta.len, e.etag_len};
	memcpy(q->rhead + meta.len + e.etag_len, e.vid, e.vid_len);
	q->vid = (lota_str){e.vid_len ? q->rhead + meta.len + e.etag_len : NULL, e.vid_len};
	q->cl = e.size;
	q->have_cl = true;
	q->status = 200;
	cache_authorized(q);
}

size_t cache_foreign_metrics(char *out, size_t cap, const lotad_cache *ca)
{
#define U(v) ((unsigned long long)atomic_load_explicit(&(v), memory_order_relaxed))
	int n = snprintf(out, cap,
	                 "# HELP lota_cache_foreign_reads_total GET/HEAD of cacheable objects "
	                 "signed with keys lotad does not hold, by the upstream's answer.\n"
	                 "# TYPE lota_cache_foreign_reads_total counter\n"
	                 "lota_cache_foreign_reads_total{answer=\"not_modified\"} %llu\n"
	                 "lota_cache_foreign_reads_total{answer=\"fetched\"} %llu\n"
	                 "lota_cache_foreign_reads_total{answer=\"other\"} %llu\n"
	                 "lota_cache_foreign_reads_total{answer=\"proxied\"} %llu\n",
	                 U(ca->foreign[F_NOT_MODIFIED]), U(ca->foreign[F_FETCHED]),
	                 U(ca->foreign[F_OTHER]), U(ca->foreign[F_PROXIED]));
#undef U
	return n < 0 || (size_t)n >= cap ? 0 : (size_t)n;
}
