/*
 * test_daemon_classify.c - lotad's request classifier: bucket and key from path-style
 * and virtual-hosted requests, the operation, and which requests the cache may serve
 * (only plain GET/HEAD of an object: every subresource, write and listing is proxied).
 */
#include <string.h>

#include <lota/http.h>

#include "s3/classify.h"
#include "unit.h"

static const char *const names[] = {"localhost", "cwlota.com", "s3.example.net"};

/* Parse a request head and classify it. */
static lotad_s3req classify(const char *head)
{
	static lota_http_header hdrs[32];
	lota_http_request req;
	lotad_s3req sr;
	int rc = lota_http_parse_request(head, strlen(head), &req, hdrs, 32, NULL);
	CU_ASSERT_FATAL(rc > 0);
	memset(&sr, 0xa5, sizeof(sr));
	lotad_classify(&req, names, 3, &sr);
	return sr;
}

static int eq(lota_str s, const char *want)
{
	return s.len == strlen(want) && memcmp(s.ptr, want, s.len) == 0;
}

#define REQ(m, t, host) m " " t " HTTP/1.1\r\nHost: " host "\r\n\r\n"

static void test_path_style(void)
{
	lotad_s3req s = classify(REQ("GET", "/bkt/dir/a%20b.bin", "127.0.0.1:9000"));
	CU_ASSERT(eq(s.bucket, "bkt"));
	CU_ASSERT(eq(s.key, "dir/a%20b.bin"));
	CU_ASSERT(!s.vhost);
	CU_ASSERT_EQUAL(s.op, LOTAD_OP_GET_OBJECT);
	CU_ASSERT(s.object_read);

	s = classify(REQ("HEAD", "/bkt//a//b/", "localhost"));
	CU_ASSERT(eq(s.key, "/a//b/")); /* no normalization: S3 keys keep their slashes */
	CU_ASSERT_EQUAL(s.op, LOTAD_OP_HEAD_OBJECT);
	CU_ASSERT(s.object_read);

	s = classify(REQ("GET", "/", "localhost:9000"));
	CU_ASSERT_EQUAL(s.op, LOTAD_OP_LIST_BUCKETS);
	CU_ASSERT_EQUAL(s.bucket.len, 0);
	CU_ASSERT(!s.object_read);
}

static void test_virtual_hosted(void)
{
	lotad_s3req s = classify(REQ("GET", "/dir/k", "data.localhost:9000"));
	CU_ASSERT(s.vhost);
	CU_ASSERT(eq(s.bucket, "data"));
	CU_ASSERT(eq(s.key, "dir/k"));
	CU_ASSERT(s.object_read);

	s = classify(REQ("GET", "/k", "my.dotted.bucket.cwlota.com"));
	CU_ASSERT(eq(s.bucket, "my.dotted.bucket"));
	CU_ASSERT(eq(s.key, "k"));

	s = classify(REQ("GET", "/?list-type=2", "data.s3.example.net"));
	CU_ASSERT(eq(s.bucket, "data"));
	CU_ASSERT_EQUAL(s.op, LOTAD_OP_LIST_OBJECTS);
	CU_ASSERT(!s.object_read);

	/* A Host that only ends like a name is not virtual-hosted. */
	s = classify(REQ("GET", "/b/k", "evilcwlota.com"));
	CU_ASSERT(!s.vhost);
	CU_ASSERT(eq(s.bucket, "b"));

	CU_ASSERT_EQUAL(lotad_vhost_bucket(LOTA_STR_LIT("localhost:80"), names, 3).len, 0);
	CU_ASSERT(eq(lotad_vhost_bucket(LOTA_STR_LIT("B.LOCALHOST"), names, 3), "B"));
	CU_ASSERT_EQUAL(lotad_vhost_bucket(LOTA_STR_LIT(".localhost"), names, 3).len, 0);
	CU_ASSERT_EQUAL(lotad_vhost_bucket(LOTA_STR_LIT("b.other.org"), names, 3).len, 0);
}

static void test_operations(void)
{
	struct {
		const char *head;
		lotad_op op;
		int object_read;
	} cases[] = {
	    {REQ("PUT", "/b/k", "h"), LOTAD_OP_PUT_OBJECT, 0},
	    {"PUT /b/k HTTP/1.1\r\nHost: h\r\nx-amz-copy-source: /a/b\r\n\r\n",
	     LOTAD_OP_COPY_OBJECT, 0},
	    {REQ("DELETE", "/b/k", "h"), LOTAD_OP_DELETE_OBJECT, 0},
	    {REQ("POST", "/b?delete", "h"), LOTAD_OP_DELETE_OBJECTS, 0},
	    {REQ("POST", "/b/k?uploads", "h"), LOTAD_OP_MULTIPART, 0},
	    {REQ("PUT", "/b/k?partNumber=1&uploadId=x", "h"), LOTAD_OP_MULTIPART, 0},
	    {REQ("POST", "/b/k?uploadId=x", "h"), LOTAD_OP_MULTIPART, 0},
	    {REQ("GET", "/b/k?uploadId=x", "h"), LOTAD_OP_MULTIPART, 0},
	    {REQ("DELETE", "/b/k?uploadId=x", "h"), LOTAD_OP_MULTIPART, 0},
	    {REQ("GET", "/b?uploads", "h"), LOTAD_OP_MULTIPART, 0},
	    {REQ("GET", "/b", "h"), LOTAD_OP_LIST_OBJECTS, 0},
	    {REQ("GET", "/b/?prefix=a&delimiter=/", "h"), LOTAD_OP_LIST_OBJECTS, 0},
	    {REQ("PUT", "/b", "h"), LOTAD_OP_BUCKET, 0},
	    {REQ("HEAD", "/b", "h"), LOTAD_OP_BUCKET, 0},
	    {REQ("GET", "/b?acl", "h"), LOTAD_OP_BUCKET, 0},
	    {REQ("GET", "/b/k?acl", "h"), LOTAD_OP_SUBRESOURCE, 0},
	    {REQ("PUT", "/b/k?tagging", "h"), LOTAD_OP_SUBRESOURCE, 0},
	    {REQ("GET", "/b/k?versionId=3", "h"), LOTAD_OP_GET_OBJECT, 1},
	    {REQ("GET", "/b/k?response-content-type=x", "h"), LOTAD_OP_GET_OBJECT, 1},
	    /* presign parameters (util/names.h) keep it an object read; other X-Amz-* do not */
	    {REQ("GET", "/b/k?X-Amz-Expires=60&x-amz-signature=0", "h"), LOTAD_OP_GET_OBJECT, 1},
	    {REQ("GET", "/b/k?X-Amz-Foo=1", "h"), LOTAD_OP_SUBRESOURCE, 0},
	    {REQ("GET", "/b/k?X-Amz-Content-Sha256=UNSIGNED-PAYLOAD&X-Amz-Signature=0", "h"),
	     LOTAD_OP_GET_OBJECT, 1},
	    {REQ("GET", "/b/k?x-amz-expected-bucket-owner=1", "h"), LOTAD_OP_SUBRESOURCE, 0},
	    {REQ("OPTIONS", "/b/k", "h"), LOTAD_OP_OTHER, 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		lotad_s3req s = classify(cases[i].head);
		if (s.op != cases[i].op || s.object_read != (bool)cases[i].object_read)
			fprintf(stderr, "case %zu: %s -> op %s read %d\n", i, cases[i].head,
			        lotad_op_name(s.op), s.object_read);
		CU_ASSERT_EQUAL(s.op, cases[i].op);
		CU_ASSERT_EQUAL(s.object_read, (bool)cases[i].object_read);
	}
}

int main(void)
{
	CU_TestInfo tests[] = {
	    {"path-style bucket and key", test_path_style},
	    {"virtual-hosted bucket", test_virtual_hosted},
	    {"operations and cacheability", test_operations},
	    CU_TEST_INFO_NULL,
	};
	return lota_unit_run("daemon_classify", tests);
}
