#include "ticker.h"

long quota_limit = 150;	/* global: other code may change it */
static long calls;

/* May the account take amount? */
int quota_allowed(const struct account *a, long amount)
{
	calls++;
	return a->balance >= amount && amount <= quota_limit;
}

long quota_calls(void)
{
	return calls;
}
