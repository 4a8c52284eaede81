/* nsbox-net's state in /run/nsbox-net (root's, 0700), read and rewritten under one lock:
 *   lock      flock(LOCK_EX) while changing anything, LOCK_SH while listing
 *   leases    one line per lease: BRIDGE IP UID PID STARTTIME HOSTIF [PORTSPEC...]
 *   bridges   the bridges nsbox-net created, NAME IFINDEX (0: being created), one per line
 *   nft.rules the ruleset text last applied (see nft.h)
 *   boot_id   the boot the rest belongs to: after a reboot it all describes nothing
 * A lease belongs to a process, its owner, named by pid and start time (so a recycled pid is
 * not the owner); it ends when the owner does. Files are replaced atomically (temp + rename),
 * so a SIGKILL leaves the old or the new state, never half of one. */
#ifndef NSBOX_NET_LEASE_H
#define NSBOX_NET_LEASE_H

#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <sys/types.h>

#include "../runtime/error.h"
#include "../runtime/portspec.h"

#ifndef NSBOX_NET_STATE_DIR
#define NSBOX_NET_STATE_DIR "/run/nsbox-net"
#endif

#define NET_MAX_PORTS 32

struct lease {
  char bridge[IFNAMSIZ];
  struct in_addr ip;
  uid_t uid;
  pid_t pid;
  unsigned long long start; /* field 22 of /proc/PID/stat */
  char hostif[IFNAMSIZ];
  size_t n_ports;
  struct nsbox_port ports[NET_MAX_PORTS];
};

struct own_bridge {
  char name[IFNAMSIZ];
  int index; /* 0 while being created, or when a crash left it unknown */
};

struct net_state {
  int dir;
  int lock;
  struct lease *leases;
  size_t n_leases;
  struct own_bridge *bridges;
  size_t n_bridges;
};

/* Opens the state dir (creating it when `exclusive`), takes the lock (exclusive or shared,
 * waiting a bounded time for it) and reads leases and bridges. A missing dir, for a shared
 * open, is an empty state. */
int state_open(struct net_state *s, bool exclusive, nsbox_error_t *err);
void state_close(struct net_state *s);

int leases_save(struct net_state *s, nsbox_error_t *err);
int bridges_save(struct net_state *s, nsbox_error_t *err);

void lease_add(struct net_state *s, const struct lease *l);
void lease_remove(struct net_state *s, size_t i);
void bridge_record(struct net_state *s, const char *name, int index);
void bridge_forget(struct net_state *s, const char *name);

/* One lease line without the newline: the state file's form, or (with_start false) the
 * form `nsbox-net list` prints, without the start time. */
void lease_format(const struct lease *l, bool with_start, char *buf, size_t len);

/* Parses a state file line (modified in place); -1 when it is malformed. */
int lease_parse(char *line, struct lease *out);

/* Field 22 of /proc/PID/stat; 0 or -errno (-ENOENT: no such process, -ESRCH: a zombie). */
int proc_starttime(pid_t pid, unsigned long long *out);

/* Whether the lease's owner is still the process it was. */
bool lease_owner_alive(const struct lease *l);

#endif
