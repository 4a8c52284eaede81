/* nsbox: containers without root, without a daemon. Global options, then a command. */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "error.h"
#include "util.h"

#ifndef NSBOX_VERSION
#define NSBOX_VERSION "0.1.0"
#endif

static const char usage[] =
    "Usage: nsbox [--root DIR] COMMAND [OPTIONS]\n"
    "\n"
    "Commands:\n"
    "  run [OPTIONS] IMAGE [CMD [ARG...]]   run a command in a new container\n"
    "  run [OPTIONS] --rootfs DIR [CMD...]   ... with a directory as its root\n"
    "  run -d [-it] ...                      ... detached, under a monitor; prints the id\n"
    "  ps [-a] [-q] [--format json]          list containers\n"
    "  logs [-f] [--tail N] [-t] NAME        a detached container's output\n"
    "  exec [-it] [-e K=V] [-u U] [-w D] NAME CMD...  run CMD in a running container\n"
    "  attach NAME                           connect to a detached container (ctrl-p ctrl-q)\n"
    "  stop [-t SECONDS] NAME...             stop signal, then KILL after the timeout\n"
    "  kill [-s SIGNAL] NAME...              send a signal (default KILL)\n"
    "  wait NAME...                          wait for the exit; print its code\n"
    "  start [-a] NAME...                    run an exited container again\n"
    "  inspect NAME...                       config and state as JSON\n"
    "  rm [-f] NAME...                       remove containers\n"
    "  image load PATH|- [NAME]              load an OCI layout, oci-archive or docker save "
    "archive\n"
    "  image import FILE|- NAME              import a rootfs tarball as an image\n"
    "  image save NAME FILE                  write an image as an oci-archive\n"
    "  image export [--format F] NAME FILE   its root as a squashfs, ext4 or erofs file\n"
    "  image ls | inspect NAME... | rm NAME...   list, show, remove images\n"
    "  version                               print the version\n"
    "\n"
    "Run `nsbox run --help` for the options of run.\n";

int cli_usage_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  nsbox_vnotice(fmt, ap);
  va_end(ap);
  return 125;
}

static const struct {
  const char *name;
  int (*fn)(const struct cli_globals *g, int argc, char **argv);
} commands[] = {
    {"run", cmd_run},       {"ps", cmd_ps},     {"rm", cmd_rm},           {"logs", cmd_logs},
    {"stop", cmd_stop},     {"kill", cmd_kill}, {"wait", cmd_wait},       {"start", cmd_start},
    {"attach", cmd_attach}, {"exec", cmd_exec}, {"inspect", cmd_inspect}, {"image", cmd_image},
    {"images", cmd_image},
};

int main(int argc, char **argv) {
  struct cli_globals g = {0};
  static const struct option opts[] = {
      {"root", required_argument, NULL, 'r'},
      {"help", no_argument, NULL, 'h'},
      {"version", no_argument, NULL, 'V'},
      {0},
  };
  opterr = 0;
  int o;
  while ((o = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
    switch (o) {
    case 'r':
      g.root = optarg;
      break;
    case 'h':
      fputs(usage, stdout);
      return 0;
    case 'V':
      puts("nsbox " NSBOX_VERSION);
      return 0;
    default:
      return cli_usage_error("unknown option %s (see nsbox --help)", argv[optind - 1]);
    }
  }
  if (optind >= argc) {
    fputs(usage, stderr);
    return 125;
  }
  const char *cmd = argv[optind];
  int cargc = argc - optind;
  char **cargv = argv + optind;
  optind = 0; /* each command parses its own options from its argv[0] on */
  for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
    if (strcmp(cmd, commands[i].name) == 0)
      return commands[i].fn(&g, cargc, cargv);
  if (strcmp(cmd, "version") == 0) {
    puts("nsbox " NSBOX_VERSION);
    return 0;
  }
  return cli_usage_error("unknown command \"%s\" (see nsbox --help)", cmd);
}
