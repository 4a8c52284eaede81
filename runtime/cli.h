/* The command-line front end: each `nsbox COMMAND` parses its options into a config or a
 * request and calls the runtime. Each returns the process exit status. */
#ifndef NSBOX_CLI_H
#define NSBOX_CLI_H

#include <stddef.h>

struct cli_globals {
  const char *root; /* --root DIR, or NULL */
};

int cmd_run(const struct cli_globals *g, int argc, char **argv);
int cmd_ps(const struct cli_globals *g, int argc, char **argv);
int cmd_rm(const struct cli_globals *g, int argc, char **argv);
int cmd_image(const struct cli_globals *g, int argc, char **argv);
int cmd_logs(const struct cli_globals *g, int argc, char **argv);
int cmd_inspect(const struct cli_globals *g, int argc, char **argv);
int cmd_exec(const struct cli_globals *g, int argc, char **argv);
int cmd_stop(const struct cli_globals *g, int argc, char **argv);
int cmd_kill(const struct cli_globals *g, int argc, char **argv);
int cmd_wait(const struct cli_globals *g, int argc, char **argv);
int cmd_start(const struct cli_globals *g, int argc, char **argv);
int cmd_attach(const struct cli_globals *g, int argc, char **argv);

/* A growing NULL-terminated list of strings. */
struct strv {
  char **v;
  size_t n;
};
void strv_push(struct strv *s, char *item);

/* Adds -e SPEC to env: KEY=VAL (replacing an earlier KEY), or KEY alone for the host's value.
 * origin names where it came from, for the message. Returns 0, or 125 after a usage error. */
int cli_env_add(struct strv *env, const char *spec, const char *origin);

/* Adds the KEY=VAL lines of an --env-file. Returns 0, or 125 after a usage error. */
int cli_env_file(struct strv *env, const char *path);

/* "nsbox: msg" for a usage error; returns 125. */
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
