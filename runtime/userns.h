/* User namespaces: which ids a rootless container gets (the user alone, or the user plus
 * the subordinate range of /etc/subuid and /etc/subgid), writing those mappings, starting
 * a process in new namespaces, and explaining in one line why the kernel refused. */
#ifndef NSBOX_USERNS_H
#define NSBOX_USERNS_H

#include <stdbool.h>
#include <sys/types.h>

#include "error.h"

/* OCI linux.uidMappings / gidMappings entry. */
struct nsbox_idmap {
  unsigned long container_id, host_id, size;
};

struct nsbox_idmaps {
  struct nsbox_idmap uid[2], gid[2];
  size_t n_uid, n_gid;
  bool use_newidmap; /* a subordinate range: maps are written by newuidmap/newgidmap */
  char newuidmap[64], newgidmap[64];
};

/* True when nsbox runs with real root privilege (root in the initial user namespace). */
bool running_as_root(void);

/* Plans the mappings for the calling user: 0 -> the user, 1..N -> the first subordinate
 * range when /etc/subuid and /etc/subgid both have one and newuidmap/newgidmap exist. */
void idmaps_plan(struct nsbox_idmaps *m);

/* Whether id (uid when is_uid) has a mapping inside. */
bool idmaps_maps(const struct nsbox_idmaps *m, bool is_uid, unsigned long id);

typedef int (*ns_child_fn)(void *arg);

/* A child started by ns_spawn, waiting for ns_release. */
struct ns_child {
  pid_t pid;
  int sock; /* our end of the start-up channel */
  const struct nsbox_idmaps *maps;
  pid_t helper[2];              /* newuidmap, newgidmap, running; -1 when not (or not started) */
  int helper_err[2];            /* their stderr */
  nsbox_error_t helper_failure; /* why one could not be started */
};

/* Starts a child in new namespaces (CLONE_NEW* `flags`; CLONE_NEWUSER when maps != NULL) that
 * waits until ns_release() has given it its id mappings, to run fn(arg) as root of its user
 * namespace and leave with _exit(fn's return). Signals blocked in the caller stay blocked in
 * the child. Returns 0, or -1 with err filled and nothing left running. */
int ns_spawn(struct ns_child *ch, unsigned long flags, const struct nsbox_idmaps *maps,
             ns_child_fn fn, void *arg, nsbox_error_t *err);

/* Writes the mappings and lets the child go; on failure the child is killed and reaped. */
int ns_release(struct ns_child *ch, nsbox_error_t *err);

/* Kills and reaps a child that was not released. */
void ns_abort(struct ns_child *ch);

/* Fills err with why the kernel refused a user namespace (errnum), naming the sysctl that
 * forbids it, read below procsys ("/proc/sys"), and how an administrator allows it. */
int userns_diagnose(const char *procsys, int errnum, const char *what, nsbox_error_t *err);

/* Starts a child in a new user namespace with maps and runs fn there, then waits for it.
 * Returns fn's exit status (0..255) or -1 with err filled. */
int userns_run(const struct nsbox_idmaps *maps, ns_child_fn fn, void *arg, nsbox_error_t *err);

#endif
