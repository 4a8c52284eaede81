/* The log of a detached container (containers/ID/ctr.log) in the Kubernetes CRI format that
 * podman's conmon writes with k8s-file, one record a line:
 *   2026-11-22T10:15:04.123456789Z stdout F the line text
 * F: the content is a whole line; P: a piece of one, which the next records of the same stream
 * continue. The writing side is the monitor of `nsbox run -d`; the reading side `nsbox logs`. */
#ifndef NSBOX_LOGFILE_H
#define NSBOX_LOGFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "error.h"

enum log_stream { LOG_STDOUT = 1, LOG_STDERR = 2 };

/* Content longer than this is cut into P records, so that a reader's line buffer stays small
 * whatever the container prints. */
#define LOG_RECORD_MAX_CONTENT 16384

/* "2026-11-22T10:15:04.123456789Z" and its NUL. */
#define LOG_TIME_LEN 31

/* Opens (creates 0600, O_APPEND, O_CLOEXEC, O_NOFOLLOW) the log at path for writing. Returns the
 * fd or -1 with err filled. */
int logfile_open(const char *path, nsbox_error_t *err);

/* Opens (O_RDONLY, O_NONBLOCK, O_CLOEXEC, O_NOFOLLOW) the log at path for reading, refused
 * unless it is a regular file. Returns the fd or -1 with err filled (err->errnum ENOENT: there
 * is no log). */
int logfile_open_read(const char *path, nsbox_error_t *err);

/* Writes data (len bytes just read from the container's stream) as records: each complete
 * line one F record, a trailing piece without newline one P record, each record with one
 * write(2) so that records never interleave. (A reader may still meet the last record half
 * written, as reads do not wait for writes: it keeps a line until its \n comes.) The
 * timestamp is now (CLOCK_REALTIME). Returns 0 or -errno. */
int logfile_write(int fd, enum log_stream s, const char *data, size_t len);

/* One record; content points into the line given to logfile_parse(). */
struct log_record {
  struct timespec ts;
  enum log_stream stream;
  bool partial;
  const char *content;
  size_t len;
};

/* Parses one record (a line without its \n) into its parts; returns 0 or -1 when it is not a
 * record. Accepts any RFC 3339 time (with an offset too, as conmon writes it). */
int logfile_parse(const char *line, size_t len, struct log_record *out);

/* Formats ts as RFC 3339 in UTC with nanoseconds; returns the length (LOG_TIME_LEN - 1). */
size_t logfile_format_time(const struct timespec *ts, char out[LOG_TIME_LEN]);

/* The reading side: prints the records of a log file, content only, stdout records to out_fd
 * and stderr records to err_fd. It borrows the three fds and owns its buffers. Output is
 * buffered and written in order across both fds (flushed whenever the fd changes), and fully
 * flushed before each log_reader_drain() returns. */
struct log_reader {
  int fd, out_fd, err_fd;
  bool timestamps; /* prefix each output line with its record's time */
  off_t start[2];  /* a record of stream i+1 is printed only from this offset on */
  off_t pos;       /* the file offset of buf[0] */
  char *buf;       /* what was read but is not a whole line yet */
  size_t len, cap; /* in buf */
  bool skipping;   /* in a line too long to be a record: dropped up to its \n */
  bool midline[2]; /* stream i+1's last printed record was a P: no time before the next */
  char *obuf;      /* output not yet written */
  size_t olen;     /* in obuf */
  int ofd;         /* where obuf goes */
};

void log_reader_init(struct log_reader *r, int fd, int out_fd, int err_fd, bool timestamps);
void log_reader_free(struct log_reader *r);

/* Positions the reader so that it prints only the last n lines: the last n F records and
 * their P pieces (and the pieces of lines not finished yet, which are newer). Reads the file
 * backwards from its end. Returns 0 or -1 with err filled. */
int log_reader_tail(struct log_reader *r, unsigned long n, nsbox_error_t *err);

/* Prints the whole records from where the reader is to the end of the file and flushes; a last
 * line without its \n yet stays buffered for the next call. Returns 0, or -1 with err filled
 * (err->errnum EPIPE: the output's reader went away). */
int log_reader_drain(struct log_reader *r, nsbox_error_t *err);

#endif
