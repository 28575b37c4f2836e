/* The trust store: a directory of minisign public keys (*.pub) that only
 * root (or the user running hotpatch) can change. */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include "common/common.h"
#include "sign/sign.h"

#define PUB_FILE_MAX 65536

static const char *writers(mode_t mode)
{
	return (mode & S_IWGRP) && (mode & S_IWOTH) ? "group and others"
	       : (mode & S_IWGRP) ? "its group" : "others";
}

/* Like sshd's StrictModes: nobody but root or us may be able to change it.
 * path is the file itself (no symlink); from, the name it was reached by. */
static int check_owner_mode(const struct stat *st, const char *path, const char *from,
			    const char *what)
{
	char via[PATH_MAX + 32] = "";

	if (strcmp(path, from))
		snprintf(via, sizeof(via), " (reached from %s)", from);
	if (st->st_uid != 0 && st->st_uid != geteuid())
		return hp_err(-EPERM, "%s %s%s is owned by uid %u, not by root: another user could "
			      "change the trusted keys; fix it with: chown root %s", what, path, via,
			      (unsigned)st->st_uid, path);
	if (st->st_mode & (S_IWGRP | S_IWOTH))
		return hp_err(-EPERM, "%s %s%s is writable by %s (mode %04o): anyone who can write "
			      "there could add a key; fix it with: chmod go-w %s", what, path, via,
			      writers(st->st_mode), (unsigned)(st->st_mode & 07777), path);
	return 0;
}

/* A directory a name of the path to the store or to a key is looked up in
 * (path, for the message: "the trust store X", "the key file Y").  Whoever
 * can write to it can rename the entry away and put their own in its place,
 * so the rule of check_owner_mode() holds here too, with one exception: a
 * sticky directory (/tmp, mode 1777) owned by root or us, where others may
 * create entries but cannot rename or remove those they do not own.  What
 * is found there is checked in turn (its owner, its mode). */
static int check_parent(const struct stat *st, const char *dir, const char *path)
{
	if (st->st_uid != 0 && st->st_uid != geteuid())
		return hp_err(-EPERM, "directory %s, on the path to %s, is owned by uid %u, not by "
			      "root: that user could replace the trusted keys; fix it with: chown root %s",
			      dir, path, (unsigned)st->st_uid, dir);
	if ((st->st_mode & (S_IWGRP | S_IWOTH)) && !(st->st_mode & S_ISVTX))
		return hp_err(-EPERM, "directory %s, on the path to %s, is writable by %s (mode %04o): "
			      "anyone who can write there could replace the trusted keys; fix it with: "
			      "chmod go-w %s", dir, path, writers(st->st_mode),
			      (unsigned)(st->st_mode & 07777), dir);
	return 0;
}

/* Resolves path one name at a time, as the kernel does, and checks with
 * check_parent() every directory a name is looked up in: the parents of
 * the final path up to /, and those of every symlink followed on the way
 * (a safe target reached through a link in a directory anyone can write is
 * not safe: the link can be swapped).  A symlink cannot be changed, only
 * replaced, which check_parent() covers, except in a sticky directory,
 * where its owner may still remove it: there it must be root's or ours.
 * On success ret_real is the final path (no symlink, no "." or "..") and
 * *ret_st its lstat(); what it names is for the caller to check. */
static int walk_path(const char *path, const char *what, char ret_real[PATH_MAX],
		     struct stat *ret_st)
{
	char todo[2 * PATH_MAX], real[PATH_MAX], link[PATH_MAX];
	const char *p;
	struct stat dst, st;
	int nlinks = 0, r;

	if (path[0] == '/') {
		snprintf(todo, sizeof(todo), "%s", path);
	} else {
		if (!getcwd(real, sizeof(real)))
			return hp_err(-errno, "cannot resolve %s: getcwd: %s", what, strerror(errno));
		if ((size_t)snprintf(todo, sizeof(todo), "%s/%s", real, path) >= sizeof(todo))
			return hp_err(-ENAMETOOLONG, "the path to %s is too long", what);
	}
	real[0] = 0;		/* "" is /, so that real + "/" + name is a path */
	if (lstat("/", &dst) < 0)
		return hp_err(-errno, "cannot stat /: %s", strerror(errno));
	for (p = todo;;) {
		const char *end;
		size_t n, rlen = strlen(real);

		while (*p == '/')
			p++;
		if (!*p)
			break;
		end = strchrnul(p, '/');
		n = (size_t)(end - p);
		if (n == 1 && p[0] == '.') {
			p = end;
			continue;
		}
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			/* real holds no symlink: its parent is a prefix, checked already */
			if (real[0])
				*strrchr(real, '/') = 0;
			if (lstat(real[0] ? real : "/", &dst) < 0)
				return hp_err(-errno, "cannot stat %s: %s", real[0] ? real : "/",
					      strerror(errno));
			p = end;
			continue;
		}
		if (!S_ISDIR(dst.st_mode))
			return hp_err(-ENOTDIR, "%s, on the path to %s, is not a directory",
				      real, what);
		r = check_parent(&dst, real[0] ? real : "/", what);
		if (r < 0)
			return r;
		if (rlen + 1 + n >= sizeof(real))
			return hp_err(-ENAMETOOLONG, "the path to %s is too long", what);
		real[rlen] = '/';
		memcpy(real + rlen + 1, p, n);
		real[rlen + 1 + n] = 0;
		p = end;
		if (lstat(real, &st) < 0)
			return hp_err(-errno, "cannot stat %s, on the path to %s: %s", real, what,
				      strerror(errno));
		if (S_ISLNK(st.st_mode)) {
			ssize_t k;

			if (++nlinks > 40)
				return hp_err(-ELOOP, "too many symbolic links on the path to %s", what);
			if (st.st_uid != 0 && st.st_uid != geteuid() &&
			    (dst.st_mode & S_ISVTX) && (dst.st_mode & (S_IWGRP | S_IWOTH)))
				return hp_err(-EPERM, "symbolic link %s, on the path to %s, is owned by "
					      "uid %u in a sticky directory: that user could replace it; "
					      "fix it with: chown -h root %s", real, what,
					      (unsigned)st.st_uid, real);
			k = readlink(real, link, sizeof(link) - 1);
			if (k < 0)
				return hp_err(-errno, "cannot read the link %s: %s", real, strerror(errno));
			/* todo = link "/" rest (p points into todo) */
			n = strlen(p);
			if ((size_t)k + 1 + n >= sizeof(todo))
				return hp_err(-ENAMETOOLONG, "the path to %s is too long", what);
			memmove(todo + k + 1, p, n + 1);
			memcpy(todo, link, (size_t)k);
			todo[k] = '/';
			p = todo;
			/* relative: resolved from the link's directory */
			real[rlen] = 0;
			if (link[0] == '/') {
				real[0] = 0;
				if (lstat("/", &dst) < 0)
					return hp_err(-errno, "cannot stat /: %s", strerror(errno));
			}
			continue;
		}
		dst = st;
	}
	snprintf(ret_real, PATH_MAX, "%s", real[0] ? real : "/");
	*ret_st = dst;
	return 0;
}

/* fd is what walk_path() checked (not swapped in between). */
static int same_file(int fd, const struct stat *walked, const char *path)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return hp_err(-errno, "cannot stat %s: %s", path, strerror(errno));
	if (st.st_dev != walked->st_dev || st.st_ino != walked->st_ino)
		return hp_err(-EAGAIN, "%s changed while it was checked; try again", path);
	return 0;
}

static int is_pub_name(const char *name)
{
	size_t n = strlen(name);

	return name[0] != '.' && n > 4 && !strcmp(name + n - 4, ".pub");
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int hp_trust__load(const char *dir, struct hp_pubkey **ret_keys, size_t *ret_n)
{
	_cleanup_close_ int dfd = -1;
	_cleanup_free_ char *what = NULL;
	char real[PATH_MAX];
	struct stat st;
	DIR *d;
	struct dirent *de;
	char **names = NULL;
	size_t nnames = 0, cap = 0;
	struct hp_pubkey *keys = NULL;
	int r = 0;

	hp_err_clear();
	*ret_keys = NULL;
	*ret_n = 0;
	r = hp_sign__init();
	if (r < 0)
		return r;
	if (asprintf(&what, "the trust store %s", dir) < 0) {
		what = NULL;
		return -ENOMEM;
	}
	r = walk_path(dir, what, real, &st);
	if (r == -ENOENT) {
		hp_err_clear();
		return hp_err(-ENOKEY, "no trusted keys: the trust store %s does not exist", dir);
	}
	if (r < 0)
		return r;
	dfd = open(real, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return hp_err(-errno, "cannot open the trust store %s: %s", dir, strerror(errno));
	r = same_file(dfd, &st, real);
	if (r < 0)
		return r;
	r = check_owner_mode(&st, real, dir, "trust store");
	if (r < 0)
		return r;

	d = fdopendir(dup(dfd));
	if (!d)
		return hp_err(-errno, "cannot read the trust store %s: %s", dir, strerror(errno));
	errno = 0;
	while ((de = readdir(d))) {
		if (!is_pub_name(de->d_name))
			continue;
		if (nnames == cap) {
			char **nn = realloc(names, (cap = cap ? 2 * cap : 16) * sizeof(*names));

			if (!nn) {
				r = -ENOMEM;
				break;
			}
			names = nn;
		}
		names[nnames] = strdup(de->d_name);
		if (!names[nnames]) {
			r = -ENOMEM;
			break;
		}
		nnames++;
	}
	closedir(d);
	if (r < 0)
		goto out;
	if (!nnames) {
		r = hp_err(-ENOKEY, "no trusted keys in %s (it holds no *.pub file)", dir);
		goto out;
	}
	qsort(names, nnames, sizeof(*names), cmp_str);
	keys = calloc(nnames, sizeof(*keys));
	if (!keys) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < nnames; i++) {
		_cleanup_free_ char *path = NULL, *text = NULL;
		_cleanup_close_ int fd = -1;
		size_t len;

		if (asprintf(&path, "%s/%s", dir, names[i]) < 0) {
			path = NULL;
			r = -ENOMEM;
			goto out;
		}
		free(what);
		if (asprintf(&what, "the key file %s", path) < 0) {
			what = NULL;
			r = -ENOMEM;
			goto out;
		}
		/* A symlink is checked where it leads, the target and its parents. */
		r = walk_path(path, what, real, &st);
		if (r < 0)
			goto out;
		if (!S_ISREG(st.st_mode)) {
			r = hp_err(-EINVAL, "%s in the trust store is not a regular file", path);
			goto out;
		}
		r = check_owner_mode(&st, real, path, "key file");
		if (r < 0)
			goto out;
		fd = open(real, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
		if (fd < 0) {
			r = hp_err(-errno, "cannot open the key file %s: %s", real, strerror(errno));
			goto out;
		}
		r = same_file(fd, &st, real);
		if (r < 0)
			goto out;
		r = hp_read_fd(fd, path, PUB_FILE_MAX, -EINVAL, (void **)&text, &len);
		if (r < 0)
			goto out;
		r = hp_sign__pubkey_parse(text, len, path, &keys[i]);
		if (r < 0)
			goto out;
		snprintf(keys[i].origin, sizeof(keys[i].origin), "%s", path);
	}
	*ret_keys = keys;
	*ret_n = nnames;
	keys = NULL;
out:
	for (size_t i = 0; i < nnames; i++)
		free(names[i]);
	free(names);
	free(keys);
	return r;
}
