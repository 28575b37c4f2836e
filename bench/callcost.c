/* The per-call benchmark's target: how much does a redirected function
 * cost per call against the original, in the same process, and does
 * anything else get slower?
 *
 * f() is what bench/callcost-fix.c replaces (the same code, compiled
 * apart: the only difference after apply is the jump at f's entry); g()
 * is the same code never patched (the control).  Both are called through
 * a volatile function pointer, so the call cannot be inlined, as a
 * dependent chain x = f(x) (each call waits for the last: the latency a
 * caller sees).
 *
 * Each line on stdin is a command; each answer one line on stdout:
 *   m      measure: ROUNDS alternating batches of CALLS calls of f then g;
 *          answers "f=NS g=NS d=NS": the median ns per call of each over
 *          the rounds, and the median of the rounds' differences f - g
 *          (paired: both batches of a round ran back to back)
 *   c N    make N calls of f (and N of g); answers "ok"
 * usage: callcost [CALLS [ROUNDS]] */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SAME_BODY                                      \
	uint64_t h = x * 0x9e3779b97f4a7c15ull;        \
	h ^= h >> 29;                                  \
	return h + 1;

__attribute__((noinline, noipa)) uint64_t f(uint64_t x) { SAME_BODY }
__attribute__((noinline, noipa)) uint64_t g(uint64_t x) { SAME_BODY }

static uint64_t (*volatile fp)(uint64_t) = f;
static uint64_t (*volatile gp)(uint64_t) = g;
static volatile uint64_t sink;

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static double batch(uint64_t (*fn)(uint64_t), long calls)
{
	uint64_t x = 1;
	double t0 = now_ns();

	for (long i = 0; i < calls; i++)
		x = fn(x);
	sink = x;
	return (now_ns() - t0) / calls;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	long calls = argc > 1 ? atol(argv[1]) : 1000000, rounds = argc > 2 ? atol(argv[2]) : 101;
	double *tf = calloc(rounds, sizeof(double)), *tg = calloc(rounds, sizeof(double));
	double *td = calloc(rounds, sizeof(double));
	char line[128];

	setvbuf(stdout, NULL, _IOLBF, 0);
	while (fgets(line, sizeof(line), stdin)) {
		if (line[0] == 'm') {
			for (long r = 0; r < rounds; r++) {
				tf[r] = batch(fp, calls);
				tg[r] = batch(gp, calls);
				td[r] = tf[r] - tg[r];
			}
			qsort(tf, rounds, sizeof(double), cmp);
			qsort(tg, rounds, sizeof(double), cmp);
			qsort(td, rounds, sizeof(double), cmp);
			printf("f=%.4f g=%.4f d=%.4f\n", tf[rounds / 2], tg[rounds / 2], td[rounds / 2]);
		} else if (line[0] == 'c') {
			long n = atol(line + 1);

			batch(fp, n);
			batch(gp, n);
			printf("ok\n");
		} else {
			printf("?\n");
		}
	}
	return 0;
}
