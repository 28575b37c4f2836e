/* The initial value of a table changes: the differ reports it as data. */
int limits[4] = { 10, 20, 30, 40 };
int buffer_size = 1024;
static int counter;
int get_limit(int i) { counter++; return limits[i & 3] + buffer_size + counter; }
