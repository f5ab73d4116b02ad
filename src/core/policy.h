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
 *
 * Decisions beyond DESIGN.md:
 * - An empty `targets` list is valid: "this service has a policy that profiles
 *   nothing" (a way to pause profiling without deleting the document).
 * - `duration` and `silence`, when given, are 1..POLICY_DURATION_MAX_S and
 *   1..POLICY_SILENCE_MAX_S seconds; 0 is refused because the model uses 0 for
 *   "absent, the agent's default". A task never overlaps the previous one
 *   anyway, so `silence: 1` means "again as soon as the last task ended".
 * - Integer fields (period, count, duration, silence, and the threshold of
 *   PROCESS_THREAD_COUNT) accept any JSON number with an integral value: 10
 *   and 10.0 are the same document.
 * - Strings (service, URIs, regex) may not hold control characters, and URIs
 *   in uri_list not even spaces, so a reason or a description is one line.
 * - uri_regex must be non-empty (no filter is spelled by omitting it) and its
 *   interval repetitions ({m,n}) may multiply to at most
 *   POLICY_URI_REGEX_REPEAT_MAX: glibc expands them at compile time, and
 *   "(((a{1,255}){1,255}){1,255})" takes gigabytes. Back-references (\1,
 *   a glibc extension to ERE) are refused: their matching can take
 *   exponential time, and the agent matches every request's URI.
 * - Duplicate keys in an object are refused (invalid JSON).
 * - At most POLICY_ERRORS_MAX reasons are kept, then one more saying how
 *   many were left out (a 64 KiB document can hold thousands of mistakes).
 */
#ifndef CONTPROF_CORE_POLICY_H
#define CONTPROF_CORE_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <regex.h>

#include "core/regex_guard.h"

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
#define POLICY_PERCENT_MAX	    100.0
#define POLICY_SYSTEM_LOAD_MAX	    100000.0
#define POLICY_THREAD_COUNT_MAX	    10000000.0
#define POLICY_RESPONSE_TIME_MAX_MS 3600000.0
#define POLICY_VERSION_HEX_LEN	    64
#define POLICY_CANONICAL_MAX_BYTES  (4 * POLICY_DOC_MAX_BYTES)
#define POLICY_ERRORS_MAX	    64
#define POLICY_URI_REGEX_REPEAT_MAX REGEX_GUARD_REPEAT_MAX
/* regcomp() flags of uri_regex, for validation and for matching alike. */
#define POLICY_URI_REGEX_FLAGS (REG_EXTENDED | REG_NOSUB)
/* Longest shortest-round-trip number, "-2.2250738585072014e-308" and NUL. */
#define POLICY_NUMBER_BUF_LEN 32
/* 2^53: below it every integer is an exact double and prints as an integer. */
#define POLICY_NUMBER_EXACT_INT_LIMIT 9007199254740992.0

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
	struct policy_item *items; /* at least one */
	size_t n_items;
	uint32_t duration_s; /* 0: the agent's default */
	uint32_t silence_s;  /* 0: the agent's default */
};

/* Targets sorted by target, items by monitor (canonical order). */
struct policy {
	char *service;
	struct policy_target_spec *targets; /* NULL when n_targets is 0 */
	size_t n_targets;
};

/* Every reason a document was refused, in document order: within one object,
 * its fields in the order written, then its missing fields, then the checks
 * between fields (count > period, ...). Start zeroed; release with
 * policy_errors_clear(). Reasons never contain a newline. */
struct policy_errors {
	char **reasons;
	size_t n;
};

/* Parses and validates a JSON document of `len` bytes (at most
 * POLICY_DOC_MAX_BYTES; need not be NUL-terminated). On success returns 0
 * and stores a new policy (free with policy_free()) in *ret. On an invalid
 * document returns -EINVAL and appends every reason to `errors` (may be NULL);
 * on allocation failure -ENOMEM, with `errors` possibly holding some reasons
 * (jansson 2.14 reports some failed allocations inside its parser as syntax
 * errors; those then surface as an "invalid JSON" reason). *ret is written
 * only on success. Thread-safe. */
int policy_parse(const char *json, size_t len, struct policy **ret, struct policy_errors *errors);

/* Same, from an already decoded JSON value (borrowed). */
int policy_from_json(const json_t *doc, struct policy **ret, struct policy_errors *errors);

/* Canonical JSON value of the policy (new reference), or NULL on ENOMEM. */
json_t *policy_to_json(const struct policy *policy);

/* Canonical serialization as a NUL-terminated malloc'd string, or NULL:
 * compact JSON, keys sorted, targets and items in canonical order, optional
 * fields omitted when absent, strings in UTF-8 with only '"', '\' and control
 * characters escaped, numbers as by policy_format_number(). */
char *policy_canonical(const struct policy *policy);

/* Hex SHA-256 of the canonical form into `out` (65 bytes). 0 or -ENOMEM. */
int policy_version(const struct policy *policy, char out[POLICY_VERSION_HEX_LEN + 1]);

/* Accept NULL and half-built policies; return NULL so `p = policy_free(p)`
 * is always safe. */
struct policy *policy_free(struct policy *policy);
/* Frees every reason and leaves `errors` empty and reusable. Accepts NULL. */
void policy_errors_clear(struct policy_errors *errors);

/* Writes `value` in its shortest round-trip form into `buf`: integral values
 * below 2^53 without fraction or exponent ("80"), others with the fewest
 * significant digits that read back as the same double ("0.1", "1e+300").
 * Returns the length. `value` must be finite. */
int policy_format_number(double value, char buf[POLICY_NUMBER_BUF_LEN]);

const char *policy_target_name(enum policy_target target);
const char *policy_monitor_name(enum policy_monitor monitor);
/* Name -> enum, or -EINVAL for an unknown name. */
int policy_target_from_name(const char *name);
int policy_monitor_from_name(const char *name);
/* Unit shown next to a threshold: "%", "threads", "load", "ms". */
const char *policy_monitor_unit(enum policy_monitor monitor);
bool policy_monitor_is_http(enum policy_monitor monitor);

/* Readable one-line summary of an item, e.g.
 * "PROCESS_CPU >= 80 % (5 of 10 s)",
 * "HTTP_ERROR_RATE >= 10 % (3 of 30 s) uri ~ ^/api/",
 * "HTTP_AVG_RESPONSE_TIME >= 250 ms (2 of 5 s) uri in [/a, /b]" (at most
 * POLICY_DESCRIBE_URIS paths, then "+N more"); malloc'd, or NULL on ENOMEM
 * (or for a hand-built item whose strings exceed the model's limits). */
#define POLICY_DESCRIBE_URIS 4
char *policy_item_describe(const struct policy_item *item);

#endif
