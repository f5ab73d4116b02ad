/* cfirule: the fast path of CFI unwinding (unwind.c) on x86-64. The call
 * frame information of nearly every frame says only "CFA = rsp or rbp + N;
 * the return address is at CFA + M; rbp is at CFA + K, or unchanged". This
 * module keeps such rules per process, keyed by the address looked up (the
 * interrupted pc, or a return address - 1), as libdw computed them once
 * (dwarf_cfi_addrframe), and walks a snapshot with them: per frame a hash
 * lookup and two reads of the copied stack, instead of libdw's search for
 * the FDE, interpretation of its instructions, and evaluation of seventeen
 * register expressions with their allocations.
 *
 * The walk gives exactly the frames and the completeness libdw's
 * dwfl_getthread_frames() walk in unwind.c gives, or says it cannot: a
 * frame whose rule is anything else (a CFA or register expression, as in
 * PLT entries; a signal frame; a return-address column other than rip; no
 * FDE at all, or an address outside every module, where libdw falls back to
 * the frame-pointer chain) sends the whole snapshot to libdw.
 *
 * Owns the rule table, not the Dwfl (whose modules the rules come from: the
 * table must be emptied when the Dwfl is replaced). Not thread-safe.
 */
#ifndef CONTPROF_AGENT_CFIRULE_H
#define CONTPROF_AGENT_CFIRULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <elfutils/libdwfl.h>
#include <linux/types.h>

#include "agent/unwind_abi.h"

/* Slots per process (powers of two, 32 bytes each): the table doubles
 * while half full and starts over at its largest (1024 rules). */
#define CFIRULE_SLOTS_MIN 256
#define CFIRULE_SLOTS_MAX 2048

struct cfirule_table;

/* Counters a caller accumulates over walks. */
struct cfirule_stats {
	uint64_t walks;	   /* snapshots walked with rules alone */
	uint64_t general;  /* snapshots handed to libdw's general unwinder */
	uint64_t computed; /* rules computed through libdw (cache misses) */
};

/* NULL on ENOMEM. */
struct cfirule_table *cfirule_table_new(void);
/* Accepts NULL; returns NULL. */
struct cfirule_table *cfirule_table_free(struct cfirule_table *t);
/* Forgets every rule (the process's modules were read again). */
void cfirule_table_clear(struct cfirule_table *t);

/* Walks snapshot `s` of a process whose modules are in `dwfl` with the
 * cached rules, computing missing ones: writes the frames' pcs, innermost
 * first, at most `max`, into `pcs`, their number into *ret_n, and into
 * *ret_complete whether the walk ended at a frame whose return address the
 * CFI marks undefined (the thread's entry). 0; or -EAGAIN when a frame needs
 * libdw's general unwinder, -ENOMEM: `pcs` may then be overwritten, *ret_n
 * and *ret_complete are not. Adds to *stats. */
int cfirule_walk(struct cfirule_table *t, Dwfl *dwfl, const struct unwind_snapshot *s,
		 uint64_t *pcs, size_t max, size_t *ret_n, bool *ret_complete,
		 struct cfirule_stats *stats);

#endif
