/* Unit tests of cli/table: widths from content, right alignment, ellipsis
 * cuts on code point boundaries, terminal safety, partial rows. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "harness.h"

#include "cli/table.h"

/* Prints t into a malloc'd string. */
static char *render(const struct table *t)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);

	if (!out)
		return NULL;
	CHECK_INT_EQ(table_print(t, out), 0);
	fclose(out);
	return buf;
}

TEST(widths_follow_content_and_numbers_align_right)
{
	static const struct table_column cols[] = {
	    {"NAME", TABLE_LEFT, 0}, {"PID", TABLE_RIGHT, 0}, {"HOST", TABLE_LEFT, 0}};
	struct table *t = table_new(cols, 3);
	char *out;

	CHECK(t != NULL);
	CHECK_INT_EQ(table_cell(t, "nginx"), 0);
	CHECK_INT_EQ(table_cellf(t, "%d", 7), 0);
	CHECK_INT_EQ(table_cell(t, "a"), 0);
	CHECK_INT_EQ(table_cell(t, "x"), 0);
	CHECK_INT_EQ(table_cellf(t, "%d", 123456), 0);
	CHECK_INT_EQ(table_cell(t, "host-b"), 0);
	CHECK_INT_EQ(table_rows(t), 2);
	out = render(t);
	CHECK_STR_EQ(out, "NAME      PID  HOST\n"
			  "nginx       7  a\n"
			  "x      123456  host-b\n");
	free(out);
	table_free(t);
}

TEST(header_wider_than_cells_sets_width)
{
	static const struct table_column cols[] = {{"LAST SEEN", TABLE_LEFT, 0},
						   {"N", TABLE_RIGHT, 0}};
	struct table *t = table_new(cols, 2);
	char *out;

	table_cell(t, "3s ago");
	table_cell(t, "10");
	out = render(t);
	CHECK_STR_EQ(out, "LAST SEEN   N\n"
			  "3s ago     10\n");
	free(out);
	table_free(t);
}

TEST(over_long_cells_are_cut_with_an_ellipsis)
{
	static const struct table_column cols[] = {{"CAUSE", TABLE_LEFT, 8}, {"X", TABLE_LEFT, 0}};
	struct table *t = table_new(cols, 2);
	char *out;

	table_cell(t, "PROCESS_CPU >= 80 %");
	table_cell(t, "y");
	table_cell(t, "12345678"); /* exactly the maximum: kept whole */
	table_cell(t, "z");
	out = render(t);
	CHECK_STR_EQ(out, "CAUSE     X\n"
			  "PROCESS\xe2\x80\xa6  y\n"
			  "12345678  z\n");
	free(out);
	table_free(t);
}

TEST(cut_never_splits_a_multibyte_character)
{
	static const struct table_column cols[] = {{"N", TABLE_LEFT, 4}};
	struct table *t = table_new(cols, 1);
	char *out;

	/* "ééééé": 5 code points of 2 bytes each. */
	table_cell(t, "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9");
	out = render(t);
	CHECK_STR_EQ(out, "N\n\xc3\xa9\xc3\xa9\xc3\xa9\xe2\x80\xa6\n");
	CHECK_INT_EQ(table_display_width("\xc3\xa9\xe2\x86\x92x"), 3);
	free(out);
	table_free(t);
}

TEST(control_characters_are_made_harmless)
{
	static const struct table_column cols[] = {{"NAME", TABLE_LEFT, 0}};
	struct table *t = table_new(cols, 1);
	char *out;

	table_cell(t, "a\x1b[31mred\tb\xc2\x9b"
		      "c");
	out = render(t);
	CHECK_STR_EQ(out, "NAME\na?[31mred?b?c\n");
	free(out);
	table_free(t);
}

TEST(null_cells_and_partial_rows_print_a_dash)
{
	static const struct table_column cols[] = {{"A", TABLE_LEFT, 0}, {"B", TABLE_RIGHT, 0}};
	struct table *t = table_new(cols, 2);
	char *out;

	table_cell(t, NULL);
	table_cell(t, "1");
	table_cell(t, "last");
	CHECK_INT_EQ(table_rows(t), 2);
	out = render(t);
	CHECK_STR_EQ(out, "A     B\n"
			  "-     1\n"
			  "last  -\n");
	free(out);
	table_free(t);
}

TEST(header_only_when_no_rows)
{
	static const struct table_column cols[] = {{"ID", TABLE_LEFT, 0}, {"PID", TABLE_RIGHT, 0}};
	struct table *t = table_new(cols, 2);
	char *out = render(t);

	CHECK_STR_EQ(out, "ID  PID\n");
	free(out);
	table_free(t);
}

TEST(bad_column_counts_are_refused_and_free_accepts_null)
{
	static const struct table_column one[] = {{"A", TABLE_LEFT, 0}};

	CHECK(table_new(one, 0) == NULL);
	CHECK(table_new(one, TABLE_MAX_COLUMNS + 1) == NULL);
	CHECK(table_free(NULL) == NULL);
}

TEST(very_long_cells_are_bounded)
{
	static const struct table_column cols[] = {{"A", TABLE_LEFT, 0}};
	struct table *t = table_new(cols, 1);
	size_t n = TABLE_MAX_CELL_LEN * 3;
	char *big = malloc(n + 1), *out;

	memset(big, 'x', n);
	big[n] = '\0';
	CHECK_INT_EQ(table_cell(t, big), 0);
	out = render(t);
	CHECK_INT_EQ(strlen(out), 2 + TABLE_MAX_CELL_LEN + 1);
	free(out);
	free(big);
	table_free(t);
}

TEST(a_failed_stream_is_reported)
{
	static const struct table_column cols[] = {{"A", TABLE_LEFT, 0}};
	struct table *t = table_new(cols, 1);
	FILE *ro = fopen("/dev/null", "r");

	table_cell(t, "x");
	CHECK(ro != NULL);
	CHECK_INT_EQ(table_print(t, ro), -EIO);
	fclose(ro);
	table_free(t);
}

int main(void)
{
	RUN(widths_follow_content_and_numbers_align_right);
	RUN(header_wider_than_cells_sets_width);
	RUN(over_long_cells_are_cut_with_an_ellipsis);
	RUN(cut_never_splits_a_multibyte_character);
	RUN(control_characters_are_made_harmless);
	RUN(null_cells_and_partial_rows_print_a_dash);
	RUN(header_only_when_no_rows);
	RUN(bad_column_counts_are_refused_and_free_accepts_null);
	RUN(very_long_cells_are_bounded);
	RUN(a_failed_stream_is_reported);
	return harness_finish();
}
