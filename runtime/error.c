/* The error type of error.h and the only place the runtime prints to stderr. */
#include "error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int nsbox_fail(nsbox_error_t *err, int errnum, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
  va_end(ap);
  if (n < 0)
    n = 0;
  if (errnum != 0 && (size_t)n < sizeof(err->msg))
    snprintf(err->msg + n, sizeof(err->msg) - (size_t)n, ": %s", strerror(errnum));
  err->errnum = errnum;
  if (err->exit_code == 0)
    err->exit_code = 125;
  return -1;
}

int nsbox_wrap(nsbox_error_t *err, const char *fmt, ...) {
  char prefix[512], old[sizeof(err->msg)];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(prefix, sizeof(prefix), fmt, ap);
  va_end(ap);
  memcpy(old, err->msg, sizeof(old));
  snprintf(err->msg, sizeof(err->msg), "%s: %s", prefix, old);
  if (err->exit_code == 0)
    err->exit_code = 125;
  return -1;
}

const char *nsbox_progname = "nsbox";

/* One write(2) per line, so concurrent writers never interleave within a message. */
static void print_line(const char *text) {
  char line[sizeof(((nsbox_error_t *)0)->msg) + 16];
  int n = snprintf(line, sizeof(line), "%s: %s\n", nsbox_progname, text);
  if (n > (int)sizeof(line) - 1)
    n = (int)sizeof(line) - 1;
  if (write(STDERR_FILENO, line, (size_t)n) < 0)
    return;
}

void nsbox_print_error(const nsbox_error_t *err) {
  print_line(err->msg);
}

void nsbox_vnotice(const char *fmt, va_list ap) {
  char text[1024];
  vsnprintf(text, sizeof(text), fmt, ap);
  print_line(text);
}

void nsbox_notice(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  nsbox_vnotice(fmt, ap);
  va_end(ap);
}
