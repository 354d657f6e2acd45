/*
 * extent.c - extent geometry (count, byte range, offset to index) and the cache key and
 * name of one extent (see lota/extent.h). The naming itself is lota_cache_key_* in
 * placement.c; this file only decides which extent index a key carries, so the two
 * cannot drift apart.
 *
 * Invariant: every index handed to the cache key is < lota_extent_count(), so
 * index * extent_size never overflows (it is < size_bytes).
 */
#include <errno.h>

#include <lota/extent.h>

uint64_t lota_extent_count(uint64_t size_bytes, uint64_t extent_size_bytes)
{
	if (extent_size_bytes == 0)
		return 0;
	/* ceil without the overflow of (size + E - 1) near UINT64_MAX */
	return size_bytes / extent_size_bytes + (size_bytes % extent_size_bytes != 0);
}

int lota_extent_range(uint64_t size_bytes, uint64_t extent_size_bytes, uint64_t index,
                      uint64_t *first, uint64_t *last)
{
	if (extent_size_bytes == 0 || !first || !last)
		return -EINVAL;
	if (index >= lota_extent_count(size_bytes, extent_size_bytes))
		return -ERANGE;
	uint64_t start = index * extent_size_bytes;
	uint64_t len =
	    size_bytes - start < extent_size_bytes ? size_bytes - start : extent_size_bytes;
	*first = start;
	*last = start + len - 1;
	return 0;
}

int lota_extent_index(uint64_t size_bytes, uint64_t extent_size_bytes, uint64_t offset,
                      uint64_t *index)
{
	if (extent_size_bytes == 0 || !index)
		return -EINVAL;
	if (offset >= size_bytes)
		return -ERANGE;
	*index = offset / extent_size_bytes;
	return 0;
}

static int cache_key_of(const lota_object_id *obj, uint64_t extent_size_bytes, uint64_t index,
                        lota_cache_key *ck)
{
	if (!obj || extent_size_bytes == 0)
		return -EINVAL;
	if (index >= lota_extent_count(obj->size_bytes, extent_size_bytes))
		return -ERANGE;
	*ck = (lota_cache_key){
	    .bucket = obj->bucket,
	    .key = obj->key,
	    .etag = obj->etag,
	    .version_id = obj->version_id,
	    .size_bytes = obj->size_bytes,
	    .extent_index = index,
	};
	return 0;
}

int lota_extent_key(const lota_object_id *obj, uint64_t extent_size_bytes, uint64_t index,
                    uint8_t *buf, size_t cap)
{
	lota_cache_key ck;
	int rc = cache_key_of(obj, extent_size_bytes, index, &ck);
	return rc ? rc : lota_cache_key_canonical(&ck, buf, cap);
}

int lota_extent_name(const lota_object_id *obj, uint64_t extent_size_bytes, uint64_t index,
                     lota_hash128 *out)
{
	lota_cache_key ck;
	lota_hash128 h;
	int rc = cache_key_of(obj, extent_size_bytes, index, &ck);
	if (rc)
		return rc;
	if (!out)
		return -EINVAL;
	rc = lota_cache_key_hash(&ck, &h);
	if (rc == 0)
		*out = h;
	return rc;
}

int lota_extent_name_hex(const lota_object_id *obj, uint64_t extent_size_bytes, uint64_t index,
                         char out[LOTA_HASH128_HEX_LEN + 1])
{
	lota_hash128 h;
	if (!out)
		return -EINVAL;
	out[0] = '\0';
	int rc = lota_extent_name(obj, extent_size_bytes, index, &h);
	if (rc == 0)
		lota_hash128_format(h, out);
	return rc;
}
