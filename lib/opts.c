/*
 * opts.c - lota__opts_load(): options structs of any release read into this library's
 * layout (see opts-internal.h). A field past the caller's sz is zero (its default); a
 * field this library does not know must be zero, or the caller asked for something that
 * this library cannot do and the call is refused rather than half done.
 */
#include <string.h>

#include "opts-internal.h"

int lota__opts_load(const void *opts, size_t min_sz, size_t known_sz, void *out)
{
	const unsigned char *p = opts;
	size_t sz;
	memset(out, 0, known_sz);
	memcpy(&sz, p, sizeof(sz));
	if (sz < min_sz || sz < sizeof(sz) || sz > LOTA_OPTS_MAX)
		return LOTA_E_OPTS;
	for (size_t i = known_sz; i < sz; i++)
		if (p[i])
			return LOTA_E_OPTS;
	memcpy(out, p, sz < known_sz ? sz : known_sz);
	return 0;
}
