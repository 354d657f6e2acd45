/*
 * placement.c - canonical cache keys, their XXH3-128 names, and weighted rendezvous
 * hashing (see lota/placement.h for the exact formulas, which are a stable format).
 *
 * Invariants: a lota_placement holds at most LOTA_PLACEMENT_MAX_NODES nodes with distinct,
 * non-empty ids and finite weights > 0; each node caches XXH3_64 of its id (its seed).
 * Ranking allocates nothing and only reads the object, so concurrent readers are safe.
 * Nothing depends on pointer values, the order of insertion, or randomness.
 *
 * The natural logarithm of the score is computed here with +, -, *, / only (IEEE-754
 * rounds those exactly the same everywhere) instead of libm's log(), whose last bit may
 * differ between C libraries: placement must agree bit for bit on every node.
 */
#include <errno.h>
#include <float.h>
#include <stdlib.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <lota/placement.h>

#include "crypto-internal.h"

static const char key_tag[8] = {'L', 'O', 'T', 'A', 'C', 'K', '1', '\n'};

struct node {
	char *id;
	size_t id_len;
	double weight;
	uint64_t seed; /* XXH3_64 of the id */
};

struct lota_placement {
	struct node *nodes;
	size_t count, cap;
};

/* ---- cache key ---------------------------------------------------------------------- */

static int check_field(lota_str f)
{
	if (f.len && !f.ptr)
		return -EINVAL;
	if (f.len > LOTA_CACHE_KEY_FIELD_MAX)
		return LOTA_E_TOO_LARGE;
	return 0;
}

static int check_key(const lota_cache_key *k)
{
	int rc;
	if (!k)
		return -EINVAL;
	if ((rc = check_field(k->bucket)) || (rc = check_field(k->key)) ||
	    (rc = check_field(k->etag)) || (rc = check_field(k->version_id)))
		return rc;
	return 0;
}

size_t lota_cache_key_canonical_len(const lota_cache_key *k)
{
	return sizeof(key_tag) + 4 * 4 + k->bucket.len + k->key.len + k->etag.len +
	       k->version_id.len + 16;
}

static uint8_t *put_be(uint8_t *p, uint64_t v, int bytes)
{
	for (int i = bytes - 1; i >= 0; i--)
		*p++ = (uint8_t)(v >> (8 * i));
	return p;
}

static uint8_t *put_field(uint8_t *p, lota_str f)
{
	p = put_be(p, f.len, 4);
	if (f.len)
		memcpy(p, f.ptr, f.len);
	return p + f.len;
}

int lota_cache_key_canonical(const lota_cache_key *k, uint8_t *buf, size_t cap)
{
	int rc = check_key(k);
	if (rc)
		return rc;
	size_t need = lota_cache_key_canonical_len(k);
	if (!buf || cap < need)
		return -ENOBUFS;
	uint8_t *p = buf;
	memcpy(p, key_tag, sizeof(key_tag));
	p += sizeof(key_tag);
	p = put_field(p, k->bucket);
	p = put_field(p, k->key);
	p = put_field(p, k->etag);
	p = put_field(p, k->version_id);
	p = put_be(p, k->size_bytes, 8);
	p = put_be(p, k->extent_index, 8);
	return (int)(p - buf);
}

/* Same bytes as lota_cache_key_canonical(), streamed so no buffer is needed. */
static void update_field(XXH3_state_t *st, lota_str f)
{
	uint8_t len[4];
	put_be(len, f.len, 4);
	XXH3_128bits_update(st, len, sizeof(len));
	if (f.len)
		XXH3_128bits_update(st, f.ptr, f.len);
}

int lota_cache_key_hash(const lota_cache_key *k, lota_hash128 *out)
{
	int rc = check_key(k);
	if (rc)
		return rc;
	if (!out)
		return -EINVAL;
	XXH3_state_t st;
	uint8_t tail[16];
	if (XXH3_128bits_reset(&st) != XXH_OK)
		return LOTA_E_INTERNAL;
	XXH3_128bits_update(&st, key_tag, sizeof(key_tag));
	update_field(&st, k->bucket);
	update_field(&st, k->key);
	update_field(&st, k->etag);
	update_field(&st, k->version_id);
	put_be(put_be(tail, k->size_bytes, 8), k->extent_index, 8);
	XXH3_128bits_update(&st, tail, sizeof(tail));
	XXH128_hash_t h = XXH3_128bits_digest(&st);
	out->hi = h.high64;
	out->lo = h.low64;
	return 0;
}

lota_hash128 lota_cache_key_hash_canonical(const uint8_t *key, size_t len)
{
	XXH128_hash_t h = XXH3_128bits(len ? (const void *)key : (const void *)"", len);
	return (lota_hash128){.hi = h.high64, .lo = h.low64};
}

void lota_hash128_format(lota_hash128 h, char out[LOTA_HASH128_HEX_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	for (int i = 0; i < 16; i++) {
		out[i] = hex[(h.hi >> (60 - 4 * i)) & 0xf];
		out[16 + i] = hex[(h.lo >> (60 - 4 * i)) & 0xf];
	}
	out[LOTA_HASH128_HEX_LEN] = '\0';
}

int lota_hash128_parse(const char *s, size_t len, lota_hash128 *out)
{
	uint64_t v[2] = {0, 0};
	if (!s || !out || len != LOTA_HASH128_HEX_LEN)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		int d = lota__hex_value((unsigned char)s[i]);
		if (d < 0)
			return -EINVAL;
		v[i / 16] = (v[i / 16] << 4) | (uint64_t)d;
	}
	out->hi = v[0];
	out->lo = v[1];
	return 0;
}

/* ---- rendezvous placement ----------------------------------------------------------- */

lota_placement *lota_placement_new(void)
{
	return calloc(1, sizeof(lota_placement));
}

void lota_placement_free(lota_placement *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->count; i++)
		free(p->nodes[i].id);
	free(p->nodes);
	free(p);
}

int lota_placement_find(const lota_placement *p, const char *id, size_t id_len)
{
	if (!p || (id_len && !id))
		return -EINVAL;
	for (size_t i = 0; i < p->count; i++)
		if (p->nodes[i].id_len == id_len && memcmp(p->nodes[i].id, id, id_len) == 0)
			return (int)i;
	return -ENOENT;
}

int lota_placement_add_node(lota_placement *p, const char *id, size_t id_len, double weight)
{
	if (!p || !id || id_len == 0 || !(weight > 0) || weight > DBL_MAX)
		return -EINVAL;
	if (id_len > LOTA_PLACEMENT_ID_MAX || p->count >= LOTA_PLACEMENT_MAX_NODES)
		return LOTA_E_TOO_LARGE;
	if (lota_placement_find(p, id, id_len) >= 0)
		return LOTA_E_PLACEMENT_DUP_NODE;
	if (p->count == p->cap) {
		size_t ncap = p->cap ? p->cap * 2 : 8;
		struct node *nn = realloc(p->nodes, ncap * sizeof(*nn));
		if (!nn)
			return -ENOMEM;
		p->nodes = nn;
		p->cap = ncap;
	}
	char *copy = malloc(id_len + 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, id, id_len);
	copy[id_len] = '\0';
	p->nodes[p->count++] = (struct node){copy, id_len, weight, XXH3_64bits(id, id_len)};
	return 0;
}

int lota_placement_remove_node(lota_placement *p, const char *id, size_t id_len)
{
	int i = lota_placement_find(p, id, id_len);
	if (i < 0)
		return i;
	free(p->nodes[i].id);
	memmove(&p->nodes[i], &p->nodes[i + 1], (p->count - (size_t)i - 1) * sizeof(p->nodes[0]));
	p->count--;
	return 0;
}

size_t lota_placement_count(const lota_placement *p)
{
	return p ? p->count : 0;
}

lota_str lota_placement_node_id(const lota_placement *p, size_t index)
{
	if (!p || index >= p->count)
		return (lota_str){NULL, 0};
	return (lota_str){p->nodes[index].id, p->nodes[index].id_len};
}

double lota_placement_node_weight(const lota_placement *p, size_t index)
{
	if (!p || index >= p->count)
		return 0;
	return p->nodes[index].weight;
}

#ifdef __clang__
#pragma STDC FP_CONTRACT OFF /* no fused multiply-add: same rounding on every CPU */
#endif

/* ln(u) for a normal double u in (0, 1): u = m * 2^e with m in (sqrt(1/2), sqrt(2)],
 * ln(m) = 2 atanh(t), t = (m - 1) / (m + 1), |t| < 0.172, by its odd series. */
static double ln_unit(double u)
{
	static const double ln2_hi = 6.93147180369123816490e-01; /* high bits of ln 2 */
	static const double ln2_lo = 1.90821492927058770002e-10;
	uint64_t bits;
	double m;
	memcpy(&bits, &u, sizeof(bits));
	int e = (int)((bits >> 52) & 0x7ff) - 1023;
	bits = (bits & 0x000fffffffffffffull) | 0x3ff0000000000000ull;
	memcpy(&m, &bits, sizeof(m));
	if (m > 1.41421356237309504880) {
		m *= 0.5;
		e++;
	}
	double t = (m - 1.0) / (m + 1.0), t2 = t * t, s = 0.0;
	for (int k = 12; k >= 0; k--)
		s = s * t2 + 1.0 / (double)(2 * k + 1);
	return (double)e * ln2_hi + ((double)e * ln2_lo + 2.0 * t * s);
}

static double node_score(const struct node *n, const uint8_t kh[16])
{
	uint64_t x = XXH3_64bits_withSeed(kh, 16, n->seed);
	/* 53 random bits, centred in their cell: strictly inside (0, 1). */
	double u = ((double)(x >> 11) + 0.5) * (1.0 / 9007199254740992.0);
	return -n->weight / ln_unit(u);
}

static void key_bytes(lota_hash128 h, uint8_t out[16])
{
	put_be(put_be(out, h.hi, 8), h.lo, 8);
}

double lota_placement_score(const lota_placement *p, size_t index, lota_hash128 key_hash)
{
	uint8_t kh[16];
	if (!p || index >= p->count)
		return 0;
	key_bytes(key_hash, kh);
	return node_score(&p->nodes[index], kh);
}

/* Whether (sa, a) ranks strictly before (sb, b). A total order on distinct nodes. */
static int before(double sa, const struct node *a, double sb, const struct node *b)
{
	if (sa != sb)
		return sa > sb;
	if (a->seed != b->seed)
		return a->seed < b->seed;
	size_t m = a->id_len < b->id_len ? a->id_len : b->id_len;
	int c = memcmp(a->id, b->id, m);
	if (c)
		return c < 0;
	return a->id_len < b->id_len;
}

int lota_placement_rank(const lota_placement *p, lota_hash128 key_hash, size_t *out, size_t n)
{
	double best[LOTA_PLACEMENT_MAX_NODES];
	uint8_t kh[16];
	if (!p || !out || n == 0)
		return -EINVAL;
	if (p->count == 0)
		return LOTA_E_PLACEMENT_NO_NODES;
	if (n > p->count)
		n = p->count;
	key_bytes(key_hash, kh);
	/* Keep the n best seen so far in out/best, sorted; insert each node in turn. */
	size_t have = 0;
	for (size_t i = 0; i < p->count; i++) {
		const struct node *nd = &p->nodes[i];
		double s = node_score(nd, kh);
		if (have == n && !before(s, nd, best[n - 1], &p->nodes[out[n - 1]]))
			continue;
		size_t j = have < n ? have++ : n - 1;
		while (j > 0 && before(s, nd, best[j - 1], &p->nodes[out[j - 1]])) {
			best[j] = best[j - 1];
			out[j] = out[j - 1];
			j--;
		}
		best[j] = s;
		out[j] = i;
	}
	return (int)have;
}

int lota_placement_owner(const lota_placement *p, lota_hash128 key_hash)
{
	size_t idx;
	int rc = lota_placement_rank(p, key_hash, &idx, 1);
	return rc < 0 ? rc : (int)idx;
}
