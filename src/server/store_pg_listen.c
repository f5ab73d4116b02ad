/* store_pg_listen: tells this server when another server sharing the
 * database changed policies or created a manual task, so agents long-
 * polling here learn of it at once.
 *
 * Triggers (migration 2) bump contprof_sync_state.version and NOTIFY
 * channel STORE_PG_SYNC_CHANNEL when the policies table changes or a
 * PENDING task is inserted; PostgreSQL delivers the notification when the
 * writing transaction commits. A dedicated connection LISTENs on a thread
 * of its own, waiting in poll() on the connection's socket and an eventfd
 * that stops it. Every notification, every (re)connection (changes made
 * while we were away went unheard) and every change of the version calls
 * the store_change_fn, whose waiters then look at the store again. This
 * server's own writes come back too: one spurious look, two indexed reads
 * per waiting agent.
 *
 * Why both: a notification arrives a millisecond or two after the commit
 * and costs nothing while idle, so it carries the latency. But notifications
 * can be lost — measured here: after a PostgreSQL restart, NOTIFYs sent
 * before any session LISTENs again were followed by triggers' NOTIFYs that
 * never arrived; poolers in transaction mode drop LISTEN altogether — so
 * the listener also reads the version every STORE_PG_SYNC_POLL_MS (one
 * primary-key read per server per second), which bounds the delay at about
 * a second whatever happens to notifications.
 */
#include "server/store_pg.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "util/log.h"

struct pg_listener {
	char *conninfo;
	store_change_fn fn;
	void *ctx;
	int stop_fd; /* eventfd */
	pthread_t thread;
	int64_t version; /* of contprof_sync_state, -1 unknown */
};

/* Reads the sync version; true when it differs from the one seen last. 
 * A failed read counts as a change (the connection is checked next). */
static bool version_changed(struct pg_listener *l, PGconn *conn)
{
	PGresult *res = PQexec(conn, "SELECT version FROM contprof_sync_state WHERE id=1");
	int64_t v = -1;
	bool changed;

	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
		v = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	changed = v != l->version || v < 0;
	l->version = v;
	return changed;
}

/* Waits up to timeout_ms (-1: forever) for the socket or the stop fd.
 * Returns 1 when the socket is readable, 0 on timeout, -1 on stop. */
static int wait_for(struct pg_listener *l, int sock, int timeout_ms)
{
	struct pollfd fds[2] = {{.fd = l->stop_fd, .events = POLLIN},
				{.fd = sock, .events = POLLIN}};
	int n;

	do
		n = poll(fds, sock >= 0 ? 2 : 1, timeout_ms);
	while (n < 0 && errno == EINTR);
	if (n > 0 && fds[0].revents)
		return -1;
	return n > 0 ? 1 : 0;
}

static PGconn *listen_connect(struct pg_listener *l)
{
	char err[256];
	PGconn *conn = pg_connect(l->conninfo, err, sizeof(err));
	PGresult *res;

	if (!conn) {
		log_debug("store: change listener cannot connect: %s", err);
		return NULL;
	}
	res = PQexec(conn, "LISTEN " STORE_PG_SYNC_CHANNEL);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		log_debug("store: LISTEN failed: %s", PQresultErrorMessage(res));
		PQclear(res);
		PQfinish(conn);
		return NULL;
	}
	PQclear(res);
	return conn;
}

static void *listen_thread(void *arg)
{
	struct pg_listener *l = arg;
	PGconn *conn = NULL;
	bool was_lost = false;

	for (;;) {
		PGnotify *note;
		bool changed = false;

		if (!conn) {
			conn = listen_connect(l);
			if (!conn) {
				if (!was_lost)
					log_warn("store: lost the PostgreSQL change listener; "
						 "reconnecting");
				was_lost = true;
				if (wait_for(l, -1, STORE_PG_LISTEN_RETRY_MS) < 0)
					break;
				continue;
			}
			if (was_lost)
				log_info("store: change listener reconnected");
			was_lost = false;
			version_changed(l, conn);
			l->fn(l->ctx); /* changes while away went unheard */
		}
		switch (wait_for(l, PQsocket(conn), STORE_PG_SYNC_POLL_MS)) {
		case -1:
			goto out;
		case 0:
			if (version_changed(l, conn)) {
				log_debug(
				    "store: sync version changed to %lld without a notification",
				    (long long)l->version);
				l->fn(l->ctx);
			}
			if (PQstatus(conn) != CONNECTION_OK)
				break; /* noticed below */
			continue;
		default:
			break;
		}
		if (!PQconsumeInput(conn) || PQstatus(conn) != CONNECTION_OK) {
			PQfinish(conn);
			conn = NULL;
			was_lost = true;
			log_warn("store: lost the PostgreSQL change listener; reconnecting");
			continue;
		}
		while ((note = PQnotifies(conn))) {
			log_debug("store: change notification from pid %d (%s)", note->be_pid,
				  note->extra);
			changed = true;
			PQfreemem(note);
		}
		if (changed) {
			version_changed(l, conn); /* already heard of */
			l->fn(l->ctx);
		}
	}
out:
	if (conn)
		PQfinish(conn);
	return NULL;
}

int pg_watch(struct store_backend *be, store_change_fn fn, void *ctx)
{
	struct pg_listener *l;
	int r;

	if (be->listener)
		return -EBUSY;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->fn = fn;
	l->ctx = ctx;
	l->version = -1;
	l->conninfo = strdup(be->conninfo);
	l->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (!l->conninfo || l->stop_fd < 0) {
		r = l->stop_fd < 0 ? -errno : -ENOMEM;
		goto fail;
	}
	r = -pthread_create(&l->thread, NULL, listen_thread, l);
	if (r < 0)
		goto fail;
	be->listener = l;
	return 0;
fail:
	if (l->stop_fd >= 0)
		close(l->stop_fd);
	free(l->conninfo);
	free(l);
	return r;
}

void pg_unwatch(struct store_backend *be)
{
	struct pg_listener *l = be->listener;
	uint64_t one = 1;

	if (!l)
		return;
	if (write(l->stop_fd, &one, sizeof(one)) < 0)
		log_warn("store: cannot stop the change listener: %s", strerror(errno));
	pthread_join(l->thread, NULL);
	close(l->stop_fd);
	free(l->conninfo);
	free(l);
	be->listener = NULL;
}
