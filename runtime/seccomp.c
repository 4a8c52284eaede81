/* See seccomp.h. The default profile is data: the calls every program needs, the calls that
 * need a capability the container may or may not hold, and the calls no container gets; a
 * few calls are judged by their arguments. JSON profiles are read with json.c and turned into
 * the same libseccomp rules, the way runc and crun read them. */
#include "seccomp.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "caps.h"
#include "json.h"
#include "syscalls.h"
#include "util.h"

#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif

/* ---- The default profile ------------------------------------------------------------------
 *
 * Calls it does not name fail with ENOSYS, which is what a kernel too old for them says: libc
 * and runtimes fall back (glibc's threads from clone3 to clone above all), where EPERM would
 * break them. Calls it names and refuses fail with EPERM. Names a libseccomp does not know are
 * skipped (they get ENOSYS), and so are names an architecture lacks: one table serves x86_64
 * and its i386 and x32 compat calls alike, and every other architecture. */

/* What ordinary programs use: shells, package managers, compilers, servers. */
static const char *const default_allowed[] = {
    /* files and directories */
    "access", "faccessat", "faccessat2", "chdir", "fchdir", "getcwd", "chmod", "fchmod", "fchmodat",
    "fchmodat2", "chown", "chown32", "fchown", "fchown32", "fchownat", "lchown", "lchown32",
    "creat", "open", "openat", "openat2", "close", "close_range", "dup", "dup2", "dup3", "fcntl",
    "fcntl64", "flock", "link", "linkat", "symlink", "symlinkat", "unlink", "unlinkat", "rename",
    "renameat", "renameat2", "mkdir", "mkdirat", "mknod", "mknodat", "rmdir", "readlink",
    "readlinkat", "stat", "stat64", "lstat", "lstat64", "fstat", "fstat64", "fstatat64",
    "newfstatat", "statx", "statfs", "statfs64", "fstatfs", "fstatfs64", "truncate", "truncate64",
    "ftruncate", "ftruncate64", "fallocate", "fadvise64", "fadvise64_64", "arm_fadvise64_64",
    "readahead", "getdents", "getdents64", "umask", "utime", "utimes", "utimensat",
    "utimensat_time64", "futimesat", "sync", "syncfs", "fsync", "fdatasync", "sync_file_range",
    "sync_file_range2", "arm_sync_file_range", "name_to_handle_at", "getxattr", "lgetxattr",
    "fgetxattr", "setxattr", "lsetxattr", "fsetxattr", "listxattr", "llistxattr", "flistxattr",
    "removexattr", "lremovexattr", "fremovexattr", "inotify_init", "inotify_init1",
    "inotify_add_watch", "inotify_rm_watch", "fanotify_mark",
    /* reading, writing, waiting on descriptors */
    "read", "readv", "pread64", "preadv", "preadv2", "write", "writev", "pwrite64", "pwritev",
    "pwritev2", "lseek", "_llseek", "sendfile", "sendfile64", "splice", "tee", "vmsplice",
    "copy_file_range", "ioctl", "poll", "ppoll", "ppoll_time64", "select", "_newselect", "pselect6",
    "pselect6_time64", "epoll_create", "epoll_create1", "epoll_ctl", "epoll_ctl_old", "epoll_wait",
    "epoll_wait_old", "epoll_pwait", "epoll_pwait2", "eventfd", "eventfd2", "signalfd", "signalfd4",
    "timerfd_create", "timerfd_settime", "timerfd_settime64", "timerfd_gettime",
    "timerfd_gettime64", "pipe", "pipe2", "memfd_create", "memfd_secret", "io_setup", "io_destroy",
    "io_submit", "io_cancel", "io_getevents", "io_pgetevents", "io_pgetevents_time64",
    /* memory */
    "brk", "mmap", "mmap2", "munmap", "mremap", "mprotect", "pkey_mprotect", "pkey_alloc",
    "pkey_free", "madvise", "mincore", "mlock", "mlock2", "mlockall", "munlock", "munlockall",
    "msync", "remap_file_pages", "membarrier", "cachestat", "map_shadow_stack",
    /* processes and threads (clone and unshare: below, by their flags) */
    "fork", "vfork", "execve", "execveat", "exit", "exit_group", "wait4", "waitid", "waitpid",
    "kill", "tkill", "tgkill", "getpid", "getppid", "gettid", "getpgid", "setpgid", "getpgrp",
    "getsid", "setsid", "set_tid_address", "set_robust_list", "get_robust_list", "rseq", "futex",
    "futex_time64", "futex_waitv", "futex_wake", "futex_wait", "futex_requeue", "prctl",
    "arch_prctl", "modify_ldt", "set_thread_area", "get_thread_area", "set_tls", "cacheflush",
    "breakpoint", "riscv_flush_icache", "s390_runtime_instr", "s390_pci_mmio_read",
    "s390_pci_mmio_write", "swapcontext", "uname", "sysinfo", "getrandom", "getcpu", "capget",
    "capset", "seccomp", "landlock_create_ruleset", "landlock_add_rule", "landlock_restrict_self",
    "pidfd_open", "pidfd_send_signal", "process_mrelease", "restart_syscall",
    /* debuggers: the kernel (4.8 and later) keeps ptrace to the container's own processes */
    "ptrace", "process_vm_readv", "process_vm_writev",
    /* identity */
    "getuid", "getuid32", "geteuid", "geteuid32", "getgid", "getgid32", "getegid", "getegid32",
    "getresuid", "getresuid32", "getresgid", "getresgid32", "getgroups", "getgroups32", "setuid",
    "setuid32", "setgid", "setgid32", "setreuid", "setreuid32", "setregid", "setregid32",
    "setresuid", "setresuid32", "setresgid", "setresgid32", "setgroups", "setgroups32", "setfsuid",
    "setfsuid32", "setfsgid", "setfsgid32",
    /* limits and scheduling (raising a priority still needs CAP_SYS_NICE in the kernel) */
    "getrlimit", "ugetrlimit", "setrlimit", "prlimit64", "getrusage", "getpriority", "setpriority",
    "ioprio_get", "ioprio_set", "sched_yield", "sched_getaffinity", "sched_setaffinity",
    "sched_getattr", "sched_setattr", "sched_getparam", "sched_setparam", "sched_getscheduler",
    "sched_setscheduler", "sched_get_priority_max", "sched_get_priority_min",
    "sched_rr_get_interval", "sched_rr_get_interval_time64",
    /* signals */
    "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigsuspend", "rt_sigpending",
    "rt_sigtimedwait", "rt_sigtimedwait_time64", "rt_sigqueueinfo", "rt_tgsigqueueinfo",
    "sigprocmask", "sigreturn", "sigaltstack", "pause", "alarm",
    /* time; adjtimex and clock_adjtime change the clock only with CAP_SYS_TIME in the initial
     * namespace, which the kernel checks: reading it is what is left */
    "clock_gettime", "clock_gettime64", "clock_getres", "clock_getres_time64", "clock_nanosleep",
    "clock_nanosleep_time64", "nanosleep", "gettimeofday", "time", "times", "getitimer",
    "setitimer", "timer_create", "timer_delete", "timer_settime", "timer_settime64",
    "timer_gettime", "timer_gettime64", "timer_getoverrun", "adjtimex", "clock_adjtime",
    "clock_adjtime64",
    /* sockets (socket itself: below, by its family); socketcall is i386's multiplexer, whose
     * arguments a filter cannot read */
    "socketcall", "socketpair", "bind", "connect", "listen", "accept", "accept4", "getsockname",
    "getpeername", "getsockopt", "setsockopt", "send", "sendto", "sendmsg", "sendmmsg", "recv",
    "recvfrom", "recvmsg", "recvmmsg", "recvmmsg_time64", "shutdown",
    /* System V and POSIX IPC (the container has its own IPC namespace) */
    "ipc", "msgget", "msgctl", "msgsnd", "msgrcv", "semget", "semctl", "semop", "semtimedop",
    "semtimedop_time64", "shmget", "shmctl", "shmat", "shmdt", "mq_open", "mq_unlink",
    "mq_timedsend", "mq_timedsend_time64", "mq_timedreceive", "mq_timedreceive_time64", "mq_notify",
    "mq_getsetattr"};

/* Calls that act on the whole machine or on kernel state no namespace covers: allowed when
 * the container holds the capability the kernel asks for (or the second one, when there is
 * one), refused with EPERM otherwise, as docker does. Without CAP_SYS_ADMIN this is what
 * keeps a container from mounting filesystems of its own choosing, pivoting, joining or
 * making namespaces, and, where a nested user namespace would hand it CAP_SYS_ADMIN over new
 * mounts, from reaching those through one (clone and unshare below). */
#define NO_CAP (-1)
static const struct gated_call {
  const char *name;
  int cap, alt;
} default_gated[] = {
    {"mount", CAP_SYS_ADMIN, NO_CAP},          {"umount", CAP_SYS_ADMIN, NO_CAP},
    {"umount2", CAP_SYS_ADMIN, NO_CAP},        {"pivot_root", CAP_SYS_ADMIN, NO_CAP},
    {"fsopen", CAP_SYS_ADMIN, NO_CAP},         {"fsconfig", CAP_SYS_ADMIN, NO_CAP},
    {"fsmount", CAP_SYS_ADMIN, NO_CAP},        {"fspick", CAP_SYS_ADMIN, NO_CAP},
    {"move_mount", CAP_SYS_ADMIN, NO_CAP},     {"open_tree", CAP_SYS_ADMIN, NO_CAP},
    {"mount_setattr", CAP_SYS_ADMIN, NO_CAP},  {"setns", CAP_SYS_ADMIN, NO_CAP},
    {"sethostname", CAP_SYS_ADMIN, NO_CAP},    {"setdomainname", CAP_SYS_ADMIN, NO_CAP},
    {"quotactl", CAP_SYS_ADMIN, NO_CAP},       {"quotactl_fd", CAP_SYS_ADMIN, NO_CAP},
    {"lookup_dcookie", CAP_SYS_ADMIN, NO_CAP}, {"fanotify_init", CAP_SYS_ADMIN, NO_CAP},
    {"bpf", CAP_BPF, CAP_SYS_ADMIN},           {"perf_event_open", CAP_PERFMON, CAP_SYS_ADMIN},
    {"syslog", CAP_SYSLOG, CAP_SYS_ADMIN},     {"open_by_handle_at", CAP_DAC_READ_SEARCH, NO_CAP},
    {"chroot", CAP_SYS_CHROOT, NO_CAP},        {"reboot", CAP_SYS_BOOT, NO_CAP},
    {"init_module", CAP_SYS_MODULE, NO_CAP},   {"finit_module", CAP_SYS_MODULE, NO_CAP},
    {"delete_module", CAP_SYS_MODULE, NO_CAP}, {"acct", CAP_SYS_PACCT, NO_CAP},
    {"iopl", CAP_SYS_RAWIO, NO_CAP},           {"ioperm", CAP_SYS_RAWIO, NO_CAP},
    {"settimeofday", CAP_SYS_TIME, NO_CAP},    {"stime", CAP_SYS_TIME, NO_CAP},
    {"clock_settime", CAP_SYS_TIME, NO_CAP},   {"clock_settime64", CAP_SYS_TIME, NO_CAP},
    {"vhangup", CAP_SYS_TTY_CONFIG, NO_CAP},   {"kcmp", CAP_SYS_PTRACE, NO_CAP},
    {"pidfd_getfd", CAP_SYS_PTRACE, NO_CAP},   {"process_madvise", CAP_SYS_PTRACE, NO_CAP},
    {"mbind", CAP_SYS_NICE, NO_CAP},           {"get_mempolicy", CAP_SYS_NICE, NO_CAP},
    {"set_mempolicy", CAP_SYS_NICE, NO_CAP},   {"set_mempolicy_home_node", CAP_SYS_NICE, NO_CAP},
};

/* Refused whatever the capabilities: the kernel's keyrings are not namespaced (keyctl,
 * add_key, request_key); kexec replaces the host's kernel; userfaultfd and io_uring are where
 * kernel exploits have lived (docker refuses io_uring since 25.0); swap is the host's;
 * vm86 and the rest are obsolete ways into the kernel. */
static const char *const default_refused[] = {
    "keyctl",         "add_key",         "request_key",
    "kexec_load",     "kexec_file_load", "userfaultfd",
    "io_uring_setup", "io_uring_enter",  "io_uring_register",
    "swapon",         "swapoff",         "nfsservctl",
    "vm86",           "vm86old",         "uselib",
    "ustat",          "sysfs",           "migrate_pages",
    "move_pages",     "bdflush",         "pciconfig_iobase",
    "pciconfig_read", "pciconfig_write"};

/* personality(2) values that change nothing dangerous: Linux, 32-bit Linux, and those with
 * UNAME26 (an old kernel version for old programs), and 0xffffffff, which only asks. The
 * others switch off address-space randomization or bring back old ABIs: EPERM. */
static const uint64_t default_personalities[] = {0x0, 0x8, 0x20000, 0x20008, 0xffffffff};

/* Calls the default profile names in rules of code below rather than in the tables. */
static const char *const default_by_args[] = {"personality", "socket", "clone", "unshare",
                                              "clone3"};

/* libseccomp's SCMP_A0() leaves datum_b to the reader, which -Wextra does not like. */
static struct scmp_arg_cmp cmp(unsigned arg, enum scmp_compare op, uint64_t a, uint64_t b) {
  return (struct scmp_arg_cmp){.arg = arg, .op = op, .datum_a = a, .datum_b = b};
}

static bool has_cap(uint64_t caps, int cap) {
  return cap >= 0 && cap < 64 && (caps >> cap & 1);
}

/* One rule for the call named; a name this libseccomp does not know is left to the default
 * action. Returns 0 or libseccomp's -errno. */
static int add_named(scmp_filter_ctx ctx, uint32_t action, const char *name, unsigned n,
                     const struct scmp_arg_cmp *args) {
  int nr = seccomp_syscall_resolve_name(name);
  if (nr == __NR_SCMP_ERROR)
    return 0;
  return seccomp_rule_add_array(ctx, action, nr, n, args);
}

static int add_default_rules(scmp_filter_ctx ctx, uint64_t caps, const char **what) {
  int r = 0;
  /* Unconditional rules go in first: libseccomp turns i386's argument rules on socket into
   * rules on socketcall (whose arguments it cannot read), which must find socketcall allowed
   * already, or the allowing and the refusing rule below would contradict each other. */
  for (size_t i = 0; i < ARRAY_SIZE(default_allowed) && r == 0; i++)
    r = add_named(ctx, SCMP_ACT_ALLOW, *what = default_allowed[i], 0, NULL);
  for (size_t i = 0; i < ARRAY_SIZE(default_gated) && r == 0; i++) {
    const struct gated_call *g = &default_gated[i];
    bool ok = has_cap(caps, g->cap) || has_cap(caps, g->alt);
    r = add_named(ctx, ok ? SCMP_ACT_ALLOW : SCMP_ACT_ERRNO(EPERM), *what = g->name, 0, NULL);
  }
  for (size_t i = 0; i < ARRAY_SIZE(default_refused) && r == 0; i++)
    r = add_named(ctx, SCMP_ACT_ERRNO(EPERM), *what = default_refused[i], 0, NULL);
  if (r != 0)
    return r;

  /* libseccomp tries a call's equality tests before its range tests: the allowed values
   * first, then "anything" (>= 0) refused. */
  *what = "personality";
  for (size_t i = 0; i < ARRAY_SIZE(default_personalities) && r == 0; i++) {
    struct scmp_arg_cmp eq = cmp(0, SCMP_CMP_EQ, default_personalities[i], 0);
    r = add_named(ctx, SCMP_ACT_ALLOW, "personality", 1, &eq);
  }
  struct scmp_arg_cmp any = cmp(0, SCMP_CMP_GE, 0, 0);
  if (r == 0)
    r = add_named(ctx, SCMP_ACT_ERRNO(EPERM), "personality", 1, &any);

  /* AF_VSOCK reaches the host (or a hypervisor) past the network namespace. The kernel reads
   * the family as an int: the test takes the low 32 bits, so no high bit slips it past. */
  *what = "socket";
  struct scmp_arg_cmp vsock = cmp(0, SCMP_CMP_MASKED_EQ, 0xffffffff, AF_VSOCK);
  struct scmp_arg_cmp below = cmp(0, SCMP_CMP_LT, AF_VSOCK, 0),
                      above = cmp(0, SCMP_CMP_GT, AF_VSOCK, 0);
  if (r == 0)
    r = add_named(ctx, SCMP_ACT_ERRNO(EPERM), "socket", 1, &vsock);
  if (r == 0)
    r = add_named(ctx, SCMP_ACT_ALLOW, "socket", 1, &below);
  if (r == 0)
    r = add_named(ctx, SCMP_ACT_ALLOW, "socket", 1, &above);
  if (r != 0)
    return r;

  /* Namespaces: with CAP_SYS_ADMIN anything goes. Without it the kernel refuses every new
   * namespace but a user namespace, which needs no privilege and would hand the container
   * CAP_SYS_ADMIN over mounts of its own: refused. clone3 passes its flags in memory, which a
   * filter cannot read: ENOSYS, on which libc falls back to clone. */
  if (has_cap(caps, CAP_SYS_ADMIN)) {
    const char *const all[] = {"clone", "unshare", "clone3"};
    for (size_t i = 0; i < ARRAY_SIZE(all) && r == 0; i++)
      r = add_named(ctx, SCMP_ACT_ALLOW, *what = all[i], 0, NULL);
    return r;
  }
  /* s390 passes clone's flags second. */
  uint32_t native = seccomp_arch_native();
  unsigned flags_arg = native == SCMP_ARCH_S390X || native == SCMP_ARCH_S390 ? 1 : 0;
  struct scmp_arg_cmp user = cmp(flags_arg, SCMP_CMP_MASKED_EQ, CLONE_NEWUSER, CLONE_NEWUSER);
  struct scmp_arg_cmp no_user = cmp(flags_arg, SCMP_CMP_MASKED_EQ, CLONE_NEWUSER, 0);
  struct scmp_arg_cmp u_user = cmp(0, SCMP_CMP_MASKED_EQ, CLONE_NEWUSER, CLONE_NEWUSER);
  struct scmp_arg_cmp u_no_user = cmp(0, SCMP_CMP_MASKED_EQ, CLONE_NEWUSER, 0);
  if ((r = add_named(ctx, SCMP_ACT_ERRNO(EPERM), *what = "clone", 1, &user)) == 0 &&
      (r = add_named(ctx, SCMP_ACT_ALLOW, "clone", 1, &no_user)) == 0 &&
      (r = add_named(ctx, SCMP_ACT_ERRNO(EPERM), *what = "unshare", 1, &u_user)) == 0)
    r = add_named(ctx, SCMP_ACT_ALLOW, "unshare", 1, &u_no_user);
  /* clone3 gets the default action, ENOSYS (libseccomp takes no rule equal to it). */
  return r;
}

const char *nsbox_seccomp_default_check(void) {
  static char msg[128];
  const char *names[ARRAY_SIZE(default_allowed) + ARRAY_SIZE(default_gated) +
                    ARRAY_SIZE(default_refused) + ARRAY_SIZE(default_by_args)];
  size_t n = 0;
  for (size_t i = 0; i < ARRAY_SIZE(default_allowed); i++)
    names[n++] = default_allowed[i];
  for (size_t i = 0; i < ARRAY_SIZE(default_gated); i++)
    names[n++] = default_gated[i].name;
  for (size_t i = 0; i < ARRAY_SIZE(default_refused); i++)
    names[n++] = default_refused[i];
  for (size_t i = 0; i < ARRAY_SIZE(default_by_args); i++)
    names[n++] = default_by_args[i];
  for (size_t i = 0; i < n; i++) {
    if (seccomp_syscall_resolve_name(names[i]) == __NR_SCMP_ERROR) {
      snprintf(msg, sizeof(msg), "libseccomp does not know \"%s\"", names[i]);
      return msg;
    }
    for (size_t j = 0; j < i; j++)
      if (strcmp(names[i], names[j]) == 0) {
        snprintf(msg, sizeof(msg), "\"%s\" is named twice", names[i]);
        return msg;
      }
  }
  return NULL;
}

/* ---- Architectures ----------------------------------------------------------------------- */

/* Each architecture by its name in profiles, by docker's name for it in includes.arches, and
 * with the compat architectures its kernel also runs (docker's archMap). */
static const struct arch_info {
  uint32_t token;
  const char *scmp_name, *docker_name;
  uint32_t compat[2];
} arch_table[] = {
    {SCMP_ARCH_X86_64, "SCMP_ARCH_X86_64", "amd64", {SCMP_ARCH_X86, SCMP_ARCH_X32}},
    {SCMP_ARCH_X86, "SCMP_ARCH_X86", "x86", {0, 0}},
    {SCMP_ARCH_X32, "SCMP_ARCH_X32", "x32", {0, 0}},
    {SCMP_ARCH_AARCH64, "SCMP_ARCH_AARCH64", "arm64", {SCMP_ARCH_ARM, 0}},
    {SCMP_ARCH_ARM, "SCMP_ARCH_ARM", "arm", {0, 0}},
    {SCMP_ARCH_MIPS64, "SCMP_ARCH_MIPS64", "mips64", {SCMP_ARCH_MIPS, SCMP_ARCH_MIPS64N32}},
    {SCMP_ARCH_MIPS64N32, "SCMP_ARCH_MIPS64N32", "mips64n32", {SCMP_ARCH_MIPS, SCMP_ARCH_MIPS64}},
    {SCMP_ARCH_MIPS, "SCMP_ARCH_MIPS", "mips", {0, 0}},
    {SCMP_ARCH_MIPSEL64,
     "SCMP_ARCH_MIPSEL64",
     "mipsel64",
     {SCMP_ARCH_MIPSEL, SCMP_ARCH_MIPSEL64N32}},
    {SCMP_ARCH_MIPSEL64N32,
     "SCMP_ARCH_MIPSEL64N32",
     "mipsel64n32",
     {SCMP_ARCH_MIPSEL, SCMP_ARCH_MIPSEL64}},
    {SCMP_ARCH_MIPSEL, "SCMP_ARCH_MIPSEL", "mipsel", {0, 0}},
    {SCMP_ARCH_PPC64LE, "SCMP_ARCH_PPC64LE", "ppc64le", {0, 0}},
    {SCMP_ARCH_PPC64, "SCMP_ARCH_PPC64", "ppc64", {0, 0}},
    {SCMP_ARCH_PPC, "SCMP_ARCH_PPC", "ppc", {0, 0}},
    {SCMP_ARCH_S390X, "SCMP_ARCH_S390X", "s390x", {SCMP_ARCH_S390, 0}},
    {SCMP_ARCH_S390, "SCMP_ARCH_S390", "s390", {0, 0}},
    {SCMP_ARCH_PARISC64, "SCMP_ARCH_PARISC64", "parisc64", {SCMP_ARCH_PARISC, 0}},
    {SCMP_ARCH_PARISC, "SCMP_ARCH_PARISC", "parisc", {0, 0}},
    {SCMP_ARCH_RISCV64, "SCMP_ARCH_RISCV64", "riscv64", {0, 0}},
};

static const struct arch_info *arch_by_token(uint32_t token) {
  for (size_t i = 0; i < ARRAY_SIZE(arch_table); i++)
    if (arch_table[i].token == token)
      return &arch_table[i];
  return NULL;
}

static const struct arch_info *arch_by_name(const char *name) {
  for (size_t i = 0; i < ARRAY_SIZE(arch_table); i++)
    if (strcmp(arch_table[i].scmp_name, name) == 0)
      return &arch_table[i];
  return NULL;
}

static int add_arch(scmp_filter_ctx ctx, uint32_t token) {
  int r = seccomp_arch_add(ctx, token);
  return r == -EEXIST ? 0 : r;
}

/* ---- Building and exporting ------------------------------------------------------------- */

static scmp_filter_ctx new_ctx(uint32_t def_action, nsbox_error_t *err) {
  scmp_filter_ctx ctx = seccomp_init(def_action);
  if (ctx == NULL) {
    nsbox_fail(err, 0, "libseccomp refused the default action (0x%x)", def_action);
    return NULL;
  }
  /* nsbox sets no_new_privs itself (or not, with no-new-privileges=false), and loads the
   * filter itself: libseccomp's own setting would only get in the way. A binary tree of the
   * calls keeps the path to each short. */
  seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
  seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
  return ctx;
}

static void release_ctx(scmp_filter_ctx *ctx) {
  if (*ctx)
    seccomp_release(*ctx);
}
#define cleanup_scmp __attribute__((cleanup(release_ctx)))

/* libseccomp 2.5 exports only to a file descriptor: through a memfd into our memory. */
static int export_filter(scmp_filter_ctx ctx, struct nsbox_seccomp_prog *out, nsbox_error_t *err) {
  cleanup_close int fd = sys_memfd_create("nsbox-seccomp", MFD_CLOEXEC);
  if (fd < 0)
    return nsbox_fail(err, errno, "memfd_create");
  int r = seccomp_export_bpf(ctx, fd);
  if (r < 0)
    return nsbox_fail(err, -r, "compile the filter");
  off_t size = lseek(fd, 0, SEEK_END);
  if (size < 0)
    return nsbox_fail(err, errno, "lseek");
  size_t n = (size_t)size / sizeof(struct sock_filter);
  if (n == 0 || (size_t)size % sizeof(struct sock_filter) != 0)
    return nsbox_fail(err, 0, "libseccomp made a filter of %lld bytes", (long long)size);
  if (n > BPF_MAXINSNS)
    return nsbox_fail(err, 0,
                      "the filter has %zu instructions, more than the kernel's %d: "
                      "the profile has too many rules",
                      n, BPF_MAXINSNS);
  cleanup_free struct sock_filter *f = xmalloc((size_t)size);
  for (size_t done = 0; done < (size_t)size;) {
    ssize_t got = pread(fd, (char *)f + done, (size_t)size - done, (off_t)done);
    if (got < 0 && errno == EINTR)
      continue;
    if (got <= 0)
      return nsbox_fail(err, got < 0 ? errno : EIO, "read the compiled filter");
    done += (size_t)got;
  }
  out->filter = steal_pointer(&f);
  out->len = (unsigned short)n;
  return 0;
}

static int prepare_default(uint64_t caps, struct nsbox_seccomp_prog *out, nsbox_error_t *err) {
  cleanup_scmp scmp_filter_ctx ctx = new_ctx(SCMP_ACT_ERRNO(ENOSYS), err);
  if (ctx == NULL)
    return nsbox_wrap(err, "seccomp");
  const struct arch_info *native = arch_by_token(seccomp_arch_native());
  for (size_t i = 0; native && i < ARRAY_SIZE(native->compat); i++) {
    int r = native->compat[i] ? add_arch(ctx, native->compat[i]) : 0;
    if (r < 0)
      return nsbox_fail(err, -r, "seccomp: add the architecture %s",
                        arch_by_token(native->compat[i])->scmp_name);
  }
  const char *what = "";
  int r = add_default_rules(ctx, caps, &what);
  if (r < 0)
    return nsbox_fail(err, -r, "seccomp: the default profile's rule for %s", what);
  if (export_filter(ctx, out, err) < 0)
    return nsbox_wrap(err, "seccomp");
  return 0;
}

/* ---- JSON profiles ----------------------------------------------------------------------- */

struct profile {
  const char *file;
  nsbox_error_t *err;
  uint64_t caps;
  const struct arch_info *native;
  unsigned kernel[3]; /* the running kernel's version, for minKernel */
  bool kernel_known;
};

static int bad(struct profile *pr, const struct json_value *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int bad(struct profile *pr, const struct json_value *at, const char *fmt, ...) {
  char what[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof(what), fmt, ap);
  va_end(ap);
  return nsbox_fail(pr->err, 0, "seccomp profile %s: line %u: %s", pr->file, at->line, what);
}

/* A string of the profile, fit for a one-line message: at most 40 bytes, no control chars. */
static const char *quoted(const char *s, char buf[64]) {
  return json_quote_for_message(s, 40, buf, 64);
}

/* Every key of obj must be one of `known` (NULL-terminated): a misspelt "syscalls" would
 * otherwise leave a profile that silently allows what it meant to refuse. */
static int check_keys(struct profile *pr, const struct json_value *obj, const char *path,
                      const char *const *known) {
  for (size_t i = 0; i < obj->u.obj.n; i++) {
    const char *key = obj->u.obj.items[i].key;
    const char *const *k = known;
    while (*k && strcmp(*k, key) != 0)
      k++;
    if (*k == NULL) {
      char q[64];
      return bad(pr, &obj->u.obj.items[i].value, "%s: unknown key %s", path,
                 quoted(obj->u.obj.items[i].key, q));
    }
  }
  return 0;
}

static int want_type(struct profile *pr, const struct json_value *v, enum json_type t,
                     const char *path) {
  if (v->type == t)
    return 0;
  return bad(pr, v, "%s: expected %s, not %s", path, json_type_name(t), json_type_name(v->type));
}

/* obj[key] of type t, or NULL when absent or null (Go's decoding, which docker's profiles
 * rely on: "subArchitectures": null). */
static int member(struct profile *pr, const struct json_value *obj, const char *key,
                  enum json_type t, const char *path, const struct json_value **out) {
  const struct json_value *v = json_get(obj, key);
  *out = NULL;
  if (v == NULL || v->type == JSON_NULL)
    return 0;
  char p[160];
  snprintf(p, sizeof(p), "%s%s%s", path, *path ? "." : "", key);
  if (want_type(pr, v, t, p) < 0)
    return -1;
  *out = v;
  return 0;
}

/* The text of a string value, refused when it holds a NUL of its own. */
static int text_of(struct profile *pr, const struct json_value *v, const char *path,
                   const char **out) {
  if (want_type(pr, v, JSON_STRING, path) < 0)
    return -1;
  if (strlen(v->u.str.s) != v->u.str.len)
    return bad(pr, v, "%s: a NUL character in a string", path);
  *out = v->u.str.s;
  return 0;
}

static int string_member(struct profile *pr, const struct json_value *obj, const char *key,
                         const char *path, const char **out) {
  const struct json_value *v;
  *out = NULL;
  if (member(pr, obj, key, JSON_STRING, path, &v) < 0)
    return -1;
  char p[160];
  snprintf(p, sizeof(p), "%s%s%s", path, *path ? "." : "", key);
  return v ? text_of(pr, v, p, out) : 0;
}

/* An unsigned integer member no larger than max; *present says whether there was one. */
static int uint_member(struct profile *pr, const struct json_value *obj, const char *key,
                       const char *path, uint64_t max, uint64_t *out, bool *present) {
  const struct json_value *v;
  if (present)
    *present = false;
  if (member(pr, obj, key, JSON_NUMBER, path, &v) < 0)
    return -1;
  if (v == NULL)
    return 0;
  if (json_u64(v, out) < 0 || *out > max)
    return bad(pr, v, "%s%s%s: expected an integer from 0 to %llu", path, *path ? "." : "", key,
               (unsigned long long)max);
  if (present)
    *present = true;
  return 0;
}

/* podman's profiles name the errno ("errno": "ENOSYS") beside or instead of the number. */
#define E_(e)                                                                                      \
  { #e, e }
static const struct {
  const char *name;
  int value;
} errno_table[] = {E_(EPERM),
                   E_(ENOENT),
                   E_(ESRCH),
                   E_(EINTR),
                   E_(EIO),
                   E_(ENXIO),
                   E_(E2BIG),
                   E_(ENOEXEC),
                   E_(EBADF),
                   E_(ECHILD),
                   E_(EAGAIN),
                   E_(ENOMEM),
                   E_(EACCES),
                   E_(EFAULT),
                   E_(ENOTBLK),
                   E_(EBUSY),
                   E_(EEXIST),
                   E_(EXDEV),
                   E_(ENODEV),
                   E_(ENOTDIR),
                   E_(EISDIR),
                   E_(EINVAL),
                   E_(ENFILE),
                   E_(EMFILE),
                   E_(ENOTTY),
                   E_(ETXTBSY),
                   E_(EFBIG),
                   E_(ENOSPC),
                   E_(ESPIPE),
                   E_(EROFS),
                   E_(EMLINK),
                   E_(EPIPE),
                   E_(EDOM),
                   E_(ERANGE),
                   E_(EDEADLK),
                   E_(ENAMETOOLONG),
                   E_(ENOLCK),
                   E_(ENOSYS),
                   E_(ENOTEMPTY),
                   E_(ELOOP),
                   E_(ENOMSG),
                   E_(EIDRM),
                   E_(ECHRNG),
                   E_(EL2NSYNC),
                   E_(EL3HLT),
                   E_(EL3RST),
                   E_(ELNRNG),
                   E_(EUNATCH),
                   E_(ENOCSI),
                   E_(EL2HLT),
                   E_(EBADE),
                   E_(EBADR),
                   E_(EXFULL),
                   E_(ENOANO),
                   E_(EBADRQC),
                   E_(EBADSLT),
                   E_(EBFONT),
                   E_(ENOSTR),
                   E_(ENODATA),
                   E_(ETIME),
                   E_(ENOSR),
                   E_(ENONET),
                   E_(ENOPKG),
                   E_(EREMOTE),
                   E_(ENOLINK),
                   E_(EADV),
                   E_(ESRMNT),
                   E_(ECOMM),
                   E_(EPROTO),
                   E_(EMULTIHOP),
                   E_(EDOTDOT),
                   E_(EBADMSG),
                   E_(EOVERFLOW),
                   E_(ENOTUNIQ),
                   E_(EBADFD),
                   E_(EREMCHG),
                   E_(ELIBACC),
                   E_(ELIBBAD),
                   E_(ELIBSCN),
                   E_(ELIBMAX),
                   E_(ELIBEXEC),
                   E_(EILSEQ),
                   E_(ERESTART),
                   E_(ESTRPIPE),
                   E_(EUSERS),
                   E_(ENOTSOCK),
                   E_(EDESTADDRREQ),
                   E_(EMSGSIZE),
                   E_(EPROTOTYPE),
                   E_(ENOPROTOOPT),
                   E_(EPROTONOSUPPORT),
                   E_(ESOCKTNOSUPPORT),
                   E_(EOPNOTSUPP),
                   E_(EPFNOSUPPORT),
                   E_(EAFNOSUPPORT),
                   E_(EADDRINUSE),
                   E_(EADDRNOTAVAIL),
                   E_(ENETDOWN),
                   E_(ENETUNREACH),
                   E_(ENETRESET),
                   E_(ECONNABORTED),
                   E_(ECONNRESET),
                   E_(ENOBUFS),
                   E_(EISCONN),
                   E_(ENOTCONN),
                   E_(ESHUTDOWN),
                   E_(ETOOMANYREFS),
                   E_(ETIMEDOUT),
                   E_(ECONNREFUSED),
                   E_(EHOSTDOWN),
                   E_(EHOSTUNREACH),
                   E_(EALREADY),
                   E_(EINPROGRESS),
                   E_(ESTALE),
                   E_(EUCLEAN),
                   E_(ENOTNAM),
                   E_(ENAVAIL),
                   E_(EISNAM),
                   E_(EREMOTEIO),
                   E_(EDQUOT),
                   E_(ENOMEDIUM),
                   E_(EMEDIUMTYPE),
                   E_(ECANCELED),
                   E_(ENOKEY),
                   E_(EKEYEXPIRED),
                   E_(EKEYREVOKED),
                   E_(EKEYREJECTED),
                   E_(EOWNERDEAD),
                   E_(ENOTRECOVERABLE),
                   E_(ERFKILL),
                   E_(EHWPOISON),
                   E_(EWOULDBLOCK),
                   E_(EDEADLOCK),
                   E_(ENOTSUP)};
#undef E_

/* The errno of an action: "errnoRet" (a number, docker's and OCI's) and "errno" (a name,
 * podman's), either or both, which must then agree. */
static int errno_members(struct profile *pr, const struct json_value *obj, const char *num_key,
                         const char *name_key, const char *path, uint64_t *out, bool *present) {
  bool has_num;
  const char *name;
  if (uint_member(pr, obj, num_key, path, 4095, out, &has_num) < 0 ||
      string_member(pr, obj, name_key, path, &name) < 0)
    return -1;
  *present = has_num;
  if (name == NULL || *name == '\0')
    return 0;
  size_t i = 0;
  while (i < ARRAY_SIZE(errno_table) && strcmp(errno_table[i].name, name) != 0)
    i++;
  char q[64];
  if (i == ARRAY_SIZE(errno_table))
    return bad(pr, json_get(obj, name_key), "%s%s%s: unknown errno %s", path, *path ? "." : "",
               name_key, quoted(name, q));
  if (has_num && *out != (uint64_t)errno_table[i].value)
    return bad(pr, json_get(obj, name_key), "%s%s%s: %s is %d, but %s says %llu", path,
               *path ? "." : "", name_key, errno_table[i].name, errno_table[i].value, num_key,
               (unsigned long long)*out);
  *out = (uint64_t)errno_table[i].value;
  *present = true;
  return 0;
}

static const struct {
  const char *name;
  uint32_t action;
  bool takes_ret; /* SCMP_ACT_ERRNO and SCMP_ACT_TRACE carry errnoRet */
} action_table[] = {
    {"SCMP_ACT_KILL", SCMP_ACT_KILL_THREAD, false},
    {"SCMP_ACT_KILL_THREAD", SCMP_ACT_KILL_THREAD, false},
    {"SCMP_ACT_KILL_PROCESS", SCMP_ACT_KILL_PROCESS, false},
    {"SCMP_ACT_TRAP", SCMP_ACT_TRAP, false},
    {"SCMP_ACT_ERRNO", SCMP_ACT_ERRNO(0), true},
    {"SCMP_ACT_TRACE", SCMP_ACT_TRACE(0), true},
    {"SCMP_ACT_LOG", SCMP_ACT_LOG, false},
    {"SCMP_ACT_ALLOW", SCMP_ACT_ALLOW, false},
};

/* An action by name, with `ret` (errnoRet; EPERM when absent, as runc has it) for the two
 * that take one. */
static int parse_action(struct profile *pr, const struct json_value *v, const char *name,
                        const char *path, uint64_t ret, bool has_ret, uint32_t *out) {
  for (size_t i = 0; i < ARRAY_SIZE(action_table); i++) {
    if (strcmp(action_table[i].name, name) != 0)
      continue;
    if (!action_table[i].takes_ret)
      *out = action_table[i].action;
    else if (action_table[i].action == SCMP_ACT_ERRNO(0))
      *out = SCMP_ACT_ERRNO((uint16_t)(has_ret ? ret : EPERM));
    else
      *out = SCMP_ACT_TRACE((uint16_t)(has_ret ? ret : EPERM));
    return 0;
  }
  char q[64];
  if (strcmp(name, "SCMP_ACT_NOTIFY") == 0)
    return bad(pr, v, "%s: SCMP_ACT_NOTIFY is not supported by nsbox", path);
  return bad(pr, v, "%s: unknown action %s", path, quoted(name, q));
}

static const struct {
  const char *name;
  enum scmp_compare op;
} op_table[] = {
    {"SCMP_CMP_NE", SCMP_CMP_NE},
    {"SCMP_CMP_LT", SCMP_CMP_LT},
    {"SCMP_CMP_LE", SCMP_CMP_LE},
    {"SCMP_CMP_EQ", SCMP_CMP_EQ},
    {"SCMP_CMP_GE", SCMP_CMP_GE},
    {"SCMP_CMP_GT", SCMP_CMP_GT},
    {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ},
};

/* An array of strings, each handed to fn (which may fail). */
static int each_string(struct profile *pr, const struct json_value *arr, const char *path,
                       int (*fn)(struct profile *, const struct json_value *, const char *,
                                 const char *, void *),
                       void *arg) {
  for (size_t i = 0; i < arr->u.arr.n; i++) {
    char p[160];
    snprintf(p, sizeof(p), "%s[%zu]", path, i);
    const char *s;
    if (text_of(pr, &arr->u.arr.items[i], p, &s) < 0 || fn(pr, &arr->u.arr.items[i], s, p, arg) < 0)
      return -1;
  }
  return 0;
}

/* "4.8", "5.10.0": the first two or three numbers. */
static int parse_version(const char *s, unsigned v[3]) {
  v[0] = v[1] = v[2] = 0;
  for (int i = 0; i < 3; i++) {
    if (*s < '0' || *s > '9')
      return i >= 2 ? 0 : -1;
    unsigned long n = strtoul(s, (char **)&s, 10);
    if (n > 100000)
      return -1;
    v[i] = (unsigned)n;
    if (*s != '.')
      return i >= 1 ? 0 : -1;
    s++;
  }
  return 0;
}

static int version_cmp(const unsigned a[3], const unsigned b[3]) {
  for (int i = 0; i < 3; i++)
    if (a[i] != b[i])
      return a[i] < b[i] ? -1 : 1;
  return 0;
}

/* Whether the running kernel is at least the version named at `path`. */
static int kernel_at_least(struct profile *pr, const struct json_value *v, const char *s,
                           const char *path, bool *out) {
  unsigned want[3];
  char q[64];
  if (parse_version(s, want) < 0)
    return bad(pr, v, "%s: expected a kernel version such as \"4.8\", not %s", path, quoted(s, q));
  if (!pr->kernel_known) {
    struct utsname u;
    if (uname(&u) < 0 || parse_version(u.release, pr->kernel) < 0)
      return bad(pr, v, "%s: cannot tell the running kernel's version", path);
    pr->kernel_known = true;
  }
  *out = version_cmp(pr->kernel, want) >= 0;
  return 0;
}

/* Docker spells capabilities "CAP_SYS_ADMIN"; one nsbox's libcap does not know is one the
 * container does not hold. */
static bool holds_cap(const struct profile *pr, const char *name) {
  char lower[48];
  size_t n = strlen(name);
  if (n < 5 || n >= sizeof(lower) || strncmp(name, "CAP_", 4) != 0)
    return false;
  for (size_t i = 0; i <= n; i++)
    lower[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] - 'A' + 'a' : name[i]);
  cap_value_t c;
  return cap_from_name(lower, &c) == 0 && has_cap(pr->caps, c);
}

/* includes / excludes: docker's filters of a rule on the architecture, the capabilities
 * and the kernel. Sets *matches when the condition holds (all of includes' parts; any part
 * of excludes'). */
struct cond_state {
  bool includes; /* includes: every listed cap held; excludes: any held */
  bool result;
};

static int cond_arch(struct profile *pr, const struct json_value *v, const char *s,
                     const char *path, void *arg) {
  bool *found = arg;
  if (pr->native && strcmp(s, pr->native->docker_name) == 0)
    *found = true;
  return 0;
}

static int cond_cap(struct profile *pr, const struct json_value *v, const char *s, const char *path,
                    void *arg) {
  struct cond_state *st = arg;
  bool held = holds_cap(pr, s);
  if (st->includes && !held)
    st->result = false;
  if (!st->includes && held)
    st->result = true;
  return 0;
}

static int filter_applies(struct profile *pr, const struct json_value *rule, const char *key,
                          const char *path, bool *applies) {
  const struct json_value *f, *arches, *caps;
  const char *min_kernel;
  char p[160];
  snprintf(p, sizeof(p), "%s.%s", path, key);
  bool includes = strcmp(key, "includes") == 0;
  *applies = includes; /* an empty includes holds, an empty excludes does not */
  if (member(pr, rule, key, JSON_OBJECT, path, &f) < 0)
    return -1;
  if (f == NULL)
    return 0;
  static const char *const known[] = {"caps", "arches", "minKernel", NULL};
  if (check_keys(pr, f, p, known) < 0 || member(pr, f, "arches", JSON_ARRAY, p, &arches) < 0 ||
      member(pr, f, "caps", JSON_ARRAY, p, &caps) < 0 ||
      string_member(pr, f, "minKernel", p, &min_kernel) < 0)
    return -1;
  char sub[192];
  if (arches && arches->u.arr.n > 0) {
    bool found = false;
    snprintf(sub, sizeof(sub), "%s.arches", p);
    if (each_string(pr, arches, sub, cond_arch, &found) < 0)
      return -1;
    if (includes && !found)
      *applies = false;
    if (!includes && found)
      *applies = true;
  }
  if (caps && caps->u.arr.n > 0) {
    struct cond_state st = {.includes = includes, .result = includes};
    snprintf(sub, sizeof(sub), "%s.caps", p);
    if (each_string(pr, caps, sub, cond_cap, &st) < 0)
      return -1;
    if (includes && !st.result)
      *applies = false;
    if (!includes && st.result)
      *applies = true;
  }
  if (min_kernel && *min_kernel) {
    bool newer;
    snprintf(sub, sizeof(sub), "%s.minKernel", p);
    if (kernel_at_least(pr, json_get(f, "minKernel"), min_kernel, sub, &newer) < 0)
      return -1;
    if (includes && !newer)
      *applies = false;
    if (!includes && newer)
      *applies = true;
  }
  return 0;
}

struct rule_names {
  const char **names;
  size_t n;
};

static int collect_name(struct profile *pr, const struct json_value *v, const char *s,
                        const char *path, void *arg) {
  struct rule_names *rn = arg;
  rn->names[rn->n++] = s;
  return 0;
}

#define MAX_ARGS 6 /* a syscall's arguments; args[] may repeat an index */

static int parse_args(struct profile *pr, const struct json_value *arr, const char *path,
                      struct scmp_arg_cmp *out, size_t *n) {
  *n = 0;
  if (arr == NULL)
    return 0;
  if (arr->u.arr.n > 64)
    return bad(pr, arr, "%s: more than 64 argument conditions", path);
  for (size_t i = 0; i < arr->u.arr.n; i++) {
    const struct json_value *a = &arr->u.arr.items[i];
    char p[192];
    snprintf(p, sizeof(p), "%s[%zu]", path, i);
    static const char *const known[] = {"index", "value", "valueTwo", "op", NULL};
    uint64_t index, value = 0, value2 = 0;
    bool has_index;
    const char *op_name;
    if (want_type(pr, a, JSON_OBJECT, p) < 0 || check_keys(pr, a, p, known) < 0 ||
        uint_member(pr, a, "index", p, MAX_ARGS - 1, &index, &has_index) < 0 ||
        uint_member(pr, a, "value", p, UINT64_MAX, &value, NULL) < 0 ||
        uint_member(pr, a, "valueTwo", p, UINT64_MAX, &value2, NULL) < 0 ||
        string_member(pr, a, "op", p, &op_name) < 0)
      return -1;
    if (!has_index)
      return bad(pr, a, "%s: no \"index\"", p);
    if (op_name == NULL)
      return bad(pr, a, "%s: no \"op\"", p);
    size_t k = 0;
    while (k < ARRAY_SIZE(op_table) && strcmp(op_table[k].name, op_name) != 0)
      k++;
    if (k == ARRAY_SIZE(op_table)) {
      char q[64];
      return bad(pr, json_get(a, "op"), "%s.op: unknown operator %s", p, quoted(op_name, q));
    }
    /* For SCMP_CMP_MASKED_EQ "value" is the mask and "valueTwo" what the masked argument
     * must equal, as in runc and libseccomp's own order. */
    out[(*n)++] = (struct scmp_arg_cmp){
        .arg = (unsigned)index, .op = op_table[k].op, .datum_a = value, .datum_b = value2};
  }
  return 0;
}

/* Adds the rule for each name; a name this libseccomp does not know is skipped, as docker
 * does, so that one profile serves older and newer kernels. */
static int add_rule(struct profile *pr, scmp_filter_ctx ctx, const struct json_value *at,
                    const char *path, const struct rule_names *rn, uint32_t action,
                    uint32_t def_action, const struct scmp_arg_cmp *args, size_t n_args) {
  /* The same action as the default is what happens anyway (and libseccomp refuses it). */
  if (action == def_action)
    return 0;
  /* Conditions on one argument twice cannot be one rule: runc makes each its own rule
   * (any of them matching); so does nsbox. */
  bool repeated = false;
  for (size_t i = 0; i < n_args; i++)
    for (size_t j = 0; j < i; j++)
      if (args[i].arg == args[j].arg)
        repeated = true;
  for (size_t i = 0; i < rn->n; i++) {
    int nr = seccomp_syscall_resolve_name(rn->names[i]);
    if (nr == __NR_SCMP_ERROR)
      continue;
    int r = 0;
    if (!repeated) {
      r = seccomp_rule_add_array(ctx, action, nr, (unsigned)n_args, args);
    } else {
      for (size_t k = 0; k < n_args && r == 0; k++)
        r = seccomp_rule_add_array(ctx, action, nr, 1, &args[k]);
    }
    if (r < 0) {
      char q[64];
      return bad(pr, at, "%s: the rule for %s: %s", path, quoted(rn->names[i], q),
                 r == -EEXIST ? "it contradicts an earlier rule for the same call" : strerror(-r));
    }
  }
  return 0;
}

static int parse_syscall(struct profile *pr, scmp_filter_ctx ctx, const struct json_value *rule,
                         const char *path, uint32_t def_action) {
  static const char *const known[] = {"name", "names",   "action",   "errnoRet", "errno",
                                      "args", "comment", "includes", "excludes", NULL};
  if (want_type(pr, rule, JSON_OBJECT, path) < 0 || check_keys(pr, rule, path, known) < 0)
    return -1;
  bool included, excluded;
  if (filter_applies(pr, rule, "includes", path, &included) < 0 ||
      filter_applies(pr, rule, "excludes", path, &excluded) < 0)
    return -1;

  const char *name, *action_name;
  const struct json_value *names, *args;
  uint64_t ret;
  bool has_ret;
  char p[192];
  if (string_member(pr, rule, "name", path, &name) < 0 ||
      member(pr, rule, "names", JSON_ARRAY, path, &names) < 0 ||
      string_member(pr, rule, "action", path, &action_name) < 0 ||
      errno_members(pr, rule, "errnoRet", "errno", path, &ret, &has_ret) < 0 ||
      member(pr, rule, "args", JSON_ARRAY, path, &args) < 0)
    return -1;
  if (name && names && names->u.arr.n > 0)
    return bad(pr, rule, "%s: both \"name\" and \"names\": use one", path);
  if (name == NULL && (names == NULL || names->u.arr.n == 0))
    return bad(pr, rule, "%s: no \"name\" or \"names\"", path);
  if (action_name == NULL)
    return bad(pr, rule, "%s: no \"action\"", path);
  uint32_t action;
  snprintf(p, sizeof(p), "%s.action", path);
  if (parse_action(pr, json_get(rule, "action"), action_name, p, ret, has_ret, &action) < 0)
    return -1;

  struct scmp_arg_cmp conds[64];
  size_t n_conds;
  snprintf(p, sizeof(p), "%s.args", path);
  if (parse_args(pr, args, p, conds, &n_conds) < 0)
    return -1;

  size_t cap = names ? names->u.arr.n : 1;
  cleanup_free const char **list = xmalloc(cap * sizeof(*list));
  struct rule_names rn = {.names = list};
  if (name) {
    list[rn.n++] = name;
  } else {
    snprintf(p, sizeof(p), "%s.names", path);
    if (each_string(pr, names, p, collect_name, &rn) < 0)
      return -1;
  }
  /* Checked through before this: a rule that does not apply here must still be right. */
  if (!included || excluded)
    return 0;
  return add_rule(pr, ctx, rule, path, &rn, action, def_action, conds, n_conds);
}

struct arch_list {
  uint32_t tokens[ARRAY_SIZE(arch_table) * 3];
  size_t n;
};

static int collect_arch(struct profile *pr, const struct json_value *v, const char *s,
                        const char *path, void *arg) {
  struct arch_list *al = arg;
  const struct arch_info *a = arch_by_name(s);
  if (a == NULL) {
    char q[64];
    return bad(pr, v, "%s: unknown architecture %s", path, quoted(s, q));
  }
  if (al != NULL && al->n < ARRAY_SIZE(al->tokens))
    al->tokens[al->n++] = a->token;
  return 0;
}

/* "architectures", or the native entry of "archMap" with its subArchitectures. */
static int parse_arches(struct profile *pr, const struct json_value *root, struct arch_list *al) {
  const struct json_value *list, *map;
  if (member(pr, root, "architectures", JSON_ARRAY, "", &list) < 0 ||
      member(pr, root, "archMap", JSON_ARRAY, "", &map) < 0)
    return -1;
  if (list && list->u.arr.n > 0 && map && map->u.arr.n > 0)
    return bad(pr, map, "both \"architectures\" and \"archMap\": use one");
  if (list && each_string(pr, list, "architectures", collect_arch, al) < 0)
    return -1;
  bool taken = false;
  for (size_t i = 0; map && i < map->u.arr.n; i++) {
    const struct json_value *e = &map->u.arr.items[i], *subs;
    char p[64];
    const char *arch;
    snprintf(p, sizeof(p), "archMap[%zu]", i);
    static const char *const known[] = {"architecture", "subArchitectures", NULL};
    if (want_type(pr, e, JSON_OBJECT, p) < 0 || check_keys(pr, e, p, known) < 0 ||
        string_member(pr, e, "architecture", p, &arch) < 0 ||
        member(pr, e, "subArchitectures", JSON_ARRAY, p, &subs) < 0)
      return -1;
    if (arch == NULL)
      return bad(pr, e, "%s: no \"architecture\"", p);
    char ap[96], sp[96];
    snprintf(ap, sizeof(ap), "%s.architecture", p);
    snprintf(sp, sizeof(sp), "%s.subArchitectures", p);
    const struct arch_info *a = arch_by_name(arch);
    if (a == NULL) {
      char q[64];
      return bad(pr, json_get(e, "architecture"), "%s: unknown architecture %s", ap,
                 quoted(arch, q));
    }
    /* The first entry of the architecture nsbox runs on counts, as in docker; the others
     * are only checked. */
    bool mine = pr->native == a && !taken;
    if (mine) {
      taken = true;
      al->tokens[al->n++] = a->token;
    }
    if (subs && each_string(pr, subs, sp, collect_arch, mine ? al : NULL) < 0)
      return -1;
  }
  return 0;
}

static const struct {
  const char *name;
  unsigned flag;
} flag_table[] = {
    {"SECCOMP_FILTER_FLAG_TSYNC", 0}, /* loaded before exec, by the only thread */
    {"SECCOMP_FILTER_FLAG_LOG", SECCOMP_FILTER_FLAG_LOG},
    {"SECCOMP_FILTER_FLAG_SPEC_ALLOW", SECCOMP_FILTER_FLAG_SPEC_ALLOW},
};

static int collect_flag(struct profile *pr, const struct json_value *v, const char *s,
                        const char *path, void *arg) {
  unsigned *flags = arg;
  for (size_t i = 0; i < ARRAY_SIZE(flag_table); i++)
    if (strcmp(flag_table[i].name, s) == 0) {
      *flags |= flag_table[i].flag;
      return 0;
    }
  char q[64];
  return bad(pr, v, "%s: unsupported flag %s", path, quoted(s, q));
}

static int prepare_json(struct profile *pr, const struct json_value *root,
                        struct nsbox_seccomp_prog *out) {
  if (want_type(pr, root, JSON_OBJECT, "the profile") < 0)
    return -1;
  static const char *const known[] = {"defaultAction",
                                      "defaultErrnoRet",
                                      "defaultErrno",
                                      "architectures",
                                      "archMap",
                                      "syscalls",
                                      "flags",
                                      "listenerPath",
                                      "listenerMetadata",
                                      "comment",
                                      NULL};
  const char *def_name, *listener;
  const struct json_value *syscalls, *flags;
  uint64_t def_ret;
  bool has_def_ret;
  if (check_keys(pr, root, "the profile", known) < 0 ||
      string_member(pr, root, "defaultAction", "", &def_name) < 0 ||
      errno_members(pr, root, "defaultErrnoRet", "defaultErrno", "", &def_ret, &has_def_ret) < 0 ||
      member(pr, root, "syscalls", JSON_ARRAY, "", &syscalls) < 0 ||
      member(pr, root, "flags", JSON_ARRAY, "", &flags) < 0 ||
      string_member(pr, root, "listenerPath", "", &listener) < 0)
    return -1;
  if (def_name == NULL)
    return bad(pr, root, "no \"defaultAction\"");
  if (listener && *listener)
    return bad(pr, json_get(root, "listenerPath"),
               "listenerPath: SCMP_ACT_NOTIFY is not supported by nsbox");
  uint32_t def_action;
  if (parse_action(pr, json_get(root, "defaultAction"), def_name, "defaultAction", def_ret,
                   has_def_ret, &def_action) < 0)
    return -1;
  unsigned filter_flags = 0;
  if (flags && each_string(pr, flags, "flags", collect_flag, &filter_flags) < 0)
    return -1;
  struct arch_list al = {.n = 0};
  if (parse_arches(pr, root, &al) < 0)
    return -1;

  cleanup_scmp scmp_filter_ctx ctx = new_ctx(def_action, pr->err);
  if (ctx == NULL)
    return nsbox_wrap(pr->err, "seccomp profile %s", pr->file);
  for (size_t i = 0; i < al.n; i++) {
    int r = add_arch(ctx, al.tokens[i]);
    if (r < 0)
      return nsbox_fail(pr->err, -r, "seccomp profile %s: add the architecture %s", pr->file,
                        arch_by_token(al.tokens[i])->scmp_name);
  }
  for (size_t i = 0; syscalls && i < syscalls->u.arr.n; i++) {
    char p[48];
    snprintf(p, sizeof(p), "syscalls[%zu]", i);
    if (parse_syscall(pr, ctx, &syscalls->u.arr.items[i], p, def_action) < 0)
      return -1;
  }
  if (export_filter(ctx, out, pr->err) < 0)
    return nsbox_wrap(pr->err, "seccomp profile %s", pr->file);
  out->flags = filter_flags;
  return 0;
}

static int prepare_file(const char *file, uint64_t caps, struct nsbox_seccomp_prog *out,
                        nsbox_error_t *err) {
  cleanup_free char *text = NULL;
  ssize_t len = read_file_at(AT_FDCWD, file, &text);
  if (len == -EINVAL)
    return nsbox_fail(err, 0, "seccomp profile %s: not a regular file", file);
  if (len == -EFBIG)
    return nsbox_fail(err, 0, "seccomp profile %s: larger than nsbox reads (4 MiB)", file);
  if (len < 0)
    return nsbox_fail(err, (int)-len, "seccomp profile %s", file);
  struct json_value root;
  if (json_parse(text, (size_t)len, &root, err) < 0)
    return nsbox_wrap(err, "seccomp profile %s", file);
  struct profile pr = {
      .file = file, .err = err, .caps = caps, .native = arch_by_token(seccomp_arch_native())};
  int r = prepare_json(&pr, &root, out);
  json_free(&root);
  return r;
}

int nsbox_seccomp_compile_default(uint64_t caps, struct nsbox_seccomp_prog *out,
                                  nsbox_error_t *err) {
  *out = (struct nsbox_seccomp_prog){0};
  return prepare_default(caps, out, err);
}

/* The default profile for the default capabilities, compiled when nsbox was built
 * (runtime/gen/seccomp-gen.c, embedded by seccomp_blob.S): libseccomp takes about 25 ms to
 * build it, several times all the rest of a container's start-up. Weak, because the
 * generator links this file without them (they are then NULL). */
extern const unsigned char nsbox_seccomp_default_bpf[] __attribute__((weak));
extern const unsigned long nsbox_seccomp_default_bpf_size __attribute__((weak));

static bool prebuilt_default(uint64_t caps, struct nsbox_seccomp_prog *out) {
  if (&nsbox_seccomp_default_bpf_size == NULL || caps != caps_default())
    return false;
  unsigned long n = nsbox_seccomp_default_bpf_size / sizeof(struct sock_filter);
  if (n == 0 || n > BPF_MAXINSNS)
    return false;
  out->filter = xmalloc(n * sizeof(struct sock_filter));
  memcpy(out->filter, nsbox_seccomp_default_bpf, n * sizeof(struct sock_filter));
  out->len = (unsigned short)n;
  return true;
}

int nsbox_seccomp_prepare(const struct nsbox_security *sec, uint64_t caps,
                          struct nsbox_seccomp_prog *out, nsbox_error_t *err) {
  *out = (struct nsbox_seccomp_prog){0};
  switch (sec->seccomp) {
  case SECCOMP_UNCONFINED:
    return 0;
  case SECCOMP_PROFILE:
    if (sec->seccomp_profile == NULL)
      return nsbox_fail(err, 0, "seccomp: no profile file given");
    return prepare_file(sec->seccomp_profile, caps, out, err);
  case SECCOMP_DEFAULT:
    break;
  }
  if (prebuilt_default(caps, out))
    return 0;
  return prepare_default(caps, out, err);
}

int nsbox_seccomp_load(const struct nsbox_seccomp_prog *p, nsbox_error_t *err) {
  if (p->len == 0)
    return 0;
  struct sock_fprog prog = {.len = p->len, .filter = p->filter};
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, p->flags, &prog) == 0)
    return 0;
  int e = errno;
  /* Kernels before 3.17 have only prctl, which takes no flags. */
  if (e == ENOSYS && p->flags == 0) {
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) == 0)
      return 0;
    e = errno;
  }
  if (e == EACCES)
    return nsbox_fail(err, e,
                      "load the seccomp filter (without no_new_privs it needs "
                      "CAP_SYS_ADMIN)");
  return nsbox_fail(err, e, "load the seccomp filter");
}

void nsbox_seccomp_prog_free(struct nsbox_seccomp_prog *p) {
  free(p->filter);
  *p = (struct nsbox_seccomp_prog){0};
}
