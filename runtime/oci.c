/* See oci.h. Readers refuse what they cannot use rather than guess: a digest of another
 * algorithm, a size that is not a count, a layer list that is not one. Members nsbox has no
 * use for are ignored, as the image spec asks. */
#include "oci.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "jsonw.h"
#include "util.h"

int oci_digest_parse(const char *s, char hex[65], nsbox_error_t *err) {
  if (strncmp(s, "sha256:", 7) != 0)
    return nsbox_fail(err, 0, "unsupported digest \"%.80s\" (only sha256 is)", s);
  const char *h = s + 7;
  size_t n = strspn(h, "0123456789abcdef");
  if (n != 64 || h[64] != '\0')
    return nsbox_fail(err, 0, "malformed digest \"%.80s\"", s);
  memcpy(hex, h, 65);
  return 0;
}

static void descriptor_free(struct oci_descriptor *d) {
  free(d->media_type);
  free(d->ref_name);
  free(d->image_name);
  free(d->platform_os);
  free(d->platform_arch);
  memset(d, 0, sizeof(*d));
}

void oci_descriptors_free(struct oci_descriptor *v, size_t n) {
  for (size_t i = 0; v && i < n; i++)
    descriptor_free(&v[i]);
  free(v);
}

static int read_descriptor(const struct json_value *o, const char *path, struct oci_descriptor *d,
                           nsbox_error_t *err) {
  const struct json_value *ann, *plat;
  char *digest = NULL;
  int64_t size;
  memset(d, 0, sizeof(*d));
  if (o->type != JSON_OBJECT)
    return json_bad(err, path, NULL, "expected an object, not %s", json_type_name(o->type));
  int r = json_get_str(o, path, "mediaType", &d->media_type, err);
  if (r == 0)
    r = json_get_str(o, path, "digest", &digest, err);
  if (r == 0 && digest == NULL)
    r = json_bad(err, path, "digest", "missing");
  if (r == 0 && oci_digest_parse(digest, d->digest, err) < 0)
    r = nsbox_wrap(err, "%s.digest", path);
  if (r == 0)
    r = json_get_i64(o, path, "size", 0, INT64_MAX, &size, err);
  if (r == 0)
    d->size = size;
  if (r == 0)
    r = json_get_typed(o, path, "annotations", JSON_OBJECT, "an object", &ann, err);
  if (r == 0 && ann)
    r = json_get_str(ann, path, "org.opencontainers.image.ref.name", &d->ref_name, err);
  if (r == 0 && ann)
    r = json_get_str(ann, path, "io.containerd.image.name", &d->image_name, err);
  if (r == 0)
    r = json_get_typed(o, path, "platform", JSON_OBJECT, "an object", &plat, err);
  if (r == 0 && plat)
    r = json_get_str(plat, path, "os", &d->platform_os, err);
  if (r == 0 && plat)
    r = json_get_str(plat, path, "architecture", &d->platform_arch, err);
  free(digest);
  if (r < 0)
    descriptor_free(d);
  return r;
}

/* The descriptors of the array obj[key] (required). */
static int read_descriptors(const struct json_value *obj, const char *key,
                            struct oci_descriptor **out, size_t *n, nsbox_error_t *err) {
  const struct json_value *a;
  *out = NULL;
  *n = 0;
  if (json_get_typed(obj, "", key, JSON_ARRAY, "an array", &a, err) < 0)
    return -1;
  if (a == NULL)
    return json_bad(err, "", key, "missing");
  struct oci_descriptor *v = xmalloc((a->u.arr.n + 1) * sizeof(*v));
  for (size_t i = 0; i < a->u.arr.n; i++) {
    char p[64];
    json_item_path(p, sizeof(p), "", key, i);
    if (read_descriptor(&a->u.arr.items[i], p, &v[i], err) < 0) {
      oci_descriptors_free(v, i);
      return -1;
    }
  }
  *out = v;
  *n = a->u.arr.n;
  return 0;
}

static int parse_object(const char *text, size_t len, struct json_value *top, nsbox_error_t *err) {
  if (json_parse(text, len, top, err) < 0)
    return -1;
  if (top->type != JSON_OBJECT) {
    nsbox_fail(err, 0, "expected an object, not %s", json_type_name(top->type));
    json_free(top);
    return -1;
  }
  return 0;
}

int oci_index_parse(const char *text, size_t len, struct oci_descriptor **out, size_t *n,
                    nsbox_error_t *err) {
  struct json_value top;
  if (parse_object(text, len, &top, err) < 0)
    return -1;
  int r = read_descriptors(&top, "manifests", out, n, err);
  json_free(&top);
  return r;
}

void oci_manifest_free(struct oci_manifest *m) {
  descriptor_free(&m->config);
  oci_descriptors_free(m->layers, m->n_layers);
  memset(m, 0, sizeof(*m));
}

int oci_manifest_parse(const char *text, size_t len, struct oci_manifest *m, nsbox_error_t *err) {
  struct json_value top;
  const struct json_value *cfg;
  memset(m, 0, sizeof(*m));
  if (parse_object(text, len, &top, err) < 0)
    return -1;
  int r = json_get_typed(&top, "", "config", JSON_OBJECT, "an object", &cfg, err);
  if (r == 0 && cfg == NULL)
    r = json_bad(err, "", "config", "missing");
  if (r == 0)
    r = read_descriptor(cfg, "config", &m->config, err);
  if (r == 0)
    r = read_descriptors(&top, "layers", &m->layers, &m->n_layers, err);
  json_free(&top);
  if (r < 0)
    oci_manifest_free(m);
  return r;
}

void oci_config_free(struct oci_image_config *c) {
  strv_free(c->env);
  strv_free(c->entrypoint);
  strv_free(c->cmd);
  free(c->workdir);
  free(c->user);
  free(c->stop_signal);
  strv_free(c->exposed_ports);
  strv_free(c->labels);
  strv_free(c->diff_ids);
  free(c->created);
  free(c->architecture);
  free(c->os);
  memset(c, 0, sizeof(*c));
}

/* The keys of obj[key] ("80/tcp"), or with values ("KEY=VALUE") when values is set. */
static int read_keys(const struct json_value *obj, const char *path, const char *key, bool values,
                     char ***out, nsbox_error_t *err) {
  const struct json_value *o;
  *out = NULL;
  if (json_get_typed(obj, path, key, JSON_OBJECT, "an object", &o, err) < 0)
    return -1;
  if (o == NULL)
    return 0;
  char **v = xmalloc((o->u.obj.n + 1) * sizeof(*v));
  for (size_t i = 0; i < o->u.obj.n; i++) {
    const struct json_member *m = &o->u.obj.items[i];
    const char *val = "";
    v[i] = NULL;
    int bad = strlen(m->key) != m->key_len ? json_bad(err, path, key, "a NUL character in a key")
              : values                     ? json_text_of(&m->value, path, key, &val, err)
                                           : 0;
    if (bad < 0) {
      strv_free(v);
      return -1;
    }
    v[i] = values ? xasprintf("%s=%s", m->key, val) : xstrdup(m->key);
  }
  v[o->u.obj.n] = NULL;
  *out = v;
  return 0;
}

static int read_run_config(const struct json_value *o, struct oci_image_config *c,
                           nsbox_error_t *err) {
  const char *p = "config";
  if (json_get_strv(o, p, "Env", &c->env, err) < 0 ||
      json_get_strv(o, p, "Entrypoint", &c->entrypoint, err) < 0 ||
      json_get_strv(o, p, "Cmd", &c->cmd, err) < 0 ||
      json_get_str(o, p, "WorkingDir", &c->workdir, err) < 0 ||
      json_get_str(o, p, "User", &c->user, err) < 0 ||
      json_get_str(o, p, "StopSignal", &c->stop_signal, err) < 0 ||
      read_keys(o, p, "ExposedPorts", false, &c->exposed_ports, err) < 0 ||
      read_keys(o, p, "Labels", true, &c->labels, err) < 0)
    return -1;
  return 0;
}

static int read_diff_ids(const struct json_value *top, struct oci_image_config *c,
                         nsbox_error_t *err) {
  const struct json_value *rootfs;
  char **ids = NULL;
  if (json_get_typed(top, "", "rootfs", JSON_OBJECT, "an object", &rootfs, err) < 0)
    return -1;
  if (rootfs == NULL)
    return json_bad(err, "", "rootfs", "missing");
  if (json_get_strv(rootfs, "rootfs", "diff_ids", &ids, err) < 0)
    return -1;
  if (ids == NULL)
    return json_bad(err, "rootfs", "diff_ids", "missing");
  c->diff_ids = ids;
  for (size_t i = 0; ids[i]; i++, c->n_diff_ids++) {
    char hex[65];
    if (oci_digest_parse(ids[i], hex, err) < 0)
      return nsbox_wrap(err, "rootfs.diff_ids[%zu]", i);
    memcpy(ids[i], hex, 65); /* "sha256:" + 64 is longer: it fits */
  }
  return 0;
}

int oci_config_parse(const char *text, size_t len, struct oci_image_config *c, nsbox_error_t *err) {
  struct json_value top;
  const struct json_value *run;
  memset(c, 0, sizeof(*c));
  if (parse_object(text, len, &top, err) < 0)
    return -1;
  int r = json_get_str(&top, "", "created", &c->created, err);
  if (r == 0)
    r = json_get_str(&top, "", "architecture", &c->architecture, err);
  if (r == 0)
    r = json_get_str(&top, "", "os", &c->os, err);
  if (r == 0)
    r = json_get_typed(&top, "", "config", JSON_OBJECT, "an object", &run, err);
  if (r == 0 && run)
    r = read_run_config(run, c, err);
  if (r == 0)
    r = read_diff_ids(&top, c, err);
  json_free(&top);
  if (r < 0)
    oci_config_free(c);
  return r;
}

void docker_images_free(struct docker_image *v, size_t n) {
  for (size_t i = 0; v && i < n; i++) {
    free(v[i].config);
    strv_free(v[i].repo_tags);
    strv_free(v[i].layers);
  }
  free(v);
}

int docker_manifest_parse(const char *text, size_t len, struct docker_image **out, size_t *n,
                          nsbox_error_t *err) {
  struct json_value top;
  *out = NULL;
  *n = 0;
  if (json_parse(text, len, &top, err) < 0)
    return -1;
  if (top.type != JSON_ARRAY || top.u.arr.n == 0) {
    json_free(&top);
    return nsbox_fail(err, 0, "expected a non-empty array");
  }
  size_t count = top.u.arr.n;
  struct docker_image *v = xmalloc(count * sizeof(*v));
  memset(v, 0, count * sizeof(*v));
  int r = 0;
  for (size_t i = 0; i < count && r == 0; i++) {
    const struct json_value *o = &top.u.arr.items[i];
    char p[32];
    json_item_path(p, sizeof(p), "", "", i);
    if (o->type != JSON_OBJECT) {
      r = json_bad(err, p, NULL, "expected an object, not %s", json_type_name(o->type));
      break;
    }
    r = json_get_str(o, p, "Config", &v[i].config, err);
    if (r == 0 && v[i].config == NULL)
      r = json_bad(err, p, "Config", "missing");
    if (r == 0)
      r = json_get_strv(o, p, "RepoTags", &v[i].repo_tags, err);
    if (r == 0)
      r = json_get_strv(o, p, "Layers", &v[i].layers, err);
    if (r == 0 && v[i].layers == NULL)
      r = json_bad(err, p, "Layers", "missing");
    for (size_t k = 0; r == 0 && v[i].layers[k]; k++)
      v[i].n_layers++;
  }
  json_free(&top);
  if (r < 0) {
    docker_images_free(v, count);
    return -1;
  }
  *out = v;
  *n = count;
  return 0;
}

static void put_descriptor(struct jsonw *w, const struct oci_descriptor *d) {
  char digest[72];
  snprintf(digest, sizeof(digest), "sha256:%s", d->digest);
  jsonw_obj_open(w);
  jsonw_kv_str(w, "mediaType", d->media_type);
  jsonw_kv_str(w, "digest", digest);
  jsonw_kv_i64(w, "size", d->size);
  jsonw_obj_close(w);
}

char *oci_manifest_make(const struct oci_descriptor *config, const struct oci_descriptor *layers,
                        size_t n) {
  struct jsonw w;
  jsonw_init(&w, false);
  jsonw_obj_open(&w);
  jsonw_kv_i64(&w, "schemaVersion", 2);
  jsonw_kv_str(&w, "mediaType", OCI_MANIFEST);
  jsonw_key(&w, "config");
  put_descriptor(&w, config);
  jsonw_key(&w, "layers");
  jsonw_arr_open(&w);
  for (size_t i = 0; i < n; i++)
    put_descriptor(&w, &layers[i]);
  jsonw_arr_close(&w);
  jsonw_obj_close(&w);
  return jsonw_finish(&w);
}

const char *oci_arch(void) {
#if defined(__x86_64__)
  return "amd64";
#elif defined(__aarch64__)
  return "arm64";
#elif defined(__i386__)
  return "386";
#elif defined(__arm__)
  return "arm";
#elif defined(__riscv) && __riscv_xlen == 64
  return "riscv64";
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  return "ppc64le";
#elif defined(__s390x__)
  return "s390x";
#else
  return "unknown";
#endif
}

char *oci_config_make_import(const char *diff_id, const char *created) {
  char id[72];
  snprintf(id, sizeof(id), "sha256:%s", diff_id);
  struct jsonw w;
  jsonw_init(&w, false);
  jsonw_obj_open(&w);
  jsonw_kv_str(&w, "created", created);
  jsonw_kv_str(&w, "architecture", oci_arch());
  jsonw_kv_str(&w, "os", "linux");
  jsonw_key(&w, "config");
  jsonw_obj_open(&w);
  jsonw_obj_close(&w);
  jsonw_key(&w, "rootfs");
  jsonw_obj_open(&w);
  jsonw_kv_str(&w, "type", "layers");
  jsonw_key(&w, "diff_ids");
  jsonw_arr_open(&w);
  jsonw_str(&w, id);
  jsonw_arr_close(&w);
  jsonw_obj_close(&w);
  jsonw_key(&w, "history");
  jsonw_arr_open(&w);
  jsonw_obj_open(&w);
  jsonw_kv_str(&w, "created", created);
  jsonw_kv_str(&w, "created_by", "nsbox image import");
  jsonw_obj_close(&w);
  jsonw_arr_close(&w);
  jsonw_obj_close(&w);
  return jsonw_finish(&w);
}

char *oci_index_make(const struct oci_descriptor *manifest, const char *ref_name) {
  char digest[72];
  snprintf(digest, sizeof(digest), "sha256:%s", manifest->digest);
  struct jsonw w;
  jsonw_init(&w, false);
  jsonw_obj_open(&w);
  jsonw_kv_i64(&w, "schemaVersion", 2);
  jsonw_kv_str(&w, "mediaType", OCI_INDEX);
  jsonw_key(&w, "manifests");
  jsonw_arr_open(&w);
  jsonw_obj_open(&w);
  jsonw_kv_str(&w, "mediaType", manifest->media_type);
  jsonw_kv_str(&w, "digest", digest);
  jsonw_kv_i64(&w, "size", manifest->size);
  if (ref_name) {
    jsonw_key(&w, "annotations");
    jsonw_obj_open(&w);
    jsonw_kv_str(&w, "org.opencontainers.image.ref.name", ref_name);
    jsonw_obj_close(&w);
  }
  jsonw_obj_close(&w);
  jsonw_arr_close(&w);
  jsonw_obj_close(&w);
  return jsonw_finish(&w);
}

bool oci_layer_type_known(const char *t) {
  static const char *const known[] = {
      OCI_LAYER_TAR,
      OCI_LAYER_GZIP,
      OCI_LAYER_ZSTD,
      "application/vnd.docker.image.rootfs.diff.tar",
      "application/vnd.docker.image.rootfs.diff.tar.gzip",
      "application/vnd.oci.image.layer.nondistributable.v1.tar",
      "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
      "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
  };
  if (t == NULL)
    return false;
  for (size_t i = 0; i < ARRAY_SIZE(known); i++)
    if (strcmp(t, known[i]) == 0)
      return true;
  return false;
}
