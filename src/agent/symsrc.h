/* symsrc: the text symbol sources of the symbolizer — the kernel's
 * /proc/kallsyms and JIT perf maps (/tmp/perf-PID.map) — parsed into a
 * symtab (symtab.h). Both parsers read the whole file, skip malformed lines
 * and return 0 or -errno (the file could not be opened or memory ran out).
 */
#ifndef CONTPROF_AGENT_SYMSRC_H
#define CONTPROF_AGENT_SYMSRC_H

#include "agent/symtab.h"

/* Largest room given to an unsized kernel symbol (the last one of a run). */
#define KALLSYMS_UNSIZED_MAX (64 * 1024)

/* Text symbols (t, T, w, W) with a non-zero address; a module's name follows
 * the symbol as "name [module]" is kept as "name". An empty table means the
 * addresses are hidden (kernel.kptr_restrict) or the file held none. */
int kallsyms_load(const char *path, struct symtab *ret);

/* perf map lines "START SIZE NAME" (hex, optional 0x; NAME may hold spaces).
 * `ret` is finished (sorted) on success. */
int perfmap_load(const char *path, struct symtab *ret);

/* Hex number at `s` (optional 0x) up to the first non-hex character, written
 * to *ret with *end after it; 0, -EINVAL (no digits) or -ERANGE. */
int symsrc_parse_hex(const char *s, const char **end, uint64_t *ret);

#endif
