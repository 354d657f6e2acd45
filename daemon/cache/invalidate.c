/*
 * invalidate.c - a write through lotad drops the cached extents of the key's last known
 * version (to free space; correctness rests on the authorizing HEAD).
 */
#include "cache/cache-internal.h"

#include <lota/extent.h>
#include <lota/log.h>

void lotad_cache_object_written(lotad_cache *ca, lota_str bucket, lota_str key)
{
	struct objent e;
	char dk[4096];
	int dl;
	if (!ca->store || !cache_objtab_get(ca, bucket, key, (lota_str){"", 0}, &e, true) ||
	    e.size < ca->cfg.min_object_size || (dl = cache_decode_key(key, dk, sizeof(dk))) < 0)
		return;
	size_t dropped = 0;
	lota_object_id id = {
	    bucket, {dk, (size_t)dl}, {e.etag, e.etag_len}, {e.vid, e.vid_len}, e.size};
	uint64_t n = lota_extent_count(e.size, ca->cfg.extent_size);
	for (uint64_t k = 0; k < n; k++) {
		lota_hash128 eh;
		if (lota_extent_name(&id, ca->cfg.extent_size, k, &eh) < 0)
			break;
		dropped += lotad_store_drop(ca->store, eh) == 0;
	}
	if (dropped)
		lota_log_debug("cache: %zu extents of a rewritten object dropped", dropped);
}
