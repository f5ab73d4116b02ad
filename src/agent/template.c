/* template: see template.h. A compiled template is a list of parts, each a
 * literal run or one placeholder. */
#include "agent/template.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum part_kind {
	PART_LITERAL,
	PART_HOSTNAME,
	PART_PID,
	PART_COMM,
	PART_EXE,
	PART_CGROUP,
};

static const struct {
	const char *name;
	enum part_kind kind;
} placeholders[] = {
    {"hostname", PART_HOSTNAME}, {"pid", PART_PID},	  {"comm", PART_COMM},
    {"exe", PART_EXE},		 {"cgroup", PART_CGROUP},
};

struct part {
	enum part_kind kind;
	size_t offset; /* PART_LITERAL: into literals */
	size_t length;
};

struct template
{
	char *source;
	char *literals; /* literal runs with escapes resolved, back to back */
	struct part *parts;
	size_t n_parts;
};

struct template *template_free(struct template *t)
{
	if (!t)
		return NULL;
	free(t->source);
	free(t->literals);
	free(t->parts);
	free(t);
	return NULL;
}

const char *template_source(const struct template *t)
{
	return t->source;
}

int template_uses_pid(const struct template *t)
{
	for (size_t i = 0; i < t->n_parts; i++)
		if (t->parts[i].kind == PART_PID)
			return 1;
	return 0;
}

__attribute__((format(printf, 3, 4))) static void set_err(char *err, size_t errlen, const char *fmt,
							  ...)
{
	va_list ap;

	if (!errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static int lookup_placeholder(const char *name, size_t len, enum part_kind *ret)
{
	for (size_t i = 0; i < sizeof(placeholders) / sizeof(placeholders[0]); i++)
		if (strlen(placeholders[i].name) == len &&
		    memcmp(placeholders[i].name, name, len) == 0) {
			*ret = placeholders[i].kind;
			return 0;
		}
	return -EINVAL;
}

int template_compile(const char *text, struct template **ret, char *err, size_t errlen)
{
	size_t len = strlen(text), lit_len = 0;
	struct template *t;
	int r = -EINVAL;

	if (len > TEMPLATE_MAX_SOURCE) {
		set_err(err, errlen, "template longer than %d bytes", TEMPLATE_MAX_SOURCE);
		return -EINVAL;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->source = strdup(text);
	t->literals = malloc(len + 1);
	/* At most one part per input byte. */
	t->parts = calloc(len + 1, sizeof(*t->parts));
	if (!t->source || !t->literals || !t->parts) {
		r = -ENOMEM;
		goto fail;
	}
	for (size_t i = 0; i < len;) {
		struct part *p = &t->parts[t->n_parts];

		if (text[i] == '{' && text[i + 1] != '{') {
			const char *close = strchr(text + i + 1, '}');
			char name[32];

			if (!close) {
				set_err(err, errlen, "unclosed '{' in template \"%s\"", text);
				goto fail;
			}
			if (lookup_placeholder(text + i + 1, (size_t)(close - text - i - 1),
					       &p->kind) < 0) {
				snprintf(name, sizeof(name), "%.*s", (int)(close - text - i - 1),
					 text + i + 1);
				set_err(err, errlen,
					"unknown placeholder {%s} (known: {hostname} {pid} {comm} "
					"{exe} {cgroup})",
					name);
				goto fail;
			}
			t->n_parts++;
			i = (size_t)(close - text) + 1;
			continue;
		}
		if (text[i] == '}' && text[i + 1] != '}') {
			set_err(err, errlen,
				"unmatched '}' in template \"%s\" (write }} for a brace)", text);
			goto fail;
		}
		/* A literal byte; "{{" and "}}" are one escaped brace. */
		if (t->n_parts == 0 || t->parts[t->n_parts - 1].kind != PART_LITERAL) {
			p->kind = PART_LITERAL;
			p->offset = lit_len;
			p->length = 0;
			t->n_parts++;
		}
		t->literals[lit_len++] = text[i];
		t->parts[t->n_parts - 1].length++;
		i += (text[i] == '{' || text[i] == '}') ? 2 : 1;
	}
	t->literals[lit_len] = '\0';
	*ret = t;
	return 0;
fail:
	template_free(t);
	return r;
}

struct out {
	char *buf;
	size_t size, used;
	int truncated;
};

static void out_append(struct out *o, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (o->used + 1 >= o->size) {
			o->truncated = 1;
			return;
		}
		o->buf[o->used++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
}

static void out_str(struct out *o, const char *s)
{
	if (s)
		out_append(o, s, strlen(s));
}

/* Length of the longest prefix of buf[0..len) that does not end inside a
 * UTF-8 sequence (a cut name must stay valid UTF-8 for JSON). */
static size_t utf8_complete_prefix(const char *buf, size_t len)
{
	size_t i = len, need;
	unsigned char c;

	while (i > 0 && len - i < 4 && ((unsigned char)buf[i - 1] & 0xc0) == 0x80)
		i--;
	if (i == 0)
		return len;
	c = (unsigned char)buf[i - 1];
	if (c < 0xc0)
		return len;
	need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
	return len - (i - 1) < need ? i - 1 : len;
}

int template_expand(const struct template *t, const struct template_vars *vars, char *buf,
		    size_t size)
{
	struct out o = {.buf = buf, .size = size};
	char num[16];

	for (size_t i = 0; i < t->n_parts && !o.truncated; i++) {
		const struct part *p = &t->parts[i];

		switch (p->kind) {
		case PART_LITERAL:
			out_append(&o, t->literals + p->offset, p->length);
			break;
		case PART_HOSTNAME:
			out_str(&o, vars->hostname);
			break;
		case PART_PID:
			snprintf(num, sizeof(num), "%u", vars->pid);
			out_str(&o, num);
			break;
		case PART_COMM:
			out_str(&o, vars->comm);
			break;
		case PART_EXE:
			out_str(&o, vars->exe);
			break;
		case PART_CGROUP:
			out_str(&o, vars->cgroup);
			break;
		}
	}
	if (o.truncated)
		o.used = utf8_complete_prefix(buf, o.used);
	buf[o.used] = '\0';
	return o.truncated ? -E2BIG : (int)o.used;
}
