/*
 * test_http.c - the HTTP/1.1 head parsers and the chunked decoder (lib/http.c): accepted
 * S3-shaped requests and responses, one or more refused shapes per error code (request
 * smuggling shapes among them), limits, and split-independence: every prefix of every
 * case gives LOTA_E_INCOMPLETE or the same answer as the whole input.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lota/http.h>

#include "unit.h"

#define NH 64

struct rcase {
	const char *name;
	const char *in;
	int want; /* > 0: the head is the whole input; else an error code */
};

#define OK 1 /* whole input is the head */

static const struct rcase req_cases[] = {
    /* accepted */
    {"simple GET", "GET /b/k HTTP/1.1\r\nHost: s3.local\r\n\r\n", OK},
    {"HTTP/1.0 no host", "GET / HTTP/1.0\r\n\r\n", OK},
    {"query", "GET /b?list-type=2&prefix=a%2Fb HTTP/1.1\r\nHost: h\r\n\r\n", OK},
    {"PUT CL", "PUT /b/k HTTP/1.1\r\nHost: h:9000\r\nContent-Length: 5\r\n\r\n", OK},
    {"PUT chunked", "PUT /b/k HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n", OK},
    {"TE case", "PUT /b/k HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: CHUNKED \r\n\r\n", OK},
    {"absolute-form", "GET http://s3.local:8080/b/k?x=1 HTTP/1.1\r\nHost: s3.local:8080\r\n\r\n",
     OK},
    {"empty value", "GET / HTTP/1.1\r\nHost: h\r\nX-Empty:\r\nX-E2:   \r\n\r\n", OK},
    {"obs-text value", "GET / HTTP/1.1\r\nHost: h\r\nX-Meta: caf\xc3\xa9\t!\r\n\r\n", OK},
    {"empty host", "GET / HTTP/1.1\r\nHost:\r\n\r\n", OK},
    {"ipv6 host", "GET / HTTP/1.1\r\nHost: [::1]:9000\r\n\r\n", OK},
    {"CL zero", "POST /b?delete HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n", OK},
    {"CL leading zeros", "PUT /k HTTP/1.1\r\nHost: h\r\nContent-Length: 007\r\n\r\n", OK},
    {"CL max", "PUT /k HTTP/1.1\r\nHost: h\r\nContent-Length: 9223372036854775807\r\n\r\n", OK},
    /* method */
    {"empty method", " / HTTP/1.1\r\nHost: h\r\n\r\n", LOTA_E_HTTP_METHOD},
    {"method ctl", "G\x01T / HTTP/1.1\r\nHost: h\r\n\r\n", LOTA_E_HTTP_METHOD},
    {"method tab", "GET\t/ HTTP/1.1\r\nHost: h\r\n\r\n", LOTA_E_HTTP_METHOD},
    {"leading CRLF", "\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", LOTA_E_HTTP_METHOD},
    {"method bare CR", "GET\rX / HTTP/1.1\r\n\r\n", LOTA_E_HTTP_BARE_CR},
    {"method LF", "GET\n", LOTA_E_HTTP_METHOD},
    /* target */
    {"double SP", "GET  / HTTP/1.1\r\nHost: h\r\n\r\n", LOTA_E_HTTP_TARGET},
    {"target ctl", "GET /a\x01 HTTP/1.1\r\nHost: h\r\n\r\n", LOTA_E_HTTP_TARGET},
    {"target NUL", "GET /a\0b HTTP/1.1\r\nHost: h\r\n\r\n", LOTA_E_HTTP_TARGET},
    {"target DEL", "GET /a\x7f HTTP/1.1\r\nHost: h\r\n\r\n", LOTA_E_HTTP_TARGET},
    {"target 8bit", "GET /caf\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n", LOTA_E_HTTP_TARGET},
    {"target tab", "GET /a\tb HTTP/1.1\r\nHost: h\r\n\r\n", LOTA_E_HTTP_TARGET},
    {"asterisk", "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", LOTA_E_HTTP_TARGET},
    {"authority-form", "CONNECT h:443 HTTP/1.1\r\nHost: h\r\n\r\n", LOTA_E_HTTP_TARGET},
    {"relative", "GET b/k HTTP/1.1\r\nHost: h\r\n\r\n", LOTA_E_HTTP_TARGET},
    {"no version", "GET /\r\n\r\n", LOTA_E_HTTP_TARGET},
    {"target bare CR", "GET /a\rb HTTP/1.1\r\n\r\n", LOTA_E_HTTP_BARE_CR},
    /* version */
    {"HTTP/2.0", "GET / HTTP/2.0\r\nHost: h\r\n\r\n", LOTA_E_HTTP_VERSION},
    {"HTTP/1.2", "GET / HTTP/1.2\r\nHost: h\r\n\r\n", LOTA_E_HTTP_VERSION},
    {"lowercase", "GET / http/1.1\r\nHost: h\r\n\r\n", LOTA_E_HTTP_VERSION},
    {"HTTP/1.10", "GET / HTTP/1.10\r\nHost: h\r\n\r\n", LOTA_E_HTTP_VERSION},
    {"SP after version", "GET / HTTP/1.1 \r\nHost: h\r\n\r\n", LOTA_E_HTTP_VERSION},
    {"LF-only request line", "GET / HTTP/1.1\nHost: h\n\n", LOTA_E_HTTP_VERSION},
    {"version bare CR", "GET / HTTP/1.1\rHost: h\r\n\r\n", LOTA_E_HTTP_BARE_CR},
    /* header names */
    {"space before colon", "GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding : chunked\r\n\r\n",
     LOTA_E_HTTP_HEADER_NAME},
    {"name with space", "GET / HTTP/1.1\r\nHost: h\r\nX Y: z\r\n\r\n", LOTA_E_HTTP_HEADER_NAME},
    {"empty name", "GET / HTTP/1.1\r\nHost: h\r\n: z\r\n\r\n", LOTA_E_HTTP_HEADER_NAME},
    {"no colon", "GET / HTTP/1.1\r\nHost: h\r\nJunk\r\n\r\n", LOTA_E_HTTP_HEADER_NAME},
    {"NUL in name", "GET / HTTP/1.1\r\nHost: h\r\nX\0Y: z\r\n\r\n", LOTA_E_HTTP_HEADER_NAME},
    {"LF-only header line", "GET / HTTP/1.1\r\nHost: h\nX: y\r\n\r\n", LOTA_E_HTTP_HEADER_VALUE},
    {"LF-only end", "GET / HTTP/1.1\r\nHost: h\r\n\n", LOTA_E_HTTP_HEADER_NAME},
    {"8bit name", "GET / HTTP/1.1\r\nHost: h\r\nX\xc3\xa9: z\r\n\r\n", LOTA_E_HTTP_HEADER_NAME},
    /* header values */
    {"NUL in value", "GET / HTTP/1.1\r\nHost: h\r\nX: a\0b\r\n\r\n", LOTA_E_HTTP_HEADER_VALUE},
    {"ctl in value", "GET / HTTP/1.1\r\nHost: h\r\nX: a\x1b[0m\r\n\r\n", LOTA_E_HTTP_HEADER_VALUE},
    {"DEL in value", "GET / HTTP/1.1\r\nHost: h\r\nX: a\x7f\r\n\r\n", LOTA_E_HTTP_HEADER_VALUE},
    /* bare CR */
    {"bare CR in value", "GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n", LOTA_E_HTTP_BARE_CR},
    {"bare CR end of head", "GET / HTTP/1.1\r\nHost: h\r\n\rX", LOTA_E_HTTP_BARE_CR},
    {"CR CR LF", "GET / HTTP/1.1\r\nHost: h\r\r\n\r\n", LOTA_E_HTTP_BARE_CR},
    {"bare CR in name", "GET / HTTP/1.1\r\nHost: h\r\nX\rY: z\r\n\r\n", LOTA_E_HTTP_BARE_CR},
    /* obs-fold */
    {"obs-fold SP", "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n", LOTA_E_HTTP_OBS_FOLD},
    {"obs-fold TAB", "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n\tb\r\n\r\n", LOTA_E_HTTP_OBS_FOLD},
    {"obs-fold TE", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\r\n chunked\r\n\r\n",
     LOTA_E_HTTP_OBS_FOLD},
    {"space before first header", "GET / HTTP/1.1\r\n Host: h\r\n\r\n", LOTA_E_HTTP_OBS_FOLD},
    /* CL and TE */
    {"CL.TE",
     "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n",
     LOTA_E_HTTP_CL_AND_TE},
    {"TE.CL",
     "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 6\r\n\r\n",
     LOTA_E_HTTP_CL_AND_TE},
    {"CL with bad TE",
     "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 6\r\nTransfer-Encoding: gzip\r\n\r\n",
     LOTA_E_HTTP_CL_AND_TE},
    /* duplicate CL */
    {"dup CL equal", "PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
     LOTA_E_HTTP_DUP_CL},
    {"dup CL differ", "PUT / HTTP/1.1\r\nHost: h\r\ncontent-length: 5\r\nCONTENT-LENGTH: 6\r\n\r\n",
     LOTA_E_HTTP_DUP_CL},
    /* bad CL */
    {"CL list", "PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 1,1\r\n\r\n", LOTA_E_HTTP_BAD_CL},
    {"CL plus", "PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: +5\r\n\r\n", LOTA_E_HTTP_BAD_CL},
    {"CL minus", "PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", LOTA_E_HTTP_BAD_CL},
    {"CL inner space", "PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 1 2\r\n\r\n",
     LOTA_E_HTTP_BAD_CL},
    {"CL empty", "PUT / HTTP/1.1\r\nHost: h\r\nContent-Length:\r\n\r\n", LOTA_E_HTTP_BAD_CL},
    {"CL hex", "PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 0x10\r\n\r\n", LOTA_E_HTTP_BAD_CL},
    {"CL 2^63", "PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 9223372036854775808\r\n\r\n",
     LOTA_E_HTTP_BAD_CL},
    {"CL 2^64", "PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 18446744073709551616\r\n\r\n",
     LOTA_E_HTTP_BAD_CL},
    {"CL huge", "PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999999\r\n\r\n",
     LOTA_E_HTTP_BAD_CL},
    /* bad TE */
    {"TE gzip", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n",
     LOTA_E_HTTP_BAD_TE},
    {"TE xchunked", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: xchunked\r\n\r\n",
     LOTA_E_HTTP_BAD_TE},
    {"TE chunked twice",
     "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
     LOTA_E_HTTP_BAD_TE},
    {"TE chunked, gzip", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
     LOTA_E_HTTP_BAD_TE},
    {"TE gzip, chunked", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
     LOTA_E_HTTP_BAD_TE},
    {"TE empty", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\r\n\r\n", LOTA_E_HTTP_BAD_TE},
    {"TE dup headers",
     "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: "
     "chunked\r\n\r\n",
     LOTA_E_HTTP_BAD_TE},
    {"TE params", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked;x=1\r\n\r\n",
     LOTA_E_HTTP_BAD_TE},
    {"TE in 1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", LOTA_E_HTTP_BAD_TE},
    /* host */
    {"no host 1.1", "GET / HTTP/1.1\r\nX: y\r\n\r\n", LOTA_E_HTTP_HOST},
    {"dup host", "GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n", LOTA_E_HTTP_HOST},
    {"host with slash", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", LOTA_E_HTTP_HOST},
    {"host with at", "GET / HTTP/1.1\r\nHost: user@a\r\n\r\n", LOTA_E_HTTP_HOST},
    {"host inner space", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", LOTA_E_HTTP_HOST},
};

static int parse_req(const char *in, size_t len, lota_http_request *req)
{
	static lota_http_header hs[NH];
	return lota_http_parse_request(in, len, req, hs, NH, NULL);
}

static size_t case_len(const struct rcase *c)
{
	/* Cases hold NULs: the length is up to the final "\r\n\r\n" or the literal end. */
	const char *s = c->in;
	size_t n = strlen(s);
	/* Cases with an embedded NUL: continue past it. */
	while (strstr(c->name, "NUL") && s[n] == '\0' && n < 200 &&
	       !(n >= 4 && memcmp(s + n - 4, "\r\n\r\n", 4) == 0))
		n += 1 + strlen(s + n + 1);
	return n;
}

static void test_request_cases(void)
{
	for (size_t i = 0; i < sizeof(req_cases) / sizeof(req_cases[0]); i++) {
		const struct rcase *c = &req_cases[i];
		size_t n = case_len(c);
		lota_http_request req;
		int rc = parse_req(c->in, n, &req);
		int want = c->want == OK ? (int)n : c->want;
		if (rc != want)
			printf("\n  case '%s': got %d (%s), want %d (%s)\n", c->name, rc,
			       lota_strerror_name(rc), want, lota_strerror_name(want));
		CU_ASSERT_EQUAL(rc, want);
	}
}

/* Every prefix gives INCOMPLETE or the same final answer; a prefix of a valid head is
 * always INCOMPLETE; bytes after a complete head do not change the answer. */
static void test_request_split_independence(void)
{
	char buf[512];
	for (size_t i = 0; i < sizeof(req_cases) / sizeof(req_cases[0]); i++) {
		const struct rcase *c = &req_cases[i];
		size_t n = case_len(c);
		lota_http_request req;
		int full = parse_req(c->in, n, &req);
		for (size_t k = 0; k < n; k++) {
			int rc = parse_req(c->in, k, &req);
			if (full > 0) {
				CU_ASSERT_EQUAL(rc, LOTA_E_INCOMPLETE);
			} else {
				CU_ASSERT(rc == LOTA_E_INCOMPLETE || rc == full);
			}
			if (!(rc == LOTA_E_INCOMPLETE || rc == full))
				printf("\n  case '%s' prefix %zu: %s vs %s\n", c->name, k,
				       lota_strerror_name(rc), lota_strerror_name(full));
		}
		CU_ASSERT_FATAL(n + 16 <= sizeof(buf));
		memcpy(buf, c->in, n);
		memcpy(buf + n, "0123456789\r\nab\r\n", 16);
		int rc = parse_req(buf, n + 16, &req);
		if (full != LOTA_E_INCOMPLETE)
			CU_ASSERT_EQUAL(rc, full);
	}
}

static bool inside(lota_str s, const char *buf, size_t len)
{
	return s.len == 0 ? (s.ptr == NULL || (s.ptr >= buf && s.ptr <= buf + len))
	                  : (s.ptr >= buf && s.ptr + s.len <= buf + len);
}

static bool eq(lota_str s, const char *lit)
{
	return s.len == strlen(lit) && memcmp(s.ptr, lit, s.len) == 0;
}

static void test_request_fields(void)
{
	const char *in = "PUT /bucket/my%20key?partNumber=2&uploadId=abc HTTP/1.1\r\n"
	                 "Host:  bucket.s3.local:8080 \t\r\n"
	                 "X-Amz-Date: 20240101T000000Z\r\n"
	                 "x-amz-content-sha256: UNSIGNED-PAYLOAD\r\n"
	                 "Content-Length: 1048576\r\n"
	                 "Expect: 100-continue\r\n"
	                 "Connection: keep-alive\r\n"
	                 "\r\n"
	                 "BODY";
	lota_http_header hs[8];
	lota_http_request req;
	size_t len = strlen(in);
	int rc = lota_http_parse_request(in, len, &req, hs, 8, NULL);
	CU_ASSERT_EQUAL_FATAL(rc, (int)(len - 4));
	CU_ASSERT(eq(req.method, "PUT"));
	CU_ASSERT(eq(req.target, "/bucket/my%20key?partNumber=2&uploadId=abc"));
	CU_ASSERT(eq(req.path, "/bucket/my%20key"));
	CU_ASSERT(eq(req.query, "partNumber=2&uploadId=abc"));
	CU_ASSERT_EQUAL(req.minor_version, 1);
	CU_ASSERT_EQUAL(req.num_headers, 6);
	CU_ASSERT_PTR_EQUAL(req.headers, hs);
	CU_ASSERT(eq(hs[0].name, "Host"));
	CU_ASSERT(eq(hs[0].value, "bucket.s3.local:8080"));
	CU_ASSERT(eq(req.host, "bucket.s3.local:8080"));
	CU_ASSERT(eq(hs[2].name, "x-amz-content-sha256"));
	CU_ASSERT_EQUAL(req.body, LOTA_HTTP_BODY_LENGTH);
	CU_ASSERT_EQUAL(req.content_length, 1048576);
	CU_ASSERT(req.expect_continue);
	CU_ASSERT(req.keep_alive);
	for (size_t i = 0; i < req.num_headers; i++) {
		CU_ASSERT(inside(hs[i].name, in, len));
		CU_ASSERT(inside(hs[i].value, in, len));
	}
	const lota_http_header *h = lota_http_find_header(hs, req.num_headers, "x-amz-date", 10);
	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	CU_ASSERT(eq(h->value, "20240101T000000Z"));
	CU_ASSERT_PTR_NULL(lota_http_find_header(hs, req.num_headers, "x-amz-dat", 9));
	CU_ASSERT_PTR_NULL(lota_http_find_header(hs, req.num_headers, "Range", 5));

	/* no query: empty view */
	in = "GET /b/k HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n";
	rc = lota_http_parse_request(in, strlen(in), &req, hs, 8, NULL);
	CU_ASSERT_EQUAL(rc, (int)strlen(in));
	CU_ASSERT_EQUAL(req.query.len, 0);
	CU_ASSERT(eq(req.path, "/b/k"));
	CU_ASSERT_EQUAL(req.minor_version, 0);
	CU_ASSERT(req.keep_alive);
	CU_ASSERT_EQUAL(req.body, LOTA_HTTP_BODY_NONE);
	CU_ASSERT_EQUAL(req.host.len, 0);
	CU_ASSERT(!req.expect_continue);

	in = "GET / HTTP/1.0\r\n\r\n";
	rc = lota_http_parse_request(in, strlen(in), &req, hs, 8, NULL);
	CU_ASSERT(rc > 0 && !req.keep_alive);

	in = "GET /?a HTTP/1.1\r\nHost: h\r\nConnection: TE, close\r\nExpect: 100-Continue\r\n\r\n";
	rc = lota_http_parse_request(in, strlen(in), &req, hs, 8, NULL);
	CU_ASSERT(rc > 0);
	CU_ASSERT(!req.keep_alive);
	CU_ASSERT(req.expect_continue);
	CU_ASSERT(eq(req.query, "a"));

	in = "GET / HTTP/1.1\r\nHost: h\r\nExpect: 200-ok\r\n\r\n";
	rc = lota_http_parse_request(in, strlen(in), &req, hs, 8, NULL);
	CU_ASSERT(rc > 0 && !req.expect_continue);

	in = "PUT /b/k HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
	rc = lota_http_parse_request(in, strlen(in), &req, hs, 8, NULL);
	CU_ASSERT(rc > 0);
	CU_ASSERT_EQUAL(req.body, LOTA_HTTP_BODY_CHUNKED);

	in = "GET https://s3.local HTTP/1.1\r\nHost: s3.local\r\n\r\n";
	rc = lota_http_parse_request(in, strlen(in), &req, hs, 8, NULL);
	CU_ASSERT(rc > 0);
	CU_ASSERT_EQUAL(req.path.len, 0);
	CU_ASSERT(inside(req.path, in, strlen(in)));
	CU_ASSERT(eq(req.target, "https://s3.local"));

	in = "GET http://s3.local/b/k?uploads HTTP/1.1\r\nHost: s3.local\r\n\r\n";
	rc = lota_http_parse_request(in, strlen(in), &req, hs, 8, NULL);
	CU_ASSERT(rc > 0);
	CU_ASSERT(eq(req.path, "/b/k"));
	CU_ASSERT(eq(req.query, "uploads"));

	/* bad arguments */
	CU_ASSERT_EQUAL(lota_http_parse_request(NULL, 5, &req, hs, 8, NULL), -EINVAL);
	CU_ASSERT_EQUAL(lota_http_parse_request(in, 5, NULL, hs, 8, NULL), -EINVAL);
	CU_ASSERT_EQUAL(lota_http_parse_request(in, 5, &req, NULL, 8, NULL), -EINVAL);
	CU_ASSERT_EQUAL(lota_http_parse_request(NULL, 0, &req, hs, 8, NULL), LOTA_E_INCOMPLETE);
}

/* Every byte value at every offset of a long target and a long value (the parser skips
 * printable runs eight bytes at a time): accepted exactly when the grammar allows it. */
static void test_every_byte_every_offset(void)
{
	char buf[256];
	lota_http_header hs[8];
	lota_http_request req;
	for (int c = 0; c < 256; c++) {
		for (int off = 0; off < 24; off++) {
			/* in the target */
			char t[40];
			memset(t, 'a', sizeof(t));
			t[0] = '/';
			t[1 + off] = (char)c;
			int n = snprintf(buf, sizeof(buf), "GET %.*s HTTP/1.1\r\nHost: h\r\n\r\n",
			                 40, t);
			memcpy(buf + 4, t, 40); /* snprintf stops at a NUL */
			int rc = lota_http_parse_request(buf, (size_t)n, &req, hs, 8, NULL);
			bool ok = c > 0x20 && c < 0x7f;
			if (ok) {
				CU_ASSERT_EQUAL(rc, n);
			} else if (c == ' ') {
				CU_ASSERT_EQUAL(rc, LOTA_E_HTTP_VERSION);
			} else if (c == '\r') {
				CU_ASSERT_EQUAL(rc, LOTA_E_HTTP_BARE_CR);
			} else {
				CU_ASSERT_EQUAL(rc, LOTA_E_HTTP_TARGET);
			}
			/* in a header value */
			char v[40];
			memset(v, 'b', sizeof(v));
			v[1 + off] = (char)c;
			n = snprintf(buf, sizeof(buf),
			             "GET / HTTP/1.1\r\nHost: h\r\nX: %.*s\r\n\r\n", 40, v);
			memcpy(buf + 28, v, 40);
			rc = lota_http_parse_request(buf, (size_t)n, &req, hs, 8, NULL);
			ok = c == '\t' || (c >= 0x20 && c != 0x7f);
			if (ok) {
				CU_ASSERT_EQUAL(rc, n);
				CU_ASSERT_EQUAL(hs[1].value.len, 40);
			} else if (c == '\r') {
				CU_ASSERT_EQUAL(rc, LOTA_E_HTTP_BARE_CR);
			} else {
				CU_ASSERT_EQUAL(rc, LOTA_E_HTTP_HEADER_VALUE);
			}
		}
	}
}

/* lota_http_limits is an options struct: a bad sz is refused before any byte is read,
 * by both parsers, whatever the input. */
static void test_limits_sz(void)
{
	lota_http_header hs[4];
	lota_http_request req;
	lota_http_response resp;
	const char *in = "GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\n\r\n";
	const char *out = "HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\n\r\n";
	size_t len = strlen(in), olen = strlen(out);
	lota_http_limits lim = {.max_headers = 1}; /* sz forgotten */
	CU_ASSERT_EQUAL(lota_http_parse_request(in, len, &req, hs, 4, &lim), LOTA_E_OPTS);
	CU_ASSERT_EQUAL(lota_http_parse_request(in, 0, &req, hs, 4, &lim), LOTA_E_OPTS);
	CU_ASSERT_EQUAL(lota_http_parse_response(out, olen, &resp, hs, 4, &lim), LOTA_E_OPTS);
	size_t bad_sz[] = {1, sizeof(size_t), sizeof(lim) - 1, LOTA_OPTS_MAX + 1, SIZE_MAX};
	for (size_t i = 0; i < sizeof(bad_sz) / sizeof(bad_sz[0]); i++) {
		lim.sz = bad_sz[i];
		CU_ASSERT_EQUAL(lota_http_parse_request(in, len, &req, hs, 4, &lim), LOTA_E_OPTS);
		CU_ASSERT_EQUAL(lota_http_parse_response(out, olen, &resp, hs, 4, &lim),
		                LOTA_E_OPTS);
	}
	lim = LOTA_OPTS(lota_http_limits, .max_headers = 1);
	CU_ASSERT_EQUAL(lim.sz, sizeof(lim));
	CU_ASSERT_EQUAL(lota_http_parse_request(in, len, &req, hs, 4, &lim),
	                LOTA_E_HTTP_TOO_MANY_HEADERS);
	CU_ASSERT_EQUAL(lota_http_parse_response(out, olen, &resp, hs, 4, &lim),
	                LOTA_E_HTTP_TOO_MANY_HEADERS);
	/* from newer headers: honoured while the unknown tail is zero, refused when not */
	struct {
		lota_http_limits l;
		size_t max_future;
	} newer = {LOTA_OPTS(lota_http_limits, .max_headers = 2), 0};
	newer.l.sz = sizeof(newer);
	CU_ASSERT_EQUAL(lota_http_parse_request(in, len, &req, hs, 4, &newer.l), (int)len);
	CU_ASSERT_EQUAL(lota_http_parse_response(out, olen, &resp, hs, 4, &newer.l), (int)olen);
	newer.max_future = 7;
	CU_ASSERT_EQUAL(lota_http_parse_request(in, len, &req, hs, 4, &newer.l), LOTA_E_OPTS);
	CU_ASSERT_EQUAL(lota_http_parse_response(out, olen, &resp, hs, 4, &newer.l), LOTA_E_OPTS);
}

static void test_request_limits(void)
{
	lota_http_header hs[4];
	lota_http_request req;
	const char *in = "GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
	size_t len = strlen(in);
	CU_ASSERT_EQUAL(lota_http_parse_request(in, len, &req, hs, 4, NULL), (int)len);
	CU_ASSERT_EQUAL(lota_http_parse_request(in, len, &req, hs, 3, NULL),
	                LOTA_E_HTTP_TOO_MANY_HEADERS);
	lota_http_limits lim = LOTA_OPTS(lota_http_limits, .max_headers = 2);
	CU_ASSERT_EQUAL(lota_http_parse_request(in, len, &req, hs, 4, &lim),
	                LOTA_E_HTTP_TOO_MANY_HEADERS);
	lim.max_headers = 10; /* larger than the array: the array wins */
	CU_ASSERT_EQUAL(lota_http_parse_request(in, len, &req, hs, 3, &lim),
	                LOTA_E_HTTP_TOO_MANY_HEADERS);
	CU_ASSERT_EQUAL(lota_http_parse_request(in, len, &req, hs, 0, NULL),
	                LOTA_E_HTTP_TOO_MANY_HEADERS);

	/* head length: exactly the limit passes, one byte less fails */
	lim = LOTA_OPTS(lota_http_limits, .max_head_bytes = len);
	CU_ASSERT_EQUAL(lota_http_parse_request(in, len, &req, hs, 4, &lim), (int)len);
	lim.max_head_bytes = len - 1;
	CU_ASSERT_EQUAL(lota_http_parse_request(in, len, &req, hs, 4, &lim),
	                LOTA_E_HTTP_HEAD_TOO_LONG);
	/* still incomplete but already past the limit: refused without waiting */
	lim.max_head_bytes = 20;
	CU_ASSERT_EQUAL(lota_http_parse_request(in, 20, &req, hs, 4, &lim), LOTA_E_INCOMPLETE);
	CU_ASSERT_EQUAL(lota_http_parse_request(in, 21, &req, hs, 4, &lim),
	                LOTA_E_HTTP_HEAD_TOO_LONG);
	/* an error inside the window wins over the length */
	const char *bad = "GET / HTTP/1.1\r\nHo st: h\r\n";
	CU_ASSERT_EQUAL(lota_http_parse_request(bad, strlen(bad), &req, hs, 4, &lim),
	                LOTA_E_HTTP_HEADER_NAME);

	/* default limit: 16 KiB */
	size_t big = 20000;
	char *b = malloc(big);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	memcpy(b, "GET / HTTP/1.1\r\nHost: h\r\nX-Long: ", 33);
	memset(b + 33, 'a', big - 33);
	CU_ASSERT_EQUAL(lota_http_parse_request(b, 16384, &req, hs, 4, NULL), LOTA_E_INCOMPLETE);
	CU_ASSERT_EQUAL(lota_http_parse_request(b, 16385, &req, hs, 4, NULL),
	                LOTA_E_HTTP_HEAD_TOO_LONG);
	/* a 16000-byte value fits */
	memcpy(b + 16000, "\r\n\r\n", 4);
	CU_ASSERT_EQUAL(lota_http_parse_request(b, big, &req, hs, 4, NULL), 16004);
	CU_ASSERT_EQUAL(hs[1].value.len, 16000 - 33);
	free(b);
}

/* ---- responses ---- */

static const struct rcase resp_cases[] = {
    {"200 CL", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\nETag: \"abc\"\r\n\r\n", OK},
    {"206",
     "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-9/100\r\n"
     "Content-Length: 10\r\n\r\n",
     OK},
    {"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", OK},
    {"gzip, chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", OK},
    {"chunked, gzip", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", OK},
    {"no reason", "HTTP/1.1 204\r\n\r\n", OK},
    {"empty reason", "HTTP/1.1 404 \r\nContent-Length: 0\r\n\r\n", OK},
    {"1.0 close", "HTTP/1.0 200 OK\r\n\r\n", OK},
    {"reason 8bit", "HTTP/1.1 500 Erreur \xc3\xa9\tx\r\n\r\n", OK},
    {"no host needed", "HTTP/1.1 200 OK\r\nHost: a\r\nHost: b\r\n\r\n", OK},
    {"HTTP/2", "HTTP/2 200 OK\r\n\r\n", LOTA_E_HTTP_VERSION},
    {"HTTP/1.1x", "HTTP/1.1x 200 OK\r\n\r\n", LOTA_E_HTTP_VERSION},
    {"2 digit status", "HTTP/1.1 20 OK\r\n\r\n", LOTA_E_HTTP_STATUS},
    {"4 digit status", "HTTP/1.1 2000 OK\r\n\r\n", LOTA_E_HTTP_STATUS},
    {"status 099", "HTTP/1.1 099 X\r\n\r\n", LOTA_E_HTTP_STATUS},
    {"status letters", "HTTP/1.1 2x0 OK\r\n\r\n", LOTA_E_HTTP_STATUS},
    {"reason ctl", "HTTP/1.1 200 O\x01K\r\n\r\n", LOTA_E_HTTP_STATUS},
    {"reason LF", "HTTP/1.1 200 OK\n\r\n", LOTA_E_HTTP_STATUS},
    {"status bare CR", "HTTP/1.1 200 OK\rX\r\n\r\n", LOTA_E_HTTP_BARE_CR},
    {"resp CL.TE", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
     LOTA_E_HTTP_CL_AND_TE},
    {"resp dup CL", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
     LOTA_E_HTTP_DUP_CL},
    {"resp bad CL", "HTTP/1.1 200 OK\r\nContent-Length: 5 \x01\r\n\r\n", LOTA_E_HTTP_HEADER_VALUE},
    {"resp CL list", "HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\n", LOTA_E_HTTP_BAD_CL},
    {"resp chunked twice",
     "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
     LOTA_E_HTTP_BAD_TE},
    {"resp TE junk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip junk\r\n\r\n", LOTA_E_HTTP_BAD_TE},
    {"resp TE params", "HTTP/1.1 200 OK\r\nTransfer-Encoding: foo;a=b , chunked\r\n\r\n", OK},
    {"resp TE quoted", "HTTP/1.1 200 OK\r\nTransfer-Encoding: foo;a=\"b\", chunked\r\n\r\n",
     LOTA_E_HTTP_BAD_TE},
    {"resp TE empty", "HTTP/1.1 200 OK\r\nTransfer-Encoding: ,\r\n\r\n", LOTA_E_HTTP_BAD_TE},
    {"resp TE 1.0", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", LOTA_E_HTTP_BAD_TE},
    {"resp obs-fold", "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", LOTA_E_HTTP_OBS_FOLD},
    {"resp LF only", "HTTP/1.1 200 OK\nContent-Length: 0\n\n", LOTA_E_HTTP_STATUS},
    {"resp name space", "HTTP/1.1 200 OK\r\nContent-Length : 0\r\n\r\n", LOTA_E_HTTP_HEADER_NAME},
};

static void test_response_cases(void)
{
	lota_http_header hs[NH];
	for (size_t i = 0; i < sizeof(resp_cases) / sizeof(resp_cases[0]); i++) {
		const struct rcase *c = &resp_cases[i];
		size_t n = strlen(c->in);
		lota_http_response resp;
		int rc = lota_http_parse_response(c->in, n, &resp, hs, NH, NULL);
		int want = c->want == OK ? (int)n : c->want;
		if (rc != want)
			printf("\n  case '%s': got %d (%s), want %d (%s)\n", c->name, rc,
			       lota_strerror_name(rc), want, lota_strerror_name(want));
		CU_ASSERT_EQUAL(rc, want);
		for (size_t k = 0; k < n; k++) {
			int p = lota_http_parse_response(c->in, k, &resp, hs, NH, NULL);
			if (want > 0) {
				CU_ASSERT_EQUAL(p, LOTA_E_INCOMPLETE);
			} else {
				CU_ASSERT(p == LOTA_E_INCOMPLETE || p == want);
			}
		}
	}
}

static void test_response_fields(void)
{
	lota_http_header hs[8];
	lota_http_response r;
	const char *in = "HTTP/1.1 206 Partial Content\r\nContent-Length: 10\r\n\r\n0123456789";
	int rc = lota_http_parse_response(in, strlen(in), &r, hs, 8, NULL);
	CU_ASSERT_EQUAL(rc, (int)strlen(in) - 10);
	CU_ASSERT_EQUAL(r.status, 206);
	CU_ASSERT(eq(r.reason, "Partial Content"));
	CU_ASSERT_EQUAL(r.minor_version, 1);
	CU_ASSERT_EQUAL(r.body, LOTA_HTTP_BODY_LENGTH);
	CU_ASSERT_EQUAL(r.content_length, 10);
	CU_ASSERT(r.keep_alive);
	CU_ASSERT_EQUAL(lota_http_response_body(&r, false), LOTA_HTTP_BODY_LENGTH);
	CU_ASSERT_EQUAL(lota_http_response_body(&r, true), LOTA_HTTP_BODY_NONE);

	in = "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nConnection: close\r\n\r\n";
	rc = lota_http_parse_response(in, strlen(in), &r, hs, 8, NULL);
	CU_ASSERT(rc > 0);
	CU_ASSERT_EQUAL(r.body, LOTA_HTTP_BODY_CHUNKED);
	CU_ASSERT(!r.keep_alive);

	in = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n";
	rc = lota_http_parse_response(in, strlen(in), &r, hs, 8, NULL);
	CU_ASSERT(rc > 0);
	CU_ASSERT_EQUAL(r.body, LOTA_HTTP_BODY_CLOSE);

	in = "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: Chunked\r\n\r\n";
	rc = lota_http_parse_response(in, strlen(in), &r, hs, 8, NULL);
	CU_ASSERT(rc > 0);
	CU_ASSERT_EQUAL(r.body, LOTA_HTTP_BODY_CHUNKED);

	in = "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n";
	rc = lota_http_parse_response(in, strlen(in), &r, hs, 8, NULL);
	CU_ASSERT(rc > 0);
	CU_ASSERT_EQUAL(r.body, LOTA_HTTP_BODY_CLOSE);
	CU_ASSERT(r.keep_alive);
	CU_ASSERT_EQUAL(r.minor_version, 0);

	in = "HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n";
	rc = lota_http_parse_response(in, strlen(in), &r, hs, 8, NULL);
	CU_ASSERT(rc > 0);
	CU_ASSERT_EQUAL(lota_http_response_body(&r, false), LOTA_HTTP_BODY_NONE);
	in = "HTTP/1.1 204\r\n\r\n";
	rc = lota_http_parse_response(in, strlen(in), &r, hs, 8, NULL);
	CU_ASSERT(rc > 0);
	CU_ASSERT_EQUAL(r.reason.len, 0);
	CU_ASSERT_EQUAL(lota_http_response_body(&r, false), LOTA_HTTP_BODY_NONE);
	in = "HTTP/1.1 100 Continue\r\n\r\n";
	rc = lota_http_parse_response(in, strlen(in), &r, hs, 8, NULL);
	CU_ASSERT(rc > 0);
	CU_ASSERT_EQUAL(r.status, 100);
	CU_ASSERT_EQUAL(lota_http_response_body(&r, false), LOTA_HTTP_BODY_NONE);
	in = "HTTP/1.1 416 Requested Range Not Satisfiable\r\nContent-Length: 0\r\n\r\n";
	rc = lota_http_parse_response(in, strlen(in), &r, hs, 8, NULL);
	CU_ASSERT(rc > 0);
	CU_ASSERT_EQUAL(lota_http_response_body(&r, false), LOTA_HTTP_BODY_LENGTH);
	CU_ASSERT_EQUAL(lota_http_response_body(NULL, false), LOTA_HTTP_BODY_NONE);

	lota_http_limits lim = LOTA_OPTS(lota_http_limits, .max_head_bytes = 10);
	CU_ASSERT_EQUAL(lota_http_parse_response(in, strlen(in), &r, hs, 8, &lim),
	                LOTA_E_HTTP_HEAD_TOO_LONG);
	CU_ASSERT_EQUAL(lota_http_parse_response(in, strlen(in), &r, hs, 0, NULL),
	                LOTA_E_HTTP_TOO_MANY_HEADERS);
	CU_ASSERT_EQUAL(lota_http_parse_response(in, 3, NULL, hs, 8, NULL), -EINVAL);
}

static void test_eq_nocase(void)
{
	CU_ASSERT(lota_str_eq_nocase(LOTA_STR_LIT("Content-LENGTH"), "content-length", 14));
	CU_ASSERT(!lota_str_eq_nocase(LOTA_STR_LIT("Content-Lengt"), "content-length", 14));
	CU_ASSERT(!lota_str_eq_nocase(LOTA_STR_LIT("Content_Length"), "content-length", 14));
	CU_ASSERT(lota_str_eq_nocase((lota_str){NULL, 0}, "", 0));
	/* '@' and '`' are not letters: no false match with case folding */
	CU_ASSERT(!lota_str_eq_nocase(LOTA_STR_LIT("@"), "`", 1));
	CU_ASSERT(!lota_str_eq_nocase(LOTA_STR_LIT("["), "{", 1));
}

/* ---- chunked ---- */

/* Decode `in` fed in pieces of `step` bytes (copying each piece to the end of the
 * pending buffer); returns the final code and the payload in out. */
static int decode_steps(const char *in, size_t len, size_t step, char *out, size_t *out_len,
                        size_t *leftover, size_t max_line)
{
	lota_http_chunked d = {.max_line_bytes = max_line};
	lota_http_chunked_init(&d);
	char buf[4096];
	size_t off = 0, o = 0;
	int rc = LOTA_E_INCOMPLETE;
	while (off < len) {
		size_t n = len - off < step ? len - off : step;
		memcpy(buf, in + off, n);
		off += n;
		size_t l = n;
		rc = lota_http_chunked_decode(&d, buf, &l);
		memcpy(out + o, buf, l);
		o += l;
		if (rc != LOTA_E_INCOMPLETE) {
			if (rc >= 0)
				*leftover = (size_t)rc + (len - off);
			break;
		}
	}
	*out_len = o;
	return rc;
}

struct ccase {
	const char *name;
	const char *in;
	int want;            /* 0 = complete */
	const char *payload; /* when complete */
	size_t after;        /* bytes after the body */
};

static const struct ccase chunk_cases[] = {
    {"simple", "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", 0, "hello world", 0},
    {"hex case", "A\r\n0123456789\r\na\r\nabcdefghij\r\n0\r\n\r\n", 0, "0123456789abcdefghij", 0},
    {"extensions", "5;name=value;x\r\nhello\r\n0;last\r\n\r\n", 0, "hello", 0},
    {"BWS ext", "5 ;x=\"q\"\r\nhello\r\n0\t\r\n\r\n", 0, "hello", 0},
    {"trailers", "3\r\nabc\r\n0\r\nx-amz-checksum-crc32: AAAAAA==\r\nX-B: 2\r\n\r\n", 0, "abc", 0},
    {"leading zeros", "0005\r\nhello\r\n000\r\n\r\n", 0, "hello", 0},
    {"next message", "2\r\nhi\r\n0\r\n\r\nGET / HTTP/1.1\r\n", 0, "hi", 16},
    {"empty body", "0\r\n\r\n", 0, "", 0},
    {"size empty", "\r\nhello\r\n0\r\n\r\n", LOTA_E_HTTP_CHUNK_SIZE, NULL, 0},
    {"size non-hex", "5g\r\nhello\r\n0\r\n\r\n", LOTA_E_HTTP_CHUNK_SIZE, NULL, 0},
    {"size sign", "+5\r\nhello\r\n0\r\n\r\n", LOTA_E_HTTP_CHUNK_SIZE, NULL, 0},
    {"size 0x", "0x5\r\nhello\r\n0\r\n\r\n", LOTA_E_HTTP_CHUNK_SIZE, NULL, 0},
    {"size leading space", " 5\r\nhello\r\n0\r\n\r\n", LOTA_E_HTTP_CHUNK_SIZE, NULL, 0},
    {"size overflow", "10000000000000000\r\n", LOTA_E_HTTP_CHUNK_SIZE, NULL, 0},
    {"size 2^63", "8000000000000000\r\n", LOTA_E_HTTP_CHUNK_SIZE, NULL, 0},
    {"size space digit", "5 5\r\nhello\r\n", LOTA_E_HTTP_CHUNK_SIZE, NULL, 0},
    {"size LF only", "5\nhello\r\n0\r\n\r\n", LOTA_E_HTTP_CHUNK_SIZE, NULL, 0},
    {"size bare CR", "5\rhello\r\n0\r\n\r\n", LOTA_E_HTTP_BARE_CR, NULL, 0},
    {"ext ctl", "5;a\x01\r\nhello\r\n0\r\n\r\n", LOTA_E_HTTP_CHUNK, NULL, 0},
    {"ext LF", "5;a\nhello\r\n0\r\n\r\n", LOTA_E_HTTP_CHUNK, NULL, 0},
    {"data too long", "5\r\nhelloX\r\n0\r\n\r\n", LOTA_E_HTTP_CHUNK, NULL, 0},
    {"data no CRLF", "5\r\nhello0\r\n\r\n", LOTA_E_HTTP_CHUNK, NULL, 0},
    {"data LF only", "5\r\nhello\n0\r\n\r\n", LOTA_E_HTTP_CHUNK, NULL, 0},
    {"data bare CR", "5\r\nhello\rX0\r\n\r\n", LOTA_E_HTTP_BARE_CR, NULL, 0},
    {"trailer obs-fold", "0\r\nX: a\r\n b\r\n\r\n", LOTA_E_HTTP_CHUNK, NULL, 0},
    {"trailer no colon", "0\r\nX\r\n\r\n", LOTA_E_HTTP_CHUNK, NULL, 0},
    {"trailer NUL", "0\r\nX: a\0\r\n\r\n", LOTA_E_HTTP_CHUNK, NULL, 0},
    {"trailer bare CR", "0\r\nX: a\rb\r\n\r\n", LOTA_E_HTTP_BARE_CR, NULL, 0},
    {"end bare CR", "0\r\n\rX", LOTA_E_HTTP_BARE_CR, NULL, 0},
    {"end LF only", "0\r\n\n", LOTA_E_HTTP_CHUNK, NULL, 0},
};

static void test_chunked_cases(void)
{
	char out[4096];
	for (size_t i = 0; i < sizeof(chunk_cases) / sizeof(chunk_cases[0]); i++) {
		const struct ccase *c = &chunk_cases[i];
		size_t len = strlen(c->in);
		if (strstr(c->name, "NUL"))
			len += 1 + strlen(c->in + len + 1);
		for (size_t step = 1; step <= len; step++) {
			size_t olen = 0, left = 0;
			int rc = decode_steps(c->in, len, step, out, &olen, &left, 0);
			if (c->want == 0) {
				CU_ASSERT(rc >= 0);
				CU_ASSERT_EQUAL(left, c->after);
				CU_ASSERT_EQUAL(olen, strlen(c->payload));
				CU_ASSERT(memcmp(out, c->payload, olen) == 0);
			} else {
				CU_ASSERT_EQUAL(rc, c->want);
			}
			if ((c->want == 0 && rc < 0) || (c->want != 0 && rc != c->want)) {
				printf("\n  chunk case '%s' step %zu: %s\n", c->name, step,
				       lota_strerror_name(rc));
				break;
			}
		}
	}
}

static void test_chunked_api(void)
{
	/* leftover bytes are left right after the payload */
	char buf[64] = "3\r\nabc\r\n0\r\n\r\nNEXT";
	size_t len = strlen(buf);
	lota_http_chunked d = {0};
	lota_http_chunked_init(&d);
	int rc = lota_http_chunked_decode(&d, buf, &len);
	CU_ASSERT_EQUAL(rc, 4);
	CU_ASSERT_EQUAL(len, 3);
	CU_ASSERT(memcmp(buf, "abcNEXT", 7) == 0);
	/* after the end: nothing decoded, every byte follows */
	len = 4;
	CU_ASSERT_EQUAL(lota_http_chunked_decode(&d, buf, &len), 4);
	CU_ASSERT_EQUAL(len, 0);

	/* errors are sticky */
	char bad[] = "zz\r\n";
	len = 4;
	lota_http_chunked_init(&d);
	CU_ASSERT_EQUAL(lota_http_chunked_decode(&d, bad, &len), LOTA_E_HTTP_CHUNK_SIZE);
	char good[] = "0\r\n\r\n";
	len = 5;
	CU_ASSERT_EQUAL(lota_http_chunked_decode(&d, good, &len), LOTA_E_HTTP_CHUNK_SIZE);
	CU_ASSERT_EQUAL(len, 0);

	/* size line and trailer limits */
	const char *ext = "5;aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\nhello\r\n0\r\n\r\n";
	char out[256];
	size_t olen, left;
	CU_ASSERT_EQUAL(decode_steps(ext, strlen(ext), 7, out, &olen, &left, 16), LOTA_E_TOO_LARGE);
	CU_ASSERT(decode_steps(ext, strlen(ext), 7, out, &olen, &left, 64) >= 0);
	const char *tr = "0\r\nA: 1234567890\r\nB: 1234567890\r\n\r\n";
	CU_ASSERT_EQUAL(decode_steps(tr, strlen(tr), 3, out, &olen, &left, 20), LOTA_E_TOO_LARGE);
	CU_ASSERT(decode_steps(tr, strlen(tr), 3, out, &olen, &left, 40) >= 0);
	/* the default line cap is 4096 */
	static char longline[5000];
	memset(longline, '0', sizeof(longline) - 1);
	CU_ASSERT_EQUAL(decode_steps(longline, 4200, 4096, out, &olen, &left, 0), LOTA_E_TOO_LARGE);

	/* a large chunk fed across calls */
	static char big[3000];
	memcpy(big, "800\r\n", 5);
	for (int i = 0; i < 2048; i++)
		big[5 + i] = (char)('a' + i % 26);
	memcpy(big + 5 + 2048, "\r\n0\r\n\r\n", 7);
	static char bout[3000];
	CU_ASSERT(decode_steps(big, 5 + 2048 + 7, 100, bout, &olen, &left, 0) >= 0);
	CU_ASSERT_EQUAL(olen, 2048);
	CU_ASSERT(memcmp(bout, big + 5, 2048) == 0);

	/* max chunk size parses (and then waits for data) */
	char maxc[] = "7fffffffffffffff\r\nab";
	len = strlen(maxc);
	lota_http_chunked_init(&d);
	CU_ASSERT_EQUAL(lota_http_chunked_decode(&d, maxc, &len), LOTA_E_INCOMPLETE);
	CU_ASSERT_EQUAL(len, 2);
	CU_ASSERT_EQUAL(d.remaining, 0x7fffffffffffffffULL - 2);

	len = 1;
	CU_ASSERT_EQUAL(lota_http_chunked_decode(NULL, buf, &len), -EINVAL);
	CU_ASSERT_EQUAL(lota_http_chunked_decode(&d, NULL, &len), -EINVAL);
	CU_ASSERT_EQUAL(lota_http_chunked_decode(&d, buf, NULL), -EINVAL);
}

int main(void)
{
	CU_TestInfo tests[] = {
	    {"request cases (accepted and each error)", test_request_cases},
	    {"request: every prefix agrees", test_request_split_independence},
	    {"request fields and views", test_request_fields},
	    {"request limits", test_request_limits},
	    {"limits: sz of an options struct", test_limits_sz},
	    {"every byte at every offset", test_every_byte_every_offset},
	    {"response cases and prefixes", test_response_cases},
	    {"response fields and body framing", test_response_fields},
	    {"case-insensitive compare", test_eq_nocase},
	    {"chunked cases, every split", test_chunked_cases},
	    {"chunked api, limits, leftovers", test_chunked_api},
	    CU_TEST_INFO_NULL,
	};
	return lota_unit_run("http", tests);
}
