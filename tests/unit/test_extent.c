/*
 * test_extent.c - extent geometry and naming (lota/extent.h): counts, byte ranges and
 * offset lookups at every boundary and near UINT64_MAX, the cache key and name of an
 * extent, and every refusal (no extent size, 0-byte objects, out-of-range index or offset,
 * oversized fields, small buffers).
 *
 * The golden names below were printed by the code paths that existed before
 * lota_extent_*: `lota owner` (tools/lota.c, which hashed lota_cache_key with
 * index = size <= extent ? 0 : offset / extent) and lotad's own (daemon/cache.c
 * decode_key + ext_count + ext_len + ext_key, hashing the canonical bytes with
 * daemon/store.c lotad_store_hash_key), run on the same objects; both printed the same
 * values. So the switch of either to these functions is provably the same naming.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include <lota/extent.h>
#include <lota/sigv4.h>

#include "unit.h"

#define MiB (1ull << 20)
#define GiB (1ull << 30)

static lota_str S(const char *s)
{
	return (lota_str){s, s ? strlen(s) : 0};
}

static const struct golden {
	const char *bucket, *rawkey, *etag, *vid; /* rawkey as on the wire (percent-encoded) */
	uint64_t size, esize, offset;
	uint64_t count, index, first, last;
	int keylen;
	const char *name;
} golden[] = {
    {"data", "shard-0001.tar", "\"abc\"", "", GiB, 64 * MiB, 0, 16, 0, 0, 67108863, 63,
     "b69a468b215871d93e3fff987e1e33c0"},
    {"data", "shard-0001.tar", "\"abc\"", "", GiB, 64 * MiB, 64 * MiB, 16, 1, 67108864, 134217727,
     63, "a5571f2de562d05a03477eff401405de"},
    {"data", "shard-0001.tar", "\"abc\"", "", GiB, 64 * MiB, GiB - 1, 16, 15, 1006632960,
     1073741823, 63, "c6cecd0f8d1a3d8b500a0212fe4013a7"},
    {"data", "shard-0001.tar", "\"abc\"", "", 10 * MiB, 64 * MiB, 9 * MiB, 1, 0, 0, 10485759, 63,
     "e0461b071fd97df938ca13d96fe1b0bf"},
    {"data", "dir/a%20b%2Bc%25.bin", "\"d41d8cd98f00b204e9800998ecf8427e-3\"", "v1.Xyz", 200000000,
     64 * MiB, 150000000, 3, 2, 134217728, 199999999, 100, "d11a83d561f663da510774dbf916752b"},
    {"b", "k", "e", "", 1, 64 * MiB, 0, 1, 0, 0, 0, 43, "a2c39e36f8e3f8ce91ca25efcbff5139"},
    {"b", "k", "e", "", 64 * MiB, 64 * MiB, 64 * MiB - 1, 1, 0, 0, 67108863, 43,
     "d5ec3ffa0dab0bf2e4815b4727b9dcff"},
    {"b", "k", "e", "", 64 * MiB + 1, 64 * MiB, 64 * MiB, 2, 1, 67108864, 67108864, 43,
     "94a3b34242579a5feec358de658dccb6"},
    {"b", "k", "e", "", 10000, 4096, 8192, 3, 2, 8192, 9999, 43,
     "fae57647ec88537f673ce2048a543e2a"},
};

static void test_count(void)
{
	CU_ASSERT_EQUAL(lota_extent_count(0, 64 * MiB), 0);
	CU_ASSERT_EQUAL(lota_extent_count(1, 64 * MiB), 1);
	CU_ASSERT_EQUAL(lota_extent_count(64 * MiB - 1, 64 * MiB), 1);
	CU_ASSERT_EQUAL(lota_extent_count(64 * MiB, 64 * MiB), 1);
	CU_ASSERT_EQUAL(lota_extent_count(64 * MiB + 1, 64 * MiB), 2);
	CU_ASSERT_EQUAL(lota_extent_count(GiB, 64 * MiB), 16);
	CU_ASSERT_EQUAL(lota_extent_count(10, 1), 10);
	/* no overflow near the top of the range */
	CU_ASSERT_EQUAL(lota_extent_count(UINT64_MAX, UINT64_MAX), 1);
	CU_ASSERT_EQUAL(lota_extent_count(UINT64_MAX, 1), UINT64_MAX);
	CU_ASSERT_EQUAL(lota_extent_count(UINT64_MAX, 2), UINT64_MAX / 2 + 1);
	CU_ASSERT_EQUAL(lota_extent_count(UINT64_MAX - 1, UINT64_MAX), 1);
	/* no geometry without an extent size */
	CU_ASSERT_EQUAL(lota_extent_count(5, 0), 0);
	CU_ASSERT_EQUAL(lota_extent_count(0, 0), 0);
}

static void test_range_and_index(void)
{
	uint64_t f = 7, l = 7, k = 7;
	/* the ranges of all extents tile the object exactly; every offset maps into its own */
	static const uint64_t sizes[] = {1, 2, 4095, 4096, 4097, 8192, 10000, 12289};
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint64_t size = sizes[i], next = 0, n = lota_extent_count(size, 4096);
		for (uint64_t e = 0; e < n; e++) {
			CU_ASSERT_EQUAL_FATAL(lota_extent_range(size, 4096, e, &f, &l), 0);
			CU_ASSERT_EQUAL(f, next);
			CU_ASSERT(l >= f && l - f < 4096);
			next = l + 1;
		}
		CU_ASSERT_EQUAL(next, size);
		for (uint64_t off = 0; off < size; off += 511) {
			CU_ASSERT_EQUAL_FATAL(lota_extent_index(size, 4096, off, &k), 0);
			CU_ASSERT_EQUAL(lota_extent_range(size, 4096, k, &f, &l), 0);
			CU_ASSERT(f <= off && off <= l);
		}
		CU_ASSERT_EQUAL(lota_extent_index(size, 4096, size - 1, &k), 0);
		CU_ASSERT_EQUAL(k, n - 1);
	}
	/* the last extent of the largest object */
	CU_ASSERT_EQUAL(lota_extent_range(UINT64_MAX, 1ull << 32, (1ull << 32) - 1, &f, &l), 0);
	CU_ASSERT_EQUAL(f, UINT64_MAX - (1ull << 32) + 1);
	CU_ASSERT_EQUAL(l, UINT64_MAX - 1);
	CU_ASSERT_EQUAL(lota_extent_index(UINT64_MAX, 1ull << 32, UINT64_MAX - 1, &k), 0);
	CU_ASSERT_EQUAL(k, (1ull << 32) - 1);
	CU_ASSERT_EQUAL(lota_extent_range(UINT64_MAX, UINT64_MAX, 0, &f, &l), 0);
	CU_ASSERT(f == 0 && l == UINT64_MAX - 1);
}

static void test_range_and_index_errors(void)
{
	uint64_t f = 7, l = 7, k = 7;
	/* a 0-byte object has no extent and no offset */
	CU_ASSERT_EQUAL(lota_extent_range(0, 64 * MiB, 0, &f, &l), -ERANGE);
	CU_ASSERT_EQUAL(lota_extent_index(0, 64 * MiB, 0, &k), -ERANGE);
	/* past the end */
	CU_ASSERT_EQUAL(lota_extent_range(GiB, 64 * MiB, 16, &f, &l), -ERANGE);
	CU_ASSERT_EQUAL(lota_extent_range(GiB, 64 * MiB, UINT64_MAX, &f, &l), -ERANGE);
	CU_ASSERT_EQUAL(lota_extent_index(10, 4096, 10, &k), -ERANGE);
	CU_ASSERT_EQUAL(lota_extent_index(10, 4096, UINT64_MAX, &k), -ERANGE);
	/* no extent size, no outputs */
	CU_ASSERT_EQUAL(lota_extent_range(10, 0, 0, &f, &l), -EINVAL);
	CU_ASSERT_EQUAL(lota_extent_range(10, 4, 0, NULL, &l), -EINVAL);
	CU_ASSERT_EQUAL(lota_extent_range(10, 4, 0, &f, NULL), -EINVAL);
	CU_ASSERT_EQUAL(lota_extent_index(10, 0, 0, &k), -EINVAL);
	CU_ASSERT_EQUAL(lota_extent_index(10, 4, 0, NULL), -EINVAL);
	/* outputs untouched on failure */
	CU_ASSERT(f == 7 && l == 7 && k == 7);
}

/* The object of a golden row, with its key decoded as lotad decodes request paths. */
static lota_object_id golden_obj(const struct golden *g, char *dk, size_t cap)
{
	int dl = lota_uri_decode(g->rawkey, strlen(g->rawkey), dk, cap);
	CU_ASSERT_FATAL(dl >= 0);
	return (lota_object_id){S(g->bucket), {dk, (size_t)dl}, S(g->etag), S(g->vid), g->size};
}

static void test_golden(void)
{
	for (size_t i = 0; i < sizeof(golden) / sizeof(golden[0]); i++) {
		const struct golden *g = &golden[i];
		char dk[256], hex[LOTA_HASH128_HEX_LEN + 1];
		uint8_t key[LOTA_CACHE_KEY_MAX_LEN];
		uint64_t k, f, l;
		lota_hash128 h;
		lota_object_id o = golden_obj(g, dk, sizeof(dk));
		CU_ASSERT_EQUAL(lota_extent_count(g->size, g->esize), g->count);
		CU_ASSERT_EQUAL_FATAL(lota_extent_index(g->size, g->esize, g->offset, &k), 0);
		CU_ASSERT_EQUAL(k, g->index);
		CU_ASSERT_EQUAL_FATAL(lota_extent_range(g->size, g->esize, k, &f, &l), 0);
		CU_ASSERT_EQUAL(f, g->first);
		CU_ASSERT_EQUAL(l, g->last);
		int n = lota_extent_key(&o, g->esize, k, key, sizeof(key));
		CU_ASSERT_EQUAL_FATAL(n, g->keylen);
		CU_ASSERT_EQUAL_FATAL(lota_extent_name(&o, g->esize, k, &h), 0);
		CU_ASSERT_EQUAL_FATAL(lota_extent_name_hex(&o, g->esize, k, hex), 0);
		if (strcmp(hex, g->name) != 0)
			fprintf(stderr, "golden %zu: got %s want %s\n", i, hex, g->name);
		CU_ASSERT_STRING_EQUAL(hex, g->name);
		/* the name of the key bytes is the same name, by both routes the store uses */
		lota_hash128 hb = lota_cache_key_hash_canonical(key, (size_t)n);
		XXH128_hash_t x = XXH3_128bits(key, (size_t)n);
		CU_ASSERT(hb.hi == h.hi && hb.lo == h.lo);
		CU_ASSERT(x.high64 == h.hi && x.low64 == h.lo);
		/* and the key is the canonical key of (object, index) */
		lota_cache_key ck = {o.bucket, o.key, o.etag, o.version_id, o.size_bytes, k};
		uint8_t want[LOTA_CACHE_KEY_MAX_LEN];
		CU_ASSERT_EQUAL(lota_cache_key_canonical(&ck, want, sizeof(want)), n);
		CU_ASSERT_EQUAL(memcmp(want, key, (size_t)n), 0);
	}
	/* no version id: {NULL, 0} and "" name the same extent */
	lota_object_id a = {S("b"), S("k"), S("e"), {NULL, 0}, 1};
	char hex[LOTA_HASH128_HEX_LEN + 1];
	CU_ASSERT_EQUAL(lota_extent_name_hex(&a, 64 * MiB, 0, hex), 0);
	CU_ASSERT_STRING_EQUAL(hex, "a2c39e36f8e3f8ce91ca25efcbff5139");
	/* every field and the index change the name */
	lota_object_id v[] = {
	    {S("c"), S("k"), S("e"), S(""), 1}, {S("b"), S("K"), S("e"), S(""), 1},
	    {S("b"), S("k"), S("E"), S(""), 1}, {S("b"), S("k"), S("e"), S("v"), 1},
	    {S("b"), S("k"), S("e"), S(""), 2},
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		char other[LOTA_HASH128_HEX_LEN + 1];
		CU_ASSERT_EQUAL(lota_extent_name_hex(&v[i], 64 * MiB, 0, other), 0);
		CU_ASSERT_STRING_NOT_EQUAL(other, hex);
	}
	lota_object_id big = {S("b"), S("k"), S("e"), S(""), 3};
	char e0[LOTA_HASH128_HEX_LEN + 1], e1[LOTA_HASH128_HEX_LEN + 1];
	CU_ASSERT_EQUAL(lota_extent_name_hex(&big, 2, 0, e0), 0);
	CU_ASSERT_EQUAL(lota_extent_name_hex(&big, 2, 1, e1), 0);
	CU_ASSERT_STRING_NOT_EQUAL(e0, e1);
	/* the empty key's name through the canonical route is defined too */
	lota_hash128 z = lota_cache_key_hash_canonical(NULL, 0);
	XXH128_hash_t xz = XXH3_128bits("", 0);
	CU_ASSERT(z.hi == xz.high64 && z.lo == xz.low64);
}

static void test_naming_errors(void)
{
	uint8_t key[LOTA_CACHE_KEY_MAX_LEN];
	char hex[LOTA_HASH128_HEX_LEN + 1] = "x";
	lota_hash128 h = {1, 2};
	lota_object_id o = {S("b"), S("k"), S("e"), S(""), 10};
	/* index out of range, 0-byte object, no extent size */
	CU_ASSERT_EQUAL(lota_extent_key(&o, 4, 3, key, sizeof(key)), -ERANGE);
	CU_ASSERT_EQUAL(lota_extent_name(&o, 4, 3, &h), -ERANGE);
	CU_ASSERT(h.hi == 1 && h.lo == 2);
	CU_ASSERT_EQUAL(lota_extent_name_hex(&o, 4, 3, hex), -ERANGE);
	CU_ASSERT_STRING_EQUAL(hex, "");
	lota_object_id empty = o;
	empty.size_bytes = 0;
	CU_ASSERT_EQUAL(lota_extent_key(&empty, 4, 0, key, sizeof(key)), -ERANGE);
	CU_ASSERT_EQUAL(lota_extent_name(&empty, 4, 0, &h), -ERANGE);
	CU_ASSERT_EQUAL(lota_extent_key(&o, 0, 0, key, sizeof(key)), -EINVAL);
	CU_ASSERT_EQUAL(lota_extent_name(&o, 0, 0, &h), -EINVAL);
	/* NULL object or output */
	CU_ASSERT_EQUAL(lota_extent_key(NULL, 4, 0, key, sizeof(key)), -EINVAL);
	CU_ASSERT_EQUAL(lota_extent_name(NULL, 4, 0, &h), -EINVAL);
	CU_ASSERT_EQUAL(lota_extent_name(&o, 4, 0, NULL), -EINVAL);
	CU_ASSERT_EQUAL(lota_extent_name_hex(&o, 4, 0, NULL), -EINVAL);
	/* a NULL view with a length */
	lota_object_id bad = o;
	bad.etag = (lota_str){NULL, 3};
	CU_ASSERT_EQUAL(lota_extent_key(&bad, 4, 0, key, sizeof(key)), -EINVAL);
	CU_ASSERT_EQUAL(lota_extent_name(&bad, 4, 0, &h), -EINVAL);
	/* a field over the cap */
	char *huge = malloc(LOTA_CACHE_KEY_FIELD_MAX + 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(huge);
	memset(huge, 'k', LOTA_CACHE_KEY_FIELD_MAX + 1);
	lota_object_id large = o;
	large.key = (lota_str){huge, LOTA_CACHE_KEY_FIELD_MAX + 1};
	CU_ASSERT_EQUAL(lota_extent_key(&large, 4, 0, key, sizeof(key)), LOTA_E_TOO_LARGE);
	CU_ASSERT_EQUAL(lota_extent_name(&large, 4, 0, &h), LOTA_E_TOO_LARGE);
	/* exactly at the cap is fine, and fits LOTA_CACHE_KEY_MAX_LEN */
	large.key.len = LOTA_CACHE_KEY_FIELD_MAX;
	CU_ASSERT(lota_extent_key(&large, 4, 0, key, sizeof(key)) > 0);
	free(huge);
	/* a buffer one byte short: nothing written */
	int n = lota_extent_key(&o, 4, 0, key, sizeof(key));
	CU_ASSERT_FATAL(n > 0);
	memset(key, 0xaa, sizeof(key));
	CU_ASSERT_EQUAL(lota_extent_key(&o, 4, 0, key, (size_t)n - 1), -ENOBUFS);
	CU_ASSERT_EQUAL(key[0], 0xaa);
	CU_ASSERT_EQUAL(lota_extent_key(&o, 4, 0, NULL, 0), -ENOBUFS);
}

int main(void)
{
	CU_TestInfo tests[] = {
	    {"count", test_count},
	    {"range and index", test_range_and_index},
	    {"range and index errors", test_range_and_index_errors},
	    {"golden names (as lotad and lota owner computed them)", test_golden},
	    {"naming errors", test_naming_errors},
	    CU_TEST_INFO_NULL,
	};
	return lota_unit_run("extent", tests);
}
