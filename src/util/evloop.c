/* evloop: see evloop.h. Registrations live in a small array searched
 * linearly: the agent has a handful of fds, not thousands. */
#include "util/evloop.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

enum reg_kind {
	REG_FD,
	REG_TIMER,
	REG_SIGNAL
};

struct evloop_timer {
	int fd;
	uint64_t interval_ms;
};

struct registration {
	enum reg_kind kind;
	int fd;
	bool removed;
	union {
		evloop_fd_fn fd_fn;
		evloop_timer_fn timer_fn;
		evloop_signal_fn signal_fn;
	};
	void *ctx;
	struct evloop_timer *timer;
};

struct evloop {
	int epfd;
	int wakefd; /* eventfd written by evloop_stop() to end epoll_wait */
	volatile sig_atomic_t stopping;
	struct registration **regs;
	size_t n_regs, cap_regs;
};

struct evloop *evloop_new(void)
{
	struct epoll_event wake_ev = {.events = EPOLLIN, .data.ptr = NULL};
	struct evloop *loop = calloc(1, sizeof(*loop));

	if (!loop)
		return NULL;
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	loop->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (loop->epfd < 0 || loop->wakefd < 0)
		goto fail;
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, loop->wakefd, &wake_ev) < 0)
		goto fail;
	return loop;
fail:
	if (loop->epfd >= 0)
		close(loop->epfd);
	if (loop->wakefd >= 0)
		close(loop->wakefd);
	free(loop);
	return NULL;
}

static void reg_release(struct registration *r)
{
	if (r->kind != REG_FD && r->fd >= 0)
		close(r->fd);
	free(r->timer);
	free(r);
}

struct evloop *evloop_free(struct evloop *loop)
{
	if (!loop)
		return NULL;
	for (size_t i = 0; i < loop->n_regs; i++)
		reg_release(loop->regs[i]);
	free(loop->regs);
	close(loop->epfd);
	close(loop->wakefd);
	free(loop);
	return NULL;
}

static struct registration *find_reg(struct evloop *loop, int fd)
{
	for (size_t i = 0; i < loop->n_regs; i++)
		if (loop->regs[i]->fd == fd && !loop->regs[i]->removed)
			return loop->regs[i];
	return NULL;
}

static int add_reg(struct evloop *loop, struct registration *r, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = r};

	if (loop->n_regs == loop->cap_regs) {
		size_t cap = loop->cap_regs ? loop->cap_regs * 2 : 8;
		struct registration **regs = realloc(loop->regs, cap * sizeof(*regs));

		if (!regs)
			return -ENOMEM;
		loop->regs = regs;
		loop->cap_regs = cap;
	}
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, r->fd, &ev) < 0)
		return -errno;
	loop->regs[loop->n_regs++] = r;
	return 0;
}

/* Marks a registration removed; it is freed after the current dispatch round
 * so a callback may remove a registration whose event is still pending. */
static void remove_reg(struct evloop *loop, struct registration *r)
{
	epoll_ctl(loop->epfd, EPOLL_CTL_DEL, r->fd, NULL);
	r->removed = true;
}

static void sweep_removed(struct evloop *loop)
{
	size_t kept = 0;

	for (size_t i = 0; i < loop->n_regs; i++) {
		if (loop->regs[i]->removed)
			reg_release(loop->regs[i]);
		else
			loop->regs[kept++] = loop->regs[i];
	}
	loop->n_regs = kept;
}

int evloop_add_fd(struct evloop *loop, int fd, uint32_t events, evloop_fd_fn fn, void *ctx)
{
	struct registration *r;
	int err;

	if (find_reg(loop, fd))
		return -EEXIST;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->kind = REG_FD;
	r->fd = fd;
	r->fd_fn = fn;
	r->ctx = ctx;
	err = add_reg(loop, r, events);
	if (err)
		free(r);
	return err;
}

int evloop_del_fd(struct evloop *loop, int fd)
{
	struct registration *r = find_reg(loop, fd);

	if (!r || r->kind != REG_FD)
		return -ENOENT;
	remove_reg(loop, r);
	return 0;
}

int evloop_mod_fd(struct evloop *loop, int fd, uint32_t events)
{
	struct registration *r = find_reg(loop, fd);
	struct epoll_event ev = {.events = events};

	if (!r || r->kind != REG_FD)
		return -ENOENT;
	ev.data.ptr = r;
	return epoll_ctl(loop->epfd, EPOLL_CTL_MOD, fd, &ev) < 0 ? -errno : 0;
}

static void ms_to_timespec(uint64_t ms, struct timespec *ts)
{
	ts->tv_sec = (time_t)(ms / 1000);
	ts->tv_nsec = (long)(ms % 1000) * 1000000L;
}

int evloop_add_timer(struct evloop *loop, uint64_t first_ms, uint64_t interval_ms,
		     evloop_timer_fn fn, void *ctx, struct evloop_timer **ret)
{
	struct itimerspec spec = {0};
	struct registration *r;
	int err;

	if (first_ms == 0)
		first_ms = interval_ms;
	if (first_ms == 0)
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->timer = calloc(1, sizeof(*r->timer));
	r->kind = REG_TIMER;
	r->fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	r->timer_fn = fn;
	r->ctx = ctx;
	if (!r->timer || r->fd < 0) {
		err = r->timer ? -errno : -ENOMEM;
		goto fail;
	}
	r->timer->fd = r->fd;
	r->timer->interval_ms = interval_ms;
	ms_to_timespec(first_ms, &spec.it_value);
	ms_to_timespec(interval_ms, &spec.it_interval);
	if (timerfd_settime(r->fd, 0, &spec, NULL) < 0) {
		err = -errno;
		goto fail;
	}
	err = add_reg(loop, r, EPOLLIN);
	if (err)
		goto fail;
	if (ret)
		*ret = r->timer;
	return 0;
fail:
	reg_release(r);
	return err;
}

int evloop_cancel_timer(struct evloop *loop, struct evloop_timer *timer)
{
	struct registration *r = timer ? find_reg(loop, timer->fd) : NULL;

	if (!r || r->kind != REG_TIMER)
		return -ENOENT;
	remove_reg(loop, r);
	return 0;
}

int evloop_arm_timer(struct evloop *loop, struct evloop_timer *timer, uint64_t first_ms)
{
	struct registration *r = timer ? find_reg(loop, timer->fd) : NULL;
	struct itimerspec spec = {0};

	if (!r || r->kind != REG_TIMER)
		return -ENOENT;
	if (first_ms == 0)
		return -EINVAL;
	ms_to_timespec(first_ms, &spec.it_value);
	ms_to_timespec(timer->interval_ms, &spec.it_interval);
	return timerfd_settime(r->fd, 0, &spec, NULL) < 0 ? -errno : 0;
}

int evloop_add_signals(struct evloop *loop, const sigset_t *mask, evloop_signal_fn fn, void *ctx)
{
	struct registration *r;
	int err;

	for (size_t i = 0; i < loop->n_regs; i++)
		if (loop->regs[i]->kind == REG_SIGNAL && !loop->regs[i]->removed)
			return -EEXIST;
	if (sigprocmask(SIG_BLOCK, mask, NULL) < 0)
		return -errno;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->kind = REG_SIGNAL;
	r->fd = signalfd(-1, mask, SFD_NONBLOCK | SFD_CLOEXEC);
	r->signal_fn = fn;
	r->ctx = ctx;
	if (r->fd < 0) {
		err = -errno;
		goto fail;
	}
	err = add_reg(loop, r, EPOLLIN);
	if (err)
		goto fail;
	return 0;
fail:
	reg_release(r);
	return err;
}

static void dispatch(struct evloop *loop, struct registration *r, uint32_t events)
{
	if (r->removed)
		return;
	switch (r->kind) {
	case REG_FD:
		r->fd_fn(loop, r->fd, events, r->ctx);
		break;
	case REG_TIMER: {
		uint64_t expirations;

		if (read(r->fd, &expirations, sizeof(expirations)) == sizeof(expirations))
			r->timer_fn(loop, expirations, r->ctx);
		break;
	}
	case REG_SIGNAL: {
		struct signalfd_siginfo si;

		while (read(r->fd, &si, sizeof(si)) == sizeof(si) && !r->removed)
			r->signal_fn(loop, (int)si.ssi_signo, r->ctx);
		break;
	}
	}
}

int evloop_run(struct evloop *loop)
{
	struct epoll_event events[32];

	loop->stopping = 0;
	while (!loop->stopping) {
		int n = epoll_wait(loop->epfd, events, 32, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (int i = 0; i < n && !loop->stopping; i++) {
			if (!events[i].data.ptr) {
				uint64_t v;

				(void)!read(loop->wakefd, &v, sizeof(v));
				continue;
			}
			dispatch(loop, events[i].data.ptr, events[i].events);
		}
		sweep_removed(loop);
	}
	return 0;
}

void evloop_stop(struct evloop *loop)
{
	uint64_t one = 1;

	loop->stopping = 1;
	(void)!write(loop->wakefd, &one, sizeof(one));
}
