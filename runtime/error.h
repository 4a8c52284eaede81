/* One error type threaded through every fallible call of the runtime.
 * A failing function fills the error with what it was doing and why, returns a negative
 * value, and its callers may add context on the way up; only main() prints it, once. */
#ifndef NSBOX_ERROR_H
#define NSBOX_ERROR_H

#include <stdarg.h>
#include <stddef.h>

typedef struct nsbox_error {
  int errnum;     /* errno of the root cause, 0 when there is none */
  int exit_code;  /* what `nsbox` exits with; 125 unless a caller says otherwise */
  char msg[1024]; /* "mount overlay on /x: Invalid argument" */
} nsbox_error_t;

/* Fills err with the formatted text, followed by ": strerror(errnum)" when errnum != 0.
 * Always returns -1 so callers can `return nsbox_fail(...)`. */
int nsbox_fail(nsbox_error_t *err, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prepends "context: " to the message already in err. Returns -1. */
int nsbox_wrap(nsbox_error_t *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The prefix of every printed line: "nsbox", or "nsbox-net" in the helper. */
extern const char *nsbox_progname;

/* Prints "nsbox: msg" on stderr. */
void nsbox_print_error(const nsbox_error_t *err);

/* Non-fatal notices and warnings, one line each, prefixed "nsbox: ". */
void nsbox_notice(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void nsbox_vnotice(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

#endif
