/* bridge: a veth on a Linux bridge with NAT, made by the privileged helper nsbox-net (net/),
 * which nsbox runs (setuid root for a rootless user, as it is for root) and never trusts to
 * have been given anything but what it checks itself. nsbox passes a pidfd of the
 * container's first process, already in its network namespace; the helper prints
 * "HOSTIF ADDR/PREFIX GATEWAY" and keeps a lease that `nsbox-net release` ends once that
 * process is gone. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "network.h"
#include "syscalls.h"
#include "util.h"

/* Runs nsbox-net with args; its stdout into out. Returns its exit status or -1 (err). */
static int run_helper(const struct nsbox_config *c, char **args, const int *keep, char *out,
                      size_t outlen, char *why, size_t whylen, nsbox_error_t *err) {
  cleanup_close int errfd = network_errfd(err);
  if (errfd < 0)
    return -1;
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0)
    return nsbox_fail(err, errno, "pipe");
  pid_t pid = network_spawn(args, p[1], errfd, keep, err);
  close(p[1]);
  size_t got = 0;
  ssize_t n;
  while (pid > 0 && got < outlen - 1 && (n = read(p[0], out + got, outlen - 1 - got)) != 0) {
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      break;
    got += (size_t)n;
  }
  out[got] = '\0';
  close(p[0]);
  if (pid < 0)
    return -1;
  int status = network_reap(pid);
  network_last_line(errfd, why, whylen);
  /* Its lines start "nsbox-net: "; ours will say nsbox. */
  if (strncmp(why, "nsbox-net: ", 11) == 0)
    memmove(why, why + 11, strlen(why + 11) + 1);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* The port sockets at consecutive fd numbers from the returned one, as nsbox-net's
 * --port-fds wants them (CLOEXEC; network_spawn clears that for the kept ones). -1 on
 * failure. */
static int consecutive_fds(const int *fds, size_t n, int *out) {
  int base = 64;
  for (int tries = 0; tries < 16; tries++) {
    size_t got = 0;
    for (; got < n; got++) {
      int want = base + (int)got;
      int fd = fcntl(fds[got], F_DUPFD_CLOEXEC, want);
      if (fd < 0)
        break;
      out[got] = fd;
      if (fd != want) {
        base = fd + 1;
        close(fd);
        break;
      }
    }
    if (got == n)
      return base;
    for (size_t i = 0; i < got; i++)
      close(out[i]);
  }
  return -1;
}

int bridge_attach(struct network_link *l, const struct nsbox_config *c, pid_t child,
                  nsbox_error_t *err) {
  cleanup_close int pidfd = sys_pidfd_open(child, 0);
  if (pidfd < 0)
    return nsbox_fail(err, errno, "pidfd_open");
  char fdarg[16];
  snprintf(fdarg, sizeof(fdarg), "%d", pidfd);
  cleanup_free char **args = xmalloc((10 + 2 * c->net.n_ports) * sizeof(char *));
  cleanup_free char(*specs)[64] = xmalloc((c->net.n_ports + 1) * sizeof(*specs));
  size_t n = 0;
  args[n++] = c->net.backend;
  args[n++] = "up";
  args[n++] = "--pidfd";
  args[n++] = fdarg;
  args[n++] = "--bridge";
  args[n++] = c->net.bridge;
  for (size_t i = 0; i < c->net.n_ports; i++) {
    portspec_format(&c->net.ports[i], specs[i], sizeof(specs[i]));
    args[n++] = "--publish";
    args[n++] = specs[i];
  }
  cleanup_free int *keep = xmalloc((c->net.n_ports + 2) * sizeof(int));
  char first[16];
  keep[0] = pidfd;
  size_t nk = 1;
  if (c->net.n_ports > 0) {
    int base = consecutive_fds(c->net.port_fds, c->net.n_ports, keep + 1);
    if (base < 0)
      return nsbox_fail(err, EMFILE, "pass the published ports to nsbox-net");
    snprintf(first, sizeof(first), "%d", base);
    args[n++] = "--port-fds";
    args[n++] = first;
    nk += c->net.n_ports;
  }
  args[n] = NULL;
  keep[nk] = -1;
  char out[256], why[512];
  int st = run_helper(c, args, keep, out, sizeof(out), why, sizeof(why), err);
  for (size_t i = 1; i < nk; i++)
    close(keep[i]);
  if (st < 0)
    return -1;
  if (st != 0)
    return nsbox_fail(err, 0, "bridge network: %s", why[0] ? why : "nsbox-net failed");
  char ifname[32], addr[64];
  if (sscanf(out, "%31s %63s", ifname, addr) != 2) {
    bridge_release(c);
    return nsbox_fail(err, 0, "bridge network: nsbox-net gave no address");
  }
  char *slash = strchr(addr, '/');
  if (slash)
    *slash = '\0';
  snprintf(l->addr, sizeof(l->addr), "%s", addr);
  l->leased = true;
  return 0;
}

void bridge_release(const struct nsbox_config *c) {
  char *args[] = {c->net.backend, "release", NULL};
  int keep[] = {-1};
  char out[64], why[512];
  nsbox_error_t err = {0};
  int st = run_helper(c, args, keep, out, sizeof(out), why, sizeof(why), &err);
  if (st < 0)
    nsbox_notice("release of the bridge lease: %s", err.msg);
  else if (st != 0)
    nsbox_notice("release of the bridge lease: %s", why[0] ? why : "nsbox-net failed");
}
