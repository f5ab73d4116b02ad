/* pprof_impl: the builder's tables, shared by pprof.c (building) and
 * pprof_encode.c (the wire format and gzip). Not for other modules: use
 * pprof.h.
 */
#ifndef CONTPROF_SERVER_PPROF_IMPL_H
#define CONTPROF_SERVER_PPROF_IMPL_H

#include "server/pprof.h"

#include <stdbool.h>

#define PPROF_VARINT_MAX_LEN 10

struct pstring {
	size_t offset; /* into the arena */
	uint32_t len;
	uint32_t bare_location; /* location of this name without file or module; 0: none yet */
	uint64_t hash;
};

struct strtab {
	char *arena;
	size_t arena_len, arena_cap;
	struct pstring *strs;
	uint32_t n, cap;
	uint32_t *slots; /* string index + 1; 0: free */
	size_t n_slots;	 /* power of two */
};

/* u64 key -> id (>= 1); 0 in ids marks a free slot. */
struct idmap {
	uint64_t *keys;
	uint32_t *ids;
	size_t n, n_slots;
};

struct pfunction {
	uint32_t name, file; /* string indexes */
};

struct plocation {
	uint32_t function, mapping; /* ids; mapping 0: none */
};

struct psample {
	size_t loc_offset; /* into locs */
	uint32_t n_locs;
	uint64_t hash;
	int64_t values[PPROF_MAX_SAMPLE_TYPES];
};

struct pstack {
	size_t offset; /* into stack_text */
	size_t len;
	uint64_t hash;
	uint32_t sample;
};

/* An open-addressing index over an array of entries that each carry a
 * uint64_t hash at `hash_offset`; a slot holds entry index + 1, 0 is free. */
struct slots {
	uint32_t *v;
	size_t n; /* power of two */
};

struct pprof_builder {
	size_t n_types;
	uint32_t type_str[PPROF_MAX_SAMPLE_TYPES], unit_str[PPROF_MAX_SAMPLE_TYPES];
	uint32_t period_type_str, period_unit_str;
	bool has_period_type;
	int64_t period, time_nanos, duration_nanos;
	size_t max_bytes;
	uint64_t seed;
	struct strtab strings;
	struct idmap function_ids, mapping_ids, location_ids;
	struct pfunction *functions;
	uint32_t n_functions, cap_functions;
	uint32_t *mappings; /* filename string of mapping id i + 1 */
	uint32_t n_mappings, cap_mappings;
	struct plocation *locations;
	uint32_t n_locations, cap_locations;
	/* Samples, merged by location-id sequence (values summed). */
	struct psample *samples;
	uint32_t n_samples, cap_samples;
	uint32_t *locs; /* every sample's location ids, root first */
	size_t n_locs, cap_locs;
	struct slots sample_slots;
	/* Folded stacks seen, each pointing at its sample: a repeated stack
	 * costs one hash and one memcmp. */
	struct pstack *stacks;
	uint32_t n_stacks, cap_stacks;
	char *stack_text;
	size_t stack_text_len, stack_text_cap;
	struct slots stack_slots;
	uint32_t *scratch; /* PPROF_MAX_FRAMES location ids, root first */
};

/* What the encoded profile will take, roughly (every entry at its largest). */
size_t pprof_encoded_size(const struct pprof_builder *b);

#endif
