/* store_pg_conn: the PostgreSQL backend's plumbing — connecting, the
 * bounded pool, statements prepared once per connection, text parameters
 * and array literals, reading typed columns, and pg_run, the runner that
 * retries an operation after a lost connection (a PostgreSQL restart), a
 * serialization failure or a deadlock.
 *
 * Retrying is safe because every write of the backend is idempotent: rows
 * are keyed by what the agent sent (process id, series and second, task id,
 * task and slice) and written with ON CONFLICT, so a transaction that did
 * commit before its connection died changes nothing when run again. Does
 * not own: the SQL of the domain operations (store_pg.c and friends).
 */
#include "server/store_pg.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/log.h"

void pp_text(struct pg_params *p, const char *s)
{
	if (p->n < PG_MAX_PARAMS)
		p->v[p->n++] = s;
}

void pp_i64(struct pg_params *p, int64_t v)
{
	if (p->n >= PG_MAX_PARAMS)
		return;
	snprintf(p->num[p->n], sizeof(p->num[p->n]), "%lld", (long long)v);
	p->v[p->n] = p->num[p->n];
	p->n++;
}

void pp_f64(struct pg_params *p, double v)
{
	if (p->n >= PG_MAX_PARAMS)
		return;
	snprintf(p->num[p->n], sizeof(p->num[p->n]), "%.17g", v);
	p->v[p->n] = p->num[p->n];
	p->n++;
}

void pga_open(struct strbuf *b)
{
	strbuf_init(b, STORE_PG_ARRAY_MAX);
	strbuf_append(b, "{", 1);
}

static void pga_sep(struct strbuf *b)
{
	if (b->len > 1)
		strbuf_append(b, ",", 1);
}

void pga_i64(struct strbuf *b, int64_t v)
{
	pga_sep(b);
	strbuf_printf(b, "%lld", (long long)v);
}

void pga_f64(struct strbuf *b, double v)
{
	pga_sep(b);
	strbuf_printf(b, "%.17g", v);
}

void pga_text(struct strbuf *b, const char *s, size_t len)
{
	size_t start = 0;

	pga_sep(b);
	strbuf_append(b, "\"", 1);
	for (size_t i = 0; i < len; i++) {
		if (s[i] != '"' && s[i] != '\\')
			continue;
		strbuf_append(b, s + start, i - start);
		strbuf_append(b, "\\", 1);
		start = i;
	}
	strbuf_append(b, s + start, len - start);
	strbuf_append(b, "\"", 1);
}

void pga_close(struct strbuf *b)
{
	strbuf_append(b, "}", 1);
}

static void note_failure(struct pg_conn *c, const PGresult *res)
{
	const char *msg = res ? PQresultErrorMessage(res) : "";
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	size_t len;

	if (!msg || !*msg)
		msg = PQerrorMessage(c->conn);
	snprintf(c->err, sizeof(c->err), "%s", msg && *msg ? msg : "unknown error");
	len = strlen(c->err);
	while (len && (c->err[len - 1] == '\n' || c->err[len - 1] == ' '))
		c->err[--len] = '\0';
	snprintf(c->sqlstate, sizeof(c->sqlstate), "%s", state ? state : "");
}

static int ensure_prepared(struct pg_conn *c, enum pg_stmt id)
{
	char name[16];
	PGresult *res;

	if (c->prepared[id])
		return 0;
	snprintf(name, sizeof(name), "s%d", (int)id);
	res = PQprepare(c->conn, name, pg_stmt_sql[id], 0, NULL);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		note_failure(c, res);
		PQclear(res);
		return -EIO;
	}
	PQclear(res);
	c->prepared[id] = true;
	return 0;
}

PGresult *pg_query(struct pg_conn *c, enum pg_stmt id, const struct pg_params *p)
{
	char name[16];
	PGresult *res;
	ExecStatusType st;

	if (ensure_prepared(c, id) < 0)
		return NULL;
	snprintf(name, sizeof(name), "s%d", (int)id);
	res = PQexecPrepared(c->conn, name, p ? p->n : 0, p ? p->v : NULL, NULL, NULL, 0);
	st = PQresultStatus(res);
	if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
		note_failure(c, res);
		PQclear(res);
		return NULL;
	}
	return res;
}

int pg_command(struct pg_conn *c, enum pg_stmt id, const struct pg_params *p, uint64_t *ret_rows)
{
	PGresult *res = pg_query(c, id, p);

	if (!res)
		return -EIO;
	if (ret_rows)
		*ret_rows = strtoull(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	return 0;
}

int pg_exec(struct pg_conn *c, const char *sql)
{
	PGresult *res = PQexec(c->conn, sql);
	ExecStatusType st = PQresultStatus(res);

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		note_failure(c, res);
		PQclear(res);
		return -EIO;
	}
	PQclear(res);
	return 0;
}

int pg_begin(struct pg_conn *c)
{
	return pg_exec(c, "BEGIN");
}

int pg_commit(struct pg_conn *c)
{
	return pg_exec(c, "COMMIT");
}

int64_t pg_get_i64(const PGresult *res, int row, int col)
{
	return strtoll(PQgetvalue(res, row, col), NULL, 10);
}

double pg_get_f64(const PGresult *res, int row, int col)
{
	return strtod(PQgetvalue(res, row, col), NULL);
}

json_t *pg_get_json(const PGresult *res, int row, int col)
{
	json_t *v;

	if (PQgetisnull(res, row, col))
		return json_null();
	v = json_loads(PQgetvalue(res, row, col), JSON_DECODE_ANY, NULL);
	return v ? v : json_null();
}

json_t *pg_get_int_or_null(const PGresult *res, int row, int col)
{
	if (PQgetisnull(res, row, col))
		return json_null();
	return json_integer(pg_get_i64(res, row, col));
}

json_t *pg_get_text_or_null(const PGresult *res, int row, int col)
{
	if (PQgetisnull(res, row, col))
		return json_null();
	return json_string(PQgetvalue(res, row, col));
}

/* PostgreSQL's notices (NOTICE, WARNING) go to our debug log, not stderr. */
static void log_notice(void *arg, const char *message)
{
	(void)arg;
	log_debug("store: PostgreSQL says: %.*s", (int)strcspn(message, "\n"), message);
}

PGconn *pg_connect(const char *conninfo, char *err, size_t errlen)
{
	const char *keys[] = {"dbname", "connect_timeout", "application_name", "client_encoding",
			      NULL};
	const char *vals[] = {conninfo, STORE_PG_CONNECT_TIMEOUT, "contprof", "UTF8", NULL};
	PGconn *conn = PQconnectdbParams(keys, vals, 1);
	PGresult *res;

	if (!conn) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (PQstatus(conn) != CONNECTION_OK) {
		snprintf(err, errlen, "%s", PQerrorMessage(conn));
		err[strcspn(err, "\n")] = '\0';
		PQfinish(conn);
		return NULL;
	}
	PQsetNoticeProcessor(conn, log_notice, NULL);
	/* Times and text compare as the SQLite backend does: UTC, bytes. */
	res = PQexec(conn, "SET TIME ZONE 'UTC'; SET extra_float_digits = 1");
	PQclear(res);
	return conn;
}

/* Whether a failure is worth running the operation again for. */
static bool retryable(const struct pg_conn *c)
{
	if (!c->conn || PQstatus(c->conn) != CONNECTION_OK)
		return true;
	/* connection exception, serialization failure, deadlock, shutdown */
	return strncmp(c->sqlstate, "08", 2) == 0 || strcmp(c->sqlstate, "40001") == 0 ||
	       strcmp(c->sqlstate, "40P01") == 0 || strncmp(c->sqlstate, "57P", 3) == 0;
}

static struct pg_conn *acquire(struct store_backend *be)
{
	struct pg_conn *c = NULL;

	pthread_mutex_lock(&be->lock);
	for (;;) {
		/* Prefer an open connection; else any free slot. */
		for (size_t i = 0; i < STORE_PG_POOL_SIZE && !c; i++)
			if (!be->pool[i].busy && be->pool[i].conn)
				c = &be->pool[i];
		for (size_t i = 0; i < STORE_PG_POOL_SIZE && !c; i++)
			if (!be->pool[i].busy)
				c = &be->pool[i];
		if (c)
			break;
		pthread_cond_wait(&be->freed, &be->lock);
	}
	c->busy = true;
	pthread_mutex_unlock(&be->lock);
	return c;
}

static void release(struct store_backend *be, struct pg_conn *c)
{
	pthread_mutex_lock(&be->lock);
	c->busy = false;
	pthread_cond_signal(&be->freed);
	pthread_mutex_unlock(&be->lock);
}

static void drop_conn(struct pg_conn *c)
{
	if (c->conn)
		PQfinish(c->conn);
	c->conn = NULL;
	memset(c->prepared, 0, sizeof(c->prepared));
}

static void sleep_ms(int64_t ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int pg_run(struct store_backend *be, const char *what, pg_op_fn fn, void *arg)
{
	struct pg_conn *c = acquire(be);
	int64_t delay_ms = STORE_PG_RETRY_FIRST_MS;
	int r = -EIO;

	for (int attempt = 0; attempt <= STORE_PG_RETRIES; attempt++) {
		if (attempt > 0) {
			sleep_ms(delay_ms);
			delay_ms = delay_ms * 2 > STORE_PG_RETRY_MAX_MS ? STORE_PG_RETRY_MAX_MS
									: delay_ms * 2;
		}
		c->sqlstate[0] = '\0';
		if (c->conn && PQstatus(c->conn) != CONNECTION_OK)
			drop_conn(c);
		if (!c->conn) {
			c->conn = pg_connect(be->conninfo, c->err, sizeof(c->err));
			if (!c->conn) {
				r = -EIO;
				continue;
			}
			if (attempt > 0)
				log_info("store: reconnected to PostgreSQL");
		}
		r = fn(be, c, arg);
		if (r < 0 && c->conn && PQstatus(c->conn) == CONNECTION_OK &&
		    PQtransactionStatus(c->conn) != PQTRANS_IDLE) {
			PGresult *res = PQexec(c->conn, "ROLLBACK");

			PQclear(res);
		}
		if (r != -EIO || !retryable(c))
			break;
		log_debug("store: %s: %s (attempt %d, retrying)", what, c->err, attempt + 1);
	}
	if (r == -EIO)
		log_error("store: %s: %s", what, c->err);
	release(be, c);
	return r;
}

void pg_pool_close(struct store_backend *be)
{
	for (size_t i = 0; i < STORE_PG_POOL_SIZE; i++)
		drop_conn(&be->pool[i]);
}
