/*
 * objtab.c - what the cache remembers of objects: the object table (the last size, ETag
 * and version id seen per bucket, key and version query: direct-mapped, OBJ_SLOTS
 * slots), objinfo (what one authorized request learned, shared with its fills) and the
 * geometry, names and keys of an object's extents, which are liblota's (lota/extent.h):
 * lotad, its peers and `lota owner` name an extent the same way.
 */
#include "cache/cache-internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lota/extent.h>
#include <lota/log.h>
#include <lota/placement.h>
#include <lota/sigv4.h>

/* The table's name of an object: by its decoded key, as the store's extents name it, so
 * that every spelling of a key is one object and the table can be rebuilt from the store
 * (cache_objtab_rebuild). */
static lota_hash128 obj_name_decoded(lota_str bucket, lota_str dkey, lota_str vquery)
{
	/* length-prefixed parts, so that no two triples give the same bytes */
	lota_str parts[3] = {bucket, dkey, vquery};
	size_t cap = bucket.len + dkey.len + vquery.len + 3 * 24;
	char *buf = malloc(cap);
	size_t n = 0;
	if (!buf)
		return (lota_hash128){0, 0};
	for (int i = 0; i < 3; i++) {
		n += (size_t)snprintf(buf + n, cap - n, "%zu:", parts[i].len);
		memcpy(buf + n, parts[i].ptr, parts[i].len);
		n += parts[i].len;
	}
	/* a name in memory only (the table's slot), hashed as extent names are */
	lota_hash128 h = lota_cache_key_hash_canonical((const uint8_t *)buf, n);
	free(buf);
	return h;
}

lota_hash128 cache_obj_name(lota_str bucket, lota_str rkey, lota_str vquery)
{
	char dk[4096];
	int dl = cache_decode_key(rkey, dk, sizeof(dk));
	/* a key that does not decode names its extents nothing: its raw bytes name it here */
	return obj_name_decoded(bucket, dl < 0 ? rkey : (lota_str){dk, (size_t)dl}, vquery);
}

static struct objent *obj_slot(lotad_cache *ca, lota_hash128 h)
{
	return &ca->otab[h.lo % OBJ_SLOTS];
}

static void objtab_put(lotad_cache *ca, lota_hash128 h, uint64_t size, lota_str etag, lota_str vid)
{
	if (!ca->otab || etag.len > FIELD_MAX || vid.len > FIELD_MAX)
		return;
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

void cache_objtab_note(lotad_cache *ca, lota_str bucket, lota_str rkey, lota_str vquery,
                       uint64_t size, lota_str etag, lota_str vid)
{
	if (ca->otab && etag.len <= FIELD_MAX && vid.len <= FIELD_MAX)
		objtab_put(ca, cache_obj_name(bucket, rkey, vquery), size, etag, vid);
}

/* Whether a version id can stand in a query as it is (what S3 gives out: letters, digits
 * and a few marks), so that "versionId=<id>" is how clients ask for it. */
static bool vid_plain(lota_str v)
{
	for (size_t i = 0; i < v.len; i++) {
		char c = v.ptr[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.' || c == '~'))
			return false;
	}
	return v.len > 0;
}

/* One extent the store holds: its object as the table would have learned it. Only
 * extents this configuration names the same way count (another extent size named them
 * otherwise: copy_held could never find them). */
static void rebuild_one(void *ud, const lotad_store_object *o)
{
	lotad_cache *ca = ud;
	const lota_cache_key *k = &o->key;
	lota_object_id id = {k->bucket, k->key, k->etag, k->version_id, k->size_bytes};
	lota_hash128 h;
	if (!k->etag.len || k->size_bytes < ca->cfg.min_object_size ||
	    lota_extent_name(&id, ext_size(ca), k->extent_index, &h) < 0 || h.hi != o->name.hi ||
	    h.lo != o->name.lo)
		return;
	/* the object as read without a version query (the latest, as far as lotad knows: the
	 * upstream's answer to If-None-Match says whether it still is) */
	objtab_put(ca, obj_name_decoded(k->bucket, k->key, (lota_str){"", 0}), k->size_bytes,
	           k->etag, k->version_id);
	if (vid_plain(k->version_id) && k->version_id.len < 512) {
		char vq[528];
		int n = snprintf(vq, sizeof(vq), "versionId=%.*s", (int)k->version_id.len,
		                 k->version_id.ptr);
		objtab_put(ca, obj_name_decoded(k->bucket, k->key, (lota_str){vq, (size_t)n}),
		           k->size_bytes, k->etag, k->version_id);
	}
}

int cache_objtab_rebuild(lotad_cache *ca)
{
	if (!ca->otab || !ca->store)
		return 0;
	return lotad_store_objects(ca->store, rebuild_one, ca);
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

/* The name of the extent holding byte `off` of the last version of the object seen here;
 * false when the table does not know the object. */
static bool objtab_extent(lotad_cache *ca, lota_str bucket, lota_str rkey, lota_str vquery,
                          uint64_t off, lota_hash128 *eh)
{
	struct objent e;
	char dk[4096];
	int dl;
	uint64_t k;
	if (!cache_objtab_get(ca, bucket, rkey, vquery, &e, false) ||
	    lota_extent_index(e.size, ca->cfg.extent_size, off, &k) < 0 ||
	    (dl = cache_decode_key(rkey, dk, sizeof(dk))) < 0)
		return false;
	lota_object_id id = {
	    bucket, {dk, (size_t)dl}, {e.etag, e.etag_len}, {e.vid, e.vid_len}, e.size};
	return lota_extent_name(&id, ca->cfg.extent_size, k, eh) == 0;
}

/* Whether the last version of the object seen here has the extent holding byte `off` in
 * the store (published or being filled). */
bool cache_objtab_cached(lotad_cache *ca, lota_str bucket, lota_str rkey, lota_str vquery,
                         uint64_t off)
{
	lota_hash128 eh;
	return ca->store && objtab_extent(ca, bucket, rkey, vquery, off, &eh) &&
	       lotad_store_lookup(ca->store, eh) >= 0;
}

bool cache_objtab_peer_owned(lotad_cache *ca, lota_str bucket, lota_str rkey, lota_str vquery,
                             uint64_t off)
{
	lota_hash128 eh;
	lotad_peer_owner o;
	return ca->cluster && objtab_extent(ca, bucket, rkey, vquery, off, &eh) &&
	       cache_peer_owned(ca, eh, &o);
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

static _Noreturn void ext_broken(const char *what, uint64_t v, uint64_t size)
{
	lota_log_error("cache: %s %" PRIu64 " outside an object of %" PRIu64 " bytes (a bug)", what,
	               v, size);
	abort();
}

uint64_t cache_ext_of(const lotad_cache *ca, const objinfo *o, uint64_t off)
{
	uint64_t k;
	if (lota_extent_index(o->size, ext_size(ca), off, &k) < 0)
		ext_broken("byte", off, o->size);
	return k;
}

uint64_t cache_ext_first(const lotad_cache *ca, const objinfo *o, uint64_t k)
{
	uint64_t first, last;
	if (lota_extent_range(o->size, ext_size(ca), k, &first, &last) < 0)
		ext_broken("extent", k, o->size);
	return first;
}

uint64_t cache_ext_last(const lotad_cache *ca, const objinfo *o, uint64_t k)
{
	uint64_t first, last;
	if (lota_extent_range(o->size, ext_size(ca), k, &first, &last) < 0)
		ext_broken("extent", k, o->size);
	return last;
}

/* The canonical cache key of extent k (malloc'd) and its name: what the store files the
 * extent under and keeps in its header to check on open. */
int cache_ext_key(const lotad_cache *ca, const objinfo *o, uint64_t k, uint8_t **key, size_t *klen,
                  lota_hash128 *h)
{
	lota_object_id id = cache_obj_id(o);
	uint8_t *buf = malloc(LOTA_CACHE_KEY_MAX_LEN);
	if (!buf)
		return -ENOMEM;
	int rc = lota_extent_key(&id, ext_size(ca), k, buf, LOTA_CACHE_KEY_MAX_LEN);
	if (rc < 0) {
		free(buf);
		return rc;
	}
	*key = buf;
	*klen = (size_t)rc;
	*h = lota_cache_key_hash_canonical(buf, (size_t)rc);
	return 0;
}
