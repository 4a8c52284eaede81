/* Implementation of util.h. */
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define READ_FILE_MAX (4u << 20)

void cleanup_freep(void *p) {
  free(*(void **)p);
}

void cleanup_closep(int *fd) {
  if (*fd >= 0)
    close(*fd); /* never retried on EINTR: the fd is gone either way on Linux */
}

static void oom(void) {
  nsbox_notice("out of memory");
  _exit(125);
}

void *xmalloc(size_t n) {
  void *p = calloc(1, n ? n : 1);
  if (p == NULL)
    oom();
  return p;
}

void *xrealloc(void *p, size_t n) {
  p = realloc(p, n ? n : 1);
  if (p == NULL)
    oom();
  return p;
}

char *xstrdup(const char *s) {
  char *p = strdup(s);
  if (p == NULL)
    oom();
  return p;
}

char *xstrndup(const char *s, size_t n) {
  char *p = strndup(s, n);
  if (p == NULL)
    oom();
  return p;
}

char *xasprintf(const char *fmt, ...) {
  char *s = NULL;
  va_list ap;
  va_start(ap, fmt);
  int r = vasprintf(&s, fmt, ap);
  va_end(ap);
  if (r < 0)
    oom();
  return s;
}

int write_all(int fd, const void *buf, size_t len) {
  const char *p = buf;
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return -errno;
    }
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

ssize_t read_file_at(int dirfd, const char *path, char **out) {
  /* Also used on files of untrusted images (/etc/passwd): a FIFO or device there must not
   * block or feed us forever, so only regular files, and only so much of them. */
  cleanup_close int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0)
    return -errno;
  return read_fd(fd, out);
}

ssize_t read_fd(int fd, char **out) {
  struct stat st;
  if (fstat(fd, &st) < 0)
    return -errno;
  if (!S_ISREG(st.st_mode))
    return -EINVAL;
  size_t cap = 4096, len = 0;
  cleanup_free char *buf = xmalloc(cap);
  for (;;) {
    if (len + 1 >= cap) {
      if (cap >= READ_FILE_MAX)
        return -EFBIG;
      buf = xrealloc(buf, cap *= 2);
    }
    ssize_t n = read(fd, buf + len, cap - len - 1);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return -errno;
    }
    if (n == 0)
      break;
    len += (size_t)n;
  }
  buf[len] = '\0';
  *out = steal_pointer(&buf);
  return (ssize_t)len;
}

int write_file_at(int dirfd, const char *path, const char *data, size_t len, int mode,
                  bool atomic) {
  char tmp[PATH_MAX];
  const char *target = path;
  if (atomic) {
    if (snprintf(tmp, sizeof(tmp), "%s.tmp%d", path, (int)getpid()) >= (int)sizeof(tmp))
      return -ENAMETOOLONG;
    target = tmp;
  }
  int fd = openat(dirfd, target, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0)
    return -errno;
  int r = write_all(fd, data, len);
  if (close(fd) < 0 && r == 0 && errno != EINTR)
    r = -errno;
  if (r == 0 && atomic && renameat(dirfd, tmp, dirfd, path) < 0)
    r = -errno;
  if (r < 0 && atomic)
    unlinkat(dirfd, tmp, 0);
  return r;
}

int mkdir_p(const char *path, mode_t mode) {
  /* The common case, on every nsbox command: the whole path is there already. */
  if (mkdir(path, mode) == 0 || errno == EEXIST)
    return 0;
  if (errno != ENOENT)
    return -errno;
  char buf[PATH_MAX];
  if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
    return -ENAMETOOLONG;
  for (char *p = buf + 1;; p++) {
    if (*p == '/' || *p == '\0') {
      char c = *p;
      *p = '\0';
      if (mkdir(buf, mode) < 0 && errno != EEXIST)
        return -errno;
      *p = c;
      if (c == '\0')
        break;
    }
  }
  return 0;
}

static int rm_rf_children(int dfd, dev_t dev);

int rm_rf_at(int dirfd, const char *name) {
  struct stat st;
  if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return errno == ENOENT ? 0 : -errno;
  if (!S_ISDIR(st.st_mode))
    return unlinkat(dirfd, name, 0) < 0 && errno != ENOENT ? -errno : 0;

  int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0 && errno == EACCES && st.st_uid == geteuid()) {
    /* Overlay's work dir and images' unreadable dirs: ours to open up before removing. */
    fchmodat(dirfd, name, 0700, 0);
    fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  }
  if (fd < 0)
    return -errno;
  int r = rm_rf_children(fd, st.st_dev);
  int rr = unlinkat(dirfd, name, AT_REMOVEDIR) < 0 ? -errno : 0;
  if (rr == -ENOTEMPTY && r == 0) {
    /* One more pass if something appeared meanwhile (a last write racing the removal). */
    r = rm_rf_children(fd, st.st_dev);
    rr = unlinkat(dirfd, name, AT_REMOVEDIR) < 0 ? -errno : 0;
  }
  close(fd);
  if (rr < 0 && rr != -ENOENT && r == 0)
    r = rr;
  return r;
}

static int rm_rf_children(int dfd, dev_t dev) {
  int dup_fd = dup(dfd);
  if (dup_fd < 0)
    return -errno;
  DIR *d = fdopendir(dup_fd);
  if (d == NULL) {
    close(dup_fd);
    return -errno;
  }
  int r = 0;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
      continue;
    struct stat st;
    if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode) &&
        st.st_dev != dev) {
      /* A mount point: never descend into another filesystem. */
      if (r == 0)
        r = -EBUSY;
      continue;
    }
    int rr = rm_rf_at(dfd, de->d_name);
    if (rr < 0 && r == 0)
      r = rr;
  }
  closedir(d);
  return r;
}

void random_hex_id(char out[65]) {
  unsigned char raw[32];
  size_t got = 0;
  while (got < sizeof(raw)) {
    ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      /* No entropy source at all is not worth failing a run for: ids need only be unique. */
      for (; got < sizeof(raw); got++)
        raw[got] = (unsigned char)(getpid() * 131 + (int)got * 7919 + (int)time(NULL));
      break;
    }
    got += (size_t)n;
  }
  static const char hex[] = "0123456789abcdef";
  for (size_t i = 0; i < sizeof(raw); i++) {
    out[2 * i] = hex[raw[i] >> 4];
    out[2 * i + 1] = hex[raw[i] & 15];
  }
  out[64] = '\0';
}

int parse_ulong(const char *s, unsigned long *out) {
  if (s == NULL || *s < '0' || *s > '9')
    return -EINVAL;
  char *end;
  errno = 0;
  unsigned long v = strtoul(s, &end, 10);
  if (errno != 0 || *end != '\0')
    return -EINVAL;
  *out = v;
  return 0;
}

void format_ago(time_t t, char *out, size_t len) {
  if (t <= 0) {
    snprintf(out, len, "unknown");
    return;
  }
  long long d = (long long)(time(NULL) - t);
  if (d < 0)
    d = 0;
  static const struct {
    long long secs;
    const char *unit;
  } units[] = {{86400 * 365, "year"}, {86400 * 7, "week"}, {86400, "day"},
               {3600, "hour"},        {60, "minute"},      {1, "second"}};
  for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
    if (d >= units[i].secs || units[i].secs == 1) {
      long long n = d / units[i].secs;
      if (n == 0 && units[i].secs == 1) {
        snprintf(out, len, "Less than a second ago");
        return;
      }
      snprintf(out, len, "%lld %s%s ago", n, units[i].unit, n == 1 ? "" : "s");
      return;
    }
  }
}

const char *format_rfc3339(time_t t, char *out, size_t len) {
  struct tm tm;
  if (len == 0)
    return out;
  if (t <= 0 || !gmtime_r(&t, &tm) || strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
    out[0] = '\0';
  return out;
}

time_t parse_rfc3339(const char *s) {
  struct tm tm = {0};
  int n = 0;
  if (s == NULL || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                          &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6)
    return -1;
  const char *p = s + n;
  if (*p == '.')
    for (p++; *p >= '0' && *p <= '9'; p++)
      ;
  long off = 0;
  int oh, om;
  if (*p == 'Z' || *p == 'z') {
    p++;
  } else if ((*p == '+' || *p == '-') && sscanf(p + 1, "%2d:%2d", &oh, &om) == 2) {
    off = (*p == '-' ? -1 : 1) * (oh * 3600L + om * 60L);
    p += 6;
  } else {
    return -1;
  }
  if (*p != '\0')
    return -1;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  time_t t = timegm(&tm);
  return t == (time_t)-1 ? -1 : t - off;
}

union fd_cmsg {
  struct cmsghdr h;
  char buf[CMSG_SPACE(sizeof(int))];
};

int sock_send_fd(int sock, const void *data, size_t len, int fd) {
  union fd_cmsg u;
  memset(&u, 0, sizeof(u));
  struct iovec iov = {.iov_base = (void *)data, .iov_len = len};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
  if (fd >= 0) {
    msg.msg_control = u.buf;
    msg.msg_controllen = sizeof(u.buf);
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof(int));
  }
  ssize_t n;
  while ((n = sendmsg(sock, &msg, MSG_NOSIGNAL)) < 0 && errno == EINTR)
    ;
  return n < 0 ? -errno : 0;
}

ssize_t sock_recv_fd(int sock, void *buf, size_t len, int *fd, int flags) {
  union fd_cmsg u;
  struct iovec iov = {.iov_base = buf, .iov_len = len};
  struct msghdr msg = {
      .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
  ssize_t n;
  *fd = -1;
  while ((n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | flags)) < 0 && errno == EINTR)
    ;
  if (n < 0)
    return -errno;
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
    memcpy(fd, CMSG_DATA(c), sizeof(int));
  return n;
}

static int cmp_int(const void *a, const void *b) {
  int x = *(const int *)a, y = *(const int *)b;
  return x < y ? -1 : x > y;
}

void close_fds_except(const int *keep, size_t n) {
  int *k = xmalloc((n + 1) * sizeof(*k));
  memcpy(k, keep, n * sizeof(*k));
  qsort(k, n, sizeof(*k), cmp_int);
  unsigned from = 3;
  for (size_t i = 0; i < n; i++) {
    if (k[i] < (int)from)
      continue;
    if ((unsigned)k[i] > from)
      syscall(SYS_close_range, from, (unsigned)k[i] - 1, 0);
    from = (unsigned)k[i] + 1;
  }
  syscall(SYS_close_range, from, ~0U, 0);
  free(k);
}

void strv_free(char **v) {
  for (size_t i = 0; v && v[i]; i++)
    free(v[i]);
  free(v);
}

void strv_freep(char ***v) {
  strv_free(*v);
}

size_t strv_len(char *const *v) {
  size_t n = 0;
  while (v && v[n])
    n++;
  return n;
}

int reap_pid(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR)
      return -1;
  return status;
}

bool find_program(const char *prog, const char *extra, char *out, size_t len) {
  const char *path = getenv("PATH");
  cleanup_free char *dirs =
      xasprintf("%s%s%s", path && *path ? path : "/usr/local/bin:/usr/bin:/bin", extra ? ":" : "",
                extra ? extra : "");
  for (const char *p = dirs; *p != '\0';) {
    const char *end = strchrnul(p, ':');
    int n = (int)(end - p);
    struct stat st;
    if (*p == '/' && snprintf(out, len, "%.*s/%s", n, p, prog) < (int)len && stat(out, &st) == 0 &&
        S_ISREG(st.st_mode) && access(out, X_OK) == 0)
      return true;
    p = *end != '\0' ? end + 1 : end;
  }
  return false;
}
