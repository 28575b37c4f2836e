/* The reader of .hp files: the one parser of untrusted bytes.  Every offset,
 * size, count and index is checked before it is used; sizes from the file
 * are bounded (format.h).  On success the result holds no pointer that
 * leaves its own copy of the bytes. */
#include <fcntl.h>
#include <gelf.h>
#include <sodium.h>
#include <stdio.h>
#include <sys/stat.h>
#include "common/common.h"
#include "patchfile/format.h"
#include "patchfile/patchfile.h"

#define BAD(...) hp_err(-HP_E_FORMAT, __VA_ARGS__)

const char *hp_patch_id_problem(const char *id)
{
	if (!id || !id[0] || strlen(id) > HP_MAX_ID)
		return "empty or longer than 63 characters";
	for (const char *c = id; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || strchr("._-+", *c)))
			return "use letters, digits and . _ - + only";
	return NULL;
}

/* A string at off inside [area, area+len), NUL-terminated inside it. */
static const char *str_at(const uint8_t *area, size_t len, uint32_t off)
{
	if (off >= len || !memchr(area + off, 0, len - off))
		return NULL;
	return (const char *)area + off;
}

static int parse_info(struct hp_patch *p, const uint8_t *d, size_t n)
{
	struct hp_disk_info h;
	const uint8_t *strs;
	size_t slen;
	struct hp_patch_info *info = &p->info;

	if (n < sizeof(h))
		return BAD("%s is %zu bytes, shorter than its header", HP_SEC_INFO, n);
	memcpy(&h, d, sizeof(h));
	if (memcmp(h.magic, HP_INFO_MAGIC, 8))
		return BAD("%s: bad magic", HP_SEC_INFO);
	if (h.version != HP_FORMAT_VERSION)
		return BAD("format version %u, this hotpatch reads version %u", h.version,
			   HP_FORMAT_VERSION);
	if (h.strings_len > n - sizeof(h))
		return BAD("%s: string area past the section end", HP_SEC_INFO);
	if (h.build_id_len == 0 || h.build_id_len > sizeof(h.build_id))
		return BAD("%s: build-id length %u", HP_SEC_INFO, h.build_id_len);
	if (h.severity > HP_SEV_CRITICAL)
		return BAD("%s: severity %u", HP_SEC_INFO, h.severity);
	strs = d + sizeof(h);
	slen = h.strings_len;
	info->format_version = h.version;
	info->level = h.level;
	info->severity = (int)h.severity;
	memcpy(info->build_id, h.build_id, h.build_id_len);
	info->build_id_len = h.build_id_len;
	info->id = str_at(strs, slen, h.id);
	info->target_name = str_at(strs, slen, h.target_name);
	info->description = str_at(strs, slen, h.description);
	info->cves = str_at(strs, slen, h.cves);
	info->supersedes = str_at(strs, slen, h.supersedes);
	if (!info->id || !info->target_name || !info->description || !info->cves ||
	    !info->supersedes)
		return BAD("%s: a string offset is outside the string area or unterminated",
			   HP_SEC_INFO);
	if (hp_patch_id_problem(info->id))
		return BAD("patch id: %s", hp_patch_id_problem(info->id));
	if (info->level == 0)
		return BAD("patch level 0 (levels start at 1)");
	return 0;
}

/* Validates a table header and returns where entries and strings are. */
static int parse_table(const char *sec, const char *magic, const uint8_t *d, size_t n,
		       size_t entsize, size_t max, struct hp_disk_table *ret_h,
		       const uint8_t **ret_strs)
{
	struct hp_disk_table h;
	uint64_t need;

	if (n < sizeof(h))
		return BAD("%s is %zu bytes, shorter than its header", sec, n);
	memcpy(&h, d, sizeof(h));
	if (memcmp(h.magic, magic, 8))
		return BAD("%s: bad magic", sec);
	if (h.entsize != entsize)
		return BAD("%s: entry size %u, expected %zu", sec, h.entsize, entsize);
	if (h.count > max)
		return BAD("%s: %u entries, the limit is %zu", sec, h.count, max);
	need = sizeof(h) + (uint64_t)h.count * entsize + h.strings_len;
	if (need > n)
		return BAD("%s: %u entries and %u bytes of strings do not fit in %zu bytes", sec,
			   h.count, h.strings_len, n);
	*ret_h = h;
	*ret_strs = d + sizeof(h) + (size_t)h.count * entsize;
	return 0;
}

static int parse_funcs(struct hp_patch *p, const uint8_t *d, size_t n)
{
	struct hp_disk_table h;
	const uint8_t *strs;
	int r = parse_table(HP_SEC_FUNCS, HP_FUNCS_MAGIC, d, n, sizeof(struct hp_disk_func),
			    HP_MAX_FUNCS, &h, &strs);

	if (r < 0)
		return r;
	if (h.count == 0)
		return BAD("%s: no function to replace", HP_SEC_FUNCS);
	p->funcs = calloc(h.count, sizeof(*p->funcs));
	p->func_sym = calloc(h.count, sizeof(*p->func_sym));
	if (!p->funcs || !p->func_sym)
		return -ENOMEM;
	p->nfuncs = h.count;
	for (uint32_t i = 0; i < h.count; i++) {
		struct hp_disk_func e;
		struct hp_patch_func *f = &p->funcs[i];

		memcpy(&e, d + sizeof(h) + (size_t)i * sizeof(e), sizeof(e));
		f->old_name = str_at(strs, h.strings_len, e.old_name);
		f->old_file = str_at(strs, h.strings_len, e.old_file);
		f->new_name = str_at(strs, h.strings_len, e.new_name);
		if (!f->old_name || !f->old_file || !f->new_name || !f->old_name[0] ||
		    !f->new_name[0])
			return BAD("%s: entry %u has a bad string offset", HP_SEC_FUNCS, i);
		f->old_sympos = e.old_sympos;
		f->old_addr = e.old_addr;
		f->old_size = e.old_size;
		memcpy(f->old_sha256, e.old_sha256, 32);
		if (f->old_size == 0 || f->old_size > (16u << 20) ||
		    f->old_addr + f->old_size < f->old_addr)
			return BAD("%s: %s at 0x%lx with size %lu: size zero, over 16 MiB, or past the end of the address space",
				   HP_SEC_FUNCS, f->old_name, (unsigned long)f->old_addr,
				   (unsigned long)f->old_size);
	}
	/* The same function twice, or two overlapping ones, cannot both be redirected. */
	for (size_t i = 0; i < p->nfuncs; i++)
		for (size_t j = i + 1; j < p->nfuncs; j++) {
			const struct hp_patch_func *a = &p->funcs[i], *b = &p->funcs[j];

			if (a->old_addr < b->old_addr + b->old_size &&
			    b->old_addr < a->old_addr + a->old_size)
				return BAD("%s: %s and %s overlap", HP_SEC_FUNCS, a->old_name,
					   b->old_name);
		}
	return 0;
}

static int parse_syms(struct hp_patch *p, const uint8_t *d, size_t n)
{
	struct hp_disk_table h;
	const uint8_t *strs;
	int r = parse_table(HP_SEC_SYMS, HP_SYMS_MAGIC, d, n, sizeof(struct hp_disk_sym),
			    HP_MAX_SYMS, &h, &strs);

	if (r < 0)
		return r;
	p->tsyms = calloc(h.count ? h.count : 1, sizeof(*p->tsyms));
	if (!p->tsyms)
		return -ENOMEM;
	p->ntsyms = h.count;
	for (uint32_t i = 0; i < h.count; i++) {
		struct hp_disk_sym e;

		memcpy(&e, d + sizeof(h) + (size_t)i * sizeof(e), sizeof(e));
		p->tsyms[i].name = str_at(strs, h.strings_len, e.name);
		p->tsyms[i].file = str_at(strs, h.strings_len, e.file);
		p->tsyms[i].target_addr = e.target_addr;
		if (!p->tsyms[i].name || !p->tsyms[i].file)
			return BAD("%s: entry %u has a bad string offset", HP_SEC_SYMS, i);
	}
	return 0;
}

static int parse_symtab(struct hp_patch *p, Elf *elf, Elf_Scn *scn, GElf_Shdr *sh)
{
	Elf_Data *data = elf_getdata(scn, NULL);
	size_t n;

	if (!data || sh->sh_entsize != sizeof(Elf64_Sym) || data->d_size % sizeof(Elf64_Sym))
		return BAD(".symtab: bad size or entry size");
	if (sh->sh_link == 0 || sh->sh_link >= p->nsecs || p->secs[sh->sh_link].type != SHT_STRTAB)
		return BAD(".symtab: sh_link %u is not a string table", sh->sh_link);
	n = data->d_size / sizeof(Elf64_Sym);
	if (n > HP_MAX_SYMS)
		return BAD(".symtab: %zu symbols, the limit is %d", n, HP_MAX_SYMS);
	p->syms = calloc(n ? n : 1, sizeof(*p->syms));
	if (!p->syms)
		return -ENOMEM;
	p->nsyms = n;
	for (size_t i = 0; i < n; i++) {
		GElf_Sym s;
		struct hp_psym *ps = &p->syms[i];
		const struct hp_psec *strtab = &p->secs[sh->sh_link];

		if (!gelf_getsym(data, (int)i, &s))
			return BAD(".symtab: symbol %zu unreadable", i);
		ps->name = strtab->data ? str_at(strtab->data, strtab->size, s.st_name) : NULL;
		if (!ps->name)
			return BAD(".symtab: symbol %zu has a name outside .strtab", i);
		ps->shndx = s.st_shndx;
		if (s.st_shndx != SHN_UNDEF && s.st_shndx != SHN_ABS && s.st_shndx != SHN_COMMON &&
		    s.st_shndx >= p->nsecs)
			return BAD(".symtab: symbol %zu (%s) has section index %u out of range", i,
				   ps->name[0] ? ps->name : "unnamed", s.st_shndx);
		if (s.st_shndx == SHN_COMMON)
			return BAD("symbol %s is a COMMON symbol; compile the patch with -fno-common",
				   ps->name);
		ps->value = s.st_value;
		ps->size = s.st_size;
		ps->type = GELF_ST_TYPE(s.st_info);
		ps->bind = GELF_ST_BIND(s.st_info);
		if (ps->shndx != SHN_UNDEF && ps->shndx != SHN_ABS &&
		    (ps->value > p->secs[ps->shndx].size ||
		     ps->size > p->secs[ps->shndx].size - ps->value))
			return BAD(".symtab: symbol %s lies outside its section", ps->name);
	}
	(void)elf;
	return 0;
}

static int parse_rela(struct hp_patch *p, Elf_Scn *scn, GElf_Shdr *sh, size_t symtab_idx)
{
	Elf_Data *data = elf_getdata(scn, NULL);
	struct hp_psec *target;
	size_t n;

	if (sh->sh_info == 0 || sh->sh_info >= p->nsecs)
		return BAD("relocation section applies to section %u, out of range", sh->sh_info);
	if (sh->sh_link != symtab_idx)
		return BAD("relocation section is not linked to .symtab");
	if (!data || sh->sh_entsize != sizeof(Elf64_Rela) || data->d_size % sizeof(Elf64_Rela))
		return BAD("relocation section has a bad size");
	n = data->d_size / sizeof(Elf64_Rela);
	target = &p->secs[sh->sh_info];
	if (target->relas)
		return BAD("section %s has two relocation sections", target->name);
	if (n == 0)
		return 0; /* newer binutils leave empty relocation sections */
	target->relas = calloc(n, sizeof(*target->relas));
	if (!target->relas)
		return -ENOMEM;
	target->nrelas = n;
	for (size_t i = 0; i < n; i++) {
		GElf_Rela r;
		struct hp_prela *pr = &target->relas[i];

		if (!gelf_getrela(data, (int)i, &r))
			return BAD("relocation %zu unreadable", i);
		pr->offset = r.r_offset;
		pr->type = GELF_R_TYPE(r.r_info);
		pr->sym = GELF_R_SYM(r.r_info);
		pr->addend = r.r_addend;
		if (pr->sym >= p->nsyms)
			return BAD("relocation %zu of %s: symbol index %u out of range", i,
				   target->name, pr->sym);
		/* The narrowest relocation is 4 bytes; the loader checks 8-byte ones. */
		if (pr->offset > target->size || target->size - pr->offset < 4)
			return BAD("relocation %zu of %s: offset 0x%lx outside the section", i,
				   target->name, (unsigned long)pr->offset);
	}
	return 0;
}

static int parse_elf(struct hp_patch *p)
{
	Elf *elf;
	GElf_Ehdr eh;
	Elf_Scn *scn = NULL;
	size_t shstrndx, nsecs, symtab_idx = 0;
	int r = 0, have_info = 0, have_funcs = 0, have_syms = 0;

	if (p->len < sizeof(Elf64_Ehdr) || memcmp(p->buf, ELFMAG, SELFMAG))
		return BAD("not an ELF file");
	if (p->buf[EI_CLASS] != ELFCLASS64 || p->buf[EI_DATA] != ELFDATA2LSB)
		return BAD("not a 64-bit little-endian ELF file");
	elf_version(EV_CURRENT);
	elf = elf_memory((char *)p->buf, p->len);
	if (!elf)
		return BAD("libelf: %s", elf_errmsg(-1));
	if (!gelf_getehdr(elf, &eh)) {
		r = BAD("ELF header: %s", elf_errmsg(-1));
		goto out;
	}
	if (eh.e_type != ET_REL || eh.e_machine != EM_X86_64) {
		r = BAD("ELF type %u machine %u: a patch is an x86_64 relocatable object", eh.e_type,
			eh.e_machine);
		goto out;
	}
	if (elf_getshdrnum(elf, &nsecs) < 0 || nsecs == 0 || nsecs > HP_MAX_SECTIONS ||
	    elf_getshdrstrndx(elf, &shstrndx) < 0 || shstrndx >= nsecs) {
		r = BAD("bad section header table");
		goto out;
	}
	if (eh.e_shoff > p->len || (uint64_t)nsecs * sizeof(Elf64_Shdr) > p->len - eh.e_shoff) {
		r = BAD("section header table outside the file");
		goto out;
	}
	p->secs = calloc(nsecs, sizeof(*p->secs));
	if (!p->secs) {
		r = -ENOMEM;
		goto out;
	}
	p->nsecs = nsecs;

	/* Pass 1: every section's bounds and name. */
	while ((scn = elf_nextscn(elf, scn))) {
		size_t idx = elf_ndxscn(scn);
		GElf_Shdr sh;
		struct hp_psec *s = &p->secs[idx];

		if (!gelf_getshdr(scn, &sh)) {
			r = BAD("section %zu: %s", idx, elf_errmsg(-1));
			goto out;
		}
		s->name = elf_strptr(elf, shstrndx, sh.sh_name);
		if (!s->name) {
			r = BAD("section %zu has no valid name", idx);
			goto out;
		}
		s->type = sh.sh_type;
		s->flags = sh.sh_flags;
		s->size = sh.sh_size;
		s->align = sh.sh_addralign ? sh.sh_addralign : 1;
		if (s->align & (s->align - 1) || s->align > 4096) {
			r = BAD("section %s alignment %lu", s->name, (unsigned long)s->align);
			goto out;
		}
		if (sh.sh_type != SHT_NOBITS && sh.sh_type != SHT_NULL) {
			if (sh.sh_offset > p->len || sh.sh_size > p->len - sh.sh_offset) {
				r = BAD("section %s (offset 0x%lx, size 0x%lx) lies outside the file",
					s->name, (unsigned long)sh.sh_offset, (unsigned long)sh.sh_size);
				goto out;
			}
			s->data = p->buf + sh.sh_offset;
		} else if (sh.sh_size > HP_MAX_FILE) {
			r = BAD("section %s: %lu bytes of zeroes is too large", s->name,
				(unsigned long)sh.sh_size);
			goto out;
		}
		if (sh.sh_type == SHT_SYMTAB) {
			if (symtab_idx) {
				r = BAD("two symbol tables");
				goto out;
			}
			symtab_idx = idx;
		}
		if (sh.sh_type == SHT_STRTAB && s->size && s->data[s->size - 1] != 0) {
			r = BAD("string table %s is not terminated", s->name);
			goto out;
		}
	}
	/* Allocated sections must not overlap each other in the file. */
	for (size_t i = 1; i < nsecs; i++)
		for (size_t j = i + 1; j < nsecs; j++) {
			struct hp_psec *a = &p->secs[i], *b = &p->secs[j];

			if (a->data && b->data && a->size && b->size && a->data < b->data + b->size &&
			    b->data < a->data + a->size) {
				r = BAD("sections %s and %s overlap", a->name, b->name);
				goto out;
			}
		}
	if (!symtab_idx) {
		r = BAD("no symbol table");
		goto out;
	}
	scn = elf_getscn(elf, symtab_idx);
	{
		GElf_Shdr sh;

		gelf_getshdr(scn, &sh);
		r = parse_symtab(p, elf, scn, &sh);
		if (r < 0)
			goto out;
	}
	/* Pass 2: relocations and our own sections. */
	scn = NULL;
	while ((scn = elf_nextscn(elf, scn))) {
		size_t idx = elf_ndxscn(scn);
		struct hp_psec *s = &p->secs[idx];
		GElf_Shdr sh;

		gelf_getshdr(scn, &sh);
		if (sh.sh_type == SHT_REL) {
			r = BAD("section %s: REL relocations (x86_64 uses RELA)", s->name);
			goto out;
		}
		if (sh.sh_type == SHT_RELA) {
			/* Only relocations of loaded sections matter; others (debug, eh_frame) are skipped. */
			if (sh.sh_info < nsecs && !(p->secs[sh.sh_info].flags & SHF_ALLOC))
				continue;
			r = parse_rela(p, scn, &sh, symtab_idx);
		} else if (!strcmp(s->name, HP_SEC_INFO)) {
			/* a second copy would be ambiguous (and leak the first's tables) */
			r = have_info++ ? BAD("two %s sections", HP_SEC_INFO) :
			    s->data ? parse_info(p, s->data, s->size) : BAD("empty %s", HP_SEC_INFO);
		} else if (!strcmp(s->name, HP_SEC_FUNCS)) {
			r = have_funcs++ ? BAD("two %s sections", HP_SEC_FUNCS) :
			    s->data ? parse_funcs(p, s->data, s->size) : BAD("empty %s", HP_SEC_FUNCS);
		} else if (!strcmp(s->name, HP_SEC_SYMS)) {
			r = have_syms++ ? BAD("two %s sections", HP_SEC_SYMS) :
			    s->data ? parse_syms(p, s->data, s->size) : BAD("empty %s", HP_SEC_SYMS);
		}
		if (r < 0)
			goto out;
	}
	if (!have_info || !have_funcs) {
		r = BAD("missing %s section: not a hotpatch file", have_info ? HP_SEC_FUNCS : HP_SEC_INFO);
		goto out;
	}
	/* Each replaced function's new code is a function defined in the patch. */
	for (size_t i = 0; i < p->nfuncs; i++) {
		size_t k;

		for (k = 1; k < p->nsyms; k++) {
			const struct hp_psym *s = &p->syms[k];

			if (s->type == STT_FUNC && s->shndx != SHN_UNDEF && s->shndx != SHN_ABS &&
			    !strcmp(s->name, p->funcs[i].new_name) &&
			    (p->secs[s->shndx].flags & SHF_EXECINSTR))
				break;
		}
		if (k >= p->nsyms) {
			r = BAD("replacement function %s is not defined in the patch code",
				p->funcs[i].new_name);
			goto out;
		}
		p->func_sym[i] = (uint32_t)k;
	}
	p->info.nfuncs = p->nfuncs;
out:
	elf_end(elf);
	return r;
}

const struct hp_tsym *hp_patch__tsym(const struct hp_patch *p, const char *name)
{
	for (size_t i = 0; i < p->ntsyms; i++)
		if (!strcmp(p->tsyms[i].name, name))
			return &p->tsyms[i];
	return NULL;
}

void hp_patch__close(struct hp_patch *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->nsecs; i++)
		free(p->secs[i].relas);
	free(p->secs);
	free(p->syms);
	free(p->funcs);
	free(p->func_sym);
	free(p->tsyms);
	free(p->buf);
	free(p);
}

int hp_patch__open_mem(const void *buf, size_t len, struct hp_patch **ret)
{
	struct hp_patch *p;
	int r;

	if (len > HP_MAX_FILE)
		return hp_err(-HP_E_FORMAT, "patch file of %zu bytes exceeds the %u-byte limit", len,
			      HP_MAX_FILE);
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->buf = malloc(len ? len : 1);
	if (!p->buf) {
		free(p);
		return -ENOMEM;
	}
	memcpy(p->buf, buf, len);
	p->len = len;
	crypto_hash_sha256(p->sha256, p->buf, len);
	r = parse_elf(p);
	if (r < 0) {
		hp_patch__close(p);
		return r;
	}
	*ret = p;
	return 0;
}

int hp_patch__open(const char *path, struct hp_patch **ret)
{
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len = 0;
	int r = hp_read_file(path, HP_MAX_FILE, -HP_E_FORMAT, (void **)&buf, &len);

	return r < 0 ? r : hp_patch__open_mem(buf, len, ret);
}

void hp_patch__info(const struct hp_patch *p, struct hp_patch_info *ret)
{
	*ret = p->info;
}

int hp_patch__func(const struct hp_patch *p, size_t i, struct hp_patch_func *ret)
{
	if (i >= p->nfuncs)
		return -ERANGE;
	*ret = p->funcs[i];
	return 0;
}
