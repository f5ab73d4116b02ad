/* table: the human table printer of every CLI listing.
 *
 * Owns: collecting cells row by row, sizing each column from its content
 * (display width in UTF-8 code points), right-aligning numeric columns,
 * cutting over-long cells to a column's maximum with an ellipsis, and making
 * cells safe for a terminal (control characters become '?'). Columns are
 * separated by two spaces; the last column carries no trailing blanks.
 * Does not own: formatting values (format.h) or deciding what to list.
 */
#ifndef CONTPROF_CLI_TABLE_H
#define CONTPROF_CLI_TABLE_H

#include <stddef.h>
#include <stdio.h>

/* Hard bounds: a table never grows past these, whatever the server sends. */
#define TABLE_MAX_COLUMNS   32
#define TABLE_MAX_ROWS	    1000000
#define TABLE_MAX_CELL_LEN  4096
#define TABLE_ELLIPSIS	    "\xe2\x80\xa6" /* U+2026 */
#define TABLE_MIN_CUT_WIDTH 2		   /* a cut cell keeps >= 1 char + ellipsis */

enum table_align {
	TABLE_LEFT,
	TABLE_RIGHT, /* numbers */
};

struct table_column {
	const char *header;
	enum table_align align;
	size_t max_width; /* display columns; 0 = unlimited */
};

struct table;

/* New table with `n` columns (1..TABLE_MAX_COLUMNS); headers are copied.
 * Returns NULL on ENOMEM or a bad column count. */
struct table *table_new(const struct table_column *columns, size_t n);

/* Accepts NULL; returns NULL so `t = table_free(t)` is always safe. */
struct table *table_free(struct table *t);

/* Appends one cell to the current row; a row is complete after n cells and
 * the next cell starts a new one. NULL is printed as "-". The text is copied
 * (cut to TABLE_MAX_CELL_LEN bytes on a code point boundary).
 * Returns 0, -ENOMEM, or -E2BIG past TABLE_MAX_ROWS. */
int table_cell(struct table *t, const char *text);
int table_cellf(struct table *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Rows added so far (a partial row counts). */
size_t table_rows(const struct table *t);

/* Prints header and rows to `out` (a trailing partial row is padded with
 * "-"). Returns 0, or -EIO when the stream reports an error. */
int table_print(const struct table *t, FILE *out);

/* Display width of a UTF-8 string: code points, not bytes. */
size_t table_display_width(const char *s);

#endif
