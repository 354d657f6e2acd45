/*
 * fuzz_http_response.c - libFuzzer harness for lota_http_parse_response() and
 * lota_http_response_body(): never crashes; a success returns 0 < n <= len with every
 * view inside the input; a prefix gives INCOMPLETE or the same answer.
 */
#include <stdint.h>
#include <stdlib.h>

#include <lota/http.h>

#define NH 32

static void check_view(lota_str s, const char *buf, size_t len)
{
	if (s.len && (!s.ptr || s.ptr < buf || s.ptr + s.len > buf + len))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	lota_http_header hs[NH];
	lota_http_response r;
	int rc = lota_http_parse_response(buf, size, &r, hs, NH, NULL);
	if (rc == 0 || (rc > 0 && (size_t)rc > size))
		abort();
	if (rc > 0) {
		if (r.status < 100 || r.status > 999 || r.num_headers > NH)
			abort();
		check_view(r.reason, buf, (size_t)rc);
		for (size_t i = 0; i < r.num_headers; i++) {
			check_view(hs[i].name, buf, (size_t)rc);
			check_view(hs[i].value, buf, (size_t)rc);
		}
		lota_http_body b = lota_http_response_body(&r, false);
		if (b != LOTA_HTTP_BODY_NONE && b != r.body)
			abort();
		if (lota_http_response_body(&r, true) != LOTA_HTTP_BODY_NONE)
			abort();
		if (r.body == LOTA_HTTP_BODY_NONE)
			abort(); /* NONE only comes from lota_http_response_body() */
	}
	if (size) {
		size_t k = (size_t)data[0] % size;
		lota_http_response r2;
		lota_http_header h2[NH];
		int p = lota_http_parse_response(buf, k, &r2, h2, NH, NULL);
		if (p != LOTA_E_INCOMPLETE && p != rc)
			abort();
		p = lota_http_parse_response(buf, size / 2, &r2, h2, NH, NULL);
		if (p != LOTA_E_INCOMPLETE && p != rc)
			abort();
	}
	return 0;
}
