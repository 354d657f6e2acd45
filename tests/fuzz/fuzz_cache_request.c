/*
 * fuzz_cache_request.c - the request parsers of lotad's cache path (daemon/cache/policy.c
 * and request.c): the decoding of keys (lota_uri_decode), the query check,
 * Cache-Control/Pragma directives and the Content-Range check. The input is split at its first NUL into a query/key part and a
 * header value. Invariants: nothing crashes, views stay inside the input, decoding never
 * grows and is exact for the bytes it returns, and a Content-Range accepted for numbers
 * is the canonical text of those numbers.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lota/sigv4.h>

#include "cache/cache.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	const char *nul = memchr(p, 0, size);
	lota_str a = {p, nul ? (size_t)(nul - p) : size};
	lota_str b = {nul ? nul + 1 : p + size, nul ? size - a.len - 1 : 0};

	/* percent-decoding */
	char out[4096];
	int n = lota_uri_decode(a.ptr, a.len, out, sizeof(out));
	if (n >= 0) {
		if ((size_t)n > a.len)
			abort();
		size_t pct = 0;
		for (size_t i = 0; i < a.len; i++)
			pct += a.ptr[i] == '%';
		if ((size_t)n != a.len - 2 * pct)
			abort();
	} else if (n != LOTA_E_HTTP_TARGET && n != LOTA_E_TOO_LARGE) {
		abort();
	}

	/* the query */
	lota_str v;
	if (lotad_cache__query_ok(a, &v) && v.len) {
		if (v.ptr < a.ptr || v.ptr + v.len > a.ptr + a.len)
			abort();
		if (v.len < 10 || memcmp(v.ptr, "versionId=", 10) != 0)
			abort();
	}

	/* directives of both header names */
	int d1 = lotad_cache__directives((lota_str){"Cache-Control", 13}, b);
	int d2 = lotad_cache__directives((lota_str){"Pragma", 6}, b);
	if ((d1 & ~3) || (d2 & ~1) || lotad_cache__directives((lota_str){"X", 1}, b))
		abort();

	/* Content-Range against numbers taken from the input */
	uint64_t num[3] = {0, 0, 0};
	memcpy(num, data, size < sizeof(num) ? size : sizeof(num));
	for (int i = 0; i < 3; i++)
		num[i] %= 1000000007u;
	if (lotad_cache__content_range_is(b, num[0], num[1], num[2])) {
		char want[96];
		int wl =
		    snprintf(want, sizeof(want), "bytes %llu-%llu/%llu", (unsigned long long)num[0],
		             (unsigned long long)num[1], (unsigned long long)num[2]);
		if (wl < 0 || b.len != (size_t)wl || memcmp(b.ptr, want, b.len) != 0)
			abort();
	}
	uint64_t f, l, t;
	if (lotad_cache__parse_content_range(b, &f, &l, &t)) {
		if (f > l || l >= t || !lotad_cache__content_range_is(b, f, l, t)) {
			/* accepted: canonical text unless it has leading zeros */
			char want[96];
			snprintf(want, sizeof(want), "bytes %llu-%llu/%llu", (unsigned long long)f,
			         (unsigned long long)l, (unsigned long long)t);
			if (f > l || l >= t || (b.len == strlen(want)))
				abort();
		}
	}
	return 0;
}
