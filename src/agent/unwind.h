/* unwind: unwinds a user-stack snapshot (unwind_abi.h) with the call-frame
 * information of the process's binaries — .eh_frame, or .debug_frame from a
 * separate debug file — through libdw's dwfl_frame API with our own
 * register and memory callbacks (the registers and the stack bytes of the
 * snapshot; nothing is read from the live process but its maps and files).
 *
 * Owns one libdw session (Dwfl) per process, holding the process's modules
 * and their opened ELF/CFI, reused across snapshots; the maps are read again
 * when a snapshot's pc falls outside every known module (dlopen), at most
 * once per UNWIND_REFRESH_MS. Processes unused for UNWIND_IDLE_MS are
 * forgotten; at most UNWIND_PIDS_MAX are kept (least recently used goes).
 * Not thread-safe: one owner (snapunwind.c's thread).
 */
#ifndef CONTPROF_AGENT_UNWIND_H
#define CONTPROF_AGENT_UNWIND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <linux/types.h>

#include "agent/cfirule.h"
#include "agent/unwind_abi.h"

#define UNWIND_PIDS_MAX	  256
#define UNWIND_REFRESH_MS 1000
#define UNWIND_IDLE_MS	  30000

struct unwinder;

/* NULL on ENOMEM. */
struct unwinder *unwinder_new(void);
struct unwinder *unwinder_free(struct unwinder *u);

/* Unwinds `s` (whose stack bytes are s->stack_len long): writes the pcs of
 * its frames, innermost first (the interrupted pc, then return addresses),
 * at most `max`, into `pcs`, their number into *ret_n, and into
 * *ret_complete whether the unwinding ended where the CFI says the stack
 * ends (the thread's entry) rather than at a frame it could not unwind.
 * 0, or -errno when not even the first frame could be made (-ESRCH: the
 * process is gone and was never seen); *ret_n is then 0. `now_ms`: a
 * monotonic clock, for the refresh and idle rules. */
int unwinder_unwind(struct unwinder *u, const struct unwind_snapshot *s, int64_t now_ms,
		    uint64_t *pcs, size_t max, size_t *ret_n, bool *ret_complete);

/* The rule cache's counters since unwinder_new(). */
void unwinder_get_stats(const struct unwinder *u, struct cfirule_stats *ret);

/* With `on` false, every snapshot goes through libdw's general unwinder
 * (tests compare the two paths; default on). */
void unwinder_set_rule_cache(struct unwinder *u, bool on);

/* Forgets processes idle since UNWIND_IDLE_MS before `now_ms`. */
void unwinder_expire(struct unwinder *u, int64_t now_ms);

#endif
