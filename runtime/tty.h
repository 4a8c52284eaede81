/* Terminals. Inside the container (-t): a pty of the container's own devpts instance, whose
 * master end goes to nsbox over the start-up socket. On the host: the caller's terminal put
 * in raw mode while nsbox relays, and window sizes passed on. */
#ifndef NSBOX_TTY_H
#define NSBOX_TTY_H

#include <stdbool.h>
#include <termios.h>

#include "error.h"

/* In the container, after its root is in place: opens /dev/pts/ptmx (checked to be a devpts
 * ptmx), unlocks it, sets the size (when rows and cols are not 0) and opens the other end
 * through the master (TIOCGPTPEER: no path lookup). Returns the master; *peer gets the other
 * end. */
int pty_open_inside(unsigned short rows, unsigned short cols, int *peer, nsbox_error_t *err);

/* The start-up socket's message that carries the master: one byte, the fd attached. */
#define PTY_MSG 'T'

/* The caller's terminal while nsbox relays. */
struct tty_saved {
  int fd; /* -1: nothing to restore */
  struct termios mode;
};

/* Puts the terminal fd in raw mode, saving its mode. Returns 0 or -1 with err. */
int tty_make_raw(int fd, struct tty_saved *saved, nsbox_error_t *err);

/* Restores what tty_make_raw saved; safe to call twice. */
void tty_restore(struct tty_saved *saved);

/* The size of terminal fd; false when it has none. */
bool tty_get_size(int fd, unsigned short *rows, unsigned short *cols);

/* Sets the size of terminal fd (the kernel sends SIGWINCH to its foreground group). */
void tty_set_size(int fd, unsigned short rows, unsigned short cols);

#endif
