/*
 * unit.h - the small shared harness of the CUnit suites: one suite per lib module, run
 * by lota_unit_run() from the suite's main(). Exit status is the number of failures
 * (capped), so CTest sees a failing assertion as a failing test.
 */
#ifndef LOTA_UNIT_H
#define LOTA_UNIT_H

#include <CUnit/Basic.h>
#include <stddef.h>

int lota_unit_run(const char *suite_name, CU_TestInfo *tests);

/* Read a whole test-data file (relative to $LOTA_TEST_DATA or tests/data). Returns a
 * malloc'd NUL-terminated buffer (caller frees) or NULL; *len gets its size. */
char *lota_unit_read_file(const char *relpath, size_t *len);

/* Path of a test-data file in a static buffer. */
const char *lota_unit_data_path(const char *relpath);

#endif
