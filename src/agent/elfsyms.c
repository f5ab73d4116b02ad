/* elfsyms: see elfsyms.h. Reads ELF with libelf; demangles with libiberty
 * (cplus_demangle in auto mode handles both Itanium C++ and Rust, legacy and
 * v0 — no demangler of our own). */
#include "agent/elfsyms.h"

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <libiberty/demangle.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/symtab.h"

#define ELFSYMS_SEGMENTS_MAX 16
#define ELFSYMS_BUILD_ID_MAX 64 /* bytes; hex twice that */
#define ELFSYMS_PATH_MAX     4096

struct segment {
	uint64_t offset, vaddr, filesz;
};

struct elfsyms {
	struct symtab syms;
	char **demangled; /* per entry, lazily; (char *)1 marks "not mangled" */
	struct segment segments[ELFSYMS_SEGMENTS_MAX];
	size_t n_segments;
	unsigned sources;
	char build_id[ELFSYMS_BUILD_ID_MAX * 2 + 1];
};

#define NOT_MANGLED ((char *)1)

static int load_symbols(Elf *elf, Elf_Scn *scn, const GElf_Shdr *shdr, struct symtab *t)
{
	Elf_Data *data = elf_getdata(scn, NULL);
	size_t n;

	if (!data || !shdr->sh_entsize)
		return 0;
	n = shdr->sh_size / shdr->sh_entsize;
	for (size_t i = 0; i < n; i++) {
		GElf_Sym sym;
		const char *name;
		int type, err;

		if (!gelf_getsym(data, (int)i, &sym))
			continue;
		type = GELF_ST_TYPE(sym.st_info);
		if ((type != STT_FUNC && type != STT_GNU_IFUNC) || sym.st_shndx == SHN_UNDEF ||
		    !sym.st_value)
			continue;
		name = elf_strptr(elf, shdr->sh_link, sym.st_name);
		if (!name || !*name)
			continue;
		err = symtab_add(t, sym.st_value, sym.st_size, name, strlen(name));
		if (err)
			return err;
	}
	return 1;
}

struct elf_facts {
	bool has_symtab;
	char debuglink[256];
};

/* Reads symbols (only .symtab when `symtab_only`), segments, build-id and
 * debuglink of one ELF file. */
static int read_elf(int fd, struct elfsyms *es, bool symtab_only, struct elf_facts *facts)
{
	Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	Elf_Scn *scn = NULL;
	size_t shstrndx, n_phdr;
	int err = 0;

	if (!elf)
		return -EIO;
	if (elf_kind(elf) != ELF_K_ELF || elf_getshdrstrndx(elf, &shstrndx)) {
		err = -ENOEXEC;
		goto out;
	}
	if (!symtab_only && elf_getphdrnum(elf, &n_phdr) == 0) {
		for (size_t i = 0; i < n_phdr && es->n_segments < ELFSYMS_SEGMENTS_MAX; i++) {
			GElf_Phdr ph;

			if (gelf_getphdr(elf, (int)i, &ph) && ph.p_type == PT_LOAD)
				es->segments[es->n_segments++] =
				    (struct segment){.offset = ph.p_offset,
						     .vaddr = ph.p_vaddr,
						     .filesz = ph.p_filesz};
		}
	}
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		const char *name;
		int r;

		if (!gelf_getshdr(scn, &sh))
			continue;
		name = elf_strptr(elf, shstrndx, sh.sh_name);
		if (sh.sh_type == SHT_SYMTAB || (!symtab_only && sh.sh_type == SHT_DYNSYM)) {
			r = load_symbols(elf, scn, &sh, &es->syms);
			if (r < 0) {
				err = r;
				goto out;
			}
			if (r && sh.sh_type == SHT_SYMTAB)
				facts->has_symtab = true;
			es->sources |= sh.sh_type == SHT_SYMTAB
					   ? (symtab_only ? ELFSYMS_DEBUGFILE : ELFSYMS_SYMTAB)
					   : ELFSYMS_DYNSYM;
		} else if (!symtab_only && sh.sh_type == SHT_NOTE && name &&
			   strcmp(name, ".note.gnu.build-id") == 0) {
			Elf_Data *d = elf_getdata(scn, NULL);
			GElf_Nhdr nh;
			size_t name_off, desc_off;

			if (d && gelf_getnote(d, 0, &nh, &name_off, &desc_off) &&
			    nh.n_type == NT_GNU_BUILD_ID && nh.n_descsz <= ELFSYMS_BUILD_ID_MAX) {
				const unsigned char *desc =
				    (const unsigned char *)d->d_buf + desc_off;

				for (size_t i = 0; i < nh.n_descsz; i++)
					snprintf(es->build_id + 2 * i, 3, "%02x", desc[i]);
			}
		} else if (!symtab_only && name && strcmp(name, ".gnu_debuglink") == 0) {
			Elf_Data *d = elf_getdata(scn, NULL);

			if (d && d->d_size)
				snprintf(facts->debuglink, sizeof(facts->debuglink), "%.*s",
					 (int)strnlen(d->d_buf, d->d_size), (const char *)d->d_buf);
		}
	}
out:
	elf_end(elf);
	return err;
}

/* Opens the first existing candidate debug file that is not the binary. */
static int open_debug_file(const char *root, const char *path, const struct elfsyms *es,
			   const char *debuglink, const struct stat *self)
{
	char cand[ELFSYMS_PATH_MAX], dir[ELFSYMS_PATH_MAX];
	const char *slash = strrchr(path, '/');
	int n_dir = slash ? (int)(slash - path) : 0;

	if (snprintf(dir, sizeof(dir), "%.*s", n_dir, path) >= (int)sizeof(dir))
		return -ENAMETOOLONG;
	for (int i = 0; i < 4; i++) {
		struct stat st;
		int fd, n = -1;

		if (i == 0 && strlen(es->build_id) > 2)
			n = snprintf(cand, sizeof(cand), "%s/usr/lib/debug/.build-id/%.2s/%s.debug",
				     root, es->build_id, es->build_id + 2);
		else if (i == 1 && debuglink[0])
			n = snprintf(cand, sizeof(cand), "%s%s/%s", root, dir, debuglink);
		else if (i == 2 && debuglink[0])
			n = snprintf(cand, sizeof(cand), "%s%s/.debug/%s", root, dir, debuglink);
		else if (i == 3 && debuglink[0])
			n = snprintf(cand, sizeof(cand), "%s/usr/lib/debug%s/%s", root, dir,
				     debuglink);
		if (n < 0 || (size_t)n >= sizeof(cand))
			continue;
		fd = open(cand, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (fstat(fd, &st) == 0 && st.st_dev == self->st_dev && st.st_ino == self->st_ino) {
			close(fd);
			continue;
		}
		return fd;
	}
	return -ENOENT;
}

int elfsyms_open(int fd, const char *root, const char *path, struct elfsyms **ret)
{
	struct elfsyms *es = calloc(1, sizeof(*es));
	struct elf_facts facts = {0};
	struct stat self;
	int err;

	if (!es)
		return -ENOMEM;
	symtab_init(&es->syms);
	if (elf_version(EV_CURRENT) == EV_NONE) {
		err = -EIO;
		goto fail;
	}
	err = read_elf(fd, es, false, &facts);
	if (err)
		goto fail;
	if (!facts.has_symtab && fstat(fd, &self) == 0) {
		int dfd = open_debug_file(root, path, es, facts.debuglink, &self);

		if (dfd >= 0) {
			struct elf_facts dfacts = {0};

			/* A broken debug file only costs its symbols. */
			err = read_elf(dfd, es, true, &dfacts);
			close(dfd);
			if (err == -ENOMEM)
				goto fail;
			err = 0;
		}
	}
	symtab_finish(&es->syms);
	if (es->syms.n) {
		es->demangled = calloc(es->syms.n, sizeof(*es->demangled));
		if (!es->demangled) {
			err = -ENOMEM;
			goto fail;
		}
	}
	*ret = es;
	return 0;
fail:
	elfsyms_free(es);
	return err;
}

struct elfsyms *elfsyms_free(struct elfsyms *es)
{
	if (!es)
		return NULL;
	for (size_t i = 0; es->demangled && i < es->syms.n; i++)
		if (es->demangled[i] != NOT_MANGLED)
			free(es->demangled[i]);
	free(es->demangled);
	symtab_release(&es->syms);
	free(es);
	return NULL;
}

unsigned elfsyms_sources(const struct elfsyms *es)
{
	return es->sources;
}

size_t elfsyms_count(const struct elfsyms *es)
{
	return es->syms.n;
}

const char *elfsyms_build_id(const struct elfsyms *es)
{
	return es->build_id;
}

bool elfsyms_file_to_vaddr(const struct elfsyms *es, uint64_t file_off, uint64_t *ret_vaddr)
{
	for (size_t i = 0; i < es->n_segments; i++) {
		const struct segment *s = &es->segments[i];

		if (file_off >= s->offset && file_off - s->offset < s->filesz) {
			*ret_vaddr = file_off - s->offset + s->vaddr;
			return true;
		}
	}
	return false;
}

char *elfsyms_demangle(const char *name)
{
	if (!name || name[0] != '_' || (name[1] != 'Z' && name[1] != 'R'))
		return NULL;
	return cplus_demangle(name, DMGL_PARAMS | DMGL_ANSI);
}

const char *elfsyms_lookup(struct elfsyms *es, uint64_t vaddr)
{
	size_t i;
	const struct symtab_entry *e = symtab_lookup(&es->syms, vaddr, &i);
	const char *name;

	if (!e)
		return NULL;
	name = symtab_name(&es->syms, e);
	if (!es->demangled[i]) {
		char *d = elfsyms_demangle(name);

		es->demangled[i] = d ? d : NOT_MANGLED;
	}
	return es->demangled[i] == NOT_MANGLED ? name : es->demangled[i];
}
