/* See initmem.h. The bytes come from init_blob.S, which includes out/nsbox-init. */
#include "initmem.h"

#include <errno.h>
#include <fcntl.h>

#include "syscalls.h"
#include "util.h"

#ifndef F_SEAL_EXEC
#define F_SEAL_EXEC 0x0020
#endif

extern const char nsbox_init_blob[];
extern const unsigned long nsbox_init_blob_size;

int initmem_open(nsbox_error_t *err) {
  /* MFD_EXEC keeps the memfd executable where vm.memfd_noexec defaults it otherwise;
   * kernels before 6.3 do not know the flag. */
  cleanup_close int fd = sys_memfd_create("nsbox-init", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
  if (fd < 0 && errno == EINVAL)
    fd = sys_memfd_create("nsbox-init", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0)
    return nsbox_fail(err, errno, "memfd_create");
  int r = write_all(fd, nsbox_init_blob, nsbox_init_blob_size);
  if (r < 0)
    return nsbox_fail(err, -r, "write init memfd");
  int seals = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;
  if (fcntl(fd, F_ADD_SEALS, seals | F_SEAL_EXEC) < 0 &&
      fcntl(fd, F_ADD_SEALS, seals) < 0) /* F_SEAL_EXEC is 6.3+ */
    return nsbox_fail(err, errno, "seal init memfd");
  return steal_fd(&fd);
}
