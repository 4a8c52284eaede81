/* Signal names as people type them to `nsbox kill -s`, `stop` and `--stop-signal`: TERM,
 * SIGTERM, term, 15, RTMIN+3. */
#ifndef NSBOX_SIGNALS_H
#define NSBOX_SIGNALS_H

/* The signal number, or -1 when spec names none (0 is refused: it sends nothing). */
int signal_parse(const char *spec);

/* "TERM" for 15, "RTMIN+3", or the number as text when it has no name; buf has 16 bytes. */
const char *signal_name(int sig, char buf[16]);

#include <signal.h>

/* The signals nsbox passes on to what it runs: every catchable one but the fault signals,
 * which only ever concern nsbox itself. SIGCHLD is in it (nsbox reaps on it). */
void signals_forwardable(sigset_t *set);

#endif
