/* log: the one logger of the process.
 *
 * Writes "LEVEL module: message" lines to stderr (with a timestamp when stderr
 * is not a terminal). Only the top level of a call chain logs an error; library
 * code returns -errno and leaves the wording to its caller. Thread-safe: every
 * line is written with one write(2).
 */
#ifndef CONTPROF_UTIL_LOG_H
#define CONTPROF_UTIL_LOG_H

enum log_level {
	LOG_DEBUG,
	LOG_INFO,
	LOG_WARN,
	LOG_ERROR
};

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
