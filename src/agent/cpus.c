/* cpus: see cpus.h. */
#include "agent/cpus.h"

#include <errno.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define CPUS_MAX 8192

int cpus_parse_list(const char *list, int **ret)
{
	int *ids = NULL, n = 0;
	const char *p = list;

	while (*p && *p != '\n') {
		char *end;
		long lo = strtol(p, &end, 10), hi;

		if (end == p || lo < 0 || lo >= CPUS_MAX)
			goto bad;
		hi = lo;
		p = end;
		if (*p == '-') {
			hi = strtol(p + 1, &end, 10);
			if (end == p + 1 || hi < lo || hi >= CPUS_MAX)
				goto bad;
			p = end;
		}
		if (*p == ',')
			p++;
		else if (*p && *p != '\n')
			goto bad;
		for (long c = lo; c <= hi; c++) {
			int *grown = realloc(ids, (size_t)(n + 1) * sizeof(*ids));

			if (!grown) {
				free(ids);
				return -ENOMEM;
			}
			ids = grown;
			ids[n++] = (int)c;
		}
	}
	if (!n)
		goto bad;
	*ret = ids;
	return n;
bad:
	free(ids);
	return -EINVAL;
}

int cpus_online(int **ret)
{
	FILE *f = fopen("/sys/devices/system/cpu/online", "re");
	char line[4096];
	bool ok;

	if (!f)
		return -errno;
	ok = fgets(line, sizeof(line), f) != NULL;
	fclose(f);
	if (!ok)
		return -EIO;
	return cpus_parse_list(line, ret);
}
