/* The embedded nsbox-init, put in a sealed memfd so the container runs it without ever
 * seeing a host path, and cannot write through /proc/1/exe into any file. */
#ifndef NSBOX_INITMEM_H
#define NSBOX_INITMEM_H

#include "error.h"

/* Returns a CLOEXEC, sealed memfd holding nsbox-init (for execveat AT_EMPTY_PATH), or -1. */
int initmem_open(nsbox_error_t *err);

#endif
