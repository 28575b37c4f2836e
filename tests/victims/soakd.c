/* soakd — the server of the soak (tests/soak/): THREADS threads (default 64)
 * answer requests on 127.0.0.1 while hotpatch applies and reverts a patch
 * of answer() thousands of times.  The client (tests/soak/soak.c) checks
 * every answer against the code that is live.
 *
 *   soakd STATEFILE [THREADS]
 *
 * Protocol: one request per line, "<x>\n" (x a decimal u64); the answer is
 * the line answer() writes:
 *     v1 (this file):               "<x> v1 <mix(x)>"
 *     v2 (tests/soak/soakd_v2.c):   "<x> v2 <mix(x) ^ (x << 7)>"
 * answer() bumps the file-static `served` and calls mix(), both of the
 * server's binary: the patch reaches them through its relocations.
 *
 * Every thread accepts a connection on the shared socket and serves it
 * until the client closes it; the client keeps one connection per thread
 * busy, so all threads run answer() all the time.  STATEFILE gets
 * "ready port=P pid=N threads=T" once all threads run (written aside and
 * renamed).  It ends with its parent (PR_SET_PDEATHSIG) or on SIGTERM. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define PATCHABLE __attribute__((noinline, noclone, noipa, used))

static int listen_fd;
static unsigned long served;
static unsigned long started;

/* Not replaced: the patch calls it in the server. */
PATCHABLE unsigned long mix(unsigned long x)
{
	x ^= x >> 31;
	x *= 0x7fb5d329728ea185ul;
	x ^= x >> 27;
	x *= 0x81dadef4bc2dd44dul;
	return x ^ (x >> 33);
}

/* Replaced by tests/soak/soakd_v2.c. */
PATCHABLE int answer(unsigned long x, char *buf, size_t len)
{
	__atomic_fetch_add(&served, 1, __ATOMIC_RELAXED);
	return snprintf(buf, len, "%lu v1 %lu\n", x, mix(x));
}

static void serve(int fd)
{
	char in[4096], out[8192];
	size_t have = 0;

	for (;;) {
		ssize_t n = read(fd, in + have, sizeof(in) - 1 - have);
		size_t olen = 0, start = 0;

		if (n <= 0)
			break;
		have += (size_t)n;
		for (size_t i = 0; i < have; i++) {
			if (in[i] != '\n')
				continue;
			in[i] = 0;
			if (olen + 64 > sizeof(out))
				break;	/* cannot happen: requests come one per answer */
			olen += (size_t)answer(strtoul(in + start, NULL, 10), out + olen,
					       sizeof(out) - olen);
			start = i + 1;
		}
		memmove(in, in + start, have - start);
		have -= start;
		if (have == sizeof(in) - 1)
			break;	/* a line longer than any request */
		for (size_t off = 0; off < olen;) {
			ssize_t w = write(fd, out + off, olen - off);

			if (w <= 0)
				goto out;
			off += (size_t)w;
		}
	}
out:
	close(fd);
}

static void *server_thread(void *arg)
{
	__atomic_fetch_add(&started, 1, __ATOMIC_SEQ_CST);
	for (;;) {
		int fd = accept(listen_fd, NULL, NULL), one = 1;

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			perror("soakd: accept");
			exit(1);
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		serve(fd);
	}
	return arg;
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t salen = sizeof(sa);
	int threads = argc > 2 ? atoi(argv[2]) : 64;
	char tmp[4096];
	pthread_t th;
	FILE *f;

	if (argc < 2 || argc > 3 || threads < 1 || threads > 1024)
		return fprintf(stderr, "usage: soakd STATEFILE [THREADS]\n"), 2;
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	signal(SIGPIPE, SIG_IGN);
	listen_fd = socket(AF_INET, SOCK_STREAM, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(listen_fd, 1024) < 0 || getsockname(listen_fd, (struct sockaddr *)&sa, &salen) < 0)
		return perror("soakd: listen"), 1;
	for (int i = 0; i < threads; i++)
		if (pthread_create(&th, NULL, server_thread, NULL))
			return fprintf(stderr, "soakd: pthread_create failed\n"), 1;
	while (__atomic_load_n(&started, __ATOMIC_SEQ_CST) < (unsigned long)threads)
		usleep(1000);
	snprintf(tmp, sizeof(tmp), "%s.tmp", argv[1]);
	f = fopen(tmp, "w");
	if (!f)
		return perror("soakd: state file"), 1;
	fprintf(f, "ready port=%d pid=%d threads=%d\n", ntohs(sa.sin_port), getpid(), threads);
	if (fclose(f) || rename(tmp, argv[1]))
		return perror("soakd: state file"), 1;
	for (;;)
		pause();
}
