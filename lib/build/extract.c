/* Extracts what a patch must carry from the fixed object (see extract.h).
 *
 * Starting from the changed functions, every relocation of every section
 * kept is followed: a new function or new data joins the patch; constants
 * (strings, merged literals, jump tables) are copied; unchanged functions
 * and data of the program become imports resolved in the running binary, so
 * that the patch shares the program's state instead of copying it.  A
 * change to existing writable data, to read-only data that unchanged code
 * also reads, to start-up code or to thread-local storage is refused. */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include "common/common.h"
#include "build/extract.h"
#include "build/fixdiff.h"
#include "build/object.h"

/* An output symbol: a section symbol, a defined entity, or an import. */
struct osym {
	const char *name;	/* points into the object or into owned */
	char *owned;
	int type, bind;
	size_t sec;		/* input section index; 0 for imports */
	uint64_t value, size;
};

struct orel {
	uint64_t off;
	uint32_t type;
	size_t sym;		/* index into osym */
	int64_t addend;
};

struct ext {
	const struct hp_diff *d;
	const struct dobj *f, *o;	/* fixed, original */
	const struct hp_extract_opts *opts;
	struct hp_extract_result *res;
	int *status;		/* per fixed entity */
	char *keep;		/* per fixed section */
	char *incl;		/* per fixed entity: a function the patch carries */
	size_t *work;		/* sections to scan */
	size_t nwork;
	const char *file;	/* the object's source file (its STT_FILE) */
	struct osym *sym;
	size_t nsym, capsym;
	struct orel **rel;	/* per fixed section */
	size_t *nrel;
	int oom;
};

static int list_add(char ***list, size_t *n, const char *fmt, ...)
{
	char **l = realloc(*list, (*n + 1) * sizeof(**list));
	va_list ap;
	int r;

	if (!l)
		return -ENOMEM;
	*list = l;
	va_start(ap, fmt);
	r = vasprintf(&l[*n], fmt, ap);
	va_end(ap);
	if (r < 0)
		return -ENOMEM;
	(*n)++;
	return 0;
}

#define REFUSE(x, ...) ((x)->oom |= list_add(&(x)->res->reasons, &(x)->res->nreasons, __VA_ARGS__) < 0)
#define NOTE(x, ...) ((x)->oom |= list_add(&(x)->res->notes, &(x)->res->nnotes, __VA_ARGS__) < 0)

/* Data the program never writes after start-up: read-only sections, and
 * the relocated read-only ones (.data.rel.ro: pointer tables of PIC code). */
static int read_only(const struct dsec *s)
{
	return !(s->flags & SHF_WRITE) || !strncmp(s->name, ".data.rel.ro", 12);
}

static int is_tls_reloc(uint32_t type)
{
	switch (type) {
	case R_X86_64_DTPMOD64: case R_X86_64_DTPOFF64: case R_X86_64_TPOFF64:
	case R_X86_64_TLSGD: case R_X86_64_TLSLD: case R_X86_64_DTPOFF32:
	case R_X86_64_GOTTPOFF: case R_X86_64_TPOFF32: case R_X86_64_GOTPC32_TLSDESC:
	case R_X86_64_TLSDESC_CALL: case R_X86_64_TLSDESC:
		return 1;
	default:
		return 0;
	}
}

static const char *suffix(const char *s, const char *suf)
{
	size_t a = strlen(s), b = strlen(suf);

	return a > b && !strcmp(s + a - b, suf) ? s + a - b : NULL;
}

static long ent_by_name(const struct dobj *o, const char *name, size_t len)
{
	for (size_t i = 0; i < o->nent; i++)
		if (strlen(o->ent[i].name) == len && !strncmp(o->ent[i].name, name, len))
			return (long)i;
	return -1;
}

static void keep_section(struct ext *x, size_t sec)
{
	if (x->keep[sec])
		return;
	x->keep[sec] = 1;
	x->work[x->nwork++] = sec;
}

/* A function joins the patch with its section; its section must hold it alone. */
static void include_func(struct ext *x, size_t ent)
{
	const struct dent *e = &x->f->ent[ent];

	if (x->incl[ent])
		return;
	x->incl[ent] = 1;
	for (size_t i = 0; i < x->f->nent; i++)
		if (i != ent && x->f->ent[i].sec == e->sec && x->f->ent[i].kind == HP_DIFF_FUNC) {
			REFUSE(x, "%s shares section %s with %s: the object was not compiled with -ffunction-sections",
			       e->name, x->f->sec[e->sec].name, x->f->ent[i].name);
			return;
		}
	keep_section(x, e->sec);
}

/* NAME.cold is the out-of-line part of NAME: it jumps back into NAME's
 * body, so the two only ever travel together. */
static void pair_cold_parts(struct ext *x)
{
	int again = 1;

	while (again) {
		again = 0;
		for (size_t i = 0; i < x->f->nent; i++) {
			const char *c = suffix(x->f->ent[i].name, ".cold");
			long parent;

			if (!c || x->f->ent[i].kind != HP_DIFF_FUNC)
				continue;
			parent = ent_by_name(x->f, x->f->ent[i].name, (size_t)(c - x->f->ent[i].name));
			if (parent < 0)
				continue;
			if ((x->incl[parent] || x->status[i] == HP_DIFF_CHANGED) &&
			    !(x->incl[parent] && x->incl[i])) {
				include_func(x, (size_t)parent);
				include_func(x, i);
				again = 1;
			}
		}
	}
}

static size_t add_sym(struct ext *x, const struct osym *s)
{
	if (x->nsym == x->capsym) {
		size_t cap = x->capsym ? x->capsym * 2 : 64;
		struct osym *n = realloc(x->sym, cap * sizeof(*n));

		if (!n) {
			x->oom = 1;
			return 0;
		}
		x->sym = n;
		x->capsym = cap;
	}
	x->sym[x->nsym] = *s;
	return x->nsym++;
}

/* The import of an unchanged entity of the original: "FILE:NAME" for a
 * local (pack looks it up among that file's symbols), "NAME" otherwise. */
static size_t import_sym(struct ext *x, const struct dent *orig)
{
	char *name;

	if (orig->global || !x->file[0]) {
		name = strdup(orig->name);
	} else if (asprintf(&name, "%s:%s", x->file, orig->name) < 0) {
		name = NULL;
	}
	if (!name) {
		x->oom = 1;
		return 0;
	}
	for (size_t i = 0; i < x->nsym; i++)
		if (!x->sym[i].sec && x->sym[i].name && !strcmp(x->sym[i].name, name)) {
			free(name);
			return i;
		}
	return add_sym(x, &(struct osym){ .name = name, .owned = name, .type = STT_NOTYPE,
					   .bind = STB_GLOBAL });
}

static size_t extern_sym(struct ext *x, const char *name)
{
	for (size_t i = 0; i < x->nsym; i++)
		if (!x->sym[i].sec && x->sym[i].name && !strcmp(x->sym[i].name, name))
			return i;
	return add_sym(x, &(struct osym){ .name = name, .type = STT_NOTYPE, .bind = STB_GLOBAL });
}

static void add_rel(struct ext *x, size_t sec, const struct drel *r, size_t sym, int64_t addend)
{
	struct orel *n = realloc(x->rel[sec], (x->nrel[sec] + 1) * sizeof(*n));

	if (!n) {
		x->oom = 1;
		return;
	}
	x->rel[sec] = n;
	n[x->nrel[sec]++] = (struct orel){ .off = r->off, .type = r->type, .sym = sym,
					   .addend = addend };
}

/* Section symbols are added when the output is written; until then a
 * relocation into a kept section refers to it as SECREF(sec). */
#define SECREF(sec) ((size_t)1 << 62 | (sec))

/* Decides where one relocation of a kept section points in the patch. */
static void follow(struct ext *x, size_t sec, const struct drel *r)
{
	const struct dsym *s = &x->f->sym[r->sym];
	struct tdesc t;

	if (r->type == R_X86_64_NONE)
		return;
	if (is_tls_reloc(r->type)) {
		REFUSE(x, "%s uses the thread-local variable %s: patches cannot reach thread-local storage yet",
		       x->f->sec[sec].name, s->name[0] ? s->name : "(unnamed)");
		return;
	}
	bobj_resolve(x->f, r, &t);
	if (!s->shndx) {
		if (!s->name[0]) {
			REFUSE(x, "%s has a relocation against an absolute or unnamed symbol",
			       x->f->sec[sec].name);
			return;
		}
		add_rel(x, sec, r, extern_sym(x, s->name), r->addend);
		return;
	}
	if (t.kind == T_ENT) {
		const struct dent *e = &x->f->ent[t.ent];
		int st = x->status[t.ent];
		const struct dsec *es = &x->f->sec[e->sec];

		if (e->kind == HP_DIFF_FUNC && st == HP_DIFF_NEW)
			include_func(x, (size_t)t.ent);
		if (e->kind == HP_DIFF_DATA && (st == HP_DIFF_NEW ||
						(st == HP_DIFF_DATA_CHANGED && read_only(es))))
			keep_section(x, e->sec);
		if (!x->keep[e->sec]) {
			if (st == HP_DIFF_DATA_CHANGED) {
				/* reported once, by check_data */
				return;
			}
			add_rel(x, sec, r, import_sym(x, &x->o->ent[e->peer]), t.delta);
			return;
		}
		add_rel(x, sec, r, SECREF(s->shndx), (int64_t)s->value + r->addend);
		return;
	}
	/* A constant (string, literal) or a section with no named object at
	 * that place (a jump table): the patch gets its own copy. */
	if (!read_only(&x->f->sec[s->shndx])) {
		REFUSE(x, "%s refers to unnamed writable data in %s: it cannot be matched with the running program's",
		       x->f->sec[sec].name, x->f->sec[s->shndx].name);
		return;
	}
	if (!(x->f->sec[s->shndx].flags & SHF_ALLOC)) {
		REFUSE(x, "%s refers to the non-loaded section %s", x->f->sec[sec].name,
		       x->f->sec[s->shndx].name);
		return;
	}
	keep_section(x, s->shndx);
	add_rel(x, sec, r, SECREF(s->shndx), (int64_t)s->value + r->addend);
}

/* Changed data the patch cannot carry: writable data keeps its old value in
 * the running program; read-only data is copied only when nothing but
 * replaced code reads it. */
static void check_data(struct ext *x)
{
	for (size_t i = 0; i < x->f->nent; i++) {
		const struct dent *e = &x->f->ent[i];
		const struct dent *a;

		if (x->status[i] != HP_DIFF_DATA_CHANGED)
			continue;
		a = &x->o->ent[e->peer];
		if (!read_only(&x->f->sec[e->sec])) {
			if (a->size != e->size)
				REFUSE(x, "changes the size of the variable %s (%lu -> %lu bytes): the running program's copy keeps the old size",
				       e->name, (unsigned long)a->size, (unsigned long)e->size);
			else
				REFUSE(x, "changes the initial value of the variable %s: the running program's copy keeps the old value",
				       e->name);
			continue;
		}
		/* Read-only: which functions that the patch does not replace read it? */
		for (size_t k = 0; k < x->f->nent; k++) {
			const struct dent *g = &x->f->ent[k];
			const struct dsec *gs = &x->f->sec[g->sec];
			size_t first, n, hit = 0;

			if (g->kind != HP_DIFF_FUNC || x->incl[k])
				continue;
			bobj_ent_rels(x->f, g, &first, &n);
			for (size_t j = first; j < first + n && !hit; j++) {
				struct tdesc t;

				bobj_resolve(x->f, &gs->rel[j], &t);
				hit = t.kind == T_ENT && t.ent == (long)i;
			}
			if (hit) {
				REFUSE(x, "changes the read-only data %s, which %s reads unchanged: the patch would have to rewrite the running program's data",
				       e->name, g->name);
				break;
			}
		}
	}
}

/* Code that only runs before main (constructors) or at exit cannot be fixed
 * by redirecting it once the program is running. */
static void check_startup(struct ext *x)
{
	for (size_t i = 0; i < x->f->nent; i++) {
		const struct dent *e = &x->f->ent[i];
		const char *sn = x->f->sec[e->sec].name;

		if (!x->incl[i])
			continue;
		if ((!strncmp(sn, ".text.startup", 13) && strcmp(e->name, "main")) ||
		    !strncmp(sn, ".init", 5) || !strncmp(sn, ".text.exit", 10)) {
			REFUSE(x, "changes %s, which runs only at start-up or exit (section %s)", e->name, sn);
			continue;
		}
		for (size_t s = 1; s < x->f->nsec; s++) {
			const struct dsec *ss = &x->f->sec[s];

			if (ss->type != SHT_INIT_ARRAY && ss->type != SHT_PREINIT_ARRAY &&
			    strcmp(ss->name, ".ctors"))
				continue;
			for (size_t j = 0; j < ss->nrel; j++) {
				struct tdesc t;

				bobj_resolve(x->f, &ss->rel[j], &t);
				if (t.kind == T_ENT && t.ent == (long)i)
					REFUSE(x, "changes %s, a constructor that runs only at start-up", e->name);
			}
		}
	}
}

/* ---- writing ------------------------------------------------------------------ */

struct strtab {
	char *p;
	size_t len;
	int oom;
};

static uint32_t str_add(struct strtab *t, const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = realloc(t->p, t->len + n);
	uint32_t off = (uint32_t)t->len;

	if (!p) {
		t->oom = 1;
		return 0;
	}
	memcpy(p + t->len, s, n);
	t->p = p;
	t->len += n;
	return off;
}

static Elf_Scn *new_section(Elf *e, uint32_t name, uint32_t type, uint64_t flags, void *buf,
			    size_t size, uint64_t align, uint64_t entsize, Elf_Type dtype)
{
	Elf_Scn *scn = elf_newscn(e);
	Elf_Data *d = scn ? elf_newdata(scn) : NULL;
	GElf_Shdr sh = { 0 };

	if (!d)
		return NULL;
	d->d_buf = buf;
	d->d_size = size;
	d->d_type = dtype;
	d->d_align = align ? align : 1;
	sh.sh_name = name;
	sh.sh_type = type;
	sh.sh_flags = flags;
	sh.sh_addralign = align;
	sh.sh_entsize = entsize;
	sh.sh_size = size;
	return gelf_update_shdr(scn, &sh) ? scn : NULL;
}

static int write_object(struct ext *x, const char *out)
{
	struct strtab shstr = { 0 }, str = { 0 };
	size_t *outidx = calloc(x->f->nsec, sizeof(*outidx));	/* input section -> output */
	size_t *secsym = calloc(x->f->nsec, sizeof(*secsym));
	size_t nout = 1, nlocal;
	Elf64_Sym *syms = NULL;
	Elf64_Rela **relas = calloc(x->f->nsec, sizeof(*relas));
	Elf *e = NULL;
	GElf_Ehdr *eh, ehdr;
	int fd = -1, r = -ENOMEM;
	size_t symtab_idx;
	struct osym *ordered = NULL;
	size_t *map = NULL;

	if (!outidx || !secsym || !relas)
		goto out;
	str_add(&shstr, "");
	str_add(&str, "");
	fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		r = hp_err(-errno, "cannot create %s: %s", out, strerror(errno));
		goto out;
	}
	e = elf_begin(fd, ELF_C_WRITE, NULL);
	if (!e || !gelf_newehdr(e, ELFCLASS64) || !gelf_getehdr(e, &ehdr)) {
		r = hp_err(-EIO, "libelf: %s", elf_errmsg(-1));
		goto out;
	}
	eh = &ehdr;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_type = ET_REL;
	eh->e_machine = EM_X86_64;
	eh->e_version = EV_CURRENT;

	/* Copied sections, in input order. */
	for (size_t s = 1; s < x->f->nsec; s++) {
		const struct dsec *in = &x->f->sec[s];
		Elf_Scn *scn;

		if (!x->keep[s])
			continue;
		scn = new_section(e, str_add(&shstr, in->name), in->type,
				  in->flags & ~(uint64_t)SHF_GROUP, in->type == SHT_NOBITS ? NULL : (void *)in->bytes,
				  in->size, in->align, in->entsize, ELF_T_BYTE);
		if (!scn)
			goto elf_fail;
		outidx[s] = elf_ndxscn(scn);
		nout++;
	}

	/* Symbols: null, file, section symbols, defined locals, then globals. */
	ordered = calloc(x->nsym + x->f->nsec + x->f->nent + 2, sizeof(*ordered));
	map = calloc(x->nsym + 1, sizeof(*map));
	if (!ordered || !map)
		goto out;
	{
		size_t n = 1;

		ordered[n++] = (struct osym){ .name = x->file, .type = STT_FILE, .bind = STB_LOCAL };
		for (size_t s = 1; s < x->f->nsec; s++)
			if (x->keep[s]) {
				secsym[s] = n;
				ordered[n++] = (struct osym){ .name = "", .type = STT_SECTION,
							      .bind = STB_LOCAL, .sec = s };
			}
		for (int pass = 0; pass < 2; pass++) {
			if (pass == 1)
				nlocal = n;
			for (size_t i = 0; i < x->f->nent; i++) {
				const struct dent *de = &x->f->ent[i];

				if (!x->keep[de->sec] || (de->global != 0) != (pass == 1))
					continue;
				ordered[n++] = (struct osym){
					.name = de->name, .sec = de->sec, .value = de->value, .size = de->size,
					.type = de->kind == HP_DIFF_FUNC ? STT_FUNC : STT_OBJECT,
					.bind = de->global ? STB_GLOBAL : STB_LOCAL };
			}
			if (pass == 1)
				for (size_t i = 0; i < x->nsym; i++) {
					map[i] = n;
					ordered[n++] = x->sym[i];
				}
		}
		syms = calloc(n, sizeof(*syms));
		if (!syms)
			goto out;
		for (size_t i = 1; i < n; i++) {
			const struct osym *o = &ordered[i];

			syms[i].st_name = o->name[0] ? str_add(&str, o->name) : 0;
			syms[i].st_info = (unsigned char)ELF64_ST_INFO(o->bind, o->type);
			syms[i].st_shndx = o->type == STT_FILE ? SHN_ABS :
					   o->sec ? (Elf64_Half)outidx[o->sec] : SHN_UNDEF;
			syms[i].st_value = o->value;
			syms[i].st_size = o->size;
		}
		/* Relocation sections; the symbol table comes right after them. */
		{
			size_t nrela = 0;

			for (size_t s = 1; s < x->f->nsec; s++)
				nrela += x->keep[s] && x->nrel[s];
			symtab_idx = nout + nrela;
		}
		for (size_t s = 1; s < x->f->nsec; s++) {
			char name[512];
			Elf_Scn *scn;
			GElf_Shdr sh;

			if (!x->keep[s] || !x->nrel[s])
				continue;
			relas[s] = calloc(x->nrel[s], sizeof(**relas));
			if (!relas[s])
				goto out;
			for (size_t k = 0; k < x->nrel[s]; k++) {
				const struct orel *or = &x->rel[s][k];
				size_t sym = or->sym & ((size_t)1 << 62) ? secsym[or->sym & ~((size_t)1 << 62)]
									  : map[or->sym];

				relas[s][k].r_offset = or->off;
				relas[s][k].r_info = ELF64_R_INFO(sym, or->type);
				relas[s][k].r_addend = or->addend;
			}
			snprintf(name, sizeof(name), ".rela%s", x->f->sec[s].name);
			scn = new_section(e, str_add(&shstr, name), SHT_RELA, SHF_INFO_LINK, relas[s],
					  x->nrel[s] * sizeof(Elf64_Rela), 8, sizeof(Elf64_Rela), ELF_T_RELA);
			if (!scn || !gelf_getshdr(scn, &sh))
				goto elf_fail;
			sh.sh_link = (uint32_t)symtab_idx;
			sh.sh_info = (uint32_t)outidx[s];
			gelf_update_shdr(scn, &sh);
		}
		{
			uint32_t symname = str_add(&shstr, ".symtab"), strname = str_add(&shstr, ".strtab");
			uint32_t shname = str_add(&shstr, ".shstrtab");
			Elf_Scn *st, *ss, *sh_s;
			GElf_Shdr sh;

			st = new_section(e, symname, SHT_SYMTAB, 0, syms, n * sizeof(Elf64_Sym), 8,
					 sizeof(Elf64_Sym), ELF_T_SYM);
			if (!st || elf_ndxscn(st) != symtab_idx)
				goto elf_fail;
			if (str.oom || shstr.oom)
				goto out;
			ss = new_section(e, strname, SHT_STRTAB, 0, str.p, str.len, 1, 0, ELF_T_BYTE);
			sh_s = new_section(e, shname, SHT_STRTAB, 0, NULL, 0, 1, 0, ELF_T_BYTE);
			if (!ss || !sh_s || !gelf_getshdr(st, &sh))
				goto elf_fail;
			sh.sh_link = (uint32_t)elf_ndxscn(ss);
			sh.sh_info = (uint32_t)nlocal;
			gelf_update_shdr(st, &sh);
			/* The section name table last: every name is in by now. */
			elf_getdata(sh_s, NULL)->d_buf = shstr.p;
			elf_getdata(sh_s, NULL)->d_size = shstr.len;
			gelf_getshdr(sh_s, &sh);
			sh.sh_size = shstr.len;
			gelf_update_shdr(sh_s, &sh);
			eh->e_shstrndx = (Elf64_Half)elf_ndxscn(sh_s);
		}
	}
	if (!gelf_update_ehdr(e, eh) || elf_update(e, ELF_C_WRITE) < 0)
		goto elf_fail;
	r = 0;
	goto out;
elf_fail:
	r = hp_err(-EIO, "writing %s: %s", out, elf_errmsg(-1));
out:
	if (e)
		elf_end(e);
	if (fd >= 0 && close(fd) < 0 && r == 0)
		r = hp_err(-errno, "writing %s: %s", out, strerror(errno));
	if (r < 0 && fd >= 0)
		unlink(out);
	for (size_t s = 0; relas && s < x->f->nsec; s++)
		free(relas[s]);
	free(relas);
	free(outidx);
	free(secsym);
	free(syms);
	free(ordered);
	free(map);
	free(str.p);
	free(shstr.p);
	return r;
}

/* ---- the whole ------------------------------------------------------------------ */

/* Did the fix move every line number that changed in the function? */
static int lines_moved(const struct ext *x, const struct hp_diff_entry *de)
{
	for (size_t i = 0; i < de->nline; i++)
		if (!hp_fixdiff__line_moved(x->opts->fix, "", de->line[i].orig, de->line[i].fixed))
			return 0;
	return 1;
}

static int plan(struct ext *x)
{
	size_t nchanged = 0;

	for (size_t i = 0; i < hp_diff__count(x->d); i++) {
		const struct hp_diff_entry *de = hp_diff__entry(x->d, i);

		if (de->fixed_ent < 0)
			continue;
		x->status[de->fixed_ent] = de->status;
		if (de->kind != HP_DIFF_FUNC)
			continue;
		if (de->status == HP_DIFF_CHANGED_LINE_ONLY && x->opts->fix && !lines_moved(x, de)) {
			NOTE(x, "%s: the constant %u -> %u is not a line the fix moved: replaced", de->name,
			     de->line_orig, de->line_fixed);
			include_func(x, (size_t)de->fixed_ent);
			nchanged++;
		} else if (de->status == HP_DIFF_CHANGED ||
		    (de->status == HP_DIFF_CHANGED_LINE_ONLY && x->opts->include_line_only)) {
			include_func(x, (size_t)de->fixed_ent);
			nchanged++;
		} else if (de->status == HP_DIFF_CHANGED_LINE_ONLY) {
			NOTE(x, "%s left out: only a line number in it changed (%u -> %u)", de->name,
			     de->line_orig, de->line_fixed);
		}
	}
	pair_cold_parts(x);
	while (x->nwork) {
		size_t s = x->work[--x->nwork];

		for (size_t k = 0; k < x->f->sec[s].nrel; k++)
			follow(x, s, &x->f->sec[s].rel[k]);
		pair_cold_parts(x);
	}
	check_data(x);
	check_startup(x);
	return x->oom ? -ENOMEM : 0;
}

static int replacements(struct ext *x)
{
	for (size_t i = 0; i < x->f->nent; i++) {
		const struct dent *e = &x->f->ent[i];
		const struct dent *a;

		if (!x->incl[i] || e->peer < 0 || suffix(e->name, ".cold"))
			continue;
		a = &x->o->ent[e->peer];
		int prefix = !a->global && x->file[0];

		if (list_add(&x->res->replace, &x->res->nreplace, "%s%s%s=%s", prefix ? x->file : "",
			     prefix ? ":" : "", a->name, e->name) < 0)
			return -ENOMEM;
	}
	for (size_t i = 0; i < x->f->nent; i++) {
		const struct dent *e = &x->f->ent[i];

		if (x->keep[e->sec] && x->status[i] == HP_DIFF_NEW)
			NOTE(x, "new %s %s comes with the patch%s", e->kind == HP_DIFF_FUNC ? "function" : "data",
			     e->name, e->kind == HP_DIFF_DATA && (x->f->sec[e->sec].flags & SHF_WRITE) ?
			     " (starts with its initial value)" : "");
	}
	return x->oom ? -ENOMEM : 0;
}

int hp_extract(const struct hp_diff *d, const struct hp_extract_opts *opts, const char *out,
	       struct hp_extract_result *ret)
{
	static const struct hp_extract_opts defaults;
	struct ext x = { .d = d, .opts = opts ? opts : &defaults, .res = ret };
	int r = -ENOMEM;

	memset(ret, 0, sizeof(*ret));
	x.f = bobj_of_diff(d, 1);
	x.o = bobj_of_diff(d, 0);
	x.file = bobj_file(x.o);
	x.status = calloc(x.f->nent + 1, sizeof(*x.status));
	x.incl = calloc(x.f->nent + 1, 1);
	x.keep = calloc(x.f->nsec + 1, 1);
	x.work = calloc(x.f->nsec + 1, sizeof(*x.work));
	x.rel = calloc(x.f->nsec + 1, sizeof(*x.rel));
	x.nrel = calloc(x.f->nsec + 1, sizeof(*x.nrel));
	if (!x.status || !x.incl || !x.keep || !x.work || !x.rel || !x.nrel)
		goto out;
	for (size_t i = 0; i < x.f->nent; i++)
		x.status[i] = HP_DIFF_SAME;
	r = plan(&x);
	if (r < 0)
		goto out;
	if (ret->nreasons) {
		r = hp_err(-HP_E_UNSUPPORTED, "%s", ret->reasons[0]);
		goto out;
	}
	r = replacements(&x);
	if (r < 0)
		goto out;
	if (!ret->nreplace) {
		ret->nothing = 1;
		goto out;
	}
	for (size_t s = 1; s < x.f->nsec; s++)
		ret->nsections += x.keep[s];
	ret->nimports = x.nsym;
	r = write_object(&x, out);
out:
	for (size_t i = 0; i < x.nsym; i++)
		free(x.sym[i].owned);
	free(x.sym);
	for (size_t s = 0; x.rel && s < x.f->nsec; s++)
		free(x.rel[s]);
	free(x.rel);
	free(x.nrel);
	free(x.status);
	free(x.incl);
	free(x.keep);
	free(x.work);
	return r;
}

static void free_list(char **l, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(l[i]);
	free(l);
}

void hp_extract_result__free(struct hp_extract_result *r)
{
	if (!r)
		return;
	free_list(r->replace, r->nreplace);
	free_list(r->reasons, r->nreasons);
	free_list(r->notes, r->nnotes);
	memset(r, 0, sizeof(*r));
}
