/* alloc: the one allocation path of src/core, with fault injection.
 *
 * Owns: core_malloc/calloc/realloc/strdup, thin wrappers over libc that fail
 * on demand so unit tests can walk every allocation-failure path ("fail the
 * Nth allocation"). Does not own: jansson's or OpenSSL's allocations (a test
 * may route jansson through core_malloc with json_set_alloc_funcs()).
 * Memory from these functions is released with free().
 */
#ifndef CONTPROF_CORE_ALLOC_H
#define CONTPROF_CORE_ALLOC_H

#include <stddef.h>

void *core_malloc(size_t size);
void *core_calloc(size_t n, size_t size);
/* Like realloc(); on failure `ptr` is left untouched. */
void *core_realloc(void *ptr, size_t size);
char *core_strdup(const char *s);

/* Fault injection: after `n` more successful allocations every allocation
 * fails, until called again; a negative `n` turns failures off (the
 * default). Not thread-safe: for single-threaded tests only. */
void core_alloc_fail_after(long n);

#endif
