/*
 * invalidate.c - a write through lotad drops the cached extents of the key's last known
 * version (to free space; correctness rests on the authorizing HEAD).
 */
#include "cache/cache-internal.h"

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
	for (uint64_t k = 0; k * ca->cfg.extent_size < e.size; k++) {
		lota_hash128 eh;
		if (cache_ext_hash(bucket, (lota_str){dk, (size_t)dl},
		                   (lota_str){e.etag, e.etag_len}, (lota_str){e.vid, e.vid_len},
		                   e.size, k, &eh) < 0)
			break;
		dropped += lotad_store_drop(ca->store, eh) == 0;
	}
	if (dropped)
		lota_log_debug("cache: %zu extents of a rewritten object dropped", dropped);
}
