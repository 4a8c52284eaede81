/* Hand-written rtnetlink for nsbox-net: the few link, address and route requests a bridge
 * with veths needs, over a NETLINK_ROUTE socket, with no libmnl and no `ip`.
 * A socket works in the network namespace it was created in, so nsbox-net holds one for the
 * host and one for the container. Every reply is checked to come from the kernel (port 0):
 * root in the container's user namespace may send to our socket in its namespace. */
#ifndef NSBOX_NET_RTNL_H
#define NSBOX_NET_RTNL_H

#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "../runtime/error.h"

struct rtnl {
  int fd;
  uint32_t seq;
};

/* A link as a dump or a lookup reports it. */
struct rtnl_link {
  int index;
  int master;     /* IFLA_MASTER, 0 when none */
  int peer;       /* IFLA_LINK: a veth's peer's index in the peer's namespace, 0 when none */
  unsigned flags; /* IFF_* */
  char name[IFNAMSIZ];
  char kind[16]; /* IFLA_INFO_KIND: "bridge", "veth", "" */
};

/* An IPv4 address of a link. */
struct rtnl_addr {
  int index;
  struct in_addr addr;
  unsigned prefix;
};

/* Opens a socket in the caller's current network namespace. */
int rtnl_open(struct rtnl *r, nsbox_error_t *err);

/* Opens one in the namespace netns_fd, returning to self_fd's afterwards. */
int rtnl_open_in(struct rtnl *r, int netns_fd, int self_fd, nsbox_error_t *err);

void rtnl_close(struct rtnl *r);

/* Looks a link up by name: 1 and *out when it exists, 0 when it does not, -1 on error. */
int rtnl_link_get(struct rtnl *r, const char *name, struct rtnl_link *out, nsbox_error_t *err);

/* Calls cb for every link; a negative return from cb stops the walk and is returned. */
typedef int (*rtnl_link_cb)(const struct rtnl_link *l, void *ctx);
int rtnl_link_dump(struct rtnl *r, rtnl_link_cb cb, void *ctx, nsbox_error_t *err);

/* All IPv4 addresses (of link `index`, or of every link when index is 0), in the kernel's
 * order, so that a link's primary address comes first. *out is malloc'd. */
int rtnl_addr_list(struct rtnl *r, int index, struct rtnl_addr **out, size_t *n,
                   nsbox_error_t *err);

/* Creates a bridge with the given MAC address (a fixed one: otherwise a bridge takes the
 * lowest MAC of its ports and changes it as containers come and go). */
int rtnl_bridge_add(struct rtnl *r, const char *name, const uint8_t mac[6], nsbox_error_t *err);

/* Creates a veth pair: `name` here, `peer` directly in the namespace peer_netns_fd. */
int rtnl_veth_add(struct rtnl *r, const char *name, const char *peer, int peer_netns_fd,
                  nsbox_error_t *err);

/* Sets a link up and, when master > 0, enslaves it to that bridge. */
int rtnl_link_up(struct rtnl *r, int index, int master, nsbox_error_t *err);

int rtnl_link_del(struct rtnl *r, int index, nsbox_error_t *err);

int rtnl_addr_add(struct rtnl *r, int index, struct in_addr addr, unsigned prefix,
                  nsbox_error_t *err);

/* Adds the default route via gw on link `index`. */
int rtnl_route_add_default(struct rtnl *r, int index, struct in_addr gw, nsbox_error_t *err);

#endif
