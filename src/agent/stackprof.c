/* stackprof: see stackprof.h. One `struct shared` per profiler target holds
 * the backend's BPF state, its drain, its sessions and the pid filter's
 * reference counts; the symbolizer is shared by both targets. */
#include "agent/stackprof.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>

#include "agent/foldtab.h"
#include "agent/stackcount.h"
#include "agent/symbolize.h"

/* Longest folded stack built (frames beyond are cut at the root side). */
#define FOLD_MAX  (2 * STACKCOUNT_DEPTH_MAX * 256 + 64)
#define FRAME_MAX 256

struct pid_ref {
	pid_t pid;
	unsigned refs;
	uint64_t lost_seen; /* pid filter's lost counter at the last drain */
};

struct pid_refs {
	struct pid_ref *items;
	size_t n, cap;
};

struct profiler_session {
	struct shared *shared;
	char task_id[64];
	pid_t *pids; /* sorted, distinct */
	size_t n_pids;
	struct foldtab *pending;
	uint32_t slice_no;
	int64_t slice_start_ms;
	/* Slice times are wall ms on the session's own timeline: the wall
	 * clock at the start plus monotonic time since, so a clock step never
	 * makes a slice end before it starts or overlap the one before. */
	int64_t anchor_wall_ms, anchor_mono_ms;
	struct stackprof_stats stats;	     /* all slices */
	struct profile_slice_stats in_slice; /* the pending slice */
};

struct shared {
	const struct stackprof_backend *backend;
	void *state;
	struct stackdrain *drain;
	int pids_fd;
	struct profiler_session *sessions[STACKPROF_SESSIONS_MAX];
	size_t n_sessions;
	struct pid_refs filter;
};

static struct shared shared_by_target[POLICY_TARGET_COUNT];
static struct symbolizer *symbolizer;
static struct pid_refs symbolizer_pids;
static char fold_buf[FOLD_MAX];

static int64_t clock_ms(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t session_now_ms(const struct profiler_session *s)
{
	return s->anchor_wall_ms + (clock_ms(CLOCK_MONOTONIC) - s->anchor_mono_ms);
}

static struct pid_ref *pid_ref_find(struct pid_refs *r, pid_t pid)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->items[i].pid == pid)
			return &r->items[i];
	return NULL;
}

/* Adds a reference; *ret_first says whether it is the first. */
static int pid_ref_get(struct pid_refs *r, pid_t pid, bool *ret_first)
{
	struct pid_ref *p = pid_ref_find(r, pid);

	*ret_first = !p;
	if (p) {
		p->refs++;
		return 0;
	}
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 16;
		struct pid_ref *items = realloc(r->items, cap * sizeof(*items));

		if (!items)
			return -ENOMEM;
		r->items = items;
		r->cap = cap;
	}
	r->items[r->n++] = (struct pid_ref){.pid = pid, .refs = 1};
	return 0;
}

/* Drops a reference; true when it was the last. */
static bool pid_ref_put(struct pid_refs *r, pid_t pid)
{
	struct pid_ref *p = pid_ref_find(r, pid);

	if (!p || --p->refs)
		return false;
	*p = r->items[--r->n];
	if (!r->n) {
		free(r->items);
		*r = (struct pid_refs){0};
	}
	return true;
}

bool stackprof_reaches_entry(const char *root)
{
	static const char *const entries[] = {"_start",
					      "__libc_start_main",
					      "__libc_start_call_main",
					      "start_thread",
					      "clone",
					      "clone3",
					      "__clone",
					      "__clone3",
					      "thread_start",
					      "_dl_start",
					      "_dl_start_user",
					      NULL};
	/* The C library's start code and thread trampoline, even without
	 * symbols for them (Debian's libc has no .symtab). */
	static const char *const entry_modules[] = {"libc.so", "libc-",	     "ld-linux",
						    "ld-musl", "libpthread", NULL};

	for (size_t i = 0; entries[i]; i++)
		if (strcmp(root, entries[i]) == 0)
			return true;
	if (!strstr(root, "+0x"))
		return false;
	for (size_t i = 0; entry_modules[i]; i++)
		if (strncmp(root, entry_modules[i], strlen(entry_modules[i])) == 0)
			return true;
	return false;
}

struct fold {
	char *buf;
	size_t len, cap;
	bool full;
};

static void fold_frame(struct fold *f, const char *name, const char *suffix)
{
	size_t need = strlen(name) + strlen(suffix) + (f->len ? 1 : 0);

	if (f->full || f->len + need + 1 > f->cap) {
		f->full = true;
		return;
	}
	f->len += (size_t)snprintf(f->buf + f->len, f->cap - f->len, "%s%s%s", f->len ? ";" : "",
				   name, suffix);
}

/* Builds the folded stack of a record (see profiler.h); *ret_truncated says
 * whether the user stack did not reach a thread entry. */
static size_t fold_record(const struct stackdrain_record *r, bool *ret_truncated)
{
	struct fold f = {.buf = fold_buf, .cap = sizeof(fold_buf)};
	char name[FRAME_MAX];
	size_t first_kernel = 0;

	*ret_truncated = false;
	if (r->user_err && r->user_err != -EFAULT)
		fold_frame(&f, FOLDTAB_LOST_FRAME, "");
	if (!r->user_err && r->n_user) {
		bool truncated = r->n_user >= STACKCOUNT_DEPTH_MAX;

		for (size_t i = r->n_user; i-- > 0;) {
			symbolizer_user(symbolizer, (pid_t)r->pid, r->user[i], i > 0, name,
					sizeof(name));
			if (i == r->n_user - 1 && !r->user_complete &&
			    !stackprof_reaches_entry(name))
				truncated = true;
			if (i == r->n_user - 1 && truncated)
				fold_frame(&f, STACKPROF_TRUNCATED_FRAME, "");
			fold_frame(&f, name, "");
		}
		*ret_truncated = truncated;
	}
	if (r->kernel_err && r->kernel_err != -EFAULT)
		fold_frame(&f, FOLDTAB_LOST_FRAME, STACKPROF_KERNEL_SUFFIX);
	/* The innermost kernel frames of a tracepoint stack are the BPF
	 * machinery that took it (bpf_trace_run4, bpf_prog_...): not the
	 * profiled code, left out. */
	while (!r->kernel_err && first_kernel < r->n_kernel) {
		symbolizer_kernel(symbolizer, r->kernel[first_kernel], name, sizeof(name));
		if (strncmp(name, "bpf_prog_", 9) != 0 && strncmp(name, "bpf_trace_run", 13) != 0 &&
		    strncmp(name, "__bpf_trace_", 12) != 0)
			break;
		first_kernel++;
	}
	for (size_t i = r->n_kernel; !r->kernel_err && i-- > first_kernel;) {
		symbolizer_kernel(symbolizer, r->kernel[i], name, sizeof(name));
		fold_frame(&f, name, STACKPROF_KERNEL_SUFFIX);
	}
	if (!f.len)
		fold_frame(&f, "[unknown]", "");
	return f.len;
}

static bool session_has_pid(const struct profiler_session *s, pid_t pid)
{
	size_t lo = 0, hi = s->n_pids;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->pids[mid] == pid)
			return true;
		if (s->pids[mid] < pid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

static void session_add(struct profiler_session *s, const char *folded, size_t len, uint64_t count,
			uint64_t ns, bool truncated, bool lost)
{
	int r = foldtab_add(s->pending, folded, len, count, ns);

	if (r < 0)
		return; /* out of memory: nothing sane left to record it in */
	if (r == 1) {	/* too many stacks in the slice: under [lost] */
		truncated = false;
		lost = true;
	}
	s->stats.events += count;
	s->stats.total_ns += ns;
	s->in_slice.samples += count;
	if (truncated) {
		s->stats.truncated += count;
		s->in_slice.truncated += count;
	}
	if (lost) {
		s->stats.lost += count;
		s->in_slice.lost += count;
	}
}

static void on_record(void *ctx, const struct stackdrain_record *r)
{
	struct shared *sh = ctx;
	bool truncated = false, lost;
	size_t len = 0;
	bool folded = false;

	for (size_t i = 0; i < sh->n_sessions; i++) {
		struct profiler_session *s = sh->sessions[i];

		if (!session_has_pid(s, (pid_t)r->pid))
			continue;
		if (!folded) {
			len = fold_record(r, &truncated);
			folded = true;
		}
		lost = (r->user_err && r->user_err != -EFAULT) ||
		       (r->kernel_err && r->kernel_err != -EFAULT);
		session_add(s, fold_buf, len, r->count, r->total_ns, truncated, lost);
	}
}

/* Samples that found the counts map full, per pid, since the last drain. */
static void collect_map_full(struct shared *sh)
{
	for (size_t i = 0; i < sh->filter.n; i++) {
		struct pid_ref *p = &sh->filter.items[i];
		struct stack_pid v;
		uint32_t key = (uint32_t)p->pid;
		uint64_t delta;

		if (bpf_map_lookup_elem(sh->pids_fd, &key, &v) != 0 || v.lost <= p->lost_seen)
			continue;
		delta = v.lost - p->lost_seen;
		p->lost_seen = v.lost;
		for (size_t j = 0; j < sh->n_sessions; j++)
			if (session_has_pid(sh->sessions[j], p->pid))
				session_add(sh->sessions[j], FOLDTAB_LOST_FRAME,
					    strlen(FOLDTAB_LOST_FRAME), delta, 0, false, true);
	}
}

static int drain_all(struct shared *sh)
{
	int n;

	symbolizer_next_round(symbolizer);
	n = stackdrain_run(sh->drain, on_record, sh);
	collect_map_full(sh);
	return n < 0 ? n : 0;
}

static int cmp_pid(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

	return x < y ? -1 : x > y;
}

/* Sorted distinct copy of pids. */
static pid_t *normalize_pids(const pid_t *pids, size_t n, size_t *ret_n)
{
	pid_t *out = malloc(n * sizeof(*out));
	size_t m = 0;

	if (!out)
		return NULL;
	memcpy(out, pids, n * sizeof(*out));
	qsort(out, n, sizeof(*out), cmp_pid);
	for (size_t i = 0; i < n; i++)
		if (out[i] > 0 && (!m || out[m - 1] != out[i]))
			out[m++] = out[i];
	*ret_n = m;
	return out;
}

/* Takes a filter and a symbolizer reference on pid. -ESRCH: process gone. */
static int pid_attach(struct shared *sh, pid_t pid)
{
	bool first;
	int err = pid_ref_get(&symbolizer_pids, pid, &first);

	if (err)
		return err;
	if (first) {
		err = symbolizer_add_pid(symbolizer, pid);
		if (err) {
			pid_ref_put(&symbolizer_pids, pid);
			return err;
		}
	}
	err = pid_ref_get(&sh->filter, pid, &first);
	if (!err && first) {
		struct stack_pid v = {0};
		uint32_t key = (uint32_t)pid;

		if (sh->filter.n > STACKPROF_PIDS_MAX)
			err = -E2BIG;
		else if (bpf_map_update_elem(sh->pids_fd, &key, &v, BPF_ANY) != 0)
			err = -errno;
		if (err)
			pid_ref_put(&sh->filter, pid);
	}
	if (err && pid_ref_put(&symbolizer_pids, pid))
		symbolizer_drop_pid(symbolizer, pid);
	return err;
}

static void filter_put(struct shared *sh, pid_t pid)
{
	uint32_t key = (uint32_t)pid;

	if (pid_ref_put(&sh->filter, pid))
		bpf_map_delete_elem(sh->pids_fd, &key);
}

static void symbolizer_put(pid_t pid)
{
	if (pid_ref_put(&symbolizer_pids, pid))
		symbolizer_drop_pid(symbolizer, pid);
}

static void pid_detach(struct shared *sh, pid_t pid)
{
	filter_put(sh, pid);
	symbolizer_put(pid);
}

static bool any_session(void)
{
	for (size_t t = 0; t < POLICY_TARGET_COUNT; t++)
		if (shared_by_target[t].n_sessions)
			return true;
	return false;
}

static void shared_release_if_idle(struct shared *sh)
{
	if (!sh->n_sessions && sh->backend) {
		sh->drain = stackdrain_free(sh->drain);
		sh->backend->close(sh->state);
		free(sh->filter.items);
		*sh = (struct shared){0};
	}
	if (!any_session()) {
		symbolizer = symbolizer_free(symbolizer);
		free(symbolizer_pids.items);
		symbolizer_pids = (struct pid_refs){0};
	}
}

static void session_free(struct profiler_session *s)
{
	if (!s)
		return;
	foldtab_free(s->pending);
	free(s->pids);
	free(s);
}

int stackprof_start(const struct stackprof_backend *backend, const char *task_id, const pid_t *pids,
		    size_t n_pids, struct profiler_session **ret, char *reason, size_t reason_len)
{
	struct shared *sh = &shared_by_target[backend->target];
	struct profiler_session *s = NULL;
	size_t attached = 0;
	int err = 0;

	if (!n_pids) {
		snprintf(reason, reason_len, "no process to profile");
		return -EINVAL;
	}
	if (sh->n_sessions == STACKPROF_SESSIONS_MAX) {
		snprintf(reason, reason_len, "%s: too many sessions at once", backend->name);
		return -EBUSY;
	}
	if (!symbolizer) {
		symbolizer = symbolizer_new("/proc", "/proc/kallsyms");
		if (!symbolizer)
			goto nomem;
	}
	if (!sh->backend) {
		struct stackdrain_maps maps = {.starts_fd = -1};

		err = backend->open(&sh->state, &maps, &sh->pids_fd, reason, reason_len);
		if (err)
			goto fail;
		sh->backend = backend;
		sh->drain = stackdrain_new(&maps);
		if (!sh->drain)
			goto nomem;
	} else {
		/* Counts so far belong to the running sessions only. */
		drain_all(sh);
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		goto nomem;
	s->shared = sh;
	snprintf(s->task_id, sizeof(s->task_id), "%s", task_id);
	s->pending = foldtab_new(STACKPROF_STACKS_PER_SLICE_MAX);
	s->pids = normalize_pids(pids, n_pids, &s->n_pids);
	if (!s->pending || !s->pids)
		goto nomem;
	for (size_t i = 0; i < s->n_pids; i++) {
		err = pid_attach(sh, s->pids[i]);
		if (err == -ESRCH) {
			memmove(&s->pids[i], &s->pids[i + 1], (s->n_pids - i - 1) * sizeof(pid_t));
			s->n_pids--;
			i--;
			err = 0;
			continue;
		}
		if (err) {
			snprintf(reason, reason_len, "%s: cannot watch pid %d: %s", backend->name,
				 (int)s->pids[i], strerror(-err));
			s->n_pids = attached;
			goto fail;
		}
		attached++;
	}
	if (!s->n_pids) {
		snprintf(reason, reason_len, "no such process");
		err = -ESRCH;
		goto fail;
	}
	s->anchor_wall_ms = clock_ms(CLOCK_REALTIME);
	s->anchor_mono_ms = clock_ms(CLOCK_MONOTONIC);
	s->slice_start_ms = s->anchor_wall_ms;
	sh->sessions[sh->n_sessions++] = s;
	*ret = s;
	return 0;
nomem:
	err = -ENOMEM;
	snprintf(reason, reason_len, "%s: out of memory", backend->name);
fail:
	for (size_t i = 0; s && i < attached; i++)
		pid_detach(sh, s->pids[i]);
	session_free(s);
	shared_release_if_idle(sh);
	return err;
}

int stackprof_update_pids(struct profiler_session *s, const pid_t *pids, size_t n_pids)
{
	struct shared *sh = s->shared;
	size_t n = 0, kept = 0, n_union = 0;
	pid_t *next = normalize_pids(pids, n_pids, &n), *both, *old = s->pids, *all;
	size_t n_old = s->n_pids;
	int err = 0;

	if (!next || !n) {
		free(next);
		return next ? -EINVAL : -ENOMEM;
	}
	both = malloc((n + n_old) * sizeof(*both));
	if (!both) {
		free(next);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		int e = 0;

		if (!session_has_pid(s, next[i]))
			e = pid_attach(sh, next[i]);
		if (e && !err && e != -ESRCH)
			err = e;
		if (!e)
			next[kept++] = next[i];
	}
	for (size_t i = 0; i < n_old; i++)
		if (!bsearch(&old[i], next, kept, sizeof(pid_t), cmp_pid))
			filter_put(sh, old[i]);
	/* Every sample up to now belongs to the session: drain while it holds
	 * the old and the new pids, then keep the new ones. */
	memcpy(both, old, n_old * sizeof(*both));
	memcpy(both + n_old, next, kept * sizeof(*both));
	all = normalize_pids(both, n_old + kept, &n_union);
	free(both);
	if (all) {
		s->pids = all;
		s->n_pids = n_union;
	}
	drain_all(sh);
	free(all);
	for (size_t i = 0; i < n_old; i++)
		if (!bsearch(&old[i], next, kept, sizeof(pid_t), cmp_pid))
			symbolizer_put(old[i]);
	free(old);
	s->pids = next;
	s->n_pids = kept;
	return err;
}

int stackprof_flush(struct profiler_session *s, const struct profile_sink *sink)
{
	const struct profile_stack *stacks = NULL;
	int64_t now = session_now_ms(s);
	size_t n = 0;
	int err = drain_all(s->shared);

	if (foldtab_view(s->pending, &stacks, &n) != 0)
		return -ENOMEM;
	if (sink && sink->slice)
		sink->slice(sink->ctx, s->task_id, s->slice_no, s->slice_start_ms, now, stacks, n,
			    &s->in_slice);
	foldtab_clear(s->pending);
	s->in_slice = (struct profile_slice_stats){0};
	s->slice_no++;
	s->slice_start_ms = now;
	return err;
}

void stackprof_stop(struct profiler_session *s, const struct profile_sink *sink)
{
	struct shared *sh;

	if (!s)
		return;
	sh = s->shared;
	/* Out of the kernel filter first, so that the last drain holds every
	 * sample of the session; the symbolizer keeps the pids until after. */
	for (size_t i = 0; i < s->n_pids; i++)
		filter_put(sh, s->pids[i]);
	stackprof_flush(s, sink);
	for (size_t i = 0; i < sh->n_sessions; i++)
		if (sh->sessions[i] == s)
			sh->sessions[i] = sh->sessions[--sh->n_sessions];
	for (size_t i = 0; i < s->n_pids; i++)
		symbolizer_put(s->pids[i]);
	session_free(s);
	shared_release_if_idle(sh);
}

void stackprof_session_stats(const struct profiler_session *s, struct stackprof_stats *ret)
{
	*ret = s->stats;
}
