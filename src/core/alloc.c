/* alloc: see alloc.h. */
#include "core/alloc.h"

#include <stdlib.h>
#include <string.h>

/* Successful allocations left before failures start; negative: never fail. */
static long allocs_before_failure = -1;

void core_alloc_fail_after(long n)
{
	allocs_before_failure = n;
}

static int injected_failure(void)
{
	if (allocs_before_failure < 0)
		return 0;
	if (allocs_before_failure == 0)
		return 1;
	allocs_before_failure--;
	return 0;
}

void *core_malloc(size_t size)
{
	return injected_failure() ? NULL : malloc(size);
}

void *core_calloc(size_t n, size_t size)
{
	return injected_failure() ? NULL : calloc(n, size);
}

void *core_realloc(void *ptr, size_t size)
{
	return injected_failure() ? NULL : realloc(ptr, size);
}

char *core_strdup(const char *s)
{
	size_t len = strlen(s) + 1;
	char *copy = core_malloc(len);

	if (copy)
		memcpy(copy, s, len);
	return copy;
}
