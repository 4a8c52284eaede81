/* See exec.h. */
#include "exec.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup.h"
#include "monitor.h"
#include "process.h"
#include "seccomp.h"
#include "signals.h"
#include "tty.h"
#include "util.h"

extern char **environ;

/* The joiner's message that carries the process's pid. */
#define PID_MSG 'P'

struct exec_ctx {
  const struct nsbox_config *c;
  const struct nsbox_process *p;
  int pidfd;
  int flags; /* the namespaces to join */
  int sock;  /* the children's end */
  sigset_t orig_mask;
  struct nsbox_seccomp_prog seccomp;
};

/* The namespaces of pid that are not ours already (joining one's own user namespace is an
 * error; the others would be no-ops). */
static int namespaces_to_join(pid_t pid) {
  static const struct {
    const char *name;
    int flag;
  } ns[] = {{"user", CLONE_NEWUSER},    {"mnt", CLONE_NEWNS},  {"pid", CLONE_NEWPID},
            {"uts", CLONE_NEWUTS},      {"ipc", CLONE_NEWIPC}, {"net", CLONE_NEWNET},
            {"cgroup", CLONE_NEWCGROUP}};
  int flags = 0;
  for (size_t i = 0; i < ARRAY_SIZE(ns); i++) {
    char theirs[64], ours[32];
    snprintf(theirs, sizeof(theirs), "/proc/%d/ns/%s", (int)pid, ns[i].name);
    snprintf(ours, sizeof(ours), "/proc/self/ns/%s", ns[i].name);
    struct stat a, b;
    if (stat(theirs, &a) < 0 || stat(ours, &b) < 0 || a.st_ino != b.st_ino || a.st_dev != b.st_dev)
      flags |= ns[i].flag;
  }
  return flags;
}

/* The process itself: in every namespace of the container; returns only on failure. */
static int exec_process(struct exec_ctx *x, nsbox_error_t *err) {
  int console = -1;
  if (x->p->terminal) {
    cleanup_close int master =
        pty_open_inside(x->p->console_rows, x->p->console_cols, &console, err);
    if (master < 0)
      return -1;
    char msg = PTY_MSG;
    int r = sock_send_fd(x->sock, &msg, 1, master);
    if (r < 0)
      return nsbox_fail(err, -r, "pass the pty");
  }
  char **env = NULL;
  if (process_confine(&x->c->security, x->p, &x->seccomp, console, &env, err) < 0)
    return -1;
  process_exec_ready(&x->orig_mask);
  environ = env; /* execvp searches the container's PATH, not ours */
  execvp(x->p->args[0], x->p->args);
  int e = errno;
  err->exit_code = e == ENOENT ? 127 : 126;
  return nsbox_fail(err, e, "exec %s", x->p->args[0]);
}

static _Noreturn void report_and_exit(int sock, nsbox_error_t *err) {
  if (write(sock, err, sizeof(*err)) < 0) {
    /* nsbox exec is gone; nobody is left to tell */
  }
  _exit(err->exit_code ? err->exit_code : 125);
}

/* The joiner: waits to be in the cgroup, joins the namespaces, forks the process (the PID
 * namespace applies to children only) and tells nsbox its pid. */
static _Noreturn void joiner(struct exec_ctx *x) {
  nsbox_error_t err = {0};
  char go;
  if (read(x->sock, &go, 1) != 1)
    _exit(125); /* nsbox failed and says why */
  if (setns(x->pidfd, x->flags) < 0) {
    nsbox_fail(&err, errno, "join the container's namespaces");
    report_and_exit(x->sock, &err);
  }
  close(x->pidfd);
  pid_t pid = fork();
  if (pid < 0) {
    nsbox_fail(&err, errno, "fork");
    report_and_exit(x->sock, &err);
  }
  if (pid == 0) {
    exec_process(x, &err);
    report_and_exit(x->sock, &err);
  }
  char msg[1 + sizeof(pid_t)] = {PID_MSG};
  memcpy(msg + 1, &pid, sizeof(pid));
  if (write(x->sock, msg, sizeof(msg)) < 0)
    kill(pid, SIGKILL);
  _exit(0);
}

/* Reads the children's messages until the process execs (EOF): its pid, a -t pty. Returns 0,
 * or -1 with the error one of them sent. */
static int wait_started(int sock, pid_t *pid, int *console, nsbox_error_t *err) {
  for (;;) {
    nsbox_error_t msg = {0};
    int fd = -1;
    ssize_t n = sock_recv_fd(sock, &msg, sizeof(msg), &fd, 0);
    const char *b = (const char *)&msg;
    if (n == 1 && fd >= 0 && b[0] == PTY_MSG && *console < 0) {
      *console = fd;
      continue;
    }
    if (fd >= 0)
      close(fd);
    if (n == 1 + (ssize_t)sizeof(pid_t) && b[0] == PID_MSG) {
      memcpy(pid, b + 1, sizeof(*pid));
      continue;
    }
    if (n == (ssize_t)sizeof(msg)) {
      *err = msg;
      err->msg[sizeof(err->msg) - 1] = '\0';
      if (err->exit_code == 0)
        err->exit_code = 125;
      return -1;
    }
    if (*pid > 0)
      return 0;
    return nsbox_fail(err, 0, "the process could not be started in the container");
  }
}

/* From the fork of the joiner to the process's exit. */
static int run_joiner(struct nsbox_store *s, const struct container_info *ci, struct exec_ctx *x,
                      int psock, const sigset_t *set, nsbox_error_t *err) {
  pid_t j = fork();
  if (j < 0)
    return nsbox_fail(err, errno, "fork");
  if (j == 0) {
    close(psock);
    joiner(x);
  }
  close(x->sock);
  cleanup_free char *cgroups = container_cgroups(s, ci->id);
  if (cgroups && cgroup_join_listed(cgroups, j, err) < 0) {
    kill(j, SIGKILL);
    reap_pid(j);
    return -1;
  }
  if (write(psock, "g", 1) != 1)
    return nsbox_fail(err, errno, "start the process");
  pid_t pid = -1;
  struct monitor mon;
  monitor_init(&mon, 0);
  int r = wait_started(psock, &pid, &mon.console, err);
  reap_pid(j); /* once it is gone, the process is our child (we are a subreaper) */
  if (r < 0) {
    if (pid > 0)
      reap_pid(pid);
    monitor_finish(&mon, 125);
    return -1;
  }
  mon.pid = pid;
  struct tty_saved saved = {.fd = -1};
  nsbox_error_t ignored = {0};
  if (mon.console >= 0 && tty_make_raw(STDIN_FILENO, &saved, &ignored) == 0)
    mon.term = STDIN_FILENO;
  int status = monitor_run(&mon, set);
  tty_restore(&saved);
  monitor_finish(&mon, 0);
  if (WIFEXITED(status))
    return WEXITSTATUS(status);
  return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 125;
}

int container_exec(struct nsbox_store *s, const struct container_info *ci,
                   const struct nsbox_config *c, const struct nsbox_process *p,
                   nsbox_error_t *err) {
  struct exec_ctx x = {.c = c, .p = p, .sock = -1};
  cleanup_close int pidfd = pidfd_checked(ci->pid, ci->pid_start);
  if (pidfd < 0)
    return nsbox_fail(err, 0, "container %.12s is not running", ci->id);
  x.pidfd = pidfd;
  x.flags = namespaces_to_join(ci->pid);
  sigset_t set;
  signals_forwardable(&set);
  sigprocmask(SIG_BLOCK, &set, &x.orig_mask);
  /* The process is the joiner's child; when the joiner exits it must become ours. */
  prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
  int ret = -1, sv[2];
  if (nsbox_seccomp_prepare(&c->security, c->security.cap_bounding, &x.seccomp, err) < 0) {
    /* err says why */
  } else if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
    nsbox_fail(err, errno, "socketpair");
  } else {
    x.sock = sv[1];
    ret = run_joiner(s, ci, &x, sv[0], &set, err);
    close(sv[0]);
  }
  nsbox_seccomp_prog_free(&x.seccomp);
  sigprocmask(SIG_SETMASK, &x.orig_mask, NULL);
  return ret;
}
