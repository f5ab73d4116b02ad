/* bpfutil: process-wide libbpf setup shared by every BPF module — libbpf's
 * log routed through our logger (shown only with -v), strict mode, and tracefs
 * mounted at /sys/kernel/tracing when the host has not mounted it (tracepoint
 * attachment needs its event ids). Call once before opening a skeleton; safe to
 * call again. Returns 0 or -errno (tracefs missing and not mountable). */
#ifndef CONTPROF_AGENT_BPFUTIL_H
#define CONTPROF_AGENT_BPFUTIL_H

int bpfutil_setup(void);

#endif
