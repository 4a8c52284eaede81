/* The JSON documents of container images: the OCI image layout's index, manifests and image
 * configs (image-spec v1.1), and `docker save`'s manifest.json; reading them strictly and
 * writing the ones nsbox makes (for `image import` and for images loaded from docker save,
 * which carry no OCI manifest). Pure functions on text: the files are image_load.c's. */
#ifndef NSBOX_OCI_H
#define NSBOX_OCI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define OCI_LAYER_TAR "application/vnd.oci.image.layer.v1.tar"
#define OCI_LAYER_GZIP "application/vnd.oci.image.layer.v1.tar+gzip"
#define OCI_LAYER_ZSTD "application/vnd.oci.image.layer.v1.tar+zstd"
#define DOCKER_MANIFEST_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"

/* A content descriptor: what a blob is, its sha256 (64 hex digits) and size. */
struct oci_descriptor {
  char *media_type;
  char digest[65];
  int64_t size;
  char *ref_name;   /* index entries: org.opencontainers.image.ref.name, or NULL */
  char *image_name; /* index entries: io.containerd.image.name (docker, nerdctl), or NULL */
  char *platform_os, *platform_arch; /* index entries, when given */
};

/* "sha256:HEX" -> HEX; refuses other algorithms and malformed digests. */
int oci_digest_parse(const char *s, char hex[65], nsbox_error_t *err);

/* index.json (or a nested image index): its manifests. */
int oci_index_parse(const char *text, size_t len, struct oci_descriptor **out, size_t *n,
                    nsbox_error_t *err);

struct oci_manifest {
  struct oci_descriptor config;
  struct oci_descriptor *layers; /* bottom first */
  size_t n_layers;
};
int oci_manifest_parse(const char *text, size_t len, struct oci_manifest *m, nsbox_error_t *err);
void oci_manifest_free(struct oci_manifest *m);

/* The parts of an image config nsbox uses (config.* and rootfs.diff_ids). */
struct oci_image_config {
  char **env, **entrypoint, **cmd; /* NULL when the image gives none */
  char *workdir, *user, *stop_signal;
  char **exposed_ports; /* "80/tcp" */
  char **labels;        /* "KEY=VALUE" */
  char **diff_ids;      /* 64 hex digits each, bottom first */
  size_t n_diff_ids;
  char *created, *architecture, *os;
};
int oci_config_parse(const char *text, size_t len, struct oci_image_config *c, nsbox_error_t *err);
void oci_config_free(struct oci_image_config *c);

/* One image of docker save's manifest.json. Paths are relative to the archive's root. */
struct docker_image {
  char *config;
  char **repo_tags; /* may be empty */
  char **layers;
  size_t n_layers;
};
int docker_manifest_parse(const char *text, size_t len, struct docker_image **out, size_t *n,
                          nsbox_error_t *err);
void docker_images_free(struct docker_image *v, size_t n);

void oci_descriptors_free(struct oci_descriptor *v, size_t n);

/* An OCI manifest for the config and layers given (digest, size and media type of each). */
char *oci_manifest_make(const struct oci_descriptor *config, const struct oci_descriptor *layers,
                        size_t n);

/* The image config of a rootfs tarball imported with `image import`: one layer, created now. */
char *oci_config_make_import(const char *diff_id, const char *created);

/* index.json naming one manifest; ref_name may be NULL. */
char *oci_index_make(const struct oci_descriptor *manifest, const char *ref_name);

/* This machine's architecture as image configs and platforms name it (GOARCH: "amd64"). */
const char *oci_arch(void);

/* True for the layer media types nsbox can unpack (OCI and docker, tar plain, gzip or zstd). */
bool oci_layer_type_known(const char *media_type);

#endif
