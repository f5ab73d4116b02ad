/* metricbuf: see metricbuf.h. Series live in an array (index = order of
 * first appearance since the table was last emptied) found through an
 * open-addressing hash table of indices; points name their series by index. */
#include "agent/metricbuf.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/strbuf.h"
#include "core/utf8.h"
#include "util/fnv.h"

#define MIN_SLOTS	  256
#define BODY_MAX_BYTES	  ((size_t)1 << 30)
#define NO_POINT	  UINT32_MAX
#define WHOLE_VALUE_LIMIT 1e15 /* whole values below this go out as integers */
#define NUMBER_BUF_BYTES  32
#define VALUE_CACHE	  64 /* formatted values kept during one encoding */

struct series {
	char *process_id; /* one allocation holding the three strings */
	const char *monitor, *uri;
	uint64_t hash;
};

struct point {
	uint32_t series;
	int64_t time_ms;
	double value;
};

struct metricbuf {
	struct point *points;
	size_t n_points, max_points;
	struct series *series;
	size_t n_series, cap_series;
	uint32_t *slots; /* series index + 1; 0 = empty; n_slots a power of 2 */
	size_t n_slots;
};

struct metricbuf *metricbuf_new(size_t max_points)
{
	struct metricbuf *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->max_points = max_points ? max_points : 1;
	m->points = calloc(m->max_points, sizeof(*m->points));
	m->n_slots = MIN_SLOTS;
	m->slots = calloc(m->n_slots, sizeof(*m->slots));
	if (!m->points || !m->slots)
		return metricbuf_free(m);
	return m;
}

static void clear_series(struct metricbuf *m)
{
	for (size_t i = 0; i < m->n_series; i++)
		free(m->series[i].process_id);
	m->n_series = 0;
	memset(m->slots, 0, m->n_slots * sizeof(*m->slots));
}

struct metricbuf *metricbuf_free(struct metricbuf *m)
{
	if (!m)
		return NULL;
	if (m->slots)
		clear_series(m);
	free(m->series);
	free(m->slots);
	free(m->points);
	free(m);
	return NULL;
}

size_t metricbuf_count(const struct metricbuf *m)
{
	return m->n_points;
}

/* Doubles the slot table (the load stays at most one half). 0 or -ENOMEM. */
static int grow_slots(struct metricbuf *m)
{
	size_t n = m->n_slots * 2;
	uint32_t *slots = calloc(n, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < m->n_series; i++) {
		size_t at = (size_t)m->series[i].hash & (n - 1);

		while (slots[at])
			at = (at + 1) & (n - 1);
		slots[at] = (uint32_t)i + 1;
	}
	free(m->slots);
	m->slots = slots;
	m->n_slots = n;
	return 0;
}

/* The index of the series, added when new. -errno as metricbuf_add. */
static long series_of(struct metricbuf *m, const char *process_id, const char *monitor,
		      const char *uri)
{
	uint64_t h = fnv_add(fnv_add(fnv_add(FNV_OFFSET, process_id), monitor), uri);
	size_t at = (size_t)h & (m->n_slots - 1);
	size_t len_id, len_monitor, len_uri;
	struct series *s;

	for (; m->slots[at]; at = (at + 1) & (m->n_slots - 1)) {
		s = &m->series[m->slots[at] - 1];
		if (s->hash == h && strcmp(s->process_id, process_id) == 0 &&
		    strcmp(s->monitor, monitor) == 0 && strcmp(s->uri, uri) == 0)
			return (long)(m->slots[at] - 1);
	}
	if (m->n_series >= m->max_points)
		return -ENOBUFS;
	if (!utf8_valid(process_id) || !utf8_valid(monitor) || !utf8_valid(uri))
		return -EINVAL;
	if ((m->n_series + 1) * 2 > m->n_slots) {
		if (grow_slots(m) < 0)
			return -ENOMEM;
		at = (size_t)h & (m->n_slots - 1);
		while (m->slots[at])
			at = (at + 1) & (m->n_slots - 1);
	}
	if (m->n_series == m->cap_series) {
		size_t cap = m->cap_series ? m->cap_series * 2 : 64;
		struct series *grown = realloc(m->series, cap * sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		m->series = grown;
		m->cap_series = cap;
	}
	len_id = strlen(process_id) + 1;
	len_monitor = strlen(monitor) + 1;
	len_uri = strlen(uri) + 1;
	s = &m->series[m->n_series];
	s->process_id = malloc(len_id + len_monitor + len_uri);
	if (!s->process_id)
		return -ENOMEM;
	memcpy(s->process_id, process_id, len_id);
	s->monitor = memcpy(s->process_id + len_id, monitor, len_monitor);
	s->uri = memcpy(s->process_id + len_id + len_monitor, uri, len_uri);
	s->hash = h;
	m->slots[at] = (uint32_t)m->n_series + 1;
	return (long)m->n_series++;
}

int metricbuf_add(struct metricbuf *m, const char *process_id, const char *monitor, const char *uri,
		  int64_t time_ms, double value, size_t *ret_dropped)
{
	size_t dropped = 0;
	long series;

	*ret_dropped = 0;
	if (!isfinite(value))
		return -EINVAL;
	series = series_of(m, process_id, monitor, uri ? uri : "");
	if (series < 0)
		return (int)series;
	if (m->n_points == m->max_points) {
		/* Full (server away): drop the oldest tenth. */
		dropped = m->n_points / 10 ? m->n_points / 10 : 1;
		memmove(m->points, m->points + dropped,
			(m->n_points - dropped) * sizeof(*m->points));
		m->n_points -= dropped;
	}
	m->points[m->n_points++] =
	    (struct point){.series = (uint32_t)series, .time_ms = time_ms, .value = value};
	*ret_dropped = dropped;
	return 0;
}

void metricbuf_consume(struct metricbuf *m, size_t n)
{
	if (n > m->n_points)
		n = m->n_points;
	memmove(m->points, m->points + n, (m->n_points - n) * sizeof(*m->points));
	m->n_points -= n;
	if (m->n_points == 0)
		clear_series(m);
}

/* ---- encoding ---- */

/* A JSON string: quotes, backslashes and control characters escaped; other
 * bytes as they are (checked as UTF-8 when the series was added). */
static void put_string(struct strbuf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const char *run = s;

	strbuf_append(b, "\"", 1);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		strbuf_append(b, run, (size_t)(s - run));
		if (c == '"' || c == '\\') {
			esc[1] = (char)c;
			strbuf_append(b, esc, 2);
		} else {
			strbuf_append(b, esc, sizeof(esc));
		}
		run = s + 1;
	}
	strbuf_append(b, run, (size_t)(s - run));
	strbuf_append(b, "\"", 1);
}

/* Decimal digits of v into the end of buf; returns where they start. */
static char *format_int(int64_t v, char buf[NUMBER_BUF_BYTES])
{
	char *p = buf + NUMBER_BUF_BYTES;
	uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;

	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		*--p = '-';
	return p;
}

static void put_int(struct strbuf *b, int64_t v)
{
	char buf[NUMBER_BUF_BYTES];
	char *p = format_int(v, buf);

	strbuf_append(b, p, (size_t)(buf + NUMBER_BUF_BYTES - p));
}

/* Values formatted with "%.17g" in one encoding, by their bits: the same
 * value recurs in many series (SYSTEM_LOAD is one per process each second). */
struct value_cache {
	struct {
		uint64_t bits;
		uint8_t len; /* 0: empty */
		char text[NUMBER_BUF_BYTES];
	} e[VALUE_CACHE];
};

/* A finite value: whole ones as integers, others with every digit. */
static void put_value(struct strbuf *b, struct value_cache *cache, double v)
{
	uint64_t bits;
	size_t at;
	int n;

	if (v == floor(v) && fabs(v) < WHOLE_VALUE_LIMIT) {
		put_int(b, (int64_t)v);
		return;
	}
	memcpy(&bits, &v, sizeof(bits));
	at = (size_t)((bits * FNV_PRIME) >> 32) % VALUE_CACHE;
	if (!cache->e[at].len || cache->e[at].bits != bits) {
		n = snprintf(cache->e[at].text, NUMBER_BUF_BYTES, "%.17g", v);
		if (n <= 0 || n >= NUMBER_BUF_BYTES)
			return;
		cache->e[at].bits = bits;
		cache->e[at].len = (uint8_t)n;
	}
	strbuf_append(b, cache->e[at].text, cache->e[at].len);
}

/* The body into b; head, tail (n_series), next (n) and cache are scratch. */
static void write_body(struct strbuf *b, const struct metricbuf *m, const char *agent_id, size_t n,
		       uint32_t *head, uint32_t *tail, uint32_t *next, struct value_cache *cache)
{
	bool first_series = true;

	/* Each series's points in arrival order, as a list through next[]. */
	memset(head, 0xff, m->n_series * sizeof(*head));
	for (size_t i = 0; i < n; i++) {
		uint32_t s = m->points[i].series;

		next[i] = NO_POINT;
		if (head[s] == NO_POINT)
			head[s] = (uint32_t)i;
		else
			next[tail[s]] = (uint32_t)i;
		tail[s] = (uint32_t)i;
	}
	strbuf_puts(b, "{\"agent_id\":");
	put_string(b, agent_id);
	strbuf_puts(b, ",\"series\":[");
	for (size_t s = 0; s < m->n_series; s++) {
		if (head[s] == NO_POINT)
			continue;
		strbuf_puts(b, first_series ? "{\"process_id\":" : ",{\"process_id\":");
		first_series = false;
		put_string(b, m->series[s].process_id);
		strbuf_puts(b, ",\"monitor\":");
		put_string(b, m->series[s].monitor);
		strbuf_puts(b, ",\"uri\":");
		put_string(b, m->series[s].uri);
		strbuf_puts(b, ",\"points\":[");
		for (uint32_t i = head[s]; i != NO_POINT; i = next[i]) {
			strbuf_puts(b, i == head[s] ? "[" : ",[");
			put_int(b, m->points[i].time_ms);
			strbuf_append(b, ",", 1);
			put_value(b, cache, m->points[i].value);
			strbuf_append(b, "]", 1);
		}
		strbuf_puts(b, "]}");
	}
	strbuf_puts(b, "]}");
}

char *metricbuf_encode(const struct metricbuf *m, const char *agent_id, size_t n)
{
	uint32_t *head = malloc((m->n_series ? m->n_series : 1) * sizeof(*head));
	uint32_t *tail = malloc((m->n_series ? m->n_series : 1) * sizeof(*tail));
	uint32_t *next = malloc((n ? n : 1) * sizeof(*next));
	struct value_cache *cache = calloc(1, sizeof(*cache));
	char *body = NULL;
	struct strbuf b;

	strbuf_init(&b, BODY_MAX_BYTES);
	if (head && tail && next && cache && n <= m->n_points && n < NO_POINT) {
		write_body(&b, m, agent_id, n, head, tail, next, cache);
		body = strbuf_steal(&b);
	}
	strbuf_release(&b);
	free(cache);
	free(head);
	free(tail);
	free(next);
	return body;
}
