/* What image.c, image_load.c and image_save.c share: the store's image paths, its lock, the
 * child that does the work as the store's owner, tags and the image record. */
#ifndef NSBOX_IMAGE_STORE_H
#define NSBOX_IMAGE_STORE_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "oci.h"
#include "store.h"

/* JSON documents of images are small; a larger one is refused rather than read. */
#define IMAGE_JSON_MAX (4 << 20) /* read_fd()'s limit too */

/* s->data/images/REL; malloc'd. */
char *image_path(struct nsbox_store *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* flock of images/lock: LOCK_SH while loading or resolving, LOCK_EX while collecting (image
 * rm). Returns the fd holding it, or -1 with err. */
int image_lock(struct nsbox_store *s, int op, nsbox_error_t *err);

/* Runs fn(arg, err) in a child that owns the store's files: root of the user namespace when
 * rootless (so that files keep their owners from the image), else nsbox itself. SIGINT, TERM
 * and HUP stop the child (exit 128 + signal). Returns 0, or -1 with the child's err. */
typedef int (*image_task_fn)(void *arg, nsbox_error_t *err);
int image_task(struct nsbox_store *s, image_task_fn fn, void *arg, nsbox_error_t *err);

/* Points tag norm at image id (atomically replacing what it pointed at). */
int image_tag(struct nsbox_store *s, const char *norm, const char *id, nsbox_error_t *err);

/* Removes what nothing refers to any more: images without a tag or container, layers and
 * blobs without an image, leftovers of loads that died. Waits for the exclusive lock when
 * wait, else skips the work while a load runs. */
void image_collect(struct nsbox_store *s, bool wait);

/* An image as stored: its documents, exactly as loaded, and what they say. */
struct image_rec {
  char id[65];
  char *manifest_text, *config_text;
  size_t manifest_len, config_len;
  struct oci_manifest manifest;
  struct oci_image_config config;
};
int image_read(struct nsbox_store *s, const char *id, struct image_rec *r, nsbox_error_t *err);
void image_rec_free(struct image_rec *r);

/* REF (name, name:tag, full id or an id prefix of 12 or more) -> id. */
int image_find(struct nsbox_store *s, const char *ref, char id[65], nsbox_error_t *err);

/* Whether the layer is in the store: unpacked, with its short link and size. */
bool image_layer_present(struct nsbox_store *s, const char *diff_id);

/* The image's layers as the overlay stacks them: its short links in images/l (absolute paths),
 * top layer first, NULL-terminated; NULL with err when one is missing from the store. */
char **image_lowerdirs(struct nsbox_store *s, const struct image_rec *r, const char *ref,
                       nsbox_error_t *err);

/* The short name of a layer below images/l/: the first 16 hex digits of its diff_id. */
#define LAYER_SHORT 16

#endif
