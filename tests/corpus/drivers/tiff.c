/* Corpus driver for libtiff (row 6 of the corpus, CVE-2023-52356).
 *
 * TIFFReadRGBAStrip(tif, row, raster) did not check row < height: with a
 * row at or past the end, rows_to_read = height - row wraps around and
 * TIFFRGBAImageGet writes far past the raster.  The fix returns 0 ("Invalid
 * row passed to TIFFReadRGBAStrip()").
 *
 * tiff-driver [-t N] [-p US] [-s SECS] FILE.tif
 * writes FILE.tif (16x16 RGB, 8 bits, separate planes, 4 rows per strip,
 * uncompressed: 12 strips, 4 per plane) with libtiff, then each thread, with
 * its own TIFF handle:
 *   normal: TIFFReadRGBAStrip(tif, 4, raster): the 4x16 known pixels
 *     (raster bottom-up: raster row i = image row 4 + 3 - i).
 *   probe:  in a forked child (it crashes before the fix; fork copies the
 *     code as it is now, patched or not) TIFFReadRGBAStrip(tif, 20, raster)
 *     into a raster followed by a canary.  Row 20 is past the height (16),
 *     so rows_to_read = 16 - 20 wraps to 2^32-4; its strip (5) exists (it is
 *     plane 1's second strip), so gtStripSeparate goes on to write at
 *     raster + (2^32-5) * 16 pixels: SIGSEGV.
 *     old: the child was killed by a signal, or the call returned non-zero,
 *          or the canary changed;  new: it returned 0, canary intact.
 */
#include "corpus.h"
#include <tiffio.h>

#define W 16
#define H 16
#define RPS 4

static const char *path;

static unsigned char pv(int x, int y, int c)
{
	return (unsigned char)(c == 0 ? x * 16 : c == 1 ? y * 16 : (x + y) * 8);
}

static int write_file(void)
{
	TIFF *t = TIFFOpen(path, "w");
	unsigned char row[W];
	int x, y, c;

	if (!t)
		return -1;
	TIFFSetField(t, TIFFTAG_IMAGEWIDTH, W);
	TIFFSetField(t, TIFFTAG_IMAGELENGTH, H);
	TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, 8);
	TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, 3);
	TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_RGB);
	TIFFSetField(t, TIFFTAG_PLANARCONFIG, PLANARCONFIG_SEPARATE);
	TIFFSetField(t, TIFFTAG_COMPRESSION, COMPRESSION_NONE);
	TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, RPS);
	for (c = 0; c < 3; c++)
		for (y = 0; y < H; y++) {
			for (x = 0; x < W; x++)
				row[x] = pv(x, y, c);
			if (TIFFWriteScanline(t, row, y, c) < 0) {
				TIFFClose(t);
				return -1;
			}
		}
	TIFFClose(t);
	return 0;
}

static __thread TIFF *tif;

static void normal(void)
{
	uint32_t raster[W * RPS];
	int x, i, good;

	memset(raster, 0, sizeof raster);
	good = TIFFReadRGBAStrip(tif, 4, raster) == 1;
	for (i = 0; good && i < RPS; i++)
		for (x = 0; x < W; x++) {
			uint32_t p = raster[i * W + x];
			int y = 4 + RPS - 1 - i;
			if (TIFFGetR(p) != pv(x, y, 0) || TIFFGetG(p) != pv(x, y, 1) ||
			    TIFFGetB(p) != pv(x, y, 2) || TIFFGetA(p) != 255)
				good = 0;
		}
	if (good)
		record(OUT_OK);
	else {
		record(OUT_BAD);
		note("normal: wrong strip (first pixel %08x)", raster[0]);
	}
}

/* in the child: 0 returned 0, canary intact; 1 returned non-zero; 2 canary
 * changed; 3 cannot open */
static int probe_child(void *arg)
{
	enum { N = W * RPS, GUARD = 4096 };
	uint32_t *raster = malloc((N + GUARD) * sizeof *raster);
	TIFF *t = TIFFOpen(path, "r");
	int r, i;

	(void)arg;
	if (!t || !raster)
		return 3;
	for (i = 0; i < N + GUARD; i++)
		raster[i] = 0x5a5a5a5a;
	r = TIFFReadRGBAStrip(t, H + RPS, raster);
	for (i = N; i < N + GUARD; i++)
		if (raster[i] != 0x5a5a5a5a)
			return 2;
	return r != 0 ? 1 : 0;
}

static void probe(void)
{
	int st = probe_in_child(probe_child, NULL);

	static atomic_int told;

	if (st == 0)
		record(OUT_NEW);
	else if (st == 1 || st == 2 || (st > 128 && st < 128 + 64)) {
		record(OUT_OLD);
		if (atomic_fetch_add(&told, 1) < 3)
			note("probe: child status %d (1 returned non-zero, 2 canary changed, 128+N signal N)", st);
	}
	else {
		record(OUT_OTHER);
		note("probe: child status %d", st);
	}
}

static void work(int tid, long iter)
{
	(void)tid;
	if (!tif) {
		tif = TIFFOpen(path, "r");
		if (!tif) {
			record(OUT_BAD);
			note("cannot open %s", path);
			return;
		}
	}
	normal();
	if (iter % 4 == 0)	/* a fork per probe: not every iteration */
		probe();
}

int main(int argc, char **argv)
{
	driver_options(argc, argv);
	if (optind >= argc) {
		fprintf(stderr, "usage: %s [options] FILE.tif\n", argv[0]);
		return 2;
	}
	path = argv[optind];
	TIFFSetErrorHandler(NULL);
	TIFFSetWarningHandler(NULL);
	if (write_file() != 0) {
		fprintf(stderr, "cannot write %s\n", path);
		return 1;
	}
	run_workers();
	return 0;
}
