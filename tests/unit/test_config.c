/*
 * test_config.c - the config schema: value parsers (sizes, durations, booleans) with
 * their bounds and units, JSON loading, command-line flags, precedence, list
 * accumulation, required keys, --help, the redacted dump, exact error messages, and
 * all-or-nothing loads (a failed load changes nothing).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lota/config.h>

#include "unit.h"

static const lota_config_key keys[] = {
    {"listen", LOTA_CONFIG_STRING, "127.0.0.1:7070", 0, 0, false, false, 'l', "HOST:PORT",
     "address of the S3 front end"},
    {"config", LOTA_CONFIG_STRING, NULL, 0, 0, false, false, 'c', "FILE", "JSON config file"},
    {"workers", LOTA_CONFIG_INT, "4", 1, 1024, false, false, 'w', NULL, "worker threads"},
    {"extent_size", LOTA_CONFIG_SIZE, "64MiB", 1 << 20, 1ll << 40, false, false, 0, NULL,
     "size of a cache extent"},
    {"min_object_size", LOTA_CONFIG_SIZE, "4MiB", 0, 0, false, false, 0, NULL,
     "smaller objects are not cached"},
    {"metadata_ttl", LOTA_CONFIG_DURATION, "0", 0, 0, false, false, 0, NULL,
     "skip upstream revalidation for this long"},
    {"fill_timeout", LOTA_CONFIG_DURATION, "15s", 1000, 0, false, false, 0, NULL,
     "abort a fill after this long"},
    {"prestage_on_head", LOTA_CONFIG_BOOL, "true", 0, 0, false, false, 0, NULL,
     "a HEAD starts a background fill"},
    {"tls", LOTA_CONFIG_BOOL, NULL, 0, 0, false, false, 't', NULL, "serve TLS"},
    {"peers", LOTA_CONFIG_LIST, NULL, 0, 0, false, false, 'p', "HOST:PORT", "a peer node"},
    {"cache_dirs", LOTA_CONFIG_LIST, "/a,/b", 0, 0, false, false, 0, "DIR", "cache directory"},
    {"upstream", LOTA_CONFIG_STRING, NULL, 0, 0, true, false, 0, "URL", "the S3 endpoint"},
    {"secret_key", LOTA_CONFIG_STRING, "hunter2-default", 0, 0, false, true, 0, "KEY",
     "node secret"},
    {"offset", LOTA_CONFIG_INT, "-5", -10, 10, false, false, 0, NULL, "signed test value"},
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

static lota_config *new_cfg(void)
{
	lota_config *c = lota_config_new(keys, NKEYS);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	return c;
}

static int load(lota_config *c, const char *json)
{
	return lota_config_load_json(c, json, strlen(json));
}

/* parse_args with a NULL-terminated list; returns the code. */
static int args(lota_config *c, int *pos, bool *help, ...)
{
	char *argv[32] = {"prog"};
	int argc = 1;
	va_list ap;
	va_start(ap, help);
	const char *a;
	while ((a = va_arg(ap, const char *)) && argc < 31)
		argv[argc++] = (char *)a;
	va_end(ap);
	argv[argc] = NULL;
	return lota_config_parse_args(c, argc, argv, "config", help, pos);
}

#define ERR_IS(c, msg) CU_ASSERT_STRING_EQUAL(lota_config_error(c), msg)

/* ---- parsers ------------------------------------------------------------------------ */

static void test_parse_size(void)
{
	static const struct {
		const char *s;
		uint64_t v;
	} ok[] = {
	    {"0", 0},
	    {"4096", 4096},
	    {"64MiB", 64ull << 20},
	    {"64mib", 64ull << 20},
	    {"1TiB", 1ull << 40},
	    {"1.5GiB", 3ull << 29},
	    {"0.5KiB", 512},
	    {"10 GB", 10000000000ull},
	    {"2k", 2000},
	    {"3KB", 3000},
	    {"7B", 7},
	    {"1PiB", 1ull << 50},
	    {"1.25M", 1250000},
	    {"18446744073709551615", UINT64_MAX},
	    {"1.00000000000000000000000000KiB", 1024}, /* trailing zeros do not count */
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		uint64_t v = 1;
		int rc = lota_parse_size(ok[i].s, strlen(ok[i].s), &v);
		if (rc != 0 || v != ok[i].v)
			fprintf(stderr, "\n  size %s -> rc %d v %llu\n", ok[i].s, rc,
			        (unsigned long long)v);
		CU_ASSERT_EQUAL(rc, 0);
		CU_ASSERT_EQUAL(v, ok[i].v);
	}
	static const char *const bad[] = {
	    "",
	    " 1",
	    "1 ",
	    "-1",
	    "-0",
	    "+1",
	    "1e3",
	    "1.",
	    ".5",
	    "64XB",
	    "64 MiB ",
	    "MiB",
	    "1,000",
	    "0x10",
	    "1..5",
	    "1.5",
	    "0.3KiB",
	    "16EiB",
	    "18446744073709551616",
	    "16384PiB",
	    "1iB",
	    "1 K B",
	    "15.99999999999999999999TiB",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint64_t v = 77;
		int rc = lota_parse_size(bad[i], strlen(bad[i]), &v);
		if (rc != LOTA_E_CONFIG_VALUE)
			fprintf(stderr, "\n  size \"%s\" accepted as %llu\n", bad[i],
			        (unsigned long long)v);
		CU_ASSERT_EQUAL(rc, LOTA_E_CONFIG_VALUE);
		CU_ASSERT_EQUAL(v, 77); /* untouched on error */
	}
	/* (ptr, len): no NUL needed, the length is honoured. */
	uint64_t v;
	CU_ASSERT_EQUAL(lota_parse_size("64MiBxxx", 5, &v), 0);
	CU_ASSERT_EQUAL(v, 64ull << 20);
	CU_ASSERT_EQUAL(lota_parse_size("12", 1, &v), 0);
	CU_ASSERT_EQUAL(v, 1);
	CU_ASSERT_EQUAL(lota_parse_size(NULL, 0, &v), LOTA_E_CONFIG_VALUE);
}

static void test_parse_duration(void)
{
	static const struct {
		const char *s;
		int64_t ms;
	} ok[] = {
	    {"15s", 15000},
	    {"250ms", 250},
	    {"2m", 120000},
	    {"1h", 3600000},
	    {"1d", 86400000},
	    {"15", 15000},
	    {"0", 0},
	    {"1.5s", 1500},
	    {"0.001s", 1},
	    {"1.5", 1500},
	    {"10 ms", 10},
	    {"0.5m", 30000},
	    {"9223372036854775s", 9223372036854775000ll},
	    {"9223372036854775807ms", INT64_MAX},
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		int64_t ms = -1;
		CU_ASSERT_EQUAL(lota_parse_duration_ms(ok[i].s, strlen(ok[i].s), &ms), 0);
		CU_ASSERT_EQUAL(ms, ok[i].ms);
	}
	static const char *const bad[] = {"",
	                                  "-1s",
	                                  "-0",
	                                  "1x",
	                                  "1S",
	                                  "s",
	                                  "1.5ms",
	                                  "0.0001s",
	                                  "1h30m",
	                                  "1 h ",
	                                  " 1s",
	                                  "1e3s",
	                                  "9223372036854776s",
	                                  "99999999999999999999d",
	                                  "5 sec"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int64_t ms = 77;
		int rc = lota_parse_duration_ms(bad[i], strlen(bad[i]), &ms);
		if (rc != LOTA_E_CONFIG_VALUE)
			fprintf(stderr, "\n  duration \"%s\" accepted as %lld\n", bad[i],
			        (long long)ms);
		CU_ASSERT_EQUAL(rc, LOTA_E_CONFIG_VALUE);
		CU_ASSERT_EQUAL(ms, 77);
	}
}

static void test_parse_bool_and_format(void)
{
	static const char *const t[] = {"true", "TRUE", "yes", "on", "1"};
	static const char *const f[] = {"false", "No", "off", "0"};
	static const char *const bad[] = {"", "maybe", "2", "truee", "t", "y"};
	bool b;
	for (size_t i = 0; i < 5; i++) {
		b = false;
		CU_ASSERT(lota_parse_bool(t[i], strlen(t[i]), &b) == 0 && b);
	}
	for (size_t i = 0; i < 4; i++) {
		b = true;
		CU_ASSERT(lota_parse_bool(f[i], strlen(f[i]), &b) == 0 && !b);
	}
	for (size_t i = 0; i < 6; i++)
		CU_ASSERT_EQUAL(lota_parse_bool(bad[i], strlen(bad[i]), &b), LOTA_E_CONFIG_VALUE);
	char buf[32];
	lota_format_size(64ull << 20, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "64MiB");
	lota_format_size(4097, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "4097");
	lota_format_size(0, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "0");
	lota_format_size(UINT64_MAX, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "18446744073709551615");
	lota_format_duration_ms(90000, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "90s");
	lota_format_duration_ms(7200000, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "2h");
	lota_format_duration_ms(250, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "250ms");
	lota_format_duration_ms(0, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "0s");
	/* format -> parse round trip over many values. */
	for (uint64_t v = 1; v < (1ull << 62); v = v * 3 + 1) {
		uint64_t back;
		int64_t ms;
		lota_format_size(v << 1, buf, sizeof(buf));
		CU_ASSERT(lota_parse_size(buf, strlen(buf), &back) == 0 && back == v << 1);
		lota_format_duration_ms((int64_t)v, buf, sizeof(buf));
		CU_ASSERT(lota_parse_duration_ms(buf, strlen(buf), &ms) == 0 && ms == (int64_t)v);
	}
}

/* ---- defaults, JSON ----------------------------------------------------------------- */

static void test_defaults(void)
{
	lota_config *c = new_cfg();
	CU_ASSERT_STRING_EQUAL(lota_config_get_string(c, "listen"), "127.0.0.1:7070");
	CU_ASSERT_PTR_NULL(lota_config_get_string(c, "config"));
	CU_ASSERT_EQUAL(lota_config_get_int(c, "workers"), 4);
	CU_ASSERT_EQUAL(lota_config_get_int(c, "offset"), -5);
	CU_ASSERT_EQUAL(lota_config_get_size(c, "extent_size"), 64ull << 20);
	CU_ASSERT_EQUAL(lota_config_get_duration_ms(c, "fill_timeout"), 15000);
	CU_ASSERT_EQUAL(lota_config_get_duration_ms(c, "metadata_ttl"), 0);
	CU_ASSERT(lota_config_get_bool(c, "prestage_on_head"));
	CU_ASSERT(!lota_config_get_bool(c, "tls"));
	const char *const *items;
	CU_ASSERT_EQUAL(lota_config_get_list(c, "peers", &items), 0);
	CU_ASSERT_EQUAL(lota_config_get_list(c, "cache_dirs", &items), 2);
	CU_ASSERT_STRING_EQUAL(items[0], "/a");
	CU_ASSERT_STRING_EQUAL(items[1], "/b");
	CU_ASSERT(!lota_config_is_set(c, "workers"));
	CU_ASSERT_STRING_EQUAL(lota_config_error(c), "");
	lota_config_free(c);
	lota_config_free(NULL);
}

static void test_json_all_types(void)
{
	lota_config *c = new_cfg();
	int rc = load(c, "{\n"
	                 "  \"listen\": \"0.0.0.0:9000\",\n"
	                 "  \"workers\": 16,\n"
	                 "  \"extent_size\": \"128MiB\",\n"
	                 "  \"min_object_size\": 1048576,\n"
	                 "  \"metadata_ttl\": \"250ms\",\n"
	                 "  \"fill_timeout\": 2.5,\n"
	                 "  \"prestage_on_head\": false,\n"
	                 "  \"tls\": \"yes\",\n"
	                 "  \"peers\": [\"n1:7071\", \"n2:7071\"],\n"
	                 "  \"offset\": \"-10\",\n"
	                 "  \"upstream\": \"http://127.0.0.1:8000\"\n"
	                 "}\n");
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	CU_ASSERT_STRING_EQUAL(lota_config_get_string(c, "listen"), "0.0.0.0:9000");
	CU_ASSERT_EQUAL(lota_config_get_int(c, "workers"), 16);
	CU_ASSERT_EQUAL(lota_config_get_int(c, "offset"), -10);
	CU_ASSERT_EQUAL(lota_config_get_size(c, "extent_size"), 128ull << 20);
	CU_ASSERT_EQUAL(lota_config_get_size(c, "min_object_size"), 1048576);
	CU_ASSERT_EQUAL(lota_config_get_duration_ms(c, "metadata_ttl"), 250);
	CU_ASSERT_EQUAL(lota_config_get_duration_ms(c, "fill_timeout"), 2500);
	CU_ASSERT(!lota_config_get_bool(c, "prestage_on_head"));
	CU_ASSERT(lota_config_get_bool(c, "tls"));
	const char *const *items;
	CU_ASSERT_EQUAL(lota_config_get_list(c, "peers", &items), 2);
	CU_ASSERT_STRING_EQUAL(items[1], "n2:7071");
	CU_ASSERT(lota_config_is_set(c, "workers"));
	CU_ASSERT(!lota_config_is_set(c, "cache_dirs"));
	/* A second load only changes what it names; null restores the default. */
	CU_ASSERT_EQUAL(load(c, "{\"workers\": null, \"peers\": [], \"listen\": null}"), 0);
	CU_ASSERT_EQUAL(lota_config_get_int(c, "workers"), 4);
	CU_ASSERT(!lota_config_is_set(c, "workers"));
	CU_ASSERT_STRING_EQUAL(lota_config_get_string(c, "listen"), "127.0.0.1:7070");
	CU_ASSERT_EQUAL(lota_config_get_list(c, "peers", &items), 0);
	CU_ASSERT_EQUAL(lota_config_get_size(c, "extent_size"), 128ull << 20);
	/* Bounds at the edges are inclusive. */
	CU_ASSERT_EQUAL(load(c, "{\"workers\": 1, \"extent_size\": \"1TiB\"}"), 0);
	CU_ASSERT_EQUAL(load(c, "{\"workers\": \"1024\", \"extent_size\": 1048576}"), 0);
	CU_ASSERT_EQUAL(load(c, "{\"fill_timeout\": \"100d\"}"), 0); /* only a minimum */
	CU_ASSERT_EQUAL(load(c, "{}"), 0);
	CU_ASSERT_EQUAL(load(c, " \n{}\n\n"), 0);
	lota_config_free(c);
}

static void test_json_errors(void)
{
	static const struct {
		const char *json;
		int rc;
		const char *msg;
	} cases[] = {
	    {"{\"extent_size\": \"64XB\"}", LOTA_E_CONFIG_VALUE,
	     "config key \"extent_size\": \"64XB\" is not a size (use a number with B, KiB, "
	     "MiB, GiB or TiB)"},
	    {"{\"extnet_size\": 1}", LOTA_E_CONFIG_UNKNOWN_KEY,
	     "unknown config key \"extnet_size\" (did you mean \"extent_size\"?)"},
	    {"{\"zzzzzzzz\": 1}", LOTA_E_CONFIG_UNKNOWN_KEY, "unknown config key \"zzzzzzzz\""},
	    {"{\"extent-size\": 1}", LOTA_E_CONFIG_UNKNOWN_KEY,
	     "unknown config key \"extent-size\" (did you mean \"extent_size\"?)"},
	    {"{\n\"workers\": 4,\n\"listen\" \"x\"\n}", LOTA_E_CONFIG_SYNTAX,
	     "config: line 3: syntax error at column 10"},
	    {"", LOTA_E_CONFIG_SYNTAX, "config: line 1: syntax error at column 1"},
	    {"{} x", LOTA_E_CONFIG_SYNTAX,
	     "config: line 1: syntax error at column 4 (text after the JSON object)"},
	    {"[1]", LOTA_E_CONFIG_TYPE, "config: the top level is an array, not a JSON object"},
	    {"{\"workers\": 0}", LOTA_E_CONFIG_VALUE,
	     "config key \"workers\": 0 is below the minimum 1"},
	    {"{\"workers\": 2000}", LOTA_E_CONFIG_VALUE,
	     "config key \"workers\": 2000 is above the maximum 1024"},
	    {"{\"workers\": 1.5}", LOTA_E_CONFIG_VALUE,
	     "config key \"workers\": 1.5 is not an integer"},
	    {"{\"workers\": \"four\"}", LOTA_E_CONFIG_VALUE,
	     "config key \"workers\": \"four\" is not an integer"},
	    {"{\"workers\": \"99999999999999999999\"}", LOTA_E_CONFIG_VALUE,
	     "config key \"workers\": \"99999999999999999999\" is too large"},
	    {"{\"workers\": true}", LOTA_E_CONFIG_TYPE,
	     "config key \"workers\": expected an integer, got a boolean"},
	    {"{\"offset\": -11}", LOTA_E_CONFIG_VALUE,
	     "config key \"offset\": -11 is below the minimum -10"},
	    {"{\"extent_size\": \"1KiB\"}", LOTA_E_CONFIG_VALUE,
	     "config key \"extent_size\": 1KiB is below the minimum 1MiB"},
	    {"{\"extent_size\": \"2TiB\"}", LOTA_E_CONFIG_VALUE,
	     "config key \"extent_size\": 2TiB is above the maximum 1TiB"},
	    {"{\"extent_size\": \"18446744073709551615\"}", LOTA_E_CONFIG_VALUE,
	     "config key \"extent_size\": the value is above the maximum 1TiB"},
	    {"{\"extent_size\": -1}", LOTA_E_CONFIG_VALUE,
	     "config key \"extent_size\": -1 is negative"},
	    {"{\"extent_size\": 1.5}", LOTA_E_CONFIG_VALUE,
	     "config key \"extent_size\": 1.5 is not a whole number of bytes"},
	    {"{\"min_object_size\": 1e300}", LOTA_E_CONFIG_VALUE,
	     "config key \"min_object_size\": 1.0000000000000001e+300 is too large for a JSON "
	     "number (write it as a string)"},
	    {"{\"extent_size\": \"-64MiB\"}", LOTA_E_CONFIG_VALUE,
	     "config key \"extent_size\": \"-64MiB\" is negative"},
	    {"{\"extent_size\": [1]}", LOTA_E_CONFIG_TYPE,
	     "config key \"extent_size\": expected a size (a number of bytes or a string like "
	     "\"64MiB\"), got an array"},
	    {"{\"fill_timeout\": \"5x\"}", LOTA_E_CONFIG_VALUE,
	     "config key \"fill_timeout\": \"5x\" is not a duration (use a number with ms, s, "
	     "m, h or d)"},
	    {"{\"fill_timeout\": \"500ms\"}", LOTA_E_CONFIG_VALUE,
	     "config key \"fill_timeout\": 500ms is below the minimum 1s"},
	    {"{\"fill_timeout\": 0.0001}", LOTA_E_CONFIG_VALUE,
	     "config key \"fill_timeout\": 0.0001 is not a whole number of milliseconds"},
	    {"{\"metadata_ttl\": -1}", LOTA_E_CONFIG_VALUE,
	     "config key \"metadata_ttl\": -1 is negative"},
	    {"{\"tls\": \"maybe\"}", LOTA_E_CONFIG_VALUE,
	     "config key \"tls\": \"maybe\" is not a boolean (use true or false)"},
	    {"{\"tls\": 1}", LOTA_E_CONFIG_TYPE,
	     "config key \"tls\": expected a boolean (true or false), got a number"},
	    {"{\"listen\": 80}", LOTA_E_CONFIG_TYPE,
	     "config key \"listen\": expected a string, got a number"},
	    {"{\"listen\": {}}", LOTA_E_CONFIG_TYPE,
	     "config key \"listen\": expected a string, got an object"},
	    {"{\"peers\": \"n1\"}", LOTA_E_CONFIG_TYPE,
	     "config key \"peers\": expected an array of strings, got a string"},
	    {"{\"peers\": [\"a\", 2]}", LOTA_E_CONFIG_TYPE,
	     "config key \"peers\": item 1 is a number, expected a string"},
	    {"{\"workers\": 2, \"workers\": 3}", LOTA_E_CONFIG_VALUE,
	     "config key \"workers\": appears twice"},
	    {"{\"bad\\nkey\": 1}", LOTA_E_CONFIG_UNKNOWN_KEY, "unknown config key \"bad\\x0akey\""},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		lota_config *c = new_cfg();
		int rc = load(c, cases[i].json);
		if (rc != cases[i].rc || strcmp(lota_config_error(c), cases[i].msg) != 0)
			fprintf(stderr, "\n  case %zu: rc %d, message: %s\n", i, rc,
			        lota_config_error(c));
		CU_ASSERT_EQUAL(rc, cases[i].rc);
		ERR_IS(c, cases[i].msg);
		/* Nothing changed. */
		CU_ASSERT_EQUAL(lota_config_get_int(c, "workers"), 4);
		CU_ASSERT(!lota_config_is_set(c, "workers"));
		lota_config_free(c);
	}
	/* Embedded NUL, oversized input, and the NUL-free (ptr,len) contract. */
	lota_config *c = new_cfg();
	CU_ASSERT_EQUAL(lota_config_load_json(c, "{\"workers\": 8}\0", 15), LOTA_E_CONFIG_SYNTAX);
	ERR_IS(c, "config: line 1: syntax error (a NUL byte)");
	CU_ASSERT_EQUAL(lota_config_load_json(c, "{\"workers\": 8}garbage", 14), 0);
	CU_ASSERT_EQUAL(lota_config_get_int(c, "workers"), 8);
	size_t big = (1u << 20) + 1;
	char *b = malloc(big);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	memset(b, ' ', big);
	b[0] = '{';
	b[big - 1] = '}';
	CU_ASSERT_EQUAL(lota_config_load_json(c, b, big), LOTA_E_TOO_LARGE);
	CU_ASSERT_EQUAL(lota_config_load_json(c, b, big - 1 - 1), LOTA_E_CONFIG_SYNTAX);
	b[big - 2] = '}';
	CU_ASSERT_EQUAL(lota_config_load_json(c, b, big - 1), 0);
	free(b);
	CU_ASSERT_EQUAL(lota_config_get_int(c, "workers"), 8);
	lota_config_free(c);
}

static void test_all_or_nothing(void)
{
	lota_config *c = new_cfg();
	CU_ASSERT_EQUAL_FATAL(load(c, "{\"workers\": 8, \"peers\": [\"a\"], \"listen\": \"x:1\"}"),
	                      0);
	/* Valid keys before the bad one must not be applied. */
	CU_ASSERT_EQUAL(load(c, "{\"workers\": 9, \"peers\": [\"b\", \"c\"], \"listen\": \"y:2\", "
	                        "\"secret_key\": \"s\", \"extent_size\": \"lots\"}"),
	                LOTA_E_CONFIG_VALUE);
	CU_ASSERT_EQUAL(lota_config_get_int(c, "workers"), 8);
	CU_ASSERT_STRING_EQUAL(lota_config_get_string(c, "listen"), "x:1");
	const char *const *items;
	CU_ASSERT_EQUAL(lota_config_get_list(c, "peers", &items), 1);
	CU_ASSERT_STRING_EQUAL(items[0], "a");
	CU_ASSERT(!lota_config_is_set(c, "secret_key"));
	/* The same for flags. */
	int pos;
	CU_ASSERT_EQUAL(args(c, &pos, NULL, "--workers", "10", "--peers", "z", "--tls",
	                     "--extent-size", "0", NULL),
	                LOTA_E_CONFIG_VALUE);
	CU_ASSERT_EQUAL(lota_config_get_int(c, "workers"), 8);
	CU_ASSERT_EQUAL(lota_config_get_list(c, "peers", &items), 1);
	CU_ASSERT(!lota_config_is_set(c, "tls"));
	/* The error of the failed load stays readable; a success clears it. */
	ERR_IS(c, "flag --extent-size: 0 is below the minimum 1MiB");
	CU_ASSERT_EQUAL(load(c, "{}"), 0);
	ERR_IS(c, "");
	lota_config_free(c);
}

/* ---- files -------------------------------------------------------------------------- */

static char tmpdir[64];

static const char *write_tmp(const char *name, const char *text)
{
	static char path[128];
	if (!tmpdir[0]) {
		snprintf(tmpdir, sizeof(tmpdir), "/tmp/lota-test-config-XXXXXX");
		CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(tmpdir));
	}
	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	FILE *f = fopen(path, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs(text, f);
	fclose(f);
	return path;
}

static void rm_tmp(const char *name)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	unlink(path);
}

static void test_files(void)
{
	lota_config *c = new_cfg();
	const char *p = write_tmp("ok.json", "{\"workers\": 12, \"extent_size\": \"8MiB\"}");
	CU_ASSERT_EQUAL(lota_config_load_file(c, p), 0);
	CU_ASSERT_EQUAL(lota_config_get_int(c, "workers"), 12);
	char want[512];
	p = write_tmp("bad.json", "{\n  \"workers\": 3,\n  \"listen\": ,\n}\n");
	CU_ASSERT_EQUAL(lota_config_load_file(c, p), LOTA_E_CONFIG_SYNTAX);
	snprintf(want, sizeof(want), "config file %s: line 3: syntax error at column 13", p);
	ERR_IS(c, want);
	p = write_tmp("badkey.json", "{\"workers\": 3, \"wokrers\": 4}");
	CU_ASSERT_EQUAL(lota_config_load_file(c, p), LOTA_E_CONFIG_UNKNOWN_KEY);
	snprintf(want, sizeof(want),
	         "config file %s: unknown config key \"wokrers\" (did you mean \"workers\"?)", p);
	ERR_IS(c, want);
	p = write_tmp("badval.json", "{\"workers\": 3, \"extent_size\": \"64XB\"}");
	CU_ASSERT_EQUAL(lota_config_load_file(c, p), LOTA_E_CONFIG_VALUE);
	snprintf(want, sizeof(want),
	         "config file %s: config key \"extent_size\": \"64XB\" is not a size (use a "
	         "number with B, KiB, MiB, GiB or TiB)",
	         p);
	ERR_IS(c, want);
	CU_ASSERT_EQUAL(lota_config_get_int(c, "workers"), 12);
	snprintf(want, sizeof(want), "%s/missing.json", tmpdir);
	CU_ASSERT_EQUAL(lota_config_load_file(c, want), -ENOENT);
	CU_ASSERT_PTR_NOT_NULL(strstr(lota_config_error(c), "missing.json: No such file"));
	CU_ASSERT_EQUAL(lota_config_load_file(c, tmpdir), -EISDIR);
	CU_ASSERT_EQUAL(lota_config_load_file(c, NULL), -EINVAL);
	CU_ASSERT_EQUAL(lota_config_get_size(c, "extent_size"), 8ull << 20);
	rm_tmp("ok.json");
	rm_tmp("bad.json");
	rm_tmp("badkey.json");
	rm_tmp("badval.json");
	lota_config_free(c);
}

/* ---- flags -------------------------------------------------------------------------- */

static void test_flag_forms(void)
{
	lota_config *c = new_cfg();
	int pos = -1;
	CU_ASSERT_EQUAL_FATAL(args(c, &pos, NULL, "--workers=8", "--extent-size", "2MiB",
	                           "--fill_timeout=1m", "-l", "h:1", "--no-prestage-on-head",
	                           "--tls", "--upstream", "http://u", NULL),
	                      0);
	CU_ASSERT_EQUAL(pos, 11);
	CU_ASSERT_EQUAL(lota_config_get_int(c, "workers"), 8);
	CU_ASSERT_EQUAL(lota_config_get_size(c, "extent_size"), 2ull << 20);
	CU_ASSERT_EQUAL(lota_config_get_duration_ms(c, "fill_timeout"), 60000);
	CU_ASSERT_STRING_EQUAL(lota_config_get_string(c, "listen"), "h:1");
	CU_ASSERT(!lota_config_get_bool(c, "prestage_on_head"));
	CU_ASSERT(lota_config_get_bool(c, "tls"));
	/* Bool forms: --x=false, --x=true, -t; short value forms -w16 / -w=17. */
	CU_ASSERT_EQUAL(args(c, &pos, NULL, "--tls=false", "--prestage-on-head=yes", NULL), 0);
	CU_ASSERT(!lota_config_get_bool(c, "tls"));
	CU_ASSERT(lota_config_get_bool(c, "prestage_on_head"));
	CU_ASSERT_EQUAL(args(c, &pos, NULL, "-t", "-w16", NULL), 0);
	CU_ASSERT(lota_config_get_bool(c, "tls"));
	CU_ASSERT_EQUAL(lota_config_get_int(c, "workers"), 16);
	CU_ASSERT_EQUAL(args(c, &pos, NULL, "-w=17", "--offset", "-3", NULL), 0);
	CU_ASSERT_EQUAL(lota_config_get_int(c, "workers"), 17);
	CU_ASSERT_EQUAL(lota_config_get_int(c, "offset"), -3);
	/* Empty string values are values. */
	CU_ASSERT_EQUAL(args(c, &pos, NULL, "--listen=", NULL), 0);
	CU_ASSERT_STRING_EQUAL(lota_config_get_string(c, "listen"), "");
	lota_config_free(c);
}

static void test_flag_errors(void)
{
	static const struct {
		const char *a[4];
		const char *msg;
	} cases[] = {
	    {{"--workers", "0"}, "flag --workers: 0 is below the minimum 1"},
	    {{"-w", "0"}, "flag -w: 0 is below the minimum 1"},
	    {{"--workers=abc"}, "flag --workers: \"abc\" is not an integer"},
	    {{"--workers"}, "flag --workers: missing value"},
	    {{"-l"}, "flag -l: missing value"},
	    {{"--listen", "--workers", "3"}, "flag --listen: missing value HOST:PORT"},
	    {{"--extnet-size", "1"}, "unknown flag --extnet-size (did you mean --extent-size?)"},
	    {{"--bogus"}, "unknown flag --bogus"},
	    {{"-x"}, "unknown flag -x"},
	    {{"--no-workers"}, "unknown flag --no-workers (did you mean --workers?)"},
	    {{"--no-tls=1"}, "flag --no-tls does not take a value"},
	    {{"--tls=maybe"}, "flag --tls: \"maybe\" is not a boolean (use true or false)"},
	    {{"-tx"}, "flag -t does not take a value (use --tls=x)"},
	    {{"--extent-size", "64XB"},
	     "flag --extent-size: \"64XB\" is not a size (use a number with B, KiB, MiB, GiB or "
	     "TiB)"},
	    {{"--fill-timeout=-1s"}, "flag --fill-timeout: \"-1s\" is negative"},
	    {{"--help"}, "unknown flag --help"},
	    {{"stray"}, "unexpected argument \"stray\""},
	    {{"--workers", "2", "--", "x"}, "unexpected argument \"x\""},
	    {{"--config"}, "flag --config: missing value FILE"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		lota_config *c = new_cfg();
		int rc =
		    args(c, NULL, NULL, cases[i].a[0], cases[i].a[1], cases[i].a[2], cases[i].a[3]);
		if (strcmp(lota_config_error(c), cases[i].msg) != 0)
			fprintf(stderr, "\n  case %zu: rc %d, message: %s\n", i, rc,
			        lota_config_error(c));
		CU_ASSERT(rc == LOTA_E_CONFIG_FLAG || rc == LOTA_E_CONFIG_VALUE);
		ERR_IS(c, cases[i].msg);
		CU_ASSERT_EQUAL(lota_config_get_int(c, "workers"), 4);
		lota_config_free(c);
	}
	/* Flag errors use LOTA_E_CONFIG_FLAG; bad values LOTA_E_CONFIG_VALUE. */
	lota_config *c = new_cfg();
	CU_ASSERT_EQUAL(args(c, NULL, NULL, "--bogus", NULL), LOTA_E_CONFIG_FLAG);
	CU_ASSERT_EQUAL(args(c, NULL, NULL, "--workers", NULL), LOTA_E_CONFIG_FLAG);
	CU_ASSERT_EQUAL(args(c, NULL, NULL, "--workers=0", NULL), LOTA_E_CONFIG_VALUE);
	lota_config_free(c);
}

static void test_positional_and_help(void)
{
	lota_config *c = new_cfg();
	int pos = -1;
	bool help = true;
	CU_ASSERT_EQUAL(args(c, &pos, &help, "-w", "5", "serve", "--workers", "6", NULL), 0);
	CU_ASSERT_EQUAL(pos, 3); /* parsing stops at the first positional */
	CU_ASSERT(!help);
	CU_ASSERT_EQUAL(lota_config_get_int(c, "workers"), 5);
	CU_ASSERT_EQUAL(args(c, &pos, NULL, "--workers", "7", "--", "--workers", "8", NULL), 0);
	CU_ASSERT_EQUAL(pos, 4);
	CU_ASSERT_EQUAL(lota_config_get_int(c, "workers"), 7);
	CU_ASSERT_EQUAL(args(c, &pos, NULL, "-", NULL), 0);
	CU_ASSERT_EQUAL(pos, 1);
	CU_ASSERT_EQUAL(args(c, &pos, NULL, NULL), 0);
	CU_ASSERT_EQUAL(pos, 1);
	/* --help / -h stop and apply nothing. */
	CU_ASSERT_EQUAL(args(c, &pos, &help, "--workers", "9", "--help", "--bogus", NULL), 0);
	CU_ASSERT(help);
	CU_ASSERT_EQUAL(lota_config_get_int(c, "workers"), 7);
	help = false;
	CU_ASSERT_EQUAL(args(c, &pos, &help, "-h", NULL), 0);
	CU_ASSERT(help);
	CU_ASSERT_EQUAL(lota_config_parse_args(c, 0, NULL, NULL, NULL, NULL), 0);
	lota_config_free(c);
}

static void test_precedence_and_lists(void)
{
	lota_config *c = new_cfg();
	const char *p = write_tmp("prec.json", "{\"workers\": 12, \"listen\": \"file:1\", "
	                                       "\"peers\": [\"f1\", \"f2\"], \"tls\": true}");
	char path[128];
	snprintf(path, sizeof(path), "%s", p);
	/* --config comes last on the command line, yet flags still win over the file. */
	CU_ASSERT_EQUAL_FATAL(args(c, NULL, NULL, "--workers", "20", "-p", "x1", "--peers=x2",
	                           "--config", path, NULL),
	                      0);
	CU_ASSERT_EQUAL(lota_config_get_int(c, "workers"), 20);                /* flag */
	CU_ASSERT_STRING_EQUAL(lota_config_get_string(c, "listen"), "file:1"); /* file */
	CU_ASSERT_EQUAL(lota_config_get_size(c, "extent_size"), 64ull << 20);  /* default */
	CU_ASSERT_STRING_EQUAL(lota_config_get_string(c, "config"), path);
	CU_ASSERT(lota_config_get_bool(c, "tls"));
	const char *const *items;
	/* Flags replace the file's list as a whole, then accumulate. */
	CU_ASSERT_EQUAL(lota_config_get_list(c, "peers", &items), 2);
	CU_ASSERT_STRING_EQUAL(items[0], "x1");
	CU_ASSERT_STRING_EQUAL(items[1], "x2");
	/* Without list flags the file's list stays; the default list is replaced too. */
	CU_ASSERT_EQUAL(args(c, NULL, NULL, "-c", path, "--cache-dirs", "/n", NULL), 0);
	CU_ASSERT_EQUAL(lota_config_get_list(c, "peers", &items), 2);
	CU_ASSERT_STRING_EQUAL(items[0], "f1");
	CU_ASSERT_EQUAL(lota_config_get_list(c, "cache_dirs", &items), 1);
	CU_ASSERT_STRING_EQUAL(items[0], "/n");
	CU_ASSERT_EQUAL(lota_config_get_int(c, "workers"), 12); /* file over the old flag */
	/* --no-LIST clears; later flags add again. */
	CU_ASSERT_EQUAL(args(c, NULL, NULL, "--no-peers", NULL), 0);
	CU_ASSERT_EQUAL(lota_config_get_list(c, "peers", &items), 0);
	CU_ASSERT_EQUAL(args(c, NULL, NULL, "--no-peers", "-p", "a", "-pb", NULL), 0);
	CU_ASSERT_EQUAL(lota_config_get_list(c, "peers", &items), 2);
	CU_ASSERT_STRING_EQUAL(items[1], "b");
	/* A bad config file named by a flag fails the whole parse. */
	const char *bad = write_tmp("prec-bad.json", "{\"workers\": 0}");
	snprintf(path, sizeof(path), "%s", bad);
	CU_ASSERT_EQUAL(args(c, NULL, NULL, "--workers", "30", "--config", path, NULL),
	                LOTA_E_CONFIG_VALUE);
	char want[256];
	snprintf(want, sizeof(want),
	         "config file %s: config key \"workers\": 0 is below the "
	         "minimum 1",
	         path);
	ERR_IS(c, want);
	CU_ASSERT_EQUAL(lota_config_get_int(c, "workers"), 12);
	CU_ASSERT_EQUAL(args(c, NULL, NULL, "--config", "/nonexistent/x.json", NULL), -ENOENT);
	ERR_IS(c, "config file /nonexistent/x.json: No such file or directory");
	rm_tmp("prec.json");
	rm_tmp("prec-bad.json");
	lota_config_free(c);
}

static void test_required(void)
{
	lota_config *c = new_cfg();
	CU_ASSERT_EQUAL(lota_config_validate(c), LOTA_E_CONFIG_MISSING);
	ERR_IS(c, "config key \"upstream\" is required (set it in the config file or with "
	          "--upstream URL)");
	CU_ASSERT_EQUAL(args(c, NULL, NULL, "--upstream=http://127.0.0.1:8000", NULL), 0);
	CU_ASSERT_EQUAL(lota_config_validate(c), 0);
	ERR_IS(c, "");
	/* A required list needs an item. */
	static const lota_config_key rk[] = {
	    {"peers", LOTA_CONFIG_LIST, NULL, 0, 0, true, false, 0, NULL, "peers"},
	    {"on", LOTA_CONFIG_BOOL, NULL, 0, 0, true, false, 0, NULL, "flag"},
	};
	lota_config *r = lota_config_new(rk, 2);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_EQUAL(lota_config_load_json(r, "{\"peers\": []}", 13), 0);
	CU_ASSERT_EQUAL(lota_config_validate(r), LOTA_E_CONFIG_MISSING);
	ERR_IS(r, "config key \"peers\" is required (set it in the config file or with --peers "
	          "VALUE)");
	CU_ASSERT_EQUAL(lota_config_load_json(r, "{\"peers\": [\"a\"]}", 16), 0);
	CU_ASSERT_EQUAL(lota_config_validate(r), LOTA_E_CONFIG_MISSING);
	ERR_IS(r, "config key \"on\" is required (set it in the config file or with --on)");
	CU_ASSERT_EQUAL(lota_config_load_json(r, "{\"on\": false}", 13), 0);
	CU_ASSERT_EQUAL(lota_config_validate(r), 0);
	lota_config_free(r);
	lota_config_free(c);
}

/* The --help text or the dump as a malloc'd string. Written to a temporary file and read
 * back, rather than through open_memstream(): that would hand the address of a local
 * (the buffer pointer) to the stream, and gcc 12 at -O2/-O3 then sees every later use of
 * the result as a possible use of that local after it went out of scope. */
static char *capture(lota_config *c, int dump)
{
	FILE *f = tmpfile();
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	if (dump)
		lota_config_dump(c, f);
	else
		lota_config_print_help(c, f, "lotad [OPTIONS]");
	long len = ftell(f);
	char *buf = len >= 0 ? malloc((size_t)len + 1) : NULL;
	if (buf) {
		rewind(f);
		if (fread(buf, 1, (size_t)len, f) == (size_t)len) {
			buf[len] = '\0';
		} else {
			free(buf);
			buf = NULL;
		}
	}
	fclose(f);
	CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
	return buf;
}

static void test_help(void)
{
	lota_config *c = new_cfg();
	char *h = capture(c, 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(h, "Usage: lotad [OPTIONS]"));
	CU_ASSERT_PTR_NOT_NULL(strstr(h, "-h, --help"));
	for (size_t i = 0; i < NKEYS; i++) {
		char flag[64];
		snprintf(flag, sizeof(flag), "--%s", keys[i].name);
		for (char *q = flag; *q; q++)
			*q = *q == '_' ? '-' : *q;
		if (keys[i].type == LOTA_CONFIG_BOOL)
			snprintf(flag, sizeof(flag), "--[no-]%s", keys[i].name);
		for (char *q = flag; *q; q++)
			*q = *q == '_' ? '-' : *q;
		const char *line = strstr(h, flag);
		CU_ASSERT_PTR_NOT_NULL_FATAL(line);
		const char *eol = strchr(line, '\n');
		if (eol && strlen(line) > 40 && eol - line < 40) /* help wrapped to next line */
			eol = strchr(eol + 1, '\n');
		size_t ll = eol ? (size_t)(eol - line) : strlen(line);
		char one[512];
		snprintf(one, sizeof(one), "%.*s", (int)ll, line);
		CU_ASSERT_PTR_NOT_NULL(strstr(one, keys[i].help));
		if (keys[i].metavar)
			CU_ASSERT_PTR_NOT_NULL(strstr(one, keys[i].metavar));
		if (keys[i].short_flag) {
			char sf[8];
			snprintf(sf, sizeof(sf), "-%c, --", keys[i].short_flag);
			CU_ASSERT_PTR_NOT_NULL(strstr(h, sf));
		}
		if (keys[i].def && !keys[i].secret) {
			char d[128];
			snprintf(d, sizeof(d), "(default: %s)", keys[i].def);
			CU_ASSERT_PTR_NOT_NULL(strstr(one, d));
		}
	}
	CU_ASSERT_PTR_NOT_NULL(strstr(h, "--extent-size SIZE"));
	CU_ASSERT_PTR_NOT_NULL(strstr(h, "--workers N"));
	CU_ASSERT_PTR_NOT_NULL(strstr(h, "(required)"));
	CU_ASSERT_PTR_NOT_NULL(strstr(h, "(repeatable)"));
	CU_ASSERT_PTR_NULL(strstr(h, "hunter2"));
	free(h);
	lota_config_free(c);
}

static void test_dump(void)
{
	lota_config *c = new_cfg();
	CU_ASSERT_EQUAL_FATAL(args(c, NULL, NULL, "--secret-key", "s3cr3t-value", "-p", "n\"1",
	                           "--workers", "9", "--fill-timeout", "90s", NULL),
	                      0);
	char *d = capture(c, 1);
	CU_ASSERT_PTR_NULL(strstr(d, "s3cr3t"));
	CU_ASSERT_PTR_NULL(strstr(d, "hunter2"));
	CU_ASSERT_PTR_NOT_NULL(strstr(d, "\"secret_key\":\t\"REDACTED\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(d, "\"extent_size\":\t\"64MiB\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(d, "\"fill_timeout\":\t\"90s\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(d, "\"upstream\":\tnull"));
	/* Loading the dump into a fresh config gives the same values (secret aside). */
	lota_config *c2 = new_cfg();
	CU_ASSERT_EQUAL(load(c2, d), 0);
	CU_ASSERT_EQUAL(lota_config_get_int(c2, "workers"), 9);
	CU_ASSERT_EQUAL(lota_config_get_duration_ms(c2, "fill_timeout"), 90000);
	const char *const *items;
	CU_ASSERT_EQUAL(lota_config_get_list(c2, "peers", &items), 1);
	CU_ASSERT_STRING_EQUAL(items[0], "n\"1");
	CU_ASSERT_EQUAL(lota_config_get_size(c2, "extent_size"), 64ull << 20);
	CU_ASSERT_STRING_EQUAL(lota_config_get_string(c2, "secret_key"), "REDACTED");
	free(d);
	/* Secret values never show in error messages either. */
	static const lota_config_key sk[] = {
	    {"token_bytes", LOTA_CONFIG_SIZE, NULL, 0, 0, false, true, 0, NULL, "secret size"},
	};
	lota_config *s = lota_config_new(sk, 1);
	CU_ASSERT_EQUAL(lota_config_load_json(s, "{\"token_bytes\": \"TOPSECRET\"}", 28),
	                LOTA_E_CONFIG_VALUE);
	CU_ASSERT_PTR_NULL(strstr(lota_config_error(s), "TOPSECRET"));
	CU_ASSERT_PTR_NOT_NULL(strstr(lota_config_error(s), "the value is not a size"));
	lota_config_free(s);
	lota_config_free(c2);
	lota_config_free(c);
}

/* ---- misuse is an error, never an abort -------------------------------------------- */

/* A broken key table gives an empty config whose every load says why. */
static void expect_schema_error(const lota_config_key *k, size_t n, const char *msg)
{
	lota_config *c = lota_config_new(k, n);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	if (strcmp(lota_config_error(c), msg) != 0)
		fprintf(stderr, "\n  schema error: got '%s'\n  want '%s'\n", lota_config_error(c),
		        msg);
	ERR_IS(c, msg);
	CU_ASSERT_EQUAL(load(c, "{}"), LOTA_E_CONFIG_SCHEMA);
	ERR_IS(c, msg);
	CU_ASSERT_EQUAL(lota_config_load_file(c, "/nonexistent/lota.json"), LOTA_E_CONFIG_SCHEMA);
	bool help = true;
	int pos = -1;
	char *argv[] = {"prog", "--help", NULL};
	CU_ASSERT_EQUAL(lota_config_parse_args(c, 2, argv, NULL, &help, &pos),
	                LOTA_E_CONFIG_SCHEMA);
	CU_ASSERT_FALSE(help);
	CU_ASSERT_EQUAL(lota_config_validate(c), LOTA_E_CONFIG_SCHEMA);
	ERR_IS(c, msg);
	/* no key survives, so nothing half-built can be read */
	errno = 0;
	CU_ASSERT_EQUAL(lota_config_get_int(c, "workers"), 0);
	CU_ASSERT_EQUAL(errno, ENOENT);
	char *d = capture(c, 1);
	CU_ASSERT_STRING_EQUAL(d, "{\n}\n");
	free(d);
	lota_config_free(c);
}

static void test_broken_schema(void)
{
	static const lota_config_key dup[] = {
	    {"workers", LOTA_CONFIG_INT, "4", 0, 0, false, false, 0, NULL, "a"},
	    {"peers", LOTA_CONFIG_LIST, "x,y", 0, 0, false, true, 0, NULL, "b"},
	    {"workers", LOTA_CONFIG_INT, "5", 0, 0, false, false, 0, NULL, "c"},
	};
	expect_schema_error(dup, 3, "config schema: key \"workers\" is declared twice");
	static const lota_config_key shortdup[] = {
	    {"workers", LOTA_CONFIG_INT, "4", 0, 0, false, false, 'w', NULL, "a"},
	    {"weight", LOTA_CONFIG_INT, "4", 0, 0, false, false, 'w', NULL, "b"},
	};
	expect_schema_error(shortdup, 2,
	                    "config schema: short flag of key \"weight\" is taken by \"workers\"");
	static const lota_config_key badname[] = {
	    {"workers", LOTA_CONFIG_INT, "4", 0, 0, false, false, 0, NULL, "a"},
	    {"Bad-Name", LOTA_CONFIG_INT, NULL, 0, 0, false, false, 0, NULL, "b"},
	};
	expect_schema_error(badname, 2,
	                    "config schema: key 1 has an invalid name \"Bad-Name\" (use a-z, 0-9 "
	                    "and _)");
	static const lota_config_key noname[] = {
	    {NULL, LOTA_CONFIG_INT, NULL, 0, 0, false, false, 0, NULL, "a"},
	};
	expect_schema_error(noname, 1,
	                    "config schema: key 0 has an invalid name (null) (use a-z, 0-9 and _)");
	static const lota_config_key badtype[] = {
	    {"workers", (lota_config_type)99, NULL, 0, 0, false, false, 0, NULL, "a"},
	};
	expect_schema_error(badtype, 1, "config schema: key \"workers\" has an unknown type 99");
	static const lota_config_key baddef[] = {
	    {"extent_size", LOTA_CONFIG_SIZE, "64XB", 0, 0, false, false, 0, NULL, "a"},
	};
	expect_schema_error(baddef, 1,
	                    "config schema: default of config key \"extent_size\": \"64XB\" is "
	                    "not a size (use a number with B, KiB, MiB, GiB or TiB)");
	static const lota_config_key oob[] = {
	    {"workers", LOTA_CONFIG_INT, "0", 1, 8, false, false, 0, NULL, "a"},
	};
	expect_schema_error(oob, 1,
	                    "config schema: default of config key \"workers\": 0 is below the "
	                    "minimum 1");
	/* a list default that fails half-way (4097 items): the items read so far and the
	 * earlier keys' values are freed (the ASan build checks) */
	static char many[4097 * 2];
	for (size_t i = 0; i < 4097; i++)
		memcpy(many + 2 * i, "a,", 2);
	many[sizeof(many) - 1] = '\0';
	const lota_config_key toomany[] = {
	    {"tags", LOTA_CONFIG_LIST, "x,y", 0, 0, false, true, 0, NULL, "a"},
	    {"peers", LOTA_CONFIG_LIST, many, 0, 0, false, false, 0, NULL, "b"},
	};
	expect_schema_error(toomany, 2,
	                    "config schema: default of config key \"peers\": more than 4096 items");
	expect_schema_error(NULL, 2, "config schema: no key table for 2 keys");
	/* no keys at all is a valid (empty) table */
	lota_config *c = lota_config_new(NULL, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(load(c, "{}"), 0);
	CU_ASSERT_EQUAL(lota_config_validate(c), 0);
	lota_config_free(c);
}

/* config_key that is not a STRING key: the call fails, the config stays usable. */
static void test_bad_config_key(void)
{
	lota_config *c = new_cfg();
	char *argv[] = {"prog", "--workers", "3", NULL};
	CU_ASSERT_EQUAL(lota_config_parse_args(c, 3, argv, "workers", NULL, NULL),
	                LOTA_E_CONFIG_SCHEMA);
	ERR_IS(c, "config schema: the config file key \"workers\" is not a STRING key");
	CU_ASSERT_EQUAL(lota_config_parse_args(c, 3, argv, "nope", NULL, NULL),
	                LOTA_E_CONFIG_SCHEMA);
	ERR_IS(c, "config schema: the config file key \"nope\" is not a STRING key");
	CU_ASSERT_EQUAL(lota_config_get_int(c, "workers"), 4); /* nothing applied */
	CU_ASSERT_EQUAL(lota_config_parse_args(c, 3, argv, "config", NULL, NULL), 0);
	CU_ASSERT_EQUAL(lota_config_get_int(c, "workers"), 3);
	lota_config_free(c);
}

/* Getters asked for what does not exist: the zero value and errno, never an abort. */
static void test_getter_misuse(void)
{
	lota_config *c = new_cfg();
	errno = 0;
	CU_ASSERT_EQUAL(lota_config_get_int(c, "wrokers"), 0);
	CU_ASSERT_EQUAL(errno, ENOENT);
	errno = 0;
	CU_ASSERT_EQUAL(lota_config_get_size(c, "workers"), 0); /* an INT key */
	CU_ASSERT_EQUAL(errno, EINVAL);
	errno = 0;
	CU_ASSERT_FALSE(lota_config_get_bool(c, "workers"));
	CU_ASSERT_EQUAL(errno, EINVAL);
	errno = 0;
	CU_ASSERT_EQUAL(lota_config_get_duration_ms(c, "extent_size"), 0);
	CU_ASSERT_EQUAL(errno, EINVAL);
	errno = 0;
	CU_ASSERT_PTR_NULL(lota_config_get_string(c, "nope"));
	CU_ASSERT_EQUAL(errno, ENOENT);
	const char *const *items = (const char *const *)&items;
	errno = 0;
	CU_ASSERT_EQUAL(lota_config_get_list(c, "listen", &items), 0);
	CU_ASSERT_PTR_NULL(items);
	CU_ASSERT_EQUAL(errno, EINVAL);
	errno = 0;
	CU_ASSERT_FALSE(lota_config_is_set(c, "nope"));
	CU_ASSERT_EQUAL(errno, ENOENT);
	errno = 0;
	CU_ASSERT_EQUAL(lota_config_get_int(NULL, "workers"), 0);
	CU_ASSERT_EQUAL(errno, EINVAL);
	errno = 0;
	CU_ASSERT_EQUAL(lota_config_get_int(c, NULL), 0);
	CU_ASSERT_EQUAL(errno, EINVAL);
	/* a good call leaves errno alone */
	errno = 0;
	CU_ASSERT_EQUAL(lota_config_get_int(c, "workers"), 4);
	CU_ASSERT_FALSE(lota_config_is_set(c, "workers"));
	CU_ASSERT_EQUAL(errno, 0);
	lota_config_free(c);
}

int main(void)
{
	CU_TestInfo tests[] = {
	    {"parse sizes", test_parse_size},
	    {"parse durations", test_parse_duration},
	    {"parse booleans, format", test_parse_bool_and_format},
	    {"defaults and getters", test_defaults},
	    {"JSON: every type", test_json_all_types},
	    {"JSON: every error", test_json_errors},
	    {"all-or-nothing loads", test_all_or_nothing},
	    {"config files", test_files},
	    {"flag forms", test_flag_forms},
	    {"flag errors", test_flag_errors},
	    {"positional args and --help", test_positional_and_help},
	    {"precedence and lists", test_precedence_and_lists},
	    {"required keys", test_required},
	    {"--help text", test_help},
	    {"dump redacts secrets", test_dump},
	    {"broken key table: LOTA_E_CONFIG_SCHEMA", test_broken_schema},
	    {"config_key not a STRING key", test_bad_config_key},
	    {"getters: unknown key or type", test_getter_misuse},
	    CU_TEST_INFO_NULL,
	};
	int rc = lota_unit_run("config", tests);
	if (tmpdir[0])
		rmdir(tmpdir);
	return rc;
}
