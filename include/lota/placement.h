/*
 * lota/placement.h - the canonical cache key of an extent, its 128-bit XXH3 name, and
 * weighted rendezvous (HRW) placement of extents onto cluster nodes.
 *
 * Cache key. An extent is identified by (bucket, key, ETag, size, version id, extent
 * index). Its canonical byte form is
 *
 *   "LOTACK1\n"                                  8 bytes, the format tag
 *   u32be len | bucket bytes
 *   u32be len | key bytes
 *   u32be len | etag bytes
 *   u32be len | version id bytes                 (length 0 when there is none)
 *   u64be size_bytes
 *   u64be extent_index
 *
 * Every variable field is length-prefixed and the fields come in a fixed order, so two
 * different tuples never give the same bytes. No field is normalised: the ETag is the
 * exact header value (quotes included), the key the exact (unescaped) object key bytes.
 * The name of an extent is XXH3-128 (seed 0) of those bytes; as text, 32 lowercase hex
 * digits of the canonical big-endian form (high 64 bits first). Both are stable across
 * platforms and releases: the golden vectors in tests/data/placement/ pin them.
 *
 * Placement. Each node has an id (non-empty bytes) and a weight (finite, > 0). For an
 * extent name h, node i scores
 *     x_i = XXH3_64(the 16 canonical bytes of h, seed = XXH3_64(id_i, seed 0))
 *     u_i = ((x_i >> 11) + 0.5) / 2^53
 *     score_i = -weight_i / ln(u_i)
 * u_i is uniform in the open interval (0, 1), so score_i is finite and > 0. Nodes are
 * ranked by score, highest first; equal scores are ordered by id hash, then id bytes, so
 * the order never depends on the order in which nodes were added. A node's score depends
 * only on itself and the key: removing a node moves only the extents it owned, adding one
 * moves only the extents it now wins (about weight / total weight of them).
 *
 * Thread-safety: a lota_placement is not locked. Build it (add/remove) from one thread;
 * afterwards any number of threads may call the const functions concurrently. Rebuild a
 * new object (and swap pointers under the caller's own scheme) when membership changes.
 */
#ifndef LOTA_PLACEMENT_H
#define LOTA_PLACEMENT_H

#include <lota/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Caps. A field or id above its cap is refused with LOTA_E_TOO_LARGE. */
#define LOTA_CACHE_KEY_FIELD_MAX 4096u /* bytes per bucket / key / etag / version id */
#define LOTA_CACHE_KEY_MAX_LEN   (8u + 4u * (4u + LOTA_CACHE_KEY_FIELD_MAX) + 16u)
#define LOTA_PLACEMENT_MAX_NODES 1024u
#define LOTA_PLACEMENT_ID_MAX    255u /* bytes of a node id */
#define LOTA_HASH128_HEX_LEN     32u

/* The identity of one cached extent. All views are borrowed for the duration of a call. */
typedef struct lota_cache_key {
	lota_str bucket;
	lota_str key;
	lota_str etag;
	lota_str version_id; /* {NULL, 0} or "" when the object has no version id */
	uint64_t size_bytes; /* size of the whole object */
	uint64_t extent_index;
} lota_cache_key;

/* A 128-bit hash: hi is the first 64 bits of the canonical (big-endian) form. */
typedef struct lota_hash128 {
	uint64_t hi;
	uint64_t lo;
} lota_hash128;

/*
 * Write the canonical form of `k` into buf (capacity cap). Returns the length written,
 * LOTA_E_TOO_LARGE when a field exceeds LOTA_CACHE_KEY_FIELD_MAX, -EINVAL for a NULL
 * pointer with a non-zero length, or -ENOBUFS when cap is too small (nothing is written;
 * lota_cache_key_canonical_len() tells the size needed, at most LOTA_CACHE_KEY_MAX_LEN).
 */
LOTA_API int lota_cache_key_canonical(const lota_cache_key *k, uint8_t *buf, size_t cap) LOTA_WUR;
LOTA_API size_t lota_cache_key_canonical_len(const lota_cache_key *k);

/* XXH3-128 of the canonical form. Returns 0, or the errors of lota_cache_key_canonical()
 * other than -ENOBUFS. */
LOTA_API int lota_cache_key_hash(const lota_cache_key *k, lota_hash128 *out) LOTA_WUR;
/* XXH3-128 (seed 0) of bytes that are already a canonical key, e.g. the key kept in a
 * store file's header or made by lota_extent_key(): equal to lota_cache_key_hash() of the
 * key they encode. The bytes are not checked; len 0 is allowed (key may then be NULL). */
LOTA_API lota_hash128 lota_cache_key_hash_canonical(const uint8_t *key, size_t len);

/* Format as 32 lowercase hex digits plus a NUL (out must hold 33 bytes). */
LOTA_API void lota_hash128_format(lota_hash128 h, char out[LOTA_HASH128_HEX_LEN + 1]);
/* Parse exactly 32 hex digits (either case). Returns 0 or -EINVAL. */
LOTA_API int lota_hash128_parse(const char *s, size_t len, lota_hash128 *out) LOTA_WUR;

typedef struct lota_placement lota_placement;

/* An empty node set. NULL only on allocation failure. */
LOTA_API lota_placement *lota_placement_new(void);
LOTA_API void lota_placement_free(lota_placement *p);

/*
 * Add a node. Returns 0; -EINVAL for an empty id or a weight that is not finite and > 0;
 * LOTA_E_TOO_LARGE for an id above LOTA_PLACEMENT_ID_MAX or a set already holding
 * LOTA_PLACEMENT_MAX_NODES; LOTA_E_PLACEMENT_DUP_NODE when the id is present; -ENOMEM.
 * The id is copied.
 */
LOTA_API int lota_placement_add_node(lota_placement *p, const char *id, size_t id_len,
                                     double weight) LOTA_WUR;
/* Remove a node by id. Returns 0 or -ENOENT. Node indices after it shift down by one. */
LOTA_API int lota_placement_remove_node(lota_placement *p, const char *id, size_t id_len) LOTA_WUR;

/* Number of nodes, and a node's id / weight by index (0 <= index < count). Indices are
 * stable until the next add or remove. The id view is owned by p. */
LOTA_API size_t lota_placement_count(const lota_placement *p);
LOTA_API lota_str lota_placement_node_id(const lota_placement *p, size_t index);
LOTA_API double lota_placement_node_weight(const lota_placement *p, size_t index);
/* Index of the node with this id, or -ENOENT. */
LOTA_API int lota_placement_find(const lota_placement *p, const char *id, size_t id_len);

/*
 * Rank the nodes for an extent: write the indices of the min(n, count) best candidates,
 * best first, into out. Returns how many were written, or LOTA_E_PLACEMENT_NO_NODES when
 * the set is empty, or -EINVAL for n == 0 / NULL out.
 */
LOTA_API int lota_placement_rank(const lota_placement *p, lota_hash128 key_hash, size_t *out,
                                 size_t n) LOTA_WUR;
/* The first candidate's index (>= 0), or LOTA_E_PLACEMENT_NO_NODES. */
LOTA_API int lota_placement_owner(const lota_placement *p, lota_hash128 key_hash) LOTA_WUR;

/* The score of node `index` for key_hash (for tests and diagnostics). */
LOTA_API double lota_placement_score(const lota_placement *p, size_t index, lota_hash128 key_hash);

#ifdef __cplusplus
}
#endif
#endif
