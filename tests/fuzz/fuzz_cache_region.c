/*
 * fuzz_cache_region.c - the region_upstream value's parser (daemon/region
 * lotad_region_spec_parse) and the probe's decision. Invariants: nothing crashes; an
 * accepted value gives a name of 1..63 of [a-z0-9-] and a URL of http[s]://host[:port]
 * that is the value's own tail; the decision is -1 or an index below n.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "region/region.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char spec[512], name[LOTAD_REGION_NAME_MAX + 1], url[128], err[256];
	if (size >= sizeof(spec))
		return 0;
	memcpy(spec, data, size);
	spec[size] = 0;
	if (lotad_region_spec_parse(spec, name, url, sizeof(url), err, sizeof(err)) == 0) {
		size_t nl = strlen(name);
		if (nl == 0 || nl > LOTAD_REGION_NAME_MAX ||
		    strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789-") != nl)
			abort();
		if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
			abort();
		if (strcmp(spec + nl + 1, url) != 0)
			abort();
	}
	/* the decision over statuses and names taken from the bytes */
	int st[LOTAD_MAX_REGIONS], nm[LOTAD_MAX_REGIONS];
	size_t n = size / 3 < LOTAD_MAX_REGIONS ? size / 3 : LOTAD_MAX_REGIONS;
	for (size_t i = 0; i < n; i++) {
		st[i] = (int)data[3 * i] * 3;
		nm[i] = (int)(int8_t)data[3 * i + 1];
	}
	int d = lotad_regions__decide(st, nm, n);
	if (d < -1 || (d >= 0 && (size_t)d >= n))
		abort();
	return 0;
}
