/* The container's network namespace. It is the slowest namespace to make (about 0.7 ms:
 * sysctl tables, the loopback device), so a helper process makes it, inside the container's
 * user namespace, while the container builds its root filesystem; nsbox then passes it to the
 * container (SCM_RIGHTS), which joins it before it mounts /sys. The helper lives outside the
 * container's PID namespace, so the container's own pids still start at 1 and 2. */
#ifndef NSBOX_NETNS_H
#define NSBOX_NETNS_H

#include <sys/types.h>

#include "error.h"

struct netns_maker {
  pid_t pid; /* the helper, -1 when there is none */
  int ready; /* one byte from the helper: 0, or the errno of its failure */
  int hold;  /* the helper lives until this is closed */
};

/* Forks the helper. It joins the user namespace of process `userns_of` (0: stays in ours, as
 * root does) and unshares a network namespace there. */
int netns_start(struct netns_maker *m, pid_t userns_of, nsbox_error_t *err);

/* Waits for the helper, opens its network namespace and ends it. Returns the namespace's fd,
 * or -errno when the helper could not make it. */
int netns_open(struct netns_maker *m);

/* Ends a helper whose namespace is not wanted any more. */
void netns_abort(struct netns_maker *m);

/* What the container learns before it mounts /sys: whether its network is ready (errnum 0,
 * else why not), the namespace to join (fd, or -1 when it is in its own already), and its
 * address on that network ("" when none or unknown), for its /etc/hosts. */
int netns_send(int sock, int errnum, int fd, const char *addr, nsbox_error_t *err);

/* In the container: receives that message, joins the namespace if one came, brings lo up and
 * copies the address into addr (INET6_ADDRSTRLEN bytes). */
int netns_receive(int sock, char *addr, nsbox_error_t *err);

/* In the container's own network namespace: lets groups 0..max_gid open ICMP echo sockets, so
 * that ping works without CAP_NET_RAW (which containers do not get), as podman does. */
int netns_allow_ping(unsigned long max_gid, nsbox_error_t *err);

#endif
