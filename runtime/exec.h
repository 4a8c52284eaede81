/* `nsbox exec`: a new process in a running container. It joins every namespace of the
 * container's first process through a pidfd (one setns(2), so user namespace and the rest are
 * entered together), the container's cgroup, and gets the same bounding set, capabilities,
 * no_new_privs and seccomp filter as the container (process.h), with the container's root,
 * pid numbers and hostname.
 *
 *   nsbox exec (stays outside, a subreaper)
 *     forks  ->  joiner: moved into the cgroup by nsbox, then setns(pidfd, all); forks and exits
 *                  ->  the process, in the container's PID namespace: reparented to nsbox,
 *                      confines itself and execs; nsbox relays a -t pty and waits for it. */
#ifndef NSBOX_EXEC_H
#define NSBOX_EXEC_H

#include "config.h"
#include "error.h"
#include "store.h"

/* Runs p in the running container ci (whose record is c). Returns the process's exit status
 * or -1 with err filled (126/127 in err->exit_code for an exec failure). */
int container_exec(struct nsbox_store *s, const struct container_info *ci,
                   const struct nsbox_config *c, const struct nsbox_process *p, nsbox_error_t *err);

#endif
