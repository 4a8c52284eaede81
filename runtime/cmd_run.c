/* nsbox run: options -> struct nsbox_config -> container_run(). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "caps.h"
#include "cli.h"
#include "config.h"
#include "image.h"
#include "lifecycle.h"
#include "limits.h"
#include "loopdev.h"
#include "network.h"
#include "signals.h"
#include "store.h"
#include "tty.h"
#include "util.h"

static const char run_usage[] =
    "Usage: nsbox run [OPTIONS] IMAGE [CMD [ARG...]]\n"
    "       nsbox run [OPTIONS] --rootfs DIR [CMD [ARG...]]\n"
    "       nsbox run [OPTIONS] --image-file FILE[:rw] [CMD [ARG...]]\n"
    "\n"
    "  --name NAME               name the container (unique per user)\n"
    "  --rm                      remove the container when it exits\n"
    "  -d, --detach              run in the background under a monitor; print the id\n"
    "  -i, --interactive         keep stdin open (detached: for nsbox attach)\n"
    "  -t, --tty                 give the container a terminal (a pty of its own)\n"
    "      --stop-signal SIG     what nsbox stop sends first (default TERM)\n"
    "      --stop-timeout N      seconds nsbox stop waits before KILL (default 10)\n"
    "  -e, --env KEY[=VAL]       set an environment variable (KEY alone: the host's value)\n"
    "      --env-file FILE       read KEY=VAL lines\n"
    "  -w, --workdir DIR         working directory inside the container\n"
    "  -u, --user USER[:GROUP]   run as this user (name or number)\n"
    "      --hostname NAME       the container's hostname\n"
    "  -v, --volume HOST:CTR[:ro]  bind-mount a host path\n"
    "      --tmpfs PATH[:OPTS]   mount a tmpfs\n"
    "      --read-only           mount the root filesystem read-only\n"
    "      --network MODE        none, host, slirp4netns[:allow_host_loopback=true],\n"
    "                            pasta[:allow_host_loopback=true] or bridge[:NAME]\n"
    "                            (default: slirp4netns rootless, bridge as root)\n"
    "  -p, --publish [HOSTIP:]HOSTPORT:CTRPORT[/tcp|/udp]  publish a container's port\n"
    "  -P, --publish-all         publish the ports the image exposes on free host ports\n"
    "      --dns IP              nameserver for the container's /etc/resolv.conf\n"
    "      --add-host NAME:IP    a line for the container's /etc/hosts\n"
    "      --entrypoint CMD      run CMD instead of the image's entrypoint (\"\": none)\n"
    "      --no-init             run the command itself as PID 1\n"
    "      --rootfs DIR          use DIR as the root filesystem, no image\n"
    "      --image-file FILE[:rw]  a squashfs, ext4 or erofs file as the root filesystem\n"
    "                            (writes go to an overlay; :rw, ext4 only, into the file)\n"
    "\n"
    "Limits (a cgroup of the container's own; rootless: cgroup v2 with a delegated subtree):\n"
    "  -m, --memory SIZE         memory limit (64m, 1.5g; at least 6m)\n"
    "      --memory-swap SIZE    memory plus swap (-1: unlimited swap; default: twice --memory)\n"
    "      --cpus N.N            CPU time, in CPUs (0.5: half of one)\n"
    "      --cpu-weight N        relative CPU weight, 1..10000 (default 100)\n"
    "  -c, --cpu-shares N        the same on cgroup v1's scale, 2..262144 (default 1024)\n"
    "      --pids-limit N        at most N processes and threads (-1: unlimited)\n"
    "      --ulimit NAME=SOFT[:HARD]  a resource limit (nofile, nproc, core, ...)\n"
    "\n"
    "Security:\n"
    "      --cap-add CAP         add a capability (NET_ADMIN, SYS_PTRACE ..., ALL)\n"
    "      --cap-drop CAP        drop a capability (ALL: every one)\n"
    "      --security-opt seccomp=unconfined|FILE.json  no seccomp filter, or a profile\n"
    "      --security-opt no-new-privileges=false       let setuid programs gain privilege\n";

static const char *const default_env[] = {
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "TERM=xterm",
    "container=nsbox",
};

static bool valid_name(const char *n) {
  if (!((*n >= 'a' && *n <= 'z') || (*n >= 'A' && *n <= 'Z') || (*n >= '0' && *n <= '9')))
    return false;
  for (const char *p = n; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
          strchr("_.-", *p)))
      return false;
  return strlen(n) <= 128;
}

static int add_volume(struct nsbox_config *c, const char *spec) {
  cleanup_free char *s = xstrdup(spec);
  char *dst = strchr(s, ':');
  if (dst == NULL || dst == s)
    return cli_usage_error("--volume %s: expected HOST-PATH:CONTAINER-PATH[:ro]", spec);
  *dst++ = '\0';
  char *mode = strchr(dst, ':');
  bool ro = false;
  if (mode) {
    *mode++ = '\0';
    if (strcmp(mode, "ro") == 0)
      ro = true;
    else if (strcmp(mode, "rw") != 0)
      return cli_usage_error("--volume %s: unknown option \"%s\" (ro or rw)", spec, mode);
  }
  if (s[0] != '/' && s[0] != '.')
    return cli_usage_error("--volume %s: named volumes are not supported; give a host path", spec);
  if (dst[0] != '/')
    return cli_usage_error("--volume %s: the container path must be absolute", spec);
  char abs[PATH_MAX];
  if (realpath(s, abs) == NULL)
    return cli_usage_error("--volume %s: %s: %s", spec, s, strerror(errno));
  c->mounts = xrealloc(c->mounts, (c->n_mounts + 1) * sizeof(*c->mounts));
  c->mounts[c->n_mounts++] = (struct nsbox_mount){
      .kind = MOUNT_BIND, .source = xstrdup(abs), .destination = xstrdup(dst), .readonly = ro};
  return 0;
}

static int add_tmpfs(struct nsbox_config *c, const char *spec) {
  cleanup_free char *s = xstrdup(spec);
  char *opts = strchr(s, ':');
  if (opts)
    *opts++ = '\0';
  if (s[0] != '/')
    return cli_usage_error("--tmpfs %s: the path must be absolute", spec);
  c->mounts = xrealloc(c->mounts, (c->n_mounts + 1) * sizeof(*c->mounts));
  c->mounts[c->n_mounts++] = (struct nsbox_mount){
      .kind = MOUNT_TMPFS,
      .destination = xstrdup(s),
      /* Docker's default mode, unless one was given. */
      .options = opts && (strncmp(opts, "mode=", 5) == 0 || strstr(opts, ",mode="))
                     ? xstrdup(opts)
                     : xasprintf("mode=1777%s%s", opts ? "," : "", opts ? opts : "")};
  return 0;
}

/* A port the kernel calls free now, for -P (docker's way: the race with another program
 * taking it before the container's forwarder does is the same as theirs). */
static int free_host_port(int proto, uint16_t *port, nsbox_error_t *err) {
  cleanup_close int fd =
      socket(AF_INET, (proto == IPPROTO_UDP ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
  struct sockaddr_in a = {.sin_family = AF_INET};
  socklen_t len = sizeof(a);
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
      getsockname(fd, (struct sockaddr *)&a, &len) < 0)
    return nsbox_fail(err, errno, "find a free port for --publish-all");
  *port = ntohs(a.sin_port);
  return 0;
}

/* -P: every port the image exposes ("80/tcp", "53/udp", "8080") that no -p publishes. */
static int publish_exposed(struct nsbox_config *c, char **exposed, nsbox_error_t *err) {
  for (size_t i = 0; exposed && exposed[i]; i++) {
    struct nsbox_port p = {.proto = IPPROTO_TCP};
    char *end;
    unsigned long n = strtoul(exposed[i], &end, 10);
    if (strcmp(end, "/udp") == 0)
      p.proto = IPPROTO_UDP;
    else if (*end != '\0' && strcmp(end, "/tcp") != 0)
      continue; /* sctp, ranges: nothing nsbox forwards */
    if (n == 0 || n > 65535)
      continue;
    p.ctr_port = (uint16_t)n;
    bool given = false;
    for (size_t k = 0; k < c->net.n_ports && !given; k++)
      given = c->net.ports[k].ctr_port == p.ctr_port && c->net.ports[k].proto == p.proto;
    if (given)
      continue;
    if (free_host_port(p.proto, &p.host_port, err) < 0)
      return -1;
    c->net.ports = xrealloc(c->net.ports, (c->net.n_ports + 1) * sizeof(*c->net.ports));
    c->net.ports[c->net.n_ports++] = p;
  }
  return 0;
}

static int add_port(struct nsbox_config *c, const char *spec) {
  struct nsbox_port p;
  char why[128];
  if (portspec_parse(spec, &p, why, sizeof(why)) < 0)
    return cli_usage_error("--publish %s: %s", spec, why);
  c->net.ports = xrealloc(c->net.ports, (c->net.n_ports + 1) * sizeof(*c->net.ports));
  c->net.ports[c->net.n_ports++] = p;
  return 0;
}

enum {
  OPT_NAME = 256,
  OPT_RM,
  OPT_ENV_FILE,
  OPT_HOSTNAME,
  OPT_TMPFS,
  OPT_READ_ONLY,
  OPT_NETWORK,
  OPT_ENTRYPOINT,
  OPT_NO_INIT,
  OPT_ROOTFS,
  OPT_DNS,
  OPT_ADD_HOST,
  OPT_MEMORY_SWAP,
  OPT_CPUS,
  OPT_CPU_WEIGHT,
  OPT_PIDS_LIMIT,
  OPT_ULIMIT,
  OPT_CAP_ADD,
  OPT_CAP_DROP,
  OPT_SECURITY_OPT,
  OPT_STOP_SIGNAL,
  OPT_IMAGE_FILE,
  OPT_STOP_TIMEOUT,
};

/* What the limit and security options gathered, settled once all are read. */
struct run_opts {
  uint64_t cap_add, cap_drop;
  bool cap_add_all, cap_drop_all;
  const char *cpu_shares;
};

static int opt_size(const char *opt, const char *arg, int64_t min, int64_t *out) {
  char why[160];
  if (limits_parse_size(arg, min, out, why, sizeof(why)) < 0)
    return cli_usage_error("%s %s", opt, why);
  return 0;
}

static int opt_number(const char *opt, const char *arg, long long lo, long long hi,
                      long long *out) {
  char *end;
  errno = 0;
  long long v = strtoll(arg, &end, 10);
  if (errno || end == arg || *end != '\0' || v < lo || v > hi)
    return cli_usage_error("%s %s: expected a whole number from %lld to %lld", opt, arg, lo, hi);
  *out = v;
  return 0;
}

static int opt_cpus(struct nsbox_config *c, const char *arg) {
  char why[160];
  struct nsbox_resources *r = &c->resources;
  if (limits_parse_cpus(arg, &r->cpu_quota, &r->cpu_period, why, sizeof(why)) < 0)
    return cli_usage_error("--cpus %s", why);
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  if (n > 0 && r->cpu_quota > (uint64_t)n * r->cpu_period)
    return cli_usage_error("--cpus %s: this machine has only %ld CPUs", arg, n);
  return 0;
}

static int opt_ulimit(struct nsbox_process *p, const char *arg) {
  struct nsbox_rlimit rl;
  char why[256];
  if (limits_parse_ulimit(arg, &rl, why, sizeof(why)) < 0)
    return cli_usage_error("--ulimit %s", why);
  for (size_t i = 0; i < p->n_rlimits; i++)
    if (p->rlimits[i].resource == rl.resource) {
      p->rlimits[i] = rl; /* the last one given wins */
      return 0;
    }
  p->rlimits = xrealloc(p->rlimits, (p->n_rlimits + 1) * sizeof(*p->rlimits));
  p->rlimits[p->n_rlimits++] = rl;
  return 0;
}

static int opt_caps(const char *opt, const char *arg, uint64_t *mask, bool *all) {
  char why[160];
  uint64_t m;
  if (caps_parse(arg, &m, why, sizeof(why)) < 0)
    return cli_usage_error("%s %s", opt, why);
  if (m == caps_all()) /* ALL, or every one by name: the same */
    *all = true;
  else
    *mask |= m;
  return 0;
}

/* --security-opt KEY=VALUE (docker also accepts KEY:VALUE). */
static int opt_security(struct nsbox_config *c, const char *arg) {
  size_t kl = strcspn(arg, "=:");
  const char *v = arg[kl] ? arg + kl + 1 : NULL;
  if (kl == 17 && strncmp(arg, "no-new-privileges", kl) == 0) {
    if (v == NULL || strcmp(v, "true") == 0)
      c->security.no_new_privs = true;
    else if (strcmp(v, "false") == 0)
      c->security.no_new_privs = false;
    else
      return cli_usage_error("--security-opt %s: no-new-privileges takes true or false", arg);
    return 0;
  }
  if (kl == 7 && strncmp(arg, "seccomp", kl) == 0 && v && *v) {
    if (strcmp(v, "unconfined") == 0) {
      c->security.seccomp = SECCOMP_UNCONFINED;
      return 0;
    }
    char abs[PATH_MAX];
    if (realpath(v, abs) == NULL)
      return cli_usage_error("--security-opt seccomp=%s: %s", v, strerror(errno));
    c->security.seccomp = SECCOMP_PROFILE;
    c->security.seccomp_profile = xstrdup(abs);
    return 0;
  }
  return cli_usage_error("--security-opt %s: expected seccomp=unconfined|FILE.json or "
                         "no-new-privileges[=true|false]",
                         arg);
}

/* Docker's order: the default set, minus --cap-drop (ALL: everything), plus --cap-add (ALL:
 * everything but what was dropped by name). */
static void settle_caps(struct nsbox_security *sec, const struct run_opts *o) {
  uint64_t set = o->cap_drop_all ? 0 : caps_default() & ~o->cap_drop;
  if (o->cap_add_all)
    set = caps_all() & ~o->cap_drop;
  set |= o->cap_add & ~(o->cap_drop_all ? 0 : o->cap_drop);
  sec->cap_bounding = set;
  sec->cap_added = (o->cap_add_all ? caps_all() : o->cap_add) & set;
}

static int settle_limits(struct nsbox_config *c, struct run_opts *o) {
  struct nsbox_resources *r = &c->resources;
  if (o->cpu_shares) {
    long long v;
    if (opt_number("--cpu-shares", o->cpu_shares, 2, 262144, &v) != 0)
      return 125;
    r->cpu_shares = (uint64_t)v;
    if (r->cpu_weight == 0)
      r->cpu_weight = limits_shares_to_weight(r->cpu_shares);
  }
  /* Each version gets the value given on its own scale, converted only when it was not. */
  if (r->cpu_weight && r->cpu_shares == 0)
    r->cpu_shares = limits_weight_to_shares(r->cpu_weight);
  if (r->memory_swap && r->memory == 0)
    return cli_usage_error("--memory-swap needs --memory as well (it is memory plus swap)");
  if (r->memory_swap > 0 && r->memory_swap < r->memory)
    return cli_usage_error("--memory-swap must be at least --memory (it is memory plus swap)");
  return 0;
}

/* -t in the foreground relays the caller's terminal, so there must be one; detached, the
 * pty stays with the monitor for `nsbox attach`. */
static int settle_terminal(struct nsbox_config *c) {
  if (c->stop_timeout == 0)
    c->stop_timeout = 10;
  if (!c->process.terminal)
    return 0;
  if (!c->detach && !isatty(STDIN_FILENO))
    return cli_usage_error("-t: standard input is not a terminal (run it from one, or use -d)");
  if (!c->detach)
    tty_get_size(STDIN_FILENO, &c->process.console_rows, &c->process.console_cols);
  return 0;
}

/* --image-file FILE[:rw]: a squashfs, ext4 or erofs file as the root filesystem. */
static int opt_image_file(struct nsbox_config *c, const char *arg) {
  cleanup_free char *file = xstrdup(arg);
  size_t len = strlen(file);
  if (len > 3 && strcmp(file + len - 3, ":rw") == 0) {
    file[len - 3] = '\0';
    c->root.image_rw = true;
  } else if (len > 3 && strcmp(file + len - 3, ":ro") == 0) {
    file[len - 3] = '\0';
  }
  char abs[PATH_MAX];
  struct stat st;
  if (realpath(file, abs) == NULL || stat(abs, &st) < 0)
    return cli_usage_error("--image-file %s: %s", file, strerror(errno));
  if (!S_ISREG(st.st_mode))
    return cli_usage_error("--image-file %s: not a regular file", file);
  cleanup_close int fd = open(abs, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  enum image_fs fs = IMAGE_FS_UNKNOWN;
  nsbox_error_t err = {0};
  if (fd < 0 || image_fs_detect(fd, &fs, &err) < 0)
    return cli_usage_error("--image-file %s: %s", file, fd < 0 ? strerror(errno) : err.msg);
  if (fs == IMAGE_FS_UNKNOWN)
    return cli_usage_error("--image-file %s: not a squashfs, ext4 or erofs image", file);
  if (c->root.image_rw && fs != IMAGE_FS_EXT4)
    return cli_usage_error("--image-file %s:rw: %s is read-only; only ext4 image files take :rw",
                           file, image_fs_name(fs));
  c->root.image_file = xstrdup(abs);
  return 0;
}

/* Fills c from argv; returns 0, or the exit status for a usage error (already printed). */
/* What the command line says of the process; the image's config fills in the rest
 * (settle_process), once the image is known. */
struct run_request {
  struct strv env;        /* from --env-file, then -e: KEY=VAL each */
  const char *entrypoint; /* --entrypoint; "" clears the image's */
  char **cmd;             /* the arguments after IMAGE (or after the options, with --rootfs) */
  int n_cmd;
  bool stop_signal_set;
  bool publish_all; /* -P */
};

static int parse_run(struct nsbox_config *c, int argc, char **argv, struct run_request *req) {
  static const struct option opts[] = {
      {"name", required_argument, NULL, OPT_NAME},
      {"rm", no_argument, NULL, OPT_RM},
      {"env", required_argument, NULL, 'e'},
      {"env-file", required_argument, NULL, OPT_ENV_FILE},
      {"workdir", required_argument, NULL, 'w'},
      {"user", required_argument, NULL, 'u'},
      {"hostname", required_argument, NULL, OPT_HOSTNAME},
      {"volume", required_argument, NULL, 'v'},
      {"tmpfs", required_argument, NULL, OPT_TMPFS},
      {"read-only", no_argument, NULL, OPT_READ_ONLY},
      {"network", required_argument, NULL, OPT_NETWORK},
      {"net", required_argument, NULL, OPT_NETWORK},
      {"entrypoint", required_argument, NULL, OPT_ENTRYPOINT},
      {"no-init", no_argument, NULL, OPT_NO_INIT},
      {"rootfs", required_argument, NULL, OPT_ROOTFS},
      {"image-file", required_argument, NULL, OPT_IMAGE_FILE},
      {"publish", required_argument, NULL, 'p'},
      {"publish-all", no_argument, NULL, 'P'},
      {"dns", required_argument, NULL, OPT_DNS},
      {"add-host", required_argument, NULL, OPT_ADD_HOST},
      {"memory", required_argument, NULL, 'm'},
      {"memory-swap", required_argument, NULL, OPT_MEMORY_SWAP},
      {"cpus", required_argument, NULL, OPT_CPUS},
      {"cpu-weight", required_argument, NULL, OPT_CPU_WEIGHT},
      {"cpu-shares", required_argument, NULL, 'c'},
      {"pids-limit", required_argument, NULL, OPT_PIDS_LIMIT},
      {"ulimit", required_argument, NULL, OPT_ULIMIT},
      {"cap-add", required_argument, NULL, OPT_CAP_ADD},
      {"cap-drop", required_argument, NULL, OPT_CAP_DROP},
      {"security-opt", required_argument, NULL, OPT_SECURITY_OPT},
      {"interactive", no_argument, NULL, 'i'},
      {"tty", no_argument, NULL, 't'},
      {"detach", no_argument, NULL, 'd'},
      {"stop-signal", required_argument, NULL, OPT_STOP_SIGNAL},
      {"stop-timeout", required_argument, NULL, OPT_STOP_TIMEOUT},
      {"help", no_argument, NULL, 'h'},
      {0},
  };
  struct strv user_env = {0}, env_files = {0};
  struct run_opts ro = {0};
  memset(req, 0, sizeof(*req));
  c->security.no_new_privs = true;
  opterr = 0;
  int o, r;
  long long num;
  while ((o = getopt_long(argc, argv, "+e:w:u:v:p:Pm:c:itdh", opts, NULL)) != -1) {
    switch (o) {
    case OPT_NAME:
      if (!valid_name(optarg))
        return cli_usage_error("--name %s: use letters, digits, '_', '.' and '-'", optarg);
      c->name = xstrdup(optarg);
      break;
    case OPT_RM:
      c->remove = true;
      break;
    case 'e':
      strv_push(&user_env, optarg);
      break;
    case OPT_ENV_FILE:
      strv_push(&env_files, optarg);
      break;
    case 'w':
      if (optarg[0] != '/')
        return cli_usage_error("--workdir %s: must be an absolute path", optarg);
      c->process.cwd = xstrdup(optarg);
      break;
    case 'u':
      if (optarg[0] == '\0' || optarg[0] == ':')
        return cli_usage_error("--user \"%s\": expected USER[:GROUP]", optarg);
      c->process.user = xstrdup(optarg);
      break;
    case OPT_HOSTNAME:
      if (optarg[0] == '\0' || strlen(optarg) > 64)
        return cli_usage_error("--hostname \"%s\": must be 1 to 64 characters", optarg);
      c->hostname = xstrdup(optarg);
      break;
    case 'v':
      if ((r = add_volume(c, optarg)) != 0)
        return r;
      break;
    case OPT_TMPFS:
      if ((r = add_tmpfs(c, optarg)) != 0)
        return r;
      break;
    case OPT_READ_ONLY:
      c->root.readonly = true;
      break;
    case OPT_NETWORK:
      if ((r = network_parse_mode(&c->net, optarg)) != 0)
        return r;
      break;
    case 'p':
      if ((r = add_port(c, optarg)) != 0)
        return r;
      break;
    case 'P':
      req->publish_all = true;
      break;
    case OPT_DNS:
      if ((r = network_add_dns(&c->net, optarg)) != 0)
        return r;
      break;
    case OPT_ADD_HOST:
      if ((r = network_add_host(&c->net, optarg)) != 0)
        return r;
      break;
    case 'm':
      if ((r = opt_size("--memory", optarg, 6 << 20, &c->resources.memory)) != 0)
        return r;
      break;
    case OPT_MEMORY_SWAP:
      if (strcmp(optarg, "-1") == 0)
        c->resources.memory_swap = -1;
      else if ((r = opt_size("--memory-swap", optarg, 6 << 20, &c->resources.memory_swap)) != 0)
        return r;
      break;
    case OPT_CPUS:
      if ((r = opt_cpus(c, optarg)) != 0)
        return r;
      break;
    case OPT_CPU_WEIGHT:
      if ((r = opt_number("--cpu-weight", optarg, 1, 10000, &num)) != 0)
        return r;
      c->resources.cpu_weight = (uint64_t)num;
      break;
    case 'c':
      ro.cpu_shares = optarg;
      break;
    case OPT_PIDS_LIMIT:
      if ((r = opt_number("--pids-limit", optarg, -1, 4194304, &num)) != 0)
        return r;
      c->resources.pids_limit = num > 0 ? num : 0; /* 0 and -1: no limit, as docker's */
      break;
    case OPT_ULIMIT:
      if ((r = opt_ulimit(&c->process, optarg)) != 0)
        return r;
      break;
    case OPT_CAP_ADD:
      if ((r = opt_caps("--cap-add", optarg, &ro.cap_add, &ro.cap_add_all)) != 0)
        return r;
      break;
    case OPT_CAP_DROP:
      if ((r = opt_caps("--cap-drop", optarg, &ro.cap_drop, &ro.cap_drop_all)) != 0)
        return r;
      break;
    case OPT_SECURITY_OPT:
      if ((r = opt_security(c, optarg)) != 0)
        return r;
      break;
    case OPT_ENTRYPOINT:
      req->entrypoint = optarg;
      break;
    case OPT_NO_INIT:
      c->process.no_init = true;
      break;
    case OPT_ROOTFS: {
      char abs[PATH_MAX];
      struct stat st;
      if (realpath(optarg, abs) == NULL || stat(abs, &st) < 0)
        return cli_usage_error("--rootfs %s: %s", optarg, strerror(errno));
      if (!S_ISDIR(st.st_mode))
        return cli_usage_error("--rootfs %s: not a directory", optarg);
      c->root.path = xstrdup(abs);
      break;
    }
    case OPT_IMAGE_FILE:
      if ((r = opt_image_file(c, optarg)) != 0)
        return r;
      break;
    case 'i':
      c->process.open_stdin = true; /* in the foreground stdin is passed through anyway */
      break;
    case 't':
      c->process.terminal = true;
      break;
    case 'd':
      c->detach = true;
      break;
    case OPT_STOP_SIGNAL:
      if ((c->stop_signal = signal_parse(optarg)) < 0)
        return cli_usage_error("--stop-signal %s: no such signal", optarg);
      req->stop_signal_set = true;
      break;
    case OPT_STOP_TIMEOUT:
      if ((r = opt_number("--stop-timeout", optarg, 0, 86400, &num)) != 0)
        return r;
      c->stop_timeout = (int)num;
      break;
    case 'h':
      fputs(run_usage, stdout);
      return -1;
    default:
      if (optopt && optopt < 256 && strchr("ewuvpmc", optopt))
        return cli_usage_error("run: option -%c needs a value", optopt);
      return cli_usage_error("run: unknown option %s (see nsbox run --help)", argv[optind - 1]);
    }
  }
  if ((r = settle_limits(c, &ro)) != 0)
    return r;
  if ((r = settle_terminal(c)) != 0)
    return r;
  settle_caps(&c->security, &ro);
  random_hex_id(c->id);
  if (c->hostname == NULL)
    c->hostname = xstrndup(c->id, 12);
  /* Files, then -e, whatever the order on the command line (docker's). */
  for (size_t i = 0; i < env_files.n; i++)
    if ((r = cli_env_file(&req->env, env_files.v[i])) != 0)
      return r;
  for (size_t i = 0; i < user_env.n; i++)
    if ((r = cli_env_add(&req->env, user_env.v[i], "--env")) != 0)
      return r;
  free(user_env.v);
  free(env_files.v);

  if (c->root.path && c->root.image_file)
    return cli_usage_error("--rootfs and --image-file: give one root filesystem, not two");
  if (c->root.path == NULL && c->root.image_file == NULL) {
    if (optind >= argc)
      return cli_usage_error("run: no image given (nsbox run IMAGE [CMD...], --rootfs DIR or "
                             "--image-file FILE)");
    c->image = xstrdup(argv[optind++]);
  }
  req->cmd = argv + optind;
  req->n_cmd = argc - optind;
  return 0;
}

/* The process as docker settles it from the command line and the image's config: the
 * image's Entrypoint unless --entrypoint (which also drops the image's Cmd), then the
 * arguments given or else the image's Cmd; the image's Env over nsbox's defaults and under
 * --env-file and -e; its WorkingDir, User and StopSignal unless given. */
static int settle_process(struct nsbox_config *c, struct run_request *req,
                          const struct oci_image_config *img, nsbox_error_t *err) {
  struct strv env = {0};
  for (size_t i = 0; i < ARRAY_SIZE(default_env); i++)
    strv_push(&env, xstrdup(default_env[i]));
  strv_push(&env, xasprintf("HOSTNAME=%s", c->hostname));
  for (size_t i = 0; img->env && img->env[i]; i++)
    if (strchr(img->env[i], '=') && img->env[i][0] != '=')
      cli_env_add(&env, img->env[i], "the image's Env");
  for (size_t i = 0; i < req->env.n; i++)
    cli_env_add(&env, req->env.v[i], "--env");
  free(req->env.v);
  c->process.env = env.v;

  struct strv args = {0};
  if (req->entrypoint) {
    if (*req->entrypoint)
      strv_push(&args, xstrdup(req->entrypoint));
  } else {
    for (size_t i = 0; img->entrypoint && img->entrypoint[i]; i++)
      strv_push(&args, xstrdup(img->entrypoint[i]));
  }
  for (int i = 0; i < req->n_cmd; i++)
    strv_push(&args, xstrdup(req->cmd[i]));
  for (size_t i = 0; req->n_cmd == 0 && !req->entrypoint && img->cmd && img->cmd[i]; i++)
    strv_push(&args, xstrdup(img->cmd[i]));
  /* A root filesystem tarball carries no command at all: a shell, as before images had one. */
  if (args.n == 0 && img->entrypoint == NULL && img->cmd == NULL && !req->entrypoint)
    strv_push(&args, xstrdup("/bin/sh"));
  if (args.n == 0) {
    free(args.v);
    return nsbox_fail(err, 0, "no command: give one after the image name (its config has none)");
  }
  c->process.args = args.v;

  if (c->process.cwd == NULL && img->workdir && *img->workdir) {
    if (img->workdir[0] != '/')
      return nsbox_fail(err, 0, "the image's WorkingDir \"%.100s\" is not absolute", img->workdir);
    c->process.cwd = xstrdup(img->workdir);
  }
  if (c->process.user == NULL && img->user && *img->user)
    c->process.user = xstrdup(img->user);
  if (!req->stop_signal_set && img->stop_signal && *img->stop_signal &&
      (c->stop_signal = signal_parse(img->stop_signal)) < 0)
    return nsbox_fail(err, 0, "the image's StopSignal \"%.40s\" is no signal", img->stop_signal);
  if (c->stop_signal == 0)
    c->stop_signal = SIGTERM;
  return req->publish_all ? publish_exposed(c, img->exposed_ports, err) : 0;
}

/* Everything after parsing; returns the exit status or -1 with err filled. */
static int run_container(const struct cli_globals *g, struct nsbox_config *c,
                         struct run_request *req, nsbox_error_t *err) {
  struct nsbox_store s;
  char image_id[65] = "";
  struct oci_image_config img = {0};
  if (store_open(&s, g->root, err) < 0)
    return -1;
  c->userns = s.rootless;
  c->idmaps = s.idmaps;
  /* Cgroups left by an nsbox run that was killed go now. */
  container_reclaim_cgroups(&s);
  if (c->image) {
    if (image_resolve(&s, c->image, image_id, &c->root.lowerdirs, &img, err) < 0)
      return -1;
    c->image_id = image_id;
  }
  int r = settle_process(c, req, &img, err);
  oci_config_free(&img);
  if (r < 0 || network_prepare(&c->net, s.rootless, err) < 0)
    return -1;
  container_prepare(&s, c);
  if (!c->detach)
    return lifecycle_run(&s, c, false, err);
  if (lifecycle_start_detached(&s, c, false, err) < 0)
    return -1;
  printf("%s\n", c->id);
  return 0;
}

int cmd_run(const struct cli_globals *g, int argc, char **argv) {
  struct nsbox_config c = {0};
  struct run_request req;
  int r = parse_run(&c, argc, argv, &req);
  if (r != 0)
    return r < 0 ? 0 : r;
  nsbox_error_t err = {0};
  int status = run_container(g, &c, &req, &err);
  if (status >= 0)
    return status;
  nsbox_print_error(&err);
  return err.exit_code ? err.exit_code : 125;
}
