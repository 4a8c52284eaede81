/* See monitor.h. */
#include "monitor.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "logfile.h"
#include "tty.h"
#include "util.h"

void monitor_init(struct monitor *m, pid_t pid) {
  memset(m, 0, sizeof(*m));
  m->pid = pid;
  m->console = m->out = m->err = m->in = m->term = m->log = m->listen = -1;
}

static void set_nonblock(int fd) {
  if (fd >= 0)
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

static void drop_client(struct monitor *m, size_t i) {
  close(m->clients[i]);
  m->clients[i] = m->clients[--m->n_clients];
}

/* Sends one message to every client; one that cannot keep up is dropped rather than let
 * it stall the container's output. */
static void broadcast(struct monitor *m, int type, const void *data, size_t len) {
  char msg[ATTACH_MSG_MAX];
  msg[0] = (char)type;
  memcpy(msg + 1, data, len);
  for (size_t i = 0; i < m->n_clients;) {
    if (send(m->clients[i], msg, len + 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
      drop_client(m, i);
    else
      i++;
  }
}

static void deliver(struct monitor *m, int stream, const char *buf, size_t len) {
  if (m->term >= 0) {
    (void)write_all(STDOUT_FILENO, buf, len);
    return;
  }
  if (m->log >= 0)
    (void)logfile_write(m->log, stream == ATTACH_STDERR ? LOG_STDERR : LOG_STDOUT, buf, len);
  broadcast(m, stream, buf, len);
}

enum pumped { PUMP_DATA, PUMP_AGAIN, PUMP_END };

/* Moves what one output of the container has. PUMP_END once it has ended: EOF, or EIO from
 * a pty whose other end every process has closed. */
static enum pumped pump(struct monitor *m, int fd, int stream) {
  char buf[ATTACH_MSG_MAX - 1];
  ssize_t n = read(fd, buf, sizeof(buf));
  if (n > 0) {
    deliver(m, stream, buf, (size_t)n);
    return PUMP_DATA;
  }
  return n < 0 && (errno == EAGAIN || errno == EINTR) ? PUMP_AGAIN : PUMP_END;
}

static void close_fd(int *fd) {
  if (*fd >= 0)
    close(*fd);
  *fd = -1;
}

/* Where input goes: the pty, or the stdin pipe. */
static int input_fd(const struct monitor *m) {
  return m->console >= 0 ? m->console : m->in;
}

static void queue_input(struct monitor *m, const char *buf, size_t len) {
  if (len > sizeof(m->pending) - m->n_pending)
    len = sizeof(m->pending) - m->n_pending;
  memcpy(m->pending + m->n_pending, buf, len);
  m->n_pending += len;
}

static void flush_input(struct monitor *m) {
  int fd = input_fd(m);
  if (fd < 0) {
    m->n_pending = 0;
    return;
  }
  ssize_t n = write(fd, m->pending, m->n_pending);
  if (n > 0) {
    memmove(m->pending, m->pending + n, m->n_pending - (size_t)n);
    m->n_pending -= (size_t)n;
  } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
    m->n_pending = 0; /* the container closed its input */
  }
}

static void client_message(struct monitor *m, size_t i) {
  char msg[ATTACH_MSG_MAX];
  ssize_t n = recv(m->clients[i], msg, sizeof(msg), MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EINTR))
    return;
  if (n <= 0) {
    drop_client(m, i);
    return;
  }
  if (msg[0] == ATTACH_STDIN && m->open_stdin) {
    queue_input(m, msg + 1, (size_t)n - 1);
  } else if (msg[0] == ATTACH_RESIZE && n == 1 + (ssize_t)sizeof(struct attach_size) &&
             m->console >= 0) {
    struct attach_size sz;
    memcpy(&sz, msg + 1, sizeof(sz));
    tty_set_size(m->console, sz.rows, sz.cols);
  } else if (msg[0] == ATTACH_CLOSE_STDIN && m->console < 0) {
    close_fd(&m->in);
  }
}

static void accept_client(struct monitor *m) {
  int fd = accept4(m->listen, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
  if (fd < 0)
    return;
  if (m->n_clients == MONITOR_MAX_CLIENTS) {
    close(fd);
    return;
  }
  m->clients[m->n_clients++] = fd;
  struct attach_hello h = {.tty = m->console >= 0, .open_stdin = m->open_stdin};
  char msg[1 + sizeof(h)] = {ATTACH_HELLO};
  memcpy(msg + 1, &h, sizeof(h));
  if (send(fd, msg, sizeof(msg), MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
    drop_client(m, m->n_clients - 1);
}

static void from_terminal(struct monitor *m) {
  char buf[4096];
  ssize_t n = read(m->term, buf, sizeof(buf) - m->n_pending);
  if (n > 0)
    queue_input(m, buf, (size_t)n);
  else if (n == 0 || (errno != EINTR && errno != EAGAIN))
    m->term = -1; /* not ours to close: it is nsbox's stdin */
}

/* Acts on one signal; returns true once the container's first process has been reaped. */
static bool on_signal(struct monitor *m, int sig, int *status) {
  if (sig == SIGCHLD) {
    pid_t r;
    while ((r = waitpid(m->pid, status, WNOHANG)) < 0 && errno == EINTR)
      ;
    if (r < 0 && errno == ECHILD)
      *status = 125 << 8; /* cannot happen: it is our child; but never wait forever */
    return r == m->pid || (r < 0 && errno == ECHILD);
  }
  unsigned short rows, cols;
  if (sig == SIGWINCH && m->term >= 0) {
    if (tty_get_size(m->term, &rows, &cols))
      tty_set_size(m->console, rows, cols);
    return false;
  }
  kill(m->pid, sig);
  return false;
}

/* After the exit: what the container wrote last is still buffered in the pipes or the pty. */
static void drain(struct monitor *m) {
  while (m->console >= 0 && pump(m, m->console, ATTACH_STDOUT) == PUMP_DATA)
    ;
  while (m->out >= 0 && pump(m, m->out, ATTACH_STDOUT) == PUMP_DATA)
    ;
  while (m->err >= 0 && pump(m, m->err, ATTACH_STDERR) == PUMP_DATA)
    ;
}

enum { P_SIG, P_CONSOLE, P_OUT, P_ERR, P_TERM, P_INPUT, P_LISTEN, P_CLIENTS };

static void fill_pollfds(const struct monitor *m, int sfd, struct pollfd *p) {
  bool taking = m->n_pending == 0; /* read more input only once the last has gone in */
  p[P_SIG] = (struct pollfd){.fd = sfd, .events = POLLIN};
  p[P_CONSOLE] = (struct pollfd){.fd = m->console, .events = POLLIN};
  p[P_OUT] = (struct pollfd){.fd = m->out, .events = POLLIN};
  p[P_ERR] = (struct pollfd){.fd = m->err, .events = POLLIN};
  p[P_TERM] = (struct pollfd){.fd = taking ? m->term : -1, .events = POLLIN};
  p[P_INPUT] = (struct pollfd){.fd = taking ? -1 : input_fd(m), .events = POLLOUT};
  p[P_LISTEN] = (struct pollfd){.fd = m->listen, .events = POLLIN};
  for (size_t i = 0; i < MONITOR_MAX_CLIENTS; i++)
    p[P_CLIENTS + i] =
        (struct pollfd){.fd = taking && i < m->n_clients ? m->clients[i] : -1, .events = POLLIN};
}

int monitor_run(struct monitor *m, const sigset_t *set) {
  int sfd = signalfd(-1, set, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sfd < 0)
    return 125 << 8;
  set_nonblock(m->console);
  set_nonblock(m->out);
  set_nonblock(m->err);
  set_nonblock(m->in);
  set_nonblock(m->listen);
  int status = 0;
  bool done = false;
  /* A SIGCHLD that came before the signalfd existed is still pending: it is read below. */
  while (!done) {
    struct pollfd p[P_CLIENTS + MONITOR_MAX_CLIENTS];
    fill_pollfds(m, sfd, p);
    if (poll(p, ARRAY_SIZE(p), -1) < 0) {
      if (errno == EINTR)
        continue;
      break;
    }
    struct signalfd_siginfo si;
    while (!done && read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
      done = on_signal(m, (int)si.ssi_signo, &status);
    if (p[P_CONSOLE].revents && pump(m, m->console, ATTACH_STDOUT) == PUMP_END)
      p[P_CONSOLE].fd = -1; /* ended: the exit comes next */
    if (p[P_OUT].revents && pump(m, m->out, ATTACH_STDOUT) == PUMP_END)
      close_fd(&m->out);
    if (p[P_ERR].revents && pump(m, m->err, ATTACH_STDERR) == PUMP_END)
      close_fd(&m->err);
    if (p[P_TERM].revents)
      from_terminal(m);
    if (p[P_LISTEN].revents)
      accept_client(m);
    for (size_t i = m->n_clients; i-- > 0;)
      if (p[P_CLIENTS + i].fd >= 0 && p[P_CLIENTS + i].revents)
        client_message(m, i);
    if (m->n_pending > 0)
      flush_input(m);
    if (p[P_CONSOLE].fd < 0 && m->console >= 0 && !done) {
      /* The pty is done but the process is not: wait for its exit alone. */
      close_fd(&m->console);
    }
  }
  if (done)
    drain(m);
  close(sfd);
  return done ? status : 125 << 8;
}

void monitor_finish(struct monitor *m, int code) {
  /* Those who connected since the last turn of the loop (`nsbox wait` right at the end)
   * get the exit code too. */
  while (m->listen >= 0 && m->n_clients < MONITOR_MAX_CLIENTS) {
    size_t before = m->n_clients;
    accept_client(m);
    if (m->n_clients == before)
      break;
  }
  int32_t c = code;
  broadcast(m, ATTACH_EXIT, &c, sizeof(c));
  for (size_t i = 0; i < m->n_clients; i++)
    close(m->clients[i]);
  m->n_clients = 0;
  close_fd(&m->console);
  close_fd(&m->out);
  close_fd(&m->err);
  close_fd(&m->in);
  close_fd(&m->log);
  close_fd(&m->listen);
}

/* Unix socket paths are short (108 bytes); the run dir's may not be. Through the dir's fd the
 * path stays short whatever the dir is. */
static int attach_addr(int rundir, const char *id, struct sockaddr_un *sa) {
  memset(sa, 0, sizeof(*sa));
  sa->sun_family = AF_UNIX;
  int n = snprintf(sa->sun_path, sizeof(sa->sun_path), "/proc/self/fd/%d/%s.attach", rundir, id);
  return n < (int)sizeof(sa->sun_path) ? 0 : -ENAMETOOLONG;
}

int attach_listen(int rundir, const char *id, nsbox_error_t *err) {
  struct sockaddr_un sa;
  if (attach_addr(rundir, id, &sa) < 0)
    return nsbox_fail(err, ENAMETOOLONG, "attach socket");
  attach_unlink(rundir, id); /* a killed monitor's */
  /* Non-blocking: monitor_finish() takes the last pending connections without waiting. */
  cleanup_close int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 8) < 0)
    return nsbox_fail(err, errno, "attach socket %s.attach", id);
  return steal_fd(&fd);
}

int attach_connect(int rundir, const char *id, nsbox_error_t *err) {
  struct sockaddr_un sa;
  if (attach_addr(rundir, id, &sa) < 0)
    return nsbox_fail(err, ENAMETOOLONG, "attach socket");
  cleanup_close int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
    return nsbox_fail(err, errno, "connect to the container's monitor");
  return steal_fd(&fd);
}

void attach_unlink(int rundir, const char *id) {
  char name[80];
  snprintf(name, sizeof(name), "%s.attach", id);
  unlinkat(rundir, name, 0);
}
