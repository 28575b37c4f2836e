/* Unit test of lib/build (the object differ): compiles the source pairs of
 * tests/data (<case>.ORIG.c, <case>.FIXED.c) the way "hotpatch build" will,
 * under the same file name so that __FILE__ agrees, and checks the status
 * given to every function and data object. */
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
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	TEST_EXIT();
}
