/* store_pg_profiles: profile slices, deduplicated stacks and topology
 * documents in the PostgreSQL backend.
 *
 * A stack's folded text is stored once in `stacks`, keyed by a 64-bit hash
 * of the text (unique index); a slice resolves all its stacks in one
 * statement (insert the new ones, read the ids of all) and inserts its
 * samples in one multi-row statement. A hash shared by two different texts
 * is detected (the stored text is compared) and the newcomer rehashed with
 * the next salt, so distinct stacks never merge. Samples are partitioned by
 * the day their task started; see store_pg_schema.c.
 *
 * A cache maps the hashes of stacks this server has seen to their row ids,
 * so a slice of known stacks sends only ids. An entry is trusted while its
 * row's last_used_ms is younger than STORE_PG_STACK_TOUCH_MS: retention (of
 * any server) deletes only stacks unused for the task retention plus twice
 * that, so a trusted id cannot have been deleted. Entries are added after
 * the transaction that resolved them committed.
 */
#include "server/store_pg.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STACK_HASH_SALTS 4

/* FNV-1a over the text, salted, then a 64-bit avalanche finalizer. */
static uint64_t stack_hash(const char *text, size_t len, uint64_t salt)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ (salt * 0x9e3779b97f4a7c15ULL);

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)text[i];
		h *= 0x100000001b3ULL;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int pg_stack_cache_init(struct store_backend *be)
{
	be->cache_hashes = calloc(STORE_PG_STACK_CACHE_SLOTS, sizeof(*be->cache_hashes));
	be->cache_ids = calloc(STORE_PG_STACK_CACHE_SLOTS, sizeof(*be->cache_ids));
	be->cache_used_ms = calloc(STORE_PG_STACK_CACHE_SLOTS, sizeof(*be->cache_used_ms));
	be->cache_mask = STORE_PG_STACK_CACHE_SLOTS - 1;
	be->cache_count = 0;
	return be->cache_hashes && be->cache_ids && be->cache_used_ms ? 0 : -ENOMEM;
}

void pg_stack_cache_free(struct store_backend *be)
{
	free(be->cache_hashes);
	free(be->cache_ids);
	free(be->cache_used_ms);
	be->cache_hashes = NULL;
	be->cache_ids = NULL;
	be->cache_used_ms = NULL;
}

/* Slot of `hash` (found or the empty slot where it belongs); cache_lock. */
static size_t cache_slot(const struct store_backend *be, uint64_t hash)
{
	size_t i = (size_t)hash & be->cache_mask;

	while (be->cache_hashes[i] && be->cache_hashes[i] != hash)
		i = (i + 1) & be->cache_mask;
	return i;
}

/* The trusted id of a stack, or 0. */
static int64_t cache_get(struct store_backend *be, uint64_t hash, int64_t now_ms)
{
	int64_t id = 0;
	size_t i;

	if (!hash)
		return 0;
	pthread_mutex_lock(&be->cache_lock);
	i = cache_slot(be, hash);
	if (be->cache_hashes[i] == hash && now_ms - be->cache_used_ms[i] < STORE_PG_STACK_TOUCH_MS)
		id = be->cache_ids[i];
	pthread_mutex_unlock(&be->cache_lock);
	return id;
}

static void cache_put(struct store_backend *be, uint64_t hash, int64_t id, int64_t used_ms)
{
	size_t i;

	if (!hash)
		return;
	pthread_mutex_lock(&be->cache_lock);
	if (be->cache_count >= (be->cache_mask + 1) / 2) {
		memset(be->cache_hashes, 0, (be->cache_mask + 1) * sizeof(*be->cache_hashes));
		be->cache_count = 0; /* bounded memory: start over */
	}
	i = cache_slot(be, hash);
	if (!be->cache_hashes[i])
		be->cache_count++;
	be->cache_hashes[i] = hash;
	be->cache_ids[i] = id;
	be->cache_used_ms[i] = used_ms;
	pthread_mutex_unlock(&be->cache_lock);
}

struct slice_args {
	const struct store_slice *sl;
	int64_t now_ms;
	size_t n_unknown; /* stacks not in the cache, resolved in the database */
	size_t *unknown;  /* their indexes in sl->stacks */
	uint64_t *hash0;  /* salt-0 hash of every stack */
	char *hashes, *frames, *counts, *durations; /* array literals */
	int64_t *stack_ids, *used_ms;
	bool *cacheable; /* resolved on salt 0 */
	bool duplicate;
};

/* Resolves one stack whose salt-0 hash belongs to another text. */
static int resolve_collision(struct pg_conn *c, const struct store_stack *st, int64_t now_ms,
			     int64_t *ret_id)
{
	char *text = strndup(st->folded, st->len);
	int r = -EINVAL; /* STACK_HASH_SALTS texts on one hash chain */

	if (!text)
		return -ENOMEM;
	for (uint64_t salt = 1; salt < STACK_HASH_SALTS && r == -EINVAL; salt++) {
		int64_t h = (int64_t)stack_hash(st->folded, st->len, salt);

		for (int tries = 0; tries < 2 && r == -EINVAL; tries++) {
			struct pg_params p = {0};
			PGresult *res;
			bool other = false;

			pp_i64(&p, h);
			pp_text(&p, text);
			res = pg_query(c, PG_STACK_FIND, &p);
			if (!res) {
				r = -EIO;
				break;
			}
			if (PQntuples(res) == 1) {
				other = strcmp(PQgetvalue(res, 0, 1), "t") != 0;
				if (!other) {
					*ret_id = pg_get_i64(res, 0, 0);
					r = 0;
				}
			}
			PQclear(res);
			if (other || r != -EINVAL)
				break; /* next salt, or done */
			pp_i64(&p, now_ms);
			res = pg_query(c, PG_STACK_INSERT, &p);
			if (!res) {
				r = -EIO;
				break;
			}
			if (PQntuples(res) == 1) {
				*ret_id = pg_get_i64(res, 0, 0);
				r = 0;
			}
			PQclear(res); /* else inserted concurrently: look again */
		}
	}
	free(text);
	return r;
}

/* Fills a->stack_ids for every stack of the slice. */
static int resolve_stacks(struct pg_conn *c, struct slice_args *a)
{
	struct strbuf touch;
	int r = 0;

	pga_open(&touch);
	for (int attempt = 0; attempt < 3; attempt++) {
		struct pg_params p = {0};
		PGresult *res;
		bool missing = false;

		pp_text(&p, a->hashes);
		pp_text(&p, a->frames);
		pp_i64(&p, a->now_ms);
		res = pg_query(c, PG_STACK_RESOLVE, &p);
		if (!res) {
			r = -EIO;
			break;
		}
		for (int i = 0; r == 0 && i < PQntuples(res) && (size_t)i < a->n_unknown; i++) {
			size_t k = a->unknown[i];

			a->cacheable[k] = false;
			if (PQgetisnull(res, i, 1)) {
				missing = true; /* being inserted by another server */
			} else if (strcmp(PQgetvalue(res, i, 2), "t") != 0) {
				r = resolve_collision(c, &a->sl->stacks[k], a->now_ms,
						      &a->stack_ids[k]);
			} else {
				a->stack_ids[k] = pg_get_i64(res, i, 1);
				a->used_ms[k] = pg_get_i64(res, i, 3);
				a->cacheable[k] = true;
				if (a->used_ms[k] < a->now_ms - STORE_PG_STACK_TOUCH_MS) {
					pga_i64(&touch, a->stack_ids[k]);
					a->used_ms[k] = a->now_ms;
				}
			}
		}
		PQclear(res);
		if (r < 0 || !missing)
			break;
		if (attempt == 2) {
			snprintf(c->err, sizeof(c->err), "stacks kept being created concurrently");
			r = -EIO;
		}
	}
	pga_close(&touch);
	if (r == 0 && touch.len > 2) {
		struct pg_params p = {0};
		char *ids = strbuf_steal(&touch);

		if (!ids)
			return -ENOMEM;
		pp_text(&p, ids);
		pp_i64(&p, a->now_ms);
		pp_i64(&p, a->now_ms - STORE_PG_STACK_TOUCH_MS);
		r = pg_command(c, PG_STACK_TOUCH, &p, NULL);
		free(ids);
	}
	strbuf_release(&touch);
	return r;
}

static int insert_samples(struct pg_conn *c, struct slice_args *a, int64_t seq, int64_t start_ms)
{
	struct pg_params p = {0};
	struct strbuf ids;
	char *text;
	int r;

	pga_open(&ids);
	for (size_t i = 0; i < a->sl->n_stacks; i++)
		pga_i64(&ids, a->stack_ids[i]);
	pga_close(&ids);
	text = strbuf_steal(&ids);
	if (!text)
		return -ENOMEM;
	pp_i64(&p, seq);
	pp_i64(&p, a->sl->slice);
	pp_i64(&p, start_ms);
	pp_text(&p, text);
	pp_text(&p, a->counts);
	pp_text(&p, a->durations);
	r = pg_command(c, PG_SAMPLES_INSERT, &p, NULL);
	free(text);
	return r;
}

static int op_add_slice(struct store_backend *be, struct pg_conn *c, void *arg)
{
	struct slice_args *a = arg;
	struct pg_params p = {0};
	int64_t seq, start_ms;
	uint64_t rows = 0;
	int r;

	a->duplicate = false;
	r = pg_task_seq(c, a->sl->task_id, &seq, &start_ms);
	if (r == 0)
		r = pg_ensure_partitions(be, c, &pg_part_samples, &start_ms, 1, a->now_ms,
					 be->opts.tasks_ms);
	if (r == 0)
		r = pg_begin(c);
	if (r < 0)
		return r;
	pp_i64(&p, seq);
	pp_i64(&p, a->sl->slice);
	pp_i64(&p, a->sl->start_ms);
	pp_i64(&p, a->sl->end_ms);
	r = pg_command(c, PG_SLICE_INSERT, &p, &rows);
	if (r < 0)
		return r;
	if (rows == 0) {
		a->duplicate = true;
		return pg_exec(c, "ROLLBACK");
	}
	if (a->n_unknown)
		r = resolve_stacks(c, a);
	if (r == 0 && a->sl->n_stacks)
		r = insert_samples(c, a, seq, start_ms);
	if (r == 0 && a->sl->stats) {
		struct pg_params q = {0};

		pp_i64(&q, seq);
		pp_i64(&q, (int64_t)a->sl->stats->samples);
		pp_i64(&q, (int64_t)a->sl->stats->truncated);
		pp_i64(&q, (int64_t)a->sl->stats->lost);
		r = pg_command(c, PG_TASK_ADD_STACK_STATS, &q, NULL);
	}
	return r == 0 ? pg_commit(c) : r;
}

int pg_add_profile_slice(struct store_backend *be, const struct store_slice *sl,
			 bool *ret_duplicate)
{
	struct slice_args a = {.sl = sl, .now_ms = wall_ms()};
	struct strbuf hashes, frames, counts, durations;
	size_t n = sl->n_stacks ? sl->n_stacks : 1;
	int r = -ENOMEM;

	a.unknown = calloc(n, sizeof(*a.unknown));
	a.hash0 = calloc(n, sizeof(*a.hash0));
	a.stack_ids = calloc(n, sizeof(*a.stack_ids));
	a.used_ms = calloc(n, sizeof(*a.used_ms));
	a.cacheable = calloc(n, sizeof(*a.cacheable));
	pga_open(&hashes);
	pga_open(&frames);
	pga_open(&counts);
	pga_open(&durations);
	for (size_t i = 0; a.cacheable && i < sl->n_stacks; i++) {
		const struct store_stack *st = &sl->stacks[i];

		a.hash0[i] = stack_hash(st->folded, st->len, 0);
		a.stack_ids[i] = cache_get(be, a.hash0[i], a.now_ms);
		if (!a.stack_ids[i]) {
			a.unknown[a.n_unknown++] = i;
			pga_i64(&hashes, (int64_t)a.hash0[i]);
			pga_text(&frames, st->folded, st->len);
		}
		pga_i64(&counts, (int64_t)st->count);
		pga_i64(&durations, (int64_t)st->duration_ns);
	}
	pga_close(&hashes);
	pga_close(&frames);
	pga_close(&counts);
	pga_close(&durations);
	a.hashes = strbuf_steal(&hashes);
	a.frames = strbuf_steal(&frames);
	a.counts = strbuf_steal(&counts);
	a.durations = strbuf_steal(&durations);
	if (a.hashes && a.frames && a.counts && a.durations && a.cacheable && a.unknown &&
	    a.hash0 && a.stack_ids && a.used_ms)
		r = pg_run(be, "add profile slice", op_add_slice, &a);
	if (r == 0) {
		*ret_duplicate = a.duplicate;
		for (size_t i = 0; !a.duplicate && i < a.n_unknown; i++) {
			size_t k = a.unknown[i];

			if (a.cacheable[k])
				cache_put(be, a.hash0[k], a.stack_ids[k], a.used_ms[k]);
		}
	}
	free(a.hashes);
	free(a.frames);
	free(a.counts);
	free(a.durations);
	free(a.unknown);
	free(a.hash0);
	free(a.stack_ids);
	free(a.used_ms);
	free(a.cacheable);
	return r;
}

struct flame_args {
	const char *task_id;
	int64_t from_ms, to_ms;
	PGresult *res;
};

static int op_flame(struct store_backend *be, struct pg_conn *c, void *arg)
{
	struct flame_args *a = arg;
	struct pg_params p = {0};
	int64_t seq;
	int r;

	(void)be;
	r = pg_task_seq(c, a->task_id, &seq, NULL);
	if (r < 0)
		return r;
	pp_i64(&p, seq);
	pp_i64(&p, a->from_ms);
	pp_i64(&p, a->to_ms);
	a->res = pg_query(c, PG_FLAME, &p);
	return a->res ? 0 : -EIO;
}

int pg_load_flame_samples(struct store_backend *be, const char *task_id, int64_t from_ms,
			  int64_t to_ms, store_stack_fn fn, void *ctx)
{
	struct flame_args a = {.task_id = task_id, .from_ms = from_ms, .to_ms = to_ms};
	int r = pg_run(be, "flame samples", op_flame, &a);

	/* Callbacks run after the query succeeded: a retry never repeats them. */
	for (int i = 0; r == 0 && i < PQntuples(a.res); i++)
		r = fn(PQgetvalue(a.res, i, 0), (size_t)PQgetlength(a.res, i, 0),
		       strtoull(PQgetvalue(a.res, i, 1), NULL, 10),
		       strtoull(PQgetvalue(a.res, i, 2), NULL, 10), ctx);
	PQclear(a.res);
	return r;
}

struct topo_args {
	const char *task_id, *text;
	int64_t now_ms;
	json_t *doc;
};

static int op_put_topology(struct store_backend *be, struct pg_conn *c, void *arg)
{
	struct topo_args *a = arg;
	struct pg_params p = {0};
	int64_t seq;
	int r;

	(void)be;
	r = pg_task_seq(c, a->task_id, &seq, NULL);
	if (r < 0)
		return r;
	pp_i64(&p, seq);
	pp_text(&p, a->text);
	pp_i64(&p, a->now_ms);
	return pg_command(c, PG_TOPO_PUT, &p, NULL);
}

int pg_put_topology(struct store_backend *be, const char *task_id, const json_t *doc,
		    int64_t now_ms)
{
	char *text = json_dumps(doc, JSON_COMPACT);
	struct topo_args a = {.task_id = task_id, .text = text, .now_ms = now_ms};
	int r;

	if (!text)
		return -ENOMEM;
	r = pg_run(be, "put topology", op_put_topology, &a);
	free(text);
	return r;
}

static int op_get_topology(struct store_backend *be, struct pg_conn *c, void *arg)
{
	struct topo_args *a = arg;
	struct pg_params p = {0};
	PGresult *res;
	int64_t seq;
	int r;

	(void)be;
	r = pg_task_seq(c, a->task_id, &seq, NULL);
	if (r < 0)
		return r;
	pp_i64(&p, seq);
	res = pg_query(c, PG_TOPO_GET, &p);
	if (!res)
		return -EIO;
	json_decref(a->doc);
	a->doc = PQntuples(res) == 1 ? pg_get_json(res, 0, 0) : NULL;
	PQclear(res);
	return 0;
}

int pg_get_topology(struct store_backend *be, const char *task_id, json_t **ret)
{
	struct topo_args a = {.task_id = task_id};
	int r = pg_run(be, "get topology", op_get_topology, &a);

	if (r < 0) {
		json_decref(a.doc);
		return r;
	}
	if (!a.doc)
		a.doc = json_pack("{s:[], s:[], s:[]}", "nodes", "edges", "samples");
	if (!a.doc)
		return -ENOMEM;
	*ret = a.doc;
	return 0;
}
