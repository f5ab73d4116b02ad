/* parse: checked number and duration parsing for everything a user or the
 * network hands us. Each parser accepts the whole string or fails with
 * -EINVAL (not a number) / -ERANGE (out of range); the output is written only
 * on success. No locale dependence beyond strtod's.
 */
#ifndef CONTPROF_UTIL_PARSE_H
#define CONTPROF_UTIL_PARSE_H

#include <stdint.h>

int parse_u32(const char *s, uint32_t *ret);
int parse_u64(const char *s, uint64_t *ret);
int parse_i64(const char *s, int64_t *ret);
int parse_double(const char *s, double *ret);
/* "90", "90s", "15m", "48h", "7d" -> milliseconds. */
int parse_duration_ms(const char *s, int64_t *ret_ms);
/* A point in time, in Unix milliseconds: "1732525200000" (absolute), "now",
 * or "-10m" / "-48h" (that long before `now_ms`, any parse_duration_ms form
 * after the minus). Absolute times must be > 0; results before the epoch are
 * -ERANGE. */
int parse_time_ms(const char *s, int64_t now_ms, int64_t *ret_ms);

#endif
