/* pasta (from passt): user-mode networking that copies the host's addresses and routes into
 * the container's namespace, for users who want its speed.
 *
 * pasta has no ready fd and no exit fd, and once it has joined a user namespace the kernel
 * has cleared its parent-death signal. So a small watcher (a fork of nsbox) starts it and
 * stays its parent: pasta's pid file is a pipe (/proc/self/fd/N), written once the tap is
 * configured and the ports are bound, which is our ready signal; the watcher kills pasta when
 * our end of its stop pipe closes, which nsbox's death, even by SIGKILL, also does. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "network.h"
#include "syscalls.h"
#include "util.h"

/* "-t", "[HOSTIP/]HOSTPORT:CTRPORT" pairs for the published ports of one protocol, or
 * "none" so that pasta forwards nothing on its own ("auto" would follow whatever the
 * container binds). */
static void port_args(const struct nsbox_config *c, int proto, const char *flag, char **argv,
                      size_t *n) {
  bool any = false;
  for (size_t i = 0; i < c->net.n_ports; i++) {
    const struct nsbox_port *p = &c->net.ports[i];
    if (p->proto != proto)
      continue;
    char ip[INET_ADDRSTRLEN] = "";
    if (p->host_ip.s_addr != htonl(INADDR_ANY))
      inet_ntop(AF_INET, &p->host_ip, ip, sizeof(ip));
    argv[(*n)++] = (char *)flag;
    argv[(*n)++] = xasprintf("%s%s%u:%u", ip, ip[0] ? "/" : "", p->host_port, p->ctr_port);
    any = true;
  }
  if (!any) {
    argv[(*n)++] = (char *)flag;
    argv[(*n)++] = "none";
  }
}

static bool listed(int fd, const int *fds, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (fds[i] == fd)
      return true;
  return false;
}

/* The watcher holds nothing of nsbox's but what pasta and it need: not the container's
 * start-up socket, not another backend's pipes. */
static void close_all_but(const int *fds, size_t n) {
  DIR *d = opendir("/proc/self/fd");
  if (d == NULL)
    return;
  int self = dirfd(d);
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    unsigned long fd;
    if (parse_ulong(e->d_name, &fd) == 0 && fd > 2 && (int)fd != self && !listed((int)fd, fds, n))
      close((int)fd);
  }
  closedir(d);
}

/* The watcher: pasta's parent until stop sees EOF (or pasta exits). Never returns. */
static void watch(char **argv, int errfd, const int *keep, int stop) {
  setpgid(0, 0);
  int mine[8] = {errfd, stop};
  size_t n = 2;
  for (const int *k = keep; *k != -1 && n < ARRAY_SIZE(mine); k++)
    mine[n++] = *k;
  close_all_but(mine, n);
  nsbox_error_t err = {0};
  pid_t pid = network_spawn(argv, -1, errfd, keep, &err);
  if (pid < 0) {
    dprintf(errfd, "%s\n", err.msg);
    _exit(1);
  }
  for (const int *k = keep; *k != -1; k++)
    if (*k >= 0)
      close(*k);
  close(errfd);
  int pidfd = sys_pidfd_open(pid, 0);
  struct pollfd fds[2] = {{.fd = stop, .events = POLLIN}, {.fd = pidfd, .events = POLLIN}};
  while (poll(fds, pidfd >= 0 ? 2 : 1, -1) < 0 && errno == EINTR)
    ;
  kill(pid, SIGTERM);
  network_reap(pid);
  _exit(0);
}

/* Reads pasta's pid from the pid-file pipe: ready. EOF first: it failed. */
static int wait_ready(int rd) {
  char buf[16];
  ssize_t n;
  while ((n = read(rd, buf, sizeof(buf))) < 0 && errno == EINTR)
    ;
  return n > 0 ? 0 : -1;
}

int pasta_start(struct network_link *l, const struct nsbox_config *c, int netfd, int userns_fd,
                nsbox_error_t *err) {
  cleanup_close int errfd = network_errfd(err);
  if (errfd < 0)
    return -1;
  int pidfile[2], stop[2];
  if (pipe2(pidfile, O_CLOEXEC) < 0)
    return nsbox_fail(err, errno, "pipe");
  if (pipe2(stop, O_CLOEXEC) < 0) {
    close(pidfile[0]);
    close(pidfile[1]);
    return nsbox_fail(err, errno, "pipe");
  }
  char netns[40], userns[40], pidpath[40];
  snprintf(netns, sizeof(netns), "/proc/self/fd/%d", netfd);
  snprintf(userns, sizeof(userns), "/proc/self/fd/%d", userns_fd);
  snprintf(pidpath, sizeof(pidpath), "/proc/self/fd/%d", pidfile[1]);
  cleanup_free char **argv = xmalloc((32 + 4 * c->net.n_ports) * sizeof(char *));
  size_t n = 0;
  argv[n++] = c->net.backend;
  argv[n++] = "--foreground";
  argv[n++] = "--quiet";
  argv[n++] = "--config-net";
  argv[n++] = "--netns";
  argv[n++] = netns;
  /* It watches a netns *file* for deletion; ours is an fd, and the watcher ends it. */
  argv[n++] = "--no-netns-quit";
  if (userns_fd >= 0) {
    argv[n++] = "--userns";
    argv[n++] = userns;
  } else {
    /* As root it would switch to nobody, who may not enter the container's namespace. */
    argv[n++] = "--runas";
    argv[n++] = "0";
  }
  argv[n++] = "--pid";
  argv[n++] = pidpath;
  if (!c->net.allow_host_loopback)
    argv[n++] = "--no-map-gw";
  port_args(c, IPPROTO_TCP, "-t", argv, &n);
  port_args(c, IPPROTO_UDP, "-u", argv, &n);
  argv[n++] = "-T";
  argv[n++] = "none";
  argv[n++] = "-U";
  argv[n++] = "none";
  argv[n] = NULL;
  int keep[] = {netfd, userns_fd >= 0 ? userns_fd : -2, pidfile[1], -1};

  pid_t w = fork();
  if (w == 0) {
    close(pidfile[0]);
    close(stop[1]);
    watch(argv, errfd, keep, stop[0]);
  }
  int e = errno;
  close(pidfile[1]);
  close(stop[0]);
  if (w < 0) {
    close(pidfile[0]);
    close(stop[1]);
    return nsbox_fail(err, e, "fork");
  }
  int r = wait_ready(pidfile[0]);
  close(pidfile[0]);
  if (r < 0) {
    close(stop[1]);
    network_reap(w);
    char line[512];
    network_last_line(errfd, line, sizeof(line));
    return nsbox_fail(err, 0, "pasta failed: %s", line[0] ? line : "no reason given");
  }
  l->backend = w;
  l->stop_fd = stop[1];
  return 0;
}
