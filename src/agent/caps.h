/* caps: the agent's capabilities. Run as root, a process holds every
 * capability; the agent needs only a few, for the whole of its life (BPF
 * programs and perf events are loaded lazily, at the first policy or task):
 *   CAP_BPF, CAP_PERFMON    load BPF programs, open perf events, attach
 *                           tracepoints (kernels >= 5.8);
 *   CAP_SYS_PTRACE          read /proc/PID/{maps,exe,root} of any process;
 *   CAP_DAC_READ_SEARCH     read the binaries and perf maps it symbolizes;
 *   CAP_SYS_RESOURCE        raise RLIMIT_MEMLOCK where BPF memory is still
 *                           charged to it.
 * caps_drop_agent() keeps exactly these (of those held) in the permitted,
 * effective and bounding sets, clears the inheritable and ambient ones and
 * sets no_new_privs. It acts on the calling thread only, so it must run
 * before any thread is created. Owns no state.
 */
#ifndef CONTPROF_AGENT_CAPS_H
#define CONTPROF_AGENT_CAPS_H

#include <stddef.h>
#include <stdint.h>

/* The kept set as a bit mask (bit N = capability N). */
uint64_t caps_agent_mask(void);

/* Drops every capability but caps_agent_mask(). 0 with *ret_kept (may be
 * NULL) the effective set afterwards; 1 when there was nothing to drop (no
 * capability of the kept set held: not privileged); -EOPNOTSUPP when the
 * kernel predates CAP_BPF (then nothing is dropped: BPF needs CAP_SYS_ADMIN
 * there); another -errno when a system call failed, with the reason in err. */
int caps_drop_agent(uint64_t *ret_kept, char *err, size_t errlen);

/* The effective set of the calling thread. 0 or -errno. */
int caps_effective(uint64_t *ret);

#endif
