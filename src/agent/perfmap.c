/* perfmap: JIT symbol maps (/tmp/perf-PID.map, the format perf defines) into
 * a symtab (see symsrc.h). */
#include "agent/symsrc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int perfmap_load(const char *path, struct symtab *ret)
{
	FILE *f = fopen(path, "re");
	char *line = NULL;
	size_t cap = 0;
	struct symtab t;
	ssize_t n;
	int err = 0;

	if (!f)
		return -errno;
	symtab_init(&t);
	while ((n = getline(&line, &cap, f)) > 0) {
		const char *p;
		uint64_t start, size;
		size_t len;

		while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (symsrc_parse_hex(line, &p, &start) || *p != ' ')
			continue;
		if (symsrc_parse_hex(p + 1, &p, &size) || *p != ' ' || !size)
			continue;
		p++;
		len = strlen(p);
		if (!len)
			continue;
		err = symtab_add(&t, start, size, p, len);
		if (err)
			break;
	}
	free(line);
	fclose(f);
	if (err) {
		symtab_release(&t);
		return err;
	}
	symtab_finish(&t);
	*ret = t;
	return 0;
}
