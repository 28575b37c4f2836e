/* A new helper function called by the fixed function. */
#include <string.h>
__attribute__((noinline)) int sanitize(const char *s) { return s && s[0] != '%'; }
int parse(const char *s) { if (!sanitize(s)) return -1; return (int)strlen(s) + 3; }
int unrelated(int a, int b) { return a * b; }
