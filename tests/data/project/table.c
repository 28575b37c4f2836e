#include "ticker.h"

static const char *const names[] = { "alpha", "beta" };

const char *table_name(int i)
{
	return names[i & 1];
}
