/* token: reading the shared secret that agents and writers present as a
 * bearer token — the first line of a file, surrounding whitespace trimmed.
 * Refuses empty tokens, tokens over TOKEN_MAX_LEN and control characters. */
#ifndef CONTPROF_UTIL_TOKEN_H
#define CONTPROF_UTIL_TOKEN_H

#define TOKEN_MAX_LEN 4096
#define TOKEN_ENV     "CONTPROF_TOKEN"

/* 0 with *ret malloc'd, -errno when unreadable, -EINVAL when empty, too long
 * or holding control characters. */
int token_read_file(const char *path, char **ret);

#endif
