/* See signals.h. */
#include "signals.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util.h"

static const struct {
  int sig;
  const char *name;
} names[] = {
    {SIGHUP, "HUP"},   {SIGINT, "INT"},       {SIGQUIT, "QUIT"}, {SIGILL, "ILL"},
    {SIGTRAP, "TRAP"}, {SIGABRT, "ABRT"},     {SIGBUS, "BUS"},   {SIGFPE, "FPE"},
    {SIGKILL, "KILL"}, {SIGUSR1, "USR1"},     {SIGSEGV, "SEGV"}, {SIGUSR2, "USR2"},
    {SIGPIPE, "PIPE"}, {SIGALRM, "ALRM"},     {SIGTERM, "TERM"}, {SIGSTKFLT, "STKFLT"},
    {SIGCHLD, "CHLD"}, {SIGCONT, "CONT"},     {SIGSTOP, "STOP"}, {SIGTSTP, "TSTP"},
    {SIGTTIN, "TTIN"}, {SIGTTOU, "TTOU"},     {SIGURG, "URG"},   {SIGXCPU, "XCPU"},
    {SIGXFSZ, "XFSZ"}, {SIGVTALRM, "VTALRM"}, {SIGPROF, "PROF"}, {SIGWINCH, "WINCH"},
    {SIGIO, "IO"},     {SIGPWR, "PWR"},       {SIGSYS, "SYS"},   {SIGIOT, "IOT"},
    {SIGCHLD, "CLD"},  {SIGIO, "POLL"},
};

/* RTMIN+N / RTMAX-N, after the prefix. */
static int parse_rt(const char *s) {
  int base, sign;
  if (strncasecmp(s, "RTMIN", 5) == 0) {
    base = SIGRTMIN;
    sign = 1;
  } else if (strncasecmp(s, "RTMAX", 5) == 0) {
    base = SIGRTMAX;
    sign = -1;
  } else {
    return -1;
  }
  s += 5;
  if (*s == '\0')
    return base;
  if (*s != (sign > 0 ? '+' : '-'))
    return -1;
  unsigned long n;
  if (parse_ulong(s + 1, &n) < 0 || n > (unsigned long)(SIGRTMAX - SIGRTMIN))
    return -1;
  return base + sign * (int)n;
}

int signal_parse(const char *spec) {
  unsigned long n;
  if (parse_ulong(spec, &n) == 0)
    return n >= 1 && n < (unsigned long)NSIG ? (int)n : -1;
  const char *s = strncasecmp(spec, "SIG", 3) == 0 ? spec + 3 : spec;
  for (size_t i = 0; i < ARRAY_SIZE(names); i++)
    if (strcasecmp(s, names[i].name) == 0)
      return names[i].sig;
  return parse_rt(s);
}

const char *signal_name(int sig, char buf[16]) {
  for (size_t i = 0; i < ARRAY_SIZE(names); i++)
    if (names[i].sig == sig)
      return names[i].name;
  if (sig >= SIGRTMIN && sig <= SIGRTMAX)
    snprintf(buf, 16, "RTMIN+%d", sig - SIGRTMIN);
  else
    snprintf(buf, 16, "%d", sig);
  return buf;
}

void signals_forwardable(sigset_t *set) {
  sigemptyset(set);
  for (int s = 1; s < 32; s++) {
    if (s == SIGKILL || s == SIGSTOP || s == SIGSEGV || s == SIGBUS || s == SIGFPE || s == SIGILL ||
        s == SIGTRAP || s == SIGSYS)
      continue;
    sigaddset(set, s);
  }
}
