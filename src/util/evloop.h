/* evloop: a small event loop over epoll, in the manner of redis' ae.c —
 * fd readiness, periodic timers (one timerfd each, CLOCK_MONOTONIC) and
 * signals (signalfd). The agent's single thread runs on it: no sleep loops.
 *
 * Callbacks run on the loop's thread and may add or remove registrations,
 * including their own. Not thread-safe: one owner, except evloop_stop() which
 * may be called from any thread or a signal handler.
 */
#ifndef CONTPROF_UTIL_EVLOOP_H
#define CONTPROF_UTIL_EVLOOP_H

#include <signal.h>
#include <stdint.h>

struct evloop;
struct evloop_timer;

typedef void (*evloop_fd_fn)(struct evloop *loop, int fd, uint32_t events, void *ctx);
/* `expirations` >= 1: how many periods passed since the last call (a late
 * loop sees more than one). */
typedef void (*evloop_timer_fn)(struct evloop *loop, uint64_t expirations, void *ctx);
typedef void (*evloop_signal_fn)(struct evloop *loop, int signo, void *ctx);

struct evloop *evloop_new(void);
/* Closes timer and signal fds it created (not the caller's fds). NULL-safe. */
struct evloop *evloop_free(struct evloop *loop);

/* Watches `fd` for `events` (EPOLLIN...). -EEXIST if already watched. */
int evloop_add_fd(struct evloop *loop, int fd, uint32_t events, evloop_fd_fn fn, void *ctx);
int evloop_del_fd(struct evloop *loop, int fd);
/* Changes the events a watched fd is watched for; 0 pauses it (cheaper than
 * a del and an add). -ENOENT if not watched. */
int evloop_mod_fd(struct evloop *loop, int fd, uint32_t events);

/* A timer firing first after `first_ms` (0: after interval_ms), then every
 * `interval_ms` (0: once). *ret (optional) lets the caller cancel it. */
int evloop_add_timer(struct evloop *loop, uint64_t first_ms, uint64_t interval_ms,
		     evloop_timer_fn fn, void *ctx, struct evloop_timer **ret);
int evloop_cancel_timer(struct evloop *loop, struct evloop_timer *timer);
/* Arms a timer again to fire once after `first_ms` (> 0), then every
 * interval_ms as it was added with: a one-shot timer that fired stays
 * registered, so a caller that arms the same timer often reuses it instead
 * of adding one (a timerfd) each time. -ENOENT for a cancelled timer. */
int evloop_arm_timer(struct evloop *loop, struct evloop_timer *timer, uint64_t first_ms);

/* Blocks the signals in `mask` for the calling thread and delivers them
 * through the loop. One signal registration per loop. */
int evloop_add_signals(struct evloop *loop, const sigset_t *mask, evloop_signal_fn fn, void *ctx);

/* Runs until evloop_stop(). Returns 0, or -errno if epoll_wait fails. */
int evloop_run(struct evloop *loop);
void evloop_stop(struct evloop *loop);

#endif
