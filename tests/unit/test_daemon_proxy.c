/*
 * test_daemon_proxy.c - lotad's streaming proxy (daemon/s3/proxy.c) on its failure
 * paths, run for real in one process: a lotad worker without a cache (rig.h), requests
 * signed with the test key from a loopback client, the fake upstream (fakeup.h) on the
 * worker's loop. Every test waits for events (a response, a connection end, a request
 * seen by the fake, a metric), never for a time.
 *
 * Checked: a 5xx of the upstream is relayed verbatim and not retried; a connection reset
 * or closed before the response head gives 502 InternalError after the retries of a GET
 * or HEAD (the fake counts 1 + upstream_retries attempts) and after one attempt for a
 * PUT, a DELETE or with retries off; an upstream that refuses connections gives 503;
 * a reset or a close in the middle of a body cuts the client's connection (a truncated
 * body, a prefix of the right bytes, never a silently short one), and a body delimited
 * by the upstream's close is relayed chunked, without its last chunk when it is reset;
 * an upstream silent for upstream_timeout gives 504 before the head and a cut connection
 * after it, while a pause shorter than that does not; a client that vanishes
 * mid-download (also one that stopped reading, so that the upstream transfer waits) or
 * mid-upload aborts the upstream transfer (the fake sees its connection closed; an
 * upload never completes upstream); bytes the upstream sends after a
 * response never become the next request's answer. Every request lotad sent carried a
 * signature the fake verified with the client's key.
 *
 * An upstream_timeout after body bytes takes longer to fire than the same timeout before
 * the head (about 5 s more: curl measures the speed it is given over its last 5 s).
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <lota/log.h>

#include "rig.h"
#include "unit.h"

#define OBJ_LEN (1u << 20)
static uint8_t obj[OBJ_LEN];
static const char OBJ_PATH[] = "/bkt/dir/object.bin";
static const char OBJ_ETAG[] = "\"0123456789abcdef0123456789abcdef\"";

static const char xml_slow_down[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code><Message>Please "
    "reduce your request rate.</Message><RequestId>tx-fake-503</RequestId></Error>";

static rig R;

static bool start(const rig_opts *o)
{
	if (!rig_start(&R, o))
		return false;
	fakeup_object(R.up, OBJ_PATH, obj, OBJ_LEN, OBJ_ETAG);
	return true;
}

/* The response of one signed request on a new connection. */
static rig_client *get(const char *method, const char *target, const char *const *hdrs, rig_resp *p)
{
	rig_client *c = rig_client_new(&R);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	rig_request(c, method, target, hdrs, NULL, 0, true);
	rig_resp_wait(c, p);
	return c;
}

/* Every request the fake saw was signed by lotad with the client's key. */
static void assert_all_signed(void)
{
	for (size_t i = 0; i < fakeup_nreqs(R.up); i++)
		CU_ASSERT_EQUAL(fakeup_req_at(R.up, i)->sig, 1);
}

/* A lotad error response: the status and the S3 code in its XML body. */
static void assert_s3_error(const rig_resp *p, int status, const char *code)
{
	char want[128];
	snprintf(want, sizeof(want), "<Code>%s</Code>", code);
	CU_ASSERT_EQUAL(p->status, status);
	CU_ASSERT_TRUE(p->complete);
	CU_ASSERT_PTR_NOT_NULL(memmem(p->body, p->body_len, want, strlen(want)));
}

/* ------------------------------------------------------------------ hooks --- */

/* GET of the object: 503 with an S3 body and a header of the upstream's own. */
static void hook_503(fakeup *f, const fakeup_req *q, fakeup_resp *r, void *ud)
{
	(void)f;
	(void)ud;
	if (strcmp(q->method, "GET") != 0)
		return;
	memset(r, 0, sizeof(*r));
	r->status = 503;
	r->body = xml_slow_down;
	r->body_len = r->length = strlen(xml_slow_down);
	snprintf(r->extra, sizeof(r->extra),
	         "Content-Type: application/xml\r\nRetry-After: 7\r\n"
	         "x-amz-request-id: tx-fake-503\r\n");
}

/* Every request: the fault given in *ud at -1 (before the head). */
static void hook_before_head(fakeup *f, const fakeup_req *q, fakeup_resp *r, void *ud)
{
	(void)f;
	(void)q;
	r->fault = *(fakeup_fault *)ud;
	r->at = -1;
}

/* GETs: stall at the body offset in *ud. */
static void hook_stall_at(fakeup *f, const fakeup_req *q, fakeup_resp *r, void *ud)
{
	(void)f;
	if (strcmp(q->method, "GET") != 0)
		return;
	r->fault = FAKEUP_STALL;
	r->at = *(int64_t *)ud;
}

/* ------------------------------------------------------------------ tests --- */

static void test_5xx_relayed_verbatim(void)
{
	CU_ASSERT_TRUE_FATAL(start(NULL));
	fakeup_hook_set(R.up, hook_503, NULL);
	rig_resp p;
	get("GET", OBJ_PATH, NULL, &p);
	CU_ASSERT_EQUAL(p.status, 503);
	CU_ASSERT_TRUE(p.complete);
	CU_ASSERT_EQUAL(p.body_len, strlen(xml_slow_down));
	CU_ASSERT_EQUAL(memcmp(p.body, xml_slow_down, strlen(xml_slow_down)), 0);
	CU_ASSERT_TRUE(rig_resp_header_is(&p, "Retry-After", "7"));
	CU_ASSERT_TRUE(rig_resp_header_is(&p, "x-amz-request-id", "tx-fake-503"));
	CU_ASSERT_TRUE(rig_resp_header_is(&p, "x-lota-cache", "bypass"));
	/* an answer is not a failure: no retry */
	CU_ASSERT_EQUAL(fakeup_count(R.up, "GET"), 1);
	assert_all_signed();
	rig_stop(&R);
}

/* A reset or a close before the head: 502 after `attempts` attempts. */
static void before_head(const char *method, fakeup_fault fault, bool retries, int attempts)
{
	rig_opts o = {.no_retries = !retries};
	CU_ASSERT_TRUE_FATAL(start(&o));
	fakeup_hook_set(R.up, hook_before_head, &fault);
	rig_resp p;
	get(method, OBJ_PATH, NULL, &p);
	CU_ASSERT_EQUAL(p.status, 502);
	if (strcmp(method, "HEAD") != 0)
		assert_s3_error(&p, 502, "InternalError");
	CU_ASSERT_EQUAL(fakeup_count(R.up, method), (size_t)attempts);
	CU_ASSERT_EQUAL(fakeup_conns(R.up), attempts); /* each on a fresh connection */
	/* each attempt failed and was counted */
	CU_ASSERT_EQUAL(rig_metric("lota_upstream_errors_total{kind=\"reset\"}"), attempts);
	assert_all_signed();
	rig_stop(&R);
}

static void test_reset_before_head_retried(void)
{
	before_head("GET", FAKEUP_RESET, true, 3);
	before_head("GET", FAKEUP_CLOSE, true, 3);
	before_head("HEAD", FAKEUP_RESET, true, 3);
	before_head("GET", FAKEUP_RESET, false, 1);
	/* GET and HEAD only: a DELETE may have been done (a delete marker each time) */
	before_head("DELETE", FAKEUP_RESET, true, 1);
}

/* A PUT has a body: sent once, never again. */
static void test_reset_before_head_put_not_retried(void)
{
	CU_ASSERT_TRUE_FATAL(start(NULL));
	fakeup_fault fault = FAKEUP_RESET;
	fakeup_hook_set(R.up, hook_before_head, &fault);
	static const char body[] = "the body of a put";
	rig_client *c = rig_client_new(&R);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	rig_request(c, "PUT", "/bkt/new-object", NULL, body, sizeof(body) - 1, true);
	rig_resp p;
	rig_resp_wait(c, &p);
	assert_s3_error(&p, 502, "InternalError");
	CU_ASSERT_EQUAL(fakeup_count(R.up, "PUT"), 1);
	CU_ASSERT_EQUAL(fakeup_req_at(R.up, 0)->body_len, sizeof(body) - 1);
	assert_all_signed();
	rig_stop(&R);
}

static void test_unreachable_503(void)
{
	/* a port bound but not listening: connections to it are refused */
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	CU_ASSERT_FATAL(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	                getsockname(fd, (struct sockaddr *)&a, &al) == 0);
	rig_opts o = {.upstream_port = ntohs(a.sin_port)};
	CU_ASSERT_TRUE_FATAL(start(&o));
	rig_resp p;
	get("GET", OBJ_PATH, NULL, &p);
	assert_s3_error(&p, 503, "ServiceUnavailable");
	/* a refused connection is retried too: 1 + upstream_retries attempts */
	CU_ASSERT_EQUAL(rig_metric("lota_upstream_errors_total{kind=\"connect\"}"), 3);
	rig_stop(&R);
	close(fd);
}

/* The body stops half-way (then = reset or close): the client's connection is cut. */
static void mid_body(fakeup_fault then)
{
	CU_ASSERT_TRUE_FATAL(start(NULL));
	int64_t at = 300000;
	fakeup_hook_set(R.up, hook_stall_at, &at);
	rig_client *c = rig_client_new(&R);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	rig_request(c, "GET", OBJ_PATH, NULL, NULL, 0, true);
	rig_resp p;
	/* the response has begun at the client (curl has relayed the head), then the
	 * upstream's connection breaks */
	RIG_WAIT(&R, (rig_resp_get(c, &p), p.body_len > 0) && fakeup_stalled(R.up) == 1);
	CU_ASSERT_EQUAL(fakeup_release(R.up, then), 1);
	RIG_WAIT(&R, c->ended);
	rig_resp_get(c, &p);
	CU_ASSERT_EQUAL(p.status, 200);
	CU_ASSERT_TRUE(p.has_length && p.length == OBJ_LEN);
	CU_ASSERT_FALSE(p.complete);
	CU_ASSERT_TRUE(p.body_len <= (size_t)at);
	CU_ASSERT_EQUAL(memcmp(p.body, obj, p.body_len), 0); /* a prefix of the right bytes */
	CU_ASSERT_EQUAL(fakeup_count(R.up, "GET"), 1);       /* begun: never retried */
	RIG_WAIT(&R, rig_metric("lota_upstream_errors_total{kind=\"reset\"}") == 1);
	rig_stop(&R);
}

static void test_reset_mid_body_cuts_client(void)
{
	mid_body(FAKEUP_RESET);
	mid_body(FAKEUP_CLOSE); /* a short body: Content-Length not reached */
}

static void test_slow_upstream_504(void)
{
	rig_opts o = {.upstream_timeout_ms = 1000};
	CU_ASSERT_TRUE_FATAL(start(&o));
	int64_t at = -1; /* nothing at all */
	fakeup_hook_set(R.up, hook_stall_at, &at);
	rig_resp p;
	get("GET", OBJ_PATH, NULL, &p);
	assert_s3_error(&p, 504, "ServiceUnavailable");
	CU_ASSERT_EQUAL(fakeup_count(R.up, "GET"), 1); /* a timeout is not retried */
	CU_ASSERT_EQUAL(rig_metric("lota_upstream_errors_total{kind=\"timeout\"}"), 1);
	/* lotad gave up on the transfer: its connection to the fake is closed */
	RIG_WAIT(&R, fakeup_req_at(R.up, 0)->peer_closed);
	rig_stop(&R);
}

static void test_slow_upstream_after_head_cuts(void)
{
	rig_opts o = {.upstream_timeout_ms = 1000};
	CU_ASSERT_TRUE_FATAL(start(&o));
	int64_t at = 100000;
	fakeup_hook_set(R.up, hook_stall_at, &at);
	rig_client *c = rig_client_new(&R);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	rig_request(c, "GET", OBJ_PATH, NULL, NULL, 0, true);
	rig_resp p;
	RIG_WAIT(&R, c->ended);
	rig_resp_get(c, &p);
	CU_ASSERT_EQUAL(p.status, 200);
	CU_ASSERT_FALSE(p.complete);
	CU_ASSERT_TRUE(p.body_len <= (size_t)at);
	CU_ASSERT_EQUAL(memcmp(p.body, obj, p.body_len), 0);
	CU_ASSERT_EQUAL(rig_metric("lota_upstream_errors_total{kind=\"timeout\"}"), 1);
	RIG_WAIT(&R, fakeup_req_at(R.up, 0)->peer_closed);
	rig_stop(&R);
}

static void test_client_vanishes_mid_body(void)
{
	CU_ASSERT_TRUE_FATAL(start(NULL));
	int64_t at = 200000;
	fakeup_hook_set(R.up, hook_stall_at, &at);
	rig_client *c = rig_client_new(&R);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	rig_request(c, "GET", OBJ_PATH, NULL, NULL, 0, true);
	rig_resp p;
	RIG_WAIT(&R, (rig_resp_get(c, &p), p.body_len > 0) && fakeup_stalled(R.up) == 1);
	rig_client_close(c, true);
	/* lotad aborts the upstream transfer: the fake sees its connection closed while it
	 * still had the rest of the body to send */
	RIG_WAIT(&R, fakeup_req_at(R.up, 0)->peer_closed);
	CU_ASSERT_FALSE(fakeup_req_at(R.up, 0)->done);
	/* counted as the client's going away (499, in the 4xx class) */
	RIG_WAIT(&R, rig_metric("lota_requests_total{op=\"get_object\",status=\"4xx\"}") == 1);
	CU_ASSERT_EQUAL(rig_metric("lota_connections_open"), 0);
	CU_ASSERT_EQUAL(fakeup_conns_open(R.up), 0);
	rig_stop(&R);
}

/* A client that stops reading: lotad's buffers fill, the upstream transfer waits
 * (backpressure, the fake cannot send), then the client vanishes. */
static void test_client_stops_reading_then_vanishes(void)
{
	static uint8_t large[8u << 20];
	lota_unit_pattern(large, sizeof(large), 8);
	CU_ASSERT_TRUE_FATAL(start(NULL));
	fakeup_object(R.up, "/bkt/large", large, sizeof(large), OBJ_ETAG);
	rig_client *c = rig_client_new(&R);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	rig_request(c, "GET", "/bkt/large", NULL, NULL, 0, true);
	rig_client_pause(c, true);
	RIG_WAIT(&R, fakeup_nreqs(R.up) == 1 && fakeup_req_at(R.up, 0)->blocked);
	CU_ASSERT_TRUE(fakeup_req_at(R.up, 0)->sent < sizeof(large));
	rig_client_close(c, true);
	RIG_WAIT(&R, fakeup_req_at(R.up, 0)->peer_closed);
	CU_ASSERT_FALSE(fakeup_req_at(R.up, 0)->done);
	RIG_WAIT(&R, rig_metric("lota_requests_total{op=\"get_object\",status=\"4xx\"}") == 1);
	rig_stop(&R);
}

static void test_client_vanishes_mid_upload(void)
{
	CU_ASSERT_TRUE_FATAL(start(NULL));
	enum { SENT = 50000 };
	rig_client *c = rig_client_new(&R);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	/* a signed PUT of 200000 bytes of which only SENT are sent */
	const char *hdrs[] = {"Content-Length: 200000", NULL};
	rig_request(c, "PUT", "/bkt/upload", hdrs, (const char *)obj, SENT, true);
	/* the upstream has the part sent so far, then the client is gone */
	RIG_WAIT(&R, fakeup_nreqs(R.up) == 1 && fakeup_req_at(R.up, 0)->body_len == SENT);
	rig_client_close(c, true);
	RIG_WAIT(&R, fakeup_req_at(R.up, 0)->peer_closed);
	CU_ASSERT_EQUAL(fakeup_req_at(R.up, 0)->body_len, SENT); /* never completed */
	CU_ASSERT_EQUAL(fakeup_req_at(R.up, 0)->status, 0);      /* nothing was answered */
	CU_ASSERT_EQUAL(fakeup_count(R.up, "PUT"), 1);
	rig_stop(&R);
}

/* GETs: the body ends with the connection (no Content-Length); *ud: stall at that
 * offset (< 0: no stall). */
static void hook_no_length(fakeup *f, const fakeup_req *q, fakeup_resp *r, void *ud)
{
	(void)f;
	if (strcmp(q->method, "GET") != 0)
		return;
	r->no_length = true;
	if (*(int64_t *)ud >= 0) {
		r->fault = FAKEUP_STALL;
		r->at = *(int64_t *)ud;
	}
}

static void test_close_delimited_body_relayed_chunked(void)
{
	CU_ASSERT_TRUE_FATAL(start(NULL));
	int64_t at = -1;
	fakeup_hook_set(R.up, hook_no_length, &at);
	rig_resp p;
	rig_client *c = get("GET", OBJ_PATH, NULL, &p);
	CU_ASSERT_EQUAL(p.status, 200);
	CU_ASSERT_TRUE(p.chunked && p.complete);
	CU_ASSERT_TRUE(p.body_len == OBJ_LEN && memcmp(p.body, obj, OBJ_LEN) == 0);
	CU_ASSERT_FALSE(c->ended); /* the client's connection is kept */
	rig_stop(&R);
}

static void test_close_delimited_body_reset_cuts(void)
{
	CU_ASSERT_TRUE_FATAL(start(NULL));
	int64_t at = 300000;
	fakeup_hook_set(R.up, hook_no_length, &at);
	rig_client *c = rig_client_new(&R);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	rig_request(c, "GET", OBJ_PATH, NULL, NULL, 0, true);
	rig_resp p;
	RIG_WAIT(&R, (rig_resp_get(c, &p), p.body_len > 0) && fakeup_stalled(R.up) == 1);
	CU_ASSERT_EQUAL(fakeup_release(R.up, FAKEUP_RESET), 1);
	RIG_WAIT(&R, c->ended);
	rig_resp_get(c, &p);
	CU_ASSERT_TRUE(p.chunked);
	CU_ASSERT_FALSE(p.complete); /* no last chunk: the client sees the truncation */
	CU_ASSERT_TRUE(p.body_len <= (size_t)at && memcmp(p.body, obj, p.body_len) == 0);
	rig_stop(&R);
}

/* GETs: a pause of 300 ms after 100000 bytes, then the rest. */
static void hook_pause(fakeup *f, const fakeup_req *q, fakeup_resp *r, void *ud)
{
	(void)f;
	(void)ud;
	if (strcmp(q->method, "GET") != 0)
		return;
	r->fault = FAKEUP_STALL;
	r->at = 100000;
	r->stall_ms = 300;
}

static void test_slow_upstream_within_timeout(void)
{
	rig_opts o = {.upstream_timeout_ms = 1000};
	CU_ASSERT_TRUE_FATAL(start(&o));
	fakeup_hook_set(R.up, hook_pause, NULL);
	rig_resp p;
	get("GET", OBJ_PATH, NULL, &p);
	CU_ASSERT_EQUAL(p.status, 200);
	CU_ASSERT_TRUE(p.complete && p.body_len == OBJ_LEN && memcmp(p.body, obj, OBJ_LEN) == 0);
	CU_ASSERT_TRUE(fakeup_req_at(R.up, 0)->done);
	CU_ASSERT_EQUAL(rig_metric("lota_upstream_errors_total{kind=\"timeout\"}"), 0);
	rig_stop(&R);
}

/* Bytes after a framed body (a whole forged response): never the next answer. */
static const char forged[] = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil";

static void hook_after(fakeup *f, const fakeup_req *q, fakeup_resp *r, void *ud)
{
	(void)f;
	(void)ud;
	if (!strcmp(q->target, "/bkt/small")) {
		memset(r, 0, sizeof(*r));
		r->status = 200;
		r->body = "hello";
		r->body_len = r->length = 5;
		r->after = forged;
		r->after_len = sizeof(forged) - 1;
	}
}

/* relay_send coalesce: the body's pieces are queued and leave in larger sends, the
 * bytes and the backpressure are the same: a whole body byte-exact, one through a client
 * that stops reading and reads again, a close-delimited body relayed chunked, and a
 * client that vanishes with bytes queued aborts the upstream transfer. */
static void test_relay_coalesced(void)
{
	static uint8_t large[8u << 20];
	lota_unit_pattern(large, sizeof(large), 9);
	rig_opts o = {.relay_coalesce = true};
	CU_ASSERT_TRUE_FATAL(start(&o));
	fakeup_object(R.up, "/bkt/large", large, sizeof(large), OBJ_ETAG);
	rig_resp p;
	get("GET", "/bkt/large", NULL, &p);
	CU_ASSERT_EQUAL(p.status, 200);
	CU_ASSERT_TRUE(p.complete);
	CU_ASSERT_EQUAL(p.body_len, sizeof(large));
	CU_ASSERT_TRUE(p.body_len == sizeof(large) && memcmp(p.body, large, sizeof(large)) == 0);

	rig_client *c = rig_client_new(&R);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	rig_request(c, "GET", "/bkt/large", NULL, NULL, 0, true);
	rig_client_pause(c, true);
	RIG_WAIT(&R, fakeup_nreqs(R.up) == 2 && fakeup_req_at(R.up, 1)->blocked);
	CU_ASSERT_TRUE(fakeup_req_at(R.up, 1)->sent < sizeof(large));
	rig_client_pause(c, false);
	rig_resp_wait(c, &p);
	CU_ASSERT_TRUE(p.complete);
	CU_ASSERT_TRUE(p.body_len == sizeof(large) && memcmp(p.body, large, sizeof(large)) == 0);

	c = rig_client_new(&R);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	rig_request(c, "GET", "/bkt/large", NULL, NULL, 0, true);
	rig_client_pause(c, true);
	RIG_WAIT(&R, fakeup_nreqs(R.up) == 3 && fakeup_req_at(R.up, 2)->blocked);
	rig_client_close(c, true);
	RIG_WAIT(&R, fakeup_req_at(R.up, 2)->peer_closed);
	CU_ASSERT_FALSE(fakeup_req_at(R.up, 2)->done);
	RIG_WAIT(&R, rig_metric("lota_requests_total{op=\"get_object\",status=\"4xx\"}") == 1);

	int64_t at = -1;
	fakeup_hook_set(R.up, hook_no_length, &at);
	c = get("GET", OBJ_PATH, NULL, &p);
	CU_ASSERT_EQUAL(p.status, 200);
	CU_ASSERT_TRUE(p.chunked && p.complete);
	CU_ASSERT_TRUE(p.body_len == OBJ_LEN && memcmp(p.body, obj, OBJ_LEN) == 0);
	CU_ASSERT_FALSE(c->ended);
	rig_stop(&R);
}

static void test_bytes_after_response(void)
{
	CU_ASSERT_TRUE_FATAL(start(NULL));
	fakeup_hook_set(R.up, hook_after, NULL);
	for (int i = 0; i < 3; i++) {
		rig_resp p;
		get("GET", "/bkt/small", NULL, &p);
		CU_ASSERT_EQUAL(p.status, 200);
		CU_ASSERT_TRUE(p.complete && p.body_len == 5 && memcmp(p.body, "hello", 5) == 0);
		get("GET", OBJ_PATH, NULL, &p);
		CU_ASSERT_EQUAL(p.status, 200);
		CU_ASSERT_TRUE(p.complete && p.body_len == OBJ_LEN &&
		               memcmp(p.body, obj, OBJ_LEN) == 0);
	}
	CU_ASSERT_EQUAL(fakeup_count(R.up, "GET"), 6);
	assert_all_signed();
	rig_stop(&R);
}

int main(void)
{
	lota_log_set_level(LOTA_LOG_ERROR);
	lota_unit_pattern(obj, OBJ_LEN, 7);
	CU_TestInfo tests[] = {
	    {"upstream 5xx relayed verbatim, not retried", test_5xx_relayed_verbatim},
	    {"reset/close before the head: 502 after the retries", test_reset_before_head_retried},
	    {"reset before the head of a PUT: one attempt", test_reset_before_head_put_not_retried},
	    {"upstream refusing connections: 503", test_unreachable_503},
	    {"reset/close mid-body: the client's connection is cut",
	     test_reset_mid_body_cuts_client},
	    {"slow upstream before the head: 504", test_slow_upstream_504},
	    {"slow upstream after the head: connection cut", test_slow_upstream_after_head_cuts},
	    {"slow upstream within upstream_timeout: complete", test_slow_upstream_within_timeout},
	    {"client vanishes mid-body: upstream transfer aborted", test_client_vanishes_mid_body},
	    {"client stops reading, then vanishes: upstream transfer aborted",
	     test_client_stops_reading_then_vanishes},
	    {"client vanishes mid-upload: upload aborted", test_client_vanishes_mid_upload},
	    {"relay_send coalesce: the same bytes and backpressure", test_relay_coalesced},
	    {"body delimited by close: relayed chunked", test_close_delimited_body_relayed_chunked},
	    {"body delimited by close, reset mid-body: no last chunk",
	     test_close_delimited_body_reset_cuts},
	    {"bytes after a response: never the next answer", test_bytes_after_response},
	    CU_TEST_INFO_NULL,
	};
	return lota_unit_run("daemon_proxy", tests);
}
