/* engine: see engine.h.
 *
 * Processes are kept in an array sorted by id (lookups by bsearch: metrics
 * arrive per process every second); services with a policy likewise. Each
 * process owns its series (at most a handful) and its per-target trigger
 * states; NETWORK states live per (service, instance). */
#include "agent/engine.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/trigger.h"
#include "core/window.h"

/* PROCESS_CPU, PROCESS_THREAD_COUNT shared, plus two HTTP monitors per target. */
#define MAX_SERIES (2 + 2 * POLICY_TARGET_COUNT)

struct series {
	enum policy_monitor monitor;
	int target; /* -1: shared by every target */
	struct window *window;
};

struct proc {
	char id[ENGINE_ID_MAX];
	char service[POLICY_SERVICE_MAX_LEN + 1];
	char instance[ENGINE_ID_MAX];
	struct series series[MAX_SERIES];
	size_t n_series;
	struct trigger_state trig[POLICY_TARGET_COUNT];
};

struct service {
	struct policy *policy; /* policy->service is the key */
};

struct instance_state {
	char service[POLICY_SERVICE_MAX_LEN + 1];
	char instance[ENGINE_ID_MAX];
	struct trigger_state trig;
};

struct engine {
	uint32_t default_duration_s, default_silence_s;
	struct proc **procs; /* sorted by id */
	size_t n_procs, cap_procs;
	struct service *services; /* sorted by service */
	size_t n_services;
	struct instance_state *instances;
	size_t n_instances;
	struct window *system_load;
};

static void copy_str(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src ? src : "");
}

struct engine *engine_new(uint32_t default_duration_s, uint32_t default_silence_s)
{
	struct engine *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	e->default_duration_s = default_duration_s;
	e->default_silence_s = default_silence_s;
	return e;
}

static void proc_free(struct proc *p)
{
	for (size_t i = 0; i < p->n_series; i++)
		window_free(p->series[i].window);
	free(p);
}

struct engine *engine_free(struct engine *e)
{
	if (!e)
		return NULL;
	for (size_t i = 0; i < e->n_procs; i++)
		proc_free(e->procs[i]);
	free(e->procs);
	for (size_t i = 0; i < e->n_services; i++)
		policy_free(e->services[i].policy);
	free(e->services);
	free(e->instances);
	window_free(e->system_load);
	free(e);
	return NULL;
}

/* Index of the service, or -(insertion point + 1). */
static long find_service(const struct engine *e, const char *name)
{
	size_t lo = 0, hi = e->n_services;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(e->services[mid].policy->service, name);

		if (c == 0)
			return (long)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -(long)lo - 1;
}

static long find_proc(const struct engine *e, const char *id)
{
	size_t lo = 0, hi = e->n_procs;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(e->procs[mid]->id, id);

		if (c == 0)
			return (long)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -(long)lo - 1;
}

const struct policy *engine_policy(const struct engine *e, const char *service)
{
	long i = find_service(e, service);

	return i >= 0 ? e->services[i].policy : NULL;
}

bool engine_watches_service(const struct engine *e, const char *service)
{
	const struct policy *p = engine_policy(e, service);

	return p && p->n_targets > 0;
}

/* The series key of an item: shared for per-process monitors, per target
 * for HTTP monitors (each has its own URI filter). */
static int series_target(enum policy_monitor monitor, enum policy_target target)
{
	return policy_monitor_is_http(monitor) ? (int)target : -1;
}

static struct series *find_series(struct proc *p, enum policy_monitor monitor, int target)
{
	for (size_t i = 0; i < p->n_series; i++)
		if (p->series[i].monitor == monitor && p->series[i].target == target)
			return &p->series[i];
	return NULL;
}

/* Ensures a series exists with at least `capacity_s` slots. */
static int ensure_series(struct proc *p, enum policy_monitor monitor, int target,
			 uint32_t capacity_s)
{
	struct series *s = find_series(p, monitor, target);

	if (s)
		return window_reserve(s->window, capacity_s);
	if (p->n_series == MAX_SERIES)
		return -E2BIG;
	s = &p->series[p->n_series];
	s->window = window_new(capacity_s);
	if (!s->window)
		return -ENOMEM;
	s->monitor = monitor;
	s->target = target;
	p->n_series++;
	return 0;
}

/* Sizes the windows a process needs for its service's policy. */
static int prepare_proc(struct engine *e, struct proc *p)
{
	const struct policy *pol = engine_policy(e, p->service);
	int err = 0;

	if (!pol)
		return 0;
	for (size_t t = 0; t < pol->n_targets && !err; t++) {
		const struct policy_target_spec *spec = &pol->targets[t];

		for (size_t i = 0; i < spec->n_items && !err; i++) {
			const struct policy_item *item = &spec->items[i];

			if (item->monitor == POLICY_MONITOR_SYSTEM_LOAD)
				continue;
			err = ensure_series(p, item->monitor,
					    series_target(item->monitor, spec->target),
					    item->period_s);
		}
	}
	return err;
}

static int prepare_system_load(struct engine *e)
{
	uint32_t capacity = 0;

	for (size_t s = 0; s < e->n_services; s++) {
		const struct policy *pol = e->services[s].policy;

		for (size_t t = 0; t < pol->n_targets; t++)
			for (size_t i = 0; i < pol->targets[t].n_items; i++) {
				const struct policy_item *item = &pol->targets[t].items[i];

				if (item->monitor == POLICY_MONITOR_SYSTEM_LOAD &&
				    item->period_s > capacity)
					capacity = item->period_s;
			}
	}
	if (!capacity)
		return 0;
	if (e->system_load)
		return window_reserve(e->system_load, capacity);
	e->system_load = window_new(capacity);
	return e->system_load ? 0 : -ENOMEM;
}

int engine_set_policy(struct engine *e, struct policy *policy)
{
	long i = find_service(e, policy->service);
	int err = 0;

	if (i >= 0) {
		policy_free(e->services[i].policy);
		e->services[i].policy = policy;
	} else {
		size_t at = (size_t)(-i - 1);
		struct service *grown =
		    realloc(e->services, (e->n_services + 1) * sizeof(*e->services));

		if (!grown) {
			policy_free(policy);
			return -ENOMEM;
		}
		e->services = grown;
		memmove(&e->services[at + 1], &e->services[at],
			(e->n_services - at) * sizeof(*e->services));
		e->services[at].policy = policy;
		e->n_services++;
	}
	for (size_t p = 0; p < e->n_procs && !err; p++)
		if (strcmp(e->procs[p]->service, policy->service) == 0)
			err = prepare_proc(e, e->procs[p]);
	if (!err)
		err = prepare_system_load(e);
	return err;
}

void engine_remove_policy(struct engine *e, const char *service)
{
	long i = find_service(e, service);

	if (i < 0)
		return;
	policy_free(e->services[i].policy);
	memmove(&e->services[i], &e->services[i + 1],
		(e->n_services - (size_t)i - 1) * sizeof(*e->services));
	e->n_services--;
}

int engine_add_process(struct engine *e, const char *process_id, const char *service,
		       const char *instance)
{
	long i = find_proc(e, process_id);
	struct proc *p;

	if (strlen(process_id) >= ENGINE_ID_MAX || strlen(instance) >= ENGINE_ID_MAX ||
	    strlen(service) > POLICY_SERVICE_MAX_LEN)
		return -ENAMETOOLONG;
	if (i >= 0) {
		p = e->procs[i];
	} else {
		size_t at = (size_t)(-i - 1);

		if (e->n_procs == e->cap_procs) {
			size_t cap = e->cap_procs ? e->cap_procs * 2 : 16;
			struct proc **grown = realloc(e->procs, cap * sizeof(*grown));

			if (!grown)
				return -ENOMEM;
			e->procs = grown;
			e->cap_procs = cap;
		}
		p = calloc(1, sizeof(*p));
		if (!p)
			return -ENOMEM;
		copy_str(p->id, sizeof(p->id), process_id);
		for (int t = 0; t < POLICY_TARGET_COUNT; t++)
			trigger_init(&p->trig[t]);
		memmove(&e->procs[at + 1], &e->procs[at], (e->n_procs - at) * sizeof(*e->procs));
		e->procs[at] = p;
		e->n_procs++;
	}
	copy_str(p->service, sizeof(p->service), service);
	copy_str(p->instance, sizeof(p->instance), instance);
	return prepare_proc(e, p);
}

void engine_remove_process(struct engine *e, const char *process_id)
{
	long i = find_proc(e, process_id);

	if (i < 0)
		return;
	proc_free(e->procs[i]);
	memmove(&e->procs[i], &e->procs[i + 1], (e->n_procs - (size_t)i - 1) * sizeof(*e->procs));
	e->n_procs--;
}

size_t engine_process_count(const struct engine *e)
{
	return e->n_procs;
}

static int record_series(struct engine *e, const char *process_id, enum policy_monitor monitor,
			 int target, int64_t second, double value)
{
	long i = find_proc(e, process_id);
	struct series *s;

	if (i < 0)
		return -ENOENT;
	s = find_series(e->procs[i], monitor, target);
	if (!s)
		return 0; /* no item reads this series: nothing to keep */
	return window_record(s->window, second, value);
}

int engine_record(struct engine *e, const char *process_id, enum policy_monitor monitor,
		  int64_t second, double value)
{
	if (monitor != POLICY_MONITOR_PROCESS_CPU && monitor != POLICY_MONITOR_PROCESS_THREAD_COUNT)
		return -EINVAL;
	return record_series(e, process_id, monitor, -1, second, value);
}

int engine_record_http(struct engine *e, const char *process_id, enum policy_target target,
		       enum policy_monitor monitor, int64_t second, double value)
{
	if (!policy_monitor_is_http(monitor) || (unsigned)target >= POLICY_TARGET_COUNT)
		return -EINVAL;
	return record_series(e, process_id, monitor, (int)target, second, value);
}

int engine_record_system_load(struct engine *e, int64_t second, double value)
{
	if (!e->system_load)
		return 0;
	return window_record(e->system_load, second, value);
}

static void fill_cause(struct engine_cause *c, const struct policy_item *item,
		       const struct window_result *r)
{
	const char *unit = policy_monitor_unit(item->monitor);

	memset(c, 0, sizeof(*c));
	c->monitor = item->monitor;
	c->threshold = item->threshold;
	c->period_s = item->period_s;
	c->count = item->count;
	c->matched = r->matched;
	c->current = r->current;
	c->peak = r->peak;
	if (item->uri_regex)
		copy_str(c->uri, sizeof(c->uri), item->uri_regex);
	else if (item->uri_list_len)
		copy_str(c->uri, sizeof(c->uri), item->uri_list[0]);
	snprintf(c->message, sizeof(c->message),
		 "%s >= %g %s in %u of the last %u s (needs %u); now %.4g %s, peak %.4g %s%s%.80s",
		 policy_monitor_name(item->monitor), item->threshold, unit, r->matched,
		 item->period_s, item->count, r->current, unit, r->peak, unit,
		 c->uri[0] ? ", uri " : "", c->uri);
}

/* The first item of `spec` (canonical monitor order) that holds for `p`. */
static bool target_holds(struct engine *e, struct proc *p, const struct policy_target_spec *spec,
			 int64_t second, struct engine_cause *cause)
{
	for (size_t i = 0; i < spec->n_items; i++) {
		const struct policy_item *item = &spec->items[i];
		const struct window *w;
		struct window_result r;

		if (item->monitor == POLICY_MONITOR_SYSTEM_LOAD) {
			w = e->system_load;
		} else {
			struct series *s = find_series(p, item->monitor,
						       series_target(item->monitor, spec->target));

			w = s ? s->window : NULL;
		}
		if (!w)
			continue;
		window_evaluate(w, second, item->period_s, item->count, item->threshold, &r);
		if (r.holds) {
			fill_cause(cause, item, &r);
			return true;
		}
	}
	return false;
}

static struct instance_state *instance_state(struct engine *e, const char *service,
					     const char *instance)
{
	struct instance_state *grown;

	for (size_t i = 0; i < e->n_instances; i++)
		if (strcmp(e->instances[i].service, service) == 0 &&
		    strcmp(e->instances[i].instance, instance) == 0)
			return &e->instances[i];
	grown = realloc(e->instances, (e->n_instances + 1) * sizeof(*grown));
	if (!grown)
		return NULL;
	e->instances = grown;
	struct instance_state *st = &e->instances[e->n_instances++];
	copy_str(st->service, sizeof(st->service), service);
	copy_str(st->instance, sizeof(st->instance), instance);
	trigger_init(&st->trig);
	return st;
}

/* Starts `trig` if it may start; fills the decision. */
static bool try_start(struct trigger_state *trig, int64_t now_ms, uint32_t duration_s,
		      uint32_t silence_s)
{
	trigger_update(trig, now_ms);
	if (!trigger_may_start(trig, now_ms))
		return false;
	return trigger_start(trig, now_ms, duration_s, silence_s) == 0;
}

int engine_tick(struct engine *e, int64_t second, int64_t now_ms, engine_decision_fn fn, void *ctx)
{
	int decisions = 0;

	for (size_t pi = 0; pi < e->n_procs; pi++) {
		struct proc *p = e->procs[pi];
		const struct policy *pol = engine_policy(e, p->service);

		if (!pol)
			continue;
		for (size_t t = 0; t < pol->n_targets; t++) {
			const struct policy_target_spec *spec = &pol->targets[t];
			struct engine_decision d;
			struct trigger_state *trig;

			memset(&d, 0, sizeof(d));
			if (!target_holds(e, p, spec, second, &d.cause))
				continue;
			if (spec->target == POLICY_TARGET_NETWORK) {
				struct instance_state *st =
				    instance_state(e, p->service, p->instance);

				if (!st)
					return -ENOMEM;
				trig = &st->trig;
			} else {
				trig = &p->trig[spec->target];
			}
			d.target = spec->target;
			d.duration_s = spec->duration_s ? spec->duration_s : e->default_duration_s;
			d.silence_s = spec->silence_s ? spec->silence_s : e->default_silence_s;
			if (!try_start(trig, now_ms, d.duration_s, d.silence_s))
				continue;
			copy_str(d.service, sizeof(d.service), p->service);
			copy_str(d.instance, sizeof(d.instance), p->instance);
			copy_str(d.process_id, sizeof(d.process_id), p->id);
			fn(&d, ctx);
			decisions++;
		}
	}
	return decisions;
}

int engine_start_manual(struct engine *e, const char *process_id, enum policy_target target,
			uint32_t duration_s, int64_t now_ms, struct engine_decision *ret)
{
	long i = find_proc(e, process_id);
	struct trigger_state *trig;
	struct proc *p;

	if (i < 0)
		return -ENOENT;
	if ((unsigned)target >= POLICY_TARGET_COUNT || duration_s == 0)
		return -EINVAL;
	p = e->procs[i];
	if (target == POLICY_TARGET_NETWORK) {
		struct instance_state *st = instance_state(e, p->service, p->instance);

		if (!st)
			return -ENOMEM;
		trig = &st->trig;
	} else {
		trig = &p->trig[target];
	}
	/* A manual task silences only while it runs. */
	if (!try_start(trig, now_ms, duration_s, duration_s))
		return -EBUSY;
	memset(ret, 0, sizeof(*ret));
	ret->target = target;
	ret->duration_s = duration_s;
	ret->silence_s = duration_s;
	copy_str(ret->service, sizeof(ret->service), p->service);
	copy_str(ret->instance, sizeof(ret->instance), p->instance);
	copy_str(ret->process_id, sizeof(ret->process_id), p->id);
	copy_str(ret->cause.message, sizeof(ret->cause.message), "manual");
	return 0;
}

void engine_task_ended(struct engine *e, const char *service, const char *scope_id,
		       enum policy_target target, int64_t now_ms)
{
	if (target == POLICY_TARGET_NETWORK) {
		for (size_t i = 0; i < e->n_instances; i++)
			if (strcmp(e->instances[i].service, service) == 0 &&
			    strcmp(e->instances[i].instance, scope_id) == 0)
				trigger_task_ended(&e->instances[i].trig, now_ms);
		return;
	}
	long i = find_proc(e, scope_id);

	if (i >= 0 && (unsigned)target < POLICY_TARGET_COUNT)
		trigger_task_ended(&e->procs[i]->trig[target], now_ms);
}
