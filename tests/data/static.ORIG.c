/* Static locals renumbered (gcc numbers them from the end of the file, so a
 * new one at the end shifts the others) and a body change in count_events();
 * tick() and its static are untouched. */
#include <stdio.h>
int tick(void) { static int calls; calls++; printf("tick %d\n", calls); return calls; }
int count_events(int n) { static int calls = 5; calls += n; printf("events %d\n", calls); return calls; }
