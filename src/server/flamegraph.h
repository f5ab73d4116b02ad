/* flamegraph: a task's flame graph in the formats of the query API —
 * d3-flame-graph JSON, folded text, gzip'd pprof — built from the stacks
 * the store aggregates over a time range.
 *
 * Owns: choosing the value (sample count or off-CPU nanoseconds), the pprof
 * sample types of the task's target, and the output format. The tree is the
 * core's (core/flame.h), the pprof encoding server/pprof.h's.
 */
#ifndef CONTPROF_SERVER_FLAMEGRAPH_H
#define CONTPROF_SERVER_FLAMEGRAPH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server/store.h"

enum flamegraph_format {
	FLAMEGRAPH_JSON,
	FLAMEGRAPH_FOLDED,
	FLAMEGRAPH_PPROF,
};

struct flamegraph_output {
	char *body; /* malloc'd */
	size_t len;
	const char *content_type;
	const char *content_encoding; /* NULL or "gzip" */
};

/* What the renderer needs to know of the task (pprof's profile header and
 * its sample types depend on the target). */
struct flamegraph_task {
	const char *id;
	const char *target; /* ON_CPU, OFF_CPU, NETWORK */
	int64_t start_ms;
	uint32_t duration_s;
};

/* Renders the flame graph of a task over slices overlapping [from_ms,
 * to_ms): by sample count or off-CPU nanoseconds for json/folded; pprof
 * carries both values. 0 with ret->body malloc'd, -ENOENT (unknown task),
 * -E2BIG (too large a tree), -ENOSYS (format not built), -ENOMEM or a store
 * error. */
int flamegraph_render(struct store *st, const struct flamegraph_task *task, int64_t from_ms,
		      int64_t to_ms, bool by_duration, enum flamegraph_format format,
		      struct flamegraph_output *ret);

#endif
