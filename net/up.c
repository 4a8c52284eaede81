/* nsbox-net up: checks the caller, then under the lock: reclaims, checks quota and ports,
 * prepares the bridge, picks an address, creates the veth with its peer directly in the
 * container's namespace, configures that end, records the lease and applies the nft table.
 * Each step notes what it made in struct up, and a failure anywhere undoes all of it. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../runtime/util.h"
#include "net.h"
#include "nft.h"

#define DEFAULT_BRIDGE "nsbox0"

struct up {
  const struct net_caller *c;
  const struct up_args *a;
  struct net_target t;
  struct net_state s;
  struct rtnl host, ctr;
  struct rtnl_addr *addrs; /* the host's IPv4 addresses */
  size_t n_addrs;
  /* the bridge */
  int br_index;
  struct in_addr gw;
  unsigned prefix;
  bool br_created; /* recorded in the bridges file, maybe created: undo removes both */
  /* the veth and the lease */
  struct in_addr ip;
  char hostif[IFNAMSIZ];
  int veth_index;
  int peer_index;
  bool veth_created;
  bool lease_added;
  bool nft_touched;
};

static uint32_t prefix_mask(unsigned prefix) {
  return prefix ? ~0u << (32 - prefix) : 0;
}

static bool subnets_overlap(struct in_addr a, unsigned pa, struct in_addr b, unsigned pb) {
  uint32_t mask = prefix_mask(pa < pb ? pa : pb);
  return ((ntohl(a.s_addr) ^ ntohl(b.s_addr)) & mask) == 0;
}

static bool overlaps_host(const struct up *u, struct in_addr net, unsigned prefix) {
  for (size_t i = 0; i < u->n_addrs; i++)
    if (subnets_overlap(net, prefix, u->addrs[i].addr, u->addrs[i].prefix))
      return true;
  return false;
}

/* A new bridge's subnet: 10.88.0.0/16 for the default bridge, as podman's; the first free
 * 10.89.N.0/24 for any other. */
static int choose_subnet(struct up *u, nsbox_error_t *err) {
  if (strcmp(u->a->bridge, DEFAULT_BRIDGE) == 0) {
    u->gw.s_addr = htonl(0x0a580001); /* 10.88.0.1 */
    u->prefix = 16;
    if (overlaps_host(u, u->gw, u->prefix))
      return nsbox_fail(err, 0,
                        "cannot create bridge %s: 10.88.0.0/16 overlaps an address of the host",
                        DEFAULT_BRIDGE);
    return 0;
  }
  for (uint32_t n = 0; n < 256; n++) {
    u->gw.s_addr = htonl(0x0a590001 | n << 8); /* 10.89.N.1 */
    u->prefix = 24;
    if (!overlaps_host(u, u->gw, u->prefix))
      return 0;
  }
  return nsbox_fail(err, 0, "cannot create bridge %s: no 10.89.N.0/24 subnet is free",
                    u->a->bridge);
}

/* 1 when it was set already, 0 after writing "1" to it, -1 on error. */
static int sysctl_enable(const char *path, nsbox_error_t *err) {
  cleanup_free char *cur = NULL;
  if (read_file_at(AT_FDCWD, path, &cur) >= 0 && strcmp(cur, "1\n") == 0)
    return 1;
  cleanup_close int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0 || write(fd, "1\n", 2) != 2)
    return nsbox_fail(err, errno, "write 1 to %s", path);
  return 0;
}

/* route_localnet lets the host's own 127.0.0.1 reach published ports (DNAT'd in the output
 * chain, they leave through the bridge with a 127/8 source until masqueraded; the nft table
 * guards the bridge against 127/8 traffic from containers). ip_forward is what any NAT of
 * containers needs, as docker and podman set it too; it stays on. */
static int bridge_sysctls(const char *name, nsbox_error_t *err) {
  char path[96];
  snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/route_localnet", name);
  if (sysctl_enable(path, err) < 0 || sysctl_enable("/proc/sys/net/ipv4/ip_forward", err) < 0)
    return -1;
  return 0;
}

static void random_mac(uint8_t mac[6]) {
  char id[65];
  random_hex_id(id);
  for (int i = 0; i < 6; i++)
    mac[i] = (uint8_t)strtoul((char[]){id[2 * i], id[2 * i + 1], '\0'}, NULL, 16);
  mac[0] = (uint8_t)((mac[0] & 0xfe) | 0x02); /* unicast, locally administered */
}

static int bridge_create(struct up *u, nsbox_error_t *err) {
  const char *name = u->a->bridge;
  if (choose_subnet(u, err) < 0)
    return -1;
  /* Recorded before it exists, so that even a SIGKILL right after leaves it known as ours. */
  bridge_record(&u->s, name, 0);
  u->br_created = true;
  if (bridges_save(&u->s, err) < 0)
    return -1;
  uint8_t mac[6];
  random_mac(mac);
  struct rtnl_link l;
  int found;
  if (rtnl_bridge_add(&u->host, name, mac, err) < 0 ||
      (found = rtnl_link_get(&u->host, name, &l, err)) < 0)
    return -1;
  if (found == 0)
    return nsbox_fail(err, 0, "bridge %s vanished as it was created", name);
  u->br_index = l.index;
  bridge_record(&u->s, name, l.index);
  if (bridges_save(&u->s, err) < 0)
    return -1;
  if (rtnl_addr_add(&u->host, u->br_index, u->gw, u->prefix, err) < 0 ||
      rtnl_link_up(&u->host, u->br_index, 0, err) < 0)
    return nsbox_wrap(err, "bridge %s", name);
  return 0;
}

/* An existing bridge, ours or an administrator's, is used as it is: its first IPv4 address
 * is the containers' gateway. */
static int bridge_prepare(struct up *u, nsbox_error_t *err) {
  const char *name = u->a->bridge;
  struct rtnl_link l;
  int found = rtnl_link_get(&u->host, name, &l, err);
  if (found < 0)
    return -1;
  if (found == 0) {
    if (bridge_create(u, err) < 0)
      return -1;
  } else {
    if (strcmp(l.kind, "bridge") != 0)
      return nsbox_fail(err, 0, "%s is not a bridge", name);
    size_t i = 0;
    while (i < u->n_addrs && u->addrs[i].index != l.index)
      i++;
    if (i == u->n_addrs)
      return nsbox_fail(err, 0, "bridge %s has no IPv4 address", name);
    u->br_index = l.index;
    u->gw = u->addrs[i].addr;
    u->prefix = u->addrs[i].prefix;
  }
  if (u->prefix > 30)
    return nsbox_fail(err, 0, "bridge %s's subnet /%u has no room for containers", name, u->prefix);
  return bridge_sysctls(name, err);
}

static bool address_taken(const struct up *u, uint32_t a) {
  struct in_addr ia = {.s_addr = htonl(a)};
  if (ia.s_addr == u->gw.s_addr)
    return true;
  for (size_t i = 0; i < u->s.n_leases; i++)
    if (u->s.leases[i].ip.s_addr == ia.s_addr && strcmp(u->s.leases[i].bridge, u->a->bridge) == 0)
      return true;
  for (size_t i = 0; i < u->n_addrs; i++)
    if (u->addrs[i].addr.s_addr == ia.s_addr)
      return true;
  return false;
}

/* The lowest free host address of the subnet. */
static int pick_address(struct up *u, nsbox_error_t *err) {
  uint32_t mask = prefix_mask(u->prefix), net = ntohl(u->gw.s_addr) & mask, last = net | ~mask;
  for (uint32_t a = net + 1; a < last; a++) {
    if (!address_taken(u, a)) {
      u->ip.s_addr = htonl(a);
      return 0;
    }
  }
  return nsbox_fail(err, 0, "no free address left on bridge %s", u->a->bridge);
}

static int veth_create(struct up *u, nsbox_error_t *err) {
  struct rtnl_link l;
  int found = 1;
  for (int tries = 0; tries < 16 && found != 0; tries++) {
    char id[65];
    random_hex_id(id);
    snprintf(u->hostif, sizeof(u->hostif), HOSTIF_PREFIX "%.8s", id);
    if ((found = rtnl_link_get(&u->host, u->hostif, &l, err)) < 0)
      return -1;
  }
  if (found != 0)
    return nsbox_fail(err, 0, "no unused veth name found");
  if (rtnl_veth_add(&u->host, u->hostif, "eth0", u->t.netns, err) < 0)
    return -1;
  u->veth_created = true;
  if ((found = rtnl_link_get(&u->host, u->hostif, &l, err)) < 0)
    return -1;
  if (found == 0)
    return nsbox_fail(err, 0, "veth %s vanished as it was created", u->hostif);
  u->veth_index = l.index;
  u->peer_index = l.peer;
  if (rtnl_link_up(&u->host, u->veth_index, u->br_index, err) < 0)
    return nsbox_wrap(err, "veth %s", u->hostif);
  return 0;
}

static int check_no_eth0(struct up *u, nsbox_error_t *err) {
  struct rtnl_link l;
  int found = rtnl_link_get(&u->ctr, "eth0", &l, err);
  if (found < 0)
    return nsbox_wrap(err, "process %d", (int)u->t.pid);
  if (found > 0)
    return nsbox_fail(err, 0, "process %d already has an eth0", (int)u->t.pid);
  return 0;
}

/* In the container's namespace: eth0's address, eth0 and lo up, the default route. */
static int container_configure(struct up *u, nsbox_error_t *err) {
  struct rtnl_link l;
  int found;
  if (u->peer_index <= 0) {
    if ((found = rtnl_link_get(&u->ctr, "eth0", &l, err)) < 0)
      return -1;
    if (found == 0)
      return nsbox_fail(err, 0, "eth0 vanished as it was created");
    u->peer_index = l.index;
  }
  if (rtnl_addr_add(&u->ctr, u->peer_index, u->ip, u->prefix, err) < 0 ||
      rtnl_link_up(&u->ctr, u->peer_index, 0, err) < 0 ||
      (found = rtnl_link_get(&u->ctr, "lo", &l, err)) < 0 ||
      (found > 0 && rtnl_link_up(&u->ctr, l.index, 0, err) < 0) ||
      rtnl_route_add_default(&u->ctr, u->peer_index, u->gw, err) < 0)
    return nsbox_wrap(err, "set up eth0 of process %d", (int)u->t.pid);
  return 0;
}

static int check_quota(struct up *u, unsigned long quota, nsbox_error_t *err) {
  size_t held = 0;
  for (size_t i = 0; i < u->s.n_leases; i++)
    if (u->s.leases[i].uid == u->c->uid && strcmp(u->s.leases[i].bridge, u->a->bridge) == 0)
      held++;
  if (held >= quota)
    return nsbox_fail(err, 0, "user %s already holds %zu of the %lu leases allowed on bridge %s",
                      u->c->name, held, quota, u->a->bridge);
  return 0;
}

static int check_ports(struct up *u, nsbox_error_t *err) {
  if (ports_check(u->c, u->a->ports, u->a->n_ports, u->a->port_fds, u->addrs, u->n_addrs, err) < 0)
    return -1;
  for (size_t i = 0; i < u->a->n_ports; i++)
    for (size_t j = 0; j < u->s.n_leases; j++)
      for (size_t k = 0; k < u->s.leases[j].n_ports; k++)
        if (ports_overlap(&u->a->ports[i], &u->s.leases[j].ports[k]))
          return port_in_use(&u->a->ports[i], err);
  return 0;
}

static int lease_commit(struct up *u, nsbox_error_t *err) {
  struct lease l = {.ip = u->ip, .uid = u->c->uid, .pid = u->t.pid, .start = u->t.start};
  snprintf(l.bridge, sizeof(l.bridge), "%s", u->a->bridge);
  snprintf(l.hostif, sizeof(l.hostif), "%s", u->hostif);
  l.n_ports = u->a->n_ports;
  memcpy(l.ports, u->a->ports, u->a->n_ports * sizeof(l.ports[0]));
  lease_add(&u->s, &l);
  u->lease_added = true;
  return leases_save(&u->s, err);
}

static int print_result(const struct up *u, nsbox_error_t *err) {
  char ip[INET_ADDRSTRLEN], gw[INET_ADDRSTRLEN], line[96];
  inet_ntop(AF_INET, &u->ip, ip, sizeof(ip));
  inet_ntop(AF_INET, &u->gw, gw, sizeof(gw));
  int n = snprintf(line, sizeof(line), "%s %s/%u %s\n", u->hostif, ip, u->prefix, gw);
  int r = write_all(STDOUT_FILENO, line, (size_t)n);
  return r < 0 ? nsbox_fail(err, -r, "write to stdout") : 0;
}

static int up_run(struct up *u, nsbox_error_t *err) {
  unsigned long quota = 0;
  cleanup_close int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  if (self < 0)
    return nsbox_fail(err, errno, "open /proc/self/ns/net");
  if (target_open(u->c, u->a->pidfd, &u->t, err) < 0 ||
      (!u->c->root && policy_quota(u->c, u->a->bridge, &quota, err) < 0) || nft_check(err) < 0 ||
      rtnl_open_in(&u->ctr, u->t.netns, self, err) < 0 || rtnl_open(&u->host, err) < 0 ||
      check_no_eth0(u, err) < 0)
    return -1;
  if (state_open(&u->s, true, err) < 0 || net_reclaim(&u->s, &u->host, err) < 0 ||
      (!u->c->root && check_quota(u, quota, err) < 0) ||
      rtnl_addr_list(&u->host, 0, &u->addrs, &u->n_addrs, err) < 0 || check_ports(u, err) < 0)
    return -1;
  if (bridge_prepare(u, err) < 0 || pick_address(u, err) < 0 || veth_create(u, err) < 0 ||
      container_configure(u, err) < 0 || lease_commit(u, err) < 0)
    return -1;
  u->nft_touched = true;
  if (net_sync_nft(&u->s, &u->host, err) < 0)
    return -1;
  return print_result(u, err);
}

/* Best effort, in the reverse order; the error the caller sees stays the first one. */
static void up_undo(struct up *u) {
  nsbox_error_t ignored = {0};
  struct rtnl_link l;
  if (u->lease_added) {
    for (size_t i = 0; i < u->s.n_leases; i++) {
      if (strcmp(u->s.leases[i].hostif, u->hostif) == 0) {
        lease_remove(&u->s, i);
        break;
      }
    }
    leases_save(&u->s, &ignored);
  }
  if (u->veth_created && rtnl_link_get(&u->host, u->hostif, &l, &ignored) > 0)
    rtnl_link_del(&u->host, l.index, &ignored);
  if (u->br_created) {
    if (rtnl_link_get(&u->host, u->a->bridge, &l, &ignored) > 0)
      rtnl_link_del(&u->host, l.index, &ignored);
    bridge_forget(&u->s, u->a->bridge);
    bridges_save(&u->s, &ignored);
  }
  if (u->nft_touched)
    net_sync_nft(&u->s, &u->host, &ignored);
}

int cmd_up(const struct net_caller *c, const struct up_args *a, nsbox_error_t *err) {
  struct up u = {.c = c, .a = a, .t.netns = -1, .host.fd = -1, .ctr.fd = -1};
  u.s = (struct net_state){.dir = -1, .lock = -1};
  int ret = up_run(&u, err);
  if (ret < 0)
    up_undo(&u);
  free(u.addrs);
  rtnl_close(&u.ctr);
  rtnl_close(&u.host);
  if (u.t.netns >= 0)
    close(u.t.netns);
  state_close(&u.s); /* last: the lock is held until all is done or undone */
  return ret;
}
