/* A new helper function called by the fixed function. */
#include <string.h>
int parse(const char *s) { return (int)strlen(s) + 3; }
int unrelated(int a, int b) { return a * b; }
