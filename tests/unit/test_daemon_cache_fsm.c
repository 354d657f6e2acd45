/*
 * test_daemon_cache_fsm.c - lotad's cache state machines (daemon/cache/: the client
 * request's authorize -> decide -> serve, the fills and their fork, single-flight) on
 * their failure paths, run for real in one process: a lotad worker with an extent store
 * in a temp dir (rig.h), requests signed with the test key from loopback clients, the
 * fake upstream (fakeup.h) on the worker's loop. Extents are 256 KiB (17 MiB where said),
 * in sealed blocks of 16 KiB. Every test waits for events (a response, a connection end, a request or a
 * stall at the fake, a fill published or aborted in the store, a metric), never for a
 * time.
 *
 * Checked:
 *   - a miss fills every extent (one pinned ranged GET each, If-Match: the ETag) and the
 *     next read, whole or ranged, is a hit from the store, byte for byte, with no GET;
 *   - a fill answered with a 200 where a 206 was asked, another Content-Range, another
 *     ETag, a body shorter than the range, a 503, or a connection reset or closed mid-body
 *     publishes nothing (no extent in the store, the fill counted failed); the client
 *     gets the right bytes (read directly, pinned) when the upstream answers that read
 *     well, and a cut connection holding a prefix of the right bytes when it does not:
 *     never wrong bytes;
 *   - an authorizing HEAD answered 403, 404, 304, 412 or 503 is relayed (the client's own
 *     request proxied, the upstream's status and body) while the object is cached, and
 *     no cached byte is sent; one whose connection is reset hands the client's GET to
 *     the proxy, and nothing is filled;
 *   - a HEAD of an object not cached fills it in the background (pre-stage); a GET of
 *     100 bytes fills their whole extent;
 *   - an object replaced between the authorizing HEAD and the fill: the fill and the
 *     direct read get 412 (pinned to the old ETag), the client is cut, nothing is
 *     published, the next request gets and fills the new version;
 *   - a client that vanishes while its authorizing HEAD runs: the HEAD is dropped;
 *   - a short range far (16 MiB and more) into a cold extent is read first by the
 *     client's own GET, whose complete answer then fills the extent, and whose cut
 *     answer fills nothing; a reader more than 16 MiB ahead of a fill reads directly
 *     (these use extents of 17 MiB); a client that reads nothing does not hold up the
 *     fills of an 18 MiB object (docs/architecture.md §3.7: a slow client never slows
 *     the fill);
 *   - a slow fill with a second reader joining: one GET at the upstream (single-flight),
 *     both readers get every byte;
 *   - a fill that stays silent past upstream_timeout fails, nothing is published, and
 *     its reader is cut;
 *   - a client that vanishes mid-fill: the fill goes on and is published (as
 *     docs/architecture.md §7 says), the next read is a hit;
 *   - the end of a worker aborts its fills: the upstream transfer is dropped, nothing is
 *     published.
 * Every request lotad sent (HEADs, fills, direct reads, proxied GETs) carried a signature
 * the fake verified with the client's key.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lota/log.h>

#include "rig.h"
#include "unit.h"

#define EXT     (256u * 1024)
#define BIG_LEN (2 * EXT + 90000) /* three extents, the last one short */
#define ONE_LEN 200000            /* one extent */

static uint8_t big[BIG_LEN], one[ONE_LEN], one_v2[ONE_LEN];
static const char BKT[] = "bkt";
static const char BIG_KEY[] = "data/big.bin";
static const char ONE_KEY[] = "data/one.bin";
static const char BIG_PATH[] = "/bkt/data/big.bin";
static const char ONE_PATH[] = "/bkt/data/one.bin";
static const char ETAG[] = "\"5d41402abc4b2a76b9719d911017c592\"";

static rig R;

static bool start(const rig_opts *o)
{
	rig_opts d = {.cache = true};
	if (!rig_start(&R, o ? o : &d))
		return false;
	fakeup_object(R.up, BIG_PATH, big, BIG_LEN, ETAG);
	fakeup_object(R.up, ONE_PATH, one, ONE_LEN, ETAG);
	return true;
}

static rig_client *send_get(const char *method, const char *path, const char *const *hdrs)
{
	rig_client *c = rig_client_new(&R);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	rig_request(c, method, path, hdrs, NULL, 0, true);
	return c;
}

static void get(const char *method, const char *path, const char *const *hdrs, rig_resp *p)
{
	rig_resp_wait(send_get(method, path, hdrs), p);
}

/* A complete 200 of the whole object, from the source named by label. */
static void assert_whole(const rig_resp *p, const uint8_t *data, size_t len, const char *label)
{
	CU_ASSERT_EQUAL(p->status, 200);
	CU_ASSERT_TRUE(p->complete);
	CU_ASSERT_EQUAL(p->body_len, len);
	CU_ASSERT_TRUE(p->body_len == len && memcmp(p->body, data, len) == 0);
	CU_ASSERT_TRUE(rig_resp_header_is(p, "x-lota-cache", label));
	CU_ASSERT_TRUE(rig_resp_header_is(p, "ETag", ETAG));
}

static void assert_all_signed(void)
{
	for (size_t i = 0; i < fakeup_nreqs(R.up); i++)
		CU_ASSERT_EQUAL(fakeup_req_at(R.up, i)->sig, 1);
}

static bool fills_over(void)
{
	lotad_store_stats st = rig_store_stats(&R);
	return st.fills_in_progress == 0;
}

static uint64_t committed(void)
{
	return rig_store_stats(&R).fills_committed;
}

/* GETs: stall at the body offset *ud (-1: before anything). */
static void hook_stall_gets(fakeup *f, const fakeup_req *q, fakeup_resp *r, void *ud)
{
	(void)f;
	if (strcmp(q->method, "GET") != 0)
		return;
	r->fault = FAKEUP_STALL;
	r->at = *(int64_t *)ud;
}

/* ------------------------------------------------------------ miss, then hit --- */

static void test_miss_then_hit(void)
{
	CU_ASSERT_TRUE_FATAL(start(NULL));
	rig_resp p;
	get("GET", BIG_PATH, NULL, &p);
	assert_whole(&p, big, BIG_LEN, "miss");
	/* one HEAD, then one whole-extent GET per extent, pinned to the ETag */
	CU_ASSERT_EQUAL(fakeup_count(R.up, "HEAD"), 1);
	CU_ASSERT_EQUAL(fakeup_count(R.up, "GET"), 3);
	for (size_t i = 0; i < fakeup_nreqs(R.up); i++) {
		const fakeup_req *q = fakeup_req_at(R.up, i);
		if (strcmp(q->method, "GET") != 0)
			continue;
		lota_str im = fakeup_req_header(q, "If-Match");
		CU_ASSERT_TRUE(im.len == strlen(ETAG) && memcmp(im.ptr, ETAG, im.len) == 0);
		CU_ASSERT_EQUAL(q->status, 206);
		CU_ASSERT_TRUE(q->done);
	}
	RIG_WAIT(&R, committed() == 3 && fills_over());
	for (uint64_t k = 0; k < 3; k++) {
		uint64_t len = k < 2 ? EXT : BIG_LEN - 2 * EXT;
		CU_ASSERT_EQUAL(rig_store_extent(&R, BKT, BIG_KEY, ETAG, BIG_LEN, k, big + k * EXT,
		                                 (size_t)len),
		                1);
	}
	get("GET", BIG_PATH, NULL, &p);
	assert_whole(&p, big, BIG_LEN, "hit");
	/* a range across two extents */
	const char *range[] = {"Range: bytes=200000-300000", NULL};
	get("GET", BIG_PATH, range, &p);
	CU_ASSERT_EQUAL(p.status, 206);
	CU_ASSERT_TRUE(p.complete && p.body_len == 100001);
	CU_ASSERT_TRUE(p.body_len == 100001 && memcmp(p.body, big + 200000, 100001) == 0);
	CU_ASSERT_TRUE(rig_resp_header_is(&p, "Content-Range", "bytes 200000-300000/614288"));
	CU_ASSERT_TRUE(rig_resp_header_is(&p, "x-lota-cache", "hit"));
	/* every hit was authorized by a HEAD, and nothing more was fetched */
	CU_ASSERT_EQUAL(fakeup_count(R.up, "HEAD"), 3);
	CU_ASSERT_EQUAL(fakeup_count(R.up, "GET"), 3);
	CU_ASSERT_EQUAL(rig_metric("lota_cache_hits_total"), 2);
	CU_ASSERT_EQUAL(rig_metric("lota_cache_misses_total"), 1);
	assert_all_signed();
	rig_stop(&R);
}

/* ------------------------------------------------------------- bad fills --- */

static const char xml_slow_down[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code><Message>Please "
    "reduce your request rate.</Message><RequestId>tx-slow</RequestId></Error>";

enum bad {
	BAD_200,       /* a 200 of the whole object where a 206 was asked */
	BAD_RANGE,     /* a 206 of another range */
	BAD_ETAG,      /* a 206 of another ETag */
	BAD_SHORT,     /* a 206 whose body is shorter than the range (complete) */
	BAD_RESET_MID, /* a reset mid-body */
	BAD_CLOSE_MID, /* a close mid-body: Content-Length not reached */
	BAD_503,       /* a 503 SlowDown */
};

static const char *const bad_names[] = {"200 for 206", "another range",  "another ETag",
                                        "short body",  "reset mid-body", "close mid-body",
                                        "503"};

typedef struct bad_plan {
	enum bad bad;
	bool every; /* every GET (the fill and the direct read), else the first GET only */
	size_t gets;
} bad_plan;

static void hook_bad(fakeup *f, const fakeup_req *q, fakeup_resp *r, void *ud)
{
	bad_plan *b = ud;
	(void)f;
	if (strcmp(q->method, "GET") != 0)
		return;
	if (b->gets++ > 0 && !b->every)
		return;
	switch (b->bad) {
	case BAD_200:
		r->status = 200;
		r->content_range[0] = 0;
		r->body = (const char *)one;
		r->body_len = r->length = ONE_LEN;
		break;
	case BAD_RANGE: /* the same length, shifted by one byte */
		snprintf(r->content_range, sizeof(r->content_range), "bytes 1-%d/%d", ONE_LEN,
		         ONE_LEN + 1);
		break;
	case BAD_ETAG:
		snprintf(r->etag, sizeof(r->etag), "\"another\"");
		break;
	case BAD_SHORT:
		r->body_len = r->length = r->body_len - 1000;
		break;
	case BAD_RESET_MID:
	case BAD_CLOSE_MID:
		r->fault = b->bad == BAD_RESET_MID ? FAKEUP_RESET : FAKEUP_CLOSE;
		r->at = 70000;
		break;
	case BAD_503:
		memset(r, 0, sizeof(*r));
		r->status = 503;
		r->body = xml_slow_down;
		r->body_len = r->length = strlen(xml_slow_down);
		break;
	}
}

static void bad_fill(enum bad bad, bool every)
{
	CU_ASSERT_TRUE_FATAL(start(NULL));
	bad_plan plan = {.bad = bad, .every = every};
	fakeup_hook_set(R.up, hook_bad, &plan);
	rig_client *c = send_get("GET", ONE_PATH, NULL);
	rig_resp p;
	rig_resp_wait(c, &p);
	RIG_WAIT(&R, fills_over());
	if (!every) {
		/* the direct read gave the right bytes */
		assert_whole(&p, one, ONE_LEN, "miss");
	} else {
		/* cut: what came is a prefix of the right bytes, the connection is closed */
		RIG_WAIT(&R, c->ended);
		CU_ASSERT_EQUAL(p.status, 200);
		CU_ASSERT_TRUE(p.has_length && p.length == ONE_LEN);
		CU_ASSERT_FALSE(p.complete);
		CU_ASSERT_TRUE(p.body_len < ONE_LEN && memcmp(p.body, one, p.body_len) == 0);
	}
	/* the fill, then one direct read of what the client still lacked */
	CU_ASSERT_EQUAL(fakeup_count(R.up, "GET"), 2);
	CU_ASSERT_EQUAL(rig_metric("lota_cache_direct_reads_total"), 1);
	/* nothing published */
	lotad_store_stats st = rig_store_stats(&R);
	CU_ASSERT_EQUAL(st.extents, 0);
	CU_ASSERT_EQUAL(st.fills_committed, 0);
	CU_ASSERT_EQUAL(st.fills_aborted, 1);
	CU_ASSERT_EQUAL(rig_store_extent(&R, BKT, ONE_KEY, ETAG, ONE_LEN, 0, NULL, 0), -1);
	CU_ASSERT_EQUAL(rig_metric("lota_cache_fills_total{result=\"failed\"}"), 1);
	assert_all_signed();
	if (CU_get_number_of_failures())
		fprintf(stderr, "  (fill %s, %s)\n", bad_names[bad], every ? "every GET" : "once");
	rig_stop(&R);
}

static void test_bad_fill_nothing_published(void)
{
	for (enum bad b = BAD_200; b <= BAD_503; b++)
		bad_fill(b, false);
}

static void test_bad_fill_and_direct_read_cut(void)
{
	for (enum bad b = BAD_200; b <= BAD_503; b++)
		bad_fill(b, true);
}

/* ------------------------------------------------- the authorizing HEAD says no --- */

static const char xml_denied[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code><Message>"
    "Access Denied</Message><RequestId>tx-denied</RequestId></Error>";

static const char xml_no_such_key[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code><Message>The "
    "specified key does not exist.</Message><RequestId>tx-gone</RequestId></Error>";

/* Every request: 403 (*ud == 403), 404 (*ud == 404: the object is gone) or 503; else
 * the fake's own answer (304 and 412 for the client's conditionals). */
static void hook_deny(fakeup *f, const fakeup_req *q, fakeup_resp *r, void *ud)
{
	int st = *(int *)ud;
	const char *xml = st == 403 ? xml_denied : st == 404 ? xml_no_such_key : xml_slow_down;
	(void)f;
	(void)q;
	if (st != 403 && st != 404 && st != 503)
		return;
	memset(r, 0, sizeof(*r));
	r->status = st;
	r->body = xml;
	r->body_len = r->length = strlen(xml);
	snprintf(r->extra, sizeof(r->extra), "Content-Type: application/xml\r\n");
}

/* The object is cached; then a request the upstream refuses gets the upstream's answer
 * and no cached byte. */
static void denied(int st, const char *hdr, const char *body)
{
	CU_ASSERT_TRUE_FATAL(start(NULL));
	rig_resp p;
	get("GET", ONE_PATH, NULL, &p);
	assert_whole(&p, one, ONE_LEN, "miss");
	RIG_WAIT(&R, committed() == 1 && fills_over());
	int mode = st;
	fakeup_hook_set(R.up, hook_deny, &mode);
	size_t before = fakeup_nreqs(R.up);
	const char *hdrs[] = {hdr, NULL};
	get("GET", ONE_PATH, hdr ? hdrs : NULL, &p);
	CU_ASSERT_EQUAL(p.status, st);
	CU_ASSERT_TRUE(p.complete);
	CU_ASSERT_EQUAL(p.body_len, body ? strlen(body) : 0);
	CU_ASSERT_TRUE(!body ||
	               (p.body_len == strlen(body) && memcmp(p.body, body, p.body_len) == 0));
	CU_ASSERT_TRUE(rig_resp_header_is(&p, "x-lota-cache", "bypass"));
	CU_ASSERT_PTR_NULL(memmem(p.body, p.body_len, one, 64)); /* no object byte */
	/* the HEAD said no, then the client's own GET was relayed */
	CU_ASSERT_EQUAL(fakeup_nreqs(R.up), before + 2);
	CU_ASSERT_STRING_EQUAL(fakeup_req_at(R.up, before)->method, "HEAD");
	CU_ASSERT_EQUAL(fakeup_req_at(R.up, before)->status, st);
	CU_ASSERT_STRING_EQUAL(fakeup_req_at(R.up, before + 1)->method, "GET");
	CU_ASSERT_EQUAL(rig_metric("lota_cache_hits_total"), 0);
	CU_ASSERT_EQUAL(rig_metric("lota_bytes_served_total{source=\"cache\"}"), 0);
	/* the extent stays (another client may still read it) */
	CU_ASSERT_EQUAL(rig_store_extent(&R, BKT, ONE_KEY, ETAG, ONE_LEN, 0, NULL, 0), 1);
	assert_all_signed();
	rig_stop(&R);
}

static const char xml_precondition[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>PreconditionFailed</Code>"
    "<Message>At least one of the pre-conditions you specified did not hold</Message>"
    "<RequestId>fakeup</RequestId></Error>";

static void test_authorizing_head_refusals_relayed(void)
{
	denied(403, NULL, xml_denied);
	denied(404, NULL, xml_no_such_key);
	denied(503, NULL, xml_slow_down);
	char inm[128], im[64];
	snprintf(inm, sizeof(inm), "If-None-Match: %s", ETAG);
	denied(304, inm, NULL);
	snprintf(im, sizeof(im), "If-Match: \"not-the-etag\"");
	denied(412, im, xml_precondition);
}

/* The authorizing HEAD's connection is reset before its answer. */
static void hook_reset_heads(fakeup *f, const fakeup_req *q, fakeup_resp *r, void *ud)
{
	(void)f;
	(void)ud;
	if (strcmp(q->method, "HEAD") != 0)
		return;
	r->fault = FAKEUP_RESET;
	r->at = -1;
}

static void test_authorizing_head_fails_proxied(void)
{
	CU_ASSERT_TRUE_FATAL(start(NULL));
	fakeup_hook_set(R.up, hook_reset_heads, NULL);
	rig_resp p;
	get("GET", ONE_PATH, NULL, &p);
	/* the client's own GET went to the upstream: its answer, nothing cached */
	assert_whole(&p, one, ONE_LEN, "bypass");
	CU_ASSERT_EQUAL(fakeup_count(R.up, "HEAD"), 1);
	CU_ASSERT_EQUAL(fakeup_count(R.up, "GET"), 1);
	CU_ASSERT_EQUAL(fakeup_req_at(R.up, 1)->status, 200);
	CU_ASSERT_EQUAL(rig_store_stats(&R).fills_committed + rig_store_stats(&R).fills_aborted, 0);
	CU_ASSERT_EQUAL(rig_store_stats(&R).extents, 0);
	assert_all_signed();
	rig_stop(&R);
}

static void test_head_prestages(void)
{
	CU_ASSERT_TRUE_FATAL(start(NULL));
	rig_resp p;
	get("HEAD", BIG_PATH, NULL, &p);
	CU_ASSERT_EQUAL(p.status, 200);
	CU_ASSERT_TRUE(p.has_length && p.length == BIG_LEN && p.body_len == 0);
	CU_ASSERT_TRUE(rig_resp_header_is(&p, "x-lota-cache", "miss"));
	/* the HEAD filled every extent in the background */
	RIG_WAIT(&R, committed() == 3 && fills_over());
	CU_ASSERT_EQUAL(fakeup_count(R.up, "GET"), 3);
	get("GET", BIG_PATH, NULL, &p);
	assert_whole(&p, big, BIG_LEN, "hit");
	CU_ASSERT_EQUAL(fakeup_count(R.up, "GET"), 3);
	assert_all_signed();
	rig_stop(&R);
}

static void test_ranged_miss_fills_whole_extent(void)
{
	CU_ASSERT_TRUE_FATAL(start(NULL));
	const char *range[] = {"Range: bytes=150000-150099", NULL};
	rig_resp p;
	get("GET", ONE_PATH, range, &p);
	CU_ASSERT_EQUAL(p.status, 206);
	CU_ASSERT_TRUE(p.complete && p.body_len == 100 && memcmp(p.body, one + 150000, 100) == 0);
	CU_ASSERT_TRUE(rig_resp_header_is(&p, "x-lota-cache", "miss"));
	/* the fill asked for the whole extent, not the client's 100 bytes */
	CU_ASSERT_EQUAL(fakeup_count(R.up, "GET"), 1);
	lota_str rg = fakeup_req_header(fakeup_req_at(R.up, 1), "Range");
	CU_ASSERT_TRUE(rg.len == 14 && memcmp(rg.ptr, "bytes=0-199999", 14) == 0);
	RIG_WAIT(&R, committed() == 1 && fills_over());
	CU_ASSERT_EQUAL(rig_store_extent(&R, BKT, ONE_KEY, ETAG, ONE_LEN, 0, one, ONE_LEN), 1);
	assert_all_signed();
	rig_stop(&R);
}

/* The object is replaced right after the authorizing HEAD: the fill, pinned to the ETag
 * the HEAD gave, gets 412. */
static void hook_replace_after_head(fakeup *f, const fakeup_req *q, fakeup_resp *r, void *ud)
{
	int *heads = ud;
	(void)r;
	if (!strcmp(q->method, "HEAD") && (*heads)++ == 0)
		fakeup_object(f, ONE_PATH, one_v2, ONE_LEN, "\"v2\"");
}

static void test_object_replaced_before_fill(void)
{
	CU_ASSERT_TRUE_FATAL(start(NULL));
	int heads = 0;
	fakeup_hook_set(R.up, hook_replace_after_head, &heads);
	rig_client *c = send_get("GET", ONE_PATH, NULL);
	rig_resp p;
	RIG_WAIT(&R, c->ended);
	RIG_WAIT(&R, fills_over());
	rig_resp_get(c, &p);
	/* promised the old version, could not give it: cut, never the new bytes */
	CU_ASSERT_EQUAL(p.status, 200);
	CU_ASSERT_TRUE(rig_resp_header_is(&p, "ETag", ETAG));
	CU_ASSERT_FALSE(p.complete);
	CU_ASSERT_EQUAL(p.body_len, 0);
	CU_ASSERT_EQUAL(fakeup_count(R.up, "GET"), 2); /* the fill and the direct read */
	CU_ASSERT_EQUAL(fakeup_req_at(R.up, 1)->status, 412);
	CU_ASSERT_EQUAL(fakeup_req_at(R.up, 2)->status, 412);
	CU_ASSERT_EQUAL(rig_store_stats(&R).extents, 0);
	/* the next request sees the new version */
	get("GET", ONE_PATH, NULL, &p);
	CU_ASSERT_EQUAL(p.status, 200);
	CU_ASSERT_TRUE(p.complete && p.body_len == ONE_LEN && memcmp(p.body, one_v2, ONE_LEN) == 0);
	CU_ASSERT_TRUE(rig_resp_header_is(&p, "ETag", "\"v2\""));
	RIG_WAIT(&R, committed() == 1 && fills_over());
	CU_ASSERT_EQUAL(rig_store_extent(&R, BKT, ONE_KEY, "\"v2\"", ONE_LEN, 0, one_v2, ONE_LEN),
	                1);
	CU_ASSERT_EQUAL(rig_store_extent(&R, BKT, ONE_KEY, ETAG, ONE_LEN, 0, NULL, 0), -1);
	assert_all_signed();
	fakeup_object(R.up, ONE_PATH, one, ONE_LEN, ETAG);
	rig_stop(&R);
}

/* GETs: stall before anything (the authorizing HEAD for HEADs: *ud names the method). */
static void hook_stall_method(fakeup *f, const fakeup_req *q, fakeup_resp *r, void *ud)
{
	(void)f;
	if (strcmp(q->method, ud) != 0)
		return;
	r->fault = FAKEUP_STALL;
	r->at = -1;
}

static void test_client_vanishes_during_authorization(void)
{
	CU_ASSERT_TRUE_FATAL(start(NULL));
	fakeup_hook_set(R.up, hook_stall_method, (void *)"HEAD");
	rig_client *c = send_get("GET", ONE_PATH, NULL);
	RIG_WAIT(&R, fakeup_stalled(R.up) == 1);
	rig_client_close(c, true);
	/* the authorizing HEAD is dropped with its client */
	RIG_WAIT(&R, fakeup_req_at(R.up, 0)->peer_closed);
	RIG_WAIT(&R, rig_metric("lota_requests_total{op=\"get_object\",status=\"4xx\"}") == 1);
	CU_ASSERT_EQUAL(fakeup_nreqs(R.up), 1);
	CU_ASSERT_EQUAL(rig_store_stats(&R).extents, 0);
	rig_stop(&R);
}

/* --------------------------------------------- ranges far into a cold extent --- */

#define HUGE_EXT (17u << 20) /* above the 16 MiB a reader may be ahead of a fill */
#define HUGE_LEN (18u << 20)
static uint8_t *huge;
static const char HUGE_KEY[] = "data/huge.bin";
static const char HUGE_PATH[] = "/bkt/data/huge.bin";

static bool start_huge(void)
{
	rig_opts o = {.cache = true, .extent_size = HUGE_EXT};
	if (!start(&o))
		return false;
	fakeup_object(R.up, HUGE_PATH, huge, HUGE_LEN, ETAG);
	return true;
}

static void test_far_range_read_first_then_filled(void)
{
	CU_ASSERT_TRUE_FATAL(start_huge());
	const char *range[] = {"Range: bytes=17000000-17000099", NULL};
	rig_resp p;
	get("GET", HUGE_PATH, range, &p);
	CU_ASSERT_EQUAL(p.status, 206);
	CU_ASSERT_TRUE(p.complete && p.body_len == 100 &&
	               memcmp(p.body, huge + 17000000, 100) == 0);
	CU_ASSERT_TRUE(rig_resp_header_is(&p, "x-lota-cache", "miss"));
	/* the client's own GET first (no HEAD), then the fill of its extent */
	CU_ASSERT_STRING_EQUAL(fakeup_req_at(R.up, 0)->method, "GET");
	RIG_WAIT(&R, committed() == 1 && fills_over());
	CU_ASSERT_EQUAL(fakeup_count(R.up, "HEAD"), 0);
	CU_ASSERT_EQUAL(fakeup_count(R.up, "GET"), 2);
	CU_ASSERT_EQUAL(rig_store_extent(&R, BKT, HUGE_KEY, ETAG, HUGE_LEN, 0, huge, HUGE_EXT), 1);
	get("GET", HUGE_PATH, range, &p);
	CU_ASSERT_TRUE(p.complete && p.body_len == 100 &&
	               memcmp(p.body, huge + 17000000, 100) == 0);
	CU_ASSERT_TRUE(rig_resp_header_is(&p, "x-lota-cache", "hit"));
	assert_all_signed();
	rig_stop(&R);
}

static void test_far_range_read_first_cut(void)
{
	CU_ASSERT_TRUE_FATAL(start_huge());
	int64_t at = 50;
	fakeup_hook_set(R.up, hook_stall_gets, &at);
	const char *range[] = {"Range: bytes=17000000-17000099", NULL};
	rig_client *c = send_get("GET", HUGE_PATH, range);
	rig_resp p;
	RIG_WAIT(&R, fakeup_stalled(R.up) == 1 && (rig_resp_get(c, &p), p.body_len == 50));
	CU_ASSERT_EQUAL(fakeup_release(R.up, FAKEUP_RESET), 1);
	RIG_WAIT(&R, c->ended);
	rig_resp_get(c, &p);
	CU_ASSERT_FALSE(p.complete);
	CU_ASSERT_TRUE(memcmp(p.body, huge + 17000000, p.body_len) == 0);
	/* the request is over at lotad: an incomplete answer fills nothing */
	RIG_WAIT(&R, rig_metric("lota_request_duration_seconds_count{op=\"get_object\"}") == 1);
	CU_ASSERT_EQUAL(fakeup_count(R.up, "GET"), 1);
	CU_ASSERT_EQUAL(rig_metric("lota_cache_fills_total{result=\"started\"}"), 0);
	CU_ASSERT_EQUAL(rig_store_stats(&R).extents, 0);
	rig_stop(&R);
}

static void test_slow_client_does_not_slow_fills(void)
{
	CU_ASSERT_TRUE_FATAL(start_huge());
	rig_client *c = send_get("GET", HUGE_PATH, NULL);
	rig_client_pause(c, true);
	/* both extents (18 MiB) are filled while the client reads nothing */
	RIG_WAIT(&R, committed() == 2 && fills_over());
	CU_ASSERT_EQUAL(c->in_len, 0);
	CU_ASSERT_EQUAL(fakeup_count(R.up, "GET"), 2);
	rig_client_pause(c, false);
	rig_resp p;
	rig_resp_wait(c, &p);
	assert_whole(&p, huge, HUGE_LEN, "miss");
	CU_ASSERT_EQUAL(rig_store_extent(&R, BKT, HUGE_KEY, ETAG, HUGE_LEN, 1, huge + HUGE_EXT,
	                                 HUGE_LEN - HUGE_EXT),
	                1);
	rig_stop(&R);
}

/* The first GET (the fill) stalls after 64 KiB. */
static void hook_stall_first_get(fakeup *f, const fakeup_req *q, fakeup_resp *r, void *ud)
{
	int *gets = ud;
	(void)f;
	if (strcmp(q->method, "GET") != 0 || (*gets)++ > 0)
		return;
	r->fault = FAKEUP_STALL;
	r->at = 64 * 1024;
}

static void test_reader_far_ahead_of_fill_reads_directly(void)
{
	CU_ASSERT_TRUE_FATAL(start_huge());
	int gets = 0;
	fakeup_hook_set(R.up, hook_stall_first_get, &gets);
	const char *head[] = {"Range: bytes=0-99", NULL};
	rig_resp pa, pb;
	get("GET", HUGE_PATH, head, &pa);
	CU_ASSERT_TRUE(pa.complete && pa.body_len == 100 && memcmp(pa.body, huge, 100) == 0);
	RIG_WAIT(&R, fakeup_stalled(R.up) == 1);
	/* more than 16 MiB beyond what the fill has: read directly, not waited for */
	const char *far[] = {"Range: bytes=17000000-17000099", NULL};
	get("GET", HUGE_PATH, far, &pb);
	CU_ASSERT_EQUAL(pb.status, 206);
	CU_ASSERT_TRUE(pb.complete && pb.body_len == 100 &&
	               memcmp(pb.body, huge + 17000000, 100) == 0);
	CU_ASSERT_TRUE(rig_resp_header_is(&pb, "x-lota-cache", "miss"));
	CU_ASSERT_EQUAL(fakeup_count(R.up, "GET"), 2); /* the fill, the direct read */
	CU_ASSERT_EQUAL(rig_metric("lota_cache_direct_reads_total"), 1);
	CU_ASSERT_EQUAL(fakeup_release(R.up, FAKEUP_NONE), 1);
	RIG_WAIT(&R, committed() == 1 && fills_over());
	CU_ASSERT_EQUAL(rig_store_extent(&R, BKT, HUGE_KEY, ETAG, HUGE_LEN, 0, huge, HUGE_EXT), 1);
	assert_all_signed();
	rig_stop(&R);
}

/* The authorizing HEAD's 200 is followed by bytes nobody asked for: a whole forged 206
 * of the extent a fill will ask for, with the right ETag and range but other bytes, and
 * *ud bytes more of padding (a forged body longer than one read of curl's). */
static char *forged;
static size_t forged_len;

static void hook_forge_after_head(fakeup *f, const fakeup_req *q, fakeup_resp *r, void *ud)
{
	(void)f;
	(void)ud;
	if (strcmp(q->method, "HEAD") != 0)
		return;
	r->after = forged;
	r->after_len = forged_len;
}

static void forged_after_head(size_t pad)
{
	char head[512];
	int hl = snprintf(head, sizeof(head),
	                  "HTTP/1.1 206 Partial Content\r\nETag: %s\r\nContent-Range: bytes "
	                  "0-%d/%d\r\nContent-Length: %d\r\n\r\n",
	                  ETAG, ONE_LEN - 1, ONE_LEN, ONE_LEN);
	forged_len = (size_t)hl + ONE_LEN + pad;
	forged = malloc(forged_len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(forged);
	memcpy(forged, head, (size_t)hl);
	memcpy(forged + hl, one_v2, ONE_LEN); /* wrong bytes */
	memset(forged + hl + ONE_LEN, 'x', pad);
	CU_ASSERT_TRUE_FATAL(start(NULL));
	fakeup_hook_set(R.up, hook_forge_after_head, NULL);
	rig_resp p;
	for (int i = 0; i < 3; i++) {
		get("GET", ONE_PATH, NULL, &p);
		assert_whole(&p, one, ONE_LEN, i == 0 ? "miss" : "hit");
		RIG_WAIT(&R, committed() == 1 && fills_over());
		CU_ASSERT_EQUAL(rig_store_extent(&R, BKT, ONE_KEY, ETAG, ONE_LEN, 0, one, ONE_LEN),
		                1);
	}
	CU_ASSERT_EQUAL(fakeup_count(R.up, "GET"), 1);
	assert_all_signed();
	rig_stop(&R);
	free(forged);
}

static void test_bytes_after_head_never_a_fill(void)
{
	forged_after_head(0);
	forged_after_head(1 << 20);
}

/* ---------------------------------------------------- slow fills, single-flight --- */

static void test_single_flight(void)
{
	CU_ASSERT_TRUE_FATAL(start(NULL));
	int64_t at = 64 * 1024;
	fakeup_hook_set(R.up, hook_stall_gets, &at);
	rig_client *a = send_get("GET", ONE_PATH, NULL);
	rig_resp pa, pb;
	/* the fill stalls a quarter of the way; the first reader has what came */
	RIG_WAIT(&R,
	         fakeup_stalled(R.up) == 1 && (rig_resp_get(a, &pa), pa.body_len == (size_t)at));
	/* a second reader joins the growing extent: its own HEAD, no GET */
	rig_client *b = send_get("GET", ONE_PATH, NULL);
	RIG_WAIT(&R, (rig_resp_get(b, &pb), pb.body_len == (size_t)at));
	CU_ASSERT_TRUE(rig_resp_header_is(&pb, "x-lota-cache", "miss"));
	CU_ASSERT_EQUAL(fakeup_count(R.up, "HEAD"), 2);
	CU_ASSERT_EQUAL(fakeup_count(R.up, "GET"), 1);
	CU_ASSERT_EQUAL(fakeup_release(R.up, FAKEUP_NONE), 1);
	rig_resp_wait(a, &pa);
	rig_resp_wait(b, &pb);
	assert_whole(&pa, one, ONE_LEN, "miss");
	assert_whole(&pb, one, ONE_LEN, "miss");
	CU_ASSERT_EQUAL(fakeup_count(R.up, "GET"), 1); /* single-flight */
	RIG_WAIT(&R, committed() == 1 && fills_over());
	CU_ASSERT_EQUAL(rig_store_extent(&R, BKT, ONE_KEY, ETAG, ONE_LEN, 0, one, ONE_LEN), 1);
	get("GET", ONE_PATH, NULL, &pa);
	assert_whole(&pa, one, ONE_LEN, "hit");
	CU_ASSERT_EQUAL(fakeup_count(R.up, "GET"), 1);
	assert_all_signed();
	rig_stop(&R);
}

static void test_silent_fill_times_out(void)
{
	rig_opts o = {.cache = true, .upstream_timeout_ms = 1000};
	CU_ASSERT_TRUE_FATAL(start(&o));
	int64_t at = -1; /* the fill's GET (and the direct read after it) get nothing */
	fakeup_hook_set(R.up, hook_stall_gets, &at);
	rig_client *c = send_get("GET", ONE_PATH, NULL);
	rig_resp p;
	RIG_WAIT(&R, c->ended);
	rig_resp_get(c, &p);
	CU_ASSERT_EQUAL(p.status, 200); /* the head went out before the fill's first byte */
	CU_ASSERT_FALSE(p.complete);
	CU_ASSERT_EQUAL(p.body_len, 0);
	RIG_WAIT(&R, fills_over());
	lotad_store_stats st = rig_store_stats(&R);
	CU_ASSERT_EQUAL(st.extents, 0);
	CU_ASSERT_EQUAL(st.fills_aborted, 1);
	CU_ASSERT_EQUAL(rig_metric("lota_cache_fills_total{result=\"failed\"}"), 1);
	CU_ASSERT_EQUAL(fakeup_count(R.up, "GET"), 2); /* the fill, the direct read */
	rig_stop(&R);
}

static void test_client_vanishes_mid_fill(void)
{
	CU_ASSERT_TRUE_FATAL(start(NULL));
	int64_t at = 64 * 1024;
	fakeup_hook_set(R.up, hook_stall_gets, &at);
	rig_client *a = send_get("GET", ONE_PATH, NULL);
	rig_resp p;
	RIG_WAIT(&R, fakeup_stalled(R.up) == 1 && (rig_resp_get(a, &p), p.body_len > 0));
	rig_client_close(a, true);
	/* lotad has seen the client go (its request counted as 499, in the 4xx class) */
	RIG_WAIT(&R, rig_metric("lota_requests_total{op=\"get_object\",status=\"4xx\"}") == 1);
	CU_ASSERT_EQUAL(rig_metric("lota_connections_open"), 0);
	/* the fill goes on for the next readers */
	CU_ASSERT_EQUAL(fakeup_release(R.up, FAKEUP_NONE), 1);
	RIG_WAIT(&R, committed() == 1 && fills_over());
	const fakeup_req *fill = fakeup_req_at(R.up, 1);
	CU_ASSERT_STRING_EQUAL(fill->method, "GET");
	CU_ASSERT_TRUE(fill->done);
	CU_ASSERT_FALSE(fill->peer_closed);
	CU_ASSERT_EQUAL(rig_store_extent(&R, BKT, ONE_KEY, ETAG, ONE_LEN, 0, one, ONE_LEN), 1);
	get("GET", ONE_PATH, NULL, &p);
	assert_whole(&p, one, ONE_LEN, "hit");
	CU_ASSERT_EQUAL(fakeup_count(R.up, "GET"), 1);
	assert_all_signed();
	rig_stop(&R);
}

static void test_worker_stop_aborts_fills(void)
{
	CU_ASSERT_TRUE_FATAL(start(NULL));
	int64_t at = 64 * 1024;
	fakeup_hook_set(R.up, hook_stall_gets, &at);
	rig_client *c = send_get("GET", ONE_PATH, NULL);
	rig_resp p;
	RIG_WAIT(&R, fakeup_stalled(R.up) == 1 && (rig_resp_get(c, &p), p.body_len > 0));
	/* what a worker's end does (lotad_worker_join_free, through the router) */
	lotad_router_worker_stop(R.w, &R.router);
	RIG_WAIT(&R, fakeup_req_at(R.up, 1)->peer_closed); /* the fill's transfer is dropped */
	RIG_WAIT(&R, fills_over());
	lotad_store_stats st = rig_store_stats(&R);
	CU_ASSERT_EQUAL(st.fills_aborted, 1);
	CU_ASSERT_EQUAL(st.extents, 0);
	rig_stop(&R); /* the client's request (a direct read by now) ends with the worker */
}

int main(void)
{
	lota_log_set_level(LOTA_LOG_ERROR);
	lota_unit_pattern(big, BIG_LEN, 11);
	lota_unit_pattern(one, ONE_LEN, 12);
	lota_unit_pattern(one_v2, ONE_LEN, 13);
	huge = malloc(HUGE_LEN);
	if (!huge)
		return 2;
	lota_unit_pattern(huge, HUGE_LEN, 14);
	CU_TestInfo tests[] = {
	    {"miss fills every extent, the next reads are hits", test_miss_then_hit},
	    {"bad fill answers: nothing published, right bytes read directly",
	     test_bad_fill_nothing_published},
	    {"bad fill and direct read: nothing published, the client is cut",
	     test_bad_fill_and_direct_read_cut},
	    {"authorizing HEAD 403/404/304/412/503: relayed, no cached byte",
	     test_authorizing_head_refusals_relayed},
	    {"authorizing HEAD reset: the client's GET proxied",
	     test_authorizing_head_fails_proxied},
	    {"HEAD of an object not cached pre-stages it", test_head_prestages},
	    {"ranged miss: the whole extent is filled", test_ranged_miss_fills_whole_extent},
	    {"object replaced before the fill: 412, cut, nothing published",
	     test_object_replaced_before_fill},
	    {"client vanishes during authorization: the HEAD is dropped",
	     test_client_vanishes_during_authorization},
	    {"short range far into a cold extent: read first, then filled",
	     test_far_range_read_first_then_filled},
	    {"short range far into a cold extent, reset: cut, nothing filled",
	     test_far_range_read_first_cut},
	    {"a client that does not read does not slow the fills",
	     test_slow_client_does_not_slow_fills},
	    {"reader far ahead of a fill: read directly",
	     test_reader_far_ahead_of_fill_reads_directly},
	    {"bytes after the authorizing HEAD: never read as a fill's answer",
	     test_bytes_after_head_never_a_fill},
	    {"slow fill, second reader joins: one GET", test_single_flight},
	    {"silent fill past upstream_timeout: failed, reader cut", test_silent_fill_times_out},
	    {"client vanishes mid-fill: the fill is published", test_client_vanishes_mid_fill},
	    {"a worker's end aborts its fills: nothing published", test_worker_stop_aborts_fills},
	    CU_TEST_INFO_NULL,
	};
	return lota_unit_run("daemon_cache_fsm", tests);
}
