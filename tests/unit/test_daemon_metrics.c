/*
 * test_daemon_metrics.c - lotad's Prometheus rendering (every line well-formed, HELP and
 * TYPE before each family, counters increasing, histogram buckets cumulative with +Inf
 * equal to _count, providers appended) and its S3 XML error bodies (every field
 * escaped, truncation safe, whole responses framed with the right Content-Length).
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "s3/s3err.h"

#include "unit.h"

/* ------------------------------------------------------------ exposition parsing */

/* Value of the series line exactly named `series` (name plus labels), or -1. */
static double series_value(const char *text, const char *series)
{
	size_t sl = strlen(series);
	const char *p = text;
	while (p && *p) {
		if (strncmp(p, series, sl) == 0 && p[sl] == ' ')
			return strtod(p + sl + 1, NULL);
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return -1;
}

static bool name_char(char c, bool first)
{
	return isalpha((unsigned char)c) || c == '_' || c == ':' ||
	       (!first && isdigit((unsigned char)c));
}

/* Checks one sample line: name{l="v",...} value. Returns the name length or 0. */
static size_t check_sample(const char *l, size_t n)
{
	size_t i = 0;
	if (n == 0 || !name_char(l[0], true))
		return 0;
	while (i < n && name_char(l[i], i == 0))
		i++;
	size_t name_len = i;
	if (i < n && l[i] == '{') {
		i++;
		for (;;) {
			if (i < n && l[i] == '}') {
				i++;
				break;
			}
			size_t st = i;
			while (i < n && name_char(l[i], i == st))
				i++;
			if (i == st || i + 1 >= n || l[i] != '=' || l[i + 1] != '"')
				return 0;
			i += 2;
			while (i < n && l[i] != '"') {
				if (l[i] == '\\')
					i++;
				i++;
			}
			if (i >= n)
				return 0;
			i++;
			if (i < n && l[i] == ',')
				i++;
			else if (i >= n || l[i] != '}')
				return 0;
		}
	}
	if (i >= n || l[i] != ' ')
		return 0;
	i++;
	char num[64];
	size_t vl = n - i;
	if (vl == 0 || vl >= sizeof(num))
		return 0;
	memcpy(num, l + i, vl);
	num[vl] = '\0';
	char *end;
	if (strcmp(num, "+Inf") != 0 && strcmp(num, "NaN") != 0) {
		(void)strtod(num, &end);
		if (*end != '\0')
			return 0;
	}
	return name_len;
}

/* Every line is a HELP, a TYPE (right after its HELP, for the same name) or a sample of
 * the family last typed. Returns the number of bad lines. */
static int check_exposition(const char *text, size_t len)
{
	int bad = 0;
	char family[128] = "", type[32] = "";
	bool help_seen = false;
	const char *p = text, *end = text + len;
	if (len == 0 || text[len - 1] != '\n')
		return 1;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = (size_t)(nl - p);
		if (strncmp(p, "# HELP ", 7) == 0) {
			const char *sp = memchr(p + 7, ' ', n - 7);
			if (!sp || (size_t)(sp - p - 7) >= sizeof(family)) {
				bad++;
			} else {
				memcpy(family, p + 7, (size_t)(sp - p - 7));
				family[sp - p - 7] = '\0';
				help_seen = true;
			}
		} else if (strncmp(p, "# TYPE ", 7) == 0) {
			char nm[128], ty[32];
			if (!help_seen || sscanf(p, "# TYPE %127s %31s", nm, ty) != 2 ||
			    strcmp(nm, family) != 0)
				bad++;
			else
				snprintf(type, sizeof(type), "%s", ty);
			if (strcmp(ty, "counter") && strcmp(ty, "gauge") && strcmp(ty, "histogram"))
				bad++;
			help_seen = false;
		} else {
			size_t nlen = check_sample(p, n);
			if (nlen == 0) {
				bad++;
			} else {
				size_t fl = strlen(family);
				bool ok = strncmp(p, family, fl) == 0;
				if (ok && strcmp(type, "histogram") == 0) {
					const char *suf = p + fl;
					ok = strncmp(suf, "_bucket", 7) == 0 ||
					     strncmp(suf, "_sum", 4) == 0 ||
					     strncmp(suf, "_count", 6) == 0;
				} else if (ok) {
					ok = nlen == fl;
				}
				if (!ok)
					bad++;
			}
		}
		p = nl + 1;
	}
	return bad;
}

/* For one histogram series prefix, check buckets are cumulative and +Inf == count. */
static void check_histogram(const char *text, const char *name, const char *labels)
{
	char key[256];
	double prev = -1, le_prev = -1;
	int buckets = 0;
	const char *p = text;
	snprintf(key, sizeof(key), "%s_bucket{%s%sle=\"", name, labels, labels[0] ? "," : "");
	while ((p = strstr(p, key)) != NULL) {
		const char *q = p + strlen(key);
		double le = strncmp(q, "+Inf", 4) == 0 ? 1e300 : strtod(q, NULL);
		const char *sp = strstr(q, "} ");
		CU_ASSERT_PTR_NOT_NULL_FATAL(sp);
		double v = strtod(sp + 2, NULL);
		CU_ASSERT(le > le_prev);
		CU_ASSERT(v >= prev);
		prev = v;
		le_prev = le;
		buckets++;
		p = sp;
	}
	CU_ASSERT(buckets >= 10);
	CU_ASSERT_EQUAL(le_prev, 1e300); /* the last bucket is +Inf */
	snprintf(key, sizeof(key), labels[0] ? "%s_count{%s}" : "%s_count%s", name, labels);
	CU_ASSERT_EQUAL(series_value(text, key), prev);
}

static void test_render_wellformed(void)
{
	lotad_metrics__reset();
	size_t len = 0;
	char *t = lotad_metrics_render(&len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_EQUAL(strlen(t), len);
	CU_ASSERT_EQUAL(check_exposition(t, len), 0);
	const char *fams[] = {
	    "lota_requests_total counter",        "lota_request_duration_seconds histogram",
	    "lota_upstream_errors_total counter", "lota_upstream_first_byte_seconds histogram",
	    "lota_connections_open gauge",        "lota_bytes_in_total counter",
	    "lota_bytes_out_total counter",       "lota_auth_refused_total counter"};
	for (size_t i = 0; i < sizeof(fams) / sizeof(fams[0]); i++) {
		char want[128];
		snprintf(want, sizeof(want), "# TYPE %s\n", fams[i]);
		CU_ASSERT_PTR_NOT_NULL(strstr(t, want));
	}
	CU_ASSERT_EQUAL(series_value(t, "lota_connections_open"), 0);
	free(t);
	/* the checker itself refuses bad text */
	CU_ASSERT(check_exposition("lota_x{op=\"a} 1\n", 16) > 0);
	CU_ASSERT(check_exposition("# TYPE a counter\na 1\n", 21) > 0); /* no HELP */
	CU_ASSERT(check_exposition("# HELP a x\n# TYPE a counter\nb 1\n", 32) > 0);
}

static void test_counters_increase(void)
{
	lotad_metrics__reset();
	lotad_metrics_request(LOTAD_OP_GET_OBJECT, 200, 1500);
	lotad_metrics_request(LOTAD_OP_GET_OBJECT, 200, 700000);
	lotad_metrics_request(LOTAD_OP_GET_OBJECT, 206, 10);
	lotad_metrics_request(LOTAD_OP_PUT_OBJECT, 418, 10); /* class 4xx */
	lotad_metrics_request((lotad_op)99, 999, 100000000); /* clamped to other */
	lotad_metrics_bytes_in(10);
	lotad_metrics_bytes_out(1000);
	lotad_metrics_bytes_out(24);
	lotad_metrics_upstream_error("timeout");
	lotad_metrics_upstream_error("weird");
	lotad_metrics_upstream_error(NULL);
	lotad_metrics_upstream_latency(3000);
	lotad_metrics_conn_open(1);
	lotad_metrics_conn_open(1);
	lotad_metrics_conn_open(-1);
	lotad_metrics_auth_refused("SignatureDoesNotMatch");
	lotad_metrics_auth_refused("NoSuchThing");
	size_t len;
	char *t = lotad_metrics_render(&len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_EQUAL(check_exposition(t, len), 0);
	CU_ASSERT_EQUAL(series_value(t, "lota_requests_total{op=\"get_object\",status=\"200\"}"),
	                2);
	CU_ASSERT_EQUAL(series_value(t, "lota_requests_total{op=\"get_object\",status=\"206\"}"),
	                1);
	CU_ASSERT_EQUAL(series_value(t, "lota_requests_total{op=\"put_object\",status=\"4xx\"}"),
	                1);
	CU_ASSERT_EQUAL(series_value(t, "lota_requests_total{op=\"other\",status=\"other\"}"), 1);
	CU_ASSERT_EQUAL(series_value(t, "lota_bytes_in_total"), 10);
	CU_ASSERT_EQUAL(series_value(t, "lota_bytes_out_total"), 1024);
	CU_ASSERT_EQUAL(series_value(t, "lota_upstream_errors_total{kind=\"timeout\"}"), 1);
	CU_ASSERT_EQUAL(series_value(t, "lota_upstream_errors_total{kind=\"other\"}"), 2);
	CU_ASSERT_EQUAL(series_value(t, "lota_connections_open"), 1);
	CU_ASSERT_EQUAL(series_value(t, "lota_auth_refused_total{code=\"SignatureDoesNotMatch\"}"),
	                1);
	CU_ASSERT_EQUAL(series_value(t, "lota_auth_refused_total{code=\"other\"}"), 1);
	/* histogram: 1.5 ms lands in le=0.0025 but not le=0.001; the sum is exact */
	CU_ASSERT_EQUAL(
	    series_value(t, "lota_request_duration_seconds_bucket{op=\"get_object\",le=\"0.001\"}"),
	    1); /* the 10 us 206 */
	CU_ASSERT_EQUAL(
	    series_value(t,
	                 "lota_request_duration_seconds_bucket{op=\"get_object\",le=\"0.0025\"}"),
	    2);
	CU_ASSERT_EQUAL(
	    series_value(t, "lota_request_duration_seconds_bucket{op=\"get_object\",le=\"+Inf\"}"),
	    3);
	CU_ASSERT_EQUAL(series_value(t, "lota_request_duration_seconds_sum{op=\"get_object\"}"),
	                0.70151);
	CU_ASSERT_EQUAL(
	    series_value(t, "lota_request_duration_seconds_bucket{op=\"other\",le=\"60\"}"), 0);
	CU_ASSERT_EQUAL(
	    series_value(t, "lota_request_duration_seconds_bucket{op=\"other\",le=\"+Inf\"}"), 1);
	check_histogram(t, "lota_request_duration_seconds", "op=\"get_object\"");
	check_histogram(t, "lota_request_duration_seconds", "op=\"other\"");
	check_histogram(t, "lota_upstream_first_byte_seconds", "");
	CU_ASSERT_EQUAL(series_value(t, "lota_upstream_first_byte_seconds_count"), 1);
	double before = series_value(t, "lota_bytes_out_total");
	free(t);

	lotad_metrics_bytes_out(1);
	lotad_metrics_request(LOTAD_OP_GET_OBJECT, 200, 1);
	t = lotad_metrics_render(&len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT(series_value(t, "lota_bytes_out_total") > before);
	CU_ASSERT_EQUAL(series_value(t, "lota_requests_total{op=\"get_object\",status=\"200\"}"),
	                3);
	check_histogram(t, "lota_request_duration_seconds", "op=\"get_object\"");
	free(t);
	CU_ASSERT_STRING_EQUAL(lotad_op_name(LOTAD_OP_DELETE_OBJECTS), "delete_objects");
	CU_ASSERT_STRING_EQUAL(lotad_op_name((lotad_op)77), "other");
}

static size_t small_provider(char *out, size_t cap, void *ud)
{
	return (size_t)snprintf(out, cap,
	                        "# HELP lota_test_gauge A test gauge.\n# TYPE lota_test_gauge "
	                        "gauge\nlota_test_gauge %d\n",
	                        *(int *)ud);
}

static size_t big_provider(char *out, size_t cap, void *ud)
{
	/* 300 series: more than the first 4 KiB offered */
	size_t need = 0;
	char line[64];
	int n = snprintf(line, sizeof(line), "# HELP lota_big x\n# TYPE lota_big counter\n");
	if ((size_t)n < cap)
		memcpy(out, line, (size_t)n + 1);
	need += (size_t)n;
	for (int i = 0; i < 300; i++) {
		n = snprintf(line, sizeof(line), "lota_big{i=\"%03d\"} %d\n", i, i);
		if (need + (size_t)n < cap)
			memcpy(out + need, line, (size_t)n + 1);
		need += (size_t)n;
	}
	(void)ud;
	return need;
}

static void test_providers(void)
{
	lotad_metrics__reset();
	int v = 42;
	lotad_metrics_add_provider(small_provider, &v);
	lotad_metrics_add_provider(big_provider, NULL);
	lotad_metrics_add_provider(NULL, NULL); /* ignored */
	size_t len;
	char *t = lotad_metrics_render(&len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_EQUAL(check_exposition(t, len), 0);
	CU_ASSERT_EQUAL(series_value(t, "lota_test_gauge"), 42);
	CU_ASSERT_EQUAL(series_value(t, "lota_big{i=\"299\"}"), 299);
	CU_ASSERT_EQUAL(series_value(t, "lota_big{i=\"000\"}"), 0);
	/* providers come after the built-in families */
	CU_ASSERT(strstr(t, "lota_test_gauge") > strstr(t, "lota_auth_refused_total"));
	free(t);
	lotad_metrics__reset();
}

/* ------------------------------------------------------------ s3err */

static void test_s3err_escaping(void)
{
	char out[2048];
	const char key[] = "/b/a<b>&\"q\"'s\x01\x7f\ttab\nnl\xff\xc3\xa9";
	size_t n = lotad_s3err_body("NoSuch<Key>", "M & M", (lota_str){key, sizeof(key) - 1},
	                            "id\"1", out, sizeof(out));
	CU_ASSERT_EQUAL(n, strlen(out));
	CU_ASSERT_STRING_EQUAL(
	    out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error>"
	         "<Code>NoSuch&lt;Key&gt;</Code><Message>M &amp; M</Message>"
	         "<Resource>/b/a&lt;b&gt;&amp;&quot;q&quot;&apos;s?\x7f&#9;tab&#10;nl?\xc3\xa9"
	         "</Resource><RequestId>id&quot;1</RequestId></Error>");
	/* NUL inside a view is a control byte too */
	n = lotad_s3err_body("C", "m", (lota_str){"a\0b", 3}, "r", out, sizeof(out));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "<Resource>a?b</Resource>"));
	/* NULL fields are empty elements */
	n = lotad_s3err_body(NULL, NULL, (lota_str){NULL, 0}, NULL, out, sizeof(out));
	CU_ASSERT_PTR_NOT_NULL(
	    strstr(out, "<Code></Code><Message></Message><Resource></Resource>"));
}

static void test_s3err_truncation(void)
{
	char out[64];
	memset(out, 'x', sizeof(out));
	size_t n = lotad_s3err_body("AccessDenied", "&&&&&&&&&&&&&&&&&&&&", (lota_str){"/", 1}, "r",
	                            out, 50);
	CU_ASSERT(n < 50);
	CU_ASSERT_EQUAL(out[n], '\0');
	CU_ASSERT_EQUAL(out[50], 'x'); /* nothing written past cap */
	/* never half an entity */
	const char *amp = strrchr(out, '&');
	if (amp)
		CU_ASSERT(strlen(amp) >= 5);
	CU_ASSERT_EQUAL(lotad_s3err_body("a", "b", (lota_str){NULL, 0}, "c", out, 0), 0);
}

static void test_s3err_response(void)
{
	char out[4096];
	size_t n = lotad_s3err_response(403, "SignatureDoesNotMatch", "bad", LOTA_STR_LIT("/b/k"),
	                                "REQ1\r\nX-Evil: 1", 1, out, sizeof(out));
	CU_ASSERT_EQUAL(n, strlen(out));
	CU_ASSERT_EQUAL(strncmp(out, "HTTP/1.1 403 Forbidden\r\n", 24), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "Content-Type: application/xml\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "Connection: close\r\n"));
	CU_ASSERT_PTR_NULL(strstr(out, "\r\nX-Evil")); /* no header injection */
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "x-amz-request-id: REQ1X-Evil:1\r\n"));
	const char *body = strstr(out, "\r\n\r\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(body);
	body += 4;
	unsigned long cl = strtoul(strstr(out, "Content-Length: ") + 16, NULL, 10);
	CU_ASSERT_EQUAL(cl, strlen(body));
	CU_ASSERT_EQUAL(strncmp(body, "<?xml", 5), 0);
	n = lotad_s3err_response(400, "InvalidRequest", "x", LOTA_STR_LIT("/"), "r", 0, out,
	                         sizeof(out));
	CU_ASSERT_PTR_NULL(strstr(out, "Connection: close"));
	CU_ASSERT_EQUAL(strncmp(out, "HTTP/1.1 400 Bad Request\r\n", 26), 0);
	/* too small a buffer: empty, terminated */
	n = lotad_s3err_response(400, "a", "b", LOTA_STR_LIT("/"), "r", 0, out, 100);
	CU_ASSERT_EQUAL(n, 0);
	CU_ASSERT_EQUAL(out[0], '\0');
	CU_ASSERT_STRING_EQUAL(lotad_http_reason(503), "Service Unavailable");
	CU_ASSERT_STRING_EQUAL(lotad_http_reason(299), "Success");
	CU_ASSERT_STRING_EQUAL(lotad_http_reason(505), "HTTP Version Not Supported");
	CU_ASSERT_STRING_EQUAL(lotad_http_reason(599), "Server Error");
	CU_ASSERT_STRING_EQUAL(lotad_http_reason(451), "Client Error");
}

int main(void)
{
	CU_TestInfo tests[] = {
	    {"render is well-formed", test_render_wellformed},
	    {"counters and histograms", test_counters_increase},
	    {"providers appended", test_providers},
	    {"s3err escaping", test_s3err_escaping},
	    {"s3err truncation", test_s3err_truncation},
	    {"s3err response", test_s3err_response},
	    CU_TEST_INFO_NULL,
	};
	return lota_unit_run("daemon_metrics", tests);
}
