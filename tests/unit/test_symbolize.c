/* Unit tests for the symbolizer pieces: symtab, kallsyms and perf map
 * parsing, CPU lists, ELF lookup against a fixture binary (plain, stripped,
 * with a .gnu_debuglink debug file, with a build-id debug file under the
 * process's root), demangling, the symbolizer over a fake /proc (maps ->
 * module + offset, perf map for anonymous code, [unknown], module+0x, one
 * module shared by two processes, a binary rewritten in place read anew),
 * the truncated-stack rule and the folded-stack table. */
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/cpus.h"
#include "agent/elfsyms.h"
#include "agent/foldtab.h"
#include "agent/stackprof.h"
#include "agent/symbolize.h"
#include "agent/symsrc.h"
#include "agent/symtab.h"
#include "harness.h"

static char tmp[64];

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!CHECK(f != NULL))
		return;
	fputs(text, f);
	fclose(f);
}

static const char *tmp_path(const char *name)
{
	static char buf[4][256];
	static int next;
	char *p = buf[next++ % 4];

	snprintf(p, sizeof(buf[0]), "%s/%s", tmp, name);
	return p;
}

/* The fixture binary the ELF tests read (built by `make` beside the tests:
 * BUILD/tests/test_symbolize -> BUILD/fixtures/cpuratio). */
static const char *fixture(void)
{
	static char path[1024];
	const char *dir = getenv("CONTPROF_FIXTURES");
	char self[900];
	ssize_t n;

	if (dir) {
		snprintf(path, sizeof(path), "%s/cpuratio", dir);
		return path;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	self[n > 0 ? n : 0] = '\0';
	if (strrchr(self, '/'))
		*strrchr(self, '/') = '\0';
	snprintf(path, sizeof(path), "%s/../fixtures/cpuratio", self);
	return path;
}

/* The address `nm` gives a symbol of `binary`, or 0. */
static uint64_t nm_address(const char *binary, const char *symbol)
{
	char cmd[1024], line[512];
	uint64_t addr = 0;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "nm %s 2>/dev/null", binary);
	p = popen(cmd, "r");
	if (!p)
		return 0;
	while (fgets(line, sizeof(line), p)) {
		char name[256], type;
		unsigned long long a;

		if (sscanf(line, "%llx %c %255s", &a, &type, name) == 3 &&
		    strcmp(name, symbol) == 0)
			addr = a;
	}
	pclose(p);
	return addr;
}

TEST(symtab_lookup_bounds_and_duplicates)
{
	struct symtab t;
	size_t i;

	symtab_init(&t);
	CHECK_INT_EQ(symtab_add(&t, 0x2000, 0x10, "second", 6), 0);
	CHECK_INT_EQ(symtab_add(&t, 0x1000, 0, "first_unsized", 13), 0);
	CHECK_INT_EQ(symtab_add(&t, 0x2000, 0x20, "alias", 5), 0);
	CHECK_INT_EQ(symtab_add(&t, 0x3000, 0x8, "third", 5), 0);
	symtab_finish(&t);
	CHECK_INT_EQ(t.n, 3);
	CHECK(symtab_lookup(&t, 0xfff, NULL) == NULL);
	CHECK_STR_EQ(symtab_name(&t, symtab_lookup(&t, 0x1000, NULL)), "first_unsized");
	/* An unsized symbol reaches up to the next one. */
	CHECK_STR_EQ(symtab_name(&t, symtab_lookup(&t, 0x1fff, NULL)), "first_unsized");
	/* The first added of one address wins. */
	CHECK_STR_EQ(symtab_name(&t, symtab_lookup(&t, 0x200f, &i)), "second");
	CHECK_INT_EQ(i, 1);
	CHECK(symtab_lookup(&t, 0x2010, NULL) == NULL);
	CHECK_STR_EQ(symtab_name(&t, symtab_lookup(&t, 0x3007, NULL)), "third");
	CHECK(symtab_lookup(&t, 0x3008, NULL) == NULL);
	symtab_release(&t);
}

TEST(kallsyms_parses_text_symbols_only)
{
	const char *path = tmp_path("kallsyms");
	struct symtab t;

	write_file(path, "ffffffff81000000 T _stext\n"
			 "ffffffff81000100 t do_one_initcall\n"
			 "ffffffff81000200 D some_data\n"
			 "ffffffff81000300 W weak_text\n"
			 "0000000000000000 T hidden_by_kptr_restrict\n"
			 "garbage line\n"
			 "ffffffffc0000000 t mod_func\t[some_module]\n"
			 "ffffffffc0000100 T mod_other [some_module]\n");
	CHECK_INT_EQ(kallsyms_load(path, &t), 0);
	CHECK_INT_EQ(t.n, 5);
	CHECK_STR_EQ(symtab_name(&t, symtab_lookup(&t, 0xffffffff81000000ULL, NULL)), "_stext");
	CHECK_STR_EQ(symtab_name(&t, symtab_lookup(&t, 0xffffffff81000150ULL, NULL)),
		     "do_one_initcall");
	/* Data is no function: the text before it extends over it. */
	CHECK_STR_EQ(symtab_name(&t, symtab_lookup(&t, 0xffffffff81000250ULL, NULL)),
		     "do_one_initcall");
	CHECK_STR_EQ(symtab_name(&t, symtab_lookup(&t, 0xffffffffc0000010ULL, NULL)), "mod_func");
	/* The last symbol covers at most KALLSYMS_UNSIZED_MAX. */
	CHECK(symtab_lookup(&t, 0xffffffffc0000100ULL + KALLSYMS_UNSIZED_MAX, NULL) == NULL);
	CHECK(symtab_lookup(&t, 0x1000, NULL) == NULL);
	symtab_release(&t);
	CHECK_INT_EQ(kallsyms_load(tmp_path("missing"), &t), -ENOENT);
}

TEST(perfmap_parses_jit_entries)
{
	const char *path = tmp_path("perf-1.map");
	struct symtab t;

	write_file(path, "7f0000001000 40 LazyCompile:~handler /app/server.js:10\n"
			 "0x7f0000002000 0x10 Interpreter\n"
			 "7f0000003000 0 zero_size_skipped\n"
			 "not a line\n"
			 "7f0000004000 20 Stub;With;Semicolons\r\n");
	CHECK_INT_EQ(perfmap_load(path, &t), 0);
	CHECK_INT_EQ(t.n, 3);
	CHECK_STR_EQ(symtab_name(&t, symtab_lookup(&t, 0x7f000000103fULL, NULL)),
		     "LazyCompile:~handler /app/server.js:10");
	CHECK(symtab_lookup(&t, 0x7f0000001040ULL, NULL) == NULL);
	CHECK_STR_EQ(symtab_name(&t, symtab_lookup(&t, 0x7f0000002000ULL, NULL)), "Interpreter");
	CHECK(symtab_lookup(&t, 0x7f0000003000ULL, NULL) == NULL);
	CHECK_STR_EQ(symtab_name(&t, symtab_lookup(&t, 0x7f0000004000ULL, NULL)),
		     "Stub;With;Semicolons");
	symtab_release(&t);
}

TEST(cpu_lists)
{
	int *ids = NULL;

	CHECK_INT_EQ(cpus_parse_list("0-3,6,8-9\n", &ids), 7);
	CHECK_INT_EQ(ids[4], 6);
	CHECK_INT_EQ(ids[6], 9);
	free(ids);
	CHECK_INT_EQ(cpus_parse_list("0\n", &ids), 1);
	free(ids);
	CHECK_INT_EQ(cpus_parse_list("3-1", &ids), -EINVAL);
	CHECK_INT_EQ(cpus_parse_list("", &ids), -EINVAL);
	CHECK_INT_EQ(cpus_parse_list("0,x", &ids), -EINVAL);
	CHECK(cpus_online(&ids) > 0);
	free(ids);
}

static struct elfsyms *open_elf(const char *path)
{
	struct elfsyms *es = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (!CHECK(fd >= 0))
		return NULL;
	CHECK_INT_EQ(elfsyms_open(fd, "", path, &es), 0);
	close(fd);
	return es;
}

TEST(elf_lookup_in_fixture_binary)
{
	uint64_t burn = nm_address(fixture(), "burn_three_quarters");
	uint64_t work = nm_address(fixture(), "work");
	struct elfsyms *es;
	uint64_t vaddr;

	if (!CHECK(burn && work))
		return;
	es = open_elf(fixture());
	if (!es)
		return;
	CHECK(elfsyms_sources(es) & ELFSYMS_SYMTAB);
	CHECK(elfsyms_count(es) > 5);
	CHECK(strlen(elfsyms_build_id(es)) >= 32);
	CHECK_STR_EQ(elfsyms_lookup(es, burn), "burn_three_quarters");
	CHECK_STR_EQ(elfsyms_lookup(es, burn + 4), "burn_three_quarters");
	CHECK_STR_EQ(elfsyms_lookup(es, work), "work");
	CHECK(elfsyms_lookup(es, 0x10) == NULL);
	/* Text: file offset and virtual address agree in this layout. */
	CHECK(elfsyms_file_to_vaddr(es, burn, &vaddr));
	CHECK_INT_EQ(vaddr, burn);
	CHECK(!elfsyms_file_to_vaddr(es, 1ULL << 40, &vaddr));
	elfsyms_free(es);
}

TEST(elf_stripped_and_debuglink)
{
	uint64_t burn = nm_address(fixture(), "burn_three_quarters");
	char cmd[8192];
	struct elfsyms *es;

	if (!CHECK(snprintf(
		       cmd, sizeof(cmd),
		       "objcopy --strip-all %1$s %2$s/stripped && "
		       "objcopy --only-keep-debug %1$s %2$s/linked.debug && "
		       "objcopy --strip-all --add-gnu-debuglink=%2$s/linked.debug %1$s %2$s/linked",
		       fixture(), tmp) < (int)sizeof(cmd)))
		return;
	if (!CHECK_INT_EQ(system(cmd), 0))
		return;
	es = open_elf(tmp_path("stripped"));
	if (es) {
		CHECK(!(elfsyms_sources(es) & (ELFSYMS_SYMTAB | ELFSYMS_DEBUGFILE)));
		CHECK(elfsyms_lookup(es, burn) == NULL);
		elfsyms_free(es);
	}
	es = open_elf(tmp_path("linked"));
	if (es) {
		CHECK(elfsyms_sources(es) & ELFSYMS_DEBUGFILE);
		CHECK_STR_EQ(elfsyms_lookup(es, burn), "burn_three_quarters");
		elfsyms_free(es);
	}
	/* Not ELF. */
	write_file(tmp_path("text"), "just text\n");
	{
		int fd = open(tmp_path("text"), O_RDONLY);
		struct elfsyms *none = NULL;

		CHECK_INT_EQ(elfsyms_open(fd, "", tmp_path("text"), &none), -ENOEXEC);
		close(fd);
	}
}

/* A stripped binary whose symbols are in a debug file found by its
 * build-id under ROOT/usr/lib/debug/.build-id/xx/rest.debug, ROOT being the
 * process's root (/proc/PID/root): found there, and only there. */
TEST(elf_debug_file_by_build_id_under_root)
{
	uint64_t burn = nm_address(fixture(), "burn_three_quarters");
	struct elfsyms *full = open_elf(fixture()), *es = NULL;
	char cmd[8192], root[128], id[128];
	int fd;

	if (!CHECK(burn && full))
		goto out;
	snprintf(id, sizeof(id), "%s", elfsyms_build_id(full));
	if (!CHECK(strlen(id) >= 32))
		goto out;
	snprintf(root, sizeof(root), "%s/bidroot", tmp);
	/* --strip-debug leaves .symtab; --strip-all takes it too. */
	if (!CHECK(snprintf(cmd, sizeof(cmd),
			    "mkdir -p %2$s/usr/lib/debug/.build-id/%3$.2s %2$s/opt/app && "
			    "objcopy --only-keep-debug %1$s "
			    "%2$s/usr/lib/debug/.build-id/%3$.2s/%4$s.debug && "
			    "objcopy --strip-all %1$s %2$s/opt/app/bin",
			    fixture(), root, id, id + 2) < (int)sizeof(cmd)) ||
	    !CHECK_INT_EQ(system(cmd), 0))
		goto out;
	snprintf(cmd, sizeof(cmd), "%s/opt/app/bin", root);
	fd = open(cmd, O_RDONLY | O_CLOEXEC);
	if (!CHECK(fd >= 0))
		goto out;
	/* Seen from the process's root: the debug file gives the symbols. */
	CHECK_INT_EQ(elfsyms_open(fd, root, "/opt/app/bin", &es), 0);
	if (es) {
		CHECK_STR_EQ(elfsyms_build_id(es), id);
		CHECK(elfsyms_sources(es) & ELFSYMS_DEBUGFILE);
		CHECK(!(elfsyms_sources(es) & ELFSYMS_SYMTAB));
		CHECK_STR_EQ(elfsyms_lookup(es, burn), "burn_three_quarters");
		es = elfsyms_free(es);
	}
	/* From another root (no debug file there): no symbols. */
	CHECK_INT_EQ(elfsyms_open(fd, tmp, "/opt/app/bin", &es), 0);
	if (es) {
		CHECK(!(elfsyms_sources(es) & ELFSYMS_DEBUGFILE));
		CHECK(elfsyms_lookup(es, burn) == NULL);
		es = elfsyms_free(es);
	}
	close(fd);
out:
	elfsyms_free(full);
}

TEST(demangling_cxx_and_rust)
{
	char *d = elfsyms_demangle("_ZN6shapes7SpinnerIdE4spinEi");

	CHECK_STR_EQ(d, "shapes::Spinner<double>::spin(int)");
	free(d);
	d = elfsyms_demangle("_ZN4core3fmt5write17h0123456789abcdefE");
	CHECK_STR_EQ(d, "core::fmt::write");
	free(d);
	d = elfsyms_demangle("_RNvCs15kBYyAo9fc_7mycrate4main");
	CHECK_STR_EQ(d, "mycrate::main");
	free(d);
	CHECK(elfsyms_demangle("main") == NULL);
	CHECK(elfsyms_demangle("_Zgarbage") == NULL);
}

/* A fake /proc with one process whose maps name the fixture binary, an
 * anonymous executable region with a perf map, and the vdso; then a second
 * process mapping the same binary. */
TEST(symbolizer_over_fake_proc)
{
	uint64_t burn = nm_address(fixture(), "burn_three_quarters");
	const uint64_t base = 0x555500000000ULL;
	char maps[2048], dir[256], path[512], name[SYMBOLIZE_NAME_MAX];
	struct symbolizer_stats stats;
	struct symbolizer *sym;
	struct stat st;

	if (!CHECK(burn && stat(fixture(), &st) == 0 && realpath(fixture(), path)))
		return;
	snprintf(dir, sizeof(dir), "%s/proc/4242", tmp);
	snprintf(maps, sizeof(maps), "mkdir -p %s && ln -sfn / %s/root", dir, dir);
	CHECK_INT_EQ(system(maps), 0);
	snprintf(maps, sizeof(maps),
		 "%" PRIx64 "-%" PRIx64 " r--p 00000000 00:00 %lu %s\n"
		 "%" PRIx64 "-%" PRIx64 " r-xp 00001000 00:00 %lu %s\n"
		 "7f0000000000-7f0000010000 r-xp 00000000 00:00 0 \n"
		 "7ffff7fc1000-7ffff7fc3000 r-xp 00000000 00:00 0                  [vdso]\n",
		 base, base + 0x1000, (unsigned long)st.st_ino, path, base + 0x1000, base + 0x2000,
		 (unsigned long)st.st_ino, path);
	snprintf(path, sizeof(path), "%s/maps", dir);
	write_file(path, maps);
	write_file("/tmp/perf-4242.map", "7f0000000100 100 jitted_handler\n");
	snprintf(path, sizeof(path), "%s/proc", tmp);
	sym = symbolizer_new(path, tmp_path("kallsyms"));
	if (!CHECK(sym))
		return;
	CHECK_INT_EQ(symbolizer_add_pid(sym, 4242), 0);
	CHECK(symbolizer_user(sym, 4242, base + burn + 3, false, name, sizeof(name)));
	CHECK_STR_EQ(name, "burn_three_quarters");
	/* A return address just past a function belongs to the call before it. */
	symbolizer_user(sym, 4242, base + burn, true, name, sizeof(name));
	CHECK(strcmp(name, "burn_three_quarters") != 0);
	/* Text without a symbol: module + ELF address. */
	CHECK(!symbolizer_user(sym, 4242, base + 0x1ffe, false, name, sizeof(name)));
	CHECK_STR_EQ(name, "cpuratio+0x1ffe");
	CHECK(symbolizer_user(sym, 4242, 0x7f0000000180ULL, false, name, sizeof(name)));
	CHECK_STR_EQ(name, "jitted_handler");
	CHECK(!symbolizer_user(sym, 4242, 0x7f0000000010ULL, false, name, sizeof(name)));
	CHECK_STR_EQ(name, "[unknown]");
	CHECK(!symbolizer_user(sym, 4242, 0x7ffff7fc1010ULL, false, name, sizeof(name)));
	CHECK_STR_EQ(name, "[vdso]");
	CHECK(!symbolizer_user(sym, 4242, 0x1234, false, name, sizeof(name)));
	CHECK_STR_EQ(name, "[unknown]");
	/* The kallsyms of the kallsyms test. */
	CHECK(symbolizer_kernel(sym, 0xffffffff81000104ULL, name, sizeof(name)));
	CHECK_STR_EQ(name, "do_one_initcall");
	CHECK(!symbolizer_kernel(sym, 0x10, name, sizeof(name)));
	CHECK_STR_EQ(name, "[unknown]");
	symbolizer_get_stats(sym, &stats);
	CHECK_INT_EQ(stats.processes, 1);
	CHECK_INT_EQ(stats.modules, 1); /* two mappings, one binary */
	/* A miss re-reads the maps once per round, not on every frame (the
	 * add read them in this round already). */
	CHECK_INT_EQ(stats.maps_reads, 1);
	symbolizer_next_round(sym);
	symbolizer_user(sym, 4242, 0x1234, false, name, sizeof(name));
	symbolizer_user(sym, 4242, 0x1235, false, name, sizeof(name));
	symbolizer_get_stats(sym, &stats);
	CHECK_INT_EQ(stats.maps_reads, 2);
	/* A second process mapping the same binary shares its module (one
	 * ELF read for both), which lives while either maps it. */
	{
		char dir2[256], cmd[600];

		snprintf(dir2, sizeof(dir2), "%s/proc/4244", tmp);
		snprintf(cmd, sizeof(cmd), "mkdir -p %s && ln -sfn / %s/root", dir2, dir2);
		CHECK_INT_EQ(system(cmd), 0);
		snprintf(cmd, sizeof(cmd), "%s/maps", dir2);
		write_file(cmd, maps);
		CHECK_INT_EQ(symbolizer_add_pid(sym, 4244), 0);
		symbolizer_get_stats(sym, &stats);
		CHECK_INT_EQ(stats.processes, 2);
		CHECK_INT_EQ(stats.modules, 1);
		CHECK(symbolizer_user(sym, 4244, base + burn + 3, false, name, sizeof(name)));
		CHECK_STR_EQ(name, "burn_three_quarters");
		symbolizer_drop_pid(sym, 4242);
		symbolizer_get_stats(sym, &stats);
		CHECK_INT_EQ(stats.modules, 1);
		CHECK(symbolizer_user(sym, 4244, base + burn + 3, false, name, sizeof(name)));
		CHECK_STR_EQ(name, "burn_three_quarters");
		symbolizer_drop_pid(sym, 4244);
		symbolizer_get_stats(sym, &stats);
		CHECK_INT_EQ(stats.modules, 0);
		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir2);
		CHECK_INT_EQ(system(cmd), 0);
		/* Back as it was for what follows. */
		CHECK_INT_EQ(symbolizer_add_pid(sym, 4242), 0);
	}
	/* Gone from /proc: what was read still resolves. */
	snprintf(maps, sizeof(maps), "rm -rf %s", dir);
	CHECK_INT_EQ(system(maps), 0);
	CHECK(symbolizer_user(sym, 4242, base + burn + 3, false, name, sizeof(name)));
	CHECK_STR_EQ(name, "burn_three_quarters");
	CHECK_INT_EQ(symbolizer_add_pid(sym, 4243), -ESRCH);
	symbolizer_drop_pid(sym, 4242);
	symbolizer_get_stats(sym, &stats);
	CHECK_INT_EQ(stats.processes, 0);
	CHECK_INT_EQ(stats.modules, 0);
	symbolizer_free(sym);
	unlink("/tmp/perf-4242.map");
}

/* Writes a fake /proc/PID (maps naming `bin`, inode `ino`, at `base`;
 * root -> /). */
static void fake_process(int pid, uint64_t base, unsigned long ino, const char *bin)
{
	char dir[256], text[2048], path[300];

	snprintf(dir, sizeof(dir), "%s/proc/%d", tmp, pid);
	snprintf(text, sizeof(text), "mkdir -p %s && ln -sfn / %s/root", dir, dir);
	CHECK_INT_EQ(system(text), 0);
	snprintf(text, sizeof(text),
		 "%" PRIx64 "-%" PRIx64 " r--p 00000000 00:00 %lu %s\n"
		 "%" PRIx64 "-%" PRIx64 " r-xp 00001000 00:00 %lu %s\n",
		 base, base + 0x1000, ino, bin, base + 0x1000, base + 0x2000, ino, bin);
	snprintf(path, sizeof(path), "%s/maps", dir);
	write_file(path, text);
}

/* The module cache keys on device, inode and modification time: a binary
 * rewritten in place (same inode, new contents) is read anew for the
 * processes that map it now, while those that mapped it before keep the
 * symbols they had. */
TEST(symbolizer_rereads_a_binary_replaced_in_place)
{
	uint64_t burn = nm_address(fixture(), "burn_three_quarters");
	const uint64_t base = 0x555500000000ULL;
	const struct timespec later[2] = {{0, UTIME_OMIT}, {2000000000, 0}};
	char bin[256], cmd[4096], procdir[256], name[SYMBOLIZE_NAME_MAX];
	struct symbolizer_stats stats;
	struct symbolizer *sym = NULL;
	struct stat before, after;

	snprintf(bin, sizeof(bin), "%s/inplace-bin", tmp);
	snprintf(cmd, sizeof(cmd), "cp %1$s %2$s && objcopy --strip-all %1$s %2$s.stripped",
		 fixture(), bin);
	if (!CHECK(burn) || !CHECK_INT_EQ(system(cmd), 0) || !CHECK(stat(bin, &before) == 0))
		return;
	fake_process(4250, base, (unsigned long)before.st_ino, bin);
	snprintf(procdir, sizeof(procdir), "%s/proc", tmp);
	sym = symbolizer_new(procdir, tmp_path("kallsyms"));
	if (!CHECK(sym))
		return;
	CHECK_INT_EQ(symbolizer_add_pid(sym, 4250), 0);
	CHECK(symbolizer_user(sym, 4250, base + burn + 3, false, name, sizeof(name)));
	CHECK_STR_EQ(name, "burn_three_quarters");
	/* Rewritten in place with the stripped build; a distinct mtime, so the
	 * test does not hang on the file system's timestamp granularity. */
	snprintf(cmd, sizeof(cmd), "cat %1$s.stripped > %1$s", bin);
	CHECK_INT_EQ(system(cmd), 0);
	CHECK_INT_EQ(utimensat(AT_FDCWD, bin, later, 0), 0);
	if (!CHECK(stat(bin, &after) == 0) || !CHECK_INT_EQ(after.st_ino, before.st_ino))
		goto out;
	/* A process mapping it now gets the new contents: a module of its own. */
	fake_process(4251, base, (unsigned long)after.st_ino, bin);
	CHECK_INT_EQ(symbolizer_add_pid(sym, 4251), 0);
	symbolizer_get_stats(sym, &stats);
	CHECK_INT_EQ(stats.modules, 2);
	CHECK(!symbolizer_user(sym, 4251, base + burn + 3, false, name, sizeof(name)));
	CHECK(strncmp(name, "inplace-bin+0x", 14) == 0);
	/* The first keeps what it read... */
	CHECK(symbolizer_user(sym, 4250, base + burn + 3, false, name, sizeof(name)));
	CHECK_STR_EQ(name, "burn_three_quarters");
	/* ...until its maps are read again: then it shares the new module and
	 * the old one is freed. */
	CHECK_INT_EQ(symbolizer_add_pid(sym, 4250), 0);
	symbolizer_get_stats(sym, &stats);
	CHECK_INT_EQ(stats.modules, 1);
	CHECK(!symbolizer_user(sym, 4250, base + burn + 3, false, name, sizeof(name)));
	CHECK(strncmp(name, "inplace-bin+0x", 14) == 0);
out:
	symbolizer_free(sym);
	snprintf(cmd, sizeof(cmd), "rm -rf %1$s/proc/4250 %1$s/proc/4251", tmp);
	CHECK_INT_EQ(system(cmd), 0);
}

TEST(symbolizer_this_process)
{
	struct symbolizer *sym = symbolizer_new("/proc", "/proc/kallsyms");
	char name[SYMBOLIZE_NAME_MAX];

	if (!CHECK(sym))
		return;
	CHECK_INT_EQ(symbolizer_add_pid(sym, getpid()), 0);
	CHECK(symbolizer_user(sym, getpid(), (uint64_t)(uintptr_t)&nm_address, false, name,
			      sizeof(name)));
	CHECK_STR_EQ(name, "nm_address");
	symbolizer_free(sym);
}

TEST(truncated_rule)
{
	CHECK(stackprof_reaches_entry("_start"));
	CHECK(stackprof_reaches_entry("__libc_start_call_main"));
	CHECK(stackprof_reaches_entry("start_thread"));
	CHECK(stackprof_reaches_entry("clone3"));
	CHECK(stackprof_reaches_entry("libc.so.6+0x271ca"));
	CHECK(!stackprof_reaches_entry("libc.so.6"));
	CHECK(!stackprof_reaches_entry("_PyEval_EvalFrameDefault"));
	CHECK(!stackprof_reaches_entry("python3.11+0x1234"));
	CHECK(!stackprof_reaches_entry("[unknown]"));
}

TEST(foldtab_merges_and_bounds)
{
	struct foldtab *t = foldtab_new(3);
	const struct profile_stack *v;
	size_t n;
	uint64_t lost = 0, total = 0;

	if (!CHECK(t))
		return;
	CHECK_INT_EQ(foldtab_add(t, "a;b", 3, 2, 10), 0);
	CHECK_INT_EQ(foldtab_add(t, "a;b;c", 3, 1, 5), 0); /* length-bounded: "a;b" */
	CHECK_INT_EQ(foldtab_add(t, "a;c", 3, 1, 0), 0);
	CHECK_INT_EQ(foldtab_add(t, "x", 1, 1, 0), 0);
	CHECK_INT_EQ(foldtab_size(t), 3);
	CHECK_INT_EQ(foldtab_add(t, "y", 1, 4, 0), 1); /* full: into [lost] */
	CHECK_INT_EQ(foldtab_size(t), 4);
	CHECK_INT_EQ(foldtab_view(t, &v, &n), 0);
	CHECK_INT_EQ(n, 4);
	for (size_t i = 0; i < n; i++) {
		total += v[i].count;
		if (strcmp(v[i].folded, FOLDTAB_LOST_FRAME) == 0)
			lost = v[i].count;
		if (strcmp(v[i].folded, "a;b") == 0) {
			CHECK_INT_EQ(v[i].count, 3);
			CHECK_INT_EQ(v[i].duration_ns, 15);
		}
	}
	CHECK_INT_EQ(lost, 4);
	CHECK_INT_EQ(total, 9);
	foldtab_clear(t);
	CHECK_INT_EQ(foldtab_size(t), 0);
	CHECK_INT_EQ(foldtab_view(t, &v, &n), 0);
	CHECK_INT_EQ(n, 0);
	/* Growth past the initial table keeps every stack. */
	for (int i = 0; i < 1000 && foldtab_size(t) < 3; i++) {
		char key[16];

		snprintf(key, sizeof(key), "s%d", i);
		CHECK_INT_EQ(foldtab_add(t, key, strlen(key), 1, 0), 0);
	}
	foldtab_free(t);
	t = foldtab_new(5000);
	for (int i = 0; i < 5000; i++) {
		char key[16];

		snprintf(key, sizeof(key), "s%d", i);
		foldtab_add(t, key, strlen(key), 1, 0);
		foldtab_add(t, key, strlen(key), 1, 0);
	}
	CHECK_INT_EQ(foldtab_size(t), 5000);
	CHECK_INT_EQ(foldtab_view(t, &v, &n), 0);
	CHECK_INT_EQ(n, 5000);
	CHECK_INT_EQ(v[17].count, 2);
	foldtab_free(t);
	CHECK(foldtab_free(NULL) == NULL);
}

int main(void)
{
	snprintf(tmp, sizeof(tmp), "/tmp/contprof-sym-test-XXXXXX");
	if (!mkdtemp(tmp))
		return 1;
	RUN(symtab_lookup_bounds_and_duplicates);
	RUN(kallsyms_parses_text_symbols_only);
	RUN(perfmap_parses_jit_entries);
	RUN(cpu_lists);
	RUN(elf_lookup_in_fixture_binary);
	RUN(elf_stripped_and_debuglink);
	RUN(elf_debug_file_by_build_id_under_root);
	RUN(demangling_cxx_and_rust);
	RUN(symbolizer_over_fake_proc);
	RUN(symbolizer_rereads_a_binary_replaced_in_place);
	RUN(symbolizer_this_process);
	RUN(truncated_rule);
	RUN(foldtab_merges_and_bounds);
	{
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", tmp);
		if (system(cmd) != 0)
			return 1;
	}
	return harness_finish();
}
