/*
 * test_peer.c - the peer protocol (lib/peer.c): the canonical string and its HMAC
 * against a vector computed independently (Python's hmac), a signed head that verifies,
 * each signed field tampered, a stale, a future and a replayed request, missing,
 * duplicated, malformed and oversize fields, the bounded replay cache (full = refused,
 * then free again once the window has passed), secrets of a bad length, the extent
 * identity's encoding and its decoder's refusals, and verifiers on several threads.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lota/peer.h>

#include "unit.h"

#define NOW 1700000000

static uint8_t secret[32];

static lota_peer_auth *auth_new(size_t cap)
{
	for (size_t i = 0; i < sizeof(secret); i++)
		secret[i] = (uint8_t)i;
	lota_peer_auth *a = NULL;
	CU_ASSERT_EQUAL_FATAL(lota_peer_auth_new(secret, sizeof(secret), cap, &a), 0);
	return a;
}

static lota_str S(const char *s)
{
	return (lota_str){s, s ? strlen(s) : 0};
}

/* The fields of the reference request. */
static lota_peer_fields ref(void)
{
	lota_peer_fields f = {0};
	f.method = S("GET");
	f.target = S("/peer/extent/abc");
	f.node = S("node-a");
	f.time_s = NOW;
	f.nonce = S("00112233445566778899aabbccddeeff");
	f.extent = S("4c4f5441434b310a");
	f.range = S("bytes=0-99");
	f.ticket = S("http://t/x?y=1");
	return f;
}

static void test_canonical_vector(void)
{
	lota_peer_auth *a = auth_new(0);
	lota_peer_fields f = ref();
	char buf[512];
	int n = lota_peer_canonical(&f, buf, sizeof(buf));
	static const char want[] =
	    "LOTA-PEER-HMAC-SHA256\nGET\n/peer/extent/abc\nnode-a\n1700000000\n"
	    "00112233445566778899aabbccddeeff\n4c4f5441434b310a\nbytes=0-99\n"
	    "http://t/x?y=1";
	CU_ASSERT_EQUAL(n, (int)strlen(want));
	CU_ASSERT(n > 0 && memcmp(buf, want, (size_t)n) == 0);
	CU_ASSERT_EQUAL(lota_peer_canonical(&f, buf, 10), -ENOBUFS);
	char sig[LOTA_PEER_SIG_HEX_LEN + 1];
	CU_ASSERT_EQUAL(lota_peer_sign(a, &f, sig), 0);
	/* python3: hmac.new(bytes(range(32)), want, hashlib.sha256).hexdigest() */
	CU_ASSERT_STRING_EQUAL(sig,
	                       "f6acc7fc7002f9089f2bdd4cd03dbf7bdeedcfd6c683174adb65d3b3b1d9e805");
	/* a control byte in any field is refused, so the joined string reads back one way */
	f.node = S("a\nb");
	CU_ASSERT_EQUAL(lota_peer_canonical(&f, buf, sizeof(buf)), LOTA_E_PEER_MALFORMED);
	f = ref();
	f.nonce = S("");
	CU_ASSERT_EQUAL(lota_peer_canonical(&f, buf, sizeof(buf)), LOTA_E_PEER_MALFORMED);
	lota_peer_auth_free(a);
}

/* Format f, parse it back from head (LOTA_PEER_HEAD_MAX bytes) and verify it at now;
 * the views of *out point into head. */
static int roundtrip_in(char *head, lota_peer_auth *a, const lota_peer_fields *f, int64_t now,
                        lota_peer_fields *out)
{
	int n = lota_peer_format(a, f, "127.0.0.1:7001", head, LOTA_PEER_HEAD_MAX);
	if (n < 0)
		return n;
	lota_http_request req;
	lota_http_header h[32];
	int rc = lota_http_parse_request(
	    head, (size_t)n, &req, h, 32,
	    &LOTA_OPTS(lota_http_limits, .max_head_bytes = LOTA_PEER_HEAD_MAX));
	return rc != n ? -EPROTO : lota_peer_verify(a, &req, now, out);
}

/* The same on a private buffer, for callers that look only at the result. */
static int roundtrip(lota_peer_auth *a, const lota_peer_fields *f, int64_t now,
                     lota_peer_fields *out)
{
	char *head = malloc(LOTA_PEER_HEAD_MAX);
	if (!head)
		return -ENOMEM;
	int rc = roundtrip_in(head, a, f, now, out);
	free(head);
	return rc;
}

static void test_good(void)
{
	lota_peer_auth *a = auth_new(0);
	lota_peer_fields f = ref(), got;
	static char head[LOTA_PEER_HEAD_MAX];
	f.nonce = S(NULL); /* a fresh one */
	CU_ASSERT_EQUAL(roundtrip_in(head, a, &f, NOW, &got), 0);
	CU_ASSERT_EQUAL(got.time_s, NOW);
	CU_ASSERT(got.node.len == 6 && memcmp(got.node.ptr, "node-a", 6) == 0);
	CU_ASSERT(got.range.len == 10 && memcmp(got.range.ptr, "bytes=0-99", 10) == 0);
	CU_ASSERT(got.ticket.len == 14);
	CU_ASSERT_EQUAL(got.nonce.len, LOTA_PEER_NONCE_HEX_LEN);
	/* the edges of the window, both sides */
	CU_ASSERT_EQUAL(roundtrip(a, &f, NOW + LOTA_PEER_WINDOW_S, &got), 0);
	CU_ASSERT_EQUAL(roundtrip(a, &f, NOW - LOTA_PEER_WINDOW_S, &got), 0);
	/* a health probe: no extent, range or ticket */
	lota_peer_fields h = {
	    .method = S("GET"), .target = S("/peer/health"), .node = S("b"), .time_s = NOW};
	CU_ASSERT_EQUAL(roundtrip(a, &h, NOW, &got), 0);
	CU_ASSERT_EQUAL(got.extent.len, 0);
	CU_ASSERT_EQUAL(got.ticket.len, 0);
	lota_peer_auth_free(a);
}

static void test_stale_future_replay(void)
{
	lota_peer_auth *a = auth_new(0);
	lota_peer_fields f = ref(), got;
	f.nonce = S(NULL);
	CU_ASSERT_EQUAL(roundtrip(a, &f, NOW + LOTA_PEER_WINDOW_S + 1, &got), LOTA_E_PEER_STALE);
	CU_ASSERT_EQUAL(roundtrip(a, &f, NOW - LOTA_PEER_WINDOW_S - 1, &got), LOTA_E_PEER_STALE);
	/* the same bytes twice: the second is a replay, on any later check inside the window */
	f = ref();
	CU_ASSERT_EQUAL(roundtrip(a, &f, NOW, &got), 0);
	CU_ASSERT_EQUAL(roundtrip(a, &f, NOW, &got), LOTA_E_PEER_REPLAY);
	CU_ASSERT_EQUAL(roundtrip(a, &f, NOW + 29, &got), LOTA_E_PEER_REPLAY);
	/* and after the window it is stale, never accepted again */
	CU_ASSERT_EQUAL(roundtrip(a, &f, NOW + 31, &got), LOTA_E_PEER_STALE);
	/* a stale request does not consume its nonce: refused for its time, not remembered */
	lota_peer_fields g = ref();
	g.nonce = S("ffffffffffffffffffffffffffffffff");
	CU_ASSERT_EQUAL(roundtrip(a, &g, NOW + 100, &got), LOTA_E_PEER_STALE);
	CU_ASSERT_EQUAL(roundtrip(a, &g, NOW, &got), 0);
	lota_peer_auth_free(a);
}

/* Sign ref(), then replace one header's value in the head before verifying. */
static int tampered(lota_peer_auth *a, const char *name, const char *value)
{
	char head[4096], out[4096];
	lota_peer_fields f = ref();
	f.nonce = S(NULL);
	int n = lota_peer_format(a, &f, "h:1", head, sizeof(head));
	CU_ASSERT_FATAL(n > 0);
	head[n] = '\0';
	const char *p = strstr(head, name);
	CU_ASSERT_FATAL(p != NULL);
	const char *v = p + strlen(name);
	const char *e = strstr(v, "\r\n");
	snprintf(out, sizeof(out), "%.*s%s%s", (int)(v - head), head, value, e);
	lota_http_request req;
	lota_http_header h[32];
	int rc = lota_http_parse_request(out, strlen(out), &req, h, 32, NULL);
	CU_ASSERT_FATAL(rc > 0);
	lota_peer_fields got;
	return lota_peer_verify(a, &req, NOW, &got);
}

static void test_tampered(void)
{
	lota_peer_auth *a = auth_new(0);
	CU_ASSERT_EQUAL(tampered(a, "", "PUT /peer/extent/abc HTTP/1.1"), LOTA_E_PEER_AUTH);
	CU_ASSERT_EQUAL(tampered(a, "GET ", "/peer/extent/abd HTTP/1.1"), LOTA_E_PEER_AUTH);
	CU_ASSERT_EQUAL(tampered(a, "X-Lota-Peer-Node: ", "node-b"), LOTA_E_PEER_AUTH);
	CU_ASSERT_EQUAL(tampered(a, "X-Lota-Peer-Time: ", "1700000001"), LOTA_E_PEER_AUTH);
	CU_ASSERT_EQUAL(tampered(a, "X-Lota-Peer-Nonce: ", "00000000000000000000000000000000"),
	                LOTA_E_PEER_AUTH);
	CU_ASSERT_EQUAL(tampered(a, "X-Lota-Peer-Extent: ", "4c4f5441434b310b"), LOTA_E_PEER_AUTH);
	CU_ASSERT_EQUAL(tampered(a, "Range: ", "bytes=0-100"), LOTA_E_PEER_AUTH);
	CU_ASSERT_EQUAL(tampered(a, "X-Lota-Peer-Ticket: ", "http://t/x?y=2"), LOTA_E_PEER_AUTH);
	CU_ASSERT_EQUAL(
	    tampered(a, "X-Lota-Peer-Signature: ",
	             "0000000000000000000000000000000000000000000000000000000000000000"),
	    LOTA_E_PEER_AUTH);
	/* malformed values are refused before the HMAC */
	CU_ASSERT_EQUAL(tampered(a, "X-Lota-Peer-Signature: ", "abc"), LOTA_E_PEER_MALFORMED);
	CU_ASSERT_EQUAL(tampered(a, "X-Lota-Peer-Time: ", "-5"), LOTA_E_PEER_MALFORMED);
	CU_ASSERT_EQUAL(tampered(a, "X-Lota-Peer-Time: ", "99999999999999999999"),
	                LOTA_E_PEER_MALFORMED);
	CU_ASSERT_EQUAL(tampered(a, "X-Lota-Peer-Nonce: ", "00112233445566778899AABBCCDDEEFF"),
	                LOTA_E_PEER_MALFORMED);
	CU_ASSERT_EQUAL(tampered(a, "X-Lota-Peer-Extent: ", "4c4"), LOTA_E_PEER_MALFORMED);
	/* a second copy of a signed header */
	CU_ASSERT_EQUAL(
	    tampered(a, "X-Lota-Peer-Ticket: ", "http://t/x?y=1\r\nX-Lota-Peer-Ticket: z"),
	    LOTA_E_PEER_MALFORMED);
	CU_ASSERT_EQUAL(tampered(a, "Range: ", "bytes=0-99\r\nrange: bytes=5-6"),
	                LOTA_E_PEER_MALFORMED);
	/* a missing field: rename the header so it is not seen */
	CU_ASSERT_EQUAL(tampered(a, "X-Lota-Peer-Node: ", "n\r\nX-Other: 1"), LOTA_E_PEER_AUTH);
	lota_peer_auth_free(a);

	/* a member with another secret */
	lota_peer_auth *b = NULL;
	uint8_t other[32] = {1};
	CU_ASSERT_EQUAL_FATAL(lota_peer_auth_new(other, sizeof(other), 0, &b), 0);
	a = auth_new(0);
	char head[2048];
	lota_peer_fields f = ref();
	int n = lota_peer_format(b, &f, "h", head, sizeof(head));
	lota_http_request req;
	lota_http_header h[32];
	CU_ASSERT_EQUAL(lota_http_parse_request(head, (size_t)n, &req, h, 32, NULL), n);
	lota_peer_fields got;
	CU_ASSERT_EQUAL(lota_peer_verify(a, &req, NOW, &got), LOTA_E_PEER_AUTH);
	/* no peer headers at all */
	static const char plain[] = "GET /peer/health HTTP/1.1\r\nHost: h\r\n\r\n";
	CU_ASSERT(lota_http_parse_request(plain, strlen(plain), &req, h, 32, NULL) > 0);
	CU_ASSERT_EQUAL(lota_peer_verify(a, &req, NOW, &got), LOTA_E_PEER_MALFORMED);
	lota_peer_auth_free(a);
	lota_peer_auth_free(b);
}

static void test_oversize(void)
{
	lota_peer_auth *a = auth_new(0);
	static char big[LOTA_PEER_TICKET_MAX + 2];
	memset(big, 'x', sizeof(big) - 1);
	lota_peer_fields f = ref(), got;
	f.ticket = S(big);
	char head[LOTA_PEER_HEAD_MAX];
	CU_ASSERT_EQUAL(lota_peer_format(a, &f, "h", head, sizeof(head)), LOTA_E_TOO_LARGE);
	/* a hand-made head with an oversize ticket is refused by the verifier too */
	static char raw[LOTA_PEER_HEAD_MAX];
	int n = snprintf(raw, sizeof(raw),
	                 "GET /x HTTP/1.1\r\nHost: h\r\nX-Lota-Peer-Node: a\r\nX-Lota-Peer-Time: "
	                 "1700000000\r\nX-Lota-Peer-Nonce: 00112233445566778899aabbccddeeff\r\n"
	                 "X-Lota-Peer-Ticket: %s\r\nX-Lota-Peer-Signature: "
	                 "0000000000000000000000000000000000000000000000000000000000000000\r\n\r\n",
	                 big);
	lota_http_request req;
	lota_http_header h[32];
	CU_ASSERT_EQUAL(
	    lota_http_parse_request(raw, (size_t)n, &req, h, 32,
	                            &LOTA_OPTS(lota_http_limits, .max_head_bytes = sizeof(raw))),
	    n);
	CU_ASSERT_EQUAL(lota_peer_verify(a, &req, NOW, &got), LOTA_E_TOO_LARGE);
	f = ref();
	char node[LOTA_PLACEMENT_ID_MAX + 2];
	memset(node, 'n', sizeof(node) - 1);
	node[sizeof(node) - 1] = '\0';
	f.node = S(node);
	CU_ASSERT_EQUAL(lota_peer_format(a, &f, "h", head, sizeof(head)), LOTA_E_TOO_LARGE);
	f = ref();
	CU_ASSERT_EQUAL(lota_peer_format(a, &f, "h", head, 40), -ENOBUFS);
	lota_peer_auth_free(a);
}

static void test_replay_bound(void)
{
	lota_peer_auth *a = auth_new(4);
	lota_peer_fields f = ref(), got;
	f.nonce = S(NULL);
	for (int i = 0; i < 4; i++)
		CU_ASSERT_EQUAL(roundtrip(a, &f, NOW, &got), 0);
	/* full of live nonces: refused, not let through unchecked */
	CU_ASSERT_EQUAL(roundtrip(a, &f, NOW, &got), LOTA_E_PEER_BUSY);
	/* once those requests left the window, their room is free again */
	f.time_s = NOW + 40;
	CU_ASSERT_EQUAL(roundtrip(a, &f, NOW + 40, &got), 0);
	CU_ASSERT_EQUAL(roundtrip(a, &f, NOW + 40, &got), 0);
	lota_peer_auth_free(a);
}

static void test_secret(void)
{
	lota_peer_auth *a = (lota_peer_auth *)1;
	uint8_t s[LOTA_PEER_SECRET_MAX + 1] = {0};
	CU_ASSERT_EQUAL(lota_peer_auth_new(s, 31, 0, &a), LOTA_E_PEER_SECRET);
	CU_ASSERT_PTR_NULL(a);
	CU_ASSERT_EQUAL(lota_peer_auth_new(s, sizeof(s), 0, &a), LOTA_E_PEER_SECRET);
	CU_ASSERT_EQUAL(lota_peer_auth_new(NULL, 32, 0, &a), -EINVAL);
	CU_ASSERT_EQUAL(lota_peer_auth_new(s, 32, 0, NULL), -EINVAL);
	CU_ASSERT_EQUAL(lota_peer_auth_new(s, LOTA_PEER_SECRET_MAX, 0, &a), 0);
	lota_peer_auth_free(a);
	lota_peer_auth_free(NULL);
	CU_ASSERT_STRING_EQUAL(lota_strerror_name(LOTA_E_PEER_REPLAY), "LOTA_E_PEER_REPLAY");
}

static void test_extent(void)
{
	lota_cache_key k = {S("bkt"), S("dir/obj"), S("\"e1\""), S("v9"), 1u << 30, 7};
	char hex[1024];
	int n = lota_peer_extent_encode(&k, hex, sizeof(hex));
	CU_ASSERT_FATAL(n > 0);
	CU_ASSERT_EQUAL((size_t)n, 2 * lota_cache_key_canonical_len(&k));
	CU_ASSERT_EQUAL(lota_peer_extent_encode(&k, hex, 10), -ENOBUFS);
	uint8_t buf[512];
	lota_cache_key d;
	CU_ASSERT_EQUAL(lota_peer_extent_decode(hex, (size_t)n, buf, sizeof(buf), &d), n / 2);
	CU_ASSERT(d.bucket.len == 3 && memcmp(d.bucket.ptr, "bkt", 3) == 0);
	CU_ASSERT(d.key.len == 7 && memcmp(d.key.ptr, "dir/obj", 7) == 0);
	CU_ASSERT(d.etag.len == 4 && d.version_id.len == 2);
	CU_ASSERT_EQUAL(d.size_bytes, 1u << 30);
	CU_ASSERT_EQUAL(d.extent_index, 7);
	lota_hash128 h1, h2;
	CU_ASSERT_EQUAL(lota_cache_key_hash(&k, &h1), 0);
	CU_ASSERT_EQUAL(lota_cache_key_hash(&d, &h2), 0);
	CU_ASSERT(h1.hi == h2.hi && h1.lo == h2.lo);
	/* refusals: odd, not hex, truncated, trailing byte, wrong tag, small buffer */
	CU_ASSERT_EQUAL(lota_peer_extent_decode(hex, (size_t)n - 1, buf, sizeof(buf), &d),
	                LOTA_E_PEER_MALFORMED);
	CU_ASSERT_EQUAL(lota_peer_extent_decode(hex, (size_t)n - 2, buf, sizeof(buf), &d),
	                LOTA_E_PEER_MALFORMED);
	memcpy(hex + n, "00", 3);
	CU_ASSERT_EQUAL(lota_peer_extent_decode(hex, (size_t)n + 2, buf, sizeof(buf), &d),
	                LOTA_E_PEER_MALFORMED);
	hex[0] = 'z';
	CU_ASSERT_EQUAL(lota_peer_extent_decode(hex, (size_t)n, buf, sizeof(buf), &d),
	                LOTA_E_PEER_MALFORMED);
	hex[0] = '5';
	CU_ASSERT_EQUAL(lota_peer_extent_decode(hex, (size_t)n, buf, sizeof(buf), &d),
	                LOTA_E_PEER_MALFORMED);
	CU_ASSERT_EQUAL(lota_peer_extent_decode(hex, (size_t)n, buf, 4, &d), -ENOBUFS);
	/* a field length pointing past the end */
	static const char bad[] = "4c4f5441434b310a"
	                          "ffffffff";
	CU_ASSERT_EQUAL(lota_peer_extent_decode(bad, strlen(bad), buf, sizeof(buf), &d),
	                LOTA_E_PEER_MALFORMED);
	static char huge[LOTA_PEER_EXTENT_MAX + 2];
	memset(huge, '0', sizeof(huge));
	CU_ASSERT_EQUAL(lota_peer_extent_decode(huge, sizeof(huge), buf, sizeof(buf), &d),
	                LOTA_E_TOO_LARGE);
}

#define THREADS 4
#define PER     500

static void *verify_many(void *arg)
{
	lota_peer_auth *a = arg;
	long bad = 0;
	for (int i = 0; i < PER; i++) {
		lota_peer_fields f = ref(), got;
		f.nonce = S(NULL);
		if (roundtrip(a, &f, NOW, &got) != 0)
			bad++;
	}
	return (void *)bad;
}

static void test_threads(void)
{
	/* one shared verifier, as lotad's workers share it: every fresh nonce is accepted
	 * once, and the replay cache stays consistent under the lock */
	lota_peer_auth *a = auth_new(THREADS * PER);
	pthread_t t[THREADS];
	long bad = 0;
	for (int i = 0; i < THREADS; i++)
		CU_ASSERT_EQUAL_FATAL(pthread_create(&t[i], NULL, verify_many, a), 0);
	for (int i = 0; i < THREADS; i++) {
		void *r = NULL;
		pthread_join(t[i], &r);
		bad += (long)r;
	}
	CU_ASSERT_EQUAL(bad, 0);
	/* now full: one more is refused */
	lota_peer_fields f = ref(), got;
	CU_ASSERT_EQUAL(roundtrip(a, &f, NOW, &got), LOTA_E_PEER_BUSY);
	lota_peer_auth_free(a);
}

int main(void)
{
	CU_TestInfo tests[] = {
	    {"peer canonical string and HMAC vector", test_canonical_vector},
	    {"peer signed request verifies", test_good},
	    {"peer stale, future and replayed", test_stale_future_replay},
	    {"peer tampered, malformed, duplicated", test_tampered},
	    {"peer oversize fields", test_oversize},
	    {"peer replay cache bound", test_replay_bound},
	    {"peer secret length", test_secret},
	    {"peer extent identity", test_extent},
	    {"peer verifier on threads", test_threads},
	    CU_TEST_INFO_NULL,
	};
	return lota_unit_run("peer", tests);
}
