/* A container's runs, as the front ends ask for them: in the foreground (the caller waits,
 * its terminal relayed under -t), or detached under a monitor of its own that outlives the
 * caller; either way the exit is recorded (or, with --rm, everything removed) at the end. */
#ifndef NSBOX_LIFECYCLE_H
#define NSBOX_LIFECYCLE_H

#include <stdbool.h>

#include "config.h"
#include "error.h"
#include "store.h"

/* Runs c in the foreground until it exits. restart: `nsbox start -a` of an existing
 * container. Returns its exit status or -1 with err. */
int lifecycle_run(struct nsbox_store *s, const struct nsbox_config *c, bool restart,
                  nsbox_error_t *err);

/* Starts c under a monitor: a child of nsbox in a session of its own, with stdin /dev/null
 * (or a pipe with -i), its output into the container's log, and an attach socket. Returns 0
 * once the command runs, or -1 with err when it could not start. The monitor keeps none of
 * the caller's fds (its lock neither). */
int lifecycle_start_detached(struct nsbox_store *s, const struct nsbox_config *c, bool restart,
                             nsbox_error_t *err);

#endif
