/* Corpus driver for libpng1.6 (rows 3 and 4 of the corpus): the simplified
 * read API (png_image_begin_read_from_memory + png_image_finish_read) in a
 * loop, on PNG files this driver builds in memory (zlib for IDAT).
 *
 * png-driver [-t N] [-p US] [-s SECS] compose   (row 3, CVE-2025-64720)
 *   normal: a palette+tRNS PNG (file gamma 1.0) read as RGB onto a given
 *     background (png_set_background path, not changed by the fix): the
 *     known 24 bytes.
 *   probe:  the same PNG read as RGB without a background, i.e. composed
 *     onto the buffer (PNG_ALPHA_OPTIMIZED: the palette branch the fix
 *     rewrites in png_init_read_transformations).  The palette entries
 *     with alpha 1, 2, 4 and a linear component of 127, 191, 223 give
 *     component*alpha == 127 (mod 255): there png_composite (before) and the
 *     fix's (c*a+128)/255 (after) round differently, so the output bytes
 *     tell which code ran.  old / new: the known output of each.
 *
 * png-driver [...] scale16    (row 4, CVE-2025-65018 part1 + part2)
 *   normal: an 8-bit RGB PNG read as RGB: every byte as written.
 *   probe:  a 16x8 16-bit RGB Adam7-interlaced PNG (gAMA 1/2.2, so no gamma
 *     change) read as 8-bit RGB into a buffer of PNG_IMAGE_SIZE followed by
 *     a canary (the buffer is 4 times larger, so an overflow hits nothing).
 *     In 1.6.39 the png_combine_row overflow the CVE describes does not
 *     show (the canary stays intact, checked for 16/32/33-wide RGB, RGBA,
 *     gray inputs): the original reads the image correctly.  The fix
 *     (part2) routes interlaced 16-to-8 reads through the new
 *     png_image_read_direct_scaled, which copies its one row buffer to every
 *     output row of every pass, so the rows no pass-7 row covers repeat
 *     their neighbour: output row y is input row 6,1,1,3,3,5,5,7.
 *     old: success, canary intact, row y = input row y (or the canary
 *          changed: the overflow itself);
 *     new: success, canary intact, rows 6,1,1,3,3,5,5,7;
 *     other: anything else.  Part1 alone rejects the read ("16-bit PNG must
 *     use 16-bit output format"): counted as other.
 */
#include "corpus.h"
#include <png.h>
#include <zlib.h>

static int mode_compose;

/* ---- a PNG writer, enough for these images ---- */
struct pngbuf {
	unsigned char *p;
	size_t n, cap;
};

static void put(struct pngbuf *b, const void *d, size_t n)
{
	if (b->n + n > b->cap) {
		b->cap = (b->n + n) * 2;
		b->p = realloc(b->p, b->cap);
		if (!b->p)
			abort();
	}
	memcpy(b->p + b->n, d, n);
	b->n += n;
}

static void put32(struct pngbuf *b, unsigned v)
{
	unsigned char x[4] = {v >> 24, v >> 16, v >> 8, v};
	put(b, x, 4);
}

static void chunk(struct pngbuf *b, const char *type, const void *d, unsigned n)
{
	size_t s;

	put32(b, n);
	s = b->n;
	put(b, type, 4);
	if (n)
		put(b, d, n);
	put32(b, crc32(0, b->p + s, n + 4));
}

/* pixel(x, y, out): writes the bytes of one pixel (bpp bytes). */
typedef void (*pixel_fn)(int x, int y, unsigned char *out);

static const int a7[7][4] = { /* x0, y0, dx, dy */
	{0, 0, 8, 8}, {4, 0, 8, 8}, {0, 4, 4, 8}, {2, 0, 4, 4},
	{0, 2, 2, 4}, {1, 0, 2, 2}, {0, 1, 1, 2},
};

static void make_png(struct pngbuf *b, int w, int h, int depth, int ctype, int interlace,
		     unsigned gama, const unsigned char *plte, int nplte,
		     const unsigned char *trns, int ntrns, int bpp, pixel_fn pix)
{
	unsigned char ihdr[13] = {w >> 24, w >> 16, w >> 8, w, h >> 24, h >> 16, h >> 8, h,
				  depth, ctype, 0, 0, interlace};
	unsigned char *raw = malloc((size_t)(w * bpp + 1) * h * 2 + 64), *z;
	size_t rn = 0;
	uLongf zn;
	int pass, x, y;

	b->n = 0;
	put(b, "\x89PNG\r\n\x1a\n", 8);
	chunk(b, "IHDR", ihdr, 13);
	if (gama) {
		unsigned char g[4] = {gama >> 24, gama >> 16, gama >> 8, gama};
		chunk(b, "gAMA", g, 4);
	}
	if (nplte)
		chunk(b, "PLTE", plte, nplte * 3);
	if (ntrns)
		chunk(b, "tRNS", trns, ntrns);
	for (pass = 0; pass < (interlace ? 7 : 1); pass++) {
		int x0 = interlace ? a7[pass][0] : 0, y0 = interlace ? a7[pass][1] : 0;
		int dx = interlace ? a7[pass][2] : 1, dy = interlace ? a7[pass][3] : 1;
		if (x0 >= w || y0 >= h)
			continue;
		for (y = y0; y < h; y += dy) {
			raw[rn++] = 0; /* filter: none */
			for (x = x0; x < w; x += dx) {
				pix(x, y, raw + rn);
				rn += bpp;
			}
		}
	}
	zn = compressBound(rn);
	z = malloc(zn);
	if (!z || compress(z, &zn, raw, rn) != Z_OK)
		abort();
	chunk(b, "IDAT", z, zn);
	chunk(b, "IEND", NULL, 0);
	free(z);
	free(raw);
}

/* ---- row 3: palette + tRNS ---- */
static const unsigned char c_plte[8 * 3] = {
	127, 191, 223, 191, 127, 223, 223, 191, 127, 0, 0, 0,
	90, 180, 220, 240, 20, 140, 128, 128, 128, 60, 60, 200,
};
static const unsigned char c_trns[8] = {1, 2, 4, 64, 255, 10, 250, 1};
/* read as RGB onto background (20,40,60): same before and after the fix */
static const unsigned char c_normal[24] = {
	21, 43, 64, 28, 43, 66, 39, 50, 66, 21, 34, 53,
	159, 218, 238, 59, 43, 72, 185, 185, 185, 21, 39, 64,
};
/* read as RGB composed onto a buffer of 0x80 */
static const unsigned char c_old[24] = {
	128, 148, 148, 148, 148, 154, 159, 159, 154, 112, 112, 112,
	159, 218, 238, 175, 147, 165, 221, 221, 221, 128, 128, 148,
};
static const unsigned char c_new[24] = {
	148, 148, 148, 154, 148, 154, 163, 159, 154, 112, 112, 112,
	159, 218, 238, 175, 147, 165, 221, 221, 221, 128, 128, 148,
};

static void c_pix(int x, int y, unsigned char *out) { out[0] = (unsigned char)(y * 4 + x); }

/* ---- row 4: 16-bit ---- */
#define S_W 16
#define S_H 8
static unsigned s_val(int x, int y, int c) { return (unsigned)((x * 37 + y * 11 + c * 71) & 0xff); }

static void s16_pix(int x, int y, unsigned char *out)
{
	int c;

	for (c = 0; c < 3; c++) { /* 16-bit sample = byte * 257: scales to byte */
		out[2 * c] = (unsigned char)s_val(x, y, c);
		out[2 * c + 1] = (unsigned char)s_val(x, y, c);
	}
}

static void s8_pix(int x, int y, unsigned char *out)
{
	int c;

	for (c = 0; c < 3; c++)
		out[c] = (unsigned char)s_val(x, y, c);
}

static struct pngbuf img_a, img_b; /* normal, probe */

/* read(file, format, background, buf, bufsize): 1 ok, 0 error (message in msg) */
static int read_png(const struct pngbuf *f, png_uint_32 format, const png_color *bg,
		    unsigned char *buf, size_t *size, char *msg)
{
	png_image im;
	int r;

	memset(&im, 0, sizeof im);
	im.version = PNG_IMAGE_VERSION;
	if (!png_image_begin_read_from_memory(&im, f->p, f->n)) {
		snprintf(msg, 80, "begin: %s", im.message);
		return 0;
	}
	im.format = format;
	*size = PNG_IMAGE_SIZE(im);
	r = png_image_finish_read(&im, bg, buf, 0, NULL);
	if (!r)
		snprintf(msg, 80, "finish: %s", im.message);
	png_image_free(&im);
	return r;
}

static void work_compose(void)
{
	unsigned char buf[64];
	size_t n;
	char msg[96] = "";
	png_color bg = {20, 40, 60};

	memset(buf, 0x80, sizeof buf);
	if (read_png(&img_a, PNG_FORMAT_RGB, &bg, buf, &n, msg) && n == 24 &&
	    memcmp(buf, c_normal, 24) == 0)
		record(OUT_OK);
	else {
		record(OUT_BAD);
		note("normal: %s first bytes %d %d %d", msg, buf[0], buf[1], buf[2]);
	}

	memset(buf, 0x80, sizeof buf);
	if (!read_png(&img_a, PNG_FORMAT_RGB, NULL, buf, &n, msg) || n != 24) {
		record(OUT_OTHER);
		note("probe: %s", msg);
	} else if (memcmp(buf, c_old, 24) == 0)
		record(OUT_OLD);
	else if (memcmp(buf, c_new, 24) == 0)
		record(OUT_NEW);
	else {
		record(OUT_OTHER);
		note("probe: unknown output %d %d %d %d %d %d", buf[0], buf[1], buf[2], buf[3],
		     buf[4], buf[5]);
	}
}

/* the input row each output row of the probe shows, before and after */
static const int rows_old[S_H] = {0, 1, 2, 3, 4, 5, 6, 7};
static const int rows_new[S_H] = {6, 1, 1, 3, 3, 5, 5, 7};

static int rows_are(const unsigned char *buf, const int *rows)
{
	int x, y, c;

	for (y = 0; y < S_H; y++)
		for (x = 0; x < S_W; x++)
			for (c = 0; c < 3; c++)
				if (buf[(y * S_W + x) * 3 + c] != s_val(x, rows[y], c))
					return 0;
	return 1;
}

static void work_scale16(void)
{
	enum { SZ = S_W * S_H * 3 };
	unsigned char *buf = malloc(4 * SZ);
	size_t n;
	char msg[96] = "";
	int x, y, c, good, canary;

	if (!buf)
		return;
	memset(buf, 0xa5, 4 * SZ);
	good = read_png(&img_a, PNG_FORMAT_RGB, NULL, buf, &n, msg) && n == SZ;
	for (y = 0; good && y < S_H; y++)
		for (x = 0; x < S_W; x++)
			for (c = 0; c < 3; c++)
				if (buf[(y * S_W + x) * 3 + c] != s_val(x, y, c))
					good = 0;
	if (good)
		record(OUT_OK);
	else {
		record(OUT_BAD);
		note("normal: %s", msg);
	}

	memset(buf, 0xa5, 4 * SZ);
	if (!read_png(&img_b, PNG_FORMAT_RGB, NULL, buf, &n, msg) || n != SZ) {
		record(OUT_OTHER);
		note("probe: %s", msg);
		free(buf);
		return;
	}
	for (canary = 1, x = SZ; x < 4 * SZ; x++)
		if (buf[x] != 0xa5)
			canary = 0;
	if (!canary) {
		record(OUT_OLD);
		note("probe: written past PNG_IMAGE_SIZE");
	} else if (rows_are(buf, rows_old))
		record(OUT_OLD);
	else if (rows_are(buf, rows_new))
		record(OUT_NEW);
	else {
		record(OUT_OTHER);
		note("probe: canary intact, unknown pixels");
	}
	free(buf);
}

static void work(int tid, long iter)
{
	(void)tid;
	(void)iter;
	if (mode_compose)
		work_compose();
	else
		work_scale16();
}

int main(int argc, char **argv)
{
	driver_options(argc, argv);
	if (optind >= argc) {
		fprintf(stderr, "usage: %s [options] compose|scale16\n", argv[0]);
		return 2;
	}
	if (strcmp(argv[optind], "compose") == 0) {
		mode_compose = 1;
		/* 4x2 palette image, gAMA 1.0 (100000): gamma tables in use */
		make_png(&img_a, 4, 2, 8, 3, 0, 100000, c_plte, 8, c_trns, 8, 1, c_pix);
	} else if (strcmp(argv[optind], "scale16") == 0) {
		make_png(&img_a, S_W, S_H, 8, 2, 0, 45455, NULL, 0, NULL, 0, 3, s8_pix);
		make_png(&img_b, S_W, S_H, 16, 2, 1, 45455, NULL, 0, NULL, 0, 6, s16_pix);
	} else {
		fprintf(stderr, "unknown mode %s\n", argv[optind]);
		return 2;
	}
	run_workers();
	return 0;
}
