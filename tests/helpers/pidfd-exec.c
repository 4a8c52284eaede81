/* Test helper: opens a pidfd of PID as fd number FD (inheritable) and runs CMD with it, so
 * that shell tests can hand a pidfd to nsbox-net (`nsbox-net up --pidfd FD`).
 * Usage: pidfd-exec PID FD CMD [ARG...] */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc < 4) {
    fputs("usage: pidfd-exec PID FD CMD [ARG...]\n", stderr);
    return 125;
  }
  char *end;
  long pid = strtol(argv[1], &end, 10);
  if (*end != '\0' || pid <= 0) {
    fprintf(stderr, "pidfd-exec: bad pid %s\n", argv[1]);
    return 125;
  }
  long target = strtol(argv[2], &end, 10);
  if (*end != '\0' || target < 0 || target > 1 << 20) {
    fprintf(stderr, "pidfd-exec: bad fd %s\n", argv[2]);
    return 125;
  }
  int fd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
  if (fd < 0) {
    perror("pidfd-exec: pidfd_open");
    return 125;
  }
  /* pidfd_open's fd is close-on-exec; dup2 gives a copy that is not. */
  if (fd == (int)target) {
    if (fcntl(fd, F_SETFD, 0) < 0) {
      perror("pidfd-exec: fcntl");
      return 125;
    }
  } else if (dup2(fd, (int)target) < 0) {
    perror("pidfd-exec: dup2");
    return 125;
  } else {
    close(fd);
  }
  execvp(argv[3], argv + 3);
  perror("pidfd-exec: exec");
  return 127;
}
