/* The fix for examples/bank.c, as a live patch: withdraw() refuses a
 * negative amount.  `balance` and `lock` are the running server's own
 * static variables; hotpatch pack resolves them in its symbol table. */
#include <pthread.h>
#include <stdio.h>

extern long balance;
extern pthread_mutex_t lock;

int withdraw(long amount, char *reply, size_t len)
{
	long now;

	if (amount <= 0)
		return snprintf(reply, len, "refused: amount must be positive (patched)\n");
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
