/* flame: the flame tree of flame.h — building it (flame_fold.c parses and
 * formats folded lines, flame_out.c serializes the tree).
 *
 * The tree is two flat arrays and two open-addressing indexes:
 * - names: every distinct frame name once, bytes in one arena, found through
 *   name_index by hash;
 * - nodes: {parent, name, count, duration}, node 0 the root; a node's child
 *   named N is found through child_index, hashed by (parent, name id).
 * An insert first walks the existing prefix without changing anything,
 * checks the limits and reserves every byte the rest needs, and only then
 * links new nodes and adds values; so a failed insert changes nothing.
 * Hashes are seeded from the tree's (randomized) address, so colliding
 * frame names cannot be prepared in advance.
 */
#include "core/flame_impl.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define SHORTENED_SUFFIX	   "..."
#define STACK_CACHE_BYTES_PER_NODE 64
#define INDEX_MIN_SLOTS		   64u

/* ---- allocation, with fault injection for the tests ---- */

static long allocs_before_failure = -1; /* negative: never fail */

void flame_alloc_fail_after(long n)
{
	allocs_before_failure = n;
}

static bool injected_failure(void)
{
	if (allocs_before_failure < 0)
		return false;
	if (allocs_before_failure == 0) {
		errno = ENOMEM;
		return true;
	}
	allocs_before_failure--;
	return false;
}

void *flame_xmalloc(size_t size)
{
	return injected_failure() ? NULL : malloc(size);
}

void *flame_xcalloc(size_t n, size_t size)
{
	return injected_failure() ? NULL : calloc(n, size);
}

void *flame_xrealloc(void *p, size_t size)
{
	return injected_failure() ? NULL : realloc(p, size);
}

static uint64_t mix64(uint64_t h)
{
	h ^= h >> 33;
	h *= UINT64_C(0xff51afd7ed558ccd);
	h ^= h >> 33;
	h *= UINT64_C(0xc4ceb9fe1a85ec53);
	h ^= h >> 33;
	return h;
}

static uint32_t hash_bytes(const char *p, size_t len, uint64_t seed)
{
	uint64_t h = seed ^ (len * UINT64_C(0x9e3779b97f4a7c15)), w;

	for (; len >= 8; p += 8, len -= 8) {
		memcpy(&w, p, 8);
		h ^= w * UINT64_C(0x87c37b91114253d5);
		h = ((h << 31) | (h >> 33)) * UINT64_C(0x4cf5ad432745937f);
	}
	w = 0;
	memcpy(&w, p, len);
	h ^= w;
	return (uint32_t)mix64(h);
}

static size_t child_slot(const struct flame_tree *t, uint32_t parent, uint32_t name)
{
	return (size_t)mix64((((uint64_t)parent << 32) | name) ^ t->seed) & (t->child_slots - 1);
}

static bool grow(void **p, uint32_t *cap, uint32_t need, size_t elem)
{
	uint32_t n = *cap ? *cap : 64;
	void *q;

	if (need <= *cap)
		return true;
	while (n < need)
		n = n > UINT32_MAX / 2 ? UINT32_MAX : n * 2;
	q = flame_xrealloc(*p, (size_t)n * elem);
	if (!q)
		return false;
	*p = q;
	*cap = n;
	return true;
}

static int name_index_reserve(struct flame_tree *t, size_t entries)
{
	size_t slots = t->name_slots ? t->name_slots : INDEX_MIN_SLOTS, i, s;
	uint32_t *index;

	if (entries * 2 <= t->name_slots)
		return 0;
	while (entries * 2 > slots)
		slots *= 2;
	index = flame_xcalloc(slots, sizeof(*index));
	if (!index)
		return -ENOMEM;
	for (i = 0; i < t->n_names; i++) {
		for (s = t->names[i].hash & (slots - 1); index[s]; s = (s + 1) & (slots - 1))
			;
		index[s] = (uint32_t)i + 1;
	}
	free(t->name_index);
	t->name_index = index;
	t->name_slots = slots;
	return 0;
}

static int child_index_reserve(struct flame_tree *t, size_t entries)
{
	size_t slots = t->child_slots ? t->child_slots : INDEX_MIN_SLOTS, s;
	uint32_t *index, id;

	if (entries * 2 <= t->child_slots)
		return 0;
	while (entries * 2 > slots)
		slots *= 2;
	index = flame_xcalloc(slots, sizeof(*index));
	if (!index)
		return -ENOMEM;
	free(t->child_index);
	t->child_index = index;
	t->child_slots = slots;
	for (id = 1; id < t->n_nodes; id++) {
		for (s = child_slot(t, t->nodes[id].parent, t->nodes[id].name); index[s];
		     s = (s + 1) & (slots - 1))
			;
		index[s] = id;
	}
	return 0;
}

/* The id of the name equal to f, or FLAME_NO_NAME. */
static uint32_t name_find(const struct flame_tree *t, const struct frame_ref *f)
{
	size_t mask = t->name_slots - 1, s;

	for (s = f->hash & mask; t->name_index[s]; s = (s + 1) & mask) {
		const struct flame_name *n = &t->names[t->name_index[s] - 1];

		if (n->hash == f->hash && n->len == f->len &&
		    memcmp(t->arena + n->offset, f->p, f->len) == 0)
			return t->name_index[s] - 1;
	}
	return FLAME_NO_NAME;
}

/* Adds f as a new name; room was reserved. */
static uint32_t name_add(struct flame_tree *t, const struct frame_ref *f)
{
	size_t mask = t->name_slots - 1, s;
	uint32_t id = t->n_names++;

	t->names[id] = (struct flame_name){.offset = t->arena_len, .len = f->len, .hash = f->hash};
	memcpy(t->arena + t->arena_len, f->p, f->len);
	t->arena[t->arena_len + f->len] = '\0';
	t->arena_len += (size_t)f->len + 1;
	for (s = f->hash & mask; t->name_index[s]; s = (s + 1) & mask)
		;
	t->name_index[s] = id + 1;
	return id;
}

/* The child of `parent` named `name`, or 0. */
static uint32_t child_find(const struct flame_tree *t, uint32_t parent, uint32_t name)
{
	size_t mask = t->child_slots - 1, s;

	for (s = child_slot(t, parent, name); t->child_index[s]; s = (s + 1) & mask) {
		const struct flame_node *n = &t->nodes[t->child_index[s]];

		if (n->parent == parent && n->name == name)
			return t->child_index[s];
	}
	return 0;
}

/* Adds a node; room was reserved. */
static uint32_t child_add(struct flame_tree *t, uint32_t parent, uint32_t name)
{
	size_t mask = t->child_slots - 1, s;
	uint32_t id = t->n_nodes++;

	t->nodes[id] = (struct flame_node){.parent = parent, .name = name};
	for (s = child_slot(t, parent, name); t->child_index[s]; s = (s + 1) & mask)
		;
	t->child_index[s] = id;
	return id;
}

static bool limit_ok(uint64_t v, uint64_t floor, uint64_t ceiling)
{
	return v >= floor && v <= ceiling;
}

struct flame_tree *flame_tree_new(const struct flame_limits *limits)
{
	struct flame_limits l = limits ? *limits : (struct flame_limits){0};
	struct flame_tree *t;

	l.max_depth = l.max_depth ? l.max_depth : FLAME_DEFAULT_MAX_DEPTH;
	l.max_frame_len = l.max_frame_len ? l.max_frame_len : FLAME_DEFAULT_MAX_FRAME_LEN;
	l.max_nodes = l.max_nodes ? l.max_nodes : FLAME_DEFAULT_MAX_NODES;
	l.max_output_bytes =
	    l.max_output_bytes ? l.max_output_bytes : FLAME_DEFAULT_MAX_OUTPUT_BYTES;
	if (!limit_ok(l.max_depth, FLAME_MAX_DEPTH_FLOOR, FLAME_MAX_DEPTH_CEILING) ||
	    !limit_ok(l.max_frame_len, FLAME_MAX_FRAME_LEN_FLOOR, FLAME_MAX_FRAME_LEN_CEILING) ||
	    !limit_ok(l.max_nodes, 1, FLAME_MAX_NODES_CEILING)) {
		errno = EINVAL;
		return NULL;
	}
	t = flame_xcalloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->limits = l;
	t->stack_text_max = (size_t)l.max_nodes * STACK_CACHE_BYTES_PER_NODE;
	t->seed = mix64((uint64_t)(uintptr_t)t ^ UINT64_C(0x2545f4914f6cdd1d));
	t->refs = flame_xcalloc(l.max_depth, sizeof(*t->refs));
	t->path = flame_xcalloc(l.max_depth, sizeof(*t->path));
	if (!t->refs || !t->path ||
	    !grow((void **)&t->nodes, &t->cap_nodes, 1, sizeof(*t->nodes)) ||
	    !grow((void **)&t->names, &t->cap_names, 1, sizeof(*t->names)) ||
	    name_index_reserve(t, 1) < 0 || child_index_reserve(t, 1) < 0)
		return flame_tree_free(t);
	t->arena_cap = 4096;
	t->arena = flame_xmalloc(t->arena_cap);
	if (!t->arena)
		return flame_tree_free(t);
	t->nodes[0] = (struct flame_node){.parent = FLAME_NO_PARENT, .name = FLAME_NO_NAME};
	t->n_nodes = 1;
	return t;
}

struct flame_tree *flame_tree_free(struct flame_tree *t)
{
	if (!t)
		return NULL;
	free(t->nodes);
	free(t->names);
	free(t->arena);
	free(t->name_index);
	free(t->child_index);
	free(t->refs);
	free(t->path);
	free(t->short_names);
	free(t->stacks);
	free(t->stack_text);
	free(t->stack_index);
	free(t);
	return NULL;
}

/* Replaces every frame longer than max_frame_len in refs[0..depth) by its
 * shortened copy in short_names and hashes every frame. */
static int prepare_frames(struct flame_tree *t, uint32_t depth)
{
	uint32_t max = t->limits.max_frame_len, i, n_long = 0;
	size_t suffix = sizeof(SHORTENED_SUFFIX) - 1;
	char *p;

	for (i = 0; i < depth; i++)
		n_long += t->refs[i].len > max;
	if ((size_t)n_long * max > t->short_cap) {
		p = flame_xrealloc(t->short_names, (size_t)n_long * max);
		if (!p)
			return -ENOMEM;
		t->short_names = p;
		t->short_cap = (size_t)n_long * max;
	}
	p = t->short_names;
	for (i = 0; i < depth; i++) {
		struct frame_ref *f = &t->refs[i];

		if (f->len > max) {
			size_t keep = max - suffix;

			/* Cut before a UTF-8 continuation byte, never inside. */
			while (keep > 0 && ((unsigned char)f->p[keep] & 0xc0) == 0x80)
				keep--;
			memcpy(p, f->p, keep);
			memcpy(p + keep, SHORTENED_SUFFIX, suffix);
			f->p = p;
			f->len = keep + suffix;
			f->shortened = true;
			p += max;
		}
		f->hash = hash_bytes(f->p, f->len, t->seed);
	}
	return 0;
}

/* Inserts the `depth` frames in refs (depth <= max_depth; `truncated`: the
 * last one is FLAME_TRUNCATED_FRAME), see flame_tree_add. */
static int tree_insert(struct flame_tree *t, uint32_t depth, bool truncated, uint64_t count,
		       uint64_t duration_ns)
{
	struct flame_node *root = &t->nodes[0];
	uint32_t node = 0, name, matched, i, needed;
	size_t arena_need = 0;
	int r;

	if (count > FLAME_VALUE_MAX - root->count ||
	    duration_ns > FLAME_VALUE_MAX - root->duration_ns)
		return -EOVERFLOW;
	if (!count && !duration_ns)
		return 0;
	r = prepare_frames(t, depth);
	if (r < 0)
		return r;
	/* Walk the part of the path that exists; change nothing yet. */
	for (matched = 0; matched < depth; matched++) {
		name = name_find(t, &t->refs[matched]);
		if (name == FLAME_NO_NAME)
			break;
		node = child_find(t, node, name);
		if (!node)
			break;
		t->path[matched] = node;
	}
	needed = depth - matched;
	if (needed > t->limits.max_nodes - t->n_nodes)
		return -E2BIG;
	for (i = matched; i < depth; i++)
		arena_need += (size_t)t->refs[i].len + 1;
	if (t->arena_len + arena_need > t->arena_cap) {
		size_t cap = t->arena_cap * 2;
		char *arena;

		while (cap < t->arena_len + arena_need)
			cap *= 2;
		arena = flame_xrealloc(t->arena, cap);
		if (!arena)
			return -ENOMEM;
		t->arena = arena;
		t->arena_cap = cap;
	}
	if (!grow((void **)&t->nodes, &t->cap_nodes, t->n_nodes + needed, sizeof(*t->nodes)) ||
	    !grow((void **)&t->names, &t->cap_names, t->n_names + needed, sizeof(*t->names)) ||
	    name_index_reserve(t, (size_t)t->n_names + needed) < 0 ||
	    child_index_reserve(t, (size_t)t->n_nodes + needed) < 0)
		return -ENOMEM;
	/* Nothing below fails. */
	node = matched ? t->path[matched - 1] : 0;
	for (i = matched; i < depth; i++) {
		name = name_find(t, &t->refs[i]);
		if (name == FLAME_NO_NAME) {
			name = name_add(t, &t->refs[i]);
			t->stats.shortened_frames += t->refs[i].shortened;
		}
		node = child_add(t, node, name);
		t->path[i] = node;
	}
	t->nodes[0].count += count;
	t->nodes[0].duration_ns += duration_ns;
	for (i = 0; i < depth; i++) {
		t->nodes[t->path[i]].count += count;
		t->nodes[t->path[i]].duration_ns += duration_ns;
	}
	t->stats.stacks++;
	t->stats.truncated_stacks += truncated;
	return 0;
}

/* Inserts a stack of n frames whose first min(n, max_depth) are in refs;
 * a deeper one loses its last kept frame to FLAME_TRUNCATED_FRAME. */
static int insert_refs(struct flame_tree *t, size_t n, uint64_t count, uint64_t duration_ns)
{
	uint32_t max = t->limits.max_depth;

	if (n <= max)
		return tree_insert(t, (uint32_t)n, false, count, duration_ns);
	t->refs[max - 1] = (struct frame_ref){.p = FLAME_TRUNCATED_FRAME,
					      .len = sizeof(FLAME_TRUNCATED_FRAME) - 1};
	return tree_insert(t, max, true, count, duration_ns);
}

int flame_tree_add(struct flame_tree *t, const char *const *frames, size_t n, uint64_t count,
		   uint64_t duration_ns)
{
	size_t i, len;

	if (n == 0)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		if (flame_check_frame(frames[i], &len) < 0)
			return -EINVAL;
		if (i < t->limits.max_depth)
			t->refs[i] = (struct frame_ref){.p = frames[i], .len = len};
	}
	return insert_refs(t, n, count, duration_ns);
}

static const struct stack_entry *stack_find(const struct flame_tree *t, const char *stack,
					    size_t len, uint32_t hash)
{
	size_t mask = t->stack_slots - 1, s;

	if (!t->stack_slots)
		return NULL;
	for (s = hash & mask; t->stack_index[s]; s = (s + 1) & mask) {
		const struct stack_entry *e = &t->stacks[t->stack_index[s] - 1];

		if (e->hash == hash && e->len == len &&
		    memcmp(t->stack_text + e->offset, stack, len) == 0)
			return e;
	}
	return NULL;
}

/* Remembers a stack just inserted, when memory and the cache's bound allow;
 * the cache only saves time, so failing here is not an error. */
static void stack_remember(struct flame_tree *t, const char *stack, size_t len, uint32_t hash,
			   uint32_t leaf, bool truncated)
{
	size_t s;

	if (len > t->stack_text_max - t->stack_text_len)
		return;
	if (t->stack_text_len + len > t->stack_text_cap) {
		size_t cap = t->stack_text_cap ? t->stack_text_cap * 2 : 65536;
		char *text;

		while (cap < t->stack_text_len + len)
			cap *= 2;
		text = flame_xrealloc(t->stack_text, cap);
		if (!text)
			return;
		t->stack_text = text;
		t->stack_text_cap = cap;
	}
	if (!grow((void **)&t->stacks, &t->cap_stacks, t->n_stacks + 1, sizeof(*t->stacks)))
		return;
	if (((size_t)t->n_stacks + 1) * 2 > t->stack_slots) {
		size_t slots = t->stack_slots ? t->stack_slots * 2 : INDEX_MIN_SLOTS;
		uint32_t *index = flame_xcalloc(slots, sizeof(*index)), i;

		if (!index)
			return;
		for (i = 0; i < t->n_stacks; i++) {
			for (s = t->stacks[i].hash & (slots - 1); index[s];
			     s = (s + 1) & (slots - 1))
				;
			index[s] = i + 1;
		}
		free(t->stack_index);
		t->stack_index = index;
		t->stack_slots = slots;
	}
	memcpy(t->stack_text + t->stack_text_len, stack, len);
	t->stacks[t->n_stacks] = (struct stack_entry){.offset = t->stack_text_len,
						      .len = len,
						      .hash = hash,
						      .leaf = leaf,
						      .truncated = truncated};
	t->stack_text_len += len;
	for (s = hash & (t->stack_slots - 1); t->stack_index[s]; s = (s + 1) & (t->stack_slots - 1))
		;
	t->stack_index[s] = ++t->n_stacks;
}

/* Adds the values to `leaf` and every node above it. */
static int add_along_path(struct flame_tree *t, uint32_t leaf, bool truncated, uint64_t count,
			  uint64_t duration_ns)
{
	uint32_t id;

	if (count > FLAME_VALUE_MAX - t->nodes[0].count ||
	    duration_ns > FLAME_VALUE_MAX - t->nodes[0].duration_ns)
		return -EOVERFLOW;
	if (!count && !duration_ns)
		return 0;
	for (id = leaf; id != FLAME_NO_PARENT; id = t->nodes[id].parent) {
		t->nodes[id].count += count;
		t->nodes[id].duration_ns += duration_ns;
	}
	t->stats.stacks++;
	t->stats.truncated_stacks += truncated;
	return 0;
}

int flame_tree_add_stack(struct flame_tree *t, const char *stack, size_t len, uint64_t count,
			 uint64_t duration_ns)
{
	const struct stack_entry *e;
	const char *reason;
	uint32_t n, hash;
	int r;

	if (len == 0)
		return -EINVAL;
	hash = hash_bytes(stack, len, ~t->seed);
	e = stack_find(t, stack, len, hash);
	if (e)
		return add_along_path(t, e->leaf, e->truncated, count, duration_ns);
	if (flame_split_stack(stack, len, t->refs, t->limits.max_depth, &n, &reason) < 0)
		return -EINVAL;
	r = insert_refs(t, n, count, duration_ns);
	if (r == 0 && (count || duration_ns)) {
		uint32_t depth = n < t->limits.max_depth ? n : t->limits.max_depth;

		stack_remember(t, stack, len, hash, t->path[depth - 1], n > t->limits.max_depth);
	}
	return r;
}

int flame_tree_add_sample(void *tree, const struct flame_sample *sample)
{
	return flame_tree_add_stack(tree, sample->stack, sample->stack_len, sample->count,
				    sample->duration_ns);
}

uint64_t flame_tree_total(const struct flame_tree *t, enum flame_aggregate aggregate)
{
	return aggregate == FLAME_AGGREGATE_DURATION ? t->nodes[0].duration_ns : t->nodes[0].count;
}

void flame_tree_get_stats(const struct flame_tree *t, struct flame_tree_stats *ret)
{
	*ret = t->stats;
	ret->nodes = t->n_nodes;
	ret->names = t->n_names;
}
