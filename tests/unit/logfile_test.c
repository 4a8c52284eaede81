/* runtime/logfile.c: records written and parsed back, and what `nsbox logs` prints of a log
 * (whole, --tail, -t, a line still being written), into memfds. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../runtime/logfile.h"
#include "../../runtime/syscalls.h"
#include "../../runtime/util.h"
#include "check.h"
#include "tests.h"

/* All of a memfd, NUL-terminated; the caller frees it. */
static char *contents(int fd, size_t *len) {
  struct stat st;
  if (fstat(fd, &st) < 0)
    return xstrdup("");
  char *buf = xmalloc((size_t)st.st_size + 1);
  ssize_t n = pread(fd, buf, (size_t)st.st_size, 0);
  buf[n > 0 ? n : 0] = '\0';
  if (len)
    *len = n > 0 ? (size_t)n : 0;
  return buf;
}

/* Splits a log into its records; returns how many (at most max). */
static size_t records(const char *log, size_t len, struct log_record *out, size_t max,
                      bool *all_parse) {
  size_t n = 0;
  *all_parse = true;
  for (const char *p = log, *end = log + len; p < end && n < max;) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    if (nl == NULL) {
      *all_parse = false;
      break;
    }
    if (logfile_parse(p, (size_t)(nl - p), &out[n]) < 0)
      *all_parse = false;
    n++;
    p = nl + 1;
  }
  return n;
}

static bool content_is(const struct log_record *r, const char *s) {
  return r->len == strlen(s) && memcmp(r->content, s, r->len) == 0;
}

static bool ts_le(const struct timespec *a, const struct timespec *b) {
  return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec <= b->tv_nsec);
}

static void test_logfile_write(void) {
  cleanup_close int fd = sys_memfd_create("log", MFD_CLOEXEC);
  CHECK(fd >= 0);
  CHECK(logfile_write(fd, LOG_STDOUT, "one\ntwo\nthree", 13) == 0);
  CHECK(logfile_write(fd, LOG_STDERR, "\n", 1) == 0);
  CHECK(logfile_write(fd, LOG_STDOUT, "", 0) == 0);
  size_t big = 40 << 10;
  cleanup_free char *line = xmalloc(big + 1);
  memset(line, 'x', big);
  line[big] = '\n';
  CHECK(logfile_write(fd, LOG_STDERR, line, big + 1) == 0);
  /* A line of exactly the maximum is still one F record. */
  line[LOG_RECORD_MAX_CONTENT] = '\n';
  CHECK(logfile_write(fd, LOG_STDOUT, line, LOG_RECORD_MAX_CONTENT + 1) == 0);

  size_t len = 0;
  cleanup_free char *log = contents(fd, &len);
  struct log_record r[16];
  bool ok;
  size_t n = records(log, len, r, 16, &ok);
  CHECK(ok && n == 8);
  if (!ok || n != 8)
    return;
  CHECK(r[0].stream == LOG_STDOUT && !r[0].partial && content_is(&r[0], "one"));
  CHECK(r[1].stream == LOG_STDOUT && !r[1].partial && content_is(&r[1], "two"));
  CHECK(r[2].stream == LOG_STDOUT && r[2].partial && content_is(&r[2], "three"));
  CHECK(r[3].stream == LOG_STDERR && !r[3].partial && r[3].len == 0);
  CHECK(r[4].stream == LOG_STDERR && r[4].partial && r[4].len == LOG_RECORD_MAX_CONTENT);
  CHECK(r[5].stream == LOG_STDERR && r[5].partial && r[5].len == LOG_RECORD_MAX_CONTENT);
  CHECK(r[6].stream == LOG_STDERR && !r[6].partial &&
        r[6].len == big - 2 * LOG_RECORD_MAX_CONTENT && r[6].content[0] == 'x');
  CHECK(r[7].stream == LOG_STDOUT && !r[7].partial && r[7].len == LOG_RECORD_MAX_CONTENT);
  for (size_t i = 1; i < n; i++)
    CHECK(ts_le(&r[i - 1].ts, &r[i].ts));
  /* The records of one write share its time; the time is now. */
  CHECK(r[0].ts.tv_sec == r[2].ts.tv_sec && r[0].ts.tv_nsec == r[2].ts.tv_nsec);
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  CHECK(ts_le(&r[7].ts, &now) && now.tv_sec - r[0].ts.tv_sec < 60);
  /* The exact text of a record. */
  CHECK(len > 40 && memcmp(log + 30, " stdout F one\n", 14) == 0 && log[29] == 'Z');
}

static void test_logfile_parse(void) {
  struct log_record r;
  const char *ok = "2026-11-22T10:15:04.123456789Z stdout F the line text";
  CHECK(logfile_parse(ok, strlen(ok), &r) == 0 && r.stream == LOG_STDOUT && !r.partial &&
        content_is(&r, "the line text") && r.ts.tv_nsec == 123456789);
  char t[LOG_TIME_LEN];
  CHECK(logfile_format_time(&r.ts, t) == LOG_TIME_LEN - 1 &&
        strcmp(t, "2026-11-22T10:15:04.123456789Z") == 0);
  /* conmon's kind: a local offset, fewer digits. */
  struct log_record o;
  const char *off = "2026-11-22T11:15:04.1234+01:00 stderr P  two spaces";
  CHECK(logfile_parse(off, strlen(off), &o) == 0 && o.stream == LOG_STDERR && o.partial &&
        o.ts.tv_sec == r.ts.tv_sec && o.ts.tv_nsec == 123400000 && content_is(&o, " two spaces"));
  const char *empty = "2026-11-22T10:15:04Z stdout F";
  CHECK(logfile_parse(empty, strlen(empty), &o) == 0 && o.len == 0 && o.ts.tv_nsec == 0);
  const char *empty2 = "2026-11-22T10:15:04Z stdout F ";
  CHECK(logfile_parse(empty2, strlen(empty2), &o) == 0 && o.len == 0);
  struct timespec epoch = {0, 5};
  CHECK(logfile_format_time(&epoch, t) == 30 && strcmp(t, "1970-01-01T00:00:00.000000005Z") == 0);

  static const char *const bad[] = {
      "",
      "hello",
      "2026-11-22T10:15:04Z",
      "2026-11-22T10:15:04Z stdin F x",
      "2026-11-22T10:15:04Z stdout X x",
      "2026-11-22T10:15:04Z stdout Fx",
      "2026-11-22T10:15:04Z stdout",
      "2026-11-22T10:15:04 stdout F x",
      "2026-11-22 10:15:04Z stdout F x",
      "2026-13-22T10:15:04Z stdout F x",
      "2026-11-22T10:15:04.Z stdout F x",
      "2026-11-22T10:15:04.1234567891Z stdout F x",
      "2026-11-22T10:15:04+0100 stdout F x",
      "26-11-22T10:15:04Z stdout F x",
      "2026-11-22T10:15:04Z  stdout F x",
  };
  for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
    bool rejected = logfile_parse(bad[i], strlen(bad[i]), &o) < 0;
    CHECK(rejected);
    if (!rejected)
      printf("  accepted: \"%s\"\n", bad[i]);
  }
  /* The length is respected: the record ends where the caller says. */
  CHECK(logfile_parse(ok, 31, &o) < 0);
  CHECK(logfile_parse(ok, 39, &o) == 0 && o.len == 0);
}

static void test_logfile_open(void) {
  char dir[] = "/tmp/nsbox-logfile-XXXXXX";
  if (mkdtemp(dir) == NULL) {
    CHECK(!"mkdtemp");
    return;
  }
  cleanup_free char *path = xasprintf("%s/ctr.log", dir);
  cleanup_free char *link = xasprintf("%s/link.log", dir);
  nsbox_error_t err = {0};
  int fd = logfile_open(path, &err);
  CHECK(fd >= 0);
  struct stat st;
  CHECK(fd >= 0 && fstat(fd, &st) == 0 && (st.st_mode & 0777) == 0600);
  CHECK(fd >= 0 && (fcntl(fd, F_GETFL) & O_APPEND) && (fcntl(fd, F_GETFD) & FD_CLOEXEC));
  if (fd >= 0)
    close(fd);
  CHECK(symlink(path, link) == 0);
  memset(&err, 0, sizeof(err));
  CHECK(logfile_open(link, &err) < 0 && err.errnum == ELOOP && strstr(err.msg, "link.log"));
  rm_rf_at(AT_FDCWD, dir);
}

/* A log of hand-written records, read into memfds as `nsbox logs` prints it. */
struct printed {
  char *out, *err;
  int r;
};

static struct printed print(const char *log, bool timestamps, long tail) {
  struct printed p = {0};
  cleanup_close int fd = sys_memfd_create("log", MFD_CLOEXEC);
  cleanup_close int ofd = sys_memfd_create("out", MFD_CLOEXEC);
  cleanup_close int efd = sys_memfd_create("err", MFD_CLOEXEC);
  nsbox_error_t err = {0};
  struct log_reader lr;
  if (fd < 0 || ofd < 0 || efd < 0 || write_all(fd, log, strlen(log)) < 0) {
    p.r = -2;
    return p;
  }
  log_reader_init(&lr, fd, ofd, efd, timestamps);
  p.r = tail >= 0 ? log_reader_tail(&lr, (unsigned long)tail, &err) : 0;
  if (p.r == 0)
    p.r = log_reader_drain(&lr, &err);
  log_reader_free(&lr);
  p.out = contents(ofd, NULL);
  p.err = contents(efd, NULL);
  return p;
}

static bool printed_is(const char *log, bool timestamps, long tail, const char *out,
                       const char *err) {
  struct printed p = print(log, timestamps, tail);
  bool ok = p.r == 0 && strcmp(p.out, out) == 0 && strcmp(p.err, err) == 0;
  if (!ok)
    printf("  tail %ld: r=%d out=\"%s\" err=\"%s\"\n", tail, p.r, p.out, p.err);
  free(p.out);
  free(p.err);
  return ok;
}

#define T1 "2026-11-22T10:15:04.000000001Z"
#define T2 "2026-11-22T10:15:05.000000002Z"
#define T3 "2026-11-22T10:15:06.000000003Z"

static void test_logfile_print(void) {
  /* Interleaved streams; stdout's "a-b" line is cut by a stderr line; garbage is skipped. */
  const char *log = T1 " stdout F one\n" T1 " stdout P a-\n" T2 " stderr F oops\n"
                       "not a record\n" T2 " stdout F b\n" T3 " stdout F \n" T3 " stderr P tail";
  CHECK(printed_is(log, false, -1, "one\na-b\n\n", "oops\n"));
  CHECK(printed_is(log, true, -1, T1 " one\n" T1 " a-b\n" T3 " \n", T2 " oops\n"));
  /* --tail counts F records; a line's P pieces before the cut come along. */
  CHECK(printed_is(log, false, 0, "", ""));
  CHECK(printed_is(log, false, 1, "\n", ""));
  CHECK(printed_is(log, false, 2, "a-b\n\n", ""));
  CHECK(printed_is(log, false, 3, "a-b\n\n", "oops\n"));
  CHECK(printed_is(log, true, 3, T1 " a-b\n" T3 " \n", T2 " oops\n"));
  CHECK(printed_is(log, false, 4, "one\na-b\n\n", "oops\n"));
  CHECK(printed_is(log, false, 100, "one\na-b\n\n", "oops\n"));
  /* Pieces of a line not finished yet are newer than any finished one: always printed. */
  const char *pending = T1 " stdout F old\n" T2 " stderr P half \n" T3 " stdout F new\n";
  CHECK(printed_is(pending, false, 0, "", "half "));
  CHECK(printed_is(pending, false, 1, "new\n", "half "));
  CHECK(printed_is(pending, false, 2, "old\nnew\n", "half "));
  CHECK(printed_is("", false, 3, "", ""));
  CHECK(printed_is("no record at all", false, 3, "", ""));
}

/* The record being written when the reader reaches the end waits for its \n. */
static void test_logfile_follow(void) {
  cleanup_close int fd = sys_memfd_create("log", MFD_CLOEXEC);
  cleanup_close int ofd = sys_memfd_create("out", MFD_CLOEXEC);
  nsbox_error_t err = {0};
  struct log_reader lr;
  log_reader_init(&lr, fd, ofd, ofd, false);
  const char *first = T1 " stdout F first\n" T1 " stdo";
  CHECK(write_all(fd, first, strlen(first)) == 0);
  CHECK(log_reader_drain(&lr, &err) == 0);
  cleanup_free char *a = contents(ofd, NULL);
  CHECK(strcmp(a, "first\n") == 0);
  CHECK(write_all(fd, "ut F second\n", 12) == 0);
  CHECK(logfile_write(fd, LOG_STDERR, "third\n", 6) == 0);
  CHECK(log_reader_drain(&lr, &err) == 0);
  cleanup_free char *b = contents(ofd, NULL);
  CHECK(strcmp(b, "first\nsecond\nthird\n") == 0);
  log_reader_free(&lr);

  /* A reader gone: EPIPE, for the caller to end quietly. */
  int p[2];
  if (pipe2(p, O_CLOEXEC) == 0) {
    close(p[0]);
    void (*old)(int) = signal(SIGPIPE, SIG_IGN);
    log_reader_init(&lr, fd, p[1], p[1], false);
    memset(&err, 0, sizeof(err));
    CHECK(log_reader_drain(&lr, &err) < 0 && err.errnum == EPIPE);
    log_reader_free(&lr);
    signal(SIGPIPE, old);
    close(p[1]);
  }
}

/* A log larger than the reader's buffers, to cross its chunk edges both ways. */
static void test_logfile_large(void) {
  cleanup_close int fd = sys_memfd_create("log", MFD_CLOEXEC);
  cleanup_close int ofd = sys_memfd_create("out", MFD_CLOEXEC);
  char line[64];
  for (int i = 0; i < 20000; i++) {
    int n = snprintf(line, sizeof(line), "line %d\n", i);
    logfile_write(fd, i % 3 ? LOG_STDOUT : LOG_STDERR, line, (size_t)n);
  }
  nsbox_error_t err = {0};
  struct log_reader lr;
  log_reader_init(&lr, fd, ofd, ofd, false);
  CHECK(log_reader_tail(&lr, 3, &err) == 0 && log_reader_drain(&lr, &err) == 0);
  log_reader_free(&lr);
  cleanup_free char *tail = contents(ofd, NULL);
  CHECK(strcmp(tail, "line 19997\nline 19998\nline 19999\n") == 0);

  cleanup_close int ofd2 = sys_memfd_create("out", MFD_CLOEXEC);
  log_reader_init(&lr, fd, ofd2, ofd2, false);
  CHECK(log_reader_drain(&lr, &err) == 0);
  log_reader_free(&lr);
  size_t len = 0;
  cleanup_free char *all = contents(ofd2, &len);
  size_t lines = 0;
  for (size_t i = 0; i < len; i++)
    lines += all[i] == '\n';
  CHECK(lines == 20000 && strncmp(all, "line 0\nline 1\n", 14) == 0);
}

void test_logfile(void) {
  test_logfile_write();
  test_logfile_parse();
  test_logfile_open();
  test_logfile_print();
  test_logfile_follow();
  test_logfile_large();
}
