/* agent: see agent.h. The loop's state: one `watched` entry per process of a
 * service with a policy (its procstat handle), the engine, the task manager
 * and the uplink. Everything runs on the loop thread; the uplink's threads
 * only talk to it through uplink.h. */
#include "agent/agent.h"

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "agent/bpfutil.h"
#include "agent/discover.h"
#include "agent/engine.h"
#include "agent/httpagg.h"
#include "agent/httpmon.h"
#include "agent/procevents.h"
#include "agent/procstat.h"
#include "agent/tasks.h"
#include "agent/uplink.h"
#include "core/policy.h"
#include "util/evloop.h"
#include "util/fsutil.h"
#include "util/log.h"

struct watched {
	char id[DISCOVER_ID_LEN + 1];
	char service[DISCOVER_NAME_MAX];
	char instance[DISCOVER_NAME_MAX];
	uint32_t pid; /* 0 while the process is gone */
	int64_t gone_mono_ms;
	struct procstat_proc stat;
};

struct agent {
	struct agent_options opts;
	char *policy_dir;
	struct evloop *loop;
	struct procevents *procevents;
	struct discover *discover;
	struct procstat *procstat;
	struct engine *engine;
	struct taskmgr *tasks;
	struct uplink *uplink;
	struct httpmon *httpmon; /* NULL when BPF is unavailable */
	struct httpagg *httpagg;
	struct watched *watched;
	size_t n_watched, cap_watched;
	json_t *versions; /* service -> version held ("" none) */
	bool processes_changed;
	char *manual_ids[AGENT_MANUAL_IDS_REMEMBERED];
	size_t manual_next;
	uint64_t ticks, tick_overruns;
	sigset_t stop_signals;
};

static int64_t clock_ms(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- policies on disk ---- */

/* File name of a service's policy: the service name hex-encoded, so any
 * name maps to a safe, unique file. */
static void policy_path(const struct agent *a, const char *service, char *buf, size_t len)
{
	size_t used = (size_t)snprintf(buf, len, "%s/", a->policy_dir);

	for (const unsigned char *s = (const unsigned char *)service; *s && used + 3 < len; s++)
		used += (size_t)snprintf(buf + used, len - used, "%02x", *s);
	snprintf(buf + used, len - used, ".json");
}

static void persist_policy(struct agent *a, const char *service, const json_t *policy)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8];

	policy_path(a, service, path, sizeof(path));
	if (!policy) {
		unlink(path);
		return;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (json_dump_file(policy, tmp, JSON_COMPACT) != 0 || rename(tmp, path) != 0)
		log_warn("agent: cannot keep the policy of %s on disk (%s)", service, path);
}

/* ---- watched processes ---- */

static struct watched *find_watched(struct agent *a, const char *id)
{
	for (size_t i = 0; i < a->n_watched; i++)
		if (strcmp(a->watched[i].id, id) == 0)
			return &a->watched[i];
	return NULL;
}

/* ---- HTTP monitors ---- */

static bool policy_has_http(const struct policy *p)
{
	for (size_t t = 0; p && t < p->n_targets; t++)
		for (size_t i = 0; i < p->targets[t].n_items; i++)
			if (policy_monitor_is_http(p->targets[t].items[i].monitor))
				return true;
	return false;
}

static void http_forget(struct agent *a, const struct watched *w);

/* Measures HTTP for a watched process exactly when its policy has HTTP items. */
static void http_update(struct agent *a, const struct watched *w)
{
	const struct policy *policy = engine_policy(a->engine, w->service);

	if (!a->httpmon || !w->pid)
		return;
	if (policy_has_http(policy) &&
	    httpagg_set_process(a->httpagg, w->id, w->pid, policy) == 0) {
		if (httpmon_watch(a->httpmon, w->pid) < 0)
			log_warn("agent: cannot monitor HTTP of pid %u", w->pid);
	} else {
		http_forget(a, w);
	}
}

static void http_forget(struct agent *a, const struct watched *w)
{
	if (!a->httpmon)
		return;
	httpagg_remove_process(a->httpagg, w->id);
	if (w->pid)
		httpmon_unwatch(a->httpmon, w->pid);
}

static void on_http_request(const struct httpmon_request *req, void *ctx)
{
	struct agent *a = ctx;

	httpagg_add(a->httpagg, req);
}

/* One completed second of an HTTP item. Its requests completed in
 * [second, second + 1): the slot of the window is second + 1, the same slot
 * as the CPU used in that interval. */
static void on_http_value(const struct httpagg_value *v, void *ctx)
{
	struct agent *a = ctx;
	int64_t offset_ms = clock_ms(CLOCK_REALTIME) - clock_ms(CLOCK_MONOTONIC);

	engine_record_http(a->engine, v->process_id, v->target, v->monitor, v->second + 1,
			   v->value);
	uplink_metric(a->uplink, v->process_id, policy_monitor_name(v->monitor), v->label,
		      (v->second * 1000 + offset_ms) / 1000 * 1000, v->value);
}

static void watch(struct agent *a, const struct discover_proc *p)
{
	struct watched *w = find_watched(a, p->id);

	if (!w) {
		if (a->n_watched == a->cap_watched) {
			size_t cap = a->cap_watched ? a->cap_watched * 2 : 32;
			struct watched *grown = realloc(a->watched, cap * sizeof(*grown));

			if (!grown) {
				log_error("agent: out of memory watching %s", p->name);
				return;
			}
			a->watched = grown;
			a->cap_watched = cap;
		}
		w = &a->watched[a->n_watched++];
		memset(w, 0, sizeof(*w));
		snprintf(w->id, sizeof(w->id), "%s", p->id);
		procstat_proc_init(&w->stat, 0);
	}
	if (w->pid != p->pid) {
		http_forget(a, w);
		procstat_proc_release(&w->stat);
		procstat_proc_init(&w->stat, p->pid);
	}
	snprintf(w->service, sizeof(w->service), "%s", p->service);
	snprintf(w->instance, sizeof(w->instance), "%s", p->instance);
	w->pid = p->pid;
	w->gone_mono_ms = 0;
	if (engine_add_process(a->engine, w->id, w->service, w->instance) < 0)
		log_warn("agent: cannot watch %s (%s)", p->name, p->id);
	http_update(a, w);
	log_debug("agent: watching %s/%s pid %u (%s)", p->service, p->name, p->pid, p->id);
}

static void unwatch_at(struct agent *a, size_t i)
{
	http_forget(a, &a->watched[i]);
	procstat_proc_release(&a->watched[i].stat);
	engine_remove_process(a->engine, a->watched[i].id);
	a->watched[i] = a->watched[--a->n_watched];
}

/* A watched process exited: keep its engine state (silence survives a
 * restart under the same id) until AGENT_GONE_FORGET_MS. */
static void mark_gone(struct agent *a, const char *id)
{
	struct watched *w = find_watched(a, id);

	if (!w)
		return;
	http_forget(a, w);
	procstat_proc_release(&w->stat);
	procstat_proc_init(&w->stat, 0);
	w->pid = 0;
	w->gone_mono_ms = clock_ms(CLOCK_MONOTONIC);
}

/* Watches exactly the live processes whose service has a policy. */
static void rewatch_all(struct agent *a)
{
	for (size_t i = a->n_watched; i-- > 0;)
		if (!engine_watches_service(a->engine, a->watched[i].service))
			unwatch_at(a, i);
	for (size_t i = 0; i < discover_count(a->discover); i++) {
		const struct discover_proc *p = discover_at(a->discover, i);

		if (engine_watches_service(a->engine, p->service))
			watch(a, p);
	}
}

static void on_discover(enum discover_change change, const struct discover_proc *p, void *ctx)
{
	struct agent *a = ctx;

	a->processes_changed = true;
	if (change == DISCOVER_GONE) {
		mark_gone(a, p->id);
		taskmgr_pid_exited(a->tasks, (pid_t)p->pid, clock_ms(CLOCK_REALTIME));
		return;
	}
	if (engine_watches_service(a->engine, p->service))
		watch(a, p);
}

/* ---- what the server learns ---- */

static json_t *process_json(const struct discover_proc *p)
{
	json_t *labels = json_object();

	for (size_t i = 0; i < p->n_labels; i++)
		json_object_set_new(labels, p->labels[i].key, json_string(p->labels[i].value));
	return json_pack("{s:s, s:s, s:s, s:s, s:I, s:o}", "id", p->id, "service", p->service,
			 "instance", p->instance, "name", p->name, "pid", (json_int_t)p->pid,
			 "labels", labels);
}

/* Sends the process list and the services to sync when they changed. */
static void publish_processes(struct agent *a)
{
	json_t *list = json_array();
	json_t *services = json_object();

	if (!list || !services)
		goto out;
	for (size_t i = 0; i < discover_count(a->discover); i++) {
		const struct discover_proc *p = discover_at(a->discover, i);
		json_t *held = json_object_get(a->versions, p->service);
		json_t *pj = process_json(p);

		if (pj)
			json_array_append_new(list, pj);
		json_object_set_new(services, p->service,
				    json_string(held ? json_string_value(held) : ""));
	}
	/* Services with a policy whose processes are all gone stay synced. */
	const char *service;
	json_t *version;
	json_object_foreach(a->versions, service, version)
	    json_object_set(services, service, version);
	uplink_set_processes(a->uplink, list);
	uplink_set_services(a->uplink, services);
	a->processes_changed = false;
	return;
out:
	json_decref(list);
	json_decref(services);
}

/* ---- policies and manual tasks from the server ---- */

static void apply_policy(struct agent *a, const char *service, const char *version,
			 const json_t *doc, bool persist)
{
	struct policy_errors errors = {0};
	struct policy *policy = NULL;

	if (!version || !doc) {
		engine_remove_policy(a->engine, service);
		json_object_del(a->versions, service);
		if (persist)
			persist_policy(a, service, NULL);
		log_info("agent: policy of %s removed", service);
	} else if (policy_from_json(doc, &policy, &errors) != 0) {
		log_warn("agent: policy of %s refused: %s", service,
			 errors.n ? errors.reasons[0] : "out of memory");
		policy_errors_clear(&errors);
		return;
	} else {
		char local_version[POLICY_VERSION_HEX_LEN + 1] = "";

		policy_version(policy, local_version);
		if (engine_set_policy(a->engine, policy) < 0) {
			log_error("agent: cannot apply the policy of %s", service);
			return;
		}
		json_object_set_new(a->versions, service, json_string(local_version));
		if (persist) {
			json_t *saved = json_pack("{s:s, s:O}", "service", service, "policy", doc);

			persist_policy(a, service, saved);
			json_decref(saved);
		}
		log_info("agent: policy of %s applied (version %.12s)", service, local_version);
	}
	rewatch_all(a);
	a->processes_changed = true;
}

static void load_persisted_policies(struct agent *a)
{
	char path[PATH_MAX];
	struct dirent *e;
	DIR *d = opendir(a->policy_dir);

	if (!d)
		return;
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name);
		json_t *saved;

		if (n < 6 || strcmp(e->d_name + n - 5, ".json") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", a->policy_dir, e->d_name);
		saved = json_load_file(path, 0, NULL);
		if (saved && json_is_string(json_object_get(saved, "service")))
			apply_policy(a, json_string_value(json_object_get(saved, "service")), "",
				     json_object_get(saved, "policy"), false);
		else
			log_warn("agent: ignoring unreadable kept policy %s", path);
		json_decref(saved);
	}
	closedir(d);
}

static void on_policy(void *ctx, const char *service, const char *version, const json_t *doc)
{
	apply_policy(ctx, service, version, doc, true);
}

static bool manual_seen(struct agent *a, const char *id)
{
	for (size_t i = 0; i < AGENT_MANUAL_IDS_REMEMBERED; i++)
		if (a->manual_ids[i] && strcmp(a->manual_ids[i], id) == 0)
			return true;
	return false;
}

static void remember_manual(struct agent *a, const char *id)
{
	size_t slot = a->manual_next++ % AGENT_MANUAL_IDS_REMEMBERED;

	free(a->manual_ids[slot]);
	a->manual_ids[slot] = strdup(id);
}

static size_t instance_pids(struct agent *a, const char *service, const char *instance, pid_t *pids,
			    size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < discover_count(a->discover) && n < max; i++) {
		const struct discover_proc *p = discover_at(a->discover, i);

		if (strcmp(p->service, service) == 0 && strcmp(p->instance, instance) == 0)
			pids[n++] = (pid_t)p->pid;
	}
	return n;
}

static void start_task(struct agent *a, const struct engine_decision *d, bool manual,
		       const char *task_id)
{
	pid_t pids[TASK_PIDS_MAX];
	size_t n = 0;
	int err;

	if (d->target == POLICY_TARGET_NETWORK) {
		n = instance_pids(a, d->service, d->instance, pids, TASK_PIDS_MAX);
	} else {
		const struct discover_proc *p = discover_find_id(a->discover, d->process_id);

		if (p)
			pids[n++] = (pid_t)p->pid;
	}
	if (n == 0) {
		log_warn("agent: %s task for %s not started: no live process",
			 policy_target_name(d->target), d->process_id);
		engine_task_ended(a->engine, d->service,
				  d->target == POLICY_TARGET_NETWORK ? d->instance : d->process_id,
				  d->target, clock_ms(CLOCK_MONOTONIC));
		return;
	}
	err = taskmgr_start(a->tasks, d, manual, task_id, pids, n, clock_ms(CLOCK_REALTIME),
			    clock_ms(CLOCK_MONOTONIC));
	if (err)
		log_error("agent: cannot start a %s task for %s: %s", policy_target_name(d->target),
			  d->process_id, strerror(-err));
}

static void on_manual_task(void *ctx, const json_t *task)
{
	struct agent *a = ctx;
	const char *id = json_string_value(json_object_get(task, "id"));
	const char *process_id = json_string_value(json_object_get(task, "process_id"));
	const char *target_name = json_string_value(json_object_get(task, "target"));
	json_int_t duration = json_integer_value(json_object_get(task, "duration"));
	const struct discover_proc *p;
	struct engine_decision d;
	int target, err;

	if (!id || !process_id || !target_name || manual_seen(a, id) || taskmgr_find(a->tasks, id))
		return;
	target = policy_target_from_name(target_name);
	p = discover_find_id(a->discover, process_id);
	if (target < 0 || duration <= 0 || duration > POLICY_DURATION_MAX_S || !p) {
		log_warn("agent: manual task %s ignored (unknown process or bad target/duration)",
			 id);
		return;
	}
	remember_manual(a, id);
	if (!find_watched(a, p->id))
		engine_add_process(a->engine, p->id, p->service, p->instance);
	err = engine_start_manual(a->engine, p->id, (enum policy_target)target, (uint32_t)duration,
				  clock_ms(CLOCK_MONOTONIC), &d);
	if (err == -EBUSY) {
		/* A task of that kind runs: report the manual one as failed. */
		struct task_info info = {.manual = true, .status = TASK_FAILED};

		snprintf(info.id, sizeof(info.id), "%s", id);
		memset(&info.decision, 0, sizeof(info.decision));
		info.decision.target = (enum policy_target)target;
		info.decision.duration_s = (uint32_t)duration;
		snprintf(info.decision.process_id, sizeof(info.decision.process_id), "%s", p->id);
		info.start_wall_ms = info.end_wall_ms = clock_ms(CLOCK_REALTIME);
		snprintf(info.reason, sizeof(info.reason),
			 "a %s task of this process is already running or silenced", target_name);
		uplink_task_started(a->uplink, &info);
		uplink_task_ended(a->uplink, &info);
		return;
	}
	if (err) {
		log_warn("agent: manual task %s: %s", id, strerror(-err));
		return;
	}
	start_task(a, &d, true, id);
}

/* ---- task events ---- */

static void on_task_started(void *ctx, const struct task_info *t)
{
	struct agent *a = ctx;

	log_info("agent: task %s started: %s of %s/%s, %s", t->id,
		 policy_target_name(t->decision.target), t->decision.service,
		 t->decision.process_id, t->decision.cause.message);
	uplink_task_started(a->uplink, t);
}

static void on_task_ended(void *ctx, const struct task_info *t)
{
	struct agent *a = ctx;
	const struct engine_decision *d = &t->decision;

	log_info("agent: task %s %s%s%s", t->id, t->status == TASK_FAILED ? "failed" : "finished",
		 t->reason[0] ? ": " : "", t->reason);
	uplink_task_ended(a->uplink, t);
	engine_task_ended(a->engine, d->service,
			  d->target == POLICY_TARGET_NETWORK ? d->instance : d->process_id,
			  d->target, clock_ms(CLOCK_MONOTONIC));
}

static void on_slice(void *ctx, const char *task_id, uint32_t slice_no, int64_t start_ms,
		     int64_t end_ms, const struct profile_stack *stacks, size_t n_stacks)
{
	struct agent *a = ctx;

	uplink_slice(a->uplink, task_id, slice_no, start_ms, end_ms, stacks, n_stacks);
}

static void on_decision(const struct engine_decision *d, void *ctx)
{
	start_task(ctx, d, false, NULL);
}

/* ---- the loop ---- */

static void record_metric(struct agent *a, const struct watched *w, enum policy_monitor monitor,
			  int64_t second, int64_t wall_ms, double value)
{
	if (monitor != POLICY_MONITOR_SYSTEM_LOAD)
		engine_record(a->engine, w->id, monitor, second, value);
	uplink_metric(a->uplink, w->id, policy_monitor_name(monitor), NULL, wall_ms, value);
}

static void on_tick(struct evloop *loop, uint64_t expirations, void *ctx)
{
	struct agent *a = ctx;
	int64_t mono = clock_ms(CLOCK_MONOTONIC);
	int64_t wall = clock_ms(CLOCK_REALTIME);
	int64_t second = mono / 1000;
	int64_t wall_second_ms = wall / 1000 * 1000;
	double load = 0;
	bool have_load;

	(void)loop;
	a->ticks++;
	if (expirations > 1)
		a->tick_overruns += expirations - 1;
	have_load = procstat_system_load(a->procstat, &load) == 0;
	if (have_load)
		engine_record_system_load(a->engine, second, load);
	for (size_t i = a->n_watched; i-- > 0;) {
		struct watched *w = &a->watched[i];
		struct procstat_sample s;

		if (!w->pid) {
			if (mono - w->gone_mono_ms > AGENT_GONE_FORGET_MS)
				unwatch_at(a, i);
			continue;
		}
		if (procstat_sample(a->procstat, &w->stat, &s) < 0)
			continue;
		log_debug("agent: %s pid %u: cpu %.1f %% threads %u", w->id, w->pid,
			  s.has_cpu ? s.cpu_percent : -1.0, s.threads);
		if (s.has_cpu)
			record_metric(a, w, POLICY_MONITOR_PROCESS_CPU, second, wall_second_ms,
				      s.cpu_percent);
		record_metric(a, w, POLICY_MONITOR_PROCESS_THREAD_COUNT, second, wall_second_ms,
			      (double)s.threads);
		if (have_load)
			record_metric(a, w, POLICY_MONITOR_SYSTEM_LOAD, second, wall_second_ms,
				      load);
	}
	if (a->httpmon) {
		httpmon_consume(a->httpmon);
		httpagg_tick(a->httpagg, second, on_http_value, a);
	}
	engine_tick(a->engine, second, mono, on_decision, a);
	taskmgr_tick(a->tasks, wall, mono);
	if (a->processes_changed)
		publish_processes(a);
}

static void on_rescan(struct evloop *loop, uint64_t expirations, void *ctx)
{
	struct agent *a = ctx;

	(void)loop;
	(void)expirations;
	if (discover_scan(a->discover) < 0)
		log_warn("agent: cannot scan /proc");
}

static void on_procevent(const struct procevent_record *r, void *ctx)
{
	struct agent *a = ctx;

	discover_handle_event(a->discover, r);
}

static void on_procevents_ready(struct evloop *loop, int fd, uint32_t events, void *ctx)
{
	struct agent *a = ctx;

	(void)loop;
	(void)fd;
	(void)events;
	procevents_consume(a->procevents);
}

static void on_httpmon_ready(struct evloop *loop, int fd, uint32_t events, void *ctx)
{
	struct agent *a = ctx;

	(void)loop;
	(void)fd;
	(void)events;
	httpmon_consume(a->httpmon);
}

static void on_uplink_ready(struct evloop *loop, int fd, uint32_t events, void *ctx)
{
	struct agent *a = ctx;
	struct uplink_handlers h = {.policy = on_policy, .manual_task = on_manual_task, .ctx = a};

	(void)loop;
	(void)fd;
	(void)events;
	uplink_drain(a->uplink, &h);
	if (a->processes_changed)
		publish_processes(a);
}

static void on_signal(struct evloop *loop, int signo, void *ctx)
{
	(void)ctx;
	log_info("agent: %s received, stopping", strsignal(signo));
	evloop_stop(loop);
}

int agent_open(const struct agent_options *opts, struct agent **ret)
{
	const struct config *cfg = opts->config;
	struct discover_options dopts = {.hostname = opts->host_override};
	struct task_events events = {
	    .started = on_task_started, .ended = on_task_ended, .sink = {.slice = on_slice}};
	struct uplink_options uopts;
	char spool_dir[PATH_MAX];
	struct agent *a = calloc(1, sizeof(*a));
	int err;

	if (!a)
		return -ENOMEM;
	/* Threads created from here on (uplink, libbpf, libcurl) inherit the
	 * mask, so SIGTERM/SIGINT reach only the loop's signalfd. */
	sigemptyset(&a->stop_signals);
	sigaddset(&a->stop_signals, SIGINT);
	sigaddset(&a->stop_signals, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &a->stop_signals, NULL);
	signal(SIGPIPE, SIG_IGN);
	a->opts = *opts;
	events.ctx = a;
	events.sink.ctx = a;
	a->versions = json_object();
	if (asprintf(&a->policy_dir, "%s/policies", opts->state_dir) < 0)
		a->policy_dir = NULL;
	if (!a->versions || !a->policy_dir) {
		err = -ENOMEM;
		goto fail;
	}
	err = fs_mkdir_p(a->policy_dir, 0700);
	if (err) {
		log_error("agent: cannot create %s: %s", a->policy_dir, strerror(-err));
		goto fail;
	}
	a->loop = evloop_new();
	a->engine = engine_new(cfg->profiling.duration_s, cfg->profiling.silence_s);
	a->tasks = taskmgr_new(&events, cfg->profiling.flush_interval_s);
	profiler_configure(&(struct profiler_config){.oncpu_hz = cfg->profiling.oncpu_hz});
	if (!a->loop || !a->engine || !a->tasks) {
		err = -ENOMEM;
		goto fail;
	}
	err = procstat_open(NULL, &a->procstat);
	if (err) {
		log_error("agent: cannot read /proc and /sys: %s", strerror(-err));
		goto fail;
	}
	err = discover_new(cfg, &dopts, on_discover, a, &a->discover);
	if (err) {
		log_error("agent: cannot start discovery: %s", strerror(-err));
		goto fail;
	}
	err = bpfutil_setup();
	if (!err)
		err = procevents_open(on_procevent, a, &a->procevents);
	if (err)
		log_warn("agent: exec/exit events unavailable (%s); new processes are found by "
			 "rescans every %d s",
			 strerror(-err), DISCOVER_RESCAN_INTERVAL_MS / 1000);
	a->httpagg = httpagg_new();
	if (!a->httpagg) {
		err = -ENOMEM;
		goto fail;
	}
	err = httpmon_open(on_http_request, a, HTTPMON_AGENT_WAKEUP_EVERY, &a->httpmon);
	if (err)
		log_warn("agent: HTTP monitors unavailable: %s", strerror(-err));
	uplink_options_default(&uopts);
	snprintf(spool_dir, sizeof(spool_dir), "%s/spool", opts->state_dir);
	uopts.server_url = opts->server_url ? opts->server_url : cfg->server;
	uopts.token = opts->token;
	uopts.host = discover_hostname(a->discover);
	uopts.agent_id = discover_hostname(a->discover);
	uopts.spool_dir = spool_dir;
	err = uplink_open(&uopts, &a->uplink);
	if (err) {
		log_error("agent: cannot open the uplink (spool %s): %s", spool_dir,
			  strerror(-err));
		goto fail;
	}
	load_persisted_policies(a);
	if (discover_scan(a->discover) < 0)
		log_warn("agent: cannot scan /proc");
	publish_processes(a);
	*ret = a;
	return 0;
fail:
	agent_close(a);
	return err;
}

int agent_run(struct agent *a)
{
	int err;

	err = evloop_add_signals(a->loop, &a->stop_signals, on_signal, a);
	if (!err)
		err = evloop_add_timer(a->loop, 0, AGENT_TICK_MS, on_tick, a, NULL);
	if (!err)
		err = evloop_add_timer(a->loop, 0, DISCOVER_RESCAN_INTERVAL_MS, on_rescan, a, NULL);
	if (!err)
		err = evloop_add_fd(a->loop, uplink_fd(a->uplink), EPOLLIN, on_uplink_ready, a);
	if (!err && a->procevents)
		err = evloop_add_fd(a->loop, procevents_fd(a->procevents), EPOLLIN,
				    on_procevents_ready, a);
	if (!err && a->httpmon)
		err = evloop_add_fd(a->loop, httpmon_fd(a->httpmon), EPOLLIN, on_httpmon_ready, a);
	if (err) {
		log_error("agent: cannot set up the event loop: %s", strerror(-err));
		return err;
	}
	log_info("agent: running on %s, %zu processes discovered, server %s",
		 discover_hostname(a->discover), discover_count(a->discover),
		 a->opts.server_url ? a->opts.server_url : a->opts.config->server);
	return evloop_run(a->loop);
}

struct evloop *agent_loop(struct agent *a)
{
	return a->loop;
}

void agent_stop(struct agent *a)
{
	evloop_stop(a->loop);
}

struct agent *agent_close(struct agent *a)
{
	if (!a)
		return NULL;
	/* Ends running tasks (reported through the uplink) before it closes. */
	a->tasks = taskmgr_free(a->tasks, clock_ms(CLOCK_REALTIME));
	a->uplink = uplink_close(a->uplink, AGENT_STOP_FLUSH_MS);
	a->procevents = procevents_close(a->procevents);
	a->httpmon = httpmon_close(a->httpmon);
	a->httpagg = httpagg_free(a->httpagg);
	for (size_t i = 0; i < a->n_watched; i++)
		procstat_proc_release(&a->watched[i].stat);
	free(a->watched);
	a->discover = discover_free(a->discover);
	a->procstat = procstat_close(a->procstat);
	a->engine = engine_free(a->engine);
	a->loop = evloop_free(a->loop);
	for (size_t i = 0; i < AGENT_MANUAL_IDS_REMEMBERED; i++)
		free(a->manual_ids[i]);
	json_decref(a->versions);
	free(a->policy_dir);
	free(a);
	return NULL;
}
