/*
 * unit.c - runs one CUnit suite and turns its result into an exit status; test data
 * files, test bytes and temporary directories for the suites.
 */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"

int lota_unit_run(const char *suite_name, CU_TestInfo *tests)
{
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	CU_SuiteInfo suites[] = {
	    {(char *)suite_name, NULL, NULL, NULL, NULL, tests},
	    CU_SUITE_INFO_NULL,
	};
	if (CU_register_suites(suites) != CUE_SUCCESS) {
		fprintf(stderr, "cannot register suite %s: %s\n", suite_name, CU_get_error_msg());
		CU_cleanup_registry();
		return 2;
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	unsigned run = CU_get_number_of_tests_run();
	CU_cleanup_registry();
	if (run == 0) {
		fprintf(stderr, "suite %s ran no test\n", suite_name);
		return 2;
	}
	return failed > 100 ? 100 : (int)failed;
}

const char *lota_unit_data_path(const char *relpath)
{
	static char path[4096];
	const char *base = getenv("LOTA_TEST_DATA");
	snprintf(path, sizeof(path), "%s/%s", base ? base : "data", relpath);
	return path;
}

char *lota_unit_read_file(const char *relpath, size_t *len)
{
	FILE *f = fopen(lota_unit_data_path(relpath), "rb");
	if (!f)
		return NULL;
	char *buf = NULL;
	size_t cap = 0, n = 0;
	for (;;) {
		if (n + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 8192;
			char *nb = realloc(buf, cap);
			if (!nb) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = nb;
		}
		size_t r = fread(buf + n, 1, cap - n - 1, f);
		n += r;
		if (r == 0)
			break;
	}
	fclose(f);
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

void lota_unit_pattern(void *p, size_t n, uint64_t seed)
{
	uint8_t *b = p;
	uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		b[i] = (uint8_t)x;
	}
}

bool lota_unit_tmpdir(const char *prefix, char *out, size_t cap)
{
	const char *t = getenv("TMPDIR");
	int n = snprintf(out, cap, "%s/%s-XXXXXX", t && *t ? t : "/tmp", prefix);
	if (n < 0 || (size_t)n >= cap || !mkdtemp(out)) {
		if (cap)
			out[0] = 0;
		return false;
	}
	return true;
}

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

void lota_unit_rmtree(const char *path)
{
	if (path && path[0])
		nftw(path, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}
