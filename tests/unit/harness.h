/* A small test harness: CHECK() records a failure with its line; each
 * TEST() prints "PASS: name" or "FAIL: name: ..." for tests/run to count. */
#ifndef HP_TEST_HARNESS_H
#define HP_TEST_HARNESS_H
#include <stdio.h>
#include <string.h>

static int hp_test_failed;
static int hp_test_total_failed;

#define CHECK(cond)                                                                      \
	do {                                                                             \
		if (!(cond)) {                                                           \
			if (!hp_test_failed)                                             \
				printf("FAIL: %s: %s:%d: %s\n", hp_test_name, __FILE__, __LINE__, #cond); \
			hp_test_failed = 1;                                              \
		}                                                                        \
	} while (0)

#define CHECK_EQ_INT(a, b)                                                               \
	do {                                                                             \
		long long _a = (a), _b = (b);                                            \
		if (_a != _b) {                                                          \
			if (!hp_test_failed)                                             \
				printf("FAIL: %s: %s:%d: %s == %lld, expected %lld\n", hp_test_name, \
				       __FILE__, __LINE__, #a, _a, _b);                  \
			hp_test_failed = 1;                                              \
		}                                                                        \
	} while (0)

static const char *hp_test_name = "";
#define RUN(fn)                                                                          \
	do {                                                                             \
		hp_test_name = #fn;                                                      \
		hp_test_failed = 0;                                                      \
		fn();                                                                    \
		if (!hp_test_failed)                                                     \
			printf("PASS: %s\n", #fn);                                        \
		hp_test_total_failed += hp_test_failed;                                  \
		fflush(stdout);                                                          \
	} while (0)
#define TEST_EXIT() return hp_test_total_failed ? 1 : 0
#endif
