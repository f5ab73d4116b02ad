/* symbolize: turns the addresses of sampled stacks into frame names.
 *
 * Owns: per process, its executable mappings from /proc/PID/maps (module +
 * offset); per binary (device + inode + modification time, so a binary
 * replaced in place or a new file on a reused inode is read anew), its ELF
 * symbols (elfsyms.h), shared by every process that maps it; per process,
 * its JIT perf map (/tmp/perf-PID.map, seen through /proc/PID/root); the
 * kernel's kallsyms, loaded once. Binaries are opened through
 * /proc/PID/map_files (works for `(deleted)` files and containers) or else
 * /proc/PID/root/PATH. An address
 * outside every known mapping makes the process's maps be read again, once
 * per round (symbolizer_next_round()), which catches dlopen().
 *
 * Frame names: the (demangled) function; `module+0xADDR` (ELF virtual
 * address) when the module has no symbol for it; `[unknown]` when no mapping
 * or map entry holds the address. Kernel frames: the kallsyms name or
 * `[unknown]`; the caller adds the kernel mark (see stackprof.h).
 *
 * A process is remembered from symbolizer_add_pid() to symbolizer_drop_pid(),
 * so frames of a process that exited mid-task still resolve through what was
 * read while it lived. Not thread-safe: one owner.
 */
#ifndef CONTPROF_AGENT_SYMBOLIZE_H
#define CONTPROF_AGENT_SYMBOLIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Frame names are cut to this many bytes (with the terminating NUL). */
#define SYMBOLIZE_NAME_MAX 512

struct symbolizer;

struct symbolizer_stats {
	size_t processes, modules, kernel_symbols;
	uint64_t maps_reads; /* times a /proc/PID/maps was read */
};

/* `proc_root` is where proc is mounted ("/proc"; tests may point elsewhere),
 * `kallsyms_path` the kallsyms file ("/proc/kallsyms"). NULL on ENOMEM. */
struct symbolizer *symbolizer_new(const char *proc_root, const char *kallsyms_path);
struct symbolizer *symbolizer_free(struct symbolizer *sym);

/* Reads the process's maps now and opens its binaries (so that it can be
 * symbolized after it exits). 0 or -errno (-ESRCH: no such process). A pid
 * already known is read again. */
int symbolizer_add_pid(struct symbolizer *sym, pid_t pid);
/* Forgets the process (its binaries stay cached while other processes map
 * them; binaries nobody maps are freed). */
void symbolizer_drop_pid(struct symbolizer *sym, pid_t pid);
/* Starts a new round: each process's maps may be read once more on a miss. */
void symbolizer_next_round(struct symbolizer *sym);

/* Writes the name of user address `addr` of `pid` into buf (always NUL
 * terminated). `return_address`: the address is a return address (every
 * frame but the innermost), so the call instruction before it is looked up.
 * Returns true when a function name was found. */
bool symbolizer_user(struct symbolizer *sym, pid_t pid, uint64_t addr, bool return_address,
		     char *buf, size_t len);
/* Same for a kernel address. */
bool symbolizer_kernel(struct symbolizer *sym, uint64_t addr, char *buf, size_t len);

void symbolizer_get_stats(const struct symbolizer *sym, struct symbolizer_stats *ret);

#endif
