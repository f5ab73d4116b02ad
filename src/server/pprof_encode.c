/* pprof_encode: the protobuf wire format of a finished builder (see
 * pprof.h): sample types, samples (location ids leaf first), mappings,
 * locations, functions, string table, then the scalar fields; the message
 * is gzipped in one deflate call.
 */
#include "server/pprof_impl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define GZIP_WINDOW_BITS (15 + 16) /* 15: 32 KiB window; + 16: gzip wrapper */
#define GZIP_MEM_LEVEL	 8
#define GZIP_LEVEL	 Z_BEST_SPEED /* see bench/flame.sh for the figures */

/* Wire types and field numbers of proto/profile.proto. */
enum {
	WIRE_VARINT = 0,
	WIRE_LEN = 2,
};
enum {
	PROFILE_SAMPLE_TYPE = 1,
	PROFILE_SAMPLE = 2,
	PROFILE_MAPPING = 3,
	PROFILE_LOCATION = 4,
	PROFILE_FUNCTION = 5,
	PROFILE_STRING_TABLE = 6,
	PROFILE_TIME_NANOS = 9,
	PROFILE_DURATION_NANOS = 10,
	PROFILE_PERIOD_TYPE = 11,
	PROFILE_PERIOD = 12,
	VALUE_TYPE_TYPE = 1,
	VALUE_TYPE_UNIT = 2,
	SAMPLE_LOCATION_ID = 1,
	SAMPLE_VALUE = 2,
	MAPPING_ID = 1,
	MAPPING_FILENAME = 5,
	MAPPING_HAS_FUNCTIONS = 7,
	LOCATION_ID = 1,
	LOCATION_MAPPING_ID = 2,
	LOCATION_LINE = 4,
	LINE_FUNCTION_ID = 1,
	FUNCTION_ID = 1,
	FUNCTION_NAME = 2,
	FUNCTION_SYSTEM_NAME = 3,
	FUNCTION_FILENAME = 4,
};

struct pbuf {
	uint8_t *data;
	size_t len, cap;
};

static int pbuf_reserve(struct pbuf *b, size_t more)
{
	size_t cap = b->cap ? b->cap : 4096;
	uint8_t *data;

	if (b->len + more <= b->cap)
		return 0;
	while (cap < b->len + more)
		cap *= 2;
	data = realloc(b->data, cap);
	if (!data)
		return -ENOMEM;
	b->data = data;
	b->cap = cap;
	return 0;
}

static size_t varint_len(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

/* Writes a varint at p (room for PPROF_VARINT_MAX_LEN); returns its length. */
static size_t encode_varint(uint8_t *p, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

static uint8_t tag(unsigned field, unsigned wire)
{
	return (uint8_t)(field << 3 | wire); /* every field number here is < 16 */
}

/* A small message body (a handful of varint fields) built on the stack. */
struct body {
	uint8_t data[64];
	size_t len;
};

static void body_varint(struct body *m, unsigned field, uint64_t v)
{
	m->data[m->len++] = tag(field, WIRE_VARINT);
	m->len += encode_varint(m->data + m->len, v);
}

/* Appends field `field` holding `len` bytes at p (length-delimited). */
static int put_len_field(struct pbuf *b, unsigned field, const void *p, size_t len)
{
	if (pbuf_reserve(b, 1 + PPROF_VARINT_MAX_LEN + len) < 0)
		return -ENOMEM;
	b->data[b->len++] = tag(field, WIRE_LEN);
	b->len += encode_varint(b->data + b->len, len);
	if (len)
		memcpy(b->data + b->len, p, len);
	b->len += len;
	return 0;
}

static int put_varint_field(struct pbuf *b, unsigned field, uint64_t v)
{
	if (pbuf_reserve(b, 1 + PPROF_VARINT_MAX_LEN) < 0)
		return -ENOMEM;
	b->data[b->len++] = tag(field, WIRE_VARINT);
	b->len += encode_varint(b->data + b->len, v);
	return 0;
}

static int put_sample(struct pbuf *p, const struct pprof_builder *b, const struct psample *ps)
{
	const uint32_t *ids = b->locs + ps->loc_offset;
	size_t ids_len = 0, values_len = 0, body_len, i;

	for (i = 0; i < ps->n_locs; i++)
		ids_len += varint_len(ids[i]);
	for (i = 0; i < b->n_types; i++)
		values_len += varint_len((uint64_t)ps->values[i]);
	body_len = 1 + varint_len(ids_len) + ids_len + 1 + varint_len(values_len) + values_len;
	if (pbuf_reserve(p, 1 + varint_len(body_len) + body_len) < 0)
		return -ENOMEM;
	p->data[p->len++] = tag(PROFILE_SAMPLE, WIRE_LEN);
	p->len += encode_varint(p->data + p->len, body_len);
	p->data[p->len++] = tag(SAMPLE_LOCATION_ID, WIRE_LEN);
	p->len += encode_varint(p->data + p->len, ids_len);
	for (i = ps->n_locs; i-- > 0;)
		p->len += encode_varint(p->data + p->len, ids[i]);
	p->data[p->len++] = tag(SAMPLE_VALUE, WIRE_LEN);
	p->len += encode_varint(p->data + p->len, values_len);
	for (i = 0; i < b->n_types; i++)
		p->len += encode_varint(p->data + p->len, (uint64_t)ps->values[i]);
	return 0;
}

static int put_value_type(struct pbuf *p, unsigned field, uint32_t type, uint32_t unit)
{
	struct body m = {.len = 0};

	body_varint(&m, VALUE_TYPE_TYPE, type);
	body_varint(&m, VALUE_TYPE_UNIT, unit);
	return put_len_field(p, field, m.data, m.len);
}

/* The uncompressed Profile message. */
static int encode_profile(const struct pprof_builder *b, struct pbuf *p)
{
	uint32_t i;
	int r = pbuf_reserve(p, pprof_encoded_size(b) + 64);

	for (i = 0; i < b->n_types && r == 0; i++)
		r = put_value_type(p, PROFILE_SAMPLE_TYPE, b->type_str[i], b->unit_str[i]);
	for (i = 0; i < b->n_samples && r == 0; i++)
		r = put_sample(p, b, &b->samples[i]);
	for (i = 0; i < b->n_mappings && r == 0; i++) {
		struct body m = {.len = 0};

		body_varint(&m, MAPPING_ID, i + 1);
		body_varint(&m, MAPPING_FILENAME, b->mappings[i]);
		body_varint(&m, MAPPING_HAS_FUNCTIONS, 1);
		r = put_len_field(p, PROFILE_MAPPING, m.data, m.len);
	}
	for (i = 0; i < b->n_locations && r == 0; i++) {
		struct body m = {.len = 0}, line = {.len = 0};

		body_varint(&line, LINE_FUNCTION_ID, b->locations[i].function);
		body_varint(&m, LOCATION_ID, i + 1);
		if (b->locations[i].mapping)
			body_varint(&m, LOCATION_MAPPING_ID, b->locations[i].mapping);
		m.data[m.len++] = tag(LOCATION_LINE, WIRE_LEN);
		m.data[m.len++] = (uint8_t)line.len; /* < 128 */
		memcpy(m.data + m.len, line.data, line.len);
		m.len += line.len;
		r = put_len_field(p, PROFILE_LOCATION, m.data, m.len);
	}
	for (i = 0; i < b->n_functions && r == 0; i++) {
		struct body m = {.len = 0};

		body_varint(&m, FUNCTION_ID, i + 1);
		body_varint(&m, FUNCTION_NAME, b->functions[i].name);
		body_varint(&m, FUNCTION_SYSTEM_NAME, b->functions[i].name);
		if (b->functions[i].file)
			body_varint(&m, FUNCTION_FILENAME, b->functions[i].file);
		r = put_len_field(p, PROFILE_FUNCTION, m.data, m.len);
	}
	for (i = 0; i < b->strings.n && r == 0; i++)
		r = put_len_field(p, PROFILE_STRING_TABLE,
				  b->strings.arena + b->strings.strs[i].offset,
				  b->strings.strs[i].len);
	if (r == 0 && b->time_nanos)
		r = put_varint_field(p, PROFILE_TIME_NANOS, (uint64_t)b->time_nanos);
	if (r == 0 && b->duration_nanos)
		r = put_varint_field(p, PROFILE_DURATION_NANOS, (uint64_t)b->duration_nanos);
	if (r == 0 && b->has_period_type)
		r = put_value_type(p, PROFILE_PERIOD_TYPE, b->period_type_str, b->period_unit_str);
	if (r == 0 && b->period)
		r = put_varint_field(p, PROFILE_PERIOD, (uint64_t)b->period);
	return r;
}

static int gzip(const uint8_t *in, size_t len, unsigned char **ret_data, size_t *ret_len)
{
	z_stream zs = {0};
	unsigned char *out;
	uLong bound;
	int rc;

	if (deflateInit2(&zs, GZIP_LEVEL, Z_DEFLATED, GZIP_WINDOW_BITS, GZIP_MEM_LEVEL,
			 Z_DEFAULT_STRATEGY) != Z_OK)
		return -ENOMEM;
	bound = deflateBound(&zs, (uLong)len);
	out = malloc(bound ? bound : 1);
	if (!out) {
		deflateEnd(&zs);
		return -ENOMEM;
	}
	zs.next_in = (Bytef *)in;
	zs.avail_in = (uInt)len;
	zs.next_out = out;
	zs.avail_out = (uInt)bound;
	rc = deflate(&zs, Z_FINISH);
	deflateEnd(&zs);
	if (rc != Z_STREAM_END) {
		free(out);
		return -EIO;
	}
	*ret_data = out;
	*ret_len = zs.total_out;
	return 0;
}

int pprof_builder_finish(struct pprof_builder *b, unsigned char **ret_data, size_t *ret_len)
{
	struct pbuf p = {0};
	int r = encode_profile(b, &p);

	if (r == 0)
		r = gzip(p.data, p.len, ret_data, ret_len);
	free(p.data);
	return r;
}
