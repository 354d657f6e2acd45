/*
 * preread.c - the first bytes of a likely hit, read while the authorizing HEAD is in
 * flight (issue 14): the object table names the version last seen, so its first extent
 * of the range is opened and its first PREREAD_BYTES read (and, sealed, verified and
 * decrypted) into a buffer of the request. When the HEAD's 200 arrives the response
 * head goes out and these bytes right after it; the first byte leaves when the 200
 * arrives, not an open and a read later.
 *
 * Correctness does not move: nothing read here is sent before the upstream's 200 for
 * this client, and then only when that 200 names exactly the version read (same ETag,
 * size and version id: the extent's cache key is made of them, and the store checked the
 * file against that key on open) and the range starts where the pre-read did. Anything
 * else (a 403, 404, 304, 412, a changed ETag, a HEAD of the client, a range resolved
 * elsewhere, a request that ends) drops the buffer, wiped, and closes the reader:
 * lota_cache_preread_total{result="used"|"dropped"} counts both. On loopback the answer
 * may come while curl is still sending the HEAD (curl reads right after its send): then
 * nothing is pre-read (result="answered_first").
 */
#include "cache/cache-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define PREREAD_BYTES (128u << 10) /* two sealed blocks of the default size */

static bool same(lota_str a, lota_str b)
{
	return a.len == b.len && (!a.len || memcmp(a.ptr, b.ptr, a.len) == 0);
}

void cache_preread_drop(creq *q)
{
	bool unused = q->pre_r != NULL; /* not taken by the answer: counted as dropped */
	if (q->pre_buf) {
		explicit_bzero(q->pre_buf, q->pre_len);
		free(q->pre_buf);
	}
	q->pre_buf = NULL;
	q->pre_len = q->pre_done = 0;
	lotad_reader_close(q->pre_r);
	q->pre_r = NULL;
	cache_obj_unref(q->pre_o);
	q->pre_o = NULL;
	if (unused)
		count(&q->ca->preread[1], 1);
}

void cache_preread_start(creq *q)
{
	lotad_cache *ca = q->ca;
	struct objent e;
	if (ca->store && !q->is_head && q->xkind != X_AUTH) {
		/* the upstream answered while curl was still sending (it reads right after):
		 * nothing to overlap any more */
		count(&ca->preread[2], 1);
		return;
	}
	if (!ca->store || q->is_head || !q->c ||
	    !cache_objtab_get(ca, q->sr.bucket, q->sr.key, q->vquery, &e, false) ||
	    e.size < ca->cfg.min_object_size || !e.etag_len)
		return;
	/* the range as it resolves against the version last seen */
	const lota_http_request *req = lotad_conn_request(q->c);
	const lota_http_header *rh =
	    lota_http_find_header(req->headers, req->num_headers, "range", 5);
	uint64_t a = 0, b = e.size - 1;
	lota_range rg;
	if (rh && (lota_range_parse(rh->value.ptr, rh->value.len, &rg) != 0 ||
	           lota_range_resolve(&rg, e.size, &a, &b) < 0))
		return;
	objinfo *o = cache_obj_new(q->sr.bucket, q->sr.key, (lota_str){e.etag, e.etag_len},
	                           (lota_str){e.vid, e.vid_len}, q->vquery, &q->auth,
	                           (lota_str){"", 0}, e.size);
	if (!o)
		return;
	uint64_t k = cache_ext_of(ca, o, a);
	uint64_t first = cache_ext_first(ca, o, k), last = cache_ext_last(ca, o, k);
	uint8_t *key = NULL;
	size_t klen;
	lota_hash128 h;
	lotad_store_reader *r = NULL;
	char *buf = NULL;
	if (cache_ext_key(ca, o, k, &key, &klen, &h) < 0 ||
	    lotad_store_open(ca->store, h, key, klen, &r) < 0)
		goto out;
	/* only a complete extent: a growing fill is read as it grows, by the pump */
	if (lotad_reader_readable(r) < (int64_t)lotad_reader_length(r))
		goto out;
	uint64_t n = (last < b ? last : b) - a + 1;
	if (n > PREREAD_BYTES)
		n = PREREAD_BYTES;
	if (!(buf = malloc((size_t)n)))
		goto out;
	ssize_t got = lotad_reader_read(r, a - first, buf, (size_t)n);
	if (got <= 0)
		goto out;
	q->pre_r = r;
	q->pre_o = o;
	q->pre_k = k;
	q->pre_a = a;
	q->pre_buf = buf;
	q->pre_len = (size_t)got;
	r = NULL;
	o = NULL;
	buf = NULL;
out:
	free(key);
	free(buf);
	lotad_reader_close(r);
	cache_obj_unref(o);
}

bool cache_preread_take(creq *q)
{
	const objinfo *p = q->pre_o;
	if (!q->pre_r)
		return false;
	if (q->r || q->is_head || q->a != q->pre_a || p->size != q->o->size ||
	    !same(p->etag, q->o->etag) || !same(p->vid, q->o->vid)) {
		cache_preread_drop(q); /* another version, range or request: nothing of it */
		return false;
	}
	q->r = q->pre_r;
	q->r_k = q->pre_k;
	if (q->ca->cluster) /* what open_extent would have asked of the owners */
		cache_cluster_readahead(q, q->r_k);
	q->pre_r = NULL;
	cache_obj_unref(q->pre_o);
	q->pre_o = NULL;
	count(&q->ca->preread[0], 1);
	return true;
}

int cache_preread_send(creq *q)
{
	if (!q->pre_buf)
		return 0;
	if (q->a != q->pre_a + q->pre_done) { /* cannot happen: the pump starts there */
		cache_preread_drop(q);
		return 0;
	}
	/* as much as the output buffer takes now (client_buffer may be below pre_len) */
	size_t n = q->pre_len - q->pre_done, room = lotad_conn_out_room(q->c);
	if (n > room)
		n = room;
	if (!n) {
		lotad_conn_want_drain(q->c);
		return 1;
	}
	if (cache_flush_head(q) < 0 || lotad_conn_resp_body(q->c, q->pre_buf + q->pre_done, n) < 0)
		return -1;
	count(&q->ca->served_cache, n);
	q->a += n;
	q->pre_done += n;
	if (q->pre_done == q->pre_len) {
		explicit_bzero(q->pre_buf, q->pre_len);
		free(q->pre_buf);
		q->pre_buf = NULL;
		q->pre_len = q->pre_done = 0;
	}
	return 0;
}
