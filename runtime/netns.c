/* See netns.h. */
#include "netns.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"

/* The helper: returns 0 or the errno that stopped it. */
static int make_netns(int userns_fd) {
  if (userns_fd >= 0 && setns(userns_fd, CLONE_NEWUSER) < 0)
    return errno;
  return unshare(CLONE_NEWNET) < 0 ? errno : 0;
}

int netns_start(struct netns_maker *m, pid_t userns_of, nsbox_error_t *err) {
  m->pid = -1;
  cleanup_close int userns = -1;
  if (userns_of > 0) {
    char path[40];
    snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)userns_of);
    if ((userns = open(path, O_RDONLY | O_CLOEXEC)) < 0)
      return nsbox_fail(err, errno, "open %s", path);
  }
  int ready[2], hold[2];
  if (pipe2(ready, O_CLOEXEC) < 0)
    return nsbox_fail(err, errno, "pipe");
  if (pipe2(hold, O_CLOEXEC) < 0) {
    close(ready[0]);
    close(ready[1]);
    return nsbox_fail(err, errno, "pipe");
  }
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    close(ready[0]);
    close(hold[1]);
    unsigned char e = (unsigned char)make_netns(userns);
    if (write(ready[1], &e, 1) != 1)
      _exit(1);
    /* Keeps the namespace (and our pid) until nsbox has opened it. */
    char c;
    while (read(hold[0], &c, 1) < 0 && errno == EINTR)
      ;
    _exit(0);
  }
  int e = errno;
  close(ready[1]);
  close(hold[0]);
  if (pid < 0) {
    close(ready[0]);
    close(hold[1]);
    return nsbox_fail(err, e, "fork");
  }
  *m = (struct netns_maker){.pid = pid, .ready = ready[0], .hold = hold[1]};
  return 0;
}

void netns_abort(struct netns_maker *m) {
  if (m->pid <= 0)
    return;
  close(m->ready);
  close(m->hold);
  kill(m->pid, SIGKILL);
  while (waitpid(m->pid, NULL, 0) < 0 && errno == EINTR)
    ;
  m->pid = -1;
}

struct netns_msg {
  int errnum;
  char addr[INET6_ADDRSTRLEN];
};

int netns_open(struct netns_maker *m) {
  unsigned char e = 0;
  ssize_t n;
  while ((n = read(m->ready, &e, 1)) < 0 && errno == EINTR)
    ;
  int fd = n == 1 ? -e : -EIO;
  if (fd == 0) {
    /* The helper is our child and alive until we close `hold`: its pid is still its own. */
    char path[40];
    snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)m->pid);
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
      fd = -errno;
  }
  close(m->ready);
  close(m->hold);
  while (waitpid(m->pid, NULL, 0) < 0 && errno == EINTR)
    ;
  m->pid = -1;
  return fd;
}

int netns_send(int sock, int errnum, int fd, const char *addr, nsbox_error_t *err) {
  struct netns_msg m = {.errnum = errnum};
  snprintf(m.addr, sizeof(m.addr), "%s", addr ? addr : "");
  int r = sock_send_fd(sock, &m, sizeof(m), fd);
  return r < 0 ? nsbox_fail(err, -r, "pass the network namespace") : 0;
}

static int loopback_up(nsbox_error_t *err) {
  cleanup_close int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return nsbox_fail(err, errno, "socket");
  struct ifreq ifr = {0};
  snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
  if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
    return nsbox_fail(err, errno, "get flags of lo");
  ifr.ifr_flags |= IFF_UP;
  if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
    return nsbox_fail(err, errno, "bring lo up");
  return 0;
}

int netns_receive(int sock, char *addr, nsbox_error_t *err) {
  struct netns_msg m = {0};
  int got = -1;
  ssize_t n = sock_recv_fd(sock, &m, sizeof(m), &got, 0);
  cleanup_close int fd = got;
  if (n != sizeof(m))
    return nsbox_fail(err, n < 0 ? (int)-n : EIO, "receive the network namespace");
  if (m.errnum != 0)
    return nsbox_fail(err, m.errnum, "create a network namespace");
  if (fd >= 0 && setns(fd, CLONE_NEWNET) < 0)
    return nsbox_fail(err, errno, "join the network namespace");
  m.addr[sizeof(m.addr) - 1] = '\0';
  memcpy(addr, m.addr, sizeof(m.addr));
  return loopback_up(err);
}

int netns_allow_ping(unsigned long max_gid, nsbox_error_t *err) {
  char v[48];
  snprintf(v, sizeof(v), "0 %lu", max_gid);
  cleanup_close int fd = open("/proc/sys/net/ipv4/ping_group_range", O_WRONLY | O_CLOEXEC);
  if (fd < 0 || write(fd, v, strlen(v)) < 0)
    return nsbox_fail(err, errno, "set net.ipv4.ping_group_range in the container");
  return 0;
}
