/*
 * fuzz_http_request.c - libFuzzer harness for lota_http_parse_request(). Never crashes,
 * and checks the contract: a success returns 0 < n <= len, every view lies inside the
 * input, framing fields agree with the headers; a prefix gives INCOMPLETE or the same
 * answer; a smaller max_head_bytes never turns an answer into a different success.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <lota/http.h>

#define NH 32

static void check_view(lota_str s, const char *buf, size_t len)
{
	if (s.len == 0) {
		if (s.ptr && (s.ptr < buf || s.ptr > buf + len))
			abort();
		return;
	}
	if (!s.ptr || s.ptr < buf || s.len > len || s.ptr + s.len > buf + len)
		abort();
}

static int parse(const char *buf, size_t len, lota_http_request *req, lota_http_header *hs,
                 const lota_http_limits *lim)
{
	return lota_http_parse_request(buf, len, req, hs, NH, lim);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	lota_http_header hs[NH];
	lota_http_request req;
	int rc = parse(buf, size, &req, hs, NULL);
	if (rc == 0 || (rc > 0 && (size_t)rc > size))
		abort();
	if (rc > 0) {
		if (req.num_headers > NH || req.headers != hs)
			abort();
		check_view(req.method, buf, (size_t)rc);
		check_view(req.target, buf, (size_t)rc);
		check_view(req.path, buf, (size_t)rc);
		check_view(req.query, buf, (size_t)rc);
		check_view(req.host, buf, (size_t)rc);
		for (size_t i = 0; i < req.num_headers; i++) {
			check_view(hs[i].name, buf, (size_t)rc);
			check_view(hs[i].value, buf, (size_t)rc);
			if (hs[i].name.len == 0)
				abort();
		}
		if (req.method.len == 0 || req.target.len == 0)
			abort();
		if (req.minor_version != 0 && req.minor_version != 1)
			abort();
		if (req.minor_version == 1 &&
		    !lota_http_find_header(hs, req.num_headers, "host", 4))
			abort();
		const lota_http_header *cl =
		    lota_http_find_header(hs, req.num_headers, "content-length", 14);
		const lota_http_header *te =
		    lota_http_find_header(hs, req.num_headers, "transfer-encoding", 17);
		if (cl && te)
			abort();
		if ((req.body == LOTA_HTTP_BODY_CHUNKED) != (te != NULL))
			abort();
		if ((req.body == LOTA_HTTP_BODY_LENGTH) != (cl != NULL))
			abort();
		if (req.content_length > INT64_MAX)
			abort();
		/* bytes after the head change nothing */
		lota_http_request r2;
		lota_http_header h2[NH];
		if (parse(buf, (size_t)rc, &r2, h2, NULL) != rc)
			abort();
	}
	/* prefixes: INCOMPLETE or the same answer (a few split points) */
	for (int i = 0; i < 4 && size; i++) {
		size_t pick[4] = {size / 2, size - 1, size / 3, data[0]};
		size_t k = pick[i] % size;
		lota_http_request r2;
		lota_http_header h2[NH];
		int p = parse(buf, k, &r2, h2, NULL);
		if (p != LOTA_E_INCOMPLETE && p != rc)
			abort();
		if (rc > 0 && (k < (size_t)rc ? p != LOTA_E_INCOMPLETE : p != rc))
			abort(); /* a prefix of a valid head is never complete */
	}
	/* a smaller head limit: the same success if it fits, else an error */
	if (size) {
		lota_http_limits lim =
		    LOTA_OPTS(lota_http_limits, .max_head_bytes = 1 + data[size - 1] * 4u);
		lota_http_request r2;
		lota_http_header h2[NH];
		int p = parse(buf, size, &r2, h2, &lim);
		if (p > 0 && p != rc)
			abort();
		if (rc > 0 && (size_t)rc <= lim.max_head_bytes && p != rc)
			abort();
	}
	return 0;
}
