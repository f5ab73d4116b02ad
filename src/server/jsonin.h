/* jsonin: typed reading of request JSON with every problem collected.
 *
 * Each getter looks up `key` in `obj`, checks its type and bounds and, on a
 * problem, appends a readable reason naming its place ("processes[2].pid:
 * must be an integer >= 0") to `errors` (a JSON array) instead of stopping,
 * so a request is refused with every reason at once. Getters return whether
 * a valid value was stored; absent optional keys store nothing and return
 * false without an error.
 */
#ifndef CONTPROF_SERVER_JSONIN_H
#define CONTPROF_SERVER_JSONIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define JSONIN_ID_MAX_LEN   128
#define JSONIN_NAME_MAX_LEN 255

void jsonin_error(json_t *errors, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Parses a request body that must be a JSON object; NULL with a reason. */
json_t *jsonin_parse_object(const char *body, size_t len, json_t *errors);

bool jsonin_string(json_t *errors, const json_t *obj, const char *where, const char *key,
		   bool required, size_t max_len, const char **ret);
/* A string of [A-Za-z0-9._:-]{1,128}: safe in URLs and labels. */
bool jsonin_id(json_t *errors, const json_t *obj, const char *where, const char *key, bool required,
	       const char **ret);
bool jsonin_int(json_t *errors, const json_t *obj, const char *where, const char *key,
		bool required, int64_t min, int64_t max, int64_t *ret);
bool jsonin_number(json_t *errors, const json_t *obj, const char *where, const char *key,
		   bool required, double *ret);
/* Object or array (as asked) stored borrowed in *ret. */
bool jsonin_object(json_t *errors, const json_t *obj, const char *where, const char *key,
		   bool required, json_t **ret);
bool jsonin_array(json_t *errors, const json_t *obj, const char *where, const char *key,
		  bool required, size_t max_items, json_t **ret);

/* Reports every key of `obj` not in the NULL-terminated `known` list
 * ("where.key: unknown field (expected a, b or c)"); true when there is none.
 * For public request formats, where a misspelt optional field must not be
 * silently ignored. */
bool jsonin_known_fields(json_t *errors, const json_t *obj, const char *where,
			 const char *const *known);

bool jsonin_is_id(const char *s);

#endif
