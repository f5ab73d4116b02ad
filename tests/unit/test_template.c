/* Unit tests for the agent's name templates. */
#include <errno.h>
#include <stdlib.h>

#include "agent/template.h"
#include "harness.h"

static const struct template_vars vars = {
    .hostname = "db1", .pid = 4242, .comm = "nginx", .exe = "/usr/sbin/nginx", .cgroup = "/sys"};

static void expect(const char *text, const char *want)
{
	struct template *t = NULL;
	char err[128] = "", out[TEMPLATE_MAX_OUTPUT];

	harness_context("template \"%s\"", text);
	if (!CHECK(template_compile(text, &t, err, sizeof(err)) == 0))
		return;
	CHECK_INT_EQ(template_expand(t, &vars, out, sizeof(out)), (int)strlen(want));
	CHECK_STR_EQ(out, want);
	CHECK_STR_EQ(template_source(t), text);
	template_free(t);
}

static void expect_error(const char *text, const char *reason_part)
{
	struct template *t = NULL;
	char err[256] = "";

	harness_context("template \"%s\" -> %s", text, err);
	CHECK_INT_EQ(template_compile(text, &t, err, sizeof(err)), -EINVAL);
	CHECK(t == NULL);
	harness_context("template \"%s\" -> %s", text, err);
	CHECK(strstr(err, reason_part) != NULL);
}

TEST(template_expands_every_placeholder)
{
	expect("{hostname}", "db1");
	expect("{pid}", "4242");
	expect("{comm}", "nginx");
	expect("{exe}", "/usr/sbin/nginx");
	expect("{cgroup}", "/sys");
	expect("{comm}@{hostname}:{pid}", "nginx@db1:4242");
	expect("plain", "plain");
	expect("", "");
}

TEST(template_escaped_braces_are_literal)
{
	expect("{{comm}}", "{comm}");
	expect("a{{b}}c-{pid}", "a{b}c-4242");
}

TEST(template_refuses_unknown_and_unbalanced)
{
	expect_error("{host}", "unknown placeholder {host}");
	expect_error("x-{PID}", "unknown placeholder {PID}");
	expect_error("{}", "unknown placeholder {}");
	expect_error("{comm", "unclosed '{'");
	expect_error("comm}", "unmatched '}'");
}

TEST(template_refuses_too_long_source)
{
	char *big = malloc(TEMPLATE_MAX_SOURCE + 2);

	memset(big, 'a', TEMPLATE_MAX_SOURCE + 1);
	big[TEMPLATE_MAX_SOURCE + 1] = '\0';
	expect_error(big, "longer than");
	free(big);
}

TEST(template_output_is_bounded)
{
	struct template *t = NULL;
	char out[8];

	CHECK(template_compile("{exe}", &t, NULL, 0) == 0);
	CHECK_INT_EQ(template_expand(t, &vars, out, sizeof(out)), -E2BIG);
	CHECK_STR_EQ(out, "/usr/sb");
	template_free(t);
}

TEST(template_truncation_keeps_utf8_whole)
{
	struct template_vars v = {.comm = "ab\xc3\xa9\xc3\xa9"}; /* "abéé" */
	struct template *t = NULL;
	char out[6];

	CHECK(template_compile("{comm}", &t, NULL, 0) == 0);
	/* 5 bytes fit: "abé" (4 bytes) + half of the second é, which is dropped. */
	CHECK_INT_EQ(template_expand(t, &v, out, sizeof(out)), -E2BIG);
	CHECK_STR_EQ(out, "ab\xc3\xa9");
	template_free(t);
}

TEST(template_control_chars_replaced_and_null_values_empty)
{
	struct template_vars v = {.comm = "a\tb\n", .pid = 1};
	struct template *t = NULL;
	char out[32];

	CHECK(template_compile("{comm}|{exe}|{hostname}", &t, NULL, 0) == 0);
	CHECK_INT_EQ(template_expand(t, &v, out, sizeof(out)), 6);
	CHECK_STR_EQ(out, "a?b?||");
	template_free(t);
}

TEST(template_reports_pid_use)
{
	struct template *a = NULL, *b = NULL;

	CHECK(template_compile("w-{pid}", &a, NULL, 0) == 0);
	CHECK(template_compile("{comm}", &b, NULL, 0) == 0);
	CHECK(template_uses_pid(a));
	CHECK(!template_uses_pid(b));
	template_free(a);
	template_free(b);
	CHECK(template_free(NULL) == NULL);
}

int main(void)
{
	RUN(template_expands_every_placeholder);
	RUN(template_escaped_braces_are_literal);
	RUN(template_refuses_unknown_and_unbalanced);
	RUN(template_refuses_too_long_source);
	RUN(template_output_is_bounded);
	RUN(template_truncation_keeps_utf8_whole);
	RUN(template_control_chars_replaced_and_null_values_empty);
	RUN(template_reports_pid_use);
	return harness_finish();
}
