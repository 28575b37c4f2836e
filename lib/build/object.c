/* Reading relocatable objects for the differ and the patch builder (see
 * object.h). */
#include <fcntl.h>
#include "common/common.h"
#include "build/diff.h"
#include "build/object.h"

/* "calls.3" -> "calls", "f.constprop.0.isra.1" -> "f.constprop.isra",
 * ".bss.calls.3" -> ".bss.calls": every ".<digits>" component dropped. */
void bobj_canon(const char *in, char *out, size_t outsz)
{
	size_t o = 0;

	while (*in && o + 1 < outsz) {
		if (*in == '.') {
			size_t k = 1;

			while (in[k] >= '0' && in[k] <= '9')
				k++;
			if (k > 1 && (in[k] == '.' || in[k] == '\0')) {
				in += k;
				continue;
			}
		}
		out[o++] = *in++;
	}
	out[o] = '\0';
}

/* ---- reading ---------------------------------------------------------------- */

static int cmp_rel(const void *a, const void *b)
{
	const struct drel *x = a, *y = b;

	return x->off < y->off ? -1 : x->off > y->off;
}

void bobj_free(struct dobj *o)
{
	if (o->sec)
		for (size_t i = 0; i < o->nsec; i++)
			free(o->sec[i].rel);
	if (o->ent)
		for (size_t i = 0; i < o->nent; i++)
			free(o->ent[i].key);
	free(o->sec);
	free(o->sym);
	free(o->ent);
	if (o->elf)
		elf_end(o->elf);
	if (o->fd >= 0)
		close(o->fd);
	memset(o, 0, sizeof(*o));
	o->fd = -1;
}

static int read_symtab(struct dobj *o, Elf_Scn *scn, const GElf_Shdr *sh)
{
	Elf_Data *d = elf_getdata(scn, NULL);
	size_t n;

	if (!d || sh->sh_entsize != sizeof(Elf64_Sym) || d->d_size < sh->sh_size)
		return hp_err(-HP_E_FORMAT, "%s: bad symbol table", o->path);
	n = sh->sh_size / sizeof(Elf64_Sym);
	o->sym = calloc(n ? n : 1, sizeof(*o->sym));
	if (!o->sym)
		return -ENOMEM;
	o->nsym = n;
	for (size_t i = 0; i < n; i++) {
		GElf_Sym s;
		const char *name;

		if (!gelf_getsym(d, (int)i, &s))
			return hp_err(-HP_E_FORMAT, "%s: bad symbol %zu", o->path, i);
		name = elf_strptr(o->elf, sh->sh_link, s.st_name);
		o->sym[i].name = name ? name : "";
		o->sym[i].type = GELF_ST_TYPE(s.st_info);
		o->sym[i].bind = GELF_ST_BIND(s.st_info);
		o->sym[i].shndx = s.st_shndx < SHN_LORESERVE && s.st_shndx < o->nsec ? s.st_shndx : 0;
		o->sym[i].value = s.st_value;
		o->sym[i].size = s.st_size;
		o->sym[i].ent = -1;
	}
	return 0;
}

static int read_rela(struct dobj *o, Elf_Scn *scn, const GElf_Shdr *sh)
{
	Elf_Data *d = elf_getdata(scn, NULL);
	struct dsec *t;
	struct drel *nr;
	size_t n;

	if (sh->sh_info == 0 || sh->sh_info >= o->nsec)
		return hp_err(-HP_E_FORMAT, "%s: relocation section for section %u", o->path,
			      (unsigned)sh->sh_info);
	t = &o->sec[sh->sh_info];
	if (!(t->flags & SHF_ALLOC))
		return 0;	/* debug information: not compared */
	if (!d || sh->sh_entsize != sizeof(Elf64_Rela) || d->d_size < sh->sh_size)
		return hp_err(-HP_E_FORMAT, "%s: bad relocation section", o->path);
	n = sh->sh_size / sizeof(Elf64_Rela);
	nr = realloc(t->rel, (t->nrel + n + 1) * sizeof(*nr));
	if (!nr)
		return -ENOMEM;
	t->rel = nr;
	for (size_t i = 0; i < n; i++) {
		GElf_Rela r;
		struct drel *x = &t->rel[t->nrel];

		if (!gelf_getrela(d, (int)i, &r))
			return hp_err(-HP_E_FORMAT, "%s: bad relocation", o->path);
		x->off = r.r_offset;
		x->type = (uint32_t)GELF_R_TYPE(r.r_info);
		x->sym = (uint32_t)GELF_R_SYM(r.r_info);
		x->addend = r.r_addend;
		if (x->sym >= o->nsym || x->off >= t->size)
			return hp_err(-HP_E_FORMAT, "%s: relocation out of range in %s", o->path, t->name);
		t->nrel++;
	}
	qsort(t->rel, t->nrel, sizeof(*t->rel), cmp_rel);
	return 0;
}

static int add_entities(struct dobj *o)
{
	o->ent = calloc(o->nsym ? o->nsym : 1, sizeof(*o->ent));
	if (!o->ent)
		return -ENOMEM;
	for (size_t i = 0; i < o->nsym; i++) {
		struct dsym *s = &o->sym[i];
		struct dsec *sec;
		struct dent *e;
		uint64_t size = s->size;

		if (s->type != STT_FUNC && s->type != STT_OBJECT && s->type != STT_TLS)
			continue;
		if (!s->shndx || !s->name[0])
			continue;
		sec = &o->sec[s->shndx];
		if (!(sec->flags & SHF_ALLOC))
			continue;
		if (s->value > sec->size)
			return hp_err(-HP_E_FORMAT, "%s: symbol %s outside its section", o->path, s->name);
		if (size == 0 && s->type == STT_FUNC)
			size = sec->size - s->value;
		if (size > sec->size - s->value)
			return hp_err(-HP_E_FORMAT, "%s: symbol %s larger than its section", o->path,
				      s->name);
		e = &o->ent[o->nent];
		e->name = s->name;
		e->key = malloc(strlen(s->name) + 1);
		if (!e->key)
			return -ENOMEM;
		bobj_canon(s->name, e->key, strlen(s->name) + 1);
		e->kind = s->type == STT_FUNC ? HP_DIFF_FUNC : HP_DIFF_DATA;
		e->global = s->bind != STB_LOCAL;
		e->sec = s->shndx;
		e->value = s->value;
		e->size = size;
		e->peer = -1;
		s->ent = (long)o->nent++;
	}
	return 0;
}

int bobj_open(struct dobj *o, const char *path)
{
	GElf_Ehdr eh;
	size_t shstrndx, nsec;
	Elf_Scn *scn = NULL;
	int r;

	memset(o, 0, sizeof(*o));
	o->path = path;
	o->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (o->fd < 0)
		return hp_err(-errno, "%s: %s", path, strerror(errno));
	o->elf = elf_begin(o->fd, ELF_C_READ, NULL);
	if (!o->elf || elf_kind(o->elf) != ELF_K_ELF || !gelf_getehdr(o->elf, &eh))
		return hp_err(-HP_E_FORMAT, "%s: not an ELF file", path);
	if (gelf_getclass(o->elf) == ELFCLASS32)
		return hp_err(-HP_E_UNSUPPORTED, "%s is a 32-bit object: not supported (32-bit)", path);
	if (gelf_getclass(o->elf) != ELFCLASS64 || eh.e_type != ET_REL || eh.e_machine != EM_X86_64)
		return hp_err(-HP_E_FORMAT, "%s: not an x86_64 relocatable object", path);
	if (elf_getshdrnum(o->elf, &nsec) || elf_getshdrstrndx(o->elf, &shstrndx) || nsec == 0)
		return hp_err(-HP_E_FORMAT, "%s: bad section headers", path);
	o->sec = calloc(nsec, sizeof(*o->sec));
	if (!o->sec)
		return -ENOMEM;
	o->nsec = nsec;
	while ((scn = elf_nextscn(o->elf, scn))) {
		size_t i = elf_ndxscn(scn);
		struct dsec *s;
		GElf_Shdr sh;
		const char *name;

		if (i >= nsec || !gelf_getshdr(scn, &sh))
			return hp_err(-HP_E_FORMAT, "%s: bad section header", path);
		s = &o->sec[i];
		name = elf_strptr(o->elf, shstrndx, sh.sh_name);
		s->name = name ? name : "";
		s->type = sh.sh_type;
		s->flags = sh.sh_flags;
		s->size = sh.sh_size;
		s->entsize = sh.sh_entsize;
		s->align = sh.sh_addralign;
		if (sh.sh_type != SHT_NOBITS && sh.sh_size && (sh.sh_flags & SHF_ALLOC)) {
			Elf_Data *d = elf_getdata(scn, NULL);

			if (!d || !d->d_buf || d->d_size < sh.sh_size)
				return hp_err(-HP_E_FORMAT, "%s: cannot read section %s", path, s->name);
			s->bytes = d->d_buf;
		}
	}
	for (scn = NULL; (scn = elf_nextscn(o->elf, scn));) {
		GElf_Shdr sh;

		if (gelf_getshdr(scn, &sh) && sh.sh_type == SHT_SYMTAB) {
			if (o->sym)
				return hp_err(-HP_E_FORMAT, "%s: two symbol tables", path);
			r = read_symtab(o, scn, &sh);
			if (r < 0)
				return r;
		}
	}
	if (!o->sym)
		return hp_err(-HP_E_FORMAT, "%s: no symbol table", path);
	for (scn = NULL; (scn = elf_nextscn(o->elf, scn));) {
		GElf_Shdr sh;

		if (!gelf_getshdr(scn, &sh))
			continue;
		if (sh.sh_type == SHT_REL)
			return hp_err(-HP_E_UNSUPPORTED, "%s: SHT_REL relocations", path);
		if (sh.sh_type == SHT_RELA) {
			r = read_rela(o, scn, &sh);
			if (r < 0)
				return r;
		}
	}
	return add_entities(o);
}

/* ---- relocation targets ------------------------------------------------------ */

unsigned bobj_rel_width(uint32_t type)
{
	switch (type) {
	case R_X86_64_NONE:
		return 0;
	case R_X86_64_8: case R_X86_64_PC8:
		return 1;
	case R_X86_64_16: case R_X86_64_PC16:
		return 2;
	case R_X86_64_64: case R_X86_64_PC64: case R_X86_64_GOTOFF64: case R_X86_64_GOTPC64:
	case R_X86_64_GOT64: case R_X86_64_GOTPCREL64: case R_X86_64_GOTPLT64:
	case R_X86_64_PLTOFF64: case R_X86_64_SIZE64: case R_X86_64_DTPOFF64:
	case R_X86_64_TPOFF64: case R_X86_64_DTPMOD64:
		return 8;
	default:
		return 4;
	}
}

/* The bytes referenced by a rip-relative disp32 are 4 past the addend when no
 * immediate follows the displacement (the common case for lea/mov). */
int bobj_rel_pcrel(uint32_t type)
{
	return type == R_X86_64_PC32 || type == R_X86_64_PLT32 || type == R_X86_64_GOTPCREL ||
	       type == R_X86_64_GOTPCRELX || type == R_X86_64_REX_GOTPCRELX;
}

/* The entity of section sec holding section offset off; the only entity of
 * the section when none holds it (a disp32 followed by an immediate). */
long bobj_ent_at(const struct dobj *o, size_t sec, uint64_t off)
{
	long only = -1;
	size_t n = 0;

	for (size_t i = 0; i < o->nent; i++) {
		const struct dent *e = &o->ent[i];

		if (e->sec != sec)
			continue;
		if (off >= e->value && off < e->value + (e->size ? e->size : 1))
			return (long)i;
		only = (long)i;
		n++;
	}
	return n == 1 ? only : -1;
}

void bobj_resolve(const struct dobj *o, const struct drel *r, struct tdesc *t)
{
	const struct dsym *s = &o->sym[r->sym];	/* checked at reading */
	const struct dsec *sec;
	uint64_t base, off;

	memset(t, 0, sizeof(*t));
	t->kind = T_NAME;
	t->name = s->name;
	t->delta = r->addend;
	if (!s->shndx)
		return;
	sec = &o->sec[s->shndx];
	base = s->value + (uint64_t)r->addend;
	off = base + (bobj_rel_pcrel(r->type) ? 4 : 0);
	if ((sec->flags & SHF_MERGE) && sec->bytes && off < sec->size) {
		/* .LC / string constants: by content, wherever they moved. */
		t->kind = T_CONTENT;
		t->p = sec->bytes + off;
		if (sec->flags & SHF_STRINGS) {
			t->len = strnlen((const char *)t->p, sec->size - off);
		} else {
			uint64_t es = sec->entsize ? sec->entsize : 1;

			t->len = es < sec->size - off ? es : sec->size - off;
		}
		return;
	}
	if (s->ent >= 0) {
		t->kind = T_ENT;
		t->ent = s->ent;
		t->delta = (int64_t)(base - o->ent[s->ent].value);
		return;
	}
	if (s->type == STT_SECTION || s->type == STT_NOTYPE) {
		long e = bobj_ent_at(o, s->shndx, off);

		if (e >= 0) {
			t->kind = T_ENT;
			t->ent = e;
			t->delta = (int64_t)(base - o->ent[e].value);
			return;
		}
		if (s->type == STT_SECTION) {
			t->name = sec->name;
			t->delta = (int64_t)base;
		}
	}
}


/* Relocations of an entity: [*first, *first + *n) of its section's list. */
void bobj_ent_rels(const struct dobj *o, const struct dent *e, size_t *first, size_t *n)
{
	const struct dsec *s = &o->sec[e->sec];
	size_t i = 0;

	while (i < s->nrel && s->rel[i].off < e->value)
		i++;
	*first = i;
	while (i < s->nrel && s->rel[i].off < e->value + e->size)
		i++;
	*n = i - *first;
}

/* The entity's bytes with the bytes under relocations zeroed (zeros for .bss). */
uint8_t *bobj_masked_bytes(const struct dobj *o, const struct dent *e)
{
	const struct dsec *s = &o->sec[e->sec];
	uint8_t *b = calloc(e->size ? e->size : 1, 1);
	size_t first, n;

	if (!b)
		return NULL;
	if (s->bytes)
		memcpy(b, s->bytes + e->value, e->size);
	bobj_ent_rels(o, e, &first, &n);
	for (size_t i = first; i < first + n; i++) {
		uint64_t at = s->rel[i].off - e->value;
		unsigned w = bobj_rel_width(s->rel[i].type);

		for (unsigned k = 0; k < w && at + k < e->size; k++)
			b[at + k] = 0;
	}
	return b;
}

const char *bobj_file(const struct dobj *o)
{
	for (size_t i = 0; i < o->nsym; i++)
		if (o->sym[i].type == STT_FILE && o->sym[i].name[0])
			return o->sym[i].name;
	return "";
}
