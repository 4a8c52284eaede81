/* The container's network, beyond its bare namespace (netns.h): the modes of --network, the
 * checks made before anything starts, the user-mode backends (slirp4netns, pasta) and the
 * privileged bridge helper (nsbox-net) that connect the namespace, and the /etc/hosts and
 * /etc/resolv.conf each mode gives the container.
 *
 *   none         own namespace, lo only
 *   host         the host's namespace
 *   slirp4netns  rootless default: a user-mode TCP/IP stack (10.0.2.0/24) behind a tap
 *   pasta        the same through passt's pasta, which copies the host's addresses
 *   bridge       root default: a veth on a Linux bridge with NAT, made by nsbox-net */
#ifndef NSBOX_NETWORK_H
#define NSBOX_NETWORK_H

#include <netinet/in.h>
#include <stdbool.h>
#include <sys/types.h>

#include "config.h"
#include "error.h"

/* slirp4netns's fixed addresses (its --configure defaults). */
#define SLIRP_CONTAINER_ADDR "10.0.2.100"
#define SLIRP_GATEWAY_ADDR "10.0.2.2"
#define SLIRP_DNS_ADDR "10.0.2.3"

/* The modes' names, as --network, the record and inspect spell them. */
extern const char *const network_mode_names[NET_BRIDGE + 1];

/* Parses a --network value ("slirp4netns:allow_host_loopback=true", "bridge:br0") into n.
 * Returns 0, or 125 after printing a usage error. */
int network_parse_mode(struct nsbox_network *n, const char *spec);

/* --dns IP and --add-host NAME:IP. Return 0, or 125 after printing a usage error. */
int network_add_dns(struct nsbox_network *n, const char *ip);
int network_add_host(struct nsbox_network *n, const char *spec);

/* Settles the mode before anything is created: the default for the caller (slirp4netns
 * rootless, bridge as root, none when the backend is missing, with a notice), whether the
 * backend can run (its binary, /dev/net/tun, the setuid nsbox-net), and whether every
 * published port is free on the host. Fills n->backend. Returns 0 or -1 with err filled. */
int network_prepare(struct nsbox_network *n, bool rootless, nsbox_error_t *err);

/* Whether the mode needs a namespace made beside the container (netns.h) rather than one of
 * clone's: the user-mode backends are started on that namespace before the container joins
 * it. The bridge helper instead needs the container's own process in its namespace. */
bool network_wants_netns_maker(const struct nsbox_network *n);

/* A running connection of the container's namespace to the outside. */
struct network_link {
  pid_t backend;               /* slirp4netns, or the watcher of pasta; -1 when none */
  int stop_fd;                 /* closing it makes the backend exit; -1 when none */
  bool leased;                 /* nsbox-net gave us a veth: `nsbox-net release` when we end */
  char addr[INET6_ADDRSTRLEN]; /* the container's address when known, else "" */
};

/* Connects the namespace. For slirp4netns and pasta, netfd is the namespace and userns_fd
 * the container's user namespace (-1 for root); for bridge, child is the container's first
 * process, already in its namespace. dirfd is the container's dir (slirp4netns's API socket
 * lives there while ports are added; -1 without them). Returns 0, or -1 with err filled and nothing
 * left. */
int network_connect(struct network_link *l, const struct nsbox_config *c, int netfd, int userns_fd,
                    pid_t child, int dirfd, nsbox_error_t *err);

/* Ends the connection: stops and reaps the backend, releases the bridge lease. */
void network_disconnect(struct network_link *l, const struct nsbox_config *c);

/* The container's /etc/hosts and /etc/resolv.conf for its mode; addr is its own address
 * ("" when unknown). Returned malloc'd. */
char *network_hosts_text(const struct nsbox_config *c, const char *addr);
char *network_resolv_text(const struct nsbox_config *c);

/* Backends, one file each (net_slirp4netns.c, net_pasta.c, net_bridge.c). */
int slirp4netns_start(struct network_link *l, const struct nsbox_config *c, int netfd,
                      int userns_fd, int dirfd, nsbox_error_t *err);
int pasta_start(struct network_link *l, const struct nsbox_config *c, int netfd, int userns_fd,
                nsbox_error_t *err);
int bridge_attach(struct network_link *l, const struct nsbox_config *c, pid_t child,
                  nsbox_error_t *err);
void bridge_release(const struct nsbox_config *c);

/* Shared by the backends: runs argv (argv[0] a full path) in a process group of its own (a
 * Ctrl-C on the terminal is for the container, not for its network), with stdin /dev/null,
 * stdout to out_fd (or /dev/null when -1) and stderr to err_fd, keeping open only the fds
 * listed in keep (ended by -1; entries < -1 are skipped). PR_SET_PDEATHSIG is set. Returns
 * the pid or -1 with err filled. */
pid_t network_spawn(char *const argv[], int out_fd, int err_fd, const int *keep,
                    nsbox_error_t *err);

/* A memfd to collect a backend's stderr in; -1 with err filled. */
int network_errfd(nsbox_error_t *err);

/* The last non-empty line a backend wrote to errfd, for one-line errors ("" when none). */
void network_last_line(int errfd, char *out, size_t len);

/* Waits for pid and returns its wait status (-1 when it cannot be waited for). */
int network_reap(pid_t pid);

#endif
