/* flame_bench: what serving one flame graph of a 10-minute task costs the
 * server's CPU, store read excluded: 60 000 samples over 5 000 distinct
 * stacks of depth 10-40 (a synthetic call graph: each stack shares a random
 * prefix of an earlier one), read from folded text into a flame tree and
 * written as d3-flame-graph JSON, and the same samples encoded as gzipped
 * pprof. Two input shapes: one line per sample (60 000 lines, the worst
 * case) and one line per distinct stack (5 000 lines, what a GROUP BY on the
 * store gives). Each figure is the median, min and max of FLAME_BENCH_RUNS
 * runs (default and maximum RUNS_MAX).
 *
 * With BENCH_FIGURES=FILE in the environment, every run's time is also
 * appended to FILE as a line for scripts/bench.sh:
 *   FIGURE name value unit target peer label
 *
 * Built and run by bench/flame.sh.
 */
#include "core/flame.h"
#include "server/pprof.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#define SAMPLES	      60000
#define STACKS	      5000
#define NAMES	      3000
#define DEPTH_MIN     10
#define DEPTH_MAX     40
#define RUNS_MAX      9
#define ONCPU_HZ      99
#define TEXT_MAX      (64u << 20)
#define NAME_MAX_LEN  128
#define MAX_OFFCPU_NS 50000000 /* one switch stays off the CPU up to 50 ms */

static int runs = RUNS_MAX;
static FILE *figures; /* BENCH_FIGURES, or NULL */

static uint64_t rng_state = UINT64_C(0x9e3779b97f4a7c15);

static uint64_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * UINT64_C(0x2545f4914f6cdd1d);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void die(const char *what, int r)
{
	fprintf(stderr, "flame_bench: %s: %s\n", what, strerror(-r));
	exit(1);
}

/* Frame names that look like real ones: C, C++ with templates and spaces,
 * kernel symbols, [unknown]. */
static char names[NAMES][NAME_MAX_LEN];

static void make_names(void)
{
	static const char *const shapes[][2] = {
	    {"do_syscall_", ""},
	    {"ns", "::Service::handle_request(std::vector<int, std::allocator<int> > const&)"},
	    {"worker_loop_", ""},
	    {"std::_Function_handler<void (), Task", ">::_M_invoke(std::_Any_data const&)"},
	    {"[unknown]", NULL},
	    {"libc_read_", ""},
	    {"json_parse_value_", ""},
	    {"Py_EvalFrame_", ""},
	};
	unsigned i;

	for (i = 0; i < NAMES; i++) {
		const char *const *shape = shapes[i % 8];

		if (shape[1])
			snprintf(names[i], sizeof(names[i]), "%s%u%s", shape[0], i, shape[1]);
		else
			snprintf(names[i], sizeof(names[i]), "%s", shape[0]);
	}
}

struct stack {
	unsigned depth;
	unsigned frames[DEPTH_MAX];
};

static struct stack stacks[STACKS];
static char *stack_text[STACKS];

static void make_stacks(void)
{
	unsigned i, d;

	for (i = 0; i < STACKS; i++) {
		struct stack *s = &stacks[i];
		unsigned depth = DEPTH_MIN + (unsigned)(rng() % (DEPTH_MAX - DEPTH_MIN + 1)),
			 keep = 0;
		size_t len = 0;

		if (i > 0) {
			const struct stack *parent = &stacks[rng() % i];
			unsigned most = parent->depth < depth ? parent->depth : depth;

			keep = (unsigned)(rng() % most); /* at least one new frame */
			memcpy(s->frames, parent->frames, keep * sizeof(s->frames[0]));
		}
		for (d = keep; d < depth; d++)
			s->frames[d] = (unsigned)(rng() % NAMES);
		s->depth = depth;
		stack_text[i] = malloc(DEPTH_MAX * (NAME_MAX_LEN + 1));
		for (d = 0; d < depth; d++)
			len += (size_t)sprintf(stack_text[i] + len, "%s%s", d ? ";" : "",
					       names[s->frames[d]]);
	}
}

/* Builds both texts: per sample (count 1 each, in a random order, skewed to
 * hot stacks) and per distinct stack (summed). `offcpu` adds durations. */
static void make_texts(int offcpu, char **ret_samples, size_t *ret_samples_len, char **ret_stacks,
		       size_t *ret_stacks_len)
{
	static uint64_t count[STACKS], duration[STACKS];
	char *a = malloc(TEXT_MAX), *b = malloc(TEXT_MAX);
	size_t alen = 0, blen = 0;
	unsigned i;

	memset(count, 0, sizeof(count));
	memset(duration, 0, sizeof(duration));
	for (i = 0; i < SAMPLES; i++) {
		unsigned s =
		    i < STACKS ? i : (unsigned)(STACKS * pow((double)(rng() % 1000000) / 1e6, 3));
		uint64_t ns = offcpu ? 1000 + rng() % MAX_OFFCPU_NS : 0;

		count[s]++;
		duration[s] += ns;
		alen += (size_t)sprintf(a + alen, "%s 1", stack_text[s]);
		if (offcpu)
			alen += (size_t)sprintf(a + alen, " %llu", (unsigned long long)ns);
		a[alen++] = '\n';
	}
	for (i = 0; i < STACKS; i++) {
		blen += (size_t)sprintf(b + blen, "%s %llu", stack_text[i],
					(unsigned long long)count[i]);
		if (offcpu)
			blen += (size_t)sprintf(b + blen, " %llu", (unsigned long long)duration[i]);
		b[blen++] = '\n';
	}
	*ret_samples = a;
	*ret_samples_len = alen;
	*ret_stacks = b;
	*ret_stacks_len = blen;
}

static int compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Prints the median, min and max of `ms`; with BENCH_FIGURES, also each run
 * as figure `key`.`part` (see the top of this file for the line). */
static void report(const char *what, double *ms, const char *key, const char *part,
		   const char *target, const char *peer)
{
	int run;

	if (figures && part) {
		for (run = 0; run < runs; run++)
			fprintf(figures, "FIGURE flame.%s.%s %.3f ms %s %s %s: %s\n", key, part,
				ms[run], target, peer, key, what);
	}
	qsort(ms, (size_t)runs, sizeof(*ms), compare_double);
	printf("  %-52s median %7.2f ms  min %7.2f  max %7.2f\n", what, ms[runs / 2], ms[0],
	       ms[runs - 1]);
}

struct pprof_ctx {
	struct pprof_builder *b;
	int64_t period;
	int offcpu;
};

static int add_to_pprof(void *ctx, const struct flame_sample *s)
{
	struct pprof_ctx *c = ctx;
	int64_t values[2] = {(int64_t)s->count,
			     c->offcpu ? (int64_t)s->duration_ns : (int64_t)s->count * c->period};

	return pprof_builder_add_folded(c->b, s->stack, s->stack_len, values);
}

/* Tree + JSON (and the parts), then pprof, for one input text. */
static void bench_text(const char *label, const char *key, const char *text, size_t len,
		       enum flame_fields fields)
{
	double build[RUNS_MAX], json[RUNS_MAX], total[RUNS_MAX], folded[RUNS_MAX], pprof[RUNS_MAX],
	    dumps[RUNS_MAX];
	char jansson_figure[128];
	enum flame_aggregate agg =
	    fields == FLAME_FIELDS_COUNT ? FLAME_AGGREGATE_COUNT : FLAME_AGGREGATE_DURATION;
	size_t json_len = 0, folded_len = 0, gz_len = 0;
	struct flame_tree_stats st = {0};
	struct flame_error err = {0};
	struct pprof_options o;
	char *json_doc = NULL;
	int run, r;

	pprof_options_init(&o, fields == FLAME_FIELDS_COUNT ? PPROF_ON_CPU : PPROF_OFF_CPU,
			   ONCPU_HZ);
	for (run = 0; run < runs; run++) {
		struct flame_tree *t = flame_tree_new(NULL);
		struct pprof_ctx pc = {.period = o.period, .offcpu = fields != FLAME_FIELDS_COUNT};
		double t0 = now_ms(), t1, t2;
		unsigned char *gz;
		char *out;

		if (!t)
			die("flame_tree_new", -errno);
		r = flame_parse_folded(text, len, fields, flame_tree_add_sample, t, &err);
		if (r < 0)
			die(err.reason, r);
		t1 = now_ms();
		r = flame_tree_to_json(t, agg, &out, &json_len);
		if (r < 0)
			die("flame_tree_to_json", r);
		t2 = now_ms();
		build[run] = t1 - t0;
		json[run] = t2 - t1;
		total[run] = t2 - t0;
		flame_tree_get_stats(t, &st);

		if (run == 0)
			json_doc = out; /* for the jansson comparison below */
		else
			free(out);

		t0 = now_ms();
		r = flame_tree_to_folded(t, agg, &out, &folded_len);
		if (r < 0)
			die("flame_tree_to_folded", r);
		folded[run] = now_ms() - t0;
		free(out);
		flame_tree_free(t);

		t0 = now_ms();
		pc.b = pprof_builder_new(&o);
		r = flame_parse_folded(text, len, fields, add_to_pprof, &pc, &err);
		if (r < 0)
			die(err.reason, r);
		r = pprof_builder_finish(pc.b, &gz, &gz_len);
		if (r < 0)
			die("pprof_builder_finish", r);
		pprof[run] = now_ms() - t0;
		free(gz);
		pprof_builder_free(pc.b);
	}
	/* jansson, for comparison: only dumping the same document (building its
	 * json_t tree would cost more again), in a loop of its own so that
	 * freeing its 80 000 objects does not slow the runs above. */
	for (run = 0; run < runs; run++) {
		json_t *doc = json_loadb(json_doc, json_len, 0, NULL);
		double t0 = now_ms();
		char *dumped;

		if (!doc)
			die("our JSON does not parse", -EINVAL);
		dumped = json_dumps(doc, JSON_COMPACT);

		dumps[run] = now_ms() - t0;
		free(dumped);
		json_decref(doc);
	}
	free(json_doc);
	printf("%s: %u nodes, %u names, JSON %zu bytes, folded %zu bytes, pprof.gz %zu bytes\n",
	       label, st.nodes, st.names, json_len, folded_len, gz_len);
	snprintf(jansson_figure, sizeof(jansson_figure), "flame.%s.jansson_dumps_ms", key);
	report("parse + tree build", build, key, NULL, "-", "-");
	report("tree -> d3 JSON", json, key, "json_ms", "lower", jansson_figure);
	report("TOTAL parse + build + JSON", total, key, "total_ms", "<100", "-");
	report("(jansson json_dumps of the same document alone)", dumps, key, "jansson_dumps_ms",
	       "-", "-");
	report("tree -> folded text", folded, key, NULL, "-", "-");
	report("TOTAL pprof: parse + encode + gzip", pprof, key, "pprof_ms", "lower", "-");
}

/* The gzip level of pprof: time and size of levels 1 and 6 on one profile. */
static void bench_gzip_levels(const char *text, size_t len)
{
	struct pprof_options o;
	struct pprof_ctx pc = {.period = 0};
	unsigned char *gz, *raw;
	size_t gz_len;
	uLongf raw_len = 256u << 20;
	z_stream zs = {0};
	int level;

	pprof_options_init(&o, PPROF_ON_CPU, ONCPU_HZ);
	pc.period = o.period;
	pc.b = pprof_builder_new(&o);
	if (flame_parse_folded(text, len, FLAME_FIELDS_COUNT, add_to_pprof, &pc, NULL) < 0 ||
	    pprof_builder_finish(pc.b, &gz, &gz_len) < 0)
		die("pprof", -EIO);
	raw = malloc(raw_len);
	inflateInit2(&zs, 15 + 16);
	zs.next_in = gz;
	zs.avail_in = (uInt)gz_len;
	zs.next_out = raw;
	zs.avail_out = (uInt)raw_len;
	inflate(&zs, Z_FINISH);
	raw_len = zs.total_out;
	inflateEnd(&zs);
	printf("pprof gzip level (60 000-line profile, %lu bytes uncompressed):\n", raw_len);
	for (level = 1; level <= 6; level += 5) {
		uLongf out_len = compressBound(raw_len);
		unsigned char *out = malloc(out_len);
		double t0 = now_ms();

		compress2(out, &out_len, raw, raw_len, level);
		printf("  level %d: %.2f ms, %lu bytes\n", level, now_ms() - t0, out_len);
		free(out);
	}
	free(raw);
	free(gz);
	pprof_builder_free(pc.b);
}

int main(void)
{
	const char *runs_env = getenv("FLAME_BENCH_RUNS"), *figures_path = getenv("BENCH_FIGURES");
	char *per_sample, *per_stack;
	size_t per_sample_len, per_stack_len;
	unsigned i;

	if (runs_env) {
		char *end;
		long n = strtol(runs_env, &end, 10);

		if (*end || n < 1 || n > RUNS_MAX) {
			fprintf(stderr, "flame_bench: FLAME_BENCH_RUNS must be 1 to %d\n",
				RUNS_MAX);
			return 2;
		}
		runs = (int)n;
	}
	if (figures_path && *figures_path) {
		figures = fopen(figures_path, "ae");
		if (!figures) {
			fprintf(stderr, "flame_bench: %s: %s\n", figures_path, strerror(errno));
			return 1;
		}
	}

	make_names();
	make_stacks();
	printf("flame_bench: %d samples over %d stacks of depth %d-%d, %d runs each\n", SAMPLES,
	       STACKS, DEPTH_MIN, DEPTH_MAX, runs);

	make_texts(0, &per_sample, &per_sample_len, &per_stack, &per_stack_len);
	bench_text("on-CPU, 60 000 lines (one per sample)", "oncpu_60k_lines", per_sample,
		   per_sample_len, FLAME_FIELDS_COUNT);
	bench_text("on-CPU, 5 000 lines (one per stack)", "oncpu_5k_stacks", per_stack,
		   per_stack_len, FLAME_FIELDS_COUNT);
	bench_gzip_levels(per_sample, per_sample_len);
	free(per_sample);
	free(per_stack);

	make_texts(1, &per_sample, &per_sample_len, &per_stack, &per_stack_len);
	bench_text("off-CPU, 60 000 lines, aggregate=duration", "offcpu_60k_lines", per_sample,
		   per_sample_len, FLAME_FIELDS_COUNT_DURATION);
	free(per_sample);
	free(per_stack);
	for (i = 0; i < STACKS; i++)
		free(stack_text[i]);
	if (figures && fclose(figures) != 0) {
		fprintf(stderr, "flame_bench: %s: %s\n", figures_path, strerror(errno));
		return 1;
	}
	return 0;
}
