/*
 * format.c - the extent file format (store.h gives it byte by byte): the header codec
 * (encode, and parse + verify with the header key), the parse of the canonical cache key
 * it carries, and the nonce and AAD of each sealed data block. Pure functions over byte buffers (tests/fuzz/fuzz_store_header.c compiles
 * this file into the harness).
 */
#include "store/store-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <lota/placement.h>

static const uint8_t hdr_magic[8] = {'L', 'O', 'T', 'A', 'E', 'X', 'T', '1'};

/* The header's nonce: the file salt and a block index no data block can have (the data
 * is sealed under another key anyway). */
static void hdr_nonce(uint8_t nonce[LOTA__GCM_NONCE_LEN], const uint8_t salt[8])
{
	memcpy(nonce, salt, 8);
	memset(nonce + 8, 0xff, 4);
}

int lotad_store__header_encode(lotad_store_header *h, const uint8_t hdr_key[32], uint8_t *buf,
                               size_t cap)
{
	if (!h || !buf || !hdr_key || (!h->key && h->key_len) || (!h->meta && h->meta_len))
		return -EINVAL;
	if (h->key_len == 0 || h->key_len > LOTA_CACHE_KEY_MAX_LEN ||
	    h->meta_len > LOTAD_STORE_META_MAX || h->data_len > LOTAD_STORE_DATA_MAX)
		return LOTA_E_TOO_LARGE;
	if (!block_size_ok(h->block_size) || (h->flags & ~LOTAD_STORE_FLAG_SEALED))
		return -EINVAL;
	size_t mac_off = HDR_FIXED + h->key_len + h->meta_len;
	uint64_t off = round_up(mac_off + HDR_MAC_LEN, HDR_ALIGN);
	if (cap < off)
		return -ENOBUFS;
	h->hash = lota_cache_key_hash_canonical(h->key, h->key_len);
	h->data_off = (uint32_t)off;
	h->header_len = mac_off + HDR_MAC_LEN;
	memset(buf, 0, off);
	memcpy(buf, hdr_magic, 8);
	put_be(buf + 8, HDR_VERSION, 2);
	put_be(buf + 10, h->flags, 2);
	put_be(buf + 12, h->block_size, 4);
	put_be(buf + 16, h->data_len, 8);
	put_be(buf + 24, h->key_len, 4);
	put_be(buf + 28, h->meta_len, 4);
	put_be(buf + 32, h->data_off, 4);
	memcpy(buf + 40, h->salt, 8);
	put_be(buf + 48, h->hash.hi, 8);
	put_be(buf + 56, h->hash.lo, 8);
	memcpy(buf + HDR_FIXED, h->key, h->key_len);
	if (h->meta_len)
		memcpy(buf + HDR_FIXED + h->key_len, h->meta, h->meta_len);
	uint8_t nonce[LOTA__GCM_NONCE_LEN];
	hdr_nonce(nonce, h->salt);
	int rc = lota__aead_seal(hdr_key, nonce, buf, HDR_FIXED, buf + HDR_FIXED,
	                         mac_off - HDR_FIXED, buf + HDR_FIXED, buf + mac_off);
	return rc ? rc : (int)off;
}

int lotad_store__header_parse(uint8_t *buf, size_t len, const uint8_t hdr_key[32],
                              lotad_store_header *out)
{
	if (!buf || !hdr_key || !out)
		return -EINVAL;
	if (len < HDR_FIXED)
		return LOTA_E_INCOMPLETE;
	if (memcmp(buf, hdr_magic, 8) != 0)
		return -EBADMSG;
	if (get_be(buf + 8, 2) != HDR_VERSION)
		return -EPROTONOSUPPORT;
	lotad_store_header h = {0};
	h.flags = (uint16_t)get_be(buf + 10, 2);
	uint64_t bs = get_be(buf + 12, 4);
	h.data_len = get_be(buf + 16, 8);
	uint64_t key_len = get_be(buf + 24, 4), meta_len = get_be(buf + 28, 4);
	uint64_t data_off = get_be(buf + 32, 4);
	if ((h.flags & ~LOTAD_STORE_FLAG_SEALED) || !block_size_ok(bs) ||
	    h.data_len > LOTAD_STORE_DATA_MAX || key_len == 0 || key_len > LOTA_CACHE_KEY_MAX_LEN ||
	    meta_len > LOTAD_STORE_META_MAX || get_be(buf + 36, 4) != 0)
		return -EBADMSG;
	size_t mac_off = HDR_FIXED + (size_t)key_len + (size_t)meta_len;
	if (data_off != round_up(mac_off + HDR_MAC_LEN, HDR_ALIGN))
		return -EBADMSG;
	if (len < mac_off + HDR_MAC_LEN)
		return LOTA_E_INCOMPLETE;
	uint8_t nonce[LOTA__GCM_NONCE_LEN];
	hdr_nonce(nonce, buf + 40);
	int rc = lota__aead_open(hdr_key, nonce, buf, HDR_FIXED, buf + HDR_FIXED,
	                         mac_off - HDR_FIXED, buf + HDR_FIXED, buf + mac_off);
	if (rc)
		return rc;
	h.block_size = (uint32_t)bs;
	h.data_off = (uint32_t)data_off;
	memcpy(h.salt, buf + 40, 8);
	h.hash.hi = get_be(buf + 48, 8);
	h.hash.lo = get_be(buf + 56, 8);
	h.key = buf + HDR_FIXED;
	h.key_len = (size_t)key_len;
	h.meta = meta_len ? buf + HDR_FIXED + key_len : NULL;
	h.meta_len = (size_t)meta_len;
	h.header_len = mac_off + HDR_MAC_LEN;
	/* a valid MAC with a wrong hash means a writer bug, not an attack: still refuse */
	if (!hash_eq(h.hash, lota_cache_key_hash_canonical(h.key, h.key_len)))
		return -EBADMSG;
	*out = h;
	return 0;
}

void store_block_aad(uint8_t aad[32], lota_hash128 h, uint64_t idx, uint64_t data_len)
{
	put_be(aad, h.hi, 8);
	put_be(aad + 8, h.lo, 8);
	put_be(aad + 16, idx, 8);
	put_be(aad + 24, data_len, 8);
}

void store_block_nonce(uint8_t nonce[LOTA__GCM_NONCE_LEN], const uint8_t salt[8], uint64_t idx)
{
	memcpy(nonce, salt, 8);
	put_be(nonce + 8, idx, 4);
}

/* One length-prefixed field of a canonical key at *p (end: one past the last byte). */
static bool key_field(const uint8_t **p, const uint8_t *end, lota_str *out)
{
	if (end - *p < 4)
		return false;
	uint64_t n = get_be(*p, 4);
	*p += 4;
	if (n > LOTA_CACHE_KEY_FIELD_MAX || (uint64_t)(end - *p) < n)
		return false;
	*out = (lota_str){(const char *)*p, (size_t)n};
	*p += n;
	return true;
}

int lotad_store__key_parse(const uint8_t *key, size_t len, lota_cache_key *out)
{
	static const uint8_t tag[8] = {'L', 'O', 'T', 'A', 'C', 'K', '1', '\n'};
	if (!key || !out || len < sizeof(tag) || memcmp(key, tag, sizeof(tag)) != 0)
		return -EBADMSG;
	const uint8_t *p = key + sizeof(tag), *end = key + len;
	lota_cache_key k = {0};
	if (!key_field(&p, end, &k.bucket) || !key_field(&p, end, &k.key) ||
	    !key_field(&p, end, &k.etag) || !key_field(&p, end, &k.version_id) || end - p != 16)
		return -EBADMSG;
	k.size_bytes = get_be(p, 8);
	k.extent_index = get_be(p + 8, 8);
	*out = k;
	return 0;
}
