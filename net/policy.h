/* What nsbox-net checks before it acts for a caller it does not trust: who the caller is, that
 * the pidfd names a process of theirs in a network namespace of theirs, what the
 * administrator's /etc/nsbox/nsbox-net.conf allows them, and which ports they may publish.
 * Root callers (real uid 0) are trusted with any bridge and port. */
#ifndef NSBOX_NET_POLICY_H
#define NSBOX_NET_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "../runtime/error.h"
#include "../runtime/portspec.h"
#include "rtnl.h"

#ifndef NSBOX_NET_CONF
#define NSBOX_NET_CONF "/etc/nsbox/nsbox-net.conf"
#endif

/* The caller: the real ids nsbox-net was started with, before it becomes root throughout. */
struct net_caller {
  bool root; /* real uid 0 */
  uid_t uid;
  gid_t gid;
  gid_t *groups; /* supplementary groups, malloc'd */
  size_t n_groups;
  char name[64]; /* user name, or the uid in decimal when it has none */
};

/* The container: its init's pid and start time (the lease's owner), and an fd of its
 * network namespace, opened while the pidfd proved the pid still meant that process. */
struct net_target {
  pid_t pid;
  unsigned long long start;
  int netns;
};

/* An interface name nsbox-net accepts: 1..15 of [A-Za-z0-9_.-], not starting with '-' or
 * '.' (so never "." or ".."): it goes into /proc/sys paths, nft rules and state files. */
bool valid_ifname(const char *s);

/* Reads the real ids and groups. Call before dropping the caller's ids. */
int caller_identify(struct net_caller *c, nsbox_error_t *err);
void caller_free(struct net_caller *c);

/* Checks pidfd and opens the network namespace of its process (see net_target). */
int target_open(const struct net_caller *c, int pidfd, struct net_target *t, nsbox_error_t *err);

/* The policy file's grant of `bridge` to the caller: the largest COUNT among the lines that
 * name the caller or one of the caller's groups (so a user line and a group line do not add
 * up). Refuses, naming the file, when no line does or the file is not safe to trust. */
int policy_quota(const struct net_caller *c, const char *bridge, unsigned long *quota,
                 nsbox_error_t *err);

/* One line of the policy file, parsed: 0 and the fields, or -1 when the line is a comment,
 * blank or malformed (malformed lines grant nothing). `who` points into line. */
struct policy_line {
  const char *who; /* user name, numeric uid, or "@group" */
  char bridge[16];
  unsigned long count;
};
int policy_parse_line(char *line, struct policy_line *out);

/* Checks that the caller may publish ports[] now: unprivileged callers only at or above
 * ip_unprivileged_port_start; a host address that is 0.0.0.0 or one of host_addrs; no two
 * in the request overlap; and the port is free on the host (a bind() with the spec's
 * protocol succeeds). Ports other leases publish are checked by the caller of this. */
int ports_check(const struct net_caller *c, const struct nsbox_port *ports, size_t n, int port_fds,
                const struct rtnl_addr *host_addrs, size_t n_addrs, nsbox_error_t *err);

/* Whether two published ports would catch the same packets. */
bool ports_overlap(const struct nsbox_port *a, const struct nsbox_port *b);

/* The message for a port that is taken: "port 18080/tcp is already in use on the host". */
int port_in_use(const struct nsbox_port *p, nsbox_error_t *err);

#endif
