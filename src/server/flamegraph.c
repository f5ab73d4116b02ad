/* flamegraph: see flamegraph.h.
 *
 * TEMPORARY tree: until core/flame.h lands on main this file keeps a small
 * prefix tree of its own (children as sibling lists, names in an arena). */
#include "server/flamegraph.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <time.h>

#include "util/log.h"

#define FG_MAX_NODES 2000000u

struct fg_node {
	char *name;
	uint64_t value;
	uint32_t first_child; /* 0: none (node 0 is the root) */
	uint32_t next_sibling;
};

struct fg_tree {
	struct fg_node *nodes;
	uint32_t n, cap;
	bool by_duration;
	/* folded output straight from the aggregated stacks */
	char *folded;
	size_t folded_len, folded_cap;
	bool want_folded;
};

static int fg_new_node(struct fg_tree *t, const char *name, size_t len, uint32_t *ret)
{
	if (t->n >= FG_MAX_NODES)
		return -E2BIG;
	if (t->n == t->cap) {
		uint32_t cap = t->cap ? t->cap * 2 : 1024;
		struct fg_node *nn = realloc(t->nodes, cap * sizeof(*nn));

		if (!nn)
			return -ENOMEM;
		t->nodes = nn;
		t->cap = cap;
	}
	t->nodes[t->n] = (struct fg_node){.name = strndup(name, len)};
	if (!t->nodes[t->n].name)
		return -ENOMEM;
	*ret = t->n++;
	return 0;
}

static int fg_add(const char *stack, size_t len, uint64_t count, uint64_t duration_ns, void *ctx)
{
	struct fg_tree *t = ctx;
	uint64_t v = t->by_duration ? duration_ns : count;
	uint32_t cur = 0;
	size_t pos = 0;

	if (v == 0)
		return 0;
	if (t->want_folded) {
		size_t need = len + 32;

		if (t->folded_len + need > t->folded_cap) {
			size_t cap = t->folded_cap ? t->folded_cap * 2 : 65536;
			char *nb;

			while (cap < t->folded_len + need)
				cap *= 2;
			nb = realloc(t->folded, cap);
			if (!nb)
				return -ENOMEM;
			t->folded = nb;
			t->folded_cap = cap;
		}
		memcpy(t->folded + t->folded_len, stack, len);
		t->folded_len += len;
		t->folded_len +=
		    (size_t)snprintf(t->folded + t->folded_len, t->folded_cap - t->folded_len,
				     " %llu\n", (unsigned long long)v);
		return 0;
	}
	t->nodes[0].value += v;
	while (pos < len) {
		const char *seg = stack + pos, *end = memchr(seg, ';', len - pos);
		size_t slen = end ? (size_t)(end - seg) : len - pos;
		uint32_t child = t->nodes[cur].first_child;

		while (child && !(strlen(t->nodes[child].name) == slen &&
				  memcmp(t->nodes[child].name, seg, slen) == 0))
			child = t->nodes[child].next_sibling;
		if (!child) {
			int r = fg_new_node(t, seg, slen, &child);

			if (r < 0)
				return r;
			t->nodes[child].next_sibling = t->nodes[cur].first_child;
			t->nodes[cur].first_child = child;
		}
		t->nodes[child].value += v;
		cur = child;
		pos += slen + 1;
	}
	return 0;
}

static struct fg_tree *sort_tree; /* qsort has no context argument */

static int by_name(const void *a, const void *b)
{
	return strcmp(sort_tree->nodes[*(const uint32_t *)a].name,
		      sort_tree->nodes[*(const uint32_t *)b].name);
}

static json_t *fg_to_json(struct fg_tree *t, uint32_t idx, int depth)
{
	json_t *node = json_pack("{s:s, s:I}", "name", t->nodes[idx].name, "value",
				 (json_int_t)t->nodes[idx].value);
	uint32_t kids[4096], n = 0;

	if (!node)
		return NULL;
	for (uint32_t c = t->nodes[idx].first_child; c; c = t->nodes[c].next_sibling) {
		if (n < sizeof(kids) / sizeof(kids[0]))
			kids[n++] = c;
	}
	if (n || idx == 0) {
		json_t *children = json_array();

		sort_tree = t;
		qsort(kids, n, sizeof(kids[0]), by_name);
		for (uint32_t i = 0; i < n && depth < 2048; i++)
			json_array_append_new(children, fg_to_json(t, kids[i], depth + 1));
		json_object_set_new(node, "children", children);
	}
	return node;
}

int flamegraph_render(struct store *st, const struct flamegraph_task *task, int64_t from_ms,
		      int64_t to_ms, bool by_duration, enum flamegraph_format format,
		      struct flamegraph_output *ret)
{
	struct fg_tree t = {.by_duration = by_duration, .want_folded = format == FLAMEGRAPH_FOLDED};
	uint32_t root;
	int r;

	if (format == FLAMEGRAPH_PPROF)
		return -ENOSYS;
	struct timespec a, b, c;
	clock_gettime(CLOCK_MONOTONIC, &a);
	r = fg_new_node(&t, "root", 4, &root);
	if (r == 0)
		r = store_load_flame_samples(st, task->id, from_ms, to_ms, fg_add, &t);
	clock_gettime(CLOCK_MONOTONIC, &b);
	if (r == 0 && format == FLAMEGRAPH_FOLDED) {
		ret->body = t.folded ? t.folded : strdup("");
		ret->len = t.folded_len;
		ret->content_type = "text/plain; charset=utf-8";
		ret->content_encoding = NULL;
		t.folded = NULL;
		r = ret->body ? 0 : -ENOMEM;
	} else if (r == 0) {
		json_t *tree = fg_to_json(&t, 0, 0);
		char *text = tree ? json_dumps(tree, JSON_COMPACT) : NULL;

		json_decref(tree);
		ret->body = text;
		ret->len = text ? strlen(text) : 0;
		ret->content_type = "application/json";
		ret->content_encoding = NULL;
		r = text ? 0 : -ENOMEM;
	}
	clock_gettime(CLOCK_MONOTONIC, &c);
	log_debug("flamegraph: task %s: load %.1f ms, render %.1f ms, %u nodes", task->id,
		  (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6,
		  (double)(c.tv_sec - b.tv_sec) * 1e3 + (double)(c.tv_nsec - b.tv_nsec) / 1e6, t.n);
	for (uint32_t i = 0; i < t.n; i++)
		free(t.nodes[i].name);
	free(t.nodes);
	free(t.folded);
	return r;
}
