/* The process that holds a running container: `nsbox run` in the foreground, or the monitor a
 * detached container gets (nsbox itself, in a session of its own). It waits for the
 * container's first process, forwards signals to it, and relays its I/O: a -t container's pty
 * to the caller's terminal (foreground) or, detached, the container's output into its log
 * (logfile.h) and to the clients of its attach socket, and their input back.
 *
 * The attach socket (SOCK_SEQPACKET, run/ID.attach) speaks in messages whose first byte says
 * what they are: */
#ifndef NSBOX_MONITOR_H
#define NSBOX_MONITOR_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

enum attach_msg {
  ATTACH_STDIN = 0,         /* client -> monitor: input for the container */
  ATTACH_STDOUT = 1,        /* monitor -> client: the container's output */
  ATTACH_STDERR = 2,        /*   (with -t, all of it comes as ATTACH_STDOUT) */
  ATTACH_CLOSE_STDIN = 'C', /* client -> monitor: end of input (without -t) */
  ATTACH_RESIZE = 'W',      /* client -> monitor: struct attach_size */
  ATTACH_HELLO = 'H',       /* monitor -> client, first: struct attach_hello */
  ATTACH_EXIT = 'X',        /* monitor -> client, last: int32_t exit code */
};

struct attach_hello {
  uint8_t tty, open_stdin;
};

struct attach_size {
  uint16_t rows, cols;
};

/* The largest message, type byte included. */
#define ATTACH_MSG_MAX (16384 + 1)

#define MONITOR_MAX_CLIENTS 16

struct monitor {
  pid_t pid;    /* the container's first process */
  int console;  /* -t: the pty's master, else -1 */
  int out, err; /* detached without -t: read ends of the stdout and stderr pipes, else -1 */
  int in;       /* detached -i without -t: write end of the stdin pipe, else -1 */
  int term;     /* foreground -t: the caller's terminal; its output goes to fd 1; else -1 */
  int log;      /* detached: the log, else -1 */
  int listen;   /* detached: the attach socket, else -1 */
  bool open_stdin;
  int clients[MONITOR_MAX_CLIENTS];
  size_t n_clients;
  char pending[4096]; /* input not yet taken by the container */
  size_t n_pending;
};

/* A monitor with nothing to relay yet. */
void monitor_init(struct monitor *m, pid_t pid);

/* Relays until the container's first process exits; set is the blocked signals to act on
 * (SIGCHLD reaps, SIGWINCH resizes the pty under a foreground -t, the rest are forwarded).
 * Returns its wait status. */
int monitor_run(struct monitor *m, const sigset_t *set);

/* Sends attached clients the exit code and closes every fd of the monitor. */
void monitor_finish(struct monitor *m, int code);

/* The attach socket of container id in the run dir: bound (listening, for the monitor) or
 * connected (for `nsbox attach` and `wait`). Return the fd or -1 with err. */
int attach_listen(int rundir, const char *id, nsbox_error_t *err);
int attach_connect(int rundir, const char *id, nsbox_error_t *err);
void attach_unlink(int rundir, const char *id);

#endif
