/* See tty.h. */
#include "tty.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "util.h"

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif

int pty_open_inside(unsigned short rows, unsigned short cols, int *peer, nsbox_error_t *err) {
  /* The container's own devpts instance (mounted with newinstance): its ptys are numbered
   * from 0 and invisible to the host's /dev/pts. */
  cleanup_close int m = open("/dev/pts/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC | O_NOFOLLOW);
  if (m < 0)
    return nsbox_fail(err, errno, "open /dev/pts/ptmx");
  struct stat st;
  if (fstat(m, &st) < 0 || !S_ISCHR(st.st_mode) || major(st.st_rdev) != 5 || minor(st.st_rdev) != 2)
    return nsbox_fail(err, 0, "/dev/pts/ptmx is not a pty multiplexer");
  int unlock = 0;
  if (ioctl(m, TIOCSPTLCK, &unlock) < 0)
    return nsbox_fail(err, errno, "unlock the pty");
  if (rows && cols)
    tty_set_size(m, rows, cols);
  int p = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (p < 0)
    return nsbox_fail(err, errno, "open the pty's other end");
  *peer = p;
  return steal_fd(&m);
}

int tty_make_raw(int fd, struct tty_saved *saved, nsbox_error_t *err) {
  saved->fd = -1;
  if (tcgetattr(fd, &saved->mode) < 0)
    return nsbox_fail(err, errno, "read the terminal's mode");
  struct termios raw = saved->mode;
  /* Everything typed goes to the container's pty, whose line discipline does the echo, the
   * line editing and Ctrl-C; its output comes with "\r\n" already. */
  cfmakeraw(&raw);
  if (tcsetattr(fd, TCSADRAIN, &raw) < 0)
    return nsbox_fail(err, errno, "put the terminal in raw mode");
  saved->fd = fd;
  return 0;
}

void tty_restore(struct tty_saved *saved) {
  if (saved->fd < 0)
    return;
  while (tcsetattr(saved->fd, TCSADRAIN, &saved->mode) < 0 && errno == EINTR)
    ;
  saved->fd = -1;
}

bool tty_get_size(int fd, unsigned short *rows, unsigned short *cols) {
  struct winsize ws;
  if (ioctl(fd, TIOCGWINSZ, &ws) < 0)
    return false;
  *rows = ws.ws_row;
  *cols = ws.ws_col;
  return true;
}

void tty_set_size(int fd, unsigned short rows, unsigned short cols) {
  struct winsize ws = {.ws_row = rows, .ws_col = cols};
  (void)ioctl(fd, TIOCSWINSZ, &ws);
}
