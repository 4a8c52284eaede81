/* See config_json.h. A writer and a reader per part of the config (process, root, mounts,
 * network, resources, security); the reader's few typed getters name the member in every
 * error, so a damaged record says where it is damaged. */
#include "config_json.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "jsonw.h"
#include "network.h"
#include "util.h"

static const char *const seccomp_modes[] = {
    [SECCOMP_DEFAULT] = "default",
    [SECCOMP_UNCONFINED] = "unconfined",
    [SECCOMP_PROFILE] = "profile",
};
static const char *const mount_kinds[] = {[MOUNT_BIND] = "bind", [MOUNT_TMPFS] = "tmpfs"};

/* OCI's names for process.rlimits[].type. The numbers differ between architectures, so a
 * name is what the record keeps; a resource without one is kept as its number. */
#define R_(r)                                                                                      \
  { #r, r }
static const struct {
  const char *name;
  int resource;
} rlimit_names[] = {
    R_(RLIMIT_CPU),      R_(RLIMIT_FSIZE), R_(RLIMIT_DATA),   R_(RLIMIT_STACK),
    R_(RLIMIT_CORE),     R_(RLIMIT_RSS),   R_(RLIMIT_NPROC),  R_(RLIMIT_NOFILE),
    R_(RLIMIT_MEMLOCK),  R_(RLIMIT_AS),    R_(RLIMIT_LOCKS),  R_(RLIMIT_SIGPENDING),
    R_(RLIMIT_MSGQUEUE), R_(RLIMIT_NICE),  R_(RLIMIT_RTPRIO), R_(RLIMIT_RTTIME),
};

/* table[v], or NULL (written as null) for a value the table does not have. */
#define NAME_OF(table, v) ((size_t)(v) < ARRAY_SIZE(table) ? (table)[v] : NULL)

/* ---- writing ------------------------------------------------------------------------------ */

/* Unlike jsonw_kv_strv, NULL stays null, so that a NULL list reads back as NULL. */
static void put_strv(struct jsonw *w, const char *key, char **v) {
  if (v) {
    jsonw_kv_strv(w, key, v);
  } else {
    jsonw_key(w, key);
    jsonw_null(w);
  }
}

static void put_rlimit(struct jsonw *w, const struct nsbox_rlimit *r) {
  const char *name = NULL;
  for (size_t i = 0; i < ARRAY_SIZE(rlimit_names) && !name; i++)
    if (rlimit_names[i].resource == r->resource)
      name = rlimit_names[i].name;
  jsonw_obj_open(w);
  if (name)
    jsonw_kv_str(w, "type", name);
  else
    jsonw_kv_i64(w, "type", r->resource);
  jsonw_kv_u64(w, "soft", r->limit.rlim_cur);
  jsonw_kv_u64(w, "hard", r->limit.rlim_max);
  jsonw_obj_close(w);
}

static void put_process(struct jsonw *w, const struct nsbox_process *p) {
  jsonw_key(w, "process");
  jsonw_obj_open(w);
  put_strv(w, "args", p->args);
  put_strv(w, "env", p->env);
  jsonw_kv_str(w, "cwd", p->cwd);
  jsonw_kv_str(w, "user", p->user);
  jsonw_kv_bool(w, "noInit", p->no_init);
  jsonw_kv_bool(w, "terminal", p->terminal);
  jsonw_kv_bool(w, "openStdin", p->open_stdin);
  jsonw_key(w, "consoleSize");
  jsonw_obj_open(w);
  jsonw_kv_u64(w, "height", p->console_rows);
  jsonw_kv_u64(w, "width", p->console_cols);
  jsonw_obj_close(w);
  jsonw_key(w, "rlimits");
  jsonw_arr_open(w);
  for (size_t i = 0; i < p->n_rlimits; i++)
    put_rlimit(w, &p->rlimits[i]);
  jsonw_arr_close(w);
  jsonw_obj_close(w);
}

static void put_root(struct jsonw *w, const struct nsbox_root *r) {
  jsonw_key(w, "root");
  jsonw_obj_open(w);
  put_strv(w, "lowerdirs", r->lowerdirs);
  jsonw_kv_str(w, "upperdir", r->upperdir);
  jsonw_kv_str(w, "workdir", r->workdir);
  jsonw_kv_str(w, "mergeddir", r->mergeddir);
  jsonw_kv_str(w, "path", r->path);
  jsonw_kv_str(w, "imageFile", r->image_file);
  jsonw_kv_str(w, "imageDir", r->image_dir);
  jsonw_kv_bool(w, "imageFileWritable", r->image_rw);
  jsonw_kv_bool(w, "readonly", r->readonly);
  jsonw_obj_close(w);
}

static void put_mounts(struct jsonw *w, const struct nsbox_mount *m, size_t n) {
  jsonw_key(w, "mounts");
  jsonw_arr_open(w);
  for (size_t i = 0; i < n; i++) {
    jsonw_obj_open(w);
    jsonw_kv_str(w, "type", NAME_OF(mount_kinds, m[i].kind));
    jsonw_kv_str(w, "source", m[i].source);
    jsonw_kv_str(w, "destination", m[i].destination);
    jsonw_kv_bool(w, "readonly", m[i].readonly);
    jsonw_kv_str(w, "options", m[i].options);
    jsonw_obj_close(w);
  }
  jsonw_arr_close(w);
}

static void put_network(struct jsonw *w, const struct nsbox_network *n) {
  jsonw_key(w, "network");
  jsonw_obj_open(w);
  jsonw_kv_str(w, "mode", NAME_OF(network_mode_names, n->mode));
  jsonw_kv_bool(w, "modeGiven", n->mode_given);
  jsonw_kv_bool(w, "allowHostLoopback", n->allow_host_loopback);
  jsonw_kv_str(w, "bridge", n->bridge);
  jsonw_key(w, "ports");
  jsonw_arr_open(w);
  for (size_t i = 0; i < n->n_ports; i++) {
    char spec[64];
    portspec_format(&n->ports[i], spec, sizeof(spec));
    jsonw_str(w, spec);
  }
  jsonw_arr_close(w);
  put_strv(w, "dns", n->dns);
  jsonw_key(w, "hosts");
  jsonw_arr_open(w);
  for (size_t i = 0; i < n->n_hosts; i++) {
    jsonw_obj_open(w);
    jsonw_kv_str(w, "name", n->hosts[i].name);
    jsonw_kv_str(w, "addr", n->hosts[i].addr);
    jsonw_obj_close(w);
  }
  jsonw_arr_close(w);
  jsonw_obj_close(w);
}

static void put_resources(struct jsonw *w, const struct nsbox_resources *r) {
  jsonw_key(w, "resources");
  jsonw_obj_open(w);
  jsonw_kv_i64(w, "memory", r->memory);
  jsonw_kv_i64(w, "memorySwap", r->memory_swap);
  jsonw_kv_u64(w, "cpuQuota", r->cpu_quota);
  jsonw_kv_u64(w, "cpuPeriod", r->cpu_period);
  jsonw_kv_u64(w, "cpuWeight", r->cpu_weight);
  jsonw_kv_u64(w, "cpuShares", r->cpu_shares);
  jsonw_kv_i64(w, "pidsLimit", r->pids_limit);
  jsonw_obj_close(w);
}

static void put_security(struct jsonw *w, const struct nsbox_security *s) {
  jsonw_key(w, "security");
  jsonw_obj_open(w);
  jsonw_kv_str(w, "seccomp", NAME_OF(seccomp_modes, s->seccomp));
  jsonw_kv_str(w, "seccompProfile", s->seccomp_profile);
  jsonw_kv_u64(w, "capBounding", s->cap_bounding);
  jsonw_kv_u64(w, "capAdded", s->cap_added);
  jsonw_kv_bool(w, "noNewPrivileges", s->no_new_privs);
  jsonw_obj_close(w);
}

char *config_to_json(const struct nsbox_config *c, int64_t created) {
  struct jsonw w;
  jsonw_init(&w, true);
  jsonw_obj_open(&w);
  jsonw_kv_str(&w, "id", c->id);
  jsonw_kv_i64(&w, "created", created);
  jsonw_kv_str(&w, "name", c->name);
  jsonw_kv_bool(&w, "autoName", c->auto_name);
  jsonw_kv_str(&w, "image", c->image);
  jsonw_kv_str(&w, "imageId", c->image_id);
  put_process(&w, &c->process);
  put_root(&w, &c->root);
  put_mounts(&w, c->mounts, c->n_mounts);
  jsonw_kv_str(&w, "hostname", c->hostname);
  put_network(&w, &c->net);
  put_resources(&w, &c->resources);
  put_security(&w, &c->security);
  jsonw_kv_bool(&w, "remove", c->remove);
  jsonw_kv_i64(&w, "stopSignal", c->stop_signal);
  jsonw_kv_i64(&w, "stopTimeout", c->stop_timeout);
  jsonw_obj_close(&w);
  return jsonw_finish(&w);
}

/* ---- reading ------------------------------------------------------------------------------ */

/* A string of the record fit for a one-line message: at most 32 bytes, no control chars. */
static const char *quoted(const char *s, char buf[48]) {
  return json_quote_for_message(s, 32, buf, 48);
}

static int get_int(const struct json_value *obj, const char *path, const char *key, int *out,
                   nsbox_error_t *err) {
  int64_t v;
  if (json_get_i64(obj, path, key, INT_MIN, INT_MAX, &v, err) < 0)
    return -1;
  *out = (int)v;
  return 0;
}

/* The index of the name in table; absent or null reads as 0, the enum's default. */
static int get_enum(const struct json_value *obj, const char *path, const char *key,
                    const char *const *table, size_t n, int *out, nsbox_error_t *err) {
  const struct json_value *v;
  const char *s;
  *out = 0;
  if (json_get_typed(obj, path, key, JSON_STRING, "a string", &v, err) < 0)
    return -1;
  if (v == NULL)
    return 0;
  if (json_text_of(v, path, key, &s, err) < 0)
    return -1;
  for (size_t i = 0; i < n; i++) {
    if (table[i] && strcmp(table[i], s) == 0) {
      *out = (int)i;
      return 0;
    }
  }
  char q[48];
  return json_bad(err, path, key, "unknown value %s", quoted(s, q));
}

/* An array whose items are all objects; *out NULL when absent or null. */
static int get_objects(const struct json_value *obj, const char *path, const char *key,
                       const struct json_value **out, nsbox_error_t *err) {
  if (json_get_typed(obj, path, key, JSON_ARRAY, "an array of objects", out, err) < 0)
    return -1;
  for (size_t i = 0; *out && i < (*out)->u.arr.n; i++) {
    if ((*out)->u.arr.items[i].type != JSON_OBJECT) {
      char p[160];
      json_item_path(p, sizeof(p), path, key, i);
      return json_bad(err, p, NULL, "expected an object, not %s",
                      json_type_name((*out)->u.arr.items[i].type));
    }
  }
  return 0;
}

/* process.rlimits[i].type: an OCI name ("RLIMIT_NOFILE") or a number. */
static int get_rlimit_type(const struct json_value *r, const char *path, int *out,
                           nsbox_error_t *err) {
  const struct json_value *v = json_get(r, "type");
  const char *s;
  if (v == NULL)
    return json_bad(err, path, NULL, "no \"type\"");
  if (v->type == JSON_NUMBER)
    return get_int(r, path, "type", out, err);
  if (json_text_of(v, path, "type", &s, err) < 0)
    return -1;
  for (size_t i = 0; i < ARRAY_SIZE(rlimit_names); i++) {
    if (strcmp(rlimit_names[i].name, s) == 0) {
      *out = rlimit_names[i].resource;
      return 0;
    }
  }
  char q[48];
  return json_bad(err, path, "type", "unknown resource %s", quoted(s, q));
}

static int read_rlimits(const struct json_value *proc, struct nsbox_process *p,
                        nsbox_error_t *err) {
  const struct json_value *a;
  if (get_objects(proc, "process", "rlimits", &a, err) < 0)
    return -1;
  if (a == NULL || a->u.arr.n == 0)
    return 0;
  p->rlimits = xmalloc(a->u.arr.n * sizeof(*p->rlimits));
  for (size_t i = 0; i < a->u.arr.n; i++) {
    const struct json_value *r = &a->u.arr.items[i];
    struct nsbox_rlimit *rl = &p->rlimits[i];
    char path[64];
    uint64_t soft, hard;
    json_item_path(path, sizeof(path), "process", "rlimits", i);
    if (get_rlimit_type(r, path, &rl->resource, err) < 0 ||
        json_get_u64(r, path, "soft", UINT64_MAX, &soft, err) < 0 ||
        json_get_u64(r, path, "hard", UINT64_MAX, &hard, err) < 0)
      return -1;
    rl->limit = (struct rlimit){.rlim_cur = soft, .rlim_max = hard};
    p->n_rlimits = i + 1;
  }
  return 0;
}

static int read_console_size(const struct json_value *proc, struct nsbox_process *p,
                             nsbox_error_t *err) {
  const struct json_value *cs;
  uint64_t rows, cols;
  if (json_get_typed(proc, "process", "consoleSize", JSON_OBJECT, "an object", &cs, err) < 0)
    return -1;
  if (json_get_u64(cs, "process.consoleSize", "height", USHRT_MAX, &rows, err) < 0 ||
      json_get_u64(cs, "process.consoleSize", "width", USHRT_MAX, &cols, err) < 0)
    return -1;
  p->console_rows = (unsigned short)rows;
  p->console_cols = (unsigned short)cols;
  return 0;
}

static int read_process(const struct json_value *top, struct nsbox_process *p, nsbox_error_t *err) {
  const struct json_value *o;
  const char *path = "process";
  if (json_get_typed(top, "", path, JSON_OBJECT, "an object", &o, err) < 0)
    return -1;
  if (json_get_strv(o, path, "args", &p->args, err) < 0 ||
      json_get_strv(o, path, "env", &p->env, err) < 0 ||
      json_get_str(o, path, "cwd", &p->cwd, err) < 0 ||
      json_get_str(o, path, "user", &p->user, err) < 0 ||
      json_get_bool(o, path, "noInit", &p->no_init, err) < 0 ||
      json_get_bool(o, path, "terminal", &p->terminal, err) < 0 ||
      json_get_bool(o, path, "openStdin", &p->open_stdin, err) < 0 ||
      read_console_size(o, p, err) < 0 || read_rlimits(o, p, err) < 0)
    return -1;
  return 0;
}

static int read_root(const struct json_value *top, struct nsbox_root *r, nsbox_error_t *err) {
  const struct json_value *o;
  const char *path = "root";
  if (json_get_typed(top, "", path, JSON_OBJECT, "an object", &o, err) < 0)
    return -1;
  if (json_get_strv(o, path, "lowerdirs", &r->lowerdirs, err) < 0 ||
      json_get_str(o, path, "upperdir", &r->upperdir, err) < 0 ||
      json_get_str(o, path, "workdir", &r->workdir, err) < 0 ||
      json_get_str(o, path, "mergeddir", &r->mergeddir, err) < 0 ||
      json_get_str(o, path, "path", &r->path, err) < 0 ||
      json_get_str(o, path, "imageFile", &r->image_file, err) < 0 ||
      json_get_str(o, path, "imageDir", &r->image_dir, err) < 0 ||
      json_get_bool(o, path, "imageFileWritable", &r->image_rw, err) < 0 ||
      json_get_bool(o, path, "readonly", &r->readonly, err) < 0)
    return -1;
  return 0;
}

static void mount_clear(struct nsbox_mount *m) {
  free(m->source);
  free(m->destination);
  free(m->options);
}

static int read_mount(const struct json_value *o, const char *path, struct nsbox_mount *m,
                      nsbox_error_t *err) {
  int kind;
  if (get_enum(o, path, "type", mount_kinds, ARRAY_SIZE(mount_kinds), &kind, err) < 0 ||
      json_get_str(o, path, "source", &m->source, err) < 0 ||
      json_get_str(o, path, "destination", &m->destination, err) < 0 ||
      json_get_bool(o, path, "readonly", &m->readonly, err) < 0 ||
      json_get_str(o, path, "options", &m->options, err) < 0)
    return -1;
  m->kind = (enum nsbox_mount_kind)kind;
  return 0;
}

/* Each item is read whole into a local before it joins c->mounts, so that what
 * config_json_free() sees is always complete. The same holds for the hosts below. */
static int read_mounts(const struct json_value *top, struct nsbox_config *c, nsbox_error_t *err) {
  const struct json_value *a;
  if (get_objects(top, "", "mounts", &a, err) < 0)
    return -1;
  if (a == NULL || a->u.arr.n == 0)
    return 0;
  c->mounts = xmalloc(a->u.arr.n * sizeof(*c->mounts));
  for (size_t i = 0; i < a->u.arr.n; i++) {
    struct nsbox_mount m = {0};
    char path[64];
    json_item_path(path, sizeof(path), "", "mounts", i);
    if (read_mount(&a->u.arr.items[i], path, &m, err) < 0) {
      mount_clear(&m);
      return -1;
    }
    c->mounts[c->n_mounts++] = m;
  }
  return 0;
}

static int read_ports(const struct json_value *o, struct nsbox_network *n, nsbox_error_t *err) {
  __attribute__((cleanup(strv_freep))) char **specs = NULL;
  if (json_get_strv(o, "network", "ports", &specs, err) < 0)
    return -1;
  size_t count = 0;
  while (specs && specs[count])
    count++;
  if (count == 0)
    return 0;
  n->ports = xmalloc(count * sizeof(*n->ports));
  for (size_t i = 0; i < count; i++) {
    char why[160], path[64];
    if (portspec_parse(specs[i], &n->ports[i], why, sizeof(why)) < 0) {
      json_item_path(path, sizeof(path), "network", "ports", i);
      return json_bad(err, path, NULL, "%s", why);
    }
    n->n_ports = i + 1;
  }
  return 0;
}

static void host_clear(struct nsbox_host_entry *h) {
  free(h->name);
  free(h->addr);
}

static int read_hosts(const struct json_value *o, struct nsbox_network *n, nsbox_error_t *err) {
  const struct json_value *a;
  if (get_objects(o, "network", "hosts", &a, err) < 0)
    return -1;
  if (a == NULL || a->u.arr.n == 0)
    return 0;
  n->hosts = xmalloc(a->u.arr.n * sizeof(*n->hosts));
  for (size_t i = 0; i < a->u.arr.n; i++) {
    struct nsbox_host_entry h = {0};
    char path[64];
    json_item_path(path, sizeof(path), "network", "hosts", i);
    if (json_get_str(&a->u.arr.items[i], path, "name", &h.name, err) < 0 ||
        json_get_str(&a->u.arr.items[i], path, "addr", &h.addr, err) < 0) {
      host_clear(&h);
      return -1;
    }
    n->hosts[n->n_hosts++] = h;
  }
  return 0;
}

static int read_network(const struct json_value *top, struct nsbox_network *n, nsbox_error_t *err) {
  const struct json_value *o;
  const char *path = "network";
  int mode;
  if (json_get_typed(top, "", path, JSON_OBJECT, "an object", &o, err) < 0)
    return -1;
  if (get_enum(o, path, "mode", network_mode_names, ARRAY_SIZE(network_mode_names), &mode, err) <
          0 ||
      json_get_bool(o, path, "modeGiven", &n->mode_given, err) < 0 ||
      json_get_bool(o, path, "allowHostLoopback", &n->allow_host_loopback, err) < 0 ||
      json_get_str(o, path, "bridge", &n->bridge, err) < 0 || read_ports(o, n, err) < 0 ||
      json_get_strv(o, path, "dns", &n->dns, err) < 0 || read_hosts(o, n, err) < 0)
    return -1;
  n->mode = (enum nsbox_network_mode)mode;
  return 0;
}

static int read_resources(const struct json_value *top, struct nsbox_resources *r,
                          nsbox_error_t *err) {
  const struct json_value *o;
  const char *path = "resources";
  if (json_get_typed(top, "", path, JSON_OBJECT, "an object", &o, err) < 0)
    return -1;
  if (json_get_i64(o, path, "memory", INT64_MIN, INT64_MAX, &r->memory, err) < 0 ||
      json_get_i64(o, path, "memorySwap", INT64_MIN, INT64_MAX, &r->memory_swap, err) < 0 ||
      json_get_u64(o, path, "cpuQuota", UINT64_MAX, &r->cpu_quota, err) < 0 ||
      json_get_u64(o, path, "cpuPeriod", UINT64_MAX, &r->cpu_period, err) < 0 ||
      json_get_u64(o, path, "cpuWeight", UINT64_MAX, &r->cpu_weight, err) < 0 ||
      json_get_u64(o, path, "cpuShares", UINT64_MAX, &r->cpu_shares, err) < 0 ||
      json_get_i64(o, path, "pidsLimit", INT64_MIN, INT64_MAX, &r->pids_limit, err) < 0)
    return -1;
  return 0;
}

static int read_security(const struct json_value *top, struct nsbox_security *s,
                         nsbox_error_t *err) {
  const struct json_value *o;
  const char *path = "security";
  int mode;
  if (json_get_typed(top, "", path, JSON_OBJECT, "an object", &o, err) < 0)
    return -1;
  if (get_enum(o, path, "seccomp", seccomp_modes, ARRAY_SIZE(seccomp_modes), &mode, err) < 0 ||
      json_get_str(o, path, "seccompProfile", &s->seccomp_profile, err) < 0 ||
      json_get_u64(o, path, "capBounding", UINT64_MAX, &s->cap_bounding, err) < 0 ||
      json_get_u64(o, path, "capAdded", UINT64_MAX, &s->cap_added, err) < 0 ||
      json_get_bool(o, path, "noNewPrivileges", &s->no_new_privs, err) < 0)
    return -1;
  s->seccomp = (enum nsbox_seccomp_mode)mode;
  return 0;
}

static int read_id(const struct json_value *top, char id[65], nsbox_error_t *err) {
  cleanup_free char *s = NULL;
  if (json_get_str(top, "", "id", &s, err) < 0)
    return -1;
  if (s && strlen(s) > 64)
    return json_bad(err, "", "id", "expected at most 64 characters");
  snprintf(id, 65, "%s", s ? s : "");
  return 0;
}

static int read_config(const struct json_value *top, struct nsbox_config *c, int64_t *created,
                       nsbox_error_t *err) {
  if (top->type != JSON_OBJECT)
    return nsbox_fail(err, 0, "expected an object, not %s", json_type_name(top->type));
  if (read_id(top, c->id, err) < 0 ||
      json_get_i64(top, "", "created", INT64_MIN, INT64_MAX, created, err) < 0 ||
      json_get_str(top, "", "name", &c->name, err) < 0 ||
      json_get_bool(top, "", "autoName", &c->auto_name, err) < 0 ||
      json_get_str(top, "", "image", &c->image, err) < 0 ||
      json_get_str(top, "", "imageId", &c->image_id, err) < 0 ||
      read_process(top, &c->process, err) < 0 || read_root(top, &c->root, err) < 0 ||
      read_mounts(top, c, err) < 0 || json_get_str(top, "", "hostname", &c->hostname, err) < 0 ||
      read_network(top, &c->net, err) < 0 || read_resources(top, &c->resources, err) < 0 ||
      read_security(top, &c->security, err) < 0 ||
      json_get_bool(top, "", "remove", &c->remove, err) < 0 ||
      get_int(top, "", "stopSignal", &c->stop_signal, err) < 0 ||
      get_int(top, "", "stopTimeout", &c->stop_timeout, err) < 0)
    return -1;
  return 0;
}

int config_from_json(const char *text, size_t len, struct nsbox_config *c, int64_t *created,
                     nsbox_error_t *err) {
  struct json_value top;
  int64_t t = 0;
  memset(c, 0, sizeof(*c));
  if (created)
    *created = 0;
  if (json_parse(text, len, &top, err) < 0)
    return nsbox_wrap(err, "config.json");
  int r = read_config(&top, c, &t, err);
  json_free(&top);
  if (r < 0) {
    config_json_free(c);
    return nsbox_wrap(err, "config.json");
  }
  if (created)
    *created = t;
  return 0;
}

void config_json_free(struct nsbox_config *c) {
  free(c->name);
  free(c->image);
  free(c->image_id);
  strv_free(c->process.args);
  strv_free(c->process.env);
  free(c->process.cwd);
  free(c->process.user);
  free(c->process.rlimits);
  strv_free(c->root.lowerdirs);
  free(c->root.upperdir);
  free(c->root.workdir);
  free(c->root.mergeddir);
  free(c->root.path);
  free(c->root.image_file);
  free(c->root.image_dir);
  for (size_t i = 0; i < c->n_mounts; i++)
    mount_clear(&c->mounts[i]);
  free(c->mounts);
  free(c->hostname);
  free(c->net.bridge);
  free(c->net.ports);
  strv_free(c->net.dns);
  for (size_t i = 0; i < c->net.n_hosts; i++)
    host_clear(&c->net.hosts[i]);
  free(c->net.hosts);
  free(c->security.seccomp_profile);
  memset(c, 0, sizeof(*c));
}
