/* See logfile.h. The writer is the monitor's, on the path of every byte the container prints:
 * it formats into one stack buffer and issues one write(2) per record. The reader streams the
 * file through a small buffer, and --tail walks it backwards from the end, so neither holds
 * more than a record or two of a log that may be large. */
#include "logfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

#define CHUNK (64u << 10)         /* what the reader reads at a time */
#define LINE_LIMIT (1u << 20)     /* a longer line is not one we wrote: it is skipped */
#define HEADER_MAX 64             /* time, stream and tag fit in this, even with an offset */
#define TAIL_BACK_LIMIT (1 << 20) /* how far back --tail looks for a line's first pieces */

/* "TS stdout F ": the fixed-size front of every record we write. */
static size_t format_header(char *out, const struct timespec *ts, enum log_stream s, bool partial) {
  size_t n = logfile_format_time(ts, out);
  n += (size_t)sprintf(out + n, " %s %c ", s == LOG_STDERR ? "stderr" : "stdout",
                       partial ? 'P' : 'F');
  return n;
}

size_t logfile_format_time(const struct timespec *ts, char out[LOG_TIME_LEN]) {
  struct tm tm;
  time_t t = ts->tv_sec;
  gmtime_r(&t, &tm);
  snprintf(out, LOG_TIME_LEN, "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ", tm.tm_year + 1900,
           tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long)ts->tv_nsec);
  return strlen(out);
}

/* The log at path, refused unless it is a regular file (not a fifo or a device put there). */
static int open_regular(const char *path, int flags, nsbox_error_t *err) {
  cleanup_close int fd = open(path, flags | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
  if (fd < 0)
    return nsbox_fail(err, errno, "open %s", path);
  struct stat st;
  if (fstat(fd, &st) < 0)
    return nsbox_fail(err, errno, "stat %s", path);
  if (!S_ISREG(st.st_mode))
    return nsbox_fail(err, 0, "%s is not a regular file", path);
  return steal_fd(&fd);
}

int logfile_open(const char *path, nsbox_error_t *err) {
  return open_regular(path, O_WRONLY | O_CREAT | O_APPEND, err);
}

int logfile_open_read(const char *path, nsbox_error_t *err) {
  return open_regular(path, O_RDONLY | O_NONBLOCK, err);
}

int logfile_write(int fd, enum log_stream s, const char *data, size_t len) {
  /* One time for all the records of one read: they arrived together. */
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  char rec[HEADER_MAX + LOG_RECORD_MAX_CONTENT + 1];
  while (len > 0) {
    /* The content of a record is at most LOG_RECORD_MAX_CONTENT bytes, so a newline right
     * after that many still ends an F record. */
    size_t look = len < LOG_RECORD_MAX_CONTENT + 1 ? len : LOG_RECORD_MAX_CONTENT + 1;
    const char *nl = memchr(data, '\n', look);
    size_t n = nl ? (size_t)(nl - data) : look;
    if (n > LOG_RECORD_MAX_CONTENT)
      n = LOG_RECORD_MAX_CONTENT;
    size_t h = format_header(rec, &ts, s, nl == NULL);
    memcpy(rec + h, data, n);
    rec[h + n] = '\n';
    /* A regular file opened O_APPEND takes the whole record in one write; write_all only
     * finishes one cut short by a full disk. */
    int r = write_all(fd, rec, h + n + 1);
    if (r < 0)
      return r;
    size_t used = nl ? n + 1 : n;
    data += used;
    len -= used;
  }
  return 0;
}

/* Reads exactly n digits as a number; NULL when they are not there. */
static const char *digits(const char *p, const char *end, int n, int *out) {
  if (end - p < n)
    return NULL;
  int v = 0;
  for (int i = 0; i < n; i++, p++) {
    if (*p < '0' || *p > '9')
      return NULL;
    v = v * 10 + (*p - '0');
  }
  *out = v;
  return p;
}

/* Reads c, or returns NULL. */
static const char *expect(const char *p, const char *end, char c) {
  return p < end && *p == c ? p + 1 : NULL;
}

/* "YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)"; returns what follows, or NULL. */
static const char *parse_time(const char *p, const char *end, struct timespec *ts) {
  struct tm tm = {0};
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  if (!(p = digits(p, end, 4, &y)) || !(p = expect(p, end, '-')) || !(p = digits(p, end, 2, &mo)) ||
      !(p = expect(p, end, '-')) || !(p = digits(p, end, 2, &d)) || p >= end ||
      (*p != 'T' && *p != 't') || !(p = digits(p + 1, end, 2, &h)) || !(p = expect(p, end, ':')) ||
      !(p = digits(p, end, 2, &mi)) || !(p = expect(p, end, ':')) || !(p = digits(p, end, 2, &s)))
    return NULL;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60)
    return NULL;
  long ns = 0;
  if (p < end && *p == '.') {
    int nd = 0;
    for (p++; p < end && *p >= '0' && *p <= '9'; p++, nd++)
      if (nd < 9)
        ns = ns * 10 + (*p - '0');
    if (nd == 0 || nd > 9)
      return NULL;
    for (; nd < 9; nd++)
      ns *= 10;
  }
  long offset = 0;
  if (p < end && (*p == 'Z' || *p == 'z')) {
    p++;
  } else if (p < end && (*p == '+' || *p == '-')) {
    int sign = *p == '-' ? -1 : 1, oh = 0, om = 0;
    if (!(p = digits(p + 1, end, 2, &oh)) || !(p = expect(p, end, ':')) ||
        !(p = digits(p, end, 2, &om)) || oh > 23 || om > 59)
      return NULL;
    offset = sign * (oh * 3600L + om * 60L);
  } else {
    return NULL;
  }
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  ts->tv_sec = timegm(&tm) - offset;
  ts->tv_nsec = ns;
  return p;
}

int logfile_parse(const char *line, size_t len, struct log_record *out) {
  const char *p = line, *end = line + len;
  if (!(p = parse_time(p, end, &out->ts)) || !(p = expect(p, end, ' ')) || end - p < 8)
    return -1;
  if (memcmp(p, "stdout ", 7) == 0)
    out->stream = LOG_STDOUT;
  else if (memcmp(p, "stderr ", 7) == 0)
    out->stream = LOG_STDERR;
  else
    return -1;
  p += 7;
  if (*p != 'F' && *p != 'P')
    return -1;
  out->partial = *p++ == 'P';
  /* The space before empty content is optional: writers differ. */
  if (p < end && *p++ != ' ')
    return -1;
  out->content = p;
  out->len = (size_t)(end - p);
  return 0;
}

void log_reader_init(struct log_reader *r, int fd, int out_fd, int err_fd, bool timestamps) {
  memset(r, 0, sizeof(*r));
  r->fd = fd;
  r->out_fd = out_fd;
  r->err_fd = err_fd;
  r->timestamps = timestamps;
  r->cap = CHUNK;
  r->buf = xmalloc(r->cap);
  r->obuf = xmalloc(CHUNK);
  r->ofd = out_fd;
}

void log_reader_free(struct log_reader *r) {
  free(r->buf);
  free(r->obuf);
  memset(r, 0, sizeof(*r));
}

static int out_flush(struct log_reader *r, nsbox_error_t *err) {
  int e = write_all(r->ofd, r->obuf, r->olen);
  r->olen = 0;
  if (e < 0)
    return nsbox_fail(err, -e, "write to %s", r->ofd == r->err_fd ? "stderr" : "stdout");
  return 0;
}

/* Buffers output for fd; what was buffered for the other fd is written first, so that the two
 * streams keep their order where they meet (a terminal, 2>&1). */
static int out_put(struct log_reader *r, int fd, const char *p, size_t n, nsbox_error_t *err) {
  if ((fd != r->ofd || r->olen + n > CHUNK) && r->olen > 0 && out_flush(r, err) < 0)
    return -1;
  r->ofd = fd;
  if (n > CHUNK) {
    int e = write_all(fd, p, n);
    return e < 0 ? nsbox_fail(err, -e, "write to %s", fd == r->err_fd ? "stderr" : "stdout") : 0;
  }
  memcpy(r->obuf + r->olen, p, n);
  r->olen += n;
  return 0;
}

/* Prints the record at file offset off, unless --tail skipped it or it is no record. */
static int print_line(struct log_reader *r, const char *line, size_t len, off_t off,
                      nsbox_error_t *err) {
  struct log_record rec;
  if (logfile_parse(line, len, &rec) < 0)
    return 0;
  int i = rec.stream - 1, fd = rec.stream == LOG_STDERR ? r->err_fd : r->out_fd;
  if (off < r->start[i])
    return 0;
  if (r->timestamps && !r->midline[i]) {
    char t[LOG_TIME_LEN + 1];
    size_t n = logfile_format_time(&rec.ts, t);
    t[n++] = ' ';
    if (out_put(r, fd, t, n, err) < 0)
      return -1;
  }
  if (out_put(r, fd, rec.content, rec.len, err) < 0 ||
      (!rec.partial && out_put(r, fd, "\n", 1, err) < 0))
    return -1;
  r->midline[i] = rec.partial;
  return 0;
}

/* Prints the whole lines in buf and keeps the rest at its front. */
static int print_lines(struct log_reader *r, nsbox_error_t *err) {
  size_t at = 0;
  for (;;) {
    char *nl = memchr(r->buf + at, '\n', r->len - at);
    if (nl == NULL)
      break;
    size_t n = (size_t)(nl - (r->buf + at));
    if (r->skipping)
      r->skipping = false; /* the end of the overlong line */
    else if (print_line(r, r->buf + at, n, r->pos + (off_t)at, err) < 0)
      return -1;
    at += n + 1;
  }
  memmove(r->buf, r->buf + at, r->len - at);
  r->len -= at;
  r->pos += (off_t)at;
  return 0;
}

/* Makes room in buf for more of a line that does not end yet. */
static void make_room(struct log_reader *r) {
  if (r->len < r->cap)
    return;
  if (r->skipping || r->cap >= LINE_LIMIT) {
    r->pos += (off_t)r->len;
    r->len = 0;
    r->skipping = true;
    return;
  }
  r->cap *= 2;
  r->buf = xrealloc(r->buf, r->cap);
}

int log_reader_drain(struct log_reader *r, nsbox_error_t *err) {
  for (;;) {
    make_room(r);
    /* pread: the file offset is not ours to keep (log_reader_tail() moves pos). */
    ssize_t n = pread(r->fd, r->buf + r->len, r->cap - r->len, r->pos + (off_t)r->len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return nsbox_fail(err, errno, "read the log");
    if (n == 0)
      break;
    r->len += (size_t)n;
    if (print_lines(r, err) < 0)
      return -1;
  }
  return r->olen > 0 ? out_flush(r, err) : 0;
}

/* Reading the file backwards: a window of it [at, at + len) in buf. */
struct rscan {
  int fd;
  char *buf;
  off_t at;
  size_t len;
  int error; /* errno of the failed read behind a -2 */
};

/* The offset of the last '\n' before `before`, -1 when there is none, -2 on an error. */
static off_t rscan_prev_nl(struct rscan *s, off_t before) {
  for (;;) {
    if (before > s->at && before <= s->at + (off_t)s->len) {
      const char *nl = memrchr(s->buf, '\n', (size_t)(before - s->at));
      if (nl)
        return s->at + (nl - s->buf);
      before = s->at;
    }
    if (before <= 0)
      return -1;
    s->at = before > (off_t)CHUNK ? before - (off_t)CHUNK : 0;
    s->len = 0;
    size_t want = (size_t)(before - s->at);
    while (s->len < want) {
      ssize_t n = pread(s->fd, s->buf + s->len, want - s->len, s->at + (off_t)s->len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0) {
        s->error = n < 0 ? errno : EIO; /* EIO: the file shrank under us */
        return -2;
      }
      s->len += (size_t)n;
    }
  }
}

/* Parses the front of the line [ls, le): enough for its time, stream and tag (the content
 * pointer is not to be used). */
static int rscan_record(struct rscan *s, off_t ls, off_t le, struct log_record *rec) {
  char hdr[HEADER_MAX];
  size_t n = le - ls < HEADER_MAX ? (size_t)(le - ls) : HEADER_MAX;
  if (ls >= s->at && ls + (off_t)n <= s->at + (off_t)s->len)
    return logfile_parse(s->buf + (ls - s->at), n, rec);
  if (pread(s->fd, hdr, n, ls) != (ssize_t)n)
    return -1;
  return logfile_parse(hdr, n, rec);
}

/* Finds where the last n lines begin: the offset of the nth F record from the end (the file
 * offset `end` when n is 0), 0 when there are fewer. le is the last '\n'. */
static off_t nth_line_from_end(struct rscan *s, off_t le, unsigned long n, off_t end) {
  off_t o = end;
  for (unsigned long count = 0; count < n;) {
    if (le < 0)
      return 0;
    off_t p = rscan_prev_nl(s, le);
    if (p == -2)
      return -2;
    struct log_record rec;
    if (rscan_record(s, p + 1, le, &rec) == 0 && !rec.partial) {
      count++;
      o = p + 1;
    }
    le = p;
  }
  return o;
}

int log_reader_tail(struct log_reader *r, unsigned long n, nsbox_error_t *err) {
  struct stat st;
  if (fstat(r->fd, &st) < 0)
    return nsbox_fail(err, errno, "stat the log");
  cleanup_free char *buf = xmalloc(CHUNK);
  struct rscan s = {.fd = r->fd, .buf = buf};
  r->len = 0;
  r->skipping = false;
  r->start[0] = r->start[1] = r->pos = 0;
  off_t last = rscan_prev_nl(&s, st.st_size);
  off_t o = last == -1 ? 0 : last < 0 ? -2 : nth_line_from_end(&s, last, n, last + 1);
  if (o == -2)
    return nsbox_fail(err, s.error, "read the log");
  /* The lines from o on are printed whole; a line of the other stream, or the nth line
   * itself, may have begun with P records before o: go back for those, up to the F record
   * that ended the stream's previous line. Bounded, so that a stream that printed nothing
   * does not make us read the whole file. */
  off_t start[2] = {o, o};
  bool closed[2] = {false, false};
  for (off_t le = o - 1; le >= 0 && !(closed[0] && closed[1]) && o - le < TAIL_BACK_LIMIT;) {
    off_t p = rscan_prev_nl(&s, le);
    if (p == -2)
      return nsbox_fail(err, s.error, "read the log");
    struct log_record rec;
    if (rscan_record(&s, p + 1, le, &rec) == 0 && !closed[rec.stream - 1]) {
      if (rec.partial)
        start[rec.stream - 1] = p + 1;
      else
        closed[rec.stream - 1] = true;
    }
    le = p;
  }
  r->start[0] = start[0];
  r->start[1] = start[1];
  r->pos = start[0] < start[1] ? start[0] : start[1];
  return 0;
}
