/* What the machine is doing now, as the scheduler sees it: the decisions
 * that depend on it (borrow one thread or stop all for remote calls, how
 * long a released thread may take to be scheduled) read it here. */
#include <stdio.h>
#include <unistd.h>
#include "common/common.h"

unsigned long hp_machine_runnable(void)
{
	unsigned long running = 0;
	FILE *f = fopen("/proc/loadavg", "re");

	/* The fourth field, "R/T": entities runnable right now (us included). */
	if (f) {
		if (fscanf(f, "%*s %*s %*s %lu/", &running) != 1)
			running = 0;
		fclose(f);
	}
	return running;
}

unsigned long hp_machine_runnable_steady(void)
{
	unsigned long least = hp_machine_runnable();

	for (int i = 0; i < 3 && least > 0; i++) {
		unsigned long now;

		usleep(150);
		now = hp_machine_runnable();
		if (now < least)
			least = now;
	}
	return least;
}

long hp_machine_cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n > 0 ? n : 1;
}
