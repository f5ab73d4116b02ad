/* Unit tests for util/evloop: timers, fds, signals, stop, removal from a
 * callback. Real epoll/timerfd/signalfd; short intervals. */
#include <errno.h>
#include <signal.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "util/evloop.h"

struct counter {
	int calls;
	uint64_t expirations;
	int stop_after;
};

static void count_timer(struct evloop *loop, uint64_t expirations, void *ctx)
{
	struct counter *c = ctx;

	c->calls++;
	c->expirations += expirations;
	if (c->calls >= c->stop_after)
		evloop_stop(loop);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

TEST(periodic_timer_fires_until_stopped)
{
	struct evloop *loop = evloop_new();
	struct counter c = {.stop_after = 3};
	int64_t start = now_ms();

	CHECK(loop != NULL);
	CHECK_INT_EQ(evloop_add_timer(loop, 0, 20, count_timer, &c, NULL), 0);
	CHECK_INT_EQ(evloop_run(loop), 0);
	CHECK_INT_EQ(c.calls, 3);
	CHECK(c.expirations >= 3);
	CHECK(now_ms() - start >= 55);
	evloop_free(loop);
}

TEST(timer_with_no_interval_is_refused)
{
	struct evloop *loop = evloop_new();

	CHECK_INT_EQ(evloop_add_timer(loop, 0, 0, count_timer, NULL, NULL), -EINVAL);
	evloop_free(loop);
}

struct pipe_ctx {
	char got[8];
	int n;
};

static void read_pipe(struct evloop *loop, int fd, uint32_t events, void *ctx)
{
	struct pipe_ctx *p = ctx;

	if (events & EPOLLIN)
		p->n = (int)read(fd, p->got, sizeof(p->got));
	evloop_del_fd(loop, fd);
	evloop_stop(loop);
}

TEST(fd_readiness_is_delivered)
{
	struct evloop *loop = evloop_new();
	struct pipe_ctx p = {0};
	int fds[2];

	CHECK_INT_EQ(pipe(fds), 0);
	CHECK_INT_EQ(evloop_add_fd(loop, fds[0], EPOLLIN, read_pipe, &p), 0);
	CHECK_INT_EQ(evloop_add_fd(loop, fds[0], EPOLLIN, read_pipe, &p), -EEXIST);
	CHECK_INT_EQ(write(fds[1], "hi", 2), 2);
	CHECK_INT_EQ(evloop_run(loop), 0);
	CHECK_INT_EQ(p.n, 2);
	CHECK(memcmp(p.got, "hi", 2) == 0);
	CHECK_INT_EQ(evloop_del_fd(loop, fds[0]), -ENOENT);
	close(fds[0]);
	close(fds[1]);
	evloop_free(loop);
}

struct cancel_ctx {
	struct evloop_timer *victim;
	struct counter victim_count;
	int calls;
};

static void cancel_other(struct evloop *loop, uint64_t expirations, void *ctx)
{
	struct cancel_ctx *c = ctx;

	(void)expirations;
	if (c->calls++ == 0)
		CHECK_INT_EQ(evloop_cancel_timer(loop, c->victim), 0);
	if (c->calls == 4)
		evloop_stop(loop);
}

TEST(cancelled_timer_no_longer_fires)
{
	struct evloop *loop = evloop_new();
	struct cancel_ctx c = {.victim_count = {.stop_after = 1000}};

	CHECK_INT_EQ(evloop_add_timer(loop, 30, 30, count_timer, &c.victim_count, &c.victim), 0);
	CHECK_INT_EQ(evloop_add_timer(loop, 5, 20, cancel_other, &c, NULL), 0);
	CHECK_INT_EQ(evloop_run(loop), 0);
	CHECK_INT_EQ(c.victim_count.calls, 0);
	CHECK_INT_EQ(evloop_cancel_timer(loop, NULL), -ENOENT);
	evloop_free(loop);
}

/* A one-shot timer stays registered after it fires and is armed again; an
 * fd paused with evloop_mod_fd(0) is not delivered until resumed. */
struct rearm_ctx {
	struct evloop_timer *timer;
	int fires, fd, fd_calls;
};

static void count_fd(struct evloop *loop, int fd, uint32_t events, void *ctx)
{
	struct rearm_ctx *c = ctx;
	char buf[8];

	(void)loop;
	(void)events;
	(void)!read(fd, buf, sizeof(buf));
	c->fd_calls++;
}

static void rearm(struct evloop *loop, uint64_t expirations, void *ctx)
{
	struct rearm_ctx *c = ctx;

	(void)expirations;
	if (++c->fires <= 2)
		CHECK_INT_EQ(c->fd_calls, 0); /* paused until now */
	if (c->fires == 3) {
		evloop_stop(loop);
		return;
	}
	/* Paused while the pipe has data: not delivered before the next fire. */
	CHECK_INT_EQ(evloop_mod_fd(loop, c->fd, c->fires == 1 ? 0 : EPOLLIN), 0);
	CHECK_INT_EQ(evloop_arm_timer(loop, c->timer, 10), 0);
}

TEST(one_shot_timer_armed_again_and_fd_paused)
{
	struct evloop *loop = evloop_new();
	struct rearm_ctx c = {0};
	int fds[2];

	CHECK_INT_EQ(pipe(fds), 0);
	c.fd = fds[0];
	CHECK_INT_EQ(evloop_add_fd(loop, fds[0], EPOLLIN, count_fd, &c), 0);
	CHECK_INT_EQ(evloop_add_timer(loop, 10, 0, rearm, &c, &c.timer), 0);
	CHECK_INT_EQ(evloop_mod_fd(loop, fds[0], 0), 0);
	CHECK_INT_EQ(write(fds[1], "x", 1), 1);
	CHECK_INT_EQ(evloop_run(loop), 0);
	CHECK_INT_EQ(c.fires, 3);
	CHECK(c.fd_calls >= 1); /* resumed by the second fire */
	CHECK_INT_EQ(evloop_arm_timer(loop, c.timer, 0), -EINVAL);
	CHECK_INT_EQ(evloop_cancel_timer(loop, c.timer), 0);
	CHECK_INT_EQ(evloop_arm_timer(loop, NULL, 5), -ENOENT);
	CHECK_INT_EQ(evloop_mod_fd(loop, fds[1], EPOLLIN), -ENOENT);
	close(fds[0]);
	close(fds[1]);
	evloop_free(loop);
}

static void on_signal(struct evloop *loop, int signo, void *ctx)
{
	*(int *)ctx = signo;
	evloop_stop(loop);
}

static void raise_usr1(struct evloop *loop, uint64_t expirations, void *ctx)
{
	(void)loop;
	(void)expirations;
	(void)ctx;
	raise(SIGUSR1);
}

TEST(signals_arrive_through_the_loop)
{
	struct evloop *loop = evloop_new();
	sigset_t mask;
	int got = 0;

	sigemptyset(&mask);
	sigaddset(&mask, SIGUSR1);
	CHECK_INT_EQ(evloop_add_signals(loop, &mask, on_signal, &got), 0);
	CHECK_INT_EQ(evloop_add_signals(loop, &mask, on_signal, &got), -EEXIST);
	CHECK_INT_EQ(evloop_add_timer(loop, 10, 0, raise_usr1, NULL, NULL), 0);
	CHECK_INT_EQ(evloop_run(loop), 0);
	CHECK_INT_EQ(got, SIGUSR1);
	sigprocmask(SIG_UNBLOCK, &mask, NULL);
	evloop_free(loop);
}

TEST(free_accepts_null)
{
	CHECK(evloop_free(NULL) == NULL);
}

int main(void)
{
	RUN(periodic_timer_fires_until_stopped);
	RUN(timer_with_no_interval_is_refused);
	RUN(fd_readiness_is_delivered);
	RUN(cancelled_timer_no_longer_fires);
	RUN(one_shot_timer_armed_again_and_fd_paused);
	RUN(signals_arrive_through_the_loop);
	RUN(free_accepts_null);
	return harness_finish();
}
