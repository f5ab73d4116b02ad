/* engine: the agent's trigger engine — which process (or instance) must be
 * profiled now, and why.
 *
 * Owns: the policies in force (one per service), the watched processes, one
 * window per (process, series) sized to the largest period that reads it, one
 * host-wide SYSTEM_LOAD window, and one trigger state per (process or
 * instance, target). Each tick evaluates every item of every target of every
 * watched process (DESIGN.md section 2) and emits a decision per pair that
 * holds and may start, with its cause. Does not own: reading /proc, starting
 * profilers, clocks (time is handed in), I/O.
 *
 * Series: PROCESS_CPU and PROCESS_THREAD_COUNT are one series per process
 * shared by every target that reads them; HTTP items are one series per
 * (process, target) because each item has its own URI filter.
 * Seconds and milliseconds passed in come from one monotonic clock.
 * Not thread-safe: the agent loop owns it.
 */
#ifndef CONTPROF_AGENT_ENGINE_H
#define CONTPROF_AGENT_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/policy.h"

#define ENGINE_ID_MAX	   128
#define ENGINE_MESSAGE_MAX 256

struct engine;

struct engine_cause {
	enum policy_monitor monitor;
	double threshold;
	uint32_t period_s;
	uint32_t count;
	uint32_t matched;
	double current;
	double peak;
	char uri[POLICY_URI_MAX_LEN + 1]; /* the item's filter, "" if none */
	char message[ENGINE_MESSAGE_MAX];
	/* Wall clock (ms) of the tick at which the item held: the end of the
	 * slot that completed the condition. Set by the agent (the engine
	 * counts slots, not wall time); 0 when unknown (manual tasks). */
	int64_t held_wall_ms;
};

/* A task to start now. For ON_CPU/OFF_CPU `process_id` names the process;
 * for NETWORK it is the process whose item held and `instance` is the scope
 * (every process of service/instance on this host). */
struct engine_decision {
	enum policy_target target;
	char service[POLICY_SERVICE_MAX_LEN + 1];
	char instance[ENGINE_ID_MAX];
	char process_id[ENGINE_ID_MAX];
	uint32_t duration_s;
	uint32_t silence_s;
	struct engine_cause cause;
};

typedef void (*engine_decision_fn)(const struct engine_decision *decision, void *ctx);

/* Defaults used when a policy target sets no duration/silence. NULL on ENOMEM. */
struct engine *engine_new(uint32_t default_duration_s, uint32_t default_silence_s);
struct engine *engine_free(struct engine *engine);

/* Installs (takes ownership of) the policy of policy->service, replacing any
 * previous one; windows are resized, recorded values kept. Trigger states of
 * targets still present are kept (a running task keeps running). 0 or -errno. */
int engine_set_policy(struct engine *engine, struct policy *policy);
/* Removes a service's policy; its processes stop being evaluated. */
void engine_remove_policy(struct engine *engine, const char *service);
const struct policy *engine_policy(const struct engine *engine, const char *service);
bool engine_watches_service(const struct engine *engine, const char *service);

/* Adds or updates a watched process (id stable across restarts). 0 or -errno. */
int engine_add_process(struct engine *engine, const char *process_id, const char *service,
		       const char *instance);
/* Forgets a process with its windows and trigger states. The agent keeps a
 * process that exited until its silence has passed, so that a restart (same
 * id) cannot trigger again inside the silence. */
void engine_remove_process(struct engine *engine, const char *process_id);
size_t engine_process_count(const struct engine *engine);

/* Records one second of a process metric (PROCESS_CPU, PROCESS_THREAD_COUNT).
 * -ENOENT for an unknown process, -EINVAL for a monitor that is not per
 * process, -ESTALE for a second older than the window holds. */
int engine_record(struct engine *engine, const char *process_id, enum policy_monitor monitor,
		  int64_t second, double value);
/* Records one second of an HTTP item's value for (process, target). */
int engine_record_http(struct engine *engine, const char *process_id, enum policy_target target,
		       enum policy_monitor monitor, int64_t second, double value);
/* Records the host's 1-minute load for `second`. */
int engine_record_system_load(struct engine *engine, int64_t second, double value);

/* Evaluates everything at (`second`, `now_ms`) and calls `fn` for each task to
 * start, recording it as started. Returns the number of decisions. */
int engine_tick(struct engine *engine, int64_t second, int64_t now_ms, engine_decision_fn fn,
		void *ctx);

/* Starts a manual task for a process if its pair is idle: fills *ret with the
 * decision (cause message "manual"). -EBUSY while running or silenced, -ENOENT
 * for an unknown process. */
int engine_start_manual(struct engine *engine, const char *process_id, enum policy_target target,
			uint32_t duration_s, int64_t now_ms, struct engine_decision *ret);

/* Tells the engine that the task of (process or instance, target) ended
 * early (profiler failed, target exited). `scope_id` is the decision's
 * process_id for ON_CPU/OFF_CPU and its instance for NETWORK. */
void engine_task_ended(struct engine *engine, const char *service, const char *scope_id,
		       enum policy_target target, int64_t now_ms);

#endif
