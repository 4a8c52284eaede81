/* One image layer: a tar stream (plain, gzip or zstd) unpacked into a directory that serves
 * as one of the overlay's lower layers, hashed on the way (the bytes as read and the tar they
 * decompress to, so the blob's digest and the layer's diff_id are checked in the same pass),
 * and optionally copied, byte for byte, into the store.
 *
 * The image spec's whiteouts become overlayfs's: `.wh.NAME` a character device 0/0 named
 * NAME, `.wh..wh..opq` the opaque xattr on its directory (trusted.overlay.opaque as root,
 * user.overlay.opaque for the userxattr overlay of a user namespace). Entries that would lead
 * outside the directory (absolute names, "..", through a symlink, hard links to outside) stop
 * the unpacking, as do overlay xattrs carried in the tar (they could redirect lookups). */
#ifndef NSBOX_LAYER_H
#define NSBOX_LAYER_H

#include <stdbool.h>

#include "error.h"
#include "userns.h"

enum layer_compression { LAYER_TAR, LAYER_GZIP, LAYER_ZSTD };

/* What a progress line says while layers load; NULL: quiet. */
struct layer_progress {
  int index, count;  /* "layer 2/5" */
  long long last_ns; /* when the line was last drawn */
};

struct layer_job {
  int fd;                          /* the layer's bytes, read to the end */
  int copy_to;                     /* >= 0: every byte read is also written here */
  const char *dir;                 /* unpack into this (empty) directory; NULL: hash only */
  const struct nsbox_idmaps *maps; /* rootless: owners the mapping lacks become root */
  bool can_mknod;                  /* device nodes are created (root), else skipped */
  bool userxattr;                  /* opaque directories marked in user.overlay.* */
  struct layer_progress *progress;
};

struct layer_result {
  char digest[65];  /* sha256 of the bytes read */
  char diff_id[65]; /* sha256 of the uncompressed tar */
  enum layer_compression compression;
  long long read_bytes, size; /* bytes read; bytes of the regular files unpacked */
  long files, skipped_devices, unmapped_ids;
};

/* Unpacks (or only hashes) job->fd. Changes the working directory. Returns 0, or -1 with err
 * filled; a half-unpacked directory is the caller's to remove. */
int layer_unpack(const struct layer_job *job, struct layer_result *res, nsbox_error_t *err);

/* Whether a tar entry's name is absolute or has a ".." component: names inside a tar name
 * places inside the directory it is unpacked into. */
bool tar_path_escapes(const char *path);

/* The media type of a layer stored as it was read. */
const char *layer_media_type(enum layer_compression c);

#endif
