/* See container.h.
 *
 * Parent                               Child (clone: new user?, mount, pid, uts and ipc
 *                                       namespaces; PID 1 of its PID namespace)
 * blocks forwardable signals; compiles
 * the seccomp filter
 * ns_spawn: clone; newuidmap/newgidmap  waits
 * and the network helper start;
 * container_create; running state;
 * the cgroup, the child moved into it
 * ns_release ------ maps, go --------> new cgroup namespace (rooted at its
 *                                       cgroup); mounts the root, /proc, /dev
 * network backend (slirp4netns, pasta
 * or nsbox-net) on the namespace
 * netns_send ------ netns fd, addr ---> joins it, lo up; /sys, /etc files, volumes;
 *                                       cgroupfs, masks; pivot_root; hostname;
 *                                       rlimits; setsid; bounding set; user;
 *                                       capabilities; no_new_privs; seccomp
 *            <----- error message ---- (on failure, then _exit)
 *            <----- EOF on exec ------ execveat(sealed memfd of nsbox-init) or the command
 * forwards signals, waits, returns the status. */
#include "container.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "caps.h"
#include "cgroup.h"
#include "initmem.h"
#include "limits.h"
#include "mounts.h"
#include "netns.h"
#include "network.h"
#include "rootfs.h"
#include "seccomp.h"
#include "syscalls.h"
#include "userns.h"
#include "util.h"

extern char **environ;

struct child_ctx {
  const struct nsbox_config *c;
  int sock;   /* child's end of the error channel */
  int initfd; /* sealed memfd of nsbox-init, -1 with --no-init */
  sigset_t orig_mask;
  struct nsbox_seccomp_prog seccomp; /* compiled by the parent, loaded by the child */
};

/* The signals nsbox run passes on: every catchable one but SIGCHLD, which is ours, and the
 * fault signals, which only ever concern nsbox itself. */
static void forward_set(sigset_t *set) {
  sigemptyset(set);
  for (int s = 1; s < 32; s++) {
    if (s == SIGKILL || s == SIGSTOP || s == SIGSEGV || s == SIGBUS || s == SIGFPE || s == SIGILL ||
        s == SIGTRAP || s == SIGSYS)
      continue;
    sigaddset(set, s);
  }
}

/* Looks NAME or number up in the container's own /etc/passwd or /etc/group (we are already
 * inside its root; the file is only read). Fields: name:x:id:gid:gecos:home:shell. */
static bool lookup_db(const char *file, const char *key, unsigned long *id, unsigned long *gid,
                      char **home) {
  cleanup_free char *data = NULL;
  if (read_file_at(AT_FDCWD, file, &data) < 0)
    return false;
  unsigned long want;
  bool numeric = parse_ulong(key, &want) == 0;
  char *save = NULL;
  for (char *line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    char *f[7] = {0};
    size_t n = 0;
    for (char *p = line; n < 7; n++) {
      f[n] = p;
      p = strchr(p, ':');
      if (p == NULL) {
        n++;
        break;
      }
      *p++ = '\0';
    }
    unsigned long v;
    if (n < 3 || parse_ulong(f[2], &v) < 0)
      continue;
    if (numeric ? v != want : strcmp(f[0], key) != 0)
      continue;
    *id = v;
    if (gid && n >= 4)
      parse_ulong(f[3], gid);
    if (home && n >= 6)
      *home = xstrdup(f[5]);
    return true;
  }
  return false;
}

static int switch_user(const struct nsbox_config *c, char **home, bool *root_user,
                       nsbox_error_t *err) {
  unsigned long uid = 0, gid = 0;
  const char *spec = c->process.user;
  if (spec != NULL) {
    cleanup_free char *user = xstrdup(spec);
    char *group = strchr(user, ':');
    if (group)
      *group++ = '\0';
    if (!lookup_db("/etc/passwd", user, &uid, &gid, home) && parse_ulong(user, &uid) < 0)
      return nsbox_fail(err, 0, "user %s: no such user in the container's /etc/passwd", user);
    if (group && !lookup_db("/etc/group", group, &gid, NULL, NULL) && parse_ulong(group, &gid) < 0)
      return nsbox_fail(err, 0, "group %s: no such group in the container's /etc/group", group);
  } else {
    lookup_db("/etc/passwd", "0", &uid, &gid, home);
  }
  *root_user = uid == 0;
  gid_t g = (gid_t)gid;
  /* Denied in a user namespace without a subordinate range: the groups are fixed there. */
  if (setgroups(1, &g) < 0 && errno != EPERM)
    return nsbox_fail(err, errno, "setgroups");
  if (setresgid(g, g, g) < 0 || setresuid((uid_t)uid, (uid_t)uid, (uid_t)uid) < 0) {
    if (errno == EINVAL)
      return nsbox_fail(err, 0,
                        "user %lu:%lu is not mapped in the container: rootless nsbox maps only "
                        "root unless /etc/subuid and /etc/subgid give you a range",
                        uid, gid);
    return nsbox_fail(err, errno, "switch to user %lu:%lu", uid, gid);
  }
  return 0;
}

static bool env_has(char **env, const char *key) {
  size_t kl = strlen(key);
  for (; *env; env++)
    if (strncmp(*env, key, kl) == 0 && (*env)[kl] == '=')
      return true;
  return false;
}

static char **env_with_home(char **env, const char *home) {
  if (env_has(env, "HOME"))
    return env;
  size_t n = 0;
  while (env[n])
    n++;
  char **out = xmalloc((n + 2) * sizeof(*out));
  memcpy(out, env, n * sizeof(*out));
  out[n] = xasprintf("HOME=%s", home && *home ? home : "/");
  return out;
}

static int set_rlimits(const struct nsbox_process *p, nsbox_error_t *err) {
  for (size_t i = 0; i < p->n_rlimits; i++) {
    const struct nsbox_rlimit *rl = &p->rlimits[i];
    if (setrlimit(rl->resource, &rl->limit) == 0)
      continue;
    int e = errno;
    struct rlimit now = {0};
    getrlimit(rl->resource, &now);
    if (e == EPERM && rl->limit.rlim_max > now.rlim_max)
      return nsbox_fail(err, 0,
                        "--ulimit: a hard limit above nsbox's own (%llu) needs privilege on the "
                        "host (root with CAP_SYS_RESOURCE)",
                        (unsigned long long)now.rlim_max);
    return nsbox_fail(err, e, "--ulimit");
  }
  return 0;
}

/* The last steps before exec, in an order that keeps each possible: the bounding set drops
 * while we are still root of the namespace; a filter without no_new_privs needs
 * CAP_SYS_ADMIN, so then it goes in before the capabilities are set. */
static int confine(struct child_ctx *x, char **home, nsbox_error_t *err) {
  const struct nsbox_config *c = x->c;
  struct nsbox_security sec_now = c->security;
  const struct nsbox_security *sec = &sec_now;
  /* What nsbox itself lacks cannot be given; ALL means all that nsbox has. */
  sec_now.cap_bounding &= caps_available();
  sec_now.cap_added &= sec_now.cap_bounding;
  /* Its own session: without a controlling terminal, TIOCSTI cannot push input into the
   * caller's terminal (bubblewrap CVE-2017-5226). */
  if (setsid() < 0)
    return nsbox_fail(err, errno, "setsid");
  if (caps_limit_bounding(sec->cap_bounding, err) < 0)
    return -1;
  if (!sec->no_new_privs && nsbox_seccomp_load(&x->seccomp, err) < 0)
    return -1;
  bool root_user = false;
  if (switch_user(c, home, &root_user, err) < 0 ||
      caps_apply(sec->cap_bounding, sec->cap_added, root_user, err) < 0)
    return -1;
  if (sec->no_new_privs) {
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
      return nsbox_fail(err, errno, "prctl(PR_SET_NO_NEW_PRIVS)");
    if (nsbox_seccomp_load(&x->seccomp, err) < 0)
      return -1;
  }
  return 0;
}

/* Everything the child does before exec; returns only on failure. */
static int child_setup(struct child_ctx *x, nsbox_error_t *err) {
  const struct nsbox_config *c = x->c;
  /* ns_spawn set PR_SET_PDEATHSIG: nsbox run dying (even by SIGKILL) takes the container
   * with it, as the init inherits it across exec. The parent has moved us into the
   * container's cgroup by now: a cgroup namespace made here has it as its root. */
  if (unshare(CLONE_NEWCGROUP) < 0)
    return nsbox_fail(err, errno, "unshare the cgroup namespace");
  cleanup_close int rootfd = rootfs_mount(c, err);
  if (rootfd < 0 || mounts_setup(c, rootfd, c->net.mode != NET_HOST ? x->sock : -1, err) < 0)
    return -1;
  if (c->process.cwd && strcmp(c->process.cwd, "/") != 0) {
    /* Docker and podman create a missing working directory. */
    cleanup_close int wfd = open_in_root(rootfd, c->process.cwd, CREATE_DIR, err);
    if (wfd < 0)
      return nsbox_wrap(err, "working directory");
  }
  if (rootfs_enter(c, rootfd, err) < 0)
    return -1;
  if (sethostname(c->hostname, strlen(c->hostname)) < 0)
    return nsbox_fail(err, errno, "sethostname");

  cleanup_free char *home = NULL;
  if (set_rlimits(&c->process, err) < 0 || confine(x, &home, err) < 0)
    return -1;
  if (chdir(c->process.cwd ? c->process.cwd : "/") < 0)
    return nsbox_fail(err, errno, "chdir to %s", c->process.cwd);
  char **env = env_with_home(c->process.env, home);

  /* Only 0, 1 and 2 reach the container; everything else of ours closes on exec. */
  if (sys_close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) < 0) {
    for (int fd = 3; fd < 1024; fd++)
      fcntl(fd, F_SETFD, FD_CLOEXEC);
  }
  /* The container starts with every signal at its default, as runc and crun do: a caller
   * that ignores SIGINT (a background job) or SIGPIPE must not pass that on. */
  for (int sig = 1; sig < NSIG; sig++)
    if (sig != SIGKILL && sig != SIGSTOP)
      signal(sig, SIG_DFL);
  sigprocmask(SIG_SETMASK, &x->orig_mask, NULL);

  if (x->initfd >= 0) {
    size_t n = 0;
    while (c->process.args[n])
      n++;
    char **argv = xmalloc((n + 5) * sizeof(*argv));
    argv[0] = "nsbox-init";
    argv[1] = "-p";
    argv[2] = "nsbox";
    argv[3] = "--";
    memcpy(argv + 4, c->process.args, (n + 1) * sizeof(*argv));
    sys_execveat(x->initfd, "", argv, env, AT_EMPTY_PATH);
    return nsbox_fail(err, errno, "exec nsbox-init");
  }
  environ = env; /* execvp searches the container's PATH, not ours */
  execvp(c->process.args[0], c->process.args);
  int e = errno;
  err->exit_code = e == ENOENT ? 127 : 126;
  return nsbox_fail(err, e, "exec %s", c->process.args[0]);
}

static int container_child(void *arg) {
  struct child_ctx *x = arg;
  nsbox_error_t err = {0};
  child_setup(x, &err);
  if (write(x->sock, &err, sizeof(err)) < 0) {
    /* The parent is gone; nobody is left to tell. */
  }
  return err.exit_code ? err.exit_code : 125;
}

static int wait_status(int status) {
  if (WIFEXITED(status))
    return WEXITSTATUS(status);
  if (WIFSIGNALED(status))
    return 128 + WTERMSIG(status);
  return 125;
}

/* Forwards signals until the child exits; returns its wait status. */
static int supervise(pid_t pid, const sigset_t *set) {
  for (;;) {
    int status;
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid)
      return status;
    if (r < 0 && errno != EINTR)
      return 125 << 8;
    siginfo_t si;
    int sig = sigwaitinfo(set, &si);
    if (sig < 0 || sig == SIGCHLD)
      continue;
    kill(pid, sig);
  }
}

/* Connects the container's network namespace and tells the child to go on (netns.h): the
 * namespace of the maker, if there is one, after the backend has been started on it. */
static int connect_network(struct nsbox_store *s, const struct nsbox_config *c,
                           struct netns_maker *m, pid_t child, int psock, struct network_link *l,
                           nsbox_error_t *err) {
  *l = (struct network_link){.backend = -1, .stop_fd = -1};
  cleanup_close int netfd = -1;
  if (m->pid > 0 && (netfd = netns_open(m)) < 0)
    return netns_send(psock, -netfd, -1, NULL, err); /* the child reports it */
  if (c->net.mode != NET_NONE) {
    cleanup_close int userns = -1;
    if (c->userns) {
      char path[40];
      snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)child);
      if ((userns = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return nsbox_fail(err, errno, "open %s", path);
    }
    /* Only slirp4netns's API socket, for published ports, lives in the container's dir. */
    cleanup_close int dirfd = -1;
    if (c->net.mode == NET_SLIRP4NETNS && c->net.n_ports > 0) {
      cleanup_free char *dir = xasprintf("%s/containers/%s", s->data, c->id);
      if ((dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
        return nsbox_fail(err, errno, "open %s", dir);
    }
    if (network_connect(l, c, netfd, userns, child, dirfd, err) < 0)
      return -1;
  }
  /* On failure the caller disconnects, after the child is gone (so its lease ends too). */
  return netns_send(psock, 0, netfd, l->addr, err);
}

/* The child's own error, when it sent one before it died: it says more than ours. */
static void prefer_child_error(int psock, nsbox_error_t *err) {
  nsbox_error_t cerr = {0};
  if (recv(psock, &cerr, sizeof(cerr), MSG_DONTWAIT) == (ssize_t)sizeof(cerr)) {
    *err = cerr;
    err->msg[sizeof(err->msg) - 1] = '\0';
    if (err->exit_code == 0)
      err->exit_code = 125;
  }
}

/* Makes the container's cgroup, records it for reclaim and moves the waiting child in. */
static int enter_cgroup(struct nsbox_store *s, const struct nsbox_config *c,
                        struct nsbox_cgroup *cg, pid_t pid, nsbox_error_t *err) {
  if (cgroup_create(cg, c->id, &c->resources, c->userns, err) < 0)
    return -1;
  if (container_set_cgroups(s, c->id, cg, err) < 0 || cgroup_enter(cg, pid, err) < 0) {
    cgroup_destroy(cg);
    container_clear_cgroups(s, c->id);
    return -1;
  }
  return 0;
}

/* Removes the container's cgroup, once its processes are gone; returns how many of them the
 * OOM killer killed. */
static unsigned long leave_cgroup(struct nsbox_store *s, const struct nsbox_config *c,
                                  struct nsbox_cgroup *cg) {
  if (cg->version == 0)
    return 0;
  unsigned long ooms = cgroup_oom_kills(cg);
  if (cgroup_destroy(cg) == 0)
    container_clear_cgroups(s, c->id);
  return ooms;
}

/* Waits for the child's exec (EOF on the socket) or its error, then supervises it. */
static int start_and_wait(struct nsbox_store *s, const struct nsbox_config *c, struct child_ctx *x,
                          const sigset_t *set, int psock, nsbox_error_t *err) {
  /* No CLONE_NEWCGROUP: the child makes its cgroup namespace once it is in its cgroup. */
  unsigned long flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC;
  /* The bridge helper needs a process of the container in its namespace: clone's. */
  if (c->net.mode == NET_BRIDGE)
    flags |= CLONE_NEWNET;
  struct ns_child ch;
  int r = ns_spawn(&ch, flags, c->userns ? &c->idmaps : NULL, container_child, x, err);
  close(x->sock);
  if (r < 0)
    return -1;
  /* The network namespace is made beside the container's set-up, not before it. */
  struct netns_maker net = {.pid = -1};
  if (network_wants_netns_maker(&c->net) && netns_start(&net, c->userns ? ch.pid : 0, err) < 0) {
    ns_abort(&ch);
    return -1;
  }
  /* The container's files are made while the helpers (newuidmap, the network) run. */
  if (container_create(s, c, err) < 0) {
    netns_abort(&net);
    ns_abort(&ch);
    return -1;
  }
  /* Recorded before the child may run anything, so that whatever the container prints
   * first, `nsbox ps` and `nsbox rm -f` already know it runs. */
  nsbox_error_t ignored = {0};
  container_set_running(s, c->id, ch.pid, &ignored);
  struct nsbox_cgroup cg = {0};
  if (cgroup_wanted(&c->resources) && enter_cgroup(s, c, &cg, ch.pid, err) < 0) {
    netns_abort(&net);
    ns_abort(&ch);
    container_remove(s, c->id, &ignored);
    return -1;
  }
  if (ns_release(&ch, err) < 0) { /* the child is gone already */
    netns_abort(&net);
    leave_cgroup(s, c, &cg);
    container_remove(s, c->id, &ignored);
    return -1;
  }
  pid_t pid = ch.pid;
  struct network_link link = {.backend = -1, .stop_fd = -1};
  if (c->net.mode != NET_HOST && connect_network(s, c, &net, pid, psock, &link, err) < 0) {
    netns_abort(&net);
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
      ;
    prefer_child_error(psock, err);
    network_disconnect(&link, c);
    leave_cgroup(s, c, &cg);
    container_remove(s, c->id, &ignored);
    return -1;
  }
  nsbox_error_t cerr = {0};
  ssize_t n;
  while ((n = read(psock, &cerr, sizeof(cerr))) < 0 && errno == EINTR)
    ;
  if (n > 0) {
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
      ;
    network_disconnect(&link, c);
    leave_cgroup(s, c, &cg);
    *err = cerr;
    err->msg[sizeof(err->msg) - 1] = '\0';
    if (err->exit_code == 0)
      err->exit_code = 125;
    return -1;
  }
  int status = wait_status(supervise(pid, set));
  network_disconnect(&link, c);
  if (leave_cgroup(s, c, &cg) > 0 && status == 128 + SIGKILL) {
    char limit[32];
    limits_format_size(c->resources.memory, limit, sizeof(limit));
    nsbox_notice("container killed: out of memory (limit %s)", limit);
  }
  return status;
}

int container_run(struct nsbox_store *s, const struct nsbox_config *c, nsbox_error_t *err) {
  struct child_ctx x = {.c = c, .sock = -1, .initfd = -1};
  sigset_t set;
  forward_set(&set);
  sigaddset(&set, SIGCHLD);
  /* Blocked from before the child exists, so no signal is lost or acts on nsbox itself;
   * the child restores the original mask before exec. */
  sigprocmask(SIG_BLOCK, &set, &x.orig_mask);
  int ret = -1, sv[2];
  if (nsbox_seccomp_prepare(&c->security, c->security.cap_bounding, &x.seccomp, err) < 0) {
    /* err says why */
  } else if (!c->process.no_init && (x.initfd = initmem_open(err)) < 0) {
    /* err says why */
  } else if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
    nsbox_fail(err, errno, "socketpair");
  } else {
    x.sock = sv[1];
    ret = start_and_wait(s, c, &x, &set, sv[0], err);
    close(sv[0]);
  }
  if (x.initfd >= 0)
    close(x.initfd);
  nsbox_seccomp_prog_free(&x.seccomp);
  sigprocmask(SIG_SETMASK, &x.orig_mask, NULL);
  return ret;
}
