/* slirp4netns: a user-mode TCP/IP stack for the container's namespace, the rootless default.
 *
 * It joins the container's user and network namespaces through fds we pass (no pid to look
 * up twice), makes tap0 there with --configure (10.0.2.100/24, gateway 10.0.2.2, DNS
 * 10.0.2.3), writes to its ready fd once that is done, and exits when the read end of its
 * exit fd sees EOF: our end is the only writer, so nsbox's death, even by SIGKILL, ends it.
 * Published ports are added through its API socket before the container may run. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "network.h"
#include "util.h"

#define API_SOCKET "slirp4netns.sock"

/* One request per connection, as slirp4netns's API serves them; the reply is one JSON
 * object: {"return": {...}} or {"error": {"desc": "..."}}. */
static int api_call(int dirfd, const char *request, char *reply, size_t len, nsbox_error_t *err) {
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/%s", dirfd, API_SOCKET);
  cleanup_close int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return nsbox_fail(err, errno, "socket");
  if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
    return nsbox_fail(err, errno, "connect to slirp4netns's API socket");
  int r = write_all(fd, request, strlen(request));
  if (r < 0)
    return nsbox_fail(err, -r, "write to slirp4netns's API socket");
  shutdown(fd, SHUT_WR);
  size_t got = 0;
  ssize_t n;
  while (got < len - 1 && (n = read(fd, reply + got, len - 1 - got)) != 0) {
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return nsbox_fail(err, errno, "read from slirp4netns's API socket");
    }
    got += (size_t)n;
  }
  reply[got] = '\0';
  return 0;
}

static int add_port(int dirfd, const struct nsbox_port *p, nsbox_error_t *err) {
  char ip[INET_ADDRSTRLEN], req[512], reply[1024];
  inet_ntop(AF_INET, &p->host_ip, ip, sizeof(ip));
  snprintf(req, sizeof(req),
           "{\"execute\": \"add_hostfwd\", \"arguments\": {\"proto\": \"%s\", \"host_addr\": "
           "\"%s\", \"host_port\": %u, \"guest_addr\": \"%s\", \"guest_port\": %u}}",
           portspec_proto_name(p->proto), ip, p->host_port, SLIRP_CONTAINER_ADDR, p->ctr_port);
  if (api_call(dirfd, req, reply, sizeof(reply), err) < 0)
    return -1;
  if (strstr(reply, "\"return\"") != NULL)
    return 0;
  /* {"error": {"desc": "bad request: add_hostfwd: slirp_add_hostfwd failed"}} */
  char *desc = strstr(reply, "\"desc\"");
  char why[256] = "";
  if (desc && sscanf(desc, "\"desc\" : \"%255[^\"]", why) != 1)
    sscanf(desc, "\"desc\": \"%255[^\"]", why);
  return nsbox_fail(err, 0, "publish port %u/%s: slirp4netns: %s", p->host_port,
                    portspec_proto_name(p->proto), why[0] ? why : reply);
}

/* Waits for the ready fd; on EOF slirp4netns failed and says why on its stderr. */
static int wait_ready(pid_t pid, int ready, int errfd, nsbox_error_t *err) {
  char c;
  ssize_t n;
  while ((n = read(ready, &c, 1)) < 0 && errno == EINTR)
    ;
  if (n == 1)
    return 0;
  network_reap(pid);
  char line[512];
  network_last_line(errfd, line, sizeof(line));
  return nsbox_fail(err, 0, "slirp4netns failed: %s", line[0] ? line : "no reason given");
}

int slirp4netns_start(struct network_link *l, const struct nsbox_config *c, int netfd,
                      int userns_fd, int dirfd, nsbox_error_t *err) {
  int ready[2], stop[2];
  if (pipe2(ready, O_CLOEXEC) < 0)
    return nsbox_fail(err, errno, "pipe");
  if (pipe2(stop, O_CLOEXEC) < 0) {
    close(ready[0]);
    close(ready[1]);
    return nsbox_fail(err, errno, "pipe");
  }
  char netns[40], userns[48], ready_arg[24], exit_arg[24], api[64];
  snprintf(netns, sizeof(netns), "/proc/self/fd/%d", netfd);
  snprintf(userns, sizeof(userns), "--userns-path=/proc/self/fd/%d", userns_fd);
  snprintf(ready_arg, sizeof(ready_arg), "--ready-fd=%d", ready[1]);
  snprintf(exit_arg, sizeof(exit_arg), "--exit-fd=%d", stop[0]);
  snprintf(api, sizeof(api), "--api-socket=/proc/self/fd/%d/%s", dirfd, API_SOCKET);
  char *argv[16];
  size_t n = 0;
  argv[n++] = c->net.backend;
  argv[n++] = "--configure";
  argv[n++] = "--mtu=65520";
  if (!c->net.allow_host_loopback)
    argv[n++] = "--disable-host-loopback";
  argv[n++] = "--enable-seccomp";
  /* Its sandbox (a private mount namespace, capabilities dropped) needs privilege: as root
   * it can have it; a rootless slirp4netns runs outside the container's user namespace. */
  if (userns_fd < 0)
    argv[n++] = "--enable-sandbox";
  argv[n++] = "--netns-type=path";
  if (userns_fd >= 0)
    argv[n++] = userns;
  argv[n++] = ready_arg;
  argv[n++] = exit_arg;
  if (c->net.n_ports > 0)
    argv[n++] = api;
  argv[n++] = netns;
  argv[n++] = "tap0";
  argv[n] = NULL;
  /* Open in it for the /proc/self/fd paths of its arguments; -2 skips, -1 ends. */
  int keep[] = {netfd,   userns_fd >= 0 ? userns_fd : -2, ready[1],
                stop[0], c->net.n_ports > 0 ? dirfd : -2, -1};
  cleanup_close int errfd = network_errfd(err);
  pid_t pid = errfd < 0 ? -1 : network_spawn(argv, -1, errfd, keep, err);
  close(ready[1]);
  close(stop[0]);
  if (pid < 0) {
    close(ready[0]);
    close(stop[1]);
    return -1;
  }
  int r = wait_ready(pid, ready[0], errfd, err);
  close(ready[0]);
  if (r < 0) {
    close(stop[1]);
    return -1;
  }
  l->backend = pid;
  l->stop_fd = stop[1];
  for (size_t i = 0; i < c->net.n_ports; i++) {
    if (add_port(dirfd, &c->net.ports[i], err) < 0) {
      unlinkat(dirfd, API_SOCKET, 0);
      network_disconnect(l, c);
      return -1;
    }
  }
  /* Nothing more to ask it: nobody else gets to. */
  if (c->net.n_ports > 0)
    unlinkat(dirfd, API_SOCKET, 0);
  return 0;
}
