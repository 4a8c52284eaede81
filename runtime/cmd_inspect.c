/* nsbox inspect: a container's record and state as one JSON object, with the member names of
 * docker and podman inspect (Id, State.Running, HostConfig.PortBindings ...), so that the
 * scripts and habits made for those read nsbox's too. */
#include <arpa/inet.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/capability.h>
#include <time.h>

#include "cli.h"
#include "config_json.h"
#include "jsonw.h"
#include "network.h"
#include "signals.h"
#include "store.h"
#include "util.h"

/* To the second: all the record keeps. */
static void put_time(struct jsonw *w, const char *key, time_t t) {
  char buf[32];
  jsonw_kv_str(w, key, format_rfc3339(t, buf, sizeof(buf)));
}

static void put_state(struct jsonw *w, const struct container_info *ci) {
  bool running = ci->status == CT_RUNNING;
  jsonw_key(w, "State");
  jsonw_obj_open(w);
  jsonw_kv_str(w, "Status", container_status_name(ci->status));
  jsonw_kv_bool(w, "Running", running);
  jsonw_kv_i64(w, "Pid", running ? ci->pid : 0);
  jsonw_kv_i64(w, "MonitorPid", ci->monitor);
  jsonw_kv_i64(w, "ExitCode", ci->status == CT_EXITED ? ci->exit_code : 0);
  jsonw_kv_bool(w, "OOMKilled", ci->oom);
  put_time(w, "StartedAt", ci->started);
  put_time(w, "FinishedAt", ci->status == CT_EXITED ? ci->finished : 0);
  jsonw_obj_close(w);
}

/* "SIGTERM"; a signal without a name (a number) stays a number, as docker takes it back. */
static void put_signal(struct jsonw *w, const char *key, int sig) {
  char buf[16], out[24];
  const char *name = signal_name(sig, buf);
  snprintf(out, sizeof(out), "%s%s", *name >= '0' && *name <= '9' ? "" : "SIG", name);
  jsonw_kv_str(w, key, out);
}

static void put_config(struct jsonw *w, const struct nsbox_config *c) {
  const struct nsbox_process *p = &c->process;
  jsonw_key(w, "Config");
  jsonw_obj_open(w);
  jsonw_kv_str(w, "Hostname", c->hostname ? c->hostname : "");
  jsonw_kv_str(w, "User", p->user ? p->user : "");
  jsonw_kv_strv(w, "Env", p->env);
  jsonw_kv_strv(w, "Cmd", p->args);
  jsonw_kv_str(w, "WorkingDir", p->cwd ? p->cwd : "/");
  jsonw_kv_bool(w, "Tty", p->terminal);
  jsonw_kv_bool(w, "OpenStdin", p->open_stdin);
  put_signal(w, "StopSignal", c->stop_signal);
  jsonw_kv_i64(w, "StopTimeout", c->stop_timeout);
  jsonw_obj_close(w);
}

/* Capabilities by the names docker and podman list ("CAP_CHOWN"); libcap also names those of
 * kernels newer than our headers, and gives a number for the ones it does not know. */
static void put_caps(struct jsonw *w, const char *key, uint64_t mask) {
  jsonw_key(w, key);
  jsonw_arr_open(w);
  for (int i = 0; i < 64; i++) {
    if (!(mask & (1ULL << i)))
      continue;
    char *name = cap_to_name((cap_value_t)i);
    if (name == NULL) {
      char num[8];
      snprintf(num, sizeof(num), "%d", i);
      jsonw_str(w, num);
      continue;
    }
    for (char *q = name; *q; q++)
      if (*q >= 'a' && *q <= 'z')
        *q = (char)(*q - 'a' + 'A');
    jsonw_str(w, name);
    cap_free(name);
  }
  jsonw_arr_close(w);
}

/* Docker's port map: {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}]}, one member per
 * container port, listing every host port published to it. */
static void put_port_map(struct jsonw *w, const char *key, const struct nsbox_port *ports,
                         size_t n) {
  jsonw_key(w, key);
  jsonw_obj_open(w);
  for (size_t i = 0; i < n; i++) {
    bool seen = false;
    for (size_t j = 0; j < i && !seen; j++)
      seen = ports[j].ctr_port == ports[i].ctr_port && ports[j].proto == ports[i].proto;
    if (seen)
      continue;
    char k[16], ip[INET_ADDRSTRLEN], hp[8];
    snprintf(k, sizeof(k), "%u/%s", ports[i].ctr_port, portspec_proto_name(ports[i].proto));
    jsonw_key(w, k);
    jsonw_arr_open(w);
    for (size_t j = i; j < n; j++) {
      if (ports[j].ctr_port != ports[i].ctr_port || ports[j].proto != ports[i].proto)
        continue;
      inet_ntop(AF_INET, &ports[j].host_ip, ip, sizeof(ip));
      snprintf(hp, sizeof(hp), "%u", ports[j].host_port);
      jsonw_obj_open(w);
      jsonw_kv_str(w, "HostIp", ip);
      jsonw_kv_str(w, "HostPort", hp);
      jsonw_obj_close(w);
    }
    jsonw_arr_close(w);
  }
  jsonw_obj_close(w);
}

/* --add-host entries as docker lists them: "NAME:ADDR". */
static void put_extra_hosts(struct jsonw *w, const struct nsbox_network *n) {
  jsonw_key(w, "ExtraHosts");
  jsonw_arr_open(w);
  for (size_t i = 0; i < n->n_hosts; i++) {
    cleanup_free char *h = xasprintf("%s:%s", n->hosts[i].name, n->hosts[i].addr);
    jsonw_str(w, h);
  }
  jsonw_arr_close(w);
}

static void put_host_config(struct jsonw *w, const struct nsbox_config *c) {
  const struct nsbox_resources *r = &c->resources;
  const struct nsbox_security *sec = &c->security;
  jsonw_key(w, "HostConfig");
  jsonw_obj_open(w);
  jsonw_kv_bool(w, "AutoRemove", c->remove);
  jsonw_kv_bool(w, "ReadonlyRootfs", c->root.readonly);
  jsonw_kv_i64(w, "Memory", r->memory);
  jsonw_kv_i64(w, "MemorySwap", r->memory_swap);
  /* --cpus back from the quota it became; 128 bits so that no quota can overflow. */
  uint64_t nano = r->cpu_quota && r->cpu_period
                      ? (uint64_t)((unsigned __int128)r->cpu_quota * 1000000000u / r->cpu_period)
                      : 0;
  jsonw_kv_u64(w, "NanoCpus", nano);
  jsonw_kv_u64(w, "CpuShares", r->cpu_shares);
  jsonw_kv_u64(w, "CpuWeight", r->cpu_weight);
  jsonw_kv_i64(w, "PidsLimit", r->pids_limit);
  put_caps(w, "CapBounding", sec->cap_bounding);
  put_caps(w, "CapAdd", sec->cap_added);
  jsonw_kv_bool(w, "NoNewPrivileges", sec->no_new_privs);
  jsonw_kv_str(w, "SeccompProfile",
               sec->seccomp == SECCOMP_UNCONFINED ? "unconfined"
               : sec->seccomp == SECCOMP_PROFILE  ? sec->seccomp_profile
                                                  : "default");
  jsonw_kv_str(w, "NetworkMode", network_mode_names[c->net.mode]);
  put_port_map(w, "PortBindings", c->net.ports, c->net.n_ports);
  jsonw_kv_strv(w, "Dns", c->net.dns);
  put_extra_hosts(w, &c->net);
  jsonw_obj_close(w);
}

/* "size=64m,mode=1777" as the list podman gives. */
static void put_options(struct jsonw *w, const char *opts) {
  jsonw_key(w, "Options");
  jsonw_arr_open(w);
  for (const char *p = opts; p && *p;) {
    size_t n = strcspn(p, ",");
    if (n > 0)
      jsonw_strn(w, p, n);
    p += n + (p[n] == ',');
  }
  jsonw_arr_close(w);
}

static void put_mounts(struct jsonw *w, const struct nsbox_config *c) {
  jsonw_key(w, "Mounts");
  jsonw_arr_open(w);
  for (size_t i = 0; i < c->n_mounts; i++) {
    const struct nsbox_mount *m = &c->mounts[i];
    jsonw_obj_open(w);
    jsonw_kv_str(w, "Type", m->kind == MOUNT_TMPFS ? "tmpfs" : "bind");
    jsonw_kv_str(w, "Source", m->source ? m->source : "");
    jsonw_kv_str(w, "Destination", m->destination);
    jsonw_kv_bool(w, "RW", !m->readonly);
    put_options(w, m->options);
    jsonw_obj_close(w);
  }
  jsonw_arr_close(w);
}

/* What exists only while the container runs (its address, its published ports) is shown only
 * then, as docker does. */
static void put_network_settings(struct jsonw *w, const struct container_info *ci,
                                 const struct nsbox_config *c) {
  bool running = ci->status == CT_RUNNING;
  jsonw_key(w, "NetworkSettings");
  jsonw_obj_open(w);
  jsonw_kv_str(w, "Mode", network_mode_names[c->net.mode]);
  jsonw_kv_str(w, "Bridge", c->net.mode == NET_BRIDGE && c->net.bridge ? c->net.bridge : "");
  jsonw_kv_str(w, "IPAddress", running && ci->addr ? ci->addr : "");
  put_port_map(w, "Ports", c->net.ports, running ? c->net.n_ports : 0);
  jsonw_obj_close(w);
}

static void put_rootfs(struct jsonw *w, const struct nsbox_config *c) {
  bool dir = c->root.path != NULL;
  jsonw_key(w, "Rootfs");
  jsonw_obj_open(w);
  jsonw_kv_str(w, "Type", dir ? "directory" : "overlay");
  jsonw_kv_str(w, "Path", dir ? c->root.path : "");
  /* The image's layers as the overlay stacks them, top first. */
  jsonw_kv_strv(w, "LowerDirs", dir ? NULL : c->root.lowerdirs);
  jsonw_kv_str(w, "UpperDir", !dir && c->root.upperdir ? c->root.upperdir : "");
  jsonw_obj_close(w);
}

static void put_container(struct jsonw *w, struct nsbox_store *s, const struct container_info *ci,
                          const struct nsbox_config *c) {
  char **args = c->process.args;
  jsonw_obj_open(w);
  jsonw_kv_str(w, "Id", ci->id);
  jsonw_kv_str(w, "Name", c->name ? c->name : "");
  put_time(w, "Created", ci->created);
  jsonw_kv_str(w, "Path", args && args[0] ? args[0] : "");
  jsonw_kv_strv(w, "Args", args && args[0] ? args + 1 : NULL);
  jsonw_kv_str(w, "Image", c->image ? c->image : "");
  jsonw_kv_str(w, "ImageID", c->image_id ? c->image_id : "");
  put_state(w, ci);
  put_config(w, c);
  put_host_config(w, c);
  put_mounts(w, c);
  put_network_settings(w, ci, c);
  put_rootfs(w, c);
  cleanup_free char *log = container_log_path(s, ci->id);
  jsonw_kv_str(w, "LogPath", log);
  jsonw_obj_close(w);
}

/* Appends ref's object to w, or fills err and leaves w as it was. */
static int inspect_one(struct nsbox_store *s, const char *ref, struct jsonw *w,
                       nsbox_error_t *err) {
  struct container_info ci;
  if (container_find(s, ref, &ci, err) < 0)
    return -1;
  struct nsbox_config c = {0};
  int r = container_load_config(s, ci.id, &c, err);
  if (r == 0) {
    put_container(w, s, &ci, &c);
    config_json_free(&c);
  }
  container_info_free(&ci);
  return r;
}

int cmd_inspect(const struct cli_globals *g, int argc, char **argv) {
  static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {0}};
  opterr = 0;
  int o;
  while ((o = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
    if (o == 'h') {
      puts("Usage: nsbox inspect NAME...\n"
           "Prints the containers' configuration and state as a JSON array.");
      return 0;
    }
    return cli_usage_error("inspect: unknown option %s", argv[optind - 1]);
  }
  if (optind >= argc)
    return cli_usage_error("usage: nsbox inspect NAME...");
  struct nsbox_store s;
  nsbox_error_t err = {0};
  if (store_open(&s, g->root, &err) < 0) {
    nsbox_print_error(&err);
    return 125;
  }
  /* Like docker: the containers found are printed even when others are not. */
  int ret = 0, found = 0;
  struct jsonw w;
  jsonw_init(&w, true);
  jsonw_arr_open(&w);
  for (int i = optind; i < argc; i++) {
    memset(&err, 0, sizeof(err));
    if (inspect_one(&s, argv[i], &w, &err) < 0) {
      nsbox_print_error(&err);
      ret = 125;
    } else {
      found++;
    }
  }
  jsonw_arr_close(&w);
  cleanup_free char *text = jsonw_finish(&w);
  if (found > 0) /* nothing at all found: the error lines alone */
    fputs(text, stdout);
  return ret;
}
