/* symbolize: see symbolize.h. Processes and modules live in small chained
 * hash tables; a process's executable mappings are a sorted array searched
 * per frame. */
#include "agent/symbolize.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "agent/elfsyms.h"
#include "agent/symsrc.h"
#include "agent/symtab.h"

#define PROC_BUCKETS   64
#define MODULE_BUCKETS 256
#define PATH_MAX_LEN   4096
/* Executable mappings kept per process (beyond this, addresses go unknown). */
#define MAPPINGS_MAX 65536

enum mapping_kind {
	MAP_FILE,
	MAP_ANON,
	MAP_SPECIAL
};

/* A module is one version of one file: device, inode and modification time
 * (a file rewritten in place, or a new file on a reused inode, is another
 * module). */
struct module {
	dev_t dev;
	ino_t ino;
	struct timespec mtime; /* {0, 0}: could not be read */
	char *name;	       /* basename, for module+0x... */
	struct elfsyms *syms;  /* NULL when the file could not be read as ELF */
	unsigned refs;
	struct module *next;
};

struct mapping {
	uint64_t start, end, offset;
	enum mapping_kind kind;
	struct module *mod; /* MAP_FILE */
	char special[16];   /* MAP_SPECIAL: "[vdso]" ... */
};

struct process {
	pid_t pid;
	struct mapping *maps;
	size_t n_maps;
	struct module **mods; /* distinct modules, one reference each */
	size_t n_mods;
	uint64_t maps_round;
	struct symtab perfmap;
	bool perfmap_tried;
	uint64_t perfmap_round;
	struct timespec perfmap_mtime;
	struct process *next;
};

struct symbolizer {
	char proc_root[256];
	char kallsyms_path[256];
	struct symtab kernel;
	bool kernel_tried;
	struct process *procs[PROC_BUCKETS];
	struct module *modules[MODULE_BUCKETS];
	uint64_t round;
	struct symbolizer_stats stats;
};

struct symbolizer *symbolizer_new(const char *proc_root, const char *kallsyms_path)
{
	struct symbolizer *sym = calloc(1, sizeof(*sym));

	if (!sym)
		return NULL;
	snprintf(sym->proc_root, sizeof(sym->proc_root), "%s", proc_root);
	snprintf(sym->kallsyms_path, sizeof(sym->kallsyms_path), "%s", kallsyms_path);
	symtab_init(&sym->kernel);
	sym->round = 1;
	return sym;
}

static struct module **module_slot(struct symbolizer *sym, dev_t dev, ino_t ino,
				   struct timespec mtime)
{
	size_t h = ((size_t)ino * 31 + (size_t)dev) % MODULE_BUCKETS;
	struct module **p = &sym->modules[h];

	while (*p && !((*p)->dev == dev && (*p)->ino == ino && (*p)->mtime.tv_sec == mtime.tv_sec &&
		       (*p)->mtime.tv_nsec == mtime.tv_nsec))
		p = &(*p)->next;
	return p;
}

static void module_put(struct symbolizer *sym, struct module *m)
{
	struct module **p;

	if (--m->refs)
		return;
	p = module_slot(sym, m->dev, m->ino, m->mtime);
	if (*p == m)
		*p = m->next;
	elfsyms_free(m->syms);
	free(m->name);
	free(m);
	sym->stats.modules--;
}

static void process_release_maps(struct symbolizer *sym, struct process *p)
{
	for (size_t i = 0; i < p->n_mods; i++)
		module_put(sym, p->mods[i]);
	free(p->mods);
	free(p->maps);
	p->mods = NULL;
	p->maps = NULL;
	p->n_mods = p->n_maps = 0;
}

static struct process **process_slot(struct symbolizer *sym, pid_t pid)
{
	struct process **p = &sym->procs[(size_t)pid % PROC_BUCKETS];

	while (*p && (*p)->pid != pid)
		p = &(*p)->next;
	return p;
}

void symbolizer_drop_pid(struct symbolizer *sym, pid_t pid)
{
	struct process **slot = process_slot(sym, pid);
	struct process *p = *slot;

	if (!p)
		return;
	*slot = p->next;
	process_release_maps(sym, p);
	symtab_release(&p->perfmap);
	free(p);
	sym->stats.processes--;
}

struct symbolizer *symbolizer_free(struct symbolizer *sym)
{
	if (!sym)
		return NULL;
	for (size_t b = 0; b < PROC_BUCKETS; b++)
		while (sym->procs[b])
			symbolizer_drop_pid(sym, sym->procs[b]->pid);
	symtab_release(&sym->kernel);
	free(sym);
	return NULL;
}

void symbolizer_next_round(struct symbolizer *sym)
{
	sym->round++;
}

void symbolizer_get_stats(const struct symbolizer *sym, struct symbolizer_stats *ret)
{
	*ret = sym->stats;
	ret->kernel_symbols = sym->kernel.n;
}

/* The modification time of the file a mapping maps: through
 * /proc/PID/map_files (the mapped file itself, deleted or not), else
 * through the process's root when the path still names that inode; {0, 0}
 * when neither can be read. */
static struct timespec mapped_mtime(const struct symbolizer *sym, pid_t pid, const char *range,
				    const char *path, ino_t ino)
{
	char file[PATH_MAX_LEN];
	struct stat st;

	snprintf(file, sizeof(file), "%s/%d/map_files/%s", sym->proc_root, (int)pid, range);
	if (stat(file, &st) == 0)
		return st.st_mtim;
	if (snprintf(file, sizeof(file), "%s/%d/root%s", sym->proc_root, (int)pid, path) <
		(int)sizeof(file) &&
	    stat(file, &st) == 0 && st.st_ino == ino)
		return st.st_mtim;
	return (struct timespec){0, 0};
}

/* Finds or opens the module of a file mapping. NULL only on ENOMEM. */
static struct module *module_get(struct symbolizer *sym, pid_t pid, const char *range,
				 const char *path, dev_t dev, ino_t ino)
{
	struct timespec mtime = mapped_mtime(sym, pid, range, path, ino);
	struct module **slot = module_slot(sym, dev, ino, mtime);
	char file[PATH_MAX_LEN], root[320];
	const char *base = strrchr(path, '/');
	struct module *m = *slot;
	int fd;

	if (m) {
		m->refs++;
		return m;
	}
	m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->dev = dev;
	m->ino = ino;
	m->mtime = mtime;
	m->refs = 1;
	m->name = strdup(base ? base + 1 : path);
	if (!m->name) {
		free(m);
		return NULL;
	}
	snprintf(root, sizeof(root), "%s/%d/root", sym->proc_root, (int)pid);
	snprintf(file, sizeof(file), "%s/%d/map_files/%s", sym->proc_root, (int)pid, range);
	fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && snprintf(file, sizeof(file), "%s%s", root, path) < (int)sizeof(file))
		fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		/* A file that is not ELF (or unreadable) keeps module+0x... names. */
		if (elfsyms_open(fd, root, path, &m->syms) == -ENOMEM)
			m->syms = NULL;
		close(fd);
	}
	*slot = m;
	sym->stats.modules++;
	return m;
}

static int by_start(const void *a, const void *b)
{
	const struct mapping *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/* One line of /proc/PID/maps: "start-end perms offset major:minor inode path".
 * Returns false for lines that are not executable mappings. */
static bool parse_maps_line(char *line, struct mapping *m, char *range, size_t range_len,
			    const char **ret_path, dev_t *ret_dev, ino_t *ret_ino)
{
	const char *p = line, *range_end;
	uint64_t major, minor, inode;
	size_t n;

	if (symsrc_parse_hex(p, &p, &m->start) || *p != '-')
		return false;
	if (symsrc_parse_hex(p + 1, &p, &m->end) || *p != ' ')
		return false;
	range_end = p;
	if (strlen(p) < 6 || p[3] != 'x')
		return false;
	p += 6;
	if (symsrc_parse_hex(p, &p, &m->offset) || *p != ' ')
		return false;
	if (symsrc_parse_hex(p + 1, &p, &major) || *p != ':')
		return false;
	if (symsrc_parse_hex(p + 1, &p, &minor) || *p != ' ')
		return false;
	inode = strtoull(p + 1, (char **)&p, 10);
	while (*p == ' ')
		p++;
	n = strcspn(p, "\n");
	line[(size_t)(p - line) + n] = '\0';
	snprintf(range, range_len, "%.*s", (int)(range_end - line), line);
	*ret_path = p;
	*ret_dev = makedev((unsigned)major, (unsigned)minor);
	*ret_ino = (ino_t)inode;
	if (!*p)
		m->kind = MAP_ANON;
	else if (*p == '[')
		m->kind = MAP_SPECIAL;
	else
		m->kind = inode ? MAP_FILE : MAP_ANON;
	if (m->kind == MAP_SPECIAL)
		snprintf(m->special, sizeof(m->special), "%s", p);
	return m->end > m->start;
}

static int add_module_ref(struct process *p, struct module *m, size_t *cap)
{
	for (size_t i = 0; i < p->n_mods; i++)
		if (p->mods[i] == m)
			return 1; /* already referenced once */
	if (p->n_mods == *cap) {
		size_t c = *cap ? *cap * 2 : 16;
		struct module **mods = realloc(p->mods, c * sizeof(*mods));

		if (!mods)
			return -ENOMEM;
		p->mods = mods;
		*cap = c;
	}
	p->mods[p->n_mods++] = m;
	return 0;
}

/* (Re)reads the process's executable mappings. */
static int process_read_maps(struct symbolizer *sym, struct process *p)
{
	char path[320], range[64];
	struct process fresh = {0};
	size_t cap = 0, mods_cap = 0;
	char *line = NULL;
	size_t line_cap = 0;
	FILE *f;
	int err = 0;

	snprintf(path, sizeof(path), "%s/%d/maps", sym->proc_root, (int)p->pid);
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? -ESRCH : -errno;
	sym->stats.maps_reads++;
	while (getline(&line, &line_cap, f) > 0 && fresh.n_maps < MAPPINGS_MAX) {
		struct mapping m = {0};
		const char *file;
		dev_t dev;
		ino_t ino;

		if (!parse_maps_line(line, &m, range, sizeof(range), &file, &dev, &ino))
			continue;
		if (m.kind == MAP_FILE) {
			char clean[PATH_MAX_LEN];
			size_t n = strlen(file);

			if (n > 10 && strcmp(file + n - 10, " (deleted)") == 0)
				n -= 10;
			snprintf(clean, sizeof(clean), "%.*s", (int)n, file);
			m.mod = module_get(sym, p->pid, range, clean, dev, ino);
			if (!m.mod) {
				err = -ENOMEM;
				break;
			}
			err = add_module_ref(&fresh, m.mod, &mods_cap);
			if (err == 1) {
				module_put(sym, m.mod); /* one reference per process */
				err = 0;
			} else if (err) {
				module_put(sym, m.mod);
				break;
			}
		}
		if (fresh.n_maps == cap) {
			size_t c = cap ? cap * 2 : 64;
			struct mapping *maps = realloc(fresh.maps, c * sizeof(*maps));

			if (!maps) {
				err = -ENOMEM;
				break;
			}
			fresh.maps = maps;
			cap = c;
		}
		fresh.maps[fresh.n_maps++] = m;
	}
	free(line);
	fclose(f);
	if (err) {
		process_release_maps(sym, &fresh);
		return err;
	}
	if (fresh.n_maps)
		qsort(fresh.maps, fresh.n_maps, sizeof(*fresh.maps), by_start);
	process_release_maps(sym, p);
	p->maps = fresh.maps;
	p->n_maps = fresh.n_maps;
	p->mods = fresh.mods;
	p->n_mods = fresh.n_mods;
	p->maps_round = sym->round;
	return 0;
}

int symbolizer_add_pid(struct symbolizer *sym, pid_t pid)
{
	struct process **slot = process_slot(sym, pid);
	struct process *p = *slot;
	int err;

	if (p)
		return process_read_maps(sym, p);
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->pid = pid;
	symtab_init(&p->perfmap);
	err = process_read_maps(sym, p);
	if (err) {
		free(p);
		return err;
	}
	*slot = p;
	sym->stats.processes++;
	return 0;
}

static const struct mapping *find_mapping(const struct process *p, uint64_t addr)
{
	size_t lo = 0, hi = p->n_maps;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (p->maps[mid].start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo && addr < p->maps[lo - 1].end)
		return &p->maps[lo - 1];
	return NULL;
}

/* The process's perf map, (re)loaded when it changed since the last look. */
static const struct symtab_entry *perfmap_lookup(struct symbolizer *sym, struct process *p,
						 uint64_t addr)
{
	const struct symtab_entry *e = symtab_lookup(&p->perfmap, addr, NULL);
	char path[PATH_MAX_LEN], status[320], *line = NULL;
	long nspid = p->pid;
	size_t cap = 0;
	struct stat st;
	FILE *f;

	if (e || (p->perfmap_tried && p->perfmap_round == sym->round))
		return e;
	p->perfmap_tried = true;
	p->perfmap_round = sym->round;
	/* Inside a pid namespace the JIT names the file by its own pid. */
	snprintf(status, sizeof(status), "%s/%d/status", sym->proc_root, (int)p->pid);
	f = fopen(status, "re");
	if (f) {
		while (getline(&line, &cap, f) > 0) {
			const char *last;

			if (strncmp(line, "NSpid:", 6) != 0)
				continue;
			last = strrchr(line, '\t');
			if (last)
				nspid = strtol(last + 1, NULL, 10);
			break;
		}
		free(line);
		fclose(f);
	}
	snprintf(path, sizeof(path), "%s/%d/root/tmp/perf-%ld.map", sym->proc_root, (int)p->pid,
		 nspid);
	if (stat(path, &st) != 0)
		return NULL;
	if (p->perfmap.n && st.st_mtim.tv_sec == p->perfmap_mtime.tv_sec &&
	    st.st_mtim.tv_nsec == p->perfmap_mtime.tv_nsec)
		return NULL;
	struct symtab fresh;

	if (perfmap_load(path, &fresh) != 0)
		return NULL;
	symtab_release(&p->perfmap);
	p->perfmap = fresh;
	p->perfmap_mtime = st.st_mtim;
	return symtab_lookup(&p->perfmap, addr, NULL);
}

static void copy_name(char *buf, size_t len, const char *name)
{
	/* ';' separates folded frames and a newline ends a line: keep them out. */
	size_t i = 0;

	for (; name[i] && i + 1 < len; i++)
		buf[i] = (name[i] == ';' || name[i] == '\n') ? ':' : name[i];
	buf[i] = '\0';
}

bool symbolizer_user(struct symbolizer *sym, pid_t pid, uint64_t addr, bool return_address,
		     char *buf, size_t len)
{
	struct process **slot = process_slot(sym, pid);
	uint64_t at = return_address && addr ? addr - 1 : addr;
	const struct mapping *m = NULL;
	struct process *p = *slot;

	if (!p && symbolizer_add_pid(sym, pid) == 0)
		p = *process_slot(sym, pid);
	if (p) {
		m = find_mapping(p, at);
		if (!m && p->maps_round != sym->round && process_read_maps(sym, p) == 0)
			m = find_mapping(p, at);
	}
	if (m && m->kind == MAP_FILE) {
		uint64_t off = at - m->start + m->offset, vaddr = off;
		bool mapped = m->mod->syms && elfsyms_file_to_vaddr(m->mod->syms, off, &vaddr);
		const char *name = mapped ? elfsyms_lookup(m->mod->syms, vaddr) : NULL;

		if (name) {
			copy_name(buf, len, name);
			return true;
		}
		snprintf(buf, len, "%s+0x%llx", m->mod->name,
			 (unsigned long long)(vaddr + (addr - at)));
		return false;
	}
	if (m && m->kind == MAP_SPECIAL) {
		snprintf(buf, len, "%s", m->special);
		return false;
	}
	if (p) {
		const struct symtab_entry *e = perfmap_lookup(sym, p, at);

		if (e) {
			copy_name(buf, len, symtab_name(&p->perfmap, e));
			return true;
		}
	}
	snprintf(buf, len, "[unknown]");
	return false;
}

bool symbolizer_kernel(struct symbolizer *sym, uint64_t addr, char *buf, size_t len)
{
	const struct symtab_entry *e;

	if (!sym->kernel_tried) {
		sym->kernel_tried = true;
		/* Without kallsyms every kernel frame stays [unknown]. */
		if (kallsyms_load(sym->kallsyms_path, &sym->kernel) != 0)
			symtab_init(&sym->kernel);
	}
	e = symtab_lookup(&sym->kernel, addr, NULL);
	if (!e) {
		snprintf(buf, len, "[unknown]");
		return false;
	}
	copy_name(buf, len, symtab_name(&sym->kernel, e));
	return true;
}
