/* table: see table.h. Cells are stored already sanitized and cut, so sizing
 * and printing only measure and pad. */
#include "cli/table.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

struct table {
	struct table_column columns[TABLE_MAX_COLUMNS];
	char *headers[TABLE_MAX_COLUMNS];
	size_t n_columns;
	char **cells; /* row-major, n_cells of them */
	size_t n_cells, cap_cells;
};

static int is_continuation(unsigned char c)
{
	return (c & 0xC0) == 0x80;
}

size_t table_display_width(const char *s)
{
	size_t w = 0;

	for (; *s; s++)
		if (!is_continuation((unsigned char)*s))
			w++;
	return w;
}

/* Copies `s` for display: C0/C1 control characters and DEL become '?', the
 * copy is cut to TABLE_MAX_CELL_LEN bytes on a code point boundary, then to
 * `max_width` code points with an ellipsis. Returns malloc'd text or NULL. */
static char *cell_copy(const char *s, size_t max_width)
{
	size_t len = strlen(s), out_len = 0, width = 0, keep_bytes = 0;
	char *out;

	if (len > TABLE_MAX_CELL_LEN) {
		len = TABLE_MAX_CELL_LEN;
		while (len > 0 && is_continuation((unsigned char)s[len]))
			len--;
	}
	out = malloc(len + sizeof(TABLE_ELLIPSIS));
	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f) {
			out[out_len++] = '?';
		} else if (c == 0xC2 && i + 1 < len && (unsigned char)s[i + 1] >= 0x80 &&
			   (unsigned char)s[i + 1] <= 0x9F) {
			out[out_len++] = '?'; /* C1 control, e.g. CSI */
			i++;
		} else {
			out[out_len++] = (char)c;
		}
	}
	out[out_len] = '\0';
	if (max_width == 0 || table_display_width(out) <= max_width)
		return out;
	/* Keep max_width - 1 code points, then the ellipsis. */
	for (size_t i = 0; i < out_len; i++) {
		if (!is_continuation((unsigned char)out[i])) {
			if (width == max_width - 1) {
				keep_bytes = i;
				break;
			}
			width++;
		}
	}
	memcpy(out + keep_bytes, TABLE_ELLIPSIS, sizeof(TABLE_ELLIPSIS));
	return out;
}

struct table *table_new(const struct table_column *columns, size_t n)
{
	struct table *t;

	if (n == 0 || n > TABLE_MAX_COLUMNS)
		return NULL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->n_columns = n;
	for (size_t i = 0; i < n; i++) {
		t->columns[i] = columns[i];
		if (t->columns[i].max_width && t->columns[i].max_width < TABLE_MIN_CUT_WIDTH)
			t->columns[i].max_width = TABLE_MIN_CUT_WIDTH;
		t->headers[i] = cell_copy(columns[i].header ? columns[i].header : "", 0);
		if (!t->headers[i])
			return table_free(t);
		t->columns[i].header = t->headers[i];
	}
	return t;
}

struct table *table_free(struct table *t)
{
	if (!t)
		return NULL;
	for (size_t i = 0; i < t->n_cells; i++)
		free(t->cells[i]);
	free(t->cells);
	for (size_t i = 0; i < t->n_columns; i++)
		free(t->headers[i]);
	free(t);
	return NULL;
}

int table_cell(struct table *t, const char *text)
{
	size_t col = t->n_cells % t->n_columns;
	char *copy;

	if (col == 0 && t->n_cells / t->n_columns >= TABLE_MAX_ROWS)
		return -E2BIG;
	if (t->n_cells == t->cap_cells) {
		size_t cap = t->cap_cells ? t->cap_cells * 2 : 16 * t->n_columns;
		char **cells = realloc(t->cells, cap * sizeof(*cells));

		if (!cells)
			return -ENOMEM;
		t->cells = cells;
		t->cap_cells = cap;
	}
	copy = cell_copy(text ? text : "-", t->columns[col].max_width);
	if (!copy)
		return -ENOMEM;
	t->cells[t->n_cells++] = copy;
	return 0;
}

int table_cellf(struct table *t, const char *fmt, ...)
{
	va_list ap;
	char *text;
	int n, err;

	va_start(ap, fmt);
	n = vasprintf(&text, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	err = table_cell(t, text);
	free(text);
	return err;
}

size_t table_rows(const struct table *t)
{
	return (t->n_cells + t->n_columns - 1) / t->n_columns;
}

static void print_padded(FILE *out, const char *s, size_t width, enum table_align align, int last)
{
	size_t w = table_display_width(s), pad = width > w ? width - w : 0;

	if (align == TABLE_RIGHT)
		fprintf(out, "%*s%s", (int)pad, "", s);
	else if (last)
		fputs(s, out);
	else
		fprintf(out, "%s%*s", s, (int)pad, "");
}

static void print_row(const struct table *t, FILE *out, const char *const *row, size_t n_row,
		      const size_t *widths)
{
	for (size_t c = 0; c < t->n_columns; c++) {
		const char *s = c < n_row ? row[c] : "-";

		if (c > 0)
			fputs("  ", out);
		print_padded(out, s, widths[c], t->columns[c].align, c + 1 == t->n_columns);
	}
	fputc('\n', out);
}

int table_print(const struct table *t, FILE *out)
{
	size_t widths[TABLE_MAX_COLUMNS];

	for (size_t c = 0; c < t->n_columns; c++)
		widths[c] = table_display_width(t->headers[c]);
	for (size_t i = 0; i < t->n_cells; i++) {
		size_t c = i % t->n_columns, w = table_display_width(t->cells[i]);

		if (w > widths[c])
			widths[c] = w;
	}
	if (t->n_cells % t->n_columns)
		for (size_t c = t->n_cells % t->n_columns; c < t->n_columns; c++)
			if (widths[c] < 1)
				widths[c] = 1;
	print_row(t, out, (const char *const *)t->headers, t->n_columns, widths);
	for (size_t i = 0; i < t->n_cells; i += t->n_columns) {
		size_t n_row = t->n_cells - i < t->n_columns ? t->n_cells - i : t->n_columns;

		print_row(t, out, (const char *const *)t->cells + i, n_row, widths);
	}
	return ferror(out) ? -EIO : 0;
}
