/* nsbox stop, kill, wait, start and attach: the commands that act on a container's run. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "attach.h"
#include "cli.h"
#include "config_json.h"
#include "lifecycle.h"
#include "monitor.h"
#include "network.h"
#include "signals.h"
#include "store.h"
#include "syscalls.h"
#include "tty.h"
#include "util.h"

/* Finds ref and checks that it runs; otherwise one line and false. */
static bool find_running(struct nsbox_store *s, const char *ref, struct container_info *ci) {
  nsbox_error_t err = {0};
  if (container_find(s, ref, ci, &err) < 0) {
    nsbox_print_error(&err);
    return false;
  }
  if (ci->status == CT_RUNNING)
    return true;
  nsbox_notice("container %s is not running", ref);
  container_info_free(ci);
  return false;
}

/* Waits until pidfd's process exits, at most timeout_ms (-1: no limit); true if it did. */
static bool wait_pidfd(int pidfd, int timeout_ms) {
  struct pollfd p = {.fd = pidfd, .events = POLLIN};
  int r;
  while ((r = poll(&p, 1, timeout_ms)) < 0 && errno == EINTR)
    ;
  return r > 0;
}

/* Waits for the monitor to have recorded the exit (it ends right after). */
static void wait_monitor(const struct container_info *ci) {
  int fd = ci->monitor > 0 ? pidfd_checked(ci->monitor, ci->monitor_start) : -1;
  if (fd >= 0) {
    wait_pidfd(fd, -1);
    close(fd);
  }
}

static int open_store(const struct cli_globals *g, struct nsbox_store *s) {
  nsbox_error_t err = {0};
  if (store_open(s, g->root, &err) < 0) {
    nsbox_print_error(&err);
    return -1;
  }
  return 0;
}

/* Sends sig to the container's first process (the init forwards it to the command). */
static int signal_container(const struct container_info *ci, int sig, int *pidfd_out) {
  int fd = pidfd_checked(ci->pid, ci->pid_start);
  if (fd < 0)
    return fd;
  if (sys_pidfd_send_signal(fd, sig, NULL, 0) < 0) {
    int e = errno;
    close(fd);
    return -e;
  }
  if (pidfd_out)
    *pidfd_out = fd;
  else
    close(fd);
  return 0;
}

static int stop_one(struct nsbox_store *s, const char *ref, int timeout) {
  struct container_info ci;
  if (!find_running(s, ref, &ci))
    return 125;
  struct nsbox_config c;
  nsbox_error_t err = {0};
  int sig = SIGTERM;
  if (container_load_config(s, ci.id, &c, &err) == 0) {
    if (c.stop_signal > 0)
      sig = c.stop_signal;
    if (timeout < 0)
      timeout = c.stop_timeout;
    config_json_free(&c);
  }
  if (timeout < 0)
    timeout = 10;
  int pidfd = -1;
  int r = signal_container(&ci, sig, &pidfd);
  if (r == 0 && !wait_pidfd(pidfd, timeout * 1000))
    sys_pidfd_send_signal(pidfd, SIGKILL, NULL, 0);
  if (r == 0) {
    wait_pidfd(pidfd, -1);
    close(pidfd);
  }
  /* r < 0: it ended meanwhile (ESRCH), which is what was asked. */
  wait_monitor(&ci);
  container_info_free(&ci);
  printf("%s\n", ref);
  return 0;
}

int cmd_stop(const struct cli_globals *g, int argc, char **argv) {
  static const struct option opts[] = {
      {"time", required_argument, NULL, 't'}, {"timeout", required_argument, NULL, 't'}, {0}};
  opterr = 0;
  int o, timeout = -1;
  while ((o = getopt_long(argc, argv, "+t:", opts, NULL)) != -1) {
    unsigned long v;
    if (o == 't' && parse_ulong(optarg, &v) == 0 && v <= 86400)
      timeout = (int)v;
    else if (o == 't')
      return cli_usage_error("stop: -t %s: expected seconds, 0 to 86400", optarg);
    else
      return cli_usage_error("stop: unknown option %s", argv[optind - 1]);
  }
  if (optind >= argc)
    return cli_usage_error("usage: nsbox stop [-t SECONDS] NAME...");
  struct nsbox_store s;
  if (open_store(g, &s) < 0)
    return 125;
  int ret = 0;
  for (int i = optind; i < argc; i++)
    if (stop_one(&s, argv[i], timeout) != 0)
      ret = 125;
  return ret;
}

int cmd_kill(const struct cli_globals *g, int argc, char **argv) {
  static const struct option opts[] = {{"signal", required_argument, NULL, 's'}, {0}};
  opterr = 0;
  int o, sig = SIGKILL;
  while ((o = getopt_long(argc, argv, "+s:", opts, NULL)) != -1) {
    if (o != 's')
      return cli_usage_error("kill: unknown option %s", argv[optind - 1]);
    if ((sig = signal_parse(optarg)) < 0)
      return cli_usage_error("kill: -s %s: no such signal", optarg);
  }
  if (optind >= argc)
    return cli_usage_error("usage: nsbox kill [-s SIGNAL] NAME...");
  struct nsbox_store s;
  if (open_store(g, &s) < 0)
    return 125;
  int ret = 0;
  for (int i = optind; i < argc; i++) {
    struct container_info ci;
    if (!find_running(&s, argv[i], &ci)) {
      ret = 125;
      continue;
    }
    int r = signal_container(&ci, sig, NULL);
    if (r < 0) {
      nsbox_notice("kill %s: %s", argv[i], r == -ESRCH ? "it is not running" : strerror(-r));
      ret = 125;
    } else {
      printf("%s\n", argv[i]);
    }
    container_info_free(&ci);
  }
  return ret;
}

/* The exit code of a container that runs now: from its monitor's socket when it has one
 * (which also serves a --rm container, gone once it exits), else from its record after its
 * `nsbox run` ends. */
static int wait_running(struct nsbox_store *s, struct container_info *ci, nsbox_error_t *err) {
  cleanup_close int rundir = open(s->run, O_PATH | O_DIRECTORY | O_CLOEXEC);
  nsbox_error_t ignored = {0};
  cleanup_close int sock = rundir >= 0 ? attach_connect(rundir, ci->id, &ignored) : -1;
  if (sock >= 0) {
    int code = attach_wait(sock, err);
    if (code >= 0)
      return code;
    /* The monitor ended between our look and our connect: its record has the code. */
  }
  wait_monitor(ci);
  struct container_info now;
  if (container_find(s, ci->id, &now, err) < 0)
    return -1;
  int code = now.status == CT_EXITED ? now.exit_code : -1;
  container_info_free(&now);
  if (code < 0)
    return nsbox_fail(err, 0, "%.12s: its exit code is unknown", ci->id);
  return code;
}

static int wait_one(struct nsbox_store *s, const char *ref) {
  struct container_info ci;
  nsbox_error_t err = {0};
  int code = -1;
  if (container_find(s, ref, &ci, &err) < 0) {
    nsbox_print_error(&err);
    return 125;
  }
  /* Its process may be gone already while the monitor still records the exit. */
  if (ci.status == CT_RUNNING || (ci.status == CT_UNKNOWN && ci.monitor > 0))
    code = wait_running(s, &ci, &err);
  else if (ci.status == CT_EXITED)
    code = ci.exit_code;
  else
    nsbox_fail(&err, 0, "container %s has no exit code (%s)", ref,
               ci.status == CT_CREATED ? "it never ran" : "its monitor was killed");
  container_info_free(&ci);
  if (code < 0) {
    nsbox_print_error(&err);
    return 125;
  }
  printf("%d\n", code);
  return 0;
}

/* For the commands without options: 1 (the names start at argv[1]), or 125 after a usage
 * error. */
static int no_options(int argc, char **argv, const char *usage) {
  if (argc > 1 && argv[1][0] == '-' && argv[1][1] != '\0') {
    if (strcmp(argv[1], "--") == 0)
      return 2;
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)
      return cli_usage_error("%s", usage);
    return cli_usage_error("%s: unknown option %s", argv[0], argv[1]);
  }
  return 1;
}

int cmd_wait(const struct cli_globals *g, int argc, char **argv) {
  optind = no_options(argc, argv, "usage: nsbox wait NAME...");
  if (optind == 125)
    return 125;
  if (optind >= argc)
    return cli_usage_error("usage: nsbox wait NAME...");
  struct nsbox_store s;
  if (open_store(g, &s) < 0)
    return 125;
  int ret = 0;
  for (int i = optind; i < argc; i++) {
    fflush(stdout);
    if (wait_one(&s, argv[i]) != 0)
      ret = 125;
  }
  return ret;
}

/* A recorded config made ready to run again: what each start settles anew. */
static int prepare_restart(struct nsbox_store *s, struct nsbox_config *c, bool attach,
                           nsbox_error_t *err) {
  c->userns = s->rootless;
  c->idmaps = s->idmaps;
  c->net.backend = NULL;
  c->net.port_fds = NULL;
  container_reclaim_cgroups(s);
  if (c->process.terminal && attach) {
    if (!isatty(STDIN_FILENO))
      return nsbox_fail(err, 0,
                        "start -a: the container has a terminal (-t) but standard input "
                        "is not one");
    tty_get_size(STDIN_FILENO, &c->process.console_rows, &c->process.console_cols);
  }
  return network_prepare(&c->net, s->rootless, err);
}

static int start_one(struct nsbox_store *s, const char *ref, bool attach) {
  struct container_info ci;
  nsbox_error_t err = {0};
  if (container_find(s, ref, &ci, &err) < 0) {
    nsbox_print_error(&err);
    return 125;
  }
  /* Locked from the check to the start: of two concurrent starts only one runs it. */
  cleanup_close int lock = container_lock(s, ci.id, &err);
  struct container_info now;
  int r = -1;
  if (lock >= 0 && container_find(s, ci.id, &now, &err) == 0) {
    if (now.status == CT_RUNNING)
      nsbox_fail(&err, 0, "container %s is already running", ref);
    else if (now.remove)
      nsbox_fail(&err, 0, "container %s was run with --rm: it cannot start again", ref);
    else
      r = 0;
    container_info_free(&now);
  }
  struct nsbox_config c;
  bool loaded = r == 0 && container_load_config(s, ci.id, &c, &err) == 0;
  container_info_free(&ci);
  r = -1;
  if (loaded && prepare_restart(s, &c, attach, &err) == 0) {
    if (attach) {
      close(steal_fd(&lock)); /* held for the whole run it would block `rm` */
      r = lifecycle_run(s, &c, true, &err);
    } else {
      r = lifecycle_start_detached(s, &c, true, &err);
      if (r == 0)
        printf("%s\n", ref);
    }
  }
  if (r < 0) {
    nsbox_print_error(&err);
    return err.exit_code ? err.exit_code : 125;
  }
  return r;
}

int cmd_start(const struct cli_globals *g, int argc, char **argv) {
  static const struct option opts[] = {{"attach", no_argument, NULL, 'a'}, {0}};
  opterr = 0;
  int o;
  bool attach = false;
  while ((o = getopt_long(argc, argv, "+a", opts, NULL)) != -1) {
    if (o != 'a')
      return cli_usage_error("start: unknown option %s", argv[optind - 1]);
    attach = true;
  }
  if (optind >= argc || (attach && argc - optind > 1))
    return cli_usage_error("usage: nsbox start [-a] NAME  (or: nsbox start NAME...)");
  struct nsbox_store s;
  if (open_store(g, &s) < 0)
    return 125;
  if (attach)
    return start_one(&s, argv[optind], true);
  int ret = 0;
  for (int i = optind; i < argc; i++) {
    fflush(stdout);
    if (start_one(&s, argv[i], false) != 0)
      ret = 125;
  }
  return ret;
}

int cmd_attach(const struct cli_globals *g, int argc, char **argv) {
  optind = no_options(argc, argv, "usage: nsbox attach NAME  (detach: ctrl-p ctrl-q)");
  if (optind == 125)
    return 125;
  if (optind + 1 != argc)
    return cli_usage_error("usage: nsbox attach NAME");
  struct nsbox_store s;
  struct container_info ci;
  if (open_store(g, &s) < 0 || !find_running(&s, argv[optind], &ci))
    return 125;
  nsbox_error_t err = {0};
  cleanup_close int rundir = open(s.run, O_PATH | O_DIRECTORY | O_CLOEXEC);
  cleanup_close int sock = rundir >= 0 ? attach_connect(rundir, ci.id, &err) : -1;
  container_info_free(&ci);
  if (sock < 0) {
    nsbox_notice("container %s runs in the foreground of another nsbox: nothing to attach to",
                 argv[optind]);
    return 125;
  }
  int code = attach_relay(sock, &err);
  if (code == ATTACH_DETACHED)
    return 0;
  if (code < 0) {
    nsbox_print_error(&err);
    return 125;
  }
  return code;
}
