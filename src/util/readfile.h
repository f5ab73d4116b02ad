/* readfile: read a small text file (procfs, sysfs, cgroupfs) whole into a
 * caller buffer with one open and bounded reads. Owns no state. */
#ifndef CONTPROF_UTIL_READFILE_H
#define CONTPROF_UTIL_READFILE_H

#include <stddef.h>
#include <sys/types.h>

/* Reads up to size - 1 bytes of path into buf and NUL-terminates it (size >= 1).
 * Returns the number of bytes read (a longer file is cut, not an error), or
 * -errno. Retries EINTR; O_CLOEXEC. */
ssize_t readfile(const char *path, char *buf, size_t size);
/* The same for a path built with printf formatting; -ENAMETOOLONG when the
 * path does not fit PATH_MAX. */
ssize_t readfile_fmt(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
