/* Unit tests of the PostgreSQL backend's pieces that need no database:
 * text parameters (round-trip exact doubles), array literals (quoting and
 * escaping PostgreSQL's array parser expects), and the refusals of
 * store_open for malformed or unreachable PostgreSQL URLs. The backend
 * against a real database is tested end to end (tests/integration, with
 * CONTPROF_TEST_PG). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "server/store_pg.h"

TEST(params_format_integers_and_exact_doubles)
{
	struct pg_params p = {0};
	const double values[] = {0.1, 1e-7, 123456.789, 0.30000000000000004, -2.5, 1e300};

	pp_text(&p, "svc");
	pp_text(&p, NULL);
	pp_i64(&p, INT64_MIN);
	pp_i64(&p, 42);
	CHECK_INT_EQ(p.n, 4);
	CHECK_STR_EQ(p.v[0], "svc");
	CHECK(p.v[1] == NULL);
	CHECK_STR_EQ(p.v[2], "-9223372036854775808");
	CHECK_STR_EQ(p.v[3], "42");
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		struct pg_params q = {0};

		pp_f64(&q, values[i]);
		harness_context("value %zu", i);
		CHECK(strtod(q.v[0], NULL) == values[i]); /* the same double back */
	}
}

TEST(params_stop_at_the_maximum)
{
	struct pg_params p = {0};

	for (int i = 0; i < PG_MAX_PARAMS + 3; i++)
		pp_i64(&p, i);
	CHECK_INT_EQ(p.n, PG_MAX_PARAMS);
	CHECK_STR_EQ(p.v[PG_MAX_PARAMS - 1], "15");
}

TEST(array_literals_of_numbers)
{
	struct strbuf b;
	char *s;

	pga_open(&b);
	pga_close(&b);
	s = strbuf_steal(&b);
	CHECK_STR_EQ(s, "{}");
	free(s);
	pga_open(&b);
	pga_i64(&b, 1);
	pga_i64(&b, -7);
	pga_f64(&b, 0.5);
	pga_close(&b);
	s = strbuf_steal(&b);
	CHECK_STR_EQ(s, "{1,-7,0.5}");
	free(s);
}

TEST(array_literals_quote_and_escape_text)
{
	const char stack[] = "main;x\"y\\z;{a,b} c;NULL";
	struct strbuf b;
	char *s;

	pga_open(&b);
	pga_text(&b, "", 0);
	pga_text(&b, stack, strlen(stack));
	pga_text(&b, "ab;cd", 2); /* only the length given */
	pga_close(&b);
	s = strbuf_steal(&b);
	CHECK_STR_EQ(s, "{\"\",\"main;x\\\"y\\\\z;{a,b} c;NULL\",\"ab\"}");
	free(s);
}

TEST(open_refuses_a_url_without_a_host_part)
{
	struct store_options opts;
	char err[256] = "";

	store_options_default(&opts);
	CHECK(store_open("postgresql:contprof", &opts, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "postgresql://USER@HOST:PORT/DATABASE") != NULL);
	CHECK(store_open("mysql://x", &opts, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "postgresql://") != NULL);
}

TEST(open_reports_an_unreachable_server)
{
	struct store_options opts;
	char err[512] = "";

	store_options_default(&opts);
	/* port 1 on loopback: nothing listens, the connection is refused */
	CHECK(store_open("postgres://nobody@127.0.0.1:1/none", &opts, err, sizeof(err)) == NULL);
	harness_context("err: %s", err);
	CHECK(strstr(err, "127.0.0.1") != NULL && strstr(err, "refused") != NULL);
}

int main(void)
{
	RUN(params_format_integers_and_exact_doubles);
	RUN(params_stop_at_the_maximum);
	RUN(array_literals_of_numbers);
	RUN(array_literals_quote_and_escape_text);
	RUN(open_refuses_a_url_without_a_host_part);
	RUN(open_reports_an_unreachable_server);
	return harness_finish();
}
