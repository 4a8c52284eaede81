/* Running a container: the child that builds the container from inside its new namespaces
 * and executes the init, and the parent that supervises it, forwards signals to it, relays
 * its I/O (monitor.h) and returns its exit status. */
#ifndef NSBOX_CONTAINER_H
#define NSBOX_CONTAINER_H

#include <stdbool.h>

#include "config.h"
#include "error.h"
#include "monitor.h"
#include "store.h"

/* How a run is connected to its caller. */
struct container_io {
  bool restart;       /* `nsbox start`: the container's record and layer exist already */
  bool detached;      /* under a monitor of its own (-d, `start`): no caller's terminal */
  int stdio[3];       /* what the container gets as fds 0, 1, 2; -1: nsbox's own */
  int ready;          /* detached: gets one nsbox_error_t once the command runs (exit_code 0)
                       * or could not start; -1 otherwise */
  struct monitor mon; /* what the parent relays; container_run fills in pid and console */
};

/* An io for a run in the foreground: nsbox's own stdio, no relay but a -t pty's. */
void container_io_init(struct container_io *io);

/* Runs c to completion. Returns the exit status to leave with (the command's, 128+N for a
 * signal death, 126/127 for an exec failure) or -1 with err filled (nsbox's own error).
 * *oom tells whether the OOM killer ended it. The caller records the exit and then calls
 * monitor_finish(&io->mon, code). */
int container_run(struct nsbox_store *s, const struct nsbox_config *c, struct container_io *io,
                  bool *oom, nsbox_error_t *err);

#endif
