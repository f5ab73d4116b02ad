/* store_sqlite_profiles: profile slices, deduplicated stacks and topology
 * documents in the SQLite backend.
 *
 * A stack (folded text "root;...;leaf") is stored once in `stacks`, keyed by
 * a 64-bit hash of its text; samples of a slice reference it by row id. A
 * hash collision (different text, same hash) is resolved by rehashing with
 * the next salt, so distinct stacks never merge. An in-memory cache maps
 * hash -> row id and remembers when the row's last_used time was refreshed
 * (retention deletes stacks no kept task can use any more).
 */
#include "server/store_sqlite.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STACK_HASH_SALTS 4

int sq_stack_cache_init(struct sq_stack_cache *c, size_t capacity_pow2)
{
	c->hashes = calloc(capacity_pow2, sizeof(*c->hashes));
	c->ids = calloc(capacity_pow2 * 2, sizeof(*c->ids)); /* id, touched_ms */
	if (!c->hashes || !c->ids) {
		sq_stack_cache_free(c);
		return -ENOMEM;
	}
	c->mask = capacity_pow2 - 1;
	c->used = 0;
	return 0;
}

void sq_stack_cache_clear(struct sq_stack_cache *c)
{
	if (!c->hashes)
		return;
	memset(c->hashes, 0, (c->mask + 1) * sizeof(*c->hashes));
	c->used = 0;
}

void sq_stack_cache_free(struct sq_stack_cache *c)
{
	free(c->hashes);
	free(c->ids);
	c->hashes = NULL;
	c->ids = NULL;
}

/* Slot of `hash` (found or the empty slot where it belongs). */
static size_t cache_slot(const struct sq_stack_cache *c, uint64_t hash)
{
	size_t i = (size_t)hash & c->mask;

	while (c->hashes[i] && c->hashes[i] != hash)
		i = (i + 1) & c->mask;
	return i;
}

static void cache_put(struct sq_stack_cache *c, uint64_t hash, int64_t id, int64_t touched_ms)
{
	size_t i;

	if (c->used >= (c->mask + 1) / 2)
		sq_stack_cache_clear(c); /* bounded memory: start over */
	i = cache_slot(c, hash);
	if (!c->hashes[i])
		c->used++;
	c->hashes[i] = hash;
	c->ids[2 * i] = id;
	c->ids[2 * i + 1] = touched_ms;
}

/* FNV-1a over the text, then a 64-bit finalizer; never 0 (empty slot). */
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
	return h ? h : 1;
}

/* Finds or inserts the stack; caller holds the lock inside a transaction. */
static int stack_resolve(struct store_backend *be, const char *text, size_t len, int64_t now_ms,
			 int64_t *ret_id)
{
	uint64_t h0 = stack_hash(text, len, 0);
	size_t slot = cache_slot(&be->stacks, h0);
	int r;

	if (be->stacks.hashes[slot] == h0) {
		int64_t id = be->stacks.ids[2 * slot];

		if (now_ms - be->stacks.ids[2 * slot + 1] > STORE_STACK_TOUCH_MS) {
			sqlite3_stmt *s = sq_stmt(be, SQ_STACK_TOUCH);

			sqlite3_bind_int64(s, 1, id);
			sqlite3_bind_int64(s, 2, now_ms);
			sqlite3_bind_int64(s, 3, now_ms - STORE_STACK_TOUCH_MS);
			if ((r = sq_exec(be, SQ_STACK_TOUCH)) < 0)
				return r;
			be->stacks.ids[2 * slot + 1] = now_ms;
		}
		*ret_id = id;
		return 0;
	}
	for (uint64_t salt = 0; salt < STACK_HASH_SALTS; salt++) {
		uint64_t h = salt ? stack_hash(text, len, salt) : h0;
		sqlite3_stmt *s = sq_stmt(be, SQ_STACK_FIND);
		int rc;
		bool same = false;
		int64_t id = 0;

		sqlite3_bind_int64(s, 1, (sqlite3_int64)h);
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW) {
			const void *frames = sqlite3_column_blob(s, 1);
			size_t flen = (size_t)sqlite3_column_bytes(s, 1);

			id = sqlite3_column_int64(s, 0);
			same = flen == len && memcmp(frames, text, len) == 0;
		}
		sqlite3_reset(s);
		if (rc == SQLITE_ROW && !same)
			continue; /* collision: next salt */
		if (rc == SQLITE_ROW) {
			s = sq_stmt(be, SQ_STACK_TOUCH);
			sqlite3_bind_int64(s, 1, id);
			sqlite3_bind_int64(s, 2, now_ms);
			sqlite3_bind_int64(s, 3, now_ms - STORE_STACK_TOUCH_MS);
			if ((r = sq_exec(be, SQ_STACK_TOUCH)) < 0)
				return r;
		} else if (rc == SQLITE_DONE) {
			s = sq_stmt(be, SQ_STACK_INSERT);
			sqlite3_bind_int64(s, 1, (sqlite3_int64)h);
			sqlite3_bind_text(s, 2, text, (int)len, SQLITE_STATIC);
			sqlite3_bind_int64(s, 3, now_ms);
			if ((r = sq_exec(be, SQ_STACK_INSERT)) < 0)
				return r;
			id = sqlite3_last_insert_rowid(be->db);
		} else {
			return sq_fail(be, "find stack");
		}
		if (salt == 0)
			cache_put(&be->stacks, h, id, now_ms);
		*ret_id = id;
		return 0;
	}
	return -EINVAL; /* STACK_HASH_SALTS distinct texts on one hash chain */
}

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int sq_add_profile_slice(struct store_backend *be, const struct store_slice *sl,
			 bool *ret_duplicate)
{
	int64_t now_ms = wall_ms(), seq, stack_id = 0;
	bool stacks_added = false;
	sqlite3_stmt *s;
	int r;

	pthread_mutex_lock(&be->lock);
	r = sq_begin(be);
	if (r < 0)
		goto out;
	r = sq_task_seq(be, sl->task_id, &seq);
	if (r < 0)
		goto out;
	s = sq_stmt(be, SQ_SLICE_INSERT);
	sqlite3_bind_int64(s, 1, seq);
	sqlite3_bind_int64(s, 2, sl->slice);
	sqlite3_bind_int64(s, 3, sl->start_ms);
	sqlite3_bind_int64(s, 4, sl->end_ms);
	r = sq_exec(be, SQ_SLICE_INSERT);
	if (r < 0)
		goto out;
	if (sqlite3_changes(be->db) == 0) {
		*ret_duplicate = true;
		goto out; /* nothing written: rolled back below */
	}
	*ret_duplicate = false;
	for (size_t i = 0; i < sl->n_stacks; i++) {
		const struct store_stack *st = &sl->stacks[i];

		r = stack_resolve(be, st->folded, st->len, now_ms, &stack_id);
		if (r < 0)
			goto out;
		stacks_added = true;
		s = sq_stmt(be, SQ_SAMPLE_UPSERT);
		sqlite3_bind_int64(s, 1, seq);
		sqlite3_bind_int64(s, 2, sl->slice);
		sqlite3_bind_int64(s, 3, stack_id);
		sqlite3_bind_int64(s, 4, (sqlite3_int64)st->count);
		sqlite3_bind_int64(s, 5, (sqlite3_int64)st->duration_ns);
		r = sq_exec(be, SQ_SAMPLE_UPSERT);
		if (r < 0)
			goto out;
	}
	if (sl->stats) {
		s = sq_stmt(be, SQ_TASK_ADD_STACK_STATS);
		sqlite3_bind_int64(s, 1, seq);
		sqlite3_bind_int64(s, 2, (sqlite3_int64)sl->stats->samples);
		sqlite3_bind_int64(s, 3, (sqlite3_int64)sl->stats->truncated);
		sqlite3_bind_int64(s, 4, (sqlite3_int64)sl->stats->lost);
		r = sq_exec(be, SQ_TASK_ADD_STACK_STATS);
		if (r < 0)
			goto out;
	}
	r = sq_commit(be);
out:
	if (r < 0 || (r == 0 && *ret_duplicate && !sqlite3_get_autocommit(be->db))) {
		sq_rollback(be);
		if (r < 0 && stacks_added)
			sq_stack_cache_clear(&be->stacks); /* may name rolled-back rows */
	}
	pthread_mutex_unlock(&be->lock);
	return r;
}

int sq_load_flame_samples(struct store_backend *be, const char *task_id, int64_t from_ms,
			  int64_t to_ms, store_stack_fn fn, void *ctx)
{
	sqlite3_stmt *s;
	int64_t seq;
	int rc, r;

	pthread_mutex_lock(&be->lock);
	r = sq_task_seq(be, task_id, &seq);
	if (r < 0)
		goto out;
	s = sq_stmt(be, SQ_FLAME);
	sqlite3_bind_int64(s, 1, seq);
	sqlite3_bind_int64(s, 2, from_ms);
	sqlite3_bind_int64(s, 3, to_ms);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		r = fn((const char *)sqlite3_column_blob(s, 0), (size_t)sqlite3_column_bytes(s, 0),
		       (uint64_t)sqlite3_column_int64(s, 1), (uint64_t)sqlite3_column_int64(s, 2),
		       ctx);
		if (r != 0)
			break;
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = sq_fail(be, "flame samples");
	sqlite3_reset(s);
out:
	pthread_mutex_unlock(&be->lock);
	return r;
}

int sq_put_topology(struct store_backend *be, const char *task_id, const json_t *doc,
		    int64_t now_ms)
{
	char *text = json_dumps(doc, JSON_COMPACT);
	sqlite3_stmt *s;
	int64_t seq;
	int r;

	if (!text)
		return -ENOMEM;
	pthread_mutex_lock(&be->lock);
	r = sq_task_seq(be, task_id, &seq);
	if (r == 0) {
		s = sq_stmt(be, SQ_TOPO_PUT);
		sqlite3_bind_int64(s, 1, seq);
		sq_bind_text(s, 2, text);
		sqlite3_bind_int64(s, 3, now_ms);
		r = sq_exec(be, SQ_TOPO_PUT);
	}
	pthread_mutex_unlock(&be->lock);
	free(text);
	return r;
}

int sq_get_topology(struct store_backend *be, const char *task_id, json_t **ret)
{
	sqlite3_stmt *s;
	json_t *doc = NULL;
	int64_t seq;
	int rc, r;

	pthread_mutex_lock(&be->lock);
	r = sq_task_seq(be, task_id, &seq);
	if (r == 0) {
		s = sq_stmt(be, SQ_TOPO_GET);
		sqlite3_bind_int64(s, 1, seq);
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW)
			doc = sq_col_json(s, 0);
		else if (rc != SQLITE_DONE)
			r = sq_fail(be, "get topology");
		sqlite3_reset(s);
	}
	pthread_mutex_unlock(&be->lock);
	if (r < 0)
		return r;
	if (!doc)
		doc = json_pack("{s:[], s:[], s:[]}", "nodes", "edges", "samples");
	if (!doc)
		return -ENOMEM;
	*ret = doc;
	return 0;
}
