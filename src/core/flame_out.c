/* flame_out: serialization of the flame tree (flame.h) to d3-flame-graph
 * JSON and to folded text.
 *
 * Each call builds its own child lists (one sort of the distinct names, then
 * two stable counting sorts of the nodes: by name rank, then by parent), so
 * siblings come out in bytewise name order, and walks them depth first with
 * an explicit stack of at most max_depth + 1 levels. Output goes through a
 * growable buffer with a hard maximum (max_output_bytes).
 */
#include "core/flame_impl.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct outbuf {
	char *data;
	size_t len, cap, max;
	int err; /* first failure: -E2BIG or -ENOMEM; later appends do nothing */
};

static bool outbuf_reserve(struct outbuf *b, size_t more)
{
	size_t cap;
	char *data;

	if (b->err)
		return false;
	if (more > b->max - b->len) {
		b->err = -E2BIG;
		return false;
	}
	if (b->len + more <= b->cap)
		return true;
	cap = b->cap ? b->cap : 4096;
	while (cap < b->len + more)
		cap = cap > b->max / 2 ? b->max : cap * 2;
	data = flame_xrealloc(b->data, cap + 1); /* + 1: the final NUL */
	if (!data) {
		b->err = -ENOMEM;
		return false;
	}
	b->data = data;
	b->cap = cap;
	return true;
}

static void outbuf_put(struct outbuf *b, const void *p, size_t n)
{
	if (outbuf_reserve(b, n)) {
		memcpy(b->data + b->len, p, n);
		b->len += n;
	}
}

static void outbuf_puts(struct outbuf *b, const char *s)
{
	outbuf_put(b, s, strlen(s));
}

static void outbuf_put_u64(struct outbuf *b, uint64_t v)
{
	char tmp[FLAME_UINT64_DIGITS];

	outbuf_put(b, tmp, flame_format_u64(tmp, v));
}

/* Hands the buffer to the caller NUL-terminated, or frees it on error. */
static int outbuf_finish(struct outbuf *b, char **ret, size_t *ret_len)
{
	if (!b->err && !b->data) {
		b->data = flame_xmalloc(1); /* nothing was written: "" */
		b->err = b->data ? 0 : -ENOMEM;
	}
	if (b->err) {
		free(b->data);
		return b->err;
	}
	b->data[b->len] = '\0';
	*ret = b->data;
	*ret_len = b->len;
	return 0;
}

static uint64_t node_value(const struct flame_node *n, enum flame_aggregate aggregate)
{
	return aggregate == FLAME_AGGREGATE_DURATION ? n->duration_ns : n->count;
}

/* Children of node i: list[start[i] .. start[i + 1]), sorted by name. */
struct children {
	uint32_t *start;
	uint32_t *list;
};

static int compare_names(const void *a, const void *b, void *ctx)
{
	const struct flame_tree *t = ctx;

	return strcmp(t->arena + t->names[*(const uint32_t *)a].offset,
		      t->arena + t->names[*(const uint32_t *)b].offset);
}

static void children_free(struct children *c)
{
	free(c->start);
	free(c->list);
}

/* Sorts the names once, then two stable counting sorts of the nodes: by
 * name rank, then by parent; siblings come out in name order. */
static int children_build(const struct flame_tree *t, struct children *c)
{
	size_t n = t->n_nodes, names = t->n_names, i;
	uint32_t *name_order = flame_xmalloc((names + 1) * sizeof(uint32_t));
	uint32_t *name_rank = flame_xmalloc((names + 1) * sizeof(uint32_t));
	uint32_t *rank_start = flame_xcalloc(names + 1, sizeof(uint32_t));
	uint32_t *by_rank = flame_xmalloc(n * sizeof(uint32_t));
	uint32_t *fill = flame_xmalloc(n * sizeof(uint32_t));
	uint32_t id;
	int r = -ENOMEM;

	c->start = flame_xcalloc(n + 1, sizeof(*c->start));
	c->list = flame_xmalloc(n * sizeof(*c->list));
	if (!name_order || !name_rank || !rank_start || !by_rank || !fill || !c->start || !c->list)
		goto out;
	for (i = 0; i < names; i++)
		name_order[i] = (uint32_t)i;
	qsort_r(name_order, names, sizeof(*name_order), compare_names, (void *)t);
	for (i = 0; i < names; i++)
		name_rank[name_order[i]] = (uint32_t)i;
	for (id = 1; id < n; id++)
		rank_start[name_rank[t->nodes[id].name] + 1]++;
	for (i = 0; i < names; i++)
		rank_start[i + 1] += rank_start[i];
	for (id = 1; id < n; id++)
		by_rank[rank_start[name_rank[t->nodes[id].name]]++] = id;
	for (id = 1; id < n; id++)
		c->start[t->nodes[id].parent + 1]++;
	for (i = 0; i < n; i++)
		c->start[i + 1] += c->start[i];
	memcpy(fill, c->start, n * sizeof(*fill));
	for (i = 0; i + 1 < n; i++) {
		id = by_rank[i];
		c->list[fill[t->nodes[id].parent]++] = id;
	}
	r = 0;
out:
	free(name_order);
	free(name_rank);
	free(rank_start);
	free(by_rank);
	free(fill);
	if (r < 0)
		children_free(c);
	return r;
}

/* A valid UTF-8 sequence's length at s (RFC 3629: no overlongs, no
 * surrogates, nothing above U+10FFFF), or 0. s[0] >= 0x80. */
static size_t utf8_sequence_len(const unsigned char *s, size_t avail)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t n, i;

	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		lo = c == 0xe0 ? 0xa0 : lo; /* overlong */
		hi = c == 0xed ? 0x9f : hi; /* surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		lo = c == 0xf0 ? 0x90 : lo; /* overlong */
		hi = c == 0xf4 ? 0x8f : hi; /* above U+10FFFF */
	} else {
		return 0;
	}
	if (avail < n || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

/* Appends s as a JSON string: '"' and '\\' escaped, control bytes as
 * \u00XX, invalid UTF-8 bytes as \ufffd. */
static void put_json_string(struct outbuf *b, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, n;
	char *p;

	if (!outbuf_reserve(b, len * 6 + 2)) /* the worst case: all \u00XX */
		return;
	p = b->data + b->len;
	*p++ = '"';
	while (i < len) {
		unsigned char c = u[i];

		if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
			*p++ = (char)c;
			i++;
		} else if (c == '"' || c == '\\') {
			*p++ = '\\';
			*p++ = (char)c;
			i++;
		} else if (c < 0x20) {
			memcpy(p, "\\u00", 4);
			p[4] = hex[c >> 4];
			p[5] = hex[c & 0xf];
			p += 6;
			i++;
		} else if ((n = utf8_sequence_len(u + i, len - i)) > 0) {
			memcpy(p, u + i, n);
			p += n;
			i += n;
		} else {
			memcpy(p, "\\ufffd", 6);
			p += 6;
			i++;
		}
	}
	*p++ = '"';
	b->len = (size_t)(p - b->data);
}

static void put_node_head(struct outbuf *b, const struct flame_tree *t, uint32_t id,
			  enum flame_aggregate aggregate)
{
	outbuf_puts(b, "{\"name\":");
	if (id == 0) {
		outbuf_puts(b, "\"" FLAME_ROOT_NAME "\"");
	} else {
		const struct flame_name *name = &t->names[t->nodes[id].name];

		put_json_string(b, t->arena + name->offset, name->len);
	}
	outbuf_puts(b, ",\"value\":");
	outbuf_put_u64(b, node_value(&t->nodes[id], aggregate));
}

/* One level of a depth-first walk: a node and its next child to look at. */
struct walk {
	uint32_t node;
	uint32_t next; /* index into children.list */
	bool wrote;    /* a child was written (JSON: comma before the next) */
};

/* The next child of w->node with a non-zero value, or 0 when none is left. */
static uint32_t next_child(const struct flame_tree *t, const struct children *c, struct walk *w,
			   enum flame_aggregate aggregate)
{
	while (w->next < c->start[w->node + 1]) {
		uint32_t id = c->list[w->next++];

		if (node_value(&t->nodes[id], aggregate))
			return id;
	}
	return 0;
}

static int walk_begin(const struct flame_tree *t, struct children *c, struct walk **ret_stack)
{
	int r = children_build(t, c);

	if (r < 0)
		return r;
	*ret_stack = flame_xmalloc(((size_t)t->limits.max_depth + 1) * sizeof(**ret_stack));
	if (!*ret_stack) {
		children_free(c);
		return -ENOMEM;
	}
	(*ret_stack)[0] = (struct walk){.node = 0, .next = c->start[0]};
	return 0;
}

int flame_tree_to_json(const struct flame_tree *t, enum flame_aggregate aggregate, char **ret_json,
		       size_t *ret_len)
{
	struct outbuf b = {.max = t->limits.max_output_bytes};
	struct children c;
	struct walk *stack;
	size_t depth = 1;
	int r = walk_begin(t, &c, &stack);

	if (r < 0)
		return r;
	put_node_head(&b, t, 0, aggregate);
	outbuf_puts(&b, ",\"children\":[");
	while (depth > 0 && !b.err) {
		struct walk *w = &stack[depth - 1], probe;
		uint32_t id = next_child(t, &c, w, aggregate);

		if (!id) {
			outbuf_puts(&b, "]}");
			depth--;
			continue;
		}
		if (w->wrote)
			outbuf_puts(&b, ",");
		w->wrote = true;
		put_node_head(&b, t, id, aggregate);
		probe = (struct walk){.node = id, .next = c.start[id]};
		if (next_child(t, &c, &probe, aggregate)) {
			outbuf_puts(&b, ",\"children\":[");
			stack[depth++] = (struct walk){.node = id, .next = c.start[id]};
		} else {
			outbuf_puts(&b, "}");
		}
	}
	free(stack);
	children_free(&c);
	return outbuf_finish(&b, ret_json, ret_len);
}

int flame_tree_to_folded(const struct flame_tree *t, enum flame_aggregate aggregate,
			 char **ret_text, size_t *ret_len)
{
	struct outbuf b = {.max = t->limits.max_output_bytes};
	struct children c;
	struct walk *stack;
	size_t depth = 1, k;
	int r = walk_begin(t, &c, &stack);

	if (r < 0)
		return r;
	while (depth > 0 && !b.err) {
		uint32_t id = next_child(t, &c, &stack[depth - 1], aggregate), i;
		uint64_t self;

		if (!id) {
			depth--;
			continue;
		}
		stack[depth++] = (struct walk){.node = id, .next = c.start[id]};
		self = node_value(&t->nodes[id], aggregate);
		for (i = c.start[id]; i < c.start[id + 1]; i++)
			self -= node_value(&t->nodes[c.list[i]], aggregate);
		if (!self)
			continue;
		for (k = 1; k < depth; k++) {
			const struct flame_name *name = &t->names[t->nodes[stack[k].node].name];

			outbuf_put(&b, t->arena + name->offset, name->len);
			outbuf_puts(&b, k + 1 < depth ? ";" : " ");
		}
		outbuf_put_u64(&b, self);
		outbuf_puts(&b, "\n");
	}
	free(stack);
	children_free(&c);
	return outbuf_finish(&b, ret_text, ret_len);
}
