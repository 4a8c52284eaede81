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
#include "imgfile.h"
#include "initmem.h"
#include "limits.h"
#include "mounts.h"
#include "netns.h"
#include "network.h"
#include "process.h"
#include "rootfs.h"
#include "seccomp.h"
#include "signals.h"
#include "syscalls.h"
#include "tty.h"
#include "userns.h"
#include "util.h"

extern char **environ;

struct child_ctx {
  const struct nsbox_config *c;
  const struct container_io *io;
  int sock;    /* child's end of the error channel */
  int initfd;  /* sealed memfd of nsbox-init, -1 with --no-init */
  int console; /* -t: the pty's other end, once it is open */
  sigset_t orig_mask;
  struct nsbox_seccomp_prog seccomp; /* compiled by the parent, loaded by the child */
};

/* The container's stdio: the caller's, the monitor's pipes or, with -t, a pty of its own
 * devpts whose master goes to the parent. */
static int set_stdio(struct child_ctx *x, nsbox_error_t *err) {
  for (int fd = 0; fd < 3; fd++)
    if (x->io->stdio[fd] >= 0 && dup2(x->io->stdio[fd], fd) < 0)
      return nsbox_fail(err, errno, "dup2");
  if (!x->c->process.terminal)
    return 0;
  cleanup_close int master =
      pty_open_inside(x->c->process.console_rows, x->c->process.console_cols, &x->console, err);
  if (master < 0)
    return -1;
  char msg = PTY_MSG;
  int r = sock_send_fd(x->sock, &msg, 1, master);
  return r < 0 ? nsbox_fail(err, -r, "pass the pty") : 0;
}

/* Everything the child does before exec; returns only on failure. */
static int child_setup(struct child_ctx *x, nsbox_error_t *err) {
  const struct nsbox_config *c = x->c;
  /* ns_spawn set PR_SET_PDEATHSIG: nsbox run dying (even by SIGKILL) takes the container
   * with it, as the init inherits it across exec. The parent has moved us into the
   * container's cgroup by now: a cgroup namespace made here has it as its root. */
  if (unshare(CLONE_NEWCGROUP) < 0)
    return nsbox_fail(err, errno, "unshare the cgroup namespace");
  cleanup_close int rootfd = rootfs_mount(c, x->sock, err);
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

  if (set_stdio(x, err) < 0)
    return -1;
  char **env = NULL;
  if (process_confine(&c->security, &c->process, &x->seccomp, x->console, &env, err) < 0)
    return -1;
  process_exec_ready(&x->orig_mask);

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

/* Takes back what a start that failed had made: everything of a new container; of a
 * restarted one only its running state, so that its last exit shows again. */
static void undo_start(struct nsbox_store *s, const struct nsbox_config *c,
                       const struct container_io *io) {
  nsbox_error_t ignored = {0};
  if (io->restart)
    container_clear_running(s, c->id);
  else
    container_remove(s, c->id, &ignored);
}

/* Reads the child's messages until its exec (EOF): on the way, a -t pty's master. Returns 0,
 * or -1 with the child's error (after reaping it). */
static int wait_exec(int psock, pid_t pid, struct container_io *io, nsbox_error_t *err) {
  for (;;) {
    nsbox_error_t cerr = {0};
    int fd = -1;
    ssize_t n = sock_recv_fd(psock, &cerr, sizeof(cerr), &fd, 0);
    if (n == 1 && fd >= 0 && ((char *)&cerr)[0] == PTY_MSG && io->mon.console < 0) {
      io->mon.console = fd;
      continue;
    }
    if (fd >= 0)
      close(fd);
    if (n <= 0)
      return 0;
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
      ;
    *err = cerr;
    err->msg[sizeof(err->msg) - 1] = '\0';
    if (err->exit_code == 0)
      err->exit_code = 125;
    return -1;
  }
}

/* Relays and supervises until the container's first process exits; in the foreground
 * with -t, with the caller's terminal raw meanwhile. Returns the exit status. */
static int supervise(const struct nsbox_config *c, struct container_io *io, const sigset_t *set) {
  struct tty_saved saved = {.fd = -1};
  nsbox_error_t ignored = {0};
  if (c->process.terminal && !io->detached && io->mon.console >= 0) {
    io->mon.term = STDIN_FILENO;
    if (tty_make_raw(STDIN_FILENO, &saved, &ignored) < 0)
      io->mon.term = -1;
    unsigned short rows, cols;
    if (tty_get_size(STDIN_FILENO, &rows, &cols)) /* it may have changed since the start */
      tty_set_size(io->mon.console, rows, cols);
  }
  int status = wait_status(monitor_run(&io->mon, set));
  tty_restore(&saved);
  return status;
}

/* Tells a detached run's caller that the command runs (or why it does not). */
static void report_ready(struct container_io *io, const nsbox_error_t *err) {
  if (io->ready < 0)
    return;
  nsbox_error_t ok = {0};
  (void)write_all(io->ready, err ? err : &ok, sizeof(ok));
  close(io->ready);
  io->ready = -1;
}

/* The child has its copies of its stdio; ours would only keep its pipes from ending. */
static void drop_child_stdio(struct container_io *io) {
  for (int i = 0; i < 3; i++) {
    int fd = io->stdio[i];
    if (fd < 0)
      continue;
    for (int j = i; j < 3; j++)
      if (io->stdio[j] == fd)
        io->stdio[j] = -1;
    close(fd);
  }
}

/* Spawns the child, builds what the container needs around it, waits for its exec, then
 * supervises it. */
static int start_and_wait(struct nsbox_store *s, const struct nsbox_config *c, struct child_ctx *x,
                          const sigset_t *set, int psock, bool *oom, nsbox_error_t *err) {
  struct container_io *io = (struct container_io *)x->io;
  /* No CLONE_NEWCGROUP: the child makes its cgroup namespace once it is in its cgroup. */
  unsigned long flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC;
  /* The bridge helper needs a process of the container in its namespace: clone's. */
  if (c->net.mode == NET_BRIDGE)
    flags |= CLONE_NEWNET;
  struct ns_child ch;
  int r = ns_spawn(&ch, flags, c->userns ? &c->idmaps : NULL, container_child, x, err);
  close(x->sock);
  drop_child_stdio(io);
  if (r < 0)
    return -1;
  /* The network namespace is made beside the container's set-up, not before it. */
  struct netns_maker net = {.pid = -1};
  if (network_wants_netns_maker(&c->net) && netns_start(&net, c->userns ? ch.pid : 0, err) < 0) {
    ns_abort(&ch);
    return -1;
  }
  /* The container's files are made while the helpers (newuidmap, the network) run. */
  if (!io->restart && container_create(s, c, err) < 0) {
    netns_abort(&net);
    ns_abort(&ch);
    return -1;
  }
  /* Recorded before the child may run anything, so that whatever the container prints
   * first, `nsbox ps` and `nsbox rm -f` already know it runs. */
  nsbox_error_t ignored = {0};
  container_set_running(s, c->id, ch.pid, NULL, &ignored);
  if (io->detached && (io->mon.log = container_open_log(s, c->id, err)) < 0) {
    netns_abort(&net);
    ns_abort(&ch);
    undo_start(s, c, io);
    return -1;
  }
  struct nsbox_cgroup cg = {0};
  if (cgroup_wanted(&c->resources) && enter_cgroup(s, c, &cg, ch.pid, err) < 0) {
    netns_abort(&net);
    ns_abort(&ch);
    undo_start(s, c, io);
    return -1;
  }
  if (ns_release(&ch, err) < 0) { /* the child is gone already */
    netns_abort(&net);
    leave_cgroup(s, c, &cg);
    undo_start(s, c, io);
    return -1;
  }
  pid_t pid = ch.pid;
  io->mon.pid = pid;
  /* Rootless, an image file needs its FUSE driver before the set-up can mount the root. */
  pid_t keeper = -1;
  if (c->userns && c->root.image_file && (keeper = imgfile_serve(c, psock, pid, err)) < 0) {
    netns_abort(&net);
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
      ;
    leave_cgroup(s, c, &cg);
    undo_start(s, c, io);
    return -1;
  }
  struct network_link link = {.backend = -1, .stop_fd = -1};
  if (c->net.mode != NET_HOST && connect_network(s, c, &net, pid, psock, &link, err) < 0) {
    netns_abort(&net);
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
      ;
    prefer_child_error(psock, err);
    network_disconnect(&link, c);
    imgfile_stop(keeper);
    leave_cgroup(s, c, &cg);
    undo_start(s, c, io);
    return -1;
  }
  if (link.addr[0])
    container_set_running(s, c->id, pid, link.addr, &ignored);
  if (wait_exec(psock, pid, io, err) < 0) {
    network_disconnect(&link, c);
    imgfile_stop(keeper);
    leave_cgroup(s, c, &cg);
    return -1;
  }
  report_ready(io, NULL);
  int status = supervise(c, io, set);
  network_disconnect(&link, c);
  imgfile_stop(keeper);
  *oom = leave_cgroup(s, c, &cg) > 0 && status == 128 + SIGKILL;
  if (*oom && !io->detached) {
    char limit[32];
    limits_format_size(c->resources.memory, limit, sizeof(limit));
    nsbox_notice("container killed: out of memory (limit %s)", limit);
  }
  return status;
}

void container_io_init(struct container_io *io) {
  memset(io, 0, sizeof(*io));
  io->stdio[0] = io->stdio[1] = io->stdio[2] = -1;
  io->ready = -1;
  monitor_init(&io->mon, 0);
}

int container_run(struct nsbox_store *s, const struct nsbox_config *c, struct container_io *io,
                  bool *oom, nsbox_error_t *err) {
  struct child_ctx x = {.c = c, .io = io, .sock = -1, .initfd = -1, .console = -1};
  sigset_t set;
  signals_forwardable(&set);
  /* Blocked from before the child exists, so no signal is lost or acts on nsbox itself;
   * the child restores the original mask before exec. */
  sigprocmask(SIG_BLOCK, &set, &x.orig_mask);
  *oom = false;
  int ret = -1, sv[2];
  if (nsbox_seccomp_prepare(&c->security, c->security.cap_bounding, &x.seccomp, err) < 0) {
    /* err says why */
  } else if (!c->process.no_init && (x.initfd = initmem_open(err)) < 0) {
    /* err says why */
  } else if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
    nsbox_fail(err, errno, "socketpair");
  } else {
    x.sock = sv[1];
    ret = start_and_wait(s, c, &x, &set, sv[0], oom, err);
    close(sv[0]);
  }
  if (ret < 0)
    report_ready(io, err);
  if (x.initfd >= 0)
    close(x.initfd);
  nsbox_seccomp_prog_free(&x.seccomp);
  sigprocmask(SIG_SETMASK, &x.orig_mask, NULL);
  return ret;
}
