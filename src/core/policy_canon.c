/* policy_canon: the policy as JSON — its canonical text and version hash,
 * and the same content as a jansson value for the API.
 *
 * The canonical text is written by hand rather than by json_dumps(): jansson
 * prints reals with 17 significant digits and a forced ".0" ("80.0",
 * "0.10000000000000001"), while the version must not depend on how a number
 * was spelled. Both writers emit the same content; the unit tests hold them
 * to it. Does not own: parsing and validation (policy_parse.c).
 */
#include "core/policy.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "core/strbuf.h"

static void put_string(struct strbuf *b, const char *s)
{
	strbuf_puts(b, "\"");
	for (const char *p = s; *p; p++) {
		unsigned char c = (unsigned char)*p;

		if (c == '"' || c == '\\')
			strbuf_printf(b, "\\%c", c);
		else if (c < 0x20)
			strbuf_printf(b, "\\u%04x", c);
		else
			strbuf_append(b, p, 1);
	}
	strbuf_puts(b, "\"");
}

static void put_number(struct strbuf *b, double value)
{
	char num[POLICY_NUMBER_BUF_LEN];

	strbuf_append(b, num, (size_t)policy_format_number(value, num));
}

/* Keys in byte order: count, monitor, period, threshold, uri_list, uri_regex. */
static void put_item(struct strbuf *b, const struct policy_item *item)
{
	strbuf_printf(b, "{\"count\":%u,\"monitor\":", item->count);
	put_string(b, policy_monitor_name(item->monitor));
	strbuf_printf(b, ",\"period\":%u,\"threshold\":", item->period_s);
	put_number(b, item->threshold);
	if (item->uri_list_len) {
		strbuf_puts(b, ",\"uri_list\":[");
		for (size_t i = 0; i < item->uri_list_len; i++) {
			if (i)
				strbuf_puts(b, ",");
			put_string(b, item->uri_list[i]);
		}
		strbuf_puts(b, "]");
	}
	if (item->uri_regex) {
		strbuf_puts(b, ",\"uri_regex\":");
		put_string(b, item->uri_regex);
	}
	strbuf_puts(b, "}");
}

/* Keys in byte order: duration, items, silence, target. */
static void put_target(struct strbuf *b, const struct policy_target_spec *spec)
{
	strbuf_puts(b, "{");
	if (spec->duration_s)
		strbuf_printf(b, "\"duration\":%u,", spec->duration_s);
	strbuf_puts(b, "\"items\":[");
	for (size_t i = 0; i < spec->n_items; i++) {
		if (i)
			strbuf_puts(b, ",");
		put_item(b, &spec->items[i]);
	}
	strbuf_puts(b, "],");
	if (spec->silence_s)
		strbuf_printf(b, "\"silence\":%u,", spec->silence_s);
	strbuf_puts(b, "\"target\":");
	put_string(b, policy_target_name(spec->target));
	strbuf_puts(b, "}");
}

char *policy_canonical(const struct policy *policy)
{
	struct strbuf b;

	strbuf_init(&b, POLICY_CANONICAL_MAX_BYTES);
	strbuf_puts(&b, "{\"service\":");
	put_string(&b, policy->service);
	strbuf_puts(&b, ",\"targets\":[");
	for (size_t t = 0; t < policy->n_targets; t++) {
		if (t)
			strbuf_puts(&b, ",");
		put_target(&b, &policy->targets[t]);
	}
	strbuf_puts(&b, "]}");
	return strbuf_steal(&b);
}

int policy_version(const struct policy *policy, char out[POLICY_VERSION_HEX_LEN + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	char *canonical = policy_canonical(policy);
	int ok;

	if (!canonical)
		return -ENOMEM;
	/* Fails only when OpenSSL cannot allocate its context. */
	ok = EVP_Digest(canonical, strlen(canonical), md, &md_len, EVP_sha256(), NULL) &&
	     md_len * 2 == POLICY_VERSION_HEX_LEN;
	free(canonical);
	for (unsigned int i = 0; ok && i < md_len; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	return ok ? 0 : -ENOMEM;
}

/* An integral value becomes a JSON integer, so 80.0 reads back as 80. */
static json_t *number_to_json(double value)
{
	if (value == trunc(value) && fabs(value) < POLICY_NUMBER_EXACT_INT_LIMIT)
		return json_integer((json_int_t)value);
	return json_real(value);
}

/* jansson's *_new setters take the value even when they fail (and fail on a
 * NULL value or container), so a chain of them needs one check at the end. */
static json_t *item_to_json(const struct policy_item *item)
{
	json_t *obj = json_object(), *list = NULL;
	int rc = 0;

	rc |= json_object_set_new(obj, "monitor", json_string(policy_monitor_name(item->monitor)));
	rc |= json_object_set_new(obj, "threshold", number_to_json(item->threshold));
	rc |= json_object_set_new(obj, "period", json_integer(item->period_s));
	rc |= json_object_set_new(obj, "count", json_integer(item->count));
	if (item->uri_list_len) {
		list = json_array();
		for (size_t i = 0; i < item->uri_list_len; i++)
			rc |= json_array_append_new(list, json_string(item->uri_list[i]));
		rc |= json_object_set_new(obj, "uri_list", list);
	}
	if (item->uri_regex)
		rc |= json_object_set_new(obj, "uri_regex", json_string(item->uri_regex));
	if (rc) {
		json_decref(obj);
		return NULL;
	}
	return obj;
}

static json_t *target_to_json(const struct policy_target_spec *spec)
{
	json_t *obj = json_object(), *items = json_array();
	int rc = 0;

	for (size_t i = 0; i < spec->n_items; i++)
		rc |= json_array_append_new(items, item_to_json(&spec->items[i]));
	rc |= json_object_set_new(obj, "target", json_string(policy_target_name(spec->target)));
	rc |= json_object_set_new(obj, "items", items);
	if (spec->duration_s)
		rc |= json_object_set_new(obj, "duration", json_integer(spec->duration_s));
	if (spec->silence_s)
		rc |= json_object_set_new(obj, "silence", json_integer(spec->silence_s));
	if (rc) {
		json_decref(obj);
		return NULL;
	}
	return obj;
}

json_t *policy_to_json(const struct policy *policy)
{
	json_t *doc = json_object(), *targets = json_array();
	int rc = 0;

	for (size_t t = 0; t < policy->n_targets; t++)
		rc |= json_array_append_new(targets, target_to_json(&policy->targets[t]));
	rc |= json_object_set_new(doc, "service", json_string(policy->service));
	rc |= json_object_set_new(doc, "targets", targets);
	if (rc) {
		json_decref(doc);
		return NULL;
	}
	return doc;
}
