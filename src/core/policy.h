/* policy: the policy model of DESIGN.md section 2 — document, targets, items —
 * with its JSON codec, validation and version hash.
 *
 * Owns: parsing a JSON document into a validated `struct policy`, listing every
 * reason a document is invalid (each naming its place, e.g.
 * "targets[1].items[0]: count 12 > period 10"), the canonical serialization
 * (sorted keys, targets sorted by target, items by monitor, compact, numbers in
 * their shortest round-trip form) and the version: hex SHA-256 of that form.
 * Does not own: evaluating items (window.h), trigger state (trigger.h), I/O.
 * The server validates with this code and the agent evaluates the result, so
 * they never disagree.
 */
#ifndef CONTPROF_CORE_POLICY_H
#define CONTPROF_CORE_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

enum policy_target {
	POLICY_TARGET_ON_CPU,
	POLICY_TARGET_OFF_CPU,
	POLICY_TARGET_NETWORK,
	POLICY_TARGET_COUNT
};

enum policy_monitor {
	POLICY_MONITOR_PROCESS_CPU,
	POLICY_MONITOR_PROCESS_THREAD_COUNT,
	POLICY_MONITOR_SYSTEM_LOAD,
	POLICY_MONITOR_HTTP_ERROR_RATE,
	POLICY_MONITOR_HTTP_AVG_RESPONSE_TIME,
	POLICY_MONITOR_COUNT
};

/* Limits and defaults: every number of the model lives here. */
#define POLICY_DOC_MAX_BYTES	    (64 * 1024)
#define POLICY_SERVICE_MAX_LEN	    255
#define POLICY_PERIOD_MAX_S	    3600
#define POLICY_DURATION_MAX_S	    (24 * 3600)
#define POLICY_SILENCE_MAX_S	    (7 * 24 * 3600)
#define POLICY_DEFAULT_DURATION_S   600
#define POLICY_DEFAULT_SILENCE_S    1200
#define POLICY_URI_LIST_MAX	    64
#define POLICY_URI_MAX_LEN	    512
#define POLICY_SYSTEM_LOAD_MAX	    100000.0
#define POLICY_THREAD_COUNT_MAX	    10000000.0
#define POLICY_RESPONSE_TIME_MAX_MS 3600000.0
#define POLICY_VERSION_HEX_LEN	    64

struct policy_item {
	enum policy_monitor monitor;
	double threshold;
	uint32_t period_s;
	uint32_t count;
	char *uri_regex; /* POSIX ERE, or NULL */
	char **uri_list; /* exact paths, or NULL */
	size_t uri_list_len;
};

struct policy_target_spec {
	enum policy_target target;
	struct policy_item *items;
	size_t n_items;
	uint32_t duration_s; /* 0: the agent's default */
	uint32_t silence_s;  /* 0: the agent's default */
};

/* Targets sorted by target, items by monitor (canonical order). */
struct policy {
	char *service;
	struct policy_target_spec *targets;
	size_t n_targets;
};

/* Every reason a document was refused, in document order. */
struct policy_errors {
	char **reasons;
	size_t n;
};

/* Parses and validates a JSON document of `len` bytes. On success returns 0
 * and stores a new policy (free with policy_free()) in *ret. On an invalid
 * document returns -EINVAL and appends every reason to `errors` (may be NULL);
 * on allocation failure -ENOMEM. */
int policy_parse(const char *json, size_t len, struct policy **ret, struct policy_errors *errors);

/* Same, from an already decoded JSON value (borrowed). */
int policy_from_json(const json_t *doc, struct policy **ret, struct policy_errors *errors);

/* Canonical JSON value of the policy (new reference), or NULL on ENOMEM. */
json_t *policy_to_json(const struct policy *policy);

/* Canonical serialization as a NUL-terminated malloc'd string, or NULL. */
char *policy_canonical(const struct policy *policy);

/* Hex SHA-256 of the canonical form into `out` (65 bytes). 0 or -ENOMEM. */
int policy_version(const struct policy *policy, char out[POLICY_VERSION_HEX_LEN + 1]);

/* Accept NULL; return NULL so `p = policy_free(p)` is always safe. */
struct policy *policy_free(struct policy *policy);
void policy_errors_clear(struct policy_errors *errors);

const char *policy_target_name(enum policy_target target);
const char *policy_monitor_name(enum policy_monitor monitor);
/* Name -> enum, or -EINVAL for an unknown name. */
int policy_target_from_name(const char *name);
int policy_monitor_from_name(const char *name);
/* Unit shown next to a threshold: "%", "threads", "load", "ms". */
const char *policy_monitor_unit(enum policy_monitor monitor);
bool policy_monitor_is_http(enum policy_monitor monitor);

/* Readable one-line summary of an item, e.g.
 * "PROCESS_CPU >= 80 % (5 of 10 s)"; malloc'd, or NULL. */
char *policy_item_describe(const struct policy_item *item);

#endif
