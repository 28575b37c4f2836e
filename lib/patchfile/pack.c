/* hotpatch pack: turns replacement objects into a .hp file for one target.
 *
 * The output is the (merged) relocatable object itself, section for section,
 * plus three sections that say what it replaces (.hotpatch.funcs), which of
 * its undefined symbols are the target's own — static ones included — and
 * where they are (.hotpatch.syms), and what the patch is (.hotpatch.info).
 * Undefined symbols the target does not define are left for apply to find
 * in the libraries loaded in the process. */
#include <fcntl.h>
#include <gelf.h>
#include <sodium.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include "common/common.h"
#include "elf/elf.h"
#include "arch/x86_64/arch.h"
#include "patchfile/format.h"
#include "patchfile/patchfile.h"

/* A growable byte buffer for the string areas and tables. */
struct buf {
	uint8_t *p;
	size_t len, cap;
	int oom;
};

static void buf_add(struct buf *b, const void *d, size_t n)
{
	if (b->len + n > b->cap) {
		size_t cap = (b->cap ? b->cap * 2 : 256) + n;
		uint8_t *p = realloc(b->p, cap);

		if (!p) {
			b->oom = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, d, n);
	b->len += n;
}

static uint32_t buf_str(struct buf *b, const char *s)
{
	uint32_t off = (uint32_t)b->len;

	buf_add(b, s, strlen(s) + 1);
	return off;
}

struct obj_sym {
	const char *name;
	const char *file;
	int type, bind;
	int defined;
	int is_func_code;
};

struct obj {
	int fd;
	Elf *elf;
	struct obj_sym *syms;
	size_t nsyms;
	const char *file;	/* first STT_FILE */
};

static int run_ld_r(const struct hp_pack_opts *o, const char *out)
{
	const char **argv = calloc(o->nobjs + 5, sizeof(*argv));
	pid_t pid;
	int st;

	if (!argv)
		return -ENOMEM;
	argv[0] = "ld";
	argv[1] = "-r";
	argv[2] = "-o";
	argv[3] = out;
	for (size_t i = 0; i < o->nobjs; i++)
		argv[4 + i] = o->objs[i];
	pid = fork();
	if (pid == 0) {
		execvp("ld", (char **)argv);
		_exit(127);
	}
	free(argv);
	if (pid < 0)
		return -errno;
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
		return hp_err(-HP_E_FORMAT, "ld -r could not merge the objects (is binutils installed?)");
	return 0;
}

static int obj_open(const char *path, struct obj *o)
{
	Elf_Scn *scn = NULL;
	GElf_Ehdr eh;
	const char *file = "";

	o->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (o->fd < 0)
		return hp_err(-errno, "cannot open %s: %s", path, strerror(errno));
	elf_version(EV_CURRENT);
	o->elf = elf_begin(o->fd, ELF_C_READ, NULL);
	if (!o->elf || !gelf_getehdr(o->elf, &eh))
		return hp_err(-HP_E_FORMAT, "%s is not an ELF object", path);
	if (gelf_getclass(o->elf) == ELFCLASS32)
		return hp_err(-HP_E_UNSUPPORTED, "%s is a 32-bit object: not supported (32-bit)", path);
	if (eh.e_type != ET_REL || eh.e_machine != EM_X86_64 || gelf_getclass(o->elf) != ELFCLASS64)
		return hp_err(-HP_E_FORMAT, "%s is not an x86_64 object file (compile with -c)", path);
	while ((scn = elf_nextscn(o->elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *d;
		size_t n;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_SYMTAB)
			continue;
		d = elf_getdata(scn, NULL);
		if (!d || !sh.sh_entsize)
			return hp_err(-HP_E_FORMAT, "%s: bad symbol table", path);
		n = sh.sh_size / sh.sh_entsize;
		o->syms = calloc(n ? n : 1, sizeof(*o->syms));
		if (!o->syms)
			return -ENOMEM;
		o->nsyms = n;
		for (size_t i = 0; i < n; i++) {
			GElf_Sym s;
			struct obj_sym *os = &o->syms[i];
			GElf_Shdr tsh;
			Elf_Scn *ts;

			if (!gelf_getsym(d, (int)i, &s))
				return hp_err(-HP_E_FORMAT, "%s: bad symbol %zu", path, i);
			os->name = elf_strptr(o->elf, sh.sh_link, s.st_name);
			if (!os->name)
				os->name = "";
			os->type = GELF_ST_TYPE(s.st_info);
			os->bind = GELF_ST_BIND(s.st_info);
			os->defined = s.st_shndx != SHN_UNDEF;
			if (os->type == STT_FILE)
				file = os->name;
			os->file = os->bind == STB_LOCAL ? file : "";
			if (os->type == STT_FUNC && os->defined && s.st_shndx < SHN_LORESERVE &&
			    (ts = elf_getscn(o->elf, s.st_shndx)) && gelf_getshdr(ts, &tsh) &&
			    (tsh.sh_flags & SHF_EXECINSTR))
				os->is_func_code = 1;
			if (os->type == STT_FILE && !o->file)
				o->file = os->name;
		}
	}
	if (!o->syms)
		return hp_err(-HP_E_FORMAT, "%s has no symbol table", path);
	if (!o->file)
		o->file = "";
	return 0;
}

static void obj_close(struct obj *o)
{
	if (o->elf)
		elf_end(o->elf);
	if (o->fd >= 0)
		close(o->fd);
	free(o->syms);
}

static const struct obj_sym *obj_func(const struct obj *o, const char *name)
{
	for (size_t i = 1; i < o->nsyms; i++)
		if (o->syms[i].is_func_code && !strcmp(o->syms[i].name, name))
			return &o->syms[i];
	return NULL;
}

/* Finds a target symbol: "NAME" or "FILE:NAME"; an ambiguous local is
 * retried with the patch object's own source file name. */
static int target_lookup(const struct hp_elf *t, const char *spec, const char *obj_file,
			 struct hp_sym *ret)
{
	char name[256], fbuf[256];
	const char *file = NULL, *colon = strchr(spec, ':');
	int r;

	if (colon) {
		snprintf(fbuf, sizeof(fbuf), "%.*s", (int)(colon - spec), spec);
		file = fbuf;
		snprintf(name, sizeof(name), "%s", colon + 1);
	} else {
		snprintf(name, sizeof(name), "%s", spec);
	}
	r = hp_elf__find_symbol(t, name, file, 0, ret);
	if (r == -HP_E_SYM_AMBIGUOUS && !file && obj_file && obj_file[0]) {
		char saved[1024];

		snprintf(saved, sizeof(saved), "%s", hp_errmsg());
		hp_err_clear();
		r = hp_elf__find_symbol(t, name, obj_file, 0, ret);
		if (r < 0) {
			hp_err_clear();
			return hp_err(-HP_E_SYM_AMBIGUOUS,
				      "%s is defined by several files of the target: %s; write FILE:%s",
				      name, saved, name);
		}
	}
	return r;
}

static int add_replacement(const struct hp_elf *t, const struct obj *o, const char *old_spec,
			   const char *new_name, struct buf *tab, struct buf *strs)
{
	struct hp_sym ts;
	struct hp_disk_func e = { 0 };
	_cleanup_free_ uint8_t *bytes = NULL;
	const char *old_name = strchr(old_spec, ':') ? strchr(old_spec, ':') + 1 : old_spec;
	int r;

	if (!obj_func(o, new_name))
		return hp_err(-HP_E_SYM_NOT_FOUND, "the patch objects define no function %s", new_name);
	r = target_lookup(t, old_spec, o->file, &ts);
	if (r == -HP_E_SYM_NOT_FOUND)
		return hp_err(r, "the target has no function %s", old_spec);
	if (r < 0)
		return r;
	if (ts.type != STT_FUNC)
		return hp_err(-HP_E_SYM_NOT_FOUND, "%s in the target is not a function", old_spec);
	if (ts.size == 0 || ts.size > (16u << 20))
		return hp_err(-HP_E_UNSUPPORTED, "%s has size %lu in the target's symbol table",
			      old_name, (unsigned long)ts.size);
	bytes = malloc(ts.size);
	if (!bytes)
		return -ENOMEM;
	r = hp_elf__read_vaddr(t, ts.value, bytes, ts.size);
	if (r < 0)
		return hp_err(r, "cannot read the code of %s from the target file", old_name);
	r = hp_arch__check_redirect(old_name, bytes, ts.size, ts.value,
				    hp_arch__entry_skip(bytes, ts.size));
	if (r < 0)
		return r;
	e.old_name = buf_str(strs, old_name);
	e.old_file = buf_str(strs, ts.file ? ts.file : "");
	e.old_sympos = ts.sympos;
	e.new_name = buf_str(strs, new_name);
	e.old_addr = ts.value;
	e.old_size = ts.size;
	crypto_hash_sha256(e.old_sha256, bytes, ts.size);
	buf_add(tab, &e, sizeof(e));
	return 0;
}

static int collect_funcs(const struct hp_pack_opts *opts, const struct hp_elf *t,
			 const struct obj *o, struct buf *tab, struct buf *strs, uint32_t *ret_n)
{
	uint32_t n = 0;
	int r;

	if (opts->nreplace) {
		for (size_t i = 0; i < opts->nreplace; i++) {
			char old[256];
			const char *eq = strchr(opts->replace[i], '=');
			const char *newn;

			snprintf(old, sizeof(old), "%.*s",
				 (int)(eq ? (size_t)(eq - opts->replace[i]) : strlen(opts->replace[i])),
				 opts->replace[i]);
			newn = eq ? eq + 1 : (strchr(old, ':') ? strchr(old, ':') + 1 : old);
			r = add_replacement(t, o, old, newn, tab, strs);
			if (r < 0)
				return r;
			n++;
		}
	} else {
		for (size_t i = 1; i < o->nsyms; i++) {
			struct hp_sym ts;

			if (!o->syms[i].is_func_code || !o->syms[i].name[0])
				continue;
			r = target_lookup(t, o->syms[i].name, o->file, &ts);
			if (r == -HP_E_SYM_NOT_FOUND) {
				hp_err_clear();
				continue; /* a new function that comes with the patch */
			}
			if (r < 0)
				return r;
			r = add_replacement(t, o, o->syms[i].name, o->syms[i].name, tab, strs);
			if (r < 0)
				return r;
			n++;
		}
	}
	if (!n)
		return hp_err(-HP_E_SYM_NOT_FOUND,
			      "no function of the patch objects exists in the target; use --replace OLD=NEW");
	*ret_n = n;
	return 0;
}

static int collect_syms(const struct hp_elf *t, const struct obj *o, struct buf *tab,
			struct buf *strs, uint32_t *ret_n)
{
	uint32_t n = 0;

	for (size_t i = 1; i < o->nsyms; i++) {
		const struct obj_sym *s = &o->syms[i];
		struct hp_sym ts;
		struct hp_disk_sym e;
		int r;

		if (s->defined || !s->name[0])
			continue;
		r = target_lookup(t, s->name, o->file, &ts);
		if (r == -HP_E_SYM_NOT_FOUND) {
			hp_err_clear();
			continue; /* resolved at apply time in the loaded libraries */
		}
		if (r < 0)
			return r;
		if (ts.type == STT_GNU_IFUNC)
			return hp_err(-HP_E_UNSUPPORTED,
				      "%s is an IFUNC defined by the target itself (a static executable?): its address is a resolver, and calling it from a patch is not supported yet",
				      s->name);
		e.name = buf_str(strs, s->name);
		e.file = buf_str(strs, ts.file ? ts.file : "");
		e.target_addr = ts.value;
		buf_add(tab, &e, sizeof(e));
		n++;
	}
	*ret_n = n;
	return 0;
}

static void table_finish(struct buf *out, const char *magic, uint32_t count, size_t entsize,
			 const struct buf *entries, const struct buf *strs)
{
	struct hp_disk_table h = { 0 };

	memcpy(h.magic, magic, 8);
	h.count = count;
	h.entsize = (uint32_t)entsize;
	h.strings_len = (uint32_t)strs->len;
	buf_add(out, &h, sizeof(h));
	buf_add(out, entries->p, entries->len);
	buf_add(out, strs->p, strs->len);
}

static int build_info(const struct hp_pack_opts *opts, const struct hp_elf *t, struct buf *out)
{
	struct hp_disk_info h = { 0 };
	struct buf strs = { 0 }, cves = { 0 };
	const char *base = strrchr(opts->target, '/') ? strrchr(opts->target, '/') + 1 : opts->target;
	size_t bid_len = 0;
	int r;

	memcpy(h.magic, HP_INFO_MAGIC, 8);
	h.version = HP_FORMAT_VERSION;
	h.level = opts->level ? opts->level : 1;
	h.severity = (uint32_t)opts->severity;
	r = hp_elf__build_id(t, h.build_id, sizeof(h.build_id), &bid_len);
	if (r < 0)
		return hp_err(-HP_E_UNSUPPORTED,
			      "%s has no build-id note; hotpatch identifies targets by build-id (link with -Wl,--build-id)",
			      opts->target);
	h.build_id_len = (uint32_t)bid_len;
	for (size_t i = 0; i < opts->ncves; i++) {
		if (i)
			buf_add(&cves, ",", 1);
		buf_add(&cves, opts->cves[i], strlen(opts->cves[i]));
	}
	buf_add(&cves, "", 1);
	h.id = buf_str(&strs, opts->id);
	h.target_name = buf_str(&strs, base);
	h.description = buf_str(&strs, opts->description ? opts->description : "");
	h.cves = buf_str(&strs, cves.oom ? "" : (char *)cves.p);
	h.supersedes = buf_str(&strs, "");
	h.strings_len = (uint32_t)strs.len;
	buf_add(out, &h, sizeof(h));
	buf_add(out, strs.p, strs.len);
	r = strs.oom || cves.oom ? -ENOMEM : 0;
	free(strs.p);
	free(cves.p);
	return r;
}

/* Copies every section of the object and appends ours. */
static int write_elf(Elf *in, const char *path, const struct buf *sec[3])
{
	static const char *const names[3] = { HP_SEC_INFO, HP_SEC_FUNCS, HP_SEC_SYMS };
	_cleanup_free_ char *shstr = NULL;
	uint32_t name_off[3];
	size_t shstrndx, old_len;
	GElf_Ehdr eh;
	Elf_Scn *scn = NULL, *sstr;
	Elf_Data *sd;
	Elf *out;
	int fd, r = 0;

	if (elf_getshdrstrndx(in, &shstrndx) < 0 || !gelf_getehdr(in, &eh))
		return hp_err(-HP_E_FORMAT, "object: %s", elf_errmsg(-1));
	sstr = elf_getscn(in, shstrndx);
	sd = sstr ? elf_getdata(sstr, NULL) : NULL;
	if (!sd)
		return hp_err(-HP_E_FORMAT, "object has no section name table");
	old_len = sd->d_size;
	shstr = malloc(old_len + 64);
	if (!shstr)
		return -ENOMEM;
	memcpy(shstr, sd->d_buf, old_len);
	for (int i = 0; i < 3; i++) {
		name_off[i] = (uint32_t)old_len;
		memcpy(shstr + old_len, names[i], strlen(names[i]) + 1);
		old_len += strlen(names[i]) + 1;
	}

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return hp_err(-errno, "cannot create %s: %s", path, strerror(errno));
	out = elf_begin(fd, ELF_C_WRITE, NULL);
	if (!out || !gelf_newehdr(out, ELFCLASS64)) {
		close(fd);
		return hp_err(-EIO, "libelf: %s", elf_errmsg(-1));
	}
	while ((scn = elf_nextscn(in, scn))) {
		Elf_Scn *ns = elf_newscn(out);
		GElf_Shdr sh;
		Elf_Data *d = NULL, *nd;

		gelf_getshdr(scn, &sh);
		if (elf_ndxscn(scn) == shstrndx) {
			nd = elf_newdata(ns);
			nd->d_buf = shstr;
			nd->d_size = old_len;
			nd->d_type = ELF_T_BYTE;
			nd->d_align = 1;
			sh.sh_size = old_len;
		} else {
			while ((d = elf_getdata(scn, d))) {
				nd = elf_newdata(ns);
				*nd = *d;
			}
		}
		gelf_update_shdr(ns, &sh);
	}
	for (int i = 0; i < 3; i++) {
		Elf_Scn *ns = elf_newscn(out);
		Elf_Data *nd = elf_newdata(ns);
		GElf_Shdr sh = { 0 };

		nd->d_buf = sec[i]->p;
		nd->d_size = sec[i]->len;
		nd->d_type = ELF_T_BYTE;
		nd->d_align = 8;
		sh.sh_name = name_off[i];
		sh.sh_type = SHT_PROGBITS;
		sh.sh_addralign = 8;
		sh.sh_size = sec[i]->len;
		gelf_update_shdr(ns, &sh);
	}
	eh.e_shstrndx = (Elf64_Half)shstrndx;
	eh.e_shnum = 0; /* libelf recomputes */
	gelf_update_ehdr(out, &eh);
	if (elf_update(out, ELF_C_WRITE) < 0)
		r = hp_err(-EIO, "writing %s: %s", path, elf_errmsg(-1));
	elf_end(out);
	if (fsync(fd) < 0 && !r)
		r = hp_err(-errno, "writing %s: %s", path, strerror(errno));
	if (close(fd) < 0 && !r)
		r = hp_err(-errno, "writing %s: %s", path, strerror(errno));
	return r;
}

int hp_pack(const struct hp_pack_opts *opts)
{
	struct obj o = { .fd = -1 };
	struct hp_elf *t = NULL;
	struct buf info = { 0 }, funcs = { 0 }, ftab = { 0 }, fstr = { 0 };
	struct buf syms = { 0 }, stab = { 0 }, sstr = { 0 };
	char merged[4096] = "", tmp[4096];
	const char *obj_path;
	uint32_t nfuncs = 0, nsyms = 0;
	int r;

	hp_err_clear();
	if (!opts->target || !opts->output || !opts->nobjs || !opts->id)
		return hp_err(-EINVAL, "pack needs a target, an output, an id and objects");
	if (hp_patch_id_problem(opts->id))
		return hp_err(-EINVAL, "patch id '%s': %s", opts->id, hp_patch_id_problem(opts->id));

	obj_path = opts->objs[0];
	if (opts->nobjs > 1) {
		snprintf(merged, sizeof(merged), "%s.merged.XXXXXX", opts->output);
		int mfd = mkstemp(merged);

		if (mfd < 0)
			return hp_err(-errno, "cannot create a temporary file next to %s", opts->output);
		close(mfd);
		r = run_ld_r(opts, merged);
		if (r < 0)
			goto out;
		obj_path = merged;
	}
	r = hp_elf__open(opts->target, &t);
	if (r < 0)
		goto out;
	r = obj_open(obj_path, &o);
	if (r < 0)
		goto out;
	r = collect_funcs(opts, t, &o, &ftab, &fstr, &nfuncs);
	if (r < 0)
		goto out;
	r = collect_syms(t, &o, &stab, &sstr, &nsyms);
	if (r < 0)
		goto out;
	r = build_info(opts, t, &info);
	if (r < 0)
		goto out;
	table_finish(&funcs, HP_FUNCS_MAGIC, nfuncs, sizeof(struct hp_disk_func), &ftab, &fstr);
	table_finish(&syms, HP_SYMS_MAGIC, nsyms, sizeof(struct hp_disk_sym), &stab, &sstr);
	if (info.oom || funcs.oom || syms.oom || ftab.oom || fstr.oom || stab.oom || sstr.oom) {
		r = -ENOMEM;
		goto out;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", opts->output);
	{
		const struct buf *secs[3] = { &info, &funcs, &syms };

		r = write_elf(o.elf, tmp, secs);
	}
	if (r == 0) {
		/* Check what we wrote with the same reader apply uses. */
		struct hp_patch *p = NULL;

		r = hp_patch__open(tmp, &p);
		hp_patch__close(p);
		if (r == 0 && rename(tmp, opts->output) < 0)
			r = hp_err(-errno, "cannot write %s: %s", opts->output, strerror(errno));
	}
	if (r < 0)
		unlink(tmp);
out:
	obj_close(&o);
	hp_elf__close(t);
	if (merged[0])
		unlink(merged);
	free(info.p);
	free(funcs.p);
	free(ftab.p);
	free(fstr.p);
	free(syms.p);
	free(stab.p);
	free(sstr.p);
	return r;
}
