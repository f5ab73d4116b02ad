/* format: turning numbers the server sends (Unix ms, byte counts, values)
 * into short human text for tables and detail views.
 *
 * Every function writes into a caller's buffer of FORMAT_BUF_LEN bytes (never
 * a static one) and returns that buffer, so calls can sit in an argument list.
 * Does not own: layout (table.h) or parsing user input (util/parse.h).
 */
#ifndef CONTPROF_CLI_FORMAT_H
#define CONTPROF_CLI_FORMAT_H

#include <stdint.h>

#define FORMAT_BUF_LEN 48

/* "just now", "3s ago", "12m ago", "5h ago", "2d ago"; "in 4s" for a time
 * ahead of now (clock skew); "-" when t_ms <= 0 (never). */
char *format_ago(int64_t now_ms, int64_t t_ms, char buf[FORMAT_BUF_LEN]);

/* "850ms", "12s", "5m03s", "1h02m", "2d03h"; "-" for a negative span. */
char *format_duration_ms(int64_t ms, char buf[FORMAT_BUF_LEN]);

/* Local time "2026-11-25 09:01:02"; "-" when ms <= 0. */
char *format_time_ms(int64_t ms, char buf[FORMAT_BUF_LEN]);

/* "512 B", "1.5 KiB", "3.2 MiB", "7.0 GiB". */
char *format_bytes(double bytes, char buf[FORMAT_BUF_LEN]);

/* A value as people read it: whole numbers as they are ("80"), others with
 * at most two decimals ("47.45", "4.1") or, below 1, three significant
 * digits ("0.5", "0.333", "0.00412"). */
char *format_value(double v, char buf[FORMAT_BUF_LEN]);

/* Now, Unix milliseconds (CLOCK_REALTIME). */
int64_t format_now_ms(void);

#endif
