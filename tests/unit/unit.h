/*
 * unit.h - the small shared harness of the CUnit suites: one suite per lib module, run
 * by lota_unit_run() from the suite's main(). Exit status is the number of failures
 * (capped), so CTest sees a failing assertion as a failing test.
 */
#ifndef LOTA_UNIT_H
#define LOTA_UNIT_H

#include <CUnit/Basic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

int lota_unit_run(const char *suite_name, CU_TestInfo *tests);

/* Read a whole test-data file (relative to $LOTA_TEST_DATA or tests/data). Returns a
 * malloc'd NUL-terminated buffer (caller frees) or NULL; *len gets its size. */
char *lota_unit_read_file(const char *relpath, size_t *len);

/* Path of a test-data file in a static buffer. */
const char *lota_unit_data_path(const char *relpath);

/* Deterministic test bytes: n bytes of a xorshift stream seeded with seed. */
void lota_unit_pattern(void *p, size_t n, uint64_t seed);

/* A new directory "<$TMPDIR or /tmp>/<prefix>-XXXXXX" (mkdtemp) into out; false on
 * failure. lota_unit_rmtree removes a directory and everything in it. */
bool lota_unit_tmpdir(const char *prefix, char *out, size_t cap);
void lota_unit_rmtree(const char *path);

#endif
