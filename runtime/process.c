/* See process.h. */
#include "process.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "caps.h"
#include "syscalls.h"
#include "util.h"

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

static int switch_user(const char *spec, bool tty, char **home, bool *root_user,
                       nsbox_error_t *err) {
  unsigned long uid = 0, gid = 0;
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
  /* The pty is the user's own, as a login's is (its group stays tty). Unmapped ids fail
   * below with a clearer message than this would. */
  if (tty && uid != 0)
    (void)fchown(STDIN_FILENO, (uid_t)uid, (gid_t)-1);
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

/* The pty becomes the session's controlling terminal and the process's stdio. */
static int take_console(int console, nsbox_error_t *err) {
  if (ioctl(console, TIOCSCTTY, 0) < 0)
    return nsbox_fail(err, errno, "make the pty the controlling terminal");
  for (int fd = 0; fd < 3; fd++)
    if (dup2(console, fd) < 0)
      return nsbox_fail(err, errno, "dup2 the pty");
  if (console > 2)
    close(console);
  return 0;
}

/* In an order that keeps each step possible: the bounding set drops while we are still root
 * of the namespace; a filter without no_new_privs needs CAP_SYS_ADMIN, so then it goes in
 * before the capabilities are set. */
int process_confine(const struct nsbox_security *given, const struct nsbox_process *p,
                    struct nsbox_seccomp_prog *prog, int console, char ***env, nsbox_error_t *err) {
  struct nsbox_security sec_now = *given;
  const struct nsbox_security *sec = &sec_now;
  /* What nsbox itself lacks cannot be given; ALL means all that nsbox has. */
  sec_now.cap_bounding &= caps_available();
  sec_now.cap_added &= sec_now.cap_bounding;
  if (set_rlimits(p, err) < 0)
    return -1;
  /* Its own session: without a controlling terminal, TIOCSTI cannot push input into the
   * caller's terminal (bubblewrap CVE-2017-5226); with -t, the container's own pty is one. */
  if (setsid() < 0)
    return nsbox_fail(err, errno, "setsid");
  if (console >= 0 && take_console(console, err) < 0)
    return -1;
  if (caps_limit_bounding(sec->cap_bounding, err) < 0)
    return -1;
  if (!sec->no_new_privs && nsbox_seccomp_load(prog, err) < 0)
    return -1;
  bool root_user = false;
  cleanup_free char *home = NULL;
  if (switch_user(p->user, console >= 0, &home, &root_user, err) < 0 ||
      caps_apply(sec->cap_bounding, sec->cap_added, root_user, err) < 0)
    return -1;
  if (sec->no_new_privs) {
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
      return nsbox_fail(err, errno, "prctl(PR_SET_NO_NEW_PRIVS)");
    if (nsbox_seccomp_load(prog, err) < 0)
      return -1;
  }
  if (chdir(p->cwd ? p->cwd : "/") < 0)
    return nsbox_fail(err, errno, "chdir to %s", p->cwd);
  *env = env_with_home(p->env, home);
  return 0;
}

void process_exec_ready(const sigset_t *mask) {
  /* Only 0, 1 and 2 reach the container; everything else of ours closes on exec. */
  if (sys_close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) < 0) {
    for (int fd = 3; fd < 1024; fd++)
      fcntl(fd, F_SETFD, FD_CLOEXEC);
  }
  /* The process starts with every signal at its default, as runc and crun do: a caller
   * that ignores SIGINT (a background job) or SIGPIPE must not pass that on. */
  for (int sig = 1; sig < NSIG; sig++)
    if (sig != SIGKILL && sig != SIGSTOP)
      signal(sig, SIG_DFL);
  sigprocmask(SIG_SETMASK, mask, NULL);
}
