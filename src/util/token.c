/* token: see token.h. */
#include "util/token.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int token_read_file(const char *path, char **ret)
{
	char buf[TOKEN_MAX_LEN + 2];
	ssize_t n;
	size_t start = 0, end;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	end = strcspn(buf, "\r\n");
	while (start < end && (buf[start] == ' ' || buf[start] == '\t'))
		start++;
	while (end > start && (buf[end - 1] == ' ' || buf[end - 1] == '\t'))
		end--;
	if (end == start || end - start > TOKEN_MAX_LEN)
		return -EINVAL;
	for (size_t i = start; i < end; i++)
		if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f)
			return -EINVAL;
	*ret = strndup(buf + start, end - start);
	return *ret ? 0 : -ENOMEM;
}
