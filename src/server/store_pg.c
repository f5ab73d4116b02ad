/* store_pg: the PostgreSQL backend — `--store postgresql://user@host/db`
 * (or postgres://). Several servers may share one database: nothing that
 * matters lives only in one server's memory.
 *
 * Owns: the SQL of every statement (prepared once per pooled connection),
 * opening (connect, migrate under an advisory lock, fill the pool lazily)
 * and closing, policies, agents and processes, and the operation table.
 * Metrics, tasks and profiles live in store_pg_{metrics,tasks,profiles}.c,
 * schema, partitions and retention in store_pg_schema.c, the pool in
 * store_pg_conn.c, cross-server change notification in store_pg_listen.c.
 *
 * Answers are those of the SQLite backend, row for row and in the same
 * order: text columns use the "C" collation (byte order, as SQLite), doubles
 * travel as round-trip exact text, and every listing has the same ORDER BY.
 */
#include "server/store_pg.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/log.h"

#define TASK_COLUMNS                                                                               \
	"id, process_id, service, instance, target, trigger, start_ms, end_ms, duration_s,"        \
	" status, reason, cause, stack_samples, stack_truncated, stack_lost"

const char *const pg_stmt_sql[PG_STMT_COUNT] = {
    [PG_POLICY_PUT] = "INSERT INTO policies(service, version, doc, updated_ms) VALUES($1,$2,$3,$4)"
		      " ON CONFLICT(service) DO UPDATE SET version=excluded.version,"
		      " doc=excluded.doc, updated_ms=excluded.updated_ms",
    [PG_POLICY_GET] = "SELECT doc, version FROM policies WHERE service=$1",
    [PG_POLICY_DELETE] = "DELETE FROM policies WHERE service=$1",
    [PG_SERVICES] =
	"SELECT s.name, p.version, (SELECT COUNT(*) FROM processes x WHERE x.service=s.name),"
	" (SELECT MAX(last_seen_ms) FROM processes x WHERE x.service=s.name)"
	" FROM (SELECT service AS name FROM policies UNION SELECT service FROM processes) s"
	" LEFT JOIN policies p ON p.service=s.name ORDER BY s.name",
    [PG_AGENT_UPSERT] = "INSERT INTO agents(id, host, last_seen_ms) VALUES($1,$2,$3)"
			" ON CONFLICT(id) DO UPDATE SET host=excluded.host,"
			" last_seen_ms=excluded.last_seen_ms",
    [PG_PROCESS_UPSERT] =
	"INSERT INTO processes(id, agent_id, host, service, instance, name, pid, labels,"
	" last_seen_ms) SELECT u.id, $1, $2, u.service, u.instance, u.name, u.pid, u.labels, $3"
	" FROM unnest($4::text[], $5::text[], $6::text[], $7::text[], $8::bigint[], $9::text[])"
	" AS u(id, service, instance, name, pid, labels) ON CONFLICT(id) DO UPDATE SET"
	" agent_id=excluded.agent_id, host=excluded.host, service=excluded.service,"
	" instance=excluded.instance, name=excluded.name, pid=excluded.pid,"
	" labels=excluded.labels, last_seen_ms=excluded.last_seen_ms",
    [PG_PROCESS_GET] = "SELECT id, service, instance, name, pid, host, labels, last_seen_ms"
		       " FROM processes WHERE id=$1",
    [PG_PROCESS_LIST] = "SELECT id, service, instance, name, pid, host, labels, last_seen_ms"
			" FROM processes WHERE $1::text IS NULL OR service=$1"
			" ORDER BY service, instance, name, id LIMIT $2 OFFSET $3",
    [PG_PROCESS_EXISTS] = "SELECT service, instance FROM processes WHERE id=$1",
    [PG_SERIES_RESOLVE] =
	"WITH input AS (SELECT u.process_id, u.monitor, u.uri, u.ord FROM unnest($1::text[],"
	" $2::text[], $3::text[]) WITH ORDINALITY AS u(process_id, monitor, uri, ord)),"
	" ins AS (INSERT INTO series(process_id, monitor, uri) SELECT d.process_id, d.monitor,"
	" d.uri FROM (SELECT DISTINCT ON (i.process_id, i.monitor, i.uri) i.process_id,"
	" i.monitor, i.uri, i.ord FROM input i JOIN processes p ON p.id=i.process_id ORDER BY"
	" i.process_id, i.monitor, i.uri, i.ord) d ORDER BY d.ord"
	" ON CONFLICT(process_id, monitor, uri) DO NOTHING RETURNING id, process_id, monitor, uri)"
	" SELECT i.ord, COALESCE(s.id, n.id), p.id IS NOT NULL FROM input i"
	" LEFT JOIN processes p ON p.id=i.process_id LEFT JOIN series s ON"
	" s.process_id=i.process_id AND s.monitor=i.monitor AND s.uri=i.uri LEFT JOIN ins n ON"
	" n.process_id=i.process_id AND n.monitor=i.monitor AND n.uri=i.uri ORDER BY i.ord",
    [PG_SERIES_GET] = "SELECT id FROM series WHERE process_id=$1 AND monitor=$2 AND uri=$3",
    [PG_SERIES_LATEST] = "UPDATE series s SET last_time_ms=u.t, last_value=u.v FROM"
			 " unnest($1::bigint[], $2::bigint[], $3::float8[]) AS u(id, t, v)"
			 " WHERE s.id=u.id AND (s.last_time_ms IS NULL OR s.last_time_ms <= u.t)",
    [PG_SERIES_ALL_LATEST] =
	"SELECT p.service, p.instance, p.name, p.id, s.monitor, s.uri, s.last_value,"
	" s.last_time_ms FROM series s JOIN processes p ON p.id=s.process_id"
	" WHERE s.last_time_ms IS NOT NULL ORDER BY p.service, p.instance, p.name, p.id, s.monitor,"
	" s.uri",
    [PG_RAW_INSERT] = "INSERT INTO metrics_raw(series, time_ms, value) SELECT * FROM"
		      " unnest($1::bigint[], $2::bigint[], $3::float8[])"
		      " ON CONFLICT DO NOTHING RETURNING series, time_ms",
    [PG_MINUTE_UPSERT] =
	"INSERT INTO metrics_minute(series, minute_ms, sum, count, max) SELECT * FROM"
	" unnest($1::bigint[], $2::bigint[], $3::float8[], $4::bigint[], $5::float8[])"
	" ON CONFLICT(series, minute_ms) DO UPDATE SET sum=metrics_minute.sum+excluded.sum,"
	" count=metrics_minute.count+excluded.count,"
	" max=GREATEST(metrics_minute.max, excluded.max)",
    [PG_RAW_RANGE] = "SELECT time_ms, value FROM metrics_raw WHERE series=$1 AND time_ms>=$2"
		     " AND time_ms<$3 ORDER BY time_ms LIMIT $4 OFFSET $5",
    [PG_MINUTE_RANGE] = "SELECT minute_ms, sum / count, max FROM metrics_minute WHERE series=$1"
			" AND minute_ms>=$2 AND minute_ms<$3 ORDER BY minute_ms LIMIT $4 OFFSET $5",
    [PG_TASK_GET_SEQ] = "SELECT seq, process_id, target, status, start_ms FROM tasks WHERE id=$1",
    [PG_TASK_INSERT] =
	"INSERT INTO tasks(id, process_id, service, instance, target, trigger, cause, start_ms,"
	" duration_s, status, agent_id, created_ms) VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)"
	" ON CONFLICT(id) DO NOTHING",
    [PG_TASK_START_PENDING] = "UPDATE tasks SET status='RUNNING', start_ms=$2, duration_s=$3,"
			      " agent_id=$4 WHERE id=$1 AND status='PENDING'",
    [PG_TASK_FINISH] = "UPDATE tasks SET status=$2, reason=$3, end_ms=$4 WHERE id=$1 AND"
		       " (status IN ('RUNNING', 'PENDING') OR (status='FAILED' AND"
		       " reason='" STORE_SILENT_REASON "'))",
    [PG_TASK_GET] = "SELECT " TASK_COLUMNS " FROM tasks WHERE id=$1",
    [PG_TASK_LIST] = "SELECT " TASK_COLUMNS " FROM tasks WHERE ($1::text IS NULL OR service=$1)"
		     " AND ($2::text IS NULL OR process_id=$2) AND start_ms>=$3"
		     " ORDER BY start_ms DESC, seq DESC LIMIT $4 OFFSET $5",
    [PG_TASK_PENDING] =
	"SELECT t.id, t.process_id, p.pid, t.service, t.instance, t.target, t.duration_s,"
	" t.created_ms FROM tasks t JOIN processes p ON p.id=t.process_id"
	" WHERE t.status='PENDING' AND p.agent_id=$1 ORDER BY t.seq",
    [PG_MON_PROCESSES] = "SELECT id, name, pid, labels, instance FROM processes WHERE service=$1"
			 " ORDER BY instance, name, id",
    [PG_MON_BY_PROCESS] = "SELECT process_id, COUNT(*), MAX(start_ms) FROM tasks WHERE"
			  " service=$1 AND trigger='POLICY' AND start_ms>=$2 AND start_ms<=$3"
			  " AND ($4::text IS NULL OR target=$4) AND process_id IS NOT NULL"
			  " GROUP BY process_id",
    [PG_MON_BY_INSTANCE] = "SELECT instance, COUNT(*), MAX(start_ms) FROM tasks WHERE"
			   " service=$1 AND trigger='POLICY' AND start_ms>=$2 AND start_ms<=$3"
			   " AND ($4::text IS NULL OR target=$4) GROUP BY instance",
    [PG_SLICE_INSERT] = "INSERT INTO slices(task_seq, slice, start_ms, end_ms)"
			" VALUES($1,$2,$3,$4) ON CONFLICT DO NOTHING",
    [PG_TASK_ADD_STACK_STATS] =
	"UPDATE tasks SET stack_samples=COALESCE(stack_samples, 0)+$2,"
	" stack_truncated=COALESCE(stack_truncated, 0)+$3, stack_lost=COALESCE(stack_lost, 0)+$4"
	" WHERE seq=$1",
    [PG_STACK_RESOLVE] =
	"WITH input AS (SELECT u.hash, u.frames, u.ord FROM unnest($1::bigint[], $2::text[])"
	" WITH ORDINALITY AS u(hash, frames, ord)),"
	" ins AS (INSERT INTO stacks(hash, frames, last_used_ms) SELECT d.hash, d.frames, $3"
	" FROM (SELECT DISTINCT ON (hash) hash, frames, ord FROM input ORDER BY hash, ord) d"
	" ORDER BY d.ord ON CONFLICT(hash) DO NOTHING RETURNING id, hash, frames)"
	" SELECT i.ord, COALESCE(s.id, n.id), COALESCE(s.frames, n.frames)=i.frames,"
	" COALESCE(s.last_used_ms, $3) FROM input i LEFT JOIN stacks s ON s.hash=i.hash"
	" LEFT JOIN ins n ON n.hash=i.hash ORDER BY i.ord",
    [PG_STACK_FIND] = "SELECT id, frames=$2 FROM stacks WHERE hash=$1",
    [PG_STACK_INSERT] = "INSERT INTO stacks(hash, frames, last_used_ms) VALUES($1,$2,$3)"
			" ON CONFLICT(hash) DO NOTHING RETURNING id",
    [PG_STACK_TOUCH] = "UPDATE stacks SET last_used_ms=$2 WHERE id=ANY($1::bigint[]) AND"
		       " last_used_ms<$3",
    [PG_SAMPLES_INSERT] =
	"INSERT INTO samples(task_seq, slice, stack, count, duration_ns, task_start_ms)"
	" SELECT $1, $2, u.stack, SUM(u.count)::bigint, SUM(u.dur)::bigint, $3 FROM"
	" unnest($4::bigint[], $5::bigint[], $6::bigint[]) AS u(stack, count, dur)"
	" GROUP BY u.stack",
    [PG_FLAME] = "SELECT st.frames, t.c, t.d FROM (SELECT s.stack AS stack, SUM(s.count) AS c,"
		 " SUM(s.duration_ns) AS d FROM slices sl JOIN samples s ON"
		 " s.task_seq=sl.task_seq AND s.slice=sl.slice WHERE sl.task_seq=$1 AND"
		 " s.task_seq=$1 AND sl.start_ms<$3 AND sl.end_ms>$2 GROUP BY s.stack) t"
		 " JOIN stacks st ON st.id=t.stack ORDER BY t.stack",
    [PG_TOPO_PUT] = "INSERT INTO topologies(task_seq, doc, updated_ms) VALUES($1,$2,$3)"
		    " ON CONFLICT(task_seq) DO UPDATE SET doc=excluded.doc,"
		    " updated_ms=excluded.updated_ms",
    [PG_TOPO_GET] = "SELECT doc FROM topologies WHERE task_seq=$1",
    [PG_RET_TASKS] = "WITH t AS (SELECT seq FROM tasks WHERE start_ms<$1 ORDER BY start_ms"
		     " LIMIT $2), a AS (DELETE FROM slices WHERE task_seq IN (SELECT seq FROM t)),"
		     " b AS (DELETE FROM topologies WHERE task_seq IN (SELECT seq FROM t))"
		     " DELETE FROM tasks WHERE seq IN (SELECT seq FROM t)",
    [PG_RET_PROCESSES] = "DELETE FROM processes WHERE id IN (SELECT id FROM processes WHERE"
			 " last_seen_ms<$1 LIMIT $2)",
    [PG_RET_SERIES] = "DELETE FROM series WHERE id IN (SELECT s.id FROM series s LEFT JOIN"
		      " processes p ON p.id=s.process_id WHERE p.id IS NULL AND"
		      " (s.last_time_ms IS NULL OR s.last_time_ms<$1) LIMIT $2)",
    [PG_RET_STACKS] = "DELETE FROM stacks WHERE id IN (SELECT id FROM stacks WHERE"
		      " last_used_ms<$1 LIMIT $2)",
    [PG_RET_AGENTS] = "DELETE FROM agents WHERE id IN (SELECT id FROM agents WHERE"
		      " last_seen_ms<$1 LIMIT $2)",
    [PG_RET_PENDING] = "UPDATE tasks SET status='FAILED', end_ms=$2, reason='no agent picked the"
		       " manual task up in time' WHERE status='PENDING' AND created_ms<$1",
    [PG_TASK_FAIL_SILENT] =
	"UPDATE tasks SET status='FAILED', end_ms=$2, reason='" STORE_SILENT_REASON
	"' WHERE status='RUNNING' AND NOT EXISTS(SELECT 1"
	" FROM agents WHERE agents.id=tasks.agent_id AND last_seen_ms>=$1)",
    [PG_RET_RAW_DEFAULT] = "DELETE FROM metrics_raw_default WHERE ctid IN (SELECT ctid FROM"
			   " metrics_raw_default WHERE time_ms<$1 LIMIT $2)",
    [PG_RET_MINUTE_DEFAULT] = "DELETE FROM metrics_minute_default WHERE ctid IN (SELECT ctid"
			      " FROM metrics_minute_default WHERE minute_ms<$1 LIMIT $2)",
    [PG_RET_SAMPLES_DEFAULT] = "DELETE FROM samples_default WHERE ctid IN (SELECT ctid FROM"
			       " samples_default WHERE task_start_ms<$1 LIMIT $2)",
    [PG_PARTITIONS] = "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid=i.inhrelid"
		      " WHERE i.inhparent=$1::text::regclass ORDER BY c.relname",
};

static void pg_close(struct store_backend *be)
{
	if (!be)
		return;
	pg_unwatch(be);
	pg_pool_close(be);
	pg_stack_cache_free(be);
	pthread_mutex_destroy(&be->cache_lock);
	pthread_cond_destroy(&be->freed);
	pthread_mutex_destroy(&be->lock);
	free(be->conninfo);
	free(be);
}

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* `path` is what follows "postgresql:" or "postgres:" in the store URL. */
static struct store_backend *pg_open_url(const char *path, const struct store_options *opts,
					 char *err, size_t errlen)
{
	struct store_backend *be;
	PGconn *conn;

	if (strncmp(path, "//", 2) != 0) {
		snprintf(err, errlen,
			 "a PostgreSQL store is a URL: postgresql://USER@HOST:PORT/DATABASE");
		return NULL;
	}
	be = calloc(1, sizeof(*be));
	if (!be || asprintf(&be->conninfo, "postgresql:%s", path) < 0) {
		free(be);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	be->opts = *opts;
	pthread_mutex_init(&be->lock, NULL);
	pthread_cond_init(&be->freed, NULL);
	pthread_mutex_init(&be->cache_lock, NULL);
	if (pg_stack_cache_init(be) < 0) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	/* The first pooled connection runs the migrations. */
	conn = pg_connect(be->conninfo, err, errlen);
	if (!conn)
		goto fail;
	if (pg_migrate(conn, err, errlen) < 0) {
		PQfinish(conn);
		goto fail;
	}
	be->pool[0].conn = conn;
	if (pg_prepare_partitions(be, &be->pool[0], wall_ms()) < 0) {
		snprintf(err, errlen, "cannot create partitions: %s", be->pool[0].err);
		goto fail;
	}
	return be;
fail:
	pg_close(be);
	return NULL;
}

/* --- policies --- */

struct policy_args {
	const char *service, *version, *doc;
	int64_t now_ms;
	char **ret_doc;
	char *ret_version;
};

static int op_put_policy(struct store_backend *be, struct pg_conn *c, void *arg)
{
	struct policy_args *a = arg;
	struct pg_params p = {0};

	(void)be;
	pp_text(&p, a->service);
	pp_text(&p, a->version);
	pp_text(&p, a->doc);
	pp_i64(&p, a->now_ms);
	return pg_command(c, PG_POLICY_PUT, &p, NULL);
}

static int pg_put_policy(struct store_backend *be, const char *service, const char *version,
			 const char *doc, int64_t now_ms)
{
	struct policy_args a = {
	    .service = service, .version = version, .doc = doc, .now_ms = now_ms};

	return pg_run(be, "put policy", op_put_policy, &a);
}

static int op_get_policy(struct store_backend *be, struct pg_conn *c, void *arg)
{
	struct policy_args *a = arg;
	struct pg_params p = {0};
	PGresult *res;
	int r = -ENOENT;

	(void)be;
	pp_text(&p, a->service);
	res = pg_query(c, PG_POLICY_GET, &p);
	if (!res)
		return -EIO;
	if (PQntuples(res) == 1) {
		char *doc = strdup(PQgetvalue(res, 0, 0));

		r = -ENOMEM;
		if (doc) {
			*a->ret_doc = doc;
			snprintf(a->ret_version, 65, "%s", PQgetvalue(res, 0, 1));
			r = 0;
		}
	}
	PQclear(res);
	return r;
}

static int pg_get_policy(struct store_backend *be, const char *service, char **ret_doc,
			 char ret_version[65])
{
	struct policy_args a = {.service = service, .ret_doc = ret_doc, .ret_version = ret_version};

	return pg_run(be, "get policy", op_get_policy, &a);
}

static int op_delete_policy(struct store_backend *be, struct pg_conn *c, void *arg)
{
	struct policy_args *a = arg;
	struct pg_params p = {0};
	uint64_t rows = 0;
	int r;

	(void)be;
	pp_text(&p, a->service);
	r = pg_command(c, PG_POLICY_DELETE, &p, &rows);
	return r == 0 && rows == 0 ? -ENOENT : r;
}

static int pg_delete_policy(struct store_backend *be, const char *service)
{
	struct policy_args a = {.service = service};

	return pg_run(be, "delete policy", op_delete_policy, &a);
}

static int op_list_services(struct store_backend *be, struct pg_conn *c, void *arg)
{
	json_t **ret = arg, *arr;
	PGresult *res;

	(void)be;
	res = pg_query(c, PG_SERVICES, NULL);
	if (!res)
		return -EIO;
	arr = json_array();
	for (int i = 0; arr && i < PQntuples(res); i++)
		json_array_append_new(arr, json_pack("{s:s, s:o, s:I, s:o}", "name",
						     PQgetvalue(res, i, 0), "policy_version",
						     pg_get_text_or_null(res, i, 1), "processes",
						     (json_int_t)pg_get_i64(res, i, 2), "last_seen",
						     pg_get_int_or_null(res, i, 3)));
	PQclear(res);
	if (!arr)
		return -ENOMEM;
	*ret = arr;
	return 0;
}

static int pg_list_services(struct store_backend *be, json_t **ret)
{
	return pg_run(be, "list services", op_list_services, ret);
}

/* --- agents and processes --- */

struct upsert_args {
	const char *agent_id, *host;
	int64_t now_ms;
	size_t n;
	/* Array literals, each process once (the last report of an id wins,
	 * as when the SQLite backend upserts one by one), sorted by id so two
	 * servers upserting overlapping sets lock rows in the same order. */
	char *ids, *services, *instances, *names, *pids, *labels;
};

static int op_upsert_processes(struct store_backend *be, struct pg_conn *c, void *arg)
{
	struct upsert_args *a = arg;
	struct pg_params p = {0};
	int r;

	(void)be;
	r = pg_begin(c);
	if (r < 0)
		return r;
	pp_text(&p, a->agent_id);
	pp_text(&p, a->host);
	pp_i64(&p, a->now_ms);
	r = pg_command(c, PG_AGENT_UPSERT, &p, NULL);
	if (r == 0 && a->n) {
		pp_text(&p, a->ids);
		pp_text(&p, a->services);
		pp_text(&p, a->instances);
		pp_text(&p, a->names);
		pp_text(&p, a->pids);
		pp_text(&p, a->labels);
		r = pg_command(c, PG_PROCESS_UPSERT, &p, NULL);
	}
	return r == 0 ? pg_commit(c) : r;
}

/* By id, then by position (so the last report of an id sorts last). */
static int by_id_then_index(const void *pa, const void *pb, void *ctx)
{
	const struct store_process *procs = ctx;
	size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
	int c = strcmp(procs[a].id, procs[b].id);

	if (c)
		return c;
	return a < b ? -1 : a > b;
}

static int pg_upsert_processes(struct store_backend *be, const char *agent_id, const char *host,
			       const struct store_process *procs, size_t n, int64_t now_ms)
{
	struct upsert_args a = {.agent_id = agent_id, .host = host, .now_ms = now_ms};
	struct strbuf ids, svc, inst, names, pids, labels;
	size_t *order = calloc(n ? n : 1, sizeof(*order));
	int r = 0;

	if (!order)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		order[i] = i;
	qsort_r(order, n, sizeof(*order), by_id_then_index, (void *)procs);
	pga_open(&ids);
	pga_open(&svc);
	pga_open(&inst);
	pga_open(&names);
	pga_open(&pids);
	pga_open(&labels);
	for (size_t k = 0; k < n; k++) {
		const struct store_process *pr = &procs[order[k]];
		char *text;

		if (k + 1 < n && strcmp(pr->id, procs[order[k + 1]].id) == 0)
			continue; /* a later report of this id follows */
		text = pr->labels ? json_dumps(pr->labels, JSON_COMPACT | JSON_SORT_KEYS)
				  : strdup("{}");
		if (!text) {
			r = -ENOMEM;
			break;
		}
		pga_text(&ids, pr->id, strlen(pr->id));
		pga_text(&svc, pr->service, strlen(pr->service));
		pga_text(&inst, pr->instance, strlen(pr->instance));
		pga_text(&names, pr->name, strlen(pr->name));
		pga_i64(&pids, pr->pid);
		pga_text(&labels, text, strlen(text));
		free(text);
		a.n++;
	}
	pga_close(&ids);
	pga_close(&svc);
	pga_close(&inst);
	pga_close(&names);
	pga_close(&pids);
	pga_close(&labels);
	free(order);
	a.ids = strbuf_steal(&ids);
	a.services = strbuf_steal(&svc);
	a.instances = strbuf_steal(&inst);
	a.names = strbuf_steal(&names);
	a.pids = strbuf_steal(&pids);
	a.labels = strbuf_steal(&labels);
	if (r == 0 && (!a.ids || !a.services || !a.instances || !a.names || !a.pids || !a.labels))
		r = -ENOMEM;
	if (r == 0)
		r = pg_run(be, "upsert processes", op_upsert_processes, &a);
	free(a.ids);
	free(a.services);
	free(a.instances);
	free(a.names);
	free(a.pids);
	free(a.labels);
	return r;
}

static json_t *process_row(const PGresult *res, int i)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:o, s:I}", "id", PQgetvalue(res, i, 0),
			 "service", PQgetvalue(res, i, 1), "instance", PQgetvalue(res, i, 2),
			 "name", PQgetvalue(res, i, 3), "pid", (json_int_t)pg_get_i64(res, i, 4),
			 "host", PQgetvalue(res, i, 5), "labels", pg_get_json(res, i, 6),
			 "last_seen", (json_int_t)pg_get_i64(res, i, 7));
}

struct process_query {
	const char *service, *id;
	const struct store_page *page;
	json_t **ret;
};

static int op_list_processes(struct store_backend *be, struct pg_conn *c, void *arg)
{
	struct process_query *q = arg;
	struct pg_params p = {0};
	PGresult *res;
	json_t *arr;

	(void)be;
	pp_text(&p, q->service);
	pp_i64(&p, q->page->limit);
	pp_i64(&p, (int64_t)q->page->offset);
	res = pg_query(c, PG_PROCESS_LIST, &p);
	if (!res)
		return -EIO;
	arr = json_array();
	for (int i = 0; arr && i < PQntuples(res); i++)
		json_array_append_new(arr, process_row(res, i));
	PQclear(res);
	if (!arr)
		return -ENOMEM;
	*q->ret = arr;
	return 0;
}

static int pg_list_processes(struct store_backend *be, const char *service,
			     const struct store_page *page, json_t **ret)
{
	struct process_query q = {.service = service, .page = page, .ret = ret};

	return pg_run(be, "list processes", op_list_processes, &q);
}

static int op_get_process(struct store_backend *be, struct pg_conn *c, void *arg)
{
	struct process_query *q = arg;
	struct pg_params p = {0};
	PGresult *res;
	int r = -ENOENT;

	(void)be;
	pp_text(&p, q->id);
	res = pg_query(c, PG_PROCESS_GET, &p);
	if (!res)
		return -EIO;
	if (PQntuples(res) == 1) {
		*q->ret = process_row(res, 0);
		r = *q->ret ? 0 : -ENOMEM;
	}
	PQclear(res);
	return r;
}

static int pg_get_process(struct store_backend *be, const char *id, json_t **ret)
{
	struct process_query q = {.id = id, .ret = ret};

	return pg_run(be, "get process", op_get_process, &q);
}

#define PG_OPS(name, scheme_text)                                                                  \
	const struct store_ops name = {                                                            \
	    .scheme = scheme_text,                                                                 \
	    .pooled = true,                                                                        \
	    .open = pg_open_url,                                                                   \
	    .close = pg_close,                                                                     \
	    .put_policy = pg_put_policy,                                                           \
	    .get_policy = pg_get_policy,                                                           \
	    .delete_policy = pg_delete_policy,                                                     \
	    .list_services = pg_list_services,                                                     \
	    .upsert_processes = pg_upsert_processes,                                               \
	    .list_processes = pg_list_processes,                                                   \
	    .get_process = pg_get_process,                                                         \
	    .add_metrics = pg_add_metrics,                                                         \
	    .metric_history = pg_metric_history,                                                   \
	    .latest_metrics = pg_latest_metrics,                                                   \
	    .add_task = pg_add_task,                                                               \
	    .finish_task = pg_finish_task,                                                         \
	    .fail_silent_tasks = pg_fail_silent_tasks,                                             \
	    .create_manual_task = pg_create_manual_task,                                           \
	    .pending_tasks = pg_pending_tasks,                                                     \
	    .list_tasks = pg_list_tasks,                                                           \
	    .get_task = pg_get_task,                                                               \
	    .monitoring_summary = pg_monitoring_summary,                                           \
	    .add_profile_slice = pg_add_profile_slice,                                             \
	    .load_flame_samples = pg_load_flame_samples,                                           \
	    .put_topology = pg_put_topology,                                                       \
	    .get_topology = pg_get_topology,                                                       \
	    .retention = pg_retention,                                                             \
	    .watch = pg_watch,                                                                     \
	    .unwatch = pg_unwatch,                                                                 \
	}

PG_OPS(store_pg_ops, "postgresql");
PG_OPS(store_postgres_ops, "postgres");
