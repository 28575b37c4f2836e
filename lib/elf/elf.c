/* Reading ELF objects on disk with libelf (elfutils).
 *
 * Everything is read and checked once in hp_elf__open(): program headers,
 * the symbol tables (indexed by name), the GOT relocations against .dynsym
 * and the build-id note.  The queries afterwards only look at that index
 * (read_vaddr preads the file), so they never call back into libelf.
 *
 * The file is untrusted: every index, offset, size and string offset is
 * checked (libelf's gelf_* accessors bound-check against the section data;
 * elf_strptr checks string offsets and termination); anything inconsistent
 * makes open fail with -HP_E_FORMAT. */
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/stat.h>
#include "common/common.h"
#include "elf/elf.h"

#define VERSYM_HIDDEN 0x8000
#define VERSYM_INDEX 0x7fff

struct hp_elf_sym {
	const char *name;	/* "" for unnamed */
	const char *file;	/* preceding STT_FILE for locals, "" otherwise */
	uint64_t value;
	uint64_t size;
	uint32_t shndx;		/* SHN_XINDEX resolved */
	uint16_t versym;	/* .gnu.version entry, 1 (global) without one */
	uint8_t type;
	uint8_t bind;
	unsigned sympos;
};

struct hp_symtab {
	size_t scn;		/* section index; 0: table absent */
	struct hp_elf_sym *syms;	/* in table order, [0] is the null symbol */
	size_t n;
	uint32_t *by_name;	/* named symbols sorted by (name, table index) */
	size_t nnamed;
	int has_versym;
};

struct hp_got {
	uint32_t sym;		/* .dynsym index */
	uint32_t type;		/* R_X86_64_GLOB_DAT or R_X86_64_JUMP_SLOT */
	uint64_t offset;	/* r_offset */
};

struct hp_elf {
	char *path;
	int fd;
	uint64_t file_size;
	Elf *elf;
	GElf_Ehdr ehdr;
	size_t shnum;
	size_t phnum;
	GElf_Phdr *phdrs;
	struct hp_symtab symtab;
	struct hp_symtab dynsym;
	const struct hp_symtab *main;	/* &symtab, or &dynsym without .symtab */
	struct hp_got *got;
	size_t ngot;
	const uint8_t *build_id;	/* points into libelf's data */
	size_t build_id_len;
	const char *first_file;
	uint64_t first_load;
};

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');

	return s ? s + 1 : p;
}

static int bad(const struct hp_elf *e, const char *what)
{
	int err = elf_errno();

	if (err)
		return hp_err(-HP_E_FORMAT, "%s: %s (%s)", e->path, what, elf_errmsg(err));
	return hp_err(-HP_E_FORMAT, "%s: %s", e->path, what);
}

/* A symbol that find_symbol / dynsym_lookup may return. */
static int sym_is_def(const struct hp_elf_sym *s)
{
	return s->shndx != SHN_UNDEF && s->type != STT_SECTION && s->type != STT_FILE &&
	       s->name[0];
}

static int sym_is_global(const struct hp_elf_sym *s)
{
	return s->bind == STB_GLOBAL || s->bind == STB_WEAK || s->bind == STB_GNU_UNIQUE;
}

static void sym_fill(const struct hp_elf_sym *s, struct hp_sym *ret)
{
	ret->name = s->name;
	ret->file = s->bind == STB_LOCAL ? s->file : "";
	ret->value = s->value;
	ret->size = s->size;
	ret->type = s->type;
	ret->bind = s->bind;
	ret->sympos = s->sympos;
}

static int cmp_by_name(const void *a, const void *b, void *arg)
{
	const struct hp_elf_sym *syms = arg;
	uint32_t i = *(const uint32_t *)a, j = *(const uint32_t *)b;
	int r = strcmp(syms[i].name, syms[j].name);

	if (r)
		return r;
	return i < j ? -1 : i > j;
}

/* [*lo, *hi) of t->by_name holding symbols called name. */
static void sym_range(const struct hp_symtab *t, const char *name, size_t *lo, size_t *hi)
{
	size_t l = 0, h = t->nnamed;

	while (l < h) {
		size_t m = l + (h - l) / 2;

		if (strcmp(t->syms[t->by_name[m]].name, name) < 0)
			l = m + 1;
		else
			h = m;
	}
	*lo = l;
	while (l < t->nnamed && !strcmp(t->syms[t->by_name[l]].name, name))
		l++;
	*hi = l;
}

/* Finds the first section of a type linked (sh_link) to section link. */
static Elf_Scn *find_linked(struct hp_elf *e, GElf_Word type, size_t link, GElf_Shdr *sh)
{
	for (size_t i = 1; i < e->shnum; i++) {
		Elf_Scn *scn = elf_getscn(e->elf, i);

		if (scn && gelf_getshdr(scn, sh) && sh->sh_type == type && sh->sh_link == link)
			return scn;
	}
	return NULL;
}

static int load_symtab(struct hp_elf *e, size_t idx, struct hp_symtab *t)
{
	Elf_Scn *scn = elf_getscn(e->elf, idx), *xscn, *vscn;
	GElf_Shdr sh, lsh, xsh, vsh;
	Elf_Data *d, *xd = NULL, *vd = NULL;
	const char *file = "";

	if (!scn || !gelf_getshdr(scn, &sh))
		return bad(e, "unreadable symbol table header");
	if (sh.sh_entsize != sizeof(Elf64_Sym))
		return bad(e, "symbol table entry size is wrong");
	if (sh.sh_link == 0 || sh.sh_link >= e->shnum)
		return bad(e, "symbol table string table index out of range");
	{
		Elf_Scn *lscn = elf_getscn(e->elf, sh.sh_link);

		if (!lscn || !gelf_getshdr(lscn, &lsh) || lsh.sh_type != SHT_STRTAB)
			return bad(e, "symbol table not linked to a string table");
	}
	d = elf_getdata(scn, NULL);
	if (!d || (d->d_size && !d->d_buf))
		return bad(e, "unreadable symbol table");
	if (d->d_size % sizeof(Elf64_Sym))
		return bad(e, "symbol table size is not a multiple of its entry size");
	t->n = d->d_size / sizeof(Elf64_Sym);
	if (t->n > UINT32_MAX)
		return bad(e, "symbol table too large");
	t->scn = idx;

	xscn = find_linked(e, SHT_SYMTAB_SHNDX, idx, &xsh);
	if (xscn) {
		xd = elf_getdata(xscn, NULL);
		if (!xd || xd->d_size / sizeof(Elf32_Word) < t->n)
			return bad(e, "extended section index table too small");
	}
	if (sh.sh_type == SHT_DYNSYM) {
		vscn = find_linked(e, SHT_GNU_versym, idx, &vsh);
		if (vscn) {
			vd = elf_getdata(vscn, NULL);
			if (!vd || vsh.sh_entsize != sizeof(GElf_Versym) ||
			    vd->d_size != t->n * sizeof(GElf_Versym))
				return bad(e, "version table does not match .dynsym");
			t->has_versym = 1;
		}
	}

	t->syms = calloc(t->n ? t->n : 1, sizeof(*t->syms));
	t->by_name = calloc(t->n ? t->n : 1, sizeof(*t->by_name));
	if (!t->syms || !t->by_name)
		return -ENOMEM;

	for (size_t i = 0; i < t->n; i++) {
		struct hp_elf_sym *s = &t->syms[i];
		GElf_Sym gs;
		Elf32_Word xshndx = 0;
		const char *name;

		if (!gelf_getsymshndx(d, xd, (int)i, &gs, &xshndx))
			return bad(e, "unreadable symbol");
		name = elf_strptr(e->elf, sh.sh_link, gs.st_name);
		if (!name)
			return bad(e, "symbol name out of range");
		s->name = name;
		s->value = gs.st_value;
		s->size = gs.st_size;
		s->type = GELF_ST_TYPE(gs.st_info);
		s->bind = GELF_ST_BIND(gs.st_info);
		s->shndx = gs.st_shndx;
		if (gs.st_shndx == SHN_XINDEX) {
			if (!xd)
				return bad(e, "SHN_XINDEX without an extended section index table");
			s->shndx = xshndx;
			if (s->shndx >= e->shnum)
				return bad(e, "symbol section index out of range");
		} else if (gs.st_shndx >= e->shnum && gs.st_shndx < SHN_LORESERVE) {
			return bad(e, "symbol section index out of range");
		}
		s->versym = 1;
		if (vd) {
			GElf_Versym v;

			if (!gelf_getversym(vd, (int)i, &v))
				return bad(e, "unreadable version entry");
			s->versym = v;
		}
		if (s->type == STT_FILE)
			file = name;
		s->file = s->bind == STB_LOCAL ? file : "";
		if (i && name[0])
			t->by_name[t->nnamed++] = (uint32_t)i;
	}
	qsort_r(t->by_name, t->nnamed, sizeof(*t->by_name), cmp_by_name, t->syms);

	/* sympos: position among same-named defined locals, in table order
	 * (by_name keeps table order within a name). */
	for (size_t lo = 0, hi; lo < t->nnamed; lo = hi) {
		unsigned nloc = 0, pos = 0;

		for (hi = lo; hi < t->nnamed &&
			      !strcmp(t->syms[t->by_name[hi]].name, t->syms[t->by_name[lo]].name); hi++) {
			const struct hp_elf_sym *s = &t->syms[t->by_name[hi]];

			nloc += sym_is_def(s) && s->bind == STB_LOCAL;
		}
		if (nloc < 2)
			continue;
		for (size_t k = lo; k < hi; k++) {
			struct hp_elf_sym *s = &t->syms[t->by_name[k]];

			if (sym_is_def(s) && s->bind == STB_LOCAL)
				s->sympos = ++pos;
		}
	}
	return 0;
}

/* R_X86_64_GLOB_DAT and R_X86_64_JUMP_SLOT relocations against .dynsym. */
static int load_got(struct hp_elf *e)
{
	size_t cap = 0;

	for (size_t i = 1; i < e->shnum; i++) {
		Elf_Scn *scn = elf_getscn(e->elf, i);
		GElf_Shdr sh;
		Elf_Data *d;
		size_t n;

		if (!scn || !gelf_getshdr(scn, &sh))
			return bad(e, "unreadable section header");
		if (sh.sh_type != SHT_RELA || sh.sh_link != e->dynsym.scn)
			continue;
		if (sh.sh_entsize != sizeof(Elf64_Rela))
			return bad(e, "relocation entry size is wrong");
		d = elf_getdata(scn, NULL);
		if (!d || (d->d_size && !d->d_buf) || d->d_size % sizeof(Elf64_Rela))
			return bad(e, "unreadable relocation section");
		n = d->d_size / sizeof(Elf64_Rela);
		for (size_t j = 0; j < n; j++) {
			GElf_Rela r;
			uint32_t type, sym;

			if (!gelf_getrela(d, (int)j, &r))
				return bad(e, "unreadable relocation");
			type = GELF_R_TYPE(r.r_info);
			sym = GELF_R_SYM(r.r_info);
			if (type != R_X86_64_GLOB_DAT && type != R_X86_64_JUMP_SLOT)
				continue;
			if (sym == 0 || sym >= e->dynsym.n)
				return bad(e, "relocation symbol index out of range");
			if (e->ngot == cap) {
				size_t ncap = cap ? 2 * cap : 64;
				struct hp_got *g = realloc(e->got, ncap * sizeof(*g));

				if (!g)
					return -ENOMEM;
				e->got = g;
				cap = ncap;
			}
			e->got[e->ngot++] = (struct hp_got){ sym, type, r.r_offset };
		}
	}
	return 0;
}

static int scan_notes(struct hp_elf *e, Elf_Data *d)
{
	size_t off = 0, next, name_off, desc_off;
	GElf_Nhdr nh;

	if (!d || !d->d_buf)
		return 0;
	while (off < d->d_size && (next = gelf_getnote(d, off, &nh, &name_off, &desc_off)) > 0) {
		if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == sizeof(ELF_NOTE_GNU) &&
		    !memcmp((const char *)d->d_buf + name_off, ELF_NOTE_GNU, sizeof(ELF_NOTE_GNU)) &&
		    nh.n_descsz > 0) {
			e->build_id = (const uint8_t *)d->d_buf + desc_off;
			e->build_id_len = nh.n_descsz;
			return 1;
		}
		off = next;
	}
	return 0;
}

/* A missing or malformed note is not an error: the object has no build-id. */
static void find_build_id(struct hp_elf *e)
{
	for (size_t i = 0; i < e->phnum; i++) {
		const GElf_Phdr *ph = &e->phdrs[i];

		if (ph->p_type != PT_NOTE || !ph->p_filesz)
			continue;
		if (ph->p_offset > e->file_size || e->file_size - ph->p_offset < ph->p_filesz)
			continue;
		if (scan_notes(e, elf_getdata_rawchunk(e->elf, (int64_t)ph->p_offset, ph->p_filesz,
						       ph->p_align == 8 ? ELF_T_NHDR8 : ELF_T_NHDR)))
			return;
	}
	for (size_t i = 1; i < e->shnum; i++) {
		Elf_Scn *scn = elf_getscn(e->elf, i);
		GElf_Shdr sh;

		if (scn && gelf_getshdr(scn, &sh) && sh.sh_type == SHT_NOTE &&
		    scan_notes(e, elf_getdata(scn, NULL)))
			return;
	}
}

static int do_open(struct hp_elf *e)
{
	const char *ident;
	size_t nident;
	struct stat st;
	size_t symtab = 0, dynsym = 0;
	int r;

	e->fd = open(e->path, O_RDONLY | O_CLOEXEC);
	if (e->fd < 0)
		return hp_err(-errno, "%s: %s", e->path, strerror(errno));
	if (fstat(e->fd, &st) < 0)
		return hp_err(-errno, "%s: %s", e->path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return hp_err(-HP_E_FORMAT, "%s: not a regular file", e->path);
	e->file_size = (uint64_t)st.st_size;

	e->elf = elf_begin(e->fd, ELF_C_READ_MMAP, NULL);
	if (!e->elf)
		return bad(e, "cannot read as ELF");
	if (elf_kind(e->elf) != ELF_K_ELF)
		return hp_err(-HP_E_FORMAT, "%s: not an ELF file", e->path);
	ident = elf_getident(e->elf, &nident);
	if (!ident || nident < EI_NIDENT)
		return bad(e, "truncated ELF header");
	/* Not damage: a program of another architecture (i386). */
	if (ident[EI_CLASS] == ELFCLASS32)
		return hp_err(-HP_E_UNSUPPORTED, "%s is a 32-bit ELF object: not supported (32-bit)",
			      e->path);
	if (ident[EI_CLASS] != ELFCLASS64)
		return hp_err(-HP_E_FORMAT, "%s: not a 64-bit ELF object", e->path);
	if (ident[EI_DATA] != ELFDATA2LSB)
		return hp_err(-HP_E_FORMAT, "%s: not a little-endian ELF object", e->path);
	if (!gelf_getehdr(e->elf, &e->ehdr))
		return bad(e, "unreadable ELF header");
	if (e->ehdr.e_machine != EM_X86_64)
		return hp_err(-HP_E_FORMAT, "%s: not an x86-64 object (e_machine %u)", e->path,
			      (unsigned)e->ehdr.e_machine);
	if (e->ehdr.e_type != ET_EXEC && e->ehdr.e_type != ET_DYN && e->ehdr.e_type != ET_REL)
		return hp_err(-HP_E_FORMAT, "%s: not an executable, shared or relocatable object (e_type %u)",
			      e->path, (unsigned)e->ehdr.e_type);
	if (elf_getshdrnum(e->elf, &e->shnum) < 0)
		return bad(e, "bad section header count");
	if (elf_getphdrnum(e->elf, &e->phnum) < 0)
		return bad(e, "bad program header count");
	/* libelf quietly reports no sections when the table lies past the end. */
	if (e->ehdr.e_shnum && !e->shnum)
		return hp_err(-HP_E_FORMAT, "%s: section header table out of range (truncated file?)",
			      e->path);
	if (e->shnum && (e->ehdr.e_shentsize != sizeof(Elf64_Shdr) ||
			 e->ehdr.e_shoff > e->file_size ||
			 (e->file_size - e->ehdr.e_shoff) / sizeof(Elf64_Shdr) < e->shnum))
		return hp_err(-HP_E_FORMAT, "%s: section header table out of range", e->path);
	if (e->phnum && (e->ehdr.e_phentsize != sizeof(Elf64_Phdr) ||
			 e->ehdr.e_phoff > e->file_size ||
			 (e->file_size - e->ehdr.e_phoff) / sizeof(Elf64_Phdr) < e->phnum))
		return hp_err(-HP_E_FORMAT, "%s: program header table out of range", e->path);

	if (e->phnum) {
		e->phdrs = calloc(e->phnum, sizeof(*e->phdrs));
		if (!e->phdrs)
			return -ENOMEM;
	}
	e->first_load = UINT64_MAX;
	for (size_t i = 0; i < e->phnum; i++) {
		if (!gelf_getphdr(e->elf, (int)i, &e->phdrs[i]))
			return bad(e, "unreadable program header");
		if (e->phdrs[i].p_type != PT_LOAD)
			continue;
		if (e->phdrs[i].p_offset > e->file_size ||
		    e->file_size - e->phdrs[i].p_offset < e->phdrs[i].p_filesz)
			return hp_err(-HP_E_FORMAT, "%s: segment %zu extends past the end of the file "
				      "(truncated?)", e->path, i);
		if (e->phdrs[i].p_vaddr < e->first_load)
			e->first_load = e->phdrs[i].p_vaddr;
	}
	e->first_load = e->first_load == UINT64_MAX ? 0 : e->first_load & ~(uint64_t)4095;

	for (size_t i = 1; i < e->shnum; i++) {
		Elf_Scn *scn = elf_getscn(e->elf, i);
		GElf_Shdr sh;

		if (!scn || !gelf_getshdr(scn, &sh))
			return bad(e, "unreadable section header");
		if (sh.sh_type != SHT_NOBITS &&
		    (sh.sh_offset > e->file_size || e->file_size - sh.sh_offset < sh.sh_size))
			return hp_err(-HP_E_FORMAT, "%s: section %zu extends past the end of the file "
				      "(truncated?)", e->path, i);
		if (sh.sh_type == SHT_SYMTAB && !symtab)
			symtab = i;
		else if (sh.sh_type == SHT_DYNSYM && !dynsym)
			dynsym = i;
	}
	if (dynsym && (r = load_symtab(e, dynsym, &e->dynsym)) < 0)
		return r;
	if (symtab && (r = load_symtab(e, symtab, &e->symtab)) < 0)
		return r;
	e->main = symtab ? &e->symtab : &e->dynsym;
	e->first_file = "";
	for (size_t i = 1; i < e->main->n; i++) {
		if (e->main->syms[i].type == STT_FILE) {
			e->first_file = e->main->syms[i].name;
			break;
		}
	}
	if (dynsym && (r = load_got(e)) < 0)
		return r;
	find_build_id(e);
	return 0;
}

int hp_elf__is_32bit(const char *path)
{
	unsigned char ident[EI_NIDENT];
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (read(fd, ident, sizeof(ident)) != (ssize_t)sizeof(ident))
		return 0;
	return !memcmp(ident, ELFMAG, SELFMAG) && ident[EI_CLASS] == ELFCLASS32;
}

int hp_elf__open(const char *path, struct hp_elf **ret)
{
	struct hp_elf *e;
	int r;

	if (!path || !ret)
		return -EINVAL;
	*ret = NULL;
	if (elf_version(EV_CURRENT) == EV_NONE)
		return hp_err(-HP_E_UNSUPPORTED, "libelf: %s", elf_errmsg(-1));
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->fd = -1;
	e->path = strdup(path);
	if (!e->path) {
		free(e);
		return -ENOMEM;
	}
	r = do_open(e);
	if (r < 0) {
		hp_elf__close(e);
		return r;
	}
	*ret = e;
	return 0;
}

static void symtab_free(struct hp_symtab *t)
{
	free(t->syms);
	free(t->by_name);
}

void hp_elf__close(struct hp_elf *e)
{
	if (!e)
		return;
	symtab_free(&e->symtab);
	symtab_free(&e->dynsym);
	free(e->got);
	free(e->phdrs);
	if (e->elf)
		elf_end(e->elf);
	if (e->fd >= 0)
		close(e->fd);
	free(e->path);
	free(e);
}

int hp_elf__build_id(const struct hp_elf *e, uint8_t *buf, size_t bufsz, size_t *ret_len)
{
	if (!e || (!buf && bufsz))
		return -EINVAL;
	if (!e->build_id)
		return -ENOENT;
	if (ret_len)
		*ret_len = e->build_id_len;
	if (e->build_id_len > bufsz)
		return -ENOBUFS;
	memcpy(buf, e->build_id, e->build_id_len);
	return 0;
}

uint64_t hp_elf__first_load_vaddr(const struct hp_elf *e)
{
	return e ? e->first_load : 0;
}

uint64_t hp_elf__load_end_vaddr(const struct hp_elf *e)
{
	uint64_t end = 0;

	for (size_t i = 0; e && i < e->phnum; i++) {
		const GElf_Phdr *ph = &e->phdrs[i];

		if (ph->p_type == PT_LOAD && ph->p_vaddr + ph->p_memsz > end &&
		    ph->p_vaddr + ph->p_memsz >= ph->p_vaddr)
			end = ph->p_vaddr + ph->p_memsz;
	}
	return end;
}

int hp_elf__load_seg(const struct hp_elf *e, size_t idx, struct hp_elf_seg *ret)
{
	for (size_t i = 0; e && i < e->phnum; i++) {
		const GElf_Phdr *ph = &e->phdrs[i];

		if (ph->p_type != PT_LOAD)
			continue;
		if (idx-- > 0)
			continue;
		*ret = (struct hp_elf_seg){ ph->p_vaddr, ph->p_offset, ph->p_filesz, ph->p_memsz,
					    ph->p_flags };
		return 0;
	}
	return -ENOENT;
}

int hp_elf__find_symbol(const struct hp_elf *e, const char *name, const char *file,
			unsigned sympos, struct hp_sym *ret)
{
	const struct hp_symtab *t;
	const char *fbase = NULL;
	const struct hp_elf_sym **cand;
	size_t lo, hi, nc = 0, pick = SIZE_MAX;
	char list[1024];
	size_t len = 0;

	if (!e || !name || !ret)
		return -EINVAL;
	if (file && file[0])
		fbase = base_name(file);
	t = e->main;
	sym_range(t, name, &lo, &hi);
	cand = calloc(hi > lo ? hi - lo : 1, sizeof(*cand));
	if (!cand)
		return -ENOMEM;
	for (size_t k = lo; k < hi; k++) {
		const struct hp_elf_sym *s = &t->syms[t->by_name[k]];

		if (!sym_is_def(s))
			continue;
		if (fbase && (s->bind != STB_LOCAL || strcmp(base_name(s->file), fbase)))
			continue;
		/* A local unique by name is the 1st of its name. */
		if (sympos && (s->bind != STB_LOCAL || (s->sympos ? s->sympos : 1) != sympos))
			continue;
		cand[nc++] = s;
	}

	if (nc == 1) {
		pick = 0;
	} else if (nc > 1 && !fbase && !sympos) {
		/* The one global definition wins over same-named locals. */
		size_t nglob = 0;

		for (size_t i = 0; i < nc; i++)
			if (sym_is_global(cand[i]) && !nglob++)
				pick = i;
		if (nglob != 1)
			pick = SIZE_MAX;
	} else if (nc > 1 && fbase && strchr(file, '/')) {
		/* Same basename in several directories: an exact path decides. */
		size_t nexact = 0;

		for (size_t i = 0; i < nc; i++)
			if (!strcmp(cand[i]->file, file) && !nexact++)
				pick = i;
		if (nexact != 1)
			pick = SIZE_MAX;
	}

	if (pick != SIZE_MAX) {
		sym_fill(cand[pick], ret);
		free(cand);
		return 0;
	}
	if (nc == 0) {
		free(cand);
		if (fbase && sympos)
			return hp_err(-HP_E_SYM_NOT_FOUND, "%s (%s, position %u) not found in %s",
				      name, file, sympos, e->path);
		if (fbase)
			return hp_err(-HP_E_SYM_NOT_FOUND, "%s (%s) not found in %s", name, file,
				      e->path);
		if (sympos)
			return hp_err(-HP_E_SYM_NOT_FOUND, "%s (position %u) not found in %s", name,
				      sympos, e->path);
		return hp_err(-HP_E_SYM_NOT_FOUND, "%s not found in %s", name, e->path);
	}
	list[0] = 0;
	for (size_t i = 0; i < nc && len < sizeof(list); i++) {
		const struct hp_elf_sym *s = cand[i];
		const char *f = s->bind != STB_LOCAL ? "global" : s->file[0] ? s->file : "?";
		int n = snprintf(list + len, sizeof(list) - len, "%s%s (%s, 0x%" PRIx64 ")",
				 i ? ", " : "", s->name, f, s->value);

		if (n < 0)
			break;
		len += (size_t)n;
	}
	free(cand);
	return hp_err(-HP_E_SYM_AMBIGUOUS, "%s", list);
}

int hp_elf__read_vaddr(const struct hp_elf *e, uint64_t vaddr, void *buf, size_t len)
{
	if (!e || (!buf && len))
		return -EINVAL;
	for (size_t i = 0; i < e->phnum; i++) {
		const GElf_Phdr *ph = &e->phdrs[i];
		uint64_t off;
		size_t done = 0;

		if (ph->p_type != PT_LOAD || vaddr < ph->p_vaddr || vaddr - ph->p_vaddr >= ph->p_filesz)
			continue;
		off = vaddr - ph->p_vaddr;
		if (len > ph->p_filesz - off)
			return hp_err(-ERANGE, "%s: 0x%" PRIx64 "+%zu runs past the file-backed part "
				      "of its segment", e->path, vaddr, len);
		if (ph->p_offset > e->file_size || e->file_size - ph->p_offset < ph->p_filesz)
			return hp_err(-HP_E_FORMAT, "%s: segment extends past the end of the file",
				      e->path);
		off += ph->p_offset;
		while (done < len) {
			ssize_t n = pread(e->fd, (char *)buf + done, len - done, (off_t)(off + done));

			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return hp_err(-errno, "%s: %s", e->path, strerror(errno));
			if (n == 0)
				return hp_err(-EIO, "%s: file shrank while open", e->path);
			done += (size_t)n;
		}
		return 0;
	}
	return hp_err(-ERANGE, "%s: 0x%" PRIx64 " is not file-backed", e->path, vaddr);
}

int hp_elf__dynsym_lookup(const struct hp_elf *e, const char *name, struct hp_sym *ret)
{
	const struct hp_symtab *t;
	const struct hp_elf_sym *best = NULL;
	size_t lo, hi;

	if (!e || !name || !ret)
		return -EINVAL;
	t = &e->dynsym;
	sym_range(t, name, &lo, &hi);
	for (size_t k = lo; k < hi; k++) {
		const struct hp_elf_sym *s = &t->syms[t->by_name[k]];

		if (!sym_is_def(s) || !sym_is_global(s))
			continue;
		/* Hidden (non-default) versions, and VER_NDX_LOCAL, are not
		 * what an unversioned reference binds to. */
		if (t->has_versym &&
		    ((s->versym & VERSYM_HIDDEN) || (s->versym & VERSYM_INDEX) == 0))
			continue;
		if (!best || (best->bind == STB_WEAK && s->bind != STB_WEAK))
			best = s;
	}
	if (!best)
		return -HP_E_SYM_NOT_FOUND;
	sym_fill(best, ret);
	return 0;
}

int hp_elf__got_slot(const struct hp_elf *e, const char *name, uint64_t *ret_vaddr)
{
	const struct hp_got *best = NULL;

	if (!e || !name || !ret_vaddr)
		return -EINVAL;
	for (size_t i = 0; i < e->ngot; i++) {
		const struct hp_got *g = &e->got[i];

		if (strcmp(e->dynsym.syms[g->sym].name, name))
			continue;
		/* GLOB_DAT slots are filled at load time; JUMP_SLOT ones may
		 * still point at the lazy-binding stub. */
		if (!best || (best->type != R_X86_64_GLOB_DAT && g->type == R_X86_64_GLOB_DAT))
			best = g;
	}
	if (!best)
		return -ENOENT;
	*ret_vaddr = best->offset;
	return 0;
}

const char *hp_elf__first_file(const struct hp_elf *e)
{
	return e && e->first_file ? e->first_file : "";
}
