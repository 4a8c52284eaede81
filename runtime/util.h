/* Small helpers shared by the runtime: cleanup attributes, whole-file I/O, directory
 * removal that never follows symlinks, random ids. */
#ifndef NSBOX_UTIL_H
#define NSBOX_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/types.h>
#include <time.h>

#include "error.h"

void cleanup_freep(void *p);
void cleanup_closep(int *fd);
#define cleanup_free __attribute__((cleanup(cleanup_freep)))
#define cleanup_close __attribute__((cleanup(cleanup_closep)))

/* Hands ownership of *p to the caller and clears it so no cleanup attribute frees it. */
#define steal_pointer(p)                                                                           \
  ({                                                                                               \
    __typeof__(*(p)) _v = *(p);                                                                    \
    *(p) = NULL;                                                                                   \
    _v;                                                                                            \
  })
#define steal_fd(p)                                                                                \
  ({                                                                                               \
    int _fd = *(p);                                                                                \
    *(p) = -1;                                                                                     \
    _fd;                                                                                           \
  })

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

void *xmalloc(size_t n);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* write(2) all of buf, retrying on EINTR and short writes. Returns 0 or -errno. */
int write_all(int fd, const void *buf, size_t len);

/* Reads a whole (small, at most 4 MiB) regular file relative to dirfd into a NUL-terminated
 * malloc'd buffer. Returns the length or -errno (-EINVAL: not a regular file). */
ssize_t read_file_at(int dirfd, const char *path, char **out);
/* The same for an open fd, read from its current offset. */
ssize_t read_fd(int fd, char **out);

/* Writes data to dirfd/path (O_CLOEXEC|O_NOFOLLOW); atomically when `atomic` (through a
 * temporary file and rename). Returns 0 or -errno. */
int write_file_at(int dirfd, const char *path, const char *data, size_t len, int mode, bool atomic);

/* One message on a SOCK_SEQPACKET or datagram socket with fd (when >= 0) attached. Returns 0
 * or -errno. */
int sock_send_fd(int sock, const void *data, size_t len, int fd);

/* Receives one message into buf; *fd gets an attached fd (CLOEXEC) or -1. Returns the
 * message's length (0: the peer closed) or -errno. */
ssize_t sock_recv_fd(int sock, void *buf, size_t len, int *fd, int flags);

/* Closes every fd above 2 but those in keep (n of them, any order). */
void close_fds_except(const int *keep, size_t n);

/* mkdir -p with the given mode for every missing component; 0 or -errno. */
int mkdir_p(const char *path, mode_t mode);

/* Frees a NULL-terminated array of strings and the strings (NULL is fine). */
void strv_free(char **v);
void strv_freep(char ***v); /* for __attribute__((cleanup)) */
size_t strv_len(char *const *v);

/* The executable prog in a directory of $PATH, then of extra (a ':' list, or NULL), into out.
 * Relative entries of PATH are skipped: which program runs should not depend on where the
 * caller stands. */
bool find_program(const char *prog, const char *extra, char *out, size_t len);

/* Waits for child pid (through EINTR); its wait status, or -1. */
int reap_pid(pid_t pid);

/* Removes dirfd/name and everything below it without following symlinks or crossing into
 * other mounts. Directories the caller owns but cannot read are made readable first.
 * Returns 0 or -errno (first error; it still removes what it can). */
int rm_rf_at(int dirfd, const char *name);

/* 32 random bytes as 64 lower-case hex digits plus NUL. */
void random_hex_id(char out[65]);

/* "3 seconds ago", "5 minutes ago", ... */
void format_ago(time_t t, char *out, size_t len);

/* RFC 3339 in UTC, to the second ("2026-11-22T10:15:04Z"); "" for a time that never was
 * (t <= 0). Returns out. */
const char *format_rfc3339(time_t t, char *out, size_t len);

/* "2024-01-02T03:04:05.678+01:00" (image configs' "created") -> seconds; -1 when malformed. */
time_t parse_rfc3339(const char *s);

/* Parses a decimal unsigned number that must fill the whole string. */
int parse_ulong(const char *s, unsigned long *out);

#endif
