/* The object differ: reads two relocatable objects with libelf, correlates
 * their functions and data objects, and compares them (see diff.h). */
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include "common/common.h"
#include "build/diff.h"

#define LINE_MAX_VALUE 100000u	/* an immediate below this may be a __LINE__ */

struct drel {
	uint64_t off;
	uint32_t type;
	uint32_t sym;
	int64_t addend;
};

struct dsec {
	const char *name;
	uint32_t type;
	uint64_t flags, size, entsize;
	const uint8_t *bytes;	/* NULL for SHT_NOBITS or empty */
	struct drel *rel;	/* sorted by offset */
	size_t nrel;
};

struct dsym {
	const char *name;
	int type, bind;
	size_t shndx;		/* 0 when undefined or special (ABS, COMMON, XINDEX) */
	uint64_t value, size;
	long ent;		/* entity index or -1 */
};

/* A function or data object: what gets a status. */
struct dent {
	const char *name;
	char *key;		/* name without the numeric suffixes */
	const char *owner;	/* key of the first function referencing it, or NULL */
	int kind, global;
	size_t sec;
	uint64_t value, size;
	long peer;		/* entity in the other object, -1 when none */
};

struct dobj {
	const char *path;
	int fd;
	Elf *elf;
	struct dsec *sec;
	size_t nsec;
	struct dsym *sym;
	size_t nsym;
	struct dent *ent;
	size_t nent;
};

struct hp_diff {
	struct dobj o[2];	/* 0: original, 1: fixed */
	struct hp_diff_entry *e;
	size_t n;
};

static const char *const status_names[HP_DIFF_NSTATUS] = {
	[HP_DIFF_SAME] = "same",
	[HP_DIFF_CHANGED] = "changed",
	[HP_DIFF_CHANGED_LINE_ONLY] = "line-only",
	[HP_DIFF_NEW] = "new",
	[HP_DIFF_REMOVED] = "removed",
	[HP_DIFF_DATA_CHANGED] = "data-changed",
};

const char *hp_diff_status_name(int status)
{
	return status >= 0 && status < HP_DIFF_NSTATUS ? status_names[status] : "?";
}

/* ---- names ---------------------------------------------------------------- */

/* "calls.3" -> "calls", "f.constprop.0.isra.1" -> "f.constprop.isra",
 * ".bss.calls.3" -> ".bss.calls": every ".<digits>" component dropped. */
static void canon(const char *in, char *out, size_t outsz)
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

static int canon_eq(const char *a, const char *b)
{
	char ca[512], cb[512];

	canon(a, ca, sizeof(ca));
	canon(b, cb, sizeof(cb));
	return !strcmp(ca, cb);
}

/* ---- reading ---------------------------------------------------------------- */

static int cmp_rel(const void *a, const void *b)
{
	const struct drel *x = a, *y = b;

	return x->off < y->off ? -1 : x->off > y->off;
}

static void obj_free(struct dobj *o)
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
		canon(s->name, e->key, strlen(s->name) + 1);
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

static int obj_open(struct dobj *o, const char *path)
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

static unsigned rel_width(uint32_t type)
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
static int rel_pcrel(uint32_t type)
{
	return type == R_X86_64_PC32 || type == R_X86_64_PLT32 || type == R_X86_64_GOTPCREL ||
	       type == R_X86_64_GOTPCRELX || type == R_X86_64_REX_GOTPCRELX;
}

enum { T_ENT, T_CONTENT, T_NAME };

struct tdesc {
	int kind;
	long ent;		/* T_ENT */
	int64_t delta;		/* T_ENT: offset from the entity; T_NAME: addend */
	const uint8_t *p;	/* T_CONTENT */
	size_t len;
	const char *name;	/* T_NAME */
};

/* The entity of section sec holding section offset off; the only entity of
 * the section when none holds it (a disp32 followed by an immediate). */
static long ent_at(const struct dobj *o, size_t sec, uint64_t off)
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

static void resolve(const struct dobj *o, const struct drel *r, struct tdesc *t)
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
	off = base + (rel_pcrel(r->type) ? 4 : 0);
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
		long e = ent_at(o, s->shndx, off);

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

/* Does the original's target a equal the fixed's target b? */
static int tdesc_eq(const struct hp_diff *d, const struct tdesc *a, const struct tdesc *b)
{
	if (a->kind != b->kind)
		return 0;
	switch (a->kind) {
	case T_ENT:
		return d->o[0].ent[a->ent].peer == b->ent && a->delta == b->delta;
	case T_CONTENT:
		return a->len == b->len && !memcmp(a->p, b->p, a->len);
	default:
		return a->delta == b->delta && canon_eq(a->name, b->name);
	}
}

/* Relocations of an entity: [*first, *first + *n) of its section's list. */
static void ent_rels(const struct dobj *o, const struct dent *e, size_t *first, size_t *n)
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
static uint8_t *masked_bytes(const struct dobj *o, const struct dent *e)
{
	const struct dsec *s = &o->sec[e->sec];
	uint8_t *b = calloc(e->size ? e->size : 1, 1);
	size_t first, n;

	if (!b)
		return NULL;
	if (s->bytes)
		memcpy(b, s->bytes + e->value, e->size);
	ent_rels(o, e, &first, &n);
	for (size_t i = first; i < first + n; i++) {
		uint64_t at = s->rel[i].off - e->value;
		unsigned w = rel_width(s->rel[i].type);

		for (unsigned k = 0; k < w && at + k < e->size; k++)
			b[at + k] = 0;
	}
	return b;
}

/* ---- correlation ------------------------------------------------------------- */

/* Sets owner of every data entity to the key of the first function referencing it. */
static void find_owners(struct dobj *o)
{
	for (size_t i = 0; i < o->nent; i++) {
		const struct dent *f = &o->ent[i];
		const struct dsec *s = &o->sec[f->sec];
		size_t first, n;

		if (f->kind != HP_DIFF_FUNC)
			continue;
		ent_rels(o, f, &first, &n);
		for (size_t k = first; k < first + n; k++) {
			struct tdesc t;

			resolve(o, &s->rel[k], &t);
			if (t.kind == T_ENT && o->ent[t.ent].kind == HP_DIFF_DATA && !o->ent[t.ent].owner)
				o->ent[t.ent].owner = f->key;
		}
	}
}

static int same_bytes(const struct hp_diff *d, const struct dent *a, const struct dent *b)
{
	const struct dsec *sa = &d->o[0].sec[a->sec], *sb = &d->o[1].sec[b->sec];

	if (a->size != b->size)
		return 0;
	if (!sa->bytes || !sb->bytes)
		return !sa->bytes && !sb->bytes;
	return !memcmp(sa->bytes + a->value, sb->bytes + b->value, a->size);
}

enum { BY_KEY, BY_OWNER, BY_CONTENT, BY_NAME };

static int candidate(const struct hp_diff *d, const struct dent *a, const struct dent *b, int how)
{
	if (b->peer >= 0 || a->kind != b->kind || strcmp(a->key, b->key))
		return 0;
	switch (how) {
	case BY_OWNER:
		return a->owner && b->owner && !strcmp(a->owner, b->owner);
	case BY_CONTENT:
		return same_bytes(d, a, b);
	case BY_NAME:
		return !strcmp(a->name, b->name);
	default:
		return 1;
	}
}

/* Pairs a with its candidate when each is the other's only one. */
static void correlate(struct hp_diff *d, int how)
{
	struct dobj *o = &d->o[0], *f = &d->o[1];

	for (size_t i = 0; i < o->nent; i++) {
		struct dent *a = &o->ent[i];
		long pick = -1;
		size_t nb = 0, na = 0;

		if (a->peer >= 0)
			continue;
		for (size_t j = 0; j < f->nent; j++)
			if (candidate(d, a, &f->ent[j], how)) {
				pick = (long)j;
				nb++;
			}
		if (nb != 1)
			continue;
		for (size_t k = 0; k < o->nent; k++)
			if (o->ent[k].peer < 0 && candidate(d, &o->ent[k], &f->ent[pick], how))
				na++;
		if (na != 1)
			continue;
		a->peer = pick;
		f->ent[pick].peer = (long)i;
	}
}

/* ---- comparison -------------------------------------------------------------- */

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* All differing bytes inside one 4-byte immediate whose two values are small. */
static int line_only(const uint8_t *a, const uint8_t *b, uint64_t size, struct hp_diff_entry *e)
{
	uint64_t lo = UINT64_MAX, hi = 0;
	uint32_t best = UINT32_MAX;

	for (uint64_t i = 0; i < size; i++)
		if (a[i] != b[i]) {
			if (lo == UINT64_MAX)
				lo = i;
			hi = i;
		}
	if (lo == UINT64_MAX || hi - lo >= 4)
		return 0;
	/* Of the windows covering [lo, hi], the one with the smallest values:
	 * the others take opcode bytes as their high bytes. */
	for (uint64_t s = hi >= 3 ? hi - 3 : 0; s <= lo && s + 4 <= size; s++) {
		uint32_t va = le32(a + s), vb = le32(b + s);
		uint32_t m = va > vb ? va : vb;

		if (m < best) {
			best = m;
			e->line_off = s;
			e->line_orig = va;
			e->line_fixed = vb;
		}
	}
	return best < LINE_MAX_VALUE;
}

static int compare(const struct hp_diff *d, const struct dent *a, const struct dent *b,
		   struct hp_diff_entry *e)
{
	const struct dobj *o = &d->o[0], *f = &d->o[1];
	const struct dsec *sa = &o->sec[a->sec], *sb = &f->sec[b->sec];
	int changed = e->kind == HP_DIFF_FUNC ? HP_DIFF_CHANGED : HP_DIFF_DATA_CHANGED;
	size_t fa, na, fb, nb;
	uint8_t *ba, *bb;
	int same;

	if (a->size != b->size)
		return changed;
	ent_rels(o, a, &fa, &na);
	ent_rels(f, b, &fb, &nb);
	if (na != nb)
		return changed;
	for (size_t i = 0; i < na; i++) {
		const struct drel *ra = &sa->rel[fa + i], *rb = &sb->rel[fb + i];
		struct tdesc ta, tb;

		if (ra->off - a->value != rb->off - b->value || ra->type != rb->type)
			return changed;
		resolve(o, ra, &ta);
		resolve(f, rb, &tb);
		if (!tdesc_eq(d, &ta, &tb))
			return changed;
	}
	ba = masked_bytes(o, a);
	bb = masked_bytes(f, b);
	if (!ba || !bb) {
		free(ba);
		free(bb);
		return -ENOMEM;
	}
	same = !memcmp(ba, bb, a->size);
	if (!same && e->kind == HP_DIFF_FUNC && line_only(ba, bb, a->size, e))
		changed = HP_DIFF_CHANGED_LINE_ONLY;
	free(ba);
	free(bb);
	return same ? HP_DIFF_SAME : changed;
}

static int build_entries(struct hp_diff *d)
{
	struct dobj *o = &d->o[0], *f = &d->o[1];

	d->e = calloc(o->nent + f->nent + 1, sizeof(*d->e));
	if (!d->e)
		return -ENOMEM;
	for (int kind = HP_DIFF_FUNC; kind <= HP_DIFF_DATA; kind++) {
		for (size_t j = 0; j < f->nent; j++) {
			const struct dent *b = &f->ent[j];
			struct hp_diff_entry *e = &d->e[d->n];
			int r;

			if (b->kind != kind)
				continue;
			e->name = e->fixed_name = b->name;
			e->kind = kind;
			e->global = b->global;
			e->fixed_size = b->size;
			if (b->peer < 0) {
				e->status = HP_DIFF_NEW;
			} else {
				const struct dent *a = &o->ent[b->peer];

				e->orig_name = a->name;
				e->orig_size = a->size;
				r = compare(d, a, b, e);
				if (r < 0)
					return r;
				e->status = r;
			}
			d->n++;
		}
		for (size_t i = 0; i < o->nent; i++) {
			const struct dent *a = &o->ent[i];
			struct hp_diff_entry *e = &d->e[d->n];

			if (a->kind != kind || a->peer >= 0)
				continue;
			e->name = e->orig_name = a->name;
			e->kind = kind;
			e->global = a->global;
			e->orig_size = a->size;
			e->status = HP_DIFF_REMOVED;
			d->n++;
		}
	}
	return 0;
}

/* ---- public ---------------------------------------------------------------- */

int hp_diff__objects(const char *orig, const char *fixed, struct hp_diff **ret)
{
	struct hp_diff *d;
	int r;

	hp_err_clear();
	*ret = NULL;
	if (elf_version(EV_CURRENT) == EV_NONE)
		return hp_err(-HP_E_FORMAT, "libelf: %s", elf_errmsg(-1));
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->o[0].fd = d->o[1].fd = -1;
	r = obj_open(&d->o[0], orig);
	if (r == 0)
		r = obj_open(&d->o[1], fixed);
	if (r < 0) {
		hp_diff__free(d);
		return r;
	}
	find_owners(&d->o[0]);
	find_owners(&d->o[1]);
	correlate(d, BY_KEY);
	correlate(d, BY_OWNER);
	correlate(d, BY_CONTENT);
	correlate(d, BY_NAME);
	r = build_entries(d);
	if (r < 0) {
		hp_diff__free(d);
		return r;
	}
	*ret = d;
	return 0;
}

void hp_diff__free(struct hp_diff *d)
{
	if (!d)
		return;
	obj_free(&d->o[0]);
	obj_free(&d->o[1]);
	free(d->e);
	free(d);
}

size_t hp_diff__count(const struct hp_diff *d)
{
	return d ? d->n : 0;
}

const struct hp_diff_entry *hp_diff__entry(const struct hp_diff *d, size_t i)
{
	return d && i < d->n ? &d->e[i] : NULL;
}

size_t hp_diff__count_status(const struct hp_diff *d, int kind, int status)
{
	size_t n = 0;

	for (size_t i = 0; d && i < d->n; i++)
		n += d->e[i].kind == kind && d->e[i].status == status;
	return n;
}

int hp_diff__has_changes(const struct hp_diff *d)
{
	for (size_t i = 0; d && i < d->n; i++) {
		int s = d->e[i].status;

		if (s == HP_DIFF_CHANGED || s == HP_DIFF_NEW || s == HP_DIFF_REMOVED ||
		    s == HP_DIFF_DATA_CHANGED)
			return 1;
	}
	return 0;
}
