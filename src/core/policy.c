/* policy: the model's name tables, number formatting, descriptions and
 * destructors. Parsing and validation live in policy_parse.c, the canonical
 * form and the version in policy_canon.c. */
#include "core/policy.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/strbuf.h"

/* Longest description: a full uri_list is cut after POLICY_DESCRIBE_URIS. */
#define DESCRIBE_MAX_LEN (POLICY_DESCRIBE_URIS * (POLICY_URI_MAX_LEN + 2) + 2 * POLICY_URI_MAX_LEN)

static const char *const target_names[POLICY_TARGET_COUNT] = {
    [POLICY_TARGET_ON_CPU] = "ON_CPU",
    [POLICY_TARGET_OFF_CPU] = "OFF_CPU",
    [POLICY_TARGET_NETWORK] = "NETWORK",
};

static const struct {
	const char *name;
	const char *unit;
	bool http;
} monitors[POLICY_MONITOR_COUNT] = {
    [POLICY_MONITOR_PROCESS_CPU] = {"PROCESS_CPU", "%", false},
    [POLICY_MONITOR_PROCESS_THREAD_COUNT] = {"PROCESS_THREAD_COUNT", "threads", false},
    [POLICY_MONITOR_SYSTEM_LOAD] = {"SYSTEM_LOAD", "load", false},
    [POLICY_MONITOR_HTTP_ERROR_RATE] = {"HTTP_ERROR_RATE", "%", true},
    [POLICY_MONITOR_HTTP_AVG_RESPONSE_TIME] = {"HTTP_AVG_RESPONSE_TIME", "ms", true},
};

const char *policy_target_name(enum policy_target target)
{
	if ((unsigned)target >= POLICY_TARGET_COUNT)
		return "UNKNOWN";
	return target_names[target];
}

const char *policy_monitor_name(enum policy_monitor monitor)
{
	if ((unsigned)monitor >= POLICY_MONITOR_COUNT)
		return "UNKNOWN";
	return monitors[monitor].name;
}

int policy_target_from_name(const char *name)
{
	for (int t = 0; t < POLICY_TARGET_COUNT; t++)
		if (strcmp(name, target_names[t]) == 0)
			return t;
	return -EINVAL;
}

int policy_monitor_from_name(const char *name)
{
	for (int m = 0; m < POLICY_MONITOR_COUNT; m++)
		if (strcmp(name, monitors[m].name) == 0)
			return m;
	return -EINVAL;
}

const char *policy_monitor_unit(enum policy_monitor monitor)
{
	if ((unsigned)monitor >= POLICY_MONITOR_COUNT)
		return "";
	return monitors[monitor].unit;
}

bool policy_monitor_is_http(enum policy_monitor monitor)
{
	return (unsigned)monitor < POLICY_MONITOR_COUNT && monitors[monitor].http;
}

int policy_format_number(double value, char buf[POLICY_NUMBER_BUF_LEN])
{
	int len = 0;

	if (value == 0) /* -0 too */
		return snprintf(buf, POLICY_NUMBER_BUF_LEN, "0");
	if (value == trunc(value) && fabs(value) < POLICY_NUMBER_EXACT_INT_LIMIT)
		return snprintf(buf, POLICY_NUMBER_BUF_LEN, "%.0f", value);
	for (int digits = 1; digits <= 17; digits++) {
		len = snprintf(buf, POLICY_NUMBER_BUF_LEN, "%.*g", digits, value);
		if (strtod(buf, NULL) == value)
			break;
	}
	return len;
}

static void describe_uris(struct strbuf *b, const struct policy_item *item)
{
	size_t shown =
	    item->uri_list_len < POLICY_DESCRIBE_URIS ? item->uri_list_len : POLICY_DESCRIBE_URIS;

	if (item->uri_regex)
		strbuf_printf(b, " uri ~ %s", item->uri_regex);
	if (!item->uri_list_len)
		return;
	strbuf_puts(b, " uri in [");
	for (size_t i = 0; i < shown; i++)
		strbuf_printf(b, "%s%s", i ? ", " : "", item->uri_list[i]);
	if (item->uri_list_len > shown)
		strbuf_printf(b, ", +%zu more", item->uri_list_len - shown);
	strbuf_puts(b, "]");
}

char *policy_item_describe(const struct policy_item *item)
{
	char threshold[POLICY_NUMBER_BUF_LEN];
	struct strbuf b;

	policy_format_number(item->threshold, threshold);
	strbuf_init(&b, DESCRIBE_MAX_LEN);
	strbuf_printf(&b, "%s >= %s %s (%u of %u s)", policy_monitor_name(item->monitor), threshold,
		      policy_monitor_unit(item->monitor), item->count, item->period_s);
	describe_uris(&b, item);
	return strbuf_steal(&b);
}

static void item_release(struct policy_item *item)
{
	free(item->uri_regex);
	for (size_t i = 0; i < item->uri_list_len; i++)
		free(item->uri_list[i]);
	free(item->uri_list);
}

struct policy *policy_free(struct policy *policy)
{
	if (!policy)
		return NULL;
	for (size_t t = 0; t < policy->n_targets; t++) {
		struct policy_target_spec *spec = &policy->targets[t];

		for (size_t i = 0; i < spec->n_items; i++)
			item_release(&spec->items[i]);
		free(spec->items);
	}
	free(policy->targets);
	free(policy->service);
	free(policy);
	return NULL;
}

void policy_errors_clear(struct policy_errors *errors)
{
	if (!errors)
		return;
	for (size_t i = 0; i < errors->n; i++)
		free(errors->reasons[i]);
	free(errors->reasons);
	errors->reasons = NULL;
	errors->n = 0;
}
