/* stackdrain: empties the double-buffered stack counts of one BPF profiler
 * (stackcount.h) without losing or double-counting a sample.
 *
 * A drain bumps the generation, waits until no BPF program can still be
 * writing to the previous buffer (membarrier(MEMBARRIER_CMD_GLOBAL) waits for
 * an RCU grace period, and BPF programs run inside RCU read-side sections),
 * then takes every count of that buffer with batched lookup-and-delete, copies
 * the stacks they reference and clears that buffer's stack map. For off-CPU,
 * whose counts may reference the stacks of an older generation (a thread that
 * blocked before the switch), stacks still referenced by blocked threads
 * (`starts` map) or by counts in the live buffer are kept in user space until
 * consumed. Does not own the BPF objects. Not thread-safe.
 */
#ifndef CONTPROF_AGENT_STACKDRAIN_H
#define CONTPROF_AGENT_STACKDRAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct stackdrain_maps {
	int counts_fd[2];
	int stacks_fd[2];
	int starts_fd;	     /* off-CPU blocked threads, or -1 */
	uint32_t *gen;	     /* the BPF global `gen` (mmapped .bss) */
	uint32_t counts_max; /* max_entries of one counts map */
	/* Stacks unwound in user space (snapunwind.h) drained along, or NULL. */
	struct snapunwind *unwound;
};

/* One drained count. A stack part is either present (err 0, n_* frames,
 * innermost first) or missing: err -EFAULT (there is no such stack, e.g. no
 * kernel stack for a sample in user mode) or any other -errno (the stack map
 * could not take it: show it as lost). */
struct stackdrain_record {
	uint32_t pid;
	const uint64_t *user;
	size_t n_user;
	int user_err;
	const uint64_t *kernel;
	size_t n_kernel;
	int kernel_err;
	bool user_complete; /* unwound up to the thread entry (CFI) */
	uint64_t count;
	uint64_t total_ns;
};

typedef void (*stackdrain_fn)(void *ctx, const struct stackdrain_record *record);

struct stackdrain;

/* `maps` is copied. NULL on ENOMEM. */
struct stackdrain *stackdrain_new(const struct stackdrain_maps *maps);
struct stackdrain *stackdrain_free(struct stackdrain *d);
struct snapunwind;

/* Drains the current buffer and calls `fn` once per count, then the stacks
 * unwound in user space (maps->unwound) likewise. Returns the
 * number of records or -errno (a map operation failed; what was read so far
 * was delivered). */
int stackdrain_run(struct stackdrain *d, stackdrain_fn fn, void *ctx);

#endif
