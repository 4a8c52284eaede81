/* nsbox logs: prints what a detached container printed, from its log (logfile.h), and with
 * --follow what it prints next, until the process writing the log exits. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "cli.h"
#include "logfile.h"
#include "store.h"
#include "syscalls.h"
#include "util.h"

static const char logs_usage[] =
    "Usage: nsbox logs [OPTIONS] NAME\n"
    "\n"
    "Prints what a container started with `run -d` printed: its stdout to stdout, its\n"
    "stderr to stderr.\n"
    "\n"
    "  -f, --follow              then print what it prints next, until it exits\n"
    "      --tail N              only the last N lines (default: all)\n"
    "  -t, --timestamps          begin each line with the time it was printed\n";

struct logs_opts {
  bool follow, timestamps;
  bool tail; /* only the last tail_n lines */
  unsigned long tail_n;
  const char *name;
};

enum { OPT_TAIL = 256 };

/* Fills o from argv; returns 0, -1 when the help was printed, or the exit status of a usage
 * error (already printed). */
static int parse_logs_args(int argc, char **argv, struct logs_opts *o) {
  static const struct option opts[] = {
      {"follow", no_argument, NULL, 'f'},
      {"tail", required_argument, NULL, OPT_TAIL},
      {"timestamps", no_argument, NULL, 't'},
      {"help", no_argument, NULL, 'h'},
      {0},
  };
  memset(o, 0, sizeof(*o));
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, "+fth", opts, NULL)) != -1) {
    switch (c) {
    case 'f':
      o->follow = true;
      break;
    case 't':
      o->timestamps = true;
      break;
    case OPT_TAIL:
      o->tail = strcmp(optarg, "all") != 0;
      if (o->tail && parse_ulong(optarg, &o->tail_n) < 0)
        return cli_usage_error("--tail %s: expected a number of lines or \"all\"", optarg);
      break;
    case 'h':
      fputs(logs_usage, stdout);
      return -1;
    default:
      if (optopt == OPT_TAIL)
        return cli_usage_error("logs: --tail needs a value");
      return cli_usage_error("logs: unknown option %s (see nsbox logs --help)", argv[optind - 1]);
    }
  }
  if (argc - optind != 1)
    return cli_usage_error("usage: nsbox logs [-f] [--tail N] [-t] NAME");
  o->name = argv[optind];
  return 0;
}

/* The process whose exit ends --follow: the monitor, which writes the log while it lives (it
 * outlives the container's PID 1 by the time it takes to drain the pipes); the PID 1 when
 * there is no monitor. 0 when neither runs: nothing more will be written. */
static pid_t log_writer(const struct container_info *ci) {
  if (ci->monitor > 0)
    return ci->monitor;
  return ci->status == CT_RUNNING ? ci->pid : 0;
}

/* A pidfd of the log's writer in *out, or -1 when there is none to wait for. */
static int open_writer(struct nsbox_store *s, const struct container_info *ci, int *out,
                       nsbox_error_t *err) {
  *out = -1;
  pid_t pid = log_writer(ci);
  if (pid == 0)
    return 0;
  cleanup_close int pfd = sys_pidfd_open(pid, 0);
  if (pfd < 0)
    return errno == ESRCH ? 0 : nsbox_fail(err, errno, "pidfd_open %d", (int)pid);
  /* The pid was checked against its start time before the pidfd held it: check again now, or a
   * pid recycled in between would be waited for. */
  struct container_info now;
  nsbox_error_t ignored = {0};
  if (container_find(s, ci->id, &now, &ignored) < 0)
    return 0;
  bool same = log_writer(&now) == pid;
  container_info_free(&now);
  if (same)
    *out = steal_fd(&pfd);
  return 0;
}

/* Reads away the pending inotify events: which they were does not matter, only that the log
 * changed. */
static void drain_inotify(int ifd) {
  char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
  while (read(ifd, buf, sizeof(buf)) > 0)
    ;
}

/* Prints what is written to the log until its writer exits (pidfd readable) or our stdout's
 * reader goes away. Event-driven: the log's changes come from inotify. */
static int follow(struct log_reader *lr, int ifd, int pidfd, nsbox_error_t *err) {
  struct pollfd p[] = {
      {.fd = ifd, .events = POLLIN},
      {.fd = pidfd, .events = POLLIN},
      /* No events asked: a pipe whose reader closed still reports POLLERR, and then there is
       * no use waiting for the next record to find that out. */
      {.fd = STDOUT_FILENO, .events = 0},
  };
  for (;;) {
    if (poll(p, ARRAY_SIZE(p), -1) < 0) {
      if (errno == EINTR)
        continue;
      return nsbox_fail(err, errno, "poll");
    }
    if (p[2].revents & POLLNVAL)
      p[2].fd = -1; /* stdout closed: nothing to watch there */
    else if (p[2].revents & (POLLERR | POLLHUP))
      return nsbox_fail(err, EPIPE, "write to stdout");
    if (p[0].revents & POLLIN)
      drain_inotify(ifd);
    /* After the writer's exit the file holds all there will be: one last drain. */
    if ((p[0].revents | p[1].revents) && log_reader_drain(lr, err) < 0)
      return -1;
    if (p[1].revents)
      return 0;
  }
}

/* Prints the log at path as o asks. */
static int print_log(struct nsbox_store *s, const struct container_info *ci, const char *path,
                     const struct logs_opts *o, nsbox_error_t *err) {
  cleanup_close int fd = logfile_open_read(path, err);
  if (fd < 0 && err->errnum == ENOENT) {
    *err = (nsbox_error_t){0};
    return 0; /* it ran in the foreground: its output went to the terminal, not here */
  }
  if (fd < 0)
    return -1;
  /* The watches come before the first read: a record written, or an exit, between that read
   * and the first poll is then not missed. */
  cleanup_close int ifd = -1, pidfd = -1;
  if (o->follow) {
    if (open_writer(s, ci, &pidfd, err) < 0)
      return -1;
    if (pidfd >= 0) {
      ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
      if (ifd < 0 || inotify_add_watch(ifd, path, IN_MODIFY | IN_DONT_FOLLOW) < 0)
        return nsbox_fail(err, errno, "inotify %s", path);
    }
  }
  struct log_reader lr;
  log_reader_init(&lr, fd, STDOUT_FILENO, STDERR_FILENO, o->timestamps);
  int r = o->tail ? log_reader_tail(&lr, o->tail_n, err) : 0;
  if (r == 0)
    r = log_reader_drain(&lr, err);
  if (r == 0 && pidfd >= 0)
    r = follow(&lr, ifd, pidfd, err);
  log_reader_free(&lr);
  return r;
}

int cmd_logs(const struct cli_globals *g, int argc, char **argv) {
  struct logs_opts o;
  int r = parse_logs_args(argc, argv, &o);
  if (r != 0)
    return r < 0 ? 0 : r;
  /* A reader that went away (`| head`) shows as EPIPE, which ends us quietly. */
  signal(SIGPIPE, SIG_IGN);
  struct nsbox_store s;
  nsbox_error_t err = {0};
  struct container_info ci;
  if (store_open(&s, g->root, &err) < 0 || container_find(&s, o.name, &ci, &err) < 0) {
    nsbox_print_error(&err);
    return 125;
  }
  cleanup_free char *path = container_log_path(&s, ci.id);
  r = print_log(&s, &ci, path, &o, &err);
  container_info_free(&ci);
  if (r < 0 && err.errnum != EPIPE) {
    nsbox_wrap(&err, "logs %s", o.name);
    nsbox_print_error(&err);
    return 125;
  }
  return 0;
}
