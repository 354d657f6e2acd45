/*
 * tee.c - what a foreign-key read's 200/206 (foreign.c) leaves in the store: the body
 * streams to the client through the proxy, and each whole extent it carries is written
 * into the store as it goes (a full 200 stores the whole object; a 206 the extents that
 * lie wholly inside its Content-Range; the parts of extents at its edges are not stored).
 * An extent is published once all its bytes came, single-flight as fills are (one that
 * is cached or being filled elsewhere is skipped); a transfer that stops mid-extent
 * publishes nothing of that extent. The tee follows the client's pace (it is fed the
 * bytes the client was sent), so readers of the same extent on other connections follow
 * it through the store as they follow a fill.
 *
 * With a key to fill with (the client's own when lotad holds it, else fill_credentials)
 * the tee stores nothing itself: once the answer is complete, the extents it touched are
 * filled whole with that key (fill.c), the upstream having just
 * authorized the client; a HEAD pre-stages the object as a held key's does. (The fills
 * start at the end of the answer, outside curl's callbacks, which may not add
 * transfers.) In a cluster this node's own fill chains do not run (extents are filled
 * by their owners, fill.c), so there the tee stores what the answer carries whatever
 * the key: the copy is this node's, as for a key it cannot fill with.
 *
 * The extents are named by the answer's own ETag, size and version id, and the object
 * table learns them, so the next read of the object asks with If-None-Match.
 */
#include "cache/cache-internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <lota/log.h>

typedef struct tee {
	lotad_cache *ca;
	lotad_worker *w;
	objinfo *o;
	bool fill; /* a key to fill with: fill extents first..last at the end, store nothing */
	uint64_t fill_first, fill_last;
	uint64_t pos, last; /* the next byte the body brings, the last it brings */
	uint64_t k;         /* the extent pos is in */
	int kstate;         /* of extent k: 0 not decided yet, 1 being stored, 2 skipped */
	lotad_fill *f;
} tee;

/* The stored headers: the answer's, but Content-Length and Content-Range (the response
 * served from them writes its own). */
size_t lotad_cache__tee_meta(lota_str fields, char *out, size_t cap)
{
	size_t n = 0, i = 0;
	while (i < fields.len) {
		const char *p = fields.ptr + i;
		const char *nl = memchr(p, '\n', fields.len - i);
		size_t len = nl ? (size_t)(nl - p) + 1 : fields.len - i;
		i += len;
		const char *colon = memchr(p, ':', len);
		if (!colon)
			continue;
		lota_str name = {p, (size_t)(colon - p)};
		if (name_is(name, "content-length") || name_is(name, "content-range") ||
		    name_is(name, "x-lota-cache"))
			continue;
		if (n + len > cap)
			return 0; /* too long to keep: none (the served answer has no extra headers) */
		memcpy(out + n, p, len);
		n += len;
	}
	return n;
}

void *lotad_cache_tee_begin(void *cache, lotad_worker *w, const lotad_s3req *sr,
                            const lotad_auth_result *auth, lota_str query, bool is_head,
                            bool no_store, int status, lota_str etag, lota_str version_id,
                            lota_str content_length, lota_str content_range, lota_str fields)
{
	lotad_cache *ca = cache;
	uint64_t first, last, size;
	lota_str vq;
	if (status != 200 && status != 206) {
		count(&ca->foreign[F_OTHER], 1);
		count(&ca->bypasses, 1);
		return NULL;
	}
	count(&ca->foreign[F_FETCHED], 1);
	count(&ca->misses, 1);
	if (!ca->store || !etag.len || !lotad_cache__query_ok(query, &vq))
		return NULL;
	if (status == 206) {
		if (!lotad_cache__parse_content_range(content_range, &first, &last, &size))
			return NULL;
	} else if (parse_u64(content_length, &size) && size) {
		first = 0;
		last = size - 1;
	} else {
		return NULL;
	}
	cache_objtab_note(ca, sr->bucket, sr->key, vq, size, etag, version_id);
	if (size < ca->cfg.min_object_size || no_store)
		return NULL;
	char *meta = malloc(LOTAD_STORE_META_MAX);
	if (!meta)
		return NULL;
	lota_str mv = {meta, lotad_cache__tee_meta(fields, meta, LOTAD_STORE_META_MAX)};
	lotad_auth_result fc;
	bool fill = !ca->cluster && cache_foreign_cred(ca, auth, &fc);
	tee *t = NULL;
	if ((is_head && (!fill || !ca->cfg.prestage_on_head)) || !(t = calloc(1, sizeof(*t))))
		goto out;
	lotad_auth_result none;
	memset(&none, 0, sizeof(none)); /* without a fill credential, the tee signs nothing */
	t->o =
	    cache_obj_new(sr->bucket, sr->key, etag, version_id, vq, fill ? &fc : &none, mv, size);
	if (!t->o) {
		free(t);
		t = NULL;
		goto out;
	}
	t->o->up = sr->up;
	t->ca = ca;
	t->w = w;
	t->fill = fill;
	if (is_head) { /* pre-stage */
		first = 0;
		last = size - 1;
	}
	t->fill_first = cache_ext_of(ca, t->o, first);
	t->fill_last = cache_ext_of(ca, t->o, last);
	t->pos = first;
	t->last = last;
	t->k = cache_ext_of(ca, t->o, first);
out:
	if (fill)
		lotad_auth_result_cleanup(&fc);
	free(meta);
	return t;
}

/* Decide for extent t->k, at byte t->pos: stored when the answer carries all of it. */
static void tee_enter(tee *t)
{
	lotad_cache *ca = t->ca;
	uint64_t ef = cache_ext_first(ca, t->o, t->k), el = cache_ext_last(ca, t->o, t->k);
	uint8_t *key;
	size_t klen;
	lota_hash128 h;
	t->kstate = 2;
	if (t->pos != ef || el > t->last || cache_ext_key(ca, t->o, t->k, &key, &klen, &h) < 0)
		return;
	int rc = lotad_fill_begin(ca->store, key, klen, el - ef + 1,
	                          (const uint8_t *)t->o->meta.ptr, t->o->meta.len, &t->f);
	free(key);
	if (rc < 0) {
		t->f = NULL;
		if (rc != -EEXIST)
			lota_log_debug("tee: extent %" PRIu64 " not stored: %s", t->k,
			               lota_strerror(rc));
		return;
	}
	count(&ca->fills_started, 1);
	t->kstate = 1;
}

static void tee_drop(tee *t)
{
	if (!t->f)
		return;
	count(&t->ca->fills_failed, 1);
	lotad_fill_abort(t->f);
	t->f = NULL;
}

void lotad_cache_tee_write(void *sink, const char *buf, size_t n)
{
	tee *t = sink;
	lotad_cache *ca = t->ca;
	if (t->fill)
		return;
	while (n && t->pos <= t->last) {
		if (!t->kstate)
			tee_enter(t);
		uint64_t el = cache_ext_last(ca, t->o, t->k);
		size_t take = n;
		if (take > el - t->pos + 1)
			take = (size_t)(el - t->pos + 1);
		if (t->f) {
			int rc = lotad_fill_write(t->f, buf, take);
			if (rc < 0) {
				lota_log_warn("tee: extent %" PRIu64 ": %s; nothing is published",
				              t->k, lota_strerror(rc));
				tee_drop(t);
			} else {
				count(&ca->fill_bytes, take);
			}
		}
		t->pos += take;
		buf += take;
		n -= take;
		if (t->pos > el) { /* the extent is over: publish what is whole */
			if (t->f && lotad_fill_written_bytes(t->f) ==
			                el - cache_ext_first(ca, t->o, t->k) + 1) {
				cache_publish(ca, t->f);
				t->f = NULL;
			}
			tee_drop(t);
			t->k++;
			t->kstate = 0;
		}
	}
	if (n) { /* more than the answer announced: nothing more of it is used */
		tee_drop(t);
		t->pos = t->last + 1;
	}
}

void lotad_cache_tee_end(void *sink, bool complete)
{
	tee *t = sink;
	if (!t)
		return;
	/* whole extents were published as they ended; a partial one is not */
	tee_drop(t);
	if (t->fill && complete)
		cache_plan_unref(cache_start_fills(t->ca, t->w, t->o, t->fill_first, t->fill_last));
	cache_obj_unref(t->o);
	free(t);
}
