/*
 * fuzz_store_header.c - the extent-file header codec of lotad's store
 * (lotad_store__header_parse / _encode) and the parse of the cache key it carries
 * (lotad_store__key_parse).
 *
 * The daemon's store/format.c is compiled into the harness itself. Each input is used twice:
 *   1. as a header on its own: parsing must never crash, and anything accepted must be
 *      self-consistent (sizes within the input, the hash that of the key, aligned data);
 *   2. as a mutation (XOR mask) of one fixed valid header: the result may be accepted
 *      only when the bytes the header covers are unchanged (integrity of every field);
 *   3. as a cache key: a key accepted must be exactly the canonical form of the fields
 *      it was parsed into (lota_cache_key_canonical gives the same bytes back).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../daemon/store/format.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t fkey[32] = {0x42, 1, 2, 3};
static uint8_t valid[8192];
static size_t valid_len;

static void make_valid(void)
{
	static const uint8_t key[] = "LOTACK1\n\0\0\0\x06"
	                             "bucket\0\0\0\x03"
	                             "key";
	lotad_store_header h = {.flags = LOTAD_STORE_FLAG_SEALED,
	                        .block_size = 65536,
	                        .data_len = 1000000,
	                        .salt = {8, 7, 6, 5, 4, 3, 2, 1},
	                        .key = key,
	                        .key_len = sizeof(key) - 1,
	                        .meta = (const uint8_t *)"etag: \"abc\"",
	                        .meta_len = 11};
	if (lotad_store__header_encode(&h, fkey, valid, sizeof(valid)) != 4096)
		abort();
	valid_len = h.header_len;
}

static uint8_t work[LOTA_CACHE_KEY_MAX_LEN + LOTAD_STORE_META_MAX + 256];
static uint8_t again[LOTA_CACHE_KEY_MAX_LEN];

static void key_roundtrip(const uint8_t *key, size_t len)
{
	lota_cache_key k;
	if (lotad_store__key_parse(key, len, &k) != 0)
		return;
	int n = lota_cache_key_canonical(&k, again, sizeof(again));
	if (n < 0 || (size_t)n != len || memcmp(again, key, len) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!valid_len)
		make_valid();
	lotad_store_header h;

	/* 1. arbitrary bytes */
	size_t n = size < sizeof(work) ? size : sizeof(work);
	memcpy(work, data, n);
	if (lotad_store__header_parse(work, n, fkey, &h) == 0) {
		lota_hash128 kh = lota_cache_key_hash_canonical(h.key, h.key_len);
		if (h.header_len > n || h.key_len == 0 || h.data_off % 4096 ||
		    h.data_off < h.header_len || !hash_eq(kh, h.hash) ||
		    h.meta_len > LOTAD_STORE_META_MAX || !block_size_ok(h.block_size))
			abort();
	}
	key_roundtrip(data, size);

	/* 2. the valid header, XORed with the input */
	memcpy(work, valid, valid_len);
	size_t m = size < valid_len ? size : valid_len;
	for (size_t i = 0; i < m; i++)
		work[i] ^= data[i];
	uint8_t mutated[sizeof(valid)];
	memcpy(mutated, work, valid_len);
	int rc = lotad_store__header_parse(work, valid_len, fkey, &h);
	if (rc == 0 && memcmp(mutated, valid, valid_len) != 0)
		abort();
	if (rc == 0 &&
	    (h.data_len != 1000000 || h.meta_len != 11 || memcmp(h.meta, "etag: \"abc\"", 11) != 0))
		abort();
	if (rc == 0)
		key_roundtrip(h.key, h.key_len);
	return 0;
}
