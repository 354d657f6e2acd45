/*
 * test_daemon_cache.c - the parsers of lotad's cache path: the object key's percent
 * decoding (cache keys use the decoded key, so that every client's spelling of one key
 * finds the same extents), which queries a cached GET may carry, the Cache-Control /
 * Pragma request directives, the exact Content-Range check of fills, and what makes a
 * read a hit: every byte asked for in the store, published or in a fill that holds it
 * (on a real store in a mkdtemp() directory, removed at the end).
 */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lota/sigv4.h>

#include "cache/cache.h"
#include "unit.h"

static lota_str S(const char *s)
{
	return (lota_str){s, strlen(s)};
}

/* Cache keys hold the key percent-decoded by lota_uri_decode(): what the cache relies on. */
static int decode(const char *in, char *out, size_t cap)
{
	return lota_uri_decode(in, strlen(in), out, cap);
}

static void test_pct_decode(void)
{
	char out[64], out2[64];
	CU_ASSERT_EQUAL(decode("plain/key.bin", out, sizeof(out)), 13);
	CU_ASSERT_EQUAL(memcmp(out, "plain/key.bin", 13), 0);
	CU_ASSERT_EQUAL(decode("a%20b%2Fc%2fd", out, sizeof(out)), 7);
	CU_ASSERT_EQUAL(memcmp(out, "a b/c/d", 7), 0);
	/* two spellings of one key decode alike (so they name the same extents) */
	CU_ASSERT_EQUAL(decode("%7Euser/%61", out2, sizeof(out2)), 7);
	CU_ASSERT_EQUAL(decode("~user/a", out, sizeof(out)), 7);
	CU_ASSERT_EQUAL(memcmp(out, out2, 7), 0);
	CU_ASSERT_EQUAL(decode("%E2%82%AC", out, sizeof(out)), 3);
	CU_ASSERT_EQUAL(memcmp(out, "\xe2\x82\xac", 3), 0);
	CU_ASSERT_EQUAL(decode("%00x", out, sizeof(out)), 2);
	CU_ASSERT_EQUAL(out[0], 0);
	CU_ASSERT_EQUAL(decode("+", out, sizeof(out)), 1); /* '+' is a plus in a path */
	CU_ASSERT_EQUAL(out[0], '+');
	CU_ASSERT_EQUAL(decode("", out, sizeof(out)), 0);
	/* bad escapes */
	CU_ASSERT_EQUAL(decode("%", out, sizeof(out)), LOTA_E_HTTP_TARGET);
	CU_ASSERT_EQUAL(decode("ab%2", out, sizeof(out)), LOTA_E_HTTP_TARGET);
	CU_ASSERT_EQUAL(decode("%G0", out, sizeof(out)), LOTA_E_HTTP_TARGET);
	CU_ASSERT_EQUAL(decode("%0g", out, sizeof(out)), LOTA_E_HTTP_TARGET);
	/* the output never overflows (cap includes the NUL) */
	CU_ASSERT_EQUAL(decode("abcd", out, 4), LOTA_E_TOO_LARGE);
	CU_ASSERT_EQUAL(decode("%41%42%43", out, 4), 3);
	CU_ASSERT_EQUAL(decode("%41%42%43%44", out, 4), LOTA_E_TOO_LARGE);
}

static void test_query(void)
{
	lota_str v;
	CU_ASSERT(lotad_cache__query_ok(S(""), &v));
	CU_ASSERT_EQUAL(v.len, 0);
	CU_ASSERT(lotad_cache__query_ok(S("versionId=abc"), &v));
	CU_ASSERT(v.len == 13 && memcmp(v.ptr, "versionId=abc", 13) == 0);
	/* the client's presign parameters are allowed (lotad verified them) */
	CU_ASSERT(lotad_cache__query_ok(
	    S("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=00&versionId=v1&&"), &v));
	CU_ASSERT(v.len == 12 && memcmp(v.ptr, "versionId=v1", 12) == 0);
	CU_ASSERT(lotad_cache__query_ok(S("x-amz-expires=60"), &v));
	/* and the payload pin SDKs add to presigned URLs */
	CU_ASSERT(lotad_cache__query_ok(S("X-Amz-Content-Sha256=UNSIGNED-PAYLOAD"), &v));
	/* other X-Amz-* parameters may change or condition the answer */
	CU_ASSERT(!lotad_cache__query_ok(S("x-amz-expected-bucket-owner=1"), &v));
	CU_ASSERT(!lotad_cache__query_ok(S("x-amz-checksum-mode=ENABLED"), &v));
	/* anything else changes the answer: not cached */
	CU_ASSERT(!lotad_cache__query_ok(S("partNumber=1"), &v));
	CU_ASSERT(!lotad_cache__query_ok(S("response-content-type=text/plain"), &v));
	CU_ASSERT(!lotad_cache__query_ok(S("versionId=a&versionId=b"), &v));
	CU_ASSERT(!lotad_cache__query_ok(S("versionId"), &v));
	CU_ASSERT(!lotad_cache__query_ok(S("versionid=a"), &v)); /* names are case-sensitive */
	CU_ASSERT(!lotad_cache__query_ok(S("x-amz-"), &v));
	CU_ASSERT(!lotad_cache__query_ok(S("acl"), &v));
}

static void test_directives(void)
{
	lota_str cc = S("Cache-Control"), pragma = S("Pragma"), other = S("Accept");
	CU_ASSERT_EQUAL(lotad_cache__directives(cc, S("no-store")), LOTAD_CACHE_NO_STORE);
	CU_ASSERT_EQUAL(lotad_cache__directives(cc, S("max-age=0, No-Store")),
	                LOTAD_CACHE_NO_STORE);
	CU_ASSERT_EQUAL(lotad_cache__directives(cc, S("no-cache")), LOTAD_CACHE_NO_CACHE);
	CU_ASSERT_EQUAL(lotad_cache__directives(cc, S(" no-cache ,max-age=3")),
	                LOTAD_CACHE_NO_CACHE);
	CU_ASSERT_EQUAL(lotad_cache__directives(cc, S("no-cache, no-store")),
	                LOTAD_CACHE_NO_STORE | LOTAD_CACHE_NO_CACHE);
	CU_ASSERT_EQUAL(lotad_cache__directives(cc, S("max-age=60")), 0);
	CU_ASSERT_EQUAL(lotad_cache__directives(cc, S("no-stored")), 0);
	CU_ASSERT_EQUAL(lotad_cache__directives(cc, S("")), 0);
	CU_ASSERT_EQUAL(lotad_cache__directives(pragma, S("no-cache")), LOTAD_CACHE_NO_STORE);
	CU_ASSERT_EQUAL(lotad_cache__directives(pragma, S("foo")), 0);
	CU_ASSERT_EQUAL(lotad_cache__directives(other, S("no-store")), 0);
}

static void test_content_range(void)
{
	CU_ASSERT(lotad_cache__content_range_is(S("bytes 0-99/1000"), 0, 99, 1000));
	CU_ASSERT(lotad_cache__content_range_is(S("bytes 67108864-134217727/1073741824"), 67108864,
	                                        134217727, 1073741824));
	CU_ASSERT(!lotad_cache__content_range_is(S("bytes 0-99/1001"), 0, 99, 1000));
	CU_ASSERT(!lotad_cache__content_range_is(S("bytes 0-98/1000"), 0, 99, 1000));
	CU_ASSERT(!lotad_cache__content_range_is(S("bytes 1-99/1000"), 0, 99, 1000));
	CU_ASSERT(!lotad_cache__content_range_is(S("bytes 0-99/*"), 0, 99, 1000));
	CU_ASSERT(!lotad_cache__content_range_is(S("bytes 0-99/1000 "), 0, 99, 1000));
	CU_ASSERT(!lotad_cache__content_range_is(S("bytes 00-99/1000"), 0, 99, 1000));
	CU_ASSERT(!lotad_cache__content_range_is(S(""), 0, 99, 1000));
}

static void test_parse_content_range(void)
{
	uint64_t f, l, t;
	CU_ASSERT(lotad_cache__parse_content_range(S("bytes 0-99/1000"), &f, &l, &t));
	CU_ASSERT(f == 0 && l == 99 && t == 1000);
	CU_ASSERT(lotad_cache__parse_content_range(S("bytes 999-999/1000"), &f, &l, &t));
	CU_ASSERT(f == 999 && l == 999 && t == 1000);
	CU_ASSERT(lotad_cache__parse_content_range(S("bytes 5-5368709119/5368709120"), &f, &l, &t));
	CU_ASSERT(l == 5368709119ull);
	CU_ASSERT(!lotad_cache__parse_content_range(S("bytes 0-1000/1000"), &f, &l, &t));
	CU_ASSERT(!lotad_cache__parse_content_range(S("bytes 10-9/1000"), &f, &l, &t));
	CU_ASSERT(!lotad_cache__parse_content_range(S("bytes */1000"), &f, &l, &t));
	CU_ASSERT(!lotad_cache__parse_content_range(S("bytes 0-9/*"), &f, &l, &t));
	CU_ASSERT(!lotad_cache__parse_content_range(S("bytes -9/100"), &f, &l, &t));
	CU_ASSERT(!lotad_cache__parse_content_range(S("bytes 0-9/"), &f, &l, &t));
	CU_ASSERT(!lotad_cache__parse_content_range(S("items 0-9/100"), &f, &l, &t));
	CU_ASSERT(!lotad_cache__parse_content_range(S("bytes 0 -9/100"), &f, &l, &t));
	CU_ASSERT(
	    !lotad_cache__parse_content_range(S("bytes 99999999999999999999-1/2"), &f, &l, &t));
	CU_ASSERT(!lotad_cache__parse_content_range(S(""), &f, &l, &t));
}

/* Feed a whole head (lines separated by \n) and return the verdict at its end. */
static int pinned_v(const char *head, const char *etag, const char *vid, uint64_t size,
                    uint64_t first, uint64_t last)
{
	lotad_cache_pinned ph;
	memset(&ph, 0, sizeof(ph));
	const char *p = head;
	for (;;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		int rc = lotad_cache__pinned_line(&ph, (lota_str){p, len}, S(etag),
		                                  (lota_str){vid, strlen(vid)}, size, first, last);
		if (rc != 0 || !nl || !nl[1])
			return rc;
		p = nl + 1;
	}
}

static int pinned(const char *head, const char *etag, uint64_t size, uint64_t first, uint64_t last)
{
	return pinned_v(head, etag, "", size, first, last);
}

static void test_pinned(void)
{
	const char *ok = "HTTP/1.1 206 Partial Content\r\nETag: \"e1\"\r\n"
	                 "Content-Range: bytes 0-99/1000\r\nContent-Length: 100\r\n\r\n";
	CU_ASSERT_EQUAL(pinned(ok, "\"e1\"", 1000, 0, 99), 1);
	/* a 1xx head first is skipped */
	char buf[512];
	snprintf(buf, sizeof(buf), "HTTP/1.1 100 Continue\r\n\r\n%s", ok);
	CU_ASSERT_EQUAL(pinned(buf, "\"e1\"", 1000, 0, 99), 1);
	/* the whole object (200) where a range was asked */
	CU_ASSERT_EQUAL(pinned("HTTP/1.1 200 OK\r\nETag: \"e1\"\r\nContent-Length: 1000\r\n\r\n",
	                       "\"e1\"", 1000, 0, 99),
	                -1);
	/* another ETag (the object changed: the If-Match was not honoured) */
	CU_ASSERT_EQUAL(pinned(ok, "\"e2\"", 1000, 0, 99), -1);
	/* no ETag at all */
	CU_ASSERT_EQUAL(
	    pinned("HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-99/1000\r\n\r\n",
	           "\"e1\"", 1000, 0, 99),
	    -1);
	/* another range, another size */
	CU_ASSERT_EQUAL(pinned(ok, "\"e1\"", 1000, 0, 98), -1);
	CU_ASSERT_EQUAL(pinned(ok, "\"e1\"", 1001, 0, 99), -1);
	/* the upstream's refusals */
	CU_ASSERT_EQUAL(pinned("HTTP/1.1 412 Precondition Failed\r\nETag: \"e1\"\r\n\r\n", "\"e1\"",
	                       1000, 0, 99),
	                -1);
	CU_ASSERT_EQUAL(pinned("HTTP/1.1 403 Forbidden\r\n\r\n", "\"e1\"", 1000, 0, 99), -1);
	/* a versioned object: the version authorized, and no other */
	const char *v1 = "HTTP/1.1 206 Partial Content\r\nETag: \"e1\"\r\nx-amz-version-id: v1\r\n"
	                 "Content-Range: bytes 0-99/1000\r\n\r\n";
	CU_ASSERT_EQUAL(pinned_v(v1, "\"e1\"", "v1", 1000, 0, 99), 1);
	CU_ASSERT_EQUAL(pinned_v(v1, "\"e1\"", "v2", 1000, 0, 99), -1);
	CU_ASSERT_EQUAL(pinned_v(v1, "\"e1\"", "v", 1000, 0, 99), -1);
	CU_ASSERT_EQUAL(pinned_v(ok, "\"e1\"", "v1", 1000, 0, 99), -1); /* no version named */
	CU_ASSERT_EQUAL(pinned(v1, "\"e1\"", 1000, 0, 99), 1); /* none asked: not checked */
	/* nothing decided before the blank line */
	CU_ASSERT_EQUAL(
	    pinned("HTTP/1.1 206 Partial Content\r\nETag: \"e1\"\r\n", "\"e1\"", 1000, 0, 99), 0);
}

/* --- what is a hit --- */

static char root[256];

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static lotad_store *held_store(char *dir, size_t cap)
{
	static const uint8_t secret[LOTAD_STORE_SECRET_LEN] = {7, 7, 7};
	const char *t = getenv("TMPDIR");
	snprintf(dir, cap, "%s/lota-cache-XXXXXX", t && *t ? t : "/tmp");
	if (!mkdtemp(dir))
		return NULL;
	lotad_store_dir_spec d;
	snprintf(d.path, sizeof(d.path), "%s/d", dir);
	d.capacity_bytes = 1ull << 30;
	lotad_store_config c;
	lotad_store_config_init(&c);
	c.dirs = &d;
	c.num_dirs = 1;
	c.node_secret = secret;
	c.block_size = 4096;
	c.evict_interval_ms = 0;
	lotad_store *s = NULL;
	return lotad_store_new(&c, &s) == 0 ? s : NULL;
}

/* An extent of n bytes (not a whole number of 4 KiB blocks: the last block is short) is
 * held for a read of its first `need` bytes exactly when they can be read from the store
 * now: published, or its fill already has them, before its publication too. */
static void test_held(void)
{
	lotad_store *s = held_store(root, sizeof(root));
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	const size_t n = 3 * 4096 + 100;
	uint8_t *data = calloc(1, n);
	CU_ASSERT_PTR_NOT_NULL_FATAL(data);
	const uint8_t key[] = "test-key-1", key2[] = "test-key-2";
	lota_hash128 h = lota_cache_key_hash_canonical(key, sizeof(key)),
	             h2 = lota_cache_key_hash_canonical(key2, sizeof(key2));
	/* not there at all */
	CU_ASSERT_FALSE(lotad_cache__held(s, h, 1));
	lotad_fill *f = NULL;
	CU_ASSERT_EQUAL_FATAL(lotad_fill_begin(s, key, sizeof(key), n, NULL, 0, &f), 0);
	/* being filled, nothing readable yet: a reader would wait on the upstream */
	CU_ASSERT_FALSE(lotad_cache__held(s, h, 1));
	CU_ASSERT_EQUAL(lotad_fill_write(f, data, 4096 + 10), 0);
	/* one whole block readable: a read within it is held, one beyond it is not */
	CU_ASSERT_TRUE(lotad_cache__held(s, h, 1));
	CU_ASSERT_TRUE(lotad_cache__held(s, h, 4096));
	CU_ASSERT_FALSE(lotad_cache__held(s, h, 4097));
	CU_ASSERT_FALSE(lotad_cache__held(s, h, n));
	/* every byte written, the short last block included, not published yet */
	CU_ASSERT_EQUAL(lotad_fill_write(f, data + 4096 + 10, n - 4096 - 10), 0);
	CU_ASSERT_EQUAL(lotad_store_lookup(s, h), 0);
	CU_ASSERT_TRUE(lotad_cache__held(s, h, n));
	/* published */
	CU_ASSERT_EQUAL(lotad_fill_commit(f), 0);
	CU_ASSERT_EQUAL(lotad_store_lookup(s, h), 1);
	CU_ASSERT_TRUE(lotad_cache__held(s, h, n));
	/* a fill that holds every byte and then fails to publish is gone */
	CU_ASSERT_EQUAL_FATAL(lotad_fill_begin(s, key2, sizeof(key2), n, NULL, 0, &f), 0);
	CU_ASSERT_EQUAL(lotad_fill_write(f, data, n), 0);
	CU_ASSERT_TRUE(lotad_cache__held(s, h2, n));
	lotad_fill_abort(f);
	CU_ASSERT_FALSE(lotad_cache__held(s, h2, 1));
	/* dropped */
	CU_ASSERT_EQUAL(lotad_store_drop(s, h), 0);
	CU_ASSERT_FALSE(lotad_cache__held(s, h, 1));
	lotad_store_free(s);
	free(data);
	nftw(root, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

int main(void)
{
	CU_TestInfo tests[] = {
	    {"percent-decoding of keys", test_pct_decode},
	    {"queries a cached GET may carry", test_query},
	    {"Cache-Control and Pragma directives", test_directives},
	    {"exact Content-Range of fills", test_content_range},
	    {"Content-Range parsing", test_parse_content_range},
	    {"pinned answers of fills and direct reads", test_pinned},
	    {"a read is a hit when the store holds every byte of it", test_held},
	    CU_TEST_INFO_NULL,
	};
	return lota_unit_run("daemon_cache", tests);
}
