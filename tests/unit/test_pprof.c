/* Unit tests of server/pprof: every profile is gunzipped and decoded here by
 * a small protobuf reader of our own (independent of the encoder), and the
 * string table, functions, mappings, locations and samples are checked. */
#include "harness.h"
#include "server/pprof.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <zlib.h>

/* ---- a minimal protobuf reader ---- */

struct reader {
	const uint8_t *p, *end;
	bool bad;
};

static uint64_t read_varint(struct reader *r)
{
	uint64_t v = 0;
	unsigned shift = 0;

	while (r->p < r->end && shift < 64) {
		uint8_t byte = *r->p++;

		v |= (uint64_t)(byte & 0x7f) << shift;
		if (!(byte & 0x80))
			return v;
		shift += 7;
	}
	r->bad = true;
	return 0;
}

/* Reads one field: its number and either a varint value or a sub-reader
 * over its bytes. False at the end or on a malformed/unsupported field. */
static bool read_field(struct reader *r, unsigned *field, uint64_t *value, struct reader *bytes)
{
	uint64_t key, len;

	if (r->bad || r->p >= r->end)
		return false;
	key = read_varint(r);
	*field = (unsigned)(key >> 3);
	switch (key & 7) {
	case 0:
		*value = read_varint(r);
		*bytes = (struct reader){.p = NULL, .end = NULL};
		return !r->bad;
	case 2:
		len = read_varint(r);
		if (r->bad || len > (uint64_t)(r->end - r->p)) {
			r->bad = true;
			return false;
		}
		*bytes = (struct reader){.p = r->p, .end = r->p + len};
		r->p += len;
		*value = 0;
		return true;
	default:
		r->bad = true; /* the encoder writes no other wire type */
		return false;
	}
}

/* ---- the decoded profile ---- */

#define MAX_ENTRIES 8192
#define MAX_LOCS    4200

struct value_type {
	int64_t type, unit;
};

struct dsample {
	uint64_t *locs; /* malloc'd */
	size_t n_locs;
	int64_t values[PPROF_MAX_SAMPLE_TYPES];
	size_t n_values;
};

struct dlocation {
	uint64_t id, mapping_id, function_id;
	size_t n_lines;
};

struct dfunction {
	uint64_t id;
	int64_t name, system_name, filename;
};

struct dmapping {
	uint64_t id;
	int64_t filename;
	bool has_functions;
};

struct dprofile {
	struct value_type sample_types[MAX_ENTRIES];
	size_t n_sample_types;
	struct dsample *samples;
	size_t n_samples;
	struct dlocation locations[MAX_ENTRIES];
	size_t n_locations;
	struct dfunction functions[MAX_ENTRIES];
	size_t n_functions;
	struct dmapping mappings[MAX_ENTRIES];
	size_t n_mappings;
	char *strings[MAX_ENTRIES];
	size_t n_strings;
	int64_t time_nanos, duration_nanos, period;
	struct value_type period_type;
	bool has_period_type;
	size_t unknown_fields;
};

static struct dprofile prof;

static void profile_reset(void)
{
	size_t i;

	for (i = 0; i < prof.n_strings; i++)
		free(prof.strings[i]);
	for (i = 0; i < prof.n_samples; i++)
		free(prof.samples[i].locs);
	free(prof.samples);
	memset(&prof, 0, sizeof(prof));
}

static struct value_type decode_value_type(struct reader r)
{
	struct value_type vt = {0, 0};
	struct reader sub;
	unsigned f;
	uint64_t v;

	while (read_field(&r, &f, &v, &sub)) {
		if (f == 1)
			vt.type = (int64_t)v;
		else if (f == 2)
			vt.unit = (int64_t)v;
	}
	return vt;
}

/* Packed repeated varints (the encoder always packs). */
static size_t decode_packed(struct reader r, uint64_t *out, size_t max)
{
	size_t n = 0;

	while (r.p < r.end && !r.bad && n < max)
		out[n++] = read_varint(&r);
	CHECK(!r.bad && r.p == r.end);
	return n;
}

static void decode_sample(struct reader r, struct dsample *s)
{
	uint64_t values[PPROF_MAX_SAMPLE_TYPES + 1];
	struct reader sub;
	unsigned f;
	uint64_t v;
	size_t i;

	while (read_field(&r, &f, &v, &sub)) {
		if (f == 1 && sub.p) {
			static uint64_t locs[MAX_LOCS];

			s->n_locs = decode_packed(sub, locs, MAX_LOCS);
			free(s->locs);
			s->locs = malloc(s->n_locs * sizeof(*s->locs) + 1);
			memcpy(s->locs, locs, s->n_locs * sizeof(*s->locs));
		} else if (f == 2 && sub.p) {
			s->n_values = decode_packed(sub, values, PPROF_MAX_SAMPLE_TYPES + 1);
			for (i = 0; i < s->n_values; i++)
				s->values[i] = (int64_t)values[i];
		}
	}
	CHECK(!r.bad);
}

static void decode_location(struct reader r, struct dlocation *l)
{
	struct reader sub, line;
	unsigned f, lf;
	uint64_t v, lv;

	while (read_field(&r, &f, &v, &sub)) {
		if (f == 1) {
			l->id = v;
		} else if (f == 2) {
			l->mapping_id = v;
		} else if (f == 4) {
			l->n_lines++;
			line = sub;
			while (read_field(&line, &lf, &lv, &sub))
				if (lf == 1)
					l->function_id = lv;
		}
	}
}

static void decode_function(struct reader r, struct dfunction *fn)
{
	struct reader sub;
	unsigned f;
	uint64_t v;

	while (read_field(&r, &f, &v, &sub)) {
		if (f == 1)
			fn->id = v;
		else if (f == 2)
			fn->name = (int64_t)v;
		else if (f == 3)
			fn->system_name = (int64_t)v;
		else if (f == 4)
			fn->filename = (int64_t)v;
	}
}

static void decode_mapping(struct reader r, struct dmapping *m)
{
	struct reader sub;
	unsigned f;
	uint64_t v;

	while (read_field(&r, &f, &v, &sub)) {
		if (f == 1)
			m->id = v;
		else if (f == 5)
			m->filename = (int64_t)v;
		else if (f == 7)
			m->has_functions = v != 0;
	}
}

/* gunzips `gz` and decodes it into `prof`; false when anything is off. */
static bool decode(const unsigned char *gz, size_t gz_len)
{
	size_t cap = 1 << 20;
	uint8_t *raw = malloc(cap);
	z_stream zs = {0};
	struct reader r, sub;
	unsigned f;
	uint64_t v;
	int rc;

	profile_reset();
	prof.samples = calloc(MAX_ENTRIES, sizeof(*prof.samples));
	CHECK(gz_len > 2 && gz[0] == 0x1f && gz[1] == 0x8b); /* gzip magic */
	CHECK_INT_EQ(inflateInit2(&zs, 15 + 16), Z_OK);
	zs.next_in = (Bytef *)gz;
	zs.avail_in = (uInt)gz_len;
	for (;;) {
		zs.next_out = raw + zs.total_out;
		zs.avail_out = (uInt)(cap - zs.total_out);
		rc = inflate(&zs, Z_FINISH);
		if (rc != Z_BUF_ERROR || zs.avail_out)
			break;
		cap *= 2;
		raw = realloc(raw, cap);
	}
	CHECK_INT_EQ(rc, Z_STREAM_END);
	r = (struct reader){.p = raw, .end = raw + zs.total_out};
	inflateEnd(&zs);
	while (read_field(&r, &f, &v, &sub)) {
		if (prof.n_sample_types == MAX_ENTRIES || prof.n_samples == MAX_ENTRIES ||
		    prof.n_mappings == MAX_ENTRIES || prof.n_locations == MAX_ENTRIES ||
		    prof.n_functions == MAX_ENTRIES || prof.n_strings == MAX_ENTRIES) {
			CHECK(!"profile larger than the test decoder's tables");
			break;
		}
		switch (f) {
		case 1:
			prof.sample_types[prof.n_sample_types++] = decode_value_type(sub);
			break;
		case 2:
			decode_sample(sub, &prof.samples[prof.n_samples++]);
			break;
		case 3:
			decode_mapping(sub, &prof.mappings[prof.n_mappings++]);
			break;
		case 4:
			decode_location(sub, &prof.locations[prof.n_locations++]);
			break;
		case 5:
			decode_function(sub, &prof.functions[prof.n_functions++]);
			break;
		case 6:
			prof.strings[prof.n_strings] =
			    strndup((const char *)sub.p, (size_t)(sub.end - sub.p));
			prof.n_strings++;
			break;
		case 9:
			prof.time_nanos = (int64_t)v;
			break;
		case 10:
			prof.duration_nanos = (int64_t)v;
			break;
		case 11:
			prof.period_type = decode_value_type(sub);
			prof.has_period_type = true;
			break;
		case 12:
			prof.period = (int64_t)v;
			break;
		default:
			prof.unknown_fields++;
		}
	}
	CHECK(!r.bad);
	free(raw);
	return !r.bad && rc == Z_STREAM_END;
}

static const char *str(int64_t i)
{
	return i >= 0 && (size_t)i < prof.n_strings ? prof.strings[i] : "(bad string index)";
}

static const struct dlocation *location(uint64_t id)
{
	size_t i;

	for (i = 0; i < prof.n_locations; i++)
		if (prof.locations[i].id == id)
			return &prof.locations[i];
	return NULL;
}

static const struct dfunction *function(uint64_t id)
{
	size_t i;

	for (i = 0; i < prof.n_functions; i++)
		if (prof.functions[i].id == id)
			return &prof.functions[i];
	return NULL;
}

/* Sample i as "leaf;...;root" function names (static buffer). */
static const char *sample_names(size_t i)
{
	static char buf[65536];
	size_t k, len = 0;

	buf[0] = '\0';
	for (k = 0; k < prof.samples[i].n_locs; k++) {
		const struct dlocation *l = location(prof.samples[i].locs[k]);
		const struct dfunction *fn = l ? function(l->function_id) : NULL;

		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%s", k ? ";" : "",
					fn ? str(fn->name) : "(dangling)");
	}
	return buf;
}

/* Checks what every profile must satisfy: "" first, strings unique, ids
 * 1..n unique, one line per location, every reference resolves. */
static void check_well_formed(void)
{
	size_t i, k;

	CHECK(prof.n_strings >= 1);
	CHECK_STR_EQ(prof.strings[0], "");
	for (i = 0; i < prof.n_strings; i++)
		for (k = i + 1; k < prof.n_strings; k++)
			CHECK(strcmp(prof.strings[i], prof.strings[k]) != 0);
	for (i = 0; i < prof.n_functions; i++) {
		CHECK_INT_EQ(prof.functions[i].id, i + 1);
		CHECK_STR_EQ(str(prof.functions[i].system_name), str(prof.functions[i].name));
		for (k = i + 1; k < prof.n_functions; k++)
			CHECK(prof.functions[i].name != prof.functions[k].name ||
			      prof.functions[i].filename != prof.functions[k].filename);
	}
	for (i = 0; i < prof.n_locations; i++) {
		CHECK_INT_EQ(prof.locations[i].id, i + 1);
		CHECK_INT_EQ(prof.locations[i].n_lines, 1);
		CHECK(function(prof.locations[i].function_id) != NULL);
		CHECK(prof.locations[i].mapping_id <= prof.n_mappings);
		for (k = i + 1; k < prof.n_locations; k++)
			CHECK(prof.locations[i].function_id != prof.locations[k].function_id ||
			      prof.locations[i].mapping_id != prof.locations[k].mapping_id);
	}
	for (i = 0; i < prof.n_mappings; i++) {
		CHECK_INT_EQ(prof.mappings[i].id, i + 1);
		CHECK(prof.mappings[i].has_functions);
	}
	for (i = 0; i < prof.n_samples; i++) {
		CHECK_INT_EQ(prof.samples[i].n_values, prof.n_sample_types);
		for (k = 0; k < prof.samples[i].n_locs; k++)
			CHECK(location(prof.samples[i].locs[k]) != NULL);
	}
	CHECK_INT_EQ(prof.unknown_fields, 0);
}

static bool finish_and_decode(struct pprof_builder *b)
{
	unsigned char *gz = NULL;
	size_t len = 0;
	bool ok;

	if (!CHECK_INT_EQ(pprof_builder_finish(b, &gz, &len), 0))
		return false;
	ok = decode(gz, len);
	free(gz);
	check_well_formed();
	return ok;
}

static int add_folded(struct pprof_builder *b, const char *stack, int64_t v0, int64_t v1)
{
	int64_t values[2] = {v0, v1};

	return pprof_builder_add_folded(b, stack, strlen(stack), values);
}

/* ---- tests ---- */

TEST(oncpu_folded_round_trip)
{
	struct pprof_options o;
	struct pprof_builder *b;
	int64_t period;

	pprof_options_init(&o, PPROF_ON_CPU, 0);
	period = o.period;
	CHECK_INT_EQ(period, 1000000000 / PPROF_DEFAULT_ONCPU_HZ);
	o.time_nanos = 1700000000000000000;
	o.duration_nanos = 600000000000;
	b = pprof_builder_new(&o);
	CHECK(b != NULL);
	CHECK_INT_EQ(add_folded(b, "main;parse;[unknown]", 2, 2 * period), 0);
	CHECK_INT_EQ(add_folded(b, "main;parse", 1, period), 0);
	CHECK_INT_EQ(add_folded(b, "main;parse;[unknown]", 3, 3 * period), 0); /* merged */
	CHECK_INT_EQ(add_folded(b, "std::vector<int, a>::x;main", 1, period), 0);
	CHECK(finish_and_decode(b));

	CHECK_INT_EQ(prof.n_sample_types, 2);
	CHECK_STR_EQ(str(prof.sample_types[0].type), "samples");
	CHECK_STR_EQ(str(prof.sample_types[0].unit), "count");
	CHECK_STR_EQ(str(prof.sample_types[1].type), "cpu");
	CHECK_STR_EQ(str(prof.sample_types[1].unit), "nanoseconds");
	CHECK(prof.has_period_type);
	CHECK_STR_EQ(str(prof.period_type.type), "cpu");
	CHECK_STR_EQ(str(prof.period_type.unit), "nanoseconds");
	CHECK_INT_EQ(prof.period, period);
	CHECK_INT_EQ(prof.time_nanos, 1700000000000000000);
	CHECK_INT_EQ(prof.duration_nanos, 600000000000);

	CHECK_INT_EQ(prof.n_samples, 3);
	CHECK_STR_EQ(sample_names(0), "[unknown];parse;main"); /* leaf first */
	CHECK_INT_EQ(prof.samples[0].values[0], 5);
	CHECK_INT_EQ(prof.samples[0].values[1], 5 * period);
	CHECK_STR_EQ(sample_names(1), "parse;main");
	CHECK_INT_EQ(prof.samples[1].values[0], 1);
	CHECK_STR_EQ(sample_names(2), "main;std::vector<int, a>::x");
	/* main, parse, [unknown], std::vector...: one function and one location each. */
	CHECK_INT_EQ(prof.n_functions, 4);
	CHECK_INT_EQ(prof.n_locations, 4);
	CHECK_INT_EQ(prof.n_mappings, 0);
	CHECK_INT_EQ(prof.locations[0].mapping_id, 0);
	CHECK_INT_EQ(prof.functions[0].filename, 0);
	/* "", 4 type/unit strings (cpu/nanoseconds reused by period_type), 4 names. */
	CHECK_INT_EQ(prof.n_strings, 1 + 4 + 4);
	pprof_builder_free(b);
}

TEST(frames_with_files_and_modules)
{
	struct pprof_options o;
	struct pprof_builder *b;
	const struct pprof_frame s1[] = {
	    {"main", "main.c", "/usr/bin/app"},
	    {"read", NULL, "libc.so.6"},
	};
	const struct pprof_frame s2[] = {
	    {"main", "main.c", "/usr/bin/app"},
	    {"read", "io.c", "libc.so.6"}, /* same name, another file */
	    {"read", "", NULL},		   /* bare: same as a folded frame */
	};
	int64_t v[2] = {1, 100};
	const struct dfunction *fn;
	const struct dlocation *l;

	pprof_options_init(&o, PPROF_OFF_CPU, 0);
	b = pprof_builder_new(&o);
	CHECK_INT_EQ(pprof_builder_add(b, s1, 2, v), 0);
	CHECK_INT_EQ(pprof_builder_add(b, s2, 3, v), 0);
	CHECK_INT_EQ(pprof_builder_add(b, s1, 2, v), 0);
	CHECK_INT_EQ(add_folded(b, "main;read", 1, 7), 0);
	CHECK(finish_and_decode(b));

	CHECK_STR_EQ(str(prof.sample_types[1].type), "off-cpu");
	CHECK_STR_EQ(str(prof.sample_types[1].unit), "nanoseconds");
	CHECK_STR_EQ(str(prof.period_type.type), "off-cpu");
	CHECK_INT_EQ(prof.period, 1);
	CHECK_INT_EQ(prof.time_nanos, 0);
	CHECK_INT_EQ(prof.n_samples, 3);
	CHECK_STR_EQ(sample_names(0), "read;main");
	CHECK_INT_EQ(prof.samples[0].values[0], 2);
	CHECK_INT_EQ(prof.samples[0].values[1], 200);
	CHECK_STR_EQ(sample_names(1), "read;read;main");
	CHECK_STR_EQ(sample_names(2), "read;main");
	CHECK_INT_EQ(prof.samples[2].values[1], 7);
	/* Functions: main@main.c, read@-, read@io.c, main@- (the folded one). */
	CHECK_INT_EQ(prof.n_functions, 4);
	CHECK_INT_EQ(prof.n_mappings, 2);
	CHECK_STR_EQ(str(prof.mappings[0].filename), "/usr/bin/app");
	CHECK_STR_EQ(str(prof.mappings[1].filename), "libc.so.6");
	/* Locations: main@app, read@libc, read(io.c)@libc, read bare, main bare. */
	CHECK_INT_EQ(prof.n_locations, 5);
	l = location(prof.samples[0].locs[1]);
	fn = l ? function(l->function_id) : NULL;
	CHECK(l && l->mapping_id == 1);
	CHECK(fn && strcmp(str(fn->filename), "main.c") == 0);
	l = location(prof.samples[1].locs[1]);
	fn = l ? function(l->function_id) : NULL;
	CHECK(l && l->mapping_id == 2);
	CHECK(fn && strcmp(str(fn->filename), "io.c") == 0);
	l = location(prof.samples[1].locs[0]);
	CHECK(l && l->mapping_id == 0);
	/* The bare read of s2 and the folded read share one location. */
	CHECK_INT_EQ(prof.samples[1].locs[0], prof.samples[2].locs[0]);
	pprof_builder_free(b);
}

TEST(values_edge_cases)
{
	static const struct pprof_value_type types[] = {
	    {"a", "count"}, {"b", "bytes"}, {"c", "count"}};
	struct pprof_options o = {.sample_types = types, .n_sample_types = 3};
	struct pprof_builder *b = pprof_builder_new(&o);
	int64_t v1[3] = {-1, INT64_MAX, 0}, v2[3] = {INT64_MIN, 0, 5}, v3[3] = {0, 1, 0};

	CHECK_INT_EQ(pprof_builder_add_folded(b, "x", 1, v1), 0);
	CHECK_INT_EQ(pprof_builder_add_folded(b, "y", 1, v2), 0);
	CHECK_INT_EQ(pprof_builder_add_folded(b, "x", 1, v3), -EOVERFLOW);
	CHECK(finish_and_decode(b));
	CHECK(!prof.has_period_type);
	CHECK_INT_EQ(prof.period, 0);
	CHECK_INT_EQ(prof.n_sample_types, 3);
	CHECK_INT_EQ(prof.n_samples, 2);
	CHECK_INT_EQ(prof.samples[0].values[0], -1);
	CHECK_INT_EQ(prof.samples[0].values[1], INT64_MAX);
	CHECK_INT_EQ(prof.samples[0].values[2], 0);
	CHECK_INT_EQ(prof.samples[1].values[0], INT64_MIN);
	CHECK_INT_EQ(prof.samples[1].values[2], 5);
	pprof_builder_free(b);
}

TEST(empty_profile_and_finish_twice)
{
	struct pprof_options o;
	struct pprof_builder *b;
	unsigned char *gz1, *gz2;
	size_t len1, len2;

	pprof_options_init(&o, PPROF_ON_CPU, 49);
	b = pprof_builder_new(&o);
	CHECK(finish_and_decode(b));
	CHECK_INT_EQ(prof.n_samples, 0);
	CHECK_INT_EQ(prof.n_sample_types, 2);
	CHECK_INT_EQ(prof.period, 1000000000 / 49);
	CHECK_INT_EQ(pprof_builder_finish(b, &gz1, &len1), 0);
	CHECK_INT_EQ(pprof_builder_finish(b, &gz2, &len2), 0);
	CHECK(len1 == len2 && memcmp(gz1, gz2, len1) == 0);
	free(gz1);
	free(gz2);
	/* Adding after a finish: the next finish has everything. */
	CHECK_INT_EQ(add_folded(b, "a", 1, 1), 0);
	CHECK(finish_and_decode(b));
	CHECK_INT_EQ(prof.n_samples, 1);
	pprof_builder_free(b);
	CHECK(pprof_builder_free(NULL) == NULL);
}

TEST(bad_options)
{
	static const struct pprof_value_type one[] = {{"samples", "count"}},
					     no_unit[] = {{"samples", NULL}},
					     no_type[] = {{NULL, "count"}},
					     five[] = {{"a", "b"},
						       {"a", "b"},
						       {"a", "b"},
						       {"a", "b"},
						       {"a", "b"}};
	const struct pprof_options bad[] = {
	    {.sample_types = NULL, .n_sample_types = 1},
	    {.sample_types = one, .n_sample_types = 0},
	    {.sample_types = five, .n_sample_types = 5},
	    {.sample_types = no_unit, .n_sample_types = 1},
	    {.sample_types = no_type, .n_sample_types = 1},
	    {.sample_types = one, .n_sample_types = 1, .period_type = {"cpu", NULL}},
	    {.sample_types = one, .n_sample_types = 1, .max_bytes = (size_t)2 << 30},
	};
	size_t i;

	errno = 0;
	CHECK(pprof_builder_new(NULL) == NULL);
	CHECK_INT_EQ(errno, EINVAL);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		harness_context("options %zu", i);
		errno = 0;
		CHECK(pprof_builder_new(&bad[i]) == NULL);
		CHECK_INT_EQ(errno, EINVAL);
	}
}

TEST(bad_samples)
{
	static struct pprof_frame deep[PPROF_MAX_FRAMES + 1];
	static char deep_folded[2 * (PPROF_MAX_FRAMES + 1)];
	const struct pprof_frame no_name[] = {{"main", NULL, NULL}, {NULL, "f.c", NULL}},
				 empty_name[] = {{"", NULL, NULL}};
	struct pprof_options o;
	struct pprof_builder *b;
	int64_t v[2] = {1, 1};
	size_t i;

	pprof_options_init(&o, PPROF_ON_CPU, 0);
	b = pprof_builder_new(&o);
	CHECK_INT_EQ(pprof_builder_add(b, no_name, 0, v), -EINVAL);
	CHECK_INT_EQ(pprof_builder_add(b, no_name, 2, v), -EINVAL);
	CHECK_INT_EQ(pprof_builder_add(b, empty_name, 1, v), -EINVAL);
	CHECK_INT_EQ(pprof_builder_add_folded(b, "", 0, v), -EINVAL);
	CHECK_INT_EQ(add_folded(b, "a;;b", 1, 1), -EINVAL);
	CHECK_INT_EQ(add_folded(b, ";a", 1, 1), -EINVAL);
	CHECK_INT_EQ(add_folded(b, "a;", 1, 1), -EINVAL);
	for (i = 0; i <= PPROF_MAX_FRAMES; i++) {
		deep[i] = (struct pprof_frame){.function = "f"};
		deep_folded[2 * i] = 'f';
		deep_folded[2 * i + 1] = ';';
	}
	CHECK_INT_EQ(pprof_builder_add(b, deep, PPROF_MAX_FRAMES + 1, v), -E2BIG);
	CHECK_INT_EQ(pprof_builder_add_folded(b, deep_folded, 2 * PPROF_MAX_FRAMES + 1, v), -E2BIG);
	CHECK_INT_EQ(pprof_builder_add(b, deep, PPROF_MAX_FRAMES, v), 0);
	CHECK_INT_EQ(pprof_builder_add_folded(b, deep_folded, 2 * PPROF_MAX_FRAMES - 1, v), 0);
	CHECK(finish_and_decode(b));
	CHECK_INT_EQ(prof.n_samples, 1); /* the same 4096 f's, twice */
	CHECK_INT_EQ(prof.samples[0].n_locs, PPROF_MAX_FRAMES);
	CHECK_INT_EQ(prof.samples[0].values[0], 2);
	pprof_builder_free(b);
}

TEST(max_bytes_bounds_the_profile)
{
	struct pprof_options o;
	struct pprof_builder *b;
	char stack[64];
	int i, r = 0;

	pprof_options_init(&o, PPROF_ON_CPU, 0);
	o.max_bytes = 2000;
	b = pprof_builder_new(&o);
	for (i = 0; i < 1000 && r == 0; i++) {
		snprintf(stack, sizeof(stack), "main;function_%d", i);
		r = add_folded(b, stack, 1, 1);
	}
	CHECK_INT_EQ(r, -E2BIG);
	CHECK(i > 10 && i < 100);
	CHECK_INT_EQ(add_folded(b, "main;function_0", 1, 1), 0); /* known stacks still add */
	{
		const struct pprof_frame f[] = {{"main", NULL, NULL}};
		int64_t v[2] = {1, 1};

		CHECK_INT_EQ(pprof_builder_add(b, f, 1, v), -E2BIG);
	}
	CHECK(finish_and_decode(b));
	CHECK_INT_EQ(prof.n_samples, i - 1);
	CHECK_INT_EQ(prof.samples[0].values[0], 2);
	pprof_builder_free(b);
}

/* Thousands of distinct stacks: every table rehashes; every sample decodes
 * back to its stack. */
TEST(many_stacks_round_trip)
{
	enum {
		STACKS = 3000
	};
	struct pprof_options o;
	struct pprof_builder *b;
	char stack[128], want[128];
	int i, round;

	pprof_options_init(&o, PPROF_ON_CPU, 0);
	b = pprof_builder_new(&o);
	for (round = 0; round < 2; round++) {
		for (i = 0; i < STACKS; i++) {
			snprintf(stack, sizeof(stack), "main;mod_%d;fn_%d", i % 40, i);
			CHECK_INT_EQ(add_folded(b, stack, i, 0), 0);
		}
	}
	for (i = 0; i < 100; i++) {
		const struct pprof_frame f[] = {{"main", "m.c", "app"}, {"x", "x.c", stack}};
		int64_t v[2] = {1, 0};

		snprintf(stack, sizeof(stack), "lib%d.so", i);
		CHECK_INT_EQ(pprof_builder_add(b, f, 2, v), 0);
	}
	CHECK(finish_and_decode(b));
	CHECK_INT_EQ(prof.n_samples, STACKS + 100);
	for (i = 0; i < STACKS; i++) {
		snprintf(want, sizeof(want), "fn_%d;mod_%d;main", i, i % 40);
		harness_context("sample %d", i);
		CHECK_STR_EQ(sample_names((size_t)i), want);
		CHECK_INT_EQ(prof.samples[i].values[0], 2 * i);
	}
	CHECK_INT_EQ(prof.n_mappings, 101);
	CHECK_INT_EQ(prof.n_functions, 1 + 40 + STACKS + 2);
	pprof_builder_free(b);
	profile_reset();
}

int main(void)
{
	RUN(oncpu_folded_round_trip);
	RUN(frames_with_files_and_modules);
	RUN(values_edge_cases);
	RUN(empty_profile_and_finish_twice);
	RUN(bad_options);
	RUN(bad_samples);
	RUN(max_bytes_bounds_the_profile);
	RUN(many_stacks_round_trip);
	return harness_finish();
}
