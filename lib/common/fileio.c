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

int hp_read_fd(int fd, const char *path, size_t max, int bad, void **ret, size_t *ret_len)
{
	struct stat st;
	char *buf;
	size_t n = 0;

	if (fstat(fd, &st) < 0)
		return hp_err(-errno, "cannot stat %s: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return hp_err(bad, "%s is not a regular file", path);
	if ((uint64_t)st.st_size > max)
		return hp_err(bad, "%s is %lld bytes, more than the %zu allowed", path,
			      (long long)st.st_size, max);
	/* One byte more than its size: a file growing meanwhile shows. */
	buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t r = read(fd, buf + n, (size_t)st.st_size + 1 - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;

			free(buf);
			return hp_err(-e, "cannot read %s: %s", path, strerror(e));
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > (size_t)st.st_size) {
			free(buf);
			return hp_err(bad, "%s changed while being read", path);
		}
	}
	buf[n] = 0;
	*ret = buf;
	*ret_len = n;
	return 0;
}

int hp_read_file(const char *path, size_t max, int bad, void **ret, size_t *ret_len)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return hp_err(-errno, "cannot open %s: %s", path, strerror(errno));
	return hp_read_fd(fd, path, max, bad, ret, ret_len);
}

void hp_json_str(char *buf, size_t cap, size_t *len, const char *s)
{
	if (*len + 2 >= cap)
		return;
	buf[(*len)++] = '"';
	for (; s && *s && *len + 8 < cap; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			*len += snprintf(buf + *len, cap - *len, "\\%c", c);
		else if (c == '\n')
			*len += snprintf(buf + *len, cap - *len, "\\n");
		else if (c == '\t')
			*len += snprintf(buf + *len, cap - *len, "\\t");
		else if (c < 0x20)
			*len += snprintf(buf + *len, cap - *len, "\\u%04x", c);
		else
			buf[(*len)++] = (char)c;
	}
	buf[(*len)++] = '"';
}
