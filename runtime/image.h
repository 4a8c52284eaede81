/* Images: loaded from an OCI image layout, an oci-archive or a `docker save` archive, or
 * imported from a rootfs tarball; stored as content-addressed layers shared between images
 * (image_store.h has the layout); resolved for `run` into the overlay's lower layers and the
 * image's run config; listed, inspected, removed, saved as an oci-archive. */
#ifndef NSBOX_IMAGE_H
#define NSBOX_IMAGE_H

#include <stddef.h>

#include "error.h"
#include "oci.h"
#include "store.h"

/* Imports FILE ("-" for stdin; plain, gzip or zstd tar of a root filesystem, as `docker
 * export` writes it) as a one-layer image named REF. Prints the new image id. */
int image_import(struct nsbox_store *s, const char *file, const char *ref, nsbox_error_t *err);

/* Loads the images of PATH: an OCI image layout directory, or a tar file ("-": stdin) of one
 * (oci-archive) or of `docker save`. name, when not NULL, names the one image PATH holds;
 * otherwise the names recorded in PATH are used. Prints "Loaded image: NAME" for each. */
int image_load(struct nsbox_store *s, const char *path, const char *name, nsbox_error_t *err);

/* Writes image REF as an oci-archive to FILE ("-": stdout). */
int image_save(struct nsbox_store *s, const char *ref, const char *file, nsbox_error_t *err);

/* Writes image REF's root filesystem, its layers merged, as one file system image FILE of
 * format "squashfs", "ext4" or "erofs", made without root by mksquashfs, mkfs.ext4 -d or
 * mkfs.erofs (image_export.c says which options and why). FILE appears only when complete. */
int image_export(struct nsbox_store *s, const char *ref, const char *format, const char *file,
                 nsbox_error_t *err);

/* Resolves REF for a container: its id, the overlay's lower dirs (top layer first,
 * NULL-terminated, malloc'd) and its config (oci_config_free() it). */
int image_resolve(struct nsbox_store *s, const char *ref, char id[65], char ***lowerdirs,
                  struct oci_image_config *cfg, nsbox_error_t *err);

int image_list(struct nsbox_store *s, nsbox_error_t *err);
int image_remove(struct nsbox_store *s, char **refs, size_t n, nsbox_error_t *err);
/* A JSON array with one object per REF, docker's `image inspect` shape. */
int image_inspect(struct nsbox_store *s, char **refs, size_t n, nsbox_error_t *err);

/* "busybox" -> "busybox:latest"; malloc'd, NULL when the name is not acceptable. */
char *image_normalize_ref(const char *ref);

#endif
