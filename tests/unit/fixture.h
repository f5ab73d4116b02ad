/* fixture: builds throwaway file trees (a fake /proc, /sys, cgroupfs) under a
 * temporary directory for the readers that take a root path. Header-only
 * (static inline) because each test binary links only itself and harness.o. */
#ifndef CONTPROF_TESTS_FIXTURE_H
#define CONTPROF_TESTS_FIXTURE_H

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FIXTURE_PATH_MAX (PATH_MAX * 2)

struct fixture {
	char root[PATH_MAX];
};

/* Creates an empty root under /tmp. 0 or -errno. */
static inline int fixture_init(struct fixture *f)
{
	snprintf(f->root, sizeof(f->root), "/tmp/contprof-fixture-XXXXXX");
	return mkdtemp(f->root) ? 0 : -errno;
}

static inline int fixture_make_parents(const char *path)
{
	char buf[FIXTURE_PATH_MAX];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	return 0;
}

/* Writes len bytes of data to root/relpath, creating directories. 0 or -errno. */
static inline int fixture_write_bytes(struct fixture *f, const char *relpath, const char *data,
				      size_t len)
{
	char path[FIXTURE_PATH_MAX];
	int fd, r;

	snprintf(path, sizeof(path), "%s/%s", f->root, relpath);
	r = fixture_make_parents(path);
	if (r < 0)
		return r;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	r = write(fd, data, len) == (ssize_t)len ? 0 : -EIO;
	close(fd);
	return r;
}

/* Writes text to root/relpath. 0 or -errno. */
static inline int fixture_write(struct fixture *f, const char *relpath, const char *text)
{
	return fixture_write_bytes(f, relpath, text, strlen(text));
}

/* Makes root/relpath a symlink to target. 0 or -errno. */
static inline int fixture_symlink(struct fixture *f, const char *relpath, const char *target)
{
	char path[FIXTURE_PATH_MAX];
	int r;

	snprintf(path, sizeof(path), "%s/%s", f->root, relpath);
	r = fixture_make_parents(path);
	if (r < 0)
		return r;
	unlink(path);
	return symlink(target, path) < 0 ? -errno : 0;
}

static inline int fixture_remove_entry(const char *path, const struct stat *st, int flag,
				       struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

/* Removes root/relpath recursively. */
static inline void fixture_remove(struct fixture *f, const char *relpath)
{
	char path[FIXTURE_PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", f->root, relpath);
	nftw(path, fixture_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Removes the whole tree. */
static inline void fixture_cleanup(struct fixture *f)
{
	if (f->root[0])
		nftw(f->root, fixture_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	f->root[0] = '\0';
}

#endif
