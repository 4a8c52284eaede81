/* nsbox ps and nsbox rm. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "cli.h"
#include "config_json.h"
#include "jsonw.h"
#include "store.h"
#include "syscalls.h"
#include "util.h"

static void status_text(const struct container_info *ci, char *out, size_t len) {
  char ago[48];
  switch (ci->status) {
  case CT_RUNNING:
    /* Up since this run started: a restarted container is not up since its creation. */
    format_ago(ci->started ? ci->started : ci->created, ago, sizeof(ago));
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

/* Docker's PORTS column: "0.0.0.0:8080->80/tcp, 127.0.0.1:5353->53/udp". */
static char *ports_text(const struct nsbox_network *n) {
  enum { ITEM_MAX = 48 }; /* ", 255.255.255.255:65535->65535/udp" and room to spare */
  char *out = xmalloc(n->n_ports * ITEM_MAX + 1);
  size_t len = 0;
  out[0] = '\0';
  for (size_t i = 0; i < n->n_ports; i++) {
    const struct nsbox_port *p = &n->ports[i];
    char ip[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &p->host_ip, ip, sizeof(ip));
    len += (size_t)snprintf(out + len, ITEM_MAX + 1, "%s%s:%u->%u/%s", i ? ", " : "", ip,
                            p->host_port, p->ctr_port, portspec_proto_name(p->proto));
  }
  return out;
}

/* The whole config, for what the record in container_info lacks (the ports). A record that
 * does not read costs its row those columns and a notice, not the listing; one removed
 * since it was listed costs nothing. */
static bool load_config(struct nsbox_store *s, const struct container_info *ci,
                        struct nsbox_config *c) {
  nsbox_error_t err = {0};
  memset(c, 0, sizeof(*c));
  if (container_load_config(s, ci->id, c, &err) == 0)
    return true;
  if (err.errnum != ENOENT)
    nsbox_print_error(&err);
  return false;
}

enum { COL_ID, COL_NAME, COL_IMAGE, COL_COMMAND, COL_CREATED, COL_STATUS, COL_PORTS, N_COLS };

/* The table is printed once all its rows are known, each column as wide as its widest cell
 * (as docker's tabwriter does), so that a long name or status does not break the alignment. */
struct ps_table {
  char *(*rows)[N_COLS]; /* each cell malloc'd */
  size_t n;
};

static char **table_add(struct ps_table *t) {
  t->rows = xrealloc(t->rows, (t->n + 1) * sizeof(*t->rows));
  return t->rows[t->n++];
}

static void table_add_header(struct ps_table *t) {
  static const char *const names[N_COLS] = {"CONTAINER ID", "NAME",   "IMAGE", "COMMAND",
                                            "CREATED",      "STATUS", "PORTS"};
  char **row = table_add(t);
  for (int i = 0; i < N_COLS; i++)
    row[i] = xstrdup(names[i]);
}

static void table_add_container(struct ps_table *t, const struct container_info *ci,
                                const struct nsbox_config *c, const char *status) {
  char created[48];
  format_ago(ci->created, created, sizeof(created));
  const char *cmd = ci->command ? ci->command : "";
  char **row = table_add(t);
  row[COL_ID] = xstrndup(ci->id, 12);
  row[COL_NAME] = xstrdup(ci->name ? ci->name : "");
  row[COL_IMAGE] = xstrdup(ci->image && *ci->image ? ci->image : "(rootfs)");
  row[COL_COMMAND] = xasprintf("\"%.20s%s\"", cmd, strlen(cmd) > 20 ? "…" : "");
  row[COL_CREATED] = xstrdup(created);
  row[COL_STATUS] = xstrdup(status);
  row[COL_PORTS] = c ? ports_text(&c->net) : xstrdup("");
}

/* Columns on the terminal: UTF-8 continuation bytes take none (the command's "…"). */
static size_t text_width(const char *s) {
  size_t n = 0;
  for (; *s; s++)
    n += ((unsigned char)*s & 0xc0) != 0x80;
  return n;
}

static void table_print_free(struct ps_table *t) {
  size_t width[N_COLS] = {0};
  for (size_t r = 0; r < t->n; r++)
    for (int i = 0; i < N_COLS; i++)
      if (text_width(t->rows[r][i]) > width[i])
        width[i] = text_width(t->rows[r][i]);
  for (size_t r = 0; r < t->n; r++) {
    /* The last cells are often empty (no ports): no trailing blanks for them. */
    int last = N_COLS - 1;
    while (last > 0 && t->rows[r][last][0] == '\0')
      last--;
    for (int i = 0; i <= last; i++)
      printf("%s%*s", t->rows[r][i], i < last ? (int)(width[i] - text_width(t->rows[r][i]) + 3) : 0,
             "");
    putchar('\n');
    for (int i = 0; i < N_COLS; i++)
      free(t->rows[r][i]);
  }
  free(t->rows);
  *t = (struct ps_table){0};
}

/* podman's `ps --format json` object; c is NULL when the config could not be read. */
static void put_json(struct jsonw *w, const struct container_info *ci, const struct nsbox_config *c,
                     const char *status) {
  jsonw_obj_open(w);
  jsonw_kv_str(w, "Id", ci->id);
  char *names[] = {ci->name ? ci->name : "", NULL};
  jsonw_kv_strv(w, "Names", names);
  jsonw_kv_str(w, "Image", ci->image ? ci->image : "");
  jsonw_kv_str(w, "ImageID", ci->image_id ? ci->image_id : "");
  jsonw_kv_strv(w, "Command", c ? c->process.args : NULL);
  jsonw_kv_i64(w, "Created", ci->created);
  char created[32];
  jsonw_kv_str(w, "CreatedAt", format_rfc3339(ci->created, created, sizeof(created)));
  jsonw_kv_str(w, "State", container_status_name(ci->status));
  jsonw_kv_str(w, "Status", status);
  jsonw_kv_i64(w, "ExitCode", ci->status == CT_EXITED ? ci->exit_code : 0);
  jsonw_kv_i64(w, "Pid", ci->status == CT_RUNNING ? ci->pid : 0);
  jsonw_key(w, "Ports");
  jsonw_arr_open(w);
  for (size_t i = 0; c && i < c->net.n_ports; i++) {
    const struct nsbox_port *p = &c->net.ports[i];
    char ip[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &p->host_ip, ip, sizeof(ip));
    jsonw_obj_open(w);
    jsonw_kv_str(w, "host_ip", ip);
    jsonw_kv_u64(w, "host_port", p->host_port);
    jsonw_kv_u64(w, "container_port", p->ctr_port);
    jsonw_kv_str(w, "protocol", portspec_proto_name(p->proto));
    jsonw_obj_close(w);
  }
  jsonw_arr_close(w);
  jsonw_obj_close(w);
}

struct ps_opts {
  bool all, quiet, json;
};

/* Returns 0, or the exit status of a usage error. */
static int parse_ps_opts(int argc, char **argv, struct ps_opts *o) {
  static const struct option opts[] = {{"all", no_argument, NULL, 'a'},
                                       {"quiet", no_argument, NULL, 'q'},
                                       {"format", required_argument, NULL, 'F'},
                                       {0}};
  *o = (struct ps_opts){0};
  opterr = 0;
  int c;
  /* ':' first: a --format without its value is told apart from an unknown option. */
  while ((c = getopt_long(argc, argv, "+:aq", opts, NULL)) != -1) {
    if (c == 'a') {
      o->all = true;
    } else if (c == 'q') {
      o->quiet = true;
    } else if (c == 'F') {
      if (strcmp(optarg, "json") != 0 && strcmp(optarg, "table") != 0)
        return cli_usage_error("ps: unknown --format \"%s\" (json or table)", optarg);
      o->json = strcmp(optarg, "json") == 0;
    } else if (c == ':') {
      return cli_usage_error("ps: %s needs a value", argv[optind - 1]);
    } else {
      return cli_usage_error("ps: unknown option %s", argv[optind - 1]);
    }
  }
  if (optind != argc)
    return cli_usage_error("usage: nsbox ps [-a] [-q] [--format json]");
  return 0;
}

/* A row or a JSON object for one container. Only this needs the config: ps -q, which scripts
 * call in loops, reads none. */
static void list_one(struct nsbox_store *s, const struct container_info *ci, bool json,
                     struct ps_table *t, struct jsonw *w) {
  struct nsbox_config c;
  bool have = load_config(s, ci, &c);
  char status[64];
  status_text(ci, status, sizeof(status));
  if (json)
    put_json(w, ci, have ? &c : NULL, status);
  else
    table_add_container(t, ci, have ? &c : NULL, status);
  if (have)
    config_json_free(&c);
}

int cmd_ps(const struct cli_globals *g, int argc, char **argv) {
  struct ps_opts o;
  int r = parse_ps_opts(argc, argv, &o);
  if (r != 0)
    return r;
  struct nsbox_store s;
  nsbox_error_t err = {0};
  struct container_info *v = NULL;
  size_t n = 0;
  if (store_open(&s, g->root, &err) < 0 || container_list(&s, &v, &n, &err) < 0) {
    nsbox_print_error(&err);
    return 125;
  }
  struct ps_table t = {0};
  struct jsonw w;
  jsonw_init(&w, true);
  if (o.json)
    jsonw_arr_open(&w);
  else if (!o.quiet)
    table_add_header(&t);
  for (size_t i = 0; i < n; i++) {
    const struct container_info *ci = &v[i];
    if (ci->remove && ci->status == CT_UNKNOWN && ci->monitor == 0) {
      /* A --rm container whose nsbox run was killed: finish what --rm promised. */
      nsbox_error_t ignored = {0};
      container_remove(&s, ci->id, &ignored);
    } else if (o.all || ci->status == CT_RUNNING) {
      if (o.quiet)
        printf("%.12s\n", ci->id);
      else
        list_one(&s, ci, o.json, &t, &w);
    }
    container_info_free(&v[i]);
  }
  free(v);
  if (o.quiet)
    return 0;
  if (!o.json) {
    table_print_free(&t);
    return 0;
  }
  jsonw_arr_close(&w);
  cleanup_free char *text = jsonw_finish(&w);
  fputs(text, stdout);
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
    /* Under the container's lock, its state looked at again: a `start` in progress ends
     * first (a half-removed container without its dir is removed without the lock). */
    nsbox_error_t ignored = {0};
    cleanup_close int lock = container_lock(&s, ci.id, &ignored);
    char id[65];
    memcpy(id, ci.id, sizeof(id));
    container_info_free(&ci);
    if (container_find(&s, id, &ci, &err) < 0) {
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
