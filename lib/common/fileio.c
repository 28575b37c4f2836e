/* Whole-file reads and complete writes, shared by the parts that handle files. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include "common/common.h"

int hp_write_all(int fd, const void *buf, size_t n)
{
	const char *s = buf;

	while (n) {
		ssize_t w = write(fd, s, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

int hp_read_file(const char *path, size_t max, uint8_t **ret, size_t *ret_len)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	uint8_t *buf;
	struct stat st;
	size_t got = 0;

	if (fd < 0)
		return hp_err(-errno, "cannot open %s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0)
		return hp_err(-errno, "cannot read %s: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return hp_err(-HP_E_FORMAT, "%s is not a regular file", path);
	if ((uint64_t)st.st_size > max)
		return hp_err(-HP_E_FORMAT, "%s: %ld bytes exceeds the %zu-byte limit", path,
			      (long)st.st_size, max);
	buf = malloc(st.st_size ? st.st_size : 1);
	if (!buf)
		return -ENOMEM;
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			free(buf);
			return hp_err(n < 0 ? -errno : -EIO, "cannot read %s", path);
		}
		got += (size_t)n;
	}
	*ret = buf;
	*ret_len = got;
	return 0;
}
