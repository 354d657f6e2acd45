/*
 * test_daemon_util.c - lotad's one-of-a-kind helpers (daemon/util/): the host:port
 * parser, the hop-by-hop and presign-parameter names, the intrusive list and the
 * monotonic clock.
 */
#include <errno.h>
#include <string.h>

#include "util/clock.h"
#include "util/hostport.h"
#include "util/list.h"
#include "util/names.h"

#include "unit.h"

static lota_str S(const char *s)
{
	return (lota_str){s, strlen(s)};
}

static bool is(lota_str v, const char *s)
{
	return v.len == strlen(s) && memcmp(v.ptr, s, v.len) == 0;
}

static void test_hostport(void)
{
	struct {
		const char *in, *host;
		long port;
	} ok[] = {
	    {"s3.example", "s3.example", -1}, {"s3.example:7480", "s3.example", 7480},
	    {"127.0.0.1:0", "127.0.0.1", 0},  {"[::1]", "[::1]", -1},
	    {"[::1]:443", "[::1]", 443},      {":8080", "", 8080},
	    {"h:65535", "h", 65535},          {"", "", -1},
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		lota_str h;
		long port = 99;
		CU_ASSERT_EQUAL(lotad_hostport_split(S(ok[i].in), &h, &port), 0);
		CU_ASSERT(is(h, ok[i].host));
		CU_ASSERT_EQUAL(port, ok[i].port);
	}
	/* malformed: the host is still given (callers that only strip a port use it) */
	struct {
		const char *in, *host;
	} bad[] = {
	    {"h:", "h"},         {"h:65536", "h"}, {"h:123456", "h"}, {"h:8x", "h"},
	    {"h:+80", "h"},      {"a:b:80", "a"},  {"[::1", "[::1"},  {"[::1]x", "[::1]"},
	    {"[::1]:", "[::1]"}, {"::1", ""},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		lota_str h;
		long port = 99;
		CU_ASSERT_EQUAL(lotad_hostport_split(S(bad[i].in), &h, &port), -EINVAL);
		CU_ASSERT(is(h, bad[i].host));
		CU_ASSERT_EQUAL(port, -1);
	}
	CU_ASSERT(is(lotad_host_unbracket(S("[::1]")), "::1"));
	CU_ASSERT(is(lotad_host_unbracket(S("h")), "h"));
	CU_ASSERT(is(lotad_host_unbracket(S("[")), "["));
}

static void test_names(void)
{
	const char *hop[] = {"Connection",       "keep-alive",         "TE",
	                     "Trailer",          "Transfer-Encoding",  "Upgrade",
	                     "Proxy-Connection", "proxy-authorization"};
	const char *not_hop[] = {"Host",  "Content-Length", "ETag", "Tea",
	                         "proxy", "x-amz-date",     ""};
	for (size_t i = 0; i < sizeof(hop) / sizeof(hop[0]); i++)
		CU_ASSERT(lotad_hop_by_hop(S(hop[i])));
	for (size_t i = 0; i < sizeof(not_hop) / sizeof(not_hop[0]); i++)
		CU_ASSERT_FALSE(lotad_hop_by_hop(S(not_hop[i])));

	const char *presign[] = {"X-Amz-Algorithm",     "x-amz-credential",    "X-AMZ-DATE",
	                         "X-Amz-Expires",       "X-Amz-SignedHeaders", "X-Amz-Signature",
	                         "x-amz-security-token"};
	const char *other[] = {"X-Amz-Content-Sha256",
	                       "X-Amz-Meta",
	                       "X-Amz-Signaturex",
	                       "x-amz-",
	                       "versionId",
	                       "X-Amz-Dat",
	                       ""};
	for (size_t i = 0; i < sizeof(presign) / sizeof(presign[0]); i++)
		CU_ASSERT(lotad_presign_param(S(presign[i])));
	for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++)
		CU_ASSERT_FALSE(lotad_presign_param(S(other[i])));
}

typedef struct item {
	int v;
	lotad_list node;
} item;

static int values(lotad_list *head, int *out, int cap, bool backwards)
{
	int n = 0;
	for (lotad_list *it = backwards ? head->prev : head->next; it != head;
	     it = backwards ? it->prev : it->next)
		if (n < cap)
			out[n++] = lotad_list_entry(it, item, node)->v;
	return n;
}

static void test_list(void)
{
	lotad_list head;
	item a = {1, {0}}, b = {2, {0}}, c = {3, {0}};
	int v[4];
	lotad_list_init(&head);
	CU_ASSERT(lotad_list_empty(&head));
	CU_ASSERT_FALSE(lotad_list_linked(&a.node));
	lotad_list_remove(&a.node); /* not linked: nothing */
	lotad_list_insert_head(&head, &b.node);
	lotad_list_insert_head(&head, &a.node);
	lotad_list_insert_tail(&head, &c.node);
	CU_ASSERT_FALSE(lotad_list_empty(&head));
	CU_ASSERT(lotad_list_linked(&b.node));
	CU_ASSERT_EQUAL(values(&head, v, 4, false), 3);
	CU_ASSERT(v[0] == 1 && v[1] == 2 && v[2] == 3);
	CU_ASSERT_EQUAL(values(&head, v, 4, true), 3);
	CU_ASSERT(v[0] == 3 && v[1] == 2 && v[2] == 1);
	lotad_list_remove(&b.node);
	lotad_list_remove(&b.node); /* twice: harmless */
	CU_ASSERT_FALSE(lotad_list_linked(&b.node));
	CU_ASSERT_EQUAL(values(&head, v, 4, false), 2);
	CU_ASSERT(v[0] == 1 && v[1] == 3);
	lotad_list_remove(&a.node);
	lotad_list_remove(&c.node);
	CU_ASSERT(lotad_list_empty(&head));
}

static void test_clock(void)
{
	uint64_t us = lotad_mono_us(), ms = lotad_mono_ms();
	CU_ASSERT(ms >= us / 1000);
	CU_ASSERT(lotad_mono_us() >= us);
	CU_ASSERT(lotad_mono_ms() - ms < 60000);
}

int main(void)
{
	CU_TestInfo tests[] = {
	    {"host:port", test_hostport},
	    {"hop-by-hop and presign names", test_names},
	    {"intrusive list", test_list},
	    {"monotonic clock", test_clock},
	    CU_TEST_INFO_NULL,
	};
	return lota_unit_run("daemon_util", tests);
}
