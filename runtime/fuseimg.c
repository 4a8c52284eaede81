/* See fuseimg.h. The driver runs in the foreground (-f) and mounts by itself; we learn that
 * target is mounted from /proc/self/mountinfo, which poll() reports (POLLPRI) on every change
 * of our mount table, and of the driver's death from a pidfd: no sleeping, no retry loop.
 * (libfuse3 can also be handed a /dev/fuse fd that we mounted ourselves, as "/dev/fd/N", which
 * would need no wait; but fuse2fs, and erofsfuse before 1.6, are libfuse2 programs, for which
 * that is a mount point that does not exist. One way for all three.) */
#include "fuseimg.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "syscalls.h"
#include "util.h"

#define MOUNT_TIMEOUT_MS 30000 /* a driver that neither mounts nor exits is stuck */
#define STOP_TIMEOUT_MS 10000
#define MAX_EARLIER 16 /* FUSE mounts already stacked on target that are not ours */

struct driver {
  enum image_fs fs;
  const char *prog;    /* looked up in $PATH */
  const char *package; /* Debian's package that ships it */
};

static const struct driver drivers[] = {
    {IMAGE_FS_SQUASHFS, "squashfuse", "squashfuse"},
    {IMAGE_FS_EXT4, "fuse2fs", "fuse2fs"},
    {IMAGE_FS_EROFS, "erofsfuse", "erofsfuse"},
};

/* Undoes mountinfo's octal escapes (\040 for a space; tab, newline and backslash too). */
static void unescape(char *s) {
  char *w = s;
  for (const char *r = s; *r != '\0';) {
    if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' && r[3] >= '0' &&
        r[3] <= '7') {
      *w++ = (char)((r[1] - '0') << 6 | (r[2] - '0') << 3 | (r[3] - '0'));
      r += 4;
    } else {
      *w++ = *r++;
    }
  }
  *w = '\0';
}

static bool is_fuse(const char *type) {
  return strcmp(type, "fuse") == 0 || strcmp(type, "fuseblk") == 0 ||
         strncmp(type, "fuse.", 5) == 0;
}

/* The mount ids of the FUSE mounts on target (at most max of them are stored). Returns how
 * many there are, or -errno. A mountinfo line: "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS
 * [OPTIONAL...] - FSTYPE SOURCE SUPEROPTIONS". */
static int fuse_mounts_on(const char *target, int *ids, size_t max) {
  cleanup_free char *text = NULL;
  ssize_t len = read_file_at(AT_FDCWD, "/proc/self/mountinfo", &text);
  if (len < 0)
    return (int)len;
  int n = 0;
  char *lines = NULL;
  for (char *line = strtok_r(text, "\n", &lines); line; line = strtok_r(NULL, "\n", &lines)) {
    char *f[6], *fields = NULL;
    size_t nf = 0;
    char *t = strtok_r(line, " ", &fields);
    for (; t != NULL && nf < ARRAY_SIZE(f); t = strtok_r(NULL, " ", &fields))
      f[nf++] = t;
    /* t: the first optional field, or the "-" that ends them */
    while (t != NULL && strcmp(t, "-") != 0)
      t = strtok_r(NULL, " ", &fields);
    const char *type = t ? strtok_r(NULL, " ", &fields) : NULL;
    if (type == NULL || !is_fuse(type))
      continue;
    unescape(f[4]);
    if (strcmp(f[4], target) != 0)
      continue;
    if ((size_t)n < max)
      ids[n] = atoi(f[0]);
    n++;
  }
  return n;
}

/* 1 when target has a FUSE mount that is not among the earlier ones, 0 when not, or -errno. */
static int mounted_anew(const char *target, const int *earlier, size_t n_earlier) {
  int ids[MAX_EARLIER + 1];
  int n = fuse_mounts_on(target, ids, ARRAY_SIZE(ids));
  if (n < 0)
    return n;
  for (size_t i = 0; i < (size_t)n && i < ARRAY_SIZE(ids); i++) {
    bool seen = false;
    for (size_t j = 0; j < n_earlier; j++)
      seen = seen || ids[i] == earlier[j];
    if (!seen)
      return 1;
  }
  return 0;
}

/* What the driver wrote before it mounted, as much as fits. */
struct errtext {
  char buf[2048];
  size_t len;
};

/* Reads what is in the (non-blocking) pipe. Returns false at its end. */
static bool drain(int fd, struct errtext *e) {
  for (;;) {
    char tmp[4096];
    ssize_t n = read(fd, tmp, sizeof(tmp));
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return n < 0 && errno == EAGAIN;
    size_t room = sizeof(e->buf) - 1 - e->len;
    size_t take = (size_t)n < room ? (size_t)n : room;
    memcpy(e->buf + e->len, tmp, take);
    e->len += take;
    e->buf[e->len] = '\0';
  }
}

/* Lines the drivers print on every start, which say nothing about a failure: erofsfuse 1.5
 * echoes its arguments, fuse2fs announces a read-only mount. */
static const char *const chatter[] = {
    "disk: ", "mountpoint: ", "dbglevel: ", "Mounting read-only."};

/* The first line that says something: libfuse's and the drivers' reasons come first, what
 * follows is advice ("Please run e2fsck", "use the 'nonempty' mount option"). */
static const char *first_line(struct errtext *e) {
  char *s = e->buf;
  s[e->len] = '\0';
  for (;;) {
    s += strspn(s, " \n");
    size_t len = strcspn(s, "\n");
    bool skip = false;
    for (size_t i = 0; i < ARRAY_SIZE(chatter); i++)
      skip = skip || strncmp(s, chatter[i], strlen(chatter[i])) == 0;
    if (!skip || s[len] == '\0') {
      s[len] = '\0';
      return skip ? "" : s;
    }
    s += len;
  }
}

/* Moves fd to a number above 2 (keeping it close-on-exec), so that the dup2s onto 0, 1 and 2
 * cannot overwrite one another whatever numbers the caller's fds had. */
static int above_stdio(int fd) {
  return fd > 2 ? fd : fcntl(fd, F_DUPFD_CLOEXEC, 3);
}

/* In the child: tells the parent why it could not become the driver, and leaves. */
static _Noreturn void child_fail(int status_w) {
  int e = errno;
  ssize_t unused = write(status_w, &e, sizeof(e));
  (void)unused;
  _exit(127);
}

/* In the child: becomes the driver, or reports errno on status and leaves with 127. */
static _Noreturn void exec_driver(char *const argv[], int devnull, int errw, int status_r,
                                  int status_w) {
  close(status_r);
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  /* If the caller died before prctl, no signal will come: its end of status (the only reader
   * left) is then closed, which poll shows as POLLERR. Unlike getppid() this also holds when
   * the caller is outside our PID namespace. */
  struct pollfd p = {.fd = status_w, .events = 0};
  if (poll(&p, 1, 0) == 1 && (p.revents & POLLERR))
    _exit(127);
  /* Its own session: a Ctrl-C or a hangup on the container's terminal must not end the
   * filesystem under the container. */
  setsid();
  /* Ignored signals stay ignored across exec, and libfuse installs its SIGTERM handler (the
   * clean way out, see fuseimg_stop) only over the default disposition. SIGPIPE stays ignored:
   * our end of its output is closed once it has mounted, and later messages must not kill it. */
  for (int sig = 1; sig < NSIG; sig++)
    if (sig != SIGKILL && sig != SIGSTOP)
      signal(sig, sig == SIGPIPE ? SIG_IGN : SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  /* stdout as well as stderr to us: fuse2fs prints its reasons on stdout. */
  devnull = above_stdio(devnull);
  errw = above_stdio(errw);
  if (devnull < 0 || errw < 0 || dup2(devnull, 0) < 0 || dup2(errw, 1) < 0 || dup2(errw, 2) < 0)
    child_fail(status_w);
  /* Everything else closes at exec, status among them, which tells the parent it succeeded. */
  if (sys_close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) < 0) {
    struct rlimit rl;
    int max = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 65536 ? (int)rl.rlim_cur : 65536;
    for (int fd = 3; fd < max; fd++)
      fcntl(fd, F_SETFD, FD_CLOEXEC);
  }
  char *env[] = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", NULL};
  execve(argv[0], argv, env);
  child_fail(status_w);
}

/* Forks and execs the driver. Returns its pid, with the read end of its output (non-blocking)
 * in *errfd, or -1. */
static pid_t spawn_driver(char *const argv[], int *errfd, nsbox_error_t *err) {
  cleanup_close int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (devnull < 0)
    return nsbox_fail(err, errno, "open /dev/null");
  /* Both ends non-blocking: a driver that writes more than a pipe holds must not stop. */
  int errp[2], status[2];
  if (pipe2(errp, O_CLOEXEC | O_NONBLOCK) < 0)
    return nsbox_fail(err, errno, "pipe");
  if (pipe2(status, O_CLOEXEC) < 0) {
    int e = errno;
    close(errp[0]);
    close(errp[1]);
    return nsbox_fail(err, e, "pipe");
  }
  pid_t pid = fork();
  if (pid == 0)
    exec_driver(argv, devnull, errp[1], status[0], status[1]);
  int e = errno;
  close(errp[1]);
  close(status[1]);
  if (pid < 0) {
    close(errp[0]);
    close(status[0]);
    return nsbox_fail(err, e, "fork");
  }
  int child_errno = 0;
  ssize_t n;
  while ((n = read(status[0], &child_errno, sizeof(child_errno))) < 0 && errno == EINTR)
    ;
  close(status[0]);
  if (n > 0) {
    reap_pid(pid);
    close(errp[0]);
    return nsbox_fail(err, child_errno, "exec %s", argv[0]);
  }
  *errfd = errp[0];
  return pid;
}

static long elapsed_ms(const struct timespec *since) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (now.tv_sec - since->tv_sec) * 1000L + (now.tv_nsec - since->tv_nsec) / 1000000L;
}

/* Waits until target has a new FUSE mount (0), the driver exits (-ECHILD), or time runs out
 * (-ETIMEDOUT). mountinfo_fd was opened before the driver started, so no change is missed:
 * the kernel flags every change made since the file was opened or last polled. */
static int wait_mounted(const char *target, const int *earlier, size_t n_earlier, int mountinfo_fd,
                        int pidfd, int errfd, struct errtext *e) {
  struct timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  bool err_open = true;
  for (;;) {
    int r = mounted_anew(target, earlier, n_earlier);
    if (r != 0)
      return r < 0 ? r : 0;
    long left = MOUNT_TIMEOUT_MS - elapsed_ms(&start);
    if (left <= 0)
      return -ETIMEDOUT;
    struct pollfd p[] = {{.fd = mountinfo_fd, .events = POLLPRI},
                         {.fd = pidfd, .events = POLLIN},
                         {.fd = err_open ? errfd : -1, .events = POLLIN}};
    if (poll(p, ARRAY_SIZE(p), (int)left) < 0 && errno != EINTR)
      return -errno;
    if (p[2].revents != 0)
      err_open = drain(errfd, e);
    if (p[1].revents != 0) {
      drain(errfd, e);
      return -ECHILD;
    }
  }
}

int fuseimg_mount(const char *file, enum image_fs fs, bool writable, const char *target,
                  pid_t *helper_pid, nsbox_error_t *err) {
  *helper_pid = -1;
  const struct driver *d = NULL;
  for (size_t i = 0; i < ARRAY_SIZE(drivers); i++)
    if (drivers[i].fs == fs)
      d = &drivers[i];
  if (d == NULL)
    return nsbox_fail(err, 0, "mount %s: not a squashfs, ext4 or erofs image", file);
  if (writable && fs != IMAGE_FS_EXT4)
    return nsbox_fail(err, 0, "mount %s: %s is read-only; only ext4 image files can be mounted :rw",
                      file, image_fs_name(fs));
  char prog[PATH_MAX];
  if (!find_program(d->prog, NULL, prog, sizeof(prog)))
    return nsbox_fail(err, 0, "mount %s: %s not found (install the %s package)", file, d->prog,
                      d->package);
  /* Checked here, where we can say so plainly; libfuse would only say "fuse: failed to open
   * /dev/fuse" and then try the setuid fusermount, which refuses allow_other. */
  cleanup_close int fuse = open("/dev/fuse", O_RDWR | O_CLOEXEC);
  if (fuse < 0)
    return nsbox_fail(err, errno, "mount %s: /dev/fuse is not accessible", file);
  /* Absolute paths: mountinfo shows target so, and a name starting with '-' cannot pass for an
   * option of the driver. */
  char abs_file[PATH_MAX], abs_target[PATH_MAX];
  if (realpath(file, abs_file) == NULL)
    return nsbox_fail(err, errno, "mount %s", file);
  if (realpath(target, abs_target) == NULL)
    return nsbox_fail(err, errno, "mount %s on %s", file, target);

  cleanup_close int mountinfo = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
  if (mountinfo < 0)
    return nsbox_fail(err, errno, "open /proc/self/mountinfo");
  int earlier[MAX_EARLIER];
  int n_earlier = fuse_mounts_on(abs_target, earlier, ARRAY_SIZE(earlier));
  if (n_earlier < 0)
    return nsbox_fail(err, -n_earlier, "read /proc/self/mountinfo");

  /* Read-only twice over: "-o ro" makes fuse2fs open the image read-only (it keeps that option
   * to itself) and "-r" makes libfuse mount with MS_RDONLY, so writes fail with EROFS in the
   * kernel. allow_other, from uid 0 of a user namespace: the kernel then lets in every process
   * of that namespace (and of those below it) and none outside it; only the setuid fusermount,
   * which libfuse needs only without privilege, asks /etc/fuse.conf. suid: libfuse's default
   * is nosuid, and a root filesystem's setuid programs (su, ping) should work as on a directory
   * (in a user namespace they can only become uids mapped there); nodev stays, as the kernel
   * forces it for any mount made in a user namespace. */
  const char *opts =
      writable ? "suid,allow_other,default_permissions" : "ro,suid,allow_other,default_permissions";
  char *argv[8];
  size_t n = 0;
  argv[n++] = prog;
  argv[n++] = "-f";
  if (!writable)
    argv[n++] = "-r";
  argv[n++] = "-o";
  argv[n++] = (char *)opts;
  argv[n++] = abs_file;
  argv[n++] = abs_target;
  argv[n] = NULL;
  int errfd = -1;
  pid_t pid = spawn_driver(argv, &errfd, err);
  if (pid < 0)
    return nsbox_wrap(err, "mount %s", file);
  cleanup_close int errpipe = errfd;
  cleanup_close int pidfd = sys_pidfd_open(pid, 0);
  if (pidfd < 0) {
    int e = errno;
    kill(pid, SIGKILL);
    reap_pid(pid);
    return nsbox_fail(err, e, "pidfd_open");
  }
  struct errtext text = {.len = 0};
  size_t seen = (size_t)n_earlier < ARRAY_SIZE(earlier) ? (size_t)n_earlier : ARRAY_SIZE(earlier);
  int r = wait_mounted(abs_target, earlier, seen, mountinfo, pidfd, errpipe, &text);
  if (r == 0) {
    *helper_pid = pid;
    return 0;
  }
  if (r != -ECHILD)
    kill(pid, SIGKILL);
  int status = reap_pid(pid);
  /* libfuse unmounts when it exits cleanly, not when it crashes or is killed: no dead mount
   * (ENOTCONN) may stay on target. */
  if (mounted_anew(abs_target, earlier, seen) > 0)
    umount2(abs_target, MNT_DETACH);
  const char *why = first_line(&text);
  const char *sep = *why ? ": " : "";
  if (r == -ETIMEDOUT)
    return nsbox_fail(err, 0, "mount %s: %s did not mount it within %d seconds%s%s", file, d->prog,
                      MOUNT_TIMEOUT_MS / 1000, sep, why);
  if (r != -ECHILD)
    return nsbox_fail(err, -r, "mount %s: wait for %s", file, d->prog);
  if (WIFSIGNALED(status))
    return nsbox_fail(err, 0, "mount %s: %s was killed by signal %d%s%s", file, d->prog,
                      WTERMSIG(status), sep, why);
  return nsbox_fail(err, 0, "mount %s: %s exited with status %d%s%s", file, d->prog,
                    WEXITSTATUS(status), sep, why);
}

void fuseimg_stop(pid_t helper) {
  if (helper <= 0)
    return;
  cleanup_close int pidfd = sys_pidfd_open(helper, 0);
  kill(helper, SIGTERM);
  int r = -1;
  if (pidfd >= 0) {
    struct pollfd p = {.fd = pidfd, .events = POLLIN};
    while ((r = poll(&p, 1, STOP_TIMEOUT_MS)) < 0 && errno == EINTR)
      ;
  }
  if (r <= 0)
    kill(helper, SIGKILL);
  reap_pid(helper);
}
