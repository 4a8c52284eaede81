/* Environment lists of the command line (-e KEY=VAL, -e KEY, --env-file), shared by run and
 * exec. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "util.h"

void strv_push(struct strv *s, char *item) {
  s->v = xrealloc(s->v, (s->n + 2) * sizeof(char *));
  s->v[s->n++] = item;
  s->v[s->n] = NULL;
}

/* Sets KEY=VAL, replacing an earlier value of KEY. */
static void env_set(struct strv *env, char *kv) {
  size_t kl = strcspn(kv, "=");
  for (size_t i = 0; i < env->n; i++)
    if (strncmp(env->v[i], kv, kl) == 0 && env->v[i][kl] == '=') {
      env->v[i] = kv;
      return;
    }
  strv_push(env, kv);
}

int cli_env_add(struct strv *env, const char *spec, const char *origin) {
  const char *eq = strchr(spec, '=');
  if (spec[0] == '\0' || spec[0] == '=')
    return cli_usage_error("invalid environment variable \"%s\" in %s", spec, origin);
  if (eq) {
    env_set(env, xstrdup(spec));
    return 0;
  }
  /* KEY alone passes the host's value, if there is one (as docker does). */
  const char *v = getenv(spec);
  if (v)
    env_set(env, xasprintf("%s=%s", spec, v));
  return 0;
}

int cli_env_file(struct strv *env, const char *path) {
  cleanup_free char *data = NULL;
  ssize_t r = read_file_at(AT_FDCWD, path, &data);
  if (r < 0) {
    errno = (int)-r;
    return cli_usage_error("--env-file %s: %s", path, strerror(errno));
  }
  char *save = NULL;
  for (char *line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    while (*line == ' ' || *line == '\t')
      line++;
    size_t l = strlen(line);
    if (l > 0 && line[l - 1] == '\r')
      line[--l] = '\0';
    if (*line == '\0' || *line == '#')
      continue;
    if (cli_env_add(env, line, path) != 0)
      return 125;
  }
  return 0;
}
