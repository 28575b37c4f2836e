/* Four threads ask, over and over, whether account i may take 150 and
 * print the answer with the table's name, once per tick. */
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>
#include "ticker.h"

struct account accounts[4] = { { 1, 100 }, { 2, 200 }, { 3, 300 }, { 4, 400 } };
static volatile long answers[4];

static void *worker(void *arg)
{
	long i = (long)arg;

	for (;;)
		answers[i] = quota_allowed(&accounts[i], 150);
	return NULL;
}

int main(void)
{
	pthread_t t;

	for (long i = 0; i < 4; i++)
		pthread_create(&t, NULL, worker, (void *)i);
	for (unsigned tick = 0;; tick++) {
		printf("tick %u %s %ld %ld %ld %ld\n", tick, table_name(tick), answers[0], answers[1],
		       answers[2], answers[3]);
		fflush(stdout);
		usleep(50000);
	}
}
