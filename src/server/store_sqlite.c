/* store_sqlite: the SQLite backend — schema, connection (WAL), the prepared
 * statements (prepared once in store open, finalized on close), policies,
 * agents and processes, and retention in small batches.
 *
 * Metrics, tasks and profiles live in store_sqlite_{metrics,tasks,profiles}.c;
 * this file owns everything they share (see store_sqlite.h).
 */
#include "server/store_sqlite.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS policies(service TEXT PRIMARY KEY, version TEXT NOT NULL,"
    " doc TEXT NOT NULL, updated_ms INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS agents(id TEXT PRIMARY KEY, host TEXT NOT NULL,"
    " last_seen_ms INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS processes(id TEXT PRIMARY KEY, agent_id TEXT NOT NULL,"
    " host TEXT NOT NULL, service TEXT NOT NULL, instance TEXT NOT NULL, name TEXT NOT NULL,"
    " pid INTEGER NOT NULL, labels TEXT NOT NULL, last_seen_ms INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS processes_service ON processes(service, instance, name);"
    "CREATE INDEX IF NOT EXISTS processes_agent ON processes(agent_id);"
    "CREATE INDEX IF NOT EXISTS processes_seen ON processes(last_seen_ms);"
    "CREATE TABLE IF NOT EXISTS series(id INTEGER PRIMARY KEY, process_id TEXT NOT NULL,"
    " monitor TEXT NOT NULL, uri TEXT NOT NULL, last_time_ms INTEGER, last_value REAL,"
    " UNIQUE(process_id, monitor, uri));"
    "CREATE TABLE IF NOT EXISTS metrics_raw(series INTEGER NOT NULL, time_ms INTEGER NOT NULL,"
    " value REAL NOT NULL, PRIMARY KEY(series, time_ms)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS metrics_minute(series INTEGER NOT NULL,"
    " minute_ms INTEGER NOT NULL, sum REAL NOT NULL, count INTEGER NOT NULL, max REAL NOT NULL,"
    " PRIMARY KEY(series, minute_ms)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS tasks(seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE,"
    " process_id TEXT, service TEXT NOT NULL, instance TEXT NOT NULL, target TEXT NOT NULL,"
    " trigger TEXT NOT NULL, cause TEXT, start_ms INTEGER NOT NULL, duration_s INTEGER NOT NULL,"
    " end_ms INTEGER, status TEXT NOT NULL, reason TEXT, agent_id TEXT,"
    " created_ms INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS tasks_service ON tasks(service, start_ms);"
    "CREATE INDEX IF NOT EXISTS tasks_process ON tasks(process_id, start_ms);"
    "CREATE INDEX IF NOT EXISTS tasks_start ON tasks(start_ms);"
    "CREATE INDEX IF NOT EXISTS tasks_pending ON tasks(status) WHERE status = 'PENDING';"
    "CREATE TABLE IF NOT EXISTS stacks(id INTEGER PRIMARY KEY, hash INTEGER NOT NULL UNIQUE,"
    " frames TEXT NOT NULL, last_used_ms INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS stacks_used ON stacks(last_used_ms);"
    "CREATE TABLE IF NOT EXISTS slices(task_seq INTEGER NOT NULL, slice INTEGER NOT NULL,"
    " start_ms INTEGER NOT NULL, end_ms INTEGER NOT NULL, PRIMARY KEY(task_seq, slice))"
    " WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS samples(task_seq INTEGER NOT NULL, slice INTEGER NOT NULL,"
    " stack INTEGER NOT NULL, count INTEGER NOT NULL, duration_ns INTEGER NOT NULL,"
    " PRIMARY KEY(task_seq, slice, stack)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS topologies(task_seq INTEGER PRIMARY KEY, doc TEXT NOT NULL,"
    " updated_ms INTEGER NOT NULL);";

/* Migrations after the base schema (schema_sql, version 1), in order:
 * PRAGMA user_version records the last one applied (0 and 1 both mean the
 * base schema); a database of a newer contprof is refused. The numbers are
 * those of the PostgreSQL backend's migrations (store_pg_schema.c) for the
 * same change; its version 2 (telling other servers of changes) has no
 * SQLite counterpart. */
static const struct {
	int version;
	const char *sql;
} migrations[] = {
    {3, "ALTER TABLE tasks ADD COLUMN stack_samples INTEGER;"
	"ALTER TABLE tasks ADD COLUMN stack_truncated INTEGER;"
	"ALTER TABLE tasks ADD COLUMN stack_lost INTEGER;"},
};

#define TASK_COLUMNS                                                                               \
	"id, process_id, service, instance, target, trigger, start_ms, end_ms, duration_s,"        \
	" status, reason, cause, stack_samples, stack_truncated, stack_lost"

static const char *const stmt_sql[SQ_COUNT] = {
    [SQ_BEGIN] = "BEGIN IMMEDIATE",
    [SQ_COMMIT] = "COMMIT",
    [SQ_ROLLBACK] = "ROLLBACK",
    [SQ_POLICY_PUT] = "INSERT INTO policies(service, version, doc, updated_ms) VALUES(?1,?2,?3,?4)"
		      " ON CONFLICT(service) DO UPDATE SET version=excluded.version,"
		      " doc=excluded.doc, updated_ms=excluded.updated_ms",
    [SQ_POLICY_GET] = "SELECT doc, version FROM policies WHERE service=?1",
    [SQ_POLICY_DELETE] = "DELETE FROM policies WHERE service=?1",
    [SQ_SERVICES] =
	"SELECT s.name, p.version, (SELECT COUNT(*) FROM processes x WHERE x.service=s.name),"
	" (SELECT MAX(last_seen_ms) FROM processes x WHERE x.service=s.name)"
	" FROM (SELECT service AS name FROM policies UNION SELECT service FROM processes) s"
	" LEFT JOIN policies p ON p.service=s.name ORDER BY s.name",
    [SQ_AGENT_UPSERT] = "INSERT INTO agents(id, host, last_seen_ms) VALUES(?1,?2,?3)"
			" ON CONFLICT(id) DO UPDATE SET host=excluded.host,"
			" last_seen_ms=excluded.last_seen_ms",
    [SQ_PROCESS_UPSERT] =
	"INSERT INTO processes(id, agent_id, host, service, instance, name, pid, labels,"
	" last_seen_ms) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9) ON CONFLICT(id) DO UPDATE SET"
	" agent_id=excluded.agent_id, host=excluded.host, service=excluded.service,"
	" instance=excluded.instance, name=excluded.name, pid=excluded.pid,"
	" labels=excluded.labels, last_seen_ms=excluded.last_seen_ms",
    [SQ_PROCESS_GET] = "SELECT id, service, instance, name, pid, host, labels, last_seen_ms"
		       " FROM processes WHERE id=?1",
    [SQ_PROCESS_LIST] = "SELECT id, service, instance, name, pid, host, labels, last_seen_ms"
			" FROM processes WHERE ?1 IS NULL OR service=?1"
			" ORDER BY service, instance, name, id LIMIT ?2 OFFSET ?3",
    [SQ_PROCESS_EXISTS] = "SELECT service, instance FROM processes WHERE id=?1",
    [SQ_SERIES_GET] = "SELECT id FROM series WHERE process_id=?1 AND monitor=?2 AND uri=?3",
    [SQ_SERIES_INSERT] = "INSERT INTO series(process_id, monitor, uri) VALUES(?1,?2,?3)",
    [SQ_SERIES_LATEST] = "UPDATE series SET last_time_ms=?2, last_value=?3 WHERE id=?1 AND"
			 " (last_time_ms IS NULL OR last_time_ms <= ?2)",
    [SQ_SERIES_ALL_LATEST] =
	"SELECT p.service, p.instance, p.name, p.id, s.monitor, s.uri, s.last_value,"
	" s.last_time_ms FROM series s JOIN processes p ON p.id=s.process_id"
	" WHERE s.last_time_ms IS NOT NULL ORDER BY p.service, p.instance, p.name, p.id, s.monitor,"
	" s.uri",
    [SQ_RAW_INSERT] = "INSERT OR IGNORE INTO metrics_raw(series, time_ms, value) VALUES(?1,?2,?3)",
    [SQ_MINUTE_UPSERT] =
	"INSERT INTO metrics_minute(series, minute_ms, sum, count, max) VALUES(?1,?2,?3,?4,?5)"
	" ON CONFLICT(series, minute_ms) DO UPDATE SET sum=sum+excluded.sum,"
	" count=count+excluded.count, max=MAX(max, excluded.max)",
    [SQ_RAW_RANGE] = "SELECT time_ms, value FROM metrics_raw WHERE series=?1 AND time_ms>=?2"
		     " AND time_ms<?3 ORDER BY time_ms LIMIT ?4 OFFSET ?5",
    [SQ_MINUTE_RANGE] = "SELECT minute_ms, sum / count, max FROM metrics_minute WHERE series=?1"
			" AND minute_ms>=?2 AND minute_ms<?3 ORDER BY minute_ms LIMIT ?4 OFFSET ?5",
    [SQ_TASK_GET_SEQ] = "SELECT seq, process_id, target, status FROM tasks WHERE id=?1",
    [SQ_TASK_INSERT] =
	"INSERT INTO tasks(id, process_id, service, instance, target, trigger, cause, start_ms,"
	" duration_s, status, agent_id, created_ms) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12)",
    [SQ_TASK_START_PENDING] = "UPDATE tasks SET status='RUNNING', start_ms=?2, duration_s=?3,"
			      " agent_id=?4 WHERE id=?1 AND status='PENDING'",
    [SQ_TASK_FINISH] = "UPDATE tasks SET status=?2, reason=?3, end_ms=?4 WHERE id=?1 AND"
		       " (status IN ('RUNNING', 'PENDING') OR (status='FAILED' AND"
		       " reason='" STORE_SILENT_REASON "'))",
    [SQ_TASK_GET] = "SELECT " TASK_COLUMNS " FROM tasks WHERE id=?1",
    [SQ_TASK_LIST] = "SELECT " TASK_COLUMNS " FROM tasks WHERE (?1 IS NULL OR service=?1) AND"
		     " (?2 IS NULL OR process_id=?2) AND start_ms>=?3"
		     " ORDER BY start_ms DESC, seq DESC LIMIT ?4 OFFSET ?5",
    [SQ_TASK_PENDING] =
	"SELECT t.id, t.process_id, p.pid, t.service, t.instance, t.target, t.duration_s,"
	" t.created_ms FROM tasks t JOIN processes p ON p.id=t.process_id"
	" WHERE t.status='PENDING' AND p.agent_id=?1 ORDER BY t.seq",
    [SQ_MON_PROCESSES] = "SELECT id, name, pid, labels, instance FROM processes WHERE service=?1"
			 " ORDER BY instance, name, id",
    [SQ_MON_BY_PROCESS] = "SELECT process_id, COUNT(*), MAX(start_ms) FROM tasks WHERE"
			  " service=?1 AND trigger='POLICY' AND start_ms>=?2 AND start_ms<=?3"
			  " AND (?4 IS NULL OR target=?4) AND process_id IS NOT NULL"
			  " GROUP BY process_id",
    [SQ_MON_BY_INSTANCE] = "SELECT instance, COUNT(*), MAX(start_ms) FROM tasks WHERE"
			   " service=?1 AND trigger='POLICY' AND start_ms>=?2 AND start_ms<=?3"
			   " AND (?4 IS NULL OR target=?4) GROUP BY instance",
    [SQ_SLICE_INSERT] = "INSERT OR IGNORE INTO slices(task_seq, slice, start_ms, end_ms)"
			" VALUES(?1,?2,?3,?4)",
    [SQ_TASK_ADD_STACK_STATS] =
	"UPDATE tasks SET stack_samples=COALESCE(stack_samples, 0)+?2,"
	" stack_truncated=COALESCE(stack_truncated, 0)+?3, stack_lost=COALESCE(stack_lost, 0)+?4"
	" WHERE seq=?1",
    [SQ_STACK_FIND] = "SELECT id, frames FROM stacks WHERE hash=?1",
    [SQ_STACK_INSERT] = "INSERT INTO stacks(hash, frames, last_used_ms) VALUES(?1,?2,?3)",
    [SQ_STACK_TOUCH] = "UPDATE stacks SET last_used_ms=?2 WHERE id=?1 AND last_used_ms<?3",
    [SQ_SAMPLE_UPSERT] =
	"INSERT INTO samples(task_seq, slice, stack, count, duration_ns) VALUES(?1,?2,?3,?4,?5)"
	" ON CONFLICT(task_seq, slice, stack) DO UPDATE SET count=count+excluded.count,"
	" duration_ns=duration_ns+excluded.duration_ns",
    [SQ_FLAME] = "SELECT st.frames, t.c, t.d FROM (SELECT s.stack AS stack, SUM(s.count) AS c,"
		 " SUM(s.duration_ns) AS d FROM slices sl JOIN samples s ON"
		 " s.task_seq=sl.task_seq AND s.slice=sl.slice WHERE sl.task_seq=?1 AND"
		 " sl.start_ms<?3 AND sl.end_ms>?2 GROUP BY s.stack) t"
		 " JOIN stacks st ON st.id=t.stack",
    [SQ_TOPO_PUT] = "INSERT INTO topologies(task_seq, doc, updated_ms) VALUES(?1,?2,?3)"
		    " ON CONFLICT(task_seq) DO UPDATE SET doc=excluded.doc,"
		    " updated_ms=excluded.updated_ms",
    [SQ_TOPO_GET] = "SELECT doc FROM topologies WHERE task_seq=?1",
    [SQ_RET_SERIES_CHUNK] = "SELECT id FROM series WHERE id>?1 ORDER BY id LIMIT ?2",
    [SQ_RET_RAW] = "DELETE FROM metrics_raw WHERE series=?1 AND time_ms<?2",
    [SQ_RET_MINUTE] = "DELETE FROM metrics_minute WHERE series=?1 AND minute_ms<?2",
    [SQ_RET_TASK_OLDEST] = "SELECT seq FROM tasks WHERE start_ms<?1 ORDER BY start_ms LIMIT 1",
    [SQ_RET_SAMPLES] = "DELETE FROM samples WHERE task_seq=?1 AND slice IN (SELECT slice FROM"
		       " slices WHERE task_seq=?1 ORDER BY slice LIMIT ?2)",
    [SQ_RET_SLICES] = "DELETE FROM slices WHERE task_seq=?1 AND slice IN (SELECT slice FROM"
		      " slices WHERE task_seq=?1 ORDER BY slice LIMIT ?2)",
    [SQ_RET_TOPO] = "DELETE FROM topologies WHERE task_seq=?1",
    [SQ_RET_TASK] = "DELETE FROM tasks WHERE seq=?1",
    [SQ_RET_PROCESSES] = "DELETE FROM processes WHERE id IN (SELECT id FROM processes WHERE"
			 " last_seen_ms<?1 LIMIT ?2)",
    [SQ_RET_SERIES] = "DELETE FROM series WHERE id IN (SELECT s.id FROM series s LEFT JOIN"
		      " processes p ON p.id=s.process_id WHERE p.id IS NULL AND"
		      " (s.last_time_ms IS NULL OR s.last_time_ms<?1) LIMIT ?2)",
    [SQ_RET_STACKS] = "DELETE FROM stacks WHERE id IN (SELECT id FROM stacks WHERE"
		      " last_used_ms<?1 LIMIT ?2)",
    [SQ_RET_AGENTS] = "DELETE FROM agents WHERE id IN (SELECT id FROM agents WHERE"
		      " last_seen_ms<?1 LIMIT ?2)",
    [SQ_RET_PENDING] = "UPDATE tasks SET status='FAILED', end_ms=?2, reason='no agent picked the"
		       " manual task up in time' WHERE status='PENDING' AND created_ms<?1",
    [SQ_TASK_FAIL_SILENT] =
	"UPDATE tasks SET status='FAILED', end_ms=?2, reason='" STORE_SILENT_REASON
	"' WHERE status='RUNNING' AND NOT EXISTS(SELECT 1"
	" FROM agents WHERE agents.id=tasks.agent_id AND last_seen_ms>=?1)",
};

int sq_fail(struct store_backend *be, const char *what)
{
	log_error("store: %s: %s", what, sqlite3_errmsg(be->db));
	/* A full disk is worth telling apart: the caller answers 507 and the
	 * agent keeps the data for later. */
	return sqlite3_errcode(be->db) == SQLITE_FULL ? -ENOSPC : -EIO;
}

int sq_bind_text(sqlite3_stmt *s, int idx, const char *text)
{
	if (!text)
		return sqlite3_bind_null(s, idx);
	return sqlite3_bind_text(s, idx, text, -1, SQLITE_STATIC);
}

sqlite3_stmt *sq_stmt(struct store_backend *be, enum sq_stmt id)
{
	sqlite3_stmt *s = be->stmt[id];

	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return s;
}

int sq_exec(struct store_backend *be, enum sq_stmt id)
{
	sqlite3_stmt *s = be->stmt[id];
	int rc = sqlite3_step(s);

	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		int r = sq_fail(be, sqlite3_sql(s));

		sqlite3_reset(s);
		return r;
	}
	sqlite3_reset(s);
	return 0;
}

int sq_begin(struct store_backend *be)
{
	sq_stmt(be, SQ_BEGIN);
	return sq_exec(be, SQ_BEGIN);
}

int sq_commit(struct store_backend *be)
{
	sq_stmt(be, SQ_COMMIT);
	return sq_exec(be, SQ_COMMIT);
}

void sq_rollback(struct store_backend *be)
{
	if (sqlite3_get_autocommit(be->db))
		return;
	sq_stmt(be, SQ_ROLLBACK);
	sq_exec(be, SQ_ROLLBACK);
}

json_t *sq_col_json(sqlite3_stmt *s, int col)
{
	const char *text = (const char *)sqlite3_column_text(s, col);
	json_t *v;

	if (!text)
		return json_null();
	v = json_loads(text, JSON_DECODE_ANY, NULL);
	return v ? v : json_null();
}

json_t *sq_col_int_or_null(sqlite3_stmt *s, int col)
{
	if (sqlite3_column_type(s, col) == SQLITE_NULL)
		return json_null();
	return json_integer(sqlite3_column_int64(s, col));
}

json_t *sq_col_text_or_null(sqlite3_stmt *s, int col)
{
	const char *text = (const char *)sqlite3_column_text(s, col);

	return text ? json_string(text) : json_null();
}

static void sq_close(struct store_backend *be)
{
	if (!be)
		return;
	for (int i = 0; i < SQ_COUNT; i++)
		sqlite3_finalize(be->stmt[i]);
	if (be->db)
		sqlite3_close(be->db);
	sq_stack_cache_free(&be->stacks);
	pthread_mutex_destroy(&be->lock);
	free(be);
}

static int sq_user_version(sqlite3 *db, int *ret)
{
	sqlite3_stmt *s = NULL;
	int r = -EIO;

	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW) {
		*ret = sqlite3_column_int(s, 0);
		r = 0;
	}
	sqlite3_finalize(s);
	return r;
}

/* Applies the migrations the database lacks, all in one transaction (so
 * two servers opening one file at once apply each once). 0, or -EINVAL
 * (a newer schema) / -EIO with a reason in err. */
static int sq_migrate(sqlite3 *db, char *err, size_t errlen)
{
	const size_t n = sizeof(migrations) / sizeof(migrations[0]);
	const int known = migrations[n - 1].version;
	char *msg = NULL, sql[64];
	int current = 0, r = -EIO;
	size_t applied = 0;

	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, &msg) != SQLITE_OK)
		goto fail;
	if (sq_user_version(db, &current) < 0)
		goto fail;
	if (current > known) {
		snprintf(err, errlen,
			 "the database's schema is at version %d, newer than this contprof knows "
			 "(%d): upgrade contprof",
			 current, known);
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		if (migrations[i].version <= current)
			continue;
		snprintf(sql, sizeof(sql), "PRAGMA user_version=%d;", migrations[i].version);
		if (sqlite3_exec(db, migrations[i].sql, NULL, NULL, &msg) != SQLITE_OK ||
		    sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
			snprintf(err, errlen, "migration %d failed: %s", migrations[i].version,
				 msg ? msg : sqlite3_errmsg(db));
			sqlite3_free(msg);
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
			return -EIO;
		}
		applied++;
	}
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, &msg) == SQLITE_OK) {
		for (size_t i = n - applied; i < n; i++)
			log_info("store: applied SQLite migration %d", migrations[i].version);
		return 0;
	}
fail:
	snprintf(err, errlen, "cannot migrate the schema: %s", msg ? msg : sqlite3_errmsg(db));
	sqlite3_free(msg);
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return r;
}

static struct store_backend *sq_open(const char *path, const struct store_options *opts, char *err,
				     size_t errlen)
{
	struct store_backend *be;
	char *msg = NULL;

	if (!*path) {
		snprintf(err, errlen, "sqlite store needs a path (sqlite:PATH)");
		return NULL;
	}
	be = calloc(1, sizeof(*be));
	if (!be || sq_stack_cache_init(&be->stacks, STORE_STACK_CACHE_SLOTS) < 0) {
		snprintf(err, errlen, "out of memory");
		free(be);
		return NULL;
	}
	pthread_mutex_init(&be->lock, NULL);
	be->opts = *opts;
	if (sqlite3_open_v2(path, &be->db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK) {
		snprintf(err, errlen, "cannot open %s: %s", path,
			 be->db ? sqlite3_errmsg(be->db) : "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(be->db, 5000);
	/* synchronous=FULL: a write is on disk (the WAL fsync'd) before the
	 * agent hears 200 and drops it from its spool. NORMAL would survive a
	 * killed server but could lose the last acknowledged commits to a
	 * power cut or kernel crash, which the agent could never resend. */
	if (sqlite3_exec(be->db,
			 "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
			 " PRAGMA temp_store=MEMORY; PRAGMA cache_size=-65536;",
			 NULL, NULL, &msg) != SQLITE_OK ||
	    sqlite3_exec(be->db, schema_sql, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(err, errlen, "cannot set up %s: %s", path, msg ? msg : "unknown error");
		sqlite3_free(msg);
		goto fail;
	}
	if (sq_migrate(be->db, err, errlen) < 0)
		goto fail;
	for (int i = 0; i < SQ_COUNT; i++) {
		if (sqlite3_prepare_v3(be->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
				       &be->stmt[i], NULL) != SQLITE_OK) {
			snprintf(err, errlen, "cannot prepare statement %d: %s", i,
				 sqlite3_errmsg(be->db));
			goto fail;
		}
	}
	return be;
fail:
	sq_close(be);
	return NULL;
}

/* --- policies --- */

static int sq_put_policy(struct store_backend *be, const char *service, const char *version,
			 const char *doc, int64_t now_ms)
{
	sqlite3_stmt *s;
	int r;

	pthread_mutex_lock(&be->lock);
	s = sq_stmt(be, SQ_POLICY_PUT);
	sq_bind_text(s, 1, service);
	sq_bind_text(s, 2, version);
	sq_bind_text(s, 3, doc);
	sqlite3_bind_int64(s, 4, now_ms);
	r = sq_exec(be, SQ_POLICY_PUT);
	pthread_mutex_unlock(&be->lock);
	return r;
}

static int sq_get_policy(struct store_backend *be, const char *service, char **ret_doc,
			 char ret_version[65])
{
	sqlite3_stmt *s;
	int r = -ENOENT, rc;

	pthread_mutex_lock(&be->lock);
	s = sq_stmt(be, SQ_POLICY_GET);
	sq_bind_text(s, 1, service);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		char *doc = strdup((const char *)sqlite3_column_text(s, 0));

		if (!doc) {
			r = -ENOMEM;
		} else {
			*ret_doc = doc;
			snprintf(ret_version, 65, "%s", (const char *)sqlite3_column_text(s, 1));
			r = 0;
		}
	} else if (rc != SQLITE_DONE) {
		r = sq_fail(be, "get policy");
	}
	sqlite3_reset(s);
	pthread_mutex_unlock(&be->lock);
	return r;
}

static int sq_delete_policy(struct store_backend *be, const char *service)
{
	int r;

	pthread_mutex_lock(&be->lock);
	sq_bind_text(sq_stmt(be, SQ_POLICY_DELETE), 1, service);
	r = sq_exec(be, SQ_POLICY_DELETE);
	if (r == 0 && sqlite3_changes(be->db) == 0)
		r = -ENOENT;
	pthread_mutex_unlock(&be->lock);
	return r;
}

static int sq_list_services(struct store_backend *be, json_t **ret)
{
	json_t *arr = json_array();
	sqlite3_stmt *s;
	int rc;

	if (!arr)
		return -ENOMEM;
	pthread_mutex_lock(&be->lock);
	s = sq_stmt(be, SQ_SERVICES);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		json_array_append_new(arr, json_pack("{s:s, s:o, s:I, s:o}", "name",
						     sqlite3_column_text(s, 0), "policy_version",
						     sq_col_text_or_null(s, 1), "processes",
						     (json_int_t)sqlite3_column_int64(s, 2),
						     "last_seen", sq_col_int_or_null(s, 3)));
	}
	sqlite3_reset(s);
	pthread_mutex_unlock(&be->lock);
	if (rc != SQLITE_DONE) {
		json_decref(arr);
		return sq_fail(be, "list services");
	}
	*ret = arr;
	return 0;
}

/* --- agents and processes --- */

static int sq_upsert_processes(struct store_backend *be, const char *agent_id, const char *host,
			       const struct store_process *procs, size_t n, int64_t now_ms)
{
	sqlite3_stmt *s;
	int r;

	pthread_mutex_lock(&be->lock);
	r = sq_begin(be);
	if (r < 0)
		goto out;
	s = sq_stmt(be, SQ_AGENT_UPSERT);
	sq_bind_text(s, 1, agent_id);
	sq_bind_text(s, 2, host);
	sqlite3_bind_int64(s, 3, now_ms);
	r = sq_exec(be, SQ_AGENT_UPSERT);
	for (size_t i = 0; r == 0 && i < n; i++) {
		char *labels = procs[i].labels
				   ? json_dumps(procs[i].labels, JSON_COMPACT | JSON_SORT_KEYS)
				   : strdup("{}");

		if (!labels) {
			r = -ENOMEM;
			break;
		}
		s = sq_stmt(be, SQ_PROCESS_UPSERT);
		sq_bind_text(s, 1, procs[i].id);
		sq_bind_text(s, 2, agent_id);
		sq_bind_text(s, 3, host);
		sq_bind_text(s, 4, procs[i].service);
		sq_bind_text(s, 5, procs[i].instance);
		sq_bind_text(s, 6, procs[i].name);
		sqlite3_bind_int64(s, 7, procs[i].pid);
		sq_bind_text(s, 8, labels);
		sqlite3_bind_int64(s, 9, now_ms);
		r = sq_exec(be, SQ_PROCESS_UPSERT);
		free(labels);
	}
	if (r == 0)
		r = sq_commit(be);
	if (r < 0)
		sq_rollback(be);
out:
	pthread_mutex_unlock(&be->lock);
	return r;
}

static json_t *process_row(sqlite3_stmt *s)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:o, s:I}", "id",
			 sqlite3_column_text(s, 0), "service", sqlite3_column_text(s, 1),
			 "instance", sqlite3_column_text(s, 2), "name", sqlite3_column_text(s, 3),
			 "pid", (json_int_t)sqlite3_column_int64(s, 4), "host",
			 sqlite3_column_text(s, 5), "labels", sq_col_json(s, 6), "last_seen",
			 (json_int_t)sqlite3_column_int64(s, 7));
}

static int sq_list_processes(struct store_backend *be, const char *service,
			     const struct store_page *page, json_t **ret)
{
	json_t *arr = json_array();
	sqlite3_stmt *s;
	int rc;

	if (!arr)
		return -ENOMEM;
	pthread_mutex_lock(&be->lock);
	s = sq_stmt(be, SQ_PROCESS_LIST);
	sq_bind_text(s, 1, service);
	sqlite3_bind_int64(s, 2, page->limit);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)page->offset);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		json_array_append_new(arr, process_row(s));
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		sq_fail(be, "list processes");
		json_decref(arr);
		pthread_mutex_unlock(&be->lock);
		return -EIO;
	}
	pthread_mutex_unlock(&be->lock);
	*ret = arr;
	return 0;
}

static int sq_get_process(struct store_backend *be, const char *id, json_t **ret)
{
	sqlite3_stmt *s;
	int rc, r = -ENOENT;

	pthread_mutex_lock(&be->lock);
	s = sq_stmt(be, SQ_PROCESS_GET);
	sq_bind_text(s, 1, id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*ret = process_row(s);
		r = *ret ? 0 : -ENOMEM;
	} else if (rc != SQLITE_DONE) {
		r = sq_fail(be, "get process");
	}
	sqlite3_reset(s);
	pthread_mutex_unlock(&be->lock);
	return r;
}

/* --- retention --- */

/* Runs a bound DELETE ... LIMIT statement; *more when the batch was full. */
static int delete_batch(struct store_backend *be, enum sq_stmt id, int64_t cutoff_ms, bool *more)
{
	sqlite3_stmt *s = sq_stmt(be, id);
	int r;

	sqlite3_bind_int64(s, 1, cutoff_ms);
	sqlite3_bind_int64(s, 2, be->opts.retention_batch_rows);
	r = sq_exec(be, id);
	if (r == 0 && (uint32_t)sqlite3_changes(be->db) >= be->opts.retention_batch_rows)
		*more = true;
	return r;
}

/* Deletes expired raw points and minute rollups for one chunk of series
 * (each series holds few expired rows per pass: index range deletes). */
static int retention_metrics(struct store_backend *be, int64_t now_ms, bool *more)
{
	uint32_t chunk =
	    be->opts.retention_batch_rows / 10 ? be->opts.retention_batch_rows / 10 : 1;
	int64_t ids[256];
	size_t n = 0;
	sqlite3_stmt *s;
	int rc, r = 0;

	if (chunk > 256)
		chunk = 256;
	s = sq_stmt(be, SQ_RET_SERIES_CHUNK);
	sqlite3_bind_int64(s, 1, be->retention_series_cursor);
	sqlite3_bind_int64(s, 2, chunk);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW && n < chunk)
		ids[n++] = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return sq_fail(be, "retention series");
	be->retention_series_cursor = n == chunk ? ids[n - 1] : 0;
	if (n == chunk)
		*more = true;
	if (n == 0)
		return 0;
	r = sq_begin(be);
	for (size_t i = 0; r == 0 && i < n; i++) {
		s = sq_stmt(be, SQ_RET_RAW);
		sqlite3_bind_int64(s, 1, ids[i]);
		sqlite3_bind_int64(s, 2, now_ms - be->opts.raw_metrics_ms);
		r = sq_exec(be, SQ_RET_RAW);
		if (r < 0)
			break;
		s = sq_stmt(be, SQ_RET_MINUTE);
		sqlite3_bind_int64(s, 1, ids[i]);
		sqlite3_bind_int64(s, 2, now_ms - be->opts.minute_rollup_ms);
		r = sq_exec(be, SQ_RET_MINUTE);
	}
	if (r == 0)
		r = sq_commit(be);
	if (r < 0)
		sq_rollback(be);
	return r;
}

/* Deletes up to a batch of the oldest expired task's profile rows, and the
 * task itself once nothing of it is left. */
static int retention_task(struct store_backend *be, int64_t now_ms, bool *more)
{
	sqlite3_stmt *s = sq_stmt(be, SQ_RET_TASK_OLDEST);
	int64_t seq;
	int rc, r;
	uint32_t slices =
	    be->opts.retention_batch_rows / 100 ? be->opts.retention_batch_rows / 100 : 1;

	sqlite3_bind_int64(s, 1, now_ms - be->opts.tasks_ms);
	rc = sqlite3_step(s);
	seq = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
	sqlite3_reset(s);
	if (rc == SQLITE_DONE)
		return 0;
	if (rc != SQLITE_ROW)
		return sq_fail(be, "retention tasks");
	*more = true;
	r = sq_begin(be);
	if (r < 0)
		return r;
	s = sq_stmt(be, SQ_RET_SAMPLES);
	sqlite3_bind_int64(s, 1, seq);
	sqlite3_bind_int64(s, 2, slices);
	r = sq_exec(be, SQ_RET_SAMPLES);
	if (r == 0) {
		s = sq_stmt(be, SQ_RET_SLICES);
		sqlite3_bind_int64(s, 1, seq);
		sqlite3_bind_int64(s, 2, slices);
		r = sq_exec(be, SQ_RET_SLICES);
	}
	if (r == 0 && sqlite3_changes(be->db) == 0) {
		sqlite3_bind_int64(sq_stmt(be, SQ_RET_TOPO), 1, seq);
		r = sq_exec(be, SQ_RET_TOPO);
		if (r == 0) {
			sqlite3_bind_int64(sq_stmt(be, SQ_RET_TASK), 1, seq);
			r = sq_exec(be, SQ_RET_TASK);
		}
	}
	if (r == 0)
		r = sq_commit(be);
	if (r < 0)
		sq_rollback(be);
	return r;
}

/* One batch of every kind; the lock is released between kinds so ingest
 * and queries interleave with a long cleanup. */
static int sq_retention(struct store_backend *be, int64_t now_ms, bool *ret_more)
{
	const struct store_options *o = &be->opts;
	bool more = false;
	int r;

	pthread_mutex_lock(&be->lock);
	r = retention_metrics(be, now_ms, &more);
	pthread_mutex_unlock(&be->lock);
	if (r < 0)
		return r;

	pthread_mutex_lock(&be->lock);
	r = retention_task(be, now_ms, &more);
	pthread_mutex_unlock(&be->lock);
	if (r < 0)
		return r;

	pthread_mutex_lock(&be->lock);
	r = delete_batch(be, SQ_RET_PROCESSES, now_ms - o->processes_ms, &more);
	if (r == 0)
		r = delete_batch(be, SQ_RET_SERIES, now_ms - o->minute_rollup_ms, &more);
	if (r == 0)
		r = delete_batch(be, SQ_RET_AGENTS, now_ms - o->processes_ms, &more);
	if (r == 0) {
		/* A stack is kept while any task that may use it is kept. */
		r = delete_batch(be, SQ_RET_STACKS, now_ms - o->tasks_ms - 2 * STORE_STACK_TOUCH_MS,
				 &more);
		if (r == 0 && sqlite3_changes(be->db) > 0)
			sq_stack_cache_clear(&be->stacks);
	}
	if (r == 0) {
		sqlite3_stmt *s = sq_stmt(be, SQ_RET_PENDING);

		sqlite3_bind_int64(s, 1, now_ms - STORE_PENDING_TIMEOUT_MS);
		sqlite3_bind_int64(s, 2, now_ms);
		r = sq_exec(be, SQ_RET_PENDING);
	}
	pthread_mutex_unlock(&be->lock);
	if (r == 0)
		*ret_more = more;
	return r;
}

const struct store_ops store_sqlite_ops = {
    .scheme = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .put_policy = sq_put_policy,
    .get_policy = sq_get_policy,
    .delete_policy = sq_delete_policy,
    .list_services = sq_list_services,
    .upsert_processes = sq_upsert_processes,
    .list_processes = sq_list_processes,
    .get_process = sq_get_process,
    .add_metrics = sq_add_metrics,
    .metric_history = sq_metric_history,
    .latest_metrics = sq_latest_metrics,
    .add_task = sq_add_task,
    .finish_task = sq_finish_task,
    .fail_silent_tasks = sq_fail_silent_tasks,
    .create_manual_task = sq_create_manual_task,
    .pending_tasks = sq_pending_tasks,
    .list_tasks = sq_list_tasks,
    .get_task = sq_get_task,
    .monitoring_summary = sq_monitoring_summary,
    .add_profile_slice = sq_add_profile_slice,
    .load_flame_samples = sq_load_flame_samples,
    .put_topology = sq_put_topology,
    .get_topology = sq_get_topology,
    .retention = sq_retention,
};
