/* fuzz_http: the HTTP monitor's parsing from untrusted bytes.
 *
 * The HTTP/1.x request-line and status-line tests (httpmon_parse.h) run in
 * the kernel on socket buffers; here the same functions run on every 16-byte
 * window of the input, each copied into a heap block of exactly 16 bytes
 * (their contract), so a read past it trips ASan. A method found must be a
 * known one whose name the bytes spell, followed by a space and a target; a
 * status must be 100..599 and spelled by the bytes; no window is both.
 *
 * User space interprets the kernel's ring-buffer records (httpmon_decode) and
 * filters their URIs
 * through the policy items' uri_list / uri_regex into per-second values
 * (httpagg.h). Input: a policy document, a NUL byte, then records, each a
 * length byte (how many bytes of struct httpmon_event follow, as the ring
 * cuts records after their URI) and that many bytes. A document that is not
 * a valid policy with HTTP items is replaced by a built-in one.
 * Every decoded URI must be printable and bounded, every value finite and
 * within its monitor's range.
 */
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "agent/httpagg.h"
#include "agent/httpmon.h"
#include "agent/httpmon_parse.h"
#include "core/policy.h"
#include "fuzz.h"

static const char fallback_doc[] =
    "{\"service\":\"web\",\"targets\":[{\"target\":\"NETWORK\",\"items\":["
    "{\"monitor\":\"HTTP_ERROR_RATE\",\"threshold\":10,\"period\":5,\"count\":1,"
    "\"uri_regex\":\"^/api/(v[0-9]+)?\"},"
    "{\"monitor\":\"HTTP_AVG_RESPONSE_TIME\",\"threshold\":5,\"period\":5,\"count\":1,"
    "\"uri_list\":[\"/\",\"/a\",\"/api/v1\"]}]},"
    "{\"target\":\"ON_CPU\",\"items\":[{\"monitor\":\"HTTP_ERROR_RATE\",\"threshold\":1,"
    "\"period\":2,\"count\":1}]}]}";

static const uint32_t pids[2] = {100, 200};

static void check_value(const struct httpagg_value *v, void *ctx)
{
	size_t *n = ctx;

	(*n)++;
	FUZZ_CHECK(v->requests > 0 && v->errors <= v->requests);
	FUZZ_CHECK(isfinite(v->value) && v->value >= 0);
	if (v->monitor == POLICY_MONITOR_HTTP_ERROR_RATE)
		FUZZ_CHECK(v->value <= 100.0);
	FUZZ_CHECK(v->label && v->process_id);
}

static void check_request(const struct httpmon_request *r)
{
	size_t n = strlen(r->uri);

	FUZZ_CHECK(n <= HTTPMON_URI_MAX);
	for (size_t i = 0; i < n; i++)
		FUZZ_CHECK(r->uri[i] > 0x20 && r->uri[i] < 0x7f);
	FUZZ_CHECK(r->role <= HTTPMON_ROLE_CLIENT && r->method < HTTPMON_METHOD_COUNT);
	FUZZ_CHECK(httpmon_method_name(r->method) && httpmon_role_name(r->role));
}

#define HEAD_BYTES 16

/* The parsers on the 16 bytes at `b` (a block of exactly that size). */
static void check_heads(const __u8 *b)
{
	__u32 len = 0;
	__u8 m = parse_method(b, &len);
	__u16 st = parse_status(b);

	FUZZ_CHECK(m < HTTPMON_METHOD_COUNT);
	if (m != HTTPMON_METHOD_UNKNOWN) {
		const char *name = httpmon_method_name(m);

		FUZZ_CHECK(len >= 3 && len <= 7 && strlen(name) == len);
		FUZZ_CHECK(memcmp(b, name, len) == 0 && b[len] == ' ');
		FUZZ_CHECK(b[len + 1] > ' ' && b[len + 1] < 0x7f);
		FUZZ_CHECK(!st);
	}
	if (st) {
		FUZZ_CHECK(st >= 100 && st <= 599);
		FUZZ_CHECK(memcmp(b, "HTTP/1.", 7) == 0 && b[8] == ' ');
		FUZZ_CHECK(b[9] - '0' == st / 100 && b[10] - '0' == st / 10 % 10 &&
			   b[11] - '0' == st % 10);
		FUZZ_CHECK(b[12] == ' ' || b[12] == '\r');
	}
}

static void check_parsers(const uint8_t *data, size_t size)
{
	__u8 *head = malloc(HEAD_BYTES);

	FUZZ_CHECK(head);
	for (size_t i = 0; i + HEAD_BYTES <= size; i++) {
		memcpy(head, data + i, HEAD_BYTES);
		check_heads(head);
	}
	free(head);
}

static struct policy *load_policy(const uint8_t *data, size_t len)
{
	struct policy *p = NULL;

	if (len <= POLICY_DOC_MAX_BYTES && policy_parse((const char *)data, len, &p, NULL) == 0)
		return p;
	if (policy_parse(fallback_doc, strlen(fallback_doc), &p, NULL) == 0)
		return p;
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const size_t head = offsetof(struct httpmon_event, uri);
	const uint8_t *sep = memchr(data, 0, size);
	size_t doc_len = sep ? (size_t)(sep - data) : size, off = sep ? doc_len + 1 : size;
	struct policy *policy;
	struct httpagg *agg;
	size_t values = 0, records = 0;
	int64_t last_second = 0;

	check_parsers(data, size);
	policy = load_policy(data, doc_len);
	agg = httpagg_new();
	FUZZ_CHECK(agg);
	if (httpagg_set_process(agg, "proc-a", pids[0], policy) < 0 ||
	    httpagg_set_process(agg, "proc-b", pids[1], policy) < 0)
		goto out;
	while (off < size) {
		size_t len = data[off++];
		struct httpmon_request req;
		struct httpmon_event e;

		if (len > size - off)
			len = size - off;
		/* As the ring-buffer callback reads a record of `len` bytes. */
		memset(&e, 0, sizeof(e));
		memcpy(&e, data + off, len < sizeof(e) ? len : sizeof(e));
		off += len;
		if (len < head)
			continue;
		if (e.uri_len > len - head)
			e.uri_len = (uint16_t)(len - head);
		e.pid = pids[e.pid & 1];
		httpmon_decode(&e, &req);
		check_request(&req);
		httpagg_add(agg, &req);
		last_second = (int64_t)(req.end_ns / 1000000000ull);
		if (++records % 4 == 0)
			httpagg_tick(agg, last_second + (e.fd & 3), check_value, &values);
	}
	httpagg_tick(agg, last_second + HTTPAGG_SECONDS_KEPT + 1, check_value, &values);
	/* Replacing the policy keeps buckets of unchanged items; removing frees. */
	httpagg_set_process(agg, "proc-a", pids[0], policy);
	httpagg_remove_process(agg, "proc-b");
	FUZZ_CHECK(httpagg_process_count(agg) <= 1);
out:
	httpagg_free(agg);
	policy_free(policy);
	return 0;
}
