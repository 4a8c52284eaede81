/* See policy.h. Every check reads what the kernel says (/proc of our own pid namespace, the
 * namespace fds, bind()) rather than anything the caller tells us. */
#include "policy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/nsfs.h>
#include <linux/sockios.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../runtime/syscalls.h"
#include "../runtime/util.h"
#include "lease.h"

bool valid_ifname(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n >= 16 || s[0] == '-' || s[0] == '.')
    return false;
  for (const char *p = s; *p; p++) {
    char ch = *p;
    if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
          ch == '_' || ch == '.' || ch == '-'))
      return false;
  }
  return true;
}

int caller_identify(struct net_caller *c, nsbox_error_t *err) {
  memset(c, 0, sizeof(*c));
  c->uid = getuid();
  c->gid = getgid();
  c->root = c->uid == 0;
  int n = getgroups(0, NULL);
  if (n < 0)
    return nsbox_fail(err, errno, "getgroups");
  c->groups = xmalloc(((size_t)n + 1) * sizeof(gid_t));
  n = getgroups(n, c->groups);
  if (n < 0)
    return nsbox_fail(err, errno, "getgroups");
  c->n_groups = (size_t)n;
  struct passwd *pw = getpwuid(c->uid);
  if (pw != NULL && strlen(pw->pw_name) < sizeof(c->name))
    snprintf(c->name, sizeof(c->name), "%s", pw->pw_name);
  else
    snprintf(c->name, sizeof(c->name), "%lu", (unsigned long)c->uid);
  return 0;
}

void caller_free(struct net_caller *c) {
  free(c->groups);
  c->groups = NULL;
}

/* The pid a pidfd refers to, from its fdinfo: only pidfds have a "Pid:" line there. It is
 * -1 once the process has exited and 0 when it is outside our pid namespace. */
static int pidfd_pid(int pidfd, long *pid, nsbox_error_t *err) {
  if (fcntl(pidfd, F_GETFD) < 0)
    return nsbox_fail(err, 0, "fd %d is not open", pidfd);
  char path[48];
  snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pidfd);
  cleanup_free char *info = NULL;
  ssize_t r = read_file_at(AT_FDCWD, path, &info);
  if (r < 0)
    return nsbox_fail(err, (int)-r, "read %s", path);
  const char *line = strstr(info, "\nPid:");
  char *end;
  if (line == NULL)
    return nsbox_fail(err, 0, "fd %d is not a pidfd", pidfd);
  errno = 0;
  *pid = strtol(line + 5, &end, 10);
  if (errno != 0 || (*end != '\n' && *end != '\0'))
    return nsbox_fail(err, 0, "fd %d: unexpected fdinfo", pidfd);
  return 0;
}

/* The real uid of a process, from /proc/PID/status. */
static int proc_ruid(pid_t pid, unsigned long *uid, nsbox_error_t *err) {
  char path[40];
  snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
  cleanup_free char *status = NULL;
  ssize_t r = read_file_at(AT_FDCWD, path, &status);
  if (r < 0)
    return nsbox_fail(err, (int)-r, "read %s", path);
  const char *line = strstr(status, "\nUid:");
  if (line == NULL || sscanf(line + 5, "%lu", uid) != 1)
    return nsbox_fail(err, 0, "%s: no Uid line", path);
  return 0;
}

static bool same_file(int fd, const char *path) {
  struct stat a, b;
  return fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* An unprivileged caller's container must be in a network namespace the caller owns through
 * a user namespace of their own: never the host's, nor one root made and handed over. */
static int check_netns_owner(const struct net_caller *c, pid_t pid, int netns, nsbox_error_t *err) {
  cleanup_close int userns = ioctl(netns, NS_GET_USERNS);
  if (userns < 0)
    return nsbox_fail(err, errno, "find the user namespace of process %d's network namespace",
                      (int)pid);
  uid_t owner;
  if (!same_file(userns, "/proc/self/ns/user")) {
    if (ioctl(userns, NS_GET_OWNER_UID, &owner) < 0)
      return nsbox_fail(err, errno, "find the owner of process %d's user namespace", (int)pid);
    if (owner == c->uid)
      return 0;
  }
  return nsbox_fail(err, 0,
                    "process %d's network namespace does not belong to a user namespace of yours",
                    (int)pid);
}

int target_open(const struct net_caller *c, int pidfd, struct net_target *t, nsbox_error_t *err) {
  t->netns = -1;
  long pid = -1;
  if (pidfd_pid(pidfd, &pid, err) < 0)
    return -1;
  if (pid == -1)
    return nsbox_fail(err, 0, "the process of pidfd %d has exited", pidfd);
  if (pid == 0)
    return nsbox_fail(err, 0, "the process of pidfd %d is in another pid namespace", pidfd);
  if (pid == 1)
    return nsbox_fail(err, 0, "refusing pid 1");
  if (pid < 0 || pid > 0x7fffffff)
    return nsbox_fail(err, 0, "fd %d: unexpected pid %ld", pidfd, pid);
  t->pid = (pid_t)pid;

  if (!c->root) {
    unsigned long ruid;
    if (proc_ruid(t->pid, &ruid, err) < 0)
      return -1;
    if (ruid != c->uid)
      return nsbox_fail(err, 0, "process %d belongs to another user (uid %lu)", (int)t->pid, ruid);
  }
  int r = proc_starttime(t->pid, &t->start);
  if (r == -ENOENT || r == -ESRCH)
    return nsbox_fail(err, 0, "process %d has exited", (int)t->pid);
  if (r < 0)
    return nsbox_fail(err, -r, "read /proc/%d/stat", (int)t->pid);
  char path[40];
  snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)t->pid);
  cleanup_close int netns = open(path, O_RDONLY | O_CLOEXEC);
  if (netns < 0)
    return nsbox_fail(err, errno, "open %s", path);
  /* Everything above looked the process up by pid. The pidfd still being alive proves the pid
   * was not recycled meanwhile, so what we read and opened was that process's. */
  if (sys_pidfd_send_signal(pidfd, 0, NULL, 0) < 0)
    return nsbox_fail(err, errno == ESRCH ? 0 : errno, "process %d has exited", (int)t->pid);
  if (same_file(netns, "/proc/self/ns/net"))
    return nsbox_fail(err, 0, "process %d is not in a network namespace of its own", (int)t->pid);
  if (!c->root && check_netns_owner(c, t->pid, netns, err) < 0)
    return -1;
  t->netns = steal_fd(&netns);
  return 0;
}

int policy_parse_line(char *line, struct policy_line *out) {
  char *f[4], *save = NULL;
  size_t n = 0;
  for (char *tok = strtok_r(line, " \t\r\n", &save); tok; tok = strtok_r(NULL, " \t\r\n", &save)) {
    if (n == 0 && tok[0] == '#')
      return -1;
    if (n == 4)
      return -1;
    f[n++] = tok;
  }
  if (n != 4 || strcmp(f[1], "veth") != 0 || !valid_ifname(f[2]) || strcmp(f[0], "@") == 0 ||
      parse_ulong(f[3], &out->count) < 0)
    return -1;
  out->who = f[0];
  snprintf(out->bridge, sizeof(out->bridge), "%s", f[2]);
  return 0;
}

static bool in_group(const struct net_caller *c, gid_t gid) {
  if (c->gid == gid)
    return true;
  for (size_t i = 0; i < c->n_groups; i++)
    if (c->groups[i] == gid)
      return true;
  return false;
}

static bool line_matches(const struct net_caller *c, const char *who) {
  unsigned long id;
  if (who[0] == '@') {
    struct group *g = getgrnam(who + 1);
    if (g != NULL)
      return in_group(c, g->gr_gid);
    return parse_ulong(who + 1, &id) == 0 && in_group(c, (gid_t)id);
  }
  return strcmp(who, c->name) == 0 || (parse_ulong(who, &id) == 0 && id == c->uid);
}

/* The policy file's text, or NULL when there is none. Only root may have written it: the
 * file and its directory must be root's and writable by nobody else. */
static int read_policy(char **out, nsbox_error_t *err) {
  *out = NULL;
  const char *name = strrchr(NSBOX_NET_CONF, '/') + 1;
  char conf_dir[sizeof(NSBOX_NET_CONF)];
  snprintf(conf_dir, sizeof(conf_dir), "%.*s", (int)(name - 1 - NSBOX_NET_CONF), NSBOX_NET_CONF);
  cleanup_close int dir = open(conf_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0 && errno == ENOENT)
    return 0;
  if (dir < 0)
    return nsbox_fail(err, errno, "open %s", conf_dir);
  struct stat st;
  if (fstat(dir, &st) < 0)
    return nsbox_fail(err, errno, "stat %s", conf_dir);
  if (st.st_uid != 0 || (st.st_mode & 022) != 0)
    return nsbox_fail(err, 0, "refusing %s: %s must be owned by root and writable only by root",
                      NSBOX_NET_CONF, conf_dir);
  if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
    if (errno == ENOENT)
      return 0;
    return nsbox_fail(err, errno, "stat %s", NSBOX_NET_CONF);
  }
  if (!S_ISREG(st.st_mode) || st.st_uid != 0 || (st.st_mode & 022) != 0)
    return nsbox_fail(err, 0,
                      "refusing %s: it must be a regular file owned by root and writable only "
                      "by root",
                      NSBOX_NET_CONF);
  ssize_t r = read_file_at(dir, name, out);
  if (r < 0)
    return nsbox_fail(err, (int)-r, "read %s", NSBOX_NET_CONF);
  return 0;
}

int policy_quota(const struct net_caller *c, const char *bridge, unsigned long *quota,
                 nsbox_error_t *err) {
  cleanup_free char *text = NULL;
  if (read_policy(&text, err) < 0)
    return -1;
  bool found = false;
  char *save = NULL;
  for (char *line = text ? strtok_r(text, "\n", &save) : NULL; line;
       line = strtok_r(NULL, "\n", &save)) {
    struct policy_line pl;
    if (policy_parse_line(line, &pl) < 0 || strcmp(pl.bridge, bridge) != 0 ||
        !line_matches(c, pl.who))
      continue;
    if (!found || pl.count > *quota)
      *quota = pl.count;
    found = true;
  }
  if (!found)
    return nsbox_fail(err, 0, "user %s may not use bridge %s (see %s)", c->name, bridge,
                      NSBOX_NET_CONF);
  return 0;
}

bool ports_overlap(const struct nsbox_port *a, const struct nsbox_port *b) {
  return a->proto == b->proto && a->host_port == b->host_port &&
         (a->host_ip.s_addr == htonl(INADDR_ANY) || b->host_ip.s_addr == htonl(INADDR_ANY) ||
          a->host_ip.s_addr == b->host_ip.s_addr);
}

int port_in_use(const struct nsbox_port *p, nsbox_error_t *err) {
  return nsbox_fail(err, 0, "port %u/%s is already in use on the host", p->host_port,
                    portspec_proto_name(p->proto));
}

static unsigned long unprivileged_port_start(void) {
  cleanup_free char *s = NULL;
  unsigned long v;
  if (read_file_at(AT_FDCWD, "/proc/sys/net/ipv4/ip_unprivileged_port_start", &s) < 0)
    return 1024;
  s[strcspn(s, "\n")] = '\0';
  return parse_ulong(s, &v) == 0 ? v : 1024;
}

/* Whether a socket of the port's protocol could bind its host address and port now. Without
 * SO_REUSEADDR, as the program that will listen there would. */
static int port_bind_test(const struct nsbox_port *p, nsbox_error_t *err) {
  int type = p->proto == IPPROTO_UDP ? SOCK_DGRAM : SOCK_STREAM;
  cleanup_close int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return nsbox_fail(err, errno, "socket");
  struct sockaddr_in sa = {
      .sin_family = AF_INET, .sin_port = htons(p->host_port), .sin_addr = p->host_ip};
  if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
    return 0;
  if (errno == EADDRINUSE)
    return port_in_use(p, err);
  return nsbox_fail(err, errno, "check port %u/%s", p->host_port, portspec_proto_name(p->proto));
}

static int sockopt(int fd, int level, int name) {
  int v = -1;
  socklen_t len = sizeof(v);
  return getsockopt(fd, level, name, &v, &len) < 0 ? -1 : v;
}

/* A DNAT rule holds no socket: without one, a published port would also catch the traffic of
 * a host service that starts on it later, another user's included. So the caller must hold
 * the port for the container's life: fd is its socket, in the host's network namespace,
 * bound to exactly the published address and port, listening (TCP), and not shareable
 * (no SO_REUSEADDR on UDP, no SO_REUSEPORT). */
static int port_held(int fd, const struct nsbox_port *p, nsbox_error_t *err) {
  const char *proto = portspec_proto_name(p->proto);
  struct stat st, mine, theirs;
  if (fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode))
    return nsbox_fail(err, 0, "port %u/%s: fd %d is not a socket", p->host_port, proto, fd);
  int type = p->proto == IPPROTO_UDP ? SOCK_DGRAM : SOCK_STREAM;
  if (sockopt(fd, SOL_SOCKET, SO_DOMAIN) != AF_INET || sockopt(fd, SOL_SOCKET, SO_TYPE) != type ||
      sockopt(fd, SOL_SOCKET, SO_PROTOCOL) != p->proto)
    return nsbox_fail(err, 0, "port %u/%s: fd %d is not an IPv4 %s socket", p->host_port, proto, fd,
                      proto);
  cleanup_close int ns = ioctl(fd, SIOCGSKNS);
  if (ns < 0 || fstat(ns, &theirs) < 0 || stat("/proc/self/ns/net", &mine) < 0 ||
      theirs.st_ino != mine.st_ino || theirs.st_dev != mine.st_dev)
    return nsbox_fail(err, 0, "port %u/%s: fd %d is not a socket of the host's network",
                      p->host_port, proto, fd);
  struct sockaddr_in sa;
  socklen_t len = sizeof(sa);
  if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0 || sa.sin_family != AF_INET ||
      ntohs(sa.sin_port) != p->host_port || sa.sin_addr.s_addr != p->host_ip.s_addr)
    return nsbox_fail(err, 0, "port %u/%s: fd %d is not bound to it", p->host_port, proto, fd);
  if ((type == SOCK_STREAM && sockopt(fd, SOL_SOCKET, SO_ACCEPTCONN) != 1) ||
      (type == SOCK_DGRAM && sockopt(fd, SOL_SOCKET, SO_REUSEADDR) != 0) ||
      sockopt(fd, SOL_SOCKET, SO_REUSEPORT) != 0)
    return nsbox_fail(err, 0, "port %u/%s: fd %d does not hold the port for itself alone",
                      p->host_port, proto, fd);
  return 0;
}

int ports_check(const struct net_caller *c, const struct nsbox_port *ports, size_t n, int port_fds,
                const struct rtnl_addr *host_addrs, size_t n_addrs, nsbox_error_t *err) {
  unsigned long start = c->root ? 0 : unprivileged_port_start();
  for (size_t i = 0; i < n; i++) {
    const struct nsbox_port *p = &ports[i];
    const char *proto = portspec_proto_name(p->proto);
    if (p->host_port < start)
      return nsbox_fail(err, 0,
                        "port %u/%s is below net.ipv4.ip_unprivileged_port_start (%lu): only "
                        "root may publish it",
                        p->host_port, proto, start);
    if (p->host_ip.s_addr != htonl(INADDR_ANY)) {
      bool local = false;
      for (size_t j = 0; j < n_addrs && !local; j++)
        local = host_addrs[j].addr.s_addr == p->host_ip.s_addr;
      if (!local) {
        char ip[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &p->host_ip, ip, sizeof(ip));
        return nsbox_fail(err, 0, "cannot publish port %u/%s on %s: not an address of the host",
                          p->host_port, proto, ip);
      }
    }
    for (size_t j = 0; j < i; j++)
      if (ports_overlap(p, &ports[j]))
        return port_in_use(p, err);
    if (port_fds >= 0) {
      if (port_held(port_fds + (int)i, p, err) < 0)
        return -1;
    } else if (!c->root) {
      return nsbox_fail(err, 0,
                        "port %u/%s: a caller other than root must hold the published "
                        "ports itself (--port-fds)",
                        p->host_port, proto);
    } else if (port_bind_test(p, err) < 0) {
      return -1;
    }
  }
  return 0;
}
