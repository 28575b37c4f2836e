/* No code difference at all: only a comment and blank lines change. */
#include <stdio.h>
static const char *greeting(void) { return "hello"; }
int say(int n) { static int times; times += n; return printf("%s %d\n", greeting(), times); }
