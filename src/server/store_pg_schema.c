/* store_pg_schema: the PostgreSQL backend's schema — versioned migrations
 * applied at open under an advisory lock, time partitions created ahead of
 * the data, and retention (whole partitions dropped, everything else in
 * small batches).
 *
 * Migrations: contprof_migrations records each applied version. A server
 * takes pg_advisory_lock(STORE_PG_MIGRATION_LOCK) on its first connection,
 * applies what is missing (each migration in its own transaction), then
 * unlocks — so two servers starting at once apply each migration once. A
 * database migrated by a newer contprof is refused rather than guessed at.
 *
 * Partitions: metrics_raw by hour (its retention is an hour by default),
 * metrics_minute and samples by day (samples by their task's start, so a
 * task's profile leaves with its day). Each has a DEFAULT partition that
 * takes rows far outside the retention window (a wrong agent clock), so an
 * insert never fails for want of a partition; retention empties it in
 * batches. Partition names carry their start in UTC: metrics_raw_p2026112509
 * (YYYYMMDDHH).
 */
#include "server/store_pg.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/log.h"

const struct pg_part_table pg_part_raw = {"metrics_raw", STORE_PG_HOUR_MS};
const struct pg_part_table pg_part_minute = {"metrics_minute", STORE_PG_DAY_MS};
const struct pg_part_table pg_part_samples = {"samples", STORE_PG_DAY_MS};

struct migration {
	int version;
	const char *what;
	const char *sql;
};

static const struct migration migrations[] = {
    {1, "base schema",
     "CREATE TABLE policies(service text COLLATE \"C\" PRIMARY KEY, version text NOT NULL,"
     " doc text NOT NULL, updated_ms bigint NOT NULL);"
     "CREATE TABLE agents(id text COLLATE \"C\" PRIMARY KEY, host text NOT NULL,"
     " last_seen_ms bigint NOT NULL);"
     "CREATE TABLE processes(id text COLLATE \"C\" PRIMARY KEY,"
     " agent_id text COLLATE \"C\" NOT NULL, host text COLLATE \"C\" NOT NULL,"
     " service text COLLATE \"C\" NOT NULL, instance text COLLATE \"C\" NOT NULL,"
     " name text COLLATE \"C\" NOT NULL, pid bigint NOT NULL, labels text NOT NULL,"
     " last_seen_ms bigint NOT NULL);"
     "CREATE INDEX processes_service ON processes(service, instance, name);"
     "CREATE INDEX processes_agent ON processes(agent_id);"
     "CREATE INDEX processes_seen ON processes(last_seen_ms);"
     "CREATE TABLE series(id bigserial PRIMARY KEY, process_id text COLLATE \"C\" NOT NULL,"
     " monitor text COLLATE \"C\" NOT NULL, uri text COLLATE \"C\" NOT NULL,"
     " last_time_ms bigint, last_value float8, UNIQUE(process_id, monitor, uri));"
     "CREATE TABLE metrics_raw(series bigint NOT NULL, time_ms bigint NOT NULL,"
     " value float8 NOT NULL, PRIMARY KEY(series, time_ms)) PARTITION BY RANGE(time_ms);"
     "CREATE TABLE metrics_raw_default PARTITION OF metrics_raw DEFAULT;"
     "CREATE TABLE metrics_minute(series bigint NOT NULL, minute_ms bigint NOT NULL,"
     " sum float8 NOT NULL, count bigint NOT NULL, max float8 NOT NULL,"
     " PRIMARY KEY(series, minute_ms)) PARTITION BY RANGE(minute_ms);"
     "CREATE TABLE metrics_minute_default PARTITION OF metrics_minute DEFAULT;"
     "CREATE TABLE tasks(seq bigserial PRIMARY KEY, id text COLLATE \"C\" NOT NULL UNIQUE,"
     " process_id text COLLATE \"C\", service text COLLATE \"C\" NOT NULL,"
     " instance text COLLATE \"C\" NOT NULL, target text COLLATE \"C\" NOT NULL,"
     " trigger text COLLATE \"C\" NOT NULL, cause text, start_ms bigint NOT NULL,"
     " duration_s bigint NOT NULL, end_ms bigint, status text NOT NULL, reason text,"
     " agent_id text, created_ms bigint NOT NULL);"
     "CREATE INDEX tasks_service ON tasks(service, start_ms);"
     "CREATE INDEX tasks_process ON tasks(process_id, start_ms);"
     "CREATE INDEX tasks_start ON tasks(start_ms);"
     "CREATE INDEX tasks_pending ON tasks(status) WHERE status = 'PENDING';"
     "CREATE TABLE stacks(id bigserial PRIMARY KEY, hash bigint NOT NULL UNIQUE,"
     " frames text NOT NULL, last_used_ms bigint NOT NULL);"
     "CREATE INDEX stacks_used ON stacks(last_used_ms);"
     "CREATE TABLE slices(task_seq bigint NOT NULL, slice bigint NOT NULL,"
     " start_ms bigint NOT NULL, end_ms bigint NOT NULL, PRIMARY KEY(task_seq, slice));"
     "CREATE TABLE samples(task_seq bigint NOT NULL, slice bigint NOT NULL,"
     " stack bigint NOT NULL, count bigint NOT NULL, duration_ns bigint NOT NULL,"
     " task_start_ms bigint NOT NULL, PRIMARY KEY(task_seq, slice, stack, task_start_ms))"
     " PARTITION BY RANGE(task_start_ms);"
     "CREATE TABLE samples_default PARTITION OF samples DEFAULT;"
     "CREATE TABLE topologies(task_seq bigint PRIMARY KEY, doc text NOT NULL,"
     " updated_ms bigint NOT NULL);"},
    {2, "tell other servers of policy and manual task changes",
     "CREATE TABLE contprof_sync_state(id int PRIMARY KEY, version bigint NOT NULL);"
     "INSERT INTO contprof_sync_state VALUES(1, 0);"
     "CREATE FUNCTION contprof_notify_sync() RETURNS trigger LANGUAGE plpgsql AS"
     " $$BEGIN UPDATE contprof_sync_state SET version=version+1 WHERE id=1;"
     " PERFORM pg_notify('" STORE_PG_SYNC_CHANNEL "', TG_TABLE_NAME);"
     " RETURN NULL; END$$;"
     "CREATE TRIGGER policies_sync AFTER INSERT OR UPDATE OR DELETE ON policies"
     " FOR EACH STATEMENT EXECUTE FUNCTION contprof_notify_sync();"
     "CREATE TRIGGER tasks_sync AFTER INSERT ON tasks FOR EACH ROW"
     " WHEN (NEW.status = 'PENDING') EXECUTE FUNCTION contprof_notify_sync();"},
    {3, "stack stats of tasks (samples, truncated user stacks, lost)",
     "ALTER TABLE tasks ADD COLUMN stack_samples bigint;"
     "ALTER TABLE tasks ADD COLUMN stack_truncated bigint;"
     "ALTER TABLE tasks ADD COLUMN stack_lost bigint;"},
};

static int exec_simple(PGconn *conn, const char *sql, PGresult **ret, char *err, size_t errlen)
{
	PGresult *res = PQexec(conn, sql);
	ExecStatusType st = PQresultStatus(res);

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		snprintf(err, errlen, "%s", PQresultErrorMessage(res));
		err[strcspn(err, "\n")] = '\0';
		PQclear(res);
		return -EIO;
	}
	if (ret)
		*ret = res;
	else
		PQclear(res);
	return 0;
}

static int apply_missing(PGconn *conn, char *err, size_t errlen)
{
	const int known = migrations[sizeof(migrations) / sizeof(migrations[0]) - 1].version;
	PGresult *res;
	int current, r;

	r = exec_simple(conn,
			"CREATE TABLE IF NOT EXISTS contprof_migrations(version int PRIMARY KEY,"
			" what text NOT NULL, applied_ms bigint NOT NULL)",
			NULL, err, errlen);
	if (r < 0)
		return r;
	r = exec_simple(conn, "SELECT COALESCE(MAX(version), 0) FROM contprof_migrations", &res,
			err, errlen);
	if (r < 0)
		return r;
	current = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	if (current > known) {
		snprintf(err, errlen,
			 "the database's schema is at version %d, newer than this contprof knows "
			 "(%d): upgrade contprof",
			 current, known);
		return -EINVAL;
	}
	for (size_t i = 0; i < sizeof(migrations) / sizeof(migrations[0]); i++) {
		const struct migration *m = &migrations[i];
		char record[256];

		if (m->version <= current)
			continue;
		snprintf(record, sizeof(record),
			 "INSERT INTO contprof_migrations VALUES(%d, '%s',"
			 " (extract(epoch from now()) * 1000)::bigint)",
			 m->version, m->what);
		r = exec_simple(conn, "BEGIN", NULL, err, errlen);
		if (r == 0)
			r = exec_simple(conn, m->sql, NULL, err, errlen);
		if (r == 0)
			r = exec_simple(conn, record, NULL, err, errlen);
		if (r == 0)
			r = exec_simple(conn, "COMMIT", NULL, err, errlen);
		if (r < 0) {
			char why[384];

			snprintf(why, sizeof(why), "%s", err);
			PQclear(PQexec(conn, "ROLLBACK"));
			snprintf(err, errlen, "migration %d (%s) failed: %s", m->version, m->what,
				 why);
			return r;
		}
		log_info("store: applied PostgreSQL migration %d (%s)", m->version, m->what);
	}
	return 0;
}

int pg_migrate(PGconn *conn, char *err, size_t errlen)
{
	char sql[96];
	int r;

	snprintf(sql, sizeof(sql), "SELECT pg_advisory_lock(%lld)", STORE_PG_MIGRATION_LOCK);
	r = exec_simple(conn, sql, NULL, err, errlen);
	if (r < 0)
		return r;
	r = apply_missing(conn, err, errlen);
	snprintf(sql, sizeof(sql), "SELECT pg_advisory_unlock(%lld)", STORE_PG_MIGRATION_LOCK);
	PQclear(PQexec(conn, sql));
	return r;
}

/* --- partitions --- */

static int64_t floor_to(int64_t t, int64_t width)
{
	int64_t q = t / width;

	if (t < 0 && t % width)
		q--;
	return q * width;
}

static void part_name(const struct pg_part_table *t, int64_t start_ms, char *buf, size_t len)
{
	time_t secs = (time_t)(start_ms / 1000);
	struct tm tm;

	gmtime_r(&secs, &tm);
	snprintf(buf, len, "%s_p%04d%02d%02d%02d", t->name, tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour);
}

/* Start of the partition named `name` of table `t`, or -1. */
static int64_t part_start(const struct pg_part_table *t, const char *name)
{
	size_t prefix = strlen(t->name);
	struct tm tm = {0};
	int d[10];

	if (strncmp(name, t->name, prefix) != 0 || strncmp(name + prefix, "_p", 2) != 0 ||
	    strlen(name + prefix + 2) != 10)
		return -1;
	for (int i = 0; i < 10; i++) {
		char ch = name[prefix + 2 + i];

		if (ch < '0' || ch > '9')
			return -1;
		d[i] = ch - '0';
	}
	tm.tm_year = d[0] * 1000 + d[1] * 100 + d[2] * 10 + d[3] - 1900;
	tm.tm_mon = d[4] * 10 + d[5] - 1;
	tm.tm_mday = d[6] * 10 + d[7];
	tm.tm_hour = d[8] * 10 + d[9];
	return (int64_t)timegm(&tm) * 1000;
}

static bool part_known(struct store_backend *be, const struct pg_part_table *t, int64_t start_ms)
{
	bool known = false;

	pthread_mutex_lock(&be->lock);
	for (size_t i = 0; i < be->n_parts && !known; i++)
		known = be->parts[i].table == t && be->parts[i].start_ms == start_ms;
	pthread_mutex_unlock(&be->lock);
	return known;
}

static void part_remember(struct store_backend *be, const struct pg_part_table *t, int64_t start_ms)
{
	pthread_mutex_lock(&be->lock);
	if (be->n_parts == STORE_PG_MAX_PARTS)
		be->n_parts = 0; /* forget all: they are only looked up again */
	be->parts[be->n_parts].table = t;
	be->parts[be->n_parts].start_ms = start_ms;
	be->n_parts++;
	pthread_mutex_unlock(&be->lock);
}

static void part_forget(struct store_backend *be, const struct pg_part_table *t, int64_t start_ms)
{
	pthread_mutex_lock(&be->lock);
	for (size_t i = 0; i < be->n_parts; i++)
		if (be->parts[i].table == t && be->parts[i].start_ms == start_ms)
			be->parts[i] = be->parts[--be->n_parts];
	pthread_mutex_unlock(&be->lock);
}

/* Creates one partition. Another server creating it at the same moment,
 * or rows of its range already in the DEFAULT partition, are not errors:
 * the rows go where PostgreSQL routes them. */
static int create_partition(struct store_backend *be, struct pg_conn *c,
			    const struct pg_part_table *t, int64_t start_ms)
{
	char name[96], sql[320];
	int r;

	part_name(t, start_ms, name, sizeof(name));
	snprintf(sql, sizeof(sql),
		 "CREATE TABLE IF NOT EXISTS %s PARTITION OF %s FOR VALUES FROM (%lld) TO (%lld)",
		 name, t->name, (long long)start_ms, (long long)(start_ms + t->width_ms));
	r = pg_exec(c, sql);
	if (r < 0) {
		if (PQstatus(c->conn) != CONNECTION_OK || strncmp(c->sqlstate, "08", 2) == 0)
			return r;
		log_debug("store: partition %s not created (%s); its rows stay in %s_default", name,
			  c->err, t->name);
	} else {
		log_debug("store: partition %s ready", name);
	}
	part_remember(be, t, start_ms);
	return 0;
}

int pg_ensure_partitions(struct store_backend *be, struct pg_conn *c, const struct pg_part_table *t,
			 const int64_t *times_ms, size_t n, int64_t now_ms, int64_t keep_ms)
{
	int64_t lo = floor_to(now_ms - keep_ms, t->width_ms);
	int64_t hi = now_ms + STORE_PG_DAY_MS;
	int64_t last = INT64_MIN;

	for (size_t i = 0; i < n; i++) {
		int64_t start = floor_to(times_ms[i], t->width_ms);
		int r;

		if (start == last || start < lo || start > hi)
			continue;
		last = start;
		if (part_known(be, t, start))
			continue;
		r = create_partition(be, c, t, start);
		if (r < 0)
			return r;
	}
	return 0;
}

int pg_prepare_partitions(struct store_backend *be, struct pg_conn *c, int64_t now_ms)
{
	const struct store_options *o = &be->opts;
	int r = 0;

	/* This hour's and the next two (raw), today's and tomorrow's (days),
	 * so inserts rarely wait for a CREATE TABLE. */
	for (int64_t ahead = 0; r == 0 && ahead <= 2 * STORE_PG_HOUR_MS;
	     ahead += STORE_PG_HOUR_MS) {
		int64_t t = now_ms + ahead;

		r = pg_ensure_partitions(be, c, &pg_part_raw, &t, 1, now_ms, o->raw_metrics_ms);
	}
	for (int64_t ahead = 0; r == 0 && ahead <= STORE_PG_DAY_MS; ahead += STORE_PG_DAY_MS) {
		int64_t t = now_ms + ahead;

		r = pg_ensure_partitions(be, c, &pg_part_minute, &t, 1, now_ms,
					 o->minute_rollup_ms);
		if (r == 0)
			r = pg_ensure_partitions(be, c, &pg_part_samples, &t, 1, now_ms,
						 o->tasks_ms);
	}
	return r;
}

/* --- retention --- */

/* Drops every partition of `t` that ends at or before `cutoff_ms`. */
static int drop_expired(struct store_backend *be, struct pg_conn *c, const struct pg_part_table *t,
			int64_t cutoff_ms)
{
	struct pg_params p = {0};
	PGresult *res;
	int r = 0;

	pp_text(&p, t->name);
	res = pg_query(c, PG_PARTITIONS, &p);
	if (!res)
		return -EIO;
	for (int i = 0; r == 0 && i < PQntuples(res); i++) {
		const char *name = PQgetvalue(res, i, 0);
		int64_t start = part_start(t, name);
		char sql[160];

		if (start < 0 || start + t->width_ms > cutoff_ms)
			continue;
		snprintf(sql, sizeof(sql), "DROP TABLE IF EXISTS %s", name);
		r = pg_exec(c, sql);
		if (r == 0) {
			part_forget(be, t, start);
			log_debug("store: dropped expired partition %s", name);
		}
	}
	PQclear(res);
	return r;
}

/* Runs a `DELETE ... LIMIT` statement ($1 cutoff, $2 batch). */
static int delete_batch(struct store_backend *be, struct pg_conn *c, enum pg_stmt id,
			int64_t cutoff_ms, uint32_t batch, bool *more)
{
	struct pg_params p = {0};
	uint64_t rows = 0;
	int r;

	(void)be;
	pp_i64(&p, cutoff_ms);
	pp_i64(&p, batch);
	r = pg_command(c, id, &p, &rows);
	if (r == 0 && rows >= batch)
		*more = true;
	return r;
}

struct retention_args {
	int64_t now_ms;
	bool more;
};

static int op_retention(struct store_backend *be, struct pg_conn *c, void *arg)
{
	struct retention_args *a = arg;
	const struct store_options *o = &be->opts;
	uint32_t batch = o->retention_batch_rows ? o->retention_batch_rows : 1;
	uint32_t task_batch = batch / 100 ? batch / 100 : 1;
	int64_t now = a->now_ms;
	struct pg_params p = {0};
	int r;

	a->more = false;
	r = drop_expired(be, c, &pg_part_raw, now - o->raw_metrics_ms);
	if (r == 0)
		r = drop_expired(be, c, &pg_part_minute, now - o->minute_rollup_ms);
	if (r == 0)
		r = drop_expired(be, c, &pg_part_samples, now - o->tasks_ms);
	if (r == 0)
		r = delete_batch(be, c, PG_RET_RAW_DEFAULT, now - o->raw_metrics_ms, batch,
				 &a->more);
	if (r == 0)
		r = delete_batch(be, c, PG_RET_MINUTE_DEFAULT, now - o->minute_rollup_ms, batch,
				 &a->more);
	if (r == 0)
		r = delete_batch(be, c, PG_RET_SAMPLES_DEFAULT, now - o->tasks_ms, batch, &a->more);
	if (r == 0)
		r = delete_batch(be, c, PG_RET_PROCESSES, now - o->processes_ms, batch, &a->more);
	if (r == 0)
		r = delete_batch(be, c, PG_RET_SERIES, now - o->minute_rollup_ms, batch, &a->more);
	if (r == 0)
		r = delete_batch(be, c, PG_RET_AGENTS, now - o->processes_ms, batch, &a->more);
	/* A stack is kept while any task that may use it is kept. */
	if (r == 0)
		r = delete_batch(be, c, PG_RET_STACKS,
				 now - o->tasks_ms - 2 * STORE_PG_STACK_TOUCH_MS, batch, &a->more);
	if (r == 0) {
		pp_i64(&p, now - STORE_PG_PENDING_TIMEOUT_MS);
		pp_i64(&p, now);
		r = pg_command(c, PG_RET_PENDING, &p, NULL);
	}
	if (r == 0)
		r = pg_prepare_partitions(be, c, now);
	/* Last, so a task seen gone means the pass is over (tests rely on it). */
	if (r == 0)
		r = delete_batch(be, c, PG_RET_TASKS, now - o->tasks_ms, task_batch, &a->more);
	return r;
}

int pg_retention(struct store_backend *be, int64_t now_ms, bool *ret_more)
{
	struct retention_args a = {.now_ms = now_ms};
	int r = pg_run(be, "retention", op_retention, &a);

	if (r == 0)
		*ret_more = a.more;
	return r;
}
