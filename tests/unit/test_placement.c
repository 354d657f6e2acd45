/*
 * test_placement.c - canonical cache keys (exact bytes, unambiguity, XXH3-128 names, hex),
 * weighted rendezvous placement (balance, weights, movement on remove/add, determinism)
 * and the golden vectors in tests/data/placement/golden.txt.
 *
 * The golden file is produced by this program: `test_placement --write-golden` prints it.
 * Regenerate it only for a deliberate format change: every node and client must agree on
 * these values, so a silent change would split a cluster's cache.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include <lota/placement.h>

#include "unit.h"

#define NKEYS 100000

static lota_str S(const char *s)
{
	return (lota_str){s, s ? strlen(s) : 0};
}

static lota_cache_key mk(const char *b, const char *k, const char *e, const char *v, uint64_t size,
                         uint64_t idx)
{
	return (lota_cache_key){S(b), S(k), S(e), S(v), size, idx};
}

/* Set while printing the golden file, when no CUnit suite is running. */
static int generating;

#define CHECK(cond)                        \
	do {                               \
		if (generating && !(cond)) \
			abort();           \
		else if (!generating)      \
			CU_ASSERT(cond);   \
	} while (0)

static lota_hash128 hash_of(const lota_cache_key *k)
{
	lota_hash128 h = {0, 0};
	CHECK(lota_cache_key_hash(k, &h) == 0);
	return h;
}

/* The hash of the i-th synthetic extent used by the statistical tests. */
static lota_hash128 key_i(int i)
{
	char name[64];
	snprintf(name, sizeof(name), "train/shard-%06d.tar", i / 4);
	lota_cache_key k = mk("datasets", name, "\"9b2cf535f27731c974343645a3985328\"", "",
	                      1ull << 30, (uint64_t)(i % 4));
	return hash_of(&k);
}

/* ---- canonical form ----------------------------------------------------------------- */

static void test_canonical_bytes(void)
{
	lota_cache_key k = mk("b", "k/1", "\"e\"", "", 0x0102030405060708ull, 3);
	static const uint8_t want[] = {'L', 'O', 'T', 'A', 'C', 'K', '1', '\n', 0, 0, 0, 1,
	                               'b', 0,   0,   0,   3,   'k', '/', '1',  0, 0, 0, 3,
	                               '"', 'e', '"', 0,   0,   0,   0,   1,    2, 3, 4, 5,
	                               6,   7,   8,   0,   0,   0,   0,   0,    0, 0, 3};
	uint8_t buf[LOTA_CACHE_KEY_MAX_LEN];
	CU_ASSERT_EQUAL(lota_cache_key_canonical_len(&k), sizeof(want));
	CU_ASSERT_EQUAL(lota_cache_key_canonical(&k, buf, sizeof(buf)), (int)sizeof(want));
	CU_ASSERT_EQUAL(memcmp(buf, want, sizeof(want)), 0);
	/* A NULL view with length 0 is the same as "". */
	lota_cache_key k2 = k;
	k2.version_id = (lota_str){NULL, 0};
	uint8_t buf2[LOTA_CACHE_KEY_MAX_LEN];
	CU_ASSERT_EQUAL(lota_cache_key_canonical(&k2, buf2, sizeof(buf2)), (int)sizeof(want));
	CU_ASSERT_EQUAL(memcmp(buf2, want, sizeof(want)), 0);
	/* The name is XXH3-128 (seed 0) of exactly those bytes. */
	XXH128_hash_t x = XXH3_128bits(want, sizeof(want));
	lota_hash128 h = hash_of(&k);
	CU_ASSERT_EQUAL(h.hi, x.high64);
	CU_ASSERT_EQUAL(h.lo, x.low64);
}

static void test_canonical_errors(void)
{
	lota_cache_key k = mk("b", "k", "e", "v", 1, 0);
	uint8_t buf[LOTA_CACHE_KEY_MAX_LEN];
	size_t need = lota_cache_key_canonical_len(&k);
	CU_ASSERT_EQUAL(lota_cache_key_canonical(&k, buf, need - 1), -ENOBUFS);
	CU_ASSERT_EQUAL(lota_cache_key_canonical(&k, NULL, 0), -ENOBUFS);
	CU_ASSERT_EQUAL(lota_cache_key_canonical(&k, buf, need), (int)need);
	CU_ASSERT_EQUAL(lota_cache_key_canonical(NULL, buf, sizeof(buf)), -EINVAL);
	lota_hash128 h;
	CU_ASSERT_EQUAL(lota_cache_key_hash(&k, NULL), -EINVAL);
	k.etag = (lota_str){NULL, 3};
	CU_ASSERT_EQUAL(lota_cache_key_canonical(&k, buf, sizeof(buf)), -EINVAL);
	CU_ASSERT_EQUAL(lota_cache_key_hash(&k, &h), -EINVAL);
	/* Field caps: exactly the cap is fine, one more is refused, in every field. */
	static char big[LOTA_CACHE_KEY_FIELD_MAX + 1];
	memset(big, 'x', sizeof(big));
	for (int f = 0; f < 4; f++) {
		lota_cache_key kk = mk("b", "k", "e", "v", 1, 0);
		lota_str *fields[4] = {&kk.bucket, &kk.key, &kk.etag, &kk.version_id};
		*fields[f] = (lota_str){big, LOTA_CACHE_KEY_FIELD_MAX};
		CU_ASSERT(lota_cache_key_canonical(&kk, buf, sizeof(buf)) > 0);
		*fields[f] = (lota_str){big, LOTA_CACHE_KEY_FIELD_MAX + 1};
		CU_ASSERT_EQUAL(lota_cache_key_canonical(&kk, buf, sizeof(buf)), LOTA_E_TOO_LARGE);
		CU_ASSERT_EQUAL(lota_cache_key_hash(&kk, &h), LOTA_E_TOO_LARGE);
	}
	/* All four fields at their cap fit LOTA_CACHE_KEY_MAX_LEN exactly. */
	lota_str b = {big, LOTA_CACHE_KEY_FIELD_MAX};
	lota_cache_key full = {b, b, b, b, UINT64_MAX, UINT64_MAX};
	CU_ASSERT_EQUAL(lota_cache_key_canonical(&full, buf, sizeof(buf)),
	                (int)LOTA_CACHE_KEY_MAX_LEN);
}

/* Decode a canonical form back into its tuple; returns 0 when the bytes are exactly one
 * well-formed key. Decoding succeeding for every encoding shows the form is injective. */
static int decode(const uint8_t *p, size_t len, lota_cache_key *out)
{
	size_t off = 8;
	lota_str *fields[4] = {&out->bucket, &out->key, &out->etag, &out->version_id};
	if (len < 8 || memcmp(p, "LOTACK1\n", 8) != 0)
		return -1;
	for (int f = 0; f < 4; f++) {
		if (len - off < 4)
			return -1;
		size_t l = ((size_t)p[off] << 24) | ((size_t)p[off + 1] << 16) |
		           ((size_t)p[off + 2] << 8) | p[off + 3];
		off += 4;
		if (len - off < l)
			return -1;
		*fields[f] = (lota_str){(const char *)p + off, l};
		off += l;
	}
	if (len - off != 16)
		return -1;
	out->size_bytes = out->extent_index = 0;
	for (int i = 0; i < 8; i++) {
		out->size_bytes = (out->size_bytes << 8) | p[off + i];
		out->extent_index = (out->extent_index << 8) | p[off + 8 + i];
	}
	return 0;
}

static int str_eq(lota_str a, lota_str b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

static void test_canonical_unambiguous(void)
{
	/* Pairs that naive concatenation (with or without a separator) would confuse. */
	lota_cache_key pairs[][2] = {
	    {mk("ab", "c", "e", "", 1, 0), mk("a", "bc", "e", "", 1, 0)},
	    {mk("a", "b/c", "e", "", 1, 0), mk("a/b", "c", "e", "", 1, 0)},
	    {mk("b", "k", "e", "", 1, 0), mk("b", "k", "", "e", 1, 0)},
	    {mk("b", "k", "e", "v", 1, 0), mk("b", "k", "ev", "", 1, 0)},
	    {mk("b", "k", "e", "", 1, 2), mk("b", "k", "e", "", 2, 1)},
	    {mk("b", "k", "e", "", 0, 256), mk("b", "k", "e", "", 1, 0)},
	    {mk("b", "k\n", "e", "", 1, 0), mk("b", "k", "\ne", "", 1, 0)},
	    {mk("", "bk", "e", "", 1, 0), mk("b", "k", "e", "", 1, 0)},
	};
	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		uint8_t a[256], b[256];
		int la = lota_cache_key_canonical(&pairs[i][0], a, sizeof(a));
		int lb = lota_cache_key_canonical(&pairs[i][1], b, sizeof(b));
		CU_ASSERT(la > 0 && lb > 0);
		CU_ASSERT(la != lb || memcmp(a, b, (size_t)la) != 0);
		lota_hash128 ha = hash_of(&pairs[i][0]), hb = hash_of(&pairs[i][1]);
		CU_ASSERT(ha.hi != hb.hi || ha.lo != hb.lo);
	}
	/* Random tuples over a tiny alphabet (so boundaries collide often) decode back to
	 * exactly themselves, embedded NULs included. */
	const char alpha[] = {'a', '/', '\0', 0x01, '"'};
	uint64_t seed = 12345;
	for (int n = 0; n < 2000; n++) {
		char store[4][8];
		lota_cache_key k;
		lota_str *fields[4] = {&k.bucket, &k.key, &k.etag, &k.version_id};
		for (int f = 0; f < 4; f++) {
			seed = seed * 6364136223846793005ull + 1442695040888963407ull;
			size_t l = (seed >> 33) % 6;
			for (size_t j = 0; j < l; j++)
				store[f][j] = alpha[(seed >> (8 + 4 * j)) % sizeof(alpha)];
			*fields[f] = (lota_str){store[f], l};
		}
		k.size_bytes = seed >> 40;
		k.extent_index = seed & 7;
		uint8_t buf[128];
		int len = lota_cache_key_canonical(&k, buf, sizeof(buf));
		CU_ASSERT_FATAL(len > 0);
		lota_cache_key d = {0};
		CU_ASSERT_FATAL(decode(buf, (size_t)len, &d) == 0);
		CU_ASSERT(str_eq(d.bucket, k.bucket) && str_eq(d.key, k.key) &&
		          str_eq(d.etag, k.etag) && str_eq(d.version_id, k.version_id));
		CU_ASSERT(d.size_bytes == k.size_bytes && d.extent_index == k.extent_index);
		/* Streaming hash == one-shot hash of the bytes. */
		XXH128_hash_t x = XXH3_128bits(buf, (size_t)len);
		lota_hash128 h = hash_of(&k);
		CU_ASSERT(h.hi == x.high64 && h.lo == x.low64);
	}
}

static void test_hex(void)
{
	char hex[LOTA_HASH128_HEX_LEN + 1];
	lota_hash128 h = {0x0123456789abcdefull, 0xfedcba9876543210ull}, back;
	lota_hash128_format(h, hex);
	CU_ASSERT_STRING_EQUAL(hex, "0123456789abcdeffedcba9876543210");
	CU_ASSERT_EQUAL(lota_hash128_parse(hex, 32, &back), 0);
	CU_ASSERT(back.hi == h.hi && back.lo == h.lo);
	CU_ASSERT_EQUAL(lota_hash128_parse("0123456789ABCDEFFEDCBA9876543210", 32, &back), 0);
	CU_ASSERT(back.hi == h.hi && back.lo == h.lo);
	/* The hex of a key's name is XXH128's canonical (big-endian) form. */
	lota_cache_key k = mk("bkt", "obj", "\"x\"", "v1", 10, 0);
	XXH128_canonical_t c;
	XXH128_canonicalFromHash(&c, (XXH128_hash_t){hash_of(&k).lo, hash_of(&k).hi});
	lota_hash128_format(hash_of(&k), hex);
	for (int i = 0; i < 16; i++) {
		char two[3];
		snprintf(two, sizeof(two), "%02x", c.digest[i]);
		CU_ASSERT(hex[2 * i] == two[0] && hex[2 * i + 1] == two[1]);
	}
	/* Negative: wrong length, non-hex, NULL. */
	CU_ASSERT_EQUAL(lota_hash128_parse(hex, 31, &back), -EINVAL);
	CU_ASSERT_EQUAL(lota_hash128_parse("0123456789abcdeffedcba987654321g", 32, &back), -EINVAL);
	CU_ASSERT_EQUAL(lota_hash128_parse("0123456789abcdeffedcba98765432 0", 32, &back), -EINVAL);
	CU_ASSERT_EQUAL(lota_hash128_parse(NULL, 32, &back), -EINVAL);
}

/* ---- golden vectors ----------------------------------------------------------------- */

static void put_hexfield(FILE *out, const char *s, size_t len)
{
	if (len == 0) {
		fputc('-', out);
		return;
	}
	for (size_t i = 0; i < len; i++)
		fprintf(out, "%02x", (unsigned char)s[i]);
}

static const struct {
	const char *b, *k, *e, *v;
	size_t klen; /* 0: strlen(k) */
	uint64_t size, idx;
} golden_keys[] = {
    {"datasets", "train/shard-000000.tar", "\"9b2cf535f27731c974343645a3985328\"", "", 0,
     1ull << 30, 0},
    {"datasets", "train/shard-000000.tar", "\"9b2cf535f27731c974343645a3985328\"", "", 0,
     1ull << 30, 15},
    {"datasets", "train/shard-000000.tar", "\"9b2cf535f27731c974343645a3985328\"",
     "3sL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY+MTRCxf3vjVBH40Nr8X8gdRQBpUMLUo", 0, 1ull << 30, 0},
    {"models", "checkpoints/llama-7b/model-00001-of-00002.safetensors",
     "\"d41d8cd98f00b204e9800998ecf8427e-12\"", "null", 0, 9976576152ull, 148},
    {"b", "\xc3\xa9t\xc3\xa9/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e/\xf0\x9f\x98\x80.bin", "\"e\"",
     "", 0, 5, 0},
    {"b", "key with spaces & symbols?=%2F", "W/\"weak\"", "v", 0, 0, 0},
    {"b", "nul\0inside", "\"e\"", "", 10, 1, 0},
    {"big", "k", "\"e\"", "", 0, UINT64_MAX, UINT64_MAX},
    {"", "", "", "", 0, 0, 0},
};

static const struct {
	const char *id;
	double weight;
} golden_nodes[] = {
    {"10.0.0.1:7070", 1.0},  {"10.0.0.2:7070", 1.0},   {"10.0.0.3:7070", 2.0},
    {"10.0.0.4:7070", 0.5},  {"node-e.lota.svc", 1.0}, {"node-f.lota.svc", 3.25},
    {"[fd00::7]:7070", 1.0},
};

static lota_placement *golden_placement(void)
{
	lota_placement *p = lota_placement_new();
	if (!p)
		abort();
	for (size_t i = 0; i < sizeof(golden_nodes) / sizeof(golden_nodes[0]); i++)
		CHECK(lota_placement_add_node(p, golden_nodes[i].id, strlen(golden_nodes[i].id),
		                              golden_nodes[i].weight) == 0);
	return p;
}

static void write_golden(FILE *out)
{
	char hex[LOTA_HASH128_HEX_LEN + 1];
	fprintf(out,
	        "# lota placement golden vectors (written by test_placement --write-golden)\n"
	        "# key BUCKET KEY ETAG VERSION SIZE INDEX = NAME   (fields as hex, - = empty)\n");
	for (size_t i = 0; i < sizeof(golden_keys) / sizeof(golden_keys[0]); i++) {
		size_t kl = golden_keys[i].klen ? golden_keys[i].klen : strlen(golden_keys[i].k);
		lota_cache_key k = {S(golden_keys[i].b), {golden_keys[i].k, kl},
		                    S(golden_keys[i].e), S(golden_keys[i].v),
		                    golden_keys[i].size, golden_keys[i].idx};
		fputs("key ", out);
		lota_str f[4] = {k.bucket, k.key, k.etag, k.version_id};
		for (int j = 0; j < 4; j++) {
			put_hexfield(out, f[j].ptr, f[j].len);
			fputc(' ', out);
		}
		lota_hash128_format(hash_of(&k), hex);
		fprintf(out, "%llu %llu = %s\n", (unsigned long long)k.size_bytes,
		        (unsigned long long)k.extent_index, hex);
	}
	fprintf(out, "# node ID WEIGHT\n");
	for (size_t i = 0; i < sizeof(golden_nodes) / sizeof(golden_nodes[0]); i++)
		fprintf(out, "node %s %g\n", golden_nodes[i].id, golden_nodes[i].weight);
	fprintf(out, "# rank NAME = node ids, best first (NAME of extent i of "
	             "datasets/train/shard-*.tar)\n");
	lota_placement *p = golden_placement();
	size_t n = lota_placement_count(p), idx[16];
	for (int i = 0; i < 24; i++) {
		lota_hash128 h = key_i(i);
		lota_hash128_format(h, hex);
		fprintf(out, "rank %s =", hex);
		CHECK(lota_placement_rank(p, h, idx, 16) == (int)n);
		for (size_t j = 0; j < n; j++)
			fprintf(out, " %s", lota_placement_node_id(p, idx[j]).ptr);
		fputc('\n', out);
	}
	lota_placement_free(p);
}

static void test_golden(void)
{
	size_t flen = 0, glen = 0;
	char *file = lota_unit_read_file("placement/golden.txt", &flen);
	CU_ASSERT_PTR_NOT_NULL_FATAL(file);
	char *gen = NULL;
	FILE *m = open_memstream(&gen, &glen);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	write_golden(m);
	fclose(m);
	/* Compare line by line so a failure names the first vector that changed. */
	char *fs = file, *gs = gen;
	int line = 1, lines_ok = 0;
	while (*fs || *gs) {
		size_t fl = strcspn(fs, "\n"), gl = strcspn(gs, "\n");
		if (fl != gl || memcmp(fs, gs, fl) != 0) {
			fprintf(stderr, "\ngolden.txt line %d differs:\n file: %.*s\n  now: %.*s\n",
			        line, (int)fl, fs, (int)gl, gs);
			CU_FAIL("golden vector changed");
			break;
		}
		lines_ok++;
		fs += fl + (fs[fl] == '\n');
		gs += gl + (gs[gl] == '\n');
		line++;
	}
	CU_ASSERT(lines_ok > 30);
	free(gen);
	free(file);
}

/* ---- placement ---------------------------------------------------------------------- */

static lota_placement *equal_nodes(int n)
{
	lota_placement *p = lota_placement_new();
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	for (int i = 0; i < n; i++) {
		char id[32];
		int l = snprintf(id, sizeof(id), "node-%d", i);
		CU_ASSERT_EQUAL_FATAL(lota_placement_add_node(p, id, (size_t)l, 1.0), 0);
	}
	return p;
}

static void test_balance(void)
{
	lota_placement *p = equal_nodes(10);
	int load[10] = {0};
	for (int i = 0; i < NKEYS; i++) {
		int o = lota_placement_owner(p, key_i(i));
		CU_ASSERT_FATAL(o >= 0 && o < 10);
		load[o]++;
	}
	int max = 0, min = NKEYS;
	for (int i = 0; i < 10; i++) {
		max = load[i] > max ? load[i] : max;
		min = load[i] < min ? load[i] : min;
	}
	double mean = NKEYS / 10.0;
	printf("\n  balance: 10 equal nodes, %d keys: max/mean %.4f min/mean %.4f\n", NKEYS,
	       max / mean, min / mean);
	CU_ASSERT(max / mean <= 1.05);
	CU_ASSERT(min / mean >= 0.95);
	lota_placement_free(p);
}

static void test_weights(void)
{
	lota_placement *p = equal_nodes(9);
	CU_ASSERT_EQUAL_FATAL(lota_placement_add_node(p, "heavy", 5, 2.0), 0);
	int heavy = lota_placement_find(p, "heavy", 5), c = 0;
	for (int i = 0; i < NKEYS; i++)
		c += lota_placement_owner(p, key_i(i)) == heavy;
	/* Expected share 2/11. r = heavy / mean(others) = 9c / (N - c); its standard
	 * deviation follows from the binomial one of c by the delta method. */
	double pr = 2.0 / 11.0, sd_c = sqrt(NKEYS * pr * (1 - pr));
	double r = 9.0 * c / (NKEYS - c);
	double sd_r = 9.0 * NKEYS / ((NKEYS - NKEYS * pr) * (NKEYS - NKEYS * pr)) * sd_c;
	printf("\n  weights: weight 2 vs 1 (x9): ratio %.4f (4 sigma = %.4f)\n", r, 4 * sd_r);
	CU_ASSERT(fabs(r - 2.0) <= 4 * sd_r);
	CU_ASSERT(r >= 1.9 && r <= 2.1);
	/* Scores scale exactly with the weight. */
	lota_placement *a = lota_placement_new(), *b = lota_placement_new();
	CU_ASSERT_EQUAL(lota_placement_add_node(a, "n", 1, 1.0), 0);
	CU_ASSERT_EQUAL(lota_placement_add_node(b, "n", 1, 2.0), 0);
	for (int i = 0; i < 100; i++) {
		double sa = lota_placement_score(a, 0, key_i(i));
		double sb = lota_placement_score(b, 0, key_i(i));
		CU_ASSERT(sa > 0 && sa < 1e300);
		CU_ASSERT_EQUAL(sb, 2 * sa);
	}
	lota_placement_free(a);
	lota_placement_free(b);
	lota_placement_free(p);
}

static void test_movement_remove(void)
{
	lota_placement *p = equal_nodes(10);
	static char before_owner[NKEYS];
	int on3 = 0, moved = 0, wrong = 0;
	for (int i = 0; i < NKEYS; i++) {
		before_owner[i] = (char)lota_placement_owner(p, key_i(i));
		on3 += before_owner[i] == 3;
	}
	CU_ASSERT_EQUAL(lota_placement_remove_node(p, "node-3", 6), 0);
	CU_ASSERT_EQUAL(lota_placement_count(p), 9);
	for (int i = 0; i < NKEYS; i++) {
		int o = lota_placement_owner(p, key_i(i));
		CU_ASSERT_FATAL(o >= 0);
		/* Indices above the removed one shift down: compare by id. */
		lota_str id = lota_placement_node_id(p, (size_t)o);
		int was = before_owner[i], now = atoi(id.ptr + 5);
		if (now != was) {
			moved++;
			wrong += was != 3;
		}
	}
	printf("\n  remove 1 of 10: moved %d keys, node-3 held %d, others moved %d\n", moved, on3,
	       wrong);
	CU_ASSERT_EQUAL(moved, on3);
	CU_ASSERT_EQUAL(wrong, 0);
	lota_placement_free(p);
}

static void test_movement_add(void)
{
	lota_placement *p = equal_nodes(10);
	static char before_owner[NKEYS];
	for (int i = 0; i < NKEYS; i++)
		before_owner[i] = (char)lota_placement_owner(p, key_i(i));
	CU_ASSERT_EQUAL(lota_placement_add_node(p, "node-10", 7, 1.0), 0);
	int moved = 0, elsewhere = 0;
	for (int i = 0; i < NKEYS; i++) {
		int o = lota_placement_owner(p, key_i(i));
		if (o != before_owner[i]) {
			moved++;
			elsewhere += o != 10;
		}
	}
	double f = (double)moved / NKEYS;
	printf("\n  add 11th node: moved %.4f of keys (1/11 = %.4f), %d elsewhere\n", f, 1.0 / 11,
	       elsewhere);
	CU_ASSERT(f >= 0.08 && f <= 0.10);
	CU_ASSERT_EQUAL(elsewhere, 0);
	lota_placement_free(p);
}

static void test_rank_consistency(void)
{
	/* Insertion order does not matter; rank is a permutation; a shorter rank is a
	 * prefix of the full one; owner is its head. */
	lota_placement *p = golden_placement();
	lota_placement *q = lota_placement_new();
	size_t n = lota_placement_count(p);
	for (size_t i = n; i-- > 0;) {
		lota_str id = lota_placement_node_id(p, i);
		CU_ASSERT_EQUAL(
		    lota_placement_add_node(q, id.ptr, id.len, lota_placement_node_weight(p, i)),
		    0);
	}
	for (int i = 0; i < 2000; i++) {
		lota_hash128 h = key_i(i);
		size_t rp[16], rq[16], r3[3];
		CU_ASSERT_EQUAL_FATAL(lota_placement_rank(p, h, rp, 16), (int)n);
		CU_ASSERT_EQUAL_FATAL(lota_placement_rank(q, h, rq, 16), (int)n);
		CU_ASSERT_EQUAL_FATAL(lota_placement_rank(p, h, r3, 3), 3);
		unsigned seen = 0;
		for (size_t j = 0; j < n; j++) {
			lota_str a = lota_placement_node_id(p, rp[j]);
			lota_str b = lota_placement_node_id(q, rq[j]);
			CU_ASSERT(str_eq(a, b));
			seen |= 1u << rp[j];
			if (j > 0)
				CU_ASSERT(lota_placement_score(p, rp[j - 1], h) >=
				          lota_placement_score(p, rp[j], h));
		}
		CU_ASSERT_EQUAL(seen, (1u << n) - 1);
		CU_ASSERT(r3[0] == rp[0] && r3[1] == rp[1] && r3[2] == rp[2]);
		CU_ASSERT_EQUAL(lota_placement_owner(p, h), (int)rp[0]);
	}
	lota_placement_free(q);
	lota_placement_free(p);
}

static void test_negative(void)
{
	lota_placement *p = lota_placement_new();
	lota_hash128 h = key_i(0);
	size_t idx[4];
	CU_ASSERT_EQUAL(lota_placement_owner(p, h), LOTA_E_PLACEMENT_NO_NODES);
	CU_ASSERT_EQUAL(lota_placement_rank(p, h, idx, 4), LOTA_E_PLACEMENT_NO_NODES);
	CU_ASSERT_EQUAL(lota_placement_add_node(p, "a", 1, 0.0), -EINVAL);
	CU_ASSERT_EQUAL(lota_placement_add_node(p, "a", 1, -1.0), -EINVAL);
	CU_ASSERT_EQUAL(lota_placement_add_node(p, "a", 1, NAN), -EINVAL);
	CU_ASSERT_EQUAL(lota_placement_add_node(p, "a", 1, INFINITY), -EINVAL);
	CU_ASSERT_EQUAL(lota_placement_add_node(p, "a", 1, -INFINITY), -EINVAL);
	CU_ASSERT_EQUAL(lota_placement_add_node(p, "", 0, 1.0), -EINVAL);
	CU_ASSERT_EQUAL(lota_placement_add_node(p, NULL, 3, 1.0), -EINVAL);
	CU_ASSERT_EQUAL(lota_placement_add_node(NULL, "a", 1, 1.0), -EINVAL);
	static char longid[LOTA_PLACEMENT_ID_MAX + 1];
	memset(longid, 'i', sizeof(longid));
	CU_ASSERT_EQUAL(lota_placement_add_node(p, longid, sizeof(longid), 1.0), LOTA_E_TOO_LARGE);
	CU_ASSERT_EQUAL(lota_placement_count(p), 0);
	CU_ASSERT_EQUAL(lota_placement_add_node(p, "a", 1, 1e-9), 0);
	CU_ASSERT_EQUAL(lota_placement_add_node(p, "a", 1, 2.0), LOTA_E_PLACEMENT_DUP_NODE);
	CU_ASSERT_EQUAL(lota_placement_count(p), 1);
	CU_ASSERT_EQUAL(lota_placement_owner(p, h), 0);
	CU_ASSERT_EQUAL(lota_placement_rank(p, h, idx, 0), -EINVAL);
	CU_ASSERT_EQUAL(lota_placement_rank(p, h, NULL, 4), -EINVAL);
	CU_ASSERT_EQUAL(lota_placement_rank(p, h, idx, 4), 1);
	CU_ASSERT_EQUAL(lota_placement_remove_node(p, "b", 1), -ENOENT);
	CU_ASSERT_EQUAL(lota_placement_find(p, "b", 1), -ENOENT);
	CU_ASSERT_PTR_NULL(lota_placement_node_id(p, 1).ptr);
	CU_ASSERT_EQUAL(lota_placement_remove_node(p, "a", 1), 0);
	CU_ASSERT_EQUAL(lota_placement_owner(p, h), LOTA_E_PLACEMENT_NO_NODES);
	/* The node cap. */
	for (unsigned i = 0; i < LOTA_PLACEMENT_MAX_NODES; i++) {
		char id[16];
		int l = snprintf(id, sizeof(id), "n%u", i);
		CU_ASSERT_EQUAL_FATAL(lota_placement_add_node(p, id, (size_t)l, 1.0), 0);
	}
	CU_ASSERT_EQUAL(lota_placement_add_node(p, "one-more", 8, 1.0), LOTA_E_TOO_LARGE);
	size_t *all = malloc(LOTA_PLACEMENT_MAX_NODES * sizeof(*all));
	CU_ASSERT_EQUAL(lota_placement_rank(p, h, all, LOTA_PLACEMENT_MAX_NODES),
	                (int)LOTA_PLACEMENT_MAX_NODES);
	free(all);
	lota_placement_free(p);
	lota_placement_free(NULL);
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "--write-golden") == 0) {
		generating = 1;
		write_golden(stdout);
		return 0;
	}
	CU_TestInfo tests[] = {
	    {"canonical bytes", test_canonical_bytes},
	    {"canonical errors and caps", test_canonical_errors},
	    {"canonical form is unambiguous", test_canonical_unambiguous},
	    {"hex format and parse", test_hex},
	    {"golden vectors", test_golden},
	    {"balance over equal nodes", test_balance},
	    {"weights", test_weights},
	    {"movement on remove", test_movement_remove},
	    {"movement on add", test_movement_add},
	    {"rank consistency", test_rank_consistency},
	    {"negative", test_negative},
	    CU_TEST_INFO_NULL,
	};
	return lota_unit_run("placement", tests);
}
