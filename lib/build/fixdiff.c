/* Reading the hunks of a unified diff (see fixdiff.h). */
#include <stdio.h>
#include "common/common.h"
#include "build/fixdiff.h"

struct hunk {
	uint32_t old_start, old_len, new_start, new_len;
	const char *body;	/* the hunk's lines, in the text */
};

struct file {
	char base[256];
	struct hunk *h;
	size_t nh;
};

struct hp_fixdiff {
	struct file *f;
	size_t nf;
};

static const char *basename_of(const char *p)
{
	const char *s = strrchr(p, '/');

	return s ? s + 1 : p;
}

static int add_file(struct hp_fixdiff *fd, const char *line)
{
	struct file *n = realloc(fd->f, (fd->nf + 1) * sizeof(*n));
	size_t len = strcspn(line, "\t\n");
	char path[1024];

	if (!n)
		return -ENOMEM;
	fd->f = n;
	snprintf(path, sizeof(path), "%.*s", (int)len, line);
	memset(&n[fd->nf], 0, sizeof(n[fd->nf]));
	snprintf(n[fd->nf].base, sizeof(n[fd->nf].base), "%.255s", basename_of(path));
	fd->nf++;
	return 0;
}

static int add_hunk(struct hp_fixdiff *fd, const char *line, const char *body)
{
	struct file *f = &fd->f[fd->nf - 1];
	struct hunk h = { .old_len = 1, .new_len = 1, .body = body }, *n;

	/* @@ -a[,b] +c[,d] @@ */
	if (sscanf(line, "@@ -%u,%u +%u,%u", &h.old_start, &h.old_len, &h.new_start, &h.new_len) != 4) {
		h.old_len = h.new_len = 1;
		if (sscanf(line, "@@ -%u +%u,%u", &h.old_start, &h.new_start, &h.new_len) != 3 &&
		    sscanf(line, "@@ -%u,%u +%u", &h.old_start, &h.old_len, &h.new_start) != 3 &&
		    sscanf(line, "@@ -%u +%u", &h.old_start, &h.new_start) != 2)
			return 0;	/* not a hunk header */
	}
	n = realloc(f->h, (f->nh + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	f->h = n;
	n[f->nh++] = h;
	return 0;
}

int hp_fixdiff__parse(const char *text, struct hp_fixdiff **ret)
{
	struct hp_fixdiff *fd = calloc(1, sizeof(*fd));
	size_t hunks = 0;
	int r = 0;

	*ret = NULL;
	if (!fd)
		return -ENOMEM;
	for (const char *l = text; l && *l && r == 0; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		if (!strncmp(l, "+++ ", 4)) {
			r = add_file(fd, l + 4);
		} else if (!strncmp(l, "@@ -", 4) && fd->nf) {
			size_t before = fd->f[fd->nf - 1].nh;

			r = add_hunk(fd, l, strchr(l, '\n') ? strchr(l, '\n') + 1 : "");
			hunks += fd->f[fd->nf - 1].nh - before;
		}
	}
	if (r == 0 && !hunks)
		r = hp_err(-HP_E_FORMAT, "the fix is not a unified diff (no @@ hunk)");
	if (r < 0) {
		hp_fixdiff__free(fd);
		return r;
	}
	*ret = fd;
	return 0;
}

void hp_fixdiff__free(struct hp_fixdiff *fd)
{
	if (!fd)
		return;
	for (size_t i = 0; i < fd->nf; i++)
		free(fd->f[i].h);
	free(fd->f);
	free(fd);
}

/* Inside a hunk, walks its lines: ' ' both sides, '-' old only, '+' new only. */
static uint32_t map_in_hunk(const struct hunk *h, uint32_t line)
{
	uint32_t o = h->old_start, n = h->new_start;

	for (const char *l = h->body; *l && *l != '@'; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : "") {
		if (*l == ' ' || *l == '\n') {
			if (o == line)
				return n;
			o++;
			n++;
		} else if (*l == '-') {
			if (o == line)
				return 0;
			o++;
		} else if (*l == '+') {
			n++;
		} else if (*l != '\\') {
			break;	/* the next file's header */
		}
	}
	return 0;
}

static uint32_t map_file(const struct file *f, uint32_t line)
{
	int64_t shift = 0;

	for (size_t i = 0; i < f->nh; i++) {
		const struct hunk *h = &f->h[i];

		if (line < h->old_start)
			break;
		if (line < h->old_start + h->old_len)
			return map_in_hunk(h, line);
		shift = (int64_t)(h->new_start + h->new_len) - (int64_t)(h->old_start + h->old_len);
	}
	return (uint32_t)((int64_t)line + shift);
}

uint32_t hp_fixdiff__map_line(const struct hp_fixdiff *fd, const char *file, uint32_t line)
{
	const char *base = basename_of(file ? file : "");

	for (size_t i = 0; fd && i < fd->nf; i++) {
		uint32_t m;

		if (base[0] && strcmp(base, fd->f[i].base))
			continue;
		m = map_file(&fd->f[i], line);
		if (base[0] || m != line)
			return m;
	}
	return line;
}

int hp_fixdiff__line_moved(const struct hp_fixdiff *fd, const char *file, uint32_t orig,
			   uint32_t fixed)
{
	if (orig == fixed)
		return 0;
	for (size_t i = 0; fd && i < fd->nf; i++) {
		const char *base = basename_of(file ? file : "");

		if (base[0] && strcmp(base, fd->f[i].base))
			continue;
		if (map_file(&fd->f[i], orig) == fixed)
			return 1;
	}
	return 0;
}
