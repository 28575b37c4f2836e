/* The soak driver: N apply/revert cycles of `hotpatch` on a busy server
 * (tests/victims/soakd.c) while client threads check every answer.
 *
 *   soak --hotpatch BIN --server SOAKD --patch FIX.hp --id ID --dir DIR
 *        [--cycles N] [--threads 64] [--clients 4] [--reconnect 5000] [--depth 8]
 *        [--spinners 0]
 *
 * What is checked, and how:
 * - every answer: the right x, a known version (v1 or v2) and the right
 *   value for that version; one connection per server thread with `depth`
 *   requests in flight on each, so all of the server's threads answer all
 *   the time;
 * - the version is the live one: the driver keeps a phase counter `seq`
 *   (4k: v1 live, 4k+1: applying, 4k+2: v2 live, 4k+3: reverting).  A
 *   request sent and answered with no phase change in between, in a stable
 *   phase, must carry that phase's version (an old answer after apply
 *   returned, or a new one after revert returned, is wrong);
 * - crashes: the server is our child; it must be alive after every cycle;
 * - growth: VmRSS and the number of lines of /proc/PID/maps at the start
 *   (before the first apply), the middle and the end (both after a revert);
 *   the time of apply and revert by tenths of the run (a state that grows
 *   would show there too).
 *
 * Output: progress lines, then "soak: key=value ..." summary lines; exit 0
 * when the run is clean, 1 otherwise, 2 on usage. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static const char *hotpatch, *server, *patch, *patch_id, *dir;
static int cycles = 10000, nthreads = 64, nclients = 4, reconnect_every = 5000, depth = 8, spinners, port;
static pid_t spid;

static volatile unsigned long seq;	/* the phase counter, see above */
static volatile int stop_clients;
static unsigned long answers, answers_v[3], checked_v[3], wrong, conn_errors;
static char first_wrong[512];
static pthread_mutex_t report_lock = PTHREAD_MUTEX_INITIALIZER;

/* The server's mix() (tests/victims/soakd.c). */
static unsigned long mix(unsigned long x)
{
	x ^= x >> 31;
	x *= 0x7fb5d329728ea185ul;
	x ^= x >> 27;
	x *= 0x81dadef4bc2dd44dul;
	return x ^ (x >> 33);
}

static unsigned long expected(int version, unsigned long x)
{
	return version == 1 ? mix(x) : mix(x) ^ (x << 7);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void bad(const char *fmt, const char *line, unsigned long x)
{
	__atomic_fetch_add(&wrong, 1, __ATOMIC_SEQ_CST);
	pthread_mutex_lock(&report_lock);
	if (!first_wrong[0]) {
		snprintf(first_wrong, sizeof(first_wrong), fmt, x);
		strncat(first_wrong, ": '", sizeof(first_wrong) - strlen(first_wrong) - 1);
		strncat(first_wrong, line, sizeof(first_wrong) - strlen(first_wrong) - 3);
		strcat(first_wrong, "'");
	}
	pthread_mutex_unlock(&report_lock);
}

static int dial(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/* A connection and the answers read from it but not yet checked. */
struct conn {
	int fd;
	unsigned long sent;	/* requests on this connection */
	size_t have;
	char buf[4096];
};

/* Reads the next answer line of c into line. */
static int read_line(struct conn *c, char *line, size_t len)
{
	for (;;) {
		char *nl = memchr(c->buf, '\n', c->have);
		ssize_t n;

		if (nl) {
			size_t l = (size_t)(nl - c->buf);

			if (l >= len)
				return -1;
			memcpy(line, c->buf, l);
			line[l] = 0;
			memmove(c->buf, nl + 1, c->have - l - 1);
			c->have -= l + 1;
			return 0;
		}
		if (c->have == sizeof(c->buf))
			return -1;
		n = read(c->fd, c->buf + c->have, sizeof(c->buf) - c->have);
		if (n <= 0)
			return -1;
		c->have += (size_t)n;
	}
}

struct client {
	int n;			/* its connections */
	struct conn *conns;
	unsigned long next_x;
};

static void drop(struct conn *c)
{
	__atomic_fetch_add(&conn_errors, 1, __ATOMIC_SEQ_CST);
	close(c->fd);
	c->fd = -1;
}

/* One client thread: `depth` requests on each of its connections, then
 * their answers, over and over; every answer checked.  With several
 * requests in flight a server thread finds more than one in each read,
 * so it runs answer() back to back: the server's threads are busy. */
static void *client_main(void *arg)
{
	struct client *cl = arg;

	for (int i = 0; i < cl->n; i++)
		cl->conns[i].fd = -1;
	while (!stop_clients) {
		unsigned long s0[1024];
		char line[256];

		for (int i = 0; i < cl->n; i++) {
			struct conn *c = &cl->conns[i];
			char req[32 * 24];
			int len = 0;

			if (c->fd >= 0 && c->sent >= (unsigned long)reconnect_every) {
				close(c->fd);
				c->fd = -1;
			}
			if (c->fd < 0) {
				c->fd = dial();
				c->sent = c->have = 0;
				if (c->fd < 0) {
					__atomic_fetch_add(&conn_errors, 1, __ATOMIC_SEQ_CST);
					usleep(10000);
					continue;
				}
			}
			for (int k = 0; k < depth; k++)
				len += snprintf(req + len, sizeof(req) - len, "%lu\n",
						cl->next_x + (unsigned long)(i * depth + k));
			s0[i] = __atomic_load_n(&seq, __ATOMIC_SEQ_CST);
			if (write(c->fd, req, len) != len)
				drop(c);
		}
		for (int i = 0; i < cl->n; i++) {
			struct conn *c = &cl->conns[i];

			for (int k = 0; k < depth && c->fd >= 0; k++) {
				unsigned long x = cl->next_x + (unsigned long)(i * depth + k), gx, gh, s1;
				int v;
				char *end;

				if (read_line(c, line, sizeof(line)) < 0) {
					drop(c);
					break;
				}
				c->sent++;
				__atomic_fetch_add(&answers, 1, __ATOMIC_RELAXED);
				gx = strtoul(line, &end, 10);
				if (sscanf(end, " v%d %lu", &v, &gh) != 2 || (v != 1 && v != 2)) {
					bad("request %lu: not an answer", line, x);
					continue;
				}
				if (gx != x) {
					bad("request %lu: answer to another request", line, x);
					continue;
				}
				if (gh != expected(v, x)) {
					bad("request %lu: wrong value for its version", line, x);
					continue;
				}
				__atomic_fetch_add(&answers_v[v], 1, __ATOMIC_RELAXED);
				/* Sent and answered within one stable phase: the live version. */
				s1 = __atomic_load_n(&seq, __ATOMIC_SEQ_CST);
				if (s0[i] == s1 && s1 % 2 == 0) {
					int live = s1 % 4 == 0 ? 1 : 2;

					if (v != live) {
						snprintf(line, sizeof(line), "v%d answered while v%d was live (phase %lu)",
							 v, live, s1);
						bad("request %lu: the other version's code after the switch", line, x);
					} else {
						__atomic_fetch_add(&checked_v[live], 1, __ATOMIC_RELAXED);
					}
				}
			}
		}
		cl->next_x += (unsigned long)(cl->n * depth);
	}
	for (int i = 0; i < cl->n; i++)
		if (cl->conns[i].fd >= 0)
			close(cl->conns[i].fd);
	return NULL;
}

/* A thread that only burns CPU (--spinners): with more runnable threads
 * than cores, the server's threads are preempted anywhere, in the middle of
 * answer() and of what it calls, as on a loaded machine. */
static void *spin_main(void *arg)
{
	volatile unsigned long n = 0;

	while (!stop_clients)
		n++;
	return arg;
}

/* VmRSS (kB) and the number of mappings of the server. */
static void measure(long *rss_kb, long *maps, long *threads)
{
	char path[64], line[512];
	FILE *f;

	*rss_kb = *maps = *threads = -1;
	snprintf(path, sizeof(path), "/proc/%d/status", spid);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f)) {
		sscanf(line, "VmRSS: %ld", rss_kb);
		sscanf(line, "Threads: %ld", threads);
	}
	if (f)
		fclose(f);
	snprintf(path, sizeof(path), "/proc/%d/maps", spid);
	f = fopen(path, "r");
	if (f) {
		int ch;

		*maps = 0;
		while ((ch = fgetc(f)) != EOF)
			*maps += ch == '\n';
		fclose(f);
	}
}

/* Runs `hotpatch VERB ARG PID --json`; returns its exit status (-1 when it
 * could not run) and its wall time; the library's pause_ms and total_ms
 * from the JSON (-1 when absent). */
static int run_hotpatch(const char *verb, const char *arg, double *ms, double *pause_ms,
			double *total_ms)
{
	char pidbuf[16], out[4096], errf[4096], buf[8192];
	char *argv[] = { (char *)hotpatch, (char *)verb, (char *)arg, pidbuf, "--timeout", "10",
			 "--json", NULL };
	posix_spawn_file_actions_t fa;
	double t0 = now_ms();
	pid_t pid;
	int st, r;
	FILE *f;

	snprintf(pidbuf, sizeof(pidbuf), "%d", spid);
	snprintf(out, sizeof(out), "%s/hp.out", dir);
	snprintf(errf, sizeof(errf), "%s/hp.err", dir);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	posix_spawn_file_actions_addopen(&fa, 2, errf, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	r = posix_spawn(&pid, hotpatch, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (r)
		return -1;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	*ms = now_ms() - t0;
	*pause_ms = *total_ms = -1;
	f = fopen(out, "r");
	if (f) {
		size_t n = fread(buf, 1, sizeof(buf) - 1, f);
		char *p;

		buf[n] = 0;
		fclose(f);
		p = strstr(buf, "\"pause_ms\":");
		if (p)
			*pause_ms = strtod(p + 11, NULL);
		p = strstr(buf, "\"total_ms\":");
		if (p)
			*total_ms = strtod(p + 11, NULL);
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void print_err_file(const char *what, int rc)
{
	char path[4096], line[1024];
	FILE *f;

	snprintf(path, sizeof(path), "%s/hp.err", dir);
	fprintf(stderr, "soak: %s exited %d:\n", what, rc);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		fprintf(stderr, "    %s", line);
	if (f)
		fclose(f);
}

static int cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Percentile q (0..1) of v[0..n) (sorts a copy). */
static double pct(const double *v, int n, double q)
{
	double *c, r;

	if (n <= 0)
		return 0;
	c = malloc(n * sizeof(*c));
	memcpy(c, v, n * sizeof(*c));
	qsort(c, n, sizeof(*c), cmpd);
	r = c[(int)(q * (n - 1) + 0.5)];
	free(c);
	return r;
}

static int server_status = -1;	/* its wait status once it ended */

static int server_alive(void)
{
	int st;

	if (server_status != -1)
		return 0;
	if (waitpid(spid, &st, WNOHANG) == 0)
		return 1;
	server_status = st;
	if (WIFSIGNALED(st))
		fprintf(stderr, "soak: the server was killed by signal %d (%s)%s\n", WTERMSIG(st),
			strsignal(WTERMSIG(st)), WCOREDUMP(st) ? ", core dumped" : "");
	else
		fprintf(stderr, "soak: the server exited with status %d\n", WEXITSTATUS(st));
	return 0;
}

static int start_server(void)
{
	char state[4096], threads[16], line[256];
	char *argv[] = { (char *)server, state, threads, NULL };

	snprintf(state, sizeof(state), "%s/soakd.state", dir);
	snprintf(threads, sizeof(threads), "%d", nthreads);
	unlink(state);
	if (posix_spawn(&spid, server, NULL, NULL, argv, environ))
		return -1;
	for (int i = 0; i < 1000; i++) {
		FILE *f = fopen(state, "r");

		if (f) {
			int ok = fgets(line, sizeof(line), f) && sscanf(line, "ready port=%d", &port) == 1;

			fclose(f);
			if (ok)
				return 0;
		}
		if (!server_alive())
			return -1;
		usleep(10000);
	}
	return -1;
}

static void usage(void)
{
	fprintf(stderr, "usage: soak --hotpatch BIN --server SOAKD --patch FIX.hp --id ID --dir DIR\n"
			"            [--cycles N] [--threads 64] [--clients 4] [--reconnect 5000] [--depth 8]\n"
			"            [--spinners 0]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "hotpatch", 1, 0, 'H' }, { "server", 1, 0, 'S' }, { "patch", 1, 0, 'P' },
		{ "id", 1, 0, 'I' }, { "dir", 1, 0, 'D' }, { "cycles", 1, 0, 'n' },
		{ "threads", 1, 0, 't' }, { "clients", 1, 0, 'c' }, { "reconnect", 1, 0, 'r' },
		{ "depth", 1, 0, 'd' }, { "spinners", 1, 0, 's' },
		{ 0 }
	};
	long rss[3] = { -1, -1, -1 }, maps[3] = { -1, -1, -1 }, thr[3] = { -1, -1, -1 };
	double *apply_ms, *revert_ms, *apply_pause, *revert_pause, *apply_lib, *revert_lib, t_start;
	unsigned long checked_before;
	int ch, done = 0, apply_fail = 0, revert_fail = 0, crashed = 0, stuck = 0, chunk;
	struct client *cl;
	pthread_t *cth;

	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'H': hotpatch = optarg; break;
		case 'S': server = optarg; break;
		case 'P': patch = optarg; break;
		case 'I': patch_id = optarg; break;
		case 'D': dir = optarg; break;
		case 'n': cycles = atoi(optarg); break;
		case 't': nthreads = atoi(optarg); break;
		case 'c': nclients = atoi(optarg); break;
		case 'r': reconnect_every = atoi(optarg); break;
		case 'd': depth = atoi(optarg); break;
		case 's': spinners = atoi(optarg); break;
		default: usage();
		}
	}
	if (!hotpatch || !server || !patch || !patch_id || !dir || cycles < 1 || nthreads < 1 ||
	    nclients < 1 || nclients > nthreads || nthreads / nclients > 1000 || reconnect_every < 1 ||
	    depth < 1 || depth > 32 || spinners < 0 || spinners > 64)
		usage();
	signal(SIGPIPE, SIG_IGN);
	if (start_server() < 0)
		return fprintf(stderr, "soak: the server did not start\n"), 1;
	apply_ms = calloc(cycles, sizeof(double));
	revert_ms = calloc(cycles, sizeof(double));
	apply_pause = calloc(cycles, sizeof(double));
	revert_pause = calloc(cycles, sizeof(double));
	apply_lib = calloc(cycles, sizeof(double));
	revert_lib = calloc(cycles, sizeof(double));
	cl = calloc(nclients, sizeof(*cl));
	cth = calloc(nclients, sizeof(*cth));
	for (int i = 0; i < nclients; i++) {
		cl[i].n = nthreads / nclients + (i < nthreads % nclients);
		cl[i].conns = calloc(cl[i].n, sizeof(struct conn));
		cl[i].next_x = (unsigned long)i << 48;
		pthread_create(&cth[i], NULL, client_main, &cl[i]);
	}
	cth = realloc(cth, (nclients + spinners) * sizeof(*cth));
	for (int i = 0; i < spinners; i++)
		pthread_create(&cth[nclients + i], NULL, spin_main, NULL);
	sleep(1);	/* every connection open and answered */
	measure(&rss[0], &maps[0], &thr[0]);
	printf("soak: server pid %d, %ld threads, port %d; %d connections from %d client threads, %d requests in flight on each; %d cycles\n",
	       spid, thr[0] - 1, port, nthreads, nclients, depth, cycles);
	printf("soak: start: VmRSS %ld kB, %ld mappings, %lu answers in the first second\n", rss[0],
	       maps[0], answers);
	fflush(stdout);
	t_start = now_ms();
	chunk = cycles >= 10 ? cycles / 10 : 1;
	checked_before = checked_v[1] + checked_v[2];
	for (int i = 0; i < cycles; i++) {
		int rc, applied;

		__atomic_store_n(&seq, 4ul * i + 1, __ATOMIC_SEQ_CST);
		rc = run_hotpatch("apply", patch, &apply_ms[i], &apply_pause[i], &apply_lib[i]);
		applied = rc == 0;
		if (applied) {
			__atomic_store_n(&seq, 4ul * i + 2, __ATOMIC_SEQ_CST);
			usleep(5000);	/* let the clients see the patched server */
		} else {
			apply_fail++;
			print_err_file("apply", rc);
		}
		__atomic_store_n(&seq, 4ul * i + 3, __ATOMIC_SEQ_CST);
		rc = run_hotpatch("revert", patch_id, &revert_ms[i], &revert_pause[i], &revert_lib[i]);
		if (rc != 0 && !(rc == 3 && !applied)) {	/* nothing to revert after a failed apply */
			revert_fail++;
			print_err_file("revert", rc);
			done = i + 1;
			stuck = 1;	/* the state of the server is unknown: stop */
			break;
		}
		__atomic_store_n(&seq, 4ul * i + 4, __ATOMIC_SEQ_CST);
		usleep(5000);	/* and the original one */
		done = i + 1;
		if (!server_alive()) {
			crashed = 1;
			fprintf(stderr, "soak: the server died in cycle %d\n", i + 1);
			break;
		}
		if (i + 1 == cycles / 2)
			measure(&rss[1], &maps[1], &thr[1]);
		if ((i + 1) % chunk == 0 || i + 1 == cycles) {
			int from = i + 1 - chunk < 0 ? 0 : i + 1 - chunk, n = i + 1 - from;
			long r, m, t;

			measure(&r, &m, &t);
			printf("soak: cycle %5d  %6.1f s  apply %5.1f ms (lib %4.1f, pause %4.2f)  revert %5.1f ms (lib %4.1f, pause %4.2f)"
			       "  answers %9lu  wrong %lu  VmRSS %ld kB  mappings %ld\n",
			       i + 1, (now_ms() - t_start) / 1e3, pct(apply_ms + from, n, 0.5),
			       pct(apply_lib + from, n, 0.5), pct(apply_pause + from, n, 0.5),
			       pct(revert_ms + from, n, 0.5), pct(revert_lib + from, n, 0.5),
			       pct(revert_pause + from, n, 0.5), answers, wrong, r, m);
			fflush(stdout);
		}
		if (apply_fail + revert_fail > 10)
			break;
	}
	if (cycles < 2)
		measure(&rss[1], &maps[1], &thr[1]);
	measure(&rss[2], &maps[2], &thr[2]);
	stop_clients = 1;
	for (int i = 0; i < nclients + spinners; i++)
		pthread_join(cth[i], NULL);
	if (!crashed && !server_alive())
		crashed = 1;
	printf("soak: cycles=%d of %d, %.1f s\n", done, cycles, (now_ms() - t_start) / 1e3);
	printf("soak: crashes=%d apply_failures=%d revert_failures=%d\n", crashed, apply_fail, revert_fail);
	printf("soak: answers=%lu v1=%lu v2=%lu wrong=%lu connection_errors=%lu\n", answers,
	       answers_v[1], answers_v[2], wrong, conn_errors);
	printf("soak: checked against the live version: v1=%lu v2=%lu (answers sent and received within one stable phase)\n",
	       checked_v[1], checked_v[2]);
	if (first_wrong[0])
		printf("soak: first wrong answer: %s\n", first_wrong);
	printf("soak: apply ms (wall of the command): median %.1f p99 %.1f max %.1f; in the library (total_ms) median %.1f;"
	       " pause median %.2f max %.2f\n",
	       pct(apply_ms, done, 0.5), pct(apply_ms, done, 0.99), pct(apply_ms, done, 1),
	       pct(apply_lib, done, 0.5), pct(apply_pause, done, 0.5), pct(apply_pause, done, 1));
	printf("soak: revert ms (wall of the command): median %.1f p99 %.1f max %.1f; in the library (total_ms) median %.1f;"
	       " pause median %.2f max %.2f\n",
	       pct(revert_ms, done, 0.5), pct(revert_ms, done, 0.99), pct(revert_ms, done, 1),
	       pct(revert_lib, done, 0.5), pct(revert_pause, done, 0.5), pct(revert_pause, done, 1));
	printf("soak: VmRSS kB start=%ld middle=%ld end=%ld\n", rss[0], rss[1], rss[2]);
	printf("soak: mappings start=%ld middle=%ld end=%ld\n", maps[0], maps[1], maps[2]);
	printf("soak: threads start=%ld end=%ld\n", thr[0], thr[2]);
	fflush(stdout);
	if (!crashed) {
		kill(spid, SIGTERM);
		waitpid(spid, NULL, 0);
	}
	{
		/* Growth: the middle and the end are both taken right after a
		 * revert; nothing may be left behind that grows with cycles.  RSS
		 * may move by a few pages (stacks, socket buffers): 1% or 256 kB. */
		long slack = rss[1] / 100 > 256 ? rss[1] / 100 : 256;
		int grew = maps[2] > maps[1] || maps[2] > maps[0] || rss[2] > rss[1] + slack;
		int ok = !crashed && !stuck && !apply_fail && !revert_fail && !wrong && !conn_errors &&
			 !grew && done == cycles && answers_v[1] && answers_v[2] &&
			 checked_v[1] + checked_v[2] > checked_before;

		printf("soak: %s%s\n", ok ? "clean" : "NOT clean", grew ? " (the server grew)" : "");
		return ok ? 0 : 1;
	}
}
