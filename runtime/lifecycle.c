/* See lifecycle.h. */
#include "lifecycle.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "container.h"
#include "monitor.h"
#include "util.h"

/* The end of a run: a --rm container goes, any other keeps its exit. A run that never
 * started leaves nothing of a new container, and a restarted one as it was. */
static void record_exit(struct nsbox_store *s, const struct nsbox_config *c, bool restart,
                        int status, bool oom, const nsbox_error_t *err) {
  nsbox_error_t ignored = {0};
  bool never_ran = status < 0 && err->exit_code == 125;
  if (never_ran && restart)
    return;
  if (never_ran || c->remove)
    container_remove(s, c->id, &ignored);
  else
    container_set_exited(s, c->id, status < 0 ? err->exit_code : status, oom, &ignored);
}

int lifecycle_run(struct nsbox_store *s, const struct nsbox_config *c, bool restart,
                  nsbox_error_t *err) {
  struct container_io io;
  container_io_init(&io);
  io.restart = restart;
  bool oom;
  int status = container_run(s, c, &io, &oom, err);
  record_exit(s, c, restart, status, oom, err);
  monitor_finish(&io.mon, status < 0 ? err->exit_code : status);
  return status;
}

static void close_pair(int p[2]) {
  for (int i = 0; i < 2; i++)
    if (p[i] >= 0)
      close(p[i]);
  p[0] = p[1] = -1;
}

/* The container's stdio under a monitor: pipes the monitor reads (stdout, stderr) and, with
 * -i, one it writes (stdin); /dev/null for the rest. Under -t the pty replaces all three. */
static int detached_stdio(const struct nsbox_config *c, struct container_io *io, int null,
                          int pipes[3][2], nsbox_error_t *err) {
  io->stdio[0] = io->stdio[1] = io->stdio[2] = null;
  io->mon.open_stdin = c->process.open_stdin;
  if (c->process.terminal)
    return 0;
  for (int i = 0; i < 3; i++) {
    if (i == 0 && !c->process.open_stdin)
      continue;
    if (pipe2(pipes[i], O_CLOEXEC) < 0)
      return nsbox_fail(err, errno, "pipe");
  }
  if (pipes[0][0] >= 0) {
    io->stdio[0] = pipes[0][0];
    io->mon.in = pipes[0][1];
  }
  io->stdio[1] = pipes[1][1];
  io->mon.out = pipes[1][0];
  io->stdio[2] = pipes[2][1];
  io->mon.err = pipes[2][0];
  return 0;
}

/* The monitor process: returns its exit status. */
static int monitor_main(struct nsbox_store *s, const struct nsbox_config *c, bool restart,
                        int ready) {
  nsbox_error_t err = {0};
  struct container_io io;
  container_io_init(&io);
  io.restart = restart;
  io.detached = true;
  io.ready = ready;
  int pipes[3][2] = {{-1, -1}, {-1, -1}, {-1, -1}};
  /* Its own session: the caller's terminal closing (SIGHUP) or its Ctrl-C is not ours. And
   * nothing of the caller's stdio is held, or `id=$(nsbox run -d ...)` would never end. */
  setsid();
  int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  cleanup_close int rundir = open(s->run, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (null < 0 || rundir < 0) {
    nsbox_fail(&err, errno, "open %s", null < 0 ? "/dev/null" : s->run);
  } else {
    for (int fd = 0; fd < 3; fd++)
      dup2(null, fd);
    if (detached_stdio(c, &io, null, pipes, &err) == 0)
      io.mon.listen = attach_listen(rundir, c->id, &err);
  }
  int status = -1;
  bool oom = false;
  if (io.mon.listen >= 0)
    status = container_run(s, c, &io, &oom, &err);
  else
    write_all(ready, &err, sizeof(err));
  record_exit(s, c, restart, status, oom, &err);
  if (rundir >= 0)
    attach_unlink(rundir, c->id);
  monitor_finish(&io.mon, status < 0 ? err.exit_code : status);
  return status < 0 ? 125 : status;
}

int lifecycle_start_detached(struct nsbox_store *s, const struct nsbox_config *c, bool restart,
                             nsbox_error_t *err) {
  int ready[2];
  if (pipe2(ready, O_CLOEXEC) < 0)
    return nsbox_fail(err, errno, "pipe");
  pid_t pid = fork();
  if (pid < 0) {
    close_pair(ready);
    return nsbox_fail(err, errno, "fork the monitor");
  }
  if (pid == 0) {
    /* The monitor outlives its caller: it keeps none of the caller's fds (a pipe kept open
     * would hold up whoever reads the caller's output), only its own and the sockets of the
     * published ports. */
    size_t n = c->net.port_fds ? c->net.n_ports : 0;
    int *keep = xmalloc((n + 1) * sizeof(*keep));
    keep[0] = ready[1];
    for (size_t i = 0; i < n; i++)
      keep[i + 1] = c->net.port_fds[i];
    close_fds_except(keep, n + 1);
    free(keep);
    _exit(monitor_main(s, c, restart, ready[1]));
  }
  close(ready[1]);
  nsbox_error_t got = {0};
  ssize_t n;
  while ((n = read(ready[0], &got, sizeof(got))) < 0 && errno == EINTR)
    ;
  close(ready[0]);
  if (n == (ssize_t)sizeof(got) && got.exit_code == 0)
    return 0; /* it runs; the monitor goes on without us */
  while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
    ;
  if (n == (ssize_t)sizeof(got)) {
    *err = got;
    err->msg[sizeof(err->msg) - 1] = '\0';
    return -1;
  }
  return nsbox_fail(err, 0, "the container's monitor ended before the container started");
}
