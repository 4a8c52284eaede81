/* See nft.h. */
#include "nft.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../runtime/syscalls.h"
#include "../runtime/util.h"

#define HEADER "table ip nsbox\ndelete table ip nsbox\n"

struct text {
  char *s;
  size_t len, cap;
};

__attribute__((format(printf, 2, 3))) static void add(struct text *t, const char *fmt, ...) {
  va_list ap;
  for (;;) {
    va_start(ap, fmt);
    int n = vsnprintf(t->s + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < t->cap - t->len) {
      t->len += (size_t)n;
      return;
    }
    t->s = xrealloc(t->s, t->cap = 2 * t->cap + (n > 0 ? (size_t)n : 0));
  }
}

static const struct nft_bridge *find_bridge(const struct nft_bridge *b, size_t n,
                                            const char *name) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(b[i].name, name) == 0)
      return &b[i];
  return NULL;
}

static void ntop(struct in_addr a, char out[INET_ADDRSTRLEN]) {
  inet_ntop(AF_INET, &a, out, INET_ADDRSTRLEN);
}

/* route_localnet, which lets the host's 127.0.0.1 reach published ports, also makes the
 * kernel accept 127/8 packets on the bridge: without this guard a container could send to
 * services the host binds to 127.0.0.1 only. Replies to loopback clients pass: before NAT
 * they are addressed to the bridge's own address. */
static void render_guard(struct text *t, const struct nft_bridge *b, size_t nb) {
  add(t, "\tchain guard {\n\t\ttype filter hook prerouting priority -300; policy accept;\n");
  for (size_t i = 0; i < nb; i++) {
    add(t, "\t\tiifname \"%s\" ip saddr 127.0.0.0/8 drop\n", b[i].name);
    add(t, "\t\tiifname \"%s\" ip daddr 127.0.0.0/8 drop\n", b[i].name);
  }
  add(t, "\t}\n");
}

/* DNAT of the published ports: from outside (prerouting) and from the host itself (output). */
static void render_dnat(struct text *t, const char *chain, const char *hook, const char *prio,
                        const struct lease *l, size_t nl, const struct nft_bridge *b, size_t nb) {
  add(t, "\tchain %s {\n\t\ttype nat hook %s priority %s; policy accept;\n", chain, hook, prio);
  for (size_t i = 0; i < nl; i++) {
    if (find_bridge(b, nb, l[i].bridge) == NULL)
      continue;
    char ip[INET_ADDRSTRLEN], host[INET_ADDRSTRLEN];
    ntop(l[i].ip, ip);
    for (size_t j = 0; j < l[i].n_ports; j++) {
      const struct nsbox_port *p = &l[i].ports[j];
      char match[48] = "fib daddr type local";
      if (p->host_ip.s_addr != htonl(INADDR_ANY)) {
        ntop(p->host_ip, host);
        snprintf(match, sizeof(match), "ip daddr %s", host);
      }
      add(t, "\t\t%s %s dport %u dnat to %s:%u\n", match, portspec_proto_name(p->proto),
          p->host_port, ip, p->ctr_port);
    }
  }
  add(t, "\t}\n");
}

/* Masquerade: containers going out; host loopback clients of a published port (their 127/8
 * source could not be answered from the bridge); and containers reaching a published port
 * through a host address (hairpin), whose replies would otherwise bypass the un-DNAT. */
static void render_snat(struct text *t, const struct lease *l, size_t nl,
                        const struct nft_bridge *b, size_t nb) {
  add(t, "\tchain postrouting {\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n");
  for (size_t i = 0; i < nb; i++) {
    char net[INET_ADDRSTRLEN];
    ntop(b[i].net, net);
    add(t, "\t\tip saddr %s/%u ip daddr != %s/%u masquerade\n", net, b[i].prefix, net, b[i].prefix);
  }
  for (size_t i = 0; i < nl; i++) {
    const struct nft_bridge *br = find_bridge(b, nb, l[i].bridge);
    if (br == NULL)
      continue;
    char ip[INET_ADDRSTRLEN], net[INET_ADDRSTRLEN];
    ntop(l[i].ip, ip);
    ntop(br->net, net);
    for (size_t j = 0; j < l[i].n_ports; j++) {
      const struct nsbox_port *p = &l[i].ports[j];
      const char *proto = portspec_proto_name(p->proto);
      add(t, "\t\tip saddr 127.0.0.0/8 ip daddr %s %s dport %u masquerade\n", ip, proto,
          p->ctr_port);
      add(t, "\t\tip saddr %s/%u ip daddr %s %s dport %u ct status dnat masquerade\n", net,
          br->prefix, ip, proto, p->ctr_port);
    }
  }
  add(t, "\t}\n");
}

char *nft_render(const struct lease *leases, size_t n_leases, const struct nft_bridge *bridges,
                 size_t n_bridges) {
  struct text t = {.s = xmalloc(4096), .cap = 4096};
  add(&t, "%s", HEADER);
  if (n_leases == 0 || n_bridges == 0)
    return t.s;
  add(&t, "table ip nsbox {\n");
  render_guard(&t, bridges, n_bridges);
  render_dnat(&t, "prerouting", "prerouting", "dstnat", leases, n_leases, bridges, n_bridges);
  render_dnat(&t, "output", "output", "-100", leases, n_leases, bridges, n_bridges);
  render_snat(&t, leases, n_leases, bridges, n_bridges);
  add(&t, "}\n");
  return t.s;
}

static const char *find_nft(void) {
  static const char *const paths[] = {"/usr/sbin/nft", "/sbin/nft"};
  for (size_t i = 0; i < ARRAY_SIZE(paths); i++) {
    struct stat st;
    if (stat(paths[i], &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111) != 0)
      return paths[i];
  }
  return NULL;
}

/* A memfd holding text, positioned at its start: nft's stdin, which, unlike a pipe, cannot
 * block us however long the ruleset. */
static int text_fd(const char *name, const char *text, size_t len) {
  int fd = sys_memfd_create(name, MFD_CLOEXEC);
  if (fd < 0)
    return -errno;
  int r = write_all(fd, text, len);
  if (r == 0 && lseek(fd, 0, SEEK_SET) < 0)
    r = -errno;
  if (r < 0) {
    close(fd);
    return r;
  }
  return fd;
}

/* The child: stdin the rules, stdout and stderr the capture, a plain signal mask, nothing
 * else open, and an environment of a fixed PATH. */
static void exec_nft(const char *nft, int in, int out, int errpipe) {
  char *const argv[] = {(char *)"nft", (char *)"-f", (char *)"-", NULL};
  char *const envp[] = {(char *)"PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL};
  sigset_t none;
  sigemptyset(&none);
  if (dup2(in, 0) >= 0 && dup2(out, 1) >= 0 && dup2(out, 2) >= 0 &&
      sigprocmask(SIG_SETMASK, &none, NULL) == 0) {
    sys_close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
    execve(nft, argv, envp);
  }
  int e = errno;
  if (write(errpipe, &e, sizeof(e)) < 0)
    _exit(127);
  _exit(127);
}

/* The first line nft printed, for the one-line error. */
static void first_line(int fd, char *out, size_t len) {
  out[0] = '\0';
  if (lseek(fd, 0, SEEK_SET) < 0)
    return;
  ssize_t n = read(fd, out, len - 1);
  out[n > 0 ? n : 0] = '\0';
  out[strcspn(out, "\n")] = '\0';
}

int nft_check(nsbox_error_t *err) {
  if (find_nft() == NULL)
    return nsbox_fail(err, 0, "bridge networking needs nft (Debian package nftables)");
  return 0;
}

static int run_nft(const char *text, nsbox_error_t *err) {
  const char *nft = find_nft();
  if (nft == NULL)
    return nft_check(err);
  cleanup_close int in = text_fd("nsbox-nft-in", text, strlen(text));
  if (in < 0)
    return nsbox_fail(err, -in, "memfd_create");
  cleanup_close int out = sys_memfd_create("nsbox-nft-out", MFD_CLOEXEC);
  if (out < 0)
    return nsbox_fail(err, errno, "memfd_create");
  int ep[2];
  if (pipe2(ep, O_CLOEXEC) < 0)
    return nsbox_fail(err, errno, "pipe");
  pid_t pid = fork();
  if (pid == 0)
    exec_nft(nft, in, out, ep[1]);
  int fork_errno = errno;
  close(ep[1]);
  cleanup_close int errpipe = ep[0];
  if (pid < 0)
    return nsbox_fail(err, fork_errno, "fork");
  int child_errno = 0, status = 0;
  ssize_t n;
  while ((n = read(errpipe, &child_errno, sizeof(child_errno))) < 0 && errno == EINTR)
    ;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR)
      return nsbox_fail(err, errno, "wait for %s", nft);
  }
  if (n == sizeof(child_errno))
    return nsbox_fail(err, child_errno, "run %s", nft);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
    return 0;
  char msg[512];
  first_line(out, msg, sizeof(msg));
  if (msg[0] != '\0')
    return nsbox_fail(err, 0, "nft -f - failed: %s", msg);
  if (WIFSIGNALED(status))
    return nsbox_fail(err, 0, "nft -f - was killed by signal %d", WTERMSIG(status));
  return nsbox_fail(err, 0, "nft -f - exited with status %d", WEXITSTATUS(status));
}

int nft_apply(int state_dir, const char *text, nsbox_error_t *err) {
  /* No nft.rules means no table: the file is replaced by a marker before nft runs and only
   * removed once a deletion went through, so a crash in between never looks applied. */
  cleanup_free char *last = NULL;
  ssize_t r = read_file_at(state_dir, "nft.rules", &last);
  if (r == -ENOENT)
    last = xstrdup(HEADER);
  else if (r < 0)
    return nsbox_fail(err, (int)-r, "read %s/nft.rules", NSBOX_NET_STATE_DIR);
  if (strcmp(last, text) == 0)
    return 0;
  /* Without nft there is no table of ours to delete either: `release` must not fail. */
  if (find_nft() == NULL && strcmp(text, HEADER) == 0)
    return unlinkat(state_dir, "nft.rules", 0) < 0 && errno != ENOENT
               ? nsbox_fail(err, errno, "remove %s/nft.rules", NSBOX_NET_STATE_DIR)
               : 0;
  static const char marker[] = "# being applied\n";
  int w = write_file_at(state_dir, "nft.rules", marker, sizeof(marker) - 1, 0600, true);
  if (w < 0)
    return nsbox_fail(err, -w, "write %s/nft.rules", NSBOX_NET_STATE_DIR);
  if (run_nft(text, err) < 0)
    return -1;
  if (strcmp(text, HEADER) == 0)
    w = unlinkat(state_dir, "nft.rules", 0) < 0 ? -errno : 0;
  else
    w = write_file_at(state_dir, "nft.rules", text, strlen(text), 0600, true);
  return w < 0 ? nsbox_fail(err, -w, "write %s/nft.rules", NSBOX_NET_STATE_DIR) : 0;
}
