/* Unit test of lib/build (the object differ and the patch builder's parts):
 * compiles the source pairs of tests/data (<case>.ORIG.c, <case>.FIXED.c)
 * the way "hotpatch build" does, under the same file name so that __FILE__
 * agrees, and checks the status given to every function and data object;
 * and runs the extraction on object pairs saved from real Debian security
 * fixes (tests/data/<package>-<CVE>.ORIG.o/.FIXED.o with the fix's .diff). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "common/common.h"
#include "build/diff.h"
#include "build/extract.h"
#include "build/fixdiff.h"
#include "build/layout.h"
#include "elf/elf.h"
#include "harness.h"

static char dir[] = "/tmp/hp-test-build.XXXXXX";
static char data_dir[PATH_MAX];

#include "tmpdir.h"

#define CFLAGS "-O2 -g -ffunction-sections -fdata-sections -c"

/* Compiles tests/data/<name>.ORIG.c and .FIXED.c as orig/<name>.c and fixed/<name>.c. */
static int compile_case(const char *name)
{
	return sh("mkdir -p %s/orig %s/fixed && cp %s/%s.ORIG.c %s/orig/%s.c && "
		  "cp %s/%s.FIXED.c %s/fixed/%s.c && cd %s/orig && cc " CFLAGS " %s.c && "
		  "cd ../fixed && cc " CFLAGS " %s.c",
		  dir, dir, data_dir, name, dir, name, data_dir, name, dir, name, dir, name, name);
}

static struct hp_diff *diff_case(const char *name)
{
	struct hp_diff *d = NULL;
	char o[300], f[300];
	int r;

	if (compile_case(name)) {
		printf("FAIL: %s: cannot compile case %s\n", hp_test_name, name);
		hp_test_failed = 1;
		return NULL;
	}
	snprintf(o, sizeof(o), "%s/orig/%s.o", dir, name);
	snprintf(f, sizeof(f), "%s/fixed/%s.o", dir, name);
	r = hp_diff__objects(o, f, &d);
	CHECK_EQ_INT(r, 0);
	if (r < 0)
		printf("    %s\n", hp_errmsg());
	return d;
}

/* The status of the entry of that kind named name (orig or fixed name), -1 if absent. */
static int status_of(const struct hp_diff *d, int kind, const char *name)
{
	for (size_t i = 0; i < hp_diff__count(d); i++) {
		const struct hp_diff_entry *e = hp_diff__entry(d, i);

		if (e->kind == kind && ((e->fixed_name && !strcmp(e->fixed_name, name)) ||
					(e->orig_name && !strcmp(e->orig_name, name))))
			return e->status;
	}
	return -1;
}

static const struct hp_diff_entry *entry_of(const struct hp_diff *d, const char *name)
{
	for (size_t i = 0; i < hp_diff__count(d); i++) {
		const struct hp_diff_entry *e = hp_diff__entry(d, i);

		if (!strcmp(e->name, name))
			return e;
	}
	return NULL;
}

static void test_body_change(void)
{
	struct hp_diff *d = diff_case("body");

	if (!d)
		return;
	CHECK_EQ_INT(status_of(d, HP_DIFF_FUNC, "check_len"), HP_DIFF_CHANGED);
	CHECK_EQ_INT(status_of(d, HP_DIFF_FUNC, "other"), HP_DIFF_SAME);
	CHECK_EQ_INT(hp_diff__count_status(d, HP_DIFF_FUNC, HP_DIFF_CHANGED), 1);
	CHECK_EQ_INT(hp_diff__has_changes(d), 1);
	hp_diff__free(d);
}

static void test_new_helper(void)
{
	struct hp_diff *d = diff_case("helper");

	if (!d)
		return;
	CHECK_EQ_INT(status_of(d, HP_DIFF_FUNC, "sanitize"), HP_DIFF_NEW);
	CHECK_EQ_INT(status_of(d, HP_DIFF_FUNC, "parse"), HP_DIFF_CHANGED);
	CHECK_EQ_INT(status_of(d, HP_DIFF_FUNC, "unrelated"), HP_DIFF_SAME);
	CHECK_EQ_INT(hp_diff__count_status(d, HP_DIFF_FUNC, HP_DIFF_REMOVED), 0);
	hp_diff__free(d);
}

/* calls.N are renumbered between the builds: matched by their owner. */
static void test_static_renamed(void)
{
	struct hp_diff *d = diff_case("static");
	const struct hp_diff_entry *e;

	if (!d)
		return;
	CHECK_EQ_INT(status_of(d, HP_DIFF_FUNC, "tick"), HP_DIFF_SAME);
	CHECK_EQ_INT(status_of(d, HP_DIFF_FUNC, "count_events"), HP_DIFF_CHANGED);
	CHECK_EQ_INT(status_of(d, HP_DIFF_FUNC, "late"), HP_DIFF_NEW);
	CHECK_EQ_INT(hp_diff__count_status(d, HP_DIFF_DATA, HP_DIFF_NEW), 1);
	CHECK_EQ_INT(hp_diff__count_status(d, HP_DIFF_DATA, HP_DIFF_SAME), 2);
	CHECK_EQ_INT(hp_diff__count_status(d, HP_DIFF_DATA, HP_DIFF_REMOVED), 0);
	CHECK_EQ_INT(hp_diff__count_status(d, HP_DIFF_DATA, HP_DIFF_DATA_CHANGED), 0);
	/* At least one of them changed its name and was matched anyway. */
	{
		int renamed = 0;

		for (size_t i = 0; i < hp_diff__count(d); i++) {
			e = hp_diff__entry(d, i);
			if (e->kind == HP_DIFF_DATA && e->status == HP_DIFF_SAME &&
			    strcmp(e->orig_name, e->fixed_name))
				renamed++;
		}
		CHECK(renamed >= 1);
	}
	hp_diff__free(d);
}

static void test_line_only(void)
{
	struct hp_diff *d = diff_case("line");
	const struct hp_diff_entry *e;

	if (!d)
		return;
	CHECK_EQ_INT(status_of(d, HP_DIFF_FUNC, "fixed_func"), HP_DIFF_CHANGED);
	CHECK_EQ_INT(status_of(d, HP_DIFF_FUNC, "must_be_positive"), HP_DIFF_CHANGED_LINE_ONLY);
	e = entry_of(d, "must_be_positive");
	if (e) {
		CHECK_EQ_INT(e->line_orig, 6);
		CHECK_EQ_INT(e->line_fixed, 11);
	}
	CHECK_EQ_INT(hp_diff__count_status(d, HP_DIFF_FUNC, HP_DIFF_CHANGED), 1);
	hp_diff__free(d);
}

static void test_data_changed(void)
{
	struct hp_diff *d = diff_case("data");

	if (!d)
		return;
	CHECK_EQ_INT(status_of(d, HP_DIFF_DATA, "buffer_size"), HP_DIFF_DATA_CHANGED);
	CHECK_EQ_INT(status_of(d, HP_DIFF_DATA, "limits"), HP_DIFF_SAME);
	CHECK_EQ_INT(status_of(d, HP_DIFF_DATA, "counter"), HP_DIFF_SAME);
	CHECK_EQ_INT(status_of(d, HP_DIFF_FUNC, "get_limit"), HP_DIFF_SAME);
	CHECK_EQ_INT(hp_diff__has_changes(d), 1);
	hp_diff__free(d);
}

static void test_no_change(void)
{
	struct hp_diff *d = diff_case("same");

	if (!d)
		return;
	CHECK_EQ_INT(hp_diff__has_changes(d), 0);
	CHECK_EQ_INT(status_of(d, HP_DIFF_FUNC, "say"), HP_DIFF_SAME);
	for (size_t i = 0; i < hp_diff__count(d); i++)
		CHECK_EQ_INT(hp_diff__entry(d, i)->status, HP_DIFF_SAME);
	CHECK(hp_diff__entry(d, hp_diff__count(d)) == NULL);
	hp_diff__free(d);
}

static void test_bad_input(void)
{
	struct hp_diff *d = (struct hp_diff *)1;
	static const char junk[] = "\177ELF not really";

	CHECK_EQ_INT(hp_diff__objects(path("missing.o"), path("missing.o"), &d), -ENOENT);
	CHECK(d == NULL);
	write_file("junk.o", junk, sizeof(junk));
	CHECK_EQ_INT(hp_diff__objects(path("junk.o"), path("junk.o"), &d), -HP_E_FORMAT);
	CHECK(d == NULL);
	/* An executable is not a relocatable object. */
	if (sh("cd %s && printf 'int main(void){return 0;}' > m.c && cc -o m m.c", dir) == 0)
		CHECK_EQ_INT(hp_diff__objects(path("m"), path("m"), &d), -HP_E_FORMAT);
	/* A truncated object (the body case's, compiled earlier). */
	{
		struct raw r;
		char o[300];

		snprintf(o, sizeof(o), "%s/orig/body.o", dir);
		CHECK_EQ_INT(raw_read(o, &r), 0);
		if (r.b) {
			write_file("short.o", r.b, r.n / 2);
			CHECK(hp_diff__objects(path("short.o"), o, &d) < 0);
			CHECK(d == NULL);
			free(r.b);
		}
	}
	hp_diff__free(NULL);
	CHECK(strcmp(hp_diff_status_name(HP_DIFF_CHANGED_LINE_ONLY), "line-only") == 0);
	CHECK(strcmp(hp_diff_status_name(99), "?") == 0);
}

/* ---- the patch builder's parts ------------------------------------------- */

static char *read_text(const char *name)
{
	char p[PATH_MAX + 256];
	void *buf = NULL;
	size_t len;

	snprintf(p, sizeof(p), "%s/%s", data_dir, name);
	if (hp_read_file(p, 1 << 20, -EINVAL, &buf, &len) < 0)
		return NULL;
	return buf;
}

/* A saved pair from a real fix: diff + extract with (or without) its diff. */
static int extract_saved(const char *cve, const char *fixname, struct hp_extract_result *x,
			 const char *out)
{
	char o[PATH_MAX + 64], f[PATH_MAX + 64];
	struct hp_diff *d = NULL;
	struct hp_fixdiff *fd = NULL;
	char *text = fixname ? read_text(fixname) : NULL;
	struct hp_extract_opts opts = { 0 };
	int r;

	snprintf(o, sizeof(o), "%s/%s.ORIG.o", data_dir, cve);
	snprintf(f, sizeof(f), "%s/%s.FIXED.o", data_dir, cve);
	r = hp_diff__objects(o, f, &d);
	CHECK_EQ_INT(r, 0);
	if (fixname) {
		CHECK(text != NULL);
		if (text)
			CHECK_EQ_INT(hp_fixdiff__parse(text, &fd), 0);
		opts.fix = fd;
	}
	if (r == 0)
		r = hp_extract(d, &opts, path(out), x);
	hp_fixdiff__free(fd);
	free(text);
	hp_diff__free(d);
	return r;
}

static int has_replace(const struct hp_extract_result *x, const char *spec)
{
	for (size_t i = 0; i < x->nreplace; i++)
		if (!strcmp(x->replace[i], spec))
			return 1;
	return 0;
}

/* expat CVE-2024-45490: XML_ParseBuffer changed, 12 functions only by
 * __LINE__ (some with two asserts).  With the fix the lines are checked and
 * left out; with a fix that does not move them they are real changes. */
static void test_extract_expat(void)
{
	struct hp_extract_result x;
	struct hp_elf *e = NULL;
	struct hp_sym s;

	CHECK_EQ_INT(extract_saved("expat-CVE-2024-45490", "expat-CVE-2024-45490.diff", &x, "expat.o"), 0);
	CHECK_EQ_INT(x.nothing, 0);
	CHECK_EQ_INT(x.nreplace, 1);
	CHECK(has_replace(&x, "XML_ParseBuffer=XML_ParseBuffer"));
	CHECK_EQ_INT(x.nreasons, 0);
	CHECK(x.nnotes >= 12);
	CHECK(x.nimports > 0);
	hp_extract_result__free(&x);
	/* What was written is an object with the new function and its imports. */
	CHECK_EQ_INT(hp_elf__open(path("expat.o"), &e), 0);
	if (e) {
		CHECK_EQ_INT(hp_elf__find_symbol(e, "XML_ParseBuffer", NULL, 0, &s), 0);
		CHECK(hp_elf__find_symbol(e, "doContent", NULL, 0, &s) < 0);	/* line-only: left out */
		hp_elf__close(e);
	}
	hp_err_clear();
	/* The giflib fix moves none of expat's lines: the immediates are real changes. */
	CHECK_EQ_INT(extract_saved("expat-CVE-2024-45490", "giflib-CVE-2026-23868.diff", &x, "expat2.o"), 0);
	CHECK(x.nreplace > 10);
	CHECK(has_replace(&x, "xmlparse.c:doContent=doContent"));
	for (size_t i = 0; hp_test_failed && i < x.nreplace; i++)
		printf("    replace %s\n", x.replace[i]);
	hp_extract_result__free(&x);
}

/* giflib CVE-2026-23868: one function; the object's statics are imported. */
static void test_extract_giflib(void)
{
	struct hp_extract_result x;

	CHECK_EQ_INT(extract_saved("giflib-CVE-2026-23868", "giflib-CVE-2026-23868.diff", &x, "gif.o"), 0);
	CHECK_EQ_INT(x.nreplace, 1);
	CHECK(has_replace(&x, "GifMakeSavedImage=GifMakeSavedImage"));
	CHECK_EQ_INT(x.nreasons, 0);
	hp_extract_result__free(&x);
	/* The same pair the other way round (the fix undone) is a patch too. */
	{
		struct hp_diff *d = NULL;
		char o[PATH_MAX + 64], f[PATH_MAX + 64];

		snprintf(o, sizeof(o), "%s/giflib-CVE-2026-23868.ORIG.o", data_dir);
		snprintf(f, sizeof(f), "%s/giflib-CVE-2026-23868.FIXED.o", data_dir);
		CHECK_EQ_INT(hp_diff__objects(f, o, &d), 0);
		CHECK_EQ_INT(status_of(d, HP_DIFF_FUNC, "GifMakeSavedImage"), HP_DIFF_CHANGED);
		hp_diff__free(d);
	}
}

/* Compiled pairs that must be refused, with the reason. */
static void test_extract_refusals(void)
{
	struct hp_diff *d = diff_case("data");
	struct hp_extract_result x;

	if (!d)
		return;
	CHECK_EQ_INT(hp_extract(d, NULL, path("data.o"), &x), -HP_E_UNSUPPORTED);
	CHECK(x.nreasons >= 1);
	CHECK(x.nreasons && strstr(x.reasons[0], "buffer_size") != NULL);
	CHECK(access(path("data.o"), F_OK) != 0);	/* nothing written */
	hp_extract_result__free(&x);
	hp_diff__free(d);
	/* Nothing to patch: no object written, nothing refused. */
	d = diff_case("same");
	if (!d)
		return;
	CHECK_EQ_INT(hp_extract(d, NULL, path("same.o"), &x), 0);
	CHECK_EQ_INT(x.nothing, 1);
	CHECK(access(path("same.o"), F_OK) != 0);
	hp_extract_result__free(&x);
	hp_diff__free(d);
}

static void test_layout(void)
{
	struct hp_layout_change *c = NULL;
	size_t n = 0;
	char o[300], f[300];

	if (compile_case("layout")) {
		CHECK(!"cannot compile the layout case");
		return;
	}
	snprintf(o, sizeof(o), "%s/orig/layout.o", dir);
	snprintf(f, sizeof(f), "%s/fixed/layout.o", dir);
	CHECK_EQ_INT(hp_layout__compare(o, f, &c, &n), 0);
	CHECK_EQ_INT(n, 1);
	if (n == 1) {
		CHECK(strcmp(c[0].type, "union bigname") == 0);
		CHECK_EQ_INT(c[0].orig_size, 1028);
		CHECK_EQ_INT(c[0].fixed_size, 1028);	/* padded: the member says it */
		CHECK(c[0].member && strcmp(c[0].member, "name") == 0);
	}
	hp_layout__free(c, n);
	CHECK_EQ_INT(hp_layout__compare(o, o, &c, &n), 0);
	CHECK_EQ_INT(n, 0);
	hp_layout__free(c, n);
	/* Objects without DWARF: said so, not "no change". */
	if (sh("cd %s && printf 'struct s { int a; }; int f(struct s *p) { return p->a; }' > nd.c && cc -O2 -g0 -c nd.c", dir) == 0)
		CHECK_EQ_INT(hp_layout__compare(path("nd.o"), path("nd.o"), &c, &n), -HP_E_FORMAT);
	hp_err_clear();
}

static void test_fixdiff(void)
{
	static const char diff[] =
		"--- a/lib/x.c\n+++ b/lib/x.c\n"
		"@@ -10,3 +10,5 @@ f\n a\n+b\n+c\n d\n e\n"
		"@@ -40,4 +42,3 @@ g\n p\n-q\n r\n s\n"
		"--- a/y.c\n+++ b/y.c\n@@ -1,1 +1,1 @@\n-old\n+new\n";
	struct hp_fixdiff *fd = NULL;

	CHECK_EQ_INT(hp_fixdiff__parse(diff, &fd), 0);
	CHECK_EQ_INT(hp_fixdiff__map_line(fd, "x.c", 5), 5);	/* above every hunk */
	CHECK_EQ_INT(hp_fixdiff__map_line(fd, "x.c", 10), 10);	/* context */
	CHECK_EQ_INT(hp_fixdiff__map_line(fd, "x.c", 11), 13);	/* after two added lines */
	CHECK_EQ_INT(hp_fixdiff__map_line(fd, "x.c", 30), 32);	/* between hunks */
	CHECK_EQ_INT(hp_fixdiff__map_line(fd, "x.c", 41), 0);	/* removed */
	CHECK_EQ_INT(hp_fixdiff__map_line(fd, "x.c", 43), 44);	/* after the removal */
	CHECK_EQ_INT(hp_fixdiff__map_line(fd, "x.c", 100), 101);	/* +2 -1 */
	CHECK_EQ_INT(hp_fixdiff__line_moved(fd, "", 100, 101), 1);
	CHECK_EQ_INT(hp_fixdiff__line_moved(fd, "", 100, 102), 0);
	CHECK_EQ_INT(hp_fixdiff__line_moved(fd, "y.c", 100, 101), 0);	/* y.c moves nothing */
	CHECK_EQ_INT(hp_fixdiff__line_moved(fd, "", 7, 7), 0);
	hp_fixdiff__free(fd);
	CHECK_EQ_INT(hp_fixdiff__parse("just text\n", &fd), -HP_E_FORMAT);
	CHECK(fd == NULL);
	hp_err_clear();
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(p);
}

int main(void)
{
	static const char *const cands[] = { "tests/data", "../tests/data", "../../tests/data" };

	if (system("cc --version >/dev/null 2>&1") != 0) {
		printf("SKIP: test-build: no C compiler\n");
		return 0;
	}
	for (size_t i = 0; i < HP_ARRAY_SIZE(cands) && !data_dir[0]; i++) {
		char probe[PATH_MAX];

		snprintf(probe, sizeof(probe), "%s/body.ORIG.c", cands[i]);
		if (access(probe, R_OK) == 0 && realpath(cands[i], data_dir) == NULL)
			data_dir[0] = '\0';
	}
	if (!data_dir[0]) {
		printf("FAIL: data: tests/data not found (run from the top of the tree)\n");
		return 1;
	}
	if (mkdtemp(dir) == NULL) {
		printf("FAIL: tmpdir: %s\n", strerror(errno));
		return 1;
	}
	RUN(test_body_change);
	RUN(test_new_helper);
	RUN(test_static_renamed);
	RUN(test_line_only);
	RUN(test_data_changed);
	RUN(test_no_change);
	RUN(test_bad_input);
	RUN(test_extract_expat);
	RUN(test_extract_giflib);
	RUN(test_extract_refusals);
	RUN(test_layout);
	RUN(test_fixdiff);
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	TEST_EXIT();
}
