/* jsonin: see jsonin.h. */
#include "server/jsonin.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/utf8.h"

void jsonin_error(json_t *errors, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* Quoted client text or the cut at sizeof(msg) may break UTF-8, which
	 * jansson refuses: the reason would be lost and the request accepted. */
	utf8_repair(msg);
	json_array_append_new(errors, json_string(msg));
}

/* "where.key" or "key" for messages. */
static void place(char *buf, size_t len, const char *where, const char *key)
{
	if (where && *where)
		snprintf(buf, len, "%s.%s", where, key);
	else
		snprintf(buf, len, "%s", key);
}

json_t *jsonin_parse_object(const char *body, size_t len, json_t *errors)
{
	json_error_t jerr;
	json_t *v;

	if (!body || len == 0) {
		jsonin_error(errors, "request body is empty: a JSON object is expected");
		return NULL;
	}
	v = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!v) {
		jsonin_error(errors, "bad JSON at line %d column %d: %s", jerr.line, jerr.column,
			     jerr.text);
		return NULL;
	}
	if (!json_is_object(v)) {
		jsonin_error(errors, "request body must be a JSON object");
		json_decref(v);
		return NULL;
	}
	return v;
}

static const json_t *lookup(json_t *errors, const json_t *obj, const char *where, const char *key,
			    bool required)
{
	const json_t *v = json_object_get(obj, key);
	char p[256];

	if ((!v || json_is_null(v)) && required) {
		place(p, sizeof(p), where, key);
		jsonin_error(errors, "%s: is required", p);
	}
	return json_is_null(v) ? NULL : v;
}

bool jsonin_string(json_t *errors, const json_t *obj, const char *where, const char *key,
		   bool required, size_t max_len, const char **ret)
{
	const json_t *v = lookup(errors, obj, where, key, required);
	char p[256];

	if (!v)
		return false;
	place(p, sizeof(p), where, key);
	if (!json_is_string(v)) {
		jsonin_error(errors, "%s: must be a string", p);
		return false;
	}
	if (json_string_length(v) > max_len) {
		jsonin_error(errors, "%s: longer than %zu bytes", p, max_len);
		return false;
	}
	if (strlen(json_string_value(v)) != json_string_length(v)) {
		jsonin_error(errors, "%s: contains a NUL character", p);
		return false;
	}
	*ret = json_string_value(v);
	return true;
}

bool jsonin_is_id(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > JSONIN_ID_MAX_LEN)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == ':' || c == '-'))
			return false;
	}
	return true;
}

bool jsonin_id(json_t *errors, const json_t *obj, const char *where, const char *key, bool required,
	       const char **ret)
{
	const char *s;
	char p[256];

	if (!jsonin_string(errors, obj, where, key, required, JSONIN_ID_MAX_LEN, &s))
		return false;
	if (!jsonin_is_id(s)) {
		place(p, sizeof(p), where, key);
		jsonin_error(errors, "%s: must be 1-%d characters of [A-Za-z0-9._:-]", p,
			     JSONIN_ID_MAX_LEN);
		return false;
	}
	*ret = s;
	return true;
}

bool jsonin_int(json_t *errors, const json_t *obj, const char *where, const char *key,
		bool required, int64_t min, int64_t max, int64_t *ret)
{
	const json_t *v = lookup(errors, obj, where, key, required);
	char p[256];

	if (!v)
		return false;
	place(p, sizeof(p), where, key);
	if (!json_is_integer(v)) {
		jsonin_error(errors, "%s: must be an integer", p);
		return false;
	}
	if (json_integer_value(v) < min || json_integer_value(v) > max) {
		jsonin_error(errors, "%s: %lld is out of range [%lld, %lld]", p,
			     (long long)json_integer_value(v), (long long)min, (long long)max);
		return false;
	}
	*ret = json_integer_value(v);
	return true;
}

bool jsonin_number(json_t *errors, const json_t *obj, const char *where, const char *key,
		   bool required, double *ret)
{
	const json_t *v = lookup(errors, obj, where, key, required);
	char p[256];

	if (!v)
		return false;
	if (!json_is_number(v) || !isfinite(json_number_value(v))) {
		place(p, sizeof(p), where, key);
		jsonin_error(errors, "%s: must be a number", p);
		return false;
	}
	*ret = json_number_value(v);
	return true;
}

bool jsonin_object(json_t *errors, const json_t *obj, const char *where, const char *key,
		   bool required, json_t **ret)
{
	const json_t *v = lookup(errors, obj, where, key, required);
	char p[256];

	if (!v)
		return false;
	if (!json_is_object(v)) {
		place(p, sizeof(p), where, key);
		jsonin_error(errors, "%s: must be an object", p);
		return false;
	}
	*ret = (json_t *)v;
	return true;
}

bool jsonin_array(json_t *errors, const json_t *obj, const char *where, const char *key,
		  bool required, size_t max_items, json_t **ret)
{
	const json_t *v = lookup(errors, obj, where, key, required);
	char p[256];

	if (!v)
		return false;
	place(p, sizeof(p), where, key);
	if (!json_is_array(v)) {
		jsonin_error(errors, "%s: must be an array", p);
		return false;
	}
	if (json_array_size(v) > max_items) {
		jsonin_error(errors, "%s: more than %zu items", p, max_items);
		return false;
	}
	*ret = (json_t *)v;
	return true;
}

bool jsonin_known_fields(json_t *errors, const json_t *obj, const char *where,
			 const char *const *known)
{
	char expected[256] = "", key_where[256];
	const char *key;
	size_t n_known = 0, used = 0;
	bool ok = true;
	json_t *v;

	while (known[n_known])
		n_known++;
	for (size_t i = 0; i < n_known && used < sizeof(expected); i++)
		used += (size_t)snprintf(expected + used, sizeof(expected) - used, "%s%s",
					 i == 0		    ? ""
					 : i + 1 == n_known ? " or "
							    : ", ",
					 known[i]);
	json_object_foreach((json_t *)obj, key, v)
	{
		size_t i = 0;

		while (i < n_known && strcmp(known[i], key) != 0)
			i++;
		if (i < n_known)
			continue;
		place(key_where, sizeof(key_where), where, key);
		jsonin_error(errors, "%.128s: unknown field (expected %s)", key_where, expected);
		ok = false;
	}
	return ok;
}
