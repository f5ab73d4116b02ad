/* flamegraph: see flamegraph.h. The tree is the core's (core/flame.h), the
 * pprof encoding server/pprof.h's; this file only feeds them the stacks the
 * store aggregated and picks the output. */
#include "server/flamegraph.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/flame.h"
#include "server/pprof.h"
#include "util/log.h"

static int64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int add_to_tree(const char *stack, size_t len, uint64_t count, uint64_t duration_ns,
		       void *ctx)
{
	if (count > FLAME_VALUE_MAX)
		count = FLAME_VALUE_MAX;
	if (duration_ns > FLAME_VALUE_MAX)
		duration_ns = FLAME_VALUE_MAX;
	return flame_tree_add_stack(ctx, stack, len, count, duration_ns);
}

struct pprof_ctx {
	struct pprof_builder *b;
	bool on_cpu;
	int64_t period_ns;
};

static int add_to_pprof(const char *stack, size_t len, uint64_t count, uint64_t duration_ns,
			void *ctx)
{
	struct pprof_ctx *p = ctx;
	int64_t values[2];

	if (count > INT64_MAX / (p->period_ns > 0 ? (uint64_t)p->period_ns : 1) ||
	    duration_ns > INT64_MAX)
		return -EOVERFLOW;
	values[0] = (int64_t)count;
	values[1] = p->on_cpu ? (int64_t)count * p->period_ns : (int64_t)duration_ns;
	return pprof_builder_add_folded(p->b, stack, len, values);
}

static int render_pprof(struct store *st, const struct flamegraph_task *task, int64_t from_ms,
			int64_t to_ms, struct flamegraph_output *ret)
{
	struct pprof_options opts;
	struct pprof_ctx ctx = {.on_cpu = strcmp(task->target, "OFF_CPU") != 0};
	unsigned char *data = NULL;
	size_t len = 0;
	int r;

	pprof_options_init(&opts, ctx.on_cpu ? PPROF_ON_CPU : PPROF_OFF_CPU, 0);
	opts.time_nanos = task->start_ms * 1000000;
	opts.duration_nanos = (int64_t)task->duration_s * 1000000000;
	ctx.period_ns = ctx.on_cpu ? opts.period : 1;
	ctx.b = pprof_builder_new(&opts);
	if (!ctx.b)
		return -errno;
	r = store_load_flame_samples(st, task->id, from_ms, to_ms, add_to_pprof, &ctx);
	if (r == 0)
		r = pprof_builder_finish(ctx.b, &data, &len);
	pprof_builder_free(ctx.b);
	if (r < 0)
		return r;
	ret->body = (char *)data;
	ret->len = len;
	ret->content_type = "application/octet-stream";
	ret->content_encoding = NULL; /* the body is a .pb.gz file, not an encoding */
	return 0;
}

int flamegraph_render(struct store *st, const struct flamegraph_task *task, int64_t from_ms,
		      int64_t to_ms, bool by_duration, enum flamegraph_format format,
		      struct flamegraph_output *ret)
{
	enum flame_aggregate agg = by_duration ? FLAME_AGGREGATE_DURATION : FLAME_AGGREGATE_COUNT;
	struct flame_tree *tree;
	struct flame_tree_stats stats;
	int64_t t0 = mono_us(), t1;
	int r;

	if (format == FLAMEGRAPH_PPROF)
		return render_pprof(st, task, from_ms, to_ms, ret);
	tree = flame_tree_new(NULL);
	if (!tree)
		return -ENOMEM;
	r = store_load_flame_samples(st, task->id, from_ms, to_ms, add_to_tree, tree);
	t1 = mono_us();
	if (r == 0 && format == FLAMEGRAPH_FOLDED) {
		r = flame_tree_to_folded(tree, agg, &ret->body, &ret->len);
		ret->content_type = "text/plain; charset=utf-8";
	} else if (r == 0) {
		r = flame_tree_to_json(tree, agg, &ret->body, &ret->len);
		ret->content_type = "application/json";
	}
	ret->content_encoding = NULL;
	flame_tree_get_stats(tree, &stats);
	log_debug("flamegraph: task %s: load %.1f ms, render %.1f ms, %u nodes", task->id,
		  (double)(t1 - t0) / 1e3, (double)(mono_us() - t1) / 1e3, stats.nodes);
	flame_tree_free(tree);
	return r;
}
