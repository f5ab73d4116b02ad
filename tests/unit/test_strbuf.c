/* Unit tests of core/strbuf and core/alloc (the fault injection itself). */
#include <errno.h>
#include <stdlib.h>

#include "core/alloc.h"
#include "core/strbuf.h"
#include "harness.h"

TEST(alloc_fails_after_n_allocations)
{
	void *a, *b;
	char *s;

	core_alloc_fail_after(1);
	a = core_malloc(16);
	CHECK(a != NULL);
	CHECK(core_malloc(16) == NULL);
	CHECK(core_calloc(2, 8) == NULL);
	CHECK(core_strdup("x") == NULL);
	b = core_realloc(a, 64);
	CHECK(b == NULL); /* a stays valid */
	core_alloc_fail_after(-1);
	b = core_realloc(a, 64);
	CHECK(b != NULL);
	s = core_strdup("contprof");
	CHECK_STR_EQ(s, "contprof");
	a = core_calloc(4, 4);
	CHECK(a != NULL && ((char *)a)[15] == 0);
	free(a);
	free(b);
	free(s);
}

TEST(strbuf_appends_and_steals)
{
	struct strbuf b;
	char *s;

	strbuf_init(&b, 2000);
	strbuf_puts(&b, "a");
	strbuf_append(&b, "bcdef", 2);
	strbuf_printf(&b, "-%d-%s", 42, "x");
	for (int i = 0; i < 100; i++) /* grows past the first capacity */
		strbuf_puts(&b, "0123456789");
	CHECK_INT_EQ(strbuf_error(&b), 0);
	CHECK_INT_EQ(b.len, 1008);
	s = strbuf_steal(&b);
	CHECK(s != NULL && strncmp(s, "abc-42-x0123", 12) == 0);
	CHECK_INT_EQ(s ? strlen(s) : 0, 1008);
	CHECK(b.data == NULL && b.len == 0);
	free(s);
}

TEST(strbuf_empty_steal_is_empty_string)
{
	struct strbuf b;
	char *s;

	strbuf_init(&b, 10);
	s = strbuf_steal(&b);
	CHECK_STR_EQ(s, "");
	free(s);
}

TEST(strbuf_refuses_past_max_and_stays_failed)
{
	struct strbuf b;

	strbuf_init(&b, 5);
	strbuf_puts(&b, "12345");
	CHECK_INT_EQ(strbuf_error(&b), 0);
	CHECK_STR_EQ(b.data, "12345");
	strbuf_puts(&b, "6");
	CHECK_INT_EQ(strbuf_error(&b), -E2BIG);
	CHECK_STR_EQ(b.data, "12345"); /* old contents kept */
	strbuf_printf(&b, "%s", "");   /* sticky: no-op */
	CHECK_INT_EQ(strbuf_error(&b), -E2BIG);
	CHECK(strbuf_steal(&b) == NULL);
	CHECK(b.data == NULL && strbuf_error(&b) == 0); /* released and reusable */
	strbuf_release(&b);
}

TEST(strbuf_reports_enomem)
{
	struct strbuf b;

	strbuf_init(&b, 100);
	core_alloc_fail_after(0);
	strbuf_printf(&b, "%d", 7);
	core_alloc_fail_after(-1);
	CHECK_INT_EQ(strbuf_error(&b), -ENOMEM);
	strbuf_puts(&b, "later");
	CHECK_INT_EQ(strbuf_error(&b), -ENOMEM);
	CHECK(strbuf_steal(&b) == NULL);
}

int main(void)
{
	RUN(alloc_fails_after_n_allocations);
	RUN(strbuf_appends_and_steals);
	RUN(strbuf_empty_steal_is_empty_string);
	RUN(strbuf_refuses_past_max_and_stays_failed);
	RUN(strbuf_reports_enomem);
	return harness_finish();
}
