/* pprof: encodes stacks with sample values as a gzip-compressed pprof profile
 * (perftools.profiles.Profile of github.com/google/pprof proto/profile.proto),
 * the format `go tool pprof` reads. The server serves it as
 * application/octet-stream for GET /api/v1/tasks/{id}/flamegraph?format=pprof.
 *
 * Owns the protobuf encoding (written by hand: varints and length-delimited
 * fields) and the tables it needs: a string table with "" at index 0, one
 * Function per distinct (name, file), one Mapping per distinct module, one
 * Location per distinct (function, mapping) with a single Line, and one
 * Sample per distinct stack (location ids leaf first; adding a stack again
 * sums its values, as pprof itself aggregates), in the order first added.
 * Does not own reading
 * stacks from the store, nor symbolization: frames arrive as names.
 *
 * A builder is used by one thread at a time. No function logs.
 */
#ifndef CONTPROF_SERVER_PPROF_H
#define CONTPROF_SERVER_PPROF_H

#include <stddef.h>
#include <stdint.h>

#define PPROF_MAX_SAMPLE_TYPES	4
#define PPROF_MAX_FRAMES	4096	     /* per sample */
#define PPROF_DEFAULT_MAX_BYTES (256u << 20) /* uncompressed profile */
#define PPROF_DEFAULT_ONCPU_HZ	99

struct pprof_value_type {
	const char *type; /* e.g. "samples", "cpu", "off-cpu" */
	const char *unit; /* e.g. "count", "nanoseconds" */
};

struct pprof_options {
	const struct pprof_value_type *sample_types; /* 1..PPROF_MAX_SAMPLE_TYPES */
	size_t n_sample_types;
	struct pprof_value_type period_type; /* .type NULL: not written */
	int64_t period;			     /* events between samples; 0: not written */
	int64_t time_nanos;		     /* profile start, Unix ns; 0: not written */
	int64_t duration_nanos;		     /* 0: not written */
	size_t max_bytes;		     /* 0: default; at most 1 GiB */
};

/* contprof's two stack profiles. Values of a sample, in this order:
 *   PPROF_ON_CPU:  samples/count, cpu/nanoseconds (= count * period);
 *                  period_type cpu/nanoseconds, period 1e9 / hz.
 *   PPROF_OFF_CPU: samples/count (switches), off-cpu/nanoseconds;
 *                  period_type off-cpu/nanoseconds, period 1. */
enum pprof_kind {
	PPROF_ON_CPU,
	PPROF_OFF_CPU,
};

/* Fills *ret for `kind` (oncpu_hz: the sampling rate, 0 for the default;
 * ignored for PPROF_OFF_CPU); time and duration are left 0 for the caller. */
void pprof_options_init(struct pprof_options *ret, enum pprof_kind kind, uint32_t oncpu_hz);

/* One frame: `function` is required and non-empty; `file` (source file,
 * Function.filename) and `module` (binary or library, Mapping.filename) may
 * be NULL or "". */
struct pprof_frame {
	const char *function;
	const char *file;
	const char *module;
};

struct pprof_builder;

/* A builder for one profile; the option strings are copied. NULL with errno
 * EINVAL (no or too many sample types, a NULL type or unit, max_bytes above
 * 1 GiB) or ENOMEM. */
struct pprof_builder *pprof_builder_new(const struct pprof_options *options);
/* Frees the builder; accepts NULL; returns NULL. */
struct pprof_builder *pprof_builder_free(struct pprof_builder *b);

/* Adds one sample: `n` frames root first (as in folded stacks; written leaf
 * first as pprof wants) and one value per sample type. 0, -EINVAL (n == 0, a
 * missing function name), -E2BIG (n > PPROF_MAX_FRAMES, or the profile has
 * reached max_bytes: it is full, finish or discard it), -EOVERFLOW (a summed
 * value would overflow int64; nothing added) or -ENOMEM. On an error the
 * builder may hold unused strings or functions but no partial sample. */
int pprof_builder_add(struct pprof_builder *b, const struct pprof_frame *frames, size_t n,
		      const int64_t *values);

/* As pprof_builder_add for a ';'-joined stack of `len` bytes (folded form,
 * not NUL-terminated; each frame a function name; -EINVAL on an empty frame).
 * A stack text seen before costs one hash lookup. */
int pprof_builder_add_folded(struct pprof_builder *b, const char *stack, size_t len,
			     const int64_t *values);

/* Encodes the profile and gzips it. *ret_data is malloc'd and owned by the
 * caller. 0, -ENOMEM or -EIO (zlib failed). The builder stays usable; adding
 * more and finishing again gives a profile with everything. */
int pprof_builder_finish(struct pprof_builder *b, unsigned char **ret_data, size_t *ret_len);

#endif
