/* Test helper: makes each named system call with harmless arguments and prints "NAME ok",
 * "NAME ERRNO-NAME" (EPERM, ENOSYS ...) or "NAME SIGNAL-NAME" when the call killed it.
 * The arguments are ones the kernel rejects before it acts (a bad flag, a missing path, a
 * wrong magic number), so that the probes may also run unconfined, as root on the host:
 * there they must not give EPERM, which shows that an EPERM inside comes from the seccomp
 * filter. Each probe runs in a child of its own. Usage: sysprobe NAME... | sysprobe --list */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif
#define NOWHERE "/nonexistent-nsbox-sysprobe"

/* The raw call: 0 or -errno. */
static long sc(long nr, long a, long b, long c, long d, long e) {
  long r = syscall(nr, a, b, c, d, e);
  return r < 0 ? -errno : 0;
}

#if defined(__x86_64__)
/* The i386 ABI from a 64-bit process: int $0x80, which a filter sees as AUDIT_ARCH_I386. */
static long i386_call(long nr, long a, long b, long c) {
  long ret;
  __asm__ volatile("int $0x80"
                   : "=a"(ret)
                   : "a"(nr), "b"(a), "c"(b), "d"(c)
                   : "memory", "r8", "r9", "r10", "r11");
  return ret < 0 ? ret : 0;
}

#define X32_BIT 0x40000000L
#endif

static long p_getpid(void) {
  return sc(SYS_getpid, 0, 0, 0, 0, 0);
}

/* keyctl with an operation that does not exist: EOPNOTSUPP. */
static long p_keyctl(void) {
  return sc(SYS_keyctl, 0x7fffffff, 0, 0, 0, 0);
}

/* An empty key type: EINVAL before any keyring is touched. */
static long p_add_key(void) {
  return sc(SYS_add_key, (long)"", (long)"", 0, 0, -2 /* KEY_SPEC_PROCESS_KEYRING */);
}

static long p_request_key(void) {
  return sc(SYS_request_key, (long)"", (long)"", 0, 0, 0);
}

/* More segments than the kernel takes, unknown flags: EINVAL (ENOSYS without kexec). */
static long p_kexec_load(void) {
  return sc(SYS_kexec_load, 0, 1000, 0, 0x7fff0000, 0);
}

static long p_kexec_file_load(void) {
  return sc(SYS_kexec_file_load, -1, -1, 0, 0, 0x7fff0000);
}

static long p_open_by_handle_at(void) {
  return sc(SYS_open_by_handle_at, -1, 0, O_RDONLY, 0, 0);
}

/* A command that does not exist. */
static long p_bpf(void) {
  return sc(SYS_bpf, 0x7fffffff, 0, 0, 0, 0);
}

/* No attributes to read: EFAULT (EACCES with a strict perf_event_paranoid). */
static long p_perf_event_open(void) {
  return sc(SYS_perf_event_open, 0, 0, -1, -1, 0);
}

/* UFFD_USER_MODE_ONLY, which any user may ask for, with an unknown flag: EINVAL. */
static long p_userfaultfd(void) {
  return sc(SYS_userfaultfd, 1 | 2, 0, 0, 0, 0);
}

/* A tmpfs on a path that does not exist: ENOENT, whatever the capabilities. */
static long p_mount(void) {
  return mount("none", NOWHERE "/target", "tmpfs", 0, NULL) < 0 ? -errno : 0;
}

static long p_umount2(void) {
  return sc(SYS_umount2, (long)NOWHERE, 0x7fff0000, 0, 0, 0);
}

static long p_pivot_root(void) {
  return sc(SYS_pivot_root, (long)NOWHERE, (long)NOWHERE, 0, 0, 0);
}

static long p_fsopen(void) {
  return sc(SYS_fsopen, (long)"nsbox-sysprobe-fs", 0x7fff0000, 0, 0, 0);
}

static long p_fsconfig(void) {
  return sc(SYS_fsconfig, -1, 0x7fff, 0, 0, 0);
}

static long p_fsmount(void) {
  return sc(SYS_fsmount, -1, 0x7fff0000, 0, 0, 0);
}

static long p_fspick(void) {
  return sc(SYS_fspick, -1, (long)"", 0x7fff0000, 0, 0);
}

static long p_move_mount(void) {
  return sc(SYS_move_mount, -1, (long)"", -1, (long)"", 0x7fff0000);
}

static long p_open_tree(void) {
  return sc(SYS_open_tree, -1, (long)"", 0x7fff0000, 0, 0);
}

static long p_mount_setattr(void) {
  return sc(SYS_mount_setattr, -1, (long)"", 0x7fff0000, 0, 0);
}

static long p_setns(void) {
  return sc(SYS_setns, -1, 0, 0, 0, 0);
}

/* A nested user namespace, in this probe's own child: harmless when it works. */
static long p_unshare_user(void) {
  return sc(SYS_unshare, CLONE_NEWUSER, 0, 0, 0, 0);
}

static long p_unshare_ipc(void) {
  return sc(SYS_unshare, CLONE_NEWIPC, 0, 0, 0, 0);
}

/* clone without a new stack, like fork: the child leaves at once. */
static long raw_clone(long flags) {
  long pid = syscall(SYS_clone, flags | SIGCHLD, 0, 0, 0, 0);
  if (pid < 0)
    return -errno;
  if (pid == 0)
    _exit(0);
  int st;
  while (waitpid((pid_t)pid, &st, 0) < 0 && errno == EINTR)
    ;
  return 0;
}

static long p_clone_user(void) {
  return raw_clone(CLONE_NEWUSER);
}

static long p_fork(void) {
  return raw_clone(0);
}

/* clone3 with a size the kernel refuses: EINVAL, no process made. */
static long p_clone3(void) {
  return sc(SYS_clone3, 0, 0, 0, 0, 0);
}

static void *thread_main(void *arg) {
  *(int *)arg = 42;
  return arg;
}

static long p_thread(void) {
  pthread_t t;
  int v = 0;
  int r = pthread_create(&t, NULL, thread_main, &v);
  if (r != 0)
    return -r;
  pthread_join(t, NULL);
  return v == 42 ? 0 : -EIO;
}

/* Address-space randomization off: a change of personality the default profile refuses. */
static long p_personality(void) {
  long cur = syscall(SYS_personality, 0xffffffffL);
  if (cur < 0)
    return -errno;
  long r = sc(SYS_personality, cur | ADDR_NO_RANDOMIZE, 0, 0, 0, 0);
  if (r == 0)
    syscall(SYS_personality, cur);
  return r;
}

static long p_personality_query(void) {
  return sc(SYS_personality, 0xffffffffL, 0, 0, 0, 0);
}

static long p_personality_linux32(void) {
  long r = sc(SYS_personality, PER_LINUX32, 0, 0, 0, 0);
  if (r == 0)
    syscall(SYS_personality, PER_LINUX);
  return r;
}

/* len 0: ENOEXEC as root, nothing loaded. */
static long p_init_module(void) {
  return sc(SYS_init_module, 0, 0, (long)"", 0, 0);
}

static long p_finit_module(void) {
  return sc(SYS_finit_module, -1, (long)"", 0, 0, 0);
}

static long p_delete_module(void) {
  return sc(SYS_delete_module, (long)"nsbox_sysprobe_none", O_NONBLOCK, 0, 0, 0);
}

#if defined(__x86_64__) || defined(__i386__)
/* A level above 3, a port range past the end: EINVAL. */
static long p_iopl(void) {
  return sc(SYS_iopl, 4, 0, 0, 0, 0);
}

static long p_ioperm(void) {
  return sc(SYS_ioperm, 0x10000, 1, 0, 0, 0);
}
#endif

static long p_swapon(void) {
  return sc(SYS_swapon, (long)NOWHERE, 0x7fff0000, 0, 0, 0);
}

static long p_swapoff(void) {
  return sc(SYS_swapoff, (long)NOWHERE, 0, 0, 0, 0);
}

/* Wrong magic numbers: EINVAL (EPERM without CAP_SYS_BOOT). Never anything else. */
static long p_reboot(void) {
  return sc(SYS_reboot, 0, 0, 0, 0, 0);
}

/* Negative microseconds and nanoseconds: EINVAL before any capability check. */
static long p_settimeofday(void) {
  struct timeval tv = {.tv_sec = 0, .tv_usec = -1};
  return sc(SYS_settimeofday, (long)&tv, 0, 0, 0, 0);
}

static long p_clock_settime(void) {
  struct timespec ts = {.tv_sec = 0, .tv_nsec = -1};
  return sc(SYS_clock_settime, CLOCK_REALTIME, (long)&ts, 0, 0, 0);
}

static long p_acct(void) {
  return sc(SYS_acct, (long)NOWHERE "/acct", 0, 0, 0, 0);
}

/* A quota type past MAXQUOTAS: EINVAL. */
static long p_quotactl(void) {
  return sc(SYS_quotactl, (long)((0x800005UL << 8) | 0xff), 0, 0, 0, 0);
}

/* The size of the kernel's log buffer: only reads. */
static long p_syslog(void) {
  return sc(SYS_syslog, 10, 0, 0, 0, 0);
}

static long p_sethostname(void) {
  return sc(SYS_sethostname, (long)"x", -1, 0, 0, 0);
}

static long p_socket_unix(void) {
  return sc(SYS_socket, AF_UNIX, SOCK_STREAM, 0, 0, 0);
}

static long p_socket_vsock(void) {
  return sc(SYS_socket, AF_VSOCK, SOCK_STREAM, 0, 0, 0);
}

#if defined(__x86_64__)
/* AF_VSOCK with a high bit set above the int the kernel reads. */
static long p_socket_vsock_hibit(void) {
  return sc(SYS_socket, 0x100000000L | AF_VSOCK, SOCK_STREAM, 0, 0, 0);
}
#endif

/* No parameters to read: EFAULT. */
static long p_io_uring_setup(void) {
  return sc(SYS_io_uring_setup, 1, 0, 0, 0, 0);
}

/* A process that does not exist: ESRCH. */
static long p_ptrace(void) {
  return sc(SYS_ptrace, 12 /* PTRACE_GETREGS */, 0x3ffffff0, 0, 0, 0);
}

/* TIOCSTI on fd 0: pushes one byte into the input of the terminal, which the kernel allows
 * only on the caller's controlling terminal (or with CAP_SYS_ADMIN). */
static long p_tiocsti(void) {
  char c = '#';
  return ioctl(0, TIOCSTI, &c) < 0 ? -errno : 0;
}

/* PTRACE_ATTACH to the pid in $SYSPROBE_PID (detached again at once if it worked). */
static long p_ptrace_attach(void) {
  const char *s = getenv("SYSPROBE_PID");
  pid_t pid = s ? (pid_t)atoi(s) : 0;
  if (pid <= 0)
    return -EINVAL;
  if (ptrace(PTRACE_ATTACH, pid, 0, 0) < 0)
    return -errno;
  waitpid(pid, NULL, __WALL);
  ptrace(PTRACE_DETACH, pid, 0, 0);
  return 0;
}

#if defined(__x86_64__)
static long p_i386_getpid(void) {
  return i386_call(20, 0, 0, 0);
}

static long p_i386_keyctl(void) {
  return i386_call(288, 0x7fffffff, 0, 0);
}

static long p_i386_unshare_user(void) {
  return i386_call(310, CLONE_NEWUSER, 0, 0);
}

static long p_x32_getpid(void) {
  return sc(X32_BIT | 39, 0, 0, 0, 0, 0);
}

static long p_x32_keyctl(void) {
  return sc(X32_BIT | 250, 0x7fffffff, 0, 0, 0, 0);
}
#endif

static const struct probe {
  const char *name;
  long (*fn)(void);
} probes[] = {
    {"getpid", p_getpid},
    {"keyctl", p_keyctl},
    {"add_key", p_add_key},
    {"request_key", p_request_key},
    {"kexec_load", p_kexec_load},
    {"kexec_file_load", p_kexec_file_load},
    {"open_by_handle_at", p_open_by_handle_at},
    {"bpf", p_bpf},
    {"perf_event_open", p_perf_event_open},
    {"userfaultfd", p_userfaultfd},
    {"mount", p_mount},
    {"umount2", p_umount2},
    {"pivot_root", p_pivot_root},
    {"fsopen", p_fsopen},
    {"fsconfig", p_fsconfig},
    {"fsmount", p_fsmount},
    {"fspick", p_fspick},
    {"move_mount", p_move_mount},
    {"open_tree", p_open_tree},
    {"mount_setattr", p_mount_setattr},
    {"setns", p_setns},
    {"unshare-user", p_unshare_user},
    {"unshare-ipc", p_unshare_ipc},
    {"clone-user", p_clone_user},
    {"fork", p_fork},
    {"clone3", p_clone3},
    {"thread", p_thread},
    {"personality", p_personality},
    {"personality-query", p_personality_query},
    {"personality-linux32", p_personality_linux32},
    {"init_module", p_init_module},
    {"finit_module", p_finit_module},
    {"delete_module", p_delete_module},
#if defined(__x86_64__) || defined(__i386__)
    {"iopl", p_iopl},
    {"ioperm", p_ioperm},
#endif
    {"swapon", p_swapon},
    {"swapoff", p_swapoff},
    {"reboot", p_reboot},
    {"settimeofday", p_settimeofday},
    {"clock_settime", p_clock_settime},
    {"acct", p_acct},
    {"quotactl", p_quotactl},
    {"syslog", p_syslog},
    {"sethostname", p_sethostname},
    {"socket-unix", p_socket_unix},
    {"socket-vsock", p_socket_vsock},
#if defined(__x86_64__)
    {"socket-vsock-hibit", p_socket_vsock_hibit},
#endif
    {"io_uring_setup", p_io_uring_setup},
    {"ptrace", p_ptrace},
    {"tiocsti", p_tiocsti},
    {"ptrace-attach", p_ptrace_attach},
#if defined(__x86_64__)
    {"i386-getpid", p_i386_getpid},
    {"i386-keyctl", p_i386_keyctl},
    {"i386-unshare-user", p_i386_unshare_user},
    {"x32-getpid", p_x32_getpid},
    {"x32-keyctl", p_x32_keyctl},
#endif
};

static const char *errno_name(int e) {
  static const struct {
    int e;
    const char *name;
  } names[] = {
      {EPERM, "EPERM"},
      {ENOENT, "ENOENT"},
      {ESRCH, "ESRCH"},
      {EINTR, "EINTR"},
      {EIO, "EIO"},
      {ENOTTY, "ENOTTY"},
      {E2BIG, "E2BIG"},
      {ENOEXEC, "ENOEXEC"},
      {EBADF, "EBADF"},
      {ECHILD, "ECHILD"},
      {EAGAIN, "EAGAIN"},
      {ENOMEM, "ENOMEM"},
      {EACCES, "EACCES"},
      {EFAULT, "EFAULT"},
      {EBUSY, "EBUSY"},
      {EEXIST, "EEXIST"},
      {ENODEV, "ENODEV"},
      {ENOTDIR, "ENOTDIR"},
      {EINVAL, "EINVAL"},
      {ENOSPC, "ENOSPC"},
      {EROFS, "EROFS"},
      {ERANGE, "ERANGE"},
      {ENOSYS, "ENOSYS"},
      {EOPNOTSUPP, "EOPNOTSUPP"},
      {EAFNOSUPPORT, "EAFNOSUPPORT"},
      {EUSERS, "EUSERS"},
      {ENOKEY, "ENOKEY"},
      {ENOTSUP, "ENOTSUP"},
  };
  static char buf[16];
  for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
    if (names[i].e == e)
      return names[i].name;
  snprintf(buf, sizeof(buf), "E%d", e);
  return buf;
}

static const char *signal_name(int s) {
  static char buf[16];
  switch (s) {
  case SIGSEGV:
    return "SIGSEGV";
  case SIGSYS:
    return "SIGSYS";
  case SIGILL:
    return "SIGILL";
  case SIGBUS:
    return "SIGBUS";
  case SIGKILL:
    return "SIGKILL";
  }
  snprintf(buf, sizeof(buf), "SIG%d", s);
  return buf;
}

/* Runs one probe in a child, which sends its result over a pipe. */
static void run(const struct probe *p) {
  int fds[2];
  if (pipe(fds) < 0) {
    perror("sysprobe: pipe");
    _exit(2);
  }
  pid_t pid = fork();
  if (pid < 0) {
    perror("sysprobe: fork");
    _exit(2);
  }
  if (pid == 0) {
    close(fds[0]);
    long r = p->fn();
    if (write(fds[1], &r, sizeof(r)) != (ssize_t)sizeof(r))
      _exit(3);
    _exit(0);
  }
  close(fds[1]);
  long r = 0;
  ssize_t n;
  while ((n = read(fds[0], &r, sizeof(r))) < 0 && errno == EINTR)
    ;
  close(fds[0]);
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
    ;
  if (n == (ssize_t)sizeof(r))
    printf("%s %s\n", p->name, r == 0 ? "ok" : errno_name((int)-r));
  else if (WIFSIGNALED(st))
    printf("%s %s\n", p->name, signal_name(WTERMSIG(st)));
  else
    printf("%s died\n", p->name);
  fflush(stdout);
}

int main(int argc, char **argv) {
  size_t n = sizeof(probes) / sizeof(probes[0]);
  if (argc == 2 && strcmp(argv[1], "--list") == 0) {
    for (size_t i = 0; i < n; i++)
      puts(probes[i].name);
    return 0;
  }
  if (argc < 2) {
    fputs("usage: sysprobe NAME... | sysprobe --list\n", stderr);
    return 2;
  }
  for (int a = 1; a < argc; a++) {
    size_t i = 0;
    while (i < n && strcmp(probes[i].name, argv[a]) != 0)
      i++;
    if (i == n) {
      fprintf(stderr, "sysprobe: no probe %s (see --list)\n", argv[a]);
      return 2;
    }
    run(&probes[i]);
  }
  return 0;
}
