/* pprof: building a profile (see pprof.h); pprof_encode.c writes it.
 *
 * Strings, functions, mappings and locations are deduplicated through
 * open-addressing indexes; a frame with neither file nor module (every
 * folded frame) goes straight from its interned name to its location through
 * a per-string cache, so a new stack costs one string lookup per frame.
 * Samples are merged by their location-id sequence, and folded stack texts
 * already seen map straight to their sample, so a repeated stack costs one
 * hash and one memcmp.
 */
#include "server/pprof_impl.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define PPROF_MAX_BYTES_CEILING (1u << 30)
#define INDEX_MIN_SLOTS		64u
#define NS_PER_S		1000000000

static uint64_t mix64(uint64_t h)
{
	h ^= h >> 33;
	h *= UINT64_C(0xff51afd7ed558ccd);
	h ^= h >> 33;
	h *= UINT64_C(0xc4ceb9fe1a85ec53);
	h ^= h >> 33;
	return h;
}

static uint64_t hash_bytes(const char *p, size_t len, uint64_t seed)
{
	uint64_t h = seed ^ (len * UINT64_C(0x9e3779b97f4a7c15)), w;

	for (; len >= 8; p += 8, len -= 8) {
		memcpy(&w, p, 8);
		h ^= w * UINT64_C(0x87c37b91114253d5);
		h = ((h << 31) | (h >> 33)) * UINT64_C(0x4cf5ad432745937f);
	}
	w = 0;
	memcpy(&w, p, len);
	return mix64(h ^ w);
}

static int grow(void **p, uint32_t *cap, uint32_t need, size_t elem)
{
	uint32_t n = *cap ? *cap : 64;
	void *q;

	if (need <= *cap)
		return 0;
	while (n < need)
		n *= 2;
	q = realloc(*p, (size_t)n * elem);
	if (!q)
		return -ENOMEM;
	*p = q;
	*cap = n;
	return 0;
}

/* Makes room for entry number `entries` (keeping the load <= 1/2). */
static int slots_reserve(struct slots *sl, uint32_t entries, const void *base, size_t stride,
			 size_t hash_offset)
{
	size_t n = sl->n ? sl->n : INDEX_MIN_SLOTS, s;
	uint32_t *v, i;

	if (((size_t)entries + 1) * 2 <= sl->n)
		return 0;
	while (((size_t)entries + 1) * 2 > n)
		n *= 2;
	v = calloc(n, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (i = 0; i < entries; i++) {
		uint64_t h;

		memcpy(&h, (const char *)base + (size_t)i * stride + hash_offset, sizeof(h));
		for (s = h & (n - 1); v[s]; s = (s + 1) & (n - 1))
			;
		v[s] = i + 1;
	}
	free(sl->v);
	sl->v = v;
	sl->n = n;
	return 0;
}

static int strtab_rehash(struct strtab *t, size_t n_slots)
{
	uint32_t *slots = calloc(n_slots, sizeof(*slots)), i;
	size_t s;

	if (!slots)
		return -ENOMEM;
	for (i = 0; i < t->n; i++) {
		for (s = t->strs[i].hash & (n_slots - 1); slots[s]; s = (s + 1) & (n_slots - 1))
			;
		slots[s] = i + 1;
	}
	free(t->slots);
	t->slots = slots;
	t->n_slots = n_slots;
	return 0;
}

/* The index of string p[0..len) in the table, added when new. */
static int intern(struct pprof_builder *b, const char *p, size_t len, uint32_t *ret)
{
	struct strtab *t = &b->strings;
	uint64_t h = hash_bytes(p, len, b->seed);
	size_t mask = t->n_slots - 1, s;
	struct pstring *str;

	for (s = h & mask; t->slots[s]; s = (s + 1) & mask) {
		str = &t->strs[t->slots[s] - 1];
		if (str->hash == h && str->len == len &&
		    memcmp(t->arena + str->offset, p, len) == 0) {
			*ret = t->slots[s] - 1;
			return 0;
		}
	}
	if (len > UINT32_MAX)
		return -E2BIG;
	if (grow((void **)&t->strs, &t->cap, t->n + 1, sizeof(*t->strs)) < 0)
		return -ENOMEM;
	if (t->arena_len + len > t->arena_cap) {
		size_t cap = t->arena_cap ? t->arena_cap : 4096;
		char *arena;

		while (cap < t->arena_len + len)
			cap *= 2;
		arena = realloc(t->arena, cap);
		if (!arena)
			return -ENOMEM;
		t->arena = arena;
		t->arena_cap = cap;
	}
	if ((size_t)(t->n + 1) * 2 > t->n_slots) {
		if (strtab_rehash(t, t->n_slots * 2) < 0)
			return -ENOMEM;
		mask = t->n_slots - 1;
		for (s = h & mask; t->slots[s]; s = (s + 1) & mask)
			;
	}
	if (len)
		memcpy(t->arena + t->arena_len, p, len);
	t->strs[t->n] = (struct pstring){.offset = t->arena_len, .len = (uint32_t)len, .hash = h};
	t->arena_len += len;
	t->slots[s] = t->n + 1;
	*ret = t->n++;
	return 0;
}

static int intern_cstr(struct pprof_builder *b, const char *s, uint32_t *ret)
{
	if (!s || !*s) {
		*ret = 0; /* "" */
		return 0;
	}
	return intern(b, s, strlen(s), ret);
}

static uint32_t idmap_get(const struct idmap *m, uint64_t key, uint64_t seed, size_t *ret_slot)
{
	size_t mask = m->n_slots - 1, s;

	for (s = mix64(key ^ seed) & mask; m->ids[s]; s = (s + 1) & mask)
		if (m->keys[s] == key)
			return m->ids[s];
	*ret_slot = s;
	return 0;
}

/* Makes room for one more key; -ENOMEM. */
static int idmap_reserve(struct idmap *m, uint64_t seed)
{
	size_t n_slots = m->n_slots ? m->n_slots * 2 : INDEX_MIN_SLOTS, i, s;
	uint64_t *keys;
	uint32_t *ids;

	if ((m->n + 1) * 2 <= m->n_slots)
		return 0;
	keys = malloc(n_slots * sizeof(*keys));
	ids = calloc(n_slots, sizeof(*ids));
	if (!keys || !ids) {
		free(keys);
		free(ids);
		return -ENOMEM;
	}
	for (i = 0; i < m->n_slots; i++) {
		if (!m->ids[i])
			continue;
		for (s = mix64(m->keys[i] ^ seed) & (n_slots - 1); ids[s];
		     s = (s + 1) & (n_slots - 1))
			;
		keys[s] = m->keys[i];
		ids[s] = m->ids[i];
	}
	free(m->keys);
	free(m->ids);
	m->keys = keys;
	m->ids = ids;
	m->n_slots = n_slots;
	return 0;
}

/* The id stored for `key`, or `next_id` stored for it now, in which case
 * *ret_new is true and the caller appends that entity. 0 or -ENOMEM. */
static int idmap_find_or_add(struct idmap *m, uint64_t key, uint64_t seed, uint32_t next_id,
			     uint32_t *ret_id, bool *ret_new)
{
	size_t slot;
	uint32_t id;

	if (idmap_reserve(m, seed) < 0)
		return -ENOMEM;
	id = idmap_get(m, key, seed, &slot);
	*ret_new = !id;
	if (!id) {
		m->keys[slot] = key;
		m->ids[slot] = id = next_id;
		m->n++;
	}
	*ret_id = id;
	return 0;
}

static int function_id(struct pprof_builder *b, uint32_t name, uint32_t file, uint32_t *ret)
{
	bool is_new;

	if (grow((void **)&b->functions, &b->cap_functions, b->n_functions + 1,
		 sizeof(*b->functions)) < 0 ||
	    idmap_find_or_add(&b->function_ids, (uint64_t)name << 32 | file, b->seed,
			      b->n_functions + 1, ret, &is_new) < 0)
		return -ENOMEM;
	if (is_new)
		b->functions[b->n_functions++] = (struct pfunction){.name = name, .file = file};
	return 0;
}

static int mapping_id(struct pprof_builder *b, uint32_t filename, uint32_t *ret)
{
	bool is_new;

	if (!filename) {
		*ret = 0;
		return 0;
	}
	if (grow((void **)&b->mappings, &b->cap_mappings, b->n_mappings + 1, sizeof(*b->mappings)) <
		0 ||
	    idmap_find_or_add(&b->mapping_ids, filename, b->seed, b->n_mappings + 1, ret, &is_new) <
		0)
		return -ENOMEM;
	if (is_new)
		b->mappings[b->n_mappings++] = filename;
	return 0;
}

static int location_id(struct pprof_builder *b, uint32_t function, uint32_t mapping, uint32_t *ret)
{
	bool is_new;

	if (grow((void **)&b->locations, &b->cap_locations, b->n_locations + 1,
		 sizeof(*b->locations)) < 0 ||
	    idmap_find_or_add(&b->location_ids, (uint64_t)function << 32 | mapping, b->seed,
			      b->n_locations + 1, ret, &is_new) < 0)
		return -ENOMEM;
	if (is_new)
		b->locations[b->n_locations++] =
		    (struct plocation){.function = function, .mapping = mapping};
	return 0;
}

/* The location of a frame that is just a function name (string `name`). */
static int bare_location(struct pprof_builder *b, uint32_t name, uint32_t *ret)
{
	uint32_t function;

	if (!b->strings.strs[name].bare_location) {
		if (function_id(b, name, 0, &function) < 0 ||
		    location_id(b, function, 0, &b->strings.strs[name].bare_location) < 0)
			return -ENOMEM;
	}
	*ret = b->strings.strs[name].bare_location;
	return 0;
}

/* ---- the builder ---- */

static const struct pprof_value_type oncpu_types[] = {{"samples", "count"}, {"cpu", "nanoseconds"}};
static const struct pprof_value_type offcpu_types[] = {{"samples", "count"},
						       {"off-cpu", "nanoseconds"}};

void pprof_options_init(struct pprof_options *ret, enum pprof_kind kind, uint32_t oncpu_hz)
{
	*ret = (struct pprof_options){0};
	if (kind == PPROF_OFF_CPU) {
		ret->sample_types = offcpu_types;
		ret->n_sample_types = sizeof(offcpu_types) / sizeof(offcpu_types[0]);
		ret->period_type = offcpu_types[1];
		ret->period = 1;
		return;
	}
	ret->sample_types = oncpu_types;
	ret->n_sample_types = sizeof(oncpu_types) / sizeof(oncpu_types[0]);
	ret->period_type = oncpu_types[1];
	ret->period = NS_PER_S / (oncpu_hz ? oncpu_hz : PPROF_DEFAULT_ONCPU_HZ);
}

struct pprof_builder *pprof_builder_new(const struct pprof_options *o)
{
	struct pprof_builder *b;
	uint32_t empty;
	size_t i;
	int r = 0;

	if (!o || !o->sample_types || o->n_sample_types == 0 ||
	    o->n_sample_types > PPROF_MAX_SAMPLE_TYPES || o->max_bytes > PPROF_MAX_BYTES_CEILING)
		goto invalid;
	for (i = 0; i < o->n_sample_types; i++)
		if (!o->sample_types[i].type || !o->sample_types[i].unit)
			goto invalid;
	if (o->period_type.type && !o->period_type.unit)
		goto invalid;
	b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	b->seed = mix64((uint64_t)(uintptr_t)b ^ UINT64_C(0x6a09e667f3bcc909));
	b->n_types = o->n_sample_types;
	b->period = o->period;
	b->time_nanos = o->time_nanos;
	b->duration_nanos = o->duration_nanos;
	b->max_bytes = o->max_bytes ? o->max_bytes : PPROF_DEFAULT_MAX_BYTES;
	b->scratch = malloc(PPROF_MAX_FRAMES * sizeof(*b->scratch));
	if (!b->scratch || strtab_rehash(&b->strings, INDEX_MIN_SLOTS) < 0 ||
	    slots_reserve(&b->sample_slots, 0, NULL, 0, 0) < 0 ||
	    slots_reserve(&b->stack_slots, 0, NULL, 0, 0) < 0 || intern(b, "", 0, &empty) < 0)
		goto nomem;
	for (i = 0; i < o->n_sample_types && r == 0; i++) {
		r = intern_cstr(b, o->sample_types[i].type, &b->type_str[i]);
		if (r == 0)
			r = intern_cstr(b, o->sample_types[i].unit, &b->unit_str[i]);
	}
	if (r == 0 && o->period_type.type) {
		b->has_period_type = true;
		r = intern_cstr(b, o->period_type.type, &b->period_type_str);
		if (r == 0)
			r = intern_cstr(b, o->period_type.unit, &b->period_unit_str);
	}
	if (r < 0)
		goto nomem;
	return b;
nomem:
	pprof_builder_free(b);
	errno = ENOMEM;
	return NULL;
invalid:
	errno = EINVAL;
	return NULL;
}

struct pprof_builder *pprof_builder_free(struct pprof_builder *b)
{
	if (!b)
		return NULL;
	free(b->strings.arena);
	free(b->strings.strs);
	free(b->strings.slots);
	free(b->function_ids.keys);
	free(b->function_ids.ids);
	free(b->mapping_ids.keys);
	free(b->mapping_ids.ids);
	free(b->location_ids.keys);
	free(b->location_ids.ids);
	free(b->functions);
	free(b->mappings);
	free(b->locations);
	free(b->samples);
	free(b->locs);
	free(b->sample_slots.v);
	free(b->stacks);
	free(b->stack_text);
	free(b->stack_slots.v);
	free(b->scratch);
	free(b);
	return NULL;
}

size_t pprof_encoded_size(const struct pprof_builder *b)
{
	return (size_t)b->n_samples * (12 + PPROF_VARINT_MAX_LEN * b->n_types) + b->n_locs * 5 +
	       b->strings.arena_len + (size_t)b->strings.n * 6 +
	       ((size_t)b->n_functions + b->n_locations + b->n_mappings) * 40;
}

/* Adds `values` to sample i; -EOVERFLOW (nothing added) when a sum would. */
static int sample_add_values(struct pprof_builder *b, uint32_t i, const int64_t *values)
{
	int64_t sums[PPROF_MAX_SAMPLE_TYPES];
	size_t k;

	for (k = 0; k < b->n_types; k++)
		if (__builtin_add_overflow(b->samples[i].values[k], values[k], &sums[k]))
			return -EOVERFLOW;
	memcpy(b->samples[i].values, sums, b->n_types * sizeof(sums[0]));
	return 0;
}

/* The sample with the n location ids in scratch, values added; created when
 * new. Its index in *ret. */
static int add_sample(struct pprof_builder *b, uint32_t n, const int64_t *values, uint32_t *ret)
{
	size_t bytes = (size_t)n * sizeof(*b->scratch), mask = b->sample_slots.n - 1, s;
	uint64_t h = hash_bytes((const char *)b->scratch, bytes, b->seed);
	struct psample *ps;

	for (s = h & mask; b->sample_slots.v[s]; s = (s + 1) & mask) {
		ps = &b->samples[b->sample_slots.v[s] - 1];
		if (ps->hash == h && ps->n_locs == n &&
		    memcmp(b->locs + ps->loc_offset, b->scratch, bytes) == 0) {
			*ret = b->sample_slots.v[s] - 1;
			return sample_add_values(b, *ret, values);
		}
	}
	if (b->n_locs + n > b->cap_locs) {
		size_t cap = b->cap_locs ? b->cap_locs * 2 : 4096;
		uint32_t *locs;

		while (cap < b->n_locs + n)
			cap *= 2;
		locs = realloc(b->locs, cap * sizeof(*locs));
		if (!locs)
			return -ENOMEM;
		b->locs = locs;
		b->cap_locs = cap;
	}
	if (grow((void **)&b->samples, &b->cap_samples, b->n_samples + 1, sizeof(*b->samples)) <
		0 ||
	    slots_reserve(&b->sample_slots, b->n_samples, b->samples, sizeof(*b->samples),
			  offsetof(struct psample, hash)) < 0)
		return -ENOMEM;
	mask = b->sample_slots.n - 1;
	for (s = h & mask; b->sample_slots.v[s]; s = (s + 1) & mask)
		;
	ps = &b->samples[b->n_samples];
	*ps = (struct psample){.loc_offset = b->n_locs, .n_locs = n, .hash = h};
	memcpy(ps->values, values, b->n_types * sizeof(values[0]));
	memcpy(b->locs + b->n_locs, b->scratch, bytes);
	b->n_locs += n;
	b->sample_slots.v[s] = b->n_samples + 1;
	*ret = b->n_samples++;
	return 0;
}

int pprof_builder_add(struct pprof_builder *b, const struct pprof_frame *frames, size_t n,
		      const int64_t *values)
{
	uint32_t name, file, module, function, mapping, sample;
	size_t i;

	if (n == 0)
		return -EINVAL;
	for (i = 0; i < n; i++)
		if (!frames[i].function || !frames[i].function[0])
			return -EINVAL;
	if (n > PPROF_MAX_FRAMES || pprof_encoded_size(b) > b->max_bytes)
		return -E2BIG;
	for (i = 0; i < n; i++) {
		const struct pprof_frame *f = &frames[i];

		if (intern_cstr(b, f->function, &name) < 0 || intern_cstr(b, f->file, &file) < 0 ||
		    intern_cstr(b, f->module, &module) < 0)
			return -ENOMEM;
		if (!file && !module) {
			if (bare_location(b, name, &b->scratch[i]) < 0)
				return -ENOMEM;
			continue;
		}
		if (function_id(b, name, file, &function) < 0 ||
		    mapping_id(b, module, &mapping) < 0 ||
		    location_id(b, function, mapping, &b->scratch[i]) < 0)
			return -ENOMEM;
	}
	return add_sample(b, (uint32_t)n, values, &sample);
}

/* Makes room for one more folded stack of `len` bytes in the stack cache. */
static int stacks_reserve(struct pprof_builder *b, size_t len)
{
	if (b->stack_text_len + len > b->stack_text_cap) {
		size_t cap = b->stack_text_cap ? b->stack_text_cap * 2 : 65536;
		char *text;

		while (cap < b->stack_text_len + len)
			cap *= 2;
		text = realloc(b->stack_text, cap);
		if (!text)
			return -ENOMEM;
		b->stack_text = text;
		b->stack_text_cap = cap;
	}
	if (grow((void **)&b->stacks, &b->cap_stacks, b->n_stacks + 1, sizeof(*b->stacks)) < 0 ||
	    slots_reserve(&b->stack_slots, b->n_stacks, b->stacks, sizeof(*b->stacks),
			  offsetof(struct pstack, hash)) < 0)
		return -ENOMEM;
	return 0;
}

int pprof_builder_add_folded(struct pprof_builder *b, const char *stack, size_t len,
			     const int64_t *values)
{
	uint64_t h = hash_bytes(stack, len, ~b->seed);
	const char *p = stack, *end = stack + len;
	size_t mask = b->stack_slots.n - 1, s;
	uint32_t n = 0, name, sample;
	int r;

	for (s = h & mask; b->stack_slots.v[s]; s = (s + 1) & mask) {
		const struct pstack *ps = &b->stacks[b->stack_slots.v[s] - 1];

		if (ps->hash == h && ps->len == len &&
		    memcmp(b->stack_text + ps->offset, stack, len) == 0)
			return sample_add_values(b, ps->sample, values);
	}
	if (pprof_encoded_size(b) > b->max_bytes)
		return -E2BIG;
	for (;;) {
		const char *semi = memchr(p, ';', (size_t)(end - p));
		const char *frame_end = semi ? semi : end;

		if (frame_end == p)
			return -EINVAL;
		if (n == PPROF_MAX_FRAMES)
			return -E2BIG;
		if (intern(b, p, (size_t)(frame_end - p), &name) < 0 ||
		    bare_location(b, name, &b->scratch[n]) < 0)
			return -ENOMEM;
		n++;
		if (!semi)
			break;
		p = semi + 1;
	}
	if (stacks_reserve(b, len) < 0)
		return -ENOMEM;
	r = add_sample(b, n, values, &sample);
	if (r < 0)
		return r;
	mask = b->stack_slots.n - 1;
	for (s = h & mask; b->stack_slots.v[s]; s = (s + 1) & mask)
		;
	memcpy(b->stack_text + b->stack_text_len, stack, len);
	b->stacks[b->n_stacks] =
	    (struct pstack){.offset = b->stack_text_len, .len = len, .hash = h, .sample = sample};
	b->stack_text_len += len;
	b->stack_slots.v[s] = ++b->n_stacks;
	return 0;
}

/* Appends one Sample: location ids leaf first, then the values. */
