/* nsbox exec: options -> a process for container_exec(). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "config_json.h"
#include "exec.h"
#include "store.h"
#include "tty.h"
#include "util.h"

static const char exec_usage[] =
    "Usage: nsbox exec [OPTIONS] NAME CMD [ARG...]\n"
    "\n"
    "Runs CMD in the running container NAME (a name, an id or a unique prefix of one), in all\n"
    "of its namespaces and its cgroup, with its capabilities and seccomp filter.\n"
    "\n"
    "  -i, --interactive         keep stdin open (it is passed through anyway)\n"
    "  -t, --tty                 give CMD a terminal (a pty of the container's)\n"
    "  -e, --env KEY[=VAL]       set an environment variable (KEY alone: the host's value)\n"
    "      --env-file FILE       read KEY=VAL lines\n"
    "  -u, --user USER[:GROUP]   run as this user (default: the container's)\n"
    "  -w, --workdir DIR         working directory (default: the container's)\n";

struct exec_opts {
  struct strv env, env_files;
  const char *user, *workdir;
  bool terminal;
};

/* Returns 0, -1 after --help, or 125 after a usage error. */
static int parse_exec(int argc, char **argv, struct exec_opts *o) {
  static const struct option opts[] = {
      {"interactive", no_argument, NULL, 'i'}, {"tty", no_argument, NULL, 't'},
      {"env", required_argument, NULL, 'e'},   {"env-file", required_argument, NULL, 'E'},
      {"user", required_argument, NULL, 'u'},  {"workdir", required_argument, NULL, 'w'},
      {"help", no_argument, NULL, 'h'},        {0}};
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, "+ite:u:w:h", opts, NULL)) != -1) {
    switch (c) {
    case 'i':
      break;
    case 't':
      o->terminal = true;
      break;
    case 'e':
      strv_push(&o->env, optarg);
      break;
    case 'E':
      strv_push(&o->env_files, optarg);
      break;
    case 'u':
      if (optarg[0] == '\0' || optarg[0] == ':')
        return cli_usage_error("--user \"%s\": expected USER[:GROUP]", optarg);
      o->user = optarg;
      break;
    case 'w':
      if (optarg[0] != '/')
        return cli_usage_error("--workdir %s: must be an absolute path", optarg);
      o->workdir = optarg;
      break;
    case 'h':
      fputs(exec_usage, stdout);
      return -1;
    default:
      if (optopt && optopt < 256 && strchr("euw", optopt))
        return cli_usage_error("exec: option -%c needs a value", optopt);
      return cli_usage_error("exec: unknown option %s (see nsbox exec --help)", argv[optind - 1]);
    }
  }
  if (argc - optind < 2)
    return cli_usage_error("usage: nsbox exec [OPTIONS] NAME CMD [ARG...]");
  if (o->terminal && !isatty(STDIN_FILENO))
    return cli_usage_error("-t: standard input is not a terminal");
  return 0;
}

/* The process: the container's, with what the options change. */
static int build_process(const struct nsbox_config *c, struct exec_opts *o, char **args,
                         struct nsbox_process *p) {
  *p = c->process;
  p->args = args;
  p->terminal = o->terminal;
  p->console_rows = p->console_cols = 0;
  if (o->terminal)
    tty_get_size(STDIN_FILENO, &p->console_rows, &p->console_cols);
  if (o->user)
    p->user = (char *)o->user;
  if (o->workdir)
    p->cwd = (char *)o->workdir;
  struct strv env = {0};
  for (char **e = c->process.env; e && *e; e++)
    strv_push(&env, *e);
  int r;
  for (size_t i = 0; i < o->env_files.n; i++)
    if ((r = cli_env_file(&env, o->env_files.v[i])) != 0)
      return r;
  for (size_t i = 0; i < o->env.n; i++)
    if ((r = cli_env_add(&env, o->env.v[i], "--env")) != 0)
      return r;
  if (env.v == NULL)
    strv_push(&env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
  p->env = env.v;
  return 0;
}

int cmd_exec(const struct cli_globals *g, int argc, char **argv) {
  struct exec_opts o = {0};
  int r = parse_exec(argc, argv, &o);
  if (r != 0)
    return r < 0 ? 0 : r;
  const char *ref = argv[optind];
  struct nsbox_store s;
  struct container_info ci = {0};
  struct nsbox_config c = {0};
  nsbox_error_t err = {0};
  int status = -1;
  if (store_open(&s, g->root, &err) < 0 || container_find(&s, ref, &ci, &err) < 0) {
    /* err says why */
  } else if (ci.status != CT_RUNNING) {
    nsbox_fail(&err, 0, "container %s is not running", ref);
  } else if (container_load_config(&s, ci.id, &c, &err) == 0) {
    struct nsbox_process p;
    if ((r = build_process(&c, &o, argv + optind + 1, &p)) != 0) {
      config_json_free(&c);
      container_info_free(&ci);
      return r;
    }
    status = container_exec(&s, &ci, &c, &p, &err);
    free(p.env);
    config_json_free(&c);
  }
  container_info_free(&ci);
  if (status >= 0)
    return status;
  nsbox_print_error(&err);
  return err.exit_code ? err.exit_code : 125;
}
