/* oncpu (user side): the ON_CPU profiler. Loads oncpu.bpf.c with the first
 * session (stack maps of profiler_get_config()->stack_map_entries), opens one
 * software cpu-clock perf event per online CPU at its oncpu_hz and attaches
 * the program to each; sessions, draining and folding are stackprof.h's.
 * Registered in profiler.c. */
#ifndef CONTPROF_AGENT_ONCPU_H
#define CONTPROF_AGENT_ONCPU_H

#include "agent/profiler.h"

extern const struct profiler_ops oncpu_profiler;

#endif
