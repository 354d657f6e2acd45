/*
 * test_log.c - the log formats of lib/log.c: the JSON string escaper (quotes, control
 * bytes, valid and invalid UTF-8, never half an escape at the end of the room), JSON
 * lines that parse (cJSON) whatever the message carries and however long it is, fields
 * in both formats, and the refusal of an unknown format. Redaction is the caller's
 * (test_common.c): here a redacted target stays redacted in a JSON line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include <lota/log.h>

#include "log-internal.h"
#include "unit.h"

static char last[4096];
static size_t last_len;
static int nlines;

static void sink(lota_log_level level, const char *line, size_t len, void *ud)
{
	(void)level;
	(void)ud;
	if (len >= sizeof(last)) { /* never: a line is at most 2 KiB */
		CU_FAIL("a line longer than the log's own cap");
		len = sizeof(last) - 1;
	}
	memcpy(last, line, len);
	last[len] = 0;
	last_len = len;
	nlines++;
}

static void capture(lota_log_format f)
{
	lota_log_set_sink(sink, NULL);
	lota_log_set_level(LOTA_LOG_DEBUG);
	lota_log_set_format(f);
	nlines = 0;
}

static void release(void)
{
	lota_log_set_sink(NULL, NULL);
	lota_log_set_level(LOTA_LOG_INFO);
	lota_log_set_format(LOTA_LOG_TEXT);
}

static size_t esc(const char *s, size_t len, char *out, size_t cap)
{
	size_t n = lota__log_json_escape(s, len, out, cap, NULL);
	out[n] = 0;
	return n;
}

static void test_escape_ascii_and_controls(void)
{
	char out[256];
	esc("a\"b\\c", 5, out, sizeof(out));
	CU_ASSERT_STRING_EQUAL(out, "a\\\"b\\\\c");
	esc("l1\nl2\r\t\b\f", 9, out, sizeof(out));
	CU_ASSERT_STRING_EQUAL(out, "l1\\nl2\\r\\t\\b\\f");
	const char ctl[] = {0x01, 0x1f, 0x7f, 0x00, 'x'};
	esc(ctl, sizeof(ctl), out, sizeof(out));
	CU_ASSERT_STRING_EQUAL(out, "\\u0001\\u001f\\u007f\\u0000x");
	CU_ASSERT_EQUAL(esc("", 0, out, sizeof(out)), 0);
}

static void test_escape_utf8(void)
{
	char out[256];
	/* valid: 2, 3 and 4 byte sequences pass through */
	const char *ok = "\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80";
	esc(ok, strlen(ok), out, sizeof(out));
	CU_ASSERT_STRING_EQUAL(out, ok);
	/* invalid: every byte of a sequence that is not valid is \u00XX */
	struct {
		const char *in;
		const char *out;
	} bad[] = {
	    {"\xff", "\\u00ff"},
	    {"\x80", "\\u0080"},                                  /* lone continuation */
	    {"\xc0\x80", "\\u00c0\\u0080"},                       /* overlong NUL */
	    {"\xe0\x80\xaf", "\\u00e0\\u0080\\u00af"},            /* overlong '/' */
	    {"\xed\xa0\x80", "\\u00ed\\u00a0\\u0080"},            /* a surrogate */
	    {"\xf4\x90\x80\x80", "\\u00f4\\u0090\\u0080\\u0080"}, /* above U+10FFFF */
	    {"\xe2\x82", "\\u00e2\\u0082"},                       /* truncated */
	    {"\xc3"
	     "a",
	     "\\u00c3a"}, /* missing continuation */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		esc(bad[i].in, strlen(bad[i].in), out, sizeof(out));
		CU_ASSERT_STRING_EQUAL(out, bad[i].out);
	}
}

/* The room ends inside an escape or a sequence: nothing of it is written. */
static void test_escape_room(void)
{
	char out[16];
	size_t used;
	size_t n = lota__log_json_escape("ab\"", 3, out, 3, &used);
	CU_ASSERT_EQUAL(n, 2);
	CU_ASSERT_EQUAL(used, 2);
	n = lota__log_json_escape("a\x01", 2, out, 6, &used);
	CU_ASSERT_EQUAL(n, 1);
	CU_ASSERT_EQUAL(used, 1);
	n = lota__log_json_escape("a\xe2\x82\xac", 4, out, 3, &used);
	CU_ASSERT_EQUAL(n, 1);
	CU_ASSERT_EQUAL(used, 1);
	n = lota__log_json_escape("abc", 3, out, 0, &used);
	CU_ASSERT_EQUAL(n, 0);
	CU_ASSERT_EQUAL(used, 0);
}

static cJSON *parse_last(void)
{
	cJSON *j = cJSON_ParseWithLength(last, last_len);
	if (!j)
		fprintf(stderr, "not JSON: %s\n", last);
	return j;
}

static void test_json_line_parses(void)
{
	capture(LOTA_LOG_JSON);
	lota_log_warn("quote \" back \\ nl \n tab \t bell \a bad \xff\xfe utf8 \xc3\xa9");
	CU_ASSERT_EQUAL(nlines, 1);
	CU_ASSERT_PTR_NULL(memchr(last, '\n', last_len));
	cJSON *j = parse_last();
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(j, "level")->valuestring, "warn");
	CU_ASSERT_PTR_NOT_NULL(cJSON_GetObjectItem(j, "ts"));
	const char *msg = cJSON_GetObjectItem(j, "msg")->valuestring;
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "quote \" back \\ nl \n tab"));
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "utf8 \xc3\xa9"));
	cJSON_Delete(j);
	release();
}

/* A message or fields longer than a line: cut, and still one object that parses. */
static void test_json_long_lines(void)
{
	static char big[6000];
	capture(LOTA_LOG_JSON);
	memset(big, '"', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	lota_log_error("%s", big);
	cJSON *j = parse_last();
	CU_ASSERT_PTR_NOT_NULL(j);
	cJSON_Delete(j);
	for (size_t fill = 0; fill < 2100; fill += 7) {
		memset(big, '\x01', fill);
		big[fill] = 0;
		lota_log_field f[] = {
		    {"a", big, 0}, {"n", NULL, -42}, {"b\"", big, 0}, {"c", "x", 0}};
		lota_log_fields(LOTA_LOG_INFO, "m", f, 4);
		j = parse_last();
		CU_ASSERT_PTR_NOT_NULL_FATAL(j);
		cJSON_Delete(j);
	}
	release();
}

static void test_fields_both_formats(void)
{
	lota_log_field f[] = {{"req_id", "R1", 0},
	                      {"status", NULL, 206},
	                      {"bucket", "", 0},
	                      {"bytes_out", NULL, 123456789012LL}};
	capture(LOTA_LOG_TEXT);
	lota_log_fields(LOTA_LOG_INFO, "access", f, 4);
	CU_ASSERT_PTR_NOT_NULL(strstr(last, " info  access req_id=R1 status=206 bucket=- "
	                                    "bytes_out=123456789012"));
	capture(LOTA_LOG_JSON);
	lota_log_fields(LOTA_LOG_INFO, "access", f, 4);
	cJSON *j = parse_last();
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(j, "msg")->valuestring, "access");
	CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(j, "req_id")->valuestring, "R1");
	CU_ASSERT(cJSON_IsNumber(cJSON_GetObjectItem(j, "status")));
	CU_ASSERT_EQUAL(cJSON_GetObjectItem(j, "status")->valuedouble, 206);
	CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(j, "bucket")->valuestring, "");
	CU_ASSERT_EQUAL(cJSON_GetObjectItem(j, "bytes_out")->valuedouble, 123456789012.0);
	cJSON_Delete(j);
	/* below the level: nothing */
	lota_log_set_level(LOTA_LOG_WARN);
	nlines = 0;
	lota_log_fields(LOTA_LOG_INFO, "access", f, 4);
	CU_ASSERT_EQUAL(nlines, 0);
	release();
}

/* What the caller redacted stays redacted: the JSON form adds nothing back. */
static void test_json_redacted(void)
{
	char t[512];
	const char *u = "/b/k?X-Amz-Credential=AKIDSECRET%2F2015&X-Amz-Signature=deadbeef";
	lota_log_redact_uri(u, strlen(u), t, sizeof(t));
	capture(LOTA_LOG_JSON);
	lota_log_field f[] = {{"target", t, 0}};
	lota_log_fields(LOTA_LOG_INFO, "access", f, 1);
	CU_ASSERT_PTR_NULL(strstr(last, "deadbeef"));
	CU_ASSERT_PTR_NULL(strstr(last, "AKIDSECRET"));
	CU_ASSERT_PTR_NOT_NULL(strstr(last, "REDACTED"));
	release();
}

static void test_format_parse(void)
{
	lota_log_format f;
	CU_ASSERT_EQUAL(lota_log_format_parse("json", 4, &f), 0);
	CU_ASSERT_EQUAL(f, LOTA_LOG_JSON);
	CU_ASSERT_EQUAL(lota_log_format_parse("TEXT", 4, &f), 0);
	CU_ASSERT_EQUAL(f, LOTA_LOG_TEXT);
	CU_ASSERT_EQUAL(lota_log_format_parse("xml", 3, &f), LOTA_E_CONFIG_VALUE);
	CU_ASSERT_EQUAL(lota_log_format_parse("", 0, &f), LOTA_E_CONFIG_VALUE);
	CU_ASSERT_EQUAL(lota_log_format_parse("jsonl", 5, &f), LOTA_E_CONFIG_VALUE);
	CU_ASSERT_EQUAL(lota_log_format_parse("json", 3, &f), LOTA_E_CONFIG_VALUE);
	lota_log_set_format((lota_log_format)7); /* out of range: text */
	CU_ASSERT_EQUAL(lota_log_get_format(), LOTA_LOG_TEXT);
}

int main(void)
{
	CU_TestInfo tests[] = {
	    {"escape: ASCII and control bytes", test_escape_ascii_and_controls},
	    {"escape: valid and invalid UTF-8", test_escape_utf8},
	    {"escape: never half an escape", test_escape_room},
	    {"json: a line parses whatever it carries", test_json_line_parses},
	    {"json: long lines are cut and still parse", test_json_long_lines},
	    {"fields in text and JSON", test_fields_both_formats},
	    {"json: redacted stays redacted", test_json_redacted},
	    {"format names", test_format_parse},
	    CU_TEST_INFO_NULL,
	};
	return lota_unit_run("log", tests);
}
