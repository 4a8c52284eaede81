/* See attach.h. */
#include "attach.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "monitor.h"
#include "tty.h"
#include "util.h"

#define DETACH_1 0x10 /* ctrl-p */
#define DETACH_2 0x11 /* ctrl-q */

struct client {
  int sock;
  struct attach_hello hello;
  bool input;      /* our stdin still goes to the container */
  bool held_first; /* a ctrl-p was read and held back: is a ctrl-q next? */
  int code;        /* the exit code, once ATTACH_EXIT came; -1 before */
};

static int send_msg(int sock, int type, const void *data, size_t len) {
  char msg[ATTACH_MSG_MAX];
  msg[0] = (char)type;
  memcpy(msg + 1, data, len);
  return send(sock, msg, len + 1, MSG_NOSIGNAL) < 0 ? -errno : 0;
}

static void send_size(struct client *cl) {
  struct attach_size sz;
  if (tty_get_size(STDIN_FILENO, &sz.rows, &sz.cols))
    send_msg(cl->sock, ATTACH_RESIZE, &sz, sizeof(sz));
}

/* Reads one message; returns false once the monitor is gone or the exit came. */
static bool from_monitor(struct client *cl) {
  char msg[ATTACH_MSG_MAX];
  ssize_t n = recv(cl->sock, msg, sizeof(msg), 0);
  if (n < 0 && errno == EINTR)
    return true;
  if (n <= 0)
    return false;
  if (msg[0] == ATTACH_STDOUT || msg[0] == ATTACH_STDERR) {
    int fd = msg[0] == ATTACH_STDERR ? STDERR_FILENO : STDOUT_FILENO;
    (void)write_all(fd, msg + 1, (size_t)n - 1);
  } else if (msg[0] == ATTACH_EXIT && n == 1 + (ssize_t)sizeof(int32_t)) {
    int32_t c;
    memcpy(&c, msg + 1, sizeof(c));
    cl->code = c;
    return false;
  }
  return true;
}

/* Our input to the container; returns false when the user typed the detach keys. Under -t
 * ctrl-p is held back until the next key shows whether it starts ctrl-p ctrl-q. */
static bool from_stdin(struct client *cl) {
  char buf[4096], out[4097];
  ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
  if (n < 0 && (errno == EINTR || errno == EAGAIN))
    return true;
  if (n <= 0) {
    cl->input = false;
    if (!cl->hello.tty)
      send_msg(cl->sock, ATTACH_CLOSE_STDIN, NULL, 0);
    return true;
  }
  size_t k = 0;
  for (ssize_t i = 0; i < n; i++) {
    char ch = buf[i];
    if (cl->hello.tty && cl->held_first) {
      cl->held_first = false;
      if (ch == DETACH_2)
        return false;
      out[k++] = DETACH_1;
    }
    if (cl->hello.tty && ch == DETACH_1) {
      cl->held_first = true;
      continue;
    }
    out[k++] = ch;
  }
  for (size_t off = 0; off < k; off += ATTACH_MSG_MAX - 1) {
    size_t len = k - off < ATTACH_MSG_MAX - 1 ? k - off : ATTACH_MSG_MAX - 1;
    send_msg(cl->sock, ATTACH_STDIN, out + off, len);
  }
  return true;
}

static int read_hello(struct client *cl, nsbox_error_t *err) {
  char msg[ATTACH_MSG_MAX];
  ssize_t n;
  while ((n = recv(cl->sock, msg, sizeof(msg), 0)) < 0 && errno == EINTR)
    ;
  if (n != 1 + (ssize_t)sizeof(cl->hello) || msg[0] != ATTACH_HELLO)
    return nsbox_fail(err, 0, "the container's monitor did not answer");
  memcpy(&cl->hello, msg + 1, sizeof(cl->hello));
  return 0;
}

/* Signals that end an attach (the terminal must be restored first), and SIGWINCH. */
static int attach_signals(sigset_t *old) {
  sigset_t set;
  sigemptyset(&set);
  int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGWINCH, SIGPIPE};
  for (size_t i = 0; i < ARRAY_SIZE(sigs); i++)
    sigaddset(&set, sigs[i]);
  sigprocmask(SIG_BLOCK, &set, old);
  return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

/* Returns the exit code, ATTACH_DETACHED, or -1 when a signal or the monitor's end cut it
 * short. */
static int relay_loop(struct client *cl, int sfd) {
  for (;;) {
    struct pollfd p[3] = {{.fd = cl->sock, .events = POLLIN},
                          {.fd = cl->input ? STDIN_FILENO : -1, .events = POLLIN},
                          {.fd = sfd, .events = POLLIN}};
    if (poll(p, 3, -1) < 0) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    struct signalfd_siginfo si;
    while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
      if (si.ssi_signo != SIGWINCH)
        return -1;
      send_size(cl);
    }
    if (p[0].revents && !from_monitor(cl))
      return cl->code;
    if (p[1].revents && !from_stdin(cl))
      return ATTACH_DETACHED;
  }
}

int attach_relay(int sock, nsbox_error_t *err) {
  struct client cl = {.sock = sock, .code = -1};
  if (read_hello(&cl, err) < 0)
    return -1;
  cl.input = cl.hello.open_stdin || cl.hello.tty;
  struct tty_saved saved = {.fd = -1};
  if (cl.hello.tty && isatty(STDIN_FILENO)) {
    if (tty_make_raw(STDIN_FILENO, &saved, err) < 0)
      return -1;
    send_size(&cl);
  }
  sigset_t old;
  int sfd = attach_signals(&old);
  int code = sfd < 0 ? -1 : relay_loop(&cl, sfd);
  tty_restore(&saved);
  if (sfd >= 0)
    close(sfd);
  sigprocmask(SIG_SETMASK, &old, NULL);
  if (code == -1)
    return nsbox_fail(err, 0, "the container's monitor went away before the container ended");
  return code;
}

int attach_wait(int sock, nsbox_error_t *err) {
  struct client cl = {.sock = sock, .code = -1};
  if (read_hello(&cl, err) < 0)
    return -1;
  char msg[ATTACH_MSG_MAX];
  for (;;) {
    ssize_t n = recv(sock, msg, sizeof(msg), 0);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return nsbox_fail(err, 0, "the container's monitor went away before the container ended");
    if (msg[0] == ATTACH_EXIT && n == 1 + (ssize_t)sizeof(int32_t)) {
      int32_t c;
      memcpy(&c, msg + 1, sizeof(c));
      return c;
    }
  }
}
