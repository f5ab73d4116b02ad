/* token: see token.h. */
#include "util/token.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Trims blanks around buf[start, end) and checks what is left. 0 with the
 * bounds updated, -EINVAL otherwise. */
static int token_trim(const char *buf, size_t *start, size_t *end)
{
	while (*start < *end && (buf[*start] == ' ' || buf[*start] == '\t'))
		(*start)++;
	while (*end > *start && (buf[*end - 1] == ' ' || buf[*end - 1] == '\t'))
		(*end)--;
	if (*end == *start || *end - *start > TOKEN_MAX_LEN)
		return -EINVAL;
	for (size_t i = *start; i < *end; i++)
		if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f)
			return -EINVAL;
	return 0;
}

static int check_fd(int fd, const char *path, mode_t forbidden, const char *who, char *err,
		    size_t errlen)
{
	struct stat st;

	if (fstat(fd, &st) < 0) {
		int e = -errno;

		snprintf(err, errlen, "cannot stat %s: %s", path, strerror(-e));
		return e;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s is not a regular file", path);
		return -EINVAL;
	}
	if (st.st_mode & forbidden) {
		snprintf(err, errlen,
			 "%s may be read or written by %s (mode %04o); refusing to use it: "
			 "chmod %s %s",
			 path, who, (unsigned)(st.st_mode & 07777),
			 forbidden == 0077 ? "600" : "o-rwx", path);
		return -EPERM;
	}
	return 0;
}

int token_check_private_fd(int fd, const char *path, char *err, size_t errlen)
{
	return check_fd(fd, path, 0077, "group or others", err, errlen);
}

int token_read_pem(const char *path, bool is_key, char **ret, char *err, size_t errlen)
{
	size_t len = 0, cap = 16384;
	char *buf = NULL;
	int r = 0, fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(-r));
		return r;
	}
	if (is_key)
		r = check_fd(fd, path, 0007, "others", err, errlen);
	buf = r ? NULL : malloc(cap);
	if (!r && !buf)
		r = -ENOMEM;
	while (r == 0) {
		ssize_t n;

		if (len > TOKEN_PEM_MAX_BYTES) {
			snprintf(err, errlen, "%s is larger than %d bytes", path,
				 TOKEN_PEM_MAX_BYTES);
			r = -EINVAL;
			break;
		}
		if (len + 1 == cap) {
			char *grown;

			grown = realloc(buf, cap * 2);
			if (!grown) {
				r = -ENOMEM;
				break;
			}
			buf = grown;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			snprintf(err, errlen, "cannot read %s: %s", path, strerror(-r));
		} else if (n == 0) {
			break;
		}
		len += (size_t)(n > 0 ? n : 0);
	}
	close(fd);
	if (r == 0 && len == 0) {
		snprintf(err, errlen, "%s is empty", path);
		r = -EINVAL;
	}
	if (r < 0) {
		if (buf)
			explicit_bzero(buf, cap);
		free(buf);
		if (r == -ENOMEM)
			snprintf(err, errlen, "out of memory reading %s", path);
		return r;
	}
	buf[len] = '\0';
	*ret = buf;
	return 0;
}

int token_read_file(const char *path, char **ret, char *err, size_t errlen)
{
	char buf[TOKEN_MAX_LEN + 2];
	ssize_t n;
	size_t start = 0, end;
	int r, fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot read token file %s: %s", path, strerror(-r));
		return r;
	}
	r = token_check_private_fd(fd, path, err, errlen);
	if (r < 0) {
		close(fd);
		return r;
	}
	do
		n = read(fd, buf, sizeof(buf) - 1);
	while (n < 0 && errno == EINTR);
	r = n < 0 ? -errno : 0;
	close(fd);
	if (r < 0) {
		snprintf(err, errlen, "cannot read token file %s: %s", path, strerror(-r));
		return r;
	}
	buf[n] = '\0';
	end = strcspn(buf, "\r\n");
	r = token_trim(buf, &start, &end);
	if (r == 0) {
		*ret = strndup(buf + start, end - start);
		r = *ret ? 0 : -ENOMEM;
	} else {
		snprintf(err, errlen,
			 "token file %s holds no usable token (empty, over %d bytes or with "
			 "control characters)",
			 path, TOKEN_MAX_LEN);
	}
	explicit_bzero(buf, sizeof(buf));
	return r;
}

int token_from_env(const char *const *env_names, char **ret, char *err, size_t errlen)
{
	for (size_t i = 0; env_names[i]; i++) {
		const char *v = getenv(env_names[i]);
		size_t start = 0, end;

		if (!v || !*v)
			continue;
		end = strlen(v);
		if (token_trim(v, &start, &end) < 0) {
			snprintf(err, errlen,
				 "$%s holds no usable token (empty, over %d bytes or with "
				 "control characters)",
				 env_names[i], TOKEN_MAX_LEN);
			return -EINVAL;
		}
		*ret = strndup(v + start, end - start);
		return *ret ? 0 : -ENOMEM;
	}
	*ret = NULL;
	return 0;
}

bool token_equal(const char *expected, const char *given)
{
	size_t le = strlen(expected), lg = strlen(given);
	volatile unsigned char diff = (unsigned char)(le != lg);

	if (le == 0)
		return false;
	/* Every byte of `given` is compared (against expected, wrapping), so
	 * the loop's length never depends on the secret's content. */
	for (size_t i = 0; i < lg; i++)
		diff |= (unsigned char)(given[i] ^ expected[i % le]);
	return diff == 0;
}
