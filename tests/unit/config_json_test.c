/* Unit tests of the JSON writer (runtime/jsonw.c) and the container's record
 * (runtime/config_json.c): escaping that always parses back, commas and indentation, a full
 * config that survives the round trip field by field, and errors that name the member. */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "../../runtime/config_json.h"
#include "../../runtime/json.h"
#include "../../runtime/jsonw.h"
#include "../../runtime/util.h"

#include "check.h"
#include "tests.h"

/* The text of w, which must parse back with json.c into *v. */
static char *finish_and_parse(struct jsonw *w, struct json_value *v) {
  char *text = jsonw_finish(w);
  nsbox_error_t err = {0};
  int r = json_parse(text, strlen(text), v, &err);
  CHECK(r == 0);
  if (r < 0)
    printf("  %s\n  in: %s\n", err.msg, text);
  return text;
}

static bool is_type(const struct json_value *v, enum json_type t) {
  return v && v->type == t;
}

static bool str_is(const struct json_value *v, const char *s, size_t len) {
  return v && v->type == JSON_STRING && v->u.str.len == len && memcmp(v->u.str.s, s, len) == 0;
}

static void test_jsonw_escapes(void) {
  struct jsonw w;
  struct json_value v;

  jsonw_init(&w, false);
  jsonw_obj_open(&w);
  jsonw_kv_str(&w, "q\"b\\s", "a\nb\tc\x01\x1f\b\f\r/");
  jsonw_obj_close(&w);
  char *text = finish_and_parse(&w, &v);
  CHECK(strcmp(text, "{\"q\\\"b\\\\s\":\"a\\nb\\tc\\u0001\\u001f\\b\\f\\r/\"}") == 0);
  CHECK(str_is(json_get(&v, "q\"b\\s"), "a\nb\tc\x01\x1f\b\f\r/", 11));
  json_free(&v);
  free(text);

  /* Valid UTF-8 is kept; each byte that is not (a stray continuation, a surrogate, a cut
   * sequence, an overlong form) becomes U+FFFD, and the text parses. */
  jsonw_init(&w, false);
  jsonw_str(&w, "\xff ok \xc3\xa9 \xf0\x9f\x98\x80 \xed\xa0\x80 \xc0\xaf \xc3");
  text = finish_and_parse(&w, &v);
  const char want[] = "\xef\xbf\xbd ok \xc3\xa9 \xf0\x9f\x98\x80 "
                      "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd \xef\xbf\xbd";
  CHECK(str_is(&v, want, sizeof(want) - 1));
  json_free(&v);
  free(text);

  /* strn: a NUL of its own is escaped, and only len bytes are taken. */
  jsonw_init(&w, false);
  jsonw_arr_open(&w);
  jsonw_strn(&w, "a\0b", 3);
  jsonw_strn(&w, "abcdef", 2);
  jsonw_str(&w, NULL);
  jsonw_arr_close(&w);
  text = finish_and_parse(&w, &v);
  CHECK(strcmp(text, "[\"a\\u0000b\",\"ab\",null]") == 0);
  CHECK(v.type == JSON_ARRAY && v.u.arr.n == 3 && str_is(&v.u.arr.items[0], "a\0b", 3));
  json_free(&v);
  free(text);
}

static void test_jsonw_nesting(void) {
  struct jsonw w;
  struct json_value v;
  char *strv[] = {"x", "y", NULL};

  jsonw_init(&w, false);
  jsonw_obj_open(&w);
  jsonw_key(&w, "a");
  jsonw_arr_open(&w);
  jsonw_i64(&w, 1);
  jsonw_i64(&w, -2);
  jsonw_obj_open(&w);
  jsonw_kv_bool(&w, "b", true);
  jsonw_key(&w, "c");
  jsonw_null(&w);
  jsonw_obj_close(&w);
  jsonw_arr_open(&w);
  jsonw_arr_close(&w);
  jsonw_arr_close(&w);
  jsonw_key(&w, "d");
  jsonw_obj_open(&w);
  jsonw_obj_close(&w);
  jsonw_kv_u64(&w, "u", UINT64_MAX);
  jsonw_kv_i64(&w, "i", INT64_MIN);
  jsonw_kv_strv(&w, "s", strv);
  jsonw_kv_strv(&w, "n", NULL);
  jsonw_obj_close(&w);
  char *text = finish_and_parse(&w, &v);
  CHECK(strcmp(text, "{\"a\":[1,-2,{\"b\":true,\"c\":null},[]],\"d\":{},"
                     "\"u\":18446744073709551615,\"i\":-9223372036854775808,"
                     "\"s\":[\"x\",\"y\"],\"n\":[]}") == 0);
  const struct json_value *a = json_get(&v, "a");
  uint64_t u = 0;
  int64_t i = 0;
  CHECK(a && a->type == JSON_ARRAY && a->u.arr.n == 4);
  CHECK(json_u64(json_get(&v, "u"), &u) == 0 && u == UINT64_MAX);
  CHECK(json_i64(json_get(&v, "i"), &i) == 0 && i == INT64_MIN);
  if (a && a->type == JSON_ARRAY && a->u.arr.n == 4) {
    CHECK(json_i64(&a->u.arr.items[1], &i) == 0 && i == -2);
    CHECK(is_type(json_get(&a->u.arr.items[2], "b"), JSON_BOOL));
    CHECK(is_type(json_get(&a->u.arr.items[2], "c"), JSON_NULL));
  }
  json_free(&v);
  free(text);

  /* Pretty: two spaces a level, empty containers on one line, a final newline. */
  jsonw_init(&w, true);
  jsonw_obj_open(&w);
  jsonw_key(&w, "a");
  jsonw_arr_open(&w);
  jsonw_i64(&w, 1);
  jsonw_obj_open(&w);
  jsonw_obj_close(&w);
  jsonw_obj_open(&w);
  jsonw_kv_str(&w, "k", "v");
  jsonw_obj_close(&w);
  jsonw_arr_close(&w);
  jsonw_kv_strv(&w, "e", NULL);
  jsonw_kv_bool(&w, "b", false);
  jsonw_obj_close(&w);
  text = finish_and_parse(&w, &v);
  CHECK(strcmp(text, "{\n  \"a\": [\n    1,\n    {},\n    {\n      \"k\": \"v\"\n    }\n  ],\n"
                     "  \"e\": [],\n  \"b\": false\n}\n") == 0);
  json_free(&v);
  free(text);

  /* A lone value; an unfinished writer is freed, a finished one has nothing left. */
  jsonw_init(&w, false);
  jsonw_str(&w, "x");
  text = jsonw_finish(&w);
  CHECK(strcmp(text, "\"x\"") == 0 && w.buf == NULL);
  jsonw_free(&w);
  free(text);
  jsonw_init(&w, true);
  jsonw_obj_open(&w);
  jsonw_free(&w);
  CHECK(w.buf == NULL);
}

/* ---- the record ------------------------------------------------------------------------ */

static bool same_str(const char *a, const char *b) {
  return a == b || (a && b && strcmp(a, b) == 0);
}

static bool same_strv(char **a, char **b) {
  if (a == NULL || b == NULL)
    return a == b;
  size_t i = 0;
  for (; a[i] && b[i]; i++)
    if (strcmp(a[i], b[i]) != 0)
      return false;
  return a[i] == b[i];
}

static void check_same_process(const struct nsbox_process *a, const struct nsbox_process *b) {
  CHECK(same_strv(a->args, b->args));
  CHECK(same_strv(a->env, b->env));
  CHECK(same_str(a->cwd, b->cwd));
  CHECK(same_str(a->user, b->user));
  CHECK(a->no_init == b->no_init && a->terminal == b->terminal);
  CHECK(a->open_stdin == b->open_stdin);
  CHECK(a->console_rows == b->console_rows && a->console_cols == b->console_cols);
  CHECK(a->n_rlimits == b->n_rlimits);
  for (size_t i = 0; i < a->n_rlimits && i < b->n_rlimits; i++) {
    CHECK(a->rlimits[i].resource == b->rlimits[i].resource);
    CHECK(a->rlimits[i].limit.rlim_cur == b->rlimits[i].limit.rlim_cur);
    CHECK(a->rlimits[i].limit.rlim_max == b->rlimits[i].limit.rlim_max);
  }
}

static void check_same_root_mounts(const struct nsbox_config *a, const struct nsbox_config *b) {
  CHECK(same_strv(a->root.lowerdirs, b->root.lowerdirs));
  CHECK(same_str(a->root.upperdir, b->root.upperdir));
  CHECK(same_str(a->root.workdir, b->root.workdir));
  CHECK(same_str(a->root.mergeddir, b->root.mergeddir));
  CHECK(same_str(a->root.path, b->root.path));
  CHECK(a->root.readonly == b->root.readonly);
  CHECK(a->n_mounts == b->n_mounts);
  for (size_t i = 0; i < a->n_mounts && i < b->n_mounts; i++) {
    CHECK(a->mounts[i].kind == b->mounts[i].kind);
    CHECK(same_str(a->mounts[i].source, b->mounts[i].source));
    CHECK(same_str(a->mounts[i].destination, b->mounts[i].destination));
    CHECK(a->mounts[i].readonly == b->mounts[i].readonly);
    CHECK(same_str(a->mounts[i].options, b->mounts[i].options));
  }
}

static void check_same_network(const struct nsbox_network *a, const struct nsbox_network *b) {
  CHECK(a->mode == b->mode && a->mode_given == b->mode_given);
  CHECK(a->allow_host_loopback == b->allow_host_loopback);
  CHECK(same_str(a->bridge, b->bridge));
  CHECK(a->n_ports == b->n_ports);
  for (size_t i = 0; i < a->n_ports && i < b->n_ports; i++) {
    CHECK(a->ports[i].proto == b->ports[i].proto);
    CHECK(a->ports[i].host_ip.s_addr == b->ports[i].host_ip.s_addr);
    CHECK(a->ports[i].host_port == b->ports[i].host_port);
    CHECK(a->ports[i].ctr_port == b->ports[i].ctr_port);
  }
  CHECK(same_strv(a->dns, b->dns));
  CHECK(a->n_hosts == b->n_hosts);
  for (size_t i = 0; i < a->n_hosts && i < b->n_hosts; i++) {
    CHECK(same_str(a->hosts[i].name, b->hosts[i].name));
    CHECK(same_str(a->hosts[i].addr, b->hosts[i].addr));
  }
}

static void check_same(const struct nsbox_config *a, const struct nsbox_config *b) {
  CHECK(strcmp(a->id, b->id) == 0);
  CHECK(same_str(a->name, b->name) && a->auto_name == b->auto_name);
  CHECK(same_str(a->image, b->image) && same_str(a->image_id, b->image_id));
  check_same_process(&a->process, &b->process);
  check_same_root_mounts(a, b);
  CHECK(same_str(a->hostname, b->hostname));
  check_same_network(&a->net, &b->net);
  CHECK(memcmp(&a->resources, &b->resources, sizeof(a->resources)) == 0);
  CHECK(a->security.seccomp == b->security.seccomp);
  CHECK(same_str(a->security.seccomp_profile, b->security.seccomp_profile));
  CHECK(a->security.cap_bounding == b->security.cap_bounding);
  CHECK(a->security.cap_added == b->security.cap_added);
  CHECK(a->security.no_new_privs == b->security.no_new_privs);
  CHECK(a->remove == b->remove);
  CHECK(a->stop_signal == b->stop_signal && a->stop_timeout == b->stop_timeout);
}

/* c through the record and back: the same config, created kept, the runtime-only fields
 * left out. */
static void check_round_trip(const struct nsbox_config *c, int64_t created) {
  char *text = config_to_json(c, created);
  struct nsbox_config back;
  int64_t t = 0;
  nsbox_error_t err = {0};
  int r = config_from_json(text, strlen(text), &back, &t, &err);
  CHECK(r == 0);
  if (r < 0) {
    printf("  %s\n", err.msg);
    free(text);
    return;
  }
  CHECK(t == created);
  check_same(c, &back);
  CHECK(back.net.backend == NULL && back.net.port_fds == NULL);
  CHECK(!back.detach && !back.userns && back.idmaps.n_uid == 0 && back.idmaps.n_gid == 0);
  config_json_free(&back);
  CHECK(back.name == NULL && back.process.args == NULL);
  free(text);
}

static void test_config_full(void) {
  char *args[] = {"sh", "-c", "echo \"hi\"\\\n\x01", NULL};
  char *env[] = {"PATH=/usr/bin:/bin", "GREETING=caf\xc3\xa9", "EMPTY=", NULL};
  char *dns[] = {"1.1.1.1", "9.9.9.9", NULL};
  struct nsbox_rlimit rlimits[] = {
      {RLIMIT_NOFILE, {1024, 4096}},
      {RLIMIT_MEMLOCK, {RLIM_INFINITY, RLIM_INFINITY}},
      {RLIMIT_CORE, {0, RLIM_INFINITY}},
      {99, {5, 6}}, /* no name: kept as a number */
  };
  struct nsbox_mount mounts[] = {
      {MOUNT_BIND, "/home/u/src", "/src", true, NULL},
      {MOUNT_TMPFS, NULL, "/tmp", false, "size=64m,mode=1777"},
  };
  struct nsbox_port ports[] = {
      {.proto = IPPROTO_TCP, .host_port = 8080, .ctr_port = 80},
      {.proto = IPPROTO_UDP, .host_ip = {htonl(0x7f000001)}, .host_port = 5353, .ctr_port = 53},
  };
  struct nsbox_host_entry hosts[] = {{"db", "10.0.0.5"}, {"cache", "10.0.0.6"}};
  int port_fds[] = {7, 8};
  char *lowers[] = {"/s/images/l/0123456789abcdef", "/s/images/l/fedcba9876543210", NULL};
  struct nsbox_config c = {
      .name = "web",
      .auto_name = true,
      .image = "docker.io/library/busybox:latest",
      .image_id = "sha256:3f57d9401f8d42f986df300f0c69192fc41da28ccc8d797829467780db3dd741",
      .process = {.args = args,
                  .env = env,
                  .cwd = "/work dir",
                  .user = "1000:1000",
                  .no_init = true,
                  .terminal = true,
                  .open_stdin = true,
                  .console_rows = 50,
                  .console_cols = 65535,
                  .rlimits = rlimits,
                  .n_rlimits = ARRAY_SIZE(rlimits)},
      .root = {.lowerdirs = lowers,
               .upperdir = "/s/c/1/upper",
               .workdir = "/s/c/1/work",
               .mergeddir = "/s/c/1/merged",
               .path = NULL,
               .readonly = true},
      .mounts = mounts,
      .n_mounts = ARRAY_SIZE(mounts),
      .hostname = "box",
      .net = {.mode = NET_PASTA,
              .mode_given = true,
              .allow_host_loopback = true,
              .bridge = "br-test",
              .backend = "/usr/bin/pasta",
              .ports = ports,
              .n_ports = ARRAY_SIZE(ports),
              .port_fds = port_fds,
              .dns = dns,
              .hosts = hosts,
              .n_hosts = ARRAY_SIZE(hosts)},
      .resources = {.memory = 64LL << 20,
                    .memory_swap = -1,
                    .cpu_quota = 50000,
                    .cpu_period = 100000,
                    .cpu_weight = 39,
                    .cpu_shares = 1024,
                    .pids_limit = -1},
      .security = {.seccomp = SECCOMP_PROFILE,
                   .seccomp_profile = "/etc/nsbox/profile.json",
                   .cap_bounding = 0xc0000000800405fbULL,
                   .cap_added = (1ULL << 63) | (1ULL << 12),
                   .no_new_privs = true},
      .userns = true,
      .idmaps = {.uid = {{0, 1000, 1}}, .gid = {{0, 1000, 1}}, .n_uid = 1, .n_gid = 1},
      .remove = true,
      .stop_signal = SIGQUIT,
      .stop_timeout = 30,
      .detach = true,
  };
  memset(c.id, 'a', 64);
  check_round_trip(&c, 1712345678);

  /* The ends of the 64-bit fields, every network and seccomp mode, the other mount kind. */
  c.resources =
      (struct nsbox_resources){INT64_MIN, INT64_MAX, UINT64_MAX, 0, 1, UINT64_MAX, INT64_MAX};
  c.security.cap_bounding = UINT64_MAX;
  c.stop_timeout = -1;
  for (int m = NET_NONE; m <= NET_BRIDGE; m++) {
    c.net.mode = (enum nsbox_network_mode)m;
    c.security.seccomp = (enum nsbox_seccomp_mode)(m % 3);
    mounts[0].kind = (enum nsbox_mount_kind)(m % 2);
    check_round_trip(&c, m == NET_NONE ? INT64_MIN : -m);
  }

  /* Everything NULL or zero stays NULL or zero, including the lists: null is not []. */
  struct nsbox_config empty = {0};
  check_round_trip(&empty, 0);
  /* ... and an empty list stays empty. */
  char *none[] = {NULL};
  empty.process.args = none;
  empty.net.dns = none;
  check_round_trip(&empty, 0);
}

/* Item i of an array, or NULL. */
static const struct json_value *item(const struct json_value *a, size_t i) {
  return a && a->type == JSON_ARRAY && i < a->u.arr.n ? &a->u.arr.items[i] : NULL;
}

/* The record's shape as other tools (and `inspect`) see it. */
static void test_config_shape(void) {
  char *args[] = {"true", NULL};
  struct nsbox_rlimit rl = {RLIMIT_NOFILE, {RLIM_INFINITY, RLIM_INFINITY}};
  struct nsbox_config c = {.name = "n",
                           .process = {.args = args, .rlimits = &rl, .n_rlimits = 1},
                           .net = {.mode = NET_SLIRP4NETNS},
                           .security = {.cap_bounding = 0x800405fbULL}};
  snprintf(c.id, sizeof(c.id), "%s", "0123abcd");
  char *text = config_to_json(&c, 42);
  struct json_value v;
  nsbox_error_t err = {0};
  CHECK(json_parse(text, strlen(text), &v, &err) == 0);
  int64_t i = 0;
  uint64_t u = 0;
  const struct json_value *proc = json_get(&v, "process");
  const struct json_value *rls = json_get(proc, "rlimits");
  CHECK(str_is(json_get(&v, "id"), "0123abcd", 8));
  CHECK(json_i64(json_get(&v, "created"), &i) == 0 && i == 42);
  CHECK(str_is(item(json_get(proc, "args"), 0), "true", 4));
  CHECK(rls && rls->type == JSON_ARRAY && rls->u.arr.n == 1);
  CHECK(str_is(json_get(item(rls, 0), "type"), "RLIMIT_NOFILE", 13));
  CHECK(json_u64(json_get(item(rls, 0), "soft"), &u) == 0 && u == RLIM_INFINITY);
  CHECK(is_type(json_get(proc, "env"), JSON_NULL) && is_type(json_get(&v, "image"), JSON_NULL));
  CHECK(str_is(json_get(json_get(&v, "network"), "mode"), "slirp4netns", 11));
  CHECK(str_is(json_get(json_get(&v, "security"), "seccomp"), "default", 7));
  CHECK(json_u64(json_get(json_get(&v, "security"), "capBounding"), &u) == 0 && u == 0x800405fb);
  CHECK(json_get(json_get(&v, "network"), "backend") == NULL);
  CHECK(json_get(&v, "detach") == NULL && json_get(&v, "userns") == NULL);
  CHECK(text[0] == '{' && text[strlen(text) - 1] == '\n');
  json_free(&v);
  free(text);
}

/* text must be refused with a message containing want, and leave the config zeroed. */
static void check_config_error(const char *text, const char *want) {
  struct nsbox_config c;
  int64_t t = 7;
  nsbox_error_t err = {0};
  int r = config_from_json(text, strlen(text), &c, &t, &err);
  CHECK(r == -1);
  CHECK(c.name == NULL && c.process.args == NULL && c.mounts == NULL && t == 0);
  if (r == 0) {
    config_json_free(&c);
  } else if (strstr(err.msg, want) == NULL) {
    failed++;
    printf("FAIL config.json error for %.60s: got \"%s\", want \"%s\"\n", text, err.msg, want);
  }
}

static void test_config_errors(void) {
  check_config_error("{", "config.json: line 1, column 2 (byte 1): expected a string key");
  check_config_error("[]", "config.json: expected an object, not an array");
  check_config_error("{\"id\": 5}", "config.json: id: expected a string, not a number");
  check_config_error("{\"id\": \"0123456789012345678901234567890123456789012345678901234567890"
                     "123456\"}",
                     "config.json: id: expected at most 64 characters");
  check_config_error("{\"name\": \"a\\u0000b\"}", "config.json: name: a NUL character");
  check_config_error("{\"autoName\": \"yes\"}",
                     "config.json: autoName: expected true or false, not a string");
  check_config_error("{\"created\": 1.5}", "config.json: created: expected an integer from");
  check_config_error("{\"name\": \"x\", \"process\": {\"args\": \"sh\"}}",
                     "config.json: process.args: expected an array of strings, not a string");
  check_config_error("{\"process\": {\"env\": [\"A=1\", 2]}}",
                     "config.json: process.env[1]: expected a string, not a number");
  check_config_error("{\"process\": []}", "config.json: process: expected an object, not an array");
  check_config_error("{\"process\": {\"consoleSize\": {\"height\": 65536}}}",
                     "config.json: process.consoleSize.height: expected an integer from 0 to "
                     "65535");
  check_config_error("{\"process\": {\"rlimits\": [{\"soft\": 1}]}}",
                     "config.json: process.rlimits[0]: no \"type\"");
  check_config_error("{\"process\": {\"rlimits\": [{\"type\": \"RLIMIT_BOGUS\"}]}}",
                     "config.json: process.rlimits[0].type: unknown resource \"RLIMIT_BOGUS\"");
  check_config_error("{\"process\": {\"rlimits\": [{\"type\": 1, \"hard\": -1}]}}",
                     "config.json: process.rlimits[0].hard: expected an integer from 0 to");
  check_config_error("{\"process\": {\"rlimits\": [7]}}",
                     "config.json: process.rlimits[0]: expected an object, not a number");
  check_config_error("{\"root\": {\"readonly\": 1}}",
                     "config.json: root.readonly: expected true or false, not a number");
  check_config_error("{\"mounts\": {}}", "config.json: mounts: expected an array of objects");
  check_config_error("{\"mounts\": [{\"type\": \"bind\"}, {\"type\": \"nfs\"}]}",
                     "config.json: mounts[1].type: unknown value \"nfs\"");
  check_config_error("{\"mounts\": [{\"type\": \"bind\", \"source\": \"/a\", \"destination\": 3}]}",
                     "config.json: mounts[0].destination: expected a string, not a number");
  check_config_error("{\"network\": {\"mode\": \"wifi\\n\"}}",
                     "config.json: network.mode: unknown value \"wifi?\"");
  check_config_error("{\"network\": {\"ports\": [\"0.0.0.0:80:80/tcp\", \"80\"]}}",
                     "config.json: network.ports[1]: ");
  check_config_error("{\"network\": {\"hosts\": [{\"name\": \"a\", \"addr\": 1}]}}",
                     "config.json: network.hosts[0].addr: expected a string, not a number");
  check_config_error("{\"network\": {\"dns\": [null]}}",
                     "config.json: network.dns[0]: expected a string, not null");
  check_config_error("{\"resources\": {\"memory\": 9223372036854775808}}",
                     "config.json: resources.memory: expected an integer from "
                     "-9223372036854775808 to 9223372036854775807");
  check_config_error("{\"resources\": {\"cpuQuota\": -1}}",
                     "config.json: resources.cpuQuota: expected an integer from 0 to "
                     "18446744073709551615");
  check_config_error("{\"security\": {\"seccomp\": true}}",
                     "config.json: security.seccomp: expected a string, not a boolean");
  check_config_error("{\"security\": {\"capAdded\": \"all\"}}",
                     "config.json: security.capAdded: expected an integer, not a string");
  check_config_error("{\"stopSignal\": 4294967296}",
                     "config.json: stopSignal: expected an integer from");

  /* null reads as absent, and members a newer nsbox may add are ignored. */
  struct nsbox_config c;
  nsbox_error_t err = {0};
  const char *ok = "{\"name\": null, \"process\": null, \"future\": {\"x\": [1]}}";
  CHECK(config_from_json(ok, strlen(ok), &c, NULL, &err) == 0);
  CHECK(c.name == NULL && c.process.args == NULL && c.id[0] == '\0');
  config_json_free(&c);
}

void test_config_json(void) {
  test_jsonw_escapes();
  test_jsonw_nesting();
  test_config_full();
  test_config_shape();
  test_config_errors();
}
