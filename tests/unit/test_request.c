/*
 * test_request.c - the outgoing request description (lota/request.h) and its signing in
 * place (lota_sigv4_sign_request): the request line and its checks, header add / set /
 * remove / find with their order and curl-ready lines, every limit and refusal (with the
 * request unchanged after it), and signatures checked against the S3 documentation's GET
 * Object and chunked PUT examples and against lota_sigv4_verify, with unsigned fields.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lota/chunked.h>
#include <lota/request.h>
#include <lota/sigv4.h>

#include "unit.h"

#define AK  "AKIAIOSFODNN7EXAMPLE"
#define SK  "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define T13 1369353600 /* 20130524T000000Z */

static lota_str S(const char *s)
{
	return (lota_str){s, s ? strlen(s) : 0};
}

static bool view_is(lota_str v, const char *s)
{
	return v.len == strlen(s) && memcmp(v.ptr, s, v.len) == 0;
}

/* "name=value|..." of every field, for comparing whole requests. */
static const char *dump(const lota_request *r)
{
	static char out[4096];
	size_t n = 0;
	out[0] = '\0';
	for (size_t i = 0; i < lota_request_header_count(r); i++) {
		lota_http_header h;
		unsigned f;
		CU_ASSERT_EQUAL_FATAL(lota_request_header_get(r, i, &h, &f), 0);
		n += (size_t)snprintf(out + n, sizeof(out) - n, "%s%.*s=%.*s%s", i ? "|" : "",
		                      (int)h.name.len, h.name.ptr, (int)h.value.len, h.value.ptr,
		                      f & LOTA_REQUEST_UNSIGNED ? "(u)" : "");
	}
	return out;
}

static void test_line(void)
{
	lota_request *r = lota_request_new();
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT(view_is(lota_request_method(r), "GET"));
	CU_ASSERT(view_is(lota_request_path(r), "/"));
	CU_ASSERT_EQUAL(lota_request_query(r).len, 0);
	CU_ASSERT_STRING_EQUAL(lota_request_target(r), "/");
	CU_ASSERT_EQUAL(
	    lota_request_reset(r, S("PUT"), S("/b/a%20b"), S("uploadId=1&partNumber=2")), 0);
	CU_ASSERT_STRING_EQUAL(lota_request_target(r), "/b/a%20b?uploadId=1&partNumber=2");
	CU_ASSERT_STRING_EQUAL(lota_request_path(r).ptr, "/b/a%20b"); /* NUL-terminated */
	CU_ASSERT_STRING_EQUAL(lota_request_query(r).ptr, "uploadId=1&partNumber=2");
	CU_ASSERT_STRING_EQUAL(lota_request_method(r).ptr, "PUT");
	CU_ASSERT_EQUAL(lota_request_set_query(r, S("versionId=v")), 0);
	CU_ASSERT_STRING_EQUAL(lota_request_target(r), "/b/a%20b?versionId=v");
	CU_ASSERT_EQUAL(lota_request_set_query(r, (lota_str){NULL, 0}), 0);
	CU_ASSERT_STRING_EQUAL(lota_request_target(r), "/b/a%20b");
	/* refusals leave the request as it was */
	static const struct {
		const char *m, *p, *q;
		int rc;
	} bad[] = {
	    {"", "/", "", LOTA_E_HTTP_METHOD},
	    {"G T", "/", "", LOTA_E_HTTP_METHOD},
	    {"GET\r\n", "/", "", LOTA_E_HTTP_METHOD},
	    {"GET", "", "", LOTA_E_HTTP_TARGET},
	    {"GET", "b/k", "", LOTA_E_HTTP_TARGET},
	    {"GET", "/a b", "", LOTA_E_HTTP_TARGET},
	    {"GET", "/a?b", "", LOTA_E_HTTP_TARGET},
	    {"GET", "/a#b", "", LOTA_E_HTTP_TARGET},
	    {"GET", "/\x80", "", LOTA_E_HTTP_TARGET},
	    {"GET", "/", "a b", LOTA_E_HTTP_TARGET},
	    {"GET", "/", "a\r\nX: y", LOTA_E_HTTP_TARGET},
	    {"GET", "/", "a#", LOTA_E_HTTP_TARGET},
	};
	CU_ASSERT(lota_request_header_add(r, S("X-Keep"), S("1"), 0) >= 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CU_ASSERT_EQUAL(lota_request_reset(r, S(bad[i].m), S(bad[i].p), S(bad[i].q)),
		                bad[i].rc);
		CU_ASSERT_STRING_EQUAL(lota_request_target(r), "/b/a%20b");
		CU_ASSERT_EQUAL(lota_request_header_count(r), 1);
	}
	CU_ASSERT_EQUAL(lota_request_set_query(r, S("a b")), LOTA_E_HTTP_TARGET);
	CU_ASSERT_STRING_EQUAL(lota_request_target(r), "/b/a%20b");
	CU_ASSERT_EQUAL(lota_request_reset(r, (lota_str){NULL, 3}, S("/"), S("")), -EINVAL);
	CU_ASSERT_EQUAL(lota_request_reset(NULL, S("GET"), S("/"), S("")), -EINVAL);
	CU_ASSERT_EQUAL(lota_request_set_query(NULL, S("")), -EINVAL);
	/* reset drops the fields */
	CU_ASSERT_EQUAL(lota_request_reset(r, S("HEAD"), S("/x"), S("")), 0);
	CU_ASSERT_EQUAL(lota_request_header_count(r), 0);
	lota_request_free(r);
	lota_request_free(NULL);
	CU_ASSERT_PTR_NULL(lota_request_target(NULL));
	CU_ASSERT_EQUAL(lota_request_method(NULL).len, 0);
}

static void test_fields(void)
{
	lota_request *r = lota_request_new();
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_EQUAL(lota_request_header_add(r, S("Range"), S("bytes=0-9"), 0), 0);
	CU_ASSERT_EQUAL(lota_request_header_add(r, S("X-Amz-Meta-A"), S("1"), 0), 1);
	CU_ASSERT_EQUAL(lota_request_header_add(r, S("Accept"), S(""), LOTA_REQUEST_UNSIGNED), 2);
	CU_ASSERT_EQUAL(lota_request_header_add(r, S("x-amz-meta-a"), S("2"), 0), 3);
	CU_ASSERT_STRING_EQUAL(dump(r), "Range=bytes=0-9|X-Amz-Meta-A=1|Accept=(u)|x-amz-meta-a=2");
	/* lines as curl takes them */
	CU_ASSERT_STRING_EQUAL(lota_request_header_line(r, 0), "Range: bytes=0-9");
	CU_ASSERT_STRING_EQUAL(lota_request_header_line(r, 2), "Accept;");
	CU_ASSERT_PTR_NULL(lota_request_header_line(r, 4));
	/* find is case-insensitive and gives the first */
	CU_ASSERT_EQUAL(lota_request_header_find(r, S("X-AMZ-META-A")), 1);
	CU_ASSERT_EQUAL(lota_request_header_find(r, S("nope")), -ENOENT);
	/* set: the first takes the value where it stands, the others go */
	CU_ASSERT_EQUAL(
	    lota_request_header_set(r, S("x-amz-META-a"), S("3"), LOTA_REQUEST_UNSIGNED), 1);
	CU_ASSERT_STRING_EQUAL(dump(r), "Range=bytes=0-9|x-amz-META-a=3(u)|Accept=(u)");
	CU_ASSERT_STRING_EQUAL(lota_request_header_line(r, 1), "x-amz-META-a: 3");
	CU_ASSERT_EQUAL(lota_request_header_set(r, S("If-Match"), S("\"e\""), 0), 3);
	/* set from a view of the request itself (the arena grows under it) */
	lota_http_header h;
	CU_ASSERT_EQUAL(lota_request_header_get(r, 0, &h, NULL), 0);
	CU_ASSERT_EQUAL(lota_request_header_set(r, S("X-Copy"), h.value, 0), 4);
	char big[3000];
	memset(big, 'v', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	CU_ASSERT_EQUAL(lota_request_header_get(r, 4, &h, NULL), 0);
	CU_ASSERT_EQUAL(lota_request_header_set(r, S("X-Big"), S(big), 0), 5);
	CU_ASSERT_EQUAL(lota_request_header_get(r, 0, &h, NULL), 0);
	CU_ASSERT_EQUAL(lota_request_header_set(r, S("Range"), h.value, 0), 0);
	CU_ASSERT_STRING_EQUAL(lota_request_header_line(r, 0), "Range: bytes=0-9");
	CU_ASSERT_STRING_EQUAL(lota_request_header_line(r, 4), "X-Copy: bytes=0-9");
	/* remove all of a name; indices after move down */
	CU_ASSERT_EQUAL(lota_request_header_add(r, S("x-copy"), S("again"), 0), 6);
	CU_ASSERT_EQUAL(lota_request_header_remove(r, S("X-COPY")), 2);
	CU_ASSERT_EQUAL(lota_request_header_remove(r, S("X-COPY")), 0);
	CU_ASSERT_EQUAL(lota_request_header_remove(r, S("X-Big")), 1);
	CU_ASSERT_STRING_EQUAL(dump(r),
	                       "Range=bytes=0-9|x-amz-META-a=3(u)|Accept=(u)|If-Match=\"e\"");
	CU_ASSERT_STRING_EQUAL(lota_request_header_line(r, 3), "If-Match: \"e\"");
	/* values may hold tabs inside and 8-bit bytes */
	CU_ASSERT(lota_request_header_add(r, S("X-T"), S("a\tb \xc3\xa9"), 0) >= 0);
	/* refusals: nothing changes */
	const char *before = strdup(dump(r));
	static const struct {
		const char *n, *v;
		int rc;
	} bad[] = {
	    {"", "x", LOTA_E_HTTP_HEADER_NAME},
	    {"X Y", "x", LOTA_E_HTTP_HEADER_NAME},
	    {"X:", "x", LOTA_E_HTTP_HEADER_NAME},
	    {"X\r\nY", "x", LOTA_E_HTTP_HEADER_NAME},
	    {"X", "a\r\nEvil: 1", LOTA_E_HTTP_HEADER_VALUE},
	    {"X", "a\nb", LOTA_E_HTTP_HEADER_VALUE},
	    {"X", " a", LOTA_E_HTTP_HEADER_VALUE},
	    {"X", "a\t", LOTA_E_HTTP_HEADER_VALUE},
	    {"X", "a\x7f", LOTA_E_HTTP_HEADER_VALUE},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CU_ASSERT_EQUAL(lota_request_header_add(r, S(bad[i].n), S(bad[i].v), 0), bad[i].rc);
		CU_ASSERT_EQUAL(lota_request_header_set(r, S(bad[i].n), S(bad[i].v), 0), bad[i].rc);
	}
	CU_ASSERT_EQUAL(lota_request_header_add(r, (lota_str){"X\0Y", 3}, S("v"), 0),
	                LOTA_E_HTTP_HEADER_NAME);
	CU_ASSERT_EQUAL(lota_request_header_add(r, S("X"), (lota_str){"a\0b", 3}, 0),
	                LOTA_E_HTTP_HEADER_VALUE);
	CU_ASSERT_EQUAL(lota_request_header_add(r, S("X"), S("v"), 0x8), -EINVAL);
	CU_ASSERT_EQUAL(lota_request_header_add(r, (lota_str){NULL, 1}, S("v"), 0), -EINVAL);
	CU_ASSERT_EQUAL(lota_request_header_add(NULL, S("X"), S("v"), 0), -EINVAL);
	CU_ASSERT_STRING_EQUAL(dump(r), before);
	free((void *)before);
	/* getters' refusals */
	CU_ASSERT_EQUAL(lota_request_header_get(r, 99, &h, NULL), -ERANGE);
	CU_ASSERT_EQUAL(lota_request_header_get(r, 0, NULL, NULL), -EINVAL);
	CU_ASSERT_EQUAL(lota_request_header_get(NULL, 0, &h, NULL), -EINVAL);
	CU_ASSERT_EQUAL(lota_request_header_find(NULL, S("X")), -EINVAL);
	CU_ASSERT_EQUAL(lota_request_header_remove(NULL, S("X")), -EINVAL);
	CU_ASSERT_EQUAL(lota_request_header_count(NULL), 0);
	CU_ASSERT_PTR_NULL(lota_request_header_line(NULL, 0));
	lota_request_free(r);
}

static void test_limits(void)
{
	lota_request *r = lota_request_new();
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	char name[16];
	for (int i = 0; i < LOTA_REQUEST_MAX_HEADERS; i++) {
		snprintf(name, sizeof(name), "X-%d", i);
		CU_ASSERT_EQUAL(lota_request_header_add(r, S(name), S("v"), 0), i);
	}
	CU_ASSERT_EQUAL(lota_request_header_add(r, S("X-more"), S("v"), 0),
	                LOTA_E_HTTP_TOO_MANY_HEADERS);
	CU_ASSERT_EQUAL(lota_request_header_set(r, S("X-more"), S("v"), 0),
	                LOTA_E_HTTP_TOO_MANY_HEADERS);
	CU_ASSERT_EQUAL(lota_request_header_set(r, S("X-5"), S("w"), 0), 5); /* replacing fits */
	CU_ASSERT_EQUAL(lota_request_header_count(r), LOTA_REQUEST_MAX_HEADERS);

	/* the byte cap: method + path + query + names + values */
	CU_ASSERT_EQUAL(lota_request_reset(r, S("GET"), S("/"), S("")), 0);
	size_t room = LOTA_REQUEST_MAX_BYTES - 4 - 1; /* "GET" "/" and the name "V" */
	char *v = malloc(room + 2);
	CU_ASSERT_PTR_NOT_NULL_FATAL(v);
	memset(v, 'a', room + 1);
	v[room + 1] = '\0';
	CU_ASSERT_EQUAL(lota_request_header_add(r, S("V"), (lota_str){v, room + 1}, 0),
	                LOTA_E_TOO_LARGE);
	CU_ASSERT_EQUAL(lota_request_header_add(r, S("V"), (lota_str){v, room}, 0), 0);
	CU_ASSERT_EQUAL(lota_request_header_add(r, S("E"), S(""), 0), LOTA_E_TOO_LARGE);
	/* a set that frees its own bytes fits, one that grows does not */
	CU_ASSERT_EQUAL(lota_request_header_set(r, S("V"), (lota_str){v, room}, 0), 0);
	CU_ASSERT_EQUAL(lota_request_header_set(r, S("V"), (lota_str){v, room + 1}, 0),
	                LOTA_E_TOO_LARGE);
	CU_ASSERT_EQUAL(lota_request_set_query(r, S("q")), LOTA_E_TOO_LARGE);
	CU_ASSERT_STRING_EQUAL(lota_request_target(r), "/");
	CU_ASSERT_EQUAL(lota_request_header_set(r, S("V"), S("small"), 0), 0);
	CU_ASSERT_EQUAL(lota_request_set_query(r, S("q")), 0);
	/* a line too long for the cap by itself */
	free(v);
	v = malloc(LOTA_REQUEST_MAX_BYTES);
	CU_ASSERT_PTR_NOT_NULL_FATAL(v);
	memset(v, '/', LOTA_REQUEST_MAX_BYTES);
	CU_ASSERT_EQUAL(
	    lota_request_reset(r, S("GET"), (lota_str){v, LOTA_REQUEST_MAX_BYTES - 2}, S("")),
	    LOTA_E_TOO_LARGE);
	CU_ASSERT_STRING_EQUAL(lota_request_target(r), "/?q");
	CU_ASSERT_EQUAL(
	    lota_request_reset(r, S("GET"), (lota_str){v, LOTA_REQUEST_MAX_BYTES - 3}, S("")), 0);
	free(v);
	lota_request_free(r);
}

static lota_sigv4_params doc_params(void)
{
	return LOTA_OPTS(lota_sigv4_params, .access_key = S(AK), .secret_key = S(SK),
	                 .region = S("us-east-1"), .service = S("s3"), .time = T13);
}

/* Verify r as the upstream would: every field (signed or not) as sent. */
static int verify(const lota_request *r)
{
	lota_http_header hs[LOTA_REQUEST_MAX_HEADERS];
	size_t n = lota_request_header_count(r);
	for (size_t i = 0; i < n; i++)
		CU_ASSERT_EQUAL_FATAL(lota_request_header_get(r, i, &hs[i], NULL), 0);
	lota_sigv4_request q = {
	    lota_request_method(r), lota_request_path(r), lota_request_query(r), hs, n, {NULL, 0}};
	lota_sigv4_auth a;
	int rc = lota_sigv4_parse(&q, &a);
	if (rc)
		return rc;
	return lota_sigv4_verify(&q, &a, S(SK), T13, 900, 0);
}

static void test_sign_doc_examples(void)
{
	/* GET Object: "GET /test.txt", Range bytes=0-9, signed payload of an empty body */
	lota_request *r = lota_request_new();
	char seed[LOTA_SIGV4_SIGNATURE_HEX_LEN + 1];
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_EQUAL(lota_request_reset(r, S("GET"), S("/test.txt"), S("")), 0);
	CU_ASSERT(lota_request_header_add(r, S("Range"), S("bytes=0-9"), 0) >= 0);
	lota_sigv4_params p = doc_params();
	CU_ASSERT_EQUAL_FATAL(lota_sigv4_sign_request(&p, r, S("examplebucket.s3.amazonaws.com"),
	                                              (lota_str){NULL, 0}, seed),
	                      0);
	CU_ASSERT_STRING_EQUAL(seed,
	                       "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
	CU_ASSERT_STRING_EQUAL(dump(r),
	                       "Range=bytes=0-9|Host=examplebucket.s3.amazonaws.com|"
	                       "X-Amz-Date=20130524T000000Z|X-Amz-Content-Sha256="
	                       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852"
	                       "b855|Authorization=AWS4-HMAC-SHA256 Credential=" AK
	                       "/20130524/us-east-1/s3/aws4_request, "
	                       "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
	                       "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd9"
	                       "1039c6036bdb41");
	CU_ASSERT_EQUAL(verify(r), 0);
	/* signing again replaces every field it writes: same request, same signature */
	CU_ASSERT_EQUAL(lota_sigv4_sign_request(&p, r, S("examplebucket.s3.amazonaws.com"),
	                                        (lota_str){NULL, 0}, seed),
	                0);
	CU_ASSERT_EQUAL(lota_request_header_count(r), 5);
	CU_ASSERT_STRING_EQUAL(seed,
	                       "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");

	/* the chunked PUT: its seed signature starts the documented chunk chain */
	CU_ASSERT_EQUAL(lota_request_reset(r, S("PUT"), S("/examplebucket/chunkObject.txt"), S("")),
	                0);
	CU_ASSERT(
	    lota_request_header_add(r, S("x-amz-storage-class"), S("REDUCED_REDUNDANCY"), 0) >= 0);
	CU_ASSERT(lota_request_header_add(r, S("Content-Encoding"), S("aws-chunked"), 0) >= 0);
	CU_ASSERT(lota_request_header_add(r, S("x-amz-decoded-content-length"), S("66560"), 0) >=
	          0);
	CU_ASSERT(lota_request_header_add(r, S("Content-Length"), S("66824"), 0) >= 0);
	CU_ASSERT_EQUAL_FATAL(lota_sigv4_sign_request(&p, r, S("s3.amazonaws.com"),
	                                              S(LOTA_SIGV4_STREAMING_PAYLOAD), seed),
	                      0);
	CU_ASSERT_STRING_EQUAL(seed,
	                       "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9");
	lota_chunk_chain_params cp = {.sz = sizeof(lota_chunk_chain_params)};
	cp.secret_key = S(SK);
	cp.amz_date = S("20130524T000000Z");
	cp.region = S("us-east-1");
	cp.seed_signature = S(seed);
	lota_chunk_chain *c = NULL;
	char sig[LOTA_CHUNK_SIGNATURE_HEX_LEN + 1], *a = malloc(65536);
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	memset(a, 'a', 65536);
	CU_ASSERT_EQUAL_FATAL(lota_chunk_chain_new(&cp, &c), 0);
	CU_ASSERT_EQUAL(lota_chunk_chain_sign_data(c, a, 65536, sig), 0);
	CU_ASSERT_STRING_EQUAL(sig,
	                       "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648");
	lota_chunk_chain_free(c);
	free(a);
	lota_request_free(r);
}

static void test_sign_fields(void)
{
	lota_request *r = lota_request_new();
	lota_sigv4_params p = doc_params();
	char seed[LOTA_SIGV4_SIGNATURE_HEX_LEN + 1];
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	/* unsigned fields are sent but not signed: changing one keeps the signature valid */
	CU_ASSERT_EQUAL(lota_request_reset(r, S("GET"), S("/b/k"), S("versionId=3")), 0);
	CU_ASSERT(lota_request_header_add(r, S("Range"), S("bytes=0-99"), 0) >= 0);
	CU_ASSERT(lota_request_header_add(r, S("User-Agent"), S("curl/8"), LOTA_REQUEST_UNSIGNED) >=
	          0);
	CU_ASSERT(lota_request_header_add(r, S("Authorization"), S("stale"), 0) >= 0);
	CU_ASSERT(lota_request_header_add(r, S("X-Amz-Security-Token"), S("stale"), 0) >= 0);
	CU_ASSERT(lota_request_header_add(r, S("Host"), S("old-host"), LOTA_REQUEST_UNSIGNED) >= 0);
	CU_ASSERT_EQUAL_FATAL(
	    lota_sigv4_sign_request(&p, r, S("s3.test:7480"), (lota_str){NULL, 0}, NULL), 0);
	CU_ASSERT_EQUAL(lota_request_header_find(r, S("X-Amz-Security-Token")), -ENOENT);
	CU_ASSERT_EQUAL(verify(r), 0);
	lota_http_header h;
	CU_ASSERT_EQUAL(
	    lota_request_header_get(r, (size_t)lota_request_header_find(r, S("Host")), &h, NULL),
	    0);
	CU_ASSERT(view_is(h.value, "s3.test:7480"));
	const char *auth = lota_request_header_line(r, lota_request_header_count(r) - 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(auth, "SignedHeaders=host;range;x-amz-content-sha256;"
	                                    "x-amz-date, "));
	CU_ASSERT_EQUAL(
	    lota_request_header_set(r, S("User-Agent"), S("other"), LOTA_REQUEST_UNSIGNED), 1);
	CU_ASSERT_EQUAL(verify(r), 0);
	CU_ASSERT_EQUAL(lota_request_header_set(r, S("Range"), S("bytes=0-98"), 0), 0);
	CU_ASSERT_EQUAL(verify(r), LOTA_E_SIGV4_MISMATCH);

	/* a session token is written and signed; the payload hash comes from the request */
	p.session_token = S("TOKEN/with+chars=");
	CU_ASSERT(lota_request_header_add(r, S("X-Amz-Content-Sha256"), S("UNSIGNED-PAYLOAD"),
	                                  LOTA_REQUEST_UNSIGNED) >= 0);
	CU_ASSERT_EQUAL(lota_request_header_remove(r, S("X-Amz-Content-Sha256")), 2);
	CU_ASSERT(lota_request_header_add(r, S("X-Amz-Content-Sha256"), S("UNSIGNED-PAYLOAD"),
	                                  LOTA_REQUEST_UNSIGNED) >= 0);
	CU_ASSERT_EQUAL_FATAL(
	    lota_sigv4_sign_request(&p, r, (lota_str){NULL, 0}, (lota_str){NULL, 0}, seed), 0);
	CU_ASSERT_EQUAL(strlen(seed), 64);
	CU_ASSERT_EQUAL(verify(r), 0);
	auth = lota_request_header_line(r, lota_request_header_count(r) - 1);
	CU_ASSERT_PTR_NOT_NULL(
	    strstr(auth, "x-amz-content-sha256;x-amz-date;x-amz-security-token"));
	CU_ASSERT_PTR_NOT_NULL(strstr(auth, seed));
	CU_ASSERT_EQUAL(
	    lota_request_header_get(
	        r, (size_t)lota_request_header_find(r, S("X-Amz-Content-Sha256")), &h, NULL),
	    0);
	CU_ASSERT(view_is(h.value, "UNSIGNED-PAYLOAD"));

	/* an empty X-Amz-Content-Sha256 is none: the empty body's hash is written */
	CU_ASSERT(lota_request_header_set(r, S("X-Amz-Content-Sha256"), S(""), 0) >= 0);
	CU_ASSERT_EQUAL(
	    lota_sigv4_sign_request(&p, r, (lota_str){NULL, 0}, (lota_str){NULL, 0}, NULL), 0);
	CU_ASSERT_EQUAL(
	    lota_request_header_get(
	        r, (size_t)lota_request_header_find(r, S("X-Amz-Content-Sha256")), &h, NULL),
	    0);
	CU_ASSERT(view_is(h.value, LOTA_SIGV4_EMPTY_SHA256));
	CU_ASSERT_EQUAL(verify(r), 0);

	/* failures leave no Authorization */
	CU_ASSERT_EQUAL(lota_request_header_remove(r, S("Host")), 1);
	CU_ASSERT_EQUAL(
	    lota_sigv4_sign_request(&p, r, (lota_str){NULL, 0}, (lota_str){NULL, 0}, seed),
	    LOTA_E_SIGV4_HEADERS);
	CU_ASSERT_STRING_EQUAL(seed, "");
	CU_ASSERT_EQUAL(lota_request_header_find(r, S("Authorization")), -ENOENT);
	/* params without sz (lota/common.h): refused before anything is read or written */
	lota_sigv4_params nosz = doc_params();
	nosz.sz = 0;
	size_t before = lota_request_header_count(r);
	CU_ASSERT_EQUAL(lota_sigv4_sign_request(&nosz, r, S("h"), (lota_str){NULL, 0}, seed),
	                LOTA_E_OPTS);
	CU_ASSERT_EQUAL(lota_request_header_count(r), before);
	CU_ASSERT_EQUAL(lota_request_header_find(r, S("Host")), -ENOENT);
	CU_ASSERT_STRING_EQUAL(seed, "");
	lota_sigv4_params badp = doc_params();
	badp.region = S("bad/region");
	CU_ASSERT(lota_sigv4_sign_request(&badp, r, S("h"), (lota_str){NULL, 0}, NULL) < 0);
	CU_ASSERT_EQUAL(lota_request_header_find(r, S("Authorization")), -ENOENT);
	/* one name, signed and unsigned fields: the receiver would join them */
	CU_ASSERT(lota_request_header_add(r, S("Range"), S("bytes=1-2"), LOTA_REQUEST_UNSIGNED) >=
	          0);
	CU_ASSERT_EQUAL(lota_sigv4_sign_request(&p, r, S("h"), (lota_str){NULL, 0}, NULL),
	                LOTA_E_SIGV4_HEADERS);
	CU_ASSERT_EQUAL(lota_request_header_find(r, S("Authorization")), -ENOENT);
	CU_ASSERT(lota_request_header_add(r, S("x-other"), S("1"), LOTA_REQUEST_UNSIGNED) >= 0);
	CU_ASSERT(lota_request_header_add(r, S("X-OTHER"), S("2"), LOTA_REQUEST_UNSIGNED) >= 0);
	CU_ASSERT_EQUAL(lota_request_header_remove(r, S("range")), 2);
	CU_ASSERT(lota_request_header_add(r, S("Range"), S("bytes=1-2"), 0) >= 0);
	CU_ASSERT(lota_request_header_add(r, S("range"), S("bytes=3-4"), 0) >= 0);
	CU_ASSERT_EQUAL(lota_sigv4_sign_request(&p, r, S("h"), (lota_str){NULL, 0}, NULL), 0);
	CU_ASSERT_EQUAL(verify(r), 0); /* two signed fields of a name, two unsigned: fine */
	/* a header name SigV4 cannot list */
	CU_ASSERT(lota_request_header_add(r, S("X%"), S("1"), 0) >= 0);
	CU_ASSERT_EQUAL(lota_sigv4_sign_request(&p, r, S("h"), (lota_str){NULL, 0}, NULL),
	                LOTA_E_SIGV4_HEADERS);
	/* too many signed fields for SigV4 (it adds Authorization itself) */
	CU_ASSERT_EQUAL(lota_request_reset(r, S("GET"), S("/"), S("")), 0);
	for (int i = 0; i < LOTA_REQUEST_MAX_HEADERS - 4; i++) {
		char name[16];
		snprintf(name, sizeof(name), "X-%d", i);
		CU_ASSERT(lota_request_header_add(r, S(name), S("v"), 0) >= 0);
	}
	p.session_token = (lota_str){NULL, 0};
	CU_ASSERT_EQUAL(lota_sigv4_sign_request(&p, r, S("h"), (lota_str){NULL, 0}, NULL), 0);
	CU_ASSERT_EQUAL(lota_request_header_count(r), LOTA_REQUEST_MAX_HEADERS);
	CU_ASSERT_EQUAL(verify(r), 0);
	p.session_token = S("T");
	/* 128 signed fields: SigV4 signs at most 127, its Authorization is the 128th */
	CU_ASSERT_EQUAL(lota_sigv4_sign_request(&p, r, S("h"), (lota_str){NULL, 0}, NULL),
	                LOTA_E_TOO_LARGE);
	CU_ASSERT_EQUAL(lota_request_header_find(r, S("Authorization")), -ENOENT);
	CU_ASSERT_EQUAL(lota_sigv4_sign_request(NULL, r, S("h"), (lota_str){NULL, 0}, NULL),
	                -EINVAL);
	CU_ASSERT_EQUAL(lota_sigv4_sign_request(&p, NULL, S("h"), (lota_str){NULL, 0}, NULL),
	                -EINVAL);
	lota_request_free(r);
}

int main(void)
{
	CU_TestInfo tests[] = {
	    {"request line", test_line},
	    {"header fields", test_fields},
	    {"limits", test_limits},
	    {"signing: the S3 documentation's examples", test_sign_doc_examples},
	    {"signing: fields, tokens, failures", test_sign_fields},
	    CU_TEST_INFO_NULL,
	};
	return lota_unit_run("request", tests);
}
