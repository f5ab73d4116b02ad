/* elfsyms: the function symbols of one ELF binary (executable or shared
 * object) for the symbolizer: .symtab, then .dynsym, then — when the binary
 * has no .symtab — the .symtab of its separate debug file, found by build-id
 * (/usr/lib/debug/.build-id/xx/rest.debug) or by .gnu_debuglink (next to the
 * binary, in its .debug/ directory, or under /usr/lib/debug). Everything is
 * read at open, so lookups keep working after the file or its process is
 * gone. Names are demangled (C++ and Rust, libiberty) on first lookup.
 * Not thread-safe.
 */
#ifndef CONTPROF_AGENT_ELFSYMS_H
#define CONTPROF_AGENT_ELFSYMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct elfsyms;

enum elfsyms_source {
	ELFSYMS_SYMTAB = 1,   /* the binary's own .symtab */
	ELFSYMS_DYNSYM = 2,   /* its .dynsym */
	ELFSYMS_DEBUGFILE = 4 /* .symtab of a separate debug file */
};

/* Reads the ELF file open at `fd` (the fd stays the caller's). `path` is the
 * file's path as its process sees it, `root` the prefix that makes it (and
 * debug files) reachable from here: "" or "/proc/PID/root". Returns 0 and
 * *ret, -ENOEXEC (not ELF), -ENOMEM or -EIO. */
int elfsyms_open(int fd, const char *root, const char *path, struct elfsyms **ret);
/* Frees; accepts NULL; returns NULL. */
struct elfsyms *elfsyms_free(struct elfsyms *es);

/* Which sources gave symbols (ELFSYMS_* bits) and how many symbols in all. */
unsigned elfsyms_sources(const struct elfsyms *es);
size_t elfsyms_count(const struct elfsyms *es);
/* The hex build-id, or "" when the binary has none. */
const char *elfsyms_build_id(const struct elfsyms *es);

/* Translates an offset in the file to the virtual address the ELF headers
 * give it (through its PT_LOAD segment). False when no segment holds it. */
bool elfsyms_file_to_vaddr(const struct elfsyms *es, uint64_t file_off, uint64_t *ret_vaddr);
/* The (demangled) function covering `vaddr`, or NULL. The string lives as
 * long as `es`. */
const char *elfsyms_lookup(struct elfsyms *es, uint64_t vaddr);

/* Demangles a C++ or Rust symbol into a new string (free() it), or NULL when
 * `name` is not mangled or not valid. */
char *elfsyms_demangle(const char *name);

#endif
