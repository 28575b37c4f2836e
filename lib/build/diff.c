/* The object differ: reads two relocatable objects with libelf, correlates
 * their functions and data objects, and compares them (see diff.h). */
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include "common/common.h"
#include "build/diff.h"

#include "build/object.h"

#define LINE_MAX_VALUE 100000u	/* an immediate below this may be a __LINE__ */

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
static int canon_eq(const char *a, const char *b)
{
	char ca[512], cb[512];

	bobj_canon(a, ca, sizeof(ca));
	bobj_canon(b, cb, sizeof(cb));
	return !strcmp(ca, cb);
}

/* ---- relocation targets ------------------------------------------------------ */

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
		bobj_ent_rels(o, f, &first, &n);
		for (size_t k = first; k < first + n; k++) {
			struct tdesc t;

			bobj_resolve(o, &s->rel[k], &t);
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

/* Every run of differing bytes lies inside a 4-byte immediate whose two
 * values are small: line numbers that moved, up to HP_DIFF_MAX_LINES of them. */
static int line_only(const uint8_t *a, const uint8_t *b, uint64_t size, struct hp_diff_entry *e)
{
	uint64_t i = 0;

	e->nline = 0;
	while (i < size) {
		uint64_t lo, hi, s, next = 0;
		uint32_t best = UINT32_MAX;
		struct hp_diff_line *l;

		while (i < size && a[i] == b[i])
			i++;
		if (i == size)
			break;
		if (e->nline == HP_DIFF_MAX_LINES)
			return 0;
		lo = hi = i;
		for (uint64_t k = i + 1; k < size && k < lo + 4; k++)
			if (a[k] != b[k])
				hi = k;
		l = &e->line[e->nline];
		/* Of the windows covering [lo, hi], the one with the smallest values:
		 * the others take opcode bytes as their high bytes. */
		for (s = hi >= 3 ? hi - 3 : 0; s <= lo && s + 4 <= size; s++) {
			uint32_t va = le32(a + s), vb = le32(b + s);
			uint32_t m = va > vb ? va : vb;

			if (m < best) {
				best = m;
				l->off = s;
				l->orig = va;
				l->fixed = vb;
				next = s + 4;
			}
		}
		if (best >= LINE_MAX_VALUE)
			return 0;
		e->nline++;
		i = next;
	}
	if (!e->nline)
		return 0;
	/* Lines that moved all moved together (the fix added or removed the
	 * same lines above each), and by a plausible amount: a size that
	 * doubled (1032 -> 2056) is no line number. */
	for (size_t k = 0; k < e->nline; k++) {
		int64_t d = (int64_t)e->line[k].fixed - (int64_t)e->line[k].orig;

		if (d != (int64_t)e->line[0].fixed - (int64_t)e->line[0].orig || d > 500 || d < -500)
			return 0;
	}
	e->line_off = e->line[0].off;
	e->line_orig = e->line[0].orig;
	e->line_fixed = e->line[0].fixed;
	return 1;
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
	bobj_ent_rels(o, a, &fa, &na);
	bobj_ent_rels(f, b, &fb, &nb);
	if (na != nb)
		return changed;
	for (size_t i = 0; i < na; i++) {
		const struct drel *ra = &sa->rel[fa + i], *rb = &sb->rel[fb + i];
		struct tdesc ta, tb;

		if (ra->off - a->value != rb->off - b->value || ra->type != rb->type)
			return changed;
		bobj_resolve(o, ra, &ta);
		bobj_resolve(f, rb, &tb);
		if (!tdesc_eq(d, &ta, &tb))
			return changed;
	}
	ba = bobj_masked_bytes(o, a);
	bb = bobj_masked_bytes(f, b);
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
			e->fixed_ent = (long)j;
			e->orig_ent = b->peer;
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
			e->orig_ent = (long)i;
			e->fixed_ent = -1;
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
	r = bobj_open(&d->o[0], orig);
	if (r == 0)
		r = bobj_open(&d->o[1], fixed);
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
	bobj_free(&d->o[0]);
	bobj_free(&d->o[1]);
	free(d->e);
	free(d);
}

const struct dobj *bobj_of_diff(const struct hp_diff *d, int fixed)
{
	return &d->o[fixed ? 1 : 0];
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
