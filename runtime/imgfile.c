/* See imgfile.h. */
#include "imgfile.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fuseimg.h"
#include "loopdev.h"
#include "syscalls.h"
#include "util.h"

static int detect(const char *file, bool writable, enum image_fs *fs, nsbox_error_t *err) {
  cleanup_close int fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0)
    return nsbox_fail(err, errno, "open the image file %s", file);
  if (image_fs_detect(fd, fs, err) < 0)
    return -1;
  if (*fs == IMAGE_FS_UNKNOWN)
    return nsbox_fail(err, 0, "%s is not a squashfs, ext4 or erofs image file", file);
  if (writable && *fs != IMAGE_FS_EXT4)
    return nsbox_fail(err, 0,
                      "%s is %s, which is read-only; only ext4 image files can be "
                      "used with :rw",
                      file, image_fs_name(*fs));
  return 0;
}

/* ---- the container's set-up ---- */

/* Asks nsbox for the keeper and waits for its answer: the FUSE mount has then propagated
 * onto dir, which is made a shared mount for that moment only. */
static int ask_keeper(const char *dir, int sock, nsbox_error_t *err) {
  if (mount(dir, dir, NULL, MS_BIND, NULL) < 0 || mount(NULL, dir, NULL, MS_SHARED, NULL) < 0)
    return nsbox_fail(err, errno, "make %s a shared mount point", dir);
  char msg = IMGFILE_MSG;
  if (send(sock, &msg, 1, 0) != 1)
    return nsbox_fail(err, errno, "ask for the image file's driver");
  nsbox_error_t answer = {0};
  ssize_t n;
  while ((n = recv(sock, &answer, sizeof(answer), 0)) < 0 && errno == EINTR)
    ;
  if (n != (ssize_t)sizeof(answer))
    return nsbox_fail(err, 0, "no answer from nsbox about the image file");
  if (answer.msg[0] != '\0') {
    *err = answer;
    err->msg[sizeof(err->msg) - 1] = '\0';
    return -1;
  }
  /* The container's mounts stay its own from here on. */
  if (mount(NULL, dir, NULL, MS_REC | MS_PRIVATE, NULL) < 0)
    return nsbox_fail(err, errno, "make %s private", dir);
  return 0;
}

int imgfile_mount(const struct nsbox_config *c, int sock, nsbox_error_t *err) {
  const struct nsbox_root *r = &c->root;
  if (!c->userns)
    return loop_mount(r->image_file, r->image_rw, r->image_dir, err);
  enum image_fs fs;
  if (detect(r->image_file, r->image_rw, &fs, err) < 0)
    return -1;
  return ask_keeper(r->image_dir, sock, err);
}

/* ---- nsbox's side: the keeper ---- */

/* In the keeper: joins the set-up's namespaces, mounts, reports, then keeps the driver until
 * told to stop (or the driver dies). */
static int keeper(const struct nsbox_config *c, int pidfd, int report, enum image_fs fs) {
  nsbox_error_t err = {0};
  pid_t driver = -1;
  if (setns(pidfd, CLONE_NEWUSER | CLONE_NEWNS) < 0)
    nsbox_fail(&err, errno, "join the container's namespaces");
  else if (unshare(CLONE_NEWNS) < 0)
    nsbox_fail(&err, errno, "unshare the mount namespace");
  else
    fuseimg_mount(c->root.image_file, fs, c->root.image_rw, c->root.image_dir, &driver, &err);
  (void)write_all(report, &err, sizeof(err));
  close(report);
  if (driver <= 0)
    return 125;
  /* Until nsbox says the container is gone (SIGTERM), or the driver dies by itself. */
  sigset_t wait_set;
  sigemptyset(&wait_set);
  sigaddset(&wait_set, SIGTERM);
  sigaddset(&wait_set, SIGCHLD);
  while (waitpid(driver, NULL, WNOHANG) == 0 && sigwaitinfo(&wait_set, NULL) != SIGTERM)
    ;
  fuseimg_stop(driver);
  return 0;
}

static pid_t start_keeper(const struct nsbox_config *c, pid_t child, nsbox_error_t *err) {
  enum image_fs fs;
  if (detect(c->root.image_file, c->root.image_rw, &fs, err) < 0)
    return -1;
  cleanup_close int pidfd = sys_pidfd_open(child, 0);
  if (pidfd < 0)
    return nsbox_fail(err, errno, "pidfd of the container");
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0)
    return nsbox_fail(err, errno, "pipe");
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    close(p[0]);
    close(p[1]);
    return nsbox_fail(err, errno, "fork");
  }
  if (pid == 0) {
    close(p[0]);
    /* Never outlives nsbox: the driver follows the keeper in turn (fuseimg.h). */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
      _exit(125);
    int keep[] = {pidfd, p[1]};
    close_fds_except(keep, ARRAY_SIZE(keep));
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &set, NULL);
    _exit(keeper(c, pidfd, p[1], fs));
  }
  close(p[1]);
  nsbox_error_t kerr = {0};
  ssize_t n = read(p[0], &kerr, sizeof(kerr));
  close(p[0]);
  if (n == (ssize_t)sizeof(kerr) && kerr.msg[0] == '\0')
    return pid;
  imgfile_stop(pid);
  if (n != (ssize_t)sizeof(kerr))
    return nsbox_fail(err, 0, "the image file's keeper died");
  *err = kerr;
  err->msg[sizeof(err->msg) - 1] = '\0';
  return -1;
}

pid_t imgfile_serve(const struct nsbox_config *c, int psock, pid_t child, nsbox_error_t *err) {
  nsbox_error_t msg = {0};
  ssize_t n;
  while ((n = recv(psock, &msg, sizeof(msg), 0)) < 0 && errno == EINTR)
    ;
  if (n != 1 || ((char *)&msg)[0] != IMGFILE_MSG) {
    /* The set-up failed before it asked: its error is the one to report. */
    if (n == (ssize_t)sizeof(msg)) {
      *err = msg;
      err->msg[sizeof(err->msg) - 1] = '\0';
      if (err->exit_code == 0)
        err->exit_code = 125;
      return -1;
    }
    return nsbox_fail(err, 0, "the container's set-up ended before mounting its image file");
  }
  nsbox_error_t answer = {0};
  pid_t keeper_pid = start_keeper(c, child, &answer);
  if (keeper_pid < 0 && answer.msg[0] == '\0')
    nsbox_fail(&answer, 0, "mount the image file");
  if (send(psock, &answer, sizeof(answer), 0) != (ssize_t)sizeof(answer) && keeper_pid > 0) {
    int e = errno;
    imgfile_stop(keeper_pid);
    return nsbox_fail(err, e, "answer the container's set-up");
  }
  if (keeper_pid < 0) {
    *err = answer;
    return -1;
  }
  return keeper_pid;
}

void imgfile_stop(pid_t keeper_pid) {
  if (keeper_pid <= 0)
    return;
  kill(keeper_pid, SIGTERM);
  reap_pid(keeper_pid);
}
