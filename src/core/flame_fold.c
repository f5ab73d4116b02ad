/* flame_fold: the folded-stack line format of flame.h — parsing one line or
 * a whole text and formatting one line. No allocation.
 */
#include "core/flame_impl.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

size_t flame_format_u64(char *p, uint64_t v)
{
	char tmp[FLAME_UINT64_DIGITS];
	size_t n = 0, i;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (i = 0; i < n; i++)
		p[i] = tmp[n - 1 - i];
	return n;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

int flame_split_stack(const char *s, size_t len, struct frame_ref *refs, uint32_t max_refs,
		      uint32_t *ret_depth, const char **ret_reason)
{
	const char *end = s + len, *semi;
	uint32_t depth = 0;

	if (memchr(s, '\n', len) || memchr(s, '\r', len) || memchr(s, '\0', len)) {
		*ret_reason = "invalid character (CR, LF or NUL) in a frame";
		return -EINVAL;
	}
	for (;; s = semi + 1) {
		const char *frame_end;

		semi = memchr(s, ';', (size_t)(end - s));
		frame_end = semi ? semi : end;
		if (frame_end == s) {
			*ret_reason = "empty frame";
			return -EINVAL;
		}
		if (depth < max_refs)
			refs[depth] = (struct frame_ref){.p = s, .len = (size_t)(frame_end - s)};
		if (depth < UINT32_MAX)
			depth++;
		if (!semi)
			break;
	}
	*ret_depth = depth;
	return 0;
}

struct span {
	const char *p;
	size_t len;
};

/* Splits the last whitespace-separated field off s[0..*len) (which has no
 * trailing whitespace); *len becomes the length of what precedes it, without
 * the whitespace in between. */
static struct span take_last_field(const char *s, size_t *len)
{
	size_t start = *len;
	struct span field;

	while (start > 0 && !is_blank(s[start - 1]))
		start--;
	field.p = s + start;
	field.len = *len - start;
	while (start > 0 && is_blank(s[start - 1]))
		start--;
	*len = start;
	return field;
}

/* 0, -EINVAL (not all digits) or -ERANGE (> FLAME_VALUE_MAX). */
static int parse_value(struct span f, uint64_t *ret)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < f.len; i++)
		if (f.p[i] < '0' || f.p[i] > '9')
			return -EINVAL;
	for (i = 0; i < f.len; i++) {
		v = v * 10 + (uint64_t)(f.p[i] - '0');
		if (v > FLAME_VALUE_MAX)
			return -ERANGE;
	}
	*ret = v;
	return 0;
}

int flame_parse_line(const char *line, size_t len, enum flame_fields fields,
		     struct flame_sample *ret, const char **ret_reason)
{
	const char *unused_reason;
	struct flame_sample s = {0};
	int r;

	if (!ret_reason)
		ret_reason = &unused_reason;
	if (len > 0 && line[len - 1] == '\n')
		len--; /* a whole line as flame_format_line writes it */
	while (len > 0 && is_blank(line[0])) {
		line++;
		len--;
	}
	while (len > 0 && is_blank(line[len - 1]))
		len--;
	if (len == 0) {
		*ret_reason = "empty line";
		return -EINVAL;
	}
	if (fields == FLAME_FIELDS_COUNT_DURATION) {
		r = parse_value(take_last_field(line, &len), &s.duration_ns);
		if (r == -ERANGE) {
			*ret_reason = "duration above 2^53-1";
			return r;
		}
		if (r < 0 || len == 0) {
			*ret_reason = "missing count or duration (want: STACK COUNT DURATION_NS)";
			return -EINVAL;
		}
	}
	r = parse_value(take_last_field(line, &len), &s.count);
	if (r == -ERANGE) {
		*ret_reason = "count above 2^53-1";
		return r;
	}
	if (r < 0) {
		*ret_reason = fields == FLAME_FIELDS_COUNT_DURATION
				  ? "missing count or duration (want: STACK COUNT DURATION_NS)"
				  : "missing count (want: STACK COUNT)";
		return -EINVAL;
	}
	if (len == 0) {
		*ret_reason = "missing stack";
		return -EINVAL;
	}
	r = flame_split_stack(line, len, NULL, 0, &s.depth, ret_reason);
	if (r < 0)
		return r;
	s.stack = line;
	s.stack_len = len;
	*ret = s;
	return 0;
}

static const char *callback_reason(int r)
{
	switch (r) {
	case -E2BIG:
		return "flame graph node limit reached";
	case -EOVERFLOW:
		return "a total would pass 2^53-1";
	case -ENOMEM:
		return "out of memory";
	default:
		return "refused by the caller";
	}
}

int flame_parse_folded(const char *text, size_t len, enum flame_fields fields, flame_sample_fn fn,
		       void *ctx, struct flame_error *ret_err)
{
	size_t pos = 0, line_no = 0;

	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - text) : len, i;
		struct flame_sample s;
		const char *reason;
		int r;

		line_no++;
		for (i = pos; i < end && is_blank(text[i]); i++)
			;
		if (i < end) {
			r = flame_parse_line(text + pos, end - pos, fields, &s, &reason);
			if (r == 0 && fn) {
				r = fn(ctx, &s);
				reason = callback_reason(r);
			}
			if (r < 0) {
				if (ret_err) {
					ret_err->line = line_no;
					ret_err->reason = reason;
				}
				return r;
			}
		}
		pos = end + 1;
	}
	return 0;
}

/* -EINVAL unless `frame` is a valid folded frame; its length in *ret_len. */
int flame_check_frame(const char *frame, size_t *ret_len)
{
	size_t len = strlen(frame);

	if (len == 0 || strpbrk(frame, ";\n\r"))
		return -EINVAL;
	*ret_len = len;
	return 0;
}

int flame_format_line(char *buf, size_t size, const char *const *frames, size_t n, uint64_t count,
		      const uint64_t *duration_ns, size_t *ret_len)
{
	char digits[FLAME_UINT64_DIGITS];
	size_t need = 0, i, len;
	char *p = buf;

	if (n == 0)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		if (flame_check_frame(frames[i], &len) < 0)
			return -EINVAL;
		need += len + 1; /* the ';' after it, or the ' ' before COUNT */
	}
	if (count > FLAME_VALUE_MAX || (duration_ns && *duration_ns > FLAME_VALUE_MAX))
		return -ERANGE;
	need += flame_format_u64(digits, count) + 1; /* + '\n' */
	if (duration_ns)
		need += 1 + flame_format_u64(digits, *duration_ns);
	*ret_len = need;
	if (size <= need)
		return -ENOSPC;
	for (i = 0; i < n; i++) {
		len = strlen(frames[i]);
		memcpy(p, frames[i], len);
		p += len;
		*p++ = i + 1 < n ? ';' : ' ';
	}
	p += flame_format_u64(p, count);
	if (duration_ns) {
		*p++ = ' ';
		p += flame_format_u64(p, *duration_ns);
	}
	*p++ = '\n';
	*p = '\0';
	return 0;
}
