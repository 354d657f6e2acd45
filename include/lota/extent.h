/*
 * lota/extent.h - extent geometry and naming: how an object is cut into extents, the
 * byte range of each, which extent holds an offset, and each extent's cache key and name.
 * lotad's store and cache, the peers, the client library and `lota owner` all compute
 * these here, so they agree byte for byte.
 *
 * Geometry. An object of size S bytes, with the cluster's extent size E (> 0), is cut
 * into extents: the whole object is one extent when 0 < S <= E; a larger object is
 * fixed-size chunks of E bytes, the last one shorter when E does not divide S. Extent k
 * holds bytes [k * E, min(S, (k + 1) * E) - 1].
 *
 * A 0-byte object has no extents (count 0): there is no byte to cache or to fetch, and
 * no offset inside it, so every function that takes an extent index or an offset refuses
 * it with -ERANGE. (lotad never caches such an object; a client reads it directly.)
 *
 * Naming. Extent k of an object is identified by the cache key (bucket, key, ETag, size,
 * version id, k) in the canonical form of lota/placement.h; its name is the XXH3-128 of
 * that form (lota_cache_key_hash), written as 32 lowercase hex digits. The object key is
 * the decoded key (the bytes S3 stores, after percent-decoding the request path with
 * lota_uri_decode), so every client's spelling of one key names the same extents.
 *
 * All functions are pure: no allocation, no global state, safe from any thread.
 */
#ifndef LOTA_EXTENT_H
#define LOTA_EXTENT_H

#include <lota/common.h>
#include <lota/placement.h>

#ifdef __cplusplus
extern "C" {
#endif

/* lotad's default extent_size (64 MiB). */
#define LOTA_EXTENT_SIZE_DEFAULT (64ull << 20)

/* One version of one object. All views are borrowed for the duration of a call. */
typedef struct lota_object_id {
	lota_str bucket;
	lota_str key;        /* decoded object key */
	lota_str etag;       /* exact ETag header value, quotes included */
	lota_str version_id; /* {NULL, 0} or "" when the object has no version id */
	uint64_t size_bytes; /* size of the whole object */
} lota_object_id;

/*
 * Number of extents of an object of size_bytes with extents of extent_size_bytes: 0 for a
 * 0-byte object, 1 when size_bytes <= extent_size_bytes, else ceil(size / extent size).
 * Returns 0 too for extent_size_bytes == 0 (no valid geometry), which the functions
 * below refuse with -EINVAL.
 */
LOTA_API uint64_t lota_extent_count(uint64_t size_bytes, uint64_t extent_size_bytes);

/*
 * Byte range of extent `index`: *first and *last (inclusive) are offsets in the object.
 * Returns 0; -EINVAL for extent_size_bytes == 0 or a NULL output; -ERANGE when index >=
 * lota_extent_count() (always for a 0-byte object). Outputs are untouched on failure.
 */
LOTA_API int lota_extent_range(uint64_t size_bytes, uint64_t extent_size_bytes, uint64_t index,
                               uint64_t *first, uint64_t *last) LOTA_WUR;

/*
 * Index of the extent holding byte `offset`. Returns 0; -EINVAL for extent_size_bytes ==
 * 0 or a NULL output; -ERANGE when offset >= size_bytes (always for a 0-byte object).
 */
LOTA_API int lota_extent_index(uint64_t size_bytes, uint64_t extent_size_bytes, uint64_t offset,
                               uint64_t *index) LOTA_WUR;

/*
 * The canonical cache key of extent `index` of obj (lota/placement.h) into buf (capacity
 * cap; at most LOTA_CACHE_KEY_MAX_LEN bytes are ever needed). Returns its length, or
 * -EINVAL (NULL obj, extent_size_bytes == 0, a NULL view with a length), -ERANGE (index
 * out of range as above), LOTA_E_TOO_LARGE (a field above LOTA_CACHE_KEY_FIELD_MAX),
 * -ENOBUFS (cap too small; nothing is written). The name of those bytes is
 * lota_cache_key_hash_canonical() of them, equal to lota_extent_name().
 */
LOTA_API int lota_extent_key(const lota_object_id *obj, uint64_t extent_size_bytes, uint64_t index,
                             uint8_t *buf, size_t cap) LOTA_WUR;

/* The name (XXH3-128 of the canonical key) of extent `index` of obj. Returns 0 or the
 * errors of lota_extent_key() other than -ENOBUFS. *out is untouched on failure. */
LOTA_API int lota_extent_name(const lota_object_id *obj, uint64_t extent_size_bytes, uint64_t index,
                              lota_hash128 *out) LOTA_WUR;

/* The same name as 32 lowercase hex digits and a NUL (out holds 33 bytes; set to "" on
 * failure). */
LOTA_API int lota_extent_name_hex(const lota_object_id *obj, uint64_t extent_size_bytes,
                                  uint64_t index, char out[LOTA_HASH128_HEX_LEN + 1]) LOTA_WUR;

#ifdef __cplusplus
}
#endif
#endif
