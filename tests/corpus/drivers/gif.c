/* Corpus driver for giflib (row 5 of the corpus, CVE-2026-23868).
 *
 * GifMakeSavedImage(gif, CopyFrom) copies CopyFrom's record (memcpy), then
 * replaces the heap fields with copies one by one.  Before the fix, when an
 * allocation fails partway, FreeLastSavedImage frees the fields not yet
 * replaced: they still point into CopyFrom, which is freed again by its
 * owner later (double free).  The fix nulls the aliased fields first.
 *
 * This executable interposes malloc, calloc, realloc and free (forwarding
 * to glibc's __libc_*), which libgif.so binds to.  A thread "arms" the hook
 * around one call: its Nth allocation then fails, and a free() of one of
 * CopyFrom's blocks is counted and NOT done, so the old behaviour is seen
 * without corrupting the heap: the process survives before the patch.
 *
 *   normal: GifMakeSavedImage(gif, src) with no failure: a deep copy of the
 *     4-colour map and the 4x4 raster (same bytes, new blocks), the 2
 *     extension blocks copied; ImageCount 1.  The copy's
 *     ExtensionBlockCount is 2 before the fix and 0 after it (the fix zeroes
 *     it with the aliased pointers and nothing sets it again: a regression
 *     of the upstream fix, which Debian ships): both are accepted.
 *   probe:  the same call with allocation 2, 3 or 4 (map object, colours,
 *     raster) failing: must return NULL and leave ImageCount 0;
 *     old: it freed some of src's blocks; new: it freed none of them.
 */
#include "corpus.h"
#include <gif_lib.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);

static __thread struct {
	int armed, n, fail_at, hits, nprot;
	void *prot[8];
} hk;

static int alloc_fails(void)
{
	return hk.armed && ++hk.n == hk.fail_at;
}

void *malloc(size_t n)
{
	if (alloc_fails()) {
		errno = ENOMEM;
		return NULL;
	}
	return __libc_malloc(n);
}

void *calloc(size_t a, size_t b)
{
	if (alloc_fails()) {
		errno = ENOMEM;
		return NULL;
	}
	return __libc_calloc(a, b);
}

void *realloc(void *p, size_t n)
{
	if (alloc_fails()) {
		errno = ENOMEM;
		return NULL;
	}
	return __libc_realloc(p, n);
}

void free(void *p)
{
	int i;

	if (hk.armed && p)
		for (i = 0; i < hk.nprot; i++)
			if (hk.prot[i] == p) {
				hk.hits++;
				return; /* CopyFrom's block: counted, kept */
			}
	__libc_free(p);
}

static GifColorType colors[4] = {{1, 2, 3}, {40, 50, 60}, {200, 100, 0}, {255, 255, 255}};
static GifByteType ext_data[2][3] = {{4, 0, 0}, {'a', 'b', 'c'}};

struct src {
	SavedImage s;
};

static void make_src(SavedImage *s)
{
	int i;

	memset(s, 0, sizeof *s);
	s->ImageDesc.Left = 1;
	s->ImageDesc.Top = 2;
	s->ImageDesc.Width = 4;
	s->ImageDesc.Height = 4;
	s->ImageDesc.ColorMap = GifMakeMapObject(4, colors);
	s->RasterBits = malloc(16);
	for (i = 0; i < 16; i++)
		s->RasterBits[i] = (GifByteType)(i & 3);
	s->ExtensionBlockCount = 2;
	s->ExtensionBlocks = calloc(2, sizeof(ExtensionBlock));
	for (i = 0; i < 2; i++) {
		s->ExtensionBlocks[i].Function = i ? COMMENT_EXT_FUNC_CODE : GRAPHICS_EXT_FUNC_CODE;
		s->ExtensionBlocks[i].ByteCount = 3;
		s->ExtensionBlocks[i].Bytes = malloc(3);
		memcpy(s->ExtensionBlocks[i].Bytes, ext_data[i], 3);
	}
}

static void free_src(SavedImage *s)
{
	GifFreeMapObject(s->ImageDesc.ColorMap);
	free(s->RasterBits);
	GifFreeExtensions(&s->ExtensionBlockCount, &s->ExtensionBlocks);
}

static void normal(void)
{
	GifFileType gif;
	SavedImage src, *sp;
	int good;

	make_src(&src);
	memset(&gif, 0, sizeof gif);
	sp = GifMakeSavedImage(&gif, &src);
	good = sp != NULL && gif.ImageCount == 1 && sp == &gif.SavedImages[0] &&
	       sp->ImageDesc.Width == 4 && sp->ImageDesc.Height == 4 && sp->ImageDesc.Top == 2 &&
	       sp->RasterBits && sp->RasterBits != src.RasterBits &&
	       memcmp(sp->RasterBits, src.RasterBits, 16) == 0 && sp->ImageDesc.ColorMap &&
	       sp->ImageDesc.ColorMap != src.ImageDesc.ColorMap &&
	       sp->ImageDesc.ColorMap->ColorCount == 4 &&
	       memcmp(sp->ImageDesc.ColorMap->Colors, colors, sizeof colors) == 0 &&
	       (sp->ExtensionBlockCount == 2 || sp->ExtensionBlockCount == 0) && sp->ExtensionBlocks &&
	       sp->ExtensionBlocks != src.ExtensionBlocks &&
	       sp->ExtensionBlocks[1].Function == COMMENT_EXT_FUNC_CODE &&
	       sp->ExtensionBlocks[1].ByteCount == 3 &&
	       memcmp(sp->ExtensionBlocks[1].Bytes, "abc", 3) == 0;
	if (good)
		record(OUT_OK);
	else {
		record(OUT_BAD);
		note("normal: sp=%p count=%d", (void *)sp, gif.ImageCount);
	}
	if (sp) {
		/* the copy's extension Bytes are shared with src (giflib copies
		 * the ExtensionBlock array shallowly): free only the array */
		GifFreeMapObject(sp->ImageDesc.ColorMap);
		free(sp->RasterBits);
		free(sp->ExtensionBlocks);
	}
	free(gif.SavedImages);
	free_src(&src);
}

static void probe(long iter)
{
	GifFileType gif;
	SavedImage src, *sp;
	int hits, n, fail_at = 2 + (int)(iter % 3);

	make_src(&src);
	memset(&gif, 0, sizeof gif);
	memset(&hk, 0, sizeof hk);
	hk.prot[hk.nprot++] = src.ImageDesc.ColorMap;
	hk.prot[hk.nprot++] = src.ImageDesc.ColorMap->Colors;
	hk.prot[hk.nprot++] = src.RasterBits;
	hk.prot[hk.nprot++] = src.ExtensionBlocks;
	hk.prot[hk.nprot++] = src.ExtensionBlocks[0].Bytes;
	hk.prot[hk.nprot++] = src.ExtensionBlocks[1].Bytes;
	hk.fail_at = fail_at;
	hk.armed = 1;
	sp = GifMakeSavedImage(&gif, &src);
	hk.armed = 0;
	hits = hk.hits;
	n = hk.n;
	if (sp != NULL || gif.ImageCount != 0 || n < fail_at) {
		record(OUT_OTHER);
		note("probe: fail_at=%d allocations=%d returned %p ImageCount=%d", fail_at, n,
		     (void *)sp, gif.ImageCount);
	} else if (hits > 0)
		record(OUT_OLD);
	else
		record(OUT_NEW);
	free(gif.SavedImages);
	free_src(&src);
}

static void work(int tid, long iter)
{
	(void)tid;
	normal();
	probe(iter);
}

int main(int argc, char **argv)
{
	driver_options(argc, argv);
	run_workers();
	return 0;
}
