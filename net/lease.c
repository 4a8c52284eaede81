/* See lease.h. */
#include "lease.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../runtime/util.h"
#include "policy.h"

/* How long to wait for another nsbox-net to finish. A run holds the lock for milliseconds; a
 * caller could freeze one that holds it, so the others give up rather than hang. */
#define LOCK_WAIT_MS 15000

static int lock_wait(int fd, int op, nsbox_error_t *err) {
  for (int waited = 0;; waited += 20) {
    if (flock(fd, op | LOCK_NB) == 0)
      return 0;
    if (errno == EINTR)
      continue;
    if (errno != EWOULDBLOCK)
      return nsbox_fail(err, errno, "lock %s/lock", NSBOX_NET_STATE_DIR);
    if (waited >= LOCK_WAIT_MS)
      return nsbox_fail(err, 0, "another nsbox-net has held %s/lock for %d s", NSBOX_NET_STATE_DIR,
                        LOCK_WAIT_MS / 1000);
    struct timespec ts = {.tv_nsec = 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
}

static void trim(char *s) {
  s[strcspn(s, "\n")] = '\0';
}

/* Whether the state belongs to this boot. After a reboot (when /run is not a tmpfs) it
 * describes links, rules and processes that are gone: an exclusive open starts afresh, a
 * shared one sees nothing. */
static int check_boot(struct net_state *s, bool exclusive, bool *stale, nsbox_error_t *err) {
  cleanup_free char *now = NULL, *then = NULL;
  *stale = false;
  if (read_file_at(AT_FDCWD, "/proc/sys/kernel/random/boot_id", &now) < 0)
    return 0; /* no way to tell: trust the state */
  trim(now);
  if (read_file_at(s->dir, "boot_id", &then) >= 0) {
    trim(then);
    if (strcmp(now, then) == 0)
      return 0;
  }
  *stale = true;
  if (!exclusive)
    return 0;
  static const char *const files[] = {"leases", "bridges", "nft.rules"};
  for (size_t i = 0; i < ARRAY_SIZE(files); i++)
    if (unlinkat(s->dir, files[i], 0) < 0 && errno != ENOENT)
      return nsbox_fail(err, errno, "remove %s/%s", NSBOX_NET_STATE_DIR, files[i]);
  cleanup_free char *text = xasprintf("%s\n", now);
  int r = write_file_at(s->dir, "boot_id", text, strlen(text), 0600, true);
  if (r < 0)
    return nsbox_fail(err, -r, "write %s/boot_id", NSBOX_NET_STATE_DIR);
  *stale = false;
  return 0;
}

/* Reads a state file's lines into a malloc'd buffer; a missing file has none. */
static int read_state_file(struct net_state *s, const char *name, char **out, nsbox_error_t *err) {
  ssize_t r = read_file_at(s->dir, name, out);
  if (r == -ENOENT) {
    *out = xstrdup("");
    return 0;
  }
  return r < 0 ? nsbox_fail(err, (int)-r, "read %s/%s", NSBOX_NET_STATE_DIR, name) : 0;
}

static int parse_bridge_line(char *line, struct own_bridge *out) {
  char *save = NULL, *name = strtok_r(line, " ", &save), *index = strtok_r(NULL, " ", &save);
  unsigned long v;
  if (name == NULL || index == NULL || strtok_r(NULL, " ", &save) != NULL || !valid_ifname(name) ||
      parse_ulong(index, &v) < 0 || v > 0x7fffffff)
    return -1;
  snprintf(out->name, sizeof(out->name), "%s", name);
  out->index = (int)v;
  return 0;
}

/* Malformed lines are dropped: only nsbox-net writes these files, so one can only come from a
 * crash of an older version, and the next save cleans it away. */
static int read_state(struct net_state *s, nsbox_error_t *err) {
  cleanup_free char *leases = NULL, *bridges = NULL;
  if (read_state_file(s, "leases", &leases, err) < 0 ||
      read_state_file(s, "bridges", &bridges, err) < 0)
    return -1;
  char *save = NULL;
  for (char *line = strtok_r(leases, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    struct lease l;
    if (lease_parse(line, &l) == 0)
      lease_add(s, &l);
  }
  for (char *line = strtok_r(bridges, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    struct own_bridge b;
    if (parse_bridge_line(line, &b) == 0)
      bridge_record(s, b.name, b.index);
  }
  return 0;
}

int state_open(struct net_state *s, bool exclusive, nsbox_error_t *err) {
  *s = (struct net_state){.dir = -1, .lock = -1};
  if (exclusive && mkdir(NSBOX_NET_STATE_DIR, 0700) < 0 && errno != EEXIST)
    return nsbox_fail(err, errno, "create %s", NSBOX_NET_STATE_DIR);
  s->dir = open(NSBOX_NET_STATE_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (s->dir < 0 && errno == ENOENT && !exclusive)
    return 0;
  if (s->dir < 0)
    return nsbox_fail(err, errno, "open %s", NSBOX_NET_STATE_DIR);
  struct stat st;
  if (fstat(s->dir, &st) < 0)
    return nsbox_fail(err, errno, "stat %s", NSBOX_NET_STATE_DIR);
  if (st.st_uid != 0 || (st.st_mode & 022) != 0)
    return nsbox_fail(err, 0, "refusing %s: it must be owned by root and writable only by root",
                      NSBOX_NET_STATE_DIR);
  s->lock = openat(s->dir, "lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (s->lock < 0)
    return nsbox_fail(err, errno, "open %s/lock", NSBOX_NET_STATE_DIR);
  bool stale;
  if (lock_wait(s->lock, exclusive ? LOCK_EX : LOCK_SH, err) < 0 ||
      check_boot(s, exclusive, &stale, err) < 0)
    return -1;
  return stale ? 0 : read_state(s, err);
}

void state_close(struct net_state *s) {
  if (s->lock >= 0)
    close(s->lock);
  if (s->dir >= 0)
    close(s->dir);
  free(s->leases);
  free(s->bridges);
  *s = (struct net_state){.dir = -1, .lock = -1};
}

int leases_save(struct net_state *s, nsbox_error_t *err) {
  size_t cap = 256 * (s->n_leases + 1), len = 0;
  cleanup_free char *text = xmalloc(cap);
  for (size_t i = 0; i < s->n_leases; i++) {
    char line[128 + NET_MAX_PORTS * 40];
    lease_format(&s->leases[i], true, line, sizeof(line));
    size_t n = strlen(line);
    if (len + n + 2 > cap)
      text = xrealloc(text, cap = 2 * cap + n + 2);
    memcpy(text + len, line, n);
    len += n;
    text[len++] = '\n';
  }
  int r = write_file_at(s->dir, "leases", text, len, 0600, true);
  return r < 0 ? nsbox_fail(err, -r, "write %s/leases", NSBOX_NET_STATE_DIR) : 0;
}

int bridges_save(struct net_state *s, nsbox_error_t *err) {
  cleanup_free char *text = xmalloc(32 * (s->n_bridges + 1));
  size_t len = 0;
  for (size_t i = 0; i < s->n_bridges; i++)
    len += (size_t)sprintf(text + len, "%s %d\n", s->bridges[i].name, s->bridges[i].index);
  int r = write_file_at(s->dir, "bridges", text, len, 0600, true);
  return r < 0 ? nsbox_fail(err, -r, "write %s/bridges", NSBOX_NET_STATE_DIR) : 0;
}

void lease_add(struct net_state *s, const struct lease *l) {
  s->leases = xrealloc(s->leases, (s->n_leases + 1) * sizeof(*s->leases));
  s->leases[s->n_leases++] = *l;
}

void lease_remove(struct net_state *s, size_t i) {
  memmove(&s->leases[i], &s->leases[i + 1], (s->n_leases - i - 1) * sizeof(*s->leases));
  s->n_leases--;
}

void bridge_record(struct net_state *s, const char *name, int index) {
  for (size_t i = 0; i < s->n_bridges; i++) {
    if (strcmp(s->bridges[i].name, name) == 0) {
      s->bridges[i].index = index;
      return;
    }
  }
  s->bridges = xrealloc(s->bridges, (s->n_bridges + 1) * sizeof(*s->bridges));
  struct own_bridge *b = &s->bridges[s->n_bridges++];
  snprintf(b->name, sizeof(b->name), "%s", name);
  b->index = index;
}

void bridge_forget(struct net_state *s, const char *name) {
  for (size_t i = 0; i < s->n_bridges; i++) {
    if (strcmp(s->bridges[i].name, name) == 0) {
      memmove(&s->bridges[i], &s->bridges[i + 1], (s->n_bridges - i - 1) * sizeof(*s->bridges));
      s->n_bridges--;
      return;
    }
  }
}

void lease_format(const struct lease *l, bool with_start, char *buf, size_t len) {
  char ip[INET_ADDRSTRLEN], start[24] = "";
  inet_ntop(AF_INET, &l->ip, ip, sizeof(ip));
  if (with_start)
    snprintf(start, sizeof(start), " %llu", l->start);
  size_t n = (size_t)snprintf(buf, len, "%s %s %lu %d%s %s", l->bridge, ip, (unsigned long)l->uid,
                              (int)l->pid, start, l->hostif);
  for (size_t i = 0; i < l->n_ports && n < len; i++) {
    char spec[64];
    portspec_format(&l->ports[i], spec, sizeof(spec));
    n += (size_t)snprintf(buf + n, len - n, " %s", spec);
  }
}

int lease_parse(char *line, struct lease *out) {
  char *f[6 + NET_MAX_PORTS], *save = NULL;
  size_t n = 0;
  for (char *tok = strtok_r(line, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
    if (n == ARRAY_SIZE(f))
      return -1;
    f[n++] = tok;
  }
  memset(out, 0, sizeof(*out));
  unsigned long uid, pid, start;
  if (n < 6 || !valid_ifname(f[0]) || inet_pton(AF_INET, f[1], &out->ip) != 1 ||
      parse_ulong(f[2], &uid) < 0 || uid >= 0xffffffffUL || parse_ulong(f[3], &pid) < 0 ||
      pid < 2 || pid > 0x7fffffffUL || parse_ulong(f[4], &start) < 0 || !valid_ifname(f[5]))
    return -1;
  snprintf(out->bridge, sizeof(out->bridge), "%s", f[0]);
  out->uid = (uid_t)uid;
  out->pid = (pid_t)pid;
  out->start = start;
  snprintf(out->hostif, sizeof(out->hostif), "%s", f[5]);
  for (size_t i = 6; i < n; i++) {
    char why[128];
    if (portspec_parse(f[i], &out->ports[out->n_ports++], why, sizeof(why)) < 0)
      return -1;
  }
  return 0;
}

int proc_starttime(pid_t pid, unsigned long long *out) {
  char path[40];
  snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
  cleanup_free char *stat = NULL;
  ssize_t r = read_file_at(AT_FDCWD, path, &stat);
  if (r < 0)
    return (int)r;
  /* The command name (field 2) may hold spaces and parentheses: fields 3.. follow its last
   * ')'. The start time is field 22, the 20th of those. */
  char *p = strrchr(stat, ')');
  if (p == NULL)
    return -EINVAL;
  char *save = NULL, *tok = strtok_r(p + 1, " ", &save);
  /* A zombie has exited: its namespaces and the veth's container end are gone already. */
  if (tok == NULL || strcmp(tok, "Z") == 0 || strcmp(tok, "X") == 0)
    return -ESRCH;
  for (int field = 3; tok != NULL && field < 22; field++)
    tok = strtok_r(NULL, " ", &save);
  unsigned long v;
  if (tok == NULL || parse_ulong(tok, &v) < 0)
    return -EINVAL;
  *out = v;
  return 0;
}

bool lease_owner_alive(const struct lease *l) {
  unsigned long long start;
  return proc_starttime(l->pid, &start) == 0 && start == l->start;
}
