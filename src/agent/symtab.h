/* symtab: a sorted table of named address ranges, the lookup structure under
 * every symbol source of the symbolizer (ELF symbols, kallsyms, perf maps).
 *
 * Build with symtab_add() in any order, then symtab_finish() once (sorts,
 * drops duplicates of one address keeping the first added, gives symbols
 * without a size the room up to the next symbol); then symtab_lookup() is a
 * binary search. Names are copied into the table. Not thread-safe.
 */
#ifndef CONTPROF_AGENT_SYMTAB_H
#define CONTPROF_AGENT_SYMTAB_H

#include <stddef.h>
#include <stdint.h>

struct symtab_entry {
	uint64_t addr;
	uint64_t size; /* 0 before symtab_finish() when unknown */
	uint32_t name_off;
	uint32_t order; /* insertion order: the first of equal addresses wins */
};

struct symtab {
	struct symtab_entry *entries;
	size_t n, cap;
	char *names;
	size_t names_len, names_cap;
	/* Symbols without a size reach at most this far (0: up to the next). */
	uint64_t unsized_max;
};

void symtab_init(struct symtab *t);
void symtab_release(struct symtab *t);
/* 0 or -ENOMEM. */
int symtab_add(struct symtab *t, uint64_t addr, uint64_t size, const char *name, size_t name_len);
void symtab_finish(struct symtab *t);
/* The entry covering `addr` (addr in [entry.addr, entry.addr + size)), or NULL.
 * The index is written to *ret_index when not NULL. */
const struct symtab_entry *symtab_lookup(const struct symtab *t, uint64_t addr, size_t *ret_index);
static inline const char *symtab_name(const struct symtab *t, const struct symtab_entry *e)
{
	return t->names + e->name_off;
}

#endif
