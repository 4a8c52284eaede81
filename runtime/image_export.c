/* image export (image.h): an image's root filesystem, its layers merged, as one squashfs, ext4
 * or erofs file, made without root by the filesystem's own tool (mksquashfs, mkfs.ext4 -d,
 * mkfs.erofs) reading a read-only overlay of the layers.
 *
 * The overlay is mounted, and the tool run, in the image worker child (image_task), in a mount
 * namespace of its own: rootless, that child is root of the store's user namespace, so the tool
 * sees, and records, the owners files have in the container (1000, not the subordinate 100999).
 * Letting overlayfs merge the layers applies whiteouts and opaque dirs exactly as `run` does,
 * and hides overlayfs's own markers (whiteout devices, overlay.opaque xattrs) from the tool.
 *
 * The file is written as FILE.tmp-PID, created by nsbox itself (with the caller's rights, not
 * with those of the namespace's root, which may override a directory's mode, and which lacks
 * the caller's supplementary groups), handed to the tool as an open fd, and renamed to FILE
 * only once the tool succeeded: a failed or interrupted export leaves nothing. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "image.h"
#include "image_store.h"
#include "syscalls.h"
#include "util.h"

enum export_fs { EXPORT_SQUASHFS, EXPORT_EXT4, EXPORT_EROFS };

struct export_format {
  const char *name;
  enum export_fs fs;
  const char *tool;    /* looked up in $PATH, then in the sbin dirs */
  const char *package; /* Debian's and Fedora's name of what ships it */
};

static const struct export_format formats[] = {
    {"squashfs", EXPORT_SQUASHFS, "mksquashfs", "squashfs-tools"},
    {"ext4", EXPORT_EXT4, "mkfs.ext4", "e2fsprogs"},
    {"erofs", EXPORT_EROFS, "mkfs.erofs", "erofs-utils"},
};

struct export {
  struct nsbox_store *s;
  const struct export_format *f;
  char tool[PATH_MAX];
  const char *ref;
  const char *tmpfile; /* FILE.tmp-PID */
  int out;             /* open on it */
  char *work;          /* images/.tmp-export-PID: root/ (the overlay) and empty/ */
  char **shorts;       /* the layers' short links in images/l, top layer first */
};

/* ---- in the worker child ---- */

/* The overlay's options: the layers by their short names relative to images/l (the working
 * directory while mounting), as rootfs.c does for many layers, so that the one page mount(2)
 * takes holds about 240 of them, and the store's path (a $HOME with ',' or ':') never appears
 * in them. An overlay without an upper dir needs two lower layers (still so in Linux 6.18):
 * an empty one goes below a lone layer. That, rather than a bind mount of the layer, keeps the
 * export of a one-layer image what `run` shows, without the layer's whiteout devices and
 * overlay.opaque xattrs, and the same code for every image. */
static char *overlay_options(const struct export *x, nsbox_error_t *err) {
  size_t n = strv_len(x->shorts);
  cleanup_free char *empty = xasprintf("../%s/empty", strrchr(x->work, '/') + 1);
  size_t len = n * (LAYER_SHORT + 1) + strlen(empty) + 64;
  if (len >= (size_t)getpagesize()) {
    nsbox_fail(err, 0, "image %s has too many layers (%zu) for one overlay mount", x->ref, n);
    return NULL;
  }
  char *opts = xmalloc(len), *o = opts;
  o += sprintf(o, "lowerdir=");
  for (size_t i = 0; i < n; i++)
    o += sprintf(o, "%s%s", i ? ":" : "", strrchr(x->shorts[i], '/') + 1);
  if (n == 1)
    o += sprintf(o, ":%s", empty);
  /* In a user namespace overlayfs reads its markers from user.overlay.* (layer.h). */
  if (x->s->rootless)
    sprintf(o, ",userxattr");
  return opts;
}

static int mount_layers(const struct export *x, const char *root, nsbox_error_t *err) {
  if (unshare(CLONE_NEWNS) < 0)
    return nsbox_fail(err, errno, "unshare the mount namespace");
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
    return nsbox_fail(err, errno, "make / private");
  cleanup_free char *opts = overlay_options(x, err);
  if (opts == NULL)
    return -1;
  cleanup_close int cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
  cleanup_free char *ldir = image_path(x->s, "l");
  if (cwd < 0)
    return nsbox_fail(err, errno, "open the working directory");
  if (chdir(ldir) < 0)
    return nsbox_fail(err, errno, "chdir %s", ldir);
  int r = mount("overlay", root, "overlay", MS_RDONLY | MS_NOSUID | MS_NODEV, opts);
  int e = errno;
  if (fchdir(cwd) < 0)
    return nsbox_fail(err, errno, "chdir back to the working directory");
  if (r < 0 && x->s->rootless && e == EPERM)
    return nsbox_fail(err, e, "mount overlay in a user namespace (needs Linux 5.11 or newer)");
  if (r < 0)
    return nsbox_fail(err, e, "mount overlay on %s", root);
  return 0;
}

/* What the merged tree holds, for the size of an ext4 file. nftw has no argument for its
 * callback, hence the file-scope tally (the worker child runs one export). */
static struct { uint64_t bytes, inodes; } tally;

static int tally_entry(const char *path, const struct stat *st, int type, struct FTW *ftw) {
  if (type == FTW_DNR || type == FTW_NS)
    return errno ? errno : EACCES;
  /* The allocated size, or the size rounded up to 4 KiB when that is larger: a compressing or
   * deduplicating filesystem below the layers allocates less than ext4 will. Hard links are
   * counted once per name, which only errs on the large side. */
  uint64_t used = (uint64_t)st->st_blocks * 512;
  if (S_ISREG(st->st_mode) && used < (((uint64_t)st->st_size + 4095) & ~(uint64_t)4095))
    used = ((uint64_t)st->st_size + 4095) & ~(uint64_t)4095;
  tally.bytes += used;
  tally.inodes++;
  return 0;
}

#define MIB (1024ULL * 1024)
#define EXT4_INODE_SIZE 256 /* mke2fs's default, and what -T default gives */

/* ext4 is the one format that must be sized beforehand, and it is meant to be written to
 * (`run --image-file F.ext4:rw`): the files plus a fifth, the inode tables (a fifth more
 * inodes than files, and 1024 to spare), and 64 MiB of room, rounded to MiB. A sparse file:
 * the room costs no disk until used. */
static int size_ext4(const char *root, int out, unsigned long long *inodes, nsbox_error_t *err) {
  tally.bytes = tally.inodes = 0;
  int r = nftw(root, tally_entry, 64, FTW_PHYS | FTW_MOUNT);
  if (r != 0)
    return nsbox_fail(err, r > 0 ? r : errno, "walk the image's files");
  *inodes = tally.inodes + tally.inodes / 5 + 1024;
  uint64_t size = tally.bytes + tally.bytes / 5 + *inodes * EXT4_INODE_SIZE + 64 * MIB;
  size = (size + MIB - 1) / MIB * MIB;
  if (ftruncate(out, (off_t)size) < 0)
    return nsbox_fail(err, errno, "size the file to %llu MiB", (unsigned long long)(size / MIB));
  return 0;
}

/* The output file as the tool's fd 3, which it opens again by this name: no directory on the
 * way to FILE is searched by the namespace's root. */
#define TOOL_OUT "/proc/self/fd/3"

/* In the tool's child: stdin and stdout /dev/null, stderr the pipe, fd 3 the output; the
 * signals image_task blocked unblocked (a blocked mask survives exec); dies with its parent,
 * so that an interrupted export stops writing. An exec failure is reported on the pipe like
 * the tool's own errors. */
static _Noreturn void exec_tool(const char *path, char *const argv[], int devnull, int errw,
                                int out) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  for (int sig = 1; sig < NSIG; sig++)
    if (sig != SIGKILL && sig != SIGSTOP)
      signal(sig, SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  /* Above 3 first, so that no dup2 below clobbers another of them. */
  devnull = fcntl(devnull, F_DUPFD_CLOEXEC, 4);
  errw = fcntl(errw, F_DUPFD_CLOEXEC, 4);
  out = fcntl(out, F_DUPFD_CLOEXEC, 4);
  if (devnull < 0 || errw < 0 || out < 0 || dup2(devnull, 0) < 0 || dup2(devnull, 1) < 0 ||
      dup2(errw, 2) < 0 || dup2(out, 3) < 0)
    _exit(127);
  sys_close_range(4, ~0U, CLOSE_RANGE_CLOEXEC);
  execv(path, argv);
  dprintf(2, "exec %s: %s\n", path, strerror(errno));
  _exit(127);
}

/* Keeps the last non-empty line of what the tool wrote on stderr. */
struct last_line {
  char cur[512], last[512];
  size_t n;
};

static void last_line_feed(struct last_line *l, const char *buf, size_t len) {
  for (size_t i = 0; i < len; i++) {
    if (buf[i] == '\n') {
      while (l->n > 0 && (l->cur[l->n - 1] == ' ' || l->cur[l->n - 1] == '\r'))
        l->n--;
      if (l->n > 0) {
        memcpy(l->last, l->cur, l->n);
        l->last[l->n] = '\0';
      }
      l->n = 0;
    } else if (l->n + 1 < sizeof(l->cur)) {
      l->cur[l->n++] = buf[i] == '\t' ? ' ' : buf[i];
    }
  }
}

/* Runs the tool (no shell) and waits for it; on failure, err has the last line it wrote. */
static int run_tool(const char *path, char *const argv[], int out, nsbox_error_t *err) {
  cleanup_close int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (devnull < 0)
    return nsbox_fail(err, errno, "open /dev/null");
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0)
    return nsbox_fail(err, errno, "pipe");
  pid_t pid = fork();
  if (pid == 0)
    exec_tool(path, argv, devnull, p[1], out);
  int e = errno;
  close(p[1]);
  cleanup_close int errr = p[0];
  if (pid < 0)
    return nsbox_fail(err, e, "fork");
  struct last_line l = {0};
  char buf[4096];
  ssize_t n;
  while ((n = read(errr, buf, sizeof(buf))) != 0)
    if (n > 0)
      last_line_feed(&l, buf, (size_t)n);
    else if (errno != EINTR)
      break;
  last_line_feed(&l, "\n", 1); /* a last line without its newline */
  int status;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR)
      return nsbox_fail(err, errno, "wait for %s", argv[0]);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
    return 0;
  char how[48];
  if (WIFSIGNALED(status))
    snprintf(how, sizeof(how), "was killed by signal %d", WTERMSIG(status));
  else
    snprintf(how, sizeof(how), "failed (exit status %d)", WEXITSTATUS(status));
  return nsbox_fail(err, 0, "%s %s%s%s", argv[0], how, l.last[0] ? ": " : "", l.last);
}

static int export_child(void *arg, nsbox_error_t *err) {
  struct export *x = arg;
  cleanup_free char *root = xasprintf("%s/root", x->work);
  if (mount_layers(x, root, err) < 0)
    return -1;
  char *file = TOOL_OUT, *dir = root;
  switch (x->f->fs) {
  case EXPORT_SQUASHFS: {
    /* -quiet needs squashfs-tools 4.4. Its default compression, gzip, is kept: every
     * squashfs kernel and squashfuse build reads it, unlike zstd (-comp zstd: Linux 4.14,
     * and squashfuse only when built with it), at some 10-20% in size. -exit-on-error: a file
     * it cannot read must fail the export, not become an empty file in it. */
    char *argv[] = {"mksquashfs",     dir, file, "-noappend", "-quiet", "-no-progress",
                    "-exit-on-error", NULL};
    return run_tool(x->tool, argv, x->out, err);
  }
  case EXPORT_EROFS: {
    /* Uncompressed, the default: readable by every erofs kernel (5.4) and erofsfuse build;
     * -zlz4hc would make it smaller. */
    char *argv[] = {"mkfs.erofs", "--quiet", file, dir, NULL};
    return run_tool(x->tool, argv, x->out, err);
  }
  case EXPORT_EXT4: {
    /* -d needs e2fsprogs 1.43. -T default: 4 KiB blocks whatever the size (the "small" type
     * of a file under 512 MiB would get 1 KiB ones); -N: the inode count size_ext4 planned;
     * -m 0: the reserved blocks of a system disk would only take from the room left for
     * writes. mke2fs does not copy the source dir's owner to the root dir (1.47): root_owner
     * gives it the image's, the container's root as a rule. */
    unsigned long long inodes = 0;
    struct stat st;
    if (size_ext4(root, x->out, &inodes, err) < 0)
      return -1;
    if (stat(root, &st) < 0)
      return nsbox_fail(err, errno, "stat %s", root);
    char n_opt[32], e_opt[64];
    snprintf(n_opt, sizeof(n_opt), "%llu", inodes);
    snprintf(e_opt, sizeof(e_opt), "root_owner=%u:%u", (unsigned)st.st_uid, (unsigned)st.st_gid);
    char *argv[] = {"mkfs.ext4", "-q", "-F",  "-T", "default", "-m", "0", "-N",
                    n_opt,       "-E", e_opt, "-d", dir,       file, NULL};
    return run_tool(x->tool, argv, x->out, err);
  }
  }
  return nsbox_fail(err, 0, "unknown format");
}

/* ---- in nsbox ---- */

/* The layers' short names, top first, checked to be in the store. */
static int make_work_dirs(const char *work, nsbox_error_t *err) {
  static const char *const subs[] = {"", "/root", "/empty"};
  for (size_t i = 0; i < ARRAY_SIZE(subs); i++) {
    cleanup_free char *p = xasprintf("%s%s", work, subs[i]);
    if (mkdir(p, 0700) < 0)
      return nsbox_fail(err, errno, "mkdir %s", p);
  }
  return 0;
}

/* Resolves and checks everything, then exports with the image lock held, so that no `image rm`
 * collects a layer under the tool. */
static int export_locked(struct export *x, const char *file, nsbox_error_t *err) {
  char id[65];
  struct image_rec r;
  cleanup_close int lock = image_lock(x->s, LOCK_SH, err);
  if (lock < 0 || image_find(x->s, x->ref, id, err) < 0 || image_read(x->s, id, &r, err) < 0)
    return -1;
  x->shorts = image_lowerdirs(x->s, &r, x->ref, err);
  int rc = x->shorts ? 0 : -1;
  image_rec_free(&r);
  if (rc < 0)
    return -1;
  /* mkfs.ext4 lives in /sbin or /usr/sbin, which an ordinary user's PATH often lacks. */
  if (!find_program(x->f->tool, "/usr/local/sbin:/usr/sbin:/sbin", x->tool, sizeof(x->tool)))
    return nsbox_fail(err, 0, "%s not found (install %s)", x->f->tool, x->f->package);
  cleanup_close int fd = open(x->tmpfile, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0)
    return nsbox_fail(err, errno, "create %s", x->tmpfile);
  x->out = fd;
  rc = make_work_dirs(x->work, err);
  if (rc == 0 && image_task(x->s, export_child, x, err) < 0)
    rc = nsbox_wrap(err, "export %s as %s", x->ref, x->f->name);
  /* The tools do not sync; the rename must not land before the data. */
  if (rc == 0 && fsync(fd) < 0)
    rc = nsbox_fail(err, errno, "write %s", x->tmpfile);
  if (rc == 0 && rename(x->tmpfile, file) < 0)
    rc = nsbox_fail(err, errno, "rename %s to %s", x->tmpfile, file);
  if (rc < 0)
    unlink(x->tmpfile);
  return rc;
}

int image_export(struct nsbox_store *s, const char *ref, const char *format, const char *file,
                 nsbox_error_t *err) {
  struct export x = {.s = s, .ref = ref};
  for (size_t i = 0; i < ARRAY_SIZE(formats) && !x.f; i++)
    if (strcmp(formats[i].name, format) == 0)
      x.f = &formats[i];
  if (x.f == NULL)
    return nsbox_fail(err, 0, "unknown export format \"%.40s\" (squashfs, ext4, erofs)", format);
  if (strcmp(file, "-") == 0)
    return nsbox_fail(err, 0, "image export writes a file, not standard output");
  cleanup_free char *tmpfile = xasprintf("%s.tmp-%d", file, (int)getpid());
  x.tmpfile = tmpfile;
  x.work = image_path(s, ".tmp-export-%d", (int)getpid());
  int rc = export_locked(&x, file, err);
  /* The worker's mount namespace ended with it: the dirs are plain again. image_collect()
   * removes them should this not run. */
  nsbox_error_t ignored = {0};
  if (access(x.work, F_OK) == 0)
    store_remove_tree(s, x.work, &ignored);
  free(x.work);
  strv_free(x.shorts);
  return rc;
}
