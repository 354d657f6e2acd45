/*
 * test_daemon_upstream.c - the upstream connection pool's reuse rule (daemon/net/upstream.h),
 * with lotad's loop, multi handle and curl against the fake upstream (fakeup.h) on the
 * same loop, scripted to misbehave on purpose: it sends the bytes that must never be
 * read as the next request's answer only once the transfer before is over, so that they
 * wait on the pooled connection as they do when radosgw answers a HEAD with a 400 and a
 * body.
 *
 * Checked: a HEAD answered 400 with a body, 403 or 404 closes its connection, a HEAD
 * answered 200 or 304 and a GET answered 404 with a framed body keep it (negative tests:
 * the rule does not close more than it must); bytes sent after a framed body are found
 * before the next request goes out on that connection, which is then sent on a fresh one;
 * a transfer removed half-way closes its connection. The fake counts the connections it
 * accepted, which is how a test sees whether one was reused.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lota/log.h>

#include "fakeup.h"
#include "net/loop.h"
#include "net/upstream.h"
#include "util/clock.h"

#include "unit.h"

#define DEADLINE_MS 10000

/* -------------------------------------------------------------- the server */

static fakeup *F;
static lotad_loop *g_loop;
static lotad_upstream *g_up;

/* What radosgw sends after the head of its 400 to "HEAD /bucket/x%00" (132 bytes). */
static const char rgw_400_body[] =
    "{\"Code\":\"InvalidRequest\",\"Message\":\"\",\"RequestId\":\"tx00000a1b2c3d4e5f60718-00"
    "6b0d53fe-100c-default\",\"HostId\":\"100c-default-default\"}";
/* A whole forged response nobody asked for. */
static const char evil[] = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil";
static char long_body[100000];

static void answer(fakeup_resp *r, int status, const char *body, size_t len)
{
	memset(r, 0, sizeof(*r));
	r->status = status;
	r->body = body;
	r->body_len = r->length = len;
}

/* The answers, by path. Bytes that must never be read as the next request's answer are
 * held back (a stall before them) until the client's transfer is over: the test then
 * releases them and waits until the client's kernel has them (fakeup_flushed), so they
 * wait on the pooled connection as they do when radosgw answers a HEAD with a 400 and a
 * body. */
static void hook(fakeup *f, const fakeup_req *q, fakeup_resp *r, void *ud)
{
	bool head = !strcmp(q->method, "HEAD");
	(void)f;
	(void)ud;
	if (!strcmp(q->target, "/ok")) {
		answer(r, 200, "ok", 2);
	} else if (!strcmp(q->target, "/x%00") && head) {
		answer(r, 400, NULL, 0);
		r->length = sizeof(rgw_400_body) - 1;
		snprintf(r->extra, sizeof(r->extra),
		         "Content-Type: application/json\r\nConnection: Keep-Alive\r\n");
		r->fault = FAKEUP_STALL;
		r->at = 0;
		r->after = rgw_400_body;
		r->after_len = sizeof(rgw_400_body) - 1;
	} else if (!strcmp(q->target, "/denied")) {
		answer(r, 403, "", 0);
	} else if (!strcmp(q->target, "/missing")) {
		if (head)
			answer(r, 404, "", 0);
		else
			answer(r, 404, "NoSuchKey", 9);
	} else if (!strcmp(q->target, "/object")) {
		answer(r, 200, NULL, 0);
		r->length = 1000;
		snprintf(r->etag, sizeof(r->etag), "\"e\"");
	} else if (!strcmp(q->target, "/same")) {
		answer(r, 304, NULL, 0);
		snprintf(r->etag, sizeof(r->etag), "\"e\"");
	} else if (!strcmp(q->target, "/excess")) {
		/* a framed body, then a whole forged response */
		answer(r, 200, "hello", 5);
		r->fault = FAKEUP_STALL;
		r->at = 5;
		r->after = evil;
		r->after_len = sizeof(evil) - 1;
	} else if (!strcmp(q->target, "/long")) {
		/* 1000 of 100000 bytes, the rest once the client gave up */
		answer(r, 200, long_body, sizeof(long_body));
		r->fault = FAKEUP_STALL;
		r->at = 1000;
	} else {
		answer(r, 500, "", 0);
	}
}

/* The client's transfer is over: what was held back goes, and is in the client's kernel
 * (or its connection is gone) before the test goes on. */
static bool release_late(void)
{
	uint64_t end = lotad_mono_ms() + DEADLINE_MS;
	fakeup_release(F, FAKEUP_NONE);
	while (!fakeup_flushed(F) && lotad_mono_ms() < end)
		(void)lotad_loop_run_once(g_loop, 10);
	return fakeup_flushed(F);
}

/* -------------------------------------------------------------- the client */

typedef struct tx {
	lotad_xfer x;
	lotad_loop *loop;
	int status;
	bool finished, stop_on_body;
	CURLcode rc;
	char body[256];
	size_t body_len;
} tx;

static size_t tx_header(char *buf, size_t size, size_t nitems, void *ud)
{
	tx *t = ud;
	size_t n = size * nitems;
	if (n > 9 && memcmp(buf, "HTTP/", 5) == 0)
		t->status = atoi(buf + 9);
	if (n == 2 && buf[0] == '\r')
		lotad_xfer_status(&t->x, t->status); /* as lotad's header callbacks do */
	return n;
}

static size_t tx_body(char *buf, size_t size, size_t nmemb, void *ud)
{
	tx *t = ud;
	size_t n = size * nmemb;
	size_t room = sizeof(t->body) - t->body_len;
	memcpy(t->body + t->body_len, buf, n < room ? n : room);
	t->body_len += n < room ? n : room;
	if (t->stop_on_body)
		lotad_loop_stop(t->loop);
	return n;
}

static void tx_done(lotad_xfer *x, CURLcode rc)
{
	tx *t = (tx *)((char *)x - offsetof(tx, x));
	t->rc = rc;
	t->finished = true;
	lotad_loop_stop(t->loop);
}

static void guard_cb(lotad_timer *tm)
{
	lotad_loop_stop(tm->ud);
}

static bool setup(void)
{
	g_loop = lotad_loop_new();
	g_up = g_loop ? lotad_upstream_new(g_loop) : NULL;
	F = g_up ? fakeup_new(g_loop) : NULL;
	if (F)
		fakeup_hook_set(F, hook, NULL);
	return F != NULL;
}

static void teardown(void)
{
	lotad_upstream_free(g_up);
	fakeup_free(F);
	lotad_loop_free(g_loop);
	F = NULL;
	g_up = NULL;
	g_loop = NULL;
}

/* Run one request until it ends (or, with stop_on_body, until its first body bytes; the
 * transfer is then removed unfinished). */
static void request(tx *t, const char *method, const char *path, bool stop_on_body)
{
	char url[128];
	memset(t, 0, sizeof(*t));
	t->loop = g_loop;
	t->stop_on_body = stop_on_body;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", fakeup_port(F), path);
	CURL *e = curl_easy_init();
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	t->x.easy = e;
	t->x.done = tx_done;
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(e, CURLOPT_PROXY, "");
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, tx_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, t);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, tx_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
	if (!strcmp(method, "HEAD"))
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	lotad_timer guard;
	lotad_timer_init(&guard, guard_cb, g_loop);
	lotad_timer_start(g_loop, &guard, DEADLINE_MS);
	CU_ASSERT_EQUAL(lotad_upstream_add(g_up, &t->x), 0);
	lotad_loop_run(g_loop);
	lotad_timer_stop(g_loop, &guard);
	lotad_upstream_remove(g_up, &t->x);
	curl_easy_cleanup(e);
	t->x.easy = NULL;
}

/* A request that must succeed with status and body. */
static void expect(const char *method, const char *path, int status, const char *body)
{
	tx t;
	request(&t, method, path, false);
	CU_ASSERT_TRUE(t.finished);
	CU_ASSERT_EQUAL(t.rc, CURLE_OK);
	CU_ASSERT_EQUAL(t.status, status);
	CU_ASSERT_EQUAL(t.body_len, strlen(body));
	CU_ASSERT_EQUAL(memcmp(t.body, body, strlen(body)), 0);
	if (t.rc != CURLE_OK || t.status != status || t.body_len != strlen(body))
		fprintf(stderr, "%s %s: %s, status %d, body %.*s\n", method, path,
		        curl_easy_strerror(t.rc), t.status, (int)t.body_len, t.body);
}

/* ------------------------------------------------------------------- tests */

static void test_head_error_with_body(void)
{
	CU_ASSERT_TRUE_FATAL(setup());
	for (int i = 0; i < 3; i++) {
		expect("HEAD", "/x%00", 400, "");
		CU_ASSERT_TRUE(release_late()); /* the 132 bytes are out */
		expect("GET", "/ok", 200, "ok");
	}
	/* each 400 closed its connection; each GET after it opened a new one */
	CU_ASSERT_EQUAL(fakeup_conns(F), 4);
	teardown();
}

static void test_head_errors_close_successes_keep(void)
{
	CU_ASSERT_TRUE_FATAL(setup());
	expect("GET", "/ok", 200, "ok");
	expect("HEAD", "/object", 200, "");
	expect("HEAD", "/same", 304, "");
	expect("GET", "/missing", 404, "NoSuchKey"); /* a GET's error body is framed */
	expect("GET", "/ok", 200, "ok");
	CU_ASSERT_EQUAL(fakeup_conns(F), 1); /* all on one connection */
	expect("HEAD", "/denied", 403, "");
	expect("GET", "/ok", 200, "ok");
	CU_ASSERT_EQUAL(fakeup_conns(F), 2);
	expect("HEAD", "/missing", 404, "");
	expect("GET", "/ok", 200, "ok");
	CU_ASSERT_EQUAL(fakeup_conns(F), 3);
	teardown();
}

static void test_bytes_after_framed_body(void)
{
	CU_ASSERT_TRUE_FATAL(setup());
	for (int i = 0; i < 3; i++) {
		expect("GET", "/excess", 200, "hello");
		CU_ASSERT_TRUE(release_late());  /* the forged response waits */
		expect("GET", "/ok", 200, "ok"); /* never "evil" */
	}
	CU_ASSERT_EQUAL(fakeup_conns(F), 4);
	teardown();
}

static void test_removed_half_way(void)
{
	CU_ASSERT_TRUE_FATAL(setup());
	tx t;
	request(&t, "GET", "/long", true);
	CU_ASSERT_FALSE(t.finished);
	CU_ASSERT_TRUE(t.body_len > 0);
	CU_ASSERT_TRUE(release_late());
	expect("GET", "/ok", 200, "ok");
	expect("GET", "/ok", 200, "ok");
	CU_ASSERT_EQUAL(fakeup_conns(F), 2);
	teardown();
}

int main(void)
{
	lota_log_set_level(LOTA_LOG_ERROR);
	CU_TestInfo tests[] = {
	    {"HEAD 400 with a body: connection closed", test_head_error_with_body},
	    {"HEAD 403/404 close, HEAD 200/304 and GET 404 keep",
	     test_head_errors_close_successes_keep},
	    {"bytes after a framed body: fresh connection", test_bytes_after_framed_body},
	    {"transfer removed half-way: connection closed", test_removed_half_way},
	    CU_TEST_INFO_NULL,
	};
	return lota_unit_run("daemon_upstream", tests);
}
