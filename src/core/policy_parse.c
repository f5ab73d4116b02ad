/* policy_parse: JSON document -> validated struct policy.
 *
 * Two passes. Validation walks the document once, in document order, and
 * reports every reason it finds; it allocates nothing but the reasons, and
 * notes what it accepted in a fixed-size draft indexed by target and monitor
 * (each appears at most once), borrowing strings from the JSON value. Only a
 * document without a single reason is then built into the model, in canonical
 * order straight from the draft, so no sorting is needed.
 * Does not own: the canonical form (policy_canon.c), names (policy.c).
 */
#include "core/policy.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/regex_guard.h"
#include "core/utf8.h"

#define REASON_MAX_LEN 640
#define PLACE_MAX_LEN  64
/* User strings quoted in a reason are cut after this many bytes. */
#define QUOTE_MAX_BYTES	  48
#define QUOTE_BUF_LEN	  (2 + 6 * (QUOTE_MAX_BYTES + 3) + 4)
#define NOT_SEEN	  SIZE_MAX
#define URI_FIELD_MAX_LEN 32

struct validator {
	struct policy_errors *errors; /* may be NULL: count only */
	size_t found;		      /* reasons found, kept or not */
	bool oom;
};

/* What validation accepted, borrowed from the document. */
struct draft_item {
	bool present;
	double threshold;
	uint32_t period_s;
	uint32_t count;
	const char *uri_regex;	/* NULL: none */
	const json_t *uri_list; /* NULL: none */
};

struct draft_target {
	bool present;
	uint32_t duration_s;
	uint32_t silence_s;
	struct draft_item items[POLICY_MONITOR_COUNT];
};

struct draft {
	const char *service;
	struct draft_target targets[POLICY_TARGET_COUNT];
};

static const struct {
	double max;
	bool integer;
} threshold_rules[POLICY_MONITOR_COUNT] = {
    [POLICY_MONITOR_PROCESS_CPU] = {POLICY_PERCENT_MAX, false},
    [POLICY_MONITOR_PROCESS_THREAD_COUNT] = {POLICY_THREAD_COUNT_MAX, true},
    [POLICY_MONITOR_SYSTEM_LOAD] = {POLICY_SYSTEM_LOAD_MAX, false},
    [POLICY_MONITOR_HTTP_ERROR_RATE] = {POLICY_PERCENT_MAX, false},
    [POLICY_MONITOR_HTTP_AVG_RESPONSE_TIME] = {POLICY_RESPONSE_TIME_MAX_MS, false},
};

static void store_reason(struct validator *v, const char *reason)
{
	char **reasons = core_realloc(v->errors->reasons, (v->errors->n + 1) * sizeof(*reasons));
	char *copy;

	if (!reasons) {
		v->oom = true;
		return;
	}
	v->errors->reasons = reasons;
	copy = core_strdup(reason);
	if (!copy) {
		v->oom = true;
		return;
	}
	reasons[v->errors->n++] = copy;
}

static void keep_reason(struct validator *v, const char *reason)
{
	v->found++;
	if (v->errors && v->found <= POLICY_ERRORS_MAX)
		store_reason(v, reason);
}

/* Reports "place.field: message"; `place` "" is the document itself, `field`
 * NULL the place as a whole: "service: missing", "document: ...". */
__attribute__((format(printf, 4, 5))) static void report(struct validator *v, const char *place,
							 const char *field, const char *fmt, ...)
{
	char msg[REASON_MAX_LEN], reason[REASON_MAX_LEN + 3 * PLACE_MAX_LEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (place[0] && field)
		snprintf(reason, sizeof(reason), "%s.%s: %s", place, field, msg);
	else if (place[0])
		snprintf(reason, sizeof(reason), "%s: %s", place, msg);
	else
		snprintf(reason, sizeof(reason), "%s: %s", field ? field : "document", msg);
	keep_reason(v, reason);
}

/* After POLICY_ERRORS_MAX reasons, one more says how many were left out. */
static void report_left_out(struct validator *v)
{
	char reason[REASON_MAX_LEN];

	if (!v->errors || v->found <= POLICY_ERRORS_MAX)
		return;
	snprintf(reason, sizeof(reason), "document: %zu more reasons not shown",
		 v->found - POLICY_ERRORS_MAX);
	store_reason(v, reason);
}

/* `s` double-quoted on one line: '"', '\' and control characters escaped,
 * cut (at a character boundary) after QUOTE_MAX_BYTES bytes, then "...". */
static const char *quote(const char *s, char out[QUOTE_BUF_LEN])
{
	size_t o = 0;

	out[o++] = '"';
	for (size_t i = 0; s[i]; i++) {
		unsigned char c = (unsigned char)s[i];

		if (i >= QUOTE_MAX_BYTES && (c & 0xc0) != 0x80) {
			memcpy(out + o, "\"...", 5);
			return out;
		}
		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c < 0x20 || c == 0x7f) {
			o += (size_t)snprintf(out + o, 7, "\\u%04x", c);
		} else {
			out[o++] = (char)c;
		}
	}
	memcpy(out + o, "\"", 2);
	return out;
}

static bool has_control_char(const char *s, bool space_too)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c == 0x7f || (space_too && c == ' '))
			return true;
	}
	return false;
}

static void report_unknown_field(struct validator *v, const char *place, const char *key)
{
	char q[QUOTE_BUF_LEN];

	report(v, place, NULL, "unknown field %s", quote(key, q));
}

static void report_missing(struct validator *v, const char *place, const json_t *obj,
			   const char *const *required)
{
	for (; *required; required++)
		if (!json_object_get(obj, *required))
			report(v, place, *required, "missing");
}

static bool check_integer(struct validator *v, const char *place, const char *field,
			  const json_t *value, uint32_t min, uint32_t max, uint32_t *ret)
{
	char num[POLICY_NUMBER_BUF_LEN];
	double x;

	if (!json_is_number(value)) {
		report(v, place, field, "expected an integer");
		return false;
	}
	x = json_number_value(value);
	policy_format_number(x, num);
	if (x != trunc(x)) {
		report(v, place, field, "expected an integer, got %s", num);
		return false;
	}
	if (x < min || x > max) {
		report(v, place, field, "%s is out of range [%u, %u]", num, min, max);
		return false;
	}
	*ret = (uint32_t)x;
	return true;
}

/* Checks a string field: non-empty, at most `max_len` bytes, no control
 * characters. Returns the string or NULL after reporting. */
static const char *check_text(struct validator *v, const char *place, const char *field,
			      const json_t *value, size_t max_len)
{
	const char *s;

	if (!json_is_string(value)) {
		report(v, place, field, "expected a string");
		return NULL;
	}
	s = json_string_value(value);
	if (!s[0]) {
		report(v, place, field, "empty");
		return NULL;
	}
	if (json_string_length(value) > max_len) {
		report(v, place, field, "longer than %zu bytes", max_len);
		return NULL;
	}
	if (has_control_char(s, false)) {
		report(v, place, field, "contains a control character");
		return NULL;
	}
	return s;
}

/* ---- uri_regex ---------------------------------------------------------- */

static const char *check_uri_regex(struct validator *v, const char *place, const json_t *value)
{
	char msg[REASON_MAX_LEN / 2];
	const char *s = check_text(v, place, "uri_regex", value, POLICY_URI_MAX_LEN);
	bool backreference = false;
	regex_t re;
	int rc;

	if (!s)
		return NULL;
	if (regex_guard_repeat_product(s, &backreference) > POLICY_URI_REGEX_REPEAT_MAX) {
		report(v, place, "uri_regex",
		       "too costly to compile: its repetitions make more than %d copies (nested "
		       "ones and loops over what matches empty count extra)",
		       POLICY_URI_REGEX_REPEAT_MAX);
		return NULL;
	}
	if (backreference) {
		report(v, place, "uri_regex", "back-references (\\1 to \\9) are not allowed");
		return NULL;
	}
	rc = regcomp(&re, s, POLICY_URI_REGEX_FLAGS);
	if (rc == 0) {
		regfree(&re);
		return s;
	}
	regerror(rc, &re, msg, sizeof(msg));
	v->oom |= rc == REG_ESPACE;
	report(v, place, "uri_regex", "does not compile: %s", msg);
	return NULL;
}

/* ---- uri_list ----------------------------------------------------------- */

static bool check_uri_entry(struct validator *v, const char *place, const json_t *list, size_t i)
{
	const json_t *value = json_array_get(list, i);
	char field[URI_FIELD_MAX_LEN], q[QUOTE_BUF_LEN];
	const char *s;

	snprintf(field, sizeof(field), "uri_list[%zu]", i);
	if (!json_is_string(value)) {
		report(v, place, field, "expected a string");
		return false;
	}
	s = json_string_value(value);
	if (s[0] != '/') {
		report(v, place, field, "%s does not start with \"/\"", quote(s, q));
		return false;
	}
	if (json_string_length(value) > POLICY_URI_MAX_LEN) {
		report(v, place, field, "longer than %d bytes", POLICY_URI_MAX_LEN);
		return false;
	}
	if (has_control_char(s, true)) {
		report(v, place, field, "contains a space or a control character");
		return false;
	}
	for (size_t k = 0; k < i; k++) {
		if (json_equal(json_array_get(list, k), value)) {
			report(v, place, field, "%s already given in uri_list[%zu]", quote(s, q),
			       k);
			return false;
		}
	}
	return true;
}

static const json_t *check_uri_list(struct validator *v, const char *place, const json_t *value)
{
	size_t n;
	bool ok;

	if (!json_is_array(value)) {
		report(v, place, "uri_list", "expected an array of paths");
		return NULL;
	}
	n = json_array_size(value);
	ok = n > 0 && n <= POLICY_URI_LIST_MAX;
	if (n == 0)
		report(v, place, "uri_list", "empty");
	if (n > POLICY_URI_LIST_MAX)
		report(v, place, "uri_list", "%zu paths > %d", n, POLICY_URI_LIST_MAX);
	/* Past the maximum, the entries are not worth a quadratic look. */
	for (size_t i = 0; i < n && i < POLICY_URI_LIST_MAX; i++)
		ok &= check_uri_entry(v, place, value, i);
	return ok ? value : NULL;
}

/* ---- items -------------------------------------------------------------- */

static int known_name(const json_t *value, int (*from_name)(const char *))
{
	return json_is_string(value) ? from_name(json_string_value(value)) : -EINVAL;
}

static void check_monitor(struct validator *v, const char *place, const json_t *value, size_t index,
			  size_t first_item[POLICY_MONITOR_COUNT])
{
	char q[QUOTE_BUF_LEN];
	int m = known_name(value, policy_monitor_from_name);

	if (!json_is_string(value)) {
		report(v, place, "monitor", "expected a string");
	} else if (m < 0) {
		report(v, place, "monitor",
		       "unknown monitor %s (expected PROCESS_CPU, PROCESS_THREAD_COUNT, "
		       "SYSTEM_LOAD, HTTP_ERROR_RATE or HTTP_AVG_RESPONSE_TIME)",
		       quote(json_string_value(value), q));
	} else if (first_item[m] != NOT_SEEN) {
		report(v, place, "monitor", "%s already given in items[%zu]",
		       policy_monitor_name(m), first_item[m]);
	} else {
		first_item[m] = index;
	}
}

/* The threshold's range depends on the monitor; an unknown monitor has its
 * own reason, so only the type is checked then. */
static void check_threshold(struct validator *v, const char *place, const json_t *value,
			    int monitor, double *ret)
{
	char num[POLICY_NUMBER_BUF_LEN], max[POLICY_NUMBER_BUF_LEN];
	double x;

	if (!json_is_number(value)) {
		report(v, place, "threshold", "expected a number");
		return;
	}
	if (monitor < 0)
		return;
	x = json_number_value(value);
	policy_format_number(x, num);
	policy_format_number(threshold_rules[monitor].max, max);
	if (threshold_rules[monitor].integer && x != trunc(x)) {
		report(v, place, "threshold", "expected an integer, got %s", num);
		return;
	}
	if (!(x > 0 && x <= threshold_rules[monitor].max)) {
		report(v, place, "threshold",
		       threshold_rules[monitor].integer ? "%s is out of range [1, %s]"
							: "%s is out of range (0, %s]",
		       num, max);
		return;
	}
	*ret = x;
}

static void check_item_relations(struct validator *v, const char *place, const json_t *obj,
				 int monitor, const struct draft_item *item, bool period_ok,
				 bool count_ok)
{
	bool has_list = json_object_get(obj, "uri_list") != NULL;
	bool has_regex = json_object_get(obj, "uri_regex") != NULL;

	if (period_ok && count_ok && item->count > item->period_s)
		report(v, place, NULL, "count %u > period %u", item->count, item->period_s);
	if (monitor >= 0 && !policy_monitor_is_http(monitor) && (has_list || has_regex))
		report(v, place, NULL, "%s is only for HTTP monitors, not %s",
		       has_list ? "uri_list" : "uri_regex", policy_monitor_name(monitor));
	if (has_list && has_regex)
		report(v, place, NULL, "uri_list and uri_regex exclude each other");
}

static void validate_item(struct validator *v, const char *place, const json_t *obj, size_t index,
			  size_t first_item[POLICY_MONITOR_COUNT], struct draft_target *target)
{
	static const char *const required[] = {"monitor", "threshold", "period", "count", NULL};
	struct draft_item item = {.present = true};
	bool period_ok = false, count_ok = false;
	const char *key;
	json_t *value;
	int monitor;

	if (!json_is_object(obj)) {
		report(v, place, NULL, "expected an object");
		return;
	}
	monitor = known_name(json_object_get(obj, "monitor"), policy_monitor_from_name);
	json_object_foreach((json_t *)obj, key, value)
	{
		if (strcmp(key, "monitor") == 0) {
			check_monitor(v, place, value, index, first_item);
		} else if (strcmp(key, "threshold") == 0) {
			check_threshold(v, place, value, monitor, &item.threshold);
		} else if (strcmp(key, "period") == 0) {
			period_ok = check_integer(v, place, "period", value, 1, POLICY_PERIOD_MAX_S,
						  &item.period_s);
		} else if (strcmp(key, "count") == 0) {
			count_ok = check_integer(v, place, "count", value, 1, POLICY_PERIOD_MAX_S,
						 &item.count);
		} else if (strcmp(key, "uri_list") == 0) {
			item.uri_list = check_uri_list(v, place, value);
		} else if (strcmp(key, "uri_regex") == 0) {
			item.uri_regex = check_uri_regex(v, place, value);
		} else {
			report_unknown_field(v, place, key);
		}
	}
	report_missing(v, place, obj, required);
	check_item_relations(v, place, obj, monitor, &item, period_ok, count_ok);
	/* The first item of its monitor goes to the draft (used only when the
	 * whole document is valid); a later one is a reported duplicate. */
	if (monitor >= 0 && first_item[monitor] == index)
		target->items[monitor] = item;
}

static void validate_items(struct validator *v, const char *place, const json_t *items,
			   struct draft_target *target)
{
	size_t first_item[POLICY_MONITOR_COUNT];
	char item_place[2 * PLACE_MAX_LEN];

	if (!json_is_array(items)) {
		report(v, place, "items", "expected an array");
		return;
	}
	if (json_array_size(items) == 0) {
		report(v, place, "items", "empty (a target needs at least one item)");
		return;
	}
	for (int m = 0; m < POLICY_MONITOR_COUNT; m++)
		first_item[m] = NOT_SEEN;
	for (size_t i = 0; i < json_array_size(items); i++) {
		snprintf(item_place, sizeof(item_place), "%s.items[%zu]", place, i);
		validate_item(v, item_place, json_array_get(items, i), i, first_item, target);
	}
}

/* ---- targets and document ----------------------------------------------- */

static void check_target_name(struct validator *v, const char *place, const json_t *value,
			      size_t index, size_t first_target[POLICY_TARGET_COUNT])
{
	char q[QUOTE_BUF_LEN];
	int t = known_name(value, policy_target_from_name);

	if (!json_is_string(value)) {
		report(v, place, "target", "expected a string");
	} else if (t < 0) {
		report(v, place, "target",
		       "unknown target %s (expected ON_CPU, OFF_CPU or NETWORK)",
		       quote(json_string_value(value), q));
	} else if (first_target[t] != NOT_SEEN) {
		report(v, place, "target", "%s already given in targets[%zu]",
		       policy_target_name(t), first_target[t]);
	} else {
		first_target[t] = index;
	}
}

static void validate_target(struct validator *v, const json_t *obj, size_t index,
			    size_t first_target[POLICY_TARGET_COUNT], struct draft *draft)
{
	static const char *const required[] = {"target", "items", NULL};
	struct draft_target target = {.present = true};
	char place[PLACE_MAX_LEN];
	const char *key;
	json_t *value;
	int t;

	snprintf(place, sizeof(place), "targets[%zu]", index);
	if (!json_is_object(obj)) {
		report(v, place, NULL, "expected an object");
		return;
	}
	json_object_foreach((json_t *)obj, key, value)
	{
		if (strcmp(key, "target") == 0)
			check_target_name(v, place, value, index, first_target);
		else if (strcmp(key, "items") == 0)
			validate_items(v, place, value, &target);
		else if (strcmp(key, "duration") == 0)
			check_integer(v, place, "duration", value, 1, POLICY_DURATION_MAX_S,
				      &target.duration_s);
		else if (strcmp(key, "silence") == 0)
			check_integer(v, place, "silence", value, 1, POLICY_SILENCE_MAX_S,
				      &target.silence_s);
		else
			report_unknown_field(v, place, key);
	}
	report_missing(v, place, obj, required);
	t = known_name(json_object_get(obj, "target"), policy_target_from_name);
	if (t >= 0 && first_target[t] == index)
		draft->targets[t] = target;
}

static void validate_targets(struct validator *v, const json_t *targets, struct draft *draft)
{
	size_t first_target[POLICY_TARGET_COUNT];

	if (!json_is_array(targets)) {
		report(v, "", "targets", "expected an array");
		return;
	}
	for (int t = 0; t < POLICY_TARGET_COUNT; t++)
		first_target[t] = NOT_SEEN;
	for (size_t i = 0; i < json_array_size(targets); i++)
		validate_target(v, json_array_get(targets, i), i, first_target, draft);
}

static void validate_document(struct validator *v, const json_t *doc, struct draft *draft)
{
	static const char *const required[] = {"service", "targets", NULL};
	const char *key;
	json_t *value;

	if (!json_is_object(doc)) {
		report(v, "", NULL, "expected an object");
		return;
	}
	json_object_foreach((json_t *)doc, key, value)
	{
		if (strcmp(key, "service") == 0)
			draft->service =
			    check_text(v, "", "service", value, POLICY_SERVICE_MAX_LEN);
		else if (strcmp(key, "targets") == 0)
			validate_targets(v, value, draft);
		else
			report_unknown_field(v, "", key);
	}
	report_missing(v, "", doc, required);
}

/* ---- building the model ------------------------------------------------- */

static int build_item(const struct draft_item *d, enum policy_monitor monitor,
		      struct policy_item *item)
{
	size_t n = d->uri_list ? json_array_size(d->uri_list) : 0;

	item->monitor = monitor;
	item->threshold = d->threshold;
	item->period_s = d->period_s;
	item->count = d->count;
	if (d->uri_regex) {
		item->uri_regex = core_strdup(d->uri_regex);
		if (!item->uri_regex)
			return -ENOMEM;
	}
	if (n) {
		item->uri_list = core_calloc(n, sizeof(*item->uri_list));
		if (!item->uri_list)
			return -ENOMEM;
		item->uri_list_len = n;
	}
	for (size_t i = 0; i < n; i++) {
		item->uri_list[i] = core_strdup(json_string_value(json_array_get(d->uri_list, i)));
		if (!item->uri_list[i])
			return -ENOMEM;
	}
	return 0;
}

static int build_target(const struct draft_target *d, enum policy_target target,
			struct policy_target_spec *spec)
{
	size_t n = 0, k = 0;

	for (int m = 0; m < POLICY_MONITOR_COUNT; m++)
		n += d->items[m].present;
	spec->target = target;
	spec->duration_s = d->duration_s;
	spec->silence_s = d->silence_s;
	spec->items = core_calloc(n, sizeof(*spec->items));
	if (!spec->items)
		return -ENOMEM;
	spec->n_items = n;
	for (int m = 0; m < POLICY_MONITOR_COUNT; m++)
		if (d->items[m].present && build_item(&d->items[m], m, &spec->items[k++]))
			return -ENOMEM;
	return 0;
}

static int build_policy(const struct draft *d, struct policy **ret)
{
	struct policy *policy = core_calloc(1, sizeof(*policy));
	size_t n = 0, k = 0;

	if (!policy)
		return -ENOMEM;
	for (int t = 0; t < POLICY_TARGET_COUNT; t++)
		n += d->targets[t].present;
	policy->service = core_strdup(d->service);
	policy->targets = n ? core_calloc(n, sizeof(*policy->targets)) : NULL;
	if (!policy->service || (n && !policy->targets))
		goto nomem;
	policy->n_targets = n;
	for (int t = 0; t < POLICY_TARGET_COUNT; t++)
		if (d->targets[t].present && build_target(&d->targets[t], t, &policy->targets[k++]))
			goto nomem;
	*ret = policy;
	return 0;
nomem:
	policy_free(policy);
	return -ENOMEM;
}

int policy_from_json(const json_t *doc, struct policy **ret, struct policy_errors *errors)
{
	struct validator v = {.errors = errors};
	struct draft draft = {0};

	validate_document(&v, doc, &draft);
	report_left_out(&v);
	if (v.oom)
		return -ENOMEM;
	if (v.found)
		return -EINVAL;
	return build_policy(&draft, ret);
}

int policy_parse(const char *json, size_t len, struct policy **ret, struct policy_errors *errors)
{
	struct validator v = {.errors = errors};
	json_error_t jerr;
	json_t *doc;
	int rc;

	if (len > POLICY_DOC_MAX_BYTES) {
		report(&v, "", NULL, "larger than %d bytes", POLICY_DOC_MAX_BYTES);
		return v.oom ? -ENOMEM : -EINVAL;
	}
	doc = json_loadb(json, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	/* jansson 2.14 seldom reports json_error_out_of_memory: when an
	 * allocation fails it mostly leaves the text empty (and now and then
	 * reports a syntax error at that spot, which we cannot tell apart). A
	 * syntax error always has a text. */
	if (!doc && (json_error_code(&jerr) == json_error_out_of_memory || !jerr.text[0]))
		return -ENOMEM;
	if (!doc) {
		/* jansson quotes the bytes near the error as they were: keep the
		 * reason one line of valid UTF-8 (found by fuzzing). */
		for (char *c = jerr.text; *c; c++)
			if ((unsigned char)*c < 0x20 || *c == 0x7f)
				*c = '?';
		utf8_repair(jerr.text);
		report(&v, "", NULL, "invalid JSON at line %d, column %d: %s", jerr.line,
		       jerr.column, jerr.text);
		return v.oom ? -ENOMEM : -EINVAL;
	}
	rc = policy_from_json(doc, ret, errors);
	json_decref(doc);
	return rc;
}
