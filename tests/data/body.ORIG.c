/* Body change: check_len() gets a bound check; other() is untouched. */
int check_len(int len) { return len * 2 + 1; }
int other(int x) { return x - 7; }
