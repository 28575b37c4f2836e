/* Only a line moves: the assert-like macro passes __LINE__, so must_be_positive()
 * differs by an immediate only; fixed_func() really changes. */
void report(const char *file, int line, const char *what);
#define CHECK_ARG(c) do { if (!(c)) report(__FILE__, __LINE__, #c); } while (0)
int fixed_func(int x)
{
	if (x == 2147483647)
		return 0;
	return x + 1;
}
int must_be_positive(int x) { CHECK_ARG(x > 0); return x * 3; }
