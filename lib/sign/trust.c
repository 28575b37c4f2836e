/* The trust store: a directory of minisign public keys (*.pub) that only
 * root (or the user running hotpatch) can change. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include "common/common.h"
#include "sign/sign.h"

#define PUB_FILE_MAX 65536

/* Like sshd's StrictModes: nobody but root or us may be able to change it. */
static int check_owner_mode(const struct stat *st, const char *path, const char *what)
{
	if (st->st_uid != 0 && st->st_uid != geteuid())
		return hp_err(-EPERM, "%s %s is owned by uid %u, not by root: another user could change "
			      "the trusted keys; fix it with: chown root %s", what, path,
			      (unsigned)st->st_uid, path);
	if (st->st_mode & (S_IWGRP | S_IWOTH))
		return hp_err(-EPERM, "%s %s is writable by %s (mode %04o): anyone who can write there "
			      "could add a key; fix it with: chmod go-w %s", what, path,
			      (st->st_mode & S_IWGRP) && (st->st_mode & S_IWOTH) ? "group and others"
			      : (st->st_mode & S_IWGRP) ? "its group" : "others",
			      (unsigned)(st->st_mode & 07777), path);
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
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		if (errno == ENOENT)
			return hp_err(-ENOKEY, "no trusted keys: the trust store %s does not exist", dir);
		return hp_err(-errno, "cannot open the trust store %s: %s", dir, strerror(errno));
	}
	if (fstat(dfd, &st) < 0)
		return hp_err(-errno, "cannot stat %s: %s", dir, strerror(errno));
	r = check_owner_mode(&st, dir, "trust store");
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
		fd = openat(dfd, names[i], O_RDONLY | O_CLOEXEC | O_NONBLOCK);
		if (fd < 0) {
			r = hp_err(-errno, "cannot open the key file %s: %s", path, strerror(errno));
			goto out;
		}
		if (fstat(fd, &st) < 0) {
			r = hp_err(-errno, "cannot stat %s: %s", path, strerror(errno));
			goto out;
		}
		if (!S_ISREG(st.st_mode)) {
			r = hp_err(-EINVAL, "%s in the trust store is not a regular file", path);
			goto out;
		}
		r = check_owner_mode(&st, path, "key file");
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
