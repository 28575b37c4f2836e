/*
 * xzloop: exercises liblzma's threaded .xz decoder (lzma_stream_decoder_mt)
 * for the xz-utils corpus case (CVE-2025-31115, worker_decoder()).
 *
 *   xzloop live STATUSFILE
 *       Loops forever.  One round: a multi-threaded decoder (2 threads)
 *       decodes a valid 4-Block .xz (the output is compared with the
 *       original data) and then a 1-Block .xz whose LZMA2 data is corrupt
 *       (the first chunk's control byte is invalid), each given whole in
 *       one lzma_code(LZMA_FINISH) call, and each decoder is ended with
 *       lzma_end(), which joins its worker threads.  Between rounds it
 *       sleeps 100 ms with no worker thread alive, so no thread is inside
 *       worker_decoder() then (during a round the workers wait inside it).
 *       After each round it rewrites STATUSFILE with one line:
 *           round=N valid=ok|BAD(...) corrupt=<lzma_ret> inbuf=released|kept
 *       inbuf: what the worker did with the input buffer of the Block it
 *       failed on, seen in lzma_memusage() right after the error, compared
 *       with the usage after decoding the same stream intact: "released"
 *       (equal: the buffer was freed and the thread returned to the pool
 *       at once: the unpatched code, which does so even though the main
 *       thread may still be writing into the buffer) or "kept" (higher by
 *       the Block's size: still held until lzma_end(): the fixed code).  The whole Block is copied in one
 *       call, so the unpatched code frees a buffer nobody writes to any
 *       more: the round is safe either way.
 *
 *   xzloop crash
 *       One decode of the corrupt .xz fed in two parts: the Block Header and
 *       the first 4 KiB of the Block, a pause (the worker fails on them),
 *       then the rest.  Unpatched, the worker has freed the input buffer
 *       and set it to NULL while the main thread still copies the rest into
 *       it: SIGSEGV (a write near the null pointer).  Fixed: prints
 *       "crash-probe: LZMA_DATA_ERROR" and exits 0.
 */
#include <lzma.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define VALID_SIZE (256 * 1024)
#define BLOCK_SIZE (64 * 1024)
#define CORRUPT_SIZE (200 * 1024)

static uint8_t *plain, *valid_xz, *bad_xz, *noise_xz, *outbuf;
static size_t plain_len, valid_len, bad_len;

static const char *ret_name(lzma_ret r)
{
	switch (r) {
	case LZMA_OK: return "LZMA_OK";
	case LZMA_STREAM_END: return "LZMA_STREAM_END";
	case LZMA_MEM_ERROR: return "LZMA_MEM_ERROR";
	case LZMA_MEMLIMIT_ERROR: return "LZMA_MEMLIMIT_ERROR";
	case LZMA_FORMAT_ERROR: return "LZMA_FORMAT_ERROR";
	case LZMA_OPTIONS_ERROR: return "LZMA_OPTIONS_ERROR";
	case LZMA_DATA_ERROR: return "LZMA_DATA_ERROR";
	case LZMA_BUF_ERROR: return "LZMA_BUF_ERROR";
	case LZMA_PROG_ERROR: return "LZMA_PROG_ERROR";
	default: return "LZMA_other";
	}
}

static void die(const char *what, lzma_ret r)
{
	fprintf(stderr, "xzloop: %s: %s (%d)\n", what, ret_name(r), (int)r);
	exit(1);
}

/* Encodes data with the threaded encoder: Blocks of BLOCK_SIZE, their
 * sizes in the Block Headers (which the threaded decoder needs). */
static uint8_t *encode(const uint8_t *data, size_t len, size_t *out_len)
{
	lzma_stream s = LZMA_STREAM_INIT;
	lzma_mt mt;
	memset(&mt, 0, sizeof(mt));
	mt.threads = 2;
	mt.block_size = BLOCK_SIZE;
	mt.preset = 1;
	mt.check = LZMA_CHECK_CRC64;
	lzma_ret r = lzma_stream_encoder_mt(&s, &mt);
	if (r != LZMA_OK)
		die("lzma_stream_encoder_mt", r);
	size_t cap = len + len / 2 + 65536;
	uint8_t *out = malloc(cap);
	s.next_in = data;
	s.avail_in = len;
	s.next_out = out;
	s.avail_out = cap;
	r = lzma_code(&s, LZMA_FINISH);
	if (r != LZMA_STREAM_END)
		die("encode", r);
	*out_len = cap - s.avail_out;
	lzma_end(&s);
	return out;
}

static void decoder(lzma_stream *s)
{
	lzma_mt mt;
	memset(&mt, 0, sizeof(mt));
	mt.threads = 2;
	mt.flags = 0;
	mt.timeout = 0;
	mt.memlimit_threading = UINT64_MAX;
	mt.memlimit_stop = UINT64_MAX;
	lzma_ret r = lzma_stream_decoder_mt(s, &mt);
	if (r != LZMA_OK)
		die("lzma_stream_decoder_mt", r);
}

/* Offset of the first Block's LZMA2 data: Stream Header (12) + Block
 * Header ((first byte + 1) * 4). */
static size_t block_data_offset(const uint8_t *xz)
{
	return 12 + ((size_t)xz[12] + 1) * 4;
}

static void setup(void)
{
	size_t i;
	uint32_t x = 12345;

	/* compressible text for the valid stream */
	plain_len = VALID_SIZE;
	plain = malloc(plain_len);
	for (i = 0; i < plain_len; i++) {
		x = x * 1103515245 + 12345;
		plain[i] = "hotpatch xz corpus "[(x >> 16) % 19];
	}
	valid_xz = encode(plain, plain_len, &valid_len);

	/* incompressible data: one big Block (stored LZMA2 chunks) */
	uint8_t *noise = malloc(CORRUPT_SIZE);
	for (i = 0; i < CORRUPT_SIZE; i++) {
		x = x * 1103515245 + 12345;
		noise[i] = x >> 24;
	}
	lzma_stream s = LZMA_STREAM_INIT;
	lzma_mt mt;
	memset(&mt, 0, sizeof(mt));
	mt.threads = 2;
	mt.block_size = CORRUPT_SIZE;
	mt.preset = 1;
	mt.check = LZMA_CHECK_CRC64;
	lzma_ret r = lzma_stream_encoder_mt(&s, &mt);
	if (r != LZMA_OK)
		die("lzma_stream_encoder_mt", r);
	size_t cap = CORRUPT_SIZE * 2 + 65536;
	bad_xz = malloc(cap);
	s.next_in = noise;
	s.avail_in = CORRUPT_SIZE;
	s.next_out = bad_xz;
	s.avail_out = cap;
	r = lzma_code(&s, LZMA_FINISH);
	if (r != LZMA_STREAM_END)
		die("encode noise", r);
	bad_len = cap - s.avail_out;
	lzma_end(&s);
	free(noise);
	noise_xz = malloc(bad_len);
	memcpy(noise_xz, bad_xz, bad_len);
	/* 0x03 is no valid LZMA2 control byte: LZMA_DATA_ERROR at once */
	bad_xz[block_data_offset(bad_xz)] = 0x03;

	outbuf = malloc(CORRUPT_SIZE + VALID_SIZE);
}

/* Decodes the valid stream; returns "ok" or a reason in buf. */
static const char *valid_round(char *buf, size_t n)
{
	lzma_stream s = LZMA_STREAM_INIT;
	decoder(&s);
	s.next_in = valid_xz;
	s.avail_in = valid_len;
	s.next_out = outbuf;
	s.avail_out = VALID_SIZE + CORRUPT_SIZE;
	lzma_ret r = lzma_code(&s, LZMA_FINISH);
	size_t got = VALID_SIZE + CORRUPT_SIZE - s.avail_out;
	lzma_end(&s);
	if (r != LZMA_STREAM_END)
		snprintf(buf, n, "BAD(%s)", ret_name(r));
	else if (got != plain_len || memcmp(outbuf, plain, plain_len) != 0)
		snprintf(buf, n, "BAD(output-differs:%zu)", got);
	else
		snprintf(buf, n, "ok");
	return buf;
}

/* lzma_memusage() after decoding xz (whole, one call); *r its result. */
static uint64_t memusage_after(const uint8_t *xz, size_t len, lzma_ret *r)
{
	lzma_stream s = LZMA_STREAM_INIT;
	decoder(&s);
	s.next_in = xz;
	s.avail_in = len;
	s.next_out = outbuf;
	s.avail_out = VALID_SIZE + CORRUPT_SIZE;
	*r = lzma_code(&s, LZMA_FINISH);
	uint64_t mem = lzma_memusage(&s);
	lzma_end(&s);
	return mem;
}

/* Decodes the corrupt stream in one call; *inbuf: what became of the failed
 * Block's input buffer. */
static lzma_ret corrupt_round(const char **inbuf)
{
	lzma_stream s = LZMA_STREAM_INIT;
	decoder(&s);
	s.next_in = bad_xz;
	s.avail_in = bad_len;
	s.next_out = outbuf;
	s.avail_out = VALID_SIZE + CORRUPT_SIZE;
	lzma_ret r = lzma_code(&s, LZMA_FINISH);
	/*
	 * The worker reports the error under the coder's mutex in the same
	 * critical section in which the unpatched code also drops the input
	 * buffer from the accounting (mem_in_use -= in_size) and returns the
	 * thread to the pool; so by now memusage shows which code ran.
	 * Reference: the same stream intact, decoded to its end, after which
	 * both versions have freed the buffer.  Unpatched, the failed decode
	 * shows the same usage; fixed, more by the Block's size (~200 KiB).
	 */
	uint64_t mem = lzma_memusage(&s);
	lzma_end(&s);
	lzma_ret rr;
	uint64_t ref = memusage_after(noise_xz, bad_len, &rr);
	if (rr != LZMA_STREAM_END)
		*inbuf = "BAD(reference-decode-failed)";
	else if (mem == ref)
		*inbuf = "released";
	else if (mem > ref + CORRUPT_SIZE / 2)
		*inbuf = "kept";
	else
		*inbuf = "BAD(unexpected-memusage)";
	return r;
}

static int crash_probe(void)
{
	lzma_stream s = LZMA_STREAM_INIT;
	decoder(&s);
	size_t first = block_data_offset(bad_xz) + 4096;
	s.next_in = bad_xz;
	s.avail_in = first;
	s.next_out = outbuf;
	s.avail_out = VALID_SIZE + CORRUPT_SIZE;
	lzma_ret r = lzma_code(&s, LZMA_RUN);
	if (r == LZMA_OK) {
		/* let the worker fail on what it has */
		usleep(300 * 1000);
		s.next_in = bad_xz + first;
		s.avail_in = bad_len - first;
		r = lzma_code(&s, LZMA_FINISH);
	}
	lzma_end(&s);
	printf("crash-probe: %s\n", ret_name(r));
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: xzloop live STATUSFILE | xzloop crash\n");
		return 2;
	}
	setup();
	if (strcmp(argv[1], "crash") == 0)
		return crash_probe();
	if (strcmp(argv[1], "live") != 0 || argc < 3) {
		fprintf(stderr, "usage: xzloop live STATUSFILE | xzloop crash\n");
		return 2;
	}
	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s.tmp", argv[2]);
	for (unsigned long round = 1;; round++) {
		char vbuf[64];
		const char *inbuf = "?";
		const char *v = valid_round(vbuf, sizeof(vbuf));
		lzma_ret r = corrupt_round(&inbuf);
		FILE *f = fopen(tmp, "w");
		if (f) {
			fprintf(f, "round=%lu valid=%s corrupt=%s inbuf=%s\n", round, v,
				ret_name(r), inbuf);
			fclose(f);
			rename(tmp, argv[2]);
		}
		/* no worker thread exists now: a window for the live patch */
		struct timespec ts = {0, 100 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}
