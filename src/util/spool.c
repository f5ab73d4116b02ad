/* spool: see spool.h.
 *
 * Record format: u32 length (little endian), u32 CRC-32 (zlib) of the data,
 * data. Segments are named by a sequence number; the writer appends to the
 * newest and starts a new one past SPOOL_SEGMENT_MAX_BYTES; the reader walks
 * from the cursor and deletes a segment once every record in it is acked. */
#include "util/spool.h"
#include "util/fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <zlib.h>

#define HEADER_BYTES 8

struct spool {
	char *dir;
	uint64_t max_bytes;
	uint64_t head_seg, head_off; /* oldest unacked record */
	uint64_t tail_seg;	     /* segment being appended to */
	int tail_fd;
	uint64_t tail_size;
	uint64_t pending_bytes, pending_records, corrupt_skipped;
	/* length of the record last returned by spool_peek (with header) */
	uint64_t peeked_len;
	int peeked;
};

static void seg_path(const struct spool *s, uint64_t seg, char *buf, size_t len)
{
	snprintf(buf, len, "%s/seg-%016" PRIu64, s->dir, seg);
}

static void put_u32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

static uint32_t get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Reads the record at `off` of segment `seg`. Returns 0 with a malloc'd copy,
 * -ENOENT at a clean end of segment, -EBADMSG for a torn or corrupt record. */
static int read_record(const struct spool *s, uint64_t seg, uint64_t off, void **ret_data,
		       size_t *ret_len)
{
	unsigned char hdr[HEADER_BYTES];
	char path[PATH_MAX];
	void *data = NULL;
	uint32_t len;
	ssize_t n;
	int fd, err = 0;

	seg_path(s, seg, path, sizeof(path));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = pread(fd, hdr, HEADER_BYTES, (off_t)off);
	if (n == 0) {
		err = -ENOENT;
		goto out;
	}
	if (n != HEADER_BYTES) {
		err = -EBADMSG;
		goto out;
	}
	len = get_u32(hdr);
	if (len > SPOOL_RECORD_MAX_BYTES) {
		err = -EBADMSG;
		goto out;
	}
	data = malloc(len ? len : 1);
	if (!data) {
		err = -ENOMEM;
		goto out;
	}
	if (pread(fd, data, len, (off_t)(off + HEADER_BYTES)) != (ssize_t)len ||
	    (uint32_t)crc32(0L, data, len) != get_u32(hdr + 4)) {
		free(data);
		err = -EBADMSG;
		goto out;
	}
	*ret_data = data;
	*ret_len = len;
out:
	close(fd);
	return err;
}

static int write_cursor(const struct spool *s)
{
	char path[PATH_MAX], tmp[PATH_MAX], text[64];
	int fd, len, err = 0;

	snprintf(path, sizeof(path), "%s/cursor", s->dir);
	snprintf(tmp, sizeof(tmp), "%s/cursor.tmp", s->dir);
	len = snprintf(text, sizeof(text), "%" PRIu64 " %" PRIu64 "\n", s->head_seg, s->head_off);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (write(fd, text, (size_t)len) != len || fdatasync(fd) < 0)
		err = errno ? -errno : -EIO;
	close(fd);
	if (!err && rename(tmp, path) < 0)
		err = -errno;
	return err;
}

static int read_cursor(struct spool *s)
{
	char path[PATH_MAX], text[64] = {0};
	unsigned long long seg, off;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/cursor", s->dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n > 0 && sscanf(text, "%llu %llu", &seg, &off) == 2) {
		s->head_seg = seg;
		s->head_off = off;
	}
	return 0;
}

/* Finds the lowest and highest segment numbers present. */
static int scan_segments(struct spool *s, uint64_t *lo, uint64_t *hi)
{
	DIR *d = opendir(s->dir);
	struct dirent *e;
	int found = 0;

	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		unsigned long long seg;
		char tail;

		if (sscanf(e->d_name, "seg-%llu%c", &seg, &tail) != 1)
			continue;
		if (!found || seg < *lo)
			*lo = seg;
		if (!found || seg > *hi)
			*hi = seg;
		found = 1;
	}
	closedir(d);
	return found;
}

/* Walks every pending record to count them, cuts a torn tail record off the
 * newest segment and skips corrupt records elsewhere. */
static int recover(struct spool *s)
{
	uint64_t lo = 0, hi = 0;
	int found = scan_segments(s, &lo, &hi);

	if (found < 0)
		return found;
	if (!found) {
		s->head_seg = s->tail_seg = 1;
		s->head_off = 0;
		return 0;
	}
	if (s->head_seg < lo || s->head_seg > hi) {
		s->head_seg = lo;
		s->head_off = 0;
	}
	s->tail_seg = hi;
	for (uint64_t seg = s->head_seg; seg <= hi; seg++) {
		uint64_t off = seg == s->head_seg ? s->head_off : 0;

		for (;;) {
			void *data;
			size_t len;
			int r = read_record(s, seg, off, &data, &len);

			if (r == -ENOENT)
				break; /* clean end, or a segment already gone */
			if (r == -EBADMSG) {
				char path[PATH_MAX];

				seg_path(s, seg, path, sizeof(path));
				if (seg == hi) {
					if (truncate(path, (off_t)off) < 0)
						return -errno;
				} else {
					s->corrupt_skipped++;
				}
				break;
			}
			if (r < 0)
				return r;
			free(data);
			s->pending_records++;
			s->pending_bytes += len + HEADER_BYTES;
			off += len + HEADER_BYTES;
		}
	}
	return 0;
}

static int open_tail(struct spool *s)
{
	char path[PATH_MAX];
	struct stat st;

	if (s->tail_fd >= 0)
		close(s->tail_fd);
	seg_path(s, s->tail_seg, path, sizeof(path));
	s->tail_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (s->tail_fd < 0 || fstat(s->tail_fd, &st) < 0)
		return -errno;
	s->tail_size = (uint64_t)st.st_size;
	return 0;
}

int spool_open(const char *dir, uint64_t max_bytes, struct spool **ret)
{
	struct spool *s = calloc(1, sizeof(*s));
	int err;

	if (!s)
		return -ENOMEM;
	s->tail_fd = -1;
	s->max_bytes = max_bytes;
	s->dir = strdup(dir);
	if (!s->dir) {
		err = -ENOMEM;
		goto fail;
	}
	err = fs_mkdir_p(dir, 0700);
	if (!err)
		err = read_cursor(s);
	if (!err)
		err = recover(s);
	if (!err)
		err = open_tail(s);
	if (err)
		goto fail;
	*ret = s;
	return 0;
fail:
	spool_close(s);
	return err;
}

struct spool *spool_close(struct spool *s)
{
	if (!s)
		return NULL;
	if (s->tail_fd >= 0)
		close(s->tail_fd);
	free(s->dir);
	free(s);
	return NULL;
}

/* Writes the header and the record whole. A short write (the disk filled
 * up mid-record) is continued, so the error it ends with is the real one
 * (ENOSPC), never a stale errno. 0 or -errno. */
static int write_record(int fd, const unsigned char *hdr, const void *data, size_t len)
{
	struct iovec iov[2] = {{.iov_base = (void *)hdr, .iov_len = HEADER_BYTES},
			       {.iov_base = (void *)data, .iov_len = len}};
	struct iovec *v = iov;
	int nv = 2;

	while (nv > 0) {
		ssize_t n = writev(fd, v, nv);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		while (nv > 0 && (size_t)n >= v->iov_len) {
			n -= (ssize_t)v->iov_len;
			v++;
			nv--;
		}
		if (nv > 0) {
			v->iov_base = (char *)v->iov_base + n;
			v->iov_len -= (size_t)n;
		}
	}
	return 0;
}

int spool_append(struct spool *s, const void *data, size_t len)
{
	unsigned char hdr[HEADER_BYTES];
	int err;

	if (len > SPOOL_RECORD_MAX_BYTES)
		return -EMSGSIZE;
	if (s->pending_bytes + len + HEADER_BYTES > s->max_bytes)
		return -ENOBUFS;
	if (s->tail_size >= SPOOL_SEGMENT_MAX_BYTES) {
		s->tail_seg++;
		err = open_tail(s);
		if (err)
			return err;
	}
	put_u32(hdr, (uint32_t)len);
	put_u32(hdr + 4, (uint32_t)crc32(0L, data, (uInt)len));
	err = write_record(s->tail_fd, hdr, data, len);
	if (!err && fdatasync(s->tail_fd) < 0)
		err = -errno;
	if (err) {
		/* Leave no half record behind. */
		if (ftruncate(s->tail_fd, (off_t)s->tail_size) < 0)
			return -EIO;
		return err;
	}
	s->tail_size += len + HEADER_BYTES;
	s->pending_bytes += len + HEADER_BYTES;
	s->pending_records++;
	return 0;
}

int spool_peek(struct spool *s, void **ret_data, size_t *ret_len)
{
	while (s->pending_records) {
		int r = read_record(s, s->head_seg, s->head_off, ret_data, ret_len);

		if (r == 0) {
			s->peeked = 1;
			s->peeked_len = *ret_len + HEADER_BYTES;
			return 0;
		}
		if (r != -ENOENT && r != -EBADMSG)
			return r;
		if (s->head_seg >= s->tail_seg)
			break;
		/* End of a finished segment (or a corrupt one): move on. */
		if (r == -EBADMSG)
			s->corrupt_skipped++;
		char path[PATH_MAX];

		seg_path(s, s->head_seg, path, sizeof(path));
		unlink(path);
		s->head_seg++;
		s->head_off = 0;
		write_cursor(s);
	}
	return -ENOENT;
}

int spool_ack(struct spool *s)
{
	if (!s->peeked)
		return -ENOENT;
	s->peeked = 0;
	s->head_off += s->peeked_len;
	s->pending_records--;
	s->pending_bytes -= s->peeked_len;
	if (s->pending_records == 0 && s->head_seg < s->tail_seg) {
		/* Everything acked: restart on the newest segment. */
		for (uint64_t seg = s->head_seg; seg < s->tail_seg; seg++) {
			char path[PATH_MAX];

			seg_path(s, seg, path, sizeof(path));
			unlink(path);
		}
		s->head_seg = s->tail_seg;
		s->head_off = s->tail_size;
	}
	return write_cursor(s);
}

uint64_t spool_bytes(const struct spool *s)
{
	return s->pending_bytes;
}

uint64_t spool_records(const struct spool *s)
{
	return s->pending_records;
}

uint64_t spool_corrupt_skipped(const struct spool *s)
{
	return s->corrupt_skipped;
}
