/*
 * fuzz_range.c - libFuzzer harness for lota_range_parse() and lota_range_resolve(): the
 * first 8 bytes are the object size, the rest the header value. On success the interval
 * lies inside the object and matches the parsed kind.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <lota/http.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t objsize = 0;
	if (size >= 8) {
		memcpy(&objsize, data, 8);
		data += 8;
		size -= 8;
		if (objsize & 1)
			objsize &= 0xffff; /* small objects half of the time */
	}
	lota_range r;
	int rc = lota_range_parse((const char *)data, size, &r);
	if (rc != 0) {
		if (rc != LOTA_E_RANGE_MALFORMED)
			abort();
		return 0;
	}
	if (r.kind == LOTA_RANGE_FROM_TO && r.last < r.first)
		abort();
	uint64_t first, last;
	rc = lota_range_resolve(&r, objsize, &first, &last);
	if (rc == LOTA_E_RANGE_UNSATISFIABLE) {
		if (objsize != 0 && r.kind != LOTA_RANGE_SUFFIX && r.first < objsize)
			abort();
		if (objsize != 0 && r.kind == LOTA_RANGE_SUFFIX && r.last != 0)
			abort();
		return 0;
	}
	if (rc != 0)
		abort();
	if (first > last || last >= objsize)
		abort();
	if (r.kind != LOTA_RANGE_SUFFIX && first != r.first)
		abort();
	if (r.kind == LOTA_RANGE_SUFFIX &&
	    last - first + 1 != (r.last < objsize ? r.last : objsize))
		abort();
	if (r.kind != LOTA_RANGE_FROM_TO && last != objsize - 1)
		abort();
	return 0;
}
