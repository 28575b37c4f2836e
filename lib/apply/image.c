/* The plan: lay the patch's sections out in their regions (see apply.h for
 * the picture) and resolve every relocation against the final addresses,
 * before the process is stopped.  Anything unresolved is refused here, when
 * nothing in the process has been touched yet. */
#include <elf.h>
#include <stdio.h>
#include "common/common.h"
#include "apply/apply.h"
#include "patchfile/format.h"

enum region { R_NONE, R_TEXT, R_RO, R_DATA };

static int is_got_reloc(uint32_t type)
{
	return type == R_X86_64_GOTPCREL || type == R_X86_64_GOTPCRELX ||
	       type == R_X86_64_REX_GOTPCRELX;
}

/* Which region a patch section goes to; R_NONE for sections not loaded. */
static int region_of(const struct hp_psec *s, int *ret_region)
{
	*ret_region = R_NONE;
	if (!(s->flags & SHF_ALLOC) || s->type == SHT_GROUP)
		return 0;
	if (!strcmp(s->name, ".eh_frame") || !strncmp(s->name, ".note", 5))
		return 0; /* unwind tables are not registered with the unwinder */
	if (s->type == SHT_INIT_ARRAY || s->type == SHT_FINI_ARRAY || s->type == SHT_PREINIT_ARRAY ||
	    !strncmp(s->name, ".ctors", 6) || !strncmp(s->name, ".dtors", 6))
		return hp_err(-HP_E_UNSUPPORTED,
			      "section %s holds start-up or exit code, which a live patch cannot run",
			      s->name);
	if (s->flags & SHF_TLS)
		return hp_err(-HP_E_UNSUPPORTED,
			      "section %s adds thread-local data, which existing threads do not have",
			      s->name);
	if (s->flags & SHF_EXECINSTR)
		*ret_region = (s->flags & SHF_WRITE) ? R_NONE : R_TEXT;
	else if (s->flags & SHF_WRITE)
		*ret_region = R_DATA;
	else
		*ret_region = R_RO;
	if ((s->flags & SHF_EXECINSTR) && (s->flags & SHF_WRITE))
		return hp_err(-HP_E_UNSUPPORTED, "section %s is writable and executable", s->name);
	return 0;
}

/* Symbols that need a GOT slot (GOTPCREL relocations) or a stub (calls to
 * undefined symbols the target does not define, which may be far away). */
struct slots {
	int32_t *got;		/* per symbol: slot index or -1 */
	int32_t *stub;		/* per symbol: stub index or -1 */
	uint32_t ngot, nstub;
};

static int count_slots(const struct hp_patch *p, struct slots *sl)
{
	sl->got = malloc(p->nsyms * sizeof(int32_t));
	sl->stub = malloc(p->nsyms * sizeof(int32_t));
	if (!sl->got || !sl->stub)
		return -ENOMEM;
	for (size_t i = 0; i < p->nsyms; i++)
		sl->got[i] = sl->stub[i] = -1;
	for (size_t s = 0; s < p->nsecs; s++) {
		int reg;

		if (region_of(&p->secs[s], &reg) < 0)
			return -HP_E_UNSUPPORTED;
		if (reg == R_NONE)
			continue;
		for (size_t k = 0; k < p->secs[s].nrelas; k++) {
			const struct hp_prela *r = &p->secs[s].relas[k];
			const struct hp_psym *sym = &p->syms[r->sym];
			int external = r->sym && sym->shndx == SHN_UNDEF && !hp_patch__tsym(p, sym->name);

			if ((is_got_reloc(r->type) || external) && sl->got[r->sym] < 0)
				sl->got[r->sym] = (int32_t)sl->ngot++;
			/* Only calls may go through a stub: a PC32 data reference to a
			 * far symbol is an error (compile the patch with -fPIC). */
			if (external && r->type == R_X86_64_PLT32 &&
			    sl->stub[r->sym] < 0)
				sl->stub[r->sym] = (int32_t)sl->nstub++;
		}
	}
	return 0;
}

struct layout {
	uint64_t text, ro, data;	/* region sizes */
	uint64_t *off;			/* per section: offset inside its region */
	int *reg;
	uint64_t stubs_off, got_off;
};

static int do_layout(const struct hp_patch *p, const struct slots *sl, struct layout *lo)
{
	lo->off = calloc(p->nsecs, sizeof(*lo->off));
	lo->reg = calloc(p->nsecs, sizeof(*lo->reg));
	if (!lo->off || !lo->reg)
		return -ENOMEM;
	lo->text = lo->ro = lo->data = 0;
	for (size_t s = 1; s < p->nsecs; s++) {
		const struct hp_psec *sec = &p->secs[s];
		uint64_t *cur;
		int r = region_of(sec, &lo->reg[s]);

		if (r < 0)
			return r;
		if (lo->reg[s] == R_NONE || sec->size == 0)
			continue;
		cur = lo->reg[s] == R_TEXT ? &lo->text : lo->reg[s] == R_RO ? &lo->ro : &lo->data;
		*cur = HP_ALIGN_UP(*cur, sec->align);
		lo->off[s] = *cur;
		*cur += sec->size;
		if (*cur > HP_MAX_FILE)
			return hp_err(-HP_E_UNSUPPORTED, "patch code or data larger than %u bytes",
				      HP_MAX_FILE);
	}
	lo->stubs_off = HP_ALIGN_UP(lo->text, 16);
	lo->text = lo->stubs_off + (uint64_t)sl->nstub * HP_STUB_LEN;
	lo->got_off = HP_ALIGN_UP(lo->ro, 8);
	lo->ro = lo->got_off + (uint64_t)sl->ngot * 8;
	return 0;
}

static void layout_free(struct layout *lo)
{
	free(lo->off);
	free(lo->reg);
}

int hp_image__size(const struct hp_patch *p, size_t ledger_bytes, uint64_t *ret_len)
{
	struct slots sl = { 0 };
	struct layout lo = { 0 };
	int r = count_slots(p, &sl);

	if (r == 0)
		r = do_layout(p, &sl, &lo);
	if (r == 0)
		*ret_len = HP_ALIGN_UP(ledger_bytes, PAGE) + HP_ALIGN_UP(lo.text, PAGE) +
			   HP_ALIGN_UP(lo.ro, PAGE) + HP_ALIGN_UP(lo.data, PAGE);
	free(sl.got);
	free(sl.stub);
	layout_free(&lo);
	return r;
}

static int put(struct hp_image *img, uint64_t at, const void *v, size_t n, uint64_t lim)
{
	if (at < img->map_start || at - img->map_start + n > lim)
		return -ERANGE;
	memcpy(img->bytes + (at - img->map_start), v, n);
	return 0;
}

static const char *reloc_name(uint32_t t)
{
	switch (t) {
	case R_X86_64_64: return "R_X86_64_64";
	case R_X86_64_PC32: return "R_X86_64_PC32";
	case R_X86_64_PLT32: return "R_X86_64_PLT32";
	case R_X86_64_32: return "R_X86_64_32";
	case R_X86_64_32S: return "R_X86_64_32S";
	case R_X86_64_PC64: return "R_X86_64_PC64";
	case R_X86_64_GOTPCREL: return "R_X86_64_GOTPCREL";
	case R_X86_64_GOTPCRELX: return "R_X86_64_GOTPCRELX";
	case R_X86_64_REX_GOTPCRELX: return "R_X86_64_REX_GOTPCRELX";
	default: return "unknown";
	}
}

/* Applies one relocation.  S is the symbol's address, G its GOT slot
 * (0 when none), stub its call stub (0 when none). */
static int relocate_one(struct hp_image *img, const struct hp_psec *sec, uint64_t sec_addr,
			const struct hp_prela *r, const char *symname, uint64_t S, uint64_t G,
			uint64_t stub)
{
	uint64_t P = sec_addr + r->offset;
	int64_t A = r->addend, v;
	size_t width = 4;
	int32_t v32;
	uint32_t u32;

	switch (r->type) {
	case R_X86_64_NONE:
		return 0;
	case R_X86_64_64:
		width = 8;
		break;
	case R_X86_64_PC64:
		width = 8;
		break;
	default:
		break;
	}
	if (r->offset + width > sec->size)
		return hp_err(-HP_E_FORMAT, "relocation at %s+0x%lx runs past the section", sec->name,
			      (unsigned long)r->offset);
	switch (r->type) {
	case R_X86_64_64:
		v = (int64_t)(S + A);
		return put(img, P, &v, 8, img->map_len);
	case R_X86_64_PC64:
		v = (int64_t)(S + A - P);
		return put(img, P, &v, 8, img->map_len);
	case R_X86_64_PLT32:
	case R_X86_64_PC32:
		v = (int64_t)(S + A - P);
		if ((v < INT32_MIN || v > INT32_MAX) && stub)
			v = (int64_t)(stub + A - P);
		if (v < INT32_MIN || v > INT32_MAX)
			goto range;
		v32 = (int32_t)v;
		return put(img, P, &v32, 4, img->map_len);
	case R_X86_64_32:
		v = (int64_t)(S + A);
		if (v < 0 || v > UINT32_MAX)
			goto range;
		u32 = (uint32_t)v;
		return put(img, P, &u32, 4, img->map_len);
	case R_X86_64_32S:
		v = (int64_t)(S + A);
		if (v < INT32_MIN || v > INT32_MAX)
			goto range;
		v32 = (int32_t)v;
		return put(img, P, &v32, 4, img->map_len);
	case R_X86_64_GOTPCREL:
	case R_X86_64_GOTPCRELX:
	case R_X86_64_REX_GOTPCRELX:
		v = (int64_t)(G + A - P);
		if (!G || v < INT32_MIN || v > INT32_MAX)
			goto range;
		v32 = (int32_t)v;
		return put(img, P, &v32, 4, img->map_len);
	default:
		return hp_err(-HP_E_RELOC, "relocation type %u against %s at %s+0x%lx is not supported",
			      r->type, symname, sec->name, (unsigned long)r->offset);
	}
range:
	return hp_err(-HP_E_RELOC,
		      "%s against %s at %s+0x%lx does not reach (value 0x%lx)%s", reloc_name(r->type),
		      symname, sec->name, (unsigned long)r->offset, (unsigned long)(S + A),
		      r->type == R_X86_64_32 || r->type == R_X86_64_32S
			      ? "; compile the patch with -fPIC or -fPIE"
			      : r->type == R_X86_64_PC32 ? "; compile the patch with -fPIC (far data is then reached through the GOT)"
			      : "");
}

int hp_image__resolve(const struct hp_patch *p, struct hp_target *t, const struct hp_map *maps,
		      size_t nmaps, const struct hp_object *obj, uint64_t **ret_ext)
{
	struct slots sl = { 0 };
	struct hp_resolver *res = NULL;
	uint64_t *ext = calloc(p->nsyms ? p->nsyms : 1, sizeof(*ext));
	int r = ext ? count_slots(p, &sl) : -ENOMEM;

	for (size_t i = 1; r == 0 && i < p->nsyms; i++) {
		const struct hp_psym *s = &p->syms[i];

		if (s->shndx != SHN_UNDEF || !s->name[0] || s->type == STT_SECTION ||
		    s->type == STT_FILE || sl.got[i] < 0 || hp_patch__tsym(p, s->name))
			continue;
		if (!res)
			r = hp_resolver__new(t, maps, nmaps, obj, &res);
		if (r == 0)
			r = hp_resolver__lookup(res, s->name, &ext[i]);
	}
	hp_resolver__free(res);
	free(sl.got);
	free(sl.stub);
	if (r < 0) {
		free(ext);
		return r;
	}
	*ret_ext = ext;
	return 0;
}

int hp_image__build(const struct hp_patch *p, const uint64_t *ext, const struct hp_object *obj,
		    uint64_t map_start, size_t ledger_bytes, struct hp_image *img)
{
	struct slots sl = { 0 };
	struct layout lo = { 0 };
	uint64_t *sym_addr = NULL;
	uint64_t text_base, ro_base, data_base;
	int r;

	memset(img, 0, sizeof(*img));
	r = count_slots(p, &sl);
	if (r == 0)
		r = do_layout(p, &sl, &lo);
	if (r < 0)
		goto out;
	img->map_start = map_start;
	img->text_off = HP_ALIGN_UP(ledger_bytes, PAGE);
	img->text_len = HP_ALIGN_UP(lo.text, PAGE);
	img->ro_off = img->text_off + img->text_len;
	img->ro_len = HP_ALIGN_UP(lo.ro, PAGE);
	img->data_off = img->ro_off + img->ro_len;
	img->data_len = HP_ALIGN_UP(lo.data, PAGE);
	img->map_len = img->data_off + img->data_len;
	img->bytes = calloc(1, img->map_len);
	img->sec_addr = calloc(p->nsecs, sizeof(uint64_t));
	img->func_new = calloc(p->nfuncs, sizeof(uint64_t));
	sym_addr = calloc(p->nsyms, sizeof(uint64_t));
	if (!img->bytes || !img->sec_addr || !img->func_new || !sym_addr) {
		r = -ENOMEM;
		goto out;
	}
	text_base = map_start + img->text_off;
	ro_base = map_start + img->ro_off;
	data_base = map_start + img->data_off;

	/* Copy the section bytes into place. */
	for (size_t s = 1; s < p->nsecs; s++) {
		const struct hp_psec *sec = &p->secs[s];
		uint64_t base = lo.reg[s] == R_TEXT ? text_base : lo.reg[s] == R_RO ? ro_base : data_base;

		if (lo.reg[s] == R_NONE)
			continue;
		img->sec_addr[s] = base + lo.off[s];
		if (sec->data && sec->size)
			memcpy(img->bytes + (img->sec_addr[s] - map_start), sec->data, sec->size);
	}

	/* Every symbol's address. */
	for (size_t i = 1; i < p->nsyms; i++) {
		const struct hp_psym *s = &p->syms[i];
		const struct hp_tsym *ts;

		if (s->type == STT_SECTION || s->type == STT_FILE || (s->shndx == SHN_UNDEF && !s->name[0]))
			continue;
		if (s->shndx == SHN_ABS) {
			sym_addr[i] = s->value;
		} else if (s->shndx != SHN_UNDEF) {
			sym_addr[i] = img->sec_addr[s->shndx] ? img->sec_addr[s->shndx] + s->value : 0;
		} else if ((ts = hp_patch__tsym(p, s->name))) {
			sym_addr[i] = obj->base + ts->target_addr;
		} else if (sl.got[i] >= 0) {
			if (!ext || !ext[i]) {
				r = hp_err(-HP_E_SYM_NOT_FOUND, "symbol %s was not resolved", s->name);
				goto out;
			}
			sym_addr[i] = ext[i];
		}
	}
	for (size_t i = 1; i < p->nsyms; i++)
		if (p->syms[i].type == STT_SECTION && p->syms[i].shndx < p->nsecs)
			sym_addr[i] = img->sec_addr[p->syms[i].shndx];

	/* GOT slots and stubs. */
	for (size_t i = 1; i < p->nsyms; i++) {
		uint64_t got = ro_base + lo.got_off + (uint64_t)(sl.got[i] < 0 ? 0 : sl.got[i]) * 8;

		if (sl.got[i] >= 0)
			memcpy(img->bytes + (got - map_start), &sym_addr[i], 8);
		if (sl.stub[i] >= 0) {
			uint64_t at = text_base + lo.stubs_off + (uint64_t)sl.stub[i] * HP_STUB_LEN;
			uint8_t code[HP_STUB_LEN];

			r = hp_arch__encode_stub(at, got, code);
			if (r < 0)
				goto out;
			memcpy(img->bytes + (at - map_start), code, HP_STUB_LEN);
		}
	}

	/* Relocations of the loaded sections. */
	for (size_t s = 1; s < p->nsecs; s++) {
		const struct hp_psec *sec = &p->secs[s];

		if (lo.reg[s] == R_NONE)
			continue;
		for (size_t k = 0; k < sec->nrelas; k++) {
			const struct hp_prela *rl = &sec->relas[k];
			const struct hp_psym *sym = &p->syms[rl->sym];
			uint64_t S = sym_addr[rl->sym], G = 0, stub = 0;

			if (rl->sym && sym->shndx != SHN_UNDEF && sym->shndx != SHN_ABS &&
			    sym->shndx < p->nsecs && !img->sec_addr[sym->shndx]) {
				r = hp_err(-HP_E_RELOC, "%s refers to %s in section %s, which is not loaded",
					   sec->name, sym->name, p->secs[sym->shndx].name);
				goto out;
			}
			if (sl.got[rl->sym] >= 0)
				G = ro_base + lo.got_off + (uint64_t)sl.got[rl->sym] * 8;
			if (sl.stub[rl->sym] >= 0)
				stub = text_base + lo.stubs_off + (uint64_t)sl.stub[rl->sym] * HP_STUB_LEN;
			r = relocate_one(img, sec, img->sec_addr[s], rl, rl->sym ? sym->name : "(none)", S,
					 G, stub);
			if (r < 0) {
				if (r == -ERANGE)
					r = hp_err(-HP_E_FORMAT, "relocation outside the image");
				goto out;
			}
		}
	}
	for (size_t i = 0; i < p->nfuncs; i++)
		img->func_new[i] = sym_addr[p->func_sym[i]];
out:
	free(sym_addr);
	free(sl.got);
	free(sl.stub);
	layout_free(&lo);
	if (r < 0)
		hp_image__free(img);
	return r;
}

void hp_image__free(struct hp_image *img)
{
	free(img->bytes);
	free(img->sec_addr);
	free(img->func_new);
	memset(img, 0, sizeof(*img));
}
