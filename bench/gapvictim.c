/* The benchmark's target: N worker threads call work() in a loop (busy),
 * call it and sleep 1 ms (idle), or call hot() in a loop (hot: a contended
 * atomic increment and a call of work(), so that nearly every thread is
 * inside hot() at any moment), and each records the longest gap between
 * two of its iterations in a shared file the benchmark reads: the pause as
 * the process itself feels it.  Writing a new generation number into the
 * file makes every worker start a fresh maximum.
 *
 * usage: gapvictim FILE THREADS busy|idle|hot */
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define MAX_THREADS 1024

struct shared {
	volatile uint64_t generation;	/* written by the benchmark */
	volatile uint64_t ready;
	volatile uint64_t bad;		/* wrong results of work() */
	volatile uint64_t gap_ns[MAX_THREADS];
};

static struct shared *sh;
static int idle, hot_mode;
uint64_t hot_hits;

__attribute__((noinline)) uint64_t work(uint64_t x)
{
	/* A few dozen instructions: long enough for a jump, short enough to be hot. */
	uint64_t h = x * 0x9e3779b97f4a7c15ull;

	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ull;
	return h ^ (h >> 32);
}

__attribute__((noinline)) uint64_t hot(uint64_t x)
{
	__atomic_add_fetch(&hot_hits, 1, __ATOMIC_SEQ_CST);
	return work(x);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static uint64_t expected(uint64_t x)
{
	uint64_t h = x * 0x9e3779b97f4a7c15ull;

	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ull;
	return h ^ (h >> 32);
}

static void *worker(void *arg)
{
	size_t i = (size_t)arg;
	uint64_t gen = sh->generation, last = now_ns(), x = i;
	struct timespec ms = { 0, 1000000 };

	for (;;) {
		uint64_t t, g;

		if ((hot_mode ? hot(x) : work(x)) != expected(x))
			__atomic_fetch_add(&sh->bad, 1, __ATOMIC_RELAXED);
		x++;
		if (idle)
			nanosleep(&ms, NULL);
		t = now_ns();
		g = t - last - (idle ? 1000000 : 0);
		last = t;
		if (sh->generation != gen) {
			gen = sh->generation;
			sh->gap_ns[i] = 0;
			continue;
		}
		if ((int64_t)g > (int64_t)sh->gap_ns[i])
			sh->gap_ns[i] = g;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	int n, fd;
	pthread_t th;

	if (argc != 4)
		return fprintf(stderr, "usage: gapvictim FILE THREADS busy|idle|hot\n"), 2;
	n = atoi(argv[2]);
	idle = !strcmp(argv[3], "idle");
	hot_mode = !strcmp(argv[3], "hot");
	if (n < 1 || n > MAX_THREADS)
		return 2;
	fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, sizeof(*sh)) < 0)
		return perror("gapvictim"), 1;
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (sh == MAP_FAILED)
		return 1;
	for (int i = 0; i < n; i++)
		pthread_create(&th, NULL, worker, (void *)(size_t)i);
	sh->ready = 1;
	pause();
	return 0;
}
