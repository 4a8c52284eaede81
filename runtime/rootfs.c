/* See rootfs.h. */
#include "rootfs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "imgfile.h"
#include "mounts.h"
#include "syscalls.h"
#include "util.h"

/* Overlay's option string splits on ',' and ':'; our own store paths never hold them, but a
 * $HOME might. */
static int check_overlay_path(const char *p, nsbox_error_t *err) {
  if (strpbrk(p, ",:\\") != NULL)
    return nsbox_fail(err, 0, "overlay path %s contains ',', ':' or '\\'; use --root elsewhere", p);
  return 0;
}

/* "lowerdir=A:B,upperdir=U,workdir=W[,userxattr][,volatile]". mount(2) takes one page of
 * options; the layers of a large image do not fit as absolute paths, so then they are given
 * relative to their common directory (the store's short links in images/l), which becomes
 * the working directory, as podman does. */
static char *overlay_options(const struct nsbox_config *c, nsbox_error_t *err) {
  struct nsbox_root rr = c->root;
  const struct nsbox_root *r = &rr;
  char *image_lower[] = {rr.image_dir, NULL};
  if (rr.image_file)
    rr.lowerdirs = image_lower;
  if (r->lowerdirs == NULL || r->lowerdirs[0] == NULL) {
    nsbox_fail(err, 0, "the container has no image layers");
    return NULL;
  }
  if (check_overlay_path(r->upperdir, err) < 0 || check_overlay_path(r->workdir, err) < 0)
    return NULL;
  const char *first = r->lowerdirs[0];
  const char *slash = strrchr(first, '/');
  size_t plen = slash ? (size_t)(slash - first) + 1 : 0, abs_len = 0, rel_len = 0;
  bool common = plen > 0;
  for (char **l = r->lowerdirs; *l; l++) {
    if (check_overlay_path(*l, err) < 0)
      return NULL;
    abs_len += strlen(*l) + 1;
    rel_len += strlen(*l) - plen + 1;
    common = common && strncmp(*l, first, plen) == 0 && strchr(*l + plen, '/') == NULL;
  }
  size_t rest = strlen(r->upperdir) + strlen(r->workdir) + 64;
  bool relative = abs_len + rest >= (size_t)getpagesize();
  if (relative && (!common || rel_len + rest >= (size_t)getpagesize())) {
    nsbox_fail(err, 0, "the image has too many layers (%zu) for one overlay mount",
               strv_len(r->lowerdirs));
    return NULL;
  }
  if (relative) {
    cleanup_free char *dir = xstrndup(first, plen);
    if (chdir(dir) < 0) {
      nsbox_fail(err, errno, "chdir %s", dir);
      return NULL;
    }
  }
  char *lower = xmalloc(abs_len + 1), *o = lower;
  for (char **l = r->lowerdirs; *l; l++)
    o += sprintf(o, "%s%s", o == lower ? "" : ":", relative ? *l + plen : *l);
  /* In a user namespace the overlay keeps its metadata in user.overlay.* xattrs
   * (userxattr, kernel 5.11+): trusted.* is out of reach there. */
  /* volatile for --rm containers, as podman does: unmounting a volatile overlay skips the
   * sync of the upper filesystem (a journal commit and a disk flush on ext4, the largest
   * single cost of a short container); a layer that is deleted next needs no durability. */
  char *opts = xasprintf("lowerdir=%s,upperdir=%s,workdir=%s%s%s", lower, r->upperdir, r->workdir,
                         c->userns ? ",userxattr" : "", c->remove ? ",volatile" : "");
  free(lower);
  return opts;
}

static int mount_overlay(const struct nsbox_config *c, const char *target, nsbox_error_t *err) {
  cleanup_free char *opts = overlay_options(c, err);
  if (opts == NULL)
    return -1;
  if (mount("overlay", target, "overlay", 0, opts) < 0) {
    int e = errno;
    if (c->userns && e == EPERM)
      return nsbox_fail(err, e,
                        "mount overlay in a user namespace (needs Linux 5.11 or newer; "
                        "use --rootfs DIR on older kernels)");
    return nsbox_fail(err, e, "mount overlay on %s", target);
  }
  return 0;
}

int rootfs_mount(const struct nsbox_config *c, int sock, nsbox_error_t *err) {
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
    return nsbox_fail(err, errno, "make / private");

  const struct nsbox_root *r = &c->root;
  const char *target = r->path ? r->path : r->mergeddir;
  if (r->path != NULL) {
    /* pivot_root needs a mount point: a directory becomes one by binding it onto itself. */
    if (mount(target, target, NULL, MS_BIND | MS_REC, NULL) < 0)
      return nsbox_fail(err, errno, "bind %s", target);
  } else if (r->image_file != NULL) {
    if (imgfile_mount(c, sock, err) < 0)
      return -1;
    /* :rw, the file itself takes the writes: its mount, bound where the overlay would be
     * (image_dir's own mount was shared for a moment, which pivot_root refuses). */
    if (r->image_rw && mount(r->image_dir, target, NULL, MS_BIND | MS_REC, NULL) < 0)
      return nsbox_fail(err, errno, "bind %s", r->image_dir);
    if (!r->image_rw && mount_overlay(c, target, err) < 0)
      return -1;
  } else if (mount_overlay(c, target, err) < 0) {
    return -1;
  }
  int fd = open(target, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return nsbox_fail(err, errno, "open %s", target);
  return fd;
}

int rootfs_enter(const struct nsbox_config *c, int rootfd, nsbox_error_t *err) {
  if (c->root.readonly && make_readonly_fd(rootfd, false, "the root filesystem", err) < 0)
    return -1;
  /* pivot_root(".", "."): the old root ends up stacked on the new one and is detached at
   * once, so no path to the host's tree is left, not even a hidden directory. */
  if (fchdir(rootfd) < 0)
    return nsbox_fail(err, errno, "chdir into the root");
  if (sys_pivot_root(".", ".") < 0)
    return nsbox_fail(err, errno, "pivot_root");
  if (umount2(".", MNT_DETACH) < 0)
    return nsbox_fail(err, errno, "detach the old root");
  if (chdir("/") < 0)
    return nsbox_fail(err, errno, "chdir /");
  return 0;
}
