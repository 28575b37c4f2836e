/* A small multithreaded server for the demo: an account service on
 * 127.0.0.1.  Each connection is served by a pool thread; each line
 * "withdraw N" answers with the new balance.
 *
 * The bug (the "vulnerability" the demo fixes live): withdraw() accepts a
 * negative amount, which credits the account. */
#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static long balance = 100;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int listen_fd;

__attribute__((noinline)) int withdraw(long amount, char *reply, size_t len)
{
	long now;

	pthread_mutex_lock(&lock);
	if (amount > balance) {
		now = balance;
		pthread_mutex_unlock(&lock);
		return snprintf(reply, len, "refused: balance %ld is less than %ld\n", now, amount);
	}
	balance -= amount;
	now = balance;
	pthread_mutex_unlock(&lock);
	return snprintf(reply, len, "ok: balance %ld\n", now);
}

static void serve(int fd)
{
	FILE *in = fdopen(fd, "r");
	char line[256], reply[256];

	while (in && fgets(line, sizeof(line), in)) {
		long amount;
		int n;

		if (sscanf(line, "withdraw %ld", &amount) == 1)
			n = withdraw(amount, reply, sizeof(reply));
		else if (!strncmp(line, "deposit100", 10)) {
			pthread_mutex_lock(&lock);
			balance += 100;
			pthread_mutex_unlock(&lock);
			n = snprintf(reply, sizeof(reply), "ok\n");
		} else
			n = snprintf(reply, sizeof(reply), "unknown command\n");
		if (write(fd, reply, n) != n)
			break;
	}
	if (in)
		fclose(in);
	else
		close(fd);
}

static void *pool_thread(void *arg)
{
	for (;;) {
		int fd = accept(listen_fd, NULL, NULL);

		if (fd >= 0)
			serve(fd);
	}
	return arg;
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int port = argc > 1 ? atoi(argv[1]) : 7070, one = 1;
	pthread_t th;

	signal(SIGPIPE, SIG_IGN);
	listen_fd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	sa.sin_port = htons(port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(listen_fd, 64) < 0) {
		perror("bank: bind");
		return 1;
	}
	for (int i = 0; i < 8; i++)
		pthread_create(&th, NULL, pool_thread, NULL);
	printf("bank: serving on 127.0.0.1:%d with 8 threads, pid %d\n", port, getpid());
	fflush(stdout);
	pause();
	return 0;
}
