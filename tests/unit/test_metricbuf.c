/* Unit tests for agent/metricbuf: the metrics body is exactly the JSON the
 * server reads (series in order of first appearance, each with its points in
 * arrival order, whole values as integers, others with every digit, strings
 * escaped), a partial batch leaves the rest, the bound drops the oldest tenth,
 * and what JSON cannot carry is refused. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

#include "agent/metricbuf.h"
#include "harness.h"

TEST(encode_groups_points_by_series_in_arrival_order)
{
	struct metricbuf *m = metricbuf_new(100);
	size_t dropped = 7;
	char *body;

	CHECK(m != NULL);
	CHECK_INT_EQ(metricbuf_add(m, "p1", "PROCESS_CPU", NULL, 1000, 0, &dropped), 0);
	CHECK_INT_EQ(dropped, 0);
	CHECK_INT_EQ(metricbuf_add(m, "p1", "PROCESS_THREAD_COUNT", "", 1000, 3, &dropped), 0);
	CHECK_INT_EQ(
	    metricbuf_add(m, "p2", "HTTP_ERROR_RATE", "/api/\"x\"\\\n", 1000, 12.5, &dropped), 0);
	CHECK_INT_EQ(metricbuf_add(m, "p1", "PROCESS_CPU", "", 2000, 91.25, &dropped), 0);
	CHECK_INT_EQ(metricbuf_add(m, "p1", "PROCESS_CPU", NULL, 3000, -2, &dropped), 0);
	CHECK_INT_EQ(metricbuf_count(m), 5);
	body = metricbuf_encode(m, "host-\"a\"", 5);
	CHECK_STR_EQ(body,
		     "{\"agent_id\":\"host-\\\"a\\\"\",\"series\":["
		     "{\"process_id\":\"p1\",\"monitor\":\"PROCESS_CPU\",\"uri\":\"\","
		     "\"points\":[[1000,0],[2000,91.25],[3000,-2]]},"
		     "{\"process_id\":\"p1\",\"monitor\":\"PROCESS_THREAD_COUNT\",\"uri\":\"\","
		     "\"points\":[[1000,3]]},"
		     "{\"process_id\":\"p2\",\"monitor\":\"HTTP_ERROR_RATE\","
		     "\"uri\":\"/api/\\\"x\\\"\\\\\\u000a\",\"points\":[[1000,12.5]]}]}");
	free(body);
	metricbuf_free(m);
}

/* Values that are not whole keep every digit: jansson reads back the same
 * double, in each of two series (the second formatted from the cache). */
TEST(encode_round_trips_values_through_a_json_parser)
{
	static const double values[] = {0.1, 1.0 / 3, 99.99999999999999, 1e300, -0.5, 1e15};
	struct metricbuf *m = metricbuf_new(16);
	size_t n = sizeof(values) / sizeof(values[0]), dropped;
	json_t *doc, *points;
	char *body;

	for (size_t i = 0; i < 2 * n; i++)
		CHECK_INT_EQ(metricbuf_add(m, i < n ? "p" : "q", "SYSTEM_LOAD", NULL,
					   (int64_t)(i % n) * 1000, values[i % n], &dropped),
			     0);
	body = metricbuf_encode(m, "h", 2 * n);
	doc = json_loads(body, 0, NULL);
	CHECK(doc != NULL);
	for (size_t s = 0; s < 2; s++) {
		points =
		    json_object_get(json_array_get(json_object_get(doc, "series"), s), "points");
		CHECK_INT_EQ(json_array_size(points), n);
		for (size_t i = 0; i < n; i++)
			CHECK_DBL_EQ(
			    json_number_value(json_array_get(json_array_get(points, i), 1)),
			    values[i]);
	}
	json_decref(doc);
	free(body);
	metricbuf_free(m);
}

/* A batch of the first n points leaves the later ones, and their series,
 * for the next; the series table empties with the last point. */
TEST(consume_keeps_the_points_that_came_after_the_batch)
{
	struct metricbuf *m = metricbuf_new(100);
	size_t dropped;
	char *body;

	metricbuf_add(m, "a", "PROCESS_CPU", NULL, 1000, 1, &dropped);
	metricbuf_add(m, "b", "PROCESS_CPU", NULL, 1000, 2, &dropped);
	body = metricbuf_encode(m, "h", 1);
	CHECK_STR_EQ(body, "{\"agent_id\":\"h\",\"series\":[{\"process_id\":\"a\",\"monitor\":"
			   "\"PROCESS_CPU\",\"uri\":\"\",\"points\":[[1000,1]]}]}");
	free(body);
	metricbuf_add(m, "a", "PROCESS_CPU", NULL, 2000, 3, &dropped);
	metricbuf_consume(m, 1);
	CHECK_INT_EQ(metricbuf_count(m), 2);
	body = metricbuf_encode(m, "h", 2);
	CHECK_STR_EQ(body, "{\"agent_id\":\"h\",\"series\":["
			   "{\"process_id\":\"a\",\"monitor\":\"PROCESS_CPU\",\"uri\":\"\","
			   "\"points\":[[2000,3]]},"
			   "{\"process_id\":\"b\",\"monitor\":\"PROCESS_CPU\",\"uri\":\"\","
			   "\"points\":[[1000,2]]}]}");
	free(body);
	metricbuf_consume(m, 2);
	CHECK_INT_EQ(metricbuf_count(m), 0);
	body = metricbuf_encode(m, "h", 0);
	CHECK_STR_EQ(body, "{\"agent_id\":\"h\",\"series\":[]}");
	free(body);
	metricbuf_free(m);
}

/* Many series: the hash table grows and every point finds its series. */
TEST(many_series_each_keep_their_points)
{
	struct metricbuf *m = metricbuf_new(10000);
	size_t dropped;
	char id[32];
	json_t *doc, *series;
	char *body;

	for (int round = 0; round < 3; round++)
		for (int i = 0; i < 1000; i++) {
			snprintf(id, sizeof(id), "proc-%d", i);
			CHECK_INT_EQ(
			    metricbuf_add(m, id, "PROCESS_CPU", NULL, round * 1000, i, &dropped),
			    0);
		}
	body = metricbuf_encode(m, "h", metricbuf_count(m));
	doc = json_loads(body, 0, NULL);
	series = json_object_get(doc, "series");
	CHECK_INT_EQ(json_array_size(series), 1000);
	for (size_t i = 0; i < json_array_size(series); i++) {
		json_t *s = json_array_get(series, i), *points = json_object_get(s, "points");

		snprintf(id, sizeof(id), "proc-%zu", i);
		CHECK_STR_EQ(json_string_value(json_object_get(s, "process_id")), id);
		CHECK_INT_EQ(json_array_size(points), 3);
		CHECK_INT_EQ(json_integer_value(json_array_get(json_array_get(points, 2), 1)), i);
	}
	json_decref(doc);
	free(body);
	metricbuf_free(m);
}

TEST(full_buffer_drops_the_oldest_tenth)
{
	struct metricbuf *m = metricbuf_new(20);
	size_t dropped = 0, total = 0;
	json_t *doc, *points;
	char *body;

	for (int i = 0; i < 25; i++) {
		CHECK_INT_EQ(metricbuf_add(m, "p", "PROCESS_CPU", NULL, i, i, &dropped), 0);
		total += dropped;
	}
	/* Full at the 21st point (2 dropped) and the 23rd, 25th (2 each). */
	CHECK_INT_EQ(total, 6);
	CHECK_INT_EQ(metricbuf_count(m), 19);
	body = metricbuf_encode(m, "h", metricbuf_count(m));
	doc = json_loads(body, 0, NULL);
	points = json_object_get(json_array_get(json_object_get(doc, "series"), 0), "points");
	CHECK_INT_EQ(json_integer_value(json_array_get(json_array_get(points, 0), 0)), 6);
	CHECK_INT_EQ(json_integer_value(json_array_get(json_array_get(points, 18), 0)), 24);
	json_decref(doc);
	free(body);
	metricbuf_free(m);
}

TEST(refuses_what_json_cannot_carry)
{
	struct metricbuf *m = metricbuf_new(2);
	size_t dropped;

	CHECK_INT_EQ(metricbuf_add(m, "p", "PROCESS_CPU", NULL, 0, NAN, &dropped), -EINVAL);
	CHECK_INT_EQ(metricbuf_add(m, "p", "PROCESS_CPU", NULL, 0, INFINITY, &dropped), -EINVAL);
	CHECK_INT_EQ(metricbuf_add(m, "p", "HTTP_QPS", "/\xff", 0, 1, &dropped), -EINVAL);
	CHECK_INT_EQ(metricbuf_count(m), 0);
	/* At most as many series as points. */
	CHECK_INT_EQ(metricbuf_add(m, "a", "PROCESS_CPU", NULL, 0, 1, &dropped), 0);
	CHECK_INT_EQ(metricbuf_add(m, "b", "PROCESS_CPU", NULL, 0, 1, &dropped), 0);
	CHECK_INT_EQ(metricbuf_add(m, "c", "PROCESS_CPU", NULL, 0, 1, &dropped), -ENOBUFS);
	CHECK(metricbuf_free(m) == NULL);
	CHECK(metricbuf_free(NULL) == NULL);
}

int main(void)
{
	RUN(encode_groups_points_by_series_in_arrival_order);
	RUN(encode_round_trips_values_through_a_json_parser);
	RUN(consume_keeps_the_points_that_came_after_the_batch);
	RUN(many_series_each_keep_their_points);
	RUN(full_buffer_drops_the_oldest_tenth);
	RUN(refuses_what_json_cannot_carry);
	return harness_finish();
}
