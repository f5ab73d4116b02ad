/* harness: the in-house unit test harness. One binary per module:
 *
 *   TEST(window_counts_boundary) { CHECK_INT_EQ(r.matched, 5); }
 *   int main(void) { RUN(window_counts_boundary); return harness_finish(); }
 *
 * A failed CHECK prints file:line and the expression, marks the running test
 * failed and goes on. harness_finish() prints "name: N passed, N failed" and a
 * machine-read line "HARNESS passed=N failed=N" that scripts/run-unit.sh sums;
 * it returns the process exit code (1 on any failure).
 */
#ifndef CONTPROF_TESTS_HARNESS_H
#define CONTPROF_TESTS_HARNESS_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define TEST(name) static void name(void)
#define RUN(name)  harness_run(#name, name)

void harness_run(const char *name, void (*fn)(void));
int harness_finish(void);
bool harness_check(bool ok, const char *file, int line, const char *expr);
bool harness_check_int(int64_t got, int64_t want, const char *file, int line, const char *expr);
bool harness_check_dbl(double got, double want, const char *file, int line, const char *expr);
bool harness_check_str(const char *got, const char *want, const char *file, int line,
		       const char *expr);
/* Prints a context line ("row 3: count > period") under the next failure. */
void harness_context(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define CHECK(expr) harness_check(!!(expr), __FILE__, __LINE__, #expr)
#define CHECK_INT_EQ(got, want)                                                                    \
	harness_check_int((int64_t)(got), (int64_t)(want), __FILE__, __LINE__, #got)
#define CHECK_DBL_EQ(got, want) harness_check_dbl((got), (want), __FILE__, __LINE__, #got)
#define CHECK_STR_EQ(got, want) harness_check_str((got), (want), __FILE__, __LINE__, #got)

#endif
