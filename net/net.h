/* The commands of nsbox-net (see nsbox-net.c for the command line) and the steps `up` and
 * `release` share. Every command that changes something holds the state lock throughout. */
#ifndef NSBOX_NET_NET_H
#define NSBOX_NET_NET_H

#include "../runtime/error.h"
#include "../runtime/portspec.h"
#include "lease.h"
#include "policy.h"
#include "rtnl.h"

struct up_args {
  int pidfd;
  int port_fds; /* the i-th --publish's host socket is fd port_fds + i; -1: none given */
  const char *bridge;
  struct nsbox_port ports[NET_MAX_PORTS];
  size_t n_ports;
};

/* Connects the pidfd's process to the bridge; prints "HOSTIF IP/PREFIX GATEWAY". On failure
 * everything it did is undone. */
int cmd_up(const struct net_caller *c, const struct up_args *a, nsbox_error_t *err);

/* Reclaims what dead owners left (see net_reclaim) and brings the nft table in line. */
int cmd_release(nsbox_error_t *err);

/* Prints the live leases, all of them for root, the caller's own for anyone else. */
int cmd_list(const struct net_caller *c, nsbox_error_t *err);

/* Drops the leases of dead owners, deletes host links named nsbx* (veths) that no lease
 * holds (the ends of dead leases, and what a killed `up` left), and deletes the bridges
 * nsbox-net created that no lease uses and no other link is attached to. Saves the state; the
 * nft table is for net_sync_nft. */
int net_reclaim(struct net_state *s, struct rtnl *r, nsbox_error_t *err);

/* Renders the nft table for the current leases and applies it if it changed. */
int net_sync_nft(struct net_state *s, struct rtnl *r, nsbox_error_t *err);

/* The host-side veths are named HOSTIF_PREFIX + 8 hex digits. */
#define HOSTIF_PREFIX "nsbx"

#endif
