/* token: the shared secrets of the server's two roles — the agent token
 * (agent endpoints) and the write token (policy and task writes of the query
 * API) — as bearer tokens: reading them from a file (the first line,
 * surrounding blanks trimmed) whose permissions keep other users out, from
 * the environment, and comparing them in constant time.
 *
 * Refuses empty tokens, tokens over TOKEN_MAX_LEN, control characters, and
 * files that are not regular or that group or others may read or write.
 * Also reads TLS PEM files, refusing world-accessible private keys. Owns no state.
 */
#ifndef CONTPROF_UTIL_TOKEN_H
#define CONTPROF_UTIL_TOKEN_H

#include <stdbool.h>
#include <stddef.h>

#define TOKEN_MAX_LEN 4096
/* One token for both roles (agent and write); the role's own variable wins. */
#define TOKEN_ENV	    "CONTPROF_TOKEN"
#define TOKEN_AGENT_ENV	    "CONTPROF_AGENT_TOKEN"
#define TOKEN_WRITE_ENV	    "CONTPROF_WRITE_TOKEN"
#define TOKEN_ERROR_MAX_LEN 512

/* Reads the token of `path`. 0 with *ret malloc'd; else -errno with a
 * sentence naming the file and the fix in err (errlen bytes):
 *   -EPERM   group or others may read or write it (mode shown, chmod hint);
 *   -EINVAL  empty, too long, holding control characters, or not a regular
 *            file;
 *   other    open/read failures. */
int token_read_file(const char *path, char **ret, char *err, size_t errlen);

/* 0 when `fd` (opened from `path`) is a regular file that neither group nor
 * others may read or write; -EPERM / -EINVAL with the reason in err. */
int token_check_private_fd(int fd, const char *path, char *err, size_t errlen);

/* The token of the first of `env_names` (NULL-terminated list) that is set
 * and not empty: 0 with *ret malloc'd (NULL when none is set), -EINVAL when
 * the value holds control characters or is too long, -ENOMEM. */
int token_from_env(const char *const *env_names, char **ret, char *err, size_t errlen);

#define TOKEN_PEM_MAX_BYTES (1024 * 1024)

/* Reads a PEM file (TLS certificate, key or CA bundle) whole, NUL-terminated:
 * 0 with *ret malloc'd, else -errno with the reason in err. A private key
 * (`is_key`) must be a regular file others ("world") may not read or write
 * (a group, e.g. ssl-cert, may read it): -EPERM otherwise. Over
 * TOKEN_PEM_MAX_BYTES or empty: -EINVAL. */
int token_read_pem(const char *path, bool is_key, char **ret, char *err, size_t errlen);

/* Constant-time comparison of two NUL-terminated secrets: the time taken
 * depends only on the length of `given`, never on where they differ. An
 * empty `expected` matches nothing. */
bool token_equal(const char *expected, const char *given);

#endif
