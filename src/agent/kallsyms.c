/* kallsyms: /proc/kallsyms into a symtab (see symsrc.h). Loaded once per
 * symbolizer; lookups are binary searches. */
#include "agent/symsrc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse_hex(const char *s, const char **end, uint64_t *ret)
{
	uint64_t v = 0;
	const char *p = s;

	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
		p += 2;
	if (!*p)
		return -EINVAL;
	for (; *p; p++) {
		int d;

		if (*p >= '0' && *p <= '9')
			d = *p - '0';
		else if (*p >= 'a' && *p <= 'f')
			d = *p - 'a' + 10;
		else if (*p >= 'A' && *p <= 'F')
			d = *p - 'A' + 10;
		else
			break;
		if (v >> 60)
			return -ERANGE;
		v = v << 4 | (uint64_t)d;
	}
	if (p == s)
		return -EINVAL;
	*end = p;
	*ret = v;
	return 0;
}

int symsrc_parse_hex(const char *s, const char **end, uint64_t *ret)
{
	return parse_hex(s, end, ret);
}

int kallsyms_load(const char *path, struct symtab *ret)
{
	FILE *f = fopen(path, "re");
	char *line = NULL;
	size_t cap = 0;
	struct symtab t;
	int err = 0;

	if (!f)
		return -errno;
	symtab_init(&t);
	t.unsized_max = KALLSYMS_UNSIZED_MAX;
	while (getline(&line, &cap, f) > 0) {
		const char *p;
		uint64_t addr;
		char type;
		size_t len;

		if (parse_hex(line, &p, &addr) || *p != ' ' || !addr)
			continue;
		type = p[1];
		if (!type || p[2] != ' ')
			continue;
		if (type != 't' && type != 'T' && type != 'w' && type != 'W')
			continue;
		p += 3;
		len = strcspn(p, " \t\n");
		if (!len)
			continue;
		err = symtab_add(&t, addr, 0, p, len);
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
