/* procstat_parse: the pure text parsers of procstat.h (procfs, sysfs and
 * cgroupfs formats) and the CPU arithmetic; no I/O, so every branch is
 * unit-tested on fixture text. */
#include "agent/procstat.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/parse.h"

/* Copies the whitespace-delimited token at *s into buf and advances *s.
 * Returns 0, or -EINVAL when there is none or it does not fit. */
static int next_token(const char **s, char *buf, size_t size)
{
	const char *p = *s, *start;
	size_t n;

	while (*p == ' ' || *p == '\t')
		p++;
	start = p;
	while (*p && !isspace((unsigned char)*p))
		p++;
	n = (size_t)(p - start);
	if (n == 0 || n >= size)
		return -EINVAL;
	memcpy(buf, start, n);
	buf[n] = '\0';
	*s = p;
	return 0;
}

int procstat_parse_stat(const char *text, struct procstat_stat *ret)
{
	/* Fields after "(comm)", numbered as in proc(5): 3 = state ... 22 = starttime. */
	struct procstat_stat st = {0};
	const char *open = strchr(text, '('), *close = strrchr(text, ')'), *p;
	char tok[32];
	uint64_t v;
	size_t comm_len;

	if (!open || !close || close < open)
		return -EINVAL;
	comm_len = (size_t)(close - open - 1);
	if (comm_len >= sizeof(st.comm))
		comm_len = sizeof(st.comm) - 1;
	memcpy(st.comm, open + 1, comm_len);
	st.comm[comm_len] = '\0';
	p = close + 1;
	for (int field = 3; field <= 22; field++) {
		if (next_token(&p, tok, sizeof(tok)) < 0)
			return -EINVAL;
		if (field == 3) {
			if (tok[1])
				return -EINVAL;
			st.state = tok[0];
			continue;
		}
		if (field != 4 && field != 9 && field != 14 && field != 15 && field != 20 &&
		    field != 22)
			continue;
		if (parse_u64(tok, &v) < 0)
			return -EINVAL;
		switch (field) {
		case 4:
			st.ppid = (uint32_t)v;
			break;
		case 9:
			st.flags = (uint32_t)v;
			break;
		case 14:
			st.utime_ticks = v;
			break;
		case 15:
			st.stime_ticks = v;
			break;
		case 20:
			st.num_threads = (uint32_t)v;
			break;
		case 22:
			st.start_time_ticks = v;
			break;
		}
	}
	*ret = st;
	return 0;
}

int procstat_stat_is_dead(const struct procstat_stat *st)
{
	return st->state == 'X' || (st->state == 'Z' && st->num_threads <= 1);
}

int procstat_parse_schedstat(const char *text, uint64_t *ret_run_ns)
{
	char tok[32];
	const char *p = text;

	if (next_token(&p, tok, sizeof(tok)) < 0)
		return -EINVAL;
	return parse_u64(tok, ret_run_ns) < 0 ? -EINVAL : 0;
}

static int parse_cpu_number(const char **s, uint32_t *ret)
{
	uint64_t v = 0;
	const char *p = *s;

	if (!isdigit((unsigned char)*p))
		return -EINVAL;
	while (isdigit((unsigned char)*p)) {
		v = v * 10 + (uint64_t)(*p - '0');
		if (v >= PROCSTAT_MAX_CPUS)
			return -EINVAL;
		p++;
	}
	*ret = (uint32_t)v;
	*s = p;
	return 0;
}

int procstat_parse_cpulist(const char *text, struct procstat_cpuset *ret)
{
	struct procstat_cpuset set;
	const char *p = text;

	memset(&set, 0, sizeof(set));
	while (*p == ' ' || *p == '\t')
		p++;
	while (*p && *p != '\n') {
		uint32_t lo, hi;

		if (parse_cpu_number(&p, &lo) < 0)
			return -EINVAL;
		hi = lo;
		if (*p == '-') {
			p++;
			if (parse_cpu_number(&p, &hi) < 0 || hi < lo)
				return -EINVAL;
		}
		for (uint32_t cpu = lo; cpu <= hi; cpu++)
			set.bits[cpu / 64] |= 1ULL << (cpu % 64);
		if (*p == ',')
			p++;
		else if (*p && *p != '\n')
			return -EINVAL;
	}
	*ret = set;
	return 0;
}

int procstat_parse_status_cpus(const char *status_text, struct procstat_cpuset *ret)
{
	static const char key[] = "Cpus_allowed_list:";
	const char *line = status_text;

	while (line && *line) {
		if (strncmp(line, key, sizeof(key) - 1) == 0)
			return procstat_parse_cpulist(line + sizeof(key) - 1, ret);
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	return -ENOENT;
}

uint32_t procstat_cpuset_count(const struct procstat_cpuset *set)
{
	uint32_t n = 0;

	for (size_t i = 0; i < sizeof(set->bits) / sizeof(set->bits[0]); i++)
		n += (uint32_t)__builtin_popcountll(set->bits[i]);
	return n;
}

void procstat_cpuset_and(const struct procstat_cpuset *a, const struct procstat_cpuset *b,
			 struct procstat_cpuset *ret)
{
	for (size_t i = 0; i < sizeof(ret->bits) / sizeof(ret->bits[0]); i++)
		ret->bits[i] = a->bits[i] & b->bits[i];
}

int procstat_parse_cpu_max(const char *text, double *ret_cpus)
{
	char quota[32], period[32];
	const char *p = text;
	uint64_t q, per = 100000;

	if (next_token(&p, quota, sizeof(quota)) < 0)
		return -EINVAL;
	if (next_token(&p, period, sizeof(period)) == 0 &&
	    (parse_u64(period, &per) < 0 || per == 0))
		return -EINVAL;
	if (strcmp(quota, "max") == 0) {
		*ret_cpus = 0;
		return 0;
	}
	if (parse_u64(quota, &q) < 0 || q == 0)
		return -EINVAL;
	*ret_cpus = (double)q / (double)per;
	return 0;
}

int procstat_parse_cfs(const char *quota_text, const char *period_text, double *ret_cpus)
{
	char quota[32], period[32];
	const char *q = quota_text, *p = period_text;
	int64_t quota_us;
	uint64_t period_us;

	if (next_token(&q, quota, sizeof(quota)) < 0 || parse_i64(quota, &quota_us) < 0)
		return -EINVAL;
	if (quota_us < 0) {
		*ret_cpus = 0;
		return 0;
	}
	if (quota_us == 0 || next_token(&p, period, sizeof(period)) < 0 ||
	    parse_u64(period, &period_us) < 0 || period_us == 0)
		return -EINVAL;
	*ret_cpus = (double)quota_us / (double)period_us;
	return 0;
}

int procstat_parse_loadavg(const char *text, double *ret_load1)
{
	char tok[32];
	const char *p = text;
	double v;

	if (next_token(&p, tok, sizeof(tok)) < 0 || parse_double(tok, &v) < 0 || v < 0)
		return -EINVAL;
	*ret_load1 = v;
	return 0;
}

static int copy_path(char *dst, const char *src, size_t len)
{
	if (len >= PROCSTAT_CGROUP_PATH_MAX)
		return -EINVAL;
	memcpy(dst, src, len);
	dst[len] = '\0';
	return 0;
}

/* True when the comma-separated list holds item. */
static int list_has(const char *list, size_t list_len, const char *item)
{
	size_t n = strlen(item);

	for (const char *p = list; p < list + list_len;) {
		const char *comma = memchr(p, ',', (size_t)(list + list_len - p));
		size_t len = comma ? (size_t)(comma - p) : (size_t)(list + list_len - p);

		if (len == n && memcmp(p, item, n) == 0)
			return 1;
		if (!comma)
			break;
		p = comma + 1;
	}
	return 0;
}

int procstat_parse_cgroup(const char *text, struct procstat_cgroups *ret)
{
	struct procstat_cgroups cg;
	const char *line = text;

	memset(&cg, 0, sizeof(cg));
	while (*line) {
		const char *end = strchr(line, '\n'), *c1, *c2;
		size_t len;

		if (!end)
			end = line + strlen(line);
		/* "ID:CONTROLLERS:PATH"; the path may itself hold ':'. */
		c1 = memchr(line, ':', (size_t)(end - line));
		c2 = c1 ? memchr(c1 + 1, ':', (size_t)(end - c1 - 1)) : NULL;
		if (!c2)
			return -EINVAL;
		len = (size_t)(end - c2 - 1);
		if (c1 - line == 1 && line[0] == '0' && c2 == c1 + 1) {
			if (copy_path(cg.unified, c2 + 1, len) < 0)
				return -EINVAL;
		} else if (list_has(c1 + 1, (size_t)(c2 - c1 - 1), "cpu")) {
			if (copy_path(cg.cpu_v1, c2 + 1, len) < 0)
				return -EINVAL;
		} else if (list_has(c1 + 1, (size_t)(c2 - c1 - 1), "name=systemd")) {
			if (copy_path(cg.systemd_v1, c2 + 1, len) < 0)
				return -EINVAL;
		}
		line = *end ? end + 1 : end;
	}
	*ret = cg;
	return 0;
}

/* Decodes mountinfo's octal escapes ("\040" = space) of a field in place. */
static void unescape_octal(char *s)
{
	char *out = s;

	for (char *p = s; *p;) {
		if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' &&
		    p[3] >= '0' && p[3] <= '7') {
			*out++ = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
			p += 4;
		} else {
			*out++ = *p++;
		}
	}
	*out = '\0';
}

int procstat_parse_mountinfo(const char *text, struct procstat_mounts *ret)
{
	struct procstat_mounts m;
	const char *line = text;

	memset(&m, 0, sizeof(m));
	while (*line) {
		const char *end = strchr(line, '\n'), *p = line;
		char root[PROCSTAT_CGROUP_PATH_MAX], point[PROCSTAT_CGROUP_PATH_MAX];
		char tok[PROCSTAT_CGROUP_PATH_MAX], fstype[64], superopts[512];
		int ok = 1;

		if (!end)
			end = line + strlen(line);
		/* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTS */
		for (int i = 0; i < 3 && ok; i++)
			ok = next_token(&p, tok, sizeof(tok)) == 0;
		ok = ok && next_token(&p, root, sizeof(root)) == 0 &&
		     next_token(&p, point, sizeof(point)) == 0;
		while (ok && (ok = next_token(&p, tok, sizeof(tok)) == 0) && strcmp(tok, "-") != 0)
			;
		ok = ok && next_token(&p, fstype, sizeof(fstype)) == 0 &&
		     next_token(&p, tok, sizeof(tok)) == 0 &&
		     next_token(&p, superopts, sizeof(superopts)) == 0;
		if (ok && p <= end) {
			unescape_octal(root);
			unescape_octal(point);
			/* The first mount of a hierarchy wins: later ones are bind mounts. */
			if (strcmp(fstype, "cgroup2") == 0 && !m.unified_mount[0]) {
				strcpy(m.unified_mount, point);
				strcpy(m.unified_root, root);
			} else if (strcmp(fstype, "cgroup") == 0 && !m.cpu_v1_mount[0] &&
				   list_has(superopts, strlen(superopts), "cpu")) {
				strcpy(m.cpu_v1_mount, point);
				strcpy(m.cpu_v1_root, root);
			}
		}
		line = *end ? end + 1 : end;
	}
	*ret = m;
	return 0;
}

uint64_t procstat_cpu_ns(const struct procstat_reading *prev, const struct procstat_reading *cur,
			 long ticks_per_s)
{
	uint64_t tick_ns = ticks_per_s > 0 ? 1000000000ULL / (uint64_t)ticks_per_s : 10000000ULL;
	uint64_t ticks = cur->cpu_ticks >= prev->cpu_ticks ? cur->cpu_ticks - prev->cpu_ticks : 0;
	uint64_t from_ticks = ticks * tick_ns, run;

	if (prev->threads != 1 || cur->threads != 1 || !prev->has_leader_run ||
	    !cur->has_leader_run || cur->leader_run_ns < prev->leader_run_ns)
		return from_ticks;
	run = cur->leader_run_ns - prev->leader_run_ns;
	/* Ticks truncate each of utime and stime: up to two ticks short. */
	if (from_ticks > run + PROCSTAT_SCHEDSTAT_SLACK_TICKS * tick_ns ||
	    run > from_ticks + PROCSTAT_SCHEDSTAT_SLACK_TICKS * tick_ns)
		return from_ticks;
	return run;
}

double procstat_cpu_percent(uint64_t cpu_ns, uint64_t elapsed_ns, double capacity_cpus)
{
	double pct;

	if (elapsed_ns == 0 || !(capacity_cpus > 0))
		return 0;
	pct = (double)cpu_ns * 100.0 / ((double)elapsed_ns * capacity_cpus);
	return pct > 100.0 ? 100.0 : pct;
}
