/* The last steps of a process entering a container before it execs, shared by the container's
 * first process and by `nsbox exec`: resource limits, a session of its own (with the pty as
 * its controlling terminal under -t), the bounding set, user and groups, capabilities,
 * no_new_privs, the seccomp filter, the working directory and HOME, and fds and signals as a
 * new program expects them. Runs inside the container's root and namespaces. */
#ifndef NSBOX_PROCESS_H
#define NSBOX_PROCESS_H

#include <signal.h>

#include "config.h"
#include "error.h"
#include "seccomp.h"

/* Confines the calling process as sec and p say. console, when >= 0, is the pty's other end:
 * it becomes the controlling terminal and fds 0, 1 and 2 (and is closed). *env gets p->env
 * with HOME from the user's passwd entry when it was not set. Returns 0 or -1 with err. */
int process_confine(const struct nsbox_security *sec, const struct nsbox_process *p,
                    struct nsbox_seccomp_prog *prog, int console, char ***env, nsbox_error_t *err);

/* Right before exec: every fd above 2 closes on exec, every signal goes back to its default
 * and the signal mask to mask. */
void process_exec_ready(const sigset_t *mask);

#endif
