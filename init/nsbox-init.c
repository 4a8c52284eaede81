/* nsbox-init: PID 1 of an nsbox container, also usable as a `tini -s` style subreaper.
 * It runs one command, forwards signals to it, reaps every orphan, and when the command
 * ends kills and reaps what is left, then exits with the command's status. No stdio and no
 * malloc, so it stays a few pages resident for the whole life of the container. */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef NSBOX_VERSION
#define NSBOX_VERSION "dev"
#endif

/* Our own statuses; nsbox run passes them through, so they match podman's and docker's. */
enum {
  EXIT_SETUP = 125,  /* bad usage, or the init could not start the command */
  EXIT_NOEXEC = 126, /* the command exists but cannot be executed */
  EXIT_NOTFOUND = 127,
};

struct opts {
  const char *workdir; /* NULL: the directory the init was started in */
  int group;           /* -g: signal the command's whole process group */
  int subreaper;       /* -s: be a subreaper even as PID 1 */
  char **argv;
};

/* What the child sends back over its CLOEXEC pipe when it cannot exec. */
struct child_err {
  int step;
  int err;
};
enum { STEP_CHDIR = 1, STEP_EXEC };

/* The only global: every message needs it, and it is set once by -p. */
static const char *prefix = "nsbox-init";

/* The kernel's sigset is 64 bits here. Raw rt_sigprocmask and signalfd4 are used because
 * musl's wrappers hide its three internal signals (32-34), and the child must get back the
 * exact mask the init inherited. */
_Static_assert(_NSIG <= 65, "kernel sigset_t is wider than 64 bits on this arch");
typedef uint64_t ksigset;

static int set_mask(const ksigset *set, ksigset *old) {
  return syscall(SYS_rt_sigprocmask, SIG_SETMASK, set, old, sizeof(ksigset));
}

/* One line on stderr in a single write(2), so it cannot interleave with the command's. */
__attribute__((sentinel)) static void say(const char *first, ...) {
  char buf[512];
  size_t n = strlen(prefix);
  va_list ap;

  if (n > 64)
    n = 64;
  memcpy(buf, prefix, n);
  buf[n++] = ':';
  buf[n++] = ' ';
  va_start(ap, first);
  for (const char *s = first; s; s = va_arg(ap, const char *)) {
    size_t l = strlen(s);
    if (l > sizeof buf - 1 - n)
      l = sizeof buf - 1 - n;
    memcpy(buf + n, s, l);
    n += l;
  }
  va_end(ap);
  buf[n++] = '\n';
  (void)!write(2, buf, n);
}

static const char usage[] =
    "Usage: nsbox-init [-g] [-s] [-w DIR] [-p NAME] [--] CMD [ARG...]\n"
    "Runs CMD under a minimal init: forwards signals to it, reaps zombies, and when CMD\n"
    "ends kills what is left and exits with CMD's status (128+N if signal N killed it).\n"
    "  -g        send forwarded signals to CMD's whole process group\n"
    "  -s        be a child subreaper even as PID 1 (always on otherwise)\n"
    "  -w DIR    run CMD in DIR (default: the current directory)\n"
    "  -p NAME   prefix for error messages (default: nsbox-init)\n"
    "  -h        show this help; --version shows the version\n"
    "Own exit codes: 125 usage or setup error, 126 CMD not executable, 127 CMD not found.\n";

/* Returns 1 to go on, 0 after -h/--version, -1 on a usage error (already reported).
 * Hand-rolled, not getopt_long: getopt's messages drag in stdio, which would take the
 * binary over its 32 KiB budget. Like getopt with '+', it stops at the first non-option,
 * so `nsbox-init sh -c x` needs no `--`; it takes -gs and -wDIR too. */
static int parse_opts(int argc, char **argv, struct opts *o) {
  char opt[3] = "-?";
  int i;

  for (i = 1; i < argc; i++) {
    const char *a = argv[i];

    if (a[0] != '-' || !a[1])
      break;
    if (!strcmp(a, "--")) {
      i++;
      break;
    }
    if (!strcmp(a, "--help")) {
      a = "-h";
    } else if (!strcmp(a, "--version")) {
      (void)!write(1, "nsbox-init " NSBOX_VERSION "\n", sizeof "nsbox-init " NSBOX_VERSION);
      return 0;
    } else if (a[1] == '-') {
      say("unknown option ", a, " (see -h)", (char *)NULL);
      return -1;
    }
    for (a++; *a; a++) {
      const char **val;

      switch (*a) {
      case 'g':
        o->group = 1;
        continue;
      case 's':
        o->subreaper = 1;
        continue;
      case 'h':
        (void)!write(1, usage, sizeof usage - 1);
        return 0;
      case 'w':
        val = &o->workdir;
        break;
      case 'p':
        val = &prefix;
        break;
      default:
        opt[1] = *a;
        say("unknown option ", opt, " (see -h)", (char *)NULL);
        return -1;
      }
      if (a[1]) {
        *val = a + 1;
      } else if (i + 1 < argc) {
        *val = argv[++i];
      } else {
        opt[1] = *a;
        say("option ", opt, " needs an argument (see -h)", (char *)NULL);
        return -1;
      }
      break;
    }
  }
  if (i >= argc) {
    say("no command given (see -h)", (char *)NULL);
    return -1;
  }
  o->argv = argv + i;
  return 1;
}

/* execvp reports EACCES as soon as one PATH directory is unsearchable (a user's PATH may
 * still name /root/...). Like runc's lookup, call the command "not found" unless some PATH
 * entry exists under that name. Builds the candidates the way musl's execvp does. */
static int path_errno(const char *name, int err) {
  const char *p = getenv("PATH");
  size_t nl = strlen(name);
  char buf[4096];

  if (err != EACCES || strchr(name, '/'))
    return err;
  if (!p)
    p = "/usr/local/bin:/bin:/usr/bin";
  for (;; p++) {
    size_t dl = strcspn(p, ":");

    if (dl + nl + 2 <= sizeof buf) {
      memcpy(buf, p, dl);
      buf[dl] = '/';
      memcpy(buf + dl + 1, name, nl + 1);
      if (access(buf, F_OK) == 0)
        return err;
    }
    p += dl;
    if (!*p)
      return ENOENT;
  }
}

/* The forked child: becomes the command, or reports why it could not and _exits. */
static _Noreturn void run_child(const struct opts *o, const ksigset *orig, int chld_ignored,
                                int errfd) {
  struct child_err ce = {STEP_EXEC, 0};
  int code = EXIT_SETUP;

  /* Its own process group, always: -g can then signal the command with everything it
   * started, and a terminal can make it the foreground job. The cost is that without a
   * tty the command is a background group of whatever session started the init. */
  (void)setpgid(0, 0);
  /* All signals are still blocked here, and a blocked SIGTTOU counts as ignored for
   * tcsetpgrp, so no SIG_IGN dance is needed. Fails harmlessly (ENOTTY) when the tty
   * is not our controlling terminal. */
  if (isatty(0))
    (void)tcsetpgrp(0, getpgrp());

  if (o->workdir && chdir(o->workdir) < 0) {
    ce.step = STEP_CHDIR;
    ce.err = errno;
  } else {
    /* Give back exactly what we inherited: SIG_IGN survives exec, the mask too. */
    if (chld_ignored)
      signal(SIGCHLD, SIG_IGN);
    (void)set_mask(orig, NULL);
    execvp(o->argv[0], o->argv);
    ce.err = path_errno(o->argv[0], errno);
    code = ce.err == ENOENT ? EXIT_NOTFOUND : EXIT_NOEXEC;
  }
  (void)!write(errfd, &ce, sizeof ce);
  _exit(code);
}

/* Reaps every zombie there is (one SIGCHLD may stand for many exits); returns 1 once the
 * command itself has been reaped, with its wait status in *status. */
static int reap(pid_t child, int *status) {
  int done = 0, st;
  pid_t p;

  while ((p = waitpid(-1, &st, WNOHANG)) != 0) {
    if (p < 0) {
      if (errno == EINTR)
        continue;
      break; /* ECHILD */
    }
    if (p == child) {
      *status = st;
      done = 1;
    }
  }
  return done;
}

static void forward(pid_t child, int group, int sig) {
  /* If the command left its group (setsid), the group may be gone: fall back to it. */
  if (group && kill(-child, sig) == 0)
    return;
  (void)kill(child, sig); /* ESRCH when it has just died: its SIGCHLD is queued */
}

/* As a subreaper kill(-1) would hit every process of the user, so kill only our children.
 * Their descendants are re-parented to us as they die and get killed on a later pass.
 * Returns -1 when /proc cannot tell us our children. */
static int kill_children(void) {
  char buf[256];
  pid_t pid = 0;
  ssize_t n;
  int fd = open("/proc/thread-self/children", O_RDONLY | O_CLOEXEC);

  if (fd < 0)
    return -1;
  while ((n = read(fd, buf, sizeof buf)) != 0) {
    if (n < 0) {
      if (errno == EINTR)
        continue;
      break;
    }
    /* Space-separated pids; one may be split across two reads. */
    for (ssize_t i = 0; i < n; i++) {
      if (buf[i] >= '0' && buf[i] <= '9') {
        pid = pid * 10 + (buf[i] - '0');
      } else {
        if (pid > 0)
          (void)kill(pid, SIGKILL);
        pid = 0;
      }
    }
  }
  if (pid > 0)
    (void)kill(pid, SIGKILL);
  close(fd);
  return 0;
}

/* The command is gone: nothing it left behind may outlive the init. Loops until ECHILD,
 * re-killing each pass, because a process may fork while we kill it. */
static void kill_rest(int pid1) {
  for (;;) {
    if (pid1) {
      (void)kill(-1, SIGKILL); /* as PID 1: every other process in the pidns */
    } else if (kill_children() < 0) {
      /* Without /proc we cannot find them; reap what is dead and leave the rest to
       * the next reaper up rather than wait forever. */
      while (waitpid(-1, NULL, WNOHANG) > 0)
        ;
      return;
    }
    if (waitpid(-1, NULL, 0) < 0) {
      if (errno == EINTR)
        continue;
      return; /* ECHILD: nothing left */
    }
    while (waitpid(-1, NULL, WNOHANG) > 0)
      ;
  }
}

/* The main loop. One blocking read on the signalfd: no timer, no polling. */
static int supervise(int sfd, pid_t child, int group) {
  struct signalfd_siginfo si[4];
  int status = 0;

  for (;;) {
    ssize_t n = read(sfd, si, sizeof si);

    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN)
        continue;
      /* Cannot happen with a valid signalfd. A PID 1 death kills the container, so
       * keep reaping with a blocking wait instead of giving up. */
      int st;
      pid_t p = waitpid(-1, &st, 0);
      if (p == child) {
        status = st;
        break;
      }
      if (p < 0 && errno == ECHILD) {
        status = EXIT_SETUP << 8; /* the command is gone and we missed its status */
        break;
      }
      continue;
    }
    for (ssize_t i = 0; i < n / (ssize_t)sizeof si[0]; i++) {
      int sig = (int)si[i].ssi_signo;

      if (sig != SIGCHLD)
        forward(child, group, sig);
      else if (reap(child, &status))
        goto done;
    }
  }
done:
  if (WIFEXITED(status))
    return WEXITSTATUS(status);
  return 128 + WTERMSIG(status);
}

int main(int argc, char **argv) {
  struct opts o = {0};
  ksigset all = ~(ksigset)0, orig;
  struct sigaction chld;
  struct child_err ce;
  int pfd[2], sfd, r, pid1 = getpid() == 1;
  pid_t child;
  ssize_t n;

  r = parse_opts(argc, argv, &o);
  if (r <= 0)
    return r < 0 ? EXIT_SETUP : 0;

  /* Block everything, fault signals included: a real fault is forced through by the
   * kernel whatever the mask, so blocking only catches the ones sent with kill(), and
   * those we forward like any other. Blocked signals also reach a PID 1 that the kernel
   * would otherwise shield from SIG_DFL signals. */
  if (set_mask(&all, &orig) < 0) {
    say("block signals: ", strerror(errno), (char *)NULL);
    return EXIT_SETUP;
  }
  /* An inherited SIG_IGN on SIGCHLD makes the kernel reap for us, losing the command's
   * status. Undo it here; the child gets it back. */
  sigaction(SIGCHLD, NULL, &chld);
  int chld_ignored = chld.sa_handler == SIG_IGN;
  if (chld_ignored)
    signal(SIGCHLD, SIG_DFL);

  sfd = syscall(SYS_signalfd4, -1, &all, sizeof all, SFD_CLOEXEC);
  if (sfd < 0) {
    say("signalfd: ", strerror(errno), (char *)NULL);
    return EXIT_SETUP;
  }
  /* Outside a pid namespace orphans would go to the host's init and never be ours. */
  if ((!pid1 || o.subreaper) && prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
    say("warning: cannot become a subreaper: ", strerror(errno), (char *)NULL);
  if (pipe2(pfd, O_CLOEXEC) < 0) {
    say("pipe: ", strerror(errno), (char *)NULL);
    return EXIT_SETUP;
  }

  child = fork();
  if (child == 0)
    run_child(&o, &orig, chld_ignored, pfd[1]);
  close(pfd[1]);
  if (child < 0) {
    say("fork: ", strerror(errno), (char *)NULL);
    return EXIT_SETUP;
  }
  /* The child keeps the start directory; the init must not pin it (or its mount). */
  (void)!chdir("/");

  /* EOF means the exec happened. Anything else: the child is about to _exit and its
   * status comes through the normal reaping below. */
  while ((n = read(pfd[0], &ce, sizeof ce)) < 0 && errno == EINTR)
    ;
  close(pfd[0]);
  if (n == (ssize_t)sizeof ce)
    say(ce.step == STEP_CHDIR ? "chdir " : "exec ", ce.step == STEP_CHDIR ? o.workdir : o.argv[0],
        ": ", strerror(ce.err), (char *)NULL);

  r = supervise(sfd, child, o.group);
  kill_rest(pid1);
  return r;
}
