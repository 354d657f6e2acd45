/*
 * objtab.c - what the cache remembers of objects: the object table (the last size, ETag
 * and version id seen per bucket, key and version query: direct-mapped, OBJ_SLOTS
 * slots), objinfo (what one authorized request learned, shared with its fills) and the
 * names and keys of an object's extents.
 */
#include "cache/cache-internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lota/placement.h>
#include <lota/sigv4.h>

lota_hash128 cache_obj_name(lota_str bucket, lota_str rkey, lota_str vquery)
{
	/* length-prefixed parts, so that no two triples give the same bytes */
	lota_str parts[3] = {bucket, rkey, vquery};
	size_t cap = bucket.len + rkey.len + vquery.len + 3 * 24;
	char *buf = malloc(cap);
	size_t n = 0;
	if (!buf)
		return (lota_hash128){0, 0};
	for (int i = 0; i < 3; i++) {
		n += (size_t)snprintf(buf + n, cap - n, "%zu:", parts[i].len);
		memcpy(buf + n, parts[i].ptr, parts[i].len);
		n += parts[i].len;
	}
	lota_hash128 h = lotad_store_hash_key((const uint8_t *)buf, n);
	free(buf);
	return h;
}

static struct objent *obj_slot(lotad_cache *ca, lota_hash128 h)
{
	return &ca->otab[h.lo % OBJ_SLOTS];
}

void cache_objtab_note(lotad_cache *ca, lota_str bucket, lota_str rkey, lota_str vquery,
                       uint64_t size, lota_str etag, lota_str vid)
{
	if (!ca->otab || etag.len > FIELD_MAX || vid.len > FIELD_MAX)
		return;
	lota_hash128 h = cache_obj_name(bucket, rkey, vquery);
	pthread_mutex_lock(&ca->mu);
	struct objent *e = obj_slot(ca, h);
	e->name = h;
	e->used = true;
	e->size = size;
	e->seen_ms = (int64_t)lotad_mono_ms();
	e->etag_len = (uint16_t)etag.len;
	if (etag.len)
		memcpy(e->etag, etag.ptr, etag.len);
	e->vid_len = (uint16_t)vid.len;
	if (vid.len)
		memcpy(e->vid, vid.ptr, vid.len);
	pthread_mutex_unlock(&ca->mu);
}

/* A copy of what the table remembers of the object (false when nothing); forget: drop it
 * from the table as well. */
bool cache_objtab_get(lotad_cache *ca, lota_str bucket, lota_str rkey, lota_str vquery,
                      struct objent *out, bool forget)
{
	if (!ca->otab)
		return false;
	lota_hash128 h = cache_obj_name(bucket, rkey, vquery);
	pthread_mutex_lock(&ca->mu);
	struct objent *e = obj_slot(ca, h);
	bool found = e->used && e->name.hi == h.hi && e->name.lo == h.lo;
	if (found) {
		*out = *e;
		e->used = !forget;
	}
	pthread_mutex_unlock(&ca->mu);
	return found;
}

/* Whether the object was seen below the threshold a moment ago. */
bool cache_objtab_small(lotad_cache *ca, lota_str bucket, lota_str rkey, lota_str vquery)
{
	struct objent e;
	return cache_objtab_get(ca, bucket, rkey, vquery, &e, false) &&
	       e.size < ca->cfg.min_object_size &&
	       (int64_t)lotad_mono_ms() - e.seen_ms < SMALL_TTL_MS;
}

/* The decoded object key (cache keys use it, so that every client's spelling of one key
 * names the same extents). */
int cache_decode_key(lota_str rkey, char *out, size_t cap)
{
	return lota_uri_decode(rkey.ptr, rkey.len, out, cap);
}

/* The name of extent k of an object (bucket, decoded key, ETag, version id, size). */
int cache_ext_hash(lota_str bucket, lota_str dkey, lota_str etag, lota_str vid, uint64_t size,
                   uint64_t k, lota_hash128 *h)
{
	lota_cache_key ck = {
	    .bucket = bucket,
	    .key = dkey,
	    .etag = etag,
	    .version_id = vid,
	    .size_bytes = size,
	    .extent_index = k,
	};
	return lota_cache_key_hash(&ck, h);
}

/* Whether the last version of the object seen here has the extent holding byte `off` in
 * the store (published or being filled). */
bool cache_objtab_cached(lotad_cache *ca, lota_str bucket, lota_str rkey, lota_str vquery,
                         uint64_t off)
{
	struct objent e;
	char dk[4096];
	int dl;
	lota_hash128 eh;
	if (!cache_objtab_get(ca, bucket, rkey, vquery, &e, false) || off >= e.size ||
	    (dl = cache_decode_key(rkey, dk, sizeof(dk))) < 0 ||
	    cache_ext_hash(bucket, (lota_str){dk, (size_t)dl}, (lota_str){e.etag, e.etag_len},
	                   (lota_str){e.vid, e.vid_len}, e.size, off / ca->cfg.extent_size,
	                   &eh) < 0)
		return false;
	return lotad_store_lookup(ca->store, eh) >= 0;
}

objinfo *cache_obj_new(lota_str bucket, lota_str rkey, lota_str etag, lota_str vid, lota_str vquery,
                       const lotad_auth_result *a, lota_str meta, uint64_t size)
{
	char dk[4096];
	int dl = cache_decode_key(rkey, dk, sizeof(dk));
	if (dl < 0)
		return NULL;
	if (meta.len > LOTAD_STORE_META_MAX)
		meta = (lota_str){"", 0};
	lota_str parts[] = {bucket, rkey, {dk, (size_t)dl}, etag,          vid,
	                    vquery, meta, a->access_key,    a->secret_key, a->session_token};
	size_t total = 0;
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
		total += parts[i].len;
	objinfo *o = calloc(1, sizeof(*o) + total + 1);
	if (!o)
		return NULL;
	lota_str *dst[] = {&o->bucket,
	                   &o->rkey,
	                   &o->dkey,
	                   &o->etag,
	                   &o->vid,
	                   &o->vquery,
	                   &o->meta,
	                   &o->cred.access_key,
	                   &o->cred.secret_key,
	                   &o->cred.session_token};
	char *p = o->buf;
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		if (parts[i].len)
			memcpy(p, parts[i].ptr, parts[i].len);
		*dst[i] = (lota_str){p, parts[i].len};
		p += parts[i].len;
	}
	o->buf_len = total;
	o->size = size;
	o->cred.mode = LOTAD_AUTH_RESIGN;
	o->cred.claim.form = LOTA_SIGV4_FORM_HEADER;
	atomic_init(&o->refs, 1);
	return o;
}

objinfo *cache_obj_ref(objinfo *o)
{
	atomic_fetch_add(&o->refs, 1);
	return o;
}

void cache_obj_unref(objinfo *o)
{
	if (!o || atomic_fetch_sub(&o->refs, 1) != 1)
		return;
	explicit_bzero(o->buf, o->buf_len);
	free(o);
}

/* The canonical cache key of extent k (malloc'd) and its hash. */
int cache_ext_key(const objinfo *o, uint64_t k, uint8_t **key, size_t *klen, lota_hash128 *h)
{
	lota_cache_key ck = {
	    .bucket = o->bucket,
	    .key = o->dkey,
	    .etag = o->etag,
	    .version_id = o->vid,
	    .size_bytes = o->size,
	    .extent_index = k,
	};
	size_t n = lota_cache_key_canonical_len(&ck);
	uint8_t *buf = malloc(n ? n : 1);
	if (!buf)
		return -ENOMEM;
	int rc = lota_cache_key_canonical(&ck, buf, n);
	if (rc < 0) {
		free(buf);
		return rc;
	}
	*key = buf;
	*klen = (size_t)rc;
	*h = lotad_store_hash_key(buf, (size_t)rc);
	return 0;
}
