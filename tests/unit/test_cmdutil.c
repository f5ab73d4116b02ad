/* Unit tests of cli/cmdutil: reading fields of server answers without
 * trusting their types, labels, listing shapes, detail lines. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "harness.h"

#include "cli/cmdutil.h"

TEST(scalars_of_every_type_read_as_text)
{
	json_t *doc =
	    json_pack("{s:s, s:I, s:f, s:f, s:b, s:n, s:{}, s:[]}", "s", "web-3", "i",
		      (json_int_t)812, "r", 91.5, "whole", 80.0, "t", 1, "null", "o", "a");
	char buf[CMDUTIL_SCALAR_LEN];

	CHECK_STR_EQ(cmdutil_scalar(json_object_get(doc, "s"), buf), "web-3");
	CHECK_STR_EQ(cmdutil_scalar(json_object_get(doc, "i"), buf), "812");
	CHECK_STR_EQ(cmdutil_scalar(json_object_get(doc, "r"), buf), "91.5");
	CHECK_STR_EQ(cmdutil_scalar(json_object_get(doc, "whole"), buf), "80");
	CHECK_STR_EQ(cmdutil_scalar(json_object_get(doc, "t"), buf), "true");
	CHECK_STR_EQ(cmdutil_scalar(json_object_get(doc, "null"), buf), "-");
	CHECK_STR_EQ(cmdutil_scalar(json_object_get(doc, "absent"), buf), "-");
	CHECK_STR_EQ(cmdutil_scalar(json_object_get(doc, "o"), buf), "{...}");
	CHECK_STR_EQ(cmdutil_scalar(json_object_get(doc, "a"), buf), "[...]");
	json_decref(doc);
}

TEST(typed_members_refuse_other_types)
{
	json_t *doc = json_pack("{s:I, s:f, s:s, s:I}", "t", (json_int_t)1764061200000LL, "real",
				1764061200000.0, "str", "1764061200000", "neg", (json_int_t)-5);
	double v = -1;

	CHECK_INT_EQ(cmdutil_ms(doc, "t"), 1764061200000LL);
	CHECK_INT_EQ(cmdutil_ms(doc, "real"), 1764061200000LL);
	CHECK_INT_EQ(cmdutil_ms(doc, "str"), 0);
	CHECK_INT_EQ(cmdutil_ms(doc, "neg"), 0);
	CHECK_INT_EQ(cmdutil_ms(doc, "absent"), 0);
	CHECK(!cmdutil_num(doc, "str", &v));
	CHECK_DBL_EQ(v, -1);
	CHECK(cmdutil_num(doc, "t", &v));
	CHECK(cmdutil_str(doc, "t") == NULL);
	CHECK_STR_EQ(cmdutil_str(doc, "str"), "1764061200000");
	CHECK(cmdutil_str(NULL, "x") == NULL);
	json_decref(doc);
}

TEST(labels_join_in_the_servers_order)
{
	json_t *labels = json_loads("{\"tier\":\"frontend\",\"zone\":\"a\",\"n\":3}", 0, NULL);
	json_t *empty = json_object();
	char *text = cmdutil_labels(labels);

	CHECK_STR_EQ(text, "tier=frontend,zone=a,n=3");
	free(text);
	text = cmdutil_labels(empty);
	CHECK_STR_EQ(text, "");
	free(text);
	text = cmdutil_labels(NULL);
	CHECK_STR_EQ(text, "");
	free(text);
	json_decref(labels);
	json_decref(empty);
}

TEST(listings_are_arrays_or_wrapped_arrays)
{
	json_t *array = json_loads("[1,2]", 0, NULL);
	json_t *named = json_loads("{\"tasks\":[1]}", 0, NULL);
	json_t *items = json_loads("{\"items\":[1,2,3]}", 0, NULL);
	json_t *other = json_loads("{\"tasks\":7}", 0, NULL);

	CHECK(cmdutil_list(array, "tasks") == array);
	CHECK_INT_EQ(json_array_size(cmdutil_list(named, "tasks")), 1);
	CHECK_INT_EQ(json_array_size(cmdutil_list(items, "tasks")), 3);
	CHECK(cmdutil_list(other, "tasks") == NULL);
	CHECK(cmdutil_list(NULL, "tasks") == NULL);
	json_decref(array);
	json_decref(named);
	json_decref(items);
	json_decref(other);
}

TEST(detail_lines_align_and_neutralize_control_characters)
{
	char path[] = "/tmp/contprof-test-field-XXXXXX", text[256] = {0};
	int fd = mkstemp(path), saved = dup(STDOUT_FILENO);

	/* cmdutil_print_field writes to stdout: point stdout at a temp file. */
	CHECK(fd >= 0 && saved >= 0);
	fflush(stdout);
	dup2(fd, STDOUT_FILENO);
	cmdutil_print_field(2, 9, "monitor", "PROCESS_CPU");
	cmdutil_print_field(0, 9, "reason", "a\x1b[2Jb");
	cmdutil_print_field(0, 9, "ended", NULL);
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	CHECK(pread(fd, text, sizeof(text) - 1, 0) > 0);
	CHECK_STR_EQ(text, "  monitor   PROCESS_CPU\n"
			   "reason    a?[2Jb\n"
			   "ended     -\n");
	close(fd);
	unlink(path);
}

int main(void)
{
	RUN(scalars_of_every_type_read_as_text);
	RUN(typed_members_refuse_other_types);
	RUN(labels_join_in_the_servers_order);
	RUN(listings_are_arrays_or_wrapped_arrays);
	RUN(detail_lines_align_and_neutralize_control_characters);
	return harness_finish();
}
