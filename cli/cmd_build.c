/* hotpatch build: from a source tree, a fix (unified diff) and the running
 * binary, a .hp patch.
 *
 *   copy the source -> build it (the original) -> keep its objects aside ->
 *   apply the fix -> rebuild -> for each object that changed: diff it, check
 *   the original reproduces the binary, check structure layouts, extract
 *   what the patch carries -> hotpatch pack.
 *
 * Everything that cannot be patched live is collected and reported, one line
 * per reason, before giving up (exit 4); "nothing to patch" exits 3. */
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "hotpatch/hotpatch.h"
#include "common/common.h"
#include "elf/elf.h"
#include "build/diff.h"
#include "build/extract.h"
#include "build/fixdiff.h"
#include "build/layout.h"
#include "build/match.h"
#include "build/tree.h"
#include "patchfile/patchfile.h"
#include "cli.h"

struct examined {
	const char *rel;	/* object, relative to the tree */
	size_t changed, line_only, new_funcs;
	struct hp_match match;
	int used;		/* goes into the patch */
	char *extracted;
	struct hp_extract_result x;
};

struct build {
	struct cli *c;
	const char *src, *fix, *target, *cmd, *configure, *work, *out;
	int strip, keep, line_changes, full_rebuild;
	struct hp_pack_opts pack;
	struct hp_elf *elf;
	struct hp_fixdiff *fixdiff;
	struct hp_tree tree;
	struct hp_tree_change *ch;
	size_t nch;
	struct examined *ex;
	size_t nex;
	char **reasons, **notes, **replace;
	size_t nreasons, nnotes, nreplace;
	double t0, orig_ms, fixed_ms, total_ms;
	size_t nobjs_saved;
};

static void add(char ***l, size_t *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void add(char ***l, size_t *n, const char *fmt, ...)
{
	char **nl = realloc(*l, (*n + 1) * sizeof(**l));
	va_list ap;

	if (!nl)
		return;
	*l = nl;
	va_start(ap, fmt);
	if (vasprintf(&nl[*n], fmt, ap) >= 0)
		(*n)++;
	va_end(ap);
	/* The same reason from several objects (a header's struct) once. */
	for (size_t i = 0; *n > 1 && i + 1 < *n; i++)
		if (!strcmp(nl[i], nl[*n - 1])) {
			free(nl[--*n]);
			break;
		}
}

static void progress(struct build *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void progress(struct build *b, const char *fmt, ...)
{
	va_list ap;

	if (b->c->json)
		return;
	va_start(ap, fmt);
	fputs("hotpatch build: ", stdout);
	vprintf(fmt, ap);
	fputc('\n', stdout);
	fflush(stdout);
	va_end(ap);
}

static const char *base(const char *p)
{
	return strrchr(p, '/') ? strrchr(p, '/') + 1 : p;
}

/* The default patch id: the fix's file name without its extension. */
static void default_id(const char *fix, char *id, size_t sz)
{
	size_t n = 0;
	const char *f = base(fix);

	for (; f[n] && n + 1 < sz; n++)
		id[n] = strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-+", f[n]) ? f[n] : '_';
	id[n] = '\0';
	for (const char *ext = ".patch\0.diff\0"; *ext; ext += strlen(ext) + 1)
		if (n > strlen(ext) && !strcmp(id + n - strlen(ext), ext))
			id[n - strlen(ext)] = '\0';
}

static int parse(struct build *b, int argc, char **argv, char *idbuf, size_t idsz)
{
	static const struct option opts[] = {
		{ "src", required_argument, 0, 'S' }, { "fix", required_argument, 0, 'F' },
		{ "target", required_argument, 0, 't' }, { "build", required_argument, 0, 'b' },
		{ "output", required_argument, 0, 'o' }, { "id", required_argument, 0, 'i' },
		{ "level", required_argument, 0, 'l' }, { "severity", required_argument, 0, 's' },
		{ "cve", required_argument, 0, 'c' }, { "description", required_argument, 0, 'd' },
		{ "work", required_argument, 0, 'w' }, { "keep", no_argument, 0, 'k' },
		{ "strip", required_argument, 0, 'p' }, { "include-line-changes", no_argument, 0, 'L' },
		{ "configure", required_argument, 0, 'C' }, { "full-rebuild", no_argument, 0, 'R' },
		{ "json", no_argument, 0, 'j' }, { 0 }
	};
	const char **cves = calloc((size_t)argc + 1, sizeof(char *));
	int ch;

	if (!cves)
		return -ENOMEM;
	b->strip = 1;
	b->cmd = "make";
	b->pack.severity = HP_SEV_IMPORTANT;
	b->pack.level = 1;
	b->pack.cves = cves;
	while ((ch = getopt_long(argc, argv, "S:F:t:b:o:i:l:s:c:d:w:kp:LjC:R", opts, NULL)) != -1) {
		switch (ch) {
		case 'S': b->src = optarg; break;
		case 'F': b->fix = optarg; break;
		case 't': b->target = optarg; break;
		case 'b': b->cmd = optarg; break;
		case 'o': b->out = optarg; break;
		case 'i': b->pack.id = optarg; break;
		case 'l': {
			char *end;
			long v = strtol(optarg, &end, 10);

			if (*end || v < 1 || v > 1000000)
				return cli_usage(b->c, "build: --level takes a number from 1");
			b->pack.level = (uint32_t)v;
			break;
		}
		case 's':
			b->pack.severity = hp_severity_parse(optarg);
			if (b->pack.severity < 0)
				return cli_usage(b->c, "build: --severity is critical, important, moderate or low");
			break;
		case 'c': cves[b->pack.ncves++] = optarg; break;
		case 'd': b->pack.description = optarg; break;
		case 'w': b->work = optarg; break;
		case 'k': b->keep = 1; break;
		case 'p': b->strip = atoi(optarg); break;
		case 'L': b->line_changes = 1; break;
		case 'C': b->configure = optarg; break;
		case 'R': b->full_rebuild = 1; break;
		case 'j': break;
		default: return cli_usage(b->c, "build: bad option");
		}
	}
	if (!b->src || !b->fix || !b->target || !b->out || optind != argc)
		return cli_usage(b->c, "build needs --src DIR --fix FIX.diff --target BIN -o OUT.hp");
	if (!b->pack.id) {
		default_id(b->fix, idbuf, idsz);
		b->pack.id = idbuf;
	}
	if (hp_patch_id_problem(b->pack.id))
		return cli_usage(b->c, "build: patch id '%s': %s (use --id)", b->pack.id,
				 hp_patch_id_problem(b->pack.id));
	b->pack.target = b->target;
	b->pack.output = b->out;
	return 0;
}

/* Reads the fix and the target before any build: bad input fails fast. */
static int check_inputs(struct build *b)
{
	_cleanup_free_ char *text = NULL;
	size_t len;
	int r;

	r = hp_read_file(b->fix, 64u << 20, -HP_E_FORMAT, (void **)&text, &len);
	if (r < 0)
		return cli_fail(b->c, r, "build: reading the fix %s", b->fix);
	r = hp_fixdiff__parse(text, &b->fixdiff);
	if (r < 0)
		return cli_fail(b->c, r, "build: %s", b->fix);
	r = hp_elf__open(b->target, &b->elf);
	if (r < 0)
		return cli_fail(b->c, r, "build: target %s", b->target);
	return 0;
}

/* The fixed source: an incremental rebuild where the original was built;
 * from scratch when asked, or when the project's build cannot rebuild. */
static int build_fixed(struct build *b)
{
	int r;

	if (!b->full_rebuild) {
		r = hp_tree__apply_fix(&b->tree, b->fix, b->strip);
		if (r < 0)
			return r;
		progress(b, "fix applied; rebuilding: %s", b->cmd);
		r = hp_tree__build(&b->tree, b->cmd, "the fixed source");
		if (r == 0)
			return 0;
		progress(b, "the incremental rebuild failed (%s); building the fixed source from scratch",
			 hp_errmsg());
		hp_err_clear();
	}
	r = hp_tree__fresh_copy(&b->tree, b->src);
	if (r == 0)
		r = hp_tree__apply_fix(&b->tree, b->fix, b->strip);
	if (r == 0 && b->configure)
		r = hp_tree__build(&b->tree, b->configure, "the fixed source (configure)");
	if (r == 0)
		r = hp_tree__build(&b->tree, b->cmd, "the fixed source");
	return r;
}

static int build_trees(struct build *b)
{
	double t;
	int r;

	progress(b, "copying %s", b->src);
	r = hp_tree__prepare(b->src, b->work, &b->tree);
	if (r < 0)
		return cli_fail(b->c, r, "build");
	progress(b, "building the original: %s%s%s (log: %s)", b->configure ? b->configure : "",
		 b->configure ? "; " : "", b->cmd, b->tree.log);
	t = hp_now_ms();
	r = b->configure ? hp_tree__build(&b->tree, b->configure, "the original (configure)") : 0;
	if (r == 0)
		r = hp_tree__build(&b->tree, b->cmd, "the original");
	b->orig_ms = hp_now_ms() - t;
	if (r < 0)
		return cli_fail(b->c, r, "build");
	r = hp_tree__save_objects(&b->tree, &b->nobjs_saved);
	if (r < 0)
		return cli_fail(b->c, r, "build");
	if (!b->nobjs_saved)
		return cli_fail(b->c, -ENOENT, "build: the build command made no object file (.o) in %s",
				b->tree.src);
	progress(b, "original built in %.1f s (%zu objects)", b->orig_ms / 1000, b->nobjs_saved);
	t = hp_now_ms();
	r = build_fixed(b);
	b->fixed_ms = hp_now_ms() - t;
	if (r < 0)
		return cli_fail(b->c, r, "build");
	r = hp_tree__changed_objects(&b->tree, &b->ch, &b->nch);
	if (r < 0)
		return cli_fail(b->c, r, "build");
	return 0;
}

/* Two objects of one source (libtool's x.o and .libs/x.o): only the one
 * that matches the binary better is used. */
static void drop_duplicates(struct build *b)
{
	for (size_t i = 0; i < b->nex; i++)
		for (size_t k = 0; k < b->nex; k++) {
			struct examined *x = &b->ex[i], *y = &b->ex[k];

			if (i == k || !x->used || !y->used || strcmp(base(x->rel), base(y->rel)))
				continue;
			if (x->match.same < y->match.same || (x->match.same == y->match.same && i > k)) {
				x->used = 0;
				add(&b->notes, &b->nnotes, "%s left out: %s is the build of the same source that matches %s",
				    x->rel, y->rel, base(b->target));
			}
		}
}

static int examine(struct build *b, const struct hp_tree_change *c, struct examined *e)
{
	struct hp_diff *d = NULL;
	int r;

	e->rel = c->rel;
	if (!c->orig) {
		add(&b->reasons, &b->nreasons, "the fix adds a new object %s: a new source file cannot be patched in yet",
		    c->rel);
		return 0;
	}
	r = hp_diff__objects(c->orig, c->fixed, &d);
	if (r < 0)
		return cli_fail(b->c, r, "build: comparing %s", c->rel);
	e->changed = hp_diff__count_status(d, HP_DIFF_FUNC, HP_DIFF_CHANGED);
	e->line_only = hp_diff__count_status(d, HP_DIFF_FUNC, HP_DIFF_CHANGED_LINE_ONLY);
	e->new_funcs = hp_diff__count_status(d, HP_DIFF_FUNC, HP_DIFF_NEW);
	if (!hp_diff__has_changes(d) && !e->line_only) {
		hp_diff__free(d);
		return 0;	/* bytes differ, code does not (debug information) */
	}
	r = hp_match__object(c->orig, b->elf, &e->match);
	if (r < 0) {
		hp_diff__free(d);
		return cli_fail(b->c, r, "build: matching %s with %s", c->rel, b->target);
	}
	if (!e->match.found) {
		add(&b->notes, &b->nnotes, "%s left out: none of its functions is in %s", c->rel,
		    base(b->target));
		hp_diff__free(d);
		return 0;
	}
	e->used = 1;
	{
		struct hp_extract_opts xo = { .include_line_only = b->line_changes, .fix = b->fixdiff };
		char path[4096];

		snprintf(path, sizeof(path), "%s/patch-%zu.o", b->tree.work, (size_t)(e - b->ex));
		e->extracted = strdup(path);
		r = e->extracted ? hp_extract(d, &xo, path, &e->x) : -ENOMEM;
	}
	hp_diff__free(d);
	if (r < 0 && r != -HP_E_UNSUPPORTED)
		return cli_fail(b->c, r, "build: extracting %s", c->rel);
	{
		struct hp_layout_change *lc = NULL;
		size_t n = 0;

		if (hp_layout__compare(c->orig, c->fixed, &lc, &n) < 0) {
			add(&b->notes, &b->nnotes, "%s: structure layouts not checked: %s", c->rel, hp_errmsg());
			hp_err_clear();
		}
		for (size_t i = 0; i < n; i++) {
			if (lc[i].orig_size != lc[i].fixed_size)
				add(&b->reasons, &b->nreasons,
				    "changes the layout of %s (%lu -> %lu bytes): memory the running program already holds keeps the old one",
				    lc[i].type, lc[i].orig_size, lc[i].fixed_size);
			else
				add(&b->reasons, &b->nreasons,
				    "changes the layout of %s (member %s moved or resized): memory the running program already holds keeps the old one",
				    lc[i].type, lc[i].member ? lc[i].member : "?");
		}
		hp_layout__free(lc, n);
	}
	return 0;
}

/* Every replaced function must be byte for byte what runs: otherwise the
 * original build is not the running binary's source or configuration. */
static void check_reproduced(struct build *b, struct examined *e)
{
	for (size_t i = 0; i < e->x.nreplace; i++) {
		char old[512];
		const char *spec = e->x.replace[i], *colon = strchr(spec, ':'), *eq = strchr(spec, '=');
		const char *name = colon && colon < eq ? colon + 1 : spec;

		snprintf(old, sizeof(old), "%.*s", (int)(eq - name), name);
		if (!hp_match__is_same(&e->match, old))
			add(&b->reasons, &b->nreasons,
			    "the original build does not reproduce %s: %s differs from the running binary's (build the original with the compiler, flags and configuration %s was built with)",
			    base(b->target), old, base(b->target));
	}
}

static int examine_all(struct build *b)
{
	int r;

	b->ex = calloc(b->nch + 1, sizeof(*b->ex));
	if (!b->ex)
		return cli_fail(b->c, -ENOMEM, "build");
	b->nex = b->nch;
	for (size_t i = 0; i < b->nch; i++) {
		r = examine(b, &b->ch[i], &b->ex[i]);
		if (r)
			return r;
	}
	drop_duplicates(b);
	for (size_t i = 0; i < b->nex; i++) {
		struct examined *e = &b->ex[i];

		if (!e->used)
			continue;
		for (size_t k = 0; k < e->x.nreasons; k++)
			add(&b->reasons, &b->nreasons, "%s", e->x.reasons[k]);
		for (size_t k = 0; k < e->x.nnotes; k++)
			add(&b->notes, &b->nnotes, "%s", e->x.notes[k]);
		check_reproduced(b, e);
		for (size_t k = 0; k < e->x.nreplace && !e->x.nreasons; k++)
			add(&b->replace, &b->nreplace, "%s", e->x.replace[k]);
	}
	return 0;
}

static int pack_it(struct build *b)
{
	const char **objs = calloc(b->nex + 1, sizeof(*objs));
	size_t n = 0;
	int r;

	if (!objs)
		return -ENOMEM;
	for (size_t i = 0; i < b->nex; i++)
		if (b->ex[i].used && !b->ex[i].x.nothing)
			objs[n++] = b->ex[i].extracted;
	b->pack.objs = objs;
	b->pack.nobjs = n;
	b->pack.replace = (const char *const *)b->replace;
	b->pack.nreplace = b->nreplace;
	r = hp_pack(&b->pack);
	free(objs);
	return r;
}

static void print_list(const char *key, char **l, size_t n)
{
	printf(",\"%s\":[", key);
	for (size_t i = 0; i < n; i++) {
		if (i)
			printf(",");
		json_str(stdout, l[i]);
	}
	printf("]");
}

static void report(struct build *b, const char *result)
{
	if (b->c->json) {
		printf("{\"result\":\"%s\",\"output\":", result);
		json_str(stdout, b->out);
		printf(",\"id\":");
		json_str(stdout, b->pack.id);
		printf(",\"level\":%u,\"target\":", b->pack.level);
		json_str(stdout, b->target);
		printf(",\"build_orig_ms\":%.0f,\"build_fixed_ms\":%.0f,\"total_ms\":%.0f",
		       b->orig_ms, b->fixed_ms, b->total_ms);
		print_list("replaced", b->replace, b->nreplace);
		print_list("reasons", b->reasons, b->nreasons);
		print_list("notes", b->notes, b->nnotes);
		printf(",\"objects\":[");
		for (size_t i = 0, k = 0; i < b->nex; i++) {
			const struct examined *e = &b->ex[i];

			if (!e->rel)
				continue;
			printf("%s{\"object\":", k++ ? "," : "");
			json_str(stdout, e->rel);
			printf(",\"used\":%s,\"changed\":%zu,\"line_only\":%zu,\"new_functions\":%zu,"
			       "\"functions\":%zu,\"in_target\":%zu,\"identical\":%zu}",
			       e->used ? "true" : "false", e->changed, e->line_only, e->new_funcs,
			       e->match.funcs, e->match.found, e->match.same);
		}
		printf("]}\n");
		return;
	}
	for (size_t i = 0; i < b->nex; i++) {
		const struct examined *e = &b->ex[i];

		if (e->used)
			printf("  %s: %zu changed, %zu new, %zu line-number-only; original build matches %s in %zu of %zu functions\n",
			       e->rel, e->changed, e->new_funcs, e->line_only, base(b->target),
			       e->match.same, e->match.found);
	}
	for (size_t i = 0; i < b->nnotes; i++)
		printf("  note: %s\n", b->notes[i]);
	if (!strcmp(result, "built")) {
		printf("  replaces:");
		for (size_t i = 0; i < b->nreplace; i++) {
			const char *eq = strchr(b->replace[i], '=');

			printf(" %.*s", (int)(eq - b->replace[i]), b->replace[i]);
		}
		printf("\nwrote %s (patch %s, level %u, %zu functions) in %.1f s: original build %.1f s, fixed rebuild %.1f s\n",
		       b->out, b->pack.id, b->pack.level, b->nreplace, b->total_ms / 1000,
		       b->orig_ms / 1000, b->fixed_ms / 1000);
	} else if (!strcmp(result, "nothing")) {
		printf("nothing to patch: the fix changes no code of %s\n", base(b->target));
	} else {
		for (size_t i = 0; i < b->nreasons; i++)
			fprintf(stderr, "hotpatch build: refused: %s\n", b->reasons[i]);
	}
}

static void cleanup(struct build *b)
{
	for (size_t i = 0; b->ex && i < b->nex; i++) {
		hp_match__free(&b->ex[i].match);
		hp_extract_result__free(&b->ex[i].x);
		free(b->ex[i].extracted);
	}
	free(b->ex);
	hp_tree__free_changes(b->ch, b->nch);
	if (b->tree.work) {
		if (b->keep)
			fprintf(stderr, "hotpatch build: work directory kept: %s\n", b->tree.work);
		hp_tree__finish(&b->tree, b->keep);
	}
	hp_fixdiff__free(b->fixdiff);
	hp_elf__close(b->elf);
	for (size_t i = 0; i < b->nreasons; i++)
		free(b->reasons[i]);
	for (size_t i = 0; i < b->nnotes; i++)
		free(b->notes[i]);
	for (size_t i = 0; i < b->nreplace; i++)
		free(b->replace[i]);
	free(b->reasons);
	free(b->notes);
	free(b->replace);
	free((void *)b->pack.cves);
}

int cmd_build(struct cli *c, int argc, char **argv)
{
	struct build b = { .c = c };
	char idbuf[64];
	int r;

	b.t0 = hp_now_ms();
	r = parse(&b, argc, argv, idbuf, sizeof(idbuf));
	if (r == 0)
		r = check_inputs(&b);
	if (r == 0)
		r = build_trees(&b);
	if (r == 0)
		r = examine_all(&b);
	if (r == 0) {
		b.total_ms = hp_now_ms() - b.t0;
		if (b.nreasons) {
			report(&b, "refused");
			r = EXIT_UNSAFE;
		} else if (!b.nreplace) {
			report(&b, "nothing");
			r = EXIT_NOTHING;
		} else {
			int pr = pack_it(&b);

			b.total_ms = hp_now_ms() - b.t0;
			if (pr < 0) {
				r = cli_fail(c, pr, "build: packing %s", b.out);
			} else {
				report(&b, "built");
				r = EXIT_DONE;
			}
		}
	}
	cleanup(&b);
	return r;
}
