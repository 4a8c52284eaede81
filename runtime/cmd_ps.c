/* nsbox ps and nsbox rm. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "cli.h"
#include "store.h"
#include "syscalls.h"
#include "util.h"

static void status_text(const struct container_info *ci, char *out, size_t len) {
  char ago[48];
  switch (ci->status) {
  case CT_RUNNING:
    format_ago(ci->created, ago, sizeof(ago));
    ago[strlen(ago) > 4 ? strlen(ago) - 4 : 0] = '\0'; /* "3 seconds ago" -> "3 seconds" */
    snprintf(out, len, "Up %s", ago);
    break;
  case CT_EXITED:
    format_ago(ci->finished, ago, sizeof(ago));
    snprintf(out, len, "Exited (%d) %s", ci->exit_code, ago);
    break;
  case CT_UNKNOWN:
    snprintf(out, len, "Exited (unknown)");
    break;
  default:
    snprintf(out, len, "Created");
  }
}

int cmd_ps(const struct cli_globals *g, int argc, char **argv) {
  bool all = false, quiet = false;
  static const struct option opts[] = {
      {"all", no_argument, NULL, 'a'}, {"quiet", no_argument, NULL, 'q'}, {0}};
  opterr = 0;
  int o;
  while ((o = getopt_long(argc, argv, "+aq", opts, NULL)) != -1) {
    if (o == 'a')
      all = true;
    else if (o == 'q')
      quiet = true;
    else
      return cli_usage_error("ps: unknown option %s", argv[optind - 1]);
  }
  if (optind != argc)
    return cli_usage_error("usage: nsbox ps [-a] [-q]");
  struct nsbox_store s;
  nsbox_error_t err = {0};
  struct container_info *v = NULL;
  size_t n = 0;
  if (store_open(&s, g->root, &err) < 0 || container_list(&s, &v, &n, &err) < 0) {
    nsbox_print_error(&err);
    return 125;
  }
  if (!quiet)
    printf("%-12s  %-20s  %-20s  %-24s  %-16s  %s\n", "CONTAINER ID", "NAME", "IMAGE", "COMMAND",
           "CREATED", "STATUS");
  for (size_t i = 0; i < n; i++) {
    const struct container_info *ci = &v[i];
    if (ci->remove && ci->status == CT_UNKNOWN && ci->monitor == 0) {
      /* A --rm container whose nsbox run was killed: finish what --rm promised. */
      nsbox_error_t ignored = {0};
      container_remove(&s, ci->id, &ignored);
      container_info_free(&v[i]);
      continue;
    }
    if (all || ci->status == CT_RUNNING) {
      if (quiet) {
        printf("%.12s\n", ci->id);
      } else {
        char created[48], status[64], cmd[32];
        format_ago(ci->created, created, sizeof(created));
        status_text(ci, status, sizeof(status));
        snprintf(cmd, sizeof(cmd), "\"%.20s%s\"", ci->command ? ci->command : "",
                 ci->command && strlen(ci->command) > 20 ? "…" : "");
        printf("%-12.12s  %-20s  %-20s  %-24s  %-16s  %s\n", ci->id, ci->name ? ci->name : "",
               ci->image && *ci->image ? ci->image : "(rootfs)", cmd, created, status);
      }
    }
    container_info_free(&v[i]);
  }
  free(v);
  return 0;
}

/* Sends sig (0: none) and waits, at most 10 s, for pid to exit. The pidfd keeps the pid from
 * being recycled under us. */
static void kill_and_wait(pid_t pid, int sig) {
  int pfd = sys_pidfd_open(pid, 0);
  if (pfd < 0) {
    if (sig)
      kill(pid, sig);
    return;
  }
  if (sig)
    sys_pidfd_send_signal(pfd, sig, NULL, 0);
  struct pollfd p = {.fd = pfd, .events = POLLIN};
  while (poll(&p, 1, 10000) < 0 && errno == EINTR)
    ;
  close(pfd);
}

int cmd_rm(const struct cli_globals *g, int argc, char **argv) {
  bool force = false;
  static const struct option opts[] = {{"force", no_argument, NULL, 'f'}, {0}};
  opterr = 0;
  int o;
  while ((o = getopt_long(argc, argv, "+f", opts, NULL)) != -1) {
    if (o == 'f')
      force = true;
    else
      return cli_usage_error("rm: unknown option %s", argv[optind - 1]);
  }
  if (optind >= argc)
    return cli_usage_error("usage: nsbox rm [-f] NAME...");
  struct nsbox_store s;
  nsbox_error_t err = {0};
  if (store_open(&s, g->root, &err) < 0) {
    nsbox_print_error(&err);
    return 125;
  }
  int ret = 0;
  for (int i = optind; i < argc; i++) {
    struct container_info ci;
    memset(&err, 0, sizeof(err));
    if (container_find(&s, argv[i], &ci, &err) < 0) {
      nsbox_print_error(&err);
      ret = 125;
      continue;
    }
    if (ci.status == CT_RUNNING) {
      if (!force) {
        nsbox_notice("container %s is running: stop it first or use rm -f", argv[i]);
        container_info_free(&ci);
        ret = 125;
        continue;
      }
      /* Both pids were checked against their start times just now. The container goes
       * first; then its `nsbox run` is given the time to record the exit, so that it does not
       * write into the container's dir while we remove it. */
      kill_and_wait(ci.pid, SIGKILL);
      if (ci.monitor > 0)
        kill_and_wait(ci.monitor, 0);
    }
    if (container_remove(&s, ci.id, &err) < 0) {
      nsbox_print_error(&err);
      ret = 125;
    } else {
      printf("%s\n", argv[i]);
    }
    container_info_free(&ci);
  }
  return ret;
}
