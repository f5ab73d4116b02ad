/* strbuf: see strbuf.h. */
#include "core/strbuf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"

#define STRBUF_MIN_CAP 64

void strbuf_init(struct strbuf *b, size_t max_len)
{
	*b = (struct strbuf){.max_len = max_len};
}

/* Makes room for `extra` more bytes plus the terminator. 0 or -errno. */
static int strbuf_reserve(struct strbuf *b, size_t extra)
{
	size_t need, cap;
	char *data;

	if (b->error)
		return b->error;
	if (extra > b->max_len - b->len) {
		b->error = -E2BIG;
		return b->error;
	}
	need = b->len + extra + 1;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : STRBUF_MIN_CAP;
	while (cap < need)
		cap *= 2;
	data = core_realloc(b->data, cap);
	if (!data) {
		b->error = -ENOMEM;
		return b->error;
	}
	b->data = data;
	b->cap = cap;
	return 0;
}

void strbuf_append(struct strbuf *b, const char *s, size_t len)
{
	if (strbuf_reserve(b, len))
		return;
	memcpy(b->data + b->len, s, len);
	b->len += len;
	b->data[b->len] = '\0';
}

void strbuf_puts(struct strbuf *b, const char *s)
{
	strbuf_append(b, s, strlen(s));
}

void strbuf_printf(struct strbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (strbuf_reserve(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

int strbuf_error(const struct strbuf *b)
{
	return b->error;
}

char *strbuf_steal(struct strbuf *b)
{
	char *s;

	if (strbuf_reserve(b, 0)) {
		strbuf_release(b);
		return NULL;
	}
	b->data[b->len] = '\0';
	s = b->data;
	strbuf_init(b, b->max_len);
	return s;
}

void strbuf_release(struct strbuf *b)
{
	free(b->data);
	strbuf_init(b, b->max_len);
}
