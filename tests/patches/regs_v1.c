/* Replacement for work() of tests/victims/regs.c: 3x+2. */
int work(int x)
{
	volatile int y = x * 3 + 2;

	return y;
}
