/*
 * test_daemon_region.c - cross-region reads (daemon/region): the region_upstream value's
 * parser and its refusals, the table of regions (each with its own upstream to send and
 * sign for), the per-bucket home table (learn, TTL, forget, slot reuse) and the probe's
 * decision from the regions' answers; the probe itself against two in-process fake
 * upstreams (fakeup.c) as the regions: homes learned from 403/404, from an
 * x-amz-bucket-region header, a region that does not answer, a bucket nobody holds, a
 * bucket name the probe refuses, and a probe cancelled before its end.
 */
#include <errno.h>
#include <string.h>

#include "fakeup.h"
#include "net/loop.h"
#include "region/region.h"
#include "s3/auth.h"
#include "unit.h"
#include "util/clock.h"

static void test_spec_parse(void)
{
	char name[LOTAD_REGION_NAME_MAX + 1], url[256], err[256];
	CU_ASSERT_EQUAL(lotad_region_spec_parse("eu-west-1=http://10.0.0.1:7480", name, url,
	                                        sizeof(url), err, sizeof(err)),
	                0);
	CU_ASSERT_STRING_EQUAL(name, "eu-west-1");
	CU_ASSERT_STRING_EQUAL(url, "http://10.0.0.1:7480");
	CU_ASSERT_EQUAL(lotad_region_spec_parse("r2=https://s3.example/", name, url, sizeof(url),
	                                        err, sizeof(err)),
	                0);
	CU_ASSERT_STRING_EQUAL(url, "https://s3.example/");

	static const struct {
		const char *spec, *why;
	} bad[] = {
	    {"eu-west-1", "REGION=URL"},
	    {"=http://h", "region must be"},
	    {"EU=http://h", "region must be"},
	    {"eu west=http://h", "region must be"},
	    {"eu/1=http://h", "region must be"},
	    {"r=ftp://h", "http:// or https://"},
	    {"r=h:80", "http:// or https://"},
	    {"r=http://", "no path"},
	    {"r=http://h/prefix", "no path"},
	    {"r=http://h?x", "no path"},
	    {"r=http://user@h", "no path"},
	    {"r=http://h:1/ ", "no path"},
	    {"r=http://h:99999", "from 1 to 65535"},
	    {"r=http://h:0", "from 1 to 65535"},
	    {"r=http://h:x", "from 1 to 65535"},
	    {"r=http://:80", "from 1 to 65535"},
	    {"r=http://[::1", "from 1 to 65535"},
	    {"0123456789012345678901234567890123456789012345678901234567890123=http://h",
	     "region must be"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		int rc =
		    lotad_region_spec_parse(bad[i].spec, name, url, sizeof(url), err, sizeof(err));
		CU_ASSERT_EQUAL(rc, -EINVAL);
		if (!strstr(err, bad[i].why))
			fprintf(stderr, "%s: %s\n", bad[i].spec, err);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, bad[i].why));
	}
	/* a URL longer than the caller's buffer */
	CU_ASSERT_EQUAL(
	    lotad_region_spec_parse("r=http://hostname.example", name, url, 10, err, sizeof(err)),
	    -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "too long"));
}

static lotad_settings local_settings(void)
{
	lotad_settings s;
	memset(&s, 0, sizeof(s));
	snprintf(s.upstream_url, sizeof(s.upstream_url), "http://127.0.0.1:7480");
	snprintf(s.upstream_hostport, sizeof(s.upstream_hostport), "127.0.0.1:7480");
	s.region = "lota-local";
	s.auth.region = s.region;
	s.auth.upstream_host = s.upstream_hostport;
	return s;
}

static void test_table(void)
{
	lotad_settings s = local_settings();
	lotad_regions *t = lotad_regions_new(&s, "lota-local", 1000);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	lotad_settings up = s;
	snprintf(up.upstream_url, sizeof(up.upstream_url), "http://198.51.100.2:7480");
	snprintf(up.upstream_hostport, sizeof(up.upstream_hostport), "198.51.100.2:7480");
	CU_ASSERT_EQUAL(lotad_regions_add(t, "lota-remote", &up), 0);
	CU_ASSERT_EQUAL(lotad_regions_add(t, "lota-remote", &up), -EEXIST);
	CU_ASSERT_EQUAL(lotad_regions_add(t, "lota-local", &up), -EEXIST);
	CU_ASSERT_EQUAL(lotad_regions_count(t), 2);
	CU_ASSERT_STRING_EQUAL(lotad_regions_name(t, 1), "lota-remote");
	CU_ASSERT_STRING_EQUAL(lotad_regions_name(t, 7), "");
	CU_ASSERT_PTR_NULL(lotad_regions_settings(t, 2));
	/* the remote region's copy sends to, signs and presigns for its own endpoint */
	const lotad_settings *r = lotad_regions_settings(t, 1);
	CU_ASSERT_STRING_EQUAL(r->auth.upstream_host, "198.51.100.2:7480");
	CU_ASSERT_STRING_EQUAL(r->auth.region, "lota-remote");
	CU_ASSERT_STRING_EQUAL(r->region, "lota-remote");
	CU_ASSERT_STRING_EQUAL(r->upstream_url, "http://198.51.100.2:7480");
	CU_ASSERT_EQUAL(lotad_regions_find(t, LOTA_STR_LIT("LOTA-REMOTE")), 1);
	CU_ASSERT_EQUAL(lotad_regions_find(t, LOTA_STR_LIT("lota-remot")), -1);
	CU_ASSERT_EQUAL(lotad_regions_find(t, LOTA_STR_LIT("")), -1);

	for (int i = 2; i < LOTAD_MAX_REGIONS; i++) {
		char nm[16];
		snprintf(nm, sizeof(nm), "r%d", i);
		CU_ASSERT_EQUAL(lotad_regions_add(t, nm, &up), 0);
	}
	CU_ASSERT_EQUAL(lotad_regions_add(t, "one-too-many", &up), -ENOSPC);
	lotad_regions_free(t);
	lotad_regions_free(NULL);
}

static void test_homes(void)
{
	lotad_settings s = local_settings();
	lotad_regions *t = lotad_regions_new(&s, "lota-local", 1000);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_EQUAL(lotad_regions_add(t, "lota-remote", &s), 0);
	lota_str b = LOTA_STR_LIT("data"), other = LOTA_STR_LIT("dat");
	CU_ASSERT_EQUAL(lotad_regions_lookup(t, b, 0), -1);
	lotad_regions_learn(t, b, 1, 5000);
	CU_ASSERT_EQUAL(lotad_regions_lookup(t, b, 5000), 1);
	CU_ASSERT_EQUAL(lotad_regions_lookup(t, b, 5999), 1);
	CU_ASSERT_EQUAL(lotad_regions_lookup(t, b, 6000), -1); /* the TTL ran out */
	CU_ASSERT_EQUAL(lotad_regions_lookup(t, other, 5000), -1);
	lotad_regions_learn(t, b, 0, 6000);
	CU_ASSERT_EQUAL(lotad_regions_lookup(t, b, 6001), 0);
	lotad_regions_forget(t, other); /* not there: nothing changes */
	CU_ASSERT_EQUAL(lotad_regions_lookup(t, b, 6001), 0);
	lotad_regions_forget(t, b);
	CU_ASSERT_EQUAL(lotad_regions_lookup(t, b, 6001), -1);
	/* refused: a region not in the table, an empty or overlong bucket */
	lotad_regions_learn(t, b, 2, 6000);
	CU_ASSERT_EQUAL(lotad_regions_lookup(t, b, 6001), -1);
	char longb[300];
	memset(longb, 'a', sizeof(longb));
	lotad_regions_learn(t, (lota_str){longb, sizeof(longb)}, 1, 6000);
	CU_ASSERT_EQUAL(lotad_regions_lookup(t, (lota_str){longb, sizeof(longb)}, 6001), -1);
	lotad_regions_learn(t, (lota_str){"", 0}, 1, 6000);
	CU_ASSERT_EQUAL(lotad_regions_lookup(t, (lota_str){"", 0}, 6001), -1);
	/* many buckets: each lookup gives the bucket's own home or none, never another's */
	for (int i = 0; i < 20000; i++) {
		char nm[32];
		int n = snprintf(nm, sizeof(nm), "bucket-%d", i);
		lotad_regions_learn(t, (lota_str){nm, (size_t)n}, (size_t)(i % 2), 10000);
	}
	int found = 0;
	for (int i = 0; i < 20000; i++) {
		char nm[32];
		int n = snprintf(nm, sizeof(nm), "bucket-%d", i);
		int h = lotad_regions_lookup(t, (lota_str){nm, (size_t)n}, 10001);
		CU_ASSERT(h == -1 || h == i % 2);
		found += h >= 0;
	}
	CU_ASSERT(found > 0);
	CU_ASSERT_EQUAL(lotad_regions_lookup(NULL, b, 0), -1);
	lotad_regions_free(t);
}

static void test_decide(void)
{
	/* the local region first: the first that is not 404 holds the bucket */
	int st1[] = {404, 403}, nm1[] = {-1, -1};
	CU_ASSERT_EQUAL(lotad_regions__decide(st1, nm1, 2), 1);
	int st2[] = {200, 403}, nm2[] = {-1, -1};
	CU_ASSERT_EQUAL(lotad_regions__decide(st2, nm2, 2), 0);
	/* a region named by x-amz-bucket-region wins, whoever names it */
	int st3[] = {301, 404, 404}, nm3[] = {2, -1, -1};
	CU_ASSERT_EQUAL(lotad_regions__decide(st3, nm3, 3), 2);
	/* nobody has it; failures and 5xx say nothing */
	int st4[] = {404, 0, 503}, nm4[] = {-1, -1, -1};
	CU_ASSERT_EQUAL(lotad_regions__decide(st4, nm4, 3), -1);
	/* a named index out of the table is ignored; so is a name on no answer */
	int st5[] = {404, 403}, nm5[] = {5, -1};
	CU_ASSERT_EQUAL(lotad_regions__decide(st5, nm5, 2), 1);
	int st6[] = {0, 404}, nm6[] = {1, -1};
	CU_ASSERT_EQUAL(lotad_regions__decide(st6, nm6, 2), -1);
	CU_ASSERT_EQUAL(lotad_regions__decide(st6, nm6, 0), -1);
}

/* Which Host names a region's endpoint (redirected requests go there as they are). */
static void test_host_is(void)
{
	CU_ASSERT(lotad_auth_host_is("198.51.100.2:7480", 80, LOTA_STR_LIT("198.51.100.2:7480")));
	CU_ASSERT(lotad_auth_host_is("s3.eu.example", 443, LOTA_STR_LIT("S3.EU.example")));
	CU_ASSERT(lotad_auth_host_is("s3.eu.example", 443, LOTA_STR_LIT("s3.eu.example:443")));
	CU_ASSERT(lotad_auth_host_is("s3.eu.example", 443, LOTA_STR_LIT("data.s3.eu.example")));
	CU_ASSERT(lotad_auth_host_is("s3.eu.example:80", 80, LOTA_STR_LIT("s3.eu.example")));
	CU_ASSERT(!lotad_auth_host_is("198.51.100.2:7480", 80, LOTA_STR_LIT("198.51.100.2:7481")));
	CU_ASSERT(!lotad_auth_host_is("198.51.100.2:7480", 80, LOTA_STR_LIT("198.51.100.2")));
	CU_ASSERT(!lotad_auth_host_is("s3.eu.example", 443, LOTA_STR_LIT("xs3.eu.example")));
	CU_ASSERT(!lotad_auth_host_is("s3.eu.example", 443, LOTA_STR_LIT(".s3.eu.example")));
	CU_ASSERT(!lotad_auth_host_is("s3.eu.example", 443, LOTA_STR_LIT("s3.eu.example:x")));
	CU_ASSERT(!lotad_auth_host_is("s3.eu.example", 443, LOTA_STR_LIT("")));
	CU_ASSERT(!lotad_auth_host_is(NULL, 443, LOTA_STR_LIT("s3.eu.example")));
}

/* ------------------------------------------------------------- the probe */

#define DEADLINE_MS 10000

/* The fakes' answers to HEAD /BUCKET: the local region holds "home-local", the remote one
 * "home-remote"; the local region redirects "redirected" to the remote one by name. */
static void region_hook(fakeup *f, const fakeup_req *q, fakeup_resp *r, void *ud)
{
	const char *held = ud;
	(void)f;
	r->body_len = 0;
	r->length = 0;
	r->etag[0] = 0;
	if (!strcmp(q->target, "/redirected") && !strcmp(held, "home-local")) {
		r->status = 301;
		snprintf(r->extra, sizeof(r->extra), "x-amz-bucket-region: lota-remote\r\n");
	} else if (!strcmp(q->target + 1, held)) {
		r->status = 403;
	} else {
		r->status = 404;
	}
}

typedef struct probe_run {
	lotad_loop *loop;
	bool ended;
	int home;
} probe_run;

static void probe_end(void *ud, int home)
{
	probe_run *pr = ud;
	pr->ended = true;
	pr->home = home;
}

static lotad_settings at_port(int port, const char *region)
{
	lotad_settings s = local_settings();
	snprintf(s.upstream_url, sizeof(s.upstream_url), "http://127.0.0.1:%d", port);
	snprintf(s.upstream_hostport, sizeof(s.upstream_hostport), "127.0.0.1:%d", port);
	s.region = region;
	s.upstream_connect_timeout_ms = 2000;
	return s;
}

/* Probe bucket until it ends; returns the home (-2 when it did not end in time). */
static int probe(lotad_regions *t, lotad_loop *loop, lotad_upstream *u, const char *bucket)
{
	probe_run pr = {.loop = loop, .home = -2};
	lotad_region_probe *p =
	    lotad_region_probe_start(t, u, (lota_str){bucket, strlen(bucket)}, probe_end, &pr);
	if (!p)
		return -3;
	uint64_t end = lotad_mono_ms() + DEADLINE_MS;
	while (!pr.ended && lotad_mono_ms() < end)
		(void)lotad_loop_run_once(loop, 10);
	if (!pr.ended)
		lotad_region_probe_cancel(p);
	return pr.ended ? pr.home : -2;
}

static void test_probe(void)
{
	lotad_loop *loop = lotad_loop_new();
	CU_ASSERT_PTR_NOT_NULL_FATAL(loop);
	lotad_upstream *u = lotad_upstream_new(loop);
	fakeup *fl = fakeup_new(loop), *fr = fakeup_new(loop);
	CU_ASSERT_PTR_NOT_NULL_FATAL(u);
	CU_ASSERT_PTR_NOT_NULL_FATAL(fl);
	CU_ASSERT_PTR_NOT_NULL_FATAL(fr);
	fakeup_hook_set(fl, region_hook, "home-local");
	fakeup_hook_set(fr, region_hook, "home-remote");
	lotad_settings ls = at_port(fakeup_port(fl), "lota-local");
	lotad_settings rs = at_port(fakeup_port(fr), "lota-remote");
	lotad_regions *t = lotad_regions_new(&ls, "lota-local", 60000);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_EQUAL_FATAL(lotad_regions_add(t, "lota-remote", &rs), 0);

	CU_ASSERT_EQUAL(probe(t, loop, u, "home-remote"), 1);
	CU_ASSERT_EQUAL(lotad_regions_lookup(t, LOTA_STR_LIT("home-remote"), lotad_mono_ms()), 1);
	CU_ASSERT_EQUAL(probe(t, loop, u, "home-local"), 0);
	CU_ASSERT_EQUAL(lotad_regions_lookup(t, LOTA_STR_LIT("home-local"), lotad_mono_ms()), 0);
	CU_ASSERT_EQUAL(probe(t, loop, u, "redirected"), 1); /* named by the header */
	/* nobody holds it: no home, nothing learned */
	CU_ASSERT_EQUAL(probe(t, loop, u, "nowhere"), -1);
	CU_ASSERT_EQUAL(lotad_regions_lookup(t, LOTA_STR_LIT("nowhere"), lotad_mono_ms()), -1);
	/* the probes were anonymous HEADs of the bucket, one per region */
	size_t n = fakeup_nreqs(fl);
	CU_ASSERT_EQUAL(n, 4);
	CU_ASSERT_EQUAL(fakeup_nreqs(fr), 4);
	for (size_t i = 0; i < n; i++) {
		const fakeup_req *q = fakeup_req_at(fl, i);
		CU_ASSERT_STRING_EQUAL(q->method, "HEAD");
		CU_ASSERT_EQUAL(q->sig, 0);
		CU_ASSERT_EQUAL(fakeup_req_header(q, "authorization").len, 0);
	}
	/* a name the probe will not put in a URL */
	CU_ASSERT_EQUAL(probe(t, loop, u, "a/b"), -3);
	CU_ASSERT_EQUAL(probe(t, loop, u, "a b"), -3);
	CU_ASSERT_EQUAL(probe(t, loop, u, ""), -3);
	/* cancelled before its end: its callback never runs, nothing leaks (ASan) */
	probe_run pr = {.loop = loop, .home = -2};
	lotad_region_probe *p =
	    lotad_region_probe_start(t, u, LOTA_STR_LIT("home-remote"), probe_end, &pr);
	CU_ASSERT_PTR_NOT_NULL(p);
	lotad_region_probe_cancel(p);
	for (int i = 0; i < 20; i++)
		(void)lotad_loop_run_once(loop, 5);
	CU_ASSERT(!pr.ended);
	lotad_region_probe_cancel(NULL);

	/* a region that does not answer (its fake gone): the other one decides */
	fakeup_free(fr);
	fr = NULL;
	lotad_regions_forget(t, LOTA_STR_LIT("home-local"));
	CU_ASSERT_EQUAL(probe(t, loop, u, "home-local"), 0);
	CU_ASSERT_EQUAL(probe(t, loop, u, "home-remote"), -1);

	lotad_regions_free(t);
	lotad_upstream_free(u);
	fakeup_free(fl);
	lotad_loop_free(loop);
}

int main(void)
{
	CU_TestInfo tests[] = {
	    {"region_upstream values and refusals", test_spec_parse},
	    {"regions and their upstreams", test_table},
	    {"bucket homes: learn, TTL, forget", test_homes},
	    {"the probe's decision", test_decide},
	    {"the probe against two fake regions", test_probe},
	    {"hosts of a region's endpoint", test_host_is},
	    CU_TEST_INFO_NULL,
	};
	return lota_unit_run("daemon_region", tests);
}
