/* offcpu (user side): the OFF_CPU profiler. Loads offcpu.bpf.c with the first
 * session: the tp_btf sched_switch program when this kernel loads and
 * attaches it, else the raw tracepoint one (found by trying, never by kernel
 * version; profiler_config's offcpu_raw_tp_only skips tp_btf); min block
 * time and stack map size from profiler_get_config(). Sessions, draining and
 * folding are stackprof.h's; a stack's count is the number of times a thread
 * blocked there and its duration_ns the total time it stayed off the CPU.
 * Registered in profiler.c. */
#ifndef CONTPROF_AGENT_OFFCPU_H
#define CONTPROF_AGENT_OFFCPU_H

#include "agent/profiler.h"

extern const struct profiler_ops offcpu_profiler;

/* "tp_btf" or "raw_tp" while a session runs, else NULL. */
const char *offcpu_attach_mode(void);

#endif
