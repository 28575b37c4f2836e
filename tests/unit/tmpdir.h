/* Helpers shared by the unit tests that build small programs in a
 * temporary directory: each test defines `static char dir[]` (a mkdtemp()
 * template) before including this file. */
#ifndef HP_TEST_TMPDIR_H
#define HP_TEST_TMPDIR_H
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* dir/name, in one of 8 rotating buffers. */
static char *path(const char *name)
{
	static char buf[8][256];
	static int i;
	char *p = buf[i++ % 8];

	snprintf(p, 256, "%s/%s", dir, name);
	return p;
}

static int write_file(const char *name, const void *data, size_t len)
{
	FILE *f = fopen(path(name), "w");

	if (!f)
		return -1;
	fwrite(data, 1, len, f);
	return fclose(f);
}

static int sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

/* ---- an independent, minimal reading of raw files ------------------- */

struct raw {
	uint8_t *b;
	size_t n;
};

static int raw_read(const char *p, struct raw *r)
{
	FILE *f = fopen(p, "r");
	long n;

	r->b = NULL;
	r->n = 0;
	if (!f)
		return -1;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	r->b = malloc(n > 0 ? (size_t)n : 1);
	if (!r->b || fread(r->b, 1, (size_t)n, f) != (size_t)n) {
		fclose(f);
		free(r->b);
		r->b = NULL;
		return -1;
	}
	r->n = (size_t)n;
	fclose(f);
	return 0;
}
#endif
