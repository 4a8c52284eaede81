/* User namespaces: planning and writing id mappings, spawning into new namespaces, and
 * turning the kernel's refusals into one line an administrator can act on. */
#include "userns.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"

bool running_as_root(void) {
  if (geteuid() != 0)
    return false;
  /* Root of a user namespace (a rootless container, `unshare -r`) is a user like any other
   * for the host: it gets the rootless store, and a user namespace of its own again. The
   * initial namespace maps every id to itself. */
  cleanup_free char *map = NULL;
  if (read_file_at(AT_FDCWD, "/proc/self/uid_map", &map) < 0)
    return true;
  unsigned long inside, outside, count;
  return sscanf(map, "%lu %lu %lu", &inside, &outside, &count) == 3 && inside == 0 &&
         outside == 0 && count == 4294967295UL;
}

/* Finds "user:start:count" (by name or by number) in an /etc/subuid-style file. */
static bool find_subid(const char *file, const char *name, unsigned long id,
                       struct nsbox_idmap *out) {
  cleanup_free char *data = NULL;
  if (read_file_at(AT_FDCWD, file, &data) < 0)
    return false;
  char idstr[24];
  snprintf(idstr, sizeof(idstr), "%lu", id);
  char *save = NULL;
  for (char *line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    char *f1 = line, *f2 = strchr(f1, ':');
    if (f2 == NULL)
      continue;
    *f2++ = '\0';
    char *f3 = strchr(f2, ':');
    if (f3 == NULL)
      continue;
    *f3++ = '\0';
    if (strcmp(f1, idstr) != 0 && (name == NULL || strcmp(f1, name) != 0))
      continue;
    unsigned long start, count;
    if (parse_ulong(f2, &start) < 0 || parse_ulong(f3, &count) < 0 || count == 0)
      continue;
    *out = (struct nsbox_idmap){.container_id = 1, .host_id = start, .size = count};
    return true;
  }
  return false;
}

/* newuidmap is setuid root; only the standard locations are trusted, not $PATH. */
static bool find_helper(const char *name, char *out, size_t len) {
  static const char *const dirs[] = {"/usr/bin", "/bin", "/usr/sbin", "/sbin"};
  for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
    snprintf(out, len, "%s/%s", dirs[i], name);
    if (access(out, X_OK) == 0)
      return true;
  }
  return false;
}

void idmaps_plan(struct nsbox_idmaps *m) {
  uid_t uid = geteuid();
  gid_t gid = getegid();
  memset(m, 0, sizeof(*m));
  m->uid[0] = (struct nsbox_idmap){.container_id = 0, .host_id = uid, .size = 1};
  m->gid[0] = (struct nsbox_idmap){.container_id = 0, .host_id = gid, .size = 1};
  m->n_uid = m->n_gid = 1;

  struct passwd *pw = getpwuid(uid);
  const char *name = pw ? pw->pw_name : NULL;
  struct nsbox_idmap su, sg;
  if (find_subid("/etc/subuid", name, uid, &su) && find_subid("/etc/subgid", name, uid, &sg) &&
      find_helper("newuidmap", m->newuidmap, sizeof(m->newuidmap)) &&
      find_helper("newgidmap", m->newgidmap, sizeof(m->newgidmap))) {
    m->uid[1] = su;
    m->gid[1] = sg;
    m->n_uid = m->n_gid = 2;
    m->use_newidmap = true;
  }
}

bool idmaps_maps(const struct nsbox_idmaps *m, bool is_uid, unsigned long id) {
  const struct nsbox_idmap *v = is_uid ? m->uid : m->gid;
  size_t n = is_uid ? m->n_uid : m->n_gid;
  for (size_t i = 0; i < n; i++)
    if (id >= v[i].container_id && id - v[i].container_id < v[i].size)
      return true;
  return false;
}

static int read_sysctl(const char *procsys, const char *name, long *out) {
  cleanup_free char *path = xasprintf("%s/%s", procsys, name);
  cleanup_free char *s = NULL;
  if (read_file_at(AT_FDCWD, path, &s) < 0)
    return -1;
  *out = strtol(s, NULL, 10);
  return 0;
}

int userns_diagnose(const char *procsys, int errnum, const char *what, nsbox_error_t *err) {
  long v;
  if (read_sysctl(procsys, "kernel/unprivileged_userns_clone", &v) == 0 && v == 0)
    return nsbox_fail(err, 0,
                      "unprivileged user namespaces are disabled "
                      "(kernel.unprivileged_userns_clone=0); an administrator can allow them "
                      "with: sysctl -w kernel.unprivileged_userns_clone=1");
  if (read_sysctl(procsys, "user/max_user_namespaces", &v) == 0 && v == 0)
    return nsbox_fail(err, 0,
                      "user namespaces are disabled (user.max_user_namespaces=0); an "
                      "administrator can allow them with: sysctl -w "
                      "user.max_user_namespaces=15000");
  if (read_sysctl(procsys, "kernel/apparmor_restrict_unprivileged_userns", &v) == 0 && v == 1)
    return nsbox_fail(err, 0,
                      "AppArmor restricts unprivileged user namespaces "
                      "(kernel.apparmor_restrict_unprivileged_userns=1); an administrator can "
                      "allow them with: sysctl -w kernel.apparmor_restrict_unprivileged_userns=0 "
                      "(or an AppArmor profile granting nsbox 'userns')");
  if (errnum == ENOSPC)
    return nsbox_fail(err, errnum,
                      "%s: the user namespace limit is reached (user.max_user_namespaces)", what);
  if (errnum == EUSERS)
    return nsbox_fail(err, errnum, "%s: user namespaces are nested too deeply", what);
  return nsbox_fail(err, errnum, "%s", what);
}

static int userns_refused(int errnum, const char *what, nsbox_error_t *err) {
  return userns_diagnose("/proc/sys", errnum, what, err);
}

/* Runs newuidmap/newgidmap with an explicit argv and an empty environment; their stderr is
 * collected so that a failure becomes part of our one error line. */
static pid_t start_newidmap(const char *helper, pid_t pid, const struct nsbox_idmap *v, size_t n,
                            int *errfd, nsbox_error_t *err) {
  char args[2 + 3 * 2][24];
  char *argv[2 + 3 * 2 + 1];
  size_t a = 0;
  argv[a++] = (char *)helper;
  snprintf(args[0], sizeof(args[0]), "%d", (int)pid);
  argv[a++] = args[0];
  for (size_t i = 0; i < n; i++) {
    snprintf(args[1 + 3 * i], 24, "%lu", v[i].container_id);
    snprintf(args[2 + 3 * i], 24, "%lu", v[i].host_id);
    snprintf(args[3 + 3 * i], 24, "%lu", v[i].size);
    argv[a++] = args[1 + 3 * i];
    argv[a++] = args[2 + 3 * i];
    argv[a++] = args[3 + 3 * i];
  }
  argv[a] = NULL;

  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0)
    return nsbox_fail(err, errno, "pipe");
  pid_t child = fork();
  if (child < 0) {
    close(p[0]);
    close(p[1]);
    return nsbox_fail(err, errno, "fork");
  }
  if (child == 0) {
    char *const envp[] = {NULL};
    dup2(p[1], STDERR_FILENO);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execve(helper, argv, envp);
    _exit(127);
  }
  close(p[1]);
  *errfd = p[0];
  return child;
}

static int finish_newidmap(const char *helper, pid_t child, int errfd, nsbox_error_t *err) {
  char buf[512];
  ssize_t n, len = 0;
  while (len < (ssize_t)sizeof(buf) - 1 &&
         ((n = read(errfd, buf + len, sizeof(buf) - 1 - (size_t)len)) > 0 ||
          (n < 0 && errno == EINTR)))
    len += n > 0 ? n : 0;
  buf[len] = '\0';
  close(errfd);
  char *nl = strchr(buf, '\n');
  if (nl)
    *nl = '\0';
  int status;
  while (waitpid(child, &status, 0) < 0)
    if (errno != EINTR)
      return nsbox_fail(err, errno, "waitpid %s", helper);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
    return 0;
  return nsbox_fail(err, 0, "%s failed%s%s", helper, buf[0] ? ": " : "", buf);
}

static int write_proc(int procfd, const char *file, const char *data) {
  cleanup_close int fd = openat(procfd, file, O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return -errno;
  ssize_t n = write(fd, data, strlen(data));
  return n < 0 ? -errno : 0;
}

/* The single-id case needs no helper: the creator of a user namespace may map its own ids. */
static int write_maps_direct(pid_t pid, const struct nsbox_idmaps *m, nsbox_error_t *err) {
  char path[32], line[64];
  snprintf(path, sizeof(path), "/proc/%d", (int)pid);
  cleanup_close int procfd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (procfd < 0)
    return nsbox_fail(err, errno, "open %s", path);
  int r = write_proc(procfd, "setgroups", "deny");
  if (r < 0 && r != -ENOENT)
    return userns_refused(-r, "write setgroups", err);
  snprintf(line, sizeof(line), "0 %lu 1\n", m->uid[0].host_id);
  if ((r = write_proc(procfd, "uid_map", line)) < 0)
    return userns_refused(-r, "write uid_map", err);
  snprintf(line, sizeof(line), "0 %lu 1\n", m->gid[0].host_id);
  if ((r = write_proc(procfd, "gid_map", line)) < 0)
    return userns_refused(-r, "write gid_map", err);
  return 0;
}

/* newuidmap and newgidmap are setuid execs, the slowest step of a rootless start: both are
 * started right after the clone and run while the caller prepares the container. */
static void start_helpers(struct ns_child *ch) {
  const struct nsbox_idmaps *m = ch->maps;
  ch->helper[0] = start_newidmap(m->newuidmap, ch->pid, m->uid, m->n_uid, &ch->helper_err[0],
                                 &ch->helper_failure);
  if (ch->helper[0] < 0)
    return;
  ch->helper[1] = start_newidmap(m->newgidmap, ch->pid, m->gid, m->n_gid, &ch->helper_err[1],
                                 &ch->helper_failure);
}

/* Waits for the helpers started by start_helpers; the first failure is the one reported. */
static int finish_helpers(struct ns_child *ch, nsbox_error_t *err) {
  const char *names[2] = {ch->maps->newuidmap, ch->maps->newgidmap};
  int ret = 0;
  if (ch->helper[0] < 0 || ch->helper[1] < 0) {
    *err = ch->helper_failure;
    ret = -1;
  }
  for (int i = 0; i < 2; i++) {
    if (ch->helper[i] < 0)
      continue;
    nsbox_error_t e = {0};
    if (finish_newidmap(names[i], ch->helper[i], ch->helper_err[i], &e) < 0 && ret == 0) {
      *err = e;
      ret = -1;
    }
    ch->helper[i] = -1;
  }
  return ret;
}

int ns_spawn(struct ns_child *ch, unsigned long flags, const struct nsbox_idmaps *maps,
             ns_child_fn fn, void *arg, nsbox_error_t *err) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
    return nsbox_fail(err, errno, "socketpair");
  if (maps)
    flags |= CLONE_NEWUSER;
  /* A raw fork-like clone: the namespaces come into being with the child, so it is PID 1 of
   * its PID namespace. musl's cached thread id is stale in the child; nothing there uses it
   * (no raise(), no threads). */
  pid_t pid = (pid_t)syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, NULL);
  if (pid < 0) {
    int e = errno;
    close(sv[0]);
    close(sv[1]);
    if (maps && (e == EPERM || e == ENOSPC || e == EACCES || e == EINVAL || e == EUSERS))
      return userns_refused(e, "cannot create a user namespace", err);
    return nsbox_fail(err, e, "clone");
  }
  if (pid == 0) {
    /* Whatever the child does, it does for the caller: it never outlives it. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    close(sv[0]);
    char c;
    ssize_t n;
    while ((n = read(sv[1], &c, 1)) < 0 && errno == EINTR)
      ;
    if (n != 1)
      _exit(125); /* the parent failed and reports why */
    close(sv[1]);
    if (maps && maps->use_newidmap)
      setgroups(0, NULL); /* the caller's supplementary groups are unmapped inside */
    _exit(fn(arg));
  }
  close(sv[1]);
  *ch = (struct ns_child){.pid = pid, .sock = sv[0], .maps = maps, .helper = {-1, -1}};
  if (maps && maps->use_newidmap)
    start_helpers(ch);
  return 0;
}

void ns_abort(struct ns_child *ch) {
  if (ch->sock >= 0)
    close(ch->sock);
  ch->sock = -1;
  kill(ch->pid, SIGKILL);
  while (waitpid(ch->pid, NULL, 0) < 0 && errno == EINTR)
    ;
  if (ch->maps && ch->maps->use_newidmap) {
    nsbox_error_t ignored = {0};
    finish_helpers(ch, &ignored);
  }
}

int ns_release(struct ns_child *ch, nsbox_error_t *err) {
  int r = 0;
  if (ch->maps)
    r = ch->maps->use_newidmap ? finish_helpers(ch, err)
                               : write_maps_direct(ch->pid, ch->maps, err);
  if (r < 0) {
    ns_abort(ch);
    return -1;
  }
  if (write(ch->sock, "g", 1) < 0) {
    /* The child is gone; its exit status tells the caller. */
  }
  close(ch->sock);
  ch->sock = -1;
  return 0;
}

int userns_run(const struct nsbox_idmaps *maps, ns_child_fn fn, void *arg, nsbox_error_t *err) {
  struct ns_child ch;
  if (ns_spawn(&ch, 0, maps, fn, arg, err) < 0 || ns_release(&ch, err) < 0)
    return -1;
  int status;
  while (waitpid(ch.pid, &status, 0) < 0)
    if (errno != EINTR)
      return nsbox_fail(err, errno, "waitpid");
  if (WIFEXITED(status))
    return WEXITSTATUS(status);
  return 128 + WTERMSIG(status);
}
