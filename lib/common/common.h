/* Internal helpers shared by every part of the library. */
#ifndef HP_COMMON_H
#define HP_COMMON_H

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "hotpatch/hotpatch.h"

/* Records a detail message for hp_errmsg() and returns -code, so that
 * `return hp_err(-HP_E_X, "...")` reads as one statement. */
int hp_err(int neg_code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Clears the detail (at the start of a public entry point). */
void hp_err_clear(void);

#define HP_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define HP_ALIGN_UP(x, a) (((x) + ((a) - 1)) & ~((uint64_t)(a) - 1))

static inline void hp_freep(void *p) { free(*(void **)p); }
static inline void hp_closep(int *fd) { if (*fd >= 0) close(*fd); }
#define _cleanup_free_ __attribute__((cleanup(hp_freep)))
#define _cleanup_close_ __attribute__((cleanup(hp_closep)))

/* write() until all n bytes are out: 0 or -errno. */
int hp_write_all(int fd, const void *buf, size_t n);
/* A whole regular file of at most max bytes into a malloc()ed buffer, with a
 * NUL after the last byte.  bad: the error for a file that is not regular
 * or too large (what such a file means to the caller). */
int hp_read_fd(int fd, const char *path, size_t max, int bad, void **ret, size_t *ret_len);
int hp_read_file(const char *path, size_t max, int bad, void **ret, size_t *ret_len);

/* Appends s as a quoted JSON string at buf + *len (truncated to fit cap). */
void hp_json_str(char *buf, size_t cap, size_t *len, const char *s);

double hp_now_ms(void);	/* CLOCK_MONOTONIC in milliseconds */
/* Threads runnable on the machine now (/proc/loadavg; 0 if unknown), and
 * the CPUs online (at least 1). */
unsigned long hp_machine_runnable(void);
/* The least of a few samples over half a millisecond: threads that stay
 * runnable, not a burst of threads woken together by a timer. */
unsigned long hp_machine_runnable_steady(void);
long hp_machine_cpus(void);
void hp_hex(const uint8_t *b, size_t n, char *out);	/* out: 2n+1 bytes */

#endif
