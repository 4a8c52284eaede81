/* See network.h: modes, the checks before start, the /etc files, and what the backends share. */
#include "network.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "syscalls.h"
#include "util.h"

const char *const network_mode_names[NET_BRIDGE + 1] = {
    [NET_NONE] = "none",   [NET_HOST] = "host",     [NET_SLIRP4NETNS] = "slirp4netns",
    [NET_PASTA] = "pasta", [NET_BRIDGE] = "bridge",
};

static int parse_backend_options(struct nsbox_network *n, const char *spec, const char *opts) {
  cleanup_free char *copy = xstrdup(opts);
  char *save = NULL;
  for (char *o = strtok_r(copy, ",", &save); o; o = strtok_r(NULL, ",", &save)) {
    if (strcmp(o, "allow_host_loopback=true") == 0)
      n->allow_host_loopback = true;
    else if (strcmp(o, "allow_host_loopback=false") == 0)
      n->allow_host_loopback = false;
    else
      return cli_usage_error("--network %s: unknown option \"%s\" (allow_host_loopback=true|false)",
                             spec, o);
  }
  return 0;
}

int network_parse_mode(struct nsbox_network *n, const char *spec) {
  const char *colon = strchr(spec, ':');
  size_t len = colon ? (size_t)(colon - spec) : strlen(spec);
  for (size_t m = 0; m < ARRAY_SIZE(network_mode_names); m++) {
    if (strlen(network_mode_names[m]) != len || strncmp(spec, network_mode_names[m], len) != 0)
      continue;
    n->mode = (enum nsbox_network_mode)m;
    n->mode_given = true;
    if (colon == NULL)
      return 0;
    if (m == NET_SLIRP4NETNS || m == NET_PASTA)
      return parse_backend_options(n, spec, colon + 1);
    if (m == NET_BRIDGE) {
      free(n->bridge);
      n->bridge = xstrdup(colon + 1);
      /* nsbox-net checks it again; this is for a clear message before anything starts. */
      size_t bl = strlen(n->bridge);
      if (bl == 0 || bl > 15 || n->bridge[0] == '-' || n->bridge[0] == '.' ||
          strspn(n->bridge, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") !=
              bl)
        return cli_usage_error("--network %s: a bridge name is 1 to 15 letters, digits, '_', "
                               "'.' or '-', not starting with '-' or '.'",
                               spec);
      return 0;
    }
    return cli_usage_error("--network %s: mode %s takes no options", spec, network_mode_names[m]);
  }
  return cli_usage_error("--network %s: unknown mode (none, host, slirp4netns, pasta or "
                         "bridge[:NAME])",
                         spec);
}

static bool valid_ip(const char *s) {
  unsigned char buf[sizeof(struct in6_addr)];
  return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

int network_add_dns(struct nsbox_network *n, const char *ip) {
  if (!valid_ip(ip))
    return cli_usage_error("--dns %s: not an IP address", ip);
  size_t k = 0;
  while (n->dns && n->dns[k])
    k++;
  n->dns = xrealloc(n->dns, (k + 2) * sizeof(char *));
  n->dns[k] = xstrdup(ip);
  n->dns[k + 1] = NULL;
  return 0;
}

int network_add_host(struct nsbox_network *n, const char *spec) {
  /* NAME:IP, split at the first ':' so that IPv6 addresses keep theirs. */
  const char *colon = strchr(spec, ':');
  if (colon == NULL || colon == spec || !valid_ip(colon + 1))
    return cli_usage_error("--add-host %s: expected NAME:IP", spec);
  cleanup_free char *name = xstrndup(spec, (size_t)(colon - spec));
  if (strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_") !=
      strlen(name))
    return cli_usage_error("--add-host %s: \"%s\" is not a host name", spec, name);
  n->hosts = xrealloc(n->hosts, (n->n_hosts + 1) * sizeof(*n->hosts));
  n->hosts[n->n_hosts++] = (struct nsbox_host_entry){steal_pointer(&name), xstrdup(colon + 1)};
  return 0;
}

/* --- before start ------------------------------------------------------------------------- */

/* The caller's PATH lookup of an executable, then the sbin dirs; NULL when there is none. */
static char *find_in_path(const char *name) {
  char full[PATH_MAX];
  return find_program(name, "/usr/local/sbin:/usr/sbin:/sbin", full, sizeof(full)) ? xstrdup(full)
                                                                                   : NULL;
}

/* nsbox-net: beside nsbox (a checkout's out/, or where both were installed), then the usual
 * places for helpers, then PATH. */
static char *find_net_helper(void) {
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n > 0) {
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (slash) {
      *slash = '\0';
      cleanup_free char *p = xasprintf("%s/nsbox-net", self);
      if (access(p, X_OK) == 0)
        return steal_pointer(&p);
    }
  }
  static const char *const places[] = {"/usr/local/libexec/nsbox/nsbox-net",
                                       "/usr/libexec/nsbox/nsbox-net"};
  for (size_t i = 0; i < ARRAY_SIZE(places); i++)
    if (access(places[i], X_OK) == 0)
      return xstrdup(places[i]);
  return find_in_path("nsbox-net");
}

static bool helper_has_privilege(const char *path, bool rootless) {
  if (!rootless)
    return true;
  struct stat st;
  return stat(path, &st) == 0 && st.st_uid == 0 && (st.st_mode & S_ISUID);
}

static bool have_nft(void) {
  return access("/usr/sbin/nft", X_OK) == 0 || access("/sbin/nft", X_OK) == 0;
}

/* slirp4netns and pasta open /dev/net/tun as the caller inside the container's user
 * namespace; without udev the node is often root's alone (0600) and they fail late with a
 * long log. */
static int check_tun(const char *backend, nsbox_error_t *err) {
  if (access("/dev/net/tun", R_OK | W_OK) == 0)
    return 0;
  int e = errno;
  if (e == ENOENT)
    return nsbox_fail(err, 0,
                      "%s needs /dev/net/tun, which this host lacks (as root: modprobe tun; "
                      "mknod -m 0666 /dev/net/tun c 10 200)",
                      backend);
  struct stat st;
  unsigned mode = stat("/dev/net/tun", &st) == 0 ? (unsigned)(st.st_mode & 07777) : 0;
  return nsbox_fail(err, 0,
                    "%s needs /dev/net/tun, which is mode %04o here (no udev?): as root, run "
                    "`chmod 0666 /dev/net/tun` (the usual default)",
                    backend, mode);
}

/* Why a mode cannot run here, in err; 0 when it can (n->backend then set). */
static int check_mode(struct nsbox_network *n, bool rootless, nsbox_error_t *err) {
  free(n->backend);
  n->backend = NULL;
  switch (n->mode) {
  case NET_NONE:
  case NET_HOST:
    return 0;
  case NET_SLIRP4NETNS:
  case NET_PASTA: {
    const char *bin = n->mode == NET_PASTA ? "pasta" : "slirp4netns";
    if ((n->backend = find_in_path(bin)) == NULL)
      return nsbox_fail(err, 0, "%s is not installed (Debian package %s)", bin,
                        n->mode == NET_PASTA ? "passt" : "slirp4netns");
    return check_tun(bin, err);
  }
  case NET_BRIDGE:
    if ((n->backend = find_net_helper()) == NULL)
      return nsbox_fail(err, 0,
                        "bridge networking needs the helper nsbox-net beside nsbox or "
                        "in PATH (see README: bridge networking)");
    if (!helper_has_privilege(n->backend, rootless))
      return nsbox_fail(err, 0,
                        "bridge networking: %s is not setuid root; an administrator installs it "
                        "with `install -o root -m 4755` (see README: bridge networking)",
                        n->backend);
    if (!have_nft())
      return nsbox_fail(err, 0, "bridge networking needs nft (Debian package nftables)");
    return 0;
  }
  return 0;
}

/* Binds each published port on the host, so that a port in use is one clear error before
 * anything starts. slirp4netns and pasta bind it again for good; for bridge, whose DNAT rule
 * holds no socket, nsbox keeps these (listening, for TCP) until the container ends, so that no
 * other service can take the port meanwhile, and nsbox-net checks that it does. */
static int check_ports(struct nsbox_network *n, nsbox_error_t *err) {
  if (n->mode == NET_BRIDGE && n->n_ports > 0) {
    n->port_fds = xmalloc(n->n_ports * sizeof(int));
    for (size_t i = 0; i < n->n_ports; i++)
      n->port_fds[i] = -1;
  }
  for (size_t i = 0; i < n->n_ports; i++) {
    const struct nsbox_port *p = &n->ports[i];
    for (size_t j = 0; j < i; j++)
      if (n->ports[j].host_port == p->host_port && n->ports[j].proto == p->proto)
        return nsbox_fail(err, 0, "port %u/%s is published twice", p->host_port,
                          portspec_proto_name(p->proto));
    int type = p->proto == IPPROTO_UDP ? SOCK_DGRAM : SOCK_STREAM;
    cleanup_close int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
    if (fd < 0)
      return nsbox_fail(err, errno, "socket");
    /* A listener still conflicts with SO_REUSEADDR; the TIME_WAIT of a closed one does not. */
    int one = 1;
    if (type == SOCK_STREAM)
      setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in sa = {
        .sin_family = AF_INET, .sin_port = htons(p->host_port), .sin_addr = p->host_ip};
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
        (type != SOCK_STREAM || listen(fd, 1) == 0)) {
      if (n->port_fds)
        n->port_fds[i] = steal_fd(&fd);
      continue;
    }
    char ip[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &p->host_ip, ip, sizeof(ip));
    if (errno == EADDRINUSE)
      return nsbox_fail(err, 0, "port %u/%s is already in use on the host", p->host_port,
                        portspec_proto_name(p->proto));
    if (errno == EADDRNOTAVAIL)
      return nsbox_fail(err, 0, "-p %s:%u: %s is not an address of this host", ip, p->host_port,
                        ip);
    if (errno == EACCES)
      return nsbox_fail(err, 0,
                        "port %u/%s: only root may publish ports below "
                        "net.ipv4.ip_unprivileged_port_start",
                        p->host_port, portspec_proto_name(p->proto));
    return nsbox_fail(err, errno, "port %u/%s", p->host_port, portspec_proto_name(p->proto));
  }
  return 0;
}

int network_prepare(struct nsbox_network *n, bool rootless, nsbox_error_t *err) {
  if (n->bridge == NULL)
    n->bridge = xstrdup("nsbox0");
  if (!n->mode_given) {
    /* The default is the useful mode where it can run, else an isolated namespace and one
     * line that says what is missing. */
    n->mode = rootless ? NET_SLIRP4NETNS : NET_BRIDGE;
    nsbox_error_t why = {0};
    if (check_mode(n, rootless, &why) < 0) {
      nsbox_notice("no network (as with --network none): %s", why.msg);
      n->mode = NET_NONE;
    }
  } else if (check_mode(n, rootless, err) < 0) {
    return -1;
  }
  if (n->n_ports > 0 && (n->mode == NET_NONE || n->mode == NET_HOST))
    return nsbox_fail(err, 0,
                      "-p needs a network to publish on (slirp4netns, pasta or bridge); "
                      "with --network %s there is none",
                      network_mode_names[n->mode]);
  if (n->mode == NET_SLIRP4NETNS && !n->allow_host_loopback)
    for (size_t i = 0; i < n->n_ports; i++)
      if (n->ports[i].proto == IPPROTO_UDP) {
        /* libslirp drops them: it will not translate 10.0.2.2 back to the host's loopback
         * when that is disabled (podman issue 4586). */
        nsbox_notice("-p %u/udp: with slirp4netns, replies to clients on the host's loopback "
                     "are lost unless --network slirp4netns:allow_host_loopback=true",
                     n->ports[i].host_port);
        break;
      }
  return check_ports(n, err);
}

bool network_wants_netns_maker(const struct nsbox_network *n) {
  return n->mode == NET_NONE || n->mode == NET_SLIRP4NETNS || n->mode == NET_PASTA;
}

int network_connect(struct network_link *l, const struct nsbox_config *c, int netfd, int userns_fd,
                    pid_t child, int dirfd, nsbox_error_t *err) {
  *l = (struct network_link){.backend = -1, .stop_fd = -1};
  switch (c->net.mode) {
  case NET_SLIRP4NETNS:
    snprintf(l->addr, sizeof(l->addr), "%s", SLIRP_CONTAINER_ADDR);
    return slirp4netns_start(l, c, netfd, userns_fd, dirfd, err);
  case NET_PASTA:
    return pasta_start(l, c, netfd, userns_fd, err);
  case NET_BRIDGE:
    return bridge_attach(l, c, child, err);
  default:
    return 0;
  }
}

/* After the lease, so that the DNAT rules are gone before the ports are free again. */
static void close_port_fds(const struct nsbox_network *n) {
  for (size_t i = 0; n->port_fds && i < n->n_ports; i++)
    if (n->port_fds[i] >= 0) {
      close(n->port_fds[i]);
      n->port_fds[i] = -1;
    }
}

void network_disconnect(struct network_link *l, const struct nsbox_config *c) {
  if (l->stop_fd >= 0) {
    close(l->stop_fd);
    l->stop_fd = -1;
  }
  if (l->backend > 0) {
    network_reap(l->backend);
    l->backend = -1;
  }
  if (l->leased) {
    bridge_release(c);
    l->leased = false;
  }
  close_port_fds(&c->net);
}

/* --- /etc files --------------------------------------------------------------------------- */

static void append(char **buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void append(char **buf, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *more = NULL;
  if (vasprintf(&more, fmt, ap) < 0)
    abort();
  va_end(ap);
  char *joined = xasprintf("%s%s", *buf ? *buf : "", more);
  free(more);
  free(*buf);
  *buf = joined;
}

char *network_hosts_text(const struct nsbox_config *c, const char *addr) {
  char *out = NULL;
  if (c->net.mode == NET_HOST) {
    /* The host's own names, as docker gives a --network host container. */
    if (read_file_at(AT_FDCWD, "/etc/hosts", &out) < 0)
      out = NULL;
    if (out && *out && out[strlen(out) - 1] != '\n')
      append(&out, "\n");
  } else {
    append(&out, "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n");
  }
  append(&out, "%s\t%s\n", addr && *addr ? addr : "127.0.1.1", c->hostname);
  if (c->net.mode == NET_SLIRP4NETNS && c->net.allow_host_loopback)
    append(&out, "%s\thost.containers.internal host.docker.internal\n", SLIRP_GATEWAY_ADDR);
  for (size_t i = 0; i < c->net.n_hosts; i++)
    append(&out, "%s\t%s\n", c->net.hosts[i].addr, c->net.hosts[i].name);
  return out;
}

/* The host's resolv.conf; systemd-resolved's full list rather than its stub, which listens on
 * the host's loopback. */
static char *host_resolv(void) {
  char *text = NULL;
  if (read_file_at(AT_FDCWD, "/run/systemd/resolve/resolv.conf", &text) < 0 &&
      read_file_at(AT_FDCWD, "/etc/resolv.conf", &text) < 0)
    return xstrdup("");
  return text;
}

/* The host's lines but its loopback nameservers, which a container in its own network
 * namespace cannot reach. */
static char *without_loopback(const char *text) {
  char *out = xstrdup("");
  cleanup_free char *copy = xstrdup(text);
  char *save = NULL;
  for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    char ip[64];
    if (sscanf(line, "nameserver %63s", ip) == 1 &&
        (strncmp(ip, "127.", 4) == 0 || strcmp(ip, "::1") == 0))
      continue;
    append(&out, "%s\n", line);
  }
  return out;
}

char *network_resolv_text(const struct nsbox_config *c) {
  cleanup_free char *host = host_resolv();
  char *out = NULL;
  if (c->net.dns) {
    /* --dns replaces the nameservers; the host's search domains and options stay. */
    for (char **d = c->net.dns; *d; d++)
      append(&out, "nameserver %s\n", *d);
    cleanup_free char *copy = xstrdup(host);
    char *save = NULL;
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
      if (strncmp(line, "search", 6) == 0 || strncmp(line, "options", 7) == 0)
        append(&out, "%s\n", line);
    return out;
  }
  switch (c->net.mode) {
  case NET_SLIRP4NETNS:
    /* slirp4netns answers on 10.0.2.3 with the host's resolvers, loopback ones included. */
    append(&out, "nameserver %s\n", SLIRP_DNS_ADDR);
    return out;
  case NET_HOST:
    return steal_pointer(&host);
  default:
    return without_loopback(host);
  }
}

/* --- what the backends share ---------------------------------------------------------------- */

int network_errfd(nsbox_error_t *err) {
  int fd = sys_memfd_create("nsbox-backend-stderr", MFD_CLOEXEC);
  return fd < 0 ? nsbox_fail(err, errno, "memfd_create") : fd;
}

pid_t network_spawn(char *const argv[], int out_fd, int err_fd, const int *keep,
                    nsbox_error_t *err) {
  cleanup_close int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (devnull < 0)
    return nsbox_fail(err, errno, "open /dev/null");
  pid_t pid = fork();
  if (pid < 0)
    return nsbox_fail(err, errno, "fork");
  if (pid == 0) {
    /* Dies with nsbox (the setting survives exec, not a change of credentials). */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    setpgid(0, 0);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (dup2(devnull, 0) < 0 || dup2(out_fd >= 0 ? out_fd : devnull, 1) < 0 ||
        dup2(err_fd >= 0 ? err_fd : devnull, 2) < 0)
      _exit(127);
    if (sys_close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
      for (int fd = 3; fd < 1024; fd++)
        fcntl(fd, F_SETFD, FD_CLOEXEC);
    for (; *keep != -1; keep++)
      if (*keep >= 0)
        fcntl(*keep, F_SETFD, 0);
    execv(argv[0], argv);
    dprintf(2, "exec %s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  return pid;
}

void network_last_line(int errfd, char *out, size_t len) {
  out[0] = '\0';
  char buf[4096];
  off_t size = lseek(errfd, 0, SEEK_END);
  off_t from = size > (off_t)sizeof(buf) - 1 ? size - (off_t)sizeof(buf) + 1 : 0;
  ssize_t n = pread(errfd, buf, sizeof(buf) - 1, from);
  if (n <= 0)
    return;
  buf[n] = '\0';
  while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
    buf[--n] = '\0';
  /* The last line but pasta's noise about a missing syslog. */
  for (;;) {
    char *line = strrchr(buf, '\n');
    const char *text = line ? line + 1 : buf;
    if (*text != '\0' && strncmp(text, "Failed to send ", 15) != 0) {
      snprintf(out, len, "%s", text);
      return;
    }
    if (line == NULL)
      return;
    *line = '\0';
  }
}

int network_reap(pid_t pid) {
  int status;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR)
      return -1;
  return status;
}
