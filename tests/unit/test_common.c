/*
 * test_common.c - error codes, lota_strerror(), reading options structs of any release
 * (lib/opts.c) and logging (levels, sinks, one line per event, secrets redacted).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lota/common.h>
#include <lota/log.h>

#include "opts-internal.h"
#include "unit.h"

/*
 * Every code that the public header declares has its own name and message. The codes are
 * read from include/lota/common.h itself, since the header has (by design) no "last code"
 * marker to loop up to: a code appended to the enum without a table entry in error.c,
 * an enumerator without an explicit value, or two codes with one value fail here.
 */
static void test_strerror_own_codes(void)
{
	size_t len = 0;
	char *h = lota_unit_read_file("../../include/lota/common.h", &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	char *p = strstr(h, "enum lota_error {");
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	char *end = strstr(p, "};");
	CU_ASSERT_PTR_NOT_NULL_FATAL(end);
	*end = '\0';
	int seen[256], n = 0;
	for (char *line = strchr(p, '\n'); line && n < 256; line = strchr(line + 1, '\n')) {
		const char *s = line + 1 + strspn(line + 1, " \t");
		if (strncmp(s, "LOTA_", 5) != 0)
			continue;
		char name[64];
		int value;
		if (sscanf(s, "%63[A-Z0-9_] = %d", name, &value) != 2) {
			fprintf(stderr, "enumerator without an explicit value: %.*s\n",
			        (int)strcspn(s, "\n"), s);
			CU_FAIL("every error code has its value written out");
			continue;
		}
		for (int i = 0; i < n; i++)
			CU_ASSERT_NOT_EQUAL(seen[i], value);
		seen[n++] = value;
		if (value == LOTA_E_BASE) /* the bound of the range, not a code */
			continue;
		if (strcmp(lota_strerror_name(value), name) != 0)
			fprintf(stderr, "%s (%d) is named %s\n", name, value,
			        lota_strerror_name(value));
		CU_ASSERT_STRING_EQUAL(lota_strerror_name(value), name);
		CU_ASSERT_STRING_NOT_EQUAL(lota_strerror(value), "unknown error");
		CU_ASSERT(value == 0 || value < LOTA_E_BASE);
	}
	CU_ASSERT(n > 40);
	free(h);
	CU_ASSERT_STRING_EQUAL(lota_strerror(LOTA_E_HTTP_DUP_CL), "more than one Content-Length");
	CU_ASSERT_STRING_EQUAL(lota_strerror_name(LOTA_E_SIGV4_MISMATCH), "LOTA_E_SIGV4_MISMATCH");
	CU_ASSERT_STRING_EQUAL(lota_strerror(LOTA_OK), "success");
	/* A code from a newer release is unknown here, not a crash or a wrong name. */
	CU_ASSERT_STRING_EQUAL(lota_strerror(-1999), "unknown error");
	CU_ASSERT_STRING_EQUAL(lota_strerror_name(-1999), "LOTA_E_UNKNOWN");
}

static void test_strerror_errno(void)
{
	CU_ASSERT_STRING_EQUAL(lota_strerror(-ENOMEM), strerror(ENOMEM));
	CU_ASSERT_STRING_EQUAL(lota_strerror_name(-ENOENT), "ENOENT");
	/* Unknown codes get a message, never NULL. */
	CU_ASSERT_STRING_EQUAL(lota_strerror(-5000), "unknown error");
	CU_ASSERT_STRING_EQUAL(lota_strerror(7), "unknown error");
	CU_ASSERT_STRING_EQUAL(lota_version(), LOTA_VERSION_STRING);
}

/* Release 1 of an options struct, and release 2 with one field appended. */
struct opts_v1 {
	size_t sz;
	uint32_t a;
	uint32_t b;
};
struct opts_v2 {
	size_t sz;
	uint32_t a;
	uint32_t b;
	uint64_t c; /* appended in release 2; 0 = as in release 1 */
};
#define V1_SZ LOTA__OFFSETOFEND(struct opts_v1, b)

static void test_opts_load(void)
{
	struct opts_v2 got;
	/* a release-2 library reading a release-1 caller: the new field is zero */
	struct opts_v1 old = LOTA_OPTS(struct opts_v1, .a = 1, .b = 2);
	CU_ASSERT_EQUAL(old.sz, sizeof(struct opts_v1));
	CU_ASSERT_EQUAL(lota__opts_load(&old, V1_SZ, sizeof(got), &got), 0);
	CU_ASSERT(got.a == 1 && got.b == 2 && got.c == 0);
	/* ... and a release-2 caller */
	struct opts_v2 cur = LOTA_OPTS(struct opts_v2, .b = 5, .c = 6);
	CU_ASSERT_EQUAL(lota__opts_load(&cur, V1_SZ, sizeof(got), &got), 0);
	CU_ASSERT(got.sz == sizeof(got) && got.a == 0 && got.b == 5 && got.c == 6);
	/* a release-1 library reading a release-2 caller: fine while c is zero */
	struct opts_v1 got1;
	cur.c = 0;
	CU_ASSERT_EQUAL(lota__opts_load(&cur, V1_SZ, sizeof(got1), &got1), 0);
	CU_ASSERT(got1.a == 0 && got1.b == 5);
	cur.c = 6;
	memset(&got1, 0x55, sizeof(got1));
	CU_ASSERT_EQUAL(lota__opts_load(&cur, V1_SZ, sizeof(got1), &got1), LOTA_E_OPTS);
	CU_ASSERT(got1.sz == 0 && got1.a == 0 && got1.b == 0); /* nothing half read */
	/* sz unset, shorter than release 1, or absurd: refused (the last one unread) */
	size_t bad[] = {0, 1, sizeof(size_t), V1_SZ - 1, LOTA_OPTS_MAX + 1, SIZE_MAX};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		old.sz = bad[i];
		CU_ASSERT_EQUAL(lota__opts_load(&old, V1_SZ, sizeof(got), &got), LOTA_E_OPTS);
	}
	CU_ASSERT_STRING_EQUAL(lota_strerror_name(LOTA_E_OPTS), "LOTA_E_OPTS");
}

static char last_line[4096];
static int lines;
static lota_log_level last_level;

static void sink(lota_log_level level, const char *line, size_t len, void *ud)
{
	(void)ud;
	CU_ASSERT(len < sizeof(last_line));
	memcpy(last_line, line, len);
	last_line[len] = '\0';
	last_level = level;
	lines++;
}

static void test_log_levels_and_sink(void)
{
	lota_log_set_sink(sink, NULL);
	lota_log_set_level(LOTA_LOG_WARN);
	lines = 0;
	lota_log_info("dropped %d", 1);
	lota_log_debug("dropped %d", 2);
	CU_ASSERT_EQUAL(lines, 0);
	lota_log_warn("kept %s", "line\nwith newline");
	CU_ASSERT_EQUAL(lines, 1);
	CU_ASSERT_EQUAL(last_level, LOTA_LOG_WARN);
	CU_ASSERT_PTR_NOT_NULL(strstr(last_line, "warn"));
	CU_ASSERT_PTR_NOT_NULL(strstr(last_line, "kept line with newline"));
	CU_ASSERT_PTR_NULL(strchr(last_line, '\n'));
	/* Over-long messages are truncated, not split or overflowed. */
	char big[8000];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	lota_log_error("%s", big);
	CU_ASSERT_EQUAL(lines, 2);
	CU_ASSERT(strlen(last_line) < 4096);
	lota_log_set_sink(NULL, NULL);
	lota_log_set_level(LOTA_LOG_INFO);
}

static void test_log_level_parse(void)
{
	lota_log_level l;
	CU_ASSERT_EQUAL(lota_log_level_parse("debug", 5, &l), 0);
	CU_ASSERT_EQUAL(l, LOTA_LOG_DEBUG);
	CU_ASSERT_EQUAL(lota_log_level_parse("WARNING", 7, &l), 0);
	CU_ASSERT_EQUAL(l, LOTA_LOG_WARN);
	CU_ASSERT_EQUAL(lota_log_level_parse("verbose", 7, &l), LOTA_E_CONFIG_VALUE);
	CU_ASSERT_EQUAL(lota_log_level_parse("info", 3, &l), LOTA_E_CONFIG_VALUE);
}

static void test_redact(void)
{
	char out[512];
	const char *u = "/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F2015"
	                "&X-Amz-Signature=deadbeef&x-amz-security-token=tok&partNumber=1";
	size_t n = lota_log_redact_uri(u, strlen(u), out, sizeof(out));
	CU_ASSERT_EQUAL(n, strlen(out));
	CU_ASSERT_PTR_NULL(strstr(out, "deadbeef"));
	CU_ASSERT_PTR_NULL(strstr(out, "tok&"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "X-Amz-Signature=REDACTED"));
	CU_ASSERT_PTR_NULL(strstr(out, "AKID"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "X-Amz-Credential=REDACTED&"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "partNumber=1"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "X-Amz-Algorithm=AWS4-HMAC-SHA256&"));
	/* in the path, raw or %3D, any case, several on one line */
	struct {
		const char *in, *want;
	} cases[] = {
	    {"/b/X-Amz-Signature=abc123/more?x=1", "/b/X-Amz-Signature=REDACTED?x=1"},
	    {"/b/k&X-Amz-Signature=abc&y=2", "/b/k&X-Amz-Signature=REDACTED&y=2"},
	    {"/b/x-amz-signature%3Dabc", "/b/x-amz-signature%3DREDACTED"},
	    {"/b/X-Amz-Security-Token%3dT0K", "/b/X-Amz-Security-Token%3dREDACTED"},
	    {"/b/k?Signature=s2&AWSAccessKeyId=AK&Expires=1",
	     "/b/k?Signature=REDACTED&AWSAccessKeyId=REDACTED&Expires=1"},
	    {"/b/k?x-lota-ticket=t;a=b", "/b/k?x-lota-ticket=REDACTED;a=b"},
	    {"/b/k?a=X-Amz-Signature=zz", "/b/k?a=X-Amz-Signature=REDACTED"},
	    {"/b/k?Signature", "/b/k?Signature"},
	    {"/b/k?Signaturex=1&keep=Signature", "/b/k?Signaturex=1&keep=Signature"},
	    {"/b/k?X-Amz-Signature=", "/b/k?X-Amz-Signature=REDACTED"},
	    {"/b/%3D=1", "/b/%3D=1"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		n = lota_log_redact_uri(cases[i].in, strlen(cases[i].in), out, sizeof(out));
		if (strcmp(out, cases[i].want) != 0)
			fprintf(stderr, "redact %s: got %s\n", cases[i].in, out);
		CU_ASSERT_STRING_EQUAL(out, cases[i].want);
		CU_ASSERT_EQUAL(n, strlen(cases[i].want));
	}
	/* Truncation keeps the buffer terminated. */
	n = lota_log_redact_uri(u, strlen(u), out, 8);
	CU_ASSERT_EQUAL(n, 7);
	CU_ASSERT_EQUAL(out[7], '\0');
	n = lota_log_redact_uri("/plain", 6, out, sizeof(out));
	CU_ASSERT_STRING_EQUAL(out, "/plain");
	CU_ASSERT(lota_log_header_is_secret("AUTHORIZATION", 13));
	CU_ASSERT(lota_log_header_is_secret("X-Amz-Security-Token", 20));
	CU_ASSERT(!lota_log_header_is_secret("X-Amz-Date", 10));
}

int main(void)
{
	CU_TestInfo tests[] = {
	    {"strerror of lota codes", test_strerror_own_codes},
	    {"strerror of errno codes", test_strerror_errno},
	    {"options structs of any release", test_opts_load},
	    {"log levels and sink", test_log_levels_and_sink},
	    {"log level parse", test_log_level_parse},
	    {"redaction of secrets", test_redact},
	    CU_TEST_INFO_NULL,
	};
	return lota_unit_run("common", tests);
}
