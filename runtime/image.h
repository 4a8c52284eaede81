/* The image store of this issue: a rootfs tarball (as `docker export` writes it) imported
 * into a directory that serves as the overlay's lower layer. Extraction runs inside the user
 * namespace, so ownership lands in the subordinate range, and refuses entries that would
 * escape the image's root. */
#ifndef NSBOX_IMAGE_H
#define NSBOX_IMAGE_H

#include "error.h"
#include "store.h"

/* Imports FILE ("-" for stdin; plain, gzip or zstd tar) as REF. Prints the new image id. */
int image_import(struct nsbox_store *s, const char *file, const char *ref, nsbox_error_t *err);

/* Resolves REF to its image id (65 bytes) and rootfs path (malloc'd). */
int image_resolve(struct nsbox_store *s, const char *ref, char id[65], char **rootfs,
                  nsbox_error_t *err);

int image_list(struct nsbox_store *s, nsbox_error_t *err);
int image_remove(struct nsbox_store *s, const char *ref, nsbox_error_t *err);

/* "busybox" -> "busybox:latest"; malloc'd, NULL when the name is not acceptable. */
char *image_normalize_ref(const char *ref);

#endif
