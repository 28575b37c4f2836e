/* Structure layouts from DWARF, through libdwfl (which applies the
 * relocations of a relocatable object's debug sections). */
#include <dwarf.h>
#include <elfutils/libdwfl.h>
#include <stdio.h>
#include "common/common.h"
#include "build/layout.h"

struct member {
	const char *name;
	Dwarf_Word off, size;
};

struct type {
	char *key;		/* "struct NAME" */
	Dwarf_Word size;
	struct member *m;
	size_t nm;
};

struct types {
	struct type *t;
	size_t n;
	int oom;
};

static const Dwfl_Callbacks offline = {
	.find_debuginfo = dwfl_standard_find_debuginfo,
	.section_address = dwfl_offline_section_address,
};

static const char *kind_word(int tag)
{
	return tag == DW_TAG_union_type ? "union" : tag == DW_TAG_class_type ? "class" : "struct";
}

static struct type *find(struct types *ts, const char *key)
{
	for (size_t i = 0; i < ts->n; i++)
		if (!strcmp(ts->t[i].key, key))
			return &ts->t[i];
	return NULL;
}

static void add_type(struct types *ts, Dwarf_Die *die, const char *name)
{
	char key[512];
	Dwarf_Die child;
	Dwarf_Word size;
	struct type *t, *nt;

	if (dwarf_hasattr(die, DW_AT_declaration) || dwarf_aggregate_size(die, &size) != 0)
		return;
	snprintf(key, sizeof(key), "%s %s", kind_word(dwarf_tag(die)), name);
	if (find(ts, key))
		return;	/* the first definition stands for the name */
	nt = realloc(ts->t, (ts->n + 1) * sizeof(*nt));
	if (!nt) {
		ts->oom = 1;
		return;
	}
	ts->t = nt;
	t = &ts->t[ts->n];
	memset(t, 0, sizeof(*t));
	t->key = strdup(key);
	t->size = size;
	if (!t->key) {
		ts->oom = 1;
		return;
	}
	ts->n++;
	if (dwarf_child(die, &child) != 0)
		return;
	do {
		Dwarf_Attribute a;
		Dwarf_Die mt;
		Dwarf_Word off = 0, msize = 0;
		struct member *m;

		if (dwarf_tag(&child) != DW_TAG_member)
			continue;
		if (dwarf_attr(&child, DW_AT_data_member_location, &a))
			dwarf_formudata(&a, &off);
		if (dwarf_attr(&child, DW_AT_data_bit_offset, &a)) {
			dwarf_formudata(&a, &off);	/* bit-fields: in bits, still a position */
		}
		if (dwarf_attr_integrate(&child, DW_AT_type, &a) && dwarf_formref_die(&a, &mt))
			dwarf_aggregate_size(&mt, &msize);
		m = realloc(t->m, (t->nm + 1) * sizeof(*m));
		if (!m) {
			ts->oom = 1;
			return;
		}
		t->m = m;
		m[t->nm++] = (struct member){ .name = dwarf_diename(&child) ? dwarf_diename(&child) : "",
					      .off = off, .size = msize };
	} while (dwarf_siblingof(&child, &child) == 0);
}

static void walk(struct types *ts, Dwarf_Die *die)
{
	Dwarf_Die child;

	do {
		int tag = dwarf_tag(die);
		const char *name = dwarf_diename(die);

		if ((tag == DW_TAG_structure_type || tag == DW_TAG_union_type ||
		     tag == DW_TAG_class_type) && name) {
			add_type(ts, die, name);
		} else if (tag == DW_TAG_typedef && name) {
			Dwarf_Attribute a;
			Dwarf_Die target;

			if (dwarf_attr(die, DW_AT_type, &a) && dwarf_formref_die(&a, &target) &&
			    !dwarf_diename(&target) &&
			    (dwarf_tag(&target) == DW_TAG_structure_type ||
			     dwarf_tag(&target) == DW_TAG_union_type))
				add_type(ts, &target, name);
		}
		if (dwarf_child(die, &child) == 0)
			walk(ts, &child);
	} while (dwarf_siblingof(die, die) == 0);
}

static void types_free(struct types *ts)
{
	for (size_t i = 0; i < ts->n; i++) {
		free(ts->t[i].key);
		free(ts->t[i].m);
	}
	free(ts->t);
}

static int read_types(const char *path, Dwfl **dwfl, struct types *ts)
{
	Dwfl_Module *mod;
	Dwarf *dw;
	Dwarf_Addr bias;
	Dwarf_Off off = 0, next;
	size_t hsize;

	*dwfl = dwfl_begin(&offline);
	if (!*dwfl)
		return -ENOMEM;
	mod = dwfl_report_offline(*dwfl, "", path, -1);
	if (!mod || dwfl_report_end(*dwfl, NULL, NULL) != 0)
		return hp_err(-HP_E_FORMAT, "%s: %s", path, dwfl_errmsg(-1));
	dw = dwfl_module_getdwarf(mod, &bias);
	if (!dw)
		return hp_err(-HP_E_FORMAT, "%s has no debugging information (compile with -g)", path);
	while (dwarf_nextcu(dw, off, &next, &hsize, NULL, NULL, NULL) == 0) {
		Dwarf_Die cu;

		if (dwarf_offdie(dw, off + hsize, &cu) && dwarf_child(&cu, &cu) == 0)
			walk(ts, &cu);
		off = next;
	}
	return ts->oom ? -ENOMEM : 0;
}

/* The first member that differs between a and b, or NULL. */
static const char *member_change(const struct type *a, const struct type *b)
{
	for (size_t i = 0; i < a->nm || i < b->nm; i++) {
		if (i >= a->nm)
			return b->m[i].name;
		if (i >= b->nm || strcmp(a->m[i].name, b->m[i].name) || a->m[i].off != b->m[i].off ||
		    a->m[i].size != b->m[i].size)
			return a->m[i].name;
	}
	return NULL;
}

int hp_layout__compare(const char *orig, const char *fixed, struct hp_layout_change **ret,
		       size_t *n)
{
	struct types a = { 0 }, b = { 0 };
	Dwfl *da = NULL, *db = NULL;
	int r;

	*ret = NULL;
	*n = 0;
	r = read_types(orig, &da, &a);
	if (r == 0)
		r = read_types(fixed, &db, &b);
	for (size_t i = 0; r == 0 && i < a.n; i++) {
		struct type *tb = find(&b, a.t[i].key);
		const char *m;
		struct hp_layout_change *c;

		if (!tb)
			continue;
		m = member_change(&a.t[i], tb);
		if (!m && a.t[i].size == tb->size)
			continue;
		c = realloc(*ret, (*n + 1) * sizeof(*c));
		if (!c) {
			r = -ENOMEM;
			break;
		}
		*ret = c;
		c[*n] = (struct hp_layout_change){ .type = strdup(a.t[i].key),
						   .orig_size = a.t[i].size, .fixed_size = tb->size,
						   .member = m ? strdup(m[0] ? m : "(unnamed)") : NULL };
		(*n)++;
	}
	types_free(&a);
	types_free(&b);
	if (da)
		dwfl_end(da);
	if (db)
		dwfl_end(db);
	if (r < 0) {
		hp_layout__free(*ret, *n);
		*ret = NULL;
		*n = 0;
	}
	return r;
}

void hp_layout__free(struct hp_layout_change *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(c[i].type);
		free(c[i].member);
	}
	free(c);
}
