/*
 * test_daemon_upstream.c - the upstream connection pool's reuse rule (daemon/net/upstream.h),
 * with lotad's loop, multi handle and curl against a small HTTP/1.1 server on 127.0.0.1
 * that misbehaves on purpose: it sends the bytes that must never be read as the next
 * request's answer only once the transfer before is over, so that they wait on the
 * pooled connection as they do when radosgw answers a HEAD with a 400 and a body.
 *
 * Checked: a HEAD answered 400 with a body, 403 or 404 closes its connection, a HEAD
 * answered 200 or 304 and a GET answered 404 with a framed body keep it (negative tests:
 * the rule does not close more than it must); bytes sent after a framed body are found
 * before the next request goes out on that connection, which is then sent on a fresh one;
 * a transfer removed half-way closes its connection. The server counts the connections
 * it accepted, which is how a test sees whether one was reused.
 */
#include <errno.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <lota/log.h>

#include "net/loop.h"
#include "net/upstream.h"
#include "util/clock.h"

#include "unit.h"

#define DEADLINE_MS 10000

/* -------------------------------------------------------------- the server */

static struct {
	int lfd, port;
	pthread_t thr;
	atomic_int conns;     /* connections accepted */
	atomic_int xfer_over; /* the client's transfer ended: the late bytes may go */
	atomic_int late_sent; /* they were written (or the connection was gone) */
	atomic_int quit;
} S;

static uint64_t ms_now(void)
{
	return lotad_mono_ms();
}

/* Wait for a flag the other thread sets, at most DEADLINE_MS. */
static bool wait_flag(atomic_int *f)
{
	uint64_t end = ms_now() + DEADLINE_MS;
	while (!atomic_load(f)) {
		if (ms_now() > end || atomic_load(&S.quit))
			return false;
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
	return true;
}

static void send_all(int fd, const char *s, size_t n)
{
	while (n) {
		ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
		if (w <= 0)
			return; /* the client closed it: fine for the late bytes */
		s += w;
		n -= (size_t)w;
	}
}

static void send_str(int fd, const char *s)
{
	send_all(fd, s, strlen(s));
}

/* What radosgw sends after the head of its 400 to "HEAD /bucket/x%00" (132 bytes). */
static const char rgw_400_body[] =
    "{\"Code\":\"InvalidRequest\",\"Message\":\"\",\"RequestId\":\"tx00000a1b2c3d4e5f60718-00"
    "6b0d53fe-100c-default\",\"HostId\":\"100c-default-default\"}";

/* Until the client's kernel has acknowledged every byte sent on fd (they wait in its
 * receive queue then), or the connection is gone. */
static void wait_acked(int fd)
{
	uint64_t end = ms_now() + DEADLINE_MS;
	int unacked = 0;
	while (ioctl(fd, SIOCOUTQ, &unacked) == 0 && unacked > 0 && ms_now() < end) {
		struct pollfd p = {.fd = fd};
		if (poll(&p, 1, 0) > 0 && (p.revents & (POLLERR | POLLHUP)))
			return; /* reset: the client had closed it */
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
}

/* Once the client's transfer is over, bytes it must never read as an answer. */
static void late(int fd, const char *bytes, size_t n)
{
	if (wait_flag(&S.xfer_over)) {
		send_all(fd, bytes, n);
		wait_acked(fd);
	}
	atomic_store(&S.late_sent, 1);
}

/* Answer one request head. */
static void answer(int fd, const char *method, const char *path)
{
	bool head = strcmp(method, "HEAD") == 0;
	atomic_store(&S.xfer_over, 0);
	atomic_store(&S.late_sent, 0);
	if (!strcmp(path, "/ok")) {
		send_str(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
	} else if (!strcmp(path, "/x%00") && head) {
		send_str(fd, "HTTP/1.1 400 Bad Request\r\nContent-Length: 132\r\n"
		             "Content-Type: application/json\r\nConnection: Keep-Alive\r\n\r\n");
		late(fd, rgw_400_body, sizeof(rgw_400_body) - 1);
	} else if (!strcmp(path, "/denied")) {
		send_str(fd, "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
	} else if (!strcmp(path, "/missing")) {
		if (head)
			send_str(fd, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
		else
			send_str(fd,
			         "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nNoSuchKey");
	} else if (!strcmp(path, "/object")) {
		send_str(fd, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nETag: \"e\"\r\n\r\n");
	} else if (!strcmp(path, "/same")) {
		send_str(fd, "HTTP/1.1 304 Not Modified\r\nETag: \"e\"\r\n\r\n");
	} else if (!strcmp(path, "/excess")) {
		/* a framed body, then a whole forged response nobody asked for */
		send_str(fd, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
		static const char evil[] = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil";
		late(fd, evil, sizeof(evil) - 1);
	} else if (!strcmp(path, "/long")) {
		/* 1000 of 100000 bytes, the rest once the client gave up */
		static char part[1000];
		memset(part, 'a', sizeof(part));
		send_str(fd, "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n");
		send_all(fd, part, sizeof(part));
		if (wait_flag(&S.xfer_over)) {
			for (int i = 0; i < 99; i++)
				send_all(fd, part, sizeof(part));
			wait_acked(fd);
		}
		atomic_store(&S.late_sent, 1);
	} else {
		send_str(fd, "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n");
	}
}

/* Requests on one connection until the client closes it (request heads only). */
static void serve(int fd)
{
	char buf[8192];
	size_t len = 0;
	for (;;) {
		char *end = memmem(buf, len, "\r\n\r\n", 4);
		if (end) {
			char method[16] = "", path[256] = "";
			if (sscanf(buf, "%15s %255s", method, path) != 2)
				return;
			answer(fd, method, path);
			size_t used = (size_t)(end + 4 - buf);
			memmove(buf, buf + used, len - used);
			len -= used;
			continue;
		}
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int pr = poll(&p, 1, 100);
		if (atomic_load(&S.quit))
			return;
		if (pr <= 0)
			continue;
		ssize_t n = recv(fd, buf + len, sizeof(buf) - len, 0);
		if (n <= 0)
			return;
		len += (size_t)n;
		if (len == sizeof(buf))
			return;
	}
}

static void *server_main(void *arg)
{
	(void)arg;
	while (!atomic_load(&S.quit)) {
		struct pollfd p = {.fd = S.lfd, .events = POLLIN};
		if (poll(&p, 1, 100) <= 0)
			continue;
		int fd = accept(S.lfd, NULL, NULL);
		if (fd < 0)
			continue;
		atomic_fetch_add(&S.conns, 1);
		serve(fd);
		close(fd);
	}
	return NULL;
}

static bool server_start(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	S.lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (S.lfd < 0 || bind(S.lfd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(S.lfd, 16) < 0 || getsockname(S.lfd, (struct sockaddr *)&a, &al) < 0)
		return false;
	S.port = ntohs(a.sin_port);
	atomic_store(&S.conns, 0);
	atomic_store(&S.quit, 0);
	return pthread_create(&S.thr, NULL, server_main, NULL) == 0;
}

static void server_stop(void)
{
	atomic_store(&S.quit, 1);
	pthread_join(S.thr, NULL);
	close(S.lfd);
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

static lotad_loop *g_loop;
static lotad_upstream *g_up;

static bool setup(void)
{
	memset(&S, 0, sizeof(S));
	if (!server_start())
		return false;
	g_loop = lotad_loop_new();
	g_up = g_loop ? lotad_upstream_new(g_loop) : NULL;
	return g_up != NULL;
}

static void teardown(void)
{
	lotad_upstream_free(g_up);
	lotad_loop_free(g_loop);
	g_up = NULL;
	g_loop = NULL;
	server_stop();
}

/* Run one request until it ends (or, with stop_on_body, until its first body bytes; the
 * transfer is then removed unfinished). */
static void request(tx *t, const char *method, const char *path, bool stop_on_body)
{
	char url[128];
	memset(t, 0, sizeof(*t));
	t->loop = g_loop;
	t->stop_on_body = stop_on_body;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", S.port, path);
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
	atomic_store(&S.xfer_over, 1); /* finished, or removed by us */
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
		CU_ASSERT_TRUE(wait_flag(&S.late_sent)); /* the 132 bytes are out */
		expect("GET", "/ok", 200, "ok");
	}
	/* each 400 closed its connection; each GET after it opened a new one */
	CU_ASSERT_EQUAL(atomic_load(&S.conns), 4);
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
	CU_ASSERT_EQUAL(atomic_load(&S.conns), 1); /* all on one connection */
	expect("HEAD", "/denied", 403, "");
	expect("GET", "/ok", 200, "ok");
	CU_ASSERT_EQUAL(atomic_load(&S.conns), 2);
	expect("HEAD", "/missing", 404, "");
	expect("GET", "/ok", 200, "ok");
	CU_ASSERT_EQUAL(atomic_load(&S.conns), 3);
	teardown();
}

static void test_bytes_after_framed_body(void)
{
	CU_ASSERT_TRUE_FATAL(setup());
	for (int i = 0; i < 3; i++) {
		expect("GET", "/excess", 200, "hello");
		CU_ASSERT_TRUE(wait_flag(&S.late_sent)); /* the forged response waits */
		expect("GET", "/ok", 200, "ok");         /* never "evil" */
	}
	CU_ASSERT_EQUAL(atomic_load(&S.conns), 4);
	teardown();
}

static void test_removed_half_way(void)
{
	CU_ASSERT_TRUE_FATAL(setup());
	tx t;
	request(&t, "GET", "/long", true);
	CU_ASSERT_FALSE(t.finished);
	CU_ASSERT_TRUE(t.body_len > 0);
	CU_ASSERT_TRUE(wait_flag(&S.late_sent));
	expect("GET", "/ok", 200, "ok");
	expect("GET", "/ok", 200, "ok");
	CU_ASSERT_EQUAL(atomic_load(&S.conns), 2);
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
