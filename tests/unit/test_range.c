/*
 * test_range.c - the Range header (lib/range.c): the three single-range forms, the
 * shapes S3 ignores (served as 200: MALFORMED) and the ones it answers 416
 * (UNSATISFIABLE), clamping, empty objects and 64-bit edges.
 */
#include <stdio.h>
#include <string.h>

#include <lota/http.h>

#include "unit.h"

struct rg {
	const char *hdr;
	uint64_t size;
	int want;             /* 0, MALFORMED (parse) or UNSATISFIABLE (resolve) */
	uint64_t first, last; /* when 0 */
};

static const struct rg cases[] = {
    /* satisfiable */
    {"bytes=0-9", 100, 0, 0, 9},
    {"bytes=0-0", 100, 0, 0, 0},
    {"bytes=99-99", 100, 0, 99, 99},
    {"bytes=10-", 100, 0, 10, 99},
    {"bytes=0-", 1, 0, 0, 0},
    {"bytes=-10", 100, 0, 90, 99},
    {"bytes=-100", 100, 0, 0, 99},
    {"bytes=-1000", 100, 0, 0, 99},    /* longer suffix: the whole object */
    {"bytes=50-1000", 100, 0, 50, 99}, /* end past the object: clamped */
    {"bytes=0-18446744073709551615", 100, 0, 0, 99},
    {"bytes=0-99999999999999999999999", 100, 0, 0, 99}, /* saturates, clamped */
    {"bytes=-99999999999999999999999", 100, 0, 0, 99},
    {"Bytes=1-2", 100, 0, 1, 2}, /* unit is case-insensitive */
    {"BYTES=1-2", 100, 0, 1, 2},
    {"  bytes=1-2\t", 100, 0, 1, 2}, /* OWS around the value only */
    {"bytes=007-010", 100, 0, 7, 10},
    {"bytes=5-5", 6, 0, 5, 5},
    /* unsatisfiable: S3 answers 416 InvalidRange */
    {"bytes=100-", 100, LOTA_E_RANGE_UNSATISFIABLE, 0, 0},
    {"bytes=100-200", 100, LOTA_E_RANGE_UNSATISFIABLE, 0, 0},
    {"bytes=1000-2000", 100, LOTA_E_RANGE_UNSATISFIABLE, 0, 0},
    {"bytes=-0", 100, LOTA_E_RANGE_UNSATISFIABLE, 0, 0},
    {"bytes=0-", 0, LOTA_E_RANGE_UNSATISFIABLE, 0, 0}, /* empty object */
    {"bytes=0-0", 0, LOTA_E_RANGE_UNSATISFIABLE, 0, 0},
    {"bytes=-1", 0, LOTA_E_RANGE_UNSATISFIABLE, 0, 0},
    {"bytes=99999999999999999999-", 100, LOTA_E_RANGE_UNSATISFIABLE, 0, 0},
    /* malformed: S3 ignores the header and serves the whole object (200) */
    {"bytes=0-1,4-5", 100, LOTA_E_RANGE_MALFORMED, 0, 0},
    {"bytes=0-1, 4-5", 100, LOTA_E_RANGE_MALFORMED, 0, 0},
    {"bytes=0-1,", 100, LOTA_E_RANGE_MALFORMED, 0, 0},
    {"bytes=5-2", 100, LOTA_E_RANGE_MALFORMED, 0, 0},
    {"bytes=-", 100, LOTA_E_RANGE_MALFORMED, 0, 0},
    {"bytes=", 100, LOTA_E_RANGE_MALFORMED, 0, 0},
    {"bytes", 100, LOTA_E_RANGE_MALFORMED, 0, 0},
    {"", 100, LOTA_E_RANGE_MALFORMED, 0, 0},
    {"bytes=5", 100, LOTA_E_RANGE_MALFORMED, 0, 0},
    {"bytes=a-b", 100, LOTA_E_RANGE_MALFORMED, 0, 0},
    {"bytes=+1-2", 100, LOTA_E_RANGE_MALFORMED, 0, 0},
    {"bytes=1-+2", 100, LOTA_E_RANGE_MALFORMED, 0, 0},
    {"bytes=--1", 100, LOTA_E_RANGE_MALFORMED, 0, 0},
    {"bytes=1--2", 100, LOTA_E_RANGE_MALFORMED, 0, 0},
    {"bytes=0x1-2", 100, LOTA_E_RANGE_MALFORMED, 0, 0},
    {"bytes= 0-1", 100, LOTA_E_RANGE_MALFORMED, 0, 0},
    {"bytes=0 -1", 100, LOTA_E_RANGE_MALFORMED, 0, 0},
    {"bytes=0- 1", 100, LOTA_E_RANGE_MALFORMED, 0, 0},
    {"bytes =0-1", 100, LOTA_E_RANGE_MALFORMED, 0, 0},
    {"items=0-1", 100, LOTA_E_RANGE_MALFORMED, 0, 0},
    {"bytesx=0-1", 100, LOTA_E_RANGE_MALFORMED, 0, 0},
    {"bytes:0-1", 100, LOTA_E_RANGE_MALFORMED, 0, 0},
    {"bytes=0-1;x", 100, LOTA_E_RANGE_MALFORMED, 0, 0},
    {"bytes=1.5-2", 100, LOTA_E_RANGE_MALFORMED, 0, 0},
    {"bytes=5-2", 0, LOTA_E_RANGE_MALFORMED, 0, 0}, /* malformed wins on empty too */
};

static void test_range_cases(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct rg *c = &cases[i];
		lota_range r;
		uint64_t first = 12345, last = 12345;
		int rc = lota_range_parse(c->hdr, strlen(c->hdr), &r);
		if (rc == 0)
			rc = lota_range_resolve(&r, c->size, &first, &last);
		if (rc != c->want)
			printf("\n  range '%s' size %llu: got %s\n", c->hdr,
			       (unsigned long long)c->size, lota_strerror_name(rc));
		CU_ASSERT_EQUAL(rc, c->want);
		if (c->want == 0 && rc == 0) {
			CU_ASSERT_EQUAL(first, c->first);
			CU_ASSERT_EQUAL(last, c->last);
		}
	}
}

static void test_range_kinds(void)
{
	lota_range r;
	CU_ASSERT_EQUAL(lota_range_parse("bytes=3-7", 9, &r), 0);
	CU_ASSERT_EQUAL(r.kind, LOTA_RANGE_FROM_TO);
	CU_ASSERT_EQUAL(r.first, 3);
	CU_ASSERT_EQUAL(r.last, 7);
	CU_ASSERT_EQUAL(lota_range_parse("bytes=3-", 8, &r), 0);
	CU_ASSERT_EQUAL(r.kind, LOTA_RANGE_FROM);
	CU_ASSERT_EQUAL(r.first, 3);
	CU_ASSERT_EQUAL(lota_range_parse("bytes=-7", 8, &r), 0);
	CU_ASSERT_EQUAL(r.kind, LOTA_RANGE_SUFFIX);
	CU_ASSERT_EQUAL(r.last, 7);
	CU_ASSERT_EQUAL(lota_range_parse("bytes=-0", 8, &r), 0);
	CU_ASSERT_EQUAL(r.kind, LOTA_RANGE_SUFFIX);
	CU_ASSERT_EQUAL(r.last, 0);
	/* (ptr, len): bytes after len are not read */
	CU_ASSERT_EQUAL(lota_range_parse("bytes=1-2,3-4", 9, &r), 0);
	CU_ASSERT_EQUAL(r.last, 2);
	CU_ASSERT_EQUAL(lota_range_parse("bytes=1-2", 7, &r), LOTA_E_RANGE_MALFORMED);
	CU_ASSERT_EQUAL(lota_range_parse("bytes=1-2", 8, &r), 0);
	CU_ASSERT_EQUAL(r.kind, LOTA_RANGE_FROM);
	/* a failed parse leaves *out alone */
	r.first = 77;
	CU_ASSERT_EQUAL(lota_range_parse("bytes=9-1", 9, &r), LOTA_E_RANGE_MALFORMED);
	CU_ASSERT_EQUAL(r.first, 77);
	/* bad arguments */
	CU_ASSERT_EQUAL(lota_range_parse(NULL, 3, &r), LOTA_E_RANGE_MALFORMED);
	CU_ASSERT_EQUAL(lota_range_parse("bytes=1-2", 9, NULL), LOTA_E_RANGE_MALFORMED);
	uint64_t a, b;
	CU_ASSERT_EQUAL(lota_range_resolve(NULL, 10, &a, &b), LOTA_E_RANGE_MALFORMED);
	lota_range bad = {.kind = LOTA_RANGE_FROM_TO, .first = 5, .last = 2};
	CU_ASSERT_EQUAL(lota_range_resolve(&bad, 10, &a, &b), LOTA_E_RANGE_MALFORMED);
	bad.kind = (lota_range_kind)9;
	CU_ASSERT_EQUAL(lota_range_resolve(&bad, 10, &a, &b), LOTA_E_RANGE_MALFORMED);
}

static void test_range_edges(void)
{
	lota_range r;
	uint64_t a, b;
	const uint64_t max = UINT64_MAX;
	/* the largest object size */
	CU_ASSERT_EQUAL(lota_range_parse("bytes=-1", 8, &r), 0);
	CU_ASSERT_EQUAL(lota_range_resolve(&r, max, &a, &b), 0);
	CU_ASSERT_EQUAL(a, max - 1);
	CU_ASSERT_EQUAL(b, max - 1);
	CU_ASSERT_EQUAL(lota_range_parse("bytes=18446744073709551614-", 27, &r), 0);
	CU_ASSERT_EQUAL(lota_range_resolve(&r, max, &a, &b), 0);
	CU_ASSERT_EQUAL(a, max - 1);
	CU_ASSERT_EQUAL(b, max - 1);
	CU_ASSERT_EQUAL(lota_range_parse("bytes=18446744073709551615-", 27, &r), 0);
	CU_ASSERT_EQUAL(lota_range_resolve(&r, max, &a, &b), LOTA_E_RANGE_UNSATISFIABLE);
	/* 5 TiB object, a typical multipart-sized ranged GET */
	const uint64_t five_tib = 5ULL << 40;
	const char *h = "bytes=5497541361664-5497558139999";
	CU_ASSERT_EQUAL(lota_range_parse(h, strlen(h), &r), 0);
	CU_ASSERT_EQUAL(lota_range_resolve(&r, five_tib, &a, &b), 0);
	CU_ASSERT_EQUAL(a, 5497541361664ULL);
	CU_ASSERT_EQUAL(b, five_tib - 1);
}

int main(void)
{
	CU_TestInfo tests[] = {
	    {"range cases as S3 answers them", test_range_cases},
	    {"range kinds and arguments", test_range_kinds},
	    {"range 64-bit edges", test_range_edges},
	    CU_TEST_INFO_NULL,
	};
	return lota_unit_run("range", tests);
}
