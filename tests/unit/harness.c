/* harness: see harness.h. */
#include "harness.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>

static unsigned tests_passed, tests_failed;
static bool current_failed;
static const char *current_name = "";
static char context[512];

void harness_context(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(context, sizeof(context), fmt, ap);
	va_end(ap);
}

static void report_failure(const char *file, int line, const char *what)
{
	fprintf(stderr, "  FAIL %s (%s:%d): %s\n", current_name, file, line, what);
	if (context[0])
		fprintf(stderr, "       context: %s\n", context);
	current_failed = true;
}

bool harness_check(bool ok, const char *file, int line, const char *expr)
{
	if (!ok)
		report_failure(file, line, expr);
	return ok;
}

bool harness_check_int(int64_t got, int64_t want, const char *file, int line, const char *expr)
{
	char msg[512];

	if (got == want)
		return true;
	snprintf(msg, sizeof(msg), "%s is %" PRId64 ", want %" PRId64, expr, got, want);
	report_failure(file, line, msg);
	return false;
}

bool harness_check_dbl(double got, double want, const char *file, int line, const char *expr)
{
	char msg[512];

	if (got == want || fabs(got - want) <= 1e-9 * fmax(1.0, fabs(want)))
		return true;
	snprintf(msg, sizeof(msg), "%s is %.17g, want %.17g", expr, got, want);
	report_failure(file, line, msg);
	return false;
}

bool harness_check_str(const char *got, const char *want, const char *file, int line,
		       const char *expr)
{
	char msg[1024];

	if (got && want && strcmp(got, want) == 0)
		return true;
	if (!got && !want)
		return true;
	snprintf(msg, sizeof(msg), "%s is \"%s\", want \"%s\"", expr, got ? got : "(null)",
		 want ? want : "(null)");
	report_failure(file, line, msg);
	return false;
}

void harness_run(const char *name, void (*fn)(void))
{
	current_name = name;
	current_failed = false;
	context[0] = '\0';
	fn();
	if (current_failed)
		tests_failed++;
	else
		tests_passed++;
}

int harness_finish(void)
{
	printf("HARNESS passed=%u failed=%u\n", tests_passed, tests_failed);
	return tests_failed ? 1 : 0;
}
