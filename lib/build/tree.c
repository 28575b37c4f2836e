/* A private build of the source before and after the fix (see tree.h). */
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include "common/common.h"
#include "build/tree.h"

#define MAX_OBJECT (512u << 20)

/* The wrapper: the real compiler is the next one of that name in PATH. */
static const char wrapper[] =
	"#!/bin/sh\n"
	"# Written by hotpatch build: compiles as asked, plus one section per\n"
	"# function and per data object (so the original and the fixed build can\n"
	"# be compared function by function) and debugging information (for the\n"
	"# structure layouts).  GCC generates the same code with these flags.\n"
	"self=$(CDPATH= cd -- \"$(dirname -- \"$0\")\" && pwd -P)\n"
	"name=$(basename -- \"$0\")\n"
	"p=\"\"\n"
	"IFS=:\n"
	"for d in $PATH; do\n"
	"\t[ \"$(CDPATH= cd -- \"$d\" 2>/dev/null && pwd -P)\" = \"$self\" ] || p=\"$p${p:+:}$d\"\n"
	"done\n"
	"unset IFS\n"
	"PATH=$p\n"
	"export PATH\n"
	"exec \"$name\" \"$@\" -ffunction-sections -fdata-sections -g\n";

static const char *const compilers[] = { "cc", "gcc", "gcc-12", "x86_64-linux-gnu-gcc",
					 "x86_64-linux-gnu-gcc-12", "clang", "clang-14", NULL };

/* Runs argv with cwd dir (NULL: here), stdout and stderr appended to log;
 * env_path (if not NULL) first in PATH.  Returns the exit status or -errno. */
static int run(const char *const argv[], const char *dir, const char *log, const char *env_path)
{
	pid_t pid;
	int st;

	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int fd = log ? open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644) : -1;

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		if (dir && chdir(dir) < 0)
			_exit(126);
		if (env_path) {
			char *p = NULL;

			if (asprintf(&p, "%s:%s", env_path, getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin") > 0)
				setenv("PATH", p, 1);
		}
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* The last lines of the log, for an error message. */
static void log_tail(const char *log, char *buf, size_t sz)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0, lines = 0;
	char *p;

	buf[0] = '\0';
	if (hp_read_file(log, 64u << 20, -EIO, (void **)&text, &len) < 0) {
		hp_err_clear();
		return;
	}
	p = text + len;
	while (p > text && lines < 6)
		if (*--p == '\n' && p + 1 < text + len)
			lines++;
	snprintf(buf, sz, "%s", p == text ? p : p + 1);
	for (char *q = buf; *q; q++)
		if (*q == '\n' && q[1])
			*q = '|';
}

static char *join(const char *a, const char *b)
{
	char *s = NULL;

	return asprintf(&s, "%s/%s", a, b) < 0 ? NULL : s;
}

static int copy_tree(const char *src, const struct hp_tree *t)
{
	_cleanup_free_ char *from = join(src, ".");
	const char *argv[] = { "cp", "-a", from, t->src, NULL };
	int r;

	if (!from)
		return -ENOMEM;
	r = run(argv, NULL, t->log, NULL);
	if (r != 0)
		return hp_err(r < 0 ? r : -EIO, "cannot copy %s to %s (cp -a failed)", src, t->src);
	return 0;
}

int hp_tree__prepare(const char *src, const char *work, struct hp_tree *t)
{
	char tmpl[4096];
	struct stat st;

	memset(t, 0, sizeof(*t));
	if (stat(src, &st) < 0 || !S_ISDIR(st.st_mode))
		return hp_err(-ENOTDIR, "%s is not a source directory", src);
	if (work) {
		if (mkdir(work, 0700) < 0 && errno != EEXIST)
			return hp_err(-errno, "cannot create %s: %s", work, strerror(errno));
		t->work = realpath(work, NULL);
	} else {
		snprintf(tmpl, sizeof(tmpl), "%s/hotpatch-build.XXXXXX",
			 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
		t->work = mkdtemp(tmpl) ? realpath(tmpl, NULL) : NULL;
	}
	if (!t->work)
		return hp_err(-errno, "cannot create a work directory: %s", strerror(errno));
	t->src = join(t->work, "src");
	t->saved = join(t->work, "orig-objs");
	t->bin = join(t->work, "bin");
	t->log = join(t->work, "build.log");
	if (!t->src || !t->saved || !t->bin || !t->log)
		return -ENOMEM;
	if (stat(t->src, &st) == 0)
		return hp_err(-EEXIST, "%s already holds a build; give an empty --work directory", t->work);
	if (mkdir(t->bin, 0755) < 0 && errno != EEXIST)
		return hp_err(-errno, "cannot create %s: %s", t->bin, strerror(errno));
	{
		_cleanup_free_ char *w = join(t->bin, "hotpatch-cc");
		int fd = w ? open(w, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755) : -1;

		if (fd < 0 || hp_write_all(fd, wrapper, sizeof(wrapper) - 1) < 0) {
			if (fd >= 0)
				close(fd);
			return hp_err(-EIO, "cannot write the compiler wrapper in %s", t->bin);
		}
		close(fd);
		for (int i = 0; compilers[i]; i++) {
			_cleanup_free_ char *l = join(t->bin, compilers[i]);

			if (!l || (symlink("hotpatch-cc", l) < 0 && errno != EEXIST))
				return hp_err(-errno, "cannot create %s", l ? l : compilers[i]);
		}
	}
	return copy_tree(src, t);
}

int hp_tree__fresh_copy(struct hp_tree *t, const char *src)
{
	const char *argv[] = { "rm", "-rf", "--one-file-system", t->src, NULL };
	int r = run(argv, NULL, t->log, NULL);

	if (r != 0)
		return hp_err(r < 0 ? r : -EIO, "cannot remove %s", t->src);
	return copy_tree(src, t);
}

int hp_tree__build(const struct hp_tree *t, const char *cmd, const char *what)
{
	const char *argv[] = { "sh", "-c", cmd, NULL };
	char tail[1024];
	int r;

	r = run(argv, t->src, t->log, t->bin);
	if (r == 0)
		return 0;
	log_tail(t->log, tail, sizeof(tail));
	return hp_err(r < 0 ? r : -HP_E_BUILD, "building %s failed (exit %d; whole log: %s): %s", what, r,
		      t->log, tail);
}

int hp_tree__apply_fix(const struct hp_tree *t, const char *fix, int strip)
{
	char p[16], tail[1024];
	_cleanup_free_ char *abs = realpath(fix, NULL);
	const char *argv[] = { "patch", p, "--batch", "--forward", "--no-backup-if-mismatch",
			       "-i", abs, NULL };
	int r;

	if (!abs)
		return hp_err(-errno, "%s: %s", fix, strerror(errno));
	_cleanup_free_ char *plog = join(t->work, "patch.log");

	if (!plog)
		return -ENOMEM;
	snprintf(p, sizeof(p), "-p%d", strip);
	unlink(plog);
	r = run(argv, t->src, plog, NULL);
	if (r == 0)
		return 0;
	log_tail(plog, tail, sizeof(tail));
	return hp_err(r < 0 ? r : -HP_E_BUILD, "the fix %s does not apply to the source with patch -p%d: %s",
		      fix, strip, tail);
}

/* nftw has no context argument: one walk at a time. */
static struct {
	const struct hp_tree *t;
	size_t n;
	int err;
	struct hp_tree_change *c;
	size_t nc;
} walk;

static int is_object(const char *path, const struct stat *st, int type)
{
	size_t n = strlen(path);

	return type == FTW_F && S_ISREG(st->st_mode) && n > 2 && !strcmp(path + n - 2, ".o");
}

static int copy_file(const char *from, const char *to)
{
	_cleanup_free_ void *buf = NULL;
	size_t len;
	int fd, r;

	r = hp_read_file(from, MAX_OBJECT, -EFBIG, &buf, &len);
	if (r < 0)
		return r;
	for (char *s = strchr(to + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		mkdir(to, 0755);
		*s = '/';
	}
	fd = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	r = hp_write_all(fd, buf, len);
	close(fd);
	return r;
}

static int save_one(const char *path, const struct stat *st, int type, struct FTW *f)
{
	_cleanup_free_ char *to = NULL;

	if (!is_object(path, st, type))
		return 0;
	to = join(walk.t->saved, path + strlen(walk.t->src) + 1);
	walk.err = to ? copy_file(path, to) : -ENOMEM;
	walk.n++;
	return walk.err ? 1 : 0;
}

int hp_tree__save_objects(const struct hp_tree *t, size_t *n)
{
	walk.t = t;
	walk.n = 0;
	walk.err = 0;
	if (mkdir(t->saved, 0755) < 0 && errno != EEXIST)
		return hp_err(-errno, "cannot create %s", t->saved);
	if (nftw(t->src, save_one, 32, FTW_PHYS) < 0)
		return hp_err(-errno, "cannot walk %s", t->src);
	*n = walk.n;
	if (walk.err)
		return hp_err(walk.err, "cannot keep the original objects in %s", t->saved);
	return 0;
}

static int same_file(const char *a, const char *b)
{
	_cleanup_free_ void *x = NULL, *y = NULL;
	size_t nx, ny;

	if (hp_read_file(a, MAX_OBJECT, -EFBIG, &x, &nx) < 0 ||
	    hp_read_file(b, MAX_OBJECT, -EFBIG, &y, &ny) < 0) {
		hp_err_clear();
		return 0;
	}
	return nx == ny && !memcmp(x, y, nx);
}

static int change_one(const char *path, const struct stat *st, int type, struct FTW *f)
{
	const char *rel;
	char *orig;
	struct hp_tree_change *c;
	struct stat ost;

	if (!is_object(path, st, type))
		return 0;
	rel = path + strlen(walk.t->src) + 1;
	orig = join(walk.t->saved, rel);
	if (!orig) {
		walk.err = -ENOMEM;
		return 1;
	}
	if (stat(orig, &ost) == 0 && same_file(orig, path)) {
		free(orig);
		return 0;
	}
	c = realloc(walk.c, (walk.nc + 1) * sizeof(*c));
	if (!c) {
		free(orig);
		walk.err = -ENOMEM;
		return 1;
	}
	walk.c = c;
	c[walk.nc].rel = strdup(rel);
	c[walk.nc].fixed = strdup(path);
	c[walk.nc].orig = stat(orig, &ost) == 0 ? orig : (free(orig), NULL);
	walk.nc++;
	return 0;
}

int hp_tree__changed_objects(const struct hp_tree *t, struct hp_tree_change **ret, size_t *n)
{
	walk.t = t;
	walk.c = NULL;
	walk.nc = 0;
	walk.err = 0;
	if (nftw(t->src, change_one, 32, FTW_PHYS) < 0 && !walk.err)
		walk.err = hp_err(-errno, "cannot walk %s", t->src);
	if (walk.err) {
		hp_tree__free_changes(walk.c, walk.nc);
		return walk.err;
	}
	*ret = walk.c;
	*n = walk.nc;
	return 0;
}

void hp_tree__free_changes(struct hp_tree_change *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(c[i].rel);
		free(c[i].orig);
		free(c[i].fixed);
	}
	free(c);
}

void hp_tree__finish(struct hp_tree *t, int keep)
{
	if (t->work && !keep) {
		const char *argv[] = { "rm", "-rf", "--one-file-system", t->work, NULL };

		run(argv, NULL, NULL, NULL);
	}
	free(t->work);
	free(t->src);
	free(t->saved);
	free(t->bin);
	free(t->log);
	memset(t, 0, sizeof(*t));
}
