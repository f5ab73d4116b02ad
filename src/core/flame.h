/* flame: folded stacks and the flame tree (pure C, no I/O).
 *
 * Owns the folded-stack line format (parse one line or a whole text, format
 * one line) and the flame tree: stacks merged by common prefix, each node
 * holding inclusive sample counts and off-CPU durations, serialized to
 * d3-flame-graph JSON and to folded text. Does not own storage, HTTP, pprof
 * (src/server/pprof.h) or symbolization.
 *
 * Folded line format, one stack per line:
 *
 *     FRAME;FRAME;...;FRAME<ws>COUNT                  FLAME_FIELDS_COUNT
 *     FRAME;FRAME;...;FRAME<ws>COUNT<ws>DURATION_NS   FLAME_FIELDS_COUNT_DURATION
 *
 * - Frames run root first, leaf last, joined by ';'. A frame is one or more
 *   bytes other than ';', '\n', '\r' and NUL. Spaces and tabs inside a frame
 *   are part of it: "[unknown]", "std::vector<int, a>::x", "a b".
 * - The numbers are the last one (COUNT) or two (COUNT DURATION_NS)
 *   whitespace-separated fields; <ws> is one or more spaces or tabs. The
 *   caller says which shape it expects (the task's target tells it): read
 *   with FLAME_FIELDS_COUNT, "a;b 3 40" is frames "a", "b 3" and count 40.
 * - COUNT is the number of samples (on-CPU) or of switches off the CPU
 *   (off-CPU); DURATION_NS is the summed time those switches stayed off the
 *   CPU. Both are unsigned decimal (digits only, leading zeros allowed) and at
 *   most FLAME_VALUE_MAX, so every total a JSON reader sees is exact. A zero
 *   count is accepted and adds nothing.
 * - Whitespace at the start and end of a line is ignored, and so is a '\r'
 *   before the '\n' (CRLF text). In a text, lines are split on '\n', the last
 *   one needs none, blank lines are skipped and lines count from 1.
 *
 * The tree (struct flame_tree) is bounded: at most max_depth frames per stack
 * (a deeper stack keeps its max_depth - 1 root-most frames and ends in a
 * FLAME_TRUNCATED_FRAME leaf that carries its value), at most max_frame_len
 * bytes per frame name (a longer one is cut at a UTF-8 boundary and ends in
 * "..."), at most max_nodes nodes (an insert that needs more fails with
 * -E2BIG and changes nothing) and at most max_output_bytes per serialization.
 *
 * Nothing here is thread-safe on the same tree; different trees are
 * independent. No function logs.
 */
#ifndef CONTPROF_CORE_FLAME_H
#define CONTPROF_CORE_FLAME_H

#include <stddef.h>
#include <stdint.h>

/* Largest count, duration or total: 2^53 - 1, exact in a JSON double. */
#define FLAME_VALUE_MAX ((UINT64_C(1) << 53) - 1)

/* The frame that replaces what a too-deep stack loses. */
#define FLAME_TRUNCATED_FRAME "[truncated]"

/* Defaults of struct flame_limits (a zero field takes its default). */
#define FLAME_DEFAULT_MAX_DEPTH	       512
#define FLAME_DEFAULT_MAX_FRAME_LEN    1024 /* bytes */
#define FLAME_DEFAULT_MAX_NODES	       200000
#define FLAME_DEFAULT_MAX_OUTPUT_BYTES (256u << 20)
/* Hard ceilings of the limits; flame_tree_new refuses anything above. */
#define FLAME_MAX_DEPTH_CEILING	    4096
#define FLAME_MAX_FRAME_LEN_CEILING 65536 /* bytes */
#define FLAME_MAX_NODES_CEILING	    (50u * 1000 * 1000)
/* Floors: room for "[truncated]" under a real frame, and for "x...". */
#define FLAME_MAX_DEPTH_FLOOR	  2
#define FLAME_MAX_FRAME_LEN_FLOOR 16

enum flame_fields {
	FLAME_FIELDS_COUNT = 1,		 /* "STACK COUNT" (on-CPU) */
	FLAME_FIELDS_COUNT_DURATION = 2, /* "STACK COUNT DURATION_NS" (off-CPU) */
};

/* Which value a flame graph shows: sample/switch counts or nanoseconds. */
enum flame_aggregate {
	FLAME_AGGREGATE_COUNT,
	FLAME_AGGREGATE_DURATION,
};

/* One parsed line. `stack` points into the parsed text (not NUL-terminated):
 * the frames joined by ';', without surrounding whitespace. */
struct flame_sample {
	const char *stack;
	size_t stack_len;
	uint32_t depth; /* number of frames, >= 1 (saturates at UINT32_MAX) */
	uint64_t count;
	uint64_t duration_ns; /* 0 for FLAME_FIELDS_COUNT */
};

/* Where a text was refused: 1-based line number and a static reason. */
struct flame_error {
	size_t line;
	const char *reason;
};

/* Parses one line of `len` bytes (no '\n' inside but one at the end, as
 * flame_format_line writes it; a trailing '\r' is whitespace). 0 and *ret filled, or -EINVAL (malformed) / -ERANGE (a number
 * above FLAME_VALUE_MAX) with *ret_reason (if not NULL) set to a static
 * string such as "empty frame" or "missing count". */
int flame_parse_line(const char *line, size_t len, enum flame_fields fields,
		     struct flame_sample *ret, const char **ret_reason);

/* Called once per non-blank line, in order; a negative return stops parsing
 * and becomes flame_parse_folded's result. */
typedef int (*flame_sample_fn)(void *ctx, const struct flame_sample *sample);

/* Parses a folded text of `len` bytes and hands each line to `fn` (may be
 * NULL: validate only). 0, or the first error (-EINVAL, -ERANGE, or what fn
 * returned) with *ret_err (if not NULL) naming the line and reason. Lines
 * before the bad one have already been handed to fn. */
int flame_parse_folded(const char *text, size_t len, enum flame_fields fields, flame_sample_fn fn,
		       void *ctx, struct flame_error *ret_err);

/* Formats one line "a;b;c COUNT[ DURATION_NS]\n" into buf (NUL-terminated),
 * with DURATION_NS only when duration_ns is not NULL. Frames are validated
 * like parsed ones (-EINVAL: none, empty, or containing ';', '\n', '\r'),
 * values must be <= FLAME_VALUE_MAX (-ERANGE). *ret_len gets the line's
 * length without the NUL on success and on -ENOSPC (buf shorter than
 * *ret_len + 1; nothing useful written), so the caller can grow and retry. */
int flame_format_line(char *buf, size_t size, const char *const *frames, size_t n, uint64_t count,
		      const uint64_t *duration_ns, size_t *ret_len);

struct flame_limits {
	uint32_t max_depth;	 /* frames kept per stack, incl. [truncated] */
	uint32_t max_frame_len;	 /* bytes per frame name */
	uint32_t max_nodes;	 /* tree nodes, the root included */
	size_t max_output_bytes; /* per flame_tree_to_json / _to_folded */
};

struct flame_tree_stats {
	uint32_t nodes;		   /* the root included */
	uint32_t names;		   /* distinct frame names */
	uint64_t stacks;	   /* inserts that changed the tree */
	uint64_t truncated_stacks; /* of which cut to max_depth */
	uint64_t shortened_frames; /* distinct frame names cut to max_frame_len */
};

struct flame_tree;

/* A new empty tree. `limits` may be NULL (all defaults); a zero field takes
 * its default. NULL on a limit outside [floor, ceiling] (errno EINVAL) or on
 * ENOMEM. */
struct flame_tree *flame_tree_new(const struct flame_limits *limits);
/* Frees the tree; accepts NULL; returns NULL. */
struct flame_tree *flame_tree_free(struct flame_tree *t);

/* Adds one stack of `n` frames (root first) seen `count` times for
 * `duration_ns` in total: every node on its path gains both values. Frames
 * are NUL-terminated names, validated like parsed frames.
 * 0, or -EINVAL (n == 0, bad frame), -EOVERFLOW (a total would pass
 * FLAME_VALUE_MAX), -E2BIG (max_nodes reached), -ENOMEM; on error the tree is
 * unchanged. A stack with count and duration both 0 is a no-op. */
int flame_tree_add(struct flame_tree *t, const char *const *frames, size_t n, uint64_t count,
		   uint64_t duration_ns);
/* As flame_tree_add, with the frames given as one ';'-joined string of `len`
 * bytes (struct flame_sample's stack). The tree remembers stack texts it has
 * inserted (up to 64 bytes per allowed node), so adding one again costs a
 * hash, a memcmp and a walk up its path: feeding one line per sample is
 * nearly as cheap as feeding one line per distinct stack. */
int flame_tree_add_stack(struct flame_tree *t, const char *stack, size_t len, uint64_t count,
			 uint64_t duration_ns);
/* flame_sample_fn adapter: `tree` is a struct flame_tree *. Use as
 * flame_parse_folded(text, len, fields, flame_tree_add_sample, tree, &err). */
int flame_tree_add_sample(void *tree, const struct flame_sample *sample);

/* Sum of the chosen value over every stack added (the root's value). */
uint64_t flame_tree_total(const struct flame_tree *t, enum flame_aggregate aggregate);
void flame_tree_get_stats(const struct flame_tree *t, struct flame_tree_stats *ret);

/* d3-flame-graph JSON: {"name":"root","value":N,"children":[...]} where every
 * node is {"name":S,"value":N[,"children":[...]]}, value is inclusive (the
 * node plus its descendants), "children" is omitted for leaves (the root
 * always has it), children are sorted by name (bytewise) and nodes whose
 * chosen value is 0 are left out. Names are escaped for JSON; invalid UTF-8
 * becomes U+FFFD. No whitespace. *ret_json is malloc'd, NUL-terminated and
 * owned by the caller; *ret_len excludes the NUL. 0, -E2BIG (output above
 * max_output_bytes; each name is checked at its worst-case escaped size, 6
 * bytes per byte, so an answer that close to the limit may be refused too)
 * or -ENOMEM. */
int flame_tree_to_json(const struct flame_tree *t, enum flame_aggregate aggregate, char **ret_json,
		       size_t *ret_len);

/* Folded text for flamegraph.pl and friends: one line "a;b;c VALUE\n" per
 * node whose own (self) value is > 0, VALUE being that self value of the
 * chosen aggregate; lines in depth-first order with children sorted by name,
 * so equal trees give equal bytes. Ownership and errors as flame_tree_to_json.
 * An empty tree gives "" (length 0). */
int flame_tree_to_folded(const struct flame_tree *t, enum flame_aggregate aggregate,
			 char **ret_text, size_t *ret_len);

/* Tests only: after `n` more successful allocations every allocation of
 * this module fails, until called again; negative turns failures off (the
 * default). Not thread-safe. */
void flame_alloc_fail_after(long n);

#endif
