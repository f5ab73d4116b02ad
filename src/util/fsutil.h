/* fsutil: small filesystem helpers shared by the agent and the CLI. */
#ifndef CONTPROF_UTIL_FSUTIL_H
#define CONTPROF_UTIL_FSUTIL_H

#include <sys/types.h>

/* Creates `path` and its missing parents with `mode`. 0 or -errno. */
int fs_mkdir_p(const char *path, mode_t mode);

#endif
