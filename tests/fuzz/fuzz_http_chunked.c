/*
 * fuzz_http_chunked.c - libFuzzer harness for the in-place chunked decoder. The first
 * input byte chooses a split size and the line cap; the rest is the body. Checks that
 * decoding in one call and in pieces gives the same result, the same payload and the
 * same count of bytes after the body, and that no call reports more output than input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <lota/http.h>

struct result {
	int rc;        /* final code: INCOMPLETE, an error, or >= 0 */
	size_t out;    /* payload bytes */
	size_t after;  /* bytes after the body */
	uint64_t hash; /* of the payload */
};

static uint64_t mix(uint64_t h, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)p[i]) * 0x100000001b3ULL;
	return h;
}

static struct result run(const uint8_t *in, size_t len, size_t step, size_t max_line)
{
	struct result res = {LOTA_E_INCOMPLETE, 0, 0, 0xcbf29ce484222325ULL};
	lota_http_chunked d = {.max_line_bytes = max_line};
	lota_http_chunked_init(&d);
	char *buf = malloc(step ? step : 1);
	if (!buf)
		abort();
	size_t off = 0;
	while (off < len) {
		size_t n = len - off < step ? len - off : step;
		memcpy(buf, in + off, n);
		off += n;
		size_t l = n;
		int rc = lota_http_chunked_decode(&d, buf, &l);
		if (l > n)
			abort();
		if (rc >= 0 && l + (size_t)rc > n)
			abort();
		res.out += l;
		res.hash = mix(res.hash, buf, l);
		if (rc != LOTA_E_INCOMPLETE) {
			if (rc < 0 && l != 0)
				abort();
			res.rc = rc >= 0 ? 0 : rc;
			if (rc >= 0) {
				res.after = (size_t)rc + (len - off);
				/* the leftover bytes are the input's tail */
				if (memcmp(buf + l, in + off - (size_t)rc, (size_t)rc) != 0)
					abort();
			}
			break;
		}
	}
	free(buf);
	return res;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t step = 1 + (data[0] & 0x1f);
	size_t max_line = (data[0] & 0x80) ? 64 : 0;
	const uint8_t *in = data + 1;
	size_t len = size - 1;
	struct result whole = run(in, len, len ? len : 1, max_line);
	struct result parts = run(in, len, step, max_line);
	if (whole.rc != parts.rc)
		abort();
	if (whole.rc >= 0 &&
	    (whole.out != parts.out || whole.hash != parts.hash || whole.after != parts.after))
		abort();
	if (whole.rc == LOTA_E_INCOMPLETE && (whole.out != parts.out || whole.hash != parts.hash))
		abort();
	return 0;
}
