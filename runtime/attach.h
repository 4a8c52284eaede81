/* The client end of a detached container's attach socket (monitor.h): `nsbox attach` relays
 * the caller's terminal to the container and its output back, and `nsbox wait` only waits
 * for the exit code. */
#ifndef NSBOX_ATTACH_H
#define NSBOX_ATTACH_H

#include <stdbool.h>

#include "error.h"

/* What attach_relay returns when the user typed the detach keys (ctrl-p ctrl-q). */
#define ATTACH_DETACHED (-2)

/* Relays until the container exits (returns its exit code) or the user detaches. With a -t
 * container and a terminal on stdin, the terminal is raw meanwhile and restored on every
 * way out; its size follows SIGWINCH. Returns -1 with err when the monitor went away. */
int attach_relay(int sock, nsbox_error_t *err);

/* Waits for the exit code alone. */
int attach_wait(int sock, nsbox_error_t *err);

#endif
