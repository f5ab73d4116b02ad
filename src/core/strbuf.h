/* strbuf: a growable NUL-terminated string with a hard maximum — the one way
 * src/core builds text of unknown length (canonical JSON, descriptions).
 *
 * Appends never leave the buffer half-written: on failure (the maximum would
 * be passed, or memory ran out) the buffer keeps its old contents and remembers
 * the error, and every later append is a no-op, so a caller can append a whole
 * sequence and check strbuf_error() once at the end.
 */
#ifndef CONTPROF_CORE_STRBUF_H
#define CONTPROF_CORE_STRBUF_H

#include <stddef.h>

struct strbuf {
	char *data; /* NUL-terminated once anything was appended; may be NULL */
	size_t len;
	size_t cap;
	size_t max_len; /* longest string allowed, terminator excluded */
	int error;	/* 0, -ENOMEM or -E2BIG; sticky */
};

void strbuf_init(struct strbuf *b, size_t max_len);
void strbuf_append(struct strbuf *b, const char *s, size_t len);
void strbuf_puts(struct strbuf *b, const char *s);
void strbuf_printf(struct strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int strbuf_error(const struct strbuf *b);
/* Hands the string to the caller (free() it) and resets the buffer. Returns
 * NULL when an append failed (the buffer is released then) and an empty
 * string when nothing was appended. */
char *strbuf_steal(struct strbuf *b);
void strbuf_release(struct strbuf *b);

#endif
