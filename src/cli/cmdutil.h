/* cmdutil: the plumbing every client command shares — option errors, the
 * connection to the server, reporting failures once, printing JSON, and
 * reading fields of the server's answers without trusting their types.
 *
 * Does not own: the HTTP exchange (client.h) or table layout (table.h).
 * `who` is the command's name as the user typed it, e.g. "contprof tasks";
 * every message is prefixed with it.
 */
#ifndef CONTPROF_CLI_CMDUTIL_H
#define CONTPROF_CLI_CMDUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "cli/client.h"

#define EXIT_FAILURE_SERVER 1

/* Prints "who: message" and a pointer to --help on stderr; returns
 * EXIT_USAGE. */
int cmdutil_usage_error(const char *who, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* After getopt_long() (run with opterr = 0 and a ':'-prefixed optstring)
 * returned '?' or ':': names the offending option; returns EXIT_USAGE. */
int cmdutil_bad_option(const char *who, int opt, char **argv);

/* A configured client, or NULL with the reason printed and *exit_code set
 * (EXIT_USAGE for a malformed URL or token, 1 otherwise). */
struct client *cmdutil_connect(const char *who, const struct client_options *opts, int *exit_code);

/* Prints the client's failure reason; returns 1. */
int cmdutil_fail(const char *who, const struct client *c);

/* Pretty JSON (2-space indent, the server's key order) and a newline on
 * stdout. 0, or 1 when it could not be written. */
int cmdutil_print_json(const json_t *v);

/* The rows of a listing: the answer itself when it is an array, else its
 * member `key` or "items" when that is an array. Borrowed; NULL otherwise. */
json_t *cmdutil_list(json_t *answer, const char *key);

#define CMDUTIL_PAGE_ROWS     1000   /* rows asked per request: the server's largest page */
#define CMDUTIL_MAX_LIST_ROWS 100000 /* rows one listing fetches at most */

/* GETs a listing page by page (limit/offset, following X-Next-Offset) and
 * joins at most `max_rows` rows (0: CMDUTIL_MAX_LIST_ROWS). On success
 * returns 0 with a new array in *ret and *ret_truncated telling whether the
 * bound cut it short.
 * Errors are client_request_json()'s, or -EPROTO when a page holds no list
 * (rows: cmdutil_list(page, key)); the reason is kept in the client. */
int cmdutil_get_list(struct client *c, const char *path, const char *key, size_t max_rows,
		     json_t **ret, bool *ret_truncated);

/* Member `key` of `obj` when it is a string, else NULL. */
const char *cmdutil_str(const json_t *obj, const char *key);

/* Member `key` of `obj` as a number (integer or real); false when absent or
 * not a number. */
bool cmdutil_num(const json_t *obj, const char *key, double *ret);

/* A timestamp in Unix ms (integer or real member); 0 when absent. */
int64_t cmdutil_ms(const json_t *obj, const char *key);

#define CMDUTIL_SCALAR_LEN 64
/* Any scalar as text: strings as they are (borrowed pointer), numbers in
 * their shortest form, true/false; "-" for NULL or null, "{...}"/"[...]" for
 * containers. Returns a pointer into `buf` or into the JSON value. */
const char *cmdutil_scalar(const json_t *v, char buf[CMDUTIL_SCALAR_LEN]);

/* "k=v,k2=v2" from a labels object (keys in the server's order), "" for an
 * empty or absent one. malloc'd; NULL on ENOMEM. */
char *cmdutil_labels(const json_t *labels);

/* One "label   value" line of a detail view on stdout: the label padded to
 * `width` after `indent` spaces; control characters of the value print as
 * '?'. A NULL value prints "-". */
void cmdutil_print_field(int indent, int width, const char *label, const char *value);

/* Pulls the first positional argument left by getopt_long; NULL when none. */
const char *cmdutil_positional(int argc, char **argv, int index);

#endif
