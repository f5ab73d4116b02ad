/* Unit tests for agent/httpmon_parse.h: the request-line and status-line
 * tests the kernel side of the HTTP monitor runs on socket buffers, here in
 * user space on known bytes. Each input is copied into a heap block of
 * exactly 16 bytes (the functions' contract), so a read past it trips ASan
 * in the sanitizer build. */
#include <stdio.h>
#include <stdlib.h>

#include "agent/httpmon_parse.h"
#include "harness.h"

#define HEAD_BYTES 16

/* `s` in a fresh 16-byte heap block, padded with 'x' (never a delimiter). */
static __u8 *head_of(const char *s)
{
	__u8 *b = malloc(HEAD_BYTES);
	size_t n = strlen(s);

	if (!b)
		abort();
	memset(b, 'x', HEAD_BYTES);
	memcpy(b, s, n < HEAD_BYTES ? n : HEAD_BYTES);
	return b;
}

/* parse_method on `s`: the method, and the token length in *len (left
 * at 99 when the function does not write it). */
static int method_of(const char *s, __u32 *len)
{
	__u8 *b = head_of(s);
	int m;

	*len = 99;
	m = parse_method(b, len);
	free(b);
	return m;
}

static int status_of(const char *s)
{
	__u8 *b = head_of(s);
	int st = parse_status(b);

	free(b);
	return st;
}

TEST(method_every_known_one)
{
	static const struct {
		const char *line;
		int method;
		__u32 len;
	} cases[] = {
	    {"GET / HTTP/1.1", HTTPMON_METHOD_GET, 3},
	    {"POST /api HTTP/1", HTTPMON_METHOD_POST, 4},
	    {"PUT /x HTTP/1.1", HTTPMON_METHOD_PUT, 3},
	    {"PATCH /x HTTP/1", HTTPMON_METHOD_PATCH, 5},
	    {"HEAD / HTTP/1.0", HTTPMON_METHOD_HEAD, 4},
	    {"DELETE /a/b HTTP", HTTPMON_METHOD_DELETE, 6},
	    {"OPTIONS * HTTP/1", HTTPMON_METHOD_OPTIONS, 7},
	    {"CONNECT a.b:443 ", HTTPMON_METHOD_CONNECT, 7},
	    {"TRACE / HTTP/1.1", HTTPMON_METHOD_TRACE, 5},
	    {"GET http://h/ HT", HTTPMON_METHOD_GET, 3}, /* absolute form */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		__u32 len;

		harness_context("line %zu: %s", i, cases[i].line);
		CHECK_INT_EQ(method_of(cases[i].line, &len), cases[i].method);
		harness_context("line %zu: %s", i, cases[i].line);
		CHECK_INT_EQ(len, cases[i].len);
	}
}

TEST(method_refuses_near_misses)
{
	static const char *const lines[] = {
	    "get / HTTP/1.1",	  /* lower case */
	    "GETS / HTTP/1.1",	  /* longer token */
	    "GET  / HTTP/1.1",	  /* two spaces */
	    "GET\t/ HTTP/1.1",	  /* not a space */
	    "GET x HTTP/1.1",	  /* target not /, * or http */
	    "POST\x7f/ HTTP/1.1", /* DEL */
	    "PUT \x01 HTTP/1.1",  /* control byte as target */
	    "CONNECT  a:1 HTT",	  /* CONNECT still needs one space then a target */
	    "PATC / HTTP/1.1",	  /* cut token */
	    "OPTION / HTTP/1.",	  /* cut token */
	    "HTTP/1.1 200 OK",	  /* a response */
	    "",			  /* padding only */
	};

	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		__u32 len;

		harness_context("line %zu: %s", i, lines[i]);
		CHECK_INT_EQ(method_of(lines[i], &len), HTTPMON_METHOD_UNKNOWN);
		harness_context("line %zu: %s", i, lines[i]);
		CHECK_INT_EQ(len, 99); /* *len written only on success */
	}
}

TEST(method_connect_any_target)
{
	__u32 len;

	/* CONNECT's target is an authority, not a path. */
	CHECK_INT_EQ(method_of("CONNECT x:443 HT", &len), HTTPMON_METHOD_CONNECT);
	CHECK_INT_EQ(method_of("GET x:443 HTTP/1", &len), HTTPMON_METHOD_UNKNOWN);
}

TEST(status_known_lines)
{
	CHECK_INT_EQ(status_of("HTTP/1.1 200 OK\r\n"), 200);
	CHECK_INT_EQ(status_of("HTTP/1.0 404 Not"), 404);
	CHECK_INT_EQ(status_of("HTTP/1.1 101 Swi"), 101);
	CHECK_INT_EQ(status_of("HTTP/1.1 100\r\n\r\n"), 100);
	CHECK_INT_EQ(status_of("HTTP/1.1 599 x"), 599);
	CHECK_INT_EQ(status_of("HTTP/1.1 503\r\nab"), 503);
}

TEST(status_refuses_near_misses)
{
	static const char *const lines[] = {
	    "HTTP/1.2 200 OK",	/* minor version */
	    "HTTP/2.0 200 OK",	/* major version */
	    "http/1.1 200 OK",	/* lower case */
	    "HTTP/1.1 600 OK",	/* first digit past 5 */
	    "HTTP/1.1 099 OK",	/* first digit 0 */
	    "HTTP/1.1 2x0 OK",	/* not a digit */
	    "HTTP/1.1 2000 O",	/* four digits */
	    "HTTP/1.1 200\nOK", /* LF, not CR */
	    "HTTP/1.1  200 O",	/* two spaces */
	    "HTTP/1.1\t200 OK", /* not a space */
	    "GET / HTTP/1.1",	/* a request */
	};

	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		harness_context("line %zu: %s", i, lines[i]);
		CHECK_INT_EQ(status_of(lines[i]), 0);
	}
}

/* Every byte value at every position the functions look at: statuses stay
 * in 100..599 and methods among the known ones, on exactly 16 bytes. */
TEST(every_byte_at_every_position)
{
	static const char *const bases[] = {"GET / HTTP/1.1", "OPTIONS * HTTP/1",
					    "CONNECT a:1 HTTP", "HTTP/1.1 200 OK",
					    "HTTP/1.0 599\r\n"};

	for (size_t bi = 0; bi < sizeof(bases) / sizeof(bases[0]); bi++) {
		for (int pos = 0; pos < HEAD_BYTES; pos++) {
			for (int v = 0; v < 256; v++) {
				__u8 *b = head_of(bases[bi]);
				__u32 len = 99;
				int m, st;

				b[pos] = (__u8)v;
				m = parse_method(b, &len);
				st = parse_status(b);
				free(b);
				if (m != HTTPMON_METHOD_UNKNOWN &&
				    !CHECK(m < HTTPMON_METHOD_COUNT && len >= 3 && len <= 7))
					return;
				if (st && !CHECK(st >= 100 && st <= 599))
					return;
				if (pos >= 13 && !CHECK(st == status_of(bases[bi])))
					return; /* bytes past 12 never change a status */
			}
		}
	}
}

int main(void)
{
	RUN(method_every_known_one);
	RUN(method_refuses_near_misses);
	RUN(method_connect_any_target);
	RUN(status_known_lines);
	RUN(status_refuses_near_misses);
	RUN(every_byte_at_every_position);
	return harness_finish();
}
