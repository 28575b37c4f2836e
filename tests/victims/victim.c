/* victim — the program the integration tests patch while it runs.
 *
 *   victim --ctl SOCK [--mode busy|sleepy|churn|cold|hot] [--threads N] [--sleep-ms MS]
 *          [--out-ms MS] [--nice N] [--signals] [--lib SO] [--max-seconds S]
 *          [--leader-exits]
 *   victim --ctl SOCK --query [CMD]        (client: prints the answer line)
 *
 * The functions below marked PATCHABLE are what the patches in tests/patches/
 * replace.  Every result is checked against the answers of all known versions;
 * anything else counts as an error:
 *
 *   compute(x)          v0: 2x+1   v1: 3x+7   v2: 5x+11   v3: 7x+3
 *   compute_slow(x,ms)  same formulas; v0 sleeps ms milliseconds inside first
 *   compute_cold(x,ms)  same formulas; v0 sleeps in its .cold part when ms
 *   tag(x,buf,n)        v0: "t0:<x>"           v1: "t1:<x>:<scramble(x)>"
 *                       both bump the file-static `counter` once per call
 *   compute_hot(x)      v0: 2x+1   v1: 3x+7; bumps the file-static `hot_hits`
 *                       (one cache line every worker fights for) and calls
 *                       hot_double(): a thread is almost always inside it
 *
 * busy mode:   workers call compute() and tag() in a tight loop.
 * churn mode:  like busy, but each worker runs its calls in a succession of
 *              short-lived threads (200 calls each): threads come and go
 *              all the time.
 * sleepy mode: workers call compute_slow(x, --sleep-ms), then sleep --out-ms
 *              outside of it (the first call starts before "ready").
 * cold mode:   the same with compute_cold(): the sleep is in compute_cold.cold.
 * hot mode:    workers call compute_hot() in a tight loop, nothing else:
 *              the busy program that a run-to-safe-point must get out of
 *              the function (hprobe: what compute_hot answers now).
 *
 * A control thread answers on the UNIX stream socket --ctl, one command per
 * connection: "status" (the default) answers one line
 *   version=V tag=G lversion=L probe=P sprobe=S cprobe=C tprobe=Q lprobe=R errors=E
 *   calls=C counter=K counter_ok=B lcounter_ok=B threads=T inside=I signals=S mode=M pid=N
 * version / tag: the version that answered the latest call of every worker
 * ("mixed" while they disagree, "none" before any call returned);
 * probe / sprobe / cprobe / tprobe: the version compute / compute_slow(x,0) /
 * compute_cold(x,0) / tag
 * answer right now, called from the control thread;
 * lversion / lprobe: the same for lib_compute() of the library that --lib
 * dlopen()s (tests/victims/shlib/libvictim.c), "none" / -1 without --lib;
 * calls: calls the workers completed (tag() in busy and churn modes,
 * compute_slow() / compute_cold() in sleepy / cold mode);
 * counter_ok: 1 when `counter` is consistent with the calls counted by the
 * callers of tag() (it can only be ahead by the calls in flight);
 * lcounter_ok: the same for the library's static call counter (-1 without
 * --lib);
 * threads: workers running; inside: sleepy/cold workers inside their call now;
 * signals: SIGUSR1 handled (--signals: a thread sends them to the workers
 * one at a time and counts an error when one is not handled within 3 s).
 *
 * --leader-exits: once ready, the main thread calls pthread_exit(): a zombie
 * thread-group leader while the workers and the control thread run on (a
 * thread of its own waits for the end signals).
 *
 * The workers run at nice --nice (default 19), the rest at the caller's.
 * The socket is created once all workers run, then "ready" is printed.
 * SIGTERM / SIGINT / SIGHUP (and --max-seconds, and the death of the parent)
 * end it cleanly: exit status 0 when no error was seen, 1 otherwise.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define PATCHABLE __attribute__((noinline, noclone, noipa, used))

static volatile int stop;
static unsigned long errors;

static void report_error(const char *fmt, ...)
{
	unsigned long n = __atomic_add_fetch(&errors, 1, __ATOMIC_SEQ_CST);
	if (n <= 10) {
		va_list ap;
		va_start(ap, fmt);
		fprintf(stderr, "victim: error: ");
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
		va_end(ap);
	}
}

/* ---- what the patches see ------------------------------------------------ */

/* File-static state the patches reach with `extern`: must keep its value
 * across every apply and revert. */
static unsigned long counter;

/* A static helper (the patch of tag() calls it). */
static __attribute__((noinline, noclone, noipa, used)) unsigned long scramble(unsigned long x)
{
	x ^= x >> 7;
	x *= 0x9e3779b97f4a7c15UL;
	return x >> 40;
}

/* Sleeps ms milliseconds in chunks of at most 10 ms, so that a stop request
 * is noticed quickly. */
static __attribute__((noinline, noclone, noipa)) void nap(unsigned ms)
{
	struct timespec now, end;
	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += ms / 1000;
	end.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (end.tv_nsec >= 1000000000L) {
		end.tv_sec++;
		end.tv_nsec -= 1000000000L;
	}
	while (!stop) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		long left_ns = (end.tv_sec - now.tv_sec) * 1000000000L + (end.tv_nsec - now.tv_nsec);
		if (left_ns <= 0)
			break;
		struct timespec ts = {0, left_ns > 10000000L ? 10000000L : left_ns};
		nanosleep(&ts, NULL);
	}
}

PATCHABLE long compute(long x)
{
	/* a few dependent steps: the body is well over the 5 bytes of a jump */
	long a = x * 2;
	__asm__ volatile("" : "+r"(a));
	a += 1;
	__asm__ volatile("" : "+r"(a));
	return a;
}

PATCHABLE long compute_slow(long x, unsigned ms)
{
	if (ms)
		nap(ms);
	long a = x * 2;
	__asm__ volatile("" : "+r"(a));
	return a + 1;
}

/* The unlikely branch of compute_cold() goes to a separate piece of code,
 * compute_cold.cold in .text.unlikely, as gcc does for error paths: a thread
 * asleep in it is inside compute_cold() though its PC and return address
 * are outside [compute_cold, +size). */
static __attribute__((cold, noinline, noclone, noipa)) void cold_nap(unsigned ms)
{
	nap(ms);
}

PATCHABLE long compute_cold(long x, unsigned ms)
{
	long a = x * 2;
	if (__builtin_expect(ms != 0, 0)) {
		cold_nap(ms);
		a = x * 2;
		__asm__ volatile("" : "+r"(a));
	}
	return a + 1;
}

static unsigned long hot_hits;

static __attribute__((noinline, noclone, noipa, used)) long hot_double(long x)
{
	long a = x;
	__asm__ volatile("" : "+r"(a));
	return a * 2;
}

PATCHABLE long compute_hot(long x)
{
	__atomic_add_fetch(&hot_hits, 1, __ATOMIC_SEQ_CST);
	return hot_double(x) + 1;
}

PATCHABLE int tag(long x, char *buf, size_t n)
{
	__atomic_add_fetch(&counter, 1, __ATOMIC_SEQ_CST);
	return snprintf(buf, n, "t0:%ld", x);
}

/* ---- checking ---------------------------------------------------------- */

static int compute_version(long x, long r)
{
	if (r == 2 * x + 1)
		return 0;
	if (r == 3 * x + 7)
		return 1;
	if (r == 5 * x + 11)
		return 2;
	if (r == 7 * x + 3)
		return 3;
	return -1;
}

static int tag_version(long x, const char *buf, int len)
{
	char want[64];
	snprintf(want, sizeof(want), "t0:%ld", x);
	if (!strcmp(buf, want))
		return len == (int)strlen(buf) ? 0 : -1;
	snprintf(want, sizeof(want), "t1:%ld:%lu", x, scramble((unsigned long)x));
	if (!strcmp(buf, want))
		return len == (int)strlen(buf) ? 1 : -1;
	return -1;
}

/* ---- workers ----------------------------------------------------------- */

enum { MODE_BUSY, MODE_SLEEPY, MODE_CHURN, MODE_COLD, MODE_HOT };
static const char *const mode_names[] = {"busy", "sleepy", "churn", "cold", "hot"};

struct worker {
	pthread_t th;
	int idx;
	int running;
	int last_v;		/* version of the latest compute / compute_slow, -1: none yet */
	int last_tv;		/* version of the latest tag, -1: none yet */
	int last_lv;		/* version of the latest lib_compute, -1: none yet */
	int in_call;		/* sleepy: inside compute_slow() now */
	unsigned long calls;	/* tag() calls that returned (busy) / compute_slow calls (sleepy) */
} __attribute__((aligned(64)));

static int mode = MODE_BUSY;
static int nthreads = 1;
static unsigned sleep_ms = 50, out_ms = 0;
static int out_ms_set;
static int worker_nice = 19;
static int with_signals;
static long (*lib_fn)(long);	/* --lib: lib_compute() of a dlopen()ed library */
static unsigned long (*lib_count_fn)(void);	/* and its lib_call_count() */
static unsigned long sig_handled, sig_sent;
static struct worker *workers;
static unsigned long ctl_calls;	/* tag() calls of the control thread */
static int started;

static unsigned long rnd(unsigned long *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* One checked call of compute() and of tag() (busy and churn modes). */
static void busy_call(struct worker *w, unsigned long *seed)
{
	char buf[64];
	long x = (long)(rnd(seed) & 0xfffff);
	long r = compute(x);
	int v = compute_version(x, r);
	if (v < 0)
		report_error("compute(%ld) = %ld, matches no version", x, r);
	__atomic_store_n(&w->last_v, v, __ATOMIC_RELEASE);

	buf[0] = 0;
	int n = tag(x, buf, sizeof(buf));
	int tv = tag_version(x, buf, n);
	if (tv < 0)
		report_error("tag(%ld) = %d \"%.40s\", matches no version", x, n, buf);
	__atomic_store_n(&w->last_tv, tv, __ATOMIC_RELEASE);
	if (lib_fn) {
		r = lib_fn(x);
		v = compute_version(x, r);
		if (v < 0)
			report_error("lib_compute(%ld) = %ld, matches no version", x, r);
		__atomic_store_n(&w->last_lv, v, __ATOMIC_RELEASE);
	}
	__atomic_store_n(&w->calls, w->calls + 1, __ATOMIC_SEQ_CST);
}

/* churn mode: a short-lived thread makes 200 calls and exits. */
static void *churn_child(void *arg)
{
	struct worker *w = arg;
	unsigned long seed = 0x9876543UL + w->calls * 31UL + (unsigned long)w->idx;
	for (int i = 0; i < 200 && !stop; i++)
		busy_call(w, &seed);
	return NULL;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	unsigned long seed = 0x1234567UL + (unsigned long)w->idx * 7919UL;

	/* Low priority, so that 128 busy workers on 2 CPUs do not starve the
	 * control thread, the tests and hotpatch. */
	if (worker_nice)
		setpriority(PRIO_PROCESS, (id_t)gettid(), worker_nice);
	__atomic_store_n(&w->running, 1, __ATOMIC_SEQ_CST);
	__atomic_add_fetch(&started, 1, __ATOMIC_SEQ_CST);
	if ((mode == MODE_SLEEPY || mode == MODE_COLD) && w->idx && out_ms) {
		/* spread the threads' phases */
		nap((unsigned)(rnd(&seed) % (sleep_ms + out_ms)));
	}
	while (!stop) {
		if (mode == MODE_BUSY) {
			busy_call(w, &seed);
		} else if (mode == MODE_HOT) {
			long x = (long)(rnd(&seed) & 0xfffff);
			int v = compute_version(x, compute_hot(x));
			if (v < 0)
				report_error("compute_hot(%ld) matches no version", x);
			__atomic_store_n(&w->last_v, v, __ATOMIC_RELEASE);
			__atomic_store_n(&w->calls, w->calls + 1, __ATOMIC_RELAXED);
		} else if (mode == MODE_CHURN) {
			pthread_t th;
			pthread_attr_t at;
			pthread_attr_init(&at);
			pthread_attr_setstacksize(&at, 64 * 1024);
			int e = pthread_create(&th, &at, churn_child, w);
			pthread_attr_destroy(&at);
			if (e) {
				report_error("pthread_create: %s", strerror(e));
				nap(10);
				continue;
			}
			pthread_join(th, NULL);
		} else {
			long x = (long)(rnd(&seed) & 0xfffff);
			__atomic_store_n(&w->in_call, 1, __ATOMIC_SEQ_CST);
			long r = mode == MODE_COLD ? compute_cold(x, sleep_ms) : compute_slow(x, sleep_ms);
			__atomic_store_n(&w->in_call, 0, __ATOMIC_SEQ_CST);
			int v = compute_version(x, r);
			if (v < 0)
				report_error("%s(%ld) = %ld, matches no version",
					     mode == MODE_COLD ? "compute_cold" : "compute_slow", x, r);
			__atomic_store_n(&w->last_v, v, __ATOMIC_RELEASE);
			__atomic_store_n(&w->calls, w->calls + 1, __ATOMIC_SEQ_CST);
			if (out_ms)
				nap(out_ms);
		}
	}
	__atomic_store_n(&w->running, 0, __ATOMIC_SEQ_CST);
	return NULL;
}

/* --signals: SIGUSR1 to one worker after the other, each time waiting until
 * the handler has run: a signal that hotpatch swallows shows as an error. */
static void on_usr1(int sig)
{
	__atomic_add_fetch(&sig_handled, 1, __ATOMIC_SEQ_CST);
}

static void *signaler_main(void *arg)
{
	for (int i = 0; !stop; i = (i + 1) % nthreads) {
		if (!__atomic_load_n(&workers[i].running, __ATOMIC_SEQ_CST)) {
			nap(1);
			continue;
		}
		unsigned long want = __atomic_load_n(&sig_handled, __ATOMIC_SEQ_CST) + 1;
		if (pthread_kill(workers[i].th, SIGUSR1))
			continue;
		__atomic_add_fetch(&sig_sent, 1, __ATOMIC_SEQ_CST);
		int waited = 0;
		while (__atomic_load_n(&sig_handled, __ATOMIC_SEQ_CST) < want && !stop) {
			struct timespec ts = {0, 100000};
			nanosleep(&ts, NULL);
			if (++waited == 30000) {	/* about 3 s or more */
				report_error("SIGUSR1 #%lu to worker %d not handled after 3 s", want, i);
				break;
			}
		}
	}
	return NULL;
}

static unsigned long worker_calls(void)
{
	unsigned long c = 0;
	for (int i = 0; i < nthreads; i++)
		c += __atomic_load_n(&workers[i].calls, __ATOMIC_SEQ_CST);
	return c;
}

/* every call of tag() that returned: the workers' and the control thread's */
static unsigned long total_calls(void)
{
	unsigned long c = __atomic_load_n(&ctl_calls, __ATOMIC_SEQ_CST);
	return c + worker_calls();
}

/* which: 0 compute/compute_slow, 1 tag, 2 lib_compute */
static void agg_version(int which, char *out, size_t n)
{
	int v = -2, mixed = 0;
	for (int i = 0; i < nthreads; i++) {
		int *p = which == 1 ? &workers[i].last_tv : which == 2 ? &workers[i].last_lv : &workers[i].last_v;
		int x = __atomic_load_n(p, __ATOMIC_ACQUIRE);
		if (v == -2)
			v = x;
		else if (v != x)
			mixed = 1;
	}
	if (mixed)
		snprintf(out, n, "mixed");
	else if (v < 0)
		snprintf(out, n, "none");
	else
		snprintf(out, n, "%d", v);
}

/* ---- control channel ----------------------------------------------------- */

static void answer_status(char *out, size_t n)
{
	static unsigned long pseed = 0xdeadbeefUL;
	char buf[64], ver[16], tver[16], lver[16];

	/* counter is bumped inside tag() before the caller counts the call:
	 * calls(before) <= counter <= calls(after) + calls in flight */
	unsigned long c1 = total_calls();
	unsigned long k = __atomic_load_n(&counter, __ATOMIC_SEQ_CST);
	unsigned long c2 = total_calls();
	/* workers do not call tag() */
	int idle = mode == MODE_SLEEPY || mode == MODE_COLD || mode == MODE_HOT;
	int counter_ok = idle ? (k == ctl_calls) : (c1 <= k && k <= c2 + (unsigned long)nthreads);
	if (!counter_ok)
		fprintf(stderr, "victim: counter %lu inconsistent with calls %lu..%lu\n", k, c1, c2);
	/* the same for hot_hits and the calls of compute_hot() */
	static unsigned long ctl_hot;
	c1 = ctl_hot + (mode == MODE_HOT ? worker_calls() : 0);
	k = __atomic_load_n(&hot_hits, __ATOMIC_SEQ_CST);
	c2 = ctl_hot + (mode == MODE_HOT ? worker_calls() : 0);
	int hot_ok = c1 <= k && k <= c2 + (unsigned long)nthreads;
	if (!hot_ok)
		fprintf(stderr, "victim: hot_hits %lu inconsistent with calls %lu..%lu\n", k, c1, c2);
	/* the same for the library's static counter of lib_compute() calls */
	int lcounter_ok = -1;
	if (lib_fn) {
		c1 = total_calls();
		k = lib_count_fn();
		c2 = total_calls();
		lcounter_ok = idle ? (k == ctl_calls) : (c1 <= k && k <= c2 + (unsigned long)nthreads);
		if (!lcounter_ok)
			fprintf(stderr, "victim: lib counter %lu inconsistent with calls %lu..%lu\n", k, c1, c2);
	}

	long x = (long)(rnd(&pseed) & 0xfffff);
	long r = compute(x);
	int probe = compute_version(x, r);
	if (probe < 0)
		report_error("probe: compute(%ld) = %ld", x, r);
	r = compute_slow(x, 0);
	int sprobe = compute_version(x, r);
	if (sprobe < 0)
		report_error("probe: compute_slow(%ld, 0) = %ld", x, r);
	r = compute_hot(x);
	ctl_hot++;
	int hprobe = compute_version(x, r);
	if (hprobe < 0)
		report_error("probe: compute_hot(%ld) = %ld", x, r);
	r = compute_cold(x, 0);
	int cprobe = compute_version(x, r);
	if (cprobe < 0)
		report_error("probe: compute_cold(%ld, 0) = %ld", x, r);
	buf[0] = 0;
	int len = tag(x, buf, sizeof(buf));
	int tprobe = tag_version(x, buf, len);
	if (tprobe < 0)
		report_error("probe: tag(%ld) = %d \"%.40s\"", x, len, buf);
	__atomic_add_fetch(&ctl_calls, 1, __ATOMIC_SEQ_CST);
	int lprobe = -1;
	if (lib_fn) {
		r = lib_fn(x);
		lprobe = compute_version(x, r);
		if (lprobe < 0)
			report_error("probe: lib_compute(%ld) = %ld", x, r);
	}

	int alive = 0, inside = 0;
	for (int i = 0; i < nthreads; i++) {
		alive += __atomic_load_n(&workers[i].running, __ATOMIC_SEQ_CST);
		inside += __atomic_load_n(&workers[i].in_call, __ATOMIC_SEQ_CST);
	}
	agg_version(0, ver, sizeof(ver));
	if (!idle)
		agg_version(1, tver, sizeof(tver));
	else
		snprintf(tver, sizeof(tver), "none");
	if (lib_fn && !idle)
		agg_version(2, lver, sizeof(lver));
	else
		snprintf(lver, sizeof(lver), "none");
	snprintf(out, n,
		 "version=%s tag=%s lversion=%s probe=%d sprobe=%d cprobe=%d tprobe=%d lprobe=%d errors=%lu "
		 "calls=%lu counter=%lu "
		 "counter_ok=%d lcounter_ok=%d threads=%d inside=%d signals=%lu mode=%s pid=%d "
		 "hprobe=%d hot_ok=%d\n",
		 ver, tver, lver, probe, sprobe, cprobe, tprobe, lprobe, __atomic_load_n(&errors, __ATOMIC_SEQ_CST),
		 worker_calls(), __atomic_load_n(&counter, __ATOMIC_SEQ_CST), counter_ok,
		 lcounter_ok, alive,
		 inside, __atomic_load_n(&sig_handled, __ATOMIC_SEQ_CST), mode_names[mode],
		 (int)getpid(), hprobe, hot_ok);
}

static int listen_fd = -1;
static int leader_exits;
static pthread_t sig_th;
static sigset_t end_set;	/* the signals that end it, blocked in every thread */
static const char *ctl_path;

static void *ctl_main(void *arg)
{
	for (;;) {
		int fd = accept(listen_fd, NULL, NULL);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return NULL;
		}
		char cmd[128];
		size_t got = 0;
		while (got < sizeof(cmd) - 1) {
			ssize_t k = read(fd, cmd + got, sizeof(cmd) - 1 - got);
			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0)
				break;
			got += (size_t)k;
			if (memchr(cmd, '\n', got))
				break;
		}
		cmd[got] = 0;
		cmd[strcspn(cmd, "\r\n")] = 0;
		char out[512];
		if (!cmd[0] || !strcmp(cmd, "status"))
			answer_status(out, sizeof(out));
		else if (!strcmp(cmd, "ping"))
			snprintf(out, sizeof(out), "pong\n");
		else
			snprintf(out, sizeof(out), "unknown command\n");
		size_t len = strlen(out), off = 0;
		while (off < len) {
			ssize_t k = write(fd, out + off, len - off);
			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0)
				break;
			off += (size_t)k;
		}
		close(fd);
	}
}

static int query(const char *path, const char *cmd)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "victim: socket path too long\n");
		return 2;
	}
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "victim: connect %s: %s\n", path, strerror(errno));
		return 1;
	}
	struct timeval tv = {10, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	char line[160];
	snprintf(line, sizeof(line), "%s\n", cmd);
	if (write(fd, line, strlen(line)) < 0) {
		fprintf(stderr, "victim: write: %s\n", strerror(errno));
		return 1;
	}
	char buf[1024];
	size_t got = 0;
	for (;;) {
		ssize_t k = read(fd, buf + got, sizeof(buf) - 1 - got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			fprintf(stderr, "victim: read: %s\n", strerror(errno));
			return 1;
		}
		if (k == 0 || got + (size_t)k >= sizeof(buf) - 1) {
			got += (size_t)(k > 0 ? k : 0);
			break;
		}
		got += (size_t)k;
	}
	close(fd);
	if (!got) {
		fprintf(stderr, "victim: empty answer\n");
		return 1;
	}
	fwrite(buf, 1, got, stdout);
	return 0;
}

/* Waits for the end (a signal, --max-seconds) and exits the process. */
static void *ender_main(void *arg)
{
	int sig = 0;
	sigwait(&end_set, &sig);
	stop = 1;

	/* Give the workers a moment to finish their current call. */
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += 2;
	for (int i = 0; i < nthreads; i++)
		pthread_timedjoin_np(workers[i].th, NULL, &dl);
	if (with_signals)
		pthread_timedjoin_np(sig_th, NULL, &dl);
	unlink(ctl_path);
	unsigned long e = __atomic_load_n(&errors, __ATOMIC_SEQ_CST);
	printf("exit signal=%d errors=%lu calls=%lu counter=%lu\n", sig, e, worker_calls(),
	       __atomic_load_n(&counter, __ATOMIC_SEQ_CST));
	fflush(stdout);
	_exit(e ? 1 : 0);
	return arg;
}

static void usage(void)
{
	fprintf(stderr, "usage: victim --ctl SOCK [--mode busy|sleepy|churn|cold|hot] [--threads N] [--sleep-ms MS]\n"
			"              [--out-ms MS] [--nice N] [--signals] [--lib SO] [--max-seconds S]\n"
			"              [--leader-exits]\n"
			"       victim --ctl SOCK --query [CMD]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *ctl = NULL;
	int do_query = 0;
	const char *qcmd = "status";
	unsigned max_seconds = 600;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--ctl") && v)
			ctl = v, i++;
		else if (!strcmp(a, "--query")) {
			do_query = 1;
			if (v && v[0] != '-')
				qcmd = v, i++;
		} else if (!strcmp(a, "--mode") && v) {
			if (!strcmp(v, "busy"))
				mode = MODE_BUSY;
			else if (!strcmp(v, "sleepy"))
				mode = MODE_SLEEPY;
			else if (!strcmp(v, "churn"))
				mode = MODE_CHURN;
			else if (!strcmp(v, "cold"))
				mode = MODE_COLD;
			else if (!strcmp(v, "hot"))
				mode = MODE_HOT;
			else
				usage();
			i++;
		} else if (!strcmp(a, "--threads") && v)
			nthreads = atoi(v), i++;
		else if (!strcmp(a, "--sleep-ms") && v)
			sleep_ms = (unsigned)atoi(v), i++;
		else if (!strcmp(a, "--out-ms") && v)
			out_ms = (unsigned)atoi(v), out_ms_set = 1, i++;
		else if (!strcmp(a, "--lib") && v) {
			void *h = dlopen(v, RTLD_NOW);
			if (!h || !(lib_fn = (long (*)(long))dlsym(h, "lib_compute")) ||
			    !(lib_count_fn = (unsigned long (*)(void))dlsym(h, "lib_call_count"))) {
				fprintf(stderr, "victim: %s: %s\n", v, dlerror());
				return 1;
			}
			i++;
		} else if (!strcmp(a, "--signals"))
			with_signals = 1;
		else if (!strcmp(a, "--leader-exits"))
			leader_exits = 1;
		else if (!strcmp(a, "--nice") && v)
			worker_nice = atoi(v), i++;
		else if (!strcmp(a, "--max-seconds") && v)
			max_seconds = (unsigned)atoi(v), i++;
		else
			usage();
	}
	if (!ctl || nthreads < 1 || nthreads > 1024)
		usage();
	if (do_query)
		return query(ctl, qcmd);
	if ((mode == MODE_SLEEPY || mode == MODE_COLD) && !out_ms_set)
		out_ms = sleep_ms;

	/* Never outlive the test that started us. */
	pid_t parent = getppid();
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)
		return 1;

	sigemptyset(&end_set);
	sigaddset(&end_set, SIGTERM);
	sigaddset(&end_set, SIGINT);
	sigaddset(&end_set, SIGHUP);
	sigaddset(&end_set, SIGALRM);
	pthread_sigmask(SIG_BLOCK, &end_set, NULL);
	ctl_path = ctl;
	signal(SIGPIPE, SIG_IGN);

	workers = aligned_alloc(64, sizeof(*workers) * (size_t)nthreads);
	if (!workers)
		return 1;
	memset(workers, 0, sizeof(*workers) * (size_t)nthreads);
	for (int i = 0; i < nthreads; i++) {
		workers[i].idx = i;
		workers[i].last_v = workers[i].last_tv = workers[i].last_lv = -1;
		pthread_attr_t at;
		pthread_attr_init(&at);
		pthread_attr_setstacksize(&at, 256 * 1024);
		int e = pthread_create(&workers[i].th, &at, worker_main, &workers[i]);
		pthread_attr_destroy(&at);
		if (e) {
			fprintf(stderr, "victim: pthread_create: %s\n", strerror(e));
			return 1;
		}
	}
	while (__atomic_load_n(&started, __ATOMIC_SEQ_CST) < nthreads)
		usleep(1000);
	if (with_signals) {
		struct sigaction sa;
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_usr1;
		sa.sa_flags = SA_RESTART;
		sigaction(SIGUSR1, &sa, NULL);
		if (pthread_create(&sig_th, NULL, signaler_main, NULL)) {
			fprintf(stderr, "victim: pthread_create failed\n");
			return 1;
		}
	}

	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(ctl) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "victim: socket path too long\n");
		return 1;
	}
	strcpy(sa.sun_path, ctl);
	unlink(ctl);
	listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(listen_fd, 16) < 0) {
		fprintf(stderr, "victim: socket %s: %s\n", ctl, strerror(errno));
		return 1;
	}
	pthread_t ctl_th;
	if (pthread_create(&ctl_th, NULL, ctl_main, NULL)) {
		fprintf(stderr, "victim: pthread_create failed\n");
		return 1;
	}
	printf("ready pid=%d threads=%d mode=%s\n", (int)getpid(), nthreads,
	       mode_names[mode]);
	fflush(stdout);

	alarm(max_seconds);
	if (leader_exits) {
		pthread_t th;
		if (pthread_create(&th, NULL, ender_main, NULL)) {
			fprintf(stderr, "victim: pthread_create failed\n");
			return 1;
		}
		pthread_exit(NULL);
	}
	ender_main(NULL);
	return 0;
}
