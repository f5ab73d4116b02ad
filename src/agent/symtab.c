/* symtab: see symtab.h. */
#include "agent/symtab.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void symtab_init(struct symtab *t)
{
	memset(t, 0, sizeof(*t));
}

void symtab_release(struct symtab *t)
{
	free(t->entries);
	free(t->names);
	symtab_init(t);
}

int symtab_add(struct symtab *t, uint64_t addr, uint64_t size, const char *name, size_t name_len)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 256;
		struct symtab_entry *e = realloc(t->entries, cap * sizeof(*e));

		if (!e)
			return -ENOMEM;
		t->entries = e;
		t->cap = cap;
	}
	if (t->names_len + name_len + 1 > t->names_cap) {
		size_t cap = t->names_cap ? t->names_cap : 4096;
		char *p;

		while (cap < t->names_len + name_len + 1)
			cap *= 2;
		if (cap > UINT32_MAX)
			return -ENOMEM;
		p = realloc(t->names, cap);
		if (!p)
			return -ENOMEM;
		t->names = p;
		t->names_cap = cap;
	}
	memcpy(t->names + t->names_len, name, name_len);
	t->names[t->names_len + name_len] = '\0';
	t->entries[t->n] = (struct symtab_entry){.addr = addr,
						 .size = size,
						 .name_off = (uint32_t)t->names_len,
						 .order = (uint32_t)t->n};
	t->names_len += name_len + 1;
	t->n++;
	return 0;
}

static int by_addr(const void *a, const void *b)
{
	const struct symtab_entry *x = a, *y = b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

void symtab_finish(struct symtab *t)
{
	size_t out = 0;

	if (!t->n)
		return;
	qsort(t->entries, t->n, sizeof(*t->entries), by_addr);
	for (size_t i = 0; i < t->n; i++) {
		if (out && t->entries[out - 1].addr == t->entries[i].addr) {
			/* Keep the first; a sized twin gives it a size. */
			if (!t->entries[out - 1].size)
				t->entries[out - 1].size = t->entries[i].size;
			continue;
		}
		t->entries[out++] = t->entries[i];
	}
	t->n = out;
	for (size_t i = 0; i < t->n; i++) {
		struct symtab_entry *e = &t->entries[i];
		uint64_t room = i + 1 < t->n ? t->entries[i + 1].addr - e->addr : 0;

		if (e->size)
			continue;
		if (t->unsized_max && (!room || room > t->unsized_max))
			room = t->unsized_max;
		e->size = room ? room : 1;
	}
}

const struct symtab_entry *symtab_lookup(const struct symtab *t, uint64_t addr, size_t *ret_index)
{
	size_t lo = 0, hi = t->n;

	/* The last entry whose start is <= addr. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (t->entries[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return NULL;
	const struct symtab_entry *e = &t->entries[lo - 1];

	if (addr - e->addr >= e->size)
		return NULL;
	if (ret_index)
		*ret_index = lo - 1;
	return e;
}
