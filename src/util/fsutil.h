/* fsutil: small filesystem helpers shared by the agent and the CLI. */
#ifndef CONTPROF_UTIL_FSUTIL_H
#define CONTPROF_UTIL_FSUTIL_H

#include <stddef.h>
#include <sys/types.h>

/* Creates `path` and its missing parents with `mode`. 0 or -errno. */
int fs_mkdir_p(const char *path, mode_t mode);
/* Writes all `len` bytes of `data` to `fd`, retrying short writes and EINTR.
 * 0 or -errno (what is already written stays written). */
int fs_write_all(int fd, const void *data, size_t len);

#endif
