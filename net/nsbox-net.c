/* nsbox-net: the only privileged part of nsbox, installed setuid root or run by root. It gives
 * a container a veth on a Linux bridge with NAT and publishes its ports with nftables. Its
 * caller may be anyone, so main() first takes away everything the caller could have set up
 * for it (environment, fds, signals, limits, ids) and then trusts only what it checks. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../runtime/syscalls.h"
#include "../runtime/util.h"
#include "net.h"

#ifndef NSBOX_VERSION
#define NSBOX_VERSION "0.1.0"
#endif

static const char usage[] =
    "Usage: nsbox-net up --pidfd FD [--bridge NAME] [--publish SPEC]... [--port-fds FD]\n"
    "       nsbox-net release\n"
    "       nsbox-net list\n"
    "       nsbox-net --help | --version\n"
    "\n"
    "The privileged helper of nsbox: connects a container to a Linux bridge with NAT.\n"
    "\n"
    "  up       give the process of pidfd FD (in a network namespace of its own) an eth0 on\n"
    "           bridge NAME (default nsbox0, created as 10.88.0.1/16 when missing) and\n"
    "           publish ports: SPEC is [HOSTIP:]HOSTPORT:CTRPORT[/tcp|/udp]. Prints\n"
    "           \"HOSTIF IP/PREFIX GATEWAY\". The lease ends when that process does.\n"
    "           The caller holds each published port: the i-th --publish's socket (bound,\n"
    "           TCP listening) is fd --port-fds + i. Only root may publish without them.\n"
    "  release  reclaim the leases of processes that are gone\n"
    "  list     print the live leases: BRIDGE IP UID PID HOSTIF [PORTSPEC...]\n"
    "\n"
    "Users other than root need an entry in " NSBOX_NET_CONF ":\n"
    "  USER|@GROUP veth BRIDGE COUNT\n"
    "Exit status: 0 done, 1 refused or failed (nothing changed), 2 bad command line.\n";

/* Caller-supplied text in a message: printable ASCII only, so that it cannot break the one
 * line or forge another. */
static const char *printable(const char *s, char *buf, size_t len) {
  size_t i = 0;
  for (; s[i] != '\0' && i + 1 < len; i++)
    buf[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
  buf[i] = '\0';
  return buf;
}

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  nsbox_vnotice(fmt, ap);
  va_end(ap);
  return 2;
}

/* The fds the caller passes: --pidfd's, and the sockets from --port-fds on, one per
 * --publish. Found before any option parsing so that closing the caller's other fds spares
 * them; a value that is not a number keeps nothing (parsing refuses it later). */
struct kept_fds {
  int pidfd;
  int first_port, n_ports;
};

static const char *option_value(int argc, char **argv, const char *name) {
  size_t len = strlen(name);
  const char *v = NULL;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], name) == 0 && i + 1 < argc)
      v = argv[i + 1];
    else if (strncmp(argv[i], name, len) == 0 && argv[i][len] == '=')
      v = argv[i] + len + 1;
  }
  return v;
}

static int fd_value(const char *v) {
  unsigned long fd;
  if (v == NULL || parse_ulong(v, &fd) < 0 || fd > INT_MAX)
    return -1;
  return (int)fd;
}

static struct kept_fds kept_args(int argc, char **argv) {
  struct kept_fds k = {fd_value(option_value(argc, argv, "--pidfd")),
                       fd_value(option_value(argc, argv, "--port-fds")), 0};
  for (int i = 1; i < argc; i++)
    if (strcmp(argv[i], "--publish") == 0 || strncmp(argv[i], "--publish=", 10) == 0)
      k.n_ports++;
  if (k.n_ports > NET_MAX_PORTS)
    k.n_ports = NET_MAX_PORTS;
  return k;
}

static bool is_kept(const struct kept_fds *k, int fd) {
  return fd == k->pidfd ||
         (k->first_port >= 0 && fd >= k->first_port && (long)fd < (long)k->first_port + k->n_ports);
}

static void close_fds(const struct kept_fds *k) {
  DIR *d = opendir("/proc/self/fd");
  if (d == NULL) {
    for (int fd = 3; fd < 65536; fd++)
      if (!is_kept(k, fd))
        close(fd);
    return;
  }
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    unsigned long fd;
    if (parse_ulong(de->d_name, &fd) == 0 && fd >= 3 && fd <= INT_MAX && !is_kept(k, (int)fd) &&
        (int)fd != dirfd(d))
      close((int)fd);
  }
  closedir(d);
}

/* Before anything else. The environment, fds, signal dispositions and mask, umask, cwd and
 * resource limits are all the caller's choice; none of them may steer or stop us. Signals
 * stay blocked throughout, so that no ^C or kill can stop us halfway (SIGKILL still can,
 * from root or the OOM killer: `release` and `up` clean up what that leaves). */
static void harden(const struct kept_fds *keep) {
  clearenv();
  umask(022);
  sigset_t all;
  sigfillset(&all);
  sigprocmask(SIG_BLOCK, &all, NULL);
  /* SIG_IGN survives exec: an ignored SIGCHLD would make waiting for nft fail. */
  for (int sig = 1; sig < NSIG; sig++)
    if (sig != SIGKILL && sig != SIGSTOP)
      signal(sig, SIG_DFL);
  close_fds(keep);
  /* A closed stdin, stdout or stderr would let a file we open take its number. (A --pidfd
   * naming one of them, closed, becomes /dev/null and is then refused as no pidfd.) */
  for (int fd = 0; fd < 3; fd++) {
    if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) != fd)
      _exit(1);
  }
  if (chdir("/") < 0)
    _exit(1);
}

/* With the caller's ids noted, become root through and through: the caller can then neither
 * signal nor trace us, and nft runs with root's own credentials. The limits are reset so that
 * a caller cannot make a write or an allocation fail at a moment of its choosing. */
static int become_root(nsbox_error_t *err) {
  if (setgroups(0, NULL) < 0 || setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
    return nsbox_fail(err, errno, "become root");
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  static const int unlimited[] = {RLIMIT_CPU, RLIMIT_FSIZE, RLIMIT_DATA, RLIMIT_AS};
  struct rlimit inf = {RLIM_INFINITY, RLIM_INFINITY}, files = {4096, 4096}, core = {0, 0};
  for (size_t i = 0; i < ARRAY_SIZE(unlimited); i++)
    if (setrlimit(unlimited[i], &inf) < 0)
      return nsbox_fail(err, errno, "setrlimit");
  if (setrlimit(RLIMIT_NOFILE, &files) < 0 || setrlimit(RLIMIT_CORE, &core) < 0)
    return nsbox_fail(err, errno, "setrlimit");
  return 0;
}

static int parse_up(int argc, char **argv, struct up_args *a) {
  static const struct option opts[] = {
      {"pidfd", required_argument, NULL, 'p'},
      {"bridge", required_argument, NULL, 'b'},
      {"publish", required_argument, NULL, 'P'},
      {"port-fds", required_argument, NULL, 'F'},
      {0},
  };
  char q[80], why[128];
  unsigned long fd;
  bool have_bridge = false;
  *a = (struct up_args){.pidfd = -1, .port_fds = -1, .bridge = "nsbox0"};
  opterr = 0;
  optind = 0;
  int o;
  while ((o = getopt_long(argc, argv, "+:", opts, NULL)) != -1) {
    switch (o) {
    case 'p':
      if (a->pidfd >= 0)
        return usage_error("up: --pidfd given twice");
      if (parse_ulong(optarg, &fd) < 0 || fd > INT_MAX)
        return usage_error("up: --pidfd \"%s\" is not a file descriptor number",
                           printable(optarg, q, sizeof(q)));
      a->pidfd = (int)fd;
      break;
    case 'F':
      if (a->port_fds >= 0)
        return usage_error("up: --port-fds given twice");
      if (parse_ulong(optarg, &fd) < 0 || fd > INT_MAX - NET_MAX_PORTS)
        return usage_error("up: --port-fds \"%s\" is not a file descriptor number",
                           printable(optarg, q, sizeof(q)));
      a->port_fds = (int)fd;
      break;
    case 'b':
      if (have_bridge)
        return usage_error("up: --bridge given twice");
      if (!valid_ifname(optarg))
        return usage_error("up: invalid bridge name \"%s\" (1-15 of A-Z a-z 0-9 _ . -, not "
                           "starting with - or .)",
                           printable(optarg, q, sizeof(q)));
      a->bridge = optarg;
      have_bridge = true;
      break;
    case 'P':
      if (a->n_ports == NET_MAX_PORTS)
        return usage_error("up: at most %d --publish", NET_MAX_PORTS);
      if (portspec_parse(optarg, &a->ports[a->n_ports], why, sizeof(why)) < 0)
        return usage_error("up: --publish \"%s\": %s", printable(optarg, q, sizeof(q)),
                           printable(why, why, sizeof(why)));
      a->n_ports++;
      break;
    case ':':
      return usage_error("up: %s needs an argument", printable(argv[optind - 1], q, sizeof(q)));
    default:
      return usage_error("up: unknown option %s", printable(argv[optind - 1], q, sizeof(q)));
    }
  }
  if (optind != argc)
    return usage_error("up: unexpected argument \"%s\"", printable(argv[optind], q, sizeof(q)));
  if (a->pidfd < 0)
    return usage_error("up: --pidfd FD is required");
  return 0;
}

int cmd_list(const struct net_caller *c, nsbox_error_t *err) {
  struct net_state s;
  int ret = state_open(&s, false, err);
  for (size_t i = 0; ret == 0 && i < s.n_leases; i++) {
    const struct lease *l = &s.leases[i];
    if ((!c->root && l->uid != c->uid) || !lease_owner_alive(l))
      continue;
    char line[128 + NET_MAX_PORTS * 40];
    lease_format(l, false, line, sizeof(line));
    strcat(line, "\n");
    int r = write_all(STDOUT_FILENO, line, strlen(line));
    if (r < 0)
      ret = nsbox_fail(err, -r, "write to stdout");
  }
  state_close(&s);
  return ret;
}

static int run_command(const struct net_caller *c, int argc, char **argv) {
  static const struct option opts[] = {
      {"help", no_argument, NULL, 'h'},
      {"version", no_argument, NULL, 'V'},
      {0},
  };
  char q[80];
  opterr = 0;
  int o;
  while ((o = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
    switch (o) {
    case 'h':
      fputs(usage, stdout);
      return fflush(stdout) == 0 ? 0 : 1;
    case 'V':
      puts("nsbox-net " NSBOX_VERSION);
      return fflush(stdout) == 0 ? 0 : 1;
    default:
      return usage_error("unknown option %s (see nsbox-net --help)",
                         printable(argv[optind - 1], q, sizeof(q)));
    }
  }
  if (optind >= argc)
    return usage_error("no command (see nsbox-net --help)");
  const char *cmd = argv[optind];
  int cargc = argc - optind;
  char **cargv = argv + optind;
  nsbox_error_t err = {0};
  int r;
  if (strcmp(cmd, "up") == 0) {
    struct up_args a;
    if ((r = parse_up(cargc, cargv, &a)) != 0)
      return r;
    r = cmd_up(c, &a, &err);
  } else if (strcmp(cmd, "release") == 0 || strcmp(cmd, "list") == 0) {
    if (cargc != 1)
      return usage_error("%s takes no arguments", cmd);
    r = cmd[0] == 'r' ? cmd_release(&err) : cmd_list(c, &err);
  } else {
    return usage_error("unknown command \"%s\" (see nsbox-net --help)",
                       printable(cmd, q, sizeof(q)));
  }
  if (r < 0) {
    nsbox_print_error(&err);
    return 1;
  }
  return 0;
}

int main(int argc, char **argv) {
  nsbox_progname = "nsbox-net";
  struct kept_fds keep = kept_args(argc, argv);
  harden(&keep);
  if (geteuid() != 0) {
    nsbox_notice("must run as root or be installed setuid root "
                 "(install -o root -m 4755 nsbox-net ...)");
    return 1;
  }
  struct net_caller c;
  nsbox_error_t err = {0};
  if (caller_identify(&c, &err) < 0 || become_root(&err) < 0) {
    nsbox_print_error(&err);
    caller_free(&c);
    return 1;
  }
  int r = run_command(&c, argc, argv);
  caller_free(&c);
  return r;
}
