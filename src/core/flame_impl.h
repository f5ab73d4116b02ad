/* flame_impl: what flame.c (the tree), flame_fold.c (folded lines) and
 * flame_out.c (serialization) share. Not for other modules: use flame.h.
 */
#ifndef CONTPROF_CORE_FLAME_IMPL_H
#define CONTPROF_CORE_FLAME_IMPL_H

#include "core/flame.h"

#include <stdbool.h>

#define FLAME_NO_PARENT	    UINT32_MAX
#define FLAME_NO_NAME	    UINT32_MAX
#define FLAME_ROOT_NAME	    "root"
#define FLAME_UINT64_DIGITS 20

struct flame_node {
	uint32_t parent; /* FLAME_NO_PARENT for the root */
	uint32_t name;
	uint64_t count; /* inclusive */
	uint64_t duration_ns;
};

struct flame_name {
	size_t offset; /* into the arena; NUL-terminated there */
	uint32_t len;
	uint32_t hash;
};

/* One frame of the stack being inserted. */
struct frame_ref {
	const char *p;
	size_t len;
	uint32_t hash;
	bool shortened; /* cut to max_frame_len */
};

/* A stack text already inserted, and the node it ended at. */
struct stack_entry {
	size_t offset; /* into stack_text */
	size_t len;
	uint32_t hash;
	uint32_t leaf;
	bool truncated;
};

struct flame_tree {
	struct flame_limits limits;
	uint64_t seed;
	struct flame_node *nodes;
	uint32_t n_nodes, cap_nodes;
	struct flame_name *names;
	uint32_t n_names, cap_names;
	char *arena;
	size_t arena_len, arena_cap;
	uint32_t *name_index;  /* name id + 1; 0: free */
	size_t name_slots;     /* power of two */
	uint32_t *child_index; /* node id (never 0: the root is nobody's child); 0: free */
	size_t child_slots;
	struct frame_ref *refs; /* max_depth: the stack being inserted */
	uint32_t *path;		/* max_depth: its node ids */
	char *short_names;	/* shortened frame names of the stack being inserted */
	size_t short_cap;
	/* Stacks seen by flame_tree_add_stack: a repeat costs one hash, one
	 * memcmp and a walk up the parents. At most stack_text_max bytes. */
	struct stack_entry *stacks;
	uint32_t n_stacks, cap_stacks;
	char *stack_text;
	size_t stack_text_len, stack_text_cap, stack_text_max;
	uint32_t *stack_index; /* stack entry + 1; 0: free */
	size_t stack_slots;
	struct flame_tree_stats stats;
};

/* malloc/calloc/realloc that honour flame_alloc_fail_after(). */
void *flame_xmalloc(size_t size);
void *flame_xcalloc(size_t n, size_t size);
void *flame_xrealloc(void *p, size_t size);

/* Checks the frames of a ';'-joined stack of len bytes (len > 0), counting
 * them into *ret_depth (saturated) and storing the first max_refs of them
 * (p and len) in refs; -EINVAL with a static *ret_reason otherwise. */
int flame_split_stack(const char *s, size_t len, struct frame_ref *refs, uint32_t max_refs,
		      uint32_t *ret_depth, const char **ret_reason);
/* -EINVAL unless `frame` is a valid folded frame; its length in *ret_len. */
int flame_check_frame(const char *frame, size_t *ret_len);
/* Writes v in decimal at p (room for FLAME_UINT64_DIGITS); returns the length. */
size_t flame_format_u64(char *p, uint64_t v);

#endif
