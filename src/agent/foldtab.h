/* foldtab: a bounded table of folded stacks (string -> count, total ns), the
 * per-session aggregation between two flushes. Keys are copied. When the table
 * is full, further new stacks are added to the `[lost]` stack (always room for
 * it), so counts are never dropped silently. Not thread-safe.
 */
#ifndef CONTPROF_AGENT_FOLDTAB_H
#define CONTPROF_AGENT_FOLDTAB_H

#include <stddef.h>
#include <stdint.h>

#include "agent/profiler.h"

#define FOLDTAB_LOST_FRAME "[lost]"

struct foldtab;

/* `max_stacks` >= 1 distinct stacks (one more is kept for `[lost]`). */
struct foldtab *foldtab_new(size_t max_stacks);
struct foldtab *foldtab_free(struct foldtab *t);
/* Adds to `folded` (len bytes, no NUL needed). 0; 1 when the table was full
 * and the count went to `[lost]` instead; or -ENOMEM (nothing added). */
int foldtab_add(struct foldtab *t, const char *folded, size_t len, uint64_t count,
		uint64_t total_ns);
size_t foldtab_size(const struct foldtab *t);
/* A view of every stack (order unspecified) valid until the next add or
 * clear; *ret_n may be 0 (then *ret is NULL). 0 or -ENOMEM. */
int foldtab_view(struct foldtab *t, const struct profile_stack **ret, size_t *ret_n);
/* Empties the table. */
void foldtab_clear(struct foldtab *t);

#endif
