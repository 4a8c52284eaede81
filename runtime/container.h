/* Running a container: the child that builds the container from inside its new namespaces
 * and executes the init, and the parent that supervises it, forwards signals to it and
 * returns its exit status. */
#ifndef NSBOX_CONTAINER_H
#define NSBOX_CONTAINER_H

#include "config.h"
#include "error.h"
#include "store.h"

/* Runs c to completion. Returns the exit status to leave with (the command's, 128+N for a
 * signal death, 126/127 for an exec failure) or -1 with err filled (nsbox's own error). */
int container_run(struct nsbox_store *s, const struct nsbox_config *c, nsbox_error_t *err);

#endif
