/*
 * test_daemon_cache_foreign.c - cached reads signed with a key lotad does not hold
 * (daemon/cache/foreign.c and tee.c; docs/architecture.md §3.4.1), run for real in one
 * process: a lotad worker with an extent store in a temp dir (rig.h), clients that sign
 * for the upstream's own host with a key the rig's credentials do not have, the fake
 * upstream (fakeup.h) on the worker's loop. The fake checks no signature here (it holds
 * one key only); a hook stands for the upstream's verdict on a denied key. Extents are
 * 256 KiB. Every test waits for events, never for a time.
 *
 * Checked:
 *   - the first read is forwarded as the client sent it (its Host and Authorization,
 *     no If-None-Match), streams 200 and stores the whole object (x-lota-cache: miss);
 *     the next reads carry If-None-Match: <ETag>, the fake's 304 is served from the
 *     store (200 whole, 206 across extents, HEAD) with the stored headers: hits;
 *   - a denial (403) is relayed with the upstream's body, no cached byte;
 *   - a conditional of the client's own goes unchanged (no second If-None-Match) and its
 *     answer is the upstream's (bypass);
 *   - a 206 stores only the whole extents it carries (none for 100 bytes);
 *   - an object changed at the upstream: the 200 to the If-None-Match brings the new
 *     bytes (miss), stored under the new ETag, then hits;
 *   - with fill_credentials, 100 bytes of a cold object fill their whole extent with that
 *     key (a ranged GET pinned with If-Match, signed with it), then hit; a denied read
 *     fills nothing; a HEAD answered 200 pre-stages the other extents;
 *   - a client that vanishes mid-body publishes nothing of the extent it was in;
 *   - a key lotad holds, signed for the upstream's own name (redirected traffic): after
 *     the upstream's yes, 100 bytes of a cold object fill their whole extent signed with
 *     the client's own key (no fill_credentials), pinned with If-Match, then hit; the same
 *     key with a wrong secret is refused and fills nothing;
 *   - lotad restarted (the cache and store opened again over the same dir): the object
 *     table is rebuilt from the extents on disk, so the first read asks with
 *     If-None-Match and is a hit; once an extent is evicted, a read that needs it goes
 *     without If-None-Match (a miss, bytes right) while one inside a held extent still
 *     hits; extents evicted between the If-None-Match and the 304 give a normal read
 *     (the upstream's bytes), never a 304 served from nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <lota/extent.h>
#include <lota/log.h>

#include "rig.h"
#include "unit.h"

#define EXT     (256u * 1024)
#define BIG_LEN (2 * EXT + 90000) /* three extents, the last one short */

static uint8_t big[BIG_LEN], big_v2[BIG_LEN];
static const char BKT[] = "bkt";
static const char KEY[] = "data/big.bin";
static const char PATH[] = "/bkt/data/big.bin";
static const char ETAG[] = "\"5d41402abc4b2a76b9719d911017c592\"";
static const char ETAG2[] = "\"0000402abc4b2a76b9719d911017c592\"";
static const char FAK[] = "AKIDFOREIGNKEY00";
static const char FSK[] = "foreign/secret/not/held/by/lotad";
static const char DENIED_AK[] = "AKIDDENIEDKEY000";
static const char xml_denied[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>"
                                 "AccessDenied</Code><RequestId>tx-denied</RequestId></Error>";

static rig R;

/* The upstream's verdict: DENIED_AK may not read anything. */
static void hook_deny(fakeup *f, const fakeup_req *q, fakeup_resp *r, void *ud)
{
	(void)f;
	(void)ud;
	if (!strstr(q->head, DENIED_AK))
		return;
	memset(r, 0, sizeof(*r));
	r->status = 403;
	r->body = xml_denied;
	r->body_len = r->length = sizeof(xml_denied) - 1;
	snprintf(r->extra, sizeof(r->extra), "Content-Type: application/xml\r\n");
}

static bool start(const char *fill_profile)
{
	rig_opts o = {.cache = true, .fill_profile = fill_profile};
	if (!rig_start(&R, &o))
		return false;
	fakeup_key(R.up, "", ""); /* signatures are the hook's business here */
	fakeup_hook_set(R.up, hook_deny, NULL);
	fakeup_object(R.up, PATH, big, BIG_LEN, ETAG);
	return true;
}

/* A read signed for the upstream's own host with the key ak (FSK as its secret). */
static rig_client *send_as(const char *method, const char *const *hdrs, const char *ak)
{
	rig_client *c = rig_client_new(&R);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	rig_request_as(c, method, PATH, hdrs, R.s.upstream_hostport, ak, FSK);
	return c;
}

static void get(const char *method, const char *const *hdrs, rig_resp *p)
{
	rig_resp_wait(send_as(method, hdrs, FAK), p);
}

static const fakeup_req *last_req(void)
{
	size_t n = fakeup_nreqs(R.up);
	return n ? fakeup_req_at(R.up, n - 1) : NULL;
}

static bool header_is(const fakeup_req *q, const char *name, const char *value)
{
	lota_str v = fakeup_req_header(q, name);
	return v.len == strlen(value) && memcmp(v.ptr, value, v.len) == 0;
}

static size_t count_header(const fakeup_req *q, const char *name)
{
	size_t n = 0, nl = strlen(name);
	for (const char *p = q->head; (p = strstr(p, "\r\n")) != NULL; p += 2)
		if (strncasecmp(p + 2, name, nl) == 0 && p[2 + nl] == ':')
			n++;
	return n;
}

static uint64_t committed(void)
{
	return rig_store_stats(&R).fills_committed;
}

static bool fills_over(void)
{
	return rig_store_stats(&R).fills_in_progress == 0;
}

static void assert_whole(const rig_resp *p, const uint8_t *data, const char *label)
{
	CU_ASSERT_EQUAL(p->status, 200);
	CU_ASSERT_TRUE(p->complete);
	CU_ASSERT_TRUE(p->body_len == BIG_LEN && memcmp(p->body, data, BIG_LEN) == 0);
	CU_ASSERT_TRUE(rig_resp_header_is(p, "x-lota-cache", label));
}

/* Cache the object through a first foreign read. */
static void warm(void)
{
	rig_resp p;
	get("GET", NULL, &p);
	assert_whole(&p, big, "miss");
	RIG_WAIT(&R, committed() == 3 && fills_over());
}

static void test_miss_then_hit(void)
{
	CU_ASSERT_TRUE_FATAL(start(NULL));
	rig_resp p;
	get("GET", NULL, &p);
	assert_whole(&p, big, "miss");
	CU_ASSERT_TRUE(rig_resp_header_is(&p, "ETag", ETAG));
	const fakeup_req *q = last_req();
	CU_ASSERT_PTR_NOT_NULL_FATAL(q);
	CU_ASSERT_STRING_EQUAL(q->method, "GET");
	CU_ASSERT_TRUE(header_is(q, "Host", R.s.upstream_hostport)); /* the client's own */
	CU_ASSERT_PTR_NOT_NULL(strstr(q->head, FAK));                /* its own signature */
	CU_ASSERT_EQUAL(fakeup_req_header(q, "If-None-Match").len, 0);
	RIG_WAIT(&R, committed() == 3 && fills_over());
	for (uint64_t k = 0; k < 3; k++) {
		size_t len = k < 2 ? EXT : BIG_LEN - 2 * EXT;
		CU_ASSERT_EQUAL(
		    rig_store_extent(&R, BKT, KEY, ETAG, BIG_LEN, k, big + k * EXT, len), 1);
	}
	size_t gets = fakeup_count(R.up, "GET");

	get("GET", NULL, &p);
	assert_whole(&p, big, "hit");
	CU_ASSERT_TRUE(rig_resp_header_is(&p, "ETag", ETAG)); /* stored: a 304 has none */
	q = last_req();
	CU_ASSERT_TRUE(header_is(q, "If-None-Match", ETAG));
	CU_ASSERT_EQUAL(q->status, 304);
	CU_ASSERT_EQUAL(fakeup_count(R.up, "GET"), gets + 1); /* the 304 only */

	const char *range[] = {"Range: bytes=200000-300000", NULL};
	get("GET", range, &p);
	CU_ASSERT_EQUAL(p.status, 206);
	CU_ASSERT_TRUE(p.body_len == 100001 && memcmp(p.body, big + 200000, 100001) == 0);
	CU_ASSERT_TRUE(rig_resp_header_is(&p, "Content-Range", "bytes 200000-300000/614288"));
	CU_ASSERT_TRUE(rig_resp_header_is(&p, "x-lota-cache", "hit"));
	CU_ASSERT_EQUAL(last_req()->status, 304);

	get("HEAD", NULL, &p);
	CU_ASSERT_EQUAL(p.status, 200);
	CU_ASSERT_TRUE(rig_resp_header_is(&p, "x-lota-cache", "hit"));
	CU_ASSERT_TRUE(rig_resp_header_is(&p, "Content-Length", "614288"));
	CU_ASSERT_STRING_EQUAL(last_req()->method, "HEAD");
	CU_ASSERT_EQUAL(last_req()->status, 304);

	CU_ASSERT_EQUAL(rig_metric("lota_cache_foreign_reads_total{answer=\"not_modified\"}"), 3);
	CU_ASSERT_EQUAL(rig_metric("lota_cache_foreign_reads_total{answer=\"fetched\"}"), 1);
	CU_ASSERT_EQUAL(rig_metric("lota_cache_hits_total"), 3);
	CU_ASSERT_EQUAL(rig_metric("lota_cache_misses_total"), 1);
	rig_stop(&R);
}

static void test_denied(void)
{
	CU_ASSERT_TRUE_FATAL(start(NULL));
	warm();
	double served = rig_metric("lota_bytes_served_total{source=\"cache\"}");
	const char *range[] = {"Range: bytes=0-99", NULL};
	for (int i = 0; i < 2; i++) {
		rig_resp p;
		rig_resp_wait(send_as(i ? "HEAD" : "GET", i ? NULL : range, DENIED_AK), &p);
		CU_ASSERT_EQUAL(p.status, 403);
		CU_ASSERT_TRUE(rig_resp_header_is(&p, "x-lota-cache", "bypass"));
		if (!i)
			CU_ASSERT_TRUE(p.body_len == sizeof(xml_denied) - 1 &&
			               memcmp(p.body, xml_denied, p.body_len) == 0);
		/* lotad asked with its If-None-Match: the denial came first */
		CU_ASSERT_TRUE(header_is(last_req(), "If-None-Match", ETAG));
	}
	CU_ASSERT_EQUAL(rig_metric("lota_bytes_served_total{source=\"cache\"}"), served);
	CU_ASSERT_EQUAL(rig_metric("lota_cache_foreign_reads_total{answer=\"other\"}"), 2);
	rig_stop(&R);
}

static void test_client_conditional(void)
{
	CU_ASSERT_TRUE_FATAL(start(NULL));
	warm();
	const char *inm[] = {"If-None-Match: \"something-else\"", NULL};
	const char *im[] = {"If-Match: \"something-else\"", NULL};
	rig_resp p;
	get("GET", inm, &p);
	assert_whole(&p, big, "bypass");
	CU_ASSERT_TRUE(header_is(last_req(), "If-None-Match", "\"something-else\""));
	CU_ASSERT_EQUAL(count_header(last_req(), "If-None-Match"), 1);
	get("GET", im, &p);
	CU_ASSERT_EQUAL(p.status, 412);
	CU_ASSERT_EQUAL(fakeup_req_header(last_req(), "If-None-Match").len, 0);
	CU_ASSERT_EQUAL(rig_metric("lota_cache_foreign_reads_total{answer=\"proxied\"}"), 2);
	rig_stop(&R);
}

static void test_partial_206(void)
{
	CU_ASSERT_TRUE_FATAL(start(NULL));
	const char *small[] = {"Range: bytes=100-199", NULL};
	rig_resp p;
	get("GET", small, &p);
	CU_ASSERT_EQUAL(p.status, 206);
	CU_ASSERT_TRUE(p.body_len == 100 && memcmp(p.body, big + 100, 100) == 0);
	CU_ASSERT_TRUE(rig_resp_header_is(&p, "x-lota-cache", "miss"));
	/* [EXT - 10, 2 * EXT + 5]: extent 1 whole, the edges of 0 and 2 */
	const char *mid[] = {"Range: bytes=262134-524293", NULL};
	get("GET", mid, &p);
	CU_ASSERT_EQUAL(p.status, 206);
	CU_ASSERT_TRUE(p.body_len == 262160 && memcmp(p.body, big + EXT - 10, 262160) == 0);
	RIG_WAIT(&R, committed() == 1 && fills_over());
	CU_ASSERT_EQUAL(rig_store_extent(&R, BKT, KEY, ETAG, BIG_LEN, 1, big + EXT, EXT), 1);
	CU_ASSERT_EQUAL(rig_store_extent(&R, BKT, KEY, ETAG, BIG_LEN, 0, NULL, 0), -1);
	CU_ASSERT_EQUAL(rig_store_extent(&R, BKT, KEY, ETAG, BIG_LEN, 2, NULL, 0), -1);
	/* a range inside extent 1 is now a hit (304), one in extent 0 is not */
	const char *in1[] = {"Range: bytes=300000-300099", NULL};
	get("GET", in1, &p);
	CU_ASSERT_TRUE(rig_resp_header_is(&p, "x-lota-cache", "hit"));
	CU_ASSERT_TRUE(p.body_len == 100 && memcmp(p.body, big + 300000, 100) == 0);
	get("GET", small, &p);
	CU_ASSERT_TRUE(rig_resp_header_is(&p, "x-lota-cache", "miss"));
	CU_ASSERT_EQUAL(fakeup_req_header(last_req(), "If-None-Match").len, 0);
	rig_stop(&R);
}

static void test_changed_upstream(void)
{
	CU_ASSERT_TRUE_FATAL(start(NULL));
	warm();
	fakeup_object(R.up, PATH, big_v2, BIG_LEN, ETAG2); /* an overwrite around lotad */
	rig_resp p;
	get("GET", NULL, &p);
	assert_whole(&p, big_v2, "miss");
	CU_ASSERT_TRUE(header_is(last_req(), "If-None-Match", ETAG));
	CU_ASSERT_EQUAL(last_req()->status, 200);
	RIG_WAIT(&R, committed() == 6 && fills_over());
	get("GET", NULL, &p);
	assert_whole(&p, big_v2, "hit");
	CU_ASSERT_TRUE(header_is(last_req(), "If-None-Match", ETAG2));
	rig_stop(&R);
}

static void test_fill_credentials(void)
{
	CU_ASSERT_TRUE_FATAL(start("unit"));
	const char *small[] = {"Range: bytes=300000-300099", NULL};
	rig_resp p;
	get("GET", small, &p);
	CU_ASSERT_EQUAL(p.status, 206);
	CU_ASSERT_TRUE(p.body_len == 100 && memcmp(p.body, big + 300000, 100) == 0);
	RIG_WAIT(&R, committed() == 1 && fills_over());
	CU_ASSERT_EQUAL(rig_store_extent(&R, BKT, KEY, ETAG, BIG_LEN, 1, big + EXT, EXT), 1);
	/* the fill: a whole-extent GET pinned to the ETag, signed with the fill key */
	const fakeup_req *fill = last_req();
	CU_ASSERT_TRUE(header_is(fill, "Range", "bytes=262144-524287"));
	CU_ASSERT_TRUE(header_is(fill, "If-Match", ETAG));
	CU_ASSERT_PTR_NOT_NULL(strstr(fill->head, RIG_AK));
	get("GET", small, &p);
	CU_ASSERT_TRUE(rig_resp_header_is(&p, "x-lota-cache", "hit"));
	/* a denied client fills nothing */
	const char *other[] = {"Range: bytes=0-99", NULL};
	rig_resp_wait(send_as("GET", other, DENIED_AK), &p);
	CU_ASSERT_EQUAL(p.status, 403);
	CU_ASSERT_EQUAL(rig_metric("lota_cache_fills_total{result=\"started\"}"), 1);
	/* a HEAD the upstream answers 200 pre-stages the rest */
	get("HEAD", NULL, &p);
	CU_ASSERT_EQUAL(p.status, 200);
	CU_ASSERT_TRUE(rig_resp_header_is(&p, "x-lota-cache", "miss"));
	RIG_WAIT(&R, committed() == 3 && fills_over());
	CU_ASSERT_EQUAL(rig_store_extent(&R, BKT, KEY, ETAG, BIG_LEN, 0, big, EXT), 1);
	CU_ASSERT_EQUAL(
	    rig_store_extent(&R, BKT, KEY, ETAG, BIG_LEN, 2, big + 2 * EXT, BIG_LEN - 2 * EXT), 1);
	get("GET", NULL, &p);
	assert_whole(&p, big, "hit");
	rig_stop(&R);
}

#define HUGE_LEN (32u * EXT) /* more than any buffer between the fake and a client */
static uint8_t huge[HUGE_LEN];
static const char HUGE_PATH[] = "/bkt/data/huge.bin";

static void test_client_vanishes(void)
{
	CU_ASSERT_TRUE_FATAL(start(NULL));
	fakeup_object(R.up, HUGE_PATH, huge, HUGE_LEN, ETAG2);
	rig_client *c = rig_client_new(&R);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	rig_client_pause(c, true);
	/* from byte 1000: the buffers between the fake and the client hold a round number of
	 * bytes, which from byte 0 can end exactly where an extent does (then no fill is open
	 * when the client goes, only the last one's publication) */
	char range[64];
	snprintf(range, sizeof(range), "Range: bytes=1000-%u", HUGE_LEN - 1);
	const char *hdrs[] = {range, NULL};
	rig_request_as(c, "GET", HUGE_PATH, hdrs, R.s.upstream_hostport, FAK, FSK);
	/* the client reads nothing: bytes reach the store until every buffer between it
	 * and lotad is full, then the fake's send waits, in the middle of an extent */
	RIG_WAIT(&R, rig_metric("lota_fill_bytes_total") > 0);
	RIG_WAIT(&R, last_req()->blocked && rig_store_stats(&R).fills_in_progress == 1 &&
	                 (uint64_t)rig_metric("lota_fill_bytes_total") % EXT != 0);
	rig_client_close(c, true);
	RIG_WAIT(&R, fills_over());
	/* whole extents that passed may be published, right; the one cut is not */
	uint64_t published = 0;
	for (uint64_t k = 0; k < HUGE_LEN / EXT; k++) {
		int rc = rig_store_extent(&R, BKT, "data/huge.bin", ETAG2, HUGE_LEN, k,
		                          huge + k * EXT, EXT);
		CU_ASSERT_TRUE(rc == 1 || rc == -1);
		published += rc == 1;
	}
	CU_ASSERT_TRUE(published < HUGE_LEN / EXT);
	CU_ASSERT_EQUAL(committed(), published);
	CU_ASSERT_TRUE(rig_store_stats(&R).fills_aborted >= 1);
	rig_stop(&R);
}

static void test_held_key_fills(void)
{
	CU_ASSERT_TRUE_FATAL(start(NULL));
	const char *small[] = {"Range: bytes=300000-300099", NULL};
	rig_resp p;
	rig_client *c = rig_client_new(&R);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	rig_request_as(c, "GET", PATH, small, R.s.upstream_hostport, RIG_AK, "not/the/secret");
	rig_resp_wait(c, &p);
	CU_ASSERT_EQUAL(p.status, 403); /* verified here: a bad signature goes no further */
	CU_ASSERT_EQUAL(fakeup_nreqs(R.up), 0);
	c = rig_client_new(&R);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	rig_request_as(c, "GET", PATH, small, R.s.upstream_hostport, RIG_AK, RIG_SK);
	rig_resp_wait(c, &p);
	CU_ASSERT_EQUAL(p.status, 206);
	CU_ASSERT_TRUE(p.body_len == 100 && memcmp(p.body, big + 300000, 100) == 0);
	CU_ASSERT_TRUE(rig_resp_header_is(&p, "x-lota-cache", "miss"));
	RIG_WAIT(&R, committed() == 1 && fills_over());
	CU_ASSERT_EQUAL(rig_store_extent(&R, BKT, KEY, ETAG, BIG_LEN, 1, big + EXT, EXT), 1);
	const fakeup_req *fill = last_req();
	CU_ASSERT_TRUE(header_is(fill, "Range", "bytes=262144-524287"));
	CU_ASSERT_TRUE(header_is(fill, "If-Match", ETAG));
	CU_ASSERT_PTR_NOT_NULL(strstr(fill->head, RIG_AK));
	c = rig_client_new(&R);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	rig_request_as(c, "GET", PATH, small, R.s.upstream_hostport, RIG_AK, RIG_SK);
	rig_resp_wait(c, &p);
	CU_ASSERT_TRUE(rig_resp_header_is(&p, "x-lota-cache", "hit"));
	CU_ASSERT_TRUE(p.body_len == 100 && memcmp(p.body, big + 300000, 100) == 0);
	CU_ASSERT_TRUE(header_is(last_req(), "If-None-Match", ETAG));
	CU_ASSERT_EQUAL(last_req()->status, 304);
	CU_ASSERT_EQUAL(rig_metric("lota_cache_fills_total{result=\"started\"}"), 1);
	rig_stop(&R);
}

/* The name of extent k of the object (ETAG). */
static lota_hash128 rig_extent_name_(uint64_t k)
{
	lota_object_id id = {
	    {BKT, strlen(BKT)}, {KEY, strlen(KEY)}, {ETAG, strlen(ETAG)}, {NULL, 0}, BIG_LEN};
	lota_hash128 h = {0, 0};
	CU_ASSERT_EQUAL(lota_extent_name(&id, EXT, k, &h), 0);
	return h;
}

static void drop_extent(uint64_t k)
{
	CU_ASSERT_EQUAL(lotad_store_drop(R.store, rig_extent_name_(k)), 0);
}

/* The upstream is asked with If-None-Match: the extents go before it answers 304. */
static void hook_evict(fakeup *f, const fakeup_req *q, fakeup_resp *r, void *ud)
{
	(void)f;
	(void)r;
	(void)ud;
	if (fakeup_req_header(q, "If-None-Match").len)
		for (uint64_t k = 0; k < 3; k++)
			(void)lotad_store_drop(R.store, rig_extent_name_(k));
}

static void test_restart(void)
{
	rig_opts o = {.cache = true};
	CU_ASSERT_TRUE_FATAL(start(NULL));
	warm();
	CU_ASSERT_TRUE_FATAL(rig_restart_cache(&R, &o));
	rig_resp p;
	get("GET", NULL, &p);
	assert_whole(&p, big, "hit");
	CU_ASSERT_TRUE(header_is(last_req(), "If-None-Match", ETAG));
	CU_ASSERT_EQUAL(last_req()->status, 304);
	CU_ASSERT_TRUE(rig_resp_header_is(&p, "ETag", ETAG));

	/* extent 1 evicted: a read that needs it is a miss, one in extent 0 a hit */
	drop_extent(1);
	const char *in0[] = {"Range: bytes=0-99", NULL};
	get("GET", in0, &p);
	CU_ASSERT_TRUE(rig_resp_header_is(&p, "x-lota-cache", "hit"));
	CU_ASSERT_TRUE(p.body_len == 100 && memcmp(p.body, big, 100) == 0);
	get("GET", NULL, &p);
	assert_whole(&p, big, "miss");
	CU_ASSERT_EQUAL(fakeup_req_header(last_req(), "If-None-Match").len, 0);
	CU_ASSERT_EQUAL(last_req()->status, 200);
	RIG_WAIT(&R, rig_store_extent(&R, BKT, KEY, ETAG, BIG_LEN, 1, big + EXT, EXT) == 1 &&
	                 fills_over());

	/* restarted again; the extents go between lotad's If-None-Match and the 304 */
	CU_ASSERT_TRUE_FATAL(rig_restart_cache(&R, &o));
	fakeup_hook_set(R.up, hook_evict, NULL);
	get("GET", NULL, &p);
	assert_whole(&p, big, "miss");
	CU_ASSERT_EQUAL(rig_metric("lota_bytes_served_total{source=\"cache\"}"), 0);
	size_t n = fakeup_nreqs(R.up);
	CU_ASSERT_TRUE_FATAL(n >= 2);
	CU_ASSERT_EQUAL(fakeup_req_at(R.up, n - 2)->status, 304);
	CU_ASSERT_EQUAL(fakeup_req_header(last_req(), "If-None-Match").len, 0);
	CU_ASSERT_EQUAL(last_req()->status, 200);
	rig_stop(&R);
}

int main(void)
{
	lota_log_set_level(LOTA_LOG_ERROR);
	lota_unit_pattern(big, BIG_LEN, 21);
	lota_unit_pattern(big_v2, BIG_LEN, 22);
	lota_unit_pattern(huge, HUGE_LEN, 23);
	CU_TestInfo tests[] = {
	    {"a miss streams and stores, then 304s are hits", test_miss_then_hit},
	    {"a denial is relayed, no cached byte", test_denied},
	    {"a conditional of the client's own is the upstream's", test_client_conditional},
	    {"a 206 stores the whole extents it carries", test_partial_206},
	    {"an object changed at the upstream is refetched", test_changed_upstream},
	    {"fill_credentials fills whole extents after a yes", test_fill_credentials},
	    {"a client gone mid-body publishes nothing", test_client_vanishes},
	    {"a held key signed for the upstream fills with its own key", test_held_key_fills},
	    {"after a restart the table is rebuilt from the store", test_restart},
	    CU_TEST_INFO_NULL,
	};
	return lota_unit_run("daemon_cache_foreign", tests);
}
