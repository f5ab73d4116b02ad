/* agent: see agent.h. The loop's state: one `watched` entry per process of a
 * service with a policy (its procstat handle), the engine, the task manager
 * and the uplink. Everything runs on the loop thread; the uplink's threads
 * only talk to it through uplink.h. */
#include "agent/agent_impl.h"

#include <errno.h>
#include <dirent.h>
#include <inttypes.h>
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
#include "agent/netprof.h"
#include "agent/preflight.h"
#include "agent/health.h"
#include "agent/procevents.h"
#include "agent/procstat.h"
#include "agent/tasks.h"
#include "agent/uplink.h"
#include "core/policy.h"
#include "util/evloop.h"
#include "util/fsutil.h"
#include "util/log.h"

static int64_t clock_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* When a process started, in ms of CLOCK_BOOTTIME (the clock of
 * /proc/PID/stat's start time). */
static int64_t process_start_boot_ms(const struct discover_proc *p)
{
	static long ticks_per_s;

	if (!ticks_per_s)
		ticks_per_s = sysconf(_SC_CLK_TCK) > 0 ? sysconf(_SC_CLK_TCK) : 100;
	return (int64_t)(p->start_time_ticks * 1000 / (uint64_t)ticks_per_s);
}

/* ---- watched processes ---- */

struct watched *agent_find_watched(struct agent *a, const char *id)
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

/* Records, and a background load finished; a failed one is logged once. */
static void consume_httpmon(struct agent *a)
{
	int err;

	httpmon_consume(a->httpmon);
	err = httpmon_take_error(a->httpmon);
	if (err)
		log_warn("agent: cannot load or attach the HTTP monitor (eBPF) for %zu HTTP and "
			 "%zu NETWORK pid(s): %s; the next watch retries",
			 httpmon_watched_count(a->httpmon), httpmon_net_watched_count(a->httpmon),
			 strerror(-err));
}

static void on_http_request(const struct httpmon_request *req, void *ctx)
{
	struct agent *a = ctx;

	httpagg_add(a->httpagg, req);
	netprof_on_request(req);
}

/* Copies `src`, cut to `size` - 1 bytes. */
static void copy_name(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);

	if (n > size - 1)
		n = size - 1;

	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* Names a process of the agent's view for the NETWORK profiler. */
static int describe_pid(void *ctx, uint32_t pid, struct netagg_node *ret)
{
	struct agent *a = ctx;

	for (size_t i = 0; i < discover_count(a->discover); i++) {
		const struct discover_proc *p = discover_at(a->discover, i);

		if (p->pid != pid)
			continue;
		copy_name(ret->id, sizeof(ret->id), p->id);
		copy_name(ret->service, sizeof(ret->service), p->service);
		copy_name(ret->instance, sizeof(ret->instance), p->instance);
		copy_name(ret->process, sizeof(ret->process), p->name);
		return 0;
	}
	return -ENOENT;
}

/* One completed second of an HTTP item. Its requests completed in
 * [second, second + 1): the slot of the window is second + 1, the same slot
 * as the CPU used in that interval. */
static void on_http_value(const struct httpagg_value *v, void *ctx)
{
	struct agent *a = ctx;
	int64_t offset_ms = agent_clock_ms(CLOCK_REALTIME) - agent_clock_ms(CLOCK_MONOTONIC);

	engine_record_http(a->engine, v->process_id, v->target, v->monitor, v->second + 1,
			   v->value);
	uplink_metric(a->uplink, v->process_id, policy_monitor_name(v->monitor), v->label,
		      (v->second * 1000 + offset_ms) / 1000 * 1000, v->value);
}

static void watch(struct agent *a, const struct discover_proc *p)
{
	struct watched *w = agent_find_watched(a, p->id);

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
	struct watched *w = agent_find_watched(a, id);

	if (!w)
		return;
	http_forget(a, w);
	procstat_proc_release(&w->stat);
	procstat_proc_init(&w->stat, 0);
	w->pid = 0;
	w->gone_mono_ms = agent_clock_ms(CLOCK_MONOTONIC);
}

void agent_rewatch_all(struct agent *a)
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
		if (agent_find_watched(a, p->id))
			mark_gone(a, p->id);
		else /* known to the engine only through a manual task, if at all */
			engine_remove_process(a->engine, p->id);
		taskmgr_pid_exited(a->tasks, (pid_t)p->pid, agent_clock_ms(CLOCK_MONOTONIC));
		return;
	}
	if (engine_watches_service(a->engine, p->service))
		watch(a, p);
}

/* ---- what the server learns ---- */

json_t *agent_process_json(const struct discover_proc *p)
{
	json_t *labels = json_object();

	for (size_t i = 0; i < p->n_labels; i++)
		json_object_set_new(labels, p->labels[i].key, json_string(p->labels[i].value));
	return json_pack("{s:s, s:s, s:s, s:s, s:I, s:o}", "id", p->id, "service", p->service,
			 "instance", p->instance, "name", p->name, "pid", (json_int_t)p->pid,
			 "labels", labels);
}

/* Sends the process list and the services to sync when they changed. A
 * process of a service without a policy is reported once it has lived
 * AGENT_REPORT_MIN_AGE_MS, so short-lived commands (the `up` config matches
 * every process of the host) neither reach the server nor restart the
 * policy long poll; a watched process is reported at once, since its
 * metrics and tasks name it. */
static void publish_processes(struct agent *a)
{
	json_t *list = json_array();
	json_t *services = json_object();
	int64_t now_boot = agent_clock_ms(CLOCK_BOOTTIME);

	a->next_publish_boot_ms = 0;
	if (!list || !services)
		goto out;
	for (size_t i = 0; i < discover_count(a->discover); i++) {
		const struct discover_proc *p = discover_at(a->discover, i);
		int64_t mature_ms = process_start_boot_ms(p) + AGENT_REPORT_MIN_AGE_MS;
		json_t *held, *pj;

		if (now_boot < mature_ms && !engine_watches_service(a->engine, p->service)) {
			if (!a->next_publish_boot_ms || mature_ms < a->next_publish_boot_ms)
				a->next_publish_boot_ms = mature_ms;
			continue;
		}
		held = json_object_get(a->versions, p->service);
		pj = agent_process_json(p);

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

/* ---- the loop ---- */

static void record_metric(struct agent *a, const struct watched *w, enum policy_monitor monitor,
			  int64_t second, int64_t wall_ms, double value)
{
	if (monitor != POLICY_MONITOR_SYSTEM_LOAD)
		engine_record(a->engine, w->id, monitor, second, value);
	uplink_metric(a->uplink, w->id, policy_monitor_name(monitor), NULL, wall_ms, value);
}

/* Keeps the agent's CPU time of the last ticks, for its CPU % figure. */
static void sample_own_cpu(struct agent *a, int64_t mono_ms)
{
	double cpu_s;

	if (health_self_cpu(&cpu_s) < 0)
		return;
	a->cpu_ring_s[a->cpu_ring_next] = cpu_s;
	a->cpu_ring_ms[a->cpu_ring_next] = mono_ms;
	a->cpu_ring_next = (a->cpu_ring_next + 1) % (HEALTH_CPU_WINDOW_TICKS + 1);
	if (a->cpu_ring_len < HEALTH_CPU_WINDOW_TICKS + 1)
		a->cpu_ring_len++;
}

static void on_tick(struct evloop *loop, uint64_t expirations, void *ctx)
{
	struct agent *a = ctx;
	int64_t started_ns = clock_ns(CLOCK_MONOTONIC);
	int64_t mono = started_ns / 1000000;
	int64_t wall = agent_clock_ms(CLOCK_REALTIME);
	int64_t second, wall_second_ms = wall / 1000 * 1000;
	double load = 0;
	bool have_load;

	(void)loop;
	/* One window slot per tick: count seconds by the timer's expirations,
	 * so jitter around a second's boundary never skips or repeats a slot. */
	a->tick_second = a->ticks ? a->tick_second + (int64_t)expirations : mono / 1000;
	second = a->tick_second;
	a->tick_wall_ms = wall;
	a->ticks++;
	if (expirations > 1) {
		/* The loop ran late: the missed seconds have no slot (they never
		 * match), the CPU of this sample covers them all. */
		a->tick_overruns += expirations - 1;
		log_warn("agent: watch tick %" PRIu64 " s late", expirations - 1);
	}
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
		consume_httpmon(a);
		httpagg_tick(a->httpagg, second, on_http_value, a);
	}
	engine_tick(a->engine, second, mono, agent_on_decision, a);
	taskmgr_tick(a->tasks, mono);
	if (a->n_pending_ends)
		agent_retry_pending_ends(a);
	if (a->procevents)
		agent_check_procevents_dropped(a);
	if (a->processes_changed ||
	    (a->next_publish_boot_ms && agent_clock_ms(CLOCK_BOOTTIME) >= a->next_publish_boot_ms))
		publish_processes(a);
	if (a->health)
		sample_own_cpu(a, mono);
	a->tick_last_ns = clock_ns(CLOCK_MONOTONIC) - started_ns;
	if (a->tick_last_ns > a->tick_max_ns)
		a->tick_max_ns = a->tick_last_ns;
}

static void on_httpmon_ready(struct evloop *loop, int fd, uint32_t events, void *ctx)
{
	struct agent *a = ctx;

	(void)loop;
	(void)fd;
	(void)events;
	consume_httpmon(a);
}

static void on_uplink_ready(struct evloop *loop, int fd, uint32_t events, void *ctx)
{
	struct agent *a = ctx;
	struct uplink_handlers h = {
	    .policy = agent_on_policy, .manual_task = agent_on_manual_task, .ctx = a};

	(void)loop;
	(void)fd;
	(void)events;
	uplink_drain(a->uplink, &h);
	if (a->processes_changed)
		publish_processes(a);
}

static void fill_health(void *ctx, struct health_figures *f)
{
	struct agent *a = ctx;
	struct httpmon_stats hs;
	uint64_t rss = 0;
	double cpu_s = 0;

	f->discovered_processes = discover_count(a->discover);
	for (size_t i = 0; i < a->n_watched; i++)
		if (a->watched[i].pid)
			f->watched_processes++;
	f->policies = json_object_size(a->versions);
	f->ticks = a->ticks;
	f->tick_overruns = a->tick_overruns;
	f->tick_last_s = (double)a->tick_last_ns / 1e9;
	f->tick_max_s = (double)a->tick_max_ns / 1e9;
	f->tasks_running = taskmgr_running(a->tasks);
	f->tasks_started = a->tasks_started;
	f->tasks_failed = a->tasks_failed;
	uplink_get_stats(a->uplink, &f->uplink);
	f->procevents_active = a->procevents != NULL;
	f->procevents_dropped = a->procevents ? procevents_dropped(a->procevents) : 0;
	f->rescans_forced = a->rescans_forced;
	if (a->httpmon && httpmon_stats(a->httpmon, &hs) == 0) {
		f->httpmon_loading = hs.loading;
		f->httpmon_loaded = hs.loaded;
		f->httpmon_load_s = (double)hs.load_ns / 1e9;
	}
	f->discover_dropped = discover_dropped(a->discover);
	if (health_self_usage(&cpu_s, &rss) == 0) {
		f->cpu_seconds = cpu_s;
		f->rss_bytes = rss;
	}
	if (a->cpu_ring_len >= 2) {
		size_t n = HEALTH_CPU_WINDOW_TICKS + 1;
		size_t newest = (a->cpu_ring_next + n - 1) % n;
		size_t oldest = a->cpu_ring_len < n ? 0 : a->cpu_ring_next;
		int64_t span_ms = a->cpu_ring_ms[newest] - a->cpu_ring_ms[oldest];

		if (span_ms > 0)
			f->cpu_percent = (a->cpu_ring_s[newest] - a->cpu_ring_s[oldest]) * 1000.0 *
					 100.0 / (double)span_ms;
	}
}

static void on_signal(struct evloop *loop, int signo, void *ctx)
{
	(void)ctx;
	log_info("agent: %s received, stopping", strsignal(signo));
	evloop_stop(loop);
}

/* What the host lacks, once at start: one warning per missing privilege or
 * kernel feature, with its consequence and fix (see agent/preflight.h). */
static void agent_log_preflight(void)
{
	struct preflight_report rep;

	if (preflight_run("/", 1, &rep) != 0)
		return;
	for (size_t i = 0; i < rep.n; i++)
		if (rep.items[i].level != PREFLIGHT_OK)
			log_warn("agent: %s %s: %s", rep.items[i].name,
				 preflight_level_name(rep.items[i].level), rep.items[i].detail);
	if (rep.n_fail)
		log_warn("agent: %zu kernel features or privileges missing: tasks that need them "
			 "fail with the reason; `contprof agent --check` lists every check "
			 "(docs/troubleshooting.md)",
			 rep.n_fail);
}

int agent_open(const struct agent_options *opts, struct agent **ret)
{
	const struct config *cfg = opts->config;
	struct discover_options dopts = {.hostname = opts->host_override};
	struct task_events events = {
	    .started = agent_on_task_started,
	    .ended = agent_on_task_ended,
	    .sink = {.slice = agent_on_slice, .topology = agent_on_topology}};
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
	profiler_configure(&(struct profiler_config){
	    .oncpu_hz = cfg->profiling.oncpu_hz,
	    .offcpu_min_block_ns = (uint64_t)cfg->profiling.offcpu_min_block_us * 1000,
	    .frame_pointers_only = cfg->profiling.frame_pointers_only,
	    .stack_map_entries = cfg->profiling.stack_map_entries});
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
	agent_log_preflight();
	err = bpfutil_setup();
	if (!err)
		err = procevents_open(agent_on_procevent, a, &a->procevents);
	if (!err)
		discover_trust_events(a->discover, true);
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
	netprof_init(a->httpmon, describe_pid, a);
	uplink_options_default(&uopts);
	if (cfg->spool_dir[0])
		snprintf(spool_dir, sizeof(spool_dir), "%s", cfg->spool_dir);
	else
		snprintf(spool_dir, sizeof(spool_dir), "%s/spool", opts->state_dir);
	uopts.server_url = opts->server_url ? opts->server_url : cfg->server;
	uopts.token = opts->token;
	uopts.tls = opts->tls;
	uopts.host = discover_hostname(a->discover);
	uopts.agent_id = discover_hostname(a->discover);
	uopts.spool_dir = spool_dir;
	uopts.spool_max_bytes = (uint64_t)cfg->uplink.spool_max_mb * 1024 * 1024;
	uopts.metrics_max_points = cfg->uplink.metrics_max_points;
	uopts.backoff_max_ms = cfg->uplink.retry_max_s * 1000;
	err = uplink_open(&uopts, &a->uplink);
	if (err) {
		log_error("agent: cannot open the uplink (spool %s): %s", spool_dir,
			  strerror(-err));
		goto fail;
	}
	if (cfg->listen && cfg->listen[0]) {
		err = health_serve(cfg->listen, a->loop, fill_health, a, &a->health);
		if (err) {
			log_error("agent: cannot serve /metrics on %s: %s", cfg->listen,
				  err == -EINVAL ? "not a HOST:PORT address" : strerror(-err));
			goto fail;
		}
		log_info("agent: metrics on %s (port %u) at /metrics", cfg->listen,
			 health_port(a->health));
	}
	{
		char journal_dir[PATH_MAX];

		snprintf(journal_dir, sizeof(journal_dir), "%s/tasks", opts->state_dir);
		err = taskjournal_open(journal_dir, &a->journal);
		if (err)
			log_warn("agent: cannot keep running tasks in %s (%s): a task cut short by "
				 "a crash will not be reported failed at the next start",
				 journal_dir, strerror(-err));
		else
			agent_fail_abandoned_tasks(a);
	}
	agent_load_persisted_policies(a);
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
	/* Ticks at the middle of wall-clock seconds: a metric's second (wall
	 * time rounded down) stays the same under half a second of jitter. */
	if (!err)
		err = evloop_add_timer(
		    a->loop,
		    (uint64_t)(AGENT_TICK_MS -
			       (agent_clock_ms(CLOCK_REALTIME) + 500) % AGENT_TICK_MS),
		    AGENT_TICK_MS, on_tick, a, NULL);
	if (!err)
		err = evloop_add_timer(a->loop, 0, DISCOVER_RESCAN_INTERVAL_MS, agent_on_rescan, a,
				       NULL);
	if (!err)
		err = evloop_add_fd(a->loop, uplink_fd(a->uplink), EPOLLIN, on_uplink_ready, a);
	if (!err && a->procevents)
		err = evloop_add_fd(a->loop, procevents_fd(a->procevents), EPOLLIN,
				    agent_on_procevents_ready, a);
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
	/* Stop order: end running tasks (their profilers detach their BPF
	 * programs and perf events; the ends go to the spool), detach the
	 * exec/exit programs, then the final flush, bounded by
	 * AGENT_STOP_FLUSH_MS: a server that is away delays the exit by at
	 * most that, and what is unsent waits in the spool. */
	a->health = health_stop(a->health);
	a->tasks = taskmgr_free(a->tasks, agent_clock_ms(CLOCK_MONOTONIC));
	if (a->uplink && a->n_pending_ends)
		agent_retry_pending_ends(a);
	a->procevents = procevents_close(a->procevents);
	netprof_init(NULL, NULL, NULL);
	a->httpmon = httpmon_close(a->httpmon);
	a->httpagg = httpagg_free(a->httpagg);
	a->uplink = uplink_close(a->uplink, AGENT_STOP_FLUSH_MS);
	a->journal = taskjournal_close(a->journal);
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
